/* test_score.c: unit tests of processors/score.c: every contact, survey and
 * QA breach of SPEC 4 just below, at and just above its threshold, the VIP
 * rule, the SPEC 5 scores with numbers computed by hand from the SPEC's
 * formulas, rounding, weights, cx_index, the breach record of SPEC 8/15 and
 * the scoring config keys. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "breach.h"
#include "config.h"
#include "derive.h"
#include "score.h"
#include "settings.h"
#include "sq_common.h"

#define T0 INT64_C(1795564800000) /* 2026-11-25T00:00:00Z */
#define DAY INT64_C(86400000)

static struct sq_settings st;
static const struct sq_customer_ctx standard = {"standard", false, "GD-SZ"};
static const struct sq_customer_ctx gold = {"gold", false, "GD-SZ"};
static const struct sq_customer_ctx diamond = {"diamond", false, "GD-SZ"};
static const struct sq_customer_ctx silver = {"silver", false, "GD-SZ"};
static const struct sq_customer_ctx enterprise = {"unknown", true, NULL};

static void setup(void)
{
    sq_settings_defaults(&st);
}

static void teardown(void)
{
    sq_settings_free(&st);
}

TestSuite(score, .init = setup, .fini = teardown);

static void set(const char *path, const char *value)
{
    cr_assert_eq(sq_config_set(&st, path, value, NULL), 0, "set %s=%s", path, value);
}

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1, fabs(b));
}

/* ---- building events -------------------------------------------------- */

/* A contact.v1 event that arrived at T0 on channel, answered after wait_ms
 * (wait_ms < 0: not answered, ended after -wait_ms), with transfers and
 * outcome (NULL: absent). */
static json_t *contact(const char *channel, int64_t wait_ms, int transfers, const char *outcome)
{
    char arrived[SQ_TIME_BUFSZ], answered[SQ_TIME_BUFSZ], ended[SQ_TIME_BUFSZ];
    sq_time_format(T0, arrived);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "schema",
                           "contact.v1", "event_id", "e-1", "occurred_at", arrived,
                           "customer_id", "C1", "contact_id", "K1", "channel", channel, "queue",
                           "Q1", "reason", "billing", "transfers", transfers);
    cr_assert_not_null(ev);
    json_object_set_new(ev, "arrived_at", json_string(arrived));
    if (wait_ms >= 0) {
        sq_time_format(T0 + wait_ms, answered);
        sq_time_format(T0 + wait_ms + 120000, ended);
        json_object_set_new(ev, "answered_at", json_string(answered));
        json_object_set_new(ev, "agent_id", json_string("A7"));
    } else {
        sq_time_format(T0 - wait_ms, ended);
    }
    json_object_set_new(ev, "ended_at", json_string(ended));
    if (outcome)
        json_object_set_new(ev, "outcome", json_string(outcome));
    return ev;
}

struct run {
    struct sq_contact_derived d;
    struct sq_breach_list bl;
    struct sq_score sc;
};

static void run_contact(json_t *ev, const struct sq_customer_ctx *cust, int repeat,
                        struct run *r)
{
    cr_assert_eq(sq_contact_derive(ev, &st, &r->d), 0);
    sq_score_contact(&st, ev, T0, &r->d, cust, repeat, &r->bl, &r->sc);
}

/* Scores a contact and releases the event. */
static void score_contact(const char *channel, int64_t wait_ms, int transfers,
                          const char *outcome, const struct sq_customer_ctx *cust, int repeat,
                          struct run *r)
{
    json_t *ev = contact(channel, wait_ms, transfers, outcome);
    run_contact(ev, cust, repeat, r);
    json_decref(ev);
}

static const struct sq_breach *find(const struct sq_breach_list *l, enum sq_breach_code code)
{
    for (int i = 0; i < l->n; i++)
        if (l->v[i].code == code)
            return &l->v[i];
    return NULL;
}

static void score_survey(json_t *ev, const struct sq_customer_ctx *cust, struct run *r)
{
    json_object_set_new(ev, "event_id", json_string("e-1"));
    sq_score_survey(&st, ev, T0, cust, &r->bl, &r->sc);
}

/* {"servqual": {dim: {"expected": e, "perceived": p}}} for one dimension. */
static json_t *survey1(const char *dim, int e, int p)
{
    return json_pack("{s:{s:{s:i, s:i}}}", "servqual", dim, "expected", e, "perceived", p);
}

static void score_qa(double qa, int nfatal, struct run *r)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:f}", "event_id", "e-1", "review_id", "R1",
                           "contact_id", "K1", "agent_id", "A7", "score", qa);
    json_t *fatal = json_array();
    for (int i = 0; i < nfatal; i++)
        json_array_append_new(fatal, json_string("greeting"));
    json_object_set_new(ev, "fatal_errors", fatal);
    sq_score_qa(&st, ev, T0, &standard, &r->bl, &r->sc);
    json_decref(ev);
}

/* ---- VIP and T -------------------------------------------------------- */

Test(score, vip_rule)
{
    cr_assert(sq_is_vip(&gold));
    cr_assert(sq_is_vip(&diamond));
    cr_assert(sq_is_vip(&enterprise), "enterprise without a profile tier is VIP");
    cr_assert_not(sq_is_vip(&silver));
    cr_assert_not(sq_is_vip(&standard));
    struct sq_customer_ctx unknown = {"unknown", false, NULL};
    cr_assert_not(sq_is_vip(&unknown));
    struct sq_customer_ctx silver_ent = {"silver", true, NULL};
    cr_assert(sq_is_vip(&silver_ent));
}

Test(score, answer_targets_per_channel)
{
    static const struct {
        const char *ch;
        double t, vip;
    } want[] = {{"voice", 20, 10},   {"chat", 30, 30},  {"app", 30, 30},   {"email", 86400, 86400},
                {"sms", 3600, 3600}, {"store", 900, 900}, {"social", 60, 60}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_assert_eq(sq_answer_threshold_s(&st, want[i].ch, false), want[i].t, "%s", want[i].ch);
        cr_assert_eq(sq_answer_threshold_s(&st, want[i].ch, true), want[i].vip, "%s vip",
                     want[i].ch);
    }
    set("sla.answer_s_vip.chat", "15");
    cr_assert_eq(sq_answer_threshold_s(&st, "chat", true), 15);
    cr_assert_eq(sq_answer_threshold_s(&st, "chat", false), 30);
    cr_assert_eq(sq_channel_parse("social"), SQ_CH_SOCIAL);
    cr_assert_eq(sq_channel_parse("fax"), -1);
}

