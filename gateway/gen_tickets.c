/* gen_tickets.c: ticket.v1 lifecycles of the generator. A ticket opens
 * from a recent contact (a complaint, a fault, a contact that ended badly)
 * or on its own, and moves opened → acknowledged → updated … → resolved →
 * closed, one step per ticket slot of sq_gen_next, each step when it is
 * due. Delays are log-normal around the SPEC 4 deadlines, so a few
 * acknowledgements and resolutions come late; some complaints go to the
 * regulator, some tickets are reopened (a new opening) and some close
 * without a resolution. The stream starts mid-life: for the first days of
 * event time part of the tickets were opened before --start and show up at
 * a later step. */
#include "gen_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum sq_gen_tstatus {
    SQ_TS_OPENED,
    SQ_TS_ACKNOWLEDGED,
    SQ_TS_UPDATED,
    SQ_TS_RESOLVED,
    SQ_TS_CLOSED,
    SQ_TS_REOPENED,
    SQ_TS_ESCALATED,
};
static const char *const sq_tstatus_names[] = {"opened",   "acknowledged", "updated",
                                               "resolved", "closed",       "reopened",
                                               "escalated_regulator"};

enum { SQ_TK_COMPLAINT, SQ_TK_FAULT, SQ_TK_INQUIRY, SQ_TK__N };
static const char *const sq_tkind_names[SQ_TK__N] = {"complaint", "fault", "inquiry"};

/* SPEC 4's default deadlines, hours: acknowledgement per kind, resolution
 * per kind and severity. */
static const double sq_ack_h[SQ_TK__N] = {24, 4, 24};
static const double sq_resolve_h[SQ_TK__N][4] = {
    {120, 120, 120, 120}, {4, 24, 48, 72}, {72, 72, 72, 72}};

static const char *const sq_categories[] = {"billing",      "network_quality", "service_attitude",
                                            "plan_change",  "installation",    "equipment",
                                            "broadband",    "roaming",         "other"};
enum { SQ_CAT_BILLING = 0, SQ_CAT_NETWORK = 1 };
static const unsigned sq_category_w[SQ_TK__N][SQ_N(sq_categories)] = {
    {35, 25, 20, 10, 0, 0, 0, 0, 10}, /* complaint */
    {0, 45, 0, 0, 15, 15, 25, 0, 0},  /* fault */
    {40, 0, 0, 35, 0, 0, 0, 15, 10},  /* inquiry */
};
static const unsigned sq_severity_w[SQ_TK__N][4] = {{3, 17, 50, 30}, {6, 22, 42, 30},
                                                    {0, 5, 40, 55}};
static const unsigned sq_updates_w[] = {35, 35, 20, 10};
static const double sq_reopen_p[SQ_TK__N] = {0.12, 0.08, 0.04};
static const double sq_close_unresolved_p[SQ_TK__N] = {0.03, 0.02, 0.15};

#define SQ_H (3600.0 * 1000)                       /* ms per hour */
#define SQ_GEN_TICKET_WARMUP_MS (4 * 24 * SQ_H)    /* the backlog fades over 4 days */

static double sq_tk_resolve_ms(const struct sq_gen_ticket *t)
{
    return sq_resolve_h[t->kind][t->severity - 1] * SQ_H;
}

/* The kind of a ticket opened from a contact of this reason. */
static unsigned sq_gen_ticket_kind(struct sq_rng *r, const struct sq_gen_ref *from)
{
    static const unsigned any_w[SQ_TK__N] = {35, 40, 25};
    if (!from)
        return sq_rng_pick_w(r, any_w, SQ_TK__N);
    switch (from->reason) {
    case SQ_R_COMPLAINT: return SQ_TK_COMPLAINT;
    case SQ_R_FAULT:
    case SQ_R_NETWORK: return sq_rng_chance(r, 0.85) ? SQ_TK_FAULT : SQ_TK_COMPLAINT;
    case SQ_R_BILLING: return sq_rng_chance(r, 0.4) ? SQ_TK_COMPLAINT : SQ_TK_INQUIRY;
    default: return from->outcome == SQ_O_ESCALATED ? SQ_TK_COMPLAINT : SQ_TK_INQUIRY;
    }
}

/* A new ticket opened at `at`, from the contact `from` (may be NULL) of
 * customer cust; its next step is `opened`. */
