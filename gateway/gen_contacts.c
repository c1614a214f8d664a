/* gen_contacts.c: contact.v1 and profile.v1 messages of the generator.
 * Contacts follow a contact centre's shape: voice dominant, log-normal
 * waits and handle times with long tails, ~10 % abandons (some short), a
 * few callback requests, repeat contacts minutes or hours later, more
 * network and fault calls from a region with an active outage. Each
 * answered contact joins the pools that surveys, QA reviews and tickets
 * draw from. Called by sq_gen_next (gen.c) and gen_malformed.c. */
#include "gen_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Per channel: share, answered wait and handle time (log-normal medians in
 * seconds and shapes), abandon and callback-request probabilities. Voice
 * median 8 s with shape 1.1 answers ~80 % within its 20 s SLA. */
const struct sq_gen_channel sq_gen_channels[] = {
    {"voice", 55, 8, 1.1, 1800, 270, 0.7, 0.12, 0.030, true, false},
    {"chat", 18, 12, 1.0, 1800, 480, 0.6, 0.10, 0.0, true, false},
    {"app", 12, 10, 1.0, 1800, 300, 0.7, 0.09, 0.010, true, false},
    {"email", 5, 14400, 0.9, 259200, 420, 0.6, 0.01, 0.0, false, true},
    {"sms", 3, 1200, 1.0, 86400, 180, 0.6, 0.03, 0.0, false, true},
    {"store", 4, 420, 0.8, 7200, 600, 0.6, 0.06, 0.0, false, false},
    {"social", 3, 900, 1.1, 43200, 360, 0.7, 0.05, 0.0, false, false},
};
const unsigned sq_gen_channels_n = SQ_N(sq_gen_channels);

/* The answer-time targets of SPEC 4 (non-VIP), per channel above: a wait
 * beyond them makes a contact "slow" for the surveys that rate it. */
static const double sq_gen_target_s[] = {20, 30, 30, 86400, 3600, 900, 60};

const char *const sq_gen_reasons[SQ_R__N] = {"billing", "network", "plan",
                                             "fault",   "complaint", "other"};

/* Per queue: share, agents, and the weights of each reason in it. */
const struct sq_gen_queue sq_gen_queues[] = {
    {"billing", 30, 120, {60, 0, 15, 0, 15, 10}},
    {"tech", 30, 150, {0, 45, 0, 40, 10, 5}},
    {"sales", 15, 60, {10, 0, 70, 0, 0, 20}},
    {"retention", 10, 40, {20, 0, 40, 0, 40, 0}},
    {"broadband", 10, 50, {0, 30, 0, 60, 0, 10}},
    {"roaming", 5, 20, {40, 50, 0, 0, 0, 10}},
};
const unsigned sq_gen_queues_n = SQ_N(sq_gen_queues);
enum { SQ_Q_TECH = 1, SQ_Q_BROADBAND = 4 };

const char *const sq_gen_regions[SQ_GEN_REGIONS] = {"GD-SZ", "GD-GZ", "BJ-HD", "BJ-CY", "SH-PD",
                                                    "SH-XH", "ZJ-HZ", "JS-NJ", "SC-CD", "HB-WH"};

static const struct sq_weighted sq_outcomes[SQ_O__N] = {
    {"resolved", 78}, {"unresolved", 8}, {"escalated", 7}, {"callback", 7}};
static const struct sq_weighted sq_tiers[] = {
    {"diamond", 2}, {"gold", 8}, {"silver", 25}, {"standard", 65}};
static const unsigned sq_transfers_w[] = {830, 110, 45, 15};

/* What one contact was, before it is written. */
struct sq_gen_contact_facts {
    unsigned channel, queue, reason, agent, outcome, transfers;
    bool abandoned, callback;
    double wait_s, talk_s, hold_s, wrap_s;
};

