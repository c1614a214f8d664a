/* chain_report.c: prints bench_chain's results as one Markdown table of
 * figure | value | target (see chain_report.h). */
#include "chain_report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chain_load.h"

const struct sq_cb_config_def sq_cb_configs[SQ_CB__CONFIGS] = {
    [SQ_CB_P1] = {1, 10000, SQ_CB_BACKLOG},
    [SQ_CB_P6] = {SQ_CB_MAIN_PARTITIONS, 10000, SQ_CB_BACKLOG},
    [SQ_CB_P24] = {24, 10000, SQ_CB_BACKLOG},
    [SQ_CB_P6_1M] = {SQ_CB_MAIN_PARTITIONS, 1000000, SQ_CB_BACKLOG},
    [SQ_CB_P6_DEEP] = {SQ_CB_MAIN_PARTITIONS, 10000, SQ_CB_DEEP_BACKLOG},
};

static double sq_cb_ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void sq_cb_ms(char *buf, size_t sz, double s)
{
    if (isnan(s))
        snprintf(buf, sz, "n/a");
    else if (isinf(s)) /* beyond both histograms' last bound */
        snprintf(buf, sz, "> 60 s");
    else if (s >= 1)
        snprintf(buf, sz, "%.2f s", s);
    else
        snprintf(buf, sz, "%.1f ms", s * 1e3);
}

double sq_cb_turn_ms(const struct sq_cb_window *w, enum sq_cb_turn_phase phase)
{
    double turns = w->m1.turns - w->m0.turns;
    if (turns <= 0)
        return 0;
    return (w->m1.turn_us[phase] - w->m0.turn_us[phase]) / turns / 1e3;
}

double sq_cb_other_cpu(const struct sq_cb_window *w)
{
    double other = w->busy - w->cpu_sqgate - w->cpu_redis - w->cpu_self;
    return other > 0 ? other : 0;
}

double sq_cb_us(const struct sq_cb_window *w, double cpu)
{
    return w->consumed > 0 ? cpu / w->consumed * 1e6 : 0;
}

/* The machine's CPU over window w, with the main threads of sqgate (the
 * chain and the turns) and redis-server (every command): one thread can
 * use at most one core, so a main thread near 1 is a limit. */
static void sq_cb_print_cpu(const char *what, const struct sq_cb_window *w)
{
    double s = w->secs > 0 ? w->secs : 1, cores = w->total > 0 ? w->total / s : 0;
    printf("| machine CPU over %s %.0f s, in cores of %.0f | sqgate %.2f (main thread %.2f), "
           "redis-server %.2f (main thread %.2f), broker+generator %.2f, other processes %.2f, "
           "idle %.2f; a turn's mean time: chain %.1f ms, delivery wait %.1f ms, Redis %.1f ms "
           "| |\n",
           what, w->secs, cores, w->cpu_sqgate / s, w->cpu_sqgate_main / s, w->cpu_redis / s,
           w->cpu_redis_main / s, w->cpu_self / s, sq_cb_other_cpu(w) / s,
           (w->total - w->busy) / s, sq_cb_turn_ms(w, SQ_CB_TURN_CHAIN),
           sq_cb_turn_ms(w, SQ_CB_TURN_DELIVERY), sq_cb_turn_ms(w, SQ_CB_TURN_REDIS));
}

/* The held windows (bench_chain.c: sq_cb_hold) and an event's cost in
 * the first and last third of the last one. */
static void sq_cb_print_hold(const struct sq_cb_results *res)
{
    const struct sq_cb_main *m = &res->main;
    if (!(m->hold_rate > 0)) {
        printf("| rates held, %.0f s each | not run (no ramp step kept its lag bounded) | |\n",
               res->hold_s);
        return;
    }
    const struct sq_cb_window *h = &m->hold, *a = &m->hold_thirds[0], *z = &m->hold_thirds[2];
    double s = h->secs > 0 ? h->secs : 1;
    printf("| rates held, %.0f s each (the last %.0f s measured), from the ramp's highest "
           "bounded step down by 15 %% | %s | |\n", res->hold_s, res->hold_s - res->warm_s,
           m->holds);
    char what[96];
    snprintf(what, sizeof what, "the last of them (%.0f events/s in, consumed %.0f/s), its",
             h->produced / s, h->consumed / s);
    sq_cb_print_cpu(what, h);
    if (z->consumed > 0)
        printf("| an event's CPU in that window's first → last third (what the stack holds "
               "grows as it runs) | sqgate %.1f → %.1f µs, redis-server %.1f → %.1f µs, "
               "broker+generator %.1f → %.1f µs | |\n",
               sq_cb_us(a, a->cpu_sqgate), sq_cb_us(z, z->cpu_sqgate), sq_cb_us(a, a->cpu_redis),
               sq_cb_us(z, z->cpu_redis), sq_cb_us(a, a->cpu_self), sq_cb_us(z, z->cpu_self));
    else
        printf("| an event's CPU in that window's first → last third | n/a (stopped early) | |\n");
}