/* ---- SLA_WAIT --------------------------------------------------------- */

Test(score, sla_wait_strictly_more_than_t)
{
    struct run r;
    /* voice, non-VIP: T = 20 s */
    score_contact("voice", 19000, 0, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    score_contact("voice", 20000, 0, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT), "a wait of exactly T is in time");
    score_contact("voice", 20001, 0, "resolved", &standard, 1, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_SLA_WAIT);
    cr_assert_not_null(b, "20.001 s > T");
    cr_assert_eq(b->value, 20.001);
    score_contact("voice", 21000, 0, "resolved", &standard, 1, &r);
    b = find(&r.bl, SQ_BREACH_SLA_WAIT);
    cr_assert_not_null(b);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert(b->has_value && b->has_threshold);
    cr_assert_eq(b->value, 21);
    cr_assert_eq(b->threshold, 20);
    cr_assert_eq(b->dim, SQ_DIM_RESPONSIVENESS);
    cr_assert_eq(b->occurred_ms, T0);
    cr_assert_str_eq(b->id_source, "e-1");
    /* email: T = 86400 */
    score_contact("email", 86400000, 0, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    score_contact("email", 86401000, 0, "resolved", &standard, 1, &r);
    cr_assert_not_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
}

Test(score, sla_wait_major_beyond_3t)
{
    struct run r;
    score_contact("voice", 59000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_MINOR);
    score_contact("voice", 60000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_MINOR, "3T is not > 3T");
    score_contact("voice", 61000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_MAJOR);
}

Test(score, sla_wait_vip_target_and_severity)
{
    struct run r;
    const struct sq_customer_ctx *vips[] = {&gold, &diamond, &enterprise};
    for (size_t i = 0; i < 3; i++) {
        /* voice VIP: T = 10, 3T = 30; severities one level up */
        score_contact("voice", 9000, 0, "resolved", vips[i], 1, &r);
        cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
        score_contact("voice", 10000, 0, "resolved", vips[i], 1, &r);
        cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
        score_contact("voice", 11000, 0, "resolved", vips[i], 1, &r);
        const struct sq_breach *b = find(&r.bl, SQ_BREACH_SLA_WAIT);
        cr_assert_not_null(b);
        cr_assert_eq(b->severity, SQ_SEV_MAJOR, "minor one level up");
        cr_assert_eq(b->threshold, 10, "the VIP T is the threshold");
        score_contact("voice", 30000, 0, "resolved", vips[i], 1, &r);
        cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_MAJOR);
        score_contact("voice", 31000, 0, "resolved", vips[i], 1, &r);
        cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_CRITICAL,
                     "major one level up");
        score_contact("voice", 1000000, 0, "resolved", vips[i], 1, &r);
        cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_CRITICAL, "capped");
    }
    /* silver is not VIP: T = 20 */
    score_contact("voice", 11000, 0, "resolved", &silver, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    /* chat: the VIP T equals the normal one, only the severity moves */
    score_contact("chat", 30000, 0, "resolved", &gold, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    score_contact("chat", 31000, 0, "resolved", &gold, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->severity, SQ_SEV_MAJOR);
}

Test(score, sla_wait_configured_target)
{
    struct run r;
    set("sla.answer_s.voice", "40");
    score_contact("voice", 40000, 0, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    score_contact("voice", 41000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SLA_WAIT)->threshold, 40);
}

/* ---- ABANDONED -------------------------------------------------------- */

Test(score, abandoned_short_is_no_breach_and_not_scored)
{
    struct run r;
    score_contact("voice", -4999, 0, NULL, &standard, 1, &r);
    cr_assert(r.d.short_abandon);
    cr_assert_eq(r.bl.n, 0);
    cr_assert_not(r.sc.has_quality);
    for (int i = 0; i < SQ_DIM__COUNT; i++)
        cr_assert_not(r.sc.has[i]);
    json_t *j = sq_score_json(&r.sc);
    char *s = json_dumps(j, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"dimensions\":{}}");
    free(s);
    json_decref(j);
}

Test(score, abandoned_at_threshold)
{
    struct run r;
    /* short_abandon_s = 5: a wait of exactly 5 s is not short */
    score_contact("voice", -5000, 0, NULL, &standard, 1, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_ABANDONED);
    cr_assert_not_null(b);
    cr_assert_eq(b->value, 5);
    cr_assert_eq(b->threshold, 5);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT), "not answered");
    score_contact("voice", -5001, 0, NULL, &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->value, 5.001);
    set("sla.short_abandon_s", "10");
    score_contact("voice", -9999, 0, NULL, &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_ABANDONED));
    score_contact("voice", -10000, 0, NULL, &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->threshold, 10);
}

Test(score, abandoned_severity_and_vip)
{
    struct run r;
    score_contact("voice", -60000, 0, NULL, &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->severity, SQ_SEV_MINOR);
    score_contact("voice", -61000, 0, NULL, &standard, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->severity, SQ_SEV_MAJOR);
    /* VIP voice: 3T = 30 */
    score_contact("voice", -30000, 0, NULL, &gold, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->severity, SQ_SEV_MAJOR);
    score_contact("voice", -31000, 0, NULL, &enterprise, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->severity, SQ_SEV_CRITICAL);
    cr_assert_eq(find(&r.bl, SQ_BREACH_ABANDONED)->threshold, 5,
                 "the threshold is short_abandon_s, not T");
}

Test(score, abandoned_scores_responsiveness_zero_only)
{
    struct run r;
    score_contact("voice", -8000, 3, NULL, &standard, 1, &r);
    cr_assert(r.sc.has[SQ_DIM_RESPONSIVENESS]);
    cr_assert_eq(r.sc.dim[SQ_DIM_RESPONSIVENESS], 0);
    cr_assert_not(r.sc.has[SQ_DIM_RELIABILITY]);
    cr_assert_not(r.sc.has[SQ_DIM_ASSURANCE]);
    cr_assert(r.sc.has_quality);
    cr_assert_eq(r.sc.quality, 0);
    json_t *j = sq_score_json(&r.sc);
    char *s = json_dumps(j, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"quality_score\":0,\"dimensions\":{\"responsiveness\":0}}");
    free(s);
    json_decref(j);
}

