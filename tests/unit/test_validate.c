/* test_validate.c: the validate processor after decode: events checked
 * against the JSON Schema of their schema (format asserted), the DLQ
 * detail "POINTER MESSAGE", the semantic rules of contact.v1, event_ms and
 * customer_id filled, tombstones and earlier verdicts left alone, event
 * times too far ahead of the wall clock in `run`. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "config.h"
#include "decode.h"
#include "validate.h"

struct fixture {
    struct sq_settings st;
    void *dec, *val;
    struct sq_batch batch;
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    sq_settings_defaults(&f->st);
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_proc_decode.init(&f->st, &f->dec, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(sq_proc_validate.init(&f->st, &f->val, &err), SQ_OK, "%s", err.msg);
}

static void teardown(struct fixture *f)
{
    sq_batch_fini(&f->batch);
    sq_proc_validate.destroy(f->val);
    sq_proc_decode.destroy(f->dec);
    sq_settings_free(&f->st);
}

/* Adds a message of topic (whose default schema is schema); value NULL is
 * a tombstone. Returns its index. */
static size_t add(struct fixture *f, const char *topic, const char *schema, const char *key,
                  const char *value)
{
    struct sq_batch *b = &f->batch;
    b->msgs = realloc(b->msgs, (b->n + 1) * sizeof *b->msgs);
    struct sq_msg *m = &b->msgs[b->n];
    memset(m, 0, sizeof *m);
    m->topic = topic;
    m->offset = (int64_t)b->n;
    m->key = key;
    m->key_len = key ? strlen(key) : 0;
    m->value = value;
    m->value_len = value ? strlen(value) : 0;
    m->default_schema = schema;
    snprintf(m->source, sizeof m->source, "%s/0/%zu", topic, b->n);
    return b->n++;
}

