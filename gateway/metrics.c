/* metrics.c: the gateway's counters, the latency histograms and the gauges
 * behind /metrics and /readyz. Counters and the histogram are relaxed C11
 * atomics (the pipeline thread never waits for the HTTP thread); the
 * partition table and the not-ready reason sit under one mutex. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SQ_VERSION
#define SQ_VERSION "unknown"
#endif

static const struct sq_metric_def {
    const char *name;
    const char *help;
} sq_metric_defs[SQ_M__COUNT] = {
#define SQ_X(e, n, h) [SQ_M_##e] = {n, h},
    SQ_METRICS(SQ_X)
#undef SQ_X
};

static _Atomic uint64_t sq_counters[SQ_M__COUNT];
static _Atomic uint64_t sq_dlq_counts[SQ_DLQ__COUNT];

/* A histogram of seconds: its bounds, per-bucket counts (not cumulative:
 * render adds them up; the last bucket is above every bound) and sum. */
#define SQ_HIST_MAX_BOUNDS 24
struct sq_hist {
    const char *name;
    const char *help;
    const double *bounds;
    size_t nbounds;
    _Atomic uint64_t buckets[SQ_HIST_MAX_BOUNDS + 1];
    _Atomic uint64_t sum_ns; /* 2^64 ns = 584 years of latency */
};
_Static_assert(SQ_METRICS_LATENCY_NBOUNDS <= SQ_HIST_MAX_BOUNDS, "latency bounds");
_Static_assert(SQ_METRICS_E2E_NBOUNDS <= SQ_HIST_MAX_BOUNDS, "end-to-end bounds");

static const double sq_lat_bounds[SQ_METRICS_LATENCY_NBOUNDS] = {SQ_METRICS_LATENCY_BOUNDS};
static const double sq_e2e_bounds[SQ_METRICS_E2E_NBOUNDS] = {SQ_METRICS_E2E_BOUNDS};

static struct sq_hist sq_lat = {
    .name = "sq_processing_latency_seconds",
    .help = "Time from a message's arrival to the end of its processing, in seconds",
    .bounds = sq_lat_bounds,
    .nbounds = SQ_METRICS_LATENCY_NBOUNDS,
};
static struct sq_hist sq_e2e = {
    .name = "sq_end_to_end_latency_seconds",
    .help = "Time from an input message's Kafka timestamp to the end of its processing "
            "(outputs delivered, Redis step applied), in seconds",
    .bounds = sq_e2e_bounds,
    .nbounds = SQ_METRICS_E2E_NBOUNDS,
};

static atomic_bool sq_paused;
static _Atomic uint64_t sq_timers_armed;
/* the last dedupe sample (sq_metrics_set_dedupe; under sq_m.mu) */
static struct sq_dedupe_gauges {
    uint64_t sampled, marks, max, past;
} sq_dedupe;
static atomic_bool sq_ready;

struct sq_metrics_part {
    char *topic;
    int32_t partition;
    int64_t high_watermark; /* -1 = unknown */
    int64_t next_offset;    /* next offset to process, -1 = unknown */
    int64_t pending_from;   /* first offset not committed, -1 = unknown */
    int64_t committed;      /* -1 = unknown */
};

#define SQ_WHY_MAX 256
static struct {
    pthread_mutex_t mu;
    struct sq_metrics_part *parts; /* sorted by (topic, partition) */
    size_t nparts, cap;
    char why[SQ_WHY_MAX]; /* reason while not ready */
} sq_m = {.mu = PTHREAD_MUTEX_INITIALIZER, .why = "starting"};

void sq_metrics_inc(enum sq_metric m, uint64_t n)
{
    if ((unsigned)m < SQ_M__COUNT)
        atomic_fetch_add_explicit(&sq_counters[m], n, memory_order_relaxed);
}

uint64_t sq_metrics_get(enum sq_metric m)
{
    if ((unsigned)m >= SQ_M__COUNT)
        return 0;
    return atomic_load_explicit(&sq_counters[m], memory_order_relaxed);
}