Test(score, callback_request_not_abandoned_not_scored)
{
    struct run r;
    score_contact("voice", -90000, 0, "callback", &standard, 1, &r);
    cr_assert(r.d.callback_request);
    cr_assert_null(find(&r.bl, SQ_BREACH_ABANDONED));
    cr_assert_null(find(&r.bl, SQ_BREACH_SLA_WAIT));
    cr_assert_not(r.sc.has_quality);
}

/* ---- REPEAT_CONTACT, TRANSFER_CHAIN, UNRESOLVED ------------------------- */

Test(score, repeat_contact_counts)
{
    struct run r;
    score_contact("voice", 1000, 0, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_REPEAT_CONTACT));
    cr_assert_not(r.d.repeat);
    score_contact("voice", 1000, 0, "resolved", &standard, 2, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_REPEAT_CONTACT);
    cr_assert_not_null(b);
    cr_assert(r.d.repeat);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert_eq(b->value, 2);
    cr_assert_eq(b->threshold, 2);
    cr_assert_eq(b->dim, SQ_DIM_RELIABILITY);
    score_contact("voice", 1000, 0, "resolved", &standard, 3, &r);
    b = find(&r.bl, SQ_BREACH_REPEAT_CONTACT);
    cr_assert_eq(b->severity, SQ_SEV_MAJOR, ">= 3 contacts in the window");
    cr_assert_eq(b->value, 3);
    score_contact("voice", 1000, 0, "resolved", &standard, 4, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_REPEAT_CONTACT)->severity, SQ_SEV_MAJOR);
    /* the VIP rule is not part of REPEAT_CONTACT */
    score_contact("voice", 1000, 0, "resolved", &gold, 2, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_REPEAT_CONTACT)->severity, SQ_SEV_MINOR);
    /* a repeat that was abandoned is still a repeat */
    score_contact("voice", -2000, 0, NULL, &standard, 2, &r);
    cr_assert_not_null(find(&r.bl, SQ_BREACH_REPEAT_CONTACT));
    cr_assert(r.d.repeat);
}

Test(score, repeat_window_bounds)
{
    const int64_t h = INT64_C(3600000);
    int64_t now = T0 + 100 * h;
    cr_assert(sq_repeat_in_window(&st, now, now - 72 * h), "exactly fcr.window_h: inside");
    cr_assert_not(sq_repeat_in_window(&st, now, now - 72 * h - 1));
    cr_assert(sq_repeat_in_window(&st, now, now - 1));
    cr_assert_not(sq_repeat_in_window(&st, now, now), "same arrived_at: not previous");
    cr_assert_not(sq_repeat_in_window(&st, now, now + 1), "later contact: not previous");
    set("fcr.window_h", "24");
    cr_assert(sq_repeat_in_window(&st, now, now - 24 * h));
    cr_assert_not(sq_repeat_in_window(&st, now, now - 24 * h - 1));
}

Test(score, transfer_chain_at_least_max)
{
    struct run r;
    score_contact("voice", 1000, 1, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_TRANSFER_CHAIN));
    score_contact("voice", 1000, 2, "resolved", &standard, 1, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_TRANSFER_CHAIN);
    cr_assert_not_null(b, "transfers >= max_transfers");
    cr_assert_eq(b->value, 2);
    cr_assert_eq(b->threshold, 2);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert_eq(b->dim, SQ_DIM_ASSURANCE);
    score_contact("voice", 1000, 3, "resolved", &gold, 1, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_TRANSFER_CHAIN)->value, 3);
    cr_assert_eq(find(&r.bl, SQ_BREACH_TRANSFER_CHAIN)->severity, SQ_SEV_MINOR);
    set("sla.max_transfers", "3");
    score_contact("voice", 1000, 2, "resolved", &standard, 1, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_TRANSFER_CHAIN));
}

Test(score, unresolved_has_null_value)
{
    struct run r;
    score_contact("voice", 1000, 0, "unresolved", &standard, 1, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_UNRESOLVED);
    cr_assert_not_null(b);
    cr_assert_not(b->has_value);
    cr_assert_not(b->has_threshold);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    const char *others[] = {"resolved", "escalated", "callback", NULL};
    for (size_t i = 0; i < 4; i++) {
        score_contact("voice", 1000, 0, others[i], &standard, 1, &r);
        cr_assert_null(find(&r.bl, SQ_BREACH_UNRESOLVED));
    }
}

Test(score, contact_breaches_in_table_order_with_ids)
{
    struct run r;
    score_contact("voice", 70000, 2, "unresolved", &standard, 2, &r);
    static const enum sq_breach_code want[] = {SQ_BREACH_SLA_WAIT, SQ_BREACH_REPEAT_CONTACT,
                                               SQ_BREACH_TRANSFER_CHAIN, SQ_BREACH_UNRESOLVED};
    cr_assert_eq(r.bl.n, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(r.bl.v[i].code, want[i], "position %d", i);
        char id[33];
        sq_breach_id_make("e-1", want[i], id);
        cr_assert_str_eq(r.bl.v[i].breach_id, id);
    }
    sq_breach_list_fini(&r.bl);
    cr_assert_eq(r.bl.n, 0);
    sq_breach_list_fini(&r.bl);
}

/* ---- contact scores (SPEC 5) ------------------------------------------ */

Test(score, contact_responsiveness_formula)
{
    struct run r;
    /* voice T = 20: 100 up to T, then 100(1 - (w - T)/60), 0 from 4T */
    score_contact("voice", 20000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_RESPONSIVENESS], 100);
    score_contact("voice", 35000, 0, "resolved", &standard, 1, &r);
    cr_assert(near(r.sc.dim[SQ_DIM_RESPONSIVENESS], 75)); /* 100(1 - 15/60) */
    score_contact("voice", 40000, 0, "resolved", &standard, 1, &r);
    cr_assert(near(r.sc.dim[SQ_DIM_RESPONSIVENESS], 200.0 / 3)); /* 100(1 - 20/60) */
    score_contact("voice", 80000, 0, "resolved", &standard, 1, &r);
    cr_assert(near(r.sc.dim[SQ_DIM_RESPONSIVENESS], 0));
    score_contact("voice", 200000, 0, "resolved", &standard, 1, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_RESPONSIVENESS], 0, "floor 0");
    /* VIP voice T = 10: 25 s -> 100(1 - 15/30) = 50 */
    score_contact("voice", 25000, 0, "resolved", &gold, 1, &r);
    cr_assert(near(r.sc.dim[SQ_DIM_RESPONSIVENESS], 50));
}

