/* schemas_builtin.c: lookup of the schemas compiled in from schemas/ (the
 * table itself is generated at build time by schemas_embed.cmake) and the
 * registry and validators built from them. */
#include "schemas_builtin.h"

#include <string.h>

#include "jsonschema.h"

const char *sq_schema_builtin(const char *name, size_t *len)
{
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, name) == 0) {
            if (len)
                *len = all[i].len;
            return all[i].json;
        }
    }
    return NULL;
}

/* The parsed built-in schema `e`, or NULL with err filled. */
static json_t *sq_schema_parse(const struct sq_schema_entry *e, struct sq_err *err)
{
    json_error_t jerr;
    json_t *s = json_loadb(e->json, e->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!s)
        sq_err_set(err, SQ_ERR_FATAL, "", "built-in schema %s: line %d column %d: %s", e->name,
                   jerr.line, jerr.column, jerr.text);
    return s;
}

struct sq_jsv_registry *sq_schema_registry_new(struct sq_err *err)
{
    struct sq_jsv_registry *reg = sq_jsv_registry_new();
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = sq_schema_parse(&all[i], err);
        int rc = s ? sq_jsv_registry_add(reg, NULL, s, err) : SQ_ERR_FATAL;
        json_decref(s);
        if (rc != SQ_OK) {
            if (err->kind == SQ_OK) /* defensive: the validator left err empty */
                sq_err_set(err, SQ_ERR_FATAL, "", "built-in schema %s not added", all[i].name);
            err->kind = SQ_ERR_FATAL;
            sq_jsv_registry_free(reg);
            return NULL;
        }
    }
    return reg;
}

struct sq_jsv *sq_schema_compile_builtin(struct sq_jsv_registry *reg, const char *name,
                                         bool assert_format, struct sq_err *err)
{
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    const struct sq_schema_entry *e = NULL;
    for (size_t i = 0; i < n && !e; i++)
        if (strcmp(all[i].name, name) == 0)
            e = &all[i];
    if (!e) {
        sq_err_set(err, SQ_ERR_FATAL, "", "no built-in schema %s", name);
        return NULL;
    }
    json_t *s = sq_schema_parse(e, err);
    if (!s)
        return NULL;
    json_t *id = json_object_get(s, "$id");
    struct sq_jsv_opts opts = {.assert_format = assert_format};
    struct sq_jsv *v = sq_jsv_compile(reg, s, json_string_value(id), &opts, err);
    json_decref(s);
    return v;
}