const char *sq_metrics_name(enum sq_metric m)
{
    return (unsigned)m < SQ_M__COUNT ? sq_metric_defs[m].name : NULL;
}

const char *sq_metrics_help(enum sq_metric m)
{
    return (unsigned)m < SQ_M__COUNT ? sq_metric_defs[m].help : NULL;
}

void sq_metrics_dlq_inc(enum sq_dlq_reason r, uint64_t n)
{
    if (r > SQ_DLQ_NONE && (unsigned)r < SQ_DLQ__COUNT)
        atomic_fetch_add_explicit(&sq_dlq_counts[r], n, memory_order_relaxed);
}

uint64_t sq_metrics_dlq_get(enum sq_dlq_reason r)
{
    if (r <= SQ_DLQ_NONE || (unsigned)r >= SQ_DLQ__COUNT)
        return 0;
    return atomic_load_explicit(&sq_dlq_counts[r], memory_order_relaxed);
}

static void sq_hist_observe(struct sq_hist *h, double seconds)
{
    if (!(seconds > 0)) /* negative, zero or NaN */
        seconds = 0;
    size_t i = 0;
    while (i < h->nbounds && seconds > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    double ns = seconds * 1e9;
    uint64_t add = ns >= 1.8e19 ? UINT64_C(18000000000000000000) : (uint64_t)llround(ns);
    atomic_fetch_add_explicit(&h->sum_ns, add, memory_order_relaxed);
}

static void sq_hist_reset(struct sq_hist *h)
{
    for (size_t i = 0; i <= h->nbounds; i++)
        atomic_store(&h->buckets[i], 0);
    atomic_store(&h->sum_ns, 0);
}

void sq_metrics_observe_latency(double seconds)
{
    sq_hist_observe(&sq_lat, seconds);
}

void sq_metrics_observe_end_to_end(double seconds)
{
    sq_hist_observe(&sq_e2e, seconds);
}

/* Index of (topic, partition) in the sorted table, or where it would go. */
static size_t sq_metrics_part_find(const char *topic, int32_t partition, bool *found)
{
    size_t lo = 0, hi = sq_m.nparts;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct sq_metrics_part *p = &sq_m.parts[mid];
        int c = strcmp(p->topic, topic);
        if (c == 0)
            c = (p->partition > partition) - (p->partition < partition);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void sq_metrics_partition_set(const char *topic, int32_t partition,
                              int64_t high_watermark, int64_t next_offset,
                              int64_t pending_from, int64_t committed)
{
    pthread_mutex_lock(&sq_m.mu);
    bool found;
    size_t i = sq_metrics_part_find(topic, partition, &found);
    if (!found) {
        if (sq_m.nparts == sq_m.cap) {
            sq_m.cap = sq_m.cap ? sq_m.cap * 2 : 16;
            sq_m.parts = sq_xrealloc(sq_m.parts, sq_m.cap * sizeof(*sq_m.parts));
        }
        memmove(&sq_m.parts[i + 1], &sq_m.parts[i],
                (sq_m.nparts - i) * sizeof(*sq_m.parts));
        sq_m.parts[i].topic = sq_xstrdup(topic);
        sq_m.parts[i].partition = partition;
        sq_m.nparts++;
    }
    sq_m.parts[i].high_watermark = high_watermark < 0 ? -1 : high_watermark;
    sq_m.parts[i].next_offset = next_offset < 0 ? -1 : next_offset;
    sq_m.parts[i].pending_from = pending_from < 0 ? -1 : pending_from;
    sq_m.parts[i].committed = committed < 0 ? -1 : committed;
    pthread_mutex_unlock(&sq_m.mu);
}

void sq_metrics_partition_remove(const char *topic, int32_t partition)
{
    pthread_mutex_lock(&sq_m.mu);
    bool found;
    size_t i = sq_metrics_part_find(topic, partition, &found);
    if (found) {
        free(sq_m.parts[i].topic);
        memmove(&sq_m.parts[i], &sq_m.parts[i + 1],
                (sq_m.nparts - i - 1) * sizeof(*sq_m.parts));
        sq_m.nparts--;
    }
    pthread_mutex_unlock(&sq_m.mu);
}

/* High watermark minus from, at least 0; -1 when either is unknown. */
static int64_t sq_metrics_behind(int64_t high_watermark, int64_t from)
{
    if (high_watermark < 0 || from < 0)
        return -1;
    return high_watermark > from ? high_watermark - from : 0;
}

/* The sum of sq_metrics_behind over the partitions, from their first
 * offset not committed or their next offset to process. */
static int64_t sq_metrics_behind_total(bool from_committed)
{
    int64_t sum = 0;
    pthread_mutex_lock(&sq_m.mu);
    for (size_t i = 0; i < sq_m.nparts; i++) {
        const struct sq_metrics_part *p = &sq_m.parts[i];
        int64_t n = sq_metrics_behind(p->high_watermark,
                                      from_committed ? p->pending_from : p->next_offset);
        if (n > 0)
            sum += n;
    }
    pthread_mutex_unlock(&sq_m.mu);
    return sum;
}

int64_t sq_metrics_lag_total(void)
{
    return sq_metrics_behind_total(true);
}

int64_t sq_metrics_unapplied_total(void)
{
    return sq_metrics_behind_total(false);
}

void sq_metrics_set_ready(bool ready, const char *why_not)
{
    pthread_mutex_lock(&sq_m.mu);
    if (ready) {
        sq_m.why[0] = '\0';
    } else {
        const char *why = (why_not && *why_not) ? why_not : "unknown";
        snprintf(sq_m.why, sizeof(sq_m.why), "%s", why);
    }
    atomic_store(&sq_ready, ready);
    pthread_mutex_unlock(&sq_m.mu);
}

bool sq_metrics_ready(char *why, size_t whysz)
{
    pthread_mutex_lock(&sq_m.mu);
    bool ready = atomic_load(&sq_ready);
    if (!ready && why && whysz > 0)
        snprintf(why, whysz, "%s", sq_m.why);
    pthread_mutex_unlock(&sq_m.mu);
    return ready;
}

void sq_metrics_set_timers_armed(uint64_t n)
{
    atomic_store(&sq_timers_armed, n);
}

void sq_metrics_set_dedupe(uint64_t sampled, uint64_t marks, uint64_t max, uint64_t past)
{
    pthread_mutex_lock(&sq_m.mu);
    sq_dedupe.sampled = sampled;
    sq_dedupe.marks = marks;
    sq_dedupe.max = max;
    sq_dedupe.past = past;
    pthread_mutex_unlock(&sq_m.mu);
}

void sq_metrics_set_paused(bool paused)
{
    atomic_store(&sq_paused, paused);
}

bool sq_metrics_paused(void)
{
    return atomic_load(&sq_paused);
}

static void sq_metrics_put(struct sq_buf *out, const char *s)
{
    sq_buf_append(out, s, strlen(s));
}

/* Label value escaping of the text format: backslash, quote, newline. */
static void sq_metrics_label(struct sq_buf *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\': sq_buf_append(out, "\\\\", 2); break;
        case '"': sq_buf_append(out, "\\\"", 2); break;
        case '\n': sq_buf_append(out, "\\n", 2); break;
        default: sq_buf_append(out, p, 1); break;
        }
    }
}

