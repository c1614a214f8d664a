/* test_tickets.c: unit tests of processors/tickets.c: the ticket lifecycle
 * out of order, TICKET_ACK_LATE / TICKET_OVERDUE / TICKET_REOPENED /
 * REGULATOR_ESCALATION as SPEC 4 and 15 fix them, the ticket score of SPEC
 * 5 with hand-computed numbers, timer effects, and the stored JSON form. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "breach.h"
#include "config.h"
#include "settings.h"
#include "tickets.h"

#define H INT64_C(3600000)
#define T0 INT64_C(1795564800000) /* 2026-11-25T00:00:00Z */

static struct sq_settings st;

static void setup(void)
{
    sq_settings_defaults(&st);
}

static void teardown(void)
{
    sq_settings_free(&st);
}

TestSuite(tickets, .init = setup, .fini = teardown);

/* Applies one ticket.v1 event of ticket "T1" (category billing, region
 * GD-SZ) and returns sq_ticket_apply's result. */
static int apply_ex(struct sq_ticket *t, const char *kind, int sev, const char *status,
                    int64_t ms, const char *event_id, const char *tier, bool enterprise,
                    struct sq_ticket_effects *out)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "schema", "ticket.v1",
                           "event_id", event_id, "ticket_id", "T1", "kind", kind, "severity",
                           sev, "category", "billing", "status", status);
    cr_assert_not_null(ev);
    int rc = sq_ticket_apply(t, &st, ev, ms, event_id, tier, enterprise, "GD-SZ", out);
    json_decref(ev);
    return rc;
}

static void apply(struct sq_ticket *t, const char *kind, int sev, const char *status,
                  int64_t ms, const char *event_id, struct sq_ticket_effects *out)
{
    cr_assert_eq(apply_ex(t, kind, sev, status, ms, event_id, "standard", false, out), 0,
                 "apply %s %s", status, event_id);
}

static const struct sq_breach *find(const struct sq_ticket_effects *out,
                                    enum sq_breach_code code, int *idx)
{
    for (int i = 0; i < out->n_breaches; i++) {
        if (out->breaches[i].code == code) {
            if (idx)
                *idx = i;
            return &out->breaches[i];
        }
    }
    return NULL;
}

static void expect_id(const struct sq_breach *b, const char *src)
{
    char id[33];
    sq_breach_id_make(src, b->code, id);
    cr_assert_str_eq(b->id_source, src);
    cr_assert_str_eq(b->breach_id, id);
}

Test(tickets, config_defaults_and_keys)
{
    cr_assert_eq(st.tickets_ack_h[SQ_TICKET_COMPLAINT], 24);
    cr_assert_eq(st.tickets_ack_h[SQ_TICKET_FAULT], 4);
    cr_assert_eq(st.tickets_ack_h[SQ_TICKET_INQUIRY], 24);
    static const int64_t res[3][4] = {{120, 120, 120, 120}, {4, 24, 48, 72}, {72, 72, 72, 72}};
    for (int k = 0; k < 3; k++)
        for (int s = 0; s < 4; s++)
            cr_assert_eq(st.tickets_resolve_h[k][s], res[k][s], "kind %d sev %d", k, s + 1);
    cr_assert_eq(st.windows_grace_s, 1800);
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_set(&st, "tickets.resolve_h.fault.sev3", "50", &errs), 0);
    cr_assert_eq(sq_config_set(&st, "tickets.ack_h.inquiry", "30", &errs), 0);
    cr_assert_eq(st.tickets_resolve_h[SQ_TICKET_FAULT][2], 50);
    cr_assert_eq(st.tickets_resolve_h[SQ_TICKET_FAULT][1], 24, "the neighbour is untouched");
    cr_assert_eq(st.tickets_ack_h[SQ_TICKET_INQUIRY], 30);
    cr_assert_eq(sq_config_set(&st, "tickets.ack_h.fault", "-1", &errs), -1);
    sq_config_errors_fini(&errs);
}

Test(tickets, in_time_lifecycle)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    cr_assert_eq(sq_ticket_open_count(&t), 0);

    apply(&t, "fault", 2, "opened", T0, "E1", &out);
    cr_assert(out.opened_now);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 24 * H);
    cr_assert_eq(out.timer_opening, 1);
    cr_assert_eq(out.open_delta, 1);
    cr_assert_eq(sq_ticket_open_count(&t), 1);
    cr_assert(!out.scored && !out.resolved_now);

    apply(&t, "fault", 2, "acknowledged", T0 + 4 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 0, "exactly at the ack deadline is in time");
    cr_assert(!out.timer_set && !out.timer_cancel);
    cr_assert_eq(out.open_delta, 0);
    cr_assert_eq(t.acknowledged_ms, T0 + 4 * H);

    apply(&t, "fault", 2, "updated", T0 + 5 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert(!out.scored);

    apply(&t, "fault", 2, "resolved", T0 + 24 * H, "E4", &out);
    cr_assert_eq(out.n_breaches, 0, "exactly at the resolve deadline is in time");
    cr_assert(out.resolved_now && out.scored);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9);
    cr_assert(out.timer_cancel && !out.timer_set);
    cr_assert_eq(out.open_delta, -1);
    cr_assert_eq(sq_ticket_open_count(&t), 0);

    /* closed after resolved is not a second resolution */
    apply(&t, "fault", 2, "closed", T0 + 30 * H, "E5", &out);
    cr_assert(!out.resolved_now && !out.scored && !out.opened_now);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_eq(t.cur.resolved_ms, T0 + 24 * H);
}

