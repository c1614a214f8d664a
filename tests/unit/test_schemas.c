/* test_schemas.c: the JSON Schemas of schemas/: compiled into the binary
 * unchanged, each valid against the draft 2020-12 meta-schema and usable
 * by the validator; good and bad examples of every input event; every
 * output record of the case folders valid against its sq-schema; the
 * config schema agreeing with the key table of gateway/config.c and with
 * the YAML files of deploy/ and tests/cases; the rules schema taking the
 * built-in rules of SPEC 7. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "decode.h"
#include "jsonschema.h"
#include "schemas_builtin.h"
#include "sq_harness.h"
#include "sq_validate_helper.h"

#define META_URI "https://json-schema.org/draft/2020-12/schema"

/* The six input schemas of SPEC 2. */
static const char *const input_schemas[] = {"contact.v1", "ticket.v1", "survey.v1",
                                            "qa_review.v1", "outage.v1", "profile.v1"};

static json_t *load_builtin(const char *name)
{
    size_t len = 0;
    const char *text = sq_schema_builtin(name, &len);
    cr_assert_not_null(text, "no built-in schema %s", name);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(j, "%s: %s", name, jerr.text);
    return j;
}

/* ---- the schemas themselves ------------------------------------------- */

Test(schemas, embedded_equal_the_files_of_schemas_dir)
{
    glob_t g;
    cr_assert_eq(glob(SQ_SOURCE_DIR "/schemas/*.json", 0, NULL, &g), 0);
    size_t n = 0;
    sq_schema_builtin_all(&n);
    cr_assert_eq(n, g.gl_pathc, "%zu built in, %zu files in schemas/", n, g.gl_pathc);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char name[256];
        const char *base = strrchr(g.gl_pathv[i], '/') + 1;
        snprintf(name, sizeof name, "%s", base);
        *strstr(name, ".json") = '\0';
        char *dot = strstr(name, ".schema");
        if (dot && dot[7] == '\0')
            *dot = '\0';
        size_t flen = 0, blen = 0;
        char *file = sq_h_read_file(g.gl_pathv[i], &flen);
        const char *text = sq_schema_builtin(name, &blen);
        cr_assert_not_null(text, "%s is not built in as %s", base, name);
        cr_assert_eq(blen, flen, "%s: built-in copy differs (rebuild?)", base);
        cr_assert(memcmp(text, file, flen) == 0, "%s: built-in copy differs", base);
        cr_assert_eq(text[blen], '\0');
        free(file);
    }
    globfree(&g);
    cr_assert_null(sq_schema_builtin("nope.v1", NULL));
    cr_assert_not_null(sq_schema_builtin("config", NULL));
    cr_assert_not_null(sq_schema_builtin("rules", NULL));
}

Test(schemas, every_schema_is_valid_against_the_2020_12_metaschema)
{
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_jsv_registry *reg = sq_schema_registry_new(&err);
    cr_assert_not_null(reg, "%s", err.msg);
    json_t *ref = json_pack("{s:s}", "$ref", META_URI);
    struct sq_jsv_opts opts = {.assert_format = false};
    struct sq_jsv *meta = sq_jsv_compile(reg, ref, NULL, &opts, &err);
    cr_assert_not_null(meta, "meta-schema: %s", err.msg);
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = load_builtin(all[i].name);
        struct sq_jsv_error je;
        memset(&je, 0, sizeof je);
        cr_assert(sq_jsv_validate(meta, s, &je), "%s: %s %s (%s)", all[i].name, je.instance,
                  je.msg, je.keyword);
        cr_assert_str_eq(json_string_value(json_object_get(s, "$schema")), META_URI, "%s",
                         all[i].name);
        const char *id = json_string_value(json_object_get(s, "$id"));
        cr_assert(id && strncmp(id, SQ_SCHEMA_ID_PREFIX, strlen(SQ_SCHEMA_ID_PREFIX)) == 0,
                  "%s: $id %s", all[i].name, id ? id : "(none)");
        json_decref(s);
    }
    /* the check can fail: a broken schema is not valid against it */
    json_t *broken = json_pack("{s:i, s:s}", "type", 12, "minLength", "one");
    struct sq_jsv_error je;
    cr_assert_not(sq_jsv_validate(meta, broken, &je));
    json_decref(broken);
    json_decref(ref);
    sq_jsv_free(meta);
    sq_jsv_registry_free(reg);
}

Test(schemas, every_schema_compiles_with_format_asserted)
{
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_jsv_registry *reg = sq_schema_registry_new(&err);
    cr_assert_not_null(reg, "%s", err.msg);
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    cr_assert_geq(n, 13);
    for (size_t i = 0; i < n; i++) {
        struct sq_jsv *v = sq_schema_compile_builtin(reg, all[i].name, true, &err);
        cr_assert_not_null(v, "%s: %s", all[i].name, err.msg);
        sq_jsv_free(v);
    }
    cr_assert_null(sq_schema_compile_builtin(reg, "nope.v1", true, &err));
    sq_jsv_registry_free(reg);
}

Test(schemas, every_input_schema_of_decode_has_a_file)
{
    for (size_t i = 0; i < sizeof input_schemas / sizeof input_schemas[0]; i++) {
        cr_assert_not_null(sq_schema_lookup(input_schemas[i]), "%s", input_schemas[i]);
        cr_assert_not_null(sq_schema_builtin(input_schemas[i], NULL), "%s", input_schemas[i]);
    }
    static const char *const outputs[] = {"scored.v1", "breach.v1", "kpi.v1", "alert.v1"};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        cr_assert_not_null(sq_schema_builtin(outputs[i], NULL), "%s", outputs[i]);
    cr_assert_null(sq_schema_builtin("dlq.v1", NULL), "the DLQ keeps the original bytes");
}

/* ---- examples ---------------------------------------------------------- */

