/* test_convert.c: `sqgate convert` on hand-written rows of each data set
 * (shared/data/README.md): exact event fields, times with the right offset,
 * waits, answered/abandoned, ids, skips, and the quirks the README names
 * (CRLF, BOM, a last line without line end, midnight, daylight saving). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "convert_cmd.h"

/* ---- helpers ------------------------------------------------------------- */

struct conv {
    int rc;
    struct sq_convert_stats st;
    struct sq_err err;
    char *text;   /* the output as written */
    json_t *envs; /* the output, one envelope per element */
};

static void conv_run_in(struct conv *c, const char *dataset, struct sq_conv_in *in,
                        const struct sq_convert_opts *opts)
{
    size_t len = 0;
    c->text = NULL;
    FILE *out = open_memstream(&c->text, &len);
    cr_assert_not_null(out);
    /* The tests name envelopes by row: keep anonymous_bank in row order
     * (event-time order has its own test). */
    struct sq_convert_opts o = opts ? *opts : (struct sq_convert_opts){0};
    o.file_order = true;
    c->rc = sq_convert_run(dataset, in, out, &o, &c->st, &c->err);
    fclose(out);
    c->envs = json_array();
    char *save = NULL;
    char *copy = strdup(c->text);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *j = json_loads(l, 0, &jerr);
        cr_assert_not_null(j, "output line is not JSON: %s", l);
        json_array_append_new(c->envs, j);
    }
    free(copy);
}

static void conv_run(struct conv *c, const char *dataset, const char *input,
                     const struct sq_convert_opts *opts)
{
    struct sq_conv_in *in = sq_conv_in_mem_new(input, strlen(input));
    conv_run_in(c, dataset, in, opts);
    sq_conv_in_free(in);
}

static void conv_fini(struct conv *c)
{
    free(c->text);
    json_decref(c->envs);
}

static json_t *env_at(const struct conv *c, size_t i)
{
    json_t *e = json_array_get(c->envs, i);
    cr_assert_not_null(e, "no envelope %zu (only %zu)", i, json_array_size(c->envs));
    return e;
}

static json_t *ev_at(const struct conv *c, size_t i)
{
    return json_object_get(env_at(c, i), "value");
}