/* complaint: ack_h 24. One hour before, at, and one hour after. */
static void ack_at(int64_t delay_ms, bool late)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "complaint", 3, "opened", T0, "E1", &out);
    apply(&t, "complaint", 3, "acknowledged", T0 + delay_ms, "E-ack", &out);
    const struct sq_breach *b = find(&out, SQ_BREACH_TICKET_ACK_LATE, NULL);
    cr_assert_eq(b != NULL, late, "delay %lld ms", (long long)delay_ms);
    if (late) {
        cr_assert_eq(out.n_breaches, 1);
        cr_assert_eq(b->severity, SQ_SEV_MAJOR);
        cr_assert_eq(b->dim, SQ_DIM_RESPONSIVENESS);
        cr_assert(b->has_value && b->has_threshold);
        cr_assert_float_eq(b->value, (double)delay_ms / (double)H, 1e-12);
        cr_assert_float_eq(b->threshold, 24.0, 1e-12);
        cr_assert_eq(b->occurred_ms, T0 + delay_ms);
        cr_assert_str_eq(out.src[0].event_id, "E-ack");
        expect_id(b, "E-ack");
    }
}

Test(tickets, ack_late_threshold_is_strict)
{
    ack_at(23 * H, false);
    ack_at(24 * H, false);
    ack_at(24 * H + 1, true);
    ack_at(25 * H, true);
}

Test(tickets, ack_late_once_per_ticket)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "fault", 3, "opened", T0, "E1", &out);
    apply(&t, "fault", 3, "acknowledged", T0 + 5 * H, "E2", &out);
    cr_assert_not_null(find(&out, SQ_BREACH_TICKET_ACK_LATE, NULL));
    cr_assert_float_eq(out.breaches[0].value, 5.0, 1e-12);
    apply(&t, "fault", 3, "acknowledged", T0 + 9 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_eq(t.acknowledged_ms, T0 + 5 * H, "the first acknowledgement stands");
    apply(&t, "fault", 3, "resolved", T0 + 10 * H, "E4", &out);
    cr_assert_null(find(&out, SQ_BREACH_TICKET_ACK_LATE, NULL));
    cr_assert(out.scored);
    cr_assert_float_eq(out.responsiveness, 50.0, 1e-9);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9, "10 h <= fault sev3 48 h");
    /* reopen: the ack deadline does not restart */
    apply(&t, "fault", 3, "reopened", T0 + 60 * H, "E5", &out);
    apply(&t, "fault", 3, "acknowledged", T0 + 70 * H, "E6", &out);
    cr_assert_null(find(&out, SQ_BREACH_TICKET_ACK_LATE, NULL));
}

Test(tickets, resolved_before_acknowledged)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "fault", 2, "opened", T0, "E1", &out);
    /* fault: ack 4 h, sev2 resolve 24 h; resolved at 6 h, never acknowledged */
    apply(&t, "fault", 2, "resolved", T0 + 6 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 1);
    const struct sq_breach *b = find(&out, SQ_BREACH_TICKET_ACK_LATE, NULL);
    cr_assert_not_null(b, "counts as acknowledged at resolution");
    cr_assert_float_eq(b->value, 6.0, 1e-12);
    cr_assert_float_eq(b->threshold, 4.0, 1e-12);
    expect_id(b, "E2");
    cr_assert_eq(t.acknowledged_ms, T0 + 6 * H);
    cr_assert(out.scored);
    cr_assert_float_eq(out.responsiveness, 50.0, 1e-9);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9);

    /* the acknowledgement arriving afterwards changes nothing */
    apply(&t, "fault", 2, "acknowledged", T0 + 2 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert(!out.scored);
    cr_assert_eq(t.acknowledged_ms, T0 + 6 * H);

    /* resolved at 3 h, in time: acknowledged at resolution, in time */
    struct sq_ticket u = {0};
    apply(&u, "fault", 2, "opened", T0, "F1", &out);
    apply(&u, "fault", 2, "resolved", T0 + 3 * H, "F2", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
}

Test(tickets, acknowledged_before_opened)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    /* the first event seen stands in for opened: an inquiry sev3 (72 h) */
    apply(&t, "inquiry", 3, "acknowledged", T0 + 30 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 0, "0 h after the stand-in opened_at");
    cr_assert(!out.opened_now);
    cr_assert_eq(t.kind, SQ_TICKET_INQUIRY);
    cr_assert_eq(t.opened_ms, T0 + 30 * H);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 30 * H + 72 * H);
    cr_assert_eq(out.open_delta, 1);

    /* opened arrives: kind and severity from it, opened_at and the
     * deadlines move, the acknowledgement decided before is not revised */
    apply(&t, "complaint", 1, "opened", T0, "E1", &out);
    cr_assert(out.opened_now);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_eq(t.kind, SQ_TICKET_COMPLAINT);
    cr_assert_eq(t.severity, 1);
    cr_assert_eq(t.opened_ms, T0);
    cr_assert_eq(t.cur.start_ms, T0);
    cr_assert_str_eq(t.cur.event_id, "E1", "the opening's event is now opened");
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 120 * H);
    cr_assert_eq(out.open_delta, 0);

    /* the score uses the moved opened_at: ack 30 h > 24 h */
    apply(&t, "complaint", 1, "resolved", T0 + 100 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_float_eq(out.responsiveness, 50.0, 1e-9);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9);
}