struct example {
    const char *schema;
    const char *json;
    const char *pointer; /* NULL: valid; else the failure's pointer ("\"\"" for the root) */
};

/* Checks one example: valid, or invalid at exactly the expected pointer. */
static void check_example(const struct example *ex)
{
    char why[1024];
    int rc = sq_h_validate_record(ex->schema, ex->json, strlen(ex->json), why, sizeof why);
    if (!ex->pointer) {
        cr_expect_eq(rc, 0, "%s should be valid: %s\n  %s", ex->schema, why, ex->json);
        return;
    }
    cr_expect_eq(rc, -1, "%s should be invalid at %s:\n  %s", ex->schema, ex->pointer, ex->json);
    if (rc != -1)
        return;
    size_t plen = strlen(ex->pointer);
    cr_expect(strncmp(why, ex->pointer, plen) == 0 && why[plen] == ' ',
              "%s: expected the failure at %s, got: %s\n  %s", ex->schema, ex->pointer, why,
              ex->json);
}

#define ENV(schema) "{\"schema\":\"" schema "\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T10:05:00Z\""
#define CUST ",\"customer_id\":\"c1\""
#define CONTACT_NO_CHANNEL                                                                   \
    ",\"contact_id\":\"k1\",\"queue\":\"billing\","                                         \
    "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"ended_at\":\"2026-11-25T10:05:00Z\","        \
    "\"reason\":\"billing\""
#define CONTACT_BODY CONTACT_NO_CHANNEL ",\"channel\":\"voice\""

static const struct example input_examples[] = {
    /* contact.v1 */
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY "}", NULL},
    {"contact.v1",
     "{\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T18:05:00.250+08:00\",\"customer_id\":"
     "\"13800000000\",\"region\":\"GD-SZ\",\"contact_id\":\"k1\",\"channel\":\"chat\","
     "\"queue\":\"q\",\"agent_id\":\"a1\",\"arrived_at\":\"2026-11-25T10:00:00Z\","
     "\"answered_at\":\"2026-11-25T10:00:20Z\",\"ended_at\":\"2026-11-25T10:05:00Z\","
     "\"hold_s\":1.5,\"wrap_s\":0,\"transfers\":2,\"outcome\":\"resolved\",\"reason\":\"plan\","
     "\"crm_ref\":{\"any\":[\"extra\",\"fields\"]}}",
     NULL}, /* no schema field (topic default), unknown extra fields tolerated */
    {"contact.v1", ENV("contact.v1") CUST ",\"channel\":\"voice\",\"queue\":\"q\","
     "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"ended_at\":\"2026-11-25T10:05:00Z\","
     "\"reason\":\"billing\"}", "\"\""}, /* no contact_id */
    {"contact.v1", ENV("contact.v1") CONTACT_BODY "}", "\"\""}, /* no customer_id */
    {"contact.v1", "{\"occurred_at\":\"2026-11-25T10:05:00Z\"" CUST CONTACT_BODY "}", "\"\""},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"channel2\":1,\"transfers\":-1}",
     "/transfers"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"transfers\":1.5}", "/transfers"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"hold_s\":\"3\"}", "/hold_s"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"wrap_s\":-0.5}", "/wrap_s"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"outcome\":\"done\"}", "/outcome"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"answered_at\":\"yesterday\"}",
     "/answered_at"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_BODY ",\"agent_id\":\"\"}", "/agent_id"},
    {"contact.v1",
     "{\"schema\":\"contact.v1\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25 10:05:00\"" CUST
         CONTACT_BODY "}",
     "/occurred_at"}, /* format date-time is asserted */
    {"contact.v1",
     "{\"schema\":\"contact.v1\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T10:05:00\"" CUST
         CONTACT_BODY "}",
     "/occurred_at"}, /* no offset */
    {"contact.v1",
     "{\"schema\":\"contact.v1\",\"event_id\":\"\",\"occurred_at\":\"2026-11-25T10:05:00Z\"" CUST
         CONTACT_BODY "}",
     "/event_id"},
    {"contact.v1",
     "{\"schema\":\"contact.v1\",\"event_id\":7,\"occurred_at\":\"2026-11-25T10:05:00Z\"" CUST
         CONTACT_BODY "}",
     "/event_id"},
    {"contact.v1", ENV("contact.v1") ",\"customer_id\":\"\"" CONTACT_BODY "}", "/customer_id"},
    {"contact.v1", ENV("contact.v1") CUST ",\"region\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\""
     CONTACT_BODY "}", "/region"}, /* 33 characters */
    {"contact.v1", ENV("contact.v1") CUST ",\"region\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\""
     CONTACT_BODY "}", NULL}, /* 32 */
    {"contact.v1", ENV("ticket.v1") CUST CONTACT_BODY "}", "/schema"},
    {"contact.v1", ENV("contact.v1") CUST CONTACT_NO_CHANNEL ",\"channel\":\"fax\"}", "/channel"},
    {"contact.v1", "[1,2]", "\"\""},

    /* ticket.v1 */
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"fault\","
     "\"category\":\"network_quality\",\"severity\":1,\"status\":\"opened\"}", NULL},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"complaint\","
     "\"category\":\"billing\",\"severity\":4,\"status\":\"escalated_regulator\","
     "\"contact_id\":\"k1\"}", NULL},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"fault\","
     "\"category\":\"x\",\"severity\":0,\"status\":\"opened\"}", "/severity"},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"fault\","
     "\"category\":\"x\",\"severity\":5,\"status\":\"opened\"}", "/severity"},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"fault\","
     "\"category\":\"x\",\"severity\":2,\"status\":\"pending\"}", "/status"},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\",\"kind\":\"question\","
     "\"category\":\"x\",\"severity\":2,\"status\":\"opened\"}", "/kind"},
    {"ticket.v1", ENV("ticket.v1") CUST ",\"ticket_id\":\"t1\","
     "\"category\":\"x\",\"severity\":2,\"status\":\"opened\"}", "\"\""},

    /* survey.v1 */
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\",\"csat\":5}",
     NULL},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"ticket_id\":\"t1\",\"servqual\":"
     "{\"empathy\":{\"expected\":6,\"perceived\":2.5},\"tangibles\":{\"expected\":1,"
     "\"perceived\":7}},\"comment\":\"fine\"}", NULL},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
     "\"ticket_id\":\"t1\",\"nps\":0}", NULL},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"nps\":9}", "\"\""},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\"}", "\"\""},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\",\"csat\":6}",
     "/csat"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\",\"csat\":0}",
     "/csat"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\",\"nps\":11}",
     "/nps"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
     "\"servqual\":{}}", "/servqual"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
     "\"servqual\":{\"empathy\":{\"expected\":8,\"perceived\":2}}}", "/servqual/empathy/expected"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
     "\"servqual\":{\"empathy\":{\"expected\":5}}}", "/servqual/empathy"},
    {"survey.v1", ENV("survey.v1") CUST ",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
     "\"servqual\":{\"empathy\":{\"expected\":5,\"perceived\":5,\"weight\":1}}}",
     "/servqual/empathy/weight"},

    /* qa_review.v1 */
    {"qa_review.v1", ENV("qa_review.v1") CUST ",\"review_id\":\"r1\",\"contact_id\":\"k1\","
     "\"agent_id\":\"a1\",\"score\":72.5}", NULL},
    {"qa_review.v1", ENV("qa_review.v1") CUST ",\"review_id\":\"r1\",\"contact_id\":\"k1\","
     "\"agent_id\":\"a1\",\"score\":0,\"fatal_errors\":[\"disclosure\",\"rude\"]}", NULL},
    {"qa_review.v1", ENV("qa_review.v1") CUST ",\"review_id\":\"r1\",\"contact_id\":\"k1\","
     "\"agent_id\":\"a1\",\"score\":100.5}", "/score"},
    {"qa_review.v1", ENV("qa_review.v1") CUST ",\"review_id\":\"r1\",\"contact_id\":\"k1\","
     "\"agent_id\":\"a1\",\"score\":50,\"fatal_errors\":[\"x\",3]}", "/fatal_errors/1"},
    {"qa_review.v1", ENV("qa_review.v1") CUST ",\"review_id\":\"r1\",\"contact_id\":\"k1\","
     "\"score\":50}", "\"\""},

    /* outage.v1 */
    {"outage.v1", ENV("outage.v1") ",\"incident_id\":\"i1\",\"region\":\"GD-SZ\","
     "\"service\":\"mobile_data\",\"status\":\"started\",\"severity\":2}", NULL},
    {"outage.v1", ENV("outage.v1") ",\"incident_id\":\"i1\",\"service\":\"voice\","
     "\"status\":\"ended\",\"severity\":2}", "\"\""},
    {"outage.v1", ENV("outage.v1") ",\"incident_id\":\"i1\",\"region\":\"GD-SZ\","
     "\"service\":\"voice\",\"status\":\"ongoing\",\"severity\":2}", "/status"},

    /* profile.v1 */
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"gold\",\"region\":\"GD-SZ\","
     "\"enterprise\":true,\"tenure_months\":14,\"arpu\":88.5}", NULL},
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"platinum\",\"region\":\"GD-SZ\"}",
     "/tier"},
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"gold\",\"region\":\"GD-SZ\","
     "\"tenure_months\":-1}", "/tenure_months"},
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"gold\",\"region\":\"GD-SZ\","
     "\"arpu\":-0.01}", "/arpu"},
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"gold\",\"region\":\"GD-SZ\","
     "\"enterprise\":\"yes\"}", "/enterprise"},
    {"profile.v1", ENV("profile.v1") CUST ",\"tier\":\"gold\"}", "\"\""},
};

