/* store_redis.h: the Redis back end of the state store (processors/store.h)
 * for `sqgate run`: reads go over the gateway's Redis link in one pipeline
 * per call; writes are applied by the partition step (redis_link.c). */
#ifndef SQ_STORE_REDIS_H
#define SQ_STORE_REDIS_H

#include "redis_link.h"
#include "store.h"

struct sq_store_redis {
    struct sq_store base;
    struct sq_redis *redis; /* borrowed */
};

void sq_store_redis_init(struct sq_store_redis *s, struct sq_redis *redis);

#endif