/* # HELP (backslash and newline escaped) and # TYPE lines of one family. */
static void sq_metrics_family(struct sq_buf *out, const char *name, const char *type,
                              const char *help)
{
    sq_buf_appendf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            sq_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            sq_buf_append(out, "\\n", 2);
        else
            sq_buf_append(out, p, 1);
    }
    sq_buf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

static void sq_hist_render(struct sq_buf *out, struct sq_hist *h)
{
    const char *name = h->name;
    uint64_t counts[SQ_HIST_MAX_BOUNDS + 1];
    for (size_t i = 0; i <= h->nbounds; i++)
        counts[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    uint64_t sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);

    sq_metrics_family(out, name, "histogram", h->help);
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += counts[i];
        char le[32];
        if (i < h->nbounds)
            sq_fmt_number(h->bounds[i], le);
        else
            snprintf(le, sizeof(le), "+Inf");
        sq_buf_appendf(out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, le, cum);
    }
    char sum[32];
    sq_fmt_number((double)sum_ns / 1e9, sum);
    /* _count from the same snapshot as the buckets, so it equals le="+Inf". */
    sq_buf_appendf(out, "%s_sum %s\n%s_count %" PRIu64 "\n", name, sum, name, cum);
}

/* A gauge family of sq_metrics_behind per partition, from the first offset
 * not committed or from the next offset to process; a partition with an
 * end unknown has no sample. */
