/* bench_chain.c: sqgate's full-chain figures, from one run on this machine,
 * printed as one Markdown table: sustained events/s of `sqgate run` between
 * a librdkafka mock cluster and a redis-server (generator paced, rate
 * stepped up until consumer lag grows, then the highest bounded step held
 * for a minute, 15 % lower each time it does not hold, since an event costs
 * more as the stack's state grows) with the machine's CPU split; the
 * transport's limits (a plain consumer, with and without jansson parsing);
 * `sqgate replay` and parse-only on the same events; end-to-end latency at
 * 10,000 events/s; sqgate's RSS and Redis bytes per customer, dedupe id and
 * KPI hash; events/s at 1, 6 and 24 partitions, with a deep backlog (a
 * gateway catching up) and CPU per event with 10k
 * and 1M customers; sqgate's peak RSS over a longer paced window with 1M
 * customers (point 4 over time). Progress goes to stderr, the table to
 * stdout.
 * Usage: bench_chain [--sqgate PATH] [--quick] [--main-customers N]
 * [--probe RATE SECONDS] [--set PATH=VALUE]... (--set goes to every
 * `sqgate run`; --quick: shorter steps, one round; --probe: one paced
 * window and its CPU per event, nothing else). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain_load.h"
#include "chain_metrics.h"
#include "chain_proc.h"
#include "chain_report.h"
#include "chain_stack.h"

#define SQ_CB_SEED 7
#define SQ_CB_EVENT_RATE 2000          /* generator event time: messages per second */
#define SQ_CB_MOCK_BYTES (5.0 * 1024 * 1024) /* what the mock keeps per partition */
#define SQ_CB_TICK_S 0.2               /* sampling period */
#define SQ_CB_MAX_SAMPLES 4096

#define SQ_CB_MAX_SETS 8
#define SQ_CB_HOLD_TRIES 4             /* held windows, 15 % lower each */

struct sq_cb_opts {
    const char *sqgate;
    const char *sets[SQ_CB_MAX_SETS + 1]; /* --set PATH=VALUE for sqgate run */
    double step_s;       /* one ramp step, or one saturated window */
    double warm_s;       /* left out at the start of each */
    long replay_events;
    int consume_rounds;
    uint32_t main_customers; /* the main run's (and replay's) distinct customers */
    double long_s;       /* the 1M-customer paced window (point 4 over time) */
    double hold_s;       /* a window holding a rate on the main stack */
};

/* What bench_chain reads at one instant. */
struct sq_cb_sample {
    double t;
    double queued;                  /* handed to the producer client */
    struct sq_cb_metrics m;         /* sqgate's /metrics */
    double cpu_sqgate, cpu_redis, cpu_self;
    double cpu_sqgate_main, cpu_redis_main; /* their main threads */
    struct sq_cb_machine machine;
};

/* A stack under load. */
struct sq_cb_run {
    const struct sq_cb_opts *o;
    struct sq_cb_stack stack;
    struct sq_cb_producer prod;
    double total_produced;          /* for the delivery check */
    double backlog;                 /* saturated windows: events kept ahead */
};

static struct sq_gen_opts sq_cb_gen_opts(uint32_t customers, int64_t start_ms)
{
    struct sq_gen_opts g;
    sq_gen_opts_defaults(&g);
    g.seed = SQ_CB_SEED;
    g.start_ms = start_ms;
    g.customers = customers;
    g.rate = SQ_CB_EVENT_RATE;
    return g;
}

/* ---- sampling and windows -------------------------------------------- */

static int sq_cb_sample(struct sq_cb_run *r, struct sq_cb_sample *s)
{
    s->t = sq_cb_now();
    s->queued = (double)atomic_load(&r->prod.queued);
    if (sq_cb_metrics_read(r->stack.admin_port, &s->m) != 0)
        return -1;
    s->cpu_sqgate = sq_cb_cpu_seconds(r->stack.sqgate_pid);
    s->cpu_redis = sq_cb_cpu_seconds(r->stack.redis_pid);
    s->cpu_self = sq_cb_cpu_seconds(0);
    s->cpu_sqgate_main = sq_cb_main_thread_cpu_seconds(r->stack.sqgate_pid);
    s->cpu_redis_main = sq_cb_main_thread_cpu_seconds(r->stack.redis_pid);
    sq_cb_machine_read(&s->machine);
    return 0;
}

/* Lag the mock cluster can hold without dropping, with a factor 2 margin
 * for uneven partitions: half of 5 MiB per partition over the mean size. */
static double sq_cb_lag_cap(const struct sq_cb_run *r)
{
    double n = (double)atomic_load(&r->prod.queued);
    double mean = n > 1000 ? (double)atomic_load(&r->prod.bytes) / n : 700;
    return 0.5 * SQ_CB_MOCK_BYTES * r->stack.partitions / mean;
}

/* Least-squares slope of lag over time. */
static double sq_cb_slope(const double *t, const double *y, size_t n)
{
    if (n < 3)
        return 0;
    double st = 0, sy = 0, stt = 0, sty = 0;
    for (size_t i = 0; i < n; i++) {
        st += t[i];
        sy += y[i];
        stt += t[i] * t[i];
        sty += t[i] * y[i];
    }
    double d = (double)n * stt - st * st;
    return d > 0 ? ((double)n * sty - st * sy) / d : 0;
}