static void sq_gen_ticket_open(struct sq_gen *g, struct sq_gen_ticket *t, int64_t at,
                               const struct sq_gen_ref *from, uint32_t cust)
{
    struct sq_rng *r = &g->rng;
    memset(t, 0, sizeof *t);
    t->no = g->n;
    t->contact_no = from ? from->no : 0;
    t->cust = cust;
    t->kind = (uint8_t)sq_gen_ticket_kind(r, from);
    t->category = (uint8_t)sq_rng_pick_w(r, sq_category_w[t->kind], SQ_N(sq_categories));
    if (from && from->reason == SQ_R_NETWORK && t->kind != SQ_TK_INQUIRY)
        t->category = SQ_CAT_NETWORK;
    else if (from && from->reason == SQ_R_BILLING && t->kind != SQ_TK_FAULT)
        t->category = SQ_CAT_BILLING;
    t->severity = (uint8_t)(1 + sq_rng_pick_w(r, sq_severity_w[t->kind], 4));
    t->opening_ms = at;
    /* Most acknowledgements and resolutions come well within the deadline;
     * the long tails make ~6 % late. */
    double ack_h = sq_ack_h[t->kind];
    t->ack_ms = at + (int64_t)sq_rng_lognormal(r, 0.15 * ack_h * SQ_H, 1.25, 6 * ack_h * SQ_H);
    t->escalate = t->kind == SQ_TK_COMPLAINT && sq_rng_chance(r, 0.03);
    double res = sq_tk_resolve_ms(t) * (t->escalate ? 1.5 : 1.0);
    t->resolve_ms = at + 600000 + (int64_t)sq_rng_lognormal(r, 0.3 * res, 0.85, 5 * res);
    t->updates_left = (uint8_t)sq_rng_pick_w(r, sq_updates_w, SQ_N(sq_updates_w));
    t->close_unresolved = sq_rng_chance(r, sq_close_unresolved_p[t->kind]);
    t->with_region = sq_rng_chance(r, 0.5);
    t->china_time = sq_rng_chance(r, 0.3);
    t->next = SQ_TS_OPENED;
}

/* Work on an open ticket after a step at `now`: the regulator escalation
 * still to come, the updates, then the resolution (or a close that
 * resolves). Returns the due time of that next step. */
static int64_t sq_gen_ticket_work(struct sq_gen *g, struct sq_gen_ticket *t, int64_t now)
{
    struct sq_rng *r = &g->rng;
    int64_t left = t->resolve_ms - now;
    if (left < 60000)
        left = 60000; /* behind plan: the next step a minute later */
    if (t->escalate) {
        t->escalate = false;
        t->next = SQ_TS_ESCALATED;
        return now + (int64_t)((double)left * (0.2 + 0.4 * sq_rng_unit(r)));
    }
    if (t->updates_left) {
        t->updates_left--;
        t->next = SQ_TS_UPDATED;
        return now + (int64_t)((double)left * (0.2 + 0.5 * sq_rng_unit(r)));
    }
    t->next = t->close_unresolved ? SQ_TS_CLOSED : SQ_TS_RESOLVED;
    return now + left;
}

/* After t->next was sent at `now`: the step after it and its due time, or
 * -1 when the lifecycle is over. */
static int64_t sq_gen_ticket_after(struct sq_gen *g, struct sq_gen_ticket *t, int64_t now)
{
    struct sq_rng *r = &g->rng;
    switch (t->next) {
    case SQ_TS_OPENED:
        if (t->ack_ms < t->resolve_ms) { /* else the resolution acknowledges */
            t->next = SQ_TS_ACKNOWLEDGED;
            return t->ack_ms > now ? t->ack_ms : now + 1000;
        }
        t->ack_ms = -1;
        return sq_gen_ticket_work(g, t, now);
    case SQ_TS_ACKNOWLEDGED:
        t->ack_ms = -1;
        return sq_gen_ticket_work(g, t, now);
    case SQ_TS_UPDATED:
    case SQ_TS_ESCALATED:
        return sq_gen_ticket_work(g, t, now);
    case SQ_TS_RESOLVED:
        if (t->reopens < 2 && sq_rng_chance(r, sq_reopen_p[t->kind] / (1 + t->reopens))) {
            t->next = SQ_TS_REOPENED; /* the customer says it is not fixed */
            return now + 60000 + (int64_t)sq_rng_lognormal(r, 18 * SQ_H, 1.0, 240 * SQ_H);
        }
        t->next = SQ_TS_CLOSED; /* confirmed, or closed automatically */
        return now + 60000 + (int64_t)sq_rng_lognormal(r, 30 * SQ_H, 0.6, 168 * SQ_H);
    case SQ_TS_REOPENED: {
        t->reopens++;
        t->opening_ms = now;
        double res = sq_tk_resolve_ms(t);
        t->resolve_ms = now + 600000 + (int64_t)sq_rng_lognormal(r, 0.25 * res, 0.9, 5 * res);
        t->updates_left = sq_rng_chance(r, 0.4) ? 1 : 0;
        t->close_unresolved = false;
        return sq_gen_ticket_work(g, t, now);
    }
    default: /* SQ_TS_CLOSED */
        return -1;
    }
}

