/* test_validate_cmd.c: `sqgate validate` as a user runs it (the real
 * build/sqgate through the harness spawn, on temp files): one line per
 * input line, the summary, exit 0 / 1 / 2, built-in schemas (with
 * `format` asserted), schema files, --map, and lines picking their own
 * schema. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sq_common.h"
#include "sq_harness.h"

/* A contact.v1 line; ch is the channel, extra more fields (",\"k\":v"). */
#define CONTACT_CH(eid, ch, extra)                                                           \
    "{\"schema\":\"contact.v1\",\"event_id\":\"" eid "\",\"occurred_at\":"                   \
    "\"2026-11-25T10:05:00Z\",\"customer_id\":\"c1\",\"contact_id\":\"k1\",\"channel\":\""  \
    ch "\",\"queue\":\"q\",\"arrived_at\":\"2026-11-25T10:00:00Z\",\"ended_at\":"            \
    "\"2026-11-25T10:05:00Z\",\"reason\":\"billing\"" extra "}"
#define CONTACT(eid, extra) CONTACT_CH(eid, "voice", extra)
#define TICKET                                                                               \
    "{\"schema\":\"ticket.v1\",\"event_id\":\"t-e1\",\"occurred_at\":\"2026-11-25T10:05:00Z\"," \
    "\"customer_id\":\"c1\",\"ticket_id\":\"t1\",\"kind\":\"fault\",\"category\":\"x\","     \
    "\"severity\":2,\"status\":\"opened\"}"

static int file_no;

/* Writes content to a new file under the harness tmpdir; returns its path
 * (free()). */