/* A string field, or NULL when absent. */
static const char *S(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (v)
        cr_assert(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}

static long long I(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

static void assert_str(const char *got, const char *want, const char *what)
{
    cr_assert_not_null(got, "%s is missing (want %s)", what, want);
    cr_assert_str_eq(got, want, "%s: got %s, want %s", what, got, want);
}

static char *stats_text(const struct sq_convert_stats *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sq_convert_stats_print(st, f);
    fclose(f);
    return buf;
}

/* Replaces every "\n" of s with "\r\n". */
static char *to_crlf(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\n' ? 2 : 1;
    char *o = malloc(n + 1), *q = o;
    for (const char *p = s; *p; p++) {
        if (*p == '\n')
            *q++ = '\r';
        *q++ = *p;
    }
    *q = '\0';
    return o;
}

/* ---- anonymous_bank ------------------------------------------------------ */

#define BANK_HEADER                                                                           \
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\t"  \
    "q_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver\n"

/* One of each record kind of README 1 ("Record kinds" and "Quirks"). */
static const char bank_kinds[] =
    BANK_HEADER
    /* 0: served after queueing, priority customer */
    "AA0105\t1001\t23317894\t2\tPS\t990201\t8:09:16\t8:09:22\t6\t8:09:22\t8:09:40\t18\tAGENT\t8:09:38\t8:12:00\t140\tMICHAL\n"
    /* 1: served without queueing; ser_start 1 s before vru_exit; anonymous */
    "AA0101\t34536\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t0:00:00\t0:00:00\t0\tAGENT\t7:02:55\t7:05:41\t166\tDORIT\n"
    /* 2: hung up in the queue after 3 s */
    "AA0101\t34539\t23317894\t1\tNW\t990201\t8:09:16\t8:09:22\t6\t8:09:22\t8:09:25\t3\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
    /* 3: HANG with service values and NO_SERVER: abandoned after 60 s */
    "AA0201\t5000\t0\t0\tIN\t990201\t10:00:00\t10:00:10\t10\t10:00:10\t10:01:10\t60\tHANG\t10:01:09\t10:01:20\t11\tNO_SERVER\n"
    /* 4: hung up in the VRU: not a contact */
    "AA0401\t8000\t0\t0\tPS\t990201\t13:00:00\t13:00:30\t30\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
    /* 5: AGENT with NO_SERVER and 5 s of service */
    "AA0301\t7000\t0\t0\tPS\t990201\t11:00:00\t11:00:05\t5\t0:00:00\t0:00:00\t0\tAGENT\t11:00:04\t11:00:09\t5\tNO_SERVER\n"
    /* 6: phantom: ignored */
    "AA0402\t8001\t0\t0\tPS\t990201\t13:05:00\t13:05:10\t10\t13:05:10\t13:05:11\t1\tPHANTOM\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
    /* 7: zero-length call: AGENT, ser_start 0:00:00, ser_time 0, an agent */
    "AA0302\t7001\t3.27E+11\t0\tTT\t990201\t12:00:00\t12:00:04\t4\t12:00:04\t12:00:34\t30\tAGENT\t0:00:00\t0:00:00\t0\tSHARON\n";

Test(convert_bank, record_kinds_and_fields)
{
    struct conv c;
    conv_run(&c, "anonymous_bank", bank_kinds, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 8);
    cr_assert_eq(c.st.events, 6);
    cr_assert_eq(c.st.skipped, 2);
    cr_assert_eq(json_array_size(c.envs), 6);

    json_t *env = env_at(&c, 0), *ev = ev_at(&c, 0);
    assert_str(S(env, "topic"), "sq.in.contacts", "topic");
    assert_str(S(env, "key"), "23317894", "key");
    assert_str(S(ev, "schema"), "contact.v1", "schema");
    assert_str(S(ev, "event_id"), "ab-AA0105-1001", "event_id");
    assert_str(S(ev, "contact_id"), "ab-AA0105-1001", "contact_id");
    assert_str(S(ev, "customer_id"), "23317894", "customer_id");
    assert_str(S(ev, "channel"), "voice", "channel");
    assert_str(S(ev, "queue"), "PS", "queue");
    assert_str(S(ev, "reason"), "PS", "reason");
    assert_str(S(ev, "agent_id"), "MICHAL", "agent_id");
    assert_str(S(ev, "arrived_at"), "1999-02-01T08:09:22+02:00", "arrived_at (q_start)");
    assert_str(S(ev, "answered_at"), "1999-02-01T08:09:40+02:00", "answered_at (+ q_time 18)");
    assert_str(S(ev, "ended_at"), "1999-02-01T08:12:00+02:00", "ended_at (+ ser_time 140)");
    assert_str(S(ev, "occurred_at"), "1999-02-01T08:12:00+02:00", "occurred_at = ended_at");
    cr_assert_null(json_object_get(ev, "outcome"), "no outcome: the data says nothing");
    cr_assert_null(json_object_get(ev, "region"));
    cr_assert_null(json_object_get(ev, "hold_s"));

    /* Unqueued: arrived = answered = vru_exit (not the earlier ser_start). */
    ev = ev_at(&c, 1);
    assert_str(S(env_at(&c, 1), "key"), "ab-anon-AA0101-34536", "anonymous key");
    assert_str(S(ev, "customer_id"), "ab-anon-AA0101-34536", "anonymous customer");
    assert_str(S(ev, "arrived_at"), "1999-02-01T07:02:56+02:00", "arrived_at (vru_exit)");
    assert_str(S(ev, "answered_at"), "1999-02-01T07:02:56+02:00", "answered_at, wait 0");
    assert_str(S(ev, "ended_at"), "1999-02-01T07:05:42+02:00", "ended_at (+166)");
    assert_str(S(ev, "agent_id"), "DORIT", "agent_id");

    /* Abandoned in the queue: no answered_at, no agent, ended = q_exit. */
    ev = ev_at(&c, 2);
    assert_str(S(ev, "event_id"), "ab-AA0101-34539", "event_id");
    assert_str(S(ev, "queue"), "NW", "queue");
    assert_str(S(ev, "arrived_at"), "1999-02-01T08:09:22+02:00", "arrived_at");
    cr_assert_null(json_object_get(ev, "answered_at"));
    cr_assert_null(json_object_get(ev, "agent_id"));
    assert_str(S(ev, "ended_at"), "1999-02-01T08:09:25+02:00", "ended_at");

    ev = ev_at(&c, 3);
    assert_str(S(ev, "event_id"), "ab-AA0201-5000", "HANG with service values");
    cr_assert_null(json_object_get(ev, "answered_at"));
    cr_assert_null(json_object_get(ev, "agent_id"));
    assert_str(S(ev, "ended_at"), "1999-02-01T10:01:10+02:00", "ended_at = arrived + q_time");

    /* AGENT with NO_SERVER: answered, no agent_id. */
    ev = ev_at(&c, 4);
    assert_str(S(ev, "event_id"), "ab-AA0301-7000", "event_id");
    assert_str(S(ev, "answered_at"), "1999-02-01T11:00:05+02:00", "answered_at");
    assert_str(S(ev, "ended_at"), "1999-02-01T11:00:10+02:00", "ended_at");
    cr_assert_null(json_object_get(ev, "agent_id"));

    /* Zero-length call: answered_at = ended_at; the odd id kept as is. */
    ev = ev_at(&c, 5);
    assert_str(S(ev, "customer_id"), "3.27E+11", "customer_id as in the file");
    assert_str(S(ev, "queue"), "TT", "queue");
    assert_str(S(ev, "answered_at"), "1999-02-01T12:00:34+02:00", "answered_at");
    assert_str(S(ev, "ended_at"), "1999-02-01T12:00:34+02:00", "ended_at");
    assert_str(S(ev, "agent_id"), "SHARON", "agent_id");

    char *sum = stats_text(&c.st);
    cr_assert_str_eq(sum, "convert: 8 rows, 6 events, 2 skipped (vru_hangup: 1, phantom: 1)\n");
    free(sum);
    conv_fini(&c);
}

Test(convert_bank, midnight_rule)
{
    const char *in =
        BANK_HEADER
        /* joined the queue exactly at midnight: q_start 0:00:00 yet queued */
        "AA0102\t31056\t15696776\t2\tPS\t990215\t23:59:54\t23:59:54\t0\t0:00:00\t0:00:27\t27\tAGENT\t0:00:26\t0:01:33\t67\tAVNI\n"
        /* left the VRU after midnight */
        "AA0103\t500\t0\t0\tPS\t990210\t23:59:56\t0:00:02\t6\t0:00:00\t0:00:00\t0\tAGENT\t0:00:01\t0:03:00\t179\tDANA\n"
        /* negative vru_time: vru_entry after vru_exit, same day */
        "AA0104\t600\t0\t0\tPS\t990212\t9:00:40\t9:00:10\t-30\t9:00:10\t9:00:50\t40\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        /* queued before midnight, answered after it (end of the month) */
        "AA0105\t700\t0\t0\tNE\t990228\t23:58:00\t23:58:30\t30\t23:58:30\t0:01:30\t180\tAGENT\t0:01:29\t0:02:29\t60\tRONI\n";
    struct conv c;
    conv_run(&c, "anonymous_bank", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.events, 4);
    json_t *ev = ev_at(&c, 0);
    assert_str(S(ev, "arrived_at"), "1999-02-16T00:00:00+02:00", "q_start at midnight, next day");
    assert_str(S(ev, "answered_at"), "1999-02-16T00:00:27+02:00", "answered_at");
    assert_str(S(ev, "ended_at"), "1999-02-16T00:01:34+02:00", "ended_at");
    ev = ev_at(&c, 1);
    assert_str(S(ev, "arrived_at"), "1999-02-11T00:00:02+02:00", "vru_exit after midnight");
    assert_str(S(ev, "ended_at"), "1999-02-11T00:03:01+02:00", "ended_at");
    ev = ev_at(&c, 2);
    assert_str(S(ev, "arrived_at"), "1999-02-12T09:00:10+02:00", "negative vru_time, same day");
    assert_str(S(ev, "ended_at"), "1999-02-12T09:00:50+02:00", "ended_at");
    ev = ev_at(&c, 3);
    assert_str(S(ev, "arrived_at"), "1999-02-28T23:58:30+02:00", "arrived_at");
    assert_str(S(ev, "answered_at"), "1999-03-01T00:01:30+02:00", "answered into March");
    assert_str(S(ev, "ended_at"), "1999-03-01T00:02:30+02:00", "ended_at");
    conv_fini(&c);
}

Test(convert_bank, israel_offsets_1999)
{
    const char *in =
        BANK_HEADER
        /* summer time: +03:00 (README's example) */
        "AA0101\t1\t0\t0\tPS\t990601\t6:14:20\t6:14:33\t13\t0:00:00\t0:00:00\t0\tAGENT\t6:14:32\t6:15:00\t27\tX\n"
        /* spring forward 1999-04-02 02:00 -> 03:00, during the wait */
        "AA0101\t2\t0\t0\tPS\t990402\t1:59:40\t1:59:50\t10\t1:59:50\t2:00:10\t20\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        /* fall back 1999-09-03 02:00 -> 01:00: the repeated hour is read as +03:00 */
        "AA0101\t3\t0\t0\tPS\t990903\t1:59:30\t1:59:50\t20\t1:59:50\t2:00:10\t20\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        /* the first instant of summer time, and the last day of it */
        "AA0101\t4\t0\t0\tPS\t990402\t2:59:00\t3:00:00\t60\t0:00:00\t0:00:00\t0\tAGENT\t2:59:59\t3:00:09\t9\tY\n"
        "AA0101\t5\t0\t0\tPS\t990902\t12:00:00\t12:00:10\t10\t0:00:00\t0:00:00\t0\tAGENT\t12:00:09\t12:00:19\t9\tY\n"
        "AA0101\t6\t0\t0\tPS\t991004\t12:00:00\t12:00:10\t10\t0:00:00\t0:00:00\t0\tAGENT\t12:00:09\t12:00:19\t9\tY\n";
    struct conv c;
    conv_run(&c, "anonymous_bank", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.events, 6);
    assert_str(S(ev_at(&c, 0), "arrived_at"), "1999-06-01T06:14:33+03:00", "June");
    assert_str(S(ev_at(&c, 1), "arrived_at"), "1999-04-02T01:59:50+02:00", "before spring");
    assert_str(S(ev_at(&c, 1), "ended_at"), "1999-04-02T03:00:10+03:00", "20 s later, after it");
    assert_str(S(ev_at(&c, 2), "arrived_at"), "1999-09-03T01:59:50+03:00", "first 01:59:50");
    assert_str(S(ev_at(&c, 2), "ended_at"), "1999-09-03T01:00:10+02:00", "20 s later, back");
    assert_str(S(ev_at(&c, 3), "arrived_at"), "1999-04-02T03:00:00+03:00", "03:00 on 04-02");
    assert_str(S(ev_at(&c, 4), "arrived_at"), "1999-09-02T12:00:10+03:00", "09-02");
    assert_str(S(ev_at(&c, 5), "arrived_at"), "1999-10-04T12:00:10+02:00", "October");
    conv_fini(&c);
}

Test(convert_bank, crlf_bom_and_no_final_newline_change_nothing)
{
    struct conv a, b, d;
    conv_run(&a, "anonymous_bank", bank_kinds, NULL);
    char *crlf = to_crlf(bank_kinds);
    conv_run(&b, "anonymous_bank", crlf, NULL);
    /* BOM before the header, and the last line without its line end */
    size_t n = strlen(bank_kinds);
    char *bom = malloc(n + 4);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, bank_kinds, n - 1);
    bom[n + 2] = '\0';
    conv_run(&d, "anonymous_bank", bom, NULL);
    cr_assert_eq(a.rc, SQ_CONV_OK);
    cr_assert_eq(b.rc, SQ_CONV_OK, "%s", b.err.msg);
    cr_assert_eq(d.rc, SQ_CONV_OK, "%s", d.err.msg);
    cr_assert_eq(a.st.events, 6);
    cr_assert_str_eq(a.text, b.text);
    cr_assert_str_eq(a.text, d.text);
    cr_assert_eq(d.st.rows, 8);
    conv_fini(&a);
    conv_fini(&b);
    conv_fini(&d);
    free(crlf);
    free(bom);
}

Test(convert_bank, contacts_in_event_time_order_by_default)
{
    /* Rows out of order (the raw files are): the output is by occurred_at,
     * row order among equal times. */
    const char *rows =
        "AA0105\t1003\t0\t2\tPS\t990202\t9:00:00\t9:00:05\t5\t9:00:05\t9:00:20\t15\tAGENT\t9:00:20\t9:03:00\t160\tMICHAL\n"
        "AA0105\t1001\t0\t2\tPS\t990201\t8:09:16\t8:09:22\t6\t8:09:22\t8:09:40\t18\tAGENT\t8:09:38\t8:12:00\t140\tMICHAL\n"
        "AA0105\t1002\t0\t2\tPS\t990201\t8:10:00\t8:10:05\t5\t8:10:05\t8:10:20\t15\tAGENT\t8:10:20\t8:12:00\t100\tDORIT\n";
    char *in_text = sq_xasprintf("%s%s", BANK_HEADER, rows);
    struct sq_conv_in *in = sq_conv_in_mem_new(in_text, strlen(in_text));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct sq_convert_opts opts = {0};
    struct sq_convert_stats st;
    struct sq_err err;
    cr_assert_eq(sq_convert_run("anonymous_bank", in, out, &opts, &st, &err), SQ_CONV_OK);
    fclose(out);
    const char *a = strstr(text, "ab-AA0105-1001"), *b = strstr(text, "ab-AA0105-1002"),
               *c = strstr(text, "ab-AA0105-1003");
    cr_assert(a && b && c, "three contacts: %s", text);
    cr_assert(a < b && b < c, "ended 8:12:00 (row 2), 8:12:00 (row 3), then 2 Feb: %s", text);
    free(text);
    sq_conv_in_free(in);
    free(in_text);
}

Test(convert_bank, ids_depend_on_the_row_only)
{
    /* The same record later in another file gives the same event. */
    const char *row =
        "AA0105\t1001\t23317894\t2\tPS\t990201\t8:09:16\t8:09:22\t6\t8:09:22\t8:09:40\t18\tAGENT\t8:09:38\t8:12:00\t140\tMICHAL\n";
    char *in = sq_xasprintf("%s%s", BANK_HEADER, row);
    struct conv a, b;
    conv_run(&a, "anonymous_bank", bank_kinds, NULL);
    conv_run(&b, "anonymous_bank", in, NULL);
    cr_assert_eq(b.st.events, 1);
    char *ea = json_dumps(env_at(&a, 0), JSON_COMPACT);
    char *eb = json_dumps(env_at(&b, 0), JSON_COMPACT);
    cr_assert_str_eq(ea, eb);
    free(ea);
    free(eb);
    free(in);
    conv_fini(&a);
    conv_fini(&b);
}

Test(convert_bank, bad_rows_are_counted)
{
    const char *in =
        BANK_HEADER
        "AA0101\t1\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t0:00:00\t0:00:00\t0\tAGENT\t7:02:55\t7:05:41\t166\n" /* 16 fields */
        "AA0101\t2\t0\t0\tPS\t000201\t7:02:47\t7:02:56\t9\t0:00:00\t0:00:00\t0\tAGENT\t7:02:55\t7:05:41\t166\tX\n" /* not 1999 */
        "AA0101\t3\t0\t0\tPS\t990201\t7:02:47\t7:62:56\t9\t0:00:00\t0:00:00\t0\tAGENT\t7:02:55\t7:05:41\t166\tX\n" /* minute 62 */
        "AA0101\t4\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t7:02:56\t7:02:50\t-6\tHANG\t0:00:00\t0:00:00\t0\tX\n" /* q_time < 0 */
        "AA0101\t5\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t7:02:56\t7:03:00\t4\tBUSY\t0:00:00\t0:00:00\t0\tX\n"
        "\n"
        "AA0101\t6\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t7:02:56\t7:03:00\t4\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n";
    struct conv c;
    conv_run(&c, "anonymous_bank", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK);
    cr_assert_eq(c.st.rows, 6, "the blank line is no row");
    cr_assert_eq(c.st.events, 1);
    assert_str(S(ev_at(&c, 0), "event_id"), "ab-AA0101-6", "the good row");
    char *sum = stats_text(&c.st);
    cr_assert_str_eq(sum, "convert: 6 rows, 1 events, 5 skipped (bad_row: 3, bad_durations: 1, "
                          "unknown_outcome: 1)\n");
    free(sum);
    conv_fini(&c);
}

Test(convert_bank, profiles_first)
{
    const char *in =
        BANK_HEADER
        "AA0101\t1\t111\t1\tPS\t990201\t8:00:00\t8:00:10\t10\t8:00:10\t8:00:20\t10\tAGENT\t8:00:19\t8:01:00\t41\tX\n"
        "AA0101\t2\t222\t2\tPS\t990201\t8:10:00\t8:10:10\t10\t8:10:10\t8:10:20\t10\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        "AA0101\t3\t0\t0\tPS\t990201\t8:20:00\t8:20:10\t10\t8:20:10\t8:20:20\t10\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        /* 111 is priority 2 in a VRU-only record: gold all the same */
        "AA0101\t4\t111\t2\tPS\t990201\t9:00:00\t9:00:10\t10\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"
        "AA0101\t5\t333\t0\tNE\t990202\t9:00:00\t9:00:10\t10\t9:00:10\t9:00:20\t10\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n";
    struct sq_convert_opts opts = {.profiles = true};
    struct conv c;
    conv_run(&c, "anonymous_bank", in, &opts);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.events, 3 + 4);
    const char *ids[] = {"111", "222", "333"};
    const char *tiers[] = {"gold", "gold", "standard"};
    for (size_t i = 0; i < 3; i++) {
        json_t *env = env_at(&c, i), *ev = ev_at(&c, i);
        assert_str(S(env, "topic"), "sq.in.profiles", "topic");
        assert_str(S(env, "key"), ids[i], "key");
        assert_str(S(ev, "schema"), "profile.v1", "schema");
        assert_str(S(ev, "customer_id"), ids[i], "customer_id");
        assert_str(S(ev, "tier"), tiers[i], "tier");
        assert_str(S(ev, "region"), "IL", "region");
        assert_str(S(ev, "occurred_at"), "1999-02-01T00:00:00+02:00", "occurred_at");
        cr_assert(json_is_false(json_object_get(ev, "enterprise")));
    }
    assert_str(S(ev_at(&c, 0), "event_id"), "ab-profile-9902-111", "profile event_id");
    const char *contacts[] = {"ab-AA0101-1", "ab-AA0101-2", "ab-AA0101-3", "ab-AA0101-5"};
    for (size_t i = 0; i < 4; i++) {
        assert_str(S(env_at(&c, 3 + i), "topic"), "sq.in.contacts", "topic");
        assert_str(S(ev_at(&c, 3 + i), "event_id"), contacts[i], "contacts in file order");
    }
    conv_fini(&c);
}