Test(tickets, earliest_seen_stands_in_for_opened)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "fault", 1, "updated", T0 + 10 * H, "E2", &out);
    cr_assert_eq(out.timer_due_ms, T0 + 14 * H);
    apply(&t, "fault", 1, "updated", T0 + 8 * H, "E3", &out);
    cr_assert_eq(t.opened_ms, T0 + 8 * H, "earlier event time stands in");
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 12 * H);
    apply(&t, "fault", 1, "updated", T0 + 9 * H, "E4", &out);
    cr_assert(!out.timer_set, "a later event moves nothing");
    cr_assert_eq(t.opened_ms, T0 + 8 * H);
    /* a late opened moves the deadline, even later than the stand-in */
    apply(&t, "fault", 1, "opened", T0 + 9 * H, "E1", &out);
    cr_assert_eq(t.opened_ms, T0 + 9 * H);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 13 * H);
    /* once opened is seen, an earlier event does not move opened_at */
    apply(&t, "fault", 1, "updated", T0 + 1 * H, "E5", &out);
    cr_assert_eq(t.opened_ms, T0 + 9 * H);
    cr_assert(!out.timer_set);
}

Test(tickets, late_opened_moves_timer)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    struct sq_breach b;
    apply(&t, "fault", 1, "updated", T0 + 10 * H, "E2", &out);
    cr_assert_eq(out.timer_due_ms, T0 + 14 * H);
    apply(&t, "fault", 1, "opened", T0, "E1", &out);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 4 * H);
    cr_assert(!sq_ticket_timer_fire(&t, &st, T0 + 14 * H, 1, &b), "stale due");
    cr_assert(!sq_ticket_timer_fire(&t, &st, T0 + 4 * H, 2, &b), "no such opening");
    cr_assert(sq_ticket_timer_fire(&t, &st, T0 + 4 * H, 1, &b));
    cr_assert_eq(b.code, SQ_BREACH_TICKET_OVERDUE);
    cr_assert_eq(b.occurred_ms, T0 + 4 * H);
    cr_assert_str_eq(t.cur.event_id, "E1");
    expect_id(&b, "T1#1");
    cr_assert(!sq_ticket_timer_fire(&t, &st, T0 + 4 * H, 1, &b), "once per opening");
}

/* Overdue by timer and overdue at a late resolution are the same breach. */
Test(tickets, overdue_by_timer_or_late_resolution)
{
    struct sq_ticket a = {0}, c = {0};
    struct sq_ticket_effects out;
    struct sq_breach bt;
    int64_t due = 0;

    apply(&a, "fault", 2, "opened", T0, "E1", &out);
    apply(&a, "fault", 2, "acknowledged", T0 + 1 * H, "E2", &out);
    cr_assert(sq_ticket_timer_due(&a, &st, &due));
    cr_assert_eq(due, T0 + 24 * H);
    cr_assert(sq_ticket_timer_fire(&a, &st, due, 1, &bt));
    cr_assert_eq(bt.severity, SQ_SEV_MAJOR);
    cr_assert_eq(bt.dim, SQ_DIM_RESPONSIVENESS);
    cr_assert(!bt.has_value);
    cr_assert(bt.has_threshold);
    cr_assert_float_eq(bt.threshold, 24.0, 1e-12);
    cr_assert_eq(bt.occurred_ms, T0 + 24 * H);
    cr_assert(!sq_ticket_timer_due(&a, &st, &due), "fired: no timer needed");
    cr_assert_eq(sq_ticket_open_count(&a), 1, "overdue is still open");
    /* resolved late afterwards: no second TICKET_OVERDUE, scored late */
    apply(&a, "fault", 2, "resolved", T0 + 30 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert(out.resolved_now && out.scored);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 30.0, 1e-9);
    cr_assert(!out.timer_cancel, "the timer already fired");
    cr_assert_eq(out.open_delta, -1);

    /* the same ticket, resolved late before any timer fired */
    apply(&c, "fault", 2, "opened", T0, "E1", &out);
    apply(&c, "fault", 2, "acknowledged", T0 + 1 * H, "E2", &out);
    apply(&c, "fault", 2, "resolved", T0 + 30 * H, "E3", &out);
    cr_assert(out.timer_cancel);
    int i = -1;
    const struct sq_breach *br = find(&out, SQ_BREACH_TICKET_OVERDUE, &i);
    cr_assert_not_null(br);
    cr_assert_str_eq(br->breach_id, bt.breach_id);
    cr_assert_str_eq(br->id_source, bt.id_source);
    cr_assert_eq(br->occurred_ms, bt.occurred_ms);
    cr_assert_eq(br->severity, bt.severity);
    cr_assert_float_eq(br->threshold, bt.threshold, 1e-12);
    cr_assert_str_eq(out.src[i].event_id, "E1", "the event that opened the opening");
    cr_assert_str_eq(out.src[i].cust.region, "GD-SZ");
    cr_assert_float_eq(out.reliability, 30.0, 1e-9);
    /* and the timer, if it still comes, does nothing */
    cr_assert(!sq_ticket_timer_fire(&c, &st, T0 + 24 * H, 1, &bt));
}