/* 10000 as "10k", 1000000 as "1M", anything else as it is. */
static const char *sq_cb_count_label(uint32_t n, char out[16])
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(out, 16, "%uM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(out, 16, "%uk", n / 1000);
    else
        snprintf(out, 16, "%u", n);
    return out;
}

static void sq_cb_print_chain(const struct sq_cb_results *res)
{
    const struct sq_cb_main *m = &res->main;
    char label[16];
    const struct sq_cb_saturated *p6 = &res->sat[SQ_CB_P6];
    if (m->sustained > 0)
        printf("| full chain, sustained: highest paced rate whose consumer lag stayed bounded "
               "for %.0f s (%d partitions, %s customers) | %.0f events/s%s | ≥ 50,000 (floor "
               "20,000) |\n", res->hold_s, SQ_CB_MAIN_PARTITIONS,
               sq_cb_count_label(m->customers, label), m->sustained,
               m->generator_bound ? " (generator/broker bound)" : "");
    else
        printf("| full chain, sustained: highest paced rate whose consumer lag stayed bounded "
               "for %.0f s (%d partitions, %s customers) | none held (%s) | ≥ 50,000 (floor "
               "20,000) |\n", res->hold_s, SQ_CB_MAIN_PARTITIONS,
               sq_cb_count_label(m->customers, label), m->holds[0] ? m->holds : "no ramp step");
    printf("| ramp steps, events/s (%.0f s each, the last %.0f s measured) | %s (highest "
           "bounded: %.0f events/s) | |\n", res->step_s, res->step_s - res->warm_s, m->steps,
           m->ramp_sustained);
    sq_cb_print_cpu("that step's", &m->best);
    sq_cb_print_hold(res);
    if (m->failed_seen) {
        char what[96];
        snprintf(what, sizeof what, "the first step whose lag grew (%.0f events/s in), its",
                 m->failed.secs > 0 ? m->failed.produced / m->failed.secs : 0);
        sq_cb_print_cpu(what, &m->failed);
    }
    printf("| full chain, saturated: backlog kept ahead (%d partitions, 10k customers) "
           "| %.0f events/s | |\n", SQ_CB_MAIN_PARTITIONS, p6->rate);
    const struct sq_cb_saturated *deep = &res->sat[SQ_CB_P6_DEEP];
    printf("| full chain, saturated with a deep backlog, as when catching up: %.0f events kept "
           "ahead (%d partitions, 10k customers) | %.0f events/s (sqgate / redis-server %.0f / "
           "%.0f µs an event; sqgate peak RSS %.1f MiB) | |\n", (double)SQ_CB_DEEP_BACKLOG,
           SQ_CB_MAIN_PARTITIONS, deep->rate, deep->sqgate_us, deep->redis_us,
           deep->hwm_kib / 1024.0);
    printf("| plain librdkafka consumer, same topic (%ld messages) | %.0f events/s | |\n",
           m->consumed_msgs, m->consume);
    printf("| same consumer + jansson parse of every message | %.0f events/s | |\n",
           m->consume_parse);
    printf("| full chain sustained / consume+parse | %.3f | ≥ 0.35 |\n",
           sq_cb_ratio(m->sustained, m->consume_parse));
}

/* Each figure the median of its rounds; the ratio the median of the
 * rounds' own. */
static void sq_cb_print_replay(const struct sq_cb_replay *rp)
{
    double replay[SQ_CB_REPLAY_ROUNDS], parse[SQ_CB_REPLAY_ROUNDS], ratio[SQ_CB_REPLAY_ROUNDS];
    char each[128] = "";
    int n = rp->rounds;
    for (int r = 0; r < n; r++) {
        replay[r] = rp->replay_round[r];
        parse[r] = rp->parse_round[r];
        ratio[r] = sq_cb_ratio(replay[r], parse[r]);
        snprintf(each + strlen(each), sizeof each - strlen(each), "%s%.3f", r ? ", " : "",
                 ratio[r]);
    }
    printf("| `sqgate replay` of %ld generated events (the chain's first %ld; median of %d "
           "rounds, alternating with parse-only) | %.0f events/s | |\n", rp->events, rp->events,
           n, n ? sq_cb_median(replay, n) : 0);
    printf("| jansson parse-only, same events (median of the same rounds) | %.0f events/s | |\n",
           n ? sq_cb_median(parse, n) : 0);
    printf("| replay / parse-only (median of the rounds' ratios: %s) | %.3f | ≥ 0.5 |\n", each,
           n ? sq_cb_median(ratio, n) : 0);
}