Test(schemas, input_event_examples)
{
    for (size_t i = 0; i < sizeof input_examples / sizeof input_examples[0]; i++)
        check_example(&input_examples[i]);
}

/* A string of n copies of the UTF-8 character c (multi-byte). */
static char *repeat(const char *c, size_t n)
{
    size_t cl = strlen(c);
    char *s = malloc(n * cl + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * cl, c, cl);
    s[n * cl] = '\0';
    return s;
}

Test(schemas, lengths_count_characters_not_bytes)
{
    /* comment at most 2000 characters, event_id 128, customer_id 64 */
    char *c2000 = repeat("\xC3\xA9", 2000), *c2001 = repeat("\xC3\xA9", 2001);
    char *e128 = repeat("\xE6\xB7\xB1", 128), *e129 = repeat("\xE6\xB7\xB1", 129);
    char *k64 = repeat("\xF0\x9F\x93\x9E", 64), *k65 = repeat("\xF0\x9F\x93\x9E", 65);
    struct {
        const char *eid, *cust, *comment, *pointer;
    } cases[] = {
        {e128, k64, c2000, NULL},
        {e128, k64, c2001, "/comment"},
        {e129, k64, c2000, "/event_id"},
        {e128, k65, c2000, "/customer_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = sq_xasprintf(
            "{\"event_id\":\"%s\",\"occurred_at\":\"2026-11-25T10:05:00Z\",\"customer_id\":"
            "\"%s\",\"survey_id\":\"s1\",\"contact_id\":\"k1\",\"csat\":4,\"comment\":\"%s\"}",
            cases[i].eid, cases[i].cust, cases[i].comment);
        struct example ex = {"survey.v1", json, cases[i].pointer};
        check_example(&ex);
        free(json);
    }
    free(c2000);
    free(c2001);
    free(e128);
    free(e129);
    free(k64);
    free(k65);
}

/* ---- output records ----------------------------------------------------- */