Test(convert_bank, wrong_header_is_exit_1)
{
    struct conv c;
    conv_run(&c, "anonymous_bank", "customerID,gender\nx,y\n", NULL);
    cr_assert_eq(c.rc, SQ_CONV_NOT_DATASET);
    cr_assert(strstr(c.err.msg, "not a anonymous_bank file"), "%s", c.err.msg);
    cr_assert_eq(json_array_size(c.envs), 0);
    conv_fini(&c);
    conv_run(&c, "anonymous_bank", "", NULL);
    cr_assert_eq(c.rc, SQ_CONV_NOT_DATASET, "empty input");
    conv_fini(&c);
}

/* ---- telco_churn ----------------------------------------------------------- */

#define TELCO_HEADER                                                                          \
    "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,"  \
    "InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,"  \
    "StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,"   \
    "Churn\n"
#define TELCO_ROW(id, tenure, monthly, total)                                                 \
    id ",Female,0,Yes,No," tenure ",No,No phone service,DSL,No,Yes,No,No,No,No,"             \
       "Month-to-month,Yes,Electronic check," monthly "," total ",No\n"

Test(convert_telco, profiles_and_tiers)
{
    const char *in = TELCO_HEADER TELCO_ROW("7590-VHVEG", "1", "29.85", "29.85")
        TELCO_ROW("D-6000", "72", "110.5", "6000") TELCO_ROW("G-5999", "60", "100", "5999.99")
        TELCO_ROW("G-3000", "40", "75.2", "3000") TELCO_ROW("S-2999", "40", "75.2", "2999.99")
        TELCO_ROW("S-1000", "20", "50", "1000") TELCO_ROW("N-999", "20", "49.95", "999.99")
        TELCO_ROW("N-BLANK", "0", "20.05", " ");
    struct conv c;
    conv_run(&c, "telco_churn", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 8);
    cr_assert_eq(c.st.events, 8);
    const char *tiers[] = {"standard", "diamond", "gold", "gold",
                           "silver", "silver", "standard", "standard"};
    for (size_t i = 0; i < 8; i++)
        assert_str(S(ev_at(&c, i), "tier"), tiers[i], S(ev_at(&c, i), "customer_id"));
    json_t *env = env_at(&c, 0), *ev = ev_at(&c, 0);
    assert_str(S(env, "topic"), "sq.in.profiles", "topic");
    assert_str(S(env, "key"), "7590-VHVEG", "key");
    assert_str(S(ev, "schema"), "profile.v1", "schema");
    assert_str(S(ev, "event_id"), "telco-profile-7590-VHVEG", "event_id");
    assert_str(S(ev, "customer_id"), "7590-VHVEG", "customer_id");
    assert_str(S(ev, "region"), "US-CA", "region");
    assert_str(S(ev, "occurred_at"), SQ_CONV_DEFAULT_AT, "occurred_at");
    cr_assert_eq(I(ev, "tenure_months"), 1);
    cr_assert_float_eq(json_number_value(json_object_get(ev, "arpu")), 29.85, 1e-9);
    cr_assert(json_is_false(json_object_get(ev, "enterprise")));
    cr_assert(strstr(c.text, "\"arpu\":29.85}"), "arpu written as in the file: %s", c.text);
    cr_assert_eq(I(ev_at(&c, 7), "tenure_months"), 0);
    conv_fini(&c);

    struct sq_convert_opts opts = {.at = "2015-06-30T00:00:00+02:00"};
    conv_run(&c, "telco_churn", in, &opts);
    assert_str(S(ev_at(&c, 3), "occurred_at"), "2015-06-30T00:00:00+02:00", "--at");
    conv_fini(&c);
}

