/* json_in.h: the JSON parser of the hot path (an event's value in `run`,
 * a replay line). It builds the tree json_loadb builds, for the text
 * sqgate reads most, faster than jansson's own lexer; anything outside
 * that common case goes to json_loadb whole. */
#ifndef SQ_JSON_IN_H
#define SQ_JSON_IN_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(buf, len, flags, err) in outcome: the same tree (types,
 * values, object member order) or, for any text it does not take itself
 * (an error of any kind, a \u escape, a repeated key, an integer of more
 * than 18 digits, a number token longer than 63 bytes, nesting deeper
 * than 64, flags other than JSON_REJECT_DUPLICATES and JSON_DECODE_ANY),
 * json_loadb's own result and error. The caller owns the tree. */
json_t *sq_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