Test(score, contact_reliability_by_outcome_and_repeat)
{
    static const struct {
        const char *outcome;
        int repeat;
        double want;
    } cases[] = {{"resolved", 1, 100}, {"callback", 1, 60},  {"escalated", 1, 40},
                 {"unresolved", 1, 0}, {"resolved", 2, 50},  {"callback", 2, 10},
                 {"escalated", 3, 0},  {"unresolved", 2, 0}};
    struct run r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        score_contact("chat", 1000, 0, cases[i].outcome, &standard, cases[i].repeat, &r);
        cr_assert(r.sc.has[SQ_DIM_RELIABILITY]);
        cr_assert_eq(r.sc.dim[SQ_DIM_RELIABILITY], cases[i].want, "%s repeat %d",
                     cases[i].outcome, cases[i].repeat);
    }
    score_contact("chat", 1000, 0, NULL, &standard, 2, &r);
    cr_assert_not(r.sc.has[SQ_DIM_RELIABILITY], "no outcome: not scored on reliability");
}

Test(score, contact_assurance_by_transfers)
{
    static const double want[] = {100, 75, 50, 25, 0, 0};
    struct run r;
    for (int t = 0; t < 6; t++) {
        score_contact("voice", 1000, t, "resolved", &standard, 1, &r);
        cr_assert_eq(r.sc.dim[SQ_DIM_ASSURANCE], want[t], "transfers %d", t);
        sq_breach_list_fini(&r.bl);
    }
}

Test(score, contact_quality_weighted_mean)
{
    struct run r;
    /* wait 40 s (resp 200/3), resolved (100), 1 transfer (75):
     * (0.32*100 + 0.22*200/3 + 0.19*75) / (0.32 + 0.22 + 0.19) = 83.4474885... */
    score_contact("voice", 40000, 1, "resolved", &standard, 1, &r);
    double want = (0.32 * 100 + 0.22 * 200.0 / 3 + 0.19 * 75) / 0.73;
    cr_assert(near(r.sc.quality, want), "%.12f vs %.12f", r.sc.quality, want);
    json_t *j = sq_score_json(&r.sc);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    cr_assert_str_eq(s, "{\"quality_score\":83.4,\"dimensions\":{\"reliability\":100,"
                        "\"responsiveness\":66.7,\"assurance\":75}}");
    free(s);
    json_decref(j);
    /* no outcome: renormalised over responsiveness and assurance:
     * (0.22*100 + 0.19*50) / 0.41 = 31.5 / 0.41 = 76.829... */
    score_contact("voice", 20000, 2, NULL, &standard, 1, &r);
    cr_assert(near(r.sc.quality, 31.5 / 0.41));
    cr_assert_eq(sq_round1(r.sc.quality), 76.8);
    sq_breach_list_fini(&r.bl);
}

/* ---- surveys ---------------------------------------------------------- */

Test(score, survey_detractor_nps)
{
    struct run r;
    json_t *ev = json_pack("{s:i}", "nps", 7);
    score_survey(ev, &standard, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR));
    json_object_set_new(ev, "nps", json_integer(6));
    score_survey(ev, &standard, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR);
    cr_assert_not_null(b, "nps <= 6");
    cr_assert_eq(b->value, 6);
    cr_assert_eq(b->threshold, 6);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert_eq(b->dim, SQ_DIM_EMPATHY);
    json_object_set_new(ev, "nps", json_integer(5));
    score_survey(ev, &standard, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR)->value, 5);
    score_survey(ev, &gold, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR)->severity, SQ_SEV_MAJOR);
    score_survey(ev, &enterprise, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR)->severity, SQ_SEV_MAJOR);
    json_decref(ev);
}

Test(score, survey_detractor_csat)
{
    struct run r;
    json_t *ev = json_pack("{s:i}", "csat", 3);
    score_survey(ev, &standard, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR));
    json_object_set_new(ev, "csat", json_integer(2));
    score_survey(ev, &standard, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR);
    cr_assert_not_null(b, "csat <= 2");
    cr_assert_eq(b->value, 2);
    cr_assert_eq(b->threshold, 2);
    json_object_set_new(ev, "csat", json_integer(1));
    score_survey(ev, &diamond, &r);
    b = find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR);
    cr_assert_eq(b->value, 1);
    cr_assert_eq(b->severity, SQ_SEV_MAJOR);
    /* csat breaches but nps is given: value and threshold are nps's (SPEC 15) */
    json_object_set_new(ev, "nps", json_integer(9));
    score_survey(ev, &standard, &r);
    b = find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR);
    cr_assert_not_null(b);
    cr_assert_eq(b->value, 9);
    cr_assert_eq(b->threshold, 6);
    /* neither: nps 7, csat 3 */
    json_object_set_new(ev, "nps", json_integer(7));
    json_object_set_new(ev, "csat", json_integer(3));
    score_survey(ev, &standard, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SURVEY_DETRACTOR));
    json_decref(ev);
}

Test(score, servqual_gap_threshold)
{
    struct run r;
    json_t *ev = survey1("reliability", 7, 6); /* gap -1 */
    score_survey(ev, &standard, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_SERVQUAL_GAP));
    json_decref(ev);
    ev = survey1("tangibles", 7, 5); /* gap -2: at the threshold */
    score_survey(ev, &gold, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_SERVQUAL_GAP);
    cr_assert_not_null(b);
    cr_assert_eq(b->value, -2);
    cr_assert_eq(b->threshold, -2);
    cr_assert_eq(b->dim, SQ_DIM_TANGIBLES);
    cr_assert_eq(b->severity, SQ_SEV_MINOR, "no VIP rule for SERVQUAL_GAP");
    char *s = json_dumps(b->details, JSON_COMPACT);
    cr_assert_str_eq(s, "[\"tangibles\"]");
    free(s);
    sq_breach_list_fini(&r.bl);
    json_decref(ev);
    ev = survey1("empathy", 6, 3); /* gap -3 */
    score_survey(ev, &standard, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_SERVQUAL_GAP)->value, -3);
    sq_breach_list_fini(&r.bl);
    json_decref(ev);
}