/* Every record of every tests/cases/<processor>/<case>/expected.ndjson is
 * valid against the schema its sq-schema header names (the DLQ, which
 * keeps the original bytes, has none). */
Test(schemas, case_folder_outputs_follow_their_schemas)
{
    glob_t g;
    cr_assert_eq(glob(SQ_SOURCE_DIR "/tests/cases/*/*/expected.ndjson", 0, NULL, &g), 0);
    size_t checked = 0, scored = 0, breaches = 0;
    for (size_t f = 0; f < g.gl_pathc; f++) {
        size_t len = 0;
        char *data = sq_h_read_file(g.gl_pathv[f], &len);
        cr_assert_not_null(data);
        size_t lineno = 0;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            lineno++;
            json_error_t jerr;
            json_t *rec = json_loads(line, 0, &jerr);
            cr_assert_not_null(rec, "%s:%zu: %s", g.gl_pathv[f], lineno, jerr.text);
            const char *schema =
                json_string_value(json_object_get(json_object_get(rec, "headers"), "sq-schema"));
            cr_assert_not_null(schema, "%s:%zu: no sq-schema header", g.gl_pathv[f], lineno);
            if (strcmp(schema, "dlq.v1") != 0) {
                char *value = json_dumps(json_object_get(rec, "value"), JSON_COMPACT);
                char why[1024];
                cr_expect_eq(sq_h_validate_record(schema, value, strlen(value), why, sizeof why),
                             0, "%s:%zu: not a valid %s: %s", g.gl_pathv[f], lineno, schema, why);
                free(value);
                checked++;
                scored += strcmp(schema, "scored.v1") == 0;
                breaches += strcmp(schema, "breach.v1") == 0;
            }
            json_decref(rec);
        }
        free(data);
    }
    globfree(&g);
    cr_assert_gt(scored, 20, "only %zu scored records in the case folders", scored);
    cr_assert_gt(breaches, 5, "only %zu breach records in the case folders", breaches);
    cr_assert_geq(checked, scored + breaches);
}

#define SCORED_CONTACT                                                                       \
    "{\"schema\":\"contact.v1\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T10:05:00Z\"," \
    "\"customer_id\":\"c1\",\"contact_id\":\"k1\",\"channel\":\"voice\",\"queue\":\"q\","     \
    "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"ended_at\":\"2026-11-25T10:05:00Z\","          \
    "\"reason\":\"billing\",\"enrichment\":{\"tier\":\"unknown\",\"enterprise\":false,"       \
    "\"region\":null,\"during_outage\":false,\"incidents\":[]},"
#define DERIVED                                                                              \
    "\"derived\":{\"wait_s\":300,\"handle_s\":null,\"abandoned\":true,"                       \
    "\"short_abandon\":false,\"callback_request\":false,\"repeat\":false}"
#define BREACH_HEAD                                                                          \
    "{\"breach_id\":\"0123456789abcdef0123456789abcdef\",\"event_id\":\"e1\","                 \
    "\"customer_id\":\"c1\",\"tier\":\"gold\",\"region\":\"GD-SZ\","                          \
    "\"occurred_at\":\"2026-11-25T10:05:00.000Z\",\"detected_at\":\"2026-11-25T10:05:00.000Z\","

