/* gen.c: the synthetic load of `sqgate gen`, `sqgate demo` and bench/: the
 * generator's life cycle and sq_gen_next, which advances the event clock
 * (Poisson arrivals, optionally following the day) and gives each message
 * slot to one event type by the configured shares: contacts and profiles
 * (gen_contacts.c), ticket lifecycle steps (gen_tickets.c), surveys and QA
 * reviews (gen_feedback.c), outages (gen_outages.c), malformed messages
 * (gen_malformed.c) or a redelivery of a recent message. Also the replay
 * envelope of a message. Kafka: gen_kafka.c; the command line: gen_cli.c. */
#include "gen_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_GEN_MAGIC 0x53514745u /* "SQGE" */

const char *sq_gen_kind_name(int kind)
{
    static const char *const names[SQ_GEN__KINDS] = {
        "contact",        "profile",   "ticket",     "survey",   "qa_review",
        "outage",         "duplicate", "malformed_json", "too_large", "not_object",
        "bad_utf8",       "too_deep",  "unknown_schema"};
    return kind >= 0 && kind < SQ_GEN__KINDS ? names[kind] : "?";
}

enum sq_dlq_reason sq_gen_kind_reason(int kind)
{
    switch (kind) {
    case SQ_GEN_MALFORMED_JSON: return SQ_DLQ_MALFORMED_JSON;
    case SQ_GEN_TOO_LARGE: return SQ_DLQ_TOO_LARGE;
    case SQ_GEN_NOT_OBJECT: return SQ_DLQ_NOT_OBJECT;
    case SQ_GEN_BAD_UTF8: return SQ_DLQ_BAD_UTF8;
    case SQ_GEN_TOO_DEEP: return SQ_DLQ_TOO_DEEP;
    case SQ_GEN_UNKNOWN_SCHEMA: return SQ_DLQ_UNKNOWN_SCHEMA;
    default: return SQ_DLQ_NONE;
    }
}

static const char *const sq_gen_topics[SQ_GEN__TOPICS] = {
    SQ_GEN_TOPIC_CONTACTS, SQ_GEN_TOPIC_PROFILES, SQ_GEN_TOPIC_TICKETS,
    SQ_GEN_TOPIC_SURVEYS,  SQ_GEN_TOPIC_QA,       SQ_GEN_TOPIC_OUTAGES};
static const char *const sq_gen_schemas[SQ_GEN__TOPICS] = {
    "contact.v1", "profile.v1", "ticket.v1", "survey.v1", "qa_review.v1", "outage.v1"};

int sq_gen_topic_index(const char *topic)
{
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        if (strcmp(topic, sq_gen_topics[i]) == 0)
            return i;
    return -1;
}

const char *sq_gen_topic_name(int i)
{
    return i >= 0 && i < SQ_GEN__TOPICS ? sq_gen_topics[i] : NULL;
}

const char *sq_gen_topic_schema(int i)
{
    return i >= 0 && i < SQ_GEN__TOPICS ? sq_gen_schemas[i] : NULL;
}

void sq_gen_target_topics(struct sq_gen_target *tgt, const struct sq_settings *st)
{
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        for (size_t j = 0; j < st->inputs_n; j++)
            if (strcmp(st->inputs[j].schema, sq_gen_schemas[i]) == 0)
                tgt->topics[i] = st->inputs[j].name;
}

void sq_gen_opts_defaults(struct sq_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->start_ms = sq_now_ms();
    o->customers = 10000;
    o->rate = 1000;
    o->daily = false;
    o->malformed_share = 0.01;
    o->duplicate_share = 0.01;
    o->profile_share = 0.02;
    o->ticket_share = 0.15;
    o->survey_share = 0.08;
    o->qa_share = 0.03;
    o->outage_share = 0.0002;
}

static double sq_clamp01(double v)
{
    return v > 0 ? (v < 1 ? v : 1) : 0; /* NaN -> 0 */
}

/* Clamps the shares and scales them down to a sum of 1 when they exceed it;
 * contacts get the rest. */
static void sq_gen_norm_shares(struct sq_gen *g)
{
    double *s[] = {&g->o.malformed_share, &g->o.duplicate_share, &g->o.profile_share,
                   &g->o.ticket_share,    &g->o.survey_share,    &g->o.qa_share,
                   &g->o.outage_share};
    double sum = 0;
    for (unsigned i = 0; i < SQ_N(s); i++) {
        *s[i] = sq_clamp01(*s[i]);
        sum += *s[i];
    }
    if (sum > 1)
        for (unsigned i = 0; i < SQ_N(s); i++)
            *s[i] /= sum;
    g->contact_share = sum > 1 ? 0 : 1 - sum;
}

