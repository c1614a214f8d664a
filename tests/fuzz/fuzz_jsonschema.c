/* fuzz_jsonschema.c: libFuzzer target for processors/jsonschema.h. Input: a
 * schema and an instance, split at the first NUL or as a JSON array
 * [schema, instance]. Compiles with and without format assertion (no
 * mappings: no disk, no network) and checks that validation with and
 * without an error report agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sq_jsv_registry *fuzz_reg; /* one for the process, as the gateway keeps one */

static void fuzz_check(json_t *schema, json_t *instance, bool assert_format)
{
    struct sq_jsv_opts opts = {.assert_format = assert_format};
    struct sq_err err;
    struct sq_jsv *v = sq_jsv_compile(fuzz_reg, schema, NULL, &opts, &err);
    if (!v) {
        if (err.kind != SQ_ERR_DATA || err.msg[0] == '\0')
            abort(); /* a refusal always says why */
        return;
    }
    struct sq_jsv_error e;
    bool a = sq_jsv_validate(v, instance, &e);
    bool b = sq_jsv_validate(v, instance, NULL);
    if (a != b)
        abort();
    if (!a && (!memchr(e.instance, '\0', sizeof e.instance) || !memchr(e.msg, '\0', sizeof e.msg) ||
               (e.instance[0] != '\0' && e.instance[0] != '/')))
        abort();
    sq_jsv_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_reg)
        fuzz_reg = sq_jsv_registry_new();
    json_error_t jerr;
    json_t *schema = NULL, *instance = NULL;
    const uint8_t *nul = memchr(data, '\0', size);
    if (nul) {
        schema = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, &jerr);
        instance = json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    } else {
        json_t *pair = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
        if (json_is_array(pair) && json_array_size(pair) == 2) {
            schema = json_incref(json_array_get(pair, 0));
            instance = json_incref(json_array_get(pair, 1));
        }
        json_decref(pair);
    }
    if (schema && instance) {
        fuzz_check(schema, instance, false);
        fuzz_check(schema, instance, true);
    }
    json_decref(schema);
    json_decref(instance);
    return 0;
}