static const struct example output_examples[] = {
    {"scored.v1", SCORED_CONTACT "\"score\":{\"quality_score\":0,\"dimensions\":"
     "{\"responsiveness\":0}},\"breaches\":[\"ABANDONED\"]," DERIVED "}", NULL},
    {"scored.v1", SCORED_CONTACT "\"score\":{\"dimensions\":{}},\"breaches\":[]}", "\"\""},
    {"scored.v1", SCORED_CONTACT "\"score\":{\"quality_score\":100.5,\"dimensions\":"
     "{\"responsiveness\":100}},\"breaches\":[]," DERIVED "}", "/score/quality_score"},
    {"scored.v1", SCORED_CONTACT "\"score\":{\"dimensions\":{}},\"breaches\":[\"LATE\"],"
     DERIVED "}", "/breaches/0"},
    {"scored.v1", SCORED_CONTACT "\"score\":{\"dimensions\":{\"speed\":50}},\"breaches\":[],"
     DERIVED "}", "/score/dimensions"},
    {"scored.v1",
     "{\"schema\":\"qa_review.v1\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T10:05:00Z\","
     "\"customer_id\":\"c1\",\"review_id\":\"r\",\"contact_id\":\"k\",\"agent_id\":\"a\","
     "\"score\":{\"quality_score\":60,\"dimensions\":{\"assurance\":60}},\"enrichment\":"
     "{\"tier\":\"gold\",\"enterprise\":true,\"region\":\"X\",\"during_outage\":true,"
     "\"incidents\":[\"i1\"]},\"breaches\":[]}", NULL},
    {"scored.v1",
     "{\"schema\":\"qa_review.v1\",\"event_id\":\"e1\",\"occurred_at\":\"2026-11-25T10:05:00Z\","
     "\"customer_id\":\"c1\",\"review_id\":\"r\",\"contact_id\":\"k\",\"agent_id\":\"a\","
     "\"score\":{\"dimensions\":{}},\"enrichment\":{\"tier\":\"gold\",\"enterprise\":true,"
     "\"region\":\"X\",\"during_outage\":true,\"incidents\":[\"i1\"]},\"breaches\":[],"
     DERIVED "}", "/derived"},
    {"breach.v1", BREACH_HEAD "\"code\":\"SLA_WAIT\",\"severity\":\"major\","
     "\"dimension\":\"responsiveness\",\"queue\":\"q\",\"agent_id\":\"a\",\"value\":31,"
     "\"threshold\":10}", NULL},
    {"breach.v1", BREACH_HEAD "\"code\":\"SLA_WAIT\",\"severity\":\"major\","
     "\"dimension\":\"empathy\",\"value\":31,\"threshold\":10}", "/dimension"},
    {"breach.v1", BREACH_HEAD "\"code\":\"TICKET_OVERDUE\",\"severity\":\"critical\","
     "\"dimension\":\"responsiveness\",\"ticket_id\":\"t\",\"value\":null,\"threshold\":4}", NULL},
    {"breach.v1", BREACH_HEAD "\"code\":\"SERVQUAL_GAP\",\"severity\":\"minor\","
     "\"dimension\":\"empathy\",\"value\":-3,\"threshold\":-2,"
     "\"details\":[\"empathy\",\"reliability\"]}", NULL},
    {"breach.v1", BREACH_HEAD "\"code\":\"SERVQUAL_GAP\",\"severity\":\"minor\","
     "\"dimension\":\"empathy\",\"value\":-3,\"threshold\":-2}", "\"\""},
    {"breach.v1", BREACH_HEAD "\"code\":\"UNRESOLVED\",\"severity\":\"minor\","
     "\"dimension\":\"reliability\",\"value\":1,\"threshold\":null}", "/value"},
    {"breach.v1", BREACH_HEAD "\"code\":\"QA_LOW\",\"severity\":\"minor\","
     "\"dimension\":\"assurance\",\"value\":50,\"threshold\":60,\"note\":1}", "/note"},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"queue_service_level_low\","
     "\"state\":\"firing\",\"severity\":\"major\",\"dimension\":\"queue\",\"key\":\"billing\","
     "\"value\":0.71,\"threshold\":0.8,\"window\":\"15m\",\"start\":\"2026-11-25T10:00:00.000Z\","
     "\"at\":\"2026-11-25T10:15:00.000Z\"}", NULL},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"vip_breach\","
     "\"state\":\"resolved\",\"severity\":\"critical\",\"dimension\":\"customer\",\"key\":\"c1\","
     "\"value\":null,\"threshold\":null,\"at\":\"2026-11-25T10:15:00.000Z\"}", NULL},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"complaint_surge\","
     "\"state\":\"firing\",\"severity\":\"major\",\"dimension\":\"region\",\"key\":\"GD-SZ\","
     "\"value\":14,\"threshold\":6.3,\"window\":\"1h\",\"start\":\"2026-11-25T10:00:00.000Z\","
     "\"outages\":[\"inc-1\"],\"at\":\"2026-11-25T11:00:00.000Z\"}", NULL},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"x\",\"state\":\"open\","
     "\"severity\":\"major\",\"dimension\":\"queue\",\"key\":\"q\",\"value\":1,\"threshold\":2,"
     "\"at\":\"2026-11-25T11:00:00.000Z\"}", "/state"},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"x\",\"state\":\"firing\","
     "\"severity\":\"major\",\"dimension\":\"queue\",\"key\":\"q\",\"value\":1,\"threshold\":2,"
     "\"window\":\"15m\",\"at\":\"2026-11-25T11:00:00.000Z\"}", "\"\""},
    {"alert.v1",
     "{\"alert_id\":\"00112233445566778899aabbccddeeff\",\"rule\":\"x\",\"state\":\"firing\","
     "\"severity\":\"major\",\"dimension\":\"queue\",\"key\":\"q\",\"value\":1,\"threshold\":2,"
     "\"at\":\"2026-11-25T11:00:00Z\"}", "/at"},
};

Test(schemas, output_record_examples)
{
    for (size_t i = 0; i < sizeof output_examples / sizeof output_examples[0]; i++)
        check_example(&output_examples[i]);
}

/* SPEC 6's counters, in order. */
static const char *const kpi_counters[] = {
    "offered", "answered", "answered_in_sla", "abandoned", "short_abandoned",
    "abandoned_in_sla", "callback_requests", "wait_answered_ms_sum", "handle_ms_sum",
    "transfers_sum", "repeat", "resolved", "tickets_opened", "tickets_resolved",
    "tickets_overdue", "complaints", "regulator_escalations", "csat_sum", "csat_n",
    "nps_promoters", "nps_detractors", "nps_n", "qa_score_milli_sum", "qa_n", "qa_fatal",
    "breaches_minor", "breaches_major", "breaches_critical", "quality_score_deci_sum",
    "quality_score_n"};
static const char *const kpi_names[] = {"service_level", "abandon_rate", "asa_s", "aht_s",
                                        "fcr_rate", "transfer_rate", "csat_avg", "nps",
                                        "qa_avg", "quality_score_avg"};

static json_t *kpi_record(void)
{
    json_t *c = json_object(), *k = json_object();
    for (size_t i = 0; i < sizeof kpi_counters / sizeof kpi_counters[0]; i++)
        json_object_set_new(c, kpi_counters[i], json_integer((json_int_t)i));
    for (size_t i = 0; i < sizeof kpi_names / sizeof kpi_names[0]; i++)
        json_object_set_new(k, kpi_names[i], json_null());
    json_object_set_new(k, "service_level", json_real(0.875));
    json_object_set_new(k, "asa_s", json_real(12.5));
    json_object_set_new(k, "csat_avg", json_real(4.2));
    json_object_set_new(k, "nps", json_integer(-20));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o}", "dimension", "queue", "key",
                     "billing", "window", "15m", "start", "2026-11-25T10:00:00.000Z", "end",
                     "2026-11-25T10:15:00.000Z", "revision", 1, "counters", c, "kpis", k);
}

/* Validates rec against kpi.v1: 0 or -1 with why. */
static int kpi_check(json_t *rec, char *why, size_t whysz)
{
    char *s = json_dumps(rec, JSON_COMPACT);
    int rc = sq_h_validate_record("kpi.v1", s, strlen(s), why, whysz);
    free(s);
    return rc;
}