static void sq_cb_print_latency(const char *label, const struct sq_cb_latency *l,
                                const char *target)
{
    if (!l->measured)
        return;
    char p50[32], p99[32];
    sq_cb_ms(p50, sizeof p50, l->p50);
    sq_cb_ms(p99, sizeof p99, l->p99);
    printf("| end-to-end latency p50 / p99 %s (%.0f events/s in) | %s / %s%s | %s |\n", label,
           l->achieved, p50, p99, l->sustained ? "" : " (lag grew: queueing included)", target);
    sq_cb_ms(p50, sizeof p50, l->inside_p50);
    sq_cb_ms(p99, sizeof p99, l->inside_p99);
    printf("| of which inside sqgate, fetched → done, p50 / p99 %s | %s / %s | |\n", label, p50,
           p99);
}

static void sq_cb_print_latencies(const struct sq_cb_main *m)
{
    sq_cb_print_latency("at 10,000 events/s", &m->lat10k, "p99 ≤ 20 ms");
    sq_cb_print_latency("at the sustained rate (its held window)", &m->lat_best, "");
    sq_cb_print_latency("at half the sustained rate", &m->lat_half, "");
    char p50[32], p99[32];
    sq_cb_ms(p50, sizeof p50, m->transport_p50);
    sq_cb_ms(p99, sizeof p99, m->transport_p99);
    printf("| transport alone: plain consumer, produce → receipt p50 / p99 at 10,000 events/s "
           "(exact) | %s / %s | |\n", p50, p99);
}

static void sq_cb_print_rss(const struct sq_cb_results *res)
{
    const struct sq_cb_main *m = &res->main;
    const struct sq_cb_saturated *c1m = &res->sat[SQ_CB_P6_1M];
    printf("| sqgate RSS at rest (VmRSS: ready, no load) | %.1f MiB | |\n",
           m->rss_rest_kib / 1024.0);
    printf("| sqgate peak RSS, saturated with a bounded backlog, 10k customers (VmHWM) "
           "| %.1f MiB | |\n", m->hwm_sat_kib / 1024.0);
    printf("| sqgate peak RSS at the end of the main run, lag up to %.0f events at 10,000/s "
           "(VmHWM) | %.1f MiB | |\n", m->lat10k.lag_max, m->hwm_load_kib / 1024.0);
    printf("| sqgate peak RSS, saturated %.0f s, ids from 1M customers (VmHWM; %ld of them in "
           "Redis) | %.1f MiB | |\n", res->step_s, c1m->customers, c1m->hwm_kib / 1024.0);
    const struct sq_cb_long *l = &res->long1m;
    if (!l->ran) {
        printf("| sqgate peak RSS paced with 1M customers | not run (no sustained rate) "
               "| ≤ 64 MiB with 1M customers |\n");
        return;
    }
    printf("| sqgate peak RSS paced at %.0f events/s (0.8 of %s) for %.0f s, ids from 1M "
           "customers (VmHWM; consumed %.0f/s, lag %s; open tickets' timers: %lld in Redis, "
           "%.0f in memory) | %.1f MiB%s | ≤ 64 MiB with 1M customers |\n",
           l->rate, m->sustained > 0 ? "sustained" : "the lowest rate tried, none held",
           l->secs, l->consumed, l->bounded ? "bounded" : "grew", l->timers_redis,
           l->timers_armed, l->hwm_kib / 1024.0, l->ok ? "" : " (run FAILED)");
}

