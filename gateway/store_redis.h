/* store_redis.h: the Redis back end of the state store (processors/store.h)
 * for `sqgate run`: reads go over the gateway's Redis link in one pipeline
 * per call, or come from the last prefetch (or install); writes are applied by the
 * partition step (redis_link.c). Main thread only. */
#ifndef SQ_STORE_REDIS_H
#define SQ_STORE_REDIS_H

#include "redis_link.h"
#include "store.h"
#include "strmap.h"

struct sq_store_redis {
    struct sq_store base;
    struct sq_redis *redis; /* borrowed */
    struct sq_strmap cache; /* the last prefetch: "key\x1ffield" -> value */
    struct sq_buf ckey;
    uint64_t round_trips;   /* reads and prefetches that went to Redis */
};

void sq_store_redis_init(struct sq_store_redis *s, struct sq_redis *redis);
void sq_store_redis_fini(struct sq_store_redis *s);
/* Makes r's values (read elsewhere: gateway/read_worker.h) the prefetch
 * cache, as a prefetch of r would; r's values move to the cache. NULL
 * forgets the cache. */
void sq_store_redis_install(struct sq_store_redis *s, struct sq_store_reads *r);

#endif