Test(tickets, in_time_resolution_after_timer_leaves_overdue)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    struct sq_breach b;
    apply(&t, "fault", 1, "opened", T0, "E1", &out);
    cr_assert(sq_ticket_timer_fire(&t, &st, T0 + 4 * H, 1, &b));
    /* a resolution at 3 h arrives after the timer fired */
    apply(&t, "fault", 1, "resolved", T0 + 3 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 0, "nothing revoked, nothing new");
    cr_assert(t.cur.overdue_fired);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9, "scored as resolved in time");
}

Test(tickets, overdue_severity_vip_or_sev1)
{
    struct {
        const char *kind;
        int sev;
        const char *tier;
        bool enterprise;
        enum sq_severity want;
    } cases[] = {
        {"fault", 2, "standard", false, SQ_SEV_MAJOR},
        {"fault", 2, "silver", false, SQ_SEV_MAJOR},
        {"fault", 2, "gold", false, SQ_SEV_CRITICAL},
        {"fault", 2, "diamond", false, SQ_SEV_CRITICAL},
        {"fault", 2, "standard", true, SQ_SEV_CRITICAL},
        {"fault", 2, "unknown", false, SQ_SEV_MAJOR},
        {"complaint", 1, "standard", false, SQ_SEV_CRITICAL},
        {"inquiry", 4, "standard", false, SQ_SEV_MAJOR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sq_ticket t = {0};
        struct sq_ticket_effects out;
        cr_assert_eq(apply_ex(&t, cases[i].kind, cases[i].sev, "opened", T0, "E1",
                              cases[i].tier, cases[i].enterprise, &out), 0);
        /* resolved much later by a customer whose tier changed meanwhile:
         * the opening's tier decides */
        cr_assert_eq(apply_ex(&t, cases[i].kind, cases[i].sev, "resolved", T0 + 500 * H, "E2",
                              "standard", false, &out), 0);
        int idx = -1;
        const struct sq_breach *b = find(&out, SQ_BREACH_TICKET_OVERDUE, &idx);
        cr_assert_not_null(b, "case %zu", i);
        cr_assert_eq(b->severity, cases[i].want, "case %zu", i);
        cr_assert_str_eq(out.src[idx].cust.tier, cases[i].tier);
        /* the same through the timer */
        struct sq_ticket u = {0};
        struct sq_ticket_effects uout;
        struct sq_breach bt;
        int64_t due = 0;
        cr_assert_eq(apply_ex(&u, cases[i].kind, cases[i].sev, "opened", T0, "E1",
                              cases[i].tier, cases[i].enterprise, &uout), 0);
        cr_assert(sq_ticket_timer_due(&u, &st, &due));
        cr_assert(sq_ticket_timer_fire(&u, &st, due, 1, &bt));
        cr_assert_eq(bt.severity, cases[i].want, "timer case %zu", i);
        cr_assert_str_eq(bt.breach_id, b->breach_id);
    }
}

Test(tickets, reopen_deadlines_and_scores)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    /* complaint sev3: ack 24 h, resolve 120 h */
    apply(&t, "complaint", 3, "opened", T0, "E1", &out);
    apply(&t, "complaint", 3, "resolved", T0 + 10 * H, "E2", &out);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 100.0, 1e-9);

    apply(&t, "complaint", 3, "reopened", T0 + 200 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 1);
    const struct sq_breach *b = &out.breaches[0];
    cr_assert_eq(b->code, SQ_BREACH_TICKET_REOPENED);
    cr_assert_eq(b->severity, SQ_SEV_MAJOR);
    cr_assert_eq(b->dim, SQ_DIM_RELIABILITY);
    cr_assert(!b->has_value && !b->has_threshold);
    cr_assert_eq(b->occurred_ms, T0 + 200 * H);
    expect_id(b, "E3");
    cr_assert_eq(t.opening, 2);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_due_ms, T0 + 320 * H, "runs from the reopen");
    cr_assert_eq(out.timer_opening, 2);
    cr_assert_eq(out.open_delta, 1);
    cr_assert(!out.opened_now);

    /* opening 2 resolved at 310 h: in time; 100 - 40 per reopen */
    apply(&t, "complaint", 3, "resolved", T0 + 310 * H, "E4", &out);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert(out.resolved_now && out.scored);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 60.0, 1e-9);

    /* opening 3 from 400 h, deadline 520 h, resolved at 600 h: late */
    apply(&t, "complaint", 3, "reopened", T0 + 400 * H, "E5", &out);
    cr_assert_eq(out.timer_due_ms, T0 + 520 * H);
    apply(&t, "complaint", 3, "resolved", T0 + 600 * H, "E6", &out);
    int i = -1;
    b = find(&out, SQ_BREACH_TICKET_OVERDUE, &i);
    cr_assert_not_null(b);
    expect_id(b, "T1#3");
    cr_assert_eq(b->occurred_ms, T0 + 520 * H);
    cr_assert_str_eq(out.src[i].event_id, "E5");
    /* 30 - 2 * 40 < 0: floor 0 */
    cr_assert_float_eq(out.reliability, 0.0, 1e-9);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
}

