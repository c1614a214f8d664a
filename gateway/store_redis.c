/* store_redis.c: state-store reads over the gateway's Redis link, and the
 * prefetch that answers a chain's reads from one round trip. */
#include "store_redis.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The cache's value for a (key, field) that Redis does not hold. */
static char sq_store_absent;

/* "key\x1ffield", "key\x1dmember" for a set member, "key\x1chash\x1cfrom
 * limit offset count" for a due read, or "key\x1e" for a whole-hash read, in b. */
static const char *sq_store_cache_key(struct sq_buf *b, const struct sq_store_read *r)
{
    sq_buf_reset(b);
    sq_buf_append_str(b, r->key);
    if (r->due) {
        sq_buf_appendf(b, "\x1c%s\x1c%lld %lld %zu %zu", r->field, (long long)r->from_ms,
                       (long long)r->limit_ms, r->offset, r->count);
    } else if (r->field) {
        sq_buf_append(b, r->member ? "\x1d" : "\x1f", 1);
        sq_buf_append_str(b, r->field);
    } else {
        sq_buf_append(b, "\x1e", 1);
    }
    return b->data;
}

static void sq_store_cache_free_value(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    if (value != &sq_store_absent)
        free(value);
}

static void sq_store_cache_clear(struct sq_store_redis *sr)
{
    sq_strmap_each(&sr->cache, sq_store_cache_free_value, NULL);
    sq_strmap_fini(&sr->cache);
    sq_strmap_init(&sr->cache);
}

/* Answers r from the cache when it holds every read of r; otherwise
 * leaves r's values empty. */
static bool sq_store_cache_answer(struct sq_store_redis *sr, struct sq_store_reads *r)
{
    if (!sr->cache.n)
        return false;
    for (size_t i = 0; i < r->n; i++) {
        const char *v = sq_strmap_get(&sr->cache, sq_store_cache_key(&sr->ckey, &r->v[i]));
        if (!v) {
            for (size_t k = 0; k <= i; k++) {
                free(r->v[k].value);
                r->v[k].value = NULL;
            }
            return false; /* one the prefetch left out: Redis answers them all */
        }
        free(r->v[i].value);
        r->v[i].value = v == &sq_store_absent ? NULL : sq_xstrdup(v);
    }
    return true;
}

static int sq_store_redis_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    struct sq_store_redis *sr = (struct sq_store_redis *)s;
    if (sq_store_cache_answer(sr, r))
        return SQ_OK;
    sr->round_trips++;
    return sq_redis_read_fields(sr->redis, r, err);
}

void sq_store_redis_install(struct sq_store_redis *sr, struct sq_store_reads *r)
{
    sq_store_cache_clear(sr);
    for (size_t i = 0; r && i < r->n; i++) {
        char *v = r->v[i].value ? r->v[i].value : &sq_store_absent;
        r->v[i].value = NULL; /* the cache owns it now */
        void *old = sq_strmap_put(&sr->cache, sq_store_cache_key(&sr->ckey, &r->v[i]), v);
        if (old)
            sq_store_cache_free_value(NULL, old, NULL); /* the same read twice */
    }
}

static int sq_store_redis_prefetch(struct sq_store *s, struct sq_store_reads *r,
                                   struct sq_err *err)
{
    struct sq_store_redis *sr = (struct sq_store_redis *)s;
    sq_store_cache_clear(sr);
    if (!r || !r->n)
        return SQ_OK;
    sr->round_trips++;
    int rc = sq_redis_read_fields(sr->redis, r, err);
    if (rc != SQ_OK)
        return rc;
    sq_store_redis_install(sr, r);
    return SQ_OK;
}

static int sq_store_redis_index_timers(struct sq_store *s, const char *hkey, const char *zkey,
                                       struct sq_err *err)
{
    struct sq_store_redis *sr = (struct sq_store_redis *)s;
    long long n = 0;
    int rc = sq_redis_index_timers(sr->redis, hkey, zkey, &n, err);
    if (rc == SQ_OK && n > 0)
        sq_info("%s: indexed %lld timers written before the index (%s)", hkey, n, zkey);
    return rc;
}

static const struct sq_store_vt sq_store_redis_vt = {
    .read = sq_store_redis_read,
    .prefetch = sq_store_redis_prefetch,
    .index_timers = sq_store_redis_index_timers,
};

void sq_store_redis_init(struct sq_store_redis *s, struct sq_redis *redis)
{
    s->base.vt = &sq_store_redis_vt;
    s->redis = redis;
    s->round_trips = 0;
    sq_strmap_init(&s->cache);
    sq_buf_init(&s->ckey);
}

void sq_store_redis_fini(struct sq_store_redis *s)
{
    sq_store_cache_clear(s);
    sq_strmap_fini(&s->cache);
    sq_buf_fini(&s->ckey);
}
