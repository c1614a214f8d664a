/* dedupe.h: the `dedupe` processor (SPEC 3). */
#ifndef SQ_DEDUPE_H
#define SQ_DEDUPE_H

#include "processor.h"

extern const struct sq_processor sq_proc_dedupe;

/* The store key and set member that mark (schema, event_id) as applied:
 * ids are kept in bucketed sets ({prefix}dm:{slice}:{shard}), not one key
 * per id. slice = occurred_at / dedupe.ttl_s, so a redelivery (same event,
 * same occurred_at) always meets its mark. With d = SHA-256("schema|
 * event_id"), shard = d's first 8 bytes (big-endian) mod dedupe.shards and
 * the member is d's next 8 bytes as a signed big-endian integer in
 * decimal: an integer whatever the id's length (up to 128), which Redis
 * keeps in an intset at ~8-9 bytes a mark. key and member are malloc'd. */
void sq_dedupe_mark_dup(const struct sq_settings *st, const char *schema, const char *event_id,
                        int64_t event_ms, char **key, char **member);
/* The slice of an event time (event_ms / dedupe.ttl_s, rounded down). */
int64_t sq_dedupe_slice(const struct sq_settings *st, int64_t event_ms);
/* The key of a slice's shard, {prefix}dm:{slice}:{shard} (malloc'd). */
char *sq_dedupe_set_key_dup(const struct sq_settings *st, int64_t slice, int64_t shard);

#endif