static void sq_cb_print_redis(const struct sq_cb_main *m)
{
    const struct sq_cb_redis_mem *r = &m->mem;
    printf("| Redis commands per input event, main run (INFO commandstats) | %s | |\n",
           m->redis_commands);
    printf("| Redis µs inside commands per input event, main run (INFO commandstats usec; "
           "evalsha's includes the commands its scripts call) | %s | |\n", m->redis_usec);
    printf("| Redis used_memory growth per customer (all keys / %ld customers, %.0f events) "
           "| %.0f B | |\n", r->customers, m->produced,
           sq_cb_ratio((double)(m->redis_after - m->redis_before), (double)r->customers));
    printf("| Redis bytes per customer hash (MEMORY USAGE, mean) | %.0f B | |\n",
           sq_cb_ratio(r->customer_bytes, (double)r->customers));
    printf("| Redis bytes per dedupe id (MEMORY USAGE of %ld sq:dm sets / %ld ids) | %.1f B "
           "| ≤ 32 B |\n", r->dedupe_keys, r->dedupe_ids,
           sq_cb_ratio(r->dedupe_bytes, (double)r->dedupe_ids));
    printf("| Redis bytes per KPI hash (MEMORY USAGE, mean of %ld) | %.0f B | |\n", r->kpi_hashes,
           sq_cb_ratio(r->kpi_bytes, (double)r->kpi_hashes));
    printf("| what a customer holds at the end of the main run (%.1f events a customer): "
           "contact history (mean of %ld); breach set (mean of %ld, at most 100); a dedupe "
           "set's marks (mean of %ld) | %.0f B; %.1f records; %.0f marks | |\n",
           sq_cb_ratio(m->produced, (double)r->customers), r->histories, r->breach_sets,
           r->dedupe_keys, sq_cb_ratio(r->history_bytes, (double)r->histories),
           sq_cb_ratio((double)r->breach_records, (double)r->breach_sets),
           sq_cb_ratio((double)r->dedupe_ids, (double)r->dedupe_keys));
}

/* A share in [0, 1] with two decimals, or "n/a" when v < 0. */
static const char *sq_cb_share_text(double v, char out[16])
{
    if (v < 0)
        return "n/a";
    snprintf(out, 16, "%.2f", v);
    return out;
}

static void sq_cb_print_scaling(const struct sq_cb_results *res)
{
    char a[16], b[16];
    const struct sq_cb_saturated *p1 = &res->sat[SQ_CB_P1], *p6 = &res->sat[SQ_CB_P6],
                                 *p24 = &res->sat[SQ_CB_P24], *c1m = &res->sat[SQ_CB_P6_1M];
    printf("| events/s saturated at 1 / 6 / 24 partitions (best of %d) | %.0f / %.0f / %.0f "
           "(24/6 = %.2f) | 24 within 10%% of 6 |\n", res->rounds, p1->rate, p6->rate,
           p24->rate, sq_cb_ratio(p24->rate, p6->rate));
    printf("| sqgate / redis-server CPU per event at 1 / 6 / 24 partitions "
           "| %.0f / %.0f / %.0f µs; %.0f / %.0f / %.0f µs | |\n",
           p1->sqgate_us, p6->sqgate_us, p24->sqgate_us, p1->redis_us, p6->redis_us,
           p24->redis_us);
    printf("| sqgate CPU per event, 10k / 1M customers (saturated, %d partitions) "
           "| %.0f / %.0f µs (1M/10k = %.2f) | 1M within 20%% of 10k |\n", SQ_CB_MAIN_PARTITIONS,
           p6->sqgate_us, c1m->sqgate_us, sq_cb_ratio(c1m->sqgate_us, p6->sqgate_us));
    printf("| redis-server CPU per event, 10k / 1M customers | %.0f / %.0f µs | |\n",
           p6->redis_us, c1m->redis_us);
    printf("| events/s saturated, 10k / 1M customers | %.0f / %.0f | |\n", p6->rate, c1m->rate);
    printf("| profile cache hit ratio, 10k / 1M customers (the fastest round's window; "
           "enrich.cache_entries 20,000, starting over when full) | %s / %s | |\n",
           sq_cb_share_text(p6->cache_hit, a), sq_cb_share_text(c1m->cache_hit, b));
}

void sq_cb_report_print(const struct sq_cb_results *res)
{
    const struct sq_cb_main *m = &res->main;
    printf("| figure | value | target |\n|---|---|---|\n");
    sq_cb_print_chain(res);
    sq_cb_print_replay(&res->replay);
    sq_cb_print_latencies(m);
    sq_cb_print_rss(res);
    sq_cb_print_redis(m);
    sq_cb_print_scaling(res);
    bool ok = m->ok && res->sat_ok && res->replay.ok && (!res->long1m.ran || res->long1m.ok);
    printf("| delivery check: sqgate consumed = produced, none skipped, no failed delivery "
           "| %s (%.0f events in the main run, %.0f in the saturated runs, %.0f in the 1M paced "
           "run) | |\n",
           ok ? "passed" : "FAILED", m->produced, res->sat_produced, res->long1m.produced);
    printf("| sqgate exit status after SIGTERM (main run) | %d | 0 |\n", m->sqgate_exit);
    printf("| bench run time | %.0f s | ≤ 10 min |\n", res->secs);
}
