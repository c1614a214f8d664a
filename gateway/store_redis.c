/* store_redis.c: state-store reads over the gateway's Redis link. */
#include "store_redis.h"

static int sq_store_redis_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    struct sq_store_redis *sr = (struct sq_store_redis *)s;
    return sq_redis_read_fields(sr->redis, r, err);
}

static const struct sq_store_vt sq_store_redis_vt = {.read = sq_store_redis_read};

void sq_store_redis_init(struct sq_store_redis *s, struct sq_redis *redis)
{
    s->base.vt = &sq_store_redis_vt;
    s->redis = redis;
}
