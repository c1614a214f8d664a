/* sq_check_outputs.c: validates every record of a `sqgate replay` output
 * file against its schema in schemas/ (named by the sq-schema header:
 * scored.v1, breach.v1, kpi.v1, alert.v1; DLQ copies have none). Used by the
 * case runner so every output the suite produces is checked.
 * Usage: sq-check-outputs OUT.ndjson; exit 0 when all are valid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema.h"
#include "schemas_builtin.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sq-check-outputs OUT.ndjson\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_jsv_registry *reg = sq_schema_registry_new(&err);
    if (!reg) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    const char *names[] = {"scored.v1", "breach.v1", "kpi.v1", "alert.v1"};
    struct sq_jsv *v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = sq_schema_compile_builtin(reg, names[i], true, &err);
        if (!v[i]) {
            fprintf(stderr, "%s: %s\n", names[i], err.msg);
            return 2;
        }
    }
    char *line = NULL;
    size_t cap = 0;
    long n = 0, checked = 0, bad = 0;
    while (getline(&line, &cap, f) != -1) {
        n++;
        json_error_t jerr;
        json_t *rec = json_loads(line, 0, &jerr);
        const char *schema = json_string_value(
            json_object_get(json_object_get(rec, "headers"), "sq-schema"));
        int k = -1;
        for (int i = 0; schema && i < 4; i++)
            if (strcmp(schema, names[i]) == 0)
                k = i;
        if (!rec || (schema && k < 0 && strcmp(schema, "dlq.v1") != 0)) {
            fprintf(stderr, "line %ld: not a replay record or unknown sq-schema\n", n);
            bad++;
        } else if (k >= 0) {
            struct sq_jsv_error e;
            checked++;
            if (!sq_jsv_validate(v[k], json_object_get(rec, "value"), &e)) {
                fprintf(stderr, "line %ld: %s invalid at %s: %s (%s)\n", n, schema,
                        e.instance[0] ? e.instance : "\"\"", e.msg, e.keyword);
                bad++;
            }
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    for (int i = 0; i < 4; i++)
        sq_jsv_free(v[i]);
    sq_jsv_registry_free(reg);
    printf("checked %ld records of %ld lines against schemas/: %ld invalid\n", checked, n, bad);
    return bad ? 1 : 0;
}