static void sq_metrics_render_behind(struct sq_buf *out, const char *name, const char *help,
                                     bool from_committed)
{
    sq_metrics_family(out, name, "gauge", help);
    for (size_t i = 0; i < sq_m.nparts; i++) {
        const struct sq_metrics_part *p = &sq_m.parts[i];
        int64_t n = sq_metrics_behind(p->high_watermark,
                                      from_committed ? p->pending_from : p->next_offset);
        if (n < 0)
            continue;
        sq_metrics_put(out, name);
        sq_metrics_put(out, "{topic=\"");
        sq_metrics_label(out, p->topic);
        sq_buf_appendf(out, "\",partition=\"%" PRId32 "\"} %" PRId64 "\n", p->partition, n);
    }
}

static void sq_metrics_render_locked(struct sq_buf *out)
{
    sq_metrics_render_behind(out, "sq_partition_lag",
                             "High watermark minus the first offset not committed (before the "
                             "first commit: where consumption starts), per assigned partition",
                             true);
    sq_metrics_render_behind(out, "sq_partition_unapplied",
                             "High watermark minus the next offset to process: messages no "
                             "step has applied yet (fetched or still in Kafka), per assigned "
                             "partition",
                             false);
    sq_metrics_family(
        out, "sq_partition_committed_offset", "gauge",
        "Committed offset (next offset to consume), per assigned partition");
    for (size_t i = 0; i < sq_m.nparts; i++) {
        const struct sq_metrics_part *p = &sq_m.parts[i];
        if (p->committed < 0)
            continue;
        sq_metrics_put(out, "sq_partition_committed_offset{topic=\"");
        sq_metrics_label(out, p->topic);
        sq_buf_appendf(out, "\",partition=\"%" PRId32 "\"} %" PRId64 "\n", p->partition,
                       p->committed);
    }
    sq_metrics_family(out, "sq_ready", "gauge",
                      "1 when /readyz answers ready (joined the group and not paused)");
    sq_buf_appendf(out, "sq_ready %d\n", atomic_load(&sq_ready) ? 1 : 0);
}