Test(convert_telco, wrong_input)
{
    struct conv c;
    conv_run(&c, "telco_churn", bank_kinds, NULL);
    cr_assert_eq(c.rc, SQ_CONV_NOT_DATASET);
    conv_fini(&c);
    conv_run(&c, "telco_churn", TELCO_HEADER TELCO_ROW("X-1", "-3", "1", "1")
                                    TELCO_ROW("X-2", "3", "abc", "1") "X-3,short\n",
             NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK);
    cr_assert_eq(c.st.events, 0);
    cr_assert_eq(c.st.skipped, 3);
    conv_fini(&c);
    struct sq_convert_opts opts = {.profiles = true};
    conv_run(&c, "telco_churn", TELCO_HEADER, &opts);
    cr_assert_eq(c.rc, SQ_CONV_FAILED, "--profiles is for anonymous_bank");
    conv_fini(&c);
    struct sq_convert_opts bad_at = {.at = "yesterday"};
    conv_run(&c, "telco_churn", TELCO_HEADER, &bad_at);
    cr_assert_eq(c.rc, SQ_CONV_FAILED);
    conv_fini(&c);
    conv_run(&c, "no_such_set", TELCO_HEADER, NULL);
    cr_assert_eq(c.rc, SQ_CONV_FAILED);
    cr_assert(!sq_convert_supported("no_such_set"));
    cr_assert(sq_convert_supported("anonymous_bank"));
    conv_fini(&c);
}