static void sq_cb_window_fill(struct sq_cb_window *w, const struct sq_cb_sample *a,
                              const struct sq_cb_sample *b)
{
    w->secs = b->t - a->t;
    w->produced = b->queued - a->queued;
    w->consumed = b->m.consumed - a->m.consumed;
    w->cpu_sqgate = b->cpu_sqgate - a->cpu_sqgate;
    w->cpu_redis = b->cpu_redis - a->cpu_redis;
    w->cpu_self = b->cpu_self - a->cpu_self;
    w->cpu_sqgate_main = b->cpu_sqgate_main - a->cpu_sqgate_main;
    w->cpu_redis_main = b->cpu_redis_main - a->cpu_redis_main;
    w->busy = b->machine.busy - a->machine.busy;
    w->total = b->machine.total - a->machine.total;
    w->m0 = a->m;
    w->m1 = b->m;
}

/* Runs the load for secs seconds and measures the part after o->warm_s. rate > 0: paced at rate. rate <= 0: saturated, the producer
 * kept `backlog` events ahead of sqgate. Stops early when the lag nears
 * what the mock cluster keeps. With thirds (3 windows), each third of the
 * measured part is a window of its own too: what an event costs at the
 * start and at the end of a long window. Returns 0, or -1 when sqgate
 * stopped answering. */
static int sq_cb_window_run_thirds(struct sq_cb_run *r, double rate, double backlog,
                                   double secs, struct sq_cb_window *w,
                                   struct sq_cb_window *thirds)
{
    static double ts[SQ_CB_MAX_SAMPLES], lags[SQ_CB_MAX_SAMPLES];
    size_t n = 0;
    memset(w, 0, sizeof *w);
    struct sq_cb_sample s, first;
    if (sq_cb_sample(r, &s) != 0)
        return -1;
    first = s;
    if (rate > 0)
        sq_cb_producer_set(&r->prod, rate, INT64_MAX);
    double t0 = s.t, span = secs - r->o->warm_s;
    bool started = false;
    struct sq_cb_sample mark;
    int third = 0;
    size_t third_from = 0; /* its first lag sample */
    if (thirds)
        memset(thirds, 0, 3 * sizeof *thirds);
    for (;;) {
        if (rate <= 0)
            sq_cb_producer_set(&r->prod, 1e7, (int64_t)(s.m.consumed + backlog));
        sq_cb_sleep(SQ_CB_TICK_S);
        if (sq_cb_sample(r, &s) != 0)
            return -1;
        double lag = s.queued - s.m.consumed;
        if (!started && s.t - t0 >= r->o->warm_s) {
            first = mark = s;
            started = true;
        }
        if (thirds && started && lag > thirds[third].lag_max)
            thirds[third].lag_max = lag;
        if (thirds && started && third < 2 && s.t - first.t >= (third + 1) * span / 3) {
            sq_cb_window_fill(&thirds[third], &mark, &s);
            thirds[third].lag_slope = sq_cb_slope(ts + third_from, lags + third_from,
                                                  n - third_from);
            third_from = n;
            third++;
            mark = s;
        }
        if (started && n < SQ_CB_MAX_SAMPLES) {
            ts[n] = s.t - first.t;
            lags[n++] = lag;
            if (lag > w->lag_max)
                w->lag_max = lag;
        }
        if (lag > sq_cb_lag_cap(r))
            w->overflow = true;
        if (s.t - t0 >= secs || w->overflow)
            break;
    }
    sq_cb_producer_set(&r->prod, 0, INT64_MAX);
    sq_cb_window_fill(w, &first, &s);
    w->lag_slope = sq_cb_slope(ts, lags, n);
    if (thirds && started && third == 2) {
        sq_cb_window_fill(&thirds[2], &mark, &s);
        thirds[2].lag_slope = sq_cb_slope(ts + third_from, lags + third_from, n - third_from);
    }
    return 0;
}

static int sq_cb_window_run(struct sq_cb_run *r, double rate, double backlog,
                            struct sq_cb_window *w)
{
    return sq_cb_window_run_thirds(r, rate, backlog, r->o->step_s, w, NULL);
}

/* Waits (at most 120 s) until sqgate has consumed everything queued. */
/* Waits (up to secs) until sqgate consumed at least *want (read again each
 * time). Returns 0 when it did. */
static int sq_cb_wait_consumed(struct sq_cb_run *r, const _Atomic int64_t *want, double secs)
{
    double deadline = sq_cb_now() + secs;
    struct sq_cb_metrics m;
    while (sq_cb_now() < deadline) {
        if (sq_cb_metrics_read(r->stack.admin_port, &m) == 0 &&
            m.consumed >= (double)atomic_load(want))
            return 0;
        sq_cb_sleep(SQ_CB_TICK_S);
    }
    return -1;
}

static int sq_cb_drain(struct sq_cb_run *r)
{
    sq_cb_producer_set(&r->prod, 0, INT64_MAX);
    return sq_cb_wait_consumed(r, &r->prod.queued, 120);
}

