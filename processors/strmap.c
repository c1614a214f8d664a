/* strmap.c: open addressing with linear probing, word-at-a-time hashes and
 * tombstones; grows at 70% load. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"

static char sq_strmap_tomb_mark;
#define SQ_STRMAP_TOMB (&sq_strmap_tomb_mark)

void sq_strmap_init(struct sq_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void sq_strmap_fini(struct sq_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != SQ_STRMAP_TOMB)
            free(m->slots[i].key);
    free(m->slots);
    sq_strmap_init(m);
}

/* Eight bytes a step (keys are mostly 16-60 bytes: Redis keys, ids), each
 * word folded in by a multiply and a rotation, then splitmix64's finalizer,
 * so that the low bits a table's mask keeps depend on every byte (FNV-1a,
 * a byte a step, cost a replay 1.5 % more instructions). */
static uint64_t sq_rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t sq_strhash(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)len * 0xFF51AFD7ED558CCDULL);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = sq_rotl64((h ^ w) * 0x87C37B91114253D5ULL, 31);
    }
    uint64_t w = 0;
    memcpy(&w, s + i, len - i);
    h ^= w;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

static struct sq_strmap_slot *sq_strmap_find(const struct sq_strmap *m, const char *key,
                                             uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct sq_strmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != SQ_STRMAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void sq_strmap_grow(struct sq_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (m->n * 2 < m->cap)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    struct sq_strmap_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = sq_xcalloc(ncap, sizeof *m->slots);
    m->cap = ncap;
    m->used = m->n;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == SQ_STRMAP_TOMB)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *sq_strmap_get(const struct sq_strmap *m, const char *key)
{
    struct sq_strmap_slot *s = sq_strmap_find(m, key, sq_strhash(key, strlen(key)));
    return s ? s->value : NULL;
}

void **sq_strmap_ref(struct sq_strmap *m, const char *key)
{
    uint64_t h = sq_strhash(key, strlen(key));
    struct sq_strmap_slot *s = sq_strmap_find(m, key, h);
    if (s)
        return &s->value;
    if ((m->used + 1) * 10 >= m->cap * 7)
        sq_strmap_grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != SQ_STRMAP_TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = sq_xstrdup(key);
    m->slots[i].hash = h;
    m->slots[i].value = NULL;
    m->n++;
    return &m->slots[i].value;
}

void *sq_strmap_put(struct sq_strmap *m, const char *key, void *value)
{
    void **slot = sq_strmap_ref(m, key);
    void *prev = *slot;
    *slot = value;
    return prev;
}

void *sq_strmap_del(struct sq_strmap *m, const char *key)
{
    struct sq_strmap_slot *s = sq_strmap_find(m, key, sq_strhash(key, strlen(key)));
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = SQ_STRMAP_TOMB;
    s->value = NULL;
    m->n--;
    return v;
}

void sq_strmap_each(struct sq_strmap *m, void (*fn)(const char *key, void *value, void *arg),
                    void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != SQ_STRMAP_TOMB)
            fn(m->slots[i].key, m->slots[i].value, arg);
}