Test(tickets, reopen_of_unresolved_opening)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    /* fault sev2, 24 h; reopened at 30 h with no resolution seen: opening 1
     * was still open past its deadline */
    cr_assert_eq(apply_ex(&t, "fault", 2, "opened", T0, "E1", "gold", false, &out), 0);
    apply(&t, "fault", 2, "reopened", T0 + 30 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 2);
    cr_assert_eq(out.breaches[0].code, SQ_BREACH_TICKET_OVERDUE, "table order");
    cr_assert_eq(out.breaches[1].code, SQ_BREACH_TICKET_REOPENED);
    expect_id(&out.breaches[0], "T1#1");
    cr_assert_eq(out.breaches[0].occurred_ms, T0 + 24 * H);
    cr_assert_eq(out.breaches[0].severity, SQ_SEV_CRITICAL, "gold at opening 1");
    cr_assert_str_eq(out.src[0].event_id, "E1");
    cr_assert_str_eq(out.src[0].cust.tier, "gold");
    cr_assert_str_eq(out.src[1].event_id, "E2");
    cr_assert_str_eq(out.src[1].cust.tier, "standard");
    cr_assert(!out.resolved_now && !out.scored);
    cr_assert_eq(out.open_delta, 0);
    cr_assert(out.timer_set);
    cr_assert_eq(out.timer_opening, 2);
    cr_assert_eq(out.timer_due_ms, T0 + 54 * H);

    /* reopened before the deadline: no overdue for opening 2 */
    apply(&t, "fault", 2, "reopened", T0 + 40 * H, "E3", &out);
    cr_assert_eq(out.n_breaches, 1);
    cr_assert_eq(out.breaches[0].code, SQ_BREACH_TICKET_REOPENED);
    struct sq_breach b;
    cr_assert(!sq_ticket_timer_fire(&t, &st, T0 + 54 * H, 2, &b), "opening 2 is over");
    cr_assert(sq_ticket_timer_fire(&t, &st, T0 + 64 * H, 3, &b));
    expect_id(&b, "T1#3");
}

Test(tickets, closed_counts_as_resolution)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    /* inquiry sev4: ack 24 h, resolve 72 h */
    apply(&t, "inquiry", 4, "opened", T0, "E1", &out);
    apply(&t, "inquiry", 4, "acknowledged", T0 + 2 * H, "E2", &out);
    apply(&t, "inquiry", 4, "closed", T0 + 80 * H, "E3", &out);
    cr_assert(out.resolved_now && out.scored);
    cr_assert_not_null(find(&out, SQ_BREACH_TICKET_OVERDUE, NULL));
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 30.0, 1e-9);
    cr_assert_eq(t.cur.resolved_ms, T0 + 80 * H);
    cr_assert_eq(sq_ticket_open_count(&t), 0);
    /* a resolved after the close does not resolve again */
    apply(&t, "inquiry", 4, "resolved", T0 + 79 * H, "E4", &out);
    cr_assert(!out.resolved_now && !out.scored);
    cr_assert_eq(out.n_breaches, 0);
    cr_assert_eq(out.open_delta, 0);
}

Test(tickets, regulator_escalation)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "complaint", 2, "opened", T0, "E1", &out);
    apply(&t, "complaint", 2, "escalated_regulator", T0 + 5 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 1);
    cr_assert_eq(out.breaches[0].code, SQ_BREACH_REGULATOR_ESCALATION);
    cr_assert_eq(out.breaches[0].severity, SQ_SEV_CRITICAL);
    cr_assert_eq(out.breaches[0].dim, SQ_DIM_RELIABILITY);
    cr_assert(!out.breaches[0].has_value && !out.breaches[0].has_threshold);
    expect_id(&out.breaches[0], "E2");
    cr_assert(out.regulator_now);
    apply(&t, "complaint", 2, "escalated_regulator", T0 + 6 * H, "E3", &out);
    cr_assert(!out.regulator_now, "once per ticket");
    cr_assert_eq(out.n_breaches, 0);
    /* resolved in time and acknowledged in time, but escalated: 0 */
    apply(&t, "complaint", 2, "resolved", T0 + 10 * H, "E4", &out);
    cr_assert(out.scored);
    cr_assert_float_eq(out.responsiveness, 100.0, 1e-9);
    cr_assert_float_eq(out.reliability, 0.0, 1e-9);
}