/* A ticket opened before the stream began, at one of its later steps,
 * which happens now (its earlier steps are not sent). The step is drawn
 * uniformly from the lifecycle, so the backlog shows each status about as
 * often as a stream that had run for days would. false when the draws
 * gave a lifecycle of the opening alone (none does today). */
static bool sq_gen_ticket_backlog(struct sq_gen *g, struct sq_gen_ticket *t, int64_t now)
{
    struct sq_gen_ticket steps[24];
    int64_t at[24];
    unsigned m = 0;
    sq_gen_ticket_open(g, &steps[0], 0, NULL, sq_gen_pick_customer(g));
    at[0] = 0;
    for (m = 1; m < SQ_N(steps); m++) { /* the whole lifecycle, opened at 0 */
        steps[m] = steps[m - 1];
        at[m] = sq_gen_ticket_after(g, &steps[m], at[m - 1]);
        if (at[m] < 0)
            break;
    }
    if (m < 2)
        return false;
    unsigned k = 1 + sq_rng_below(&g->rng, m - 1);
    *t = steps[k];
    int64_t shift = now - at[k];
    t->opening_ms += shift;
    t->resolve_ms += shift;
    if (t->ack_ms >= 0)
        t->ack_ms += shift;
    return true;
}

/* The ticket whose step this slot sends: a step that is due, else (with
 * every open ticket waiting) a new ticket, from the backlog while the
 * stream is young. When the open tickets reach SQ_GEN_TICKETS_MAX the
 * earliest step comes early instead, which bounds memory at high rates. */
static void sq_gen_ticket_pick(struct sq_gen *g, struct sq_gen_ticket *t, int64_t now)
{
    struct sq_rng *r = &g->rng;
    if (g->tickets.n &&
        (g->tickets.v[0].due_ms <= now || g->tickets.n >= g->tickets.max)) {
        *t = sq_gen_heap_pop(&g->tickets).u.tk;
        return;
    }
    double young = 1.0 - (double)(now - g->o.start_ms) / SQ_GEN_TICKET_WARMUP_MS;
    if (young > 0 && sq_rng_chance(r, 0.8 * young) && sq_gen_ticket_backlog(g, t, now))
        return;
    struct sq_gen_ref from;
    if (sq_gen_pool_take(&g->ticketable, r, &from))
        sq_gen_ticket_open(g, t, now, &from, from.cust);
    else
        sq_gen_ticket_open(g, t, now, NULL, sq_gen_pick_customer(g));
}

static void sq_gen_ticket_write(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                const struct sq_gen_ticket *t, int64_t now)
{
    sq_buf_appendf(b, "{\"schema\":\"ticket.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_write_time(b, now, t->china_time ? 480 : 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, t->cust);
    sq_buf_append(b, "\"", 1);
    if (t->with_region)
        sq_buf_appendf(b, ",\"region\":\"%s\"", sq_gen_regions[sq_gen_region_of(g, t->cust)]);
    sq_buf_appendf(b,
                   ",\"ticket_id\":\"tk-%" PRIu64 "-%" PRIu64 "\",\"kind\":\"%s\",\"category\":"
                   "\"%s\",\"severity\":%u,\"status\":\"%s\"",
                   g->o.seed, t->no, sq_tkind_names[t->kind], sq_categories[t->category],
                   t->severity, sq_tstatus_names[t->next]);
    if (t->contact_no)
        sq_buf_appendf(b, ",\"contact_id\":\"ct-%" PRIu64 "-%" PRIu64 "\"", g->o.seed,
                       t->contact_no);
    sq_buf_append(b, "}", 1);
}

/* A resolution (or a close that resolves) makes the ticket one that
 * surveys may rate. */
static void sq_gen_ticket_resolved(struct sq_gen *g, const struct sq_gen_ticket *t, int64_t now)
{
    struct sq_gen_ref ref = {.no = t->no, .at_ms = now, .cust = t->cust, .queue = t->kind,
                             .reopens = t->reopens,
                             .slow = (double)(now - t->opening_ms) > sq_tk_resolve_ms(t)};
    sq_gen_pool_put(&g->resolved, &g->rng, &ref);
}

void sq_gen_ticket_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value)
{
    int64_t now = g->clock_ms;
    struct sq_gen_ticket t;
    sq_gen_ticket_pick(g, &t, now);
    char id[64];
    sq_gen_event_id(g, 't', id, sizeof id);
    sq_gen_write_customer(key, t.cust);
    sq_gen_ticket_write(g, value, id, &t, now);
    if (t.next == SQ_TS_RESOLVED || (t.next == SQ_TS_CLOSED && t.close_unresolved))
        sq_gen_ticket_resolved(g, &t, now);
    int64_t due = sq_gen_ticket_after(g, &t, now);
    if (due >= 0) {
        struct sq_gen_due d = {.due_ms = due};
        d.u.tk = t;
        sq_gen_heap_push(&g->tickets, d); /* room: pick took one out or found space */
    }
}