static unsigned sq_gen_draw_channel(struct sq_rng *r)
{
    unsigned w[SQ_N(sq_gen_channels)];
    for (unsigned i = 0; i < sq_gen_channels_n; i++)
        w[i] = sq_gen_channels[i].weight;
    return sq_rng_pick_w(r, w, sq_gen_channels_n);
}

/* Queue and reason of a new contact (those < 0): drawn by share, except
 * that in a live contact a customer whose region has an outage often calls
 * the tech lines about it. */
static void sq_gen_draw_topic(struct sq_gen *g, uint32_t cust, bool live, int *queue,
                              int *reason)
{
    struct sq_rng *r = &g->rng;
    if (live && *queue < 0 && *reason < 0 && sq_gen_outage_in(g, sq_gen_region_of(g, cust)) &&
        sq_rng_chance(r, 0.5)) {
        *queue = sq_rng_chance(r, 0.7) ? SQ_Q_TECH : SQ_Q_BROADBAND;
        *reason = sq_rng_chance(r, 0.7) ? SQ_R_NETWORK : SQ_R_FAULT;
        return;
    }
    if (*queue < 0) {
        unsigned w[SQ_N(sq_gen_queues)];
        for (unsigned i = 0; i < sq_gen_queues_n; i++)
            w[i] = sq_gen_queues[i].weight;
        *queue = (int)sq_rng_pick_w(r, w, sq_gen_queues_n);
    }
    if (*reason < 0)
        *reason = (int)sq_rng_pick_w(r, sq_gen_queues[*queue].reason_w, SQ_R__N);
}

/* Abandoned, callback request or answered, and the durations. */
static void sq_gen_draw_course(struct sq_rng *r, struct sq_gen_contact_facts *f)
{
    const struct sq_gen_channel *ch = &sq_gen_channels[f->channel];
    double u = sq_rng_unit(r);
    f->abandoned = u < ch->abandon_p;
    f->callback = !f->abandoned && u < ch->abandon_p + ch->callback_p;
    f->talk_s = f->hold_s = f->wrap_s = 0;
    if (f->abandoned) {
        if (ch->realtime && sq_rng_chance(r, 0.3))
            f->wait_s = 0.3 + 4.6 * sq_rng_unit(r); /* hung up at once: short abandon */
        else
            f->wait_s = sq_rng_lognormal(r, fmax(45, ch->wait_med * 3), 0.9, ch->wait_cap);
    } else if (f->callback) {
        f->wait_s = sq_rng_lognormal(r, 90, 0.6, 1800);
    } else {
        f->wait_s = sq_rng_lognormal(r, ch->wait_med, ch->wait_sigma, ch->wait_cap);
        f->talk_s = 20 + sq_rng_lognormal(r, ch->handle_med, ch->handle_sigma, 7200);
        if (sq_rng_chance(r, 0.3))
            f->hold_s = floor(sq_rng_lognormal(r, 45, 0.8, 1800));
        if (ch->realtime)
            f->wrap_s = floor(sq_rng_lognormal(r, 25, 0.5, 600));
    }
}

/* An answered contact joins the pools: every one may be surveyed, recorded
 * ones (voice, chat, app) may be QA-reviewed, and complaints, faults and
 * contacts that did not end well may become tickets. */
static void sq_gen_contact_pools(struct sq_gen *g, const struct sq_gen_contact_facts *f,
                                 uint32_t cust, int64_t ended_ms)
{
    if (f->abandoned || f->callback)
        return;
    struct sq_gen_ref ref = {
        .no = g->n, .at_ms = ended_ms, .cust = cust, .agent = (uint16_t)f->agent,
        .queue = (uint8_t)f->queue, .channel = (uint8_t)f->channel, .reason = (uint8_t)f->reason,
        .outcome = (uint8_t)f->outcome, .transfers = (uint8_t)f->transfers,
        .slow = f->wait_s > sq_gen_target_s[f->channel]};
    struct sq_rng *r = &g->rng;
    sq_gen_pool_put(&g->surveyable, r, &ref);
    if (sq_gen_channels[f->channel].realtime)
        sq_gen_pool_put(&g->recorded, r, &ref);
    double p = f->outcome == SQ_O_ESCALATED    ? 0.8
               : f->outcome == SQ_O_UNRESOLVED ? 0.4
               : f->reason == SQ_R_COMPLAINT   ? 0.35
               : f->reason == SQ_R_FAULT       ? 0.3
               : f->reason == SQ_R_NETWORK     ? 0.15
               : f->reason == SQ_R_BILLING     ? 0.05
                                               : 0.02;
    if (sq_rng_chance(r, p))
        sq_gen_pool_put(&g->ticketable, r, &ref);
}

