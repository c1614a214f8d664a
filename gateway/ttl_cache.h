/* ttl_cache.h: which keys one Redis connection gave a TTL recently, so a
 * step can leave out the EXPIRE of a key whose TTL it refreshed less than
 * `redis.ttl_refresh_s` ago (docs/contract.md, "Redis"). Entries are noted
 * while a step is built (tentative) and kept only when the step applied;
 * a step that wrote nothing drops its own. A fixed table of key hashes,
 * four ways a set: a key pushed out is only an EXPIRE sent again. */
#ifndef SQ_TTL_CACHE_H
#define SQ_TTL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sq_ttl_cache;

/* refresh_ms 0: every write sends its EXPIRE (the cache says nothing). */
struct sq_ttl_cache *sq_ttl_cache_new(int64_t refresh_ms);
void sq_ttl_cache_free(struct sq_ttl_cache *c);

/* Whether key's TTL was set to ttl_s by this connection less than the
 * refresh interval (at most a hundredth of ttl_s) before now_ms. When not,
 * the caller sends the EXPIRE and this notes it as tentative. */
bool sq_ttl_cache_skip(struct sq_ttl_cache *c, const char *key, size_t len, int64_t ttl_s,
                       int64_t now_ms);
/* key may have been deleted (DEL, or HDEL of its last field): its next
 * write sends the EXPIRE. */
void sq_ttl_cache_forget(struct sq_ttl_cache *c, const char *key, size_t len);
/* The step holding the tentative notes applied: keep them. */
void sq_ttl_cache_commit(struct sq_ttl_cache *c);
/* The step wrote nothing, or its outcome is unknown: drop its notes. */
void sq_ttl_cache_rollback(struct sq_ttl_cache *c);
/* Forgets every key (a new connection, or partitions moved between
 * instances, which may have deleted keys this one noted). */
void sq_ttl_cache_clear(struct sq_ttl_cache *c);

#endif