Test(score, servqual_gap_worst_dimension_and_ties)
{
    struct run r;
    /* empathy -3, responsiveness -3, assurance -1, reliability -2:
     * worst -3, tie broken by weight order -> responsiveness */
    json_t *ev = json_pack("{s:{s:{s:i,s:i}, s:{s:i,s:i}, s:{s:i,s:i}, s:{s:i,s:i}}}",
                           "servqual", "empathy", "expected", 7, "perceived", 4,
                           "responsiveness", "expected", 5, "perceived", 2, "assurance",
                           "expected", 4, "perceived", 3, "reliability", "expected", 3,
                           "perceived", 1);
    score_survey(ev, &standard, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_SERVQUAL_GAP);
    cr_assert_not_null(b);
    cr_assert_eq(b->dim, SQ_DIM_RESPONSIVENESS);
    cr_assert_eq(b->value, -3);
    char *s = json_dumps(b->details, JSON_COMPACT);
    cr_assert_str_eq(s, "[\"reliability\",\"responsiveness\",\"empathy\"]");
    free(s);
    sq_breach_list_fini(&r.bl);
    /* a strictly worse gap wins whatever its weight */
    json_object_set_new(json_object_get(ev, "servqual"), "tangibles",
                        json_pack("{s:i,s:i}", "expected", 7, "perceived", 2));
    score_survey(ev, &standard, &r);
    b = find(&r.bl, SQ_BREACH_SERVQUAL_GAP);
    cr_assert_eq(b->dim, SQ_DIM_TANGIBLES);
    cr_assert_eq(b->value, -5);
    sq_breach_list_fini(&r.bl);
    json_decref(ev);
}

Test(score, survey_breaches_in_order)
{
    struct run r;
    json_t *ev = survey1("assurance", 7, 1);
    json_object_set_new(ev, "nps", json_integer(0));
    score_survey(ev, &standard, &r);
    cr_assert_eq(r.bl.n, 2);
    cr_assert_eq(r.bl.v[0].code, SQ_BREACH_SURVEY_DETRACTOR);
    cr_assert_eq(r.bl.v[1].code, SQ_BREACH_SERVQUAL_GAP);
    sq_breach_list_fini(&r.bl);
    json_decref(ev);
}

Test(score, survey_dimension_scores)
{
    struct run r;
    /* clamp(50 + gap * 50/6, 0, 100) */
    static const struct {
        int e, p;
        double want;
    } cases[] = {{4, 4, 50}, {1, 7, 100}, {7, 1, 0}, {4, 5, 50 + 50.0 / 6},
                 {6, 3, 25}, {0, 7, 100}, {7, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *ev = survey1("assurance", cases[i].e, cases[i].p);
        score_survey(ev, &standard, &r);
        cr_assert(r.sc.has[SQ_DIM_ASSURANCE]);
        cr_assert(near(r.sc.dim[SQ_DIM_ASSURANCE], cases[i].want), "e %d p %d: %f",
                  cases[i].e, cases[i].p, r.sc.dim[SQ_DIM_ASSURANCE]);
        cr_assert_not(r.sc.has[SQ_DIM_EMPATHY]);
        cr_assert(near(r.sc.quality, cases[i].want), "one dimension: quality is it");
        sq_breach_list_fini(&r.bl);
        json_decref(ev);
    }
    /* 4 -> 5: 58.333..., written 58.3 */
    json_t *ev = survey1("reliability", 4, 5);
    score_survey(ev, &standard, &r);
    cr_assert_eq(sq_round1(r.sc.dim[SQ_DIM_RELIABILITY]), 58.3);
    json_decref(ev);
}

Test(score, survey_empathy_from_csat_or_nps)
{
    struct run r;
    json_t *ev = json_pack("{s:i}", "csat", 4);
    score_survey(ev, &standard, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_EMPATHY], 75); /* (4-1)*25 */
    json_object_set_new(ev, "nps", json_integer(10));
    json_object_set_new(ev, "csat", json_integer(1));
    score_survey(ev, &standard, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_EMPATHY], 0, "csat first, nps only without csat");
    sq_breach_list_fini(&r.bl);
    json_object_del(ev, "csat");
    json_object_set_new(ev, "nps", json_integer(8));
    score_survey(ev, &standard, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_EMPATHY], 80); /* 8*10 */
    /* servqual's empathy wins over csat */
    json_object_set_new(ev, "csat", json_integer(5));
    json_object_set_new(ev, "servqual",
                        json_pack("{s:{s:i,s:i}}", "empathy", "expected", 4, "perceived", 4));
    score_survey(ev, &standard, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_EMPATHY], 50);
    json_decref(ev);
    /* servqual reliability 50 and csat 5 -> empathy 100:
     * (0.32*50 + 0.16*100) / 0.48 = 66.666... -> 66.7 */
    ev = survey1("reliability", 3, 3);
    json_object_set_new(ev, "csat", json_integer(5));
    score_survey(ev, &standard, &r);
    cr_assert(near(r.sc.quality, 32.0 / 0.48));
    cr_assert_eq(sq_round1(r.sc.quality), 66.7);
    json_decref(ev);
}

/* ---- QA reviews ------------------------------------------------------- */

Test(score, qa_low_strictly_below_min)
{
    struct run r;
    score_qa(61, 0, &r);
    cr_assert_eq(r.bl.n, 0);
    score_qa(60, 0, &r);
    cr_assert_eq(r.bl.n, 0, "score == min_score is not low");
    score_qa(59.5, 0, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_QA_LOW);
    cr_assert_not_null(b);
    cr_assert_eq(b->value, 59.5);
    cr_assert_eq(b->threshold, 60);
    cr_assert_eq(b->severity, SQ_SEV_MINOR);
    cr_assert_eq(b->dim, SQ_DIM_ASSURANCE);
    score_qa(59, 0, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_QA_LOW)->value, 59);
    set("qa.min_score", "80");
    score_qa(79, 0, &r);
    cr_assert_eq(find(&r.bl, SQ_BREACH_QA_LOW)->threshold, 80);
    score_qa(80, 0, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_QA_LOW));
}