/* Some customers come back about the same thing: a few minutes later (the
 * call dropped, the answer did not help) or hours later. */
static void sq_gen_maybe_repeat(struct sq_gen *g, uint32_t cust, unsigned queue, unsigned reason,
                                int64_t ended_ms)
{
    struct sq_rng *r = &g->rng;
    if (!sq_rng_chance(r, 0.06))
        return;
    double delay_s = sq_rng_chance(r, 0.25) ? 20 + 580 * sq_rng_unit(r)
                                            : sq_rng_lognormal(r, 3 * 3600.0, 1.0, 96 * 3600.0);
    struct sq_gen_due d = {.due_ms = ended_ms + (int64_t)(delay_s * 1000)};
    d.u.rep = (struct sq_gen_repeat){.cust = cust, .queue = (uint8_t)queue,
                                     .reason = (uint8_t)reason};
    sq_gen_heap_push(&g->repeats, d); /* a bounded backlog of repeats is plenty */
}

static void sq_gen_contact_write(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                 uint32_t cust, const struct sq_gen_contact_facts *f,
                                 int64_t arrived, int64_t answered, int64_t ended_ms)
{
    struct sq_rng *r = &g->rng;
    const struct sq_gen_channel *ch = &sq_gen_channels[f->channel];
    const struct sq_gen_queue *q = &sq_gen_queues[f->queue];
    bool whole = ch->whole_secs, answered_c = !f->abandoned && !f->callback;
    int off = sq_rng_chance(r, 0.3) ? 480 : 0; /* some systems write China time */
    bool with_region = sq_rng_chance(r, 0.6);
    sq_buf_appendf(b, "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_write_time(b, ended_ms, off, whole);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, cust);
    sq_buf_append(b, "\"", 1);
    if (with_region)
        sq_buf_appendf(b, ",\"region\":\"%s\"", sq_gen_regions[sq_gen_region_of(g, cust)]);
    sq_buf_appendf(b, ",\"contact_id\":\"ct%s\",\"channel\":\"%s\",\"queue\":\"%s\"",
                   strchr(event_id, '-'), ch->name, q->name);
    if (answered_c)
        sq_buf_appendf(b, ",\"agent_id\":\"ag-%s-%03u\"", q->name, f->agent);
    sq_buf_append(b, ",\"arrived_at\":", 14);
    sq_gen_write_time(b, arrived, off, whole);
    if (answered_c) {
        sq_buf_append(b, ",\"answered_at\":", 15);
        sq_gen_write_time(b, answered, off, whole);
    }
    sq_buf_append(b, ",\"ended_at\":", 12);
    sq_gen_write_time(b, ended_ms, off, whole);
    if (answered_c)
        sq_buf_appendf(b, ",\"hold_s\":%.0f,\"wrap_s\":%.0f,\"transfers\":%u,\"outcome\":\"%s\"",
                       f->hold_s, f->wrap_s, f->transfers, sq_outcomes[f->outcome].name);
    else if (f->callback)
        sq_buf_append(b, ",\"outcome\":\"callback\"", 21);
    sq_buf_appendf(b, ",\"reason\":\"%s\"}", sq_gen_reasons[f->reason]);
}

void sq_gen_contact(struct sq_gen *g, struct sq_buf *b, const char *event_id, uint32_t cust,
                    int queue, int reason, int64_t ended_ms, bool live)
{
    struct sq_rng *r = &g->rng;
    struct sq_gen_contact_facts f;
    memset(&f, 0, sizeof f);
    f.channel = sq_gen_draw_channel(r);
    sq_gen_draw_topic(g, cust, live, &queue, &reason);
    f.queue = (unsigned)queue;
    f.reason = (unsigned)reason;
    sq_gen_draw_course(r, &f);
    if (!f.abandoned && !f.callback) {
        f.agent = 1 + sq_rng_below(r, sq_gen_queues[f.queue].agents);
        f.transfers = sq_rng_pick_w(r, sq_transfers_w, SQ_N(sq_transfers_w));
        f.outcome = sq_rng_pick(r, sq_outcomes, SQ_N(sq_outcomes));
    } else {
        f.outcome = f.callback ? SQ_O_CALLBACK : SQ_O__N;
    }
    int64_t wait_ms = (int64_t)llround(f.wait_s * 1000);
    int64_t talk_ms = (int64_t)llround(f.talk_s * 1000);
    int64_t arrived = ended_ms - talk_ms - wait_ms;
    int64_t answered = arrived + wait_ms;
    if (sq_gen_channels[f.channel].whole_secs) { /* truncation keeps the order */
        arrived -= ((arrived % 1000) + 1000) % 1000;
        answered -= ((answered % 1000) + 1000) % 1000;
        ended_ms -= ((ended_ms % 1000) + 1000) % 1000;
    }
    sq_gen_contact_write(g, b, event_id, cust, &f, arrived, answered, ended_ms);
    if (live) {
        sq_gen_maybe_repeat(g, cust, f.queue, f.reason, ended_ms);
        sq_gen_contact_pools(g, &f, cust, ended_ms);
    }
}

void sq_gen_contact_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value,
                         uint32_t cust, int64_t at_ms)
{
    char id[64];
    sq_gen_event_id(g, 'c', id, sizeof id);
    int queue = -1, reason = -1;
    if (g->repeats.n && g->repeats.v[0].due_ms <= g->clock_ms) {
        struct sq_gen_due d = sq_gen_heap_pop(&g->repeats);
        cust = d.u.rep.cust;
        queue = d.u.rep.queue;
        reason = d.u.rep.reason;
    }
    sq_gen_write_customer(key, cust);
    sq_gen_contact(g, value, id, cust, queue, reason, at_ms, true);
}