Test(schemas, kpi_records_carry_every_counter_and_kpi)
{
    char why[1024];
    json_t *rec = kpi_record();
    cr_assert_eq(kpi_check(rec, why, sizeof why), 0, "%s", why);
    /* each counter and each KPI is required */
    for (size_t i = 0; i < sizeof kpi_counters / sizeof kpi_counters[0]; i++) {
        json_t *r = json_deep_copy(rec);
        json_object_del(json_object_get(r, "counters"), kpi_counters[i]);
        cr_expect_eq(kpi_check(r, why, sizeof why), -1, "without %s", kpi_counters[i]);
        cr_expect(strncmp(why, "/counters ", 10) == 0, "without %s: %s", kpi_counters[i], why);
        json_decref(r);
    }
    for (size_t i = 0; i < sizeof kpi_names / sizeof kpi_names[0]; i++) {
        json_t *r = json_deep_copy(rec);
        json_object_del(json_object_get(r, "kpis"), kpi_names[i]);
        cr_expect_eq(kpi_check(r, why, sizeof why), -1, "without %s", kpi_names[i]);
        json_decref(r);
    }
    struct {
        const char *path, *field;
        json_t *value;
        const char *pointer;
    } bad[] = {
        {"counters", "offered", json_integer(-1), "/counters/offered"},
        {"counters", "answered", json_real(1.5), "/counters/answered"},
        {"counters", "surprise", json_integer(1), "/counters/surprise"},
        {"kpis", "service_level", json_real(1.2), "/kpis/service_level"},
        {"kpis", "nps", json_string("high"), "/kpis/nps"},
        {NULL, "revision", json_integer(0), "/revision"},
        {NULL, "dimension", json_string("customer"), "/dimension"},
        {NULL, "window", json_string("15 minutes"), "/window"},
        {NULL, "start", json_string("2026-11-25T10:00:00Z"), "/start"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = json_deep_copy(rec);
        json_object_set_new(bad[i].path ? json_object_get(r, bad[i].path) : r, bad[i].field,
                            bad[i].value);
        cr_expect_eq(kpi_check(r, why, sizeof why), -1, "%s", bad[i].pointer);
        size_t plen = strlen(bad[i].pointer);
        cr_expect(strncmp(why, bad[i].pointer, plen) == 0 && why[plen] == ' ',
                  "expected %s, got %s", bad[i].pointer, why);
        json_decref(r);
    }
    json_decref(rec);
}

/* ---- config ------------------------------------------------------------- */

/* The node of a dotted path in the config schema, or NULL. */
static json_t *config_node(json_t *schema, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *node = schema;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
        node = json_object_get(json_object_get(node, "properties"), seg);
        if (!node)
            return NULL;
    }
    return node;
}

/* Leaves (properties that are not objects) below node, kafka excluded. */
static size_t config_leaves(json_t *node)
{
    json_t *props = json_object_get(node, "properties");
    if (!props)
        return 1;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
        if (node != NULL && strcmp(k, "kafka") == 0 && json_object_get(v, "propertyNames"))
            continue;
        n += config_leaves(v);
    }
    return n;
}

/* One row of sq_config_dump_docs: path, type text, default. */
struct cfg_row {
    char path[128];
    char type[256];
    char def[256];
};

/* Splits a Markdown row into cells at '|' not escaped as "\|". */
static int md_cells(char *line, char **cells, int max)
{
    int n = 0;
    char *p = line;
    if (*p == '|')
        p++;
    while (*p && n < max) {
        cells[n++] = p;
        while (*p && !(*p == '|' && p[-1] != '\\'))
            p++;
        if (!*p)
            break;
        *p++ = '\0';
    }
    return n;
}

static void trim_ticks(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '`'))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '`')
        i++;
    memmove(s, s + i, n - i + 1);
}

static size_t config_rows(struct cfg_row **rows)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sq_config_dump_docs(f);
    fclose(f);
    size_t n = 0;
    *rows = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "| `", 3) != 0 || strncmp(line, "| `kafka.", 9) == 0)
            continue;
        char *cells[8];
        cr_assert_geq(md_cells(line, cells, 8), 3, "%s", line);
        *rows = realloc(*rows, (n + 1) * sizeof **rows);
        struct cfg_row *r = &(*rows)[n++];
        snprintf(r->path, sizeof r->path, "%s", cells[0]);
        snprintf(r->type, sizeof r->type, "%s", cells[1]);
        snprintf(r->def, sizeof r->def, "%s", cells[2]);
        trim_ticks(r->path);
        trim_ticks(r->type);
        trim_ticks(r->def);
    }
    free(text);
    return n;
}