/* One progress line on stderr about a measured interval. */
static void sq_cb_window_log(const char *what, const struct sq_cb_window *w)
{
    double s = w->secs > 0 ? w->secs : 1;
    fprintf(stderr,
            "bench_chain: %s: in %.0f/s, consumed %.0f/s, %.0f batches/s, lag max %.0f, "
            "slope %.0f/s, e2e p50 %.1f ms p99 %.1f ms (inside sqgate %.1f / %.1f ms); "
            "cores: sqgate %.2f (main thread %.2f) redis %.2f (main thread %.2f) "
            "broker+gen %.2f other %.2f; "
            "outputs %.0f/s, of them KPI records %.0f/s; a turn: chain %.1f ms, "
            "delivery wait %.1f ms, Redis %.1f ms; idle behind %.2f of the time\n",
            what, w->produced / s, w->consumed / s, (w->m1.batches - w->m0.batches) / s,
            w->lag_max, w->lag_slope, sq_cb_e2e_quantile(&w->m0, &w->m1, 0.5) * 1e3,
            sq_cb_e2e_quantile(&w->m0, &w->m1, 0.99) * 1e3,
            sq_cb_inside_quantile(&w->m0, &w->m1, 0.5) * 1e3,
            sq_cb_inside_quantile(&w->m0, &w->m1, 0.99) * 1e3, w->cpu_sqgate / s,
            w->cpu_sqgate_main / s, w->cpu_redis / s, w->cpu_redis_main / s, w->cpu_self / s,
            sq_cb_other_cpu(w) / s,
            (w->m1.outputs - w->m0.outputs) / s, (w->m1.kpi_records - w->m0.kpi_records) / s,
            sq_cb_turn_ms(w, SQ_CB_TURN_CHAIN), sq_cb_turn_ms(w, SQ_CB_TURN_DELIVERY),
            sq_cb_turn_ms(w, SQ_CB_TURN_REDIS),
            (w->m1.idle_behind_us - w->m0.idle_behind_us) / 1e6 / s);
}

/* ---- one stack's life -------------------------------------------------- */