void sq_gen_profile(struct sq_gen *g, struct sq_buf *b, const char *event_id, uint32_t cust,
                    int64_t at_ms)
{
    struct sq_rng *r = &g->rng;
    uint64_t h = sq_gen_hash(g->o.seed ^ UINT64_C(0x70726f66), cust);
    /* The customer's own tier, or now and then a change of plan. */
    unsigned tier = (unsigned)((h >> 8) % 100);
    const char *tier_name = tier < 2 ? "diamond" : tier < 10 ? "gold" : tier < 35 ? "silver"
                                                                                : "standard";
    if (sq_rng_chance(r, 0.05))
        tier_name = sq_tiers[sq_rng_pick(r, sq_tiers, SQ_N(sq_tiers))].name;
    bool enterprise = (h >> 20) % 100 < 5;
    unsigned tenure = (unsigned)((h >> 28) % 180);
    double arpu = 19 + (double)((h >> 40) % 30000) / 100.0;
    sq_buf_appendf(b, "{\"schema\":\"profile.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_write_time(b, at_ms, 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, cust);
    sq_buf_appendf(b,
                   "\",\"tier\":\"%s\",\"enterprise\":%s,\"region\":\"%s\","
                   "\"tenure_months\":%u,\"arpu\":%.2f}",
                   tier_name, enterprise ? "true" : "false",
                   sq_gen_regions[sq_gen_region_of(g, cust)], tenure, arpu);
}
