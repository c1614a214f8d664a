/* score.h: the scoring rules of SPEC 4, 5 and 15 as pure functions: the VIP
 * rule and answer target T, the breaches and SERVQUAL dimension scores of
 * contacts, surveys and QA reviews, quality_score, the sq.out.breaches
 * record and the cx_index. No I/O; the score processor and processors/
 * tickets.c call them (ticket breaches and scores live in tickets.c). */
#ifndef SQ_SCORE_H
#define SQ_SCORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "breach.h"
#include "derive.h"
#include "settings.h"

/* contact.v1 channels in SPEC 2's order: the index of
 * settings.sla_answer_s / sla_answer_s_vip. */
enum sq_channel {
    SQ_CH_VOICE,
    SQ_CH_CHAT,
    SQ_CH_APP,
    SQ_CH_EMAIL,
    SQ_CH_SMS,
    SQ_CH_STORE,
    SQ_CH_SOCIAL,
    SQ_CH__COUNT
};

/* Its index, or -1 for a name that is not a channel. */
int sq_channel_parse(const char *name);

/* The customer as enrichment saw it at the event. Borrowed strings. */
struct sq_customer_ctx {
    const char *tier;       /* diamond, gold, silver, standard; "unknown" without a profile */
    bool enterprise;
    const char *region;     /* NULL: written as null */
};

/* VIP (SPEC 4): tier diamond or gold, or enterprise. */
bool sq_is_vip(const struct sq_customer_ctx *c);

/* The customer's answer target T of a channel, s: sla.answer_s_vip for a VIP,
 * sla.answer_s otherwise. A name that is not a channel (validation keeps
 * them out) gets the voice target. */
double sq_answer_threshold_s(const struct sq_settings *st, const char *channel, bool vip);

/* A scored event's dimension scores, unrounded (SPEC 5: rounded only when
 * written). */
struct sq_score {
    bool has[SQ_DIM__COUNT];
    double dim[SQ_DIM__COUNT];
    bool has_quality;       /* false: not scored (no dimension) */
    double quality;         /* weighted mean over present dims, weights renormalised */
};

/* An event's breaches in SPEC 4's table order, each code at most once. Owns
 * each breach's details: release with sq_breach_list_fini. */
struct sq_breach_list {
    struct sq_breach v[SQ_BREACH__COUNT];
    int n;
};

/* Empties the list, releasing what its breaches own; safe twice. The scorers
 * below start from an empty list themselves (they do not free it). */
void sq_breach_list_fini(struct sq_breach_list *l);

/* REPEAT_CONTACT's window (SPEC 4): whether an earlier contact with the same
 * reason that arrived at prev_arrived_ms counts for one that arrived at
 * arrived_ms: 0 < arrived_ms - prev_arrived_ms <= fcr.window_h. The caller
 * counts these over the customer's processed contacts (plus 1 for this one)
 * to get repeat_in_window. */
bool sq_repeat_in_window(const struct sq_settings *st, int64_t arrived_ms,
                         int64_t prev_arrived_ms);

/* contact.v1 (d from sq_contact_derive): breaches SLA_WAIT, ABANDONED,
 * REPEAT_CONTACT, TRANSFER_CHAIN, UNRESOLVED and the score. event_ms is the
 * event's occurred_at (the breaches' occurred_ms). repeat_in_window is the
 * number of the customer's contacts with this reason in the fcr.window_h
 * window, this one included, as the caller counts them from the contacts
 * already processed (SPEC 4): REPEAT_CONTACT when it is 2 or more. Sets
 * d->repeat. *out and *score are overwritten; score is finished (quality
 * computed). A short abandon or a callback request has no score. */
void sq_score_contact(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                      struct sq_contact_derived *d, const struct sq_customer_ctx *cust,
                      int repeat_in_window, struct sq_breach_list *out, struct sq_score *score);

/* survey.v1: SURVEY_DETRACTOR, SERVQUAL_GAP and the score, as above. */
void sq_score_survey(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                     const struct sq_customer_ctx *cust, struct sq_breach_list *out,
                     struct sq_score *score);

/* qa_review.v1: QA_FATAL, QA_LOW and the score (assurance), as above. */
void sq_score_qa(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                 const struct sq_customer_ctx *cust, struct sq_breach_list *out,
                 struct sq_score *score);

/* Computes score->quality from the present dimensions with the configured
 * weights, renormalised over them (all present weights 0: the plain mean);
 * no dimension: has_quality false. The scorers above call it already. */
void sq_score_finish(const struct sq_settings *st, struct sq_score *score);

/* SPEC 15's one-decimal rounding: C round(x * 10) / 10 (half away from zero). */
double sq_round1(double x);

/* {"quality_score": r1, "dimensions": {name: r1, ...}}: no quality_score
 * when !has_quality, dimensions in SQ_DIMENSIONS order. New reference. */
json_t *sq_score_json(const struct sq_score *s);

/* The sq.out.breaches record (SPEC 8, 15): {breach_id, code, severity,
 * dimension, event_id, customer_id, tier, region, queue?, agent_id?,
 * ticket_id?, value, threshold, occurred_at, detected_at, details?}. queue,
 * agent_id and ticket_id are copied from ev when it has them as strings (ev
 * may be NULL); times are UTC with milliseconds; value and threshold are
 * integers when integral, null when the breach has none. New reference. */
json_t *sq_breach_record(const struct sq_breach *b, const char *event_id,
                         const char *customer_id, const struct sq_customer_ctx *cust,
                         json_t *ev, int64_t detected_ms);

/* cx_index (SPEC 5): a time-decayed mean, order-free in exact arithmetic.
 * Zero-initialise; num, den and t0_ms are what the store keeps. */
struct sq_cx {
    double num, den;
    int64_t t0_ms;
    bool set;               /* an event was added */
};

/* Adds an event at t_ms with quality score s; half_life_days > 0. */
void sq_cx_add(struct sq_cx *cx, int64_t t_ms, double score, double half_life_days);
/* num / den; NAN before the first event. */
double sq_cx_value(const struct sq_cx *cx);

#endif