Test(schemas, config_schema_mirrors_the_key_table)
{
    json_t *schema = load_builtin("config");
    cr_assert(json_is_false(json_object_get(schema, "additionalProperties")));
    struct cfg_row *rows;
    size_t n = config_rows(&rows);
    cr_assert_gt(n, 40);
    for (size_t i = 0; i < n; i++) {
        const struct cfg_row *r = &rows[i];
        json_t *leaf = config_node(schema, r->path);
        cr_expect_not_null(leaf, "config key %s is missing from schemas/config.schema.json",
                           r->path);
        if (!leaf)
            continue;
        const char *type = json_string_value(json_object_get(leaf, "type"));
        long long lo, hi;
        double rlo = 0, rhi = 0;
        const char *dots = strstr(r->type, "..");
        bool is_real = strncmp(r->type, "real, ", 6) == 0 && dots;
        if (is_real) { /* "real, 0.001..36500": %lf would read "0." */
            rlo = strtod(r->type + 6, NULL);
            rhi = strtod(dots + 2, NULL);
        }
        if (sscanf(r->type, "int, %lld..%lld", &lo, &hi) == 2) {
            cr_expect_str_eq(type ? type : "", "integer", "%s", r->path);
            cr_expect_eq(json_integer_value(json_object_get(leaf, "minimum")), lo, "%s", r->path);
            cr_expect_eq(json_integer_value(json_object_get(leaf, "maximum")), hi, "%s", r->path);
            cr_expect_eq(json_integer_value(json_object_get(leaf, "default")), strtoll(r->def, NULL, 10),
                         "%s", r->path);
        } else if (is_real) {
            cr_expect_str_eq(type ? type : "", "number", "%s", r->path);
            cr_expect_float_eq(json_number_value(json_object_get(leaf, "minimum")), rlo,
                               1e-9 * (1 + rlo), "%s", r->path);
            cr_expect_float_eq(json_number_value(json_object_get(leaf, "maximum")), rhi,
                               1e-9 * (1 + rhi), "%s", r->path);
        } else if (strcmp(r->type, "bool") == 0) {
            cr_expect_str_eq(type ? type : "", "boolean", "%s", r->path);
        } else if (strcmp(r->type, "string") == 0) {
            cr_expect_str_eq(type ? type : "", "string", "%s", r->path);
        } else {
            /* enum: "a\|b\|c" */
            json_t *e = json_object_get(leaf, "enum");
            cr_expect(json_is_array(e), "%s: expected an enum", r->path);
            char choices[256];
            snprintf(choices, sizeof choices, "%s", r->type);
            size_t k = 0;
            char *save = NULL;
            for (char *c = strtok_r(choices, "\\|", &save); c; c = strtok_r(NULL, "\\|", &save))
                cr_expect_str_eq(json_string_value(json_array_get(e, k++)), c, "%s", r->path);
            cr_expect_eq(json_array_size(e), k, "%s", r->path);
        }
    }
    cr_expect_eq(config_leaves(schema), n,
                 "schemas/config.schema.json has %zu keys, the table in gateway/config.c %zu",
                 config_leaves(schema), n);
    free(rows);
    json_decref(schema);
}

/* ---- YAML to JSON, for config and rules files ------------------------- */

static json_t *yaml_node_json(yaml_document_t *doc, yaml_node_t *node, int depth)
{
    cr_assert_lt(depth, 32);
    if (node->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            cr_assert_eq(k->type, YAML_SCALAR_NODE);
            json_object_set_new(o, (const char *)k->data.scalar.value,
                                yaml_node_json(doc, yaml_document_get_node(doc, p->value),
                                               depth + 1));
        }
        return o;
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++)
            json_array_append_new(a, yaml_node_json(doc, yaml_document_get_node(doc, *it),
                                                    depth + 1));
        return a;
    }
    const char *s = (const char *)node->data.scalar.value;
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_string(s);
    /* YAML 1.2 core schema, as far as config files need it */
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
        return json_boolean(s[0] == 't');
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0)
        return json_null();
    char *end;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0' && end != s)
        return json_integer(i);
    double d = strtod(s, &end);
    if (*end == '\0' && end != s)
        return json_real(d);
    return json_string(s);
}