Test(score, qa_fatal)
{
    struct run r;
    score_qa(95, 0, &r);
    cr_assert_null(find(&r.bl, SQ_BREACH_QA_FATAL));
    cr_assert_eq(r.sc.dim[SQ_DIM_ASSURANCE], 95);
    score_qa(95, 1, &r);
    const struct sq_breach *b = find(&r.bl, SQ_BREACH_QA_FATAL);
    cr_assert_not_null(b);
    cr_assert_eq(b->value, 1);
    cr_assert_eq(b->threshold, 0);
    cr_assert_eq(b->severity, SQ_SEV_MAJOR);
    cr_assert_eq(r.sc.dim[SQ_DIM_ASSURANCE], 0, "any fatal error: 0");
    cr_assert_eq(r.sc.quality, 0);
    score_qa(40, 2, &r);
    cr_assert_eq(r.bl.n, 2);
    cr_assert_eq(r.bl.v[0].code, SQ_BREACH_QA_FATAL);
    cr_assert_eq(r.bl.v[0].value, 2);
    cr_assert_eq(r.bl.v[1].code, SQ_BREACH_QA_LOW);
    cr_assert_eq(r.bl.v[1].value, 40);
}

Test(score, qa_score_is_assurance)
{
    struct run r;
    score_qa(87.25, 0, &r);
    cr_assert_eq(r.sc.dim[SQ_DIM_ASSURANCE], 87.25);
    cr_assert_eq(r.sc.quality, 87.25);
    json_t *j = sq_score_json(&r.sc);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    cr_assert_str_eq(s, "{\"quality_score\":87.3,\"dimensions\":{\"assurance\":87.3}}");
    free(s);
    json_decref(j);
}

/* ---- rounding and weights --------------------------------------------- */

Test(score, round_half_away_from_zero)
{
    cr_assert_eq(sq_round1(0.25), 0.3);
    cr_assert_eq(sq_round1(-0.25), -0.3);
    cr_assert_eq(sq_round1(12.75), 12.8);
    cr_assert_eq(sq_round1(12.74), 12.7);
    cr_assert_eq(sq_round1(66.66666), 66.7);
    cr_assert_eq(sq_round1(-12.75), -12.8);
    cr_assert_eq(sq_round1(0.05), 0.1); /* 0.05 * 10 rounds to 0.5 in binary, then away from 0 */
    cr_assert_eq(sq_round1(100), 100);
    cr_assert_eq(sq_round1(0.04), 0);
}

Test(score, weights_renormalised_over_present_dims)
{
    struct sq_score sc;
    memset(&sc, 0, sizeof sc);
    sq_score_finish(&st, &sc);
    cr_assert_not(sc.has_quality, "no dimension: no quality");
    sc.has[SQ_DIM_EMPATHY] = true;
    sc.dim[SQ_DIM_EMPATHY] = 40;
    sc.has[SQ_DIM_TANGIBLES] = true;
    sc.dim[SQ_DIM_TANGIBLES] = 90;
    sq_score_finish(&st, &sc);
    /* (0.16*40 + 0.11*90) / 0.27 = 16.3 / 0.27 = 60.370... */
    cr_assert(near(sc.quality, 16.3 / 0.27));
    cr_assert_eq(sq_round1(sc.quality), 60.4);
    /* every dimension: the weights sum to 1 */
    double v[SQ_DIM__COUNT] = {100, 50, 80, 40, 90};
    for (int i = 0; i < SQ_DIM__COUNT; i++) {
        sc.has[i] = true;
        sc.dim[i] = v[i];
    }
    sq_score_finish(&st, &sc);
    cr_assert(near(sc.quality, 32 + 11 + 15.2 + 6.4 + 9.9)); /* 74.5 */
    /* configured weights */
    set("score.weights.reliability", "3");
    set("score.weights.responsiveness", "1");
    set("score.weights.assurance", "0");
    set("score.weights.empathy", "0");
    set("score.weights.tangibles", "0");
    sq_score_finish(&st, &sc);
    cr_assert(near(sc.quality, (300 + 50) / 4.0));
    /* only zero-weight dimensions present: their plain mean */
    sc.has[SQ_DIM_RELIABILITY] = sc.has[SQ_DIM_RESPONSIVENESS] = false;
    sq_score_finish(&st, &sc);
    cr_assert(sc.has_quality);
    cr_assert(near(sc.quality, (80 + 40 + 90) / 3.0));
}

Test(score, score_config_keys)
{
    cr_assert_eq(st.sla_max_transfers, 2);
    cr_assert_eq(st.fcr_window_h, 72);
    cr_assert_eq(st.qa_min_score, 60);
    cr_assert_eq(st.cx_half_life_days, 30);
    cr_assert_eq(st.score_weights[SQ_DIM_RELIABILITY], 0.32);
    cr_assert_eq(st.score_weights[SQ_DIM_RESPONSIVENESS], 0.22);
    cr_assert_eq(st.score_weights[SQ_DIM_ASSURANCE], 0.19);
    cr_assert_eq(st.score_weights[SQ_DIM_EMPATHY], 0.16);
    cr_assert_eq(st.score_weights[SQ_DIM_TANGIBLES], 0.11);
    set("cx.half_life_days", "7.5");
    cr_assert_eq(st.cx_half_life_days, 7.5);
    set("score.weights.empathy", "1e-1");
    cr_assert_eq(st.score_weights[SQ_DIM_EMPATHY], 0.1);
    static const char *const bad[] = {"abc", "nan", "inf", "0x1p2", "-0.5", "", " 1", "1e999"};
    struct sq_config_errors errs = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(sq_config_set(&st, "score.weights.empathy", bad[i], &errs), -1, "%s",
                     bad[i]);
    cr_assert_eq(errs.n, sizeof bad / sizeof bad[0]);
    cr_assert_not_null(strstr(errs.msgs[0], "score.weights.empathy: expected a number"),
                       "%s", errs.msgs[0]);
    cr_assert_not_null(strstr(errs.msgs[4], "must be between 0 and 1000"), "%s", errs.msgs[4]);
    cr_assert_eq(st.score_weights[SQ_DIM_EMPATHY], 0.1, "a refused value changes nothing");
    cr_assert_eq(sq_config_set(&st, "cx.half_life_days", "0", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "sla.answer_s.voice", "0", &errs), -1, "T > 0");
    sq_config_errors_fini(&errs);
    char *env = sq_config_env_name_dup("sla.answer_s_vip.voice");
    cr_assert_str_eq(env, "SQGATE_SLA__ANSWER_S_VIP__VOICE");
    free(env);
}

/* ---- cx_index ----------------------------------------------------------- */