static char *write_tmp(const char *suffix, const char *content, size_t len)
{
    char name[64];
    snprintf(name, sizeof name, "vc-%d%s", file_no++, suffix);
    char *path = sq_h_tmp_path(name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(content, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static char *write_lines(const char *content)
{
    return write_tmp(".ndjson", content, strlen(content));
}

/* Runs `sqgate validate ARGS...`; returns its exit status, *out its
 * stdout and stderr (free()). */
static int validate(char **out, const char *const *args)
{
    const char *argv[16] = {"validate"};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        cr_assert_lt(n, 15);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, argv, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, 60000, &status), 0, "sqgate validate did not finish");
    cr_assert(WIFEXITED(status), "sqgate validate was killed by signal %d", WTERMSIG(status));
    size_t len = 0;
    *out = sq_h_read_file(p.log_path, &len);
    cr_assert_not_null(*out);
    return WEXITSTATUS(status);
}

#define VALIDATE(out, ...) validate(out, (const char *const[]){__VA_ARGS__, NULL})

/* Line k (1-based) of text, copied into buf. */
static const char *line_of(const char *text, int k, char *buf, size_t bufsz)
{
    const char *p = text;
    for (int i = 1; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        return "";
    size_t n = strcspn(p, "\n");
    if (n >= bufsz)
        n = bufsz - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void expect_line_prefix(const char *out, int k, const char *prefix)
{
    char buf[2048];
    const char *l = line_of(out, k, buf, sizeof buf);
    cr_expect(strncmp(l, prefix, strlen(prefix)) == 0, "line %d: expected \"%s...\", got \"%s\"\n%s",
              k, prefix, l, out);
}

Test(validate_cmd, builtin_schema_all_valid_exit_0)
{
    char *in = write_lines(CONTACT("e1", "") "\n" CONTACT("e2", ",\"region\":\"GD-SZ\"") "\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", "contact.v1", in), 0);
    cr_assert_str_eq(out, "1 ok\n2 ok\nsummary: 2 valid, 0 invalid\n");
    free(out);
    free(in);
}

Test(validate_cmd, invalid_lines_name_pointer_and_message_exit_1)
{
    char *in = write_lines(CONTACT("e1", "") "\n"
                           "{\"schema\":\"contact.v1\", not json\n"
                           "{\"schema\":\"contact.v1\",\"event_id\":\"e3\"}\n"
                           CONTACT("e4", ",\"transfers\":-2") "\n"
                           "\n"
                           CONTACT_CH("e6", "fax", "") "\n"
                           "{\"schema\":\"contact.v1\",\"event_id\":\"e7\",\"occurred_at\":"
                           "\"25/11/2026 10:05\",\"customer_id\":\"c1\",\"contact_id\":\"k1\","
                           "\"channel\":\"voice\",\"queue\":\"q\",\"arrived_at\":"
                           "\"2026-11-25T10:00:00Z\",\"ended_at\":\"2026-11-25T10:05:00Z\","
                           "\"reason\":\"billing\"}\n"
                           CONTACT("e8", ""));
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", "contact.v1", in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 invalid \"\" ");
    cr_expect(strstr(out, "2 invalid \"\" not JSON"), "%s", out);
    expect_line_prefix(out, 3, "3 invalid \"\" ");
    expect_line_prefix(out, 4, "4 invalid /transfers ");
    expect_line_prefix(out, 5, "5 invalid \"\" ");
    expect_line_prefix(out, 6, "6 invalid /channel ");
    expect_line_prefix(out, 7, "7 invalid /occurred_at "); /* format asserted */
    expect_line_prefix(out, 8, "8 ok");                    /* no final newline */
    expect_line_prefix(out, 9, "summary: 2 valid, 6 invalid");
    char buf[64];
    cr_expect_str_eq(line_of(out, 10, buf, sizeof buf), "");
    /* every invalid line has a message after the pointer */
    for (int k = 2; k <= 7; k++) {
        char l[2048];
        line_of(out, k, l, sizeof l);
        char *sp = strchr(strchr(strchr(l, ' ') + 1, ' ') + 1, ' ');
        cr_expect(sp && strlen(sp + 1) > 3, "line %d has no message: %s", k, l);
    }
    free(out);
    free(in);
}

Test(validate_cmd, each_line_picks_its_own_schema)
{
    char *in = write_lines(CONTACT("e1", "") "\n" TICKET "\n"
                           "{\"event_id\":\"e3\"}\n"
                           "{\"schema\":\"nope.v1\",\"event_id\":\"e4\"}\n"
                           "{\"schema\":7}\n"
                           "[1,2]\n"
                           "{\"schema\":\"ticket.v1\",\"event_id\":\"e7\",\"occurred_at\":"
                           "\"2026-11-25T10:05:00Z\",\"customer_id\":\"c1\",\"ticket_id\":\"t1\","
                           "\"kind\":\"fault\",\"category\":\"x\",\"severity\":9,"
                           "\"status\":\"opened\"}\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 ok");
    expect_line_prefix(out, 3, "3 invalid /schema ");
    expect_line_prefix(out, 4, "4 invalid /schema ");
    cr_expect(strstr(out, "nope.v1"), "the unknown name is quoted back: %s", out);
    expect_line_prefix(out, 5, "5 invalid /schema ");
    expect_line_prefix(out, 6, "6 invalid /schema ");
    expect_line_prefix(out, 7, "7 invalid /severity ");
    expect_line_prefix(out, 8, "summary: 2 valid, 5 invalid");
    free(out);
    free(in);
}

Test(validate_cmd, output_schemas_are_built_in_too)
{
    char *in = write_lines(
        "{\"breach_id\":\"0123456789abcdef0123456789abcdef\",\"code\":\"QA_LOW\",\"severity\":"
        "\"minor\",\"dimension\":\"assurance\",\"event_id\":\"e1\",\"customer_id\":\"c1\","
        "\"tier\":\"unknown\",\"region\":null,\"agent_id\":\"a\",\"value\":50,\"threshold\":60,"
        "\"occurred_at\":\"2026-11-25T12:00:00.000Z\",\"detected_at\":"
        "\"2026-11-25T12:00:00.000Z\"}\n"
        "{\"breach_id\":\"xyz\"}\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", "breach.v1", in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 invalid ");
    expect_line_prefix(out, 3, "summary: 1 valid, 1 invalid");
    free(out);
    free(in);
}

Test(validate_cmd, schema_file_and_format_only_annotates)
{
    /* A schema file follows draft 2020-12 as written: `format` annotates
     * (sqgate's own schemas, by name, assert it). */
    const char *schema = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                         "\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":"
                         "{\"type\":\"integer\"},\"when\":{\"format\":\"date-time\"}}}";
    char *sp = write_tmp(".json", schema, strlen(schema));
    char *in = write_lines("{\"a\":1}\n{\"a\":\"x\"}\n{}\n{\"a\":2,\"when\":\"yesterday\"}\n7\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", sp, in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 invalid /a ");
    expect_line_prefix(out, 3, "3 invalid \"\" ");
    expect_line_prefix(out, 4, "4 ok");
    expect_line_prefix(out, 5, "5 invalid \"\" ");
    expect_line_prefix(out, 6, "summary: 2 valid, 3 invalid");
    free(out);
    free(in);
    free(sp);
}

Test(validate_cmd, a_schema_file_may_ref_the_builtin_schemas)
{
    const char *schema = "{\"$ref\":\"https://sqgate.example/schemas/contact.v1.json\","
                         "\"required\":[\"region\"]}";
    char *sp = write_tmp(".json", schema, strlen(schema));
    char *in = write_lines(CONTACT("e1", ",\"region\":\"X\"") "\n" CONTACT("e2", "") "\n"
                           CONTACT("e3", ",\"region\":\"X\",\"transfers\":-1") "\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", sp, in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 invalid \"\" ");
    expect_line_prefix(out, 3, "3 invalid /transfers ");
    free(out);
    free(in);
    free(sp);
}

Test(validate_cmd, map_resolves_refs_from_a_directory)
{
    const char *defs = "{\"type\":\"integer\",\"minimum\":0}";
    char *dirfile = write_tmp("-int.json", defs, strlen(defs));
    /* the directory of that file, mapped to a URI prefix */
    char *dir = strdup(dirfile);
    *strrchr(dir, '/') = '\0';
    const char *base = strrchr(dirfile, '/') + 1;
    char schema[512];
    snprintf(schema, sizeof schema,
             "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
             "\"$id\":\"http://sq-test.invalid/root.json\",\"type\":\"array\","
             "\"items\":{\"$ref\":\"defs/%s\"}}", base);
    char *sp = write_tmp(".json", schema, strlen(schema));
    /* moved away from the definitions, so only --map can find them */
    char *sp2 = sq_h_tmp_path("elsewhere");
    cr_assert_eq(mkdir(sp2, 0700), 0);
    char *moved = sq_xasprintf("%s/root.json", sp2);
    cr_assert_eq(rename(sp, moved), 0);
    char *in = write_lines("[1,2]\n[3,-1]\n[\"a\"]\n");
    char *map = sq_xasprintf("http://sq-test.invalid/defs/=%s", dir);
    char *out;
    cr_assert_eq(VALIDATE(&out, "--schema", moved, "--map", map, in), 1);
    expect_line_prefix(out, 1, "1 ok");
    expect_line_prefix(out, 2, "2 invalid /1 ");
    expect_line_prefix(out, 3, "3 invalid /0 ");
    expect_line_prefix(out, 4, "summary: 1 valid, 2 invalid");
    free(out);
    /* without the map the $ref cannot be resolved: the schema is unusable */
    cr_assert_eq(VALIDATE(&out, "--schema", moved, in), 2, "%s", out);
    cr_expect(strstr(out, "unusable"), "%s", out);
    cr_expect_null(strstr(out, "summary:"), "%s", out);
    free(out);
    free(map);
    free(in);
    free(moved);
    free(sp2);
    free(sp);
    free(dir);
    free(dirfile);
}

/* Exit 2, nothing validated, and a message naming the problem. */
static void expect_unusable(const char *schema_text, const char *needle)
{
    char *sp = write_tmp(".json", schema_text, strlen(schema_text));
    char *in = write_lines("{}\n");
    char *out;
    cr_expect_eq(VALIDATE(&out, "--schema", sp, in), 2, "schema %s: %s", schema_text, out);
    cr_expect_null(strstr(out, "1 ok"), "%s", out);
    cr_expect_null(strstr(out, "summary:"), "%s", out);
    if (needle)
        cr_expect(strstr(out, needle), "schema %s: expected \"%s\" in: %s", schema_text, needle,
                  out);
    free(out);
    free(in);
    free(sp);
}

Test(validate_cmd, unusable_schema_exit_2)
{
    expect_unusable("{\"type\":", "not JSON");
    expect_unusable("{\"type\": 12}", NULL);                       /* not a schema */
    expect_unusable("[\"type\"]", NULL);                           /* not a schema */
    expect_unusable("{\"$ref\":\"#/$defs/missing\"}", NULL);       /* bad $ref */
    expect_unusable("{\"$ref\":\"https://sq-test.invalid/x.json\"}", NULL); /* never fetched */
}

Test(validate_cmd, usage_errors_exit_2)
{
    char *in = write_lines(CONTACT("e1", "") "\n");
    char *out;
    struct {
        const char *const *args;
        const char *needle;
    } cases[] = {
        {(const char *const[]){NULL}, "usage"},
        {(const char *const[]){"--schema", "contact.v1", NULL}, "usage"},
        {(const char *const[]){"--schema", "contact", in, NULL}, "contact.v1"},
        {(const char *const[]){"--schema", "/nonexistent/s.json", in, NULL}, "/nonexistent"},
        {(const char *const[]){"--schema", "contact.v1", in, in, NULL}, "usage"},
        {(const char *const[]){"--map", "no-equals", in, NULL}, "URI=DIR"},
        {(const char *const[]){"--map", "http://x/=/nonexistent-dir", in, NULL}, "directory"},
        {(const char *const[]){"--frobnicate", in, NULL}, "--frobnicate"},
        {(const char *const[]){"--schema", "contact.v1", "/nonexistent/in.ndjson", NULL},
         "/nonexistent/in.ndjson"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(validate(&out, cases[i].args), 2, "case %zu: %s", i, out);
        cr_expect(strstr(out, cases[i].needle), "case %zu: expected \"%s\" in: %s", i,
                  cases[i].needle, out);
        cr_expect_null(strstr(out, "summary:"), "case %zu: %s", i, out);
        free(out);
    }
    free(in);
}

Test(validate_cmd, stdin_crlf_and_byte_order_mark)
{
    char *out;
    /* the harness gives children /dev/null as stdin: no lines */
    cr_assert_eq(VALIDATE(&out, "--schema", "contact.v1", "-"), 0);
    cr_assert_str_eq(out, "summary: 0 valid, 0 invalid\n");
    free(out);
    const char text[] = "\xEF\xBB\xBF" CONTACT("e1", "") "\r\n" CONTACT("e2", "") "\r\n";
    char *in = write_tmp(".ndjson", text, sizeof text - 1);
    cr_assert_eq(VALIDATE(&out, "--schema", "contact.v1", in), 0, "%s", out);
    cr_assert_str_eq(out, "1 ok\n2 ok\nsummary: 2 valid, 0 invalid\n");
    free(out);
    free(in);
}

Test(validate_cmd, messages_stay_on_one_line)
{
    /* control characters in the data never break the one-line format */
    char *in = write_lines(CONTACT_CH("e1", "vo\\nice\\u0001", "") "\n"
                           "{\"schema\":\"nope\\nv1\\u0007\"}\n");
    char *out;
    cr_assert_eq(VALIDATE(&out, in), 1, "%s", out);
    expect_line_prefix(out, 1, "1 invalid /channel ");
    expect_line_prefix(out, 2, "2 invalid /schema ");
    expect_line_prefix(out, 3, "summary: 0 valid, 2 invalid");
    for (const char *p = out; *p; p++)
        cr_assert((unsigned char)*p >= 0x20 || *p == '\n', "control byte 0x%02x in: %s",
                  (unsigned char)*p, out);
    free(out);
    free(in);
}