static json_t *yaml_file_json(const char *path)
{
    size_t len = 0;
    char *text = sq_h_read_file(path, &len);
    cr_assert_not_null(text, "%s", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    cr_assert(yaml_parser_load(&parser, &doc), "%s: %s", path, parser.problem);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    json_t *j = root ? yaml_node_json(&doc, root, 0) : json_object();
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    return j;
}

static int json_check(const char *schema, json_t *inst, char *why, size_t whysz)
{
    char *s = json_dumps(inst, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = sq_h_validate_record(schema, s, strlen(s), why, whysz);
    free(s);
    return rc;
}

Test(schemas, config_files_of_the_repository_are_valid)
{
    glob_t g;
    cr_assert_eq(glob(SQ_SOURCE_DIR "/tests/cases/*/*/config.yaml", 0, NULL, &g), 0);
    cr_assert_eq(glob(SQ_SOURCE_DIR "/deploy/sqgate.yaml", GLOB_APPEND, NULL, &g), 0);
    cr_assert_geq(g.gl_pathc, 2);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        /* check-config agrees that the file is good */
        struct sq_settings st;
        struct sq_config_errors errs = {0};
        char *const env[] = {NULL};
        int rc = sq_config_build(&st, g.gl_pathv[i], env, &errs);
        cr_assert_eq(rc, 0, "%s: %s", g.gl_pathv[i], errs.n ? errs.msgs[0] : "");
        sq_config_errors_fini(&errs);
        sq_settings_free(&st);
        json_t *j = yaml_file_json(g.gl_pathv[i]);
        char why[1024];
        cr_expect_eq(json_check("config", j, why, sizeof why), 0, "%s: %s", g.gl_pathv[i], why);
        json_decref(j);
    }
    globfree(&g);
}

Test(schemas, config_examples)
{
    static const struct example ex[] = {
        {"config", "{}", NULL},
        {"config", "{\"brokers\":\"k1:9092\",\"redis\":{\"url\":\"redis://r:6379/0\","
         "\"timeout_ms\":1500},\"topics\":{\"profiles\":\"\"},\"log\":{\"level\":\"debug\"},"
         "\"sla\":{\"answer_s\":{\"voice\":15}},\"score\":{\"weights\":{\"empathy\":0.2}},"
         "\"kafka\":{\"session.timeout.ms\":6000,\"debug\":\"cgrp\",\"enable.idempotence\":true}}",
         NULL},
        {"config", "{\"redis\":{\"urll\":\"x\"}}", "/redis"},
        {"config", "{\"bogus\":1}", "\"\""},
        {"config", "{\"redis\":{\"timeout_ms\":0}}", "/redis/timeout_ms"},
        {"config", "{\"redis\":{\"timeout_ms\":\"soon\"}}", "/redis/timeout_ms"},
        {"config", "{\"redis\":\"redis://r\"}", "/redis"},
        {"config", "{\"log\":{\"level\":\"trace\"}}", "/log/level"},
        {"config", "{\"topics\":{\"scored\":\"\"}}", "/topics/scored"},
        {"config", "{\"kafka\":{\"socket\":{\"timeout.ms\":1}}}", "/kafka/socket"},
        {"config", "{\"kafka\":{\"group.id\":\"other\"}}", "/kafka"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        struct example e = ex[i];
        /* where an unknown or refused property is reported (the object, or
         * the property itself) is the validator's choice: check the prefix */
        char why[1024];
        int rc = sq_h_validate_record(e.schema, e.json, strlen(e.json), why, sizeof why);
        if (!e.pointer) {
            cr_expect_eq(rc, 0, "%s: %s", e.json, why);
            continue;
        }
        cr_expect_eq(rc, -1, "%s should be invalid", e.json);
        if (strcmp(e.pointer, "\"\"") == 0)
            cr_expect(strncmp(why, "\"\" ", 3) == 0 || strncmp(why, "/bogus ", 7) == 0, "%s: %s",
                      e.json, why);
        else
            cr_expect(strncmp(why, e.pointer, strlen(e.pointer)) == 0, "%s: expected %s, got %s",
                      e.json, e.pointer, why);
    }
}

/* ---- rules -------------------------------------------------------------- */

/* SPEC 7's built-in rules, as a rules file. */
static const char default_rules[] =
    "{\"rules\":{"
    "\"queue_service_level_low\":{\"kind\":\"kpi\",\"kpi\":\"service_level\",\"dimension\":"
    "\"queue\",\"window\":\"15m\",\"op\":\"<\",\"threshold\":0.8,\"min_offered\":20,"
    "\"severity\":\"major\"},"
    "\"queue_abandon_high\":{\"kind\":\"kpi\",\"kpi\":\"abandon_rate\",\"dimension\":\"queue\","
    "\"window\":\"15m\",\"op\":\">\",\"threshold\":0.1,\"min_offered\":20,\"severity\":"
    "\"major\"},"
    "\"vip_breach\":{\"kind\":\"breach\",\"min_severity\":\"major\",\"vip_only\":true,"
    "\"key\":\"customer\",\"severity\":\"critical\"},"
    "\"regulator_escalation\":{\"kind\":\"breach\",\"codes\":[\"REGULATOR_ESCALATION\"],"
    "\"key\":\"ticket\",\"severity\":\"critical\"},"
    "\"complaint_surge\":{\"kind\":\"surge\",\"counter\":\"complaints\",\"dimension\":"
    "\"region\",\"window\":\"1h\",\"min\":10,\"factor\":3,\"alpha\":0.3,\"severity\":\"major\"},"
    "\"agent_qa_fatal\":{\"kind\":\"breach\",\"codes\":[\"QA_FATAL\"],\"key\":\"agent\","
    "\"severity\":\"major\",\"description\":\"a fatal QA error\"}}}";

Test(schemas, rules_schema_takes_the_builtin_rules)
{
    char why[1024];
    cr_assert_eq(sq_h_validate_record("rules", default_rules, strlen(default_rules), why,
                                      sizeof why),
                 0, "%s", why);
    json_error_t jerr;
    json_t *rules = json_loads(default_rules, 0, &jerr);
    cr_assert_not_null(rules);
    struct {
        const char *rule, *field;
        json_t *value; /* NULL: delete the field */
        const char *pointer;
    } bad[] = {
        {"queue_service_level_low", "op", NULL, "/rules/queue_service_level_low"},
        {"queue_service_level_low", "op", json_string("<="), "/rules/queue_service_level_low/op"},
        {"queue_service_level_low", "kpi", json_string("speed"),
         "/rules/queue_service_level_low/kpi"},
        {"queue_service_level_low", "dimension", json_string("customer"),
         "/rules/queue_service_level_low/dimension"},
        {"queue_abandon_high", "window", json_string("quarter"),
         "/rules/queue_abandon_high/window"},
        {"complaint_surge", "alpha", json_integer(0), "/rules/complaint_surge/alpha"},
        {"complaint_surge", "counter", json_string("calls"), "/rules/complaint_surge/counter"},
        {"complaint_surge", "min", NULL, "/rules/complaint_surge"},
        {"vip_breach", "key", json_string("queue"), "/rules/vip_breach/key"},
        {"vip_breach", "codes", json_pack("[s]", "LATE"), "/rules/vip_breach/codes/0"},
        {"vip_breach", "threshold", json_real(0.5), "/rules/vip_breach"},
        {"agent_qa_fatal", "kind", json_string("regex"), "/rules/agent_qa_fatal/kind"},
        {"agent_qa_fatal", "severity", json_string("fatal"), "/rules/agent_qa_fatal/severity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = json_deep_copy(rules);
        json_t *rule = json_object_get(json_object_get(r, "rules"), bad[i].rule);
        if (bad[i].value)
            json_object_set_new(rule, bad[i].field, bad[i].value);
        else
            json_object_del(rule, bad[i].field);
        cr_expect_eq(json_check("rules", r, why, sizeof why), -1, "%s.%s", bad[i].rule,
                     bad[i].field);
        cr_expect(strncmp(why, bad[i].pointer, strlen(bad[i].pointer)) == 0,
                  "%s.%s: expected %s, got %s", bad[i].rule, bad[i].field, bad[i].pointer, why);
        json_decref(r);
    }
    /* a rule name is an identifier; the file holds only `rules` */
    json_t *r = json_deep_copy(rules);
    json_object_set(json_object_get(r, "rules"), "9 lives",
                    json_object_get(json_object_get(r, "rules"), "vip_breach"));
    cr_expect_eq(json_check("rules", r, why, sizeof why), -1);
    json_decref(r);
    r = json_deep_copy(rules);
    json_object_set_new(r, "version", json_integer(2));
    cr_expect_eq(json_check("rules", r, why, sizeof why), -1);
    json_decref(r);
    json_decref(rules);
}
