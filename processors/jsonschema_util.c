/* jsonschema_util.c: the small containers of the JSON Schema validator: a
 * bump arena (one per compiled schema and per indexed document, freed at
 * once), a pointer-keyed hash map, and JSON-pointer escaping. */
#include "jsonschema_int.h"

#include <stdlib.h>
#include <string.h>

struct jsv_chunk {
    struct jsv_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define JSV_CHUNK_SIZE 8192

void *sq_jsv_arena_alloc(struct jsv_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct jsv_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > JSV_CHUNK_SIZE / 2 ? n : JSV_CHUNK_SIZE;
        struct jsv_chunk *nc = sq_xmalloc(sizeof *nc + cap);
        nc->used = 0;
        nc->cap = cap;
        if (c && cap != JSV_CHUNK_SIZE) {
            /* A big block goes behind the current chunk, which keeps its room. */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *sq_jsv_arena_strndup(struct jsv_arena *a, const char *s, size_t n)
{
    char *p = sq_jsv_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sq_jsv_arena_strdup(struct jsv_arena *a, const char *s)
{
    return sq_jsv_arena_strndup(a, s, strlen(s));
}

void sq_jsv_arena_fini(struct jsv_arena *a)
{
    struct jsv_chunk *c = a->head;
    while (c) {
        struct jsv_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

struct jsv_ptrslot {
    const void *key;
    void *value;
};

static size_t jsv_ptrhash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

void sq_jsv_ptrmap_init(struct jsv_ptrmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void sq_jsv_ptrmap_fini(struct jsv_ptrmap *m)
{
    free(m->slots);
    sq_jsv_ptrmap_init(m);
}

void *sq_jsv_ptrmap_get(const struct jsv_ptrmap *m, const void *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = jsv_ptrhash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        if (!m->slots[i].key)
            return NULL;
    }
}

static void jsv_ptrmap_insert(struct jsv_ptrslot *slots, size_t cap, const void *key, void *value)
{
    size_t i = jsv_ptrhash(key) & (cap - 1);
    while (slots[i].key && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    slots[i].key = key;
    slots[i].value = value;
}

void sq_jsv_ptrmap_put(struct jsv_ptrmap *m, const void *key, void *value)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct jsv_ptrslot *slots = sq_xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                jsv_ptrmap_insert(slots, cap, m->slots[i].key, m->slots[i].value);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    if (!sq_jsv_ptrmap_get(m, key))
        m->n++;
    jsv_ptrmap_insert(m->slots, m->cap, key, value);
}

void sq_jsv_ptr_escape(struct sq_buf *b, const char *key, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (key[i] != '~' && key[i] != '/')
            continue;
        sq_buf_append(b, key + start, i - start);
        sq_buf_append(b, key[i] == '~' ? "~0" : "~1", 2);
        start = i + 1;
    }
    sq_buf_append(b, key + start, len - start);
}