void sq_metrics_render(struct sq_buf *out)
{
    for (int m = 0; m < SQ_M__COUNT; m++) {
        sq_metrics_family(out, sq_metric_defs[m].name, "counter", sq_metric_defs[m].help);
        sq_buf_appendf(out, "%s %" PRIu64 "\n", sq_metric_defs[m].name,
                       atomic_load_explicit(&sq_counters[m], memory_order_relaxed));
    }

    sq_metrics_family(out, "sq_dlq_total", "counter",
                      "Input messages sent to the dead-letter topic, by reason");
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++) {
        sq_metrics_put(out, "sq_dlq_total{reason=\"");
        sq_metrics_label(out, sq_dlq_reason_name((enum sq_dlq_reason)r));
        sq_buf_appendf(out, "\"} %" PRIu64 "\n",
                       atomic_load_explicit(&sq_dlq_counts[r], memory_order_relaxed));
    }

    sq_hist_render(out, &sq_lat);
    sq_hist_render(out, &sq_e2e);

    pthread_mutex_lock(&sq_m.mu);
    sq_metrics_render_locked(out);
    struct sq_dedupe_gauges dd = sq_dedupe;
    pthread_mutex_unlock(&sq_m.mu);

    uint64_t lookups = atomic_load_explicit(&sq_counters[SQ_M_PROFILE_LOOKUPS],
                                            memory_order_relaxed);
    uint64_t misses = atomic_load_explicit(&sq_counters[SQ_M_PROFILE_MISSES],
                                           memory_order_relaxed);
    sq_metrics_family(out, "sq_profile_cache_hit_ratio", "gauge",
                      "Share of profile lookups since start the in-process cache answered "
                      "(1 - misses / lookups; 0 before the first); over a window: "
                      "1 - rate(sq_profile_cache_misses_total) / "
                      "rate(sq_profile_cache_lookups_total)");
    sq_buf_appendf(out, "sq_profile_cache_hit_ratio %.6g\n",
                   lookups ? 1.0 - (double)misses / (double)lookups : 0.0);
    sq_metrics_family(out, "sq_dedupe_set_marks", "gauge",
                      "Marks in the dedupe sets of the current slice, from the last sample "
                      "(dedupe.check_s): their mean and the largest set's; keep the mean "
                      "under ~400 (docs/operations.md)");
    sq_buf_appendf(out, "sq_dedupe_set_marks{stat=\"mean\"} %.10g\n",
                   dd.sampled ? (double)dd.marks / (double)dd.sampled : 0.0);
    sq_buf_appendf(out, "sq_dedupe_set_marks{stat=\"max\"} %llu\n", (unsigned long long)dd.max);
    sq_metrics_family(out, "sq_dedupe_sets_sampled", "gauge",
                      "Dedupe sets of the current slice the last sample read");
    sq_buf_appendf(out, "sq_dedupe_sets_sampled %llu\n", (unsigned long long)dd.sampled);
    sq_metrics_family(out, "sq_dedupe_sets_past_intset", "gauge",
                      "Sampled dedupe sets Redis keeps as a hash table, not an intset: their "
                      "marks take ~64 bytes each instead of ~9; raise dedupe.shards");
    sq_buf_appendf(out, "sq_dedupe_sets_past_intset %llu\n", (unsigned long long)dd.past);

    sq_metrics_family(
        out, "sq_paused", "gauge",
        "1 while consumption is paused by backpressure (Redis or Kafka down)");
    sq_buf_appendf(out, "sq_paused %d\n", atomic_load(&sq_paused) ? 1 : 0);

    sq_metrics_family(out, "sq_timers_armed", "gauge",
                      "Overdue timers held in memory: one an open ticket of the partitions "
                      "this instance holds (docs/operations.md, Memory)");
    sq_buf_appendf(out, "sq_timers_armed %llu\n",
                   (unsigned long long)atomic_load(&sq_timers_armed));

    sq_metrics_family(out, "sq_build_info", "gauge",
                      "Always 1; the version label says which build");
    sq_metrics_put(out, "sq_build_info{version=\"");
    sq_metrics_label(out, SQ_VERSION);
    sq_metrics_put(out, "\"} 1\n");
}

void sq_metrics_reset(void)
{
    for (int m = 0; m < SQ_M__COUNT; m++)
        atomic_store(&sq_counters[m], 0);
    for (int r = 0; r < SQ_DLQ__COUNT; r++)
        atomic_store(&sq_dlq_counts[r], 0);
    sq_hist_reset(&sq_lat);
    sq_hist_reset(&sq_e2e);
    atomic_store(&sq_paused, false);
    atomic_store(&sq_timers_armed, 0);

    pthread_mutex_lock(&sq_m.mu);
    memset(&sq_dedupe, 0, sizeof sq_dedupe);
    for (size_t i = 0; i < sq_m.nparts; i++)
        free(sq_m.parts[i].topic);
    free(sq_m.parts);
    sq_m.parts = NULL;
    sq_m.nparts = sq_m.cap = 0;
    snprintf(sq_m.why, sizeof(sq_m.why), "starting");
    atomic_store(&sq_ready, false);
    pthread_mutex_unlock(&sq_m.mu);
}
