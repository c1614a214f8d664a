/* score.c: the breach rules and SERVQUAL scores of contacts, surveys and QA
 * reviews (SPEC 4, 5, 15), quality_score, the breach record and cx_index.
 * Pure functions over a validated event; thresholds come from sq_settings.
 * Ticket rules are in tickets.c. */
#include "score.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sq_common.h"

_Static_assert(SQ_CH__COUNT == sizeof ((struct sq_settings *)0)->sla_answer_s /
                                   sizeof ((struct sq_settings *)0)->sla_answer_s[0],
               "settings.sla_answer_s has one entry per channel");
_Static_assert(SQ_DIM__COUNT == sizeof ((struct sq_settings *)0)->score_weights /
                                    sizeof ((struct sq_settings *)0)->score_weights[0],
               "settings.score_weights has one entry per dimension");

/* Fixed thresholds of SPEC 4 that are not configuration. */
#define SQ_REPEAT_THRESHOLD 2      /* REPEAT_CONTACT: contacts in the window */
#define SQ_REPEAT_MAJOR 3          /* ... major from this many */
#define SQ_DETRACTOR_NPS 6         /* SURVEY_DETRACTOR: nps at or below */
#define SQ_DETRACTOR_CSAT 2        /* ... or csat at or below */
#define SQ_SERVQUAL_GAP (-2.0)     /* SERVQUAL_GAP: perceived - expected at or below */

static const char *const sq_channel_names[SQ_CH__COUNT] = {
    "voice", "chat", "app", "email", "sms", "store", "social",
};

int sq_channel_parse(const char *name)
{
    for (int i = 0; name && i < SQ_CH__COUNT; i++)
        if (strcmp(name, sq_channel_names[i]) == 0)
            return i;
    return -1;
}

bool sq_is_vip(const struct sq_customer_ctx *c)
{
    if (c->enterprise)
        return true;
    return c->tier && (strcmp(c->tier, "diamond") == 0 || strcmp(c->tier, "gold") == 0);
}

double sq_answer_threshold_s(const struct sq_settings *st, const char *channel, bool vip)
{
    int ch = sq_channel_parse(channel);
    if (ch < 0)
        ch = SQ_CH_VOICE;
    return (double)(vip ? st->sla_answer_s_vip[ch] : st->sla_answer_s[ch]);
}

void sq_breach_list_fini(struct sq_breach_list *l)
{
    for (int i = 0; i < l->n; i++)
        sq_breach_fini(&l->v[i]);
    l->n = 0;
}

/* ---- helpers ---------------------------------------------------------- */

static void sq_begin(json_t *ev, struct sq_breach_list *out, struct sq_score *score,
                     const char **event_id)
{
    memset(out, 0, sizeof *out);
    memset(score, 0, sizeof *score);
    const char *id = json_string_value(json_object_get(ev, "event_id"));
    *event_id = id ? id : "";
}

/* Appends a breach of code; value/threshold NAN means null. Returns it so
 * the caller can set details or the dimension. */
static struct sq_breach *sq_add(struct sq_breach_list *out, enum sq_breach_code code,
                                enum sq_severity sev, double value, double threshold,
                                int64_t event_ms, const char *event_id)
{
    struct sq_breach *b = &out->v[out->n++];
    memset(b, 0, sizeof *b);
    b->code = code;
    b->severity = sev;
    b->dim = sq_breach_code_dim(code);
    b->has_value = !isnan(value);
    b->value = b->has_value ? value : 0;
    b->has_threshold = !isnan(threshold);
    b->threshold = b->has_threshold ? threshold : 0;
    b->occurred_ms = event_ms;
    snprintf(b->id_source, sizeof b->id_source, "%s", event_id);
    sq_breach_id_make(b->id_source, code, b->breach_id);
    return b;
}

static void sq_set_dim(struct sq_score *s, enum sq_dim d, double v)
{
    s->has[d] = true;
    s->dim[d] = v;
}

