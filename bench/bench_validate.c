/* bench_validate.c: median time to validate one contact.v1-like event
 * (17 properties: date-time formats, enums, patterns, $refs) with
 * processors/jsonschema.h beside the median time jansson takes to parse the
 * same bytes, in one run; target: validation <= 1/4 of parse. Usage:
 * bench_validate [--rounds N] [--batch N] (--sqgate PATH is ignored). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonschema.h"

static const char *const bench_schema =
    "{"
    "\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    "\"$id\": \"https://sqgate.example/bench/contact.v1.json\","
    "\"type\": \"object\","
    "\"required\": [\"schema\", \"event_id\", \"occurred_at\", \"customer_id\", \"contact_id\","
    "  \"channel\", \"queue\", \"arrived_at\", \"ended_at\", \"reason\"],"
    "\"additionalProperties\": false,"
    "\"properties\": {"
    "  \"schema\": {\"const\": \"contact.v1\"},"
    "  \"event_id\": {\"$ref\": \"#/$defs/id\"},"
    "  \"occurred_at\": {\"$ref\": \"#/$defs/date_time\"},"
    "  \"customer_id\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 64,"
    "                   \"pattern\": \"^[A-Za-z0-9][A-Za-z0-9_.:-]*$\"},"
    "  \"region\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{2}-[A-Z]{2,3}$\"},"
    "  \"contact_id\": {\"$ref\": \"#/$defs/id\"},"
    "  \"channel\": {\"enum\": [\"voice\", \"chat\", \"app\", \"email\", \"sms\", \"store\", "
    "\"social\"]},"
    "  \"queue\": {\"$ref\": \"#/$defs/text\"},"
    "  \"agent_id\": {\"type\": \"string\", \"pattern\": \"^AG[0-9]{4,8}$\"},"
    "  \"arrived_at\": {\"$ref\": \"#/$defs/date_time\"},"
    "  \"answered_at\": {\"$ref\": \"#/$defs/date_time\"},"
    "  \"ended_at\": {\"$ref\": \"#/$defs/date_time\"},"
    "  \"hold_s\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 86400},"
    "  \"wrap_s\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 86400},"
    "  \"transfers\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 100},"
    "  \"outcome\": {\"enum\": [\"resolved\", \"unresolved\", \"escalated\", \"callback\"]},"
    "  \"reason\": {\"enum\": [\"billing\", \"network\", \"plan\", \"fault\", \"complaint\", "
    "\"other\"]}"
    "},"
    "\"$defs\": {"
    "  \"id\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 128},"
    "  \"text\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200},"
    "  \"date_time\": {\"type\": \"string\", \"format\": \"date-time\", \"maxLength\": 64}"
    "}"
    "}";

static const char *const bench_event =
    "{\"schema\": \"contact.v1\", \"event_id\": \"c-20261125-000042-7f3a9b\","
    " \"occurred_at\": \"2026-11-25T10:15:42.125+08:00\", \"customer_id\": \"CU00042137\","
    " \"region\": \"GD-SZ\", \"contact_id\": \"CT-88213344\", \"channel\": \"voice\","
    " \"queue\": \"billing-hotline\", \"agent_id\": \"AG10293\","
    " \"arrived_at\": \"2026-11-25T10:02:11.000+08:00\","
    " \"answered_at\": \"2026-11-25T10:03:40.500+08:00\","
    " \"ended_at\": \"2026-11-25T10:15:42.125+08:00\", \"hold_s\": 35.5, \"wrap_s\": 42,"
    " \"transfers\": 1, \"outcome\": \"resolved\", \"reason\": \"billing\"}";

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile size_t bench_sink; /* keeps the work from being optimised away */

int main(int argc, char **argv)
{
    int rounds = 51, batch = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sqgate") == 0 && i + 1 < argc)
            i++;
    }
    if (rounds < 1 || batch < 1) {
        fprintf(stderr, "usage: %s [--rounds N] [--batch N]\n", argv[0]);
        return 2;
    }
    json_error_t jerr;
    json_t *schema = json_loads(bench_schema, 0, &jerr);
    if (!schema) {
        fprintf(stderr, "bench schema: %s\n", jerr.text);
        return 1;
    }
    struct sq_jsv_registry *reg = sq_jsv_registry_new();
    struct sq_err err;
    struct sq_jsv_opts strict = {.assert_format = true}, loose = {.assert_format = false};
    struct sq_jsv *vf = sq_jsv_compile(reg, schema, NULL, &strict, &err);
    struct sq_jsv *vn = vf ? sq_jsv_compile(reg, schema, NULL, &loose, &err) : NULL;
    if (!vf || !vn) {
        fprintf(stderr, "bench schema not compiled: %s %s\n", err.pointer, err.msg);
        return 1;
    }
    size_t len = strlen(bench_event);
    json_t *event = json_loadb(bench_event, len, 0, &jerr);
    struct sq_jsv_error verr;
    if (!event || !sq_jsv_validate(vf, event, &verr)) {
        fprintf(stderr, "bench event invalid: %s %s\n", verr.instance, verr.msg);
        return 1;
    }
    double *parse = calloc((size_t)rounds, sizeof *parse);
    double *valf = calloc((size_t)rounds, sizeof *valf);
    double *valn = calloc((size_t)rounds, sizeof *valn);
    for (int r = 0; r < rounds; r++) {
        /* interleaved, so a frequency change hits all three alike */
        double t0 = bench_now();
        for (int i = 0; i < batch; i++) {
            json_t *j = json_loadb(bench_event, len, 0, &jerr);
            bench_sink += json_object_size(j);
            json_decref(j);
        }
        double t1 = bench_now();
        for (int i = 0; i < batch; i++)
            bench_sink += sq_jsv_validate(vf, event, NULL);
        double t2 = bench_now();
        for (int i = 0; i < batch; i++)
            bench_sink += sq_jsv_validate(vn, event, NULL);
        double t3 = bench_now();
        parse[r] = (t1 - t0) / batch;
        valf[r] = (t2 - t1) / batch;
        valn[r] = (t3 - t2) / batch;
    }
    double mp = bench_median(parse, rounds), mf = bench_median(valf, rounds),
           mn = bench_median(valn, rounds);
    printf("| contact.v1-like event (%zu bytes, 17 properties) | median ns/event | / parse |\n",
           len);
    printf("|---|---:|---:|\n");
    printf("| jansson json_loadb (parse) | %.0f | 1.00 |\n", mp);
    printf("| sq_jsv_validate, formats asserted | %.0f | %.2f |\n", mf, mf / mp);
    printf("| sq_jsv_validate, formats as annotations | %.0f | %.2f |\n", mn, mn / mp);
    printf("\n%d rounds of %d; target: validation <= 0.25 x parse: %s\n", rounds, batch,
           mf <= mp / 4 ? "met" : "NOT met");
    free(parse);
    free(valf);
    free(valn);
    json_decref(event);
    json_decref(schema);
    sq_jsv_free(vf);
    sq_jsv_free(vn);
    sq_jsv_registry_free(reg);
    return 0;
}
