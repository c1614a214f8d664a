/* gen.c: the synthetic load of `sqgate gen` and `sqgate demo`. A seeded
 * xoshiro256** stream drives everything, so one seed and start time always
 * give the same bytes. Contacts follow a contact-centre shape: voice
 * dominant, log-normal waits and handle times, ~10 % abandons (some short),
 * a few callback requests, repeat contacts hours later; plus profiles,
 * malformed messages for every decode DLQ reason and redelivered duplicates.
 * The Kafka side (token-bucket producer) and the CLI are in this file too. */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "log.h"

extern char **environ;

#define SQ_GEN_MAGIC 0x53514745u /* "SQGE" */
#define SQ_GEN_RING 256          /* recent valid messages kept for duplicates */
#define SQ_GEN_HEAP_MAX 65536    /* pending repeat contacts */
#define SQ_GEN_DEEP 100          /* nesting of too_deep messages (limit: 64) */
#define SQ_GEN_LARGE_MIN 65537   /* too_large: above limits.max_message_bytes */

/* ---- PRNG: splitmix64 seeds xoshiro256** -------------------------------- */

static uint64_t sq_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t sq_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

struct sq_rng {
    uint64_t s[4];
};

static void sq_rng_seed(struct sq_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sq_splitmix64(&x);
}

