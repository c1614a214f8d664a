/* gen_feedback.c: what customers and quality inspectors say about recent
 * contacts and tickets: survey.v1 answers (CSAT, NPS, now and then a
 * SERVQUAL form and a comment) and qa_review.v1 reviews of recorded
 * contacts. Scores follow the experience: resolved and quick contacts rate
 * high, unresolved, slow or transferred ones and late or reopened tickets
 * low; QA scores follow each agent's skill, with a few fatal errors.
 * Called by sq_gen_next (gen.c). */
#include "gen_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- surveys -------------------------------------------------------------- */

/* How well it went, about 0 (badly) to 1 (very well). */
static double sq_gen_contact_experience(const struct sq_gen_ref *c)
{
    double x = 0.72;
    x += c->outcome == SQ_O_RESOLVED    ? 0.12
         : c->outcome == SQ_O_UNRESOLVED ? -0.32
         : c->outcome == SQ_O_ESCALATED  ? -0.18
                                         : 0;
    if (c->slow)
        x -= 0.15;
    if (c->transfers >= 2)
        x -= 0.12;
    return x;
}

static double sq_gen_ticket_experience(const struct sq_gen_ref *t)
{
    double x = 0.62 - 0.2 * t->reopens;
    if (t->slow)
        x -= 0.22;
    if (t->queue == 0) /* a complaint */
        x -= 0.08;
    return x;
}

/* CSAT 1..5: J-shaped overall (mostly 4 and 5, a tail of 1s). */
static int sq_gen_csat(struct sq_rng *r, double x)
{
    double l = x + 0.25 * sq_rng_normal(r);
    return l < 0.30 ? 1 : l < 0.45 ? 2 : l < 0.60 ? 3 : l < 0.78 ? 4 : 5;
}

/* NPS 0..10: promoters 9-10, passives 7-8, detractors 0-6. */
static int sq_gen_nps(struct sq_rng *r, double x)
{
    int v = (int)floor((x + 0.05 + 0.28 * sq_rng_normal(r)) * 11);
    return v < 0 ? 0 : v > 10 ? 10 : v;
}

static double sq_quarter(double v, double lo, double hi)
{
    v = round(v * 4) / 4;
    return v < lo ? lo : v > hi ? hi : v;
}

/* A SERVQUAL form: every dimension, or a few; expectations high, the gap
 * to perception widening as the experience gets worse. */
static void sq_gen_servqual(struct sq_rng *r, struct sq_buf *b, double x)
{
    static const char *const dims[] = {"reliability", "responsiveness", "assurance", "empathy",
                                       "tangibles"};
    bool all = sq_rng_chance(r, 0.6);
    unsigned first = all ? 0 : sq_rng_below(r, 5), n = all ? 5 : 2 + sq_rng_below(r, 3);
    sq_buf_append(b, ",\"servqual\":{", 13);
    for (unsigned i = 0; i < n; i++) {
        double expected = sq_quarter(5 + 2 * sq_rng_unit(r), 1, 7);
        double gap = (0.75 - x) * 5 + 0.9 * sq_rng_normal(r);
        double perceived = sq_quarter(expected - gap, 1, 7);
        sq_buf_appendf(b, "%s\"%s\":{\"expected\":%g,\"perceived\":%g}", i ? "," : "",
                       dims[(first + i) % 5], expected, perceived);
    }
    sq_buf_append(b, "}", 1);
}

static const char *const sq_praise[] = {
    "quick and friendly, problem solved", "the agent explained the bill clearly",
    "fixed on the first call, thanks", "very patient with my questions"};
static const char *const sq_gripes[] = {
    "waited too long on hold", "had to explain the problem three times",
    "the network is still dropping calls", "nobody called back as promised",
    "charged twice and still no refund"};

/* The thing a survey rates: a resolved ticket now and then, else an
 * answered contact, else (none yet in this stream) an earlier contact. */
static double sq_gen_survey_subject(struct sq_gen *g, uint32_t *cust, uint64_t *contact_no,
                                    uint64_t *ticket_no)
{
    struct sq_rng *r = &g->rng;
    struct sq_gen_ref ref;
    *contact_no = *ticket_no = 0;
    if (g->resolved.n && sq_rng_chance(r, 0.2) && sq_gen_pool_take(&g->resolved, r, &ref)) {
        *cust = ref.cust;
        *ticket_no = ref.no;
        return sq_gen_ticket_experience(&ref);
    }
    if (sq_gen_pool_take(&g->surveyable, r, &ref)) {
        *cust = ref.cust;
        *contact_no = ref.no;
        return sq_gen_contact_experience(&ref);
    }
    *cust = sq_gen_pick_customer(g);
    return 0.7;
}

