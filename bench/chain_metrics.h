/* chain_metrics.h: what bench_chain reads from a running sqgate over its
 * admin HTTP: /readyz, and the counters and the end-to-end latency
 * histogram of /metrics, with quantiles interpolated from the buckets. */
#ifndef SQ_CHAIN_METRICS_H
#define SQ_CHAIN_METRICS_H

#include "metrics.h"
#include "sq_common.h"

/* GET http://127.0.0.1:port/path with a 2 s timeout. The body goes to body
 * (caller's buffer, appended to) when not NULL. Returns the HTTP status, or
 * -1 when there was no answer. */
int sq_cb_http_get(int port, const char *path, struct sq_buf *body);

/* A turn's phases, as sqgate counts their time (sq_turn_*_microseconds_total). */
enum sq_cb_turn_phase { SQ_CB_TURN_CHAIN, SQ_CB_TURN_DELIVERY, SQ_CB_TURN_REDIS, SQ_CB_TURN__N };

/* A snapshot of sqgate's /metrics. */
struct sq_cb_metrics {
    double consumed;     /* sq_consumed_total */
    double processed;
    double duplicates;
    double skipped;
    double dlq;          /* sq_dlq_total summed over reasons */
    double batches;
    double redis_errors;
    double kafka_errors;
    double outputs;      /* sq_outputs_total: Kafka records delivered */
    double kpi_records;  /* sq_kpi_records_total: window closes and re-emissions */
    double timers_armed; /* sq_timers_armed: timers held in memory (due soon) */
    double profile_lookups, profile_misses; /* sq_profile_cache_*_total */
    double turns;        /* sq_turns_total, and the turns' time in each phase (µs) */
    double turn_us[SQ_CB_TURN__N];
    double idle_behind_us; /* sq_idle_behind_microseconds_total */
    double e2e[SQ_METRICS_E2E_NBOUNDS + 1]; /* cumulative buckets, last +Inf */
    /* sq_processing_latency_seconds: fetched by sqgate to done */
    double inside[SQ_METRICS_LATENCY_NBOUNDS + 1];
};

/* Reads /metrics into m. Returns 0, or -1 when sqgate did not answer. */
int sq_cb_metrics_read(int port, struct sq_cb_metrics *m);

/* The q-quantile (0 < q < 1) of the end-to-end latency observed between
 * snapshots a and b (b later), in seconds: the bucket holding it is found
 * from the bucket counts' differences and the value interpolated linearly
 * inside it, as Prometheus's histogram_quantile does. NAN when nothing was
 * observed; INFINITY when it lies above the last bound. */
double sq_cb_e2e_quantile(const struct sq_cb_metrics *a, const struct sq_cb_metrics *b, double q);
/* The same for the latency inside sqgate: from the message's fetch to the
 * end of its processing (sq_processing_latency_seconds). */
double sq_cb_inside_quantile(const struct sq_cb_metrics *a, const struct sq_cb_metrics *b,
                             double q);

#endif