Test(score, cx_decay_hand_example)
{
    struct sq_cx cx = {0};
    cr_assert(isnan(sq_cx_value(&cx)));
    /* H = 30 days. 80 at day 0, then 40 at day 30: the first is worth 1/2:
     * (80/2 + 40) / (1/2 + 1) = 80 / 1.5 */
    sq_cx_add(&cx, T0, 80, 30);
    cr_assert_eq(sq_cx_value(&cx), 80);
    sq_cx_add(&cx, T0 + 30 * DAY, 40, 30);
    cr_assert(near(cx.num, 80));
    cr_assert(near(cx.den, 1.5));
    cr_assert_eq(cx.t0_ms, T0 + 30 * DAY);
    cr_assert(near(sq_cx_value(&cx), 160.0 / 3));
    /* 100 at day 60: num 80/2 + 100 = 140, den 1.5/2 + 1 = 1.75 -> 80 */
    sq_cx_add(&cx, T0 + 60 * DAY, 100, 30);
    cr_assert(near(sq_cx_value(&cx), 80));
    /* a late event at day 0 again (score 20) weighs 2^-2: num 145, den 2 */
    sq_cx_add(&cx, T0, 20, 30);
    cr_assert(near(cx.num, 145));
    cr_assert(near(cx.den, 2));
    cr_assert_eq(cx.t0_ms, T0 + 60 * DAY, "t0 stays at the latest event");
    cr_assert(near(sq_cx_value(&cx), 72.5));

    /* reversed arrival gives the same state */
    struct sq_cx rev = {0};
    sq_cx_add(&rev, T0 + 30 * DAY, 40, 30);
    sq_cx_add(&rev, T0, 80, 30);
    cr_assert(near(rev.num, 80) && near(rev.den, 1.5));
}

Test(score, cx_order_free)
{
    static const int64_t t[] = {0, 3 * DAY + 17, 3 * DAY + 17, 45 * DAY, 46 * DAY + 5000,
                                10 * DAY, 200 * DAY, 1, 90 * DAY};
    static const double s[] = {80, 0, 100, 55.5, 72.25, 13, 99.9, 42, 66.7};
    enum { N = sizeof t / sizeof t[0] };
    struct sq_cx ref = {0};
    for (int i = 0; i < N; i++)
        sq_cx_add(&ref, T0 + t[i], s[i], 30);
    double want = sq_cx_value(&ref);
    cr_assert(want > 0 && want < 100);
    /* 200 pseudo-random orders (a fixed LCG, so the test is repeatable) */
    unsigned long long seed = 12345;
    for (int round = 0; round < 200; round++) {
        int idx[N];
        for (int i = 0; i < N; i++)
            idx[i] = i;
        for (int i = N - 1; i > 0; i--) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int j = (int)((seed >> 33) % (unsigned long long)(i + 1));
            int tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        struct sq_cx cx = {0};
        for (int i = 0; i < N; i++)
            sq_cx_add(&cx, T0 + t[idx[i]], s[idx[i]], 30);
        double got = sq_cx_value(&cx);
        cr_assert(fabs(got - want) <= 1e-9 * fabs(want), "order %d: %.17g vs %.17g", round, got,
                  want);
        cr_assert_eq(cx.t0_ms, T0 + 200 * DAY);
    }
}

/* ---- breach records ----------------------------------------------------- */

Test(score, breach_id_deterministic)
{
    char a[33], b[33], c[33], d[33];
    sq_breach_id_make("e-1", SQ_BREACH_SLA_WAIT, a);
    sq_breach_id_make("e-1", SQ_BREACH_SLA_WAIT, b);
    sq_breach_id_make("e-2", SQ_BREACH_SLA_WAIT, c);
    sq_breach_id_make("e-1", SQ_BREACH_ABANDONED, d);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_str_neq(a, d);
    /* printf 'e-1|SLA_WAIT' | sha256sum | cut -c1-32 */
    cr_assert_str_eq(a, "482bef9d2f1976cac92f6c881e0488c0");
    cr_assert_str_eq(d, "f6939b39b45b4579687b8cc4f724fab8");
    /* the longest event_id the schema admits (128 characters of 3 bytes)
     * is hashed whole: python3 hashlib, ("\u20ac" * 128 + "|SLA_WAIT") */
    char longid[3 * 128 + 1] = "", e[33];
    for (int i = 0; i < 128; i++)
        strcat(longid, "\xe2\x82\xac");
    sq_breach_id_make(longid, SQ_BREACH_SLA_WAIT, e);
    cr_assert_str_eq(e, "d213f40e83be8877ca0fa27e0dfa66d7");
    /* the same event scored twice gives the same ids */
    struct run r1, r2;
    score_contact("voice", -90000, 0, NULL, &standard, 1, &r1);
    score_contact("voice", -90000, 0, NULL, &standard, 1, &r2);
    cr_assert_str_eq(r1.bl.v[0].breach_id, r2.bl.v[0].breach_id);
    cr_assert_str_eq(r1.bl.v[0].breach_id, d);
}

static char *dump(json_t *rec)
{
    char *s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(rec);
    return s;
}

Test(score, breach_record_contact)
{
    struct run r;
    json_t *ev = contact("voice", 21500, 0, "resolved");
    run_contact(ev, &standard, 1, &r);
    cr_assert_eq(r.bl.n, 1);
    char *s = dump(sq_breach_record(&r.bl.v[0], "e-1", "C1", &standard, ev, T0 + 123456));
    cr_assert_str_eq(s, "{\"breach_id\":\"482bef9d2f1976cac92f6c881e0488c0\","
                        "\"code\":\"SLA_WAIT\",\"severity\":\"minor\","
                        "\"dimension\":\"responsiveness\",\"event_id\":\"e-1\","
                        "\"customer_id\":\"C1\",\"tier\":\"standard\",\"region\":\"GD-SZ\","
                        "\"queue\":\"Q1\",\"agent_id\":\"A7\",\"value\":21.5,\"threshold\":20,"
                        "\"occurred_at\":\"2026-11-25T00:00:00.000Z\","
                        "\"detected_at\":\"2026-11-25T00:02:03.456Z\"}");
    free(s);
    json_decref(ev);
}