/* ---- servicenow_incidents ------------------------------------------------- */

#define SN_HEADER                                                                             \
    "number,incident_state,active,reassignment_count,reopen_count,sys_mod_count,made_sla,"   \
    "caller_id,opened_by,opened_at,sys_created_by,sys_created_at,sys_updated_by,"            \
    "sys_updated_at,contact_type,location,category,subcategory,u_symptom,cmdb_ci,impact,"    \
    "urgency,priority,assignment_group,assigned_to,knowledge,u_priority_confirmation,"       \
    "notify,problem_id,rfc,vendor,caused_by,closed_code,resolved_by,resolved_at,closed_at\n"
/* number, state, reopen_count, sys_mod_count, caller, opened_at, sys_updated_at,
 * category, priority; the other 27 fields as in the file */
#define SN_ROW(num, state, reopen, mod, caller, opened, updated, cat, prio)                   \
    num "," state ",true,0," reopen "," mod ",true," caller ",Opened by  8," opened            \
        ",Created by 6,29/2/2016 01:23,Updated by 21," updated ",Phone,Location 143," cat      \
        ",Subcategory 170,Symptom 72,?,2 - Medium,2 - Medium," prio                             \
        ",Group 56,?,true,false,Do Not Notify,?,?,?,?,code 5,Resolved by 149,?,?\n"