static uint64_t sq_rng_u64(struct sq_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sq_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sq_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double sq_rng_unit(struct sq_rng *r)
{
    return (double)(sq_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0 (multiply-shift; the bias is below 2^-32). */
static uint32_t sq_rng_below(struct sq_rng *r, uint32_t n)
{
    return (uint32_t)(((sq_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

static bool sq_rng_chance(struct sq_rng *r, double p)
{
    return sq_rng_unit(r) < p;
}

/* Standard normal (Box-Muller, one value per call). */
static double sq_rng_normal(struct sq_rng *r)
{
    double u1 = 1.0 - sq_rng_unit(r); /* (0, 1] */
    double u2 = sq_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Log-normal with the given median and shape, capped. */
static double sq_rng_lognormal(struct sq_rng *r, double median, double sigma, double cap)
{
    double v = median * exp(sigma * sq_rng_normal(r));
    return v > cap ? cap : v;
}

/* A hash of (seed, i) for per-customer attributes that never change. */
static uint64_t sq_gen_hash(uint64_t seed, uint64_t i)
{
    uint64_t x = seed ^ (i * UINT64_C(0xd1342543de82ef95));
    return sq_splitmix64(&x);
}

/* ---- the model ---------------------------------------------------------- */

struct sq_weighted {
    const char *name;
    unsigned weight;
};

static unsigned sq_pick(struct sq_rng *r, const struct sq_weighted *w, unsigned n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++)
        total += w[i].weight;
    unsigned x = sq_rng_below(r, total);
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i].weight)
            return i;
        x -= w[i].weight;
    }
    return n - 1;
}

#define SQ_N(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

/* Per channel: share, answered wait and handle time (log-normal medians in
 * seconds and shapes), abandon and callback-request probabilities. Voice
 * median 8 s with shape 1.1 answers ~80 % within its 20 s SLA. */
static const struct sq_gen_channel {
    const char *name;
    unsigned weight;
    double wait_med, wait_sigma, wait_cap;
    double handle_med, handle_sigma;
    double abandon_p, callback_p;
    bool realtime;   /* short abandons happen; wrap-up time after the contact */
    bool whole_secs; /* the source system writes second-resolution times */
} sq_channels[] = {
    {"voice", 55, 8, 1.1, 1800, 270, 0.7, 0.12, 0.030, true, false},
    {"chat", 18, 12, 1.0, 1800, 480, 0.6, 0.10, 0.0, true, false},
    {"app", 12, 10, 1.0, 1800, 300, 0.7, 0.09, 0.010, true, false},
    {"email", 5, 14400, 0.9, 259200, 420, 0.6, 0.01, 0.0, false, true},
    {"sms", 3, 1200, 1.0, 86400, 180, 0.6, 0.03, 0.0, false, true},
    {"store", 4, 420, 0.8, 7200, 600, 0.6, 0.06, 0.0, false, false},
    {"social", 3, 900, 1.1, 43200, 360, 0.7, 0.05, 0.0, false, false},
};

enum { SQ_R_BILLING, SQ_R_NETWORK, SQ_R_PLAN, SQ_R_FAULT, SQ_R_COMPLAINT, SQ_R_OTHER, SQ_R__N };
static const char *const sq_reasons[SQ_R__N] = {"billing", "network", "plan",
                                                "fault",   "complaint", "other"};

/* Per queue: share and the weights of each reason in it. */
static const struct sq_gen_queue {
    const char *name;
    unsigned weight;
    unsigned agents;
    unsigned reason_w[SQ_R__N]; /* billing network plan fault complaint other */
} sq_queues[] = {
    {"billing", 30, 120, {60, 0, 15, 0, 15, 10}},
    {"tech", 30, 150, {0, 45, 0, 40, 10, 5}},
    {"sales", 15, 60, {10, 0, 70, 0, 0, 20}},
    {"retention", 10, 40, {20, 0, 40, 0, 40, 0}},
    {"broadband", 10, 50, {0, 30, 0, 60, 0, 10}},
    {"roaming", 5, 20, {40, 50, 0, 0, 0, 10}},
};

static const char *const sq_regions[] = {"GD-SZ", "GD-GZ", "BJ-HD", "BJ-CY", "SH-PD",
                                         "SH-XH", "ZJ-HZ", "JS-NJ", "SC-CD", "HB-WH"};
static const char *const sq_msisdn_prefix[] = {"138", "139", "186", "177"};

static const struct sq_weighted sq_outcomes[] = {
    {"resolved", 78}, {"unresolved", 8}, {"escalated", 7}, {"callback", 7}};
static const struct sq_weighted sq_tiers[] = {
    {"diamond", 2}, {"gold", 8}, {"silver", 25}, {"standard", 65}};
static const struct sq_weighted sq_transfers[] = {{"0", 830}, {"1", 110}, {"2", 45}, {"3", 15}};

/* A repeat contact waiting for its time: the same customer and reason. */
struct sq_gen_repeat {
    int64_t due_ms;
    uint64_t order; /* insertion order: ties leave the heap deterministically */
    uint32_t cust;
    uint8_t queue, reason;
};

struct sq_gen_saved {
    int topic;
    struct sq_buf key, value;
};

struct sq_gen {
    unsigned magic;
    struct sq_gen_opts o;
    struct sq_rng rng;
    uint64_t n;           /* messages generated so far */
    double t_ms;          /* event clock, ms after start */
    int64_t clock_ms;     /* start + t_ms */
    struct sq_gen_repeat *heap;
    size_t heap_n, heap_cap;
    uint64_t heap_order;
    struct sq_gen_saved ring[SQ_GEN_RING];
    size_t ring_n, ring_next;
    struct sq_buf tmp;
};

const char *sq_gen_kind_name(int kind)
{
    static const char *const names[SQ_GEN__KINDS] = {
        "contact", "profile", "duplicate", "malformed_json", "too_large",
        "not_object", "bad_utf8", "too_deep", "unknown_schema"};
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

static const char *const sq_gen_topics[SQ_GEN__TOPICS] = {SQ_GEN_TOPIC_CONTACTS,
                                                          SQ_GEN_TOPIC_PROFILES};

int sq_gen_topic_index(const char *topic)
{
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        if (strcmp(topic, sq_gen_topics[i]) == 0)
            return i;
    return -1;
}

void sq_gen_opts_defaults(struct sq_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->start_ms = sq_now_ms();
    o->customers = 10000;
    o->rate = 1000;
    o->malformed_share = 0.01;
    o->duplicate_share = 0.01;
    o->profile_share = 0.02;
}

static double sq_clamp01(double v)
{
    return v > 0 ? (v < 1 ? v : 1) : 0; /* NaN -> 0 */
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
    g->o.malformed_share = sq_clamp01(g->o.malformed_share);
    g->o.duplicate_share = sq_clamp01(g->o.duplicate_share);
    g->o.profile_share = sq_clamp01(g->o.profile_share);
    double sum = g->o.malformed_share + g->o.duplicate_share + g->o.profile_share;
    if (sum > 1) {
        g->o.malformed_share /= sum;
        g->o.duplicate_share /= sum;
        g->o.profile_share /= sum;
    }
    sq_rng_seed(&g->rng, o->seed);
    g->clock_ms = o->start_ms;
    g->heap_cap = 64;
    g->heap = sq_xmalloc(g->heap_cap * sizeof *g->heap);
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
    free(g->heap);
    g->magic = 0;
    free(g);
}

int64_t sq_gen_clock_ms(const struct sq_gen *g)
{
    return g->clock_ms;
}

/* ---- the repeat heap (min on due time, then insertion order) ------------ */

static bool sq_heap_less(const struct sq_gen_repeat *a, const struct sq_gen_repeat *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->order < b->order);
}

static void sq_heap_push(struct sq_gen *g, struct sq_gen_repeat rep)
{
    if (g->heap_n >= SQ_GEN_HEAP_MAX)
        return; /* a bounded backlog of repeats is plenty */
    if (g->heap_n == g->heap_cap) {
        g->heap_cap *= 2;
        g->heap = sq_xrealloc(g->heap, g->heap_cap * sizeof *g->heap);
    }
    rep.order = g->heap_order++;
    size_t i = g->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sq_heap_less(&rep, &g->heap[parent]))
            break;
        g->heap[i] = g->heap[parent];
        i = parent;
    }
    g->heap[i] = rep;
}

static struct sq_gen_repeat sq_heap_pop(struct sq_gen *g)
{
    struct sq_gen_repeat top = g->heap[0];
    struct sq_gen_repeat last = g->heap[--g->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->heap_n)
            break;
        if (c + 1 < g->heap_n && sq_heap_less(&g->heap[c + 1], &g->heap[c]))
            c++;
        if (!sq_heap_less(&g->heap[c], &last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (g->heap_n)
        g->heap[i] = last;
    return top;
}

/* ---- text helpers -------------------------------------------------------- */

/* An RFC 3339 time of ms, in UTC ("Z") or at +off_min minutes, with
 * milliseconds unless whole_secs. */
static void sq_gen_time(struct sq_buf *b, int64_t ms, int off_min, bool whole_secs)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int milli = (int)(ms - secs * 1000);
    time_t t = (time_t)(secs + (int64_t)off_min * 60);
    struct tm tm;
    gmtime_r(&t, &tm);
    sq_buf_appendf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (!whole_secs)
        sq_buf_appendf(b, ".%03d", milli);
    if (off_min == 0)
        sq_buf_append(b, "Z\"", 2);
    else
        sq_buf_appendf(b, "%c%02d:%02d\"", off_min < 0 ? '-' : '+', abs(off_min) / 60,
                       abs(off_min) % 60);
}

static void sq_gen_customer_id(struct sq_buf *b, uint32_t cust)
{
    sq_buf_appendf(b, "%s%08" PRIu32, sq_msisdn_prefix[cust % SQ_N(sq_msisdn_prefix)], cust);
}

static const char *sq_gen_region(const struct sq_gen *g, uint32_t cust)
{
    return sq_regions[sq_gen_hash(g->o.seed, cust) % SQ_N(sq_regions)];
}

/* A customer: one in five contacts comes from the busiest 5 % of them. */
static uint32_t sq_gen_pick_customer(struct sq_gen *g)
{
    uint32_t n = g->o.customers;
    uint32_t busy = n / 20;
    if (busy > 0 && sq_rng_chance(&g->rng, 0.2))
        return sq_rng_below(&g->rng, busy);
    return sq_rng_below(&g->rng, n);
}

/* ---- valid events ---------------------------------------------------------- */

/* Writes a contact.v1 of customer cust into b. queue/reason < 0: drawn.
 * Ends at ended_ms. Schedules, sometimes, a repeat contact of the same
 * customer and reason. */
static void sq_gen_contact(struct sq_gen *g, struct sq_buf *b, const char *event_id, uint32_t cust,
                           int queue, int reason, int64_t ended_ms, bool may_repeat)
{
    struct sq_rng *r = &g->rng;
    struct sq_weighted cw[SQ_N(sq_channels)];
    for (unsigned i = 0; i < SQ_N(sq_channels); i++)
        cw[i] = (struct sq_weighted){sq_channels[i].name, sq_channels[i].weight};
    const struct sq_gen_channel *ch = &sq_channels[sq_pick(r, cw, SQ_N(cw))];
    if (queue < 0) {
        struct sq_weighted qw[SQ_N(sq_queues)];
        for (unsigned i = 0; i < SQ_N(sq_queues); i++)
            qw[i] = (struct sq_weighted){sq_queues[i].name, sq_queues[i].weight};
        queue = (int)sq_pick(r, qw, SQ_N(sq_queues));
    }
    const struct sq_gen_queue *q = &sq_queues[queue];
    if (reason < 0) {
        struct sq_weighted rw[SQ_R__N];
        for (unsigned i = 0; i < SQ_R__N; i++)
            rw[i] = (struct sq_weighted){sq_reasons[i], q->reason_w[i]};
        reason = (int)sq_pick(r, rw, SQ_R__N);
    }

    /* What happened: abandoned, callback request, or answered. */
    double u = sq_rng_unit(r);
    bool abandoned = u < ch->abandon_p;
    bool callback = !abandoned && u < ch->abandon_p + ch->callback_p;
    double wait_s, talk_s = 0, hold_s = 0, wrap_s = 0;
    if (abandoned) {
        if (ch->realtime && sq_rng_chance(r, 0.3))
            wait_s = 0.3 + 4.6 * sq_rng_unit(r); /* hung up at once: short abandon */
        else
            wait_s = sq_rng_lognormal(r, fmax(45, ch->wait_med * 3), 0.9, ch->wait_cap);
    } else if (callback) {
        wait_s = sq_rng_lognormal(r, 90, 0.6, 1800);
    } else {
        wait_s = sq_rng_lognormal(r, ch->wait_med, ch->wait_sigma, ch->wait_cap);
        talk_s = 20 + sq_rng_lognormal(r, ch->handle_med, ch->handle_sigma, 7200);
        if (sq_rng_chance(r, 0.3))
            hold_s = floor(sq_rng_lognormal(r, 45, 0.8, 1800));
        if (ch->realtime)
            wrap_s = floor(sq_rng_lognormal(r, 25, 0.5, 600));
    }
    int64_t wait_ms = (int64_t)llround(wait_s * 1000);
    int64_t talk_ms = (int64_t)llround(talk_s * 1000);
    int64_t arrived = ended_ms - talk_ms - wait_ms;
    int64_t answered = arrived + wait_ms;
    bool whole = ch->whole_secs;
    if (whole) { /* truncation keeps the order of the three times */
        arrived -= ((arrived % 1000) + 1000) % 1000;
        answered -= ((answered % 1000) + 1000) % 1000;
        ended_ms -= ((ended_ms % 1000) + 1000) % 1000;
    }
    int off = sq_rng_chance(r, 0.3) ? 480 : 0; /* some systems write China time */
    bool with_region = sq_rng_chance(r, 0.6);

    sq_buf_appendf(b, "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_time(b, ended_ms, off, whole);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_customer_id(b, cust);
    sq_buf_append(b, "\"", 1);
    if (with_region)
        sq_buf_appendf(b, ",\"region\":\"%s\"", sq_gen_region(g, cust));
    sq_buf_appendf(b, ",\"contact_id\":\"ct%s\",\"channel\":\"%s\",\"queue\":\"%s\"",
                   event_id + 1, ch->name, q->name);
    if (!abandoned && !callback)
        sq_buf_appendf(b, ",\"agent_id\":\"ag-%s-%03u\"", q->name,
                       1 + sq_rng_below(r, q->agents));
    sq_buf_append(b, ",\"arrived_at\":", 14);
    sq_gen_time(b, arrived, off, whole);
    if (!abandoned && !callback) {
        sq_buf_append(b, ",\"answered_at\":", 15);
        sq_gen_time(b, answered, off, whole);
    }
    sq_buf_append(b, ",\"ended_at\":", 12);
    sq_gen_time(b, ended_ms, off, whole);
    if (!abandoned && !callback) {
        const char *tr = sq_transfers[sq_pick(r, sq_transfers, SQ_N(sq_transfers))].name;
        const char *out = sq_outcomes[sq_pick(r, sq_outcomes, SQ_N(sq_outcomes))].name;
        sq_buf_appendf(b, ",\"hold_s\":%.0f,\"wrap_s\":%.0f,\"transfers\":%s,\"outcome\":\"%s\"",
                       hold_s, wrap_s, tr, out);
    } else if (callback) {
        sq_buf_append(b, ",\"outcome\":\"callback\"", 21);
    }
    sq_buf_appendf(b, ",\"reason\":\"%s\"}", sq_reasons[reason]);

    /* Some customers come back about the same thing: a few minutes later
     * (the call dropped, the answer did not help) or hours later. */
    if (may_repeat && sq_rng_chance(r, 0.06)) {
        double delay_s = sq_rng_chance(r, 0.25)
                             ? 20 + 580 * sq_rng_unit(r)
                             : sq_rng_lognormal(r, 3 * 3600.0, 1.0, 96 * 3600.0);
        sq_heap_push(g, (struct sq_gen_repeat){
                            .due_ms = arrived + (int64_t)(delay_s * 1000) + wait_ms + talk_ms,
                            .cust = cust, .queue = (uint8_t)queue, .reason = (uint8_t)reason});
    }
}

static void sq_gen_profile(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                           uint32_t cust, int64_t at_ms)
{
    struct sq_rng *r = &g->rng;
    uint64_t h = sq_gen_hash(g->o.seed ^ UINT64_C(0x70726f66), cust);
    /* The customer's own tier, or now and then a change of plan. */
    unsigned tier = (unsigned)((h >> 8) % 100);
    const char *tier_name = tier < 2 ? "diamond" : tier < 10 ? "gold" : tier < 35 ? "silver"
                                                                                : "standard";
    if (sq_rng_chance(r, 0.05))
        tier_name = sq_tiers[sq_pick(r, sq_tiers, SQ_N(sq_tiers))].name;
    bool enterprise = (h >> 20) % 100 < 5;
    unsigned tenure = (unsigned)((h >> 28) % 180);
    double arpu = 19 + (double)((h >> 40) % 30000) / 100.0;
    sq_buf_appendf(b, "{\"schema\":\"profile.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_time(b, at_ms, 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_customer_id(b, cust);
    sq_buf_appendf(b,
                   "\",\"tier\":\"%s\",\"enterprise\":%s,\"region\":\"%s\","
                   "\"tenure_months\":%u,\"arpu\":%.2f}",
                   tier_name, enterprise ? "true" : "false", sq_gen_region(g, cust), tenure, arpu);
}

/* ---- malformed messages ------------------------------------------------------ */

/* A valid contact in g->tmp, the raw material of most malformed variants. */
static void sq_gen_contact_tmp(struct sq_gen *g, const char *event_id, uint32_t cust)
{
    sq_buf_reset(&g->tmp);
    sq_gen_contact(g, &g->tmp, event_id, cust, -1, -1, g->clock_ms, false);
}

static void sq_gen_malformed_json(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                  uint32_t cust)
{
    struct sq_rng *r = &g->rng;
    sq_gen_contact_tmp(g, event_id, cust);
    const char *t = g->tmp.data;
    size_t len = g->tmp.len;
    switch (sq_rng_below(r, 9)) {
    case 0: /* cut short: a producer died mid-write */
        sq_buf_append(b, t, 1 + sq_rng_below(r, (uint32_t)len - 2));
        break;
    case 1: /* a repeated key */
        sq_buf_appendf(b, "{\"event_id\":\"%s-x\",", event_id);
        sq_buf_append(b, t + 1, len - 1);
        break;
    case 2: /* Python repr instead of JSON */
        for (size_t i = 0; i < len; i++)
            sq_buf_append(b, t[i] == '"' ? "'" : t + i, 1);
        break;
    case 3: /* a trailing comma */
        sq_buf_append(b, t, len - 1);
        sq_buf_append(b, ",}", 2);
        break;
    case 4: /* an empty value (not a tombstone outside sq.in.profiles) */
        break;
    case 5: /* a NUL character in a string */
        sq_buf_append(b, t, len - 1);
        sq_buf_append(b, ",\"note\":\"a\\u0000b\"}", 19);
        break;
    case 6: /* two events in one message */
        sq_buf_append(b, t, len);
        sq_buf_append(b, t, len);
        break;
    case 7: /* NaN is not JSON */
        sq_buf_append(b, "{\"hold_s\":NaN,", 14);
        sq_buf_append(b, t + 1, len - 1);
        break;
    default: /* the wrong serializer */
        sq_buf_appendf(b, "<contact id=\"%s\"><channel>voice</channel></contact>", event_id);
        break;
    }
}

static void sq_gen_too_large(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                             uint32_t cust)
{
    static const char words[] = "customer says the line drops every evening since the "
                                "upgrade and wants a refund for the month. ";
    sq_gen_contact_tmp(g, event_id, cust);
    size_t target = SQ_GEN_LARGE_MIN + sq_rng_below(&g->rng, 16384);
    sq_buf_append(b, g->tmp.data, g->tmp.len - 1);
    sq_buf_append(b, ",\"transcript\":\"", 15);
    size_t wl = sizeof words - 1, i = 0;
    while (b->len + 2 < target) {
        size_t n = target - 2 - b->len;
        size_t off = i % wl;
        if (n > wl - off)
            n = wl - off;
        sq_buf_append(b, words + off, n);
        i += n;
    }
    sq_buf_append(b, "\"}", 2);
}

static void sq_gen_not_object(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                              uint32_t cust)
{
    switch (sq_rng_below(&g->rng, 5)) {
    case 0: /* a batch array instead of one event */
        sq_gen_contact_tmp(g, event_id, cust);
        sq_buf_append(b, "[", 1);
        sq_buf_append(b, g->tmp.data, g->tmp.len);
        sq_buf_append(b, "]", 1);
        break;
    case 1: sq_buf_appendf(b, "\"%s\"", event_id); break;
    case 2: sq_buf_appendf(b, "%" PRIu64, g->n); break;
    case 3: sq_buf_append(b, "null", 4); break;
    default: sq_buf_append(b, "true", 4); break;
    }
}

static void sq_gen_bad_utf8(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                            uint32_t cust)
{
    /* Escaped lone surrogates: invalid UTF-8 once decoded, and the message
     * stays ASCII so it fits a replay envelope unchanged. */
    static const char *const notes[] = {"\\ud800", "caf\\udfff", "\\ud83d\\u0041 smile"};
    unsigned v = sq_rng_below(&g->rng, SQ_N(notes));
    sq_gen_contact_tmp(g, event_id, cust);
    sq_buf_append(b, g->tmp.data, g->tmp.len - 1);
    sq_buf_appendf(b, ",\"note\":\"%s\"}", notes[v]);
}

static void sq_gen_too_deep(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                            uint32_t cust)
{
    struct sq_rng *r = &g->rng;
    char closers[SQ_GEN_DEEP];
    sq_buf_appendf(b, "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_time(b, g->clock_ms, 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_customer_id(b, cust);
    sq_buf_append(b, "\",\"attrs\":", 10);
    /* The root is level 1; levels 2..DEEP-1 open here, level DEEP is the
     * empty innermost container. */
    size_t nc = 0;
    for (int level = 2; level < SQ_GEN_DEEP; level++) {
        if (sq_rng_chance(r, 0.5)) {
            sq_buf_append(b, "{\"a\":", 5);
            closers[nc++] = '}';
        } else {
            sq_buf_append(b, "[", 1);
            closers[nc++] = ']';
        }
    }
    sq_buf_append(b, "[]", 2);
    while (nc)
        sq_buf_append(b, &closers[--nc], 1);
    sq_buf_append(b, "}", 1);
}

static void sq_gen_unknown_schema(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                  uint32_t cust)
{
    static const char *const schemas[] = {"\"contact.v2\"", "\"Contact.V1\"", "\"chat.v1\"",
                                          "\"\"", "7"};
    unsigned v = sq_rng_below(&g->rng, SQ_N(schemas));
    sq_gen_contact_tmp(g, event_id, cust);
    /* tmp starts {"schema":"contact.v1", */
    static const char head[] = "{\"schema\":\"contact.v1\"";
    sq_buf_appendf(b, "{\"schema\":%s", schemas[v]);
    sq_buf_append(b, g->tmp.data + sizeof head - 1, g->tmp.len - (sizeof head - 1));
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

int sq_gen_next(struct sq_gen *g, const char **topic, struct sq_buf *key, struct sq_buf *value)
{
    struct sq_rng *r = &g->rng;
    sq_buf_reset(key);
    sq_buf_reset(value);
    sq_buf_append(key, "", 0); /* data is never NULL afterwards */
    sq_buf_append(value, "", 0);
    g->n++;
    /* Poisson arrivals at opts.rate. */
    g->t_ms += -log(1.0 - sq_rng_unit(r)) * 1000.0 / g->o.rate;
    g->clock_ms = g->o.start_ms + (int64_t)g->t_ms;
    int64_t at = g->clock_ms;
    if (sq_rng_chance(r, 0.03)) /* a late event: a source system that buffers */
        at -= 1000 + (int64_t)sq_rng_below(r, 59000);

    char id[64];
    int kind;
    *topic = SQ_GEN_TOPIC_CONTACTS;
    if (g->heap_n && g->heap[0].due_ms <= g->clock_ms) {
        struct sq_gen_repeat rep = sq_heap_pop(g);
        snprintf(id, sizeof id, "c-%" PRIu64 "-%" PRIu64, g->o.seed, g->n);
        sq_gen_customer_id(key, rep.cust);
        sq_gen_contact(g, value, id, rep.cust, rep.queue, rep.reason, at, true);
        kind = SQ_GEN_CONTACT;
    } else {
        double u = sq_rng_unit(r);
        double m = g->o.malformed_share, d = g->o.duplicate_share, p = g->o.profile_share;
        uint32_t cust = sq_gen_pick_customer(g);
        if (u < m) {
            kind = SQ_GEN_MALFORMED_JSON + (int)sq_rng_below(r, 6);
            snprintf(id, sizeof id, "m-%" PRIu64 "-%" PRIu64, g->o.seed, g->n);
            sq_gen_customer_id(key, cust);
            switch (kind) {
            case SQ_GEN_MALFORMED_JSON: sq_gen_malformed_json(g, value, id, cust); break;
            case SQ_GEN_TOO_LARGE: sq_gen_too_large(g, value, id, cust); break;
            case SQ_GEN_NOT_OBJECT: sq_gen_not_object(g, value, id, cust); break;
            case SQ_GEN_BAD_UTF8: sq_gen_bad_utf8(g, value, id, cust); break;
            case SQ_GEN_TOO_DEEP: sq_gen_too_deep(g, value, id, cust); break;
            default: sq_gen_unknown_schema(g, value, id, cust); break;
            }
            return kind; /* never duplicated */
        }
        if (u < m + d && g->ring_n) {
            /* A redelivery: the same bytes under the same event_id. */
            const struct sq_gen_saved *s = &g->ring[sq_rng_below(r, (uint32_t)g->ring_n)];
            *topic = sq_gen_topics[s->topic];
            sq_buf_append(key, s->key.data, s->key.len);
            sq_buf_append(value, s->value.data, s->value.len);
            return SQ_GEN_DUPLICATE;
        }
        if (u >= m + d && u < m + d + p) {
            snprintf(id, sizeof id, "p-%" PRIu64 "-%" PRIu64, g->o.seed, g->n);
            *topic = SQ_GEN_TOPIC_PROFILES;
            sq_gen_customer_id(key, cust);
            sq_gen_profile(g, value, id, cust, at);
            kind = SQ_GEN_PROFILE;
        } else {
            snprintf(id, sizeof id, "c-%" PRIu64 "-%" PRIu64, g->o.seed, g->n);
            sq_gen_customer_id(key, cust);
            sq_gen_contact(g, value, id, cust, -1, -1, at, true);
            kind = SQ_GEN_CONTACT;
        }
    }
    sq_gen_remember(g, sq_gen_topic_index(*topic), key, value);
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
    bool object = kind == SQ_GEN_CONTACT || kind == SQ_GEN_PROFILE || kind == SQ_GEN_DUPLICATE ||
                  kind == SQ_GEN_UNKNOWN_SCHEMA;
    if (object)
        sq_buf_append(out, value->data, value->len);
    else
        sq_gen_json_string(out, value->data ? value->data : "", value->len);
    sq_buf_append(out, "}\n", 2);
}

/* ---- producing to Kafka ------------------------------------------------------ */

static void sq_gen_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sq_error("gen: librdkafka %s: %s", fac, buf);
    else if (level <= 4)
        sq_warn("gen: librdkafka %s: %s", fac, buf);
    else
        sq_debug("gen: librdkafka %s: %s", fac, buf);
}

/* Delivery reports: the message opaque is kind * SQ_GEN__TOPICS + topic. */
static void sq_gen_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct sq_gen_stats *stats = opaque;
    intptr_t tag = (intptr_t)rkm->_private;
    int topic = (int)(tag % SQ_GEN__TOPICS), kind = (int)(tag / SQ_GEN__TOPICS);
    if (rkm->err) {
        atomic_fetch_add(&stats->failed, 1);
        return;
    }
    atomic_fetch_add(&stats->delivered, 1);
    if (kind >= 0 && kind < SQ_GEN__KINDS)
        atomic_fetch_add(&stats->delivered_kind[kind], 1);
    if (topic >= 0 && topic < SQ_GEN__TOPICS)
        atomic_fetch_add(&stats->delivered_topic[topic], 1);
}

static rd_kafka_t *sq_gen_producer_new(const struct sq_gen_target *tgt, struct sq_gen_stats *stats,
                                       struct sq_err *err)
{
    static const char *const defaults[] = {
        "enable.idempotence", "true", /* no duplicates of our own making */
        "acks", "all",
        "linger.ms", "5",
        "message.timeout.ms", "30000",
        "queue.buffering.max.messages", "200000",
        "message.max.bytes", "2000000",
        "reconnect.backoff.ms", "100",
        "reconnect.backoff.max.ms", "2000",
        NULL, NULL,
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_gen_log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", tgt->brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        sq_err_set(err, SQ_ERR_FATAL, "brokers", "%s", errstr);
        goto fail;
    }
    for (const char *const *d = defaults; d[0]; d += 2)
        if (rd_kafka_conf_set(conf, d[0], d[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s: %s", d[0], errstr);
            goto fail;
        }
    for (size_t i = 0; i < tgt->props_n; i++) {
        const char *name = tgt->props[i].name;
        /* Consumer properties of the shared `kafka:` settings do not apply. */
        if (strncmp(name, "group.", 6) == 0 || strcmp(name, "session.timeout.ms") == 0 ||
            strcmp(name, "heartbeat.interval.ms") == 0 ||
            strcmp(name, "partition.assignment.strategy") == 0 ||
            strncmp(name, "enable.auto.", 12) == 0 || strncmp(name, "auto.", 5) == 0 ||
            strncmp(name, "fetch.", 6) == 0 || strncmp(name, "queued.", 7) == 0 ||
            strcmp(name, "max.poll.interval.ms") == 0 || strcmp(name, "isolation.level") == 0 ||
            strcmp(name, "enable.partition.eof") == 0)
            continue;
        if (rd_kafka_conf_set(conf, name, tgt->props[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "kafka.%s: %s", name, errstr);
            goto fail;
        }
    }
    rd_kafka_conf_set_opaque(conf, stats);
    rd_kafka_conf_set_dr_msg_cb(conf, sq_gen_dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s", errstr);
        goto fail; /* rd_kafka_new takes conf only on success */
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Checks that the topics exist (sqgate never creates topics, nor does gen). */
static int sq_gen_check_topics(rd_kafka_t *rk, const char *const *names, struct sq_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e)
        return sq_err_set(err, SQ_ERR_FATAL, "brokers", "cannot read the cluster metadata: %s",
                          rd_kafka_err2str(e));
    char missing[512] = "";
    size_t off = 0;
    for (int i = 0; i < SQ_GEN__TOPICS; i++) {
        bool found = false;
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, names[i]) == 0 && !md->topics[t].err)
                found = true;
        if (!found && off < sizeof missing)
            off += (size_t)snprintf(missing + off, sizeof missing - off, "%s%s", off ? ", " : "",
                                    names[i]);
    }
    rd_kafka_metadata_destroy(md);
    if (off)
        return sq_err_set(err, SQ_ERR_FATAL, "topics", "missing topic(s): %s", missing);
    return SQ_OK;
}

int sq_gen_produce(struct sq_gen *g, const struct sq_gen_target *tgt, double rate, int64_t count,
                   double seconds, int flush_ms, volatile sig_atomic_t *stop,
                   struct sq_gen_stats *stats, struct sq_err *err)
{
    const char *names[SQ_GEN__TOPICS];
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        names[i] = tgt->topics[i] ? tgt->topics[i] : sq_gen_topics[i];
    rd_kafka_t *rk = sq_gen_producer_new(tgt, stats, err);
    if (!rk) {
        atomic_store(&stats->done, 1);
        return err->kind;
    }
    int rc = sq_gen_check_topics(rk, names, err);
    if (rc != SQ_OK) {
        rd_kafka_destroy(rk);
        atomic_store(&stats->done, 1);
        return rc;
    }
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    int64_t t0 = sq_mono_ms();
    uint64_t sent = 0;
    bool have = false; /* a message generated but not yet accepted (queue full) */
    const char *topic = NULL;
    int kind = 0;
    while (!*stop && (count < 0 || sent < (uint64_t)count)) {
        int64_t el = sq_mono_ms() - t0;
        if (seconds > 0 && el >= (int64_t)(seconds * 1000))
            break;
        /* Token bucket: everything due by now, in a slice every 10 ms. */
        uint64_t due = (uint64_t)(rate * (double)el / 1000.0);
        if (count >= 0 && due > (uint64_t)count)
            due = (uint64_t)count;
        while (sent < due && !*stop) {
            if (!have) {
                kind = sq_gen_next(g, &topic, &key, &value);
                have = true;
            }
            int ti = sq_gen_topic_index(topic);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(names[ti]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key.data, key.len), RD_KAFKA_V_VALUE(value.data, value.len),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)(kind * SQ_GEN__TOPICS + ti)),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                break; /* try again in the next slice */
            }
            have = false;
            if (e) {
                atomic_fetch_add(&stats->failed, 1);
                sq_err_set(err, SQ_ERR_FATAL, "kafka", "produce to %s: %s", names[ti],
                           rd_kafka_err2str(e));
                sent++;
                continue;
            }
            atomic_fetch_add(&stats->queued, 1);
            sent++;
        }
        rd_kafka_poll(rk, 10);
    }
    /* Wait for the delivery reports, bounded. */
    int64_t deadline = sq_mono_ms() + flush_ms;
    while (rd_kafka_outq_len(rk) > 0 && sq_mono_ms() < deadline)
        rd_kafka_flush(rk, 100);
    int left = rd_kafka_outq_len(rk);
    if (left > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk, 0); /* the purged messages report as failed */
    }
    rd_kafka_destroy(rk);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    uint64_t failed = atomic_load(&stats->failed);
    atomic_store(&stats->done, 1);
    if (left > 0)
        return sq_err_set(err, SQ_ERR_FATAL, "kafka",
                          "%d message(s) not confirmed within %d ms (%" PRIu64 " failed)", left,
                          flush_ms, failed);
    if (failed)
        return sq_err_set(err, SQ_ERR_FATAL, "kafka", "%" PRIu64 " message(s) not delivered",
                          failed);
    return SQ_OK;
}

/* ---- the command line -------------------------------------------------------- */

static void sq_gen_usage(FILE *f)
{
    fputs("usage: sqgate gen [--rate N] [--seconds N | --count N] [--customers N] [--seed N]\n"
          "                  [--start RFC3339] [--malformed SHARE] [--duplicates SHARE]\n"
          "                  [--profiles SHARE] (--brokers HOST:PORT,... | -o FILE|-)\n"
          "  --rate N         messages per second (default 1000); with -o, of event time\n"
          "  --seconds N      stop after N seconds (with -o: rate x N messages)\n"
          "  --count N        stop after N messages (with -o the default is 10000)\n"
          "  --customers N    distinct customer ids (default 10000)\n"
          "  --seed N         PRNG seed (default 1): same seed and --start, same messages\n"
          "  --start T        event time of the first message (default: now)\n"
          "  --malformed S    share of malformed messages, every decode DLQ reason (0.01)\n"
          "  --duplicates S   share of redelivered messages, same event_id (0.01)\n"
          "  --profiles S     share of profile.v1 upserts to sq.in.profiles (0.02)\n"
          "  --brokers B      produce to Kafka at --rate; SQGATE_KAFKA__* add librdkafka\n"
          "                   properties (SASL, TLS) as for `sqgate run`\n"
          "  -o FILE          write replay envelopes {\"topic\",\"key\",\"value\"}, one a line\n",
          f);
}

static int sq_gen_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int sq_gen_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static void sq_gen_print_summary(const struct sq_gen_stats *s, const char *const *names)
{
    fprintf(stderr, "gen: delivered %" PRIu64 " (", atomic_load(&s->delivered));
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        fprintf(stderr, "%s%s %" PRIu64, i ? ", " : "", names[i],
                atomic_load(&s->delivered_topic[i]));
    uint64_t malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        malformed += atomic_load(&s->delivered_kind[k]);
    fprintf(stderr, "), malformed %" PRIu64, malformed);
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        fprintf(stderr, "%s%s %" PRIu64, k == SQ_GEN_MALFORMED_JSON ? " (" : ", ",
                sq_gen_kind_name(k), atomic_load(&s->delivered_kind[k]));
    fprintf(stderr, "), duplicates %" PRIu64 ", failed %" PRIu64 "\n",
            atomic_load(&s->delivered_kind[SQ_GEN_DUPLICATE]), atomic_load(&s->failed));
}

/* Writes count envelopes to path ("-" = stdout). */
static int sq_gen_write_file(struct sq_gen *g, const char *path, int64_t count,
                             volatile sig_atomic_t *stop)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "sqgate gen: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct sq_buf key, value, line;
    sq_buf_init(&key);
    sq_buf_init(&value);
    sq_buf_init(&line);
    uint64_t per_topic[SQ_GEN__TOPICS] = {0}, per_kind[SQ_GEN__KINDS] = {0};
    int64_t i = 0;
    bool werr = false;
    for (; i < count && !*stop && !werr; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        sq_buf_reset(&line);
        sq_gen_envelope(&line, kind, topic, &key, &value);
        if (fwrite(line.data, 1, line.len, f) != line.len)
            werr = true;
        per_topic[sq_gen_topic_index(topic)]++;
        per_kind[kind]++;
    }
    if (fflush(f) != 0 || ferror(f))
        werr = true;
    if (f != stdout && fclose(f) != 0)
        werr = true;
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_buf_fini(&line);
    if (werr) {
        fprintf(stderr, "sqgate gen: writing %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint64_t malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        malformed += per_kind[k];
    fprintf(stderr,
            "gen: wrote %" PRId64 " messages (%s %" PRIu64 ", %s %" PRIu64 "), malformed %" PRIu64
            ", duplicates %" PRIu64 "\n",
            i, sq_gen_topics[0], per_topic[0], sq_gen_topics[1], per_topic[1], malformed,
            per_kind[SQ_GEN_DUPLICATE]);
    return 0;
}

int sq_gen_main(int argc, char **argv, volatile sig_atomic_t *stop)
{
    struct sq_gen_opts o;
    sq_gen_opts_defaults(&o);
    double rate = 1000, seconds = 0;
    int64_t count = -1;
    const char *brokers = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        bool ok = v != NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sq_gen_usage(stdout);
            return 0;
        } else if (strcmp(a, "--rate") == 0) {
            ok = ok && sq_gen_parse_double(v, 0.001, 1e7, &rate) == 0;
        } else if (strcmp(a, "--seconds") == 0) {
            ok = ok && sq_gen_parse_double(v, 0.001, 1e9, &seconds) == 0;
        } else if (strcmp(a, "--count") == 0) {
            ok = ok && sq_gen_parse_u64(v, INT64_MAX, &u) == 0;
            count = ok ? (int64_t)u : count;
        } else if (strcmp(a, "--customers") == 0) {
            ok = ok && sq_gen_parse_u64(v, 100000000, &u) == 0 && u > 0;
            o.customers = ok ? (uint32_t)u : o.customers;
        } else if (strcmp(a, "--seed") == 0) {
            ok = ok && sq_gen_parse_u64(v, UINT64_MAX, &o.seed) == 0;
        } else if (strcmp(a, "--start") == 0) {
            ok = ok && sq_time_parse(v, &o.start_ms) == 0;
        } else if (strcmp(a, "--malformed") == 0) {
            ok = ok && sq_gen_parse_double(v, 0, 1, &o.malformed_share) == 0;
        } else if (strcmp(a, "--duplicates") == 0) {
            ok = ok && sq_gen_parse_double(v, 0, 1, &o.duplicate_share) == 0;
        } else if (strcmp(a, "--profiles") == 0) {
            ok = ok && sq_gen_parse_double(v, 0, 1, &o.profile_share) == 0;
        } else if (strcmp(a, "--brokers") == 0) {
            ok = ok && *v;
            brokers = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            ok = ok && *v;
            out = v;
        } else {
            fprintf(stderr, "sqgate gen: unknown option %s\n", a);
            sq_gen_usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "sqgate gen: %s wants %s, got %s\n", a,
                    strcmp(a, "--start") == 0 ? "an RFC 3339 time with offset"
                    : strcmp(a, "--brokers") == 0 || strcmp(a, "-o") == 0 ? "a value"
                    : strncmp(a, "--m", 3) == 0 || strncmp(a, "--d", 3) == 0 ||
                            strncmp(a, "--p", 3) == 0
                        ? "a share in [0, 1]"
                        : "a positive number",
                    v ? v : "nothing");
            return 2;
        }
        i++;
    }
    if (!brokers == !out) {
        fprintf(stderr, "sqgate gen: give exactly one of --brokers B and -o FILE\n");
        sq_gen_usage(stderr);
        return 2;
    }
    if (count >= 0 && seconds > 0) {
        fprintf(stderr, "sqgate gen: give --seconds or --count, not both\n");
        return 2;
    }
    if (o.malformed_share + o.duplicate_share + o.profile_share > 1) {
        fprintf(stderr, "sqgate gen: --malformed + --duplicates + --profiles exceed 1\n");
        return 2;
    }
    o.rate = rate;
    struct sq_gen *g = sq_gen_new(&o);
    int code;
    if (out) {
        if (count < 0)
            count = seconds > 0 ? (int64_t)ceil(rate * seconds) : 10000;
        code = sq_gen_write_file(g, out, count, stop);
    } else {
        /* Kafka properties and topic names from the environment, as `run`. */
        struct sq_settings st;
        struct sq_config_errors errs = {0};
        if (sq_config_build(&st, NULL, environ, &errs) != 0) {
            for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msgs[i]);
            sq_config_errors_fini(&errs);
            sq_settings_free(&st);
            sq_gen_free(g);
            return 2;
        }
        struct sq_gen_target tgt = {.brokers = brokers, .props = st.kafka_props,
                                    .props_n = st.kafka_props_n};
        for (size_t i = 0; i < st.inputs_n; i++) {
            if (strcmp(st.inputs[i].schema, "contact.v1") == 0)
                tgt.topics[SQ_GEN_T_CONTACTS] = st.inputs[i].name;
            else if (strcmp(st.inputs[i].schema, "profile.v1") == 0)
                tgt.topics[SQ_GEN_T_PROFILES] = st.inputs[i].name;
        }
        const char *names[SQ_GEN__TOPICS];
        for (int i = 0; i < SQ_GEN__TOPICS; i++)
            names[i] = tgt.topics[i] ? tgt.topics[i] : sq_gen_topics[i];
        struct sq_gen_stats stats;
        memset(&stats, 0, sizeof stats);
        struct sq_err err;
        sq_err_clear(&err);
        fprintf(stderr, "gen: producing to %s at %g/s%s\n", brokers, rate,
                count < 0 && seconds <= 0 ? " until Ctrl-C" : "");
        int rc = sq_gen_produce(g, &tgt, rate, count, seconds, 30000, stop, &stats, &err);
        sq_gen_print_summary(&stats, names);
        if (rc != SQ_OK)
            fprintf(stderr, "sqgate gen: %s\n", err.msg);
        code = rc == SQ_OK ? 0 : 2;
        sq_settings_free(&st);
    }
    sq_gen_free(g);
    return code;
}