Test(score, breach_record_null_values_and_abandon)
{
    struct run r;
    /* abandoned after 7.25 s with outcome unresolved given anyway: ABANDONED
     * (value 7.25, threshold 5) then UNRESOLVED (null / null) */
    json_t *ev = contact("chat", -7250, 0, "unresolved");
    run_contact(ev, &enterprise, 1, &r);
    cr_assert_eq(r.bl.n, 2);
    char *s = dump(sq_breach_record(&r.bl.v[0], "e-1", "C1", &enterprise, ev, T0));
    cr_assert_str_eq(s, "{\"breach_id\":\"f6939b39b45b4579687b8cc4f724fab8\","
                        "\"code\":\"ABANDONED\",\"severity\":\"major\","
                        "\"dimension\":\"responsiveness\",\"event_id\":\"e-1\","
                        "\"customer_id\":\"C1\",\"tier\":\"unknown\",\"region\":null,"
                        "\"queue\":\"Q1\",\"value\":7.25,\"threshold\":5,"
                        "\"occurred_at\":\"2026-11-25T00:00:00.000Z\","
                        "\"detected_at\":\"2026-11-25T00:00:00.000Z\"}");
    free(s);
    json_t *rec = sq_breach_record(&r.bl.v[1], "e-1", "C1", &enterprise, ev, T0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "code")), "UNRESOLVED");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "dimension")), "reliability");
    cr_assert(json_is_null(json_object_get(rec, "value")));
    cr_assert(json_is_null(json_object_get(rec, "threshold")));
    cr_assert_null(json_object_get(rec, "agent_id"), "never answered: no agent_id");
    cr_assert_null(json_object_get(rec, "details"));
    json_decref(rec);
    sq_breach_list_fini(&r.bl);
    json_decref(ev);
}

Test(score, breach_record_number_forms)
{
    struct run r;
    /* 20.001 s: a real in its shortest form; 3 transfers: an integer */
    json_t *ev = contact("voice", 20001, 3, "resolved");
    run_contact(ev, &standard, 1, &r);
    cr_assert_eq(r.bl.n, 2);
    json_t *rec = sq_breach_record(&r.bl.v[0], "e-1", "C1", &standard, ev, T0);
    cr_assert(json_is_real(json_object_get(rec, "value")));
    cr_assert(json_is_integer(json_object_get(rec, "threshold")));
    char *s = dump(rec);
    cr_assert_not_null(strstr(s, "\"value\":20.001,\"threshold\":20,"), "%s", s);
    free(s);
    rec = sq_breach_record(&r.bl.v[1], "e-1", "C1", &standard, ev, T0);
    cr_assert(json_is_integer(json_object_get(rec, "value")));
    s = dump(rec);
    cr_assert_not_null(strstr(s, "\"code\":\"TRANSFER_CHAIN\""), "%s", s);
    cr_assert_not_null(strstr(s, "\"dimension\":\"assurance\""), "%s", s);
    cr_assert_not_null(strstr(s, "\"value\":3,\"threshold\":2,"), "%s", s);
    free(s);
    json_decref(ev);
}

Test(score, breach_record_servqual_gap)
{
    struct run r;
    json_t *ev = json_pack("{s:s, s:s, s:{s:{s:i,s:i}, s:{s:i,s:i}}}", "survey_id", "S1",
                           "ticket_id", "T9", "servqual", "empathy", "expected", 7,
                           "perceived", 4, "responsiveness", "expected", 5, "perceived", 2);
    score_survey(ev, &gold, &r);
    cr_assert_eq(r.bl.n, 1);
    char *s = dump(sq_breach_record(&r.bl.v[0], "e-1", "C1", &gold, ev, T0 + 1));
    char id[33];
    sq_breach_id_make("e-1", SQ_BREACH_SERVQUAL_GAP, id);
    char *want = sq_xasprintf(
        "{\"breach_id\":\"%s\",\"code\":\"SERVQUAL_GAP\",\"severity\":\"minor\","
        "\"dimension\":\"responsiveness\",\"event_id\":\"e-1\",\"customer_id\":\"C1\","
        "\"tier\":\"gold\",\"region\":\"GD-SZ\",\"ticket_id\":\"T9\",\"value\":-3,"
        "\"threshold\":-2,\"occurred_at\":\"2026-11-25T00:00:00.000Z\","
        "\"detected_at\":\"2026-11-25T00:00:00.001Z\","
        "\"details\":[\"responsiveness\",\"empathy\"]}",
        id);
    cr_assert_str_eq(s, want);
    free(want);
    free(s);
    /* the record holds its own copy of details: it outlives the list */
    json_t *rec = sq_breach_record(&r.bl.v[0], "e-1", "C1", &gold, ev, T0 + 1);
    sq_breach_list_fini(&r.bl);
    cr_assert_eq(json_array_size(json_object_get(rec, "details")), 2);
    json_decref(rec);
    json_decref(ev);
}

Test(score, breach_record_qa)
{
    struct run r;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[s,s,s]}", "event_id", "q-7",
                           "review_id", "R1", "contact_id", "K1", "agent_id", "A9", "score",
                           30, "fatal_errors", "a", "b", "c");
    sq_score_qa(&st, ev, T0 + 999, &silver, &r.bl, &r.sc);
    cr_assert_eq(r.bl.n, 2);
    cr_assert_eq(r.bl.v[0].occurred_ms, T0 + 999);
    cr_assert_str_eq(r.bl.v[0].id_source, "q-7");
    char *s = dump(sq_breach_record(&r.bl.v[0], "q-7", "C1", &silver, ev, T0 + 1000));
    char id[33];
    sq_breach_id_make("q-7", SQ_BREACH_QA_FATAL, id);
    char *want = sq_xasprintf(
        "{\"breach_id\":\"%s\",\"code\":\"QA_FATAL\",\"severity\":\"major\","
        "\"dimension\":\"assurance\",\"event_id\":\"q-7\",\"customer_id\":\"C1\","
        "\"tier\":\"silver\",\"region\":\"GD-SZ\",\"agent_id\":\"A9\",\"value\":3,"
        "\"threshold\":0,\"occurred_at\":\"2026-11-25T00:00:00.999Z\","
        "\"detected_at\":\"2026-11-25T00:00:01.000Z\"}",
        id);
    cr_assert_str_eq(s, want);
    free(want);
    free(s);
    s = dump(sq_breach_record(&r.bl.v[1], "q-7", "C1", &silver, ev, T0 + 1000));
    cr_assert_not_null(strstr(s, "\"code\":\"QA_LOW\",\"severity\":\"minor\""), "%s", s);
    cr_assert_not_null(strstr(s, "\"value\":30,\"threshold\":60,"), "%s", s);
    free(s);
    json_decref(ev);
}