/* SPEC 5 numbers by hand: responsiveness 100 / 50, reliability 100 or 30,
 * minus 40 per reopen, floor 0. */
Test(tickets, score_formula)
{
    struct {
        int64_t ack_h, resolve_h; /* after the opening's start */
        int reopens;
        double resp, rel;
    } cases[] = {
        {1, 10, 0, 100, 100},  {30, 10, 0, 50, 100}, {1, 130, 0, 100, 30},
        {30, 130, 0, 50, 30},  {1, 10, 1, 100, 60},  {1, 10, 2, 100, 20},
        {1, 10, 3, 100, 0},    {1, 130, 1, 100, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sq_ticket t = {0};
        struct sq_ticket_effects out;
        apply(&t, "complaint", 2, "opened", T0, "E1", &out);
        apply(&t, "complaint", 2, "acknowledged", T0 + cases[i].ack_h * H, "E2", &out);
        int64_t start = T0;
        for (int r = 0; r < cases[i].reopens; r++) {
            apply(&t, "complaint", 2, "resolved", start + H, "R", &out);
            start += 1000 * H;
            apply(&t, "complaint", 2, "reopened", start, "O", &out);
        }
        apply(&t, "complaint", 2, "resolved", start + cases[i].resolve_h * H, "E9", &out);
        cr_assert(out.scored, "case %zu", i);
        cr_assert_float_eq(out.responsiveness, cases[i].resp, 1e-9, "case %zu", i);
        cr_assert_float_eq(out.reliability, cases[i].rel, 1e-9, "case %zu", i);
    }
}

Test(tickets, breaches_in_table_order)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    /* one resolution both acknowledges late and resolves late */
    apply(&t, "fault", 1, "opened", T0, "E1", &out);
    apply(&t, "fault", 1, "resolved", T0 + 6 * H, "E2", &out);
    cr_assert_eq(out.n_breaches, 2);
    cr_assert_eq(out.breaches[0].code, SQ_BREACH_TICKET_ACK_LATE);
    cr_assert_eq(out.breaches[1].code, SQ_BREACH_TICKET_OVERDUE);
    cr_assert_eq(out.breaches[1].severity, SQ_SEV_CRITICAL, "sev 1");
    cr_assert_str_eq(out.src[0].event_id, "E2");
    cr_assert_str_eq(out.src[1].event_id, "E1");
    sq_ticket_effects_fini(&out);
    cr_assert_eq(out.n_breaches, 0);
}

Test(tickets, bad_events_change_nothing)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    apply(&t, "fault", 2, "opened", T0, "E1", &out);
    char *before = sq_ticket_dump(&t);
    const char *bad[] = {
        "{\"ticket_id\":\"T1\",\"kind\":\"fault\",\"severity\":2}",
        "{\"ticket_id\":\"T1\",\"kind\":\"fault\",\"severity\":2,\"status\":\"lost\"}",
        "{\"ticket_id\":\"T1\",\"kind\":\"bug\",\"severity\":2,\"status\":\"resolved\"}",
        "{\"ticket_id\":\"T1\",\"kind\":\"fault\",\"severity\":5,\"status\":\"resolved\"}",
        "{\"ticket_id\":\"T1\",\"kind\":\"fault\",\"severity\":1.5,\"status\":\"resolved\"}",
        "{\"ticket_id\":\"T2\",\"kind\":\"fault\",\"severity\":2,\"status\":\"resolved\"}",
        "{\"ticket_id\":\"\",\"kind\":\"fault\",\"severity\":2,\"status\":\"resolved\"}",
        "{\"kind\":\"fault\",\"severity\":2,\"status\":\"resolved\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *ev = json_loads(bad[i], 0, NULL);
        cr_assert_not_null(ev);
        cr_assert_eq(sq_ticket_apply(&t, &st, ev, T0 + H, "X", "gold", false, "R", &out), -1,
                     "%s", bad[i]);
        cr_assert_eq(out.n_breaches, 0);
        cr_assert(!out.resolved_now && !out.timer_set);
        json_decref(ev);
        char *after = sq_ticket_dump(&t);
        cr_assert_str_eq(after, before);
        free(after);
    }
    free(before);
    /* severity 2.0 is an integer in JSON Schema: accepted */
    json_t *ev = json_loads(
        "{\"ticket_id\":\"T1\",\"kind\":\"fault\",\"severity\":2.0,\"status\":\"resolved\"}", 0,
        NULL);
    cr_assert_eq(sq_ticket_apply(&t, &st, ev, T0 + H, "X", NULL, false, NULL, &out), 0);
    cr_assert(out.resolved_now);
    json_decref(ev);
    /* a ticket_id longer than SQ_TICKET_ID_MAX */
    struct sq_ticket u = {0};
    char id[SQ_TICKET_ID_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    ev = json_pack("{s:s, s:s, s:i, s:s}", "ticket_id", id, "kind", "fault", "severity", 2,
                   "status", "opened");
    cr_assert_eq(sq_ticket_apply(&u, &st, ev, T0, "X", NULL, false, NULL, &out), -1);
    cr_assert(!u.seen);
    id[SQ_TICKET_ID_MAX] = '\0';
    json_object_set_new(ev, "ticket_id", json_string(id));
    cr_assert_eq(sq_ticket_apply(&u, &st, ev, T0, "X", NULL, false, NULL, &out), 0);
    cr_assert_str_eq(u.ticket_id, id);
    json_decref(ev);
}