Test(convert_servicenow, lifecycle)
{
    const char *in = SN_HEADER
        SN_ROW("INC1", "New", "0", "0", "Caller 2403", "29/2/2016 01:16", "29/2/2016 01:23", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "New", "0", "1", "Caller 2403", "29/2/2016 01:16", "29/2/2016 01:30", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Active", "0", "2", "Caller 2403", "29/2/2016 01:16", "1/3/2016 9:05", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Active", "0", "2", "Caller 2403", "29/2/2016 01:16", "1/3/2016 09:05", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Awaiting User Info", "0", "3", "Caller 2403", "29/2/2016 01:16", "1/3/2016 10:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Active", "0", "4", "Caller 2403", "29/2/2016 01:16", "2/3/2016 10:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Resolved", "0", "5", "Caller 2403", "29/2/2016 01:16", "2/3/2016 11:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Active", "1", "6", "Caller 2403", "29/2/2016 01:16", "3/3/2016 08:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Resolved", "1", "7", "Caller 2403", "29/2/2016 01:16", "3/3/2016 12:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "-100", "1", "8", "Caller 2403", "29/2/2016 01:16", "4/3/2016 12:00", "Category 55", "3 - Moderate")
        SN_ROW("INC1", "Closed", "1", "9", "Caller 2403", "29/2/2016 01:16", "8/3/2016 12:00", "Category 55", "3 - Moderate")
        /* starts Active: an opened event at opened_at first */
        SN_ROW("INC2", "Active", "0", "0", "Caller 7", "1/3/2016 09:05", "2/3/2016 10:00", "?", "1 - Critical")
        SN_ROW("INC3", "New", "0", "0", "?", "1/3/2016 09:05", "2/3/2016 10:00", "Category 1", "4 - Low");
    struct conv c;
    conv_run(&c, "servicenow_incidents", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 13);
    cr_assert_eq(c.st.skipped, 2);
    static const struct {
        const char *id, *status, *at;
    } want[] = {
        {"INC1-0-0", "opened", "2016-02-29T01:16:00+00:00"},
        {"INC1-1-1", "updated", "2016-02-29T01:30:00+00:00"},
        {"INC1-2-2", "acknowledged", "2016-03-01T09:05:00+00:00"},
        {"INC1-2-3", "updated", "2016-03-01T09:05:00+00:00"},
        {"INC1-3-4", "updated", "2016-03-01T10:00:00+00:00"},
        {"INC1-4-5", "updated", "2016-03-02T10:00:00+00:00"},
        {"INC1-5-6", "resolved", "2016-03-02T11:00:00+00:00"},
        {"INC1-6-7", "reopened", "2016-03-03T08:00:00+00:00"},
        {"INC1-7-8", "resolved", "2016-03-03T12:00:00+00:00"},
        {"INC1-9-10", "closed", "2016-03-08T12:00:00+00:00"},
        {"INC2-opened", "opened", "2016-03-01T09:05:00+00:00"},
        {"INC2-0-0", "acknowledged", "2016-03-02T10:00:00+00:00"},
    };
    cr_assert_eq(json_array_size(c.envs), 12);
    for (size_t i = 0; i < 12; i++) {
        json_t *ev = ev_at(&c, i);
        assert_str(S(ev, "event_id"), want[i].id, "event_id");
        assert_str(S(ev, "status"), want[i].status, want[i].id);
        assert_str(S(ev, "occurred_at"), want[i].at, want[i].id);
        assert_str(S(env_at(&c, i), "topic"), "sq.in.tickets", "topic");
        assert_str(S(ev, "schema"), "ticket.v1", "schema");
        assert_str(S(ev, "kind"), "fault", "kind");
    }
    json_t *ev = ev_at(&c, 0);
    assert_str(S(ev, "ticket_id"), "INC1", "ticket_id");
    assert_str(S(ev, "customer_id"), "Caller 2403", "customer_id");
    assert_str(S(env_at(&c, 0), "key"), "Caller 2403", "key");
    assert_str(S(ev, "category"), "Category 55", "category");
    cr_assert_eq(I(ev, "severity"), 3);
    cr_assert_null(json_object_get(ev, "contact_id"));
    ev = ev_at(&c, 11);
    cr_assert_eq(I(ev, "severity"), 1);
    assert_str(S(ev, "category"), "unknown", "category ?");
    char *sum = stats_text(&c.st);
    cr_assert_str_eq(sum, "convert: 13 rows, 12 events, 2 skipped (state_-100: 1, no_caller: 1)\n");
    free(sum);
    conv_fini(&c);
}

/* ---- volvo_it_incidents ----------------------------------------------------- */

#define VOLVO_HEADER                                                                          \
    "SR Number,Change Date+Time,Status,Sub Status,Activity,Activity Level,"                  \
    "Involved ST Function Div,Involved Org line 3,Involved ST,Involved ST 2,ST Level,"       \
    "SR Latest Impact,Product,Country,Owner Country,Owner First Name,Resource\r\n"
#define VOLVO_ROW(sr, t, st, sub, impact, product, country)                                   \
    sr "," t "," st "," sub "," st "-" sub "," st "-" sub "-L1,A2_4,Org line A2,V30,V30,L1,"  \
       impact "," product "," country ",France,Frederic,fr-Frederic"

Test(convert_volvo, lifecycle_bom_crlf_last_line_without_end)
{
    const char *in = "\xEF\xBB\xBF" VOLVO_HEADER
        VOLVO_ROW("1-1", "2010-03-31T15:59:42+01:00", "Accepted", "In Progress", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-03-31T16:00:56+01:00", "Queued", "Awaiting Assignment", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-04-01T08:00:00+01:00", "Accepted", "Assigned", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-04-01T09:00:00+01:00", "Completed", "In Call", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-04-02T09:00:00+01:00", "Accepted", "In Progress", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-04-03T09:00:00+01:00", "Completed", "Closed", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-1", "2010-04-03T09:00:00+01:00", "Unmatched", "Unmatched", "Medium", "PROD582", "fr") "\r\n"
        VOLVO_ROW("1-2", "2011-01-10T10:00:00+01:00", "Queued", "Awaiting Assignment", "Major", "PROD1", "SE") "\r\n"
        VOLVO_ROW("1-2", "2011-01-10T11:00:00+01:00", "Accepted", "Wait - User", "Major", "PROD1", "SE") "\r\n"
        VOLVO_ROW("1-2", "2011-01-11T11:00:00+01:00", "Completed", "Cancelled", "Low", "PROD1", "0");
    struct conv c;
    conv_run(&c, "volvo_it_incidents", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 10);
    cr_assert_eq(c.st.skipped, 1);
    static const struct {
        const char *id, *status, *at;
        long long severity;
        const char *region;
    } want[] = {
        {"1-1-0-opened", "opened", "2010-03-31T15:59:42+01:00", 3, "fr"},
        {"1-1-0", "acknowledged", "2010-03-31T15:59:42+01:00", 3, "fr"},
        {"1-1-1", "updated", "2010-03-31T16:00:56+01:00", 3, "fr"},
        {"1-1-2", "updated", "2010-04-01T08:00:00+01:00", 3, "fr"},
        {"1-1-3", "resolved", "2010-04-01T09:00:00+01:00", 3, "fr"},
        {"1-1-4", "reopened", "2010-04-02T09:00:00+01:00", 3, "fr"},
        {"1-1-5", "closed", "2010-04-03T09:00:00+01:00", 3, "fr"},
        {"1-2-0-opened", "opened", "2011-01-10T10:00:00+01:00", 1, "se"},
        {"1-2-1", "acknowledged", "2011-01-10T11:00:00+01:00", 1, "se"},
        {"1-2-2", "closed", "2011-01-11T11:00:00+01:00", 4, NULL},
    };
    cr_assert_eq(json_array_size(c.envs), 10);
    for (size_t i = 0; i < 10; i++) {
        json_t *ev = ev_at(&c, i);
        assert_str(S(ev, "event_id"), want[i].id, "event_id");
        assert_str(S(ev, "status"), want[i].status, want[i].id);
        assert_str(S(ev, "occurred_at"), want[i].at, want[i].id);
        cr_assert_eq(I(ev, "severity"), want[i].severity, "%s severity", want[i].id);
        if (want[i].region)
            assert_str(S(ev, "region"), want[i].region, want[i].id);
        else
            cr_assert_null(json_object_get(ev, "region"), "country 0: no region");
    }
    json_t *ev = ev_at(&c, 0);
    assert_str(S(ev, "customer_id"), "vinst-1-1", "customer_id");
    assert_str(S(env_at(&c, 0), "key"), "vinst-1-1", "key");
    assert_str(S(ev, "ticket_id"), "1-1", "ticket_id");
    assert_str(S(ev, "category"), "PROD582", "category");
    assert_str(S(ev, "kind"), "fault", "kind");
    conv_fini(&c);
}

