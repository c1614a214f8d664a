/* ttl_cache.c: the keys a Redis connection gave a TTL recently (ttl_cache.h).
 * A set-associative table of 64-bit key hashes; tentative notes are listed
 * by slot until their step's outcome is known. */
#include "ttl_cache.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"
#include "strmap.h"

#define SQ_TTL_WAYS 4
#define SQ_TTL_SETS 4096 /* 16,384 keys, 384 KiB */
#define SQ_TTL_REFRESH_SHARE 100 /* refresh at most every ttl / 100 */

struct sq_ttl_entry {
    uint64_t h;       /* 0: empty */
    int64_t ttl_s;
    int64_t set_ms;   /* when the EXPIRE was sent */
};

/* A tentative note: its slot, and what the slot held before it. */
struct sq_ttl_undo {
    size_t slot;
    struct sq_ttl_entry was;
};

struct sq_ttl_cache {
    int64_t refresh_ms;
    struct sq_ttl_entry *e; /* SQ_TTL_SETS * SQ_TTL_WAYS, allocated at first use */
    struct sq_ttl_undo *undo;
    size_t nundo, capundo;
};

struct sq_ttl_cache *sq_ttl_cache_new(int64_t refresh_ms)
{
    struct sq_ttl_cache *c = sq_xcalloc(1, sizeof *c);
    c->refresh_ms = refresh_ms > 0 ? refresh_ms : 0;
    return c;
}

void sq_ttl_cache_free(struct sq_ttl_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->undo);
    free(c);
}

static uint64_t sq_ttl_hash(const char *key, size_t len)
{
    uint64_t h = sq_strhash(key, len);
    return h ? h : 1;
}

static struct sq_ttl_entry *sq_ttl_set_of(struct sq_ttl_cache *c, uint64_t h)
{
    if (!c->e)
        c->e = sq_xcalloc((size_t)SQ_TTL_SETS * SQ_TTL_WAYS, sizeof *c->e);
    return &c->e[(size_t)((h >> 7) % SQ_TTL_SETS) * SQ_TTL_WAYS];
}

static void sq_ttl_note(struct sq_ttl_cache *c, struct sq_ttl_entry *slot,
                        struct sq_ttl_entry now)
{
    if (c->nundo == c->capundo) {
        c->capundo = c->capundo ? 2 * c->capundo : 256;
        c->undo = sq_xrealloc(c->undo, c->capundo * sizeof *c->undo);
    }
    c->undo[c->nundo++] = (struct sq_ttl_undo){(size_t)(slot - c->e), *slot};
    *slot = now;
}

bool sq_ttl_cache_skip(struct sq_ttl_cache *c, const char *key, size_t len, int64_t ttl_s,
                       int64_t now_ms)
{
    if (!c->refresh_ms || ttl_s <= 0)
        return false;
    int64_t refresh = ttl_s * 1000 / SQ_TTL_REFRESH_SHARE;
    if (refresh > c->refresh_ms)
        refresh = c->refresh_ms;
    uint64_t h = sq_ttl_hash(key, len);
    struct sq_ttl_entry *set = sq_ttl_set_of(c, h), *victim = &set[0];
    for (int w = 0; w < SQ_TTL_WAYS; w++) {
        struct sq_ttl_entry *x = &set[w];
        if (x->h == h) {
            if (x->ttl_s == ttl_s && now_ms - x->set_ms < refresh)
                return true;
            victim = x;
            break;
        }
        if (!x->h || (victim->h && x->set_ms < victim->set_ms))
            victim = x;
    }
    sq_ttl_note(c, victim, (struct sq_ttl_entry){h, ttl_s, now_ms});
    return false;
}

void sq_ttl_cache_forget(struct sq_ttl_cache *c, const char *key, size_t len)
{
    if (!c->refresh_ms || !c->e)
        return;
    uint64_t h = sq_ttl_hash(key, len);
    struct sq_ttl_entry *set = sq_ttl_set_of(c, h);
    for (int w = 0; w < SQ_TTL_WAYS; w++)
        if (set[w].h == h)
            sq_ttl_note(c, &set[w], (struct sq_ttl_entry){0, 0, 0});
}

void sq_ttl_cache_commit(struct sq_ttl_cache *c)
{
    c->nundo = 0;
}

void sq_ttl_cache_rollback(struct sq_ttl_cache *c)
{
    /* newest first, so a slot noted twice gets back what it held before both */
    while (c->nundo) {
        const struct sq_ttl_undo *u = &c->undo[--c->nundo];
        c->e[u->slot] = u->was;
    }
}

void sq_ttl_cache_clear(struct sq_ttl_cache *c)
{
    c->nundo = 0;
    if (c->e)
        memset(c->e, 0, (size_t)SQ_TTL_SETS * SQ_TTL_WAYS * sizeof *c->e);
}