Test(tickets, dump_load_round_trip)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    struct sq_breach b;
    cr_assert_eq(apply_ex(&t, "fault", 2, "updated", T0 + 2 * H, "E0", "diamond", true, &out),
                 0);
    apply(&t, "fault", 2, "opened", T0, "E1", &out);
    apply(&t, "fault", 2, "acknowledged", T0 + 5 * H, "E2", &out);
    apply(&t, "fault", 2, "escalated_regulator", T0 + 6 * H, "E3", &out);
    apply(&t, "fault", 2, "resolved", T0 + 7 * H, "E4", &out);
    cr_assert_eq(apply_ex(&t, "fault", 2, "reopened", T0 + 8 * H, "E5 \"q\" é", "gold", true,
                          &out), 0);
    cr_assert(sq_ticket_timer_fire(&t, &st, T0 + 32 * H, 2, &b));

    char *s = sq_ticket_dump(&t);
    cr_assert_not_null(strchr(s, '{'));
    cr_assert_null(strchr(s, '\n'), "compact");
    struct sq_ticket u;
    memset(&u, 0xA5, sizeof u);
    cr_assert_eq(sq_ticket_load(&u, s), 0, "%s", s);
    cr_assert(u.seen && u.opened_seen && u.ack_late_fired && u.regulator);
    cr_assert_str_eq(u.ticket_id, "T1");
    cr_assert_eq(u.kind, SQ_TICKET_FAULT);
    cr_assert_eq(u.severity, 2);
    cr_assert_str_eq(u.category, "billing");
    cr_assert_eq(u.opened_ms, T0);
    cr_assert_eq(u.acknowledged_ms, T0 + 5 * H);
    cr_assert_str_eq(u.ack_event_id, "E2");
    cr_assert_eq(u.opening, 2);
    cr_assert_eq(u.cur.start_ms, T0 + 8 * H);
    cr_assert_eq(u.cur.resolved_ms, -1);
    cr_assert(u.cur.overdue_fired && !u.cur.scored);
    cr_assert_str_eq(u.cur.event_id, "E5 \"q\" é");
    cr_assert_str_eq(u.cur.cust.tier, "gold");
    cr_assert_str_eq(u.cur.cust.region, "GD-SZ");
    cr_assert(u.cur.cust.enterprise);
    char *s2 = sq_ticket_dump(&u);
    cr_assert_str_eq(s2, s);
    free(s2);

    /* the loaded state behaves as the original */
    struct sq_ticket_effects o1, o2;
    apply(&t, "fault", 2, "resolved", T0 + 40 * H, "E6", &o1);
    apply(&u, "fault", 2, "resolved", T0 + 40 * H, "E6", &o2);
    cr_assert_eq(o1.n_breaches, o2.n_breaches);
    cr_assert(o1.scored && o2.scored);
    cr_assert_float_eq(o1.reliability, 0.0, 1e-9, "escalated");
    cr_assert_float_eq(o2.reliability, o1.reliability, 1e-9);
    cr_assert_float_eq(o2.responsiveness, 50.0, 1e-9, "acknowledged at 5 h > 4 h");

    /* a ticket cut down to nothing but defaults also round-trips */
    struct sq_ticket z = {0};
    apply(&z, "inquiry", 4, "updated", T0, "E1", &out);
    char *zs = sq_ticket_dump(&z);
    struct sq_ticket zl;
    cr_assert_eq(sq_ticket_load(&zl, zs), 0);
    cr_assert_eq(zl.acknowledged_ms, -1);
    cr_assert_str_eq(zl.ack_event_id, "");
    char *zs2 = sq_ticket_dump(&zl);
    cr_assert_str_eq(zs2, zs);
    free(zs);
    free(zs2);

    /* what is not such a document is refused, the target untouched */
    char *keep = sq_ticket_dump(&u);
    const char *bad[] = {"", "[]", "{}", "not json", "{\"v\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(sq_ticket_load(&u, bad[i]), -1, "%s", bad[i]);
    /* one field wrong at a time */
    json_t *doc = json_loads(s, 0, NULL);
    const char *keys[] = {"v", "id", "k", "sev", "cat", "os", "o", "a", "ae", "al",
                          "reg", "n", "s", "r", "od", "sc", "e", "t", "g", "x"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *copy = json_deep_copy(doc);
        json_object_set_new(copy, keys[i], json_array());
        char *cs = json_dumps(copy, JSON_COMPACT);
        cr_assert_eq(sq_ticket_load(&u, cs), -1, "%s", cs);
        free(cs);
        json_object_del(copy, keys[i]);
        cs = json_dumps(copy, JSON_COMPACT);
        cr_assert_eq(sq_ticket_load(&u, cs), -1, "%s", cs);
        free(cs);
        json_decref(copy);
    }
    json_t *copy = json_deep_copy(doc);
    json_object_set_new(copy, "sev", json_integer(9));
    char *cs = json_dumps(copy, JSON_COMPACT);
    cr_assert_eq(sq_ticket_load(&u, cs), -1);
    free(cs);
    json_object_set_new(copy, "sev", json_integer(2));
    json_object_set_new(copy, "v", json_integer(2));
    cs = json_dumps(copy, JSON_COMPACT);
    cr_assert_eq(sq_ticket_load(&u, cs), -1, "unknown version");
    free(cs);
    json_decref(copy);
    json_decref(doc);
    char *s3 = sq_ticket_dump(&u);
    cr_assert_str_eq(s3, keep, "the target is untouched");
    free(s3);
    free(keep);
    free(s);
}