static int sq_cb_run_start(struct sq_cb_run *r, const struct sq_cb_opts *o, int partitions,
                           const struct sq_gen_opts *g)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->backlog = SQ_CB_BACKLOG; /* a deep-backlog run sets its own */
    char err[512];
    if (sq_cb_stack_start(&r->stack, o->sqgate, o->sets, partitions, g, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chain: %s\n", err);
        return -1;
    }
    if (sq_cb_producer_start(&r->prod, r->stack.bootstrap, g, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chain: producer: %s\n", err);
        sq_cb_stack_stop(&r->stack);
        return -1;
    }
    return 0;
}

/* After a failed check, what sqgate says of where its work stands, on
 * stderr: readiness, pause, and every partition whose lag is not 0. */
static void sq_cb_state_dump(int admin_port)
{
    struct sq_buf body;
    sq_buf_init(&body);
    if (sq_cb_http_get(admin_port, "/metrics", &body) != 200 || !body.data) {
        fprintf(stderr, "bench_chain: sqgate's /metrics did not answer\n");
        sq_buf_fini(&body);
        return;
    }
    fprintf(stderr, "--- sqgate /metrics: readiness, pause, errors, rebalances, stalls, "
                    "partitions with lag ---\n");
    for (char *line = body.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        bool lagging = strncmp(line, "sq_partition_lag{", 17) == 0 &&
                       !(strlen(line) > 2 && strcmp(line + strlen(line) - 2, " 0") == 0);
        /* rebalances: 2 per partition (assign, revoke) for a run without
         * any; more, or fenced steps, point at the group (docs/operations.md) */
        static const char *const shown[] = {"sq_ready", "sq_paused", "sq_skipped",
                                            "sq_redis_errors", "sq_kafka_errors",
                                            "sq_rebalances", "sq_fenced",
                                            "sq_partition_stalls", NULL};
        bool show = lagging;
        for (int k = 0; shown[k] && !show; k++)
            show = strncmp(line, shown[k], strlen(shown[k])) == 0;
        if (show)
            fprintf(stderr, "%s\n", line);
    }
    fprintf(stderr, "---\n");
    sq_buf_fini(&body);
}

/* Drains, then checks that sqgate consumed exactly what was delivered and
 * lost or skipped nothing. Returns 0 when it did. */
static int sq_cb_run_check(struct sq_cb_run *r, const char *what)
{
    int drained = sq_cb_drain(r);
    int64_t unacked = sq_cb_producer_stop(&r->prod);
    /* a message the producer queued while the drain read sqgate's count
     * arrives after it: wait for what was delivered in the end */
    if (drained == 0)
        drained = sq_cb_wait_consumed(r, &r->prod.delivered, 30);
    struct sq_cb_metrics m;
    int rc = sq_cb_metrics_read(r->stack.admin_port, &m);
    double delivered = (double)atomic_load(&r->prod.delivered);
    r->total_produced = delivered;
    if (drained != 0 || rc != 0 || unacked != 0 || atomic_load(&r->prod.failed) != 0 ||
        m.consumed != delivered || m.skipped != 0) {
        fprintf(stderr,
                "bench_chain: %s: delivery check failed: produced %.0f (unacknowledged %" PRId64
                ", failed %" PRId64 "), sqgate consumed %.0f, skipped %.0f\n",
                what, delivered, unacked, (int64_t)atomic_load(&r->prod.failed), m.consumed,
                m.skipped);
        sq_cb_log_tail(r->stack.sqgate_log, 2000);
        sq_cb_state_dump(r->stack.admin_port);
        return -1;
    }
    return 0;
}

static void sq_cb_run_stop(struct sq_cb_run *r)
{
    sq_cb_producer_stop(&r->prod);
    sq_cb_stack_stop(&r->stack);
}

/* ---- the figures --------------------------------------------------------- */

static void sq_cb_saturated_from(struct sq_cb_saturated *s, const struct sq_cb_window *w)
{
    s->other_cores = sq_cb_other_cpu(w) / w->secs;
    s->rate = w->consumed / w->secs;
    s->sqgate_us = sq_cb_us(w, w->cpu_sqgate);
    s->redis_us = sq_cb_us(w, w->cpu_redis);
    double lookups = w->m1.profile_lookups - w->m0.profile_lookups;
    double misses = w->m1.profile_misses - w->m0.profile_misses;
    s->cache_hit = lookups > 0 ? 1 - misses / lookups : -1;
}

/* Lag bounded: its trend over the interval below 5 % of the rate, and it
 * never held more than 2 s of input (at least 2,000 events: a few turns'
 * worth at low rates). */
static bool sq_cb_step_bounded(const struct sq_cb_window *w, double rate)
{
    double lag_limit = 2 * rate > 2000 ? 2 * rate : 2000;
    return !w->overflow && w->lag_slope <= 0.05 * rate && w->lag_max <= lag_limit;
}

static void sq_cb_latency_from(struct sq_cb_latency *l, const struct sq_cb_window *w, double rate)
{
    l->rate = rate;
    l->lag_max = w->lag_max;
    l->achieved = w->secs > 0 ? w->produced / w->secs : 0;
    l->p50 = sq_cb_e2e_quantile(&w->m0, &w->m1, 0.50);
    l->p99 = sq_cb_e2e_quantile(&w->m0, &w->m1, 0.99);
    l->inside_p50 = sq_cb_inside_quantile(&w->m0, &w->m1, 0.50);
    l->inside_p99 = sq_cb_inside_quantile(&w->m0, &w->m1, 0.99);
    l->sustained = sq_cb_step_bounded(w, rate);
    l->measured = true;
}

static double sq_cb_round_rate(double r)
{
    double unit = r >= 20000 ? 1000 : r >= 2000 ? 100 : 10;
    double v = floor(r / unit + 0.5) * unit;
    return v < unit ? unit : v;
}

/* Steps the paced rate up by 15 % from 70 % of the saturated rate while
 * lag stays bounded (down by 30 % when the first step fails). The first
 * failed step is tried once more: other work on the shared machine comes
 * and goes. When it fails again, one step halfway between it and the last
 * bounded one says which half the sustained rate lies in. */
static int sq_cb_ramp(struct sq_cb_run *r, struct sq_cb_main *mr)
{
    double rate = sq_cb_round_rate(0.7 * mr->saturated), ok_rate = 0;
    bool any_ok = false, retried = false, halved = false;
    size_t off = 0;
    for (int step = 0; step < 12; step++) {
        struct sq_cb_window w;
        if (sq_cb_window_run(r, rate, 0, &w) != 0)
            return -1;
        bool bounded = sq_cb_step_bounded(&w, rate);
        bool gen_behind = w.produced / w.secs < 0.95 * rate;
        char what[64];
        snprintf(what, sizeof what, "step %.0f/s (%s)", rate, bounded ? "bounded" : "grew");
        sq_cb_window_log(what, &w);
        off += (size_t)snprintf(mr->steps + off, sizeof mr->steps - off, "%s%.0f %s",
                                off ? ", " : "", rate,
                                gen_behind ? "generator behind" : bounded ? "ok" : "lag grew");
        if (off >= sizeof mr->steps)
            off = sizeof mr->steps - 1;
        if (gen_behind) {
            mr->generator_bound = true; /* the producer can go no faster */
            break;
        }
        if (bounded) {
            any_ok = true;
            ok_rate = rate;
            mr->ramp_sustained = w.produced / w.secs;
            mr->ramp_step = rate;
            mr->best = w;
            if (halved)
                break;
            rate = sq_cb_round_rate(rate * 1.15);
            continue;
        }
        if (!mr->failed_seen) {
            mr->failed_seen = true;
            mr->failed = w;
        }
        if (sq_cb_drain(r) != 0)
            return -1;
        if (!retried) {
            retried = true;
            continue;
        }
        if (any_ok) {
            double mid = sq_cb_round_rate(0.5 * (ok_rate + rate));
            if (halved || mid <= ok_rate || mid >= rate)
                break;
            halved = true;
            rate = mid;
            continue;
        }
        if (step >= 3)
            break;
        rate = sq_cb_round_rate(rate * 0.7);
    }
    return sq_cb_drain(r);
}

/* A paced window at rate, for its end-to-end latency; drains after. */
static int sq_cb_latency_at(struct sq_cb_run *r, double rate, struct sq_cb_latency *l)
{
    struct sq_cb_window w;
    if (sq_cb_window_run(r, rate, 0, &w) != 0)
        return -1;
    sq_cb_latency_from(l, &w, rate);
    char what[64];
    snprintf(what, sizeof what, "latency at %.0f/s (%s)", rate,
             l->sustained ? "bounded" : "grew");
    sq_cb_window_log(what, &w);
    return sq_cb_drain(r);
}

/* A saturated window on a running stack. */
static int sq_cb_saturate(struct sq_cb_run *r, struct sq_cb_saturated *s)
{
    struct sq_cb_window w;
    if (sq_cb_window_run(r, 0, r->backlog, &w) != 0)
        return -1;
    sq_cb_saturated_from(s, &w);
    char what[96];
    snprintf(what, sizeof what, "%d partitions, saturated (backlog %.0f)", r->stack.partitions,
             r->backlog);
    sq_cb_window_log(what, &w);
    return 0;
}

/* The sustained rate held. A ramp step is only o->step_s long, and what
 * the stack holds grows as it runs (each customer's contact history and
 * breach set, the dedupe sets, Redis's key space), so an event costs more
 * later in a run and a step can pass on a rate the gateway does not keep.
 * From the ramp's highest bounded step, paced windows of o->hold_s each
 * step down by 15 % until one keeps its lag bounded, at most
 * SQ_CB_HOLD_TRIES of them: that one's rate is the sustained rate. Each
 * window's thirds say what an event costs at its start and at its end. */
static int sq_cb_hold(struct sq_cb_run *r, struct sq_cb_main *mr)
{
    double rate = mr->ramp_step;
    size_t off = 0;
    for (int i = 0; i < SQ_CB_HOLD_TRIES; i++) {
        struct sq_cb_window w, thirds[3];
        if (sq_cb_window_run_thirds(r, rate, 0, r->o->hold_s, &w, thirds) != 0)
            return -1;
        bool held = sq_cb_step_bounded(&w, rate);
        char what[64];
        snprintf(what, sizeof what, "hold %.0f/s (%s)", rate, held ? "bounded" : "grew");
        sq_cb_window_log(what, &w);
        for (int t = 0; t < 3 && thirds[t].secs > 0; t++) {
            snprintf(what, sizeof what, "hold %.0f/s, third %d", rate, t + 1);
            sq_cb_window_log(what, &thirds[t]);
        }
        off += (size_t)snprintf(mr->holds + off, sizeof mr->holds - off, "%s%.0f %s",
                                off ? ", " : "", rate, held ? "held" : "lag grew");
        if (!held && w.overflow && off < sizeof mr->holds)
            off += (size_t)snprintf(mr->holds + off, sizeof mr->holds - off,
                                    " (stopped after %.0f s)", w.secs + r->o->warm_s);
        if (off >= sizeof mr->holds)
            off = sizeof mr->holds - 1;
        mr->hold = w;
        memcpy(mr->hold_thirds, thirds, sizeof thirds);
        mr->hold_rate = rate;
        if (sq_cb_drain(r) != 0)
            return -1;
        if (held) {
            mr->sustained = w.produced / w.secs;
            sq_cb_latency_from(&mr->lat_best, &w, rate);
            return 0;
        }
        rate = sq_cb_round_rate(rate * 0.85);
    }
    return 0;
}

static int sq_cb_main_load(struct sq_cb_run *r, struct sq_cb_main *mr)
{
    struct sq_cb_saturated sat;
    if (sq_cb_saturate(r, &sat) != 0 || sq_cb_drain(r) != 0)
        return -1;
    mr->saturated = sat.rate;
    mr->hwm_sat_kib = sq_cb_status_kib(r->stack.sqgate_pid, "VmHWM");
    if (sq_cb_ramp(r, mr) != 0)
        return -1;
    if (mr->ramp_step > 0 && sq_cb_hold(r, mr) != 0)
        return -1;
    /* 10,000/s last: when sqgate cannot keep up, it leaves the logs full. */
    if (mr->sustained > 0 &&
        sq_cb_latency_at(r, sq_cb_round_rate(0.5 * mr->sustained), &mr->lat_half) != 0)
        return -1;
    return sq_cb_latency_at(r, SQ_CB_LATENCY_RATE, &mr->lat10k);
}

/* The transport's limits, sqgate stopped: a plain consumer reading what
 * the main run left in the input topic, without and with parsing, and its
 * latency while a new producer sends at 10,000 events/s. */
static int sq_cb_limits(struct sq_cb_run *r, const struct sq_gen_opts *g, struct sq_cb_main *mr)
{
    const char *topic = SQ_GEN_TOPIC_CONTACTS;
    const char *bs = r->stack.bootstrap;
    int parts = r->stack.partitions, rounds = r->o->consume_rounds;
    char err[512];
    long n;
    mr->consume = sq_cb_consume_limit(bs, topic, parts, rounds, false, &mr->consumed_msgs, err,
                                      sizeof err);
    if (mr->consume > 0)
        mr->consume_parse = sq_cb_consume_limit(bs, topic, parts, rounds, true, &n, err,
                                                sizeof err);
    if (mr->consume < 0 || mr->consume_parse < 0) {
        fprintf(stderr, "bench_chain: plain consumer: %s\n", err);
        return -1;
    }
    if (sq_cb_producer_start(&r->prod, bs, g, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chain: producer: %s\n", err);
        return -1;
    }
    sq_cb_producer_set(&r->prod, SQ_CB_LATENCY_RATE, INT64_MAX);
    sq_cb_sleep(2); /* past the new producer's first second */
    int rc = sq_cb_consume_latency(bs, topic, parts, r->o->step_s / 2, &mr->transport_p50,
                                   &mr->transport_p99, err, sizeof err);
    sq_cb_producer_stop(&r->prod);
    if (rc != 0)
        fprintf(stderr, "bench_chain: plain consumer latency: %s\n", err);
    return rc;
}

/* Everything measured on the main stack: 6 partitions, 10k customers (or
 * --main-customers). */
static int sq_cb_main_run(const struct sq_cb_opts *o, int64_t start_ms, struct sq_cb_main *mr)
{
    struct sq_cb_run r;
    struct sq_gen_opts g = sq_cb_gen_opts(o->main_customers, start_ms);
    mr->customers = o->main_customers;
    if (sq_cb_run_start(&r, o, SQ_CB_MAIN_PARTITIONS, &g) != 0)
        return -1;
    sq_cb_sleep(1);
    mr->rss_rest_kib = sq_cb_status_kib(r.stack.sqgate_pid, "VmRSS");
    mr->redis_before = sq_cb_redis_used_memory(&r.stack);
    int rc = sq_cb_main_load(&r, mr);
    if (rc == 0)
        rc = sq_cb_run_check(&r, "main run");
    mr->hwm_load_kib = sq_cb_status_kib(r.stack.sqgate_pid, "VmHWM");
    mr->produced = r.total_produced;
    char err[512];
    mr->redis_after = sq_cb_redis_used_memory(&r.stack);
    sq_cb_redis_commands(&r.stack, mr->produced, mr->redis_commands, sizeof mr->redis_commands,
                         mr->redis_usec, sizeof mr->redis_usec);
    if (rc == 0 && sq_cb_redis_breakdown(&r.stack, &mr->mem, err, sizeof err) != 0) {
        fprintf(stderr, "bench_chain: %s\n", err);
        rc = -1;
    }
    mr->sqgate_exit = sq_cb_stack_stop_sqgate(&r.stack);
    if (rc == 0)
        rc = sq_cb_limits(&r, &g, mr);
    sq_cb_run_stop(&r);
    mr->ok = rc == 0;
    return rc;
}

/* A saturated window on a fresh stack (scaling and customer count runs). */
static int sq_cb_saturated_run(const struct sq_cb_opts *o, const struct sq_cb_config_def *c,
                               int64_t start_ms, struct sq_cb_saturated *s)
{
    struct sq_cb_run r;
    struct sq_gen_opts g = sq_cb_gen_opts(c->customers, start_ms);
    memset(s, 0, sizeof *s);
    if (sq_cb_run_start(&r, o, c->partitions, &g) != 0)
        return -1;
    r.backlog = c->backlog;
    int rc = sq_cb_saturate(&r, s);
    char what[96];
    snprintf(what, sizeof what, "%d partitions, %u customers, backlog %.0f", c->partitions,
             c->customers, c->backlog);
    if (rc == 0)
        rc = sq_cb_run_check(&r, what);
    s->hwm_kib = sq_cb_status_kib(r.stack.sqgate_pid, "VmHWM");
    s->produced = r.total_produced;
    struct sq_cb_redis_mem mem;
    char err[512];
    if (rc == 0 && sq_cb_redis_breakdown(&r.stack, &mem, err, sizeof err) == 0)
        s->customers = mem.customers;
    sq_cb_run_stop(&r);
    s->ok = rc == 0;
    return rc;
}

/* ---- replay versus parse-only ---------------------------------------------- */

/* Runs argv to its end (at most 15 minutes); returns its exit code. */
static int sq_cb_run_child(char *const argv[], const char *log)
{
    pid_t pid = sq_cb_spawn(argv, log);
    int code = sq_cb_wait(pid, 900000);
    if (code == -2)
        code = sq_cb_stop(pid, 1000);
    return code;
}

/* The generator's first n values (the same bytes `sqgate gen -o` wrote,
 * from the same options), for the parse-only rounds. */
struct sq_cb_values {
    char **v;
    size_t *len;
    long n;
};

static void sq_cb_values_make(const struct sq_gen_opts *g, long n, struct sq_cb_values *out)
{
    struct sq_gen *gen = sq_gen_new(g);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    out->v = sq_xcalloc((size_t)n, sizeof *out->v);
    out->len = sq_xcalloc((size_t)n, sizeof *out->len);
    out->n = n;
    for (long i = 0; i < n; i++) {
        const char *topic;
        sq_buf_reset(&key);
        sq_buf_reset(&value);
        sq_gen_next(gen, &topic, &key, &value);
        out->v[i] = sq_xstrndup(value.data ? value.data : "", value.len);
        out->len[i] = value.len;
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(gen);
}

static void sq_cb_values_fini(struct sq_cb_values *vals)
{
    for (long i = 0; i < vals->n; i++)
        free(vals->v[i]);
    free(vals->v);
    free(vals->len);
}

/* jansson parse of every value (the decoder's flags), events/s. */
static double sq_cb_parse_only(const struct sq_cb_values *vals)
{
    double t0 = sq_cb_now();
    for (long i = 0; i < vals->n; i++) {
        json_error_t jerr;
        json_decref(json_loadb(vals->v[i], vals->len[i], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                               &jerr));
    }
    return (double)vals->n / (sq_cb_now() - t0);
}

/* Replay and parse-only in alternating rounds, so that one slow moment of
 * the machine moves neither figure (the report takes the medians:
 * chain_report.c; docs/performance.md says how far they still move from
 * run to run). */
static int sq_cb_replay_run(const struct sq_cb_opts *o, int64_t start_ms, struct sq_cb_replay *rp)
{
    char dir[] = "/tmp/sq-bench-replay-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char in[64], log[64], count[32], seed[32], rate[32], customers[32], start[SQ_TIME_BUFSZ];
    snprintf(in, sizeof in, "%s/events.ndjson", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(count, sizeof count, "%ld", o->replay_events);
    snprintf(seed, sizeof seed, "%d", SQ_CB_SEED);
    snprintf(rate, sizeof rate, "%d", SQ_CB_EVENT_RATE);
    snprintf(customers, sizeof customers, "%u", o->main_customers);
    sq_time_format(start_ms, start);
    /* The options of sq_cb_gen_opts: the chain's first events, byte for byte. */
    char *const gen[] = {(char *)o->sqgate, "gen", "-o", in, "--count", count, "--seed", seed,
                         "--customers", customers, "--start", start, "--rate", rate,
                         "--shape", "flat", NULL};
    char *const replay[] = {(char *)o->sqgate, "replay", in, "-o", "/dev/null", NULL};
    memset(rp, 0, sizeof *rp);
    rp->events = o->replay_events;
    struct sq_gen_opts g = sq_cb_gen_opts(o->main_customers, start_ms);
    struct sq_cb_values vals;
    sq_cb_values_make(&g, o->replay_events, &vals);
    int rc = sq_cb_run_child(gen, log);
    for (int r = 0; rc == 0 && r < SQ_CB_REPLAY_ROUNDS; r++) {
        double t0 = sq_cb_now();
        rc = sq_cb_run_child(replay, log);
        rp->replay_round[r] = (double)o->replay_events / (sq_cb_now() - t0);
        rp->parse_round[r] = sq_cb_parse_only(&vals);
        rp->rounds = r + 1;
        fprintf(stderr, "bench_chain: round %d: replay %.0f events/s, parse-only %.0f events/s\n",
                r + 1, rp->replay_round[r], rp->parse_round[r]);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_chain: sqgate gen or replay failed (exit %d)\n", rc);
        sq_cb_log_tail(log, 2000);
    }
    sq_cb_values_fini(&vals);
    unlink(in);
    unlink(log);
    rmdir(dir);
    rp->ok = rc == 0;
    return rc == 0 ? 0 : -1;
}

/* Keeps, per configuration, the highest rate and the lowest CPU per event
 * of the rounds (the machine is shared: other work comes and goes). */
static void sq_cb_keep_best(struct sq_cb_results *res, enum sq_cb_config c,
                            const struct sq_cb_saturated *s)
{
    struct sq_cb_saturated *b = &res->sat[c];
    res->sat_produced += s->produced;
    res->sat_ok = res->sat_ok && s->ok;
    if (!s->ok)
        return;
    if (!b->ok) {
        *b = *s;
        return;
    }
    if (s->rate > b->rate) {
        b->rate = s->rate;
        b->other_cores = s->other_cores;
        b->cache_hit = s->cache_hit;
    }
    if (s->sqgate_us < b->sqgate_us)
        b->sqgate_us = s->sqgate_us;
    if (s->redis_us < b->redis_us)
        b->redis_us = s->redis_us;
    if (s->hwm_kib > b->hwm_kib) {
        b->hwm_kib = s->hwm_kib;
        b->customers = s->customers;
    }
}

/* The fresh-stack saturated runs, configurations alternating each round. */
static void sq_cb_saturated_rounds(const struct sq_cb_opts *o, int64_t start_ms,
                                   struct sq_cb_results *res)
{
    res->sat_ok = true;
    for (int round = 0; round < res->rounds; round++)
        for (int c = 0; c < SQ_CB__CONFIGS; c++) {
            struct sq_cb_saturated s;
            sq_cb_saturated_run(o, &sq_cb_configs[c], start_ms, &s);
            sq_cb_keep_best(res, (enum sq_cb_config)c, &s);
        }
}

/* One paced window of o->step_s at rate on a fresh stack of the main
 * run's partitions, its events from `customers`. *r stays up for the
 * caller's checks (sq_cb_run_stop). Returns -2 when the stack did not
 * start (nothing to stop), else the window's outcome. */
static int sq_cb_paced_window(struct sq_cb_run *r, const struct sq_cb_opts *o, uint32_t customers,
                              int64_t start_ms, double rate, struct sq_cb_window *w,
                              struct sq_cb_window *thirds)
{
    struct sq_gen_opts g = sq_cb_gen_opts(customers, start_ms); /* the generator copies it */
    if (sq_cb_run_start(r, o, SQ_CB_MAIN_PARTITIONS, &g) != 0)
        return -2;
    sq_cb_sleep(1);
    return sq_cb_window_run_thirds(r, rate, 0, o->step_s, w, thirds);
}

/* Point 4 over time: one paced window of o->long_s on a fresh stack with
 * 1M customers, at 0.8 of the main run's sustained rate so that the lag
 * stays bounded. The saturated runs' windows reach too few customers and
 * open tickets for memory that would grow with them to show; the row
 * counts the open tickets' timers in Redis and those held in memory
 * (docs/operations.md, Memory). */
static int sq_cb_long_run(const struct sq_cb_opts *o, int64_t start_ms, double rate,
                          struct sq_cb_long *l)
{
    memset(l, 0, sizeof *l);
    if (!(rate > 0))
        return -1;
    struct sq_cb_opts lo = *o;
    lo.step_s = o->long_s;
    l->ran = true;
    l->rate = rate;
    struct sq_cb_run r;
    struct sq_cb_window w;
    int rc = sq_cb_paced_window(&r, &lo, 1000000, start_ms, rate, &w, NULL);
    if (rc == -2)
        return -1;
    if (rc == 0) {
        sq_cb_window_log("1M customers, paced", &w);
        l->secs = w.secs;
        l->consumed = w.secs > 0 ? w.consumed / w.secs : 0;
        l->bounded = sq_cb_step_bounded(&w, rate);
        l->timers_armed = w.m1.timers_armed;
        l->timers_redis = sq_cb_redis_timers(&r.stack);
        rc = sq_cb_run_check(&r, "1M customers, paced");
    }
    l->hwm_kib = sq_cb_status_kib(r.stack.sqgate_pid, "VmHWM");
    l->produced = r.total_produced;
    sq_cb_run_stop(&r);
    l->ok = rc == 0;
    return rc;
}

/* --probe RATE SECONDS: one paced window on the main stack and nothing
 * else, for comparing two builds or settings at one rate: what each
 * process spends per event there (the figure the sustained rate follows,
 * docs/performance.md), with Redis's commands per event, then the
 * delivery check. Its first quarter (at least 5 s) is left out. */
static int sq_cb_probe(const struct sq_cb_opts *o, int64_t start_ms, double rate, double secs)
{
    struct sq_cb_opts po = *o;
    po.step_s = secs;
    po.warm_s = secs / 4 > 5 ? secs / 4 : 5;
    struct sq_cb_run r;
    struct sq_cb_window w, thirds[3];
    int rc = sq_cb_paced_window(&r, &po, o->main_customers, start_ms, rate, &w, thirds);
    if (rc == -2)
        return -1;
    if (rc == 0) {
        sq_cb_window_log("probe", &w);
        for (int i = 0; i < 3 && thirds[i].secs > 0; i++) {
            char what[32];
            snprintf(what, sizeof what, "probe, third %d", i + 1);
            sq_cb_window_log(what, &thirds[i]);
        }
        double n = w.consumed > 0 ? w.consumed : 1;
        printf("probe at %.0f events/s for %.0f s: consumed %.0f/s, lag %s (max %.0f); "
               "CPU per event: sqgate %.1f µs (main thread %.1f), redis-server %.1f µs "
               "(main thread %.1f), broker+generator %.1f µs, other %.1f µs, idle %.2f of "
               "the machine\n",
               rate, w.secs, w.consumed / w.secs, sq_cb_step_bounded(&w, rate) ? "bounded" : "grew",
               w.lag_max, w.cpu_sqgate / n * 1e6, w.cpu_sqgate_main / n * 1e6,
               w.cpu_redis / n * 1e6, w.cpu_redis_main / n * 1e6, w.cpu_self / n * 1e6,
               sq_cb_other_cpu(&w) / n * 1e6, w.total > 0 ? 1 - w.busy / w.total : 0);
        if (thirds[2].secs > 0)
            printf("CPU per event in the first / middle / last third: sqgate %.1f / %.1f / "
                   "%.1f µs, redis-server %.1f / %.1f / %.1f µs\n",
                   sq_cb_us(&thirds[0], thirds[0].cpu_sqgate),
                   sq_cb_us(&thirds[1], thirds[1].cpu_sqgate),
                   sq_cb_us(&thirds[2], thirds[2].cpu_sqgate),
                   sq_cb_us(&thirds[0], thirds[0].cpu_redis),
                   sq_cb_us(&thirds[1], thirds[1].cpu_redis),
                   sq_cb_us(&thirds[2], thirds[2].cpu_redis));
        printf("sqgate peak RSS (VmHWM) %.1f MiB\n",
               sq_cb_status_kib(r.stack.sqgate_pid, "VmHWM") / 1024.0);
        rc = sq_cb_run_check(&r, "probe");
        char calls[1024], usec[1024];
        if (sq_cb_redis_commands(&r.stack, r.total_produced, calls, sizeof calls, usec,
                                 sizeof usec) == 0)
            printf("Redis commands per event over the whole probe: %s\n"
                   "Redis µs inside commands per event: %s\n", calls, usec);
    }
    sq_cb_run_stop(&r);
    printf("probe: %s\n", rc == 0 ? "delivery check passed" : "failed");
    return rc;
}

/* A customer count of 1 to what a uint32 holds. */
static bool sq_cb_parse_customers(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || v == 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    struct sq_cb_opts o = {.sqgate = SQ_BUILD_DIR "/sqgate", .step_s = 12, .warm_s = 3,
                           .replay_events = 50000, .consume_rounds = 3,
                           .main_customers = 10000, .long_s = 90,
                           .hold_s = 60};
    static struct sq_cb_results res;
    res.rounds = 2;
    size_t nsets = 0;
    double probe_rate = 0, probe_s = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sqgate") == 0 && i + 1 < argc) {
            o.sqgate = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < SQ_CB_MAX_SETS) {
            o.sets[nsets++] = argv[++i];
        } else if (strcmp(argv[i], "--main-customers") == 0 && i + 1 < argc &&
                   sq_cb_parse_customers(argv[i + 1], &o.main_customers)) {
            i++;
        } else if (strcmp(argv[i], "--probe") == 0 && i + 2 < argc) {
            probe_rate = strtod(argv[i + 1], NULL);
            probe_s = strtod(argv[i + 2], NULL);
            i += 2;
            if (!(probe_rate > 0 && probe_s >= 10)) {
                fprintf(stderr, "bench_chain: --probe RATE SECONDS: a rate above 0 and at "
                                "least 10 seconds\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--quick") == 0) {
            o.step_s = 6;
            o.warm_s = 2;
            o.replay_events = 20000;
            o.consume_rounds = 2;
            o.long_s = 30;
            o.hold_s = 20;
            res.rounds = 1;
        } else {
            fprintf(stderr, "usage: bench_chain [--sqgate PATH] [--quick] "
                            "[--main-customers N] [--probe RATE SECONDS] "
                            "[--set PATH=VALUE]...\n");
            return 2;
        }
    }
    res.step_s = o.step_s;
    res.hold_s = o.hold_s;
    res.warm_s = o.warm_s;
    sq_cb_proc_setup();
    double t0 = sq_cb_now();
    /* Event time an hour behind the wall clock, never ahead of it. */
    int64_t start_ms = (sq_now_ms() / 1000 - 3600) * 1000;
    if (probe_rate > 0)
        return sq_cb_probe(&o, start_ms, probe_rate, probe_s) == 0 ? 0 : 1;
    sq_cb_replay_run(&o, start_ms, &res.replay);
    sq_cb_main_run(&o, start_ms, &res.main);
    sq_cb_saturated_rounds(&o, start_ms, &res);
    /* point 4 under the sustained load; when no rate held, under the
     * lowest one tried, so that the figure is there all the same */
    double load = res.main.sustained > 0 ? res.main.sustained : res.main.hold_rate;
    if (res.main.ok && load > 0)
        sq_cb_long_run(&o, start_ms, sq_cb_round_rate(0.8 * load), &res.long1m);
    res.secs = sq_cb_now() - t0;
    sq_cb_report_print(&res);
    return res.main.ok && res.sat_ok && res.replay.ok && (!res.long1m.ran || res.long1m.ok) ? 0
                                                                                           : 1;
}