void sq_gen_survey_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value)
{
    struct sq_rng *r = &g->rng;
    char id[64];
    sq_gen_event_id(g, 's', id, sizeof id);
    uint32_t cust;
    uint64_t contact_no, ticket_no;
    double x = sq_gen_survey_subject(g, &cust, &contact_no, &ticket_no);
    sq_gen_write_customer(key, cust);
    struct sq_buf *b = value;
    sq_buf_appendf(b, "{\"schema\":\"survey.v1\",\"event_id\":\"%s\",\"occurred_at\":", id);
    sq_gen_write_time(b, g->clock_ms, sq_rng_chance(r, 0.3) ? 480 : 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, cust);
    sq_buf_appendf(b, "\",\"survey_id\":\"sv%s\"", strchr(id, '-'));
    if (ticket_no)
        sq_buf_appendf(b, ",\"ticket_id\":\"tk-%" PRIu64 "-%" PRIu64 "\"", g->o.seed, ticket_no);
    else if (contact_no)
        sq_buf_appendf(b, ",\"contact_id\":\"ct-%" PRIu64 "-%" PRIu64 "\"", g->o.seed,
                       contact_no);
    else /* a contact from before the stream began */
        sq_buf_appendf(b, ",\"contact_id\":\"ct-%" PRIu64 "-b%" PRIu64 "\"", g->o.seed, g->n);
    /* Which questions: CSAT after a contact, often with NPS; an NPS-only
     * relationship survey; now and then the long SERVQUAL form. */
    double form = sq_rng_unit(r);
    int csat = form < 0.80 ? sq_gen_csat(r, x) : 0;
    int nps = form >= 0.55 && form < 0.92 ? sq_gen_nps(r, x) : -1;
    if (csat)
        sq_buf_appendf(b, ",\"csat\":%d", csat);
    if (nps >= 0)
        sq_buf_appendf(b, ",\"nps\":%d", nps);
    if (form >= 0.92)
        sq_gen_servqual(r, b, x);
    /* A comment now and then, in the tone of the answers. */
    bool good = csat ? csat >= 4 : nps >= 0 ? nps >= 9 : x >= 0.7;
    bool bad = csat ? csat <= 2 : nps >= 0 ? nps <= 6 : x < 0.5;
    if ((good || bad) && sq_rng_chance(r, 0.15)) {
        const char *c = good ? sq_praise[sq_rng_below(r, SQ_N(sq_praise))]
                             : sq_gripes[sq_rng_below(r, SQ_N(sq_gripes))];
        sq_buf_appendf(b, ",\"comment\":\"%s\"", c);
    }
    sq_buf_append(b, "}", 1);
}

/* ---- QA reviews ----------------------------------------------------------- */

static const char *const sq_fatal_errors[] = {"no_identity_check", "privacy_disclosure",
                                              "rude_language", "wrong_information",
                                              "unauthorised_promise"};

/* The agent's usual deductions (points off 100, the median): 5 for the
 * best agents to 20 for the weakest, fixed per agent. */
static double sq_gen_agent_deduction(const struct sq_gen *g, unsigned queue, unsigned agent)
{
    uint64_t h = sq_gen_hash(g->o.seed ^ UINT64_C(0x7161), (uint64_t)queue * 1000 + agent);
    return 5 + 15 * (double)(h % 1000) / 1000.0;
}

/* The reviewed contact: a recent recorded one, else (none yet) an earlier one. */
static void sq_gen_qa_subject(struct sq_gen *g, struct sq_gen_ref *ref)
{
    struct sq_rng *r = &g->rng;
    if (sq_gen_pool_take(&g->recorded, r, ref))
        return;
    memset(ref, 0, sizeof *ref);
    ref->cust = sq_gen_pick_customer(g);
    ref->queue = (uint8_t)sq_rng_below(r, sq_gen_queues_n);
    ref->agent = (uint16_t)(1 + sq_rng_below(r, sq_gen_queues[ref->queue].agents));
}

void sq_gen_qa_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value)
{
    struct sq_rng *r = &g->rng;
    char id[64];
    sq_gen_event_id(g, 'q', id, sizeof id);
    struct sq_gen_ref c;
    sq_gen_qa_subject(g, &c);
    double md = sq_gen_agent_deduction(g, c.queue, c.agent);
    double score = 100 - sq_rng_lognormal(r, md, 0.6, 100);
    unsigned fatal = 0;
    if (sq_rng_chance(r, md > 15 ? 0.065 : 0.025)) {
        fatal = sq_rng_chance(r, 0.85) ? 1 : 2;
        score -= 10 + 25 * sq_rng_unit(r);
    }
    score = round(score * 2) / 2;
    score = score < 0 ? 0 : score;
    sq_gen_write_customer(key, c.cust);
    struct sq_buf *b = value;
    sq_buf_appendf(b, "{\"schema\":\"qa_review.v1\",\"event_id\":\"%s\",\"occurred_at\":", id);
    sq_gen_write_time(b, g->clock_ms, 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, c.cust);
    sq_buf_appendf(b, "\",\"review_id\":\"qa%s\"", strchr(id, '-'));
    if (c.no)
        sq_buf_appendf(b, ",\"contact_id\":\"ct-%" PRIu64 "-%" PRIu64 "\"", g->o.seed, c.no);
    else
        sq_buf_appendf(b, ",\"contact_id\":\"ct-%" PRIu64 "-b%" PRIu64 "\"", g->o.seed, g->n);
    sq_buf_appendf(b, ",\"agent_id\":\"ag-%s-%03u\",\"score\":%g", sq_gen_queues[c.queue].name,
                   c.agent, score);
    if (fatal || sq_rng_chance(r, 0.3)) {
        sq_buf_append(b, ",\"fatal_errors\":[", 17);
        unsigned first = sq_rng_below(r, SQ_N(sq_fatal_errors));
        for (unsigned i = 0; i < fatal; i++)
            sq_buf_appendf(b, "%s\"%s\"", i ? "," : "",
                           sq_fatal_errors[(first + i) % SQ_N(sq_fatal_errors)]);
        sq_buf_append(b, "]", 1);
    }
    sq_buf_append(b, "}", 1);
}