/* Ids as long as the schema admits: 128 characters of three UTF-8 bytes
 * each. The ticket is kept, its breaches carry the event_id whole, and the
 * breach_ids hash all of it (values from Python's hashlib, computed apart). */
Test(tickets, ids_of_128_multibyte_characters_are_kept_whole)
{
    char tid[3 * 128 + 1] = "", eid1[3 * 128 + 1] = "", eid2[3 * 128 + 1] = "";
    for (int i = 0; i < 128; i++) {
        strcat(tid, "\xe7\xa5\xa8");                  /* 票 */
        strcat(eid1, i == 127 ? "1" : "\xe2\x82\xac"); /* € ... 1 */
        strcat(eid2, i == 127 ? "2" : "\xe2\x82\xac");
    }
    cr_assert_eq(strlen(tid), 384);
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "schema", "ticket.v1",
                           "event_id", eid1, "ticket_id", tid, "kind", "complaint", "severity",
                           2, "category", "billing", "status", "opened");
    cr_assert_eq(sq_ticket_apply(&t, &st, ev, T0, eid1, "standard", false, "GD-SZ", &out), 0);
    json_decref(ev);
    cr_assert(t.seen);
    cr_assert_str_eq(t.ticket_id, tid);
    cr_assert_str_eq(t.cur.event_id, eid1);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "schema", "ticket.v1", "event_id",
                   eid2, "ticket_id", tid, "kind", "complaint", "severity", 2, "category",
                   "billing", "status", "acknowledged");
    cr_assert_eq(sq_ticket_apply(&t, &st, ev, T0 + 30 * H, eid2, "standard", false, "GD-SZ",
                                 &out), 0);
    json_decref(ev);
    int i = -1;
    const struct sq_breach *b = find(&out, SQ_BREACH_TICKET_ACK_LATE, &i);
    cr_assert_not_null(b, "the acknowledgement 30 h after opening is late");
    cr_assert_str_eq(out.src[i].event_id, eid2);
    cr_assert_str_eq(b->id_source, eid2);
    cr_assert_str_eq(b->breach_id, "b5eb4fb31e225026c6125488bf94c0cb");
    cr_assert_str_eq(t.ack_event_id, eid2);

    struct sq_breach ob;
    int64_t due = 0;
    cr_assert(sq_ticket_timer_due(&t, &st, &due));
    cr_assert(sq_ticket_timer_fire(&t, &st, due, 1, &ob));
    cr_assert_str_eq(ob.breach_id, "52d00dc2e0450067debd8c8030f5009b", "ticket_id#1 whole");

    char *s = sq_ticket_dump(&t);
    struct sq_ticket u;
    cr_assert_eq(sq_ticket_load(&u, s), 0, "the stored form of long ids loads again");
    cr_assert_str_eq(u.ticket_id, tid);
    cr_assert_str_eq(u.ack_event_id, eid2);
    free(s);
}

Test(tickets, open_count_follows_openings)
{
    struct sq_ticket t = {0};
    struct sq_ticket_effects out;
    int open = 0;
    struct {
        const char *status;
        int64_t at;
        int want;
    } steps[] = {
        {"acknowledged", 1, 1}, {"opened", 0, 1},   {"updated", 2, 1},
        {"resolved", 3, 0},     {"closed", 4, 0},   {"reopened", 5, 1},
        {"escalated_regulator", 6, 1}, {"closed", 7, 0}, {"reopened", 8, 1},
        {"reopened", 9, 1},     {"resolved", 10, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        apply(&t, "complaint", 2, steps[i].status, T0 + steps[i].at * H, "E", &out);
        open += out.open_delta;
        cr_assert_eq(sq_ticket_open_count(&t), steps[i].want, "step %zu", i);
        cr_assert_eq(open, steps[i].want, "deltas add up, step %zu", i);
    }
}
