/* gen_rng.c: the generator's building blocks (gen_int.h): one seeded
 * xoshiro256** stream and the distributions drawn from it, the daily arrival
 * profile, the heap of scheduled work, the pools of recent contacts and
 * tickets, and the text of times, customer ids and regions. Everything here
 * is deterministic, so one seed and start time always give the same bytes. */
#include "gen_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- PRNG ------------------------------------------------------------- */

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

void sq_rng_seed(struct sq_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sq_splitmix64(&x);
}

uint64_t sq_rng_u64(struct sq_rng *r)
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

double sq_rng_unit(struct sq_rng *r)
{
    return (double)(sq_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Multiply-shift; the bias is below 2^-32. */
uint32_t sq_rng_below(struct sq_rng *r, uint32_t n)
{
    return (uint32_t)(((sq_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

bool sq_rng_chance(struct sq_rng *r, double p)
{
    return sq_rng_unit(r) < p;
}

/* Box-Muller, one value per call. */
double sq_rng_normal(struct sq_rng *r)
{
    double u1 = 1.0 - sq_rng_unit(r); /* (0, 1] */
    double u2 = sq_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double sq_rng_lognormal(struct sq_rng *r, double median, double sigma, double cap)
{
    double v = median * exp(sigma * sq_rng_normal(r));
    return v > cap ? cap : v;
}

uint64_t sq_gen_hash(uint64_t seed, uint64_t i)
{
    uint64_t x = seed ^ (i * UINT64_C(0xd1342543de82ef95));
    return sq_splitmix64(&x);
}

unsigned sq_rng_pick_w(struct sq_rng *r, const unsigned *w, unsigned n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++)
        total += w[i];
    unsigned x = sq_rng_below(r, total);
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

unsigned sq_rng_pick(struct sq_rng *r, const struct sq_weighted *w, unsigned n)
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

/* ---- the daily profile -------------------------------------------------- */

/* Contacts per hour of a Chinese operator's contact centre, by local hour
 * (UTC+8), relative: a night trough near 4:00, the morning peak at 10:00, a
 * lunch dip and a second peak mid-afternoon, a smaller evening hump. */
static const double sq_day_w[24] = {
    0.30, 0.18, 0.12, 0.10, 0.10, 0.14, 0.28, 0.55, 1.05, 1.50, 1.72, 1.65,
    1.25, 1.35, 1.60, 1.62, 1.52, 1.38, 1.20, 1.22, 1.18, 0.98, 0.70, 0.45,
};

/* Piecewise linear between the middles of the hours, divided by the mean
 * (the mean of a piecewise linear closed curve is that of its points). */
double sq_gen_daily_factor(int64_t ms)
{
    double mean = 0;
    for (int i = 0; i < 24; i++)
        mean += sq_day_w[i];
    mean /= 24;
    int64_t day_ms = INT64_C(86400000);
    int64_t local = ((ms + INT64_C(8) * 3600000) % day_ms + day_ms) % day_ms;
    double h = (double)local / 3600000.0 - 0.5; /* hours after the middle of hour 0 */
    if (h < 0)
        h += 24;
    int i = (int)h;
    double f = h - i;
    double w = sq_day_w[i % 24] * (1 - f) + sq_day_w[(i + 1) % 24] * f;
    return w / mean;
}

/* ---- the heap of scheduled work ----------------------------------------- */

void sq_gen_heap_init(struct sq_gen_heap *h, size_t max)
{
    memset(h, 0, sizeof *h);
    h->max = max;
    h->cap = 64;
    h->v = sq_xmalloc(h->cap * sizeof *h->v);
}

void sq_gen_heap_fini(struct sq_gen_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static bool sq_heap_less(const struct sq_gen_due *a, const struct sq_gen_due *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->order < b->order);
}

bool sq_gen_heap_push(struct sq_gen_heap *h, struct sq_gen_due d)
{
    if (h->n >= h->max)
        return false;
    if (h->n == h->cap) {
        h->cap *= 2;
        h->v = sq_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    d.order = h->order++;
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sq_heap_less(&d, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = d;
    return true;
}

struct sq_gen_due sq_gen_heap_pop(struct sq_gen_heap *h)
{
    struct sq_gen_due top = h->v[0];
    struct sq_gen_due last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && sq_heap_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!sq_heap_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* ---- pools --------------------------------------------------------------- */

void sq_gen_pool_init(struct sq_gen_pool *p, size_t cap)
{
    p->v = sq_xcalloc(cap, sizeof *p->v);
    p->n = 0;
    p->cap = cap;
}

void sq_gen_pool_fini(struct sq_gen_pool *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

void sq_gen_pool_put(struct sq_gen_pool *p, struct sq_rng *r, const struct sq_gen_ref *ref)
{
    if (p->n < p->cap)
        p->v[p->n++] = *ref;
    else
        p->v[sq_rng_below(r, (uint32_t)p->cap)] = *ref;
}

bool sq_gen_pool_take(struct sq_gen_pool *p, struct sq_rng *r, struct sq_gen_ref *out)
{
    if (p->n == 0)
        return false;
    size_t i = sq_rng_below(r, (uint32_t)p->n);
    *out = p->v[i];
    p->v[i] = p->v[--p->n];
    return true;
}

/* ---- text ---------------------------------------------------------------- */

void sq_gen_write_time(struct sq_buf *b, int64_t ms, int off_min, bool whole_secs)
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

static const char *const sq_msisdn_prefix[] = {"138", "139", "186", "177"};

void sq_gen_write_customer(struct sq_buf *b, uint32_t cust)
{
    sq_buf_appendf(b, "%s%08" PRIu32, sq_msisdn_prefix[cust % SQ_N(sq_msisdn_prefix)], cust);
}

unsigned sq_gen_region_of(const struct sq_gen *g, uint32_t cust)
{
    return (unsigned)(sq_gen_hash(g->o.seed, cust) % SQ_GEN_REGIONS);
}

uint32_t sq_gen_pick_customer(struct sq_gen *g)
{
    uint32_t n = g->o.customers;
    uint32_t busy = n / 20;
    if (busy > 0 && sq_rng_chance(&g->rng, 0.2))
        return sq_rng_below(&g->rng, busy);
    return sq_rng_below(&g->rng, n);
}

void sq_gen_event_id(const struct sq_gen *g, char prefix, char *id, size_t idsz)
{
    snprintf(id, idsz, "%c-%" PRIu64 "-%" PRIu64, prefix, g->o.seed, g->n);
}
