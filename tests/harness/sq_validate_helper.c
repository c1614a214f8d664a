/* sq_validate_helper.c: sq_h_validate_record (see sq_validate_helper.h).
 * The registry and the compiled schemas live for the whole test process:
 * a static cache, still reachable at exit, so no leak is reported. */
#include "sq_validate_helper.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonschema.h"
#include "schemas_builtin.h"
#include "sq_common.h"

#define SQ_H_VALIDATE_MAX 32

static struct sq_jsv_registry *sq_h_vreg;
static struct {
    const char *name; /* static, from the built-in table */
    struct sq_jsv *jsv;
} sq_h_vcache[SQ_H_VALIDATE_MAX];
static size_t sq_h_vcache_n;

static void sq_h_why(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sq_h_why(char *why, size_t whysz, const char *fmt, ...)
{
    if (!why || whysz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* The compiled built-in schema `name`, or NULL with why filled. */
static const struct sq_jsv *sq_h_vschema(const char *name, char *why, size_t whysz)
{
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    const char *sname = NULL;
    for (size_t i = 0; i < n && !sname; i++)
        if (strcmp(all[i].name, name) == 0)
            sname = all[i].name;
    if (!sname) {
        sq_h_why(why, whysz, "no built-in schema %s", name);
        return NULL;
    }
    for (size_t i = 0; i < sq_h_vcache_n; i++)
        if (sq_h_vcache[i].name == sname)
            return sq_h_vcache[i].jsv;
    struct sq_err err;
    sq_err_clear(&err);
    if (!sq_h_vreg && !(sq_h_vreg = sq_schema_registry_new(&err))) {
        sq_h_why(why, whysz, "schema registry: %s", err.msg);
        return NULL;
    }
    if (sq_h_vcache_n == SQ_H_VALIDATE_MAX) {
        sq_h_why(why, whysz, "more than %d schemas", SQ_H_VALIDATE_MAX);
        return NULL;
    }
    struct sq_jsv *jsv = sq_schema_compile_builtin(sq_h_vreg, sname, true, &err);
    if (!jsv) {
        sq_h_why(why, whysz, "schema %s does not compile: %s", sname, err.msg);
        return NULL;
    }
    sq_h_vcache[sq_h_vcache_n].name = sname;
    sq_h_vcache[sq_h_vcache_n].jsv = jsv;
    sq_h_vcache_n++;
    return jsv;
}

int sq_h_validate_record(const char *schema_name, const char *json, size_t len, char *why,
                         size_t whysz)
{
    if (why && whysz)
        why[0] = '\0';
    const struct sq_jsv *jsv = sq_h_vschema(schema_name, why, whysz);
    if (!jsv)
        return -1;
    json_error_t jerr;
    json_t *inst = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!inst) {
        sq_h_why(why, whysz, "\"\" not JSON: line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return -1;
    }
    struct sq_jsv_error je;
    memset(&je, 0, sizeof je);
    bool ok = sq_jsv_validate(jsv, inst, &je);
    json_decref(inst);
    if (ok)
        return 0;
    sq_h_why(why, whysz, "%s %s", je.instance[0] ? je.instance : "\"\"", je.msg);
    return -1;
}
