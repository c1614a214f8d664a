/* sq_validate_helper.h: validates a record against one of sqgate's built-in
 * JSON Schemas (schemas/, compiled into the binary), for any test that
 * checks an output or an input by its schema (SPEC 8: the tests validate
 * outputs against the schemas). */
#ifndef SQ_VALIDATE_HELPER_H
#define SQ_VALIDATE_HELPER_H

#include <stddef.h>

/* Parses json (len bytes, any JSON value) and validates it against the
 * built-in schema schema_name ("scored.v1", "breach.v1", "contact.v1",
 * ...), with `format` asserted as sqgate asserts it. Returns 0 when valid;
 * -1 otherwise, with why (whysz bytes, may be NULL) holding "POINTER
 * MESSAGE" of the first failure, or what made the check impossible (not
 * JSON, an unknown or unusable schema). Each schema is compiled once per
 * process. Not thread-safe. */
int sq_h_validate_record(const char *schema_name, const char *json, size_t len, char *why,
                         size_t whysz);

#endif