/* ---- comcast_complaints ----------------------------------------------------- */

#define COMCAST_HEADER                                                                        \
    "\xEF\xBB\xBFTicket #,Customer Complaint,Date,Date_month_year,Time,Received Via,City,"   \
    "State,Zip code,Status,Filing on Behalf of Someone\r\n"

Test(convert_comcast, dates_zones_statuses)
{
    const char *in = COMCAST_HEADER
        "250635,Comcast Cable Internet Speeds,22-04-15,22-Apr-15,3:53:50 PM,Customer Care Call,Abingdon,Maryland,21009,Closed,No\r\n"
        "318072,\"Billing, data cap and \"\"fees\"\"\",06-01-15,01-Jun-15,12:05:00 AM,Internet,Oakland,California,94601,Solved,No\r\n"
        "300000,Rude customer service agent,13-05-15,13-May-15,12:30:00 PM,Internet,Phoenix,Arizona,85001,Pending,No\r\n"
        "300001,Something else,26-05-15,26-May-15,9:00:00 AM,Internet,Washington,District Of Columbia,20001,Open,Yes\r\n"
        "300002,Slow internet,26-05-15,26-May-15,9:00:00 AM,Internet,Nowhere,Atlantis,00000,Open,No\r\n";
    struct conv c;
    conv_run(&c, "comcast_complaints", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 5);
    cr_assert_eq(c.st.skipped, 1);
    static const struct {
        const char *id, *status, *at, *region, *category;
    } want[] = {
        {"comcast-250635-opened", "opened", "2015-04-22T15:53:50-04:00", "US-MD", "network_quality"},
        {"comcast-250635-closed", "closed", "2015-04-22T15:53:50-04:00", "US-MD", "network_quality"},
        {"comcast-318072-opened", "opened", "2015-06-01T00:05:00-07:00", "US-CA", "billing"},
        {"comcast-318072-resolved", "resolved", "2015-06-01T00:05:00-07:00", "US-CA", "billing"},
        {"comcast-300000-opened", "opened", "2015-05-13T12:30:00-07:00", "US-AZ", "service_attitude"},
        {"comcast-300000-acknowledged", "acknowledged", "2015-05-13T12:30:00-07:00", "US-AZ",
         "service_attitude"},
        {"comcast-300001-opened", "opened", "2015-05-26T09:00:00-04:00", "US-DC", "other"},
    };
    cr_assert_eq(json_array_size(c.envs), 7);
    for (size_t i = 0; i < 7; i++) {
        json_t *ev = ev_at(&c, i);
        assert_str(S(ev, "event_id"), want[i].id, "event_id");
        assert_str(S(ev, "status"), want[i].status, want[i].id);
        assert_str(S(ev, "occurred_at"), want[i].at, want[i].id);
        assert_str(S(ev, "region"), want[i].region, want[i].id);
        assert_str(S(ev, "category"), want[i].category, want[i].id);
        assert_str(S(ev, "kind"), "complaint", want[i].id);
        cr_assert_eq(I(ev, "severity"), 3);
    }
    assert_str(S(ev_at(&c, 2), "ticket_id"), "318072", "ticket_id");
    assert_str(S(ev_at(&c, 2), "customer_id"), "comcast-318072", "customer_id");
    assert_str(S(env_at(&c, 2), "key"), "comcast-318072", "key");
    char *sum = stats_text(&c.st);
    cr_assert_str_eq(sum, "convert: 5 rows, 7 events, 1 skipped (unknown_state: 1)\n");
    free(sum);
    conv_fini(&c);
}

/* ---- ecsi_mobile_survey ----------------------------------------------------- */

#define ECSI_HEADER                                                                           \
    "CUEX1,CUEX2,CUEX3,CUSA1,CUSA2,CUSA3,CUSCO,CUSL1,CUSL2,CUSL3,IMAG1,IMAG2,IMAG3,IMAG4,"   \
    "IMAG5,PERQ1,PERQ2,PERQ3,PERQ4,PERQ5,PERQ6,PERQ7,PERV1,PERV2\r\n"
static const char ecsi_in[] = ECSI_HEADER
    "7,7,6,6,4,7,7,6,5,6,7,5,5,5,4,7,6,4,7,6,5,5,2,3\r\n"
    "10,10,9,10,10,8,10,10,2,10,10,9,10,10,9,10,9,10,10,9,10,10,10,10\r\n"
    "1,5,5,1,5,5,5,5,5,1,5,5,5,5,5,5,5,5,5,5,1,5,5,5\r\n"
    "1,5,5,11,5,5,5,5,5,1,5,5,5,5,5,5,5,5,5,5,1,5,5,5\r\n";

Test(convert_ecsi, surveys)
{
    struct conv c;
    conv_run(&c, "ecsi_mobile_survey", ecsi_in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_OK, "%s", c.err.msg);
    cr_assert_eq(c.st.rows, 4);
    cr_assert_eq(c.st.events, 3);
    cr_assert_eq(c.st.skipped, 1, "an answer of 11");
    static const struct {
        long long csat, nps, expected, perceived;
    } want[] = {{3, 6, 5, 4}, {5, 10, 7, 7}, {1, 1, 1, 1}};
    for (size_t i = 0; i < 3; i++) {
        json_t *ev = ev_at(&c, i);
        char id[32], cust[32], contact[32];
        snprintf(id, sizeof id, "ecsi-%zu", i + 1);
        snprintf(cust, sizeof cust, "ecsi-cust-%zu", i + 1);
        snprintf(contact, sizeof contact, "ecsi-contact-%zu", i + 1);
        assert_str(S(env_at(&c, i), "topic"), "sq.in.surveys", "topic");
        assert_str(S(env_at(&c, i), "key"), cust, "key");
        assert_str(S(ev, "schema"), "survey.v1", "schema");
        assert_str(S(ev, "event_id"), id, "event_id");
        assert_str(S(ev, "survey_id"), id, "survey_id");
        assert_str(S(ev, "customer_id"), cust, "customer_id");
        assert_str(S(ev, "contact_id"), contact, "contact_id");
        assert_str(S(ev, "occurred_at"), SQ_CONV_DEFAULT_AT, "occurred_at");
        cr_assert_eq(I(ev, "csat"), want[i].csat, "row %zu csat", i + 1);
        cr_assert_eq(I(ev, "nps"), want[i].nps, "row %zu nps", i + 1);
        json_t *rel = json_object_get(json_object_get(ev, "servqual"), "reliability");
        cr_assert_eq(I(rel, "expected"), want[i].expected, "row %zu expected", i + 1);
        cr_assert_eq(I(rel, "perceived"), want[i].perceived, "row %zu perceived", i + 1);
    }
    conv_fini(&c);
}

