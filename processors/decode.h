/* decode.h: the `decode` processor, first in the chain (SPEC 3): message
 * bytes to a jansson object with a known schema, or the DLQ with exactly one
 * reason, checked in SPEC 15's order: too_large, bad_utf8, too_deep,
 * malformed_json, not_object, unknown_schema. */
#ifndef SQ_DECODE_H
#define SQ_DECODE_H

#include <jansson.h>
#include <stddef.h>

#include "processor.h"

/* Sets, for each pending message: event (owned by the message), schema
 * (static name) and customer_id (borrowed from the event, NULL unless a
 * string); or marks it DLQ. A null or empty value is a tombstone on a topic
 * whose default schema is profile.v1 (event NULL, schema "profile.v1",
 * customer_id NULL: the key names the customer) and malformed_json elsewhere. */
extern const struct sq_processor sq_proc_decode;

/* The largest limits.max_depth decode accepts: jansson's own parser limit,
 * which counts a scalar inside the innermost container as one more level. */
#define SQ_DECODE_MAX_DEPTH (JSON_PARSER_MAX_DEPTH - 1)

/* The static name of a known input schema ("contact.v1", ...), or NULL. */
const char *sq_schema_lookup(const char *name);

/* Steps 1-5 of decoding for a non-NULL buffer: too_large, bad_utf8 (also an
 * escaped lone surrogate), too_deep, malformed_json (also an empty buffer,
 * a repeated key, \u0000, trailing bytes), not_object. Reads only
 * st->max_message_bytes and st->max_depth. Returns SQ_DLQ_NONE and stores a
 * new reference to the object in *out, or a reason with *out = NULL and the
 * message for sq-error-detail in detail (NUL-terminated, valid UTF-8, no
 * pointer: every one of these errors is about the document root ""). */
enum sq_dlq_reason sq_decode_bytes(const char *buf, size_t len, const struct sq_settings *st,
                                   json_t **out, char *detail, size_t detail_sz);

#endif