struct sq_gen *sq_gen_new(const struct sq_gen_opts *o)
{
    struct sq_gen *g = sq_xcalloc(1, sizeof *g);
    g->magic = SQ_GEN_MAGIC;
    g->o = *o;
    if (g->o.customers < 1)
        g->o.customers = 1;
    if (g->o.customers > 100000000)
        g->o.customers = 100000000;
    if (!(g->o.rate > 0))
        g->o.rate = 1000;
    sq_gen_norm_shares(g);
    sq_rng_seed(&g->rng, o->seed);
    g->clock_ms = o->start_ms;
    sq_gen_heap_init(&g->repeats, SQ_GEN_REPEATS_MAX);
    sq_gen_heap_init(&g->tickets, SQ_GEN_TICKETS_MAX);
    sq_gen_pool_init(&g->surveyable, SQ_GEN_POOL);
    sq_gen_pool_init(&g->recorded, SQ_GEN_POOL);
    sq_gen_pool_init(&g->ticketable, SQ_GEN_POOL);
    sq_gen_pool_init(&g->resolved, SQ_GEN_POOL);
    for (size_t i = 0; i < SQ_GEN_RING; i++) {
        sq_buf_init(&g->ring[i].key);
        sq_buf_init(&g->ring[i].value);
    }
    sq_buf_init(&g->tmp);
    return g;
}

void sq_gen_free(struct sq_gen *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < SQ_GEN_RING; i++) {
        sq_buf_fini(&g->ring[i].key);
        sq_buf_fini(&g->ring[i].value);
    }
    sq_buf_fini(&g->tmp);
    sq_gen_heap_fini(&g->repeats);
    sq_gen_heap_fini(&g->tickets);
    sq_gen_pool_fini(&g->surveyable);
    sq_gen_pool_fini(&g->recorded);
    sq_gen_pool_fini(&g->ticketable);
    sq_gen_pool_fini(&g->resolved);
    g->magic = 0;
    free(g);
}

const struct sq_gen_opts *sq_gen_options(const struct sq_gen *g)
{
    return &g->o;
}

int64_t sq_gen_clock_ms(const struct sq_gen *g)
{
    return g->clock_ms;
}

bool sq_gen_topic_used(const struct sq_gen *g, int i)
{
    const struct sq_gen_opts *o = &g->o;
    switch (i) {
    case SQ_GEN_T_CONTACTS: /* malformed messages go there, so may duplicates */
        return g->contact_share > 0 || o->malformed_share > 0 || o->duplicate_share > 0;
    case SQ_GEN_T_PROFILES: return o->profile_share > 0;
    case SQ_GEN_T_TICKETS: return o->ticket_share > 0;
    case SQ_GEN_T_SURVEYS: return o->survey_share > 0;
    case SQ_GEN_T_QA: return o->qa_share > 0;
    case SQ_GEN_T_OUTAGES: return o->outage_share > 0;
    default: return false;
    }
}

double sq_gen_topic_share(const struct sq_gen *g, int i)
{
    const struct sq_gen_opts *o = &g->o;
    double kinds[SQ_GEN__TOPICS] = {
        [SQ_GEN_T_CONTACTS] = g->contact_share, [SQ_GEN_T_PROFILES] = o->profile_share,
        [SQ_GEN_T_TICKETS] = o->ticket_share,   [SQ_GEN_T_SURVEYS] = o->survey_share,
        [SQ_GEN_T_QA] = o->qa_share,            [SQ_GEN_T_OUTAGES] = o->outage_share,
    };
    if (i < 0 || i >= SQ_GEN__TOPICS)
        return 0;
    /* a duplicate redelivers a recent event, so duplicates follow the
     * events' mix; malformed messages all go to contacts */
    double events = 1 - o->malformed_share - o->duplicate_share;
    double s = kinds[i] + (events > 0 ? o->duplicate_share * kinds[i] / events : 0);
    return i == SQ_GEN_T_CONTACTS ? s + o->malformed_share : s;
}

/* ---- sq_gen_next ------------------------------------------------------------ */

static void sq_gen_remember(struct sq_gen *g, int topic, const struct sq_buf *key,
                            const struct sq_buf *value)
{
    struct sq_gen_saved *s = &g->ring[g->ring_next];
    s->topic = topic;
    sq_buf_reset(&s->key);
    sq_buf_append(&s->key, key->data, key->len);
    sq_buf_reset(&s->value);
    sq_buf_append(&s->value, value->data, value->len);
    g->ring_next = (g->ring_next + 1) % SQ_GEN_RING;
    if (g->ring_n < SQ_GEN_RING)
        g->ring_n++;
}

/* The next arrival: exponential inter-arrival times at opts.rate, scaled
 * by the daily profile at the current time when opts.daily. */
static void sq_gen_tick(struct sq_gen *g)
{
    double rate = g->o.rate;
    if (g->o.daily)
        rate *= sq_gen_daily_factor(g->clock_ms);
    g->t_ms += -log(1.0 - sq_rng_unit(&g->rng)) * 1000.0 / rate;
    g->clock_ms = g->o.start_ms + (int64_t)g->t_ms;
}

