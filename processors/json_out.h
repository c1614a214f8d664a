/* json_out.h: compact JSON text of jansson values, byte for byte what
 * jansson's json_dumps gives, written straight into a buffer. The sinks,
 * the score stage and replay dump every record they make; json_dumps spends
 * most of that time on a loop-check table entry per object or array and a
 * callback per piece of text. */
#ifndef SQ_JSON_OUT_H
#define SQ_JSON_OUT_H

#include <jansson.h>
#include <stddef.h>

#include "sq_common.h"

/* Appends the text of json to b. flags as json_dumps: JSON_COMPACT,
 * JSON_SORT_KEYS, JSON_REAL_PRECISION(n), JSON_ENCODE_ANY (and the no-op
 * JSON_PRESERVE_ORDER) are written here; other flags go through
 * json_dumps. Returns 0, or -1 (b as it was) where json_dumps fails: not
 * an object or array without JSON_ENCODE_ANY, a string that is not UTF-8,
 * a reference cycle. */
int sq_json_dump_buf(struct sq_buf *b, const json_t *json, size_t flags);

/* json_dumps's result (malloc'd, NULL where it fails), with its length in
 * *len when len is not NULL. */
char *sq_json_dumps(const json_t *json, size_t flags, size_t *len);

/* Appends the n bytes at s as a JSON string, as json_stringn(s, n) would
 * dump. Returns 0, or -1 (b as it was) when they are not UTF-8, where
 * json_stringn gives NULL. */
int sq_json_put_string(struct sq_buf *b, const char *s, size_t n);

/* Appends a real as json_real(v) dumps with JSON_REAL_PRECISION(precision)
 * (0: jansson's default 17). Returns 0, or -1 (b as it was) where
 * json_dumps fails. */
int sq_json_put_real(struct sq_buf *b, double v, int precision);

#endif
