/* schemas_builtin.h: the JSON Schemas of schemas/ compiled into the binary
 * (processors/schemas_embed.cmake generates the table at build time), and
 * the validator registry every user of them starts from: the validate
 * processor, `sqgate validate` and the tests. */
#ifndef SQ_SCHEMAS_BUILTIN_H
#define SQ_SCHEMAS_BUILTIN_H

#include <stdbool.h>
#include <stddef.h>

#include "sq_common.h"

struct sq_jsv;
struct sq_jsv_registry;

/* One built-in schema: its name ("contact.v1", "scored.v1", "config",
 * "rules", "envelope.v1", ...: the file name without ".json" and
 * ".schema") and its JSON text, NUL-terminated; static storage. */
struct sq_schema_entry {
    const char *name;
    const char *json;
    size_t len;
};

/* Every built-in schema, sorted by file name; *n gets their count. Defined
 * in the generated file. */
const struct sq_schema_entry *sq_schema_builtin_all(size_t *n);

/* The JSON text of the built-in schema `name` (static, NUL-terminated), its
 * length in *len when len is not NULL; NULL when there is none. */
const char *sq_schema_builtin(const char *name, size_t *len);

/* "https://sqgate.example/schemas/" + the file name: the $id of every
 * built-in schema starts with this. */
#define SQ_SCHEMA_ID_PREFIX "https://sqgate.example/schemas/"

/* A new validator registry (released with sq_jsv_registry_free) holding the
 * draft 2020-12 meta-schemas and every built-in schema under its $id, so a
 * $ref from one schema to another resolves without any file or network.
 * NULL with err filled (SQ_ERR_FATAL) when a built-in schema does not load:
 * a defect of the build, which the tests catch. */
struct sq_jsv_registry *sq_schema_registry_new(struct sq_err *err);

/* Compiles the built-in schema `name` against reg (which must outlive the
 * result: from sq_schema_registry_new). assert_format: `format` asserts
 * (date-time, ...) instead of annotating, as sqgate does for its own
 * schemas. Returns a validator released with sq_jsv_free, or NULL with err
 * filled (an unknown name, or a schema the validator cannot use). */
struct sq_jsv *sq_schema_compile_builtin(struct sq_jsv_registry *reg, const char *name,
                                         bool assert_format, struct sq_err *err);

#endif
