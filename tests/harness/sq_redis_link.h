/* sq_redis_link.h: a redis-server of the test's own with the gateway's
 * Redis link (gateway/redis_link.h) and a plain hiredis context beside it,
 * for tests of the Redis store and the step scripts. */
#ifndef SQ_H_REDIS_LINK_H
#define SQ_H_REDIS_LINK_H

#include "redis_link.h"
#include "sq_harness.h"

struct sq_h_link {
    struct sq_h_redis rs;
    char *url;            /* the server's redis:// URL */
    struct sq_redis *r;   /* the gateway's link, key prefix as asked */
    redisContext *c;      /* for the test's own commands */
};

/* Starts the server and connects both; fails the test when it cannot. */
void sq_h_link_start(struct sq_h_link *l, const char *prefix);
/* Closes both and stops the server. */
void sq_h_link_stop(struct sq_h_link *l);

#endif