/* A numeric field, or false when absent or not a number. */
static bool sq_num(json_t *o, const char *name, double *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static double sq_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* ---- contact.v1 ------------------------------------------------------- */

bool sq_repeat_in_window(const struct sq_settings *st, int64_t arrived_ms,
                         int64_t prev_arrived_ms)
{
    int64_t d = arrived_ms - prev_arrived_ms;
    return d > 0 && d <= st->fcr_window_h * INT64_C(3600000);
}

/* SLA_WAIT / ABANDONED: minor, major beyond 3T, a VIP one level up. */
static enum sq_severity sq_wait_severity(double wait_s, double t, bool vip)
{
    enum sq_severity sev = wait_s > 3 * t ? SQ_SEV_MAJOR : SQ_SEV_MINOR;
    return vip ? sq_severity_up(sev) : sev;
}

/* Reliability points of an outcome, or -1 when it is not scored. */
static double sq_outcome_points(const char *outcome)
{
    static const struct {
        const char *name;
        double points;
    } tab[] = {{"resolved", 100}, {"callback", 60}, {"escalated", 40}, {"unresolved", 0}};
    for (size_t i = 0; outcome && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(outcome, tab[i].name) == 0)
            return tab[i].points;
    return -1;
}

void sq_score_contact(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                      struct sq_contact_derived *d, const struct sq_customer_ctx *cust,
                      int repeat_in_window, struct sq_breach_list *out, struct sq_score *score)
{
    const char *eid;
    sq_begin(ev, out, score, &eid);
    bool vip = sq_is_vip(cust);
    double t = sq_answer_threshold_s(st, json_string_value(json_object_get(ev, "channel")), vip);
    double wait_s = (double)d->wait_ms / 1000.0;
    double transfers = 0;
    sq_num(ev, "transfers", &transfers);
    const char *outcome = json_string_value(json_object_get(ev, "outcome"));
    d->repeat = repeat_in_window >= SQ_REPEAT_THRESHOLD;

    if (d->answered && wait_s > t)
        sq_add(out, SQ_BREACH_SLA_WAIT, sq_wait_severity(wait_s, t, vip), wait_s, t, event_ms,
               eid);
    if (d->abandoned && !d->short_abandon)
        sq_add(out, SQ_BREACH_ABANDONED, sq_wait_severity(wait_s, t, vip), wait_s,
               (double)st->sla_short_abandon_s, event_ms, eid);
    if (d->repeat)
        sq_add(out, SQ_BREACH_REPEAT_CONTACT,
               repeat_in_window >= SQ_REPEAT_MAJOR ? SQ_SEV_MAJOR : SQ_SEV_MINOR,
               (double)repeat_in_window, SQ_REPEAT_THRESHOLD, event_ms, eid);
    if (transfers >= (double)st->sla_max_transfers)
        sq_add(out, SQ_BREACH_TRANSFER_CHAIN, SQ_SEV_MINOR, transfers,
               (double)st->sla_max_transfers, event_ms, eid);
    if (outcome && strcmp(outcome, "unresolved") == 0)
        sq_add(out, SQ_BREACH_UNRESOLVED, SQ_SEV_MINOR, NAN, NAN, event_ms, eid);

    if (d->answered) {
        double resp = wait_s <= t ? 100 : fmax(0, 100 * (1 - (wait_s - t) / (3 * t)));
        sq_set_dim(score, SQ_DIM_RESPONSIVENESS, resp);
        double rel = sq_outcome_points(outcome);
        if (rel >= 0)
            sq_set_dim(score, SQ_DIM_RELIABILITY, fmax(0, rel - (d->repeat ? 50 : 0)));
        sq_set_dim(score, SQ_DIM_ASSURANCE, fmax(0, 100 - 25 * transfers));
    } else if (d->abandoned && !d->short_abandon) {
        sq_set_dim(score, SQ_DIM_RESPONSIVENESS, 0);
    }
    /* a short abandon or a callback request is not scored */
    sq_score_finish(st, score);
}

/* ---- survey.v1 -------------------------------------------------------- */

void sq_score_survey(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                     const struct sq_customer_ctx *cust, struct sq_breach_list *out,
                     struct sq_score *score)
{
    const char *eid;
    sq_begin(ev, out, score, &eid);
    double nps = 0, csat = 0;
    bool has_nps = sq_num(ev, "nps", &nps);
    bool has_csat = sq_num(ev, "csat", &csat);

    if ((has_nps && nps <= SQ_DETRACTOR_NPS) || (has_csat && csat <= SQ_DETRACTOR_CSAT))
        sq_add(out, SQ_BREACH_SURVEY_DETRACTOR, sq_is_vip(cust) ? SQ_SEV_MAJOR : SQ_SEV_MINOR,
               has_nps ? nps : csat, has_nps ? SQ_DETRACTOR_NPS : SQ_DETRACTOR_CSAT, event_ms,
               eid);

    /* servqual: each dimension given is scored; the worst gap at or below
     * -2 is the breach's (ties: the first in weight order). */
    json_t *sv = json_object_get(ev, "servqual");
    json_t *gap_dims = NULL;
    int worst = -1;
    double worst_gap = 0;
    for (int i = 0; json_is_object(sv) && i < SQ_DIM__COUNT; i++) {
        json_t *e = json_object_get(sv, sq_dim_name((enum sq_dim)i));
        double exp_v, per_v;
        if (!sq_num(e, "expected", &exp_v) || !sq_num(e, "perceived", &per_v))
            continue;
        double gap = per_v - exp_v;
        sq_set_dim(score, (enum sq_dim)i, sq_clamp(50 + gap * 50 / 6, 0, 100));
        if (gap <= SQ_SERVQUAL_GAP) {
            if (!gap_dims)
                gap_dims = json_array();
            json_array_append_new(gap_dims, json_string(sq_dim_name((enum sq_dim)i)));
            if (worst < 0 || gap < worst_gap) {
                worst = i;
                worst_gap = gap;
            }
        }
    }
    if (worst >= 0) {
        struct sq_breach *b = sq_add(out, SQ_BREACH_SERVQUAL_GAP, SQ_SEV_MINOR, worst_gap,
                                     SQ_SERVQUAL_GAP, event_ms, eid);
        b->dim = (enum sq_dim)worst;
        b->details = gap_dims;
    }

    if (!score->has[SQ_DIM_EMPATHY]) {
        if (has_csat)
            sq_set_dim(score, SQ_DIM_EMPATHY, (csat - 1) * 25);
        else if (has_nps)
            sq_set_dim(score, SQ_DIM_EMPATHY, nps * 10);
    }
    sq_score_finish(st, score);
}

/* ---- qa_review.v1 ----------------------------------------------------- */

void sq_score_qa(const struct sq_settings *st, json_t *ev, int64_t event_ms,
                 const struct sq_customer_ctx *cust, struct sq_breach_list *out,
                 struct sq_score *score)
{
    (void)cust; /* QA rules do not depend on the customer */
    const char *eid;
    sq_begin(ev, out, score, &eid);
    double qa = 0;
    bool has_score = sq_num(ev, "score", &qa);
    json_t *fatal = json_object_get(ev, "fatal_errors");
    size_t nfatal = json_is_array(fatal) ? json_array_size(fatal) : 0;

    if (nfatal > 0)
        sq_add(out, SQ_BREACH_QA_FATAL, SQ_SEV_MAJOR, (double)nfatal, 0, event_ms, eid);
    if (has_score && qa < (double)st->qa_min_score)
        sq_add(out, SQ_BREACH_QA_LOW, SQ_SEV_MINOR, qa, (double)st->qa_min_score, event_ms,
               eid);
    if (has_score)
        sq_set_dim(score, SQ_DIM_ASSURANCE, nfatal > 0 ? 0 : qa);
    sq_score_finish(st, score);
}

/* ---- quality_score ---------------------------------------------------- */

void sq_score_finish(const struct sq_settings *st, struct sq_score *score)
{
    double num = 0, den = 0, sum = 0;
    int n = 0;
    for (int i = 0; i < SQ_DIM__COUNT; i++) {
        if (!score->has[i])
            continue;
        num += st->score_weights[i] * score->dim[i];
        den += st->score_weights[i];
        sum += score->dim[i];
        n++;
    }
    score->has_quality = n > 0;
    if (n == 0)
        score->quality = 0;
    else if (den > 0)
        score->quality = num / den;
    else
        score->quality = sum / n; /* every present weight configured 0 */
}

double sq_round1(double x)
{
    return round(x * 10) / 10;
}

json_t *sq_score_json(const struct sq_score *s)
{
    json_t *o = json_object();
    if (s->has_quality)
        json_object_set_new(o, "quality_score", sq_json_number(sq_round1(s->quality)));
    json_t *dims = json_object();
    for (int i = 0; i < SQ_DIM__COUNT; i++)
        if (s->has[i])
            json_object_set_new(dims, sq_dim_name((enum sq_dim)i),
                                sq_json_number(sq_round1(s->dim[i])));
    json_object_set_new(o, "dimensions", dims);
    return o;
}

/* ---- breach record ---------------------------------------------------- */

static json_t *sq_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *sq_breach_record(const struct sq_breach *b, const char *event_id,
                         const char *customer_id, const struct sq_customer_ctx *cust,
                         json_t *ev, int64_t detected_ms)
{
    char t[SQ_TIME_BUFSZ];
    json_t *o = json_object();
    json_object_set_new(o, "breach_id", json_string(b->breach_id));
    json_object_set_new(o, "code", json_string(sq_breach_code_name(b->code)));
    json_object_set_new(o, "severity", json_string(sq_severity_name(b->severity)));
    json_object_set_new(o, "dimension", json_string(sq_dim_name(b->dim)));
    json_object_set_new(o, "event_id", sq_str_or_null(event_id));
    json_object_set_new(o, "customer_id", sq_str_or_null(customer_id));
    json_object_set_new(o, "tier", json_string(cust->tier ? cust->tier : "unknown"));
    json_object_set_new(o, "region", sq_str_or_null(cust->region));
    static const char *const copied[] = {"queue", "agent_id", "ticket_id"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *v = json_object_get(ev, copied[i]);
        if (json_is_string(v))
            json_object_set(o, copied[i], v);
    }
    json_object_set_new(o, "value", b->has_value ? sq_json_number(b->value) : json_null());
    json_object_set_new(o, "threshold",
                        b->has_threshold ? sq_json_number(b->threshold) : json_null());
    sq_time_format(b->occurred_ms, t);
    json_object_set_new(o, "occurred_at", json_string(t));
    sq_time_format(detected_ms, t);
    json_object_set_new(o, "detected_at", json_string(t));
    if (b->details)
        json_object_set_new(o, "details", json_deep_copy(b->details));
    return o;
}

/* ---- cx_index --------------------------------------------------------- */

void sq_cx_add(struct sq_cx *cx, int64_t t_ms, double score, double half_life_days)
{
    double h_ms = half_life_days * 86400000.0;
    if (!cx->set) {
        cx->num = score;
        cx->den = 1;
        cx->t0_ms = t_ms;
        cx->set = true;
    } else if (t_ms >= cx->t0_ms) {
        double f = exp2(-(double)(t_ms - cx->t0_ms) / h_ms);
        cx->num = cx->num * f + score;
        cx->den = cx->den * f + 1;
        cx->t0_ms = t_ms;
    } else {
        double w = exp2(-(double)(cx->t0_ms - t_ms) / h_ms);
        cx->num += w * score;
        cx->den += w;
    }
}

double sq_cx_value(const struct sq_cx *cx)
{
    return cx->set && cx->den > 0 ? cx->num / cx->den : NAN;
}