/* ---- input ------------------------------------------------------------------ */

static char *write_gz(const char *data, size_t len)
{
    char *path = strdup("/tmp/test-convert-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    gzFile gz = gzdopen(fd, "wb9");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(gz), Z_OK);
    return path;
}

Test(convert_input, gzip_file_plain_file_and_memory_agree)
{
    struct conv mem, gz, plain;
    conv_run(&mem, "ecsi_mobile_survey", ecsi_in, NULL);
    char *gz_path = write_gz(ecsi_in, strlen(ecsi_in));
    struct sq_err err;
    struct sq_conv_in *in = sq_conv_in_open(gz_path, &err);
    cr_assert_not_null(in, "%s", err.msg);
    conv_run_in(&gz, "ecsi_mobile_survey", in, NULL);
    sq_conv_in_free(in);
    char plain_path[] = "/tmp/test-convert-XXXXXX";
    int fd = mkstemp(plain_path);
    cr_assert_eq(write(fd, ecsi_in, strlen(ecsi_in)), (ssize_t)strlen(ecsi_in));
    close(fd);
    in = sq_conv_in_open(plain_path, &err);
    cr_assert_not_null(in, "%s", err.msg);
    conv_run_in(&plain, "ecsi_mobile_survey", in, NULL);
    sq_conv_in_free(in);
    cr_assert_eq(gz.rc, SQ_CONV_OK, "%s", gz.err.msg);
    cr_assert_eq(plain.rc, SQ_CONV_OK, "%s", plain.err.msg);
    cr_assert_eq(mem.st.events, 3);
    cr_assert_str_eq(gz.text, mem.text);
    cr_assert_str_eq(plain.text, mem.text);
    unlink(gz_path);
    unlink(plain_path);
    free(gz_path);
    conv_fini(&mem);
    conv_fini(&gz);
    conv_fini(&plain);
}

Test(convert_input, truncated_gzip_and_missing_file_fail)
{
    /* Big enough that the cut falls inside the deflate stream. */
    struct sq_buf big;
    sq_buf_init(&big);
    sq_buf_append(&big, ECSI_HEADER, strlen(ECSI_HEADER));
    for (int i = 0; i < 20000; i++)
        sq_buf_appendf(&big, "%d,7,6,6,4,7,7,6,5,%d,7,5,5,5,4,7,6,4,7,6,5,5,2,3\r\n", i % 10 + 1,
                       i % 7 + 1);
    char *path = write_gz(big.data, big.len);
    FILE *f = fopen(path, "r+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(path, size / 2), 0);
    struct sq_err err;
    struct sq_conv_in *in = sq_conv_in_open(path, &err);
    cr_assert_not_null(in);
    struct conv c;
    conv_run_in(&c, "ecsi_mobile_survey", in, NULL);
    cr_assert_eq(c.rc, SQ_CONV_FAILED, "a truncated gzip file is an error");
    cr_assert(strstr(c.err.msg, "reading"), "%s", c.err.msg);
    sq_conv_in_free(in);
    conv_fini(&c);
    unlink(path);
    free(path);
    sq_buf_fini(&big);

    in = sq_conv_in_open("/nonexistent/dir/x.txt.gz", &err);
    cr_assert_null(in);
    cr_assert(strstr(err.msg, "/nonexistent/dir/x.txt.gz"), "%s", err.msg);
}

Test(convert_input, overlong_line_fails)
{
    size_t n = SQ_CONV_MAX_LINE + 10;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    struct conv c;
    conv_run(&c, "telco_churn", s, NULL);
    cr_assert_eq(c.rc, SQ_CONV_FAILED);
    cr_assert(strstr(c.err.msg, "longer than"), "%s", c.err.msg);
    conv_fini(&c);
    free(s);
}

Test(convert_input, split_quotes)
{
    struct sq_conv_row row;
    sq_conv_row_init(&row);
    const char *line = "a,\"b,c\",\"d \"\"e\"\"\",,f";
    cr_assert_eq(sq_conv_split(line, strlen(line), ',', true, &row), 0);
    cr_assert_eq(row.n, 5);
    cr_assert_str_eq(row.f[0], "a");
    cr_assert_str_eq(row.f[1], "b,c");
    cr_assert_str_eq(row.f[2], "d \"e\"");
    cr_assert_str_eq(row.f[3], "");
    cr_assert_str_eq(row.f[4], "f");
    const char *bad = "a,\"b,c";
    cr_assert_eq(sq_conv_split(bad, strlen(bad), ',', true, &row), -1);
    const char *tabs = "x\t\"y\"\t";
    cr_assert_eq(sq_conv_split(tabs, strlen(tabs), '\t', false, &row), 0);
    cr_assert_eq(row.n, 3);
    cr_assert_str_eq(row.f[1], "\"y\"");
    sq_conv_row_fini(&row);
}

Test(convert_input, time_helpers)
{
    char out[SQ_CONV_TIMESZ];
    sq_conv_format_time(0, 0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00+00:00");
    sq_conv_format_time(0, -300, out);
    cr_assert_str_eq(out, "1969-12-31T19:00:00-05:00");
    sq_conv_format_time(951782400, 120, out); /* 2000-02-29T00:00:00Z */
    cr_assert_str_eq(out, "2000-02-29T02:00:00+02:00");
    int y, m, d;
    sq_conv_civil_from_days(sq_conv_days_from_civil(1999, 9, 3), &y, &m, &d);
    cr_assert(y == 1999 && m == 9 && d == 3);
    cr_assert(!sq_conv_valid_date(1999, 2, 29));
    cr_assert(sq_conv_valid_date(2016, 2, 29));
}