/* Which kind this slot is, by the shares (u uniform in [0, 1)). */
static int sq_gen_slot_kind(const struct sq_gen *g, double u)
{
    const struct sq_gen_opts *o = &g->o;
    const struct {
        double share;
        int kind;
    } order[] = {
        {o->malformed_share, SQ_GEN_MALFORMED_JSON}, {o->duplicate_share, SQ_GEN_DUPLICATE},
        {o->profile_share, SQ_GEN_PROFILE},          {o->ticket_share, SQ_GEN_TICKET},
        {o->survey_share, SQ_GEN_SURVEY},            {o->qa_share, SQ_GEN_QA_REVIEW},
        {o->outage_share, SQ_GEN_OUTAGE},
    };
    double acc = 0;
    for (unsigned i = 0; i < SQ_N(order); i++) {
        acc += order[i].share;
        if (u < acc)
            return order[i].kind;
    }
    return SQ_GEN_CONTACT;
}

static const int sq_gen_kind_topics[] = {
    [SQ_GEN_CONTACT] = SQ_GEN_T_CONTACTS, [SQ_GEN_PROFILE] = SQ_GEN_T_PROFILES,
    [SQ_GEN_TICKET] = SQ_GEN_T_TICKETS,   [SQ_GEN_SURVEY] = SQ_GEN_T_SURVEYS,
    [SQ_GEN_QA_REVIEW] = SQ_GEN_T_QA,     [SQ_GEN_OUTAGE] = SQ_GEN_T_OUTAGES,
};

int sq_gen_next(struct sq_gen *g, const char **topic, struct sq_buf *key, struct sq_buf *value)
{
    struct sq_rng *r = &g->rng;
    sq_buf_reset(key);
    sq_buf_reset(value);
    sq_buf_append(key, "", 0); /* data is never NULL afterwards */
    sq_buf_append(value, "", 0);
    g->n++;
    sq_gen_tick(g);
    int64_t at = g->clock_ms;
    if (sq_rng_chance(r, 0.03)) /* a late contact or profile: a source system that buffers */
        at -= 1000 + (int64_t)sq_rng_below(r, 59000);
    int kind = sq_gen_slot_kind(g, sq_rng_unit(r));
    uint32_t cust = sq_gen_pick_customer(g);
    char id[64];
    *topic = SQ_GEN_TOPIC_CONTACTS;
    if (kind == SQ_GEN_MALFORMED_JSON) {
        kind = SQ_GEN_MALFORMED_JSON + (int)sq_rng_below(r, 6);
        sq_gen_event_id(g, 'm', id, sizeof id);
        sq_gen_write_customer(key, cust);
        sq_gen_malformed(g, kind, value, id, cust);
        return kind; /* never duplicated */
    }
    if (kind == SQ_GEN_DUPLICATE) {
        if (g->ring_n) { /* a redelivery: the same bytes under the same event_id */
            const struct sq_gen_saved *s = &g->ring[sq_rng_below(r, (uint32_t)g->ring_n)];
            *topic = sq_gen_topics[s->topic];
            sq_buf_append(key, s->key.data, s->key.len);
            sq_buf_append(value, s->value.data, s->value.len);
            return SQ_GEN_DUPLICATE;
        }
        kind = SQ_GEN_CONTACT; /* nothing to redeliver yet */
    }
    switch (kind) {
    case SQ_GEN_PROFILE:
        sq_gen_event_id(g, 'p', id, sizeof id);
        sq_gen_write_customer(key, cust);
        sq_gen_profile(g, value, id, cust, at);
        break;
    case SQ_GEN_TICKET: sq_gen_ticket_next(g, key, value); break;
    case SQ_GEN_SURVEY: sq_gen_survey_next(g, key, value); break;
    case SQ_GEN_QA_REVIEW: sq_gen_qa_next(g, key, value); break;
    case SQ_GEN_OUTAGE: sq_gen_outage_next(g, key, value); break;
    default: sq_gen_contact_next(g, key, value, cust, at); break;
    }
    *topic = sq_gen_topics[sq_gen_kind_topics[kind]];
    sq_gen_remember(g, sq_gen_kind_topics[kind], key, value);
    return kind;
}

/* ---- replay envelopes ----------------------------------------------------- */

/* A JSON string of n bytes of ASCII text (the generator writes no other). */
static void sq_gen_json_string(struct sq_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sq_buf_append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        sq_buf_append(out, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sq_buf_append(out, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sq_buf_append(out, e, 6);
        }
    }
    sq_buf_append(out, s + run, n - run);
    sq_buf_append(out, "\"", 1);
}

void sq_gen_envelope(struct sq_buf *out, int kind, const char *topic, const struct sq_buf *key,
                     const struct sq_buf *value)
{
    sq_buf_append(out, "{\"topic\":", 9);
    sq_gen_json_string(out, topic, strlen(topic));
    sq_buf_append(out, ",\"key\":", 7);
    sq_gen_json_string(out, key->data ? key->data : "", key->len);
    sq_buf_append(out, ",\"value\":", 9);
    bool object = kind < SQ_GEN_MALFORMED_JSON || kind == SQ_GEN_UNKNOWN_SCHEMA;
    if (object)
        sq_buf_append(out, value->data, value->len);
    else
        sq_gen_json_string(out, value->data ? value->data : "", value->len);
    sq_buf_append(out, "}\n", 2);
}