static void run(struct fixture *f)
{
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_proc_decode.process(f->dec, &f->batch, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(sq_proc_validate.process(f->val, &f->batch, &err), SQ_OK, "%s", err.msg);
}

#define C_HEAD "{\"schema\":\"contact.v1\",\"event_id\":\"e1\",\"customer_id\":\"c1\","
#define C_TAIL                                                                               \
    "\"contact_id\":\"k1\",\"channel\":\"voice\",\"queue\":\"q\",\"reason\":\"billing\","    \
    "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"ended_at\":\"2026-11-25T10:05:00Z\"}"

static void expect_dlq(const struct sq_msg *m, enum sq_dlq_reason reason, const char *pointer)
{
    cr_expect_eq(m->verdict, SQ_VERDICT_DLQ, "%s", m->value);
    cr_expect_eq(m->reason, reason, "%s: reason %s, detail %s", m->value,
                 sq_dlq_reason_name(m->reason), m->detail);
    size_t plen = strlen(pointer);
    cr_expect(strncmp(m->detail, pointer, plen) == 0 && m->detail[plen] == ' ' &&
                  strlen(m->detail) > plen + 3,
              "%s: expected detail \"%s MESSAGE\", got \"%s\"", m->value, pointer, m->detail);
}

Test(validate, valid_events_get_event_time_and_customer)
{
    struct fixture f;
    setup(&f);
    size_t a = add(&f, "sq.in.contacts", "contact.v1", "c1",
                   C_HEAD "\"occurred_at\":\"2026-11-25T18:05:00.5+08:00\"," C_TAIL);
    size_t b = add(&f, "sq.in.outages", "outage.v1", NULL,
                   "{\"event_id\":\"o1\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
                   "\"incident_id\":\"i1\",\"region\":\"GD-SZ\",\"service\":\"voice\","
                   "\"status\":\"started\",\"severity\":1}");
    size_t c = add(&f, "sq.in.profiles", "profile.v1", "c9", NULL); /* tombstone */
    run(&f);
    struct sq_msg *m = f.batch.msgs;
    cr_assert_eq(m[a].verdict, SQ_VERDICT_PENDING, "%s", m[a].detail);
    cr_assert_eq(m[a].event_ms, 1795601100500LL); /* 10:05:00.500Z */
    cr_assert_str_eq(m[a].customer_id, "c1");
    cr_assert_eq(m[b].verdict, SQ_VERDICT_PENDING, "%s", m[b].detail);
    cr_assert_null(m[b].customer_id, "outage.v1 has no customer");
    cr_assert_eq(m[b].event_ms, 1795600800000LL);
    cr_assert_eq(m[c].verdict, SQ_VERDICT_PENDING, "a tombstone is not validated");
    cr_assert_null(m[c].event);
    teardown(&f);
}

Test(validate, schema_violations_name_the_pointer)
{
    struct fixture f;
    setup(&f);
    size_t i0 = add(&f, "sq.in.contacts", "contact.v1", "c1",
                    "{\"schema\":\"contact.v1\",\"occurred_at\":\"2026-11-25T10:00:00Z\"}");
    size_t i1 = add(&f, "sq.in.contacts", "contact.v1", "c1",
                    C_HEAD "\"occurred_at\":\"2026-11-25 10:05:00\"," C_TAIL);
    size_t i2 = add(&f, "sq.in.contacts", "contact.v1", "c1",
                    C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\",\"transfers\":-1," C_TAIL);
    size_t i3 = add(&f, "sq.in.surveys", "survey.v1", "c1",
                    "{\"event_id\":\"s1\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
                    "\"customer_id\":\"c1\",\"survey_id\":\"s1\",\"contact_id\":\"k1\","
                    "\"servqual\":{\"empathy\":{\"expected\":3,\"perceived\":9}}}");
    size_t i4 = add(&f, "sq.in.tickets", "ticket.v1", "c1",
                    "{\"event_id\":\"t1\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
                    "\"ticket_id\":\"t1\",\"kind\":\"fault\",\"category\":\"x\",\"severity\":1,"
                    "\"status\":\"opened\"}"); /* no customer_id */
    size_t i5 = add(&f, "sq.in.contacts", "contact.v1", "c1",
                    C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\",\"region\":\"\"," C_TAIL);
    run(&f);
    struct sq_msg *m = f.batch.msgs;
    expect_dlq(&m[i0], SQ_DLQ_SCHEMA_VIOLATION, "\"\"");
    cr_expect(strstr(m[i0].detail, "event_id"), "%s", m[i0].detail);
    expect_dlq(&m[i1], SQ_DLQ_SCHEMA_VIOLATION, "/occurred_at");
    expect_dlq(&m[i2], SQ_DLQ_SCHEMA_VIOLATION, "/transfers");
    expect_dlq(&m[i3], SQ_DLQ_SCHEMA_VIOLATION, "/servqual/empathy/perceived");
    expect_dlq(&m[i4], SQ_DLQ_SCHEMA_VIOLATION, "\"\"");
    cr_expect(strstr(m[i4].detail, "customer_id"), "%s", m[i4].detail);
    expect_dlq(&m[i5], SQ_DLQ_SCHEMA_VIOLATION, "/region");
    teardown(&f);
}

Test(validate, contact_semantic_rules)
{
    struct fixture f;
    setup(&f);
    size_t a = add(&f, "sq.in.contacts", "contact.v1", "c1",
                   C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\","
                          "\"contact_id\":\"k1\",\"channel\":\"voice\",\"queue\":\"q\","
                          "\"reason\":\"billing\",\"arrived_at\":\"2026-11-25T10:00:00Z\","
                          "\"ended_at\":\"2026-11-25T09:59:59Z\"}");
    size_t b = add(&f, "sq.in.contacts", "contact.v1", "c1",
                   C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\","
                          "\"answered_at\":\"2026-11-25T10:06:00Z\"," C_TAIL);
    size_t c = add(&f, "sq.in.contacts", "contact.v1", "c1",
                   C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\","
                          "\"answered_at\":\"2026-11-25T10:05:00Z\"," C_TAIL);
    run(&f);
    struct sq_msg *m = f.batch.msgs;
    expect_dlq(&m[a], SQ_DLQ_SEMANTIC, "/ended_at");
    expect_dlq(&m[b], SQ_DLQ_SEMANTIC, "/answered_at");
    cr_expect_eq(m[c].verdict, SQ_VERDICT_PENDING, "answered at the end is in range: %s",
                 m[c].detail);
    teardown(&f);
}

Test(validate, earlier_verdicts_stand_and_details_stay_printable)
{
    struct fixture f;
    setup(&f);
    size_t a = add(&f, "sq.in.contacts", "contact.v1", "c1", "{not json");
    size_t b = add(&f, "sq.in.contacts", "contact.v1", "c1",
                   C_HEAD "\"occurred_at\":\"2026-11-25T10:05:00Z\","
                          "\"contact_id\":\"k1\",\"channel\":\"vo\\nice\\u0007\",\"queue\":\"q\","
                          "\"reason\":\"billing\",\"arrived_at\":\"2026-11-25T10:00:00Z\","
                          "\"ended_at\":\"2026-11-25T10:05:00Z\"}");
    run(&f);
    struct sq_msg *m = f.batch.msgs;
    cr_expect_eq(m[a].reason, SQ_DLQ_MALFORMED_JSON);
    expect_dlq(&m[b], SQ_DLQ_SCHEMA_VIOLATION, "/channel");
    for (const char *p = m[b].detail; *p; p++)
        cr_expect((unsigned char)*p >= 0x20 && *p != 0x7F, "control byte in detail: %s",
                  m[b].detail);
    teardown(&f);
}

/* An RFC 3339 UTC time `ahead_s` seconds from now. */
static void time_from_now(char *out, size_t n, long ahead_s)
{
    time_t t = time(NULL) + ahead_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *outage_at(char *buf, size_t n, long ahead_s)
{
    char t[32];
    time_from_now(t, sizeof t, ahead_s);
    snprintf(buf, n,
             "{\"event_id\":\"o1\",\"occurred_at\":\"%s\",\"incident_id\":\"i1\","
             "\"region\":\"GD-SZ\",\"service\":\"voice\",\"status\":\"started\",\"severity\":1}",
             t);
    return buf;
}

/* SPEC 6: in `run`, an event time more than limits.max_future_s ahead of
 * the wall clock goes to the DLQ as future_time (the later of occurred_at
 * and a contact's arrived_at); replay has no wall clock. */
Test(validate, future_time_past_the_limit_in_run_only)
{
    struct fixture f;
    setup(&f); /* max_future_s 300 */
    char far[512], near[512], contact[1024], t_old[32], t_arr[32], t_end[32];
    size_t a = add(&f, "sq.in.outages", "outage.v1", NULL, outage_at(far, sizeof far, 3600));
    size_t b = add(&f, "sq.in.outages", "outage.v1", NULL, outage_at(near, sizeof near, 100));
    time_from_now(t_old, sizeof t_old, -3600);
    time_from_now(t_arr, sizeof t_arr, 3600);
    time_from_now(t_end, sizeof t_end, 3900);
    snprintf(contact, sizeof contact,
             C_HEAD "\"occurred_at\":\"%s\",\"contact_id\":\"k1\",\"channel\":\"voice\","
                    "\"queue\":\"q\",\"reason\":\"billing\",\"arrived_at\":\"%s\","
                    "\"ended_at\":\"%s\"}",
             t_old, t_arr, t_end);
    size_t c = add(&f, "sq.in.contacts", "contact.v1", "c1", contact);
    run(&f);
    struct sq_msg *m = f.batch.msgs;
    expect_dlq(&m[a], SQ_DLQ_FUTURE_TIME, "/occurred_at");
    cr_expect(strstr(m[a].detail, "limits.max_future_s (300)"), "%s", m[a].detail);
    cr_expect_eq(m[b].verdict, SQ_VERDICT_PENDING, "100 s ahead is within 300: %s", m[b].detail);
    expect_dlq(&m[c], SQ_DLQ_FUTURE_TIME, "/arrived_at");
    teardown(&f);

    /* replay: no wall clock */
    setup(&f);
    sq_proc_validate.destroy(f.val);
    f.st.replay_mode = true;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_proc_validate.init(&f.st, &f.val, &err), SQ_OK, "%s", err.msg);
    a = add(&f, "sq.in.outages", "outage.v1", NULL, far);
    run(&f);
    cr_expect_eq(f.batch.msgs[a].verdict, SQ_VERDICT_PENDING, "%s", f.batch.msgs[a].detail);
    teardown(&f);

    /* limits.max_future_s 0: any time ahead of the clock */
    setup(&f);
    sq_proc_validate.destroy(f.val);
    f.st.max_future_s = 0;
    cr_assert_eq(sq_proc_validate.init(&f.st, &f.val, &err), SQ_OK, "%s", err.msg);
    a = add(&f, "sq.in.outages", "outage.v1", NULL, outage_at(near, sizeof near, 5));
    b = add(&f, "sq.in.outages", "outage.v1", NULL, outage_at(far, sizeof far, -5));
    run(&f);
    expect_dlq(&f.batch.msgs[a], SQ_DLQ_FUTURE_TIME, "/occurred_at");
    cr_expect_eq(f.batch.msgs[b].verdict, SQ_VERDICT_PENDING, "%s", f.batch.msgs[b].detail);
    teardown(&f);
}
