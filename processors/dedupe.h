/* dedupe.h: the `dedupe` processor (SPEC 3). */
#ifndef SQ_DEDUPE_H
#define SQ_DEDUPE_H

#include "processor.h"

extern const struct sq_processor sq_proc_dedupe;

/* The store key and field that mark (schema, event_id) as applied: ids are
 * kept in bucketed hashes ({prefix}dd:{slice}:{shard}), not one key per id.
 * slice = occurred_at / dedupe.ttl_s, so a redelivery (same event, same
 * occurred_at) always meets its mark. With d = SHA-256("schema|event_id"),
 * shard = d's first 8 bytes (big-endian) mod dedupe.shards and the field is
 * d's next 12 bytes in base64url: 16 characters whatever the id's length
 * (up to 128), so a mark costs the same ~21 bytes of Redis for any id.
 * key and field are malloc'd. */
void sq_dedupe_mark_dup(const struct sq_settings *st, const char *schema, const char *event_id,
                        int64_t event_ms, char **key, char **field);

#endif
