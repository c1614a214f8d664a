/* metrics.h: process-wide counters and gauges of the gateway (SPEC 12). The
 * pipeline thread writes them; the admin HTTP thread reads them and renders
 * Prometheus text. One X-macro table gives each counter its enum, name and
 * help, so code, /metrics and docs/operations.md cannot drift apart. */
#ifndef SQ_METRICS_H
#define SQ_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outcome.h"
#include "sq_common.h"

/* X(enum suffix, Prometheus name, help). Every name ends in _total (counter). */
#define SQ_METRICS(X)                                                                    \
    X(CONSUMED, "sq_consumed_total",                                                     \
      "Input messages finished (processed + duplicates + dlq)")                          \
    X(PROCESSED, "sq_processed_total", "Input messages processed")                       \
    X(DUPLICATES, "sq_duplicates_total", "Input messages dropped as duplicates")         \
    X(SKIPPED, "sq_skipped_total",                                                       \
      "Messages at or below the partition's applied offset, skipped")                    \
    X(OUTPUTS, "sq_outputs_total", "Kafka output records delivered")                     \
    X(REDIS_ERRORS, "sq_redis_errors_total", "Redis errors (connect, command, timeout)") \
    X(KAFKA_ERRORS, "sq_kafka_errors_total", "Kafka errors (client, delivery)")          \
    X(PRODUCE_RETRIES, "sq_produce_retries_total",                                       \
      "Output records produced again after a failed delivery")                           \
    X(FENCED, "sq_fenced_total",                                                         \
      "Partition steps refused because another instance moved the offset")               \
    X(REBALANCES, "sq_rebalances_total", "Partition assignments and revocations")        \
    X(STALLS, "sq_partition_stalls_total",                                               \
      "Fetches restarted because an assigned partition fetched nothing for "             \
      "runtime.stall_s while messages waited in it")                                     \
    X(BATCHES, "sq_batches_total", "Partition batches applied")                          \
    X(KPI_RECORDS, "sq_kpi_records_total",                                               \
      "KPI records delivered to sq.out.kpi while holding the closer lease")              \
    X(CLOSER_LEASES, "sq_closer_leases_total", "Times this instance took the closer lease")  \
    X(KPI_FOLDED, "sq_kpi_journal_folded_total",                                         \
      "KPI journal entries this instance folded into the sq:kpi hashes")                 \
    X(PROFILE_LOOKUPS, "sq_profile_cache_lookups_total",                                 \
      "Profile lookups of events with a customer_id (enrich's in-process cache, "        \
      "enrich.cache_entries)")                                                           \
    X(PROFILE_MISSES, "sq_profile_cache_misses_total",                                   \
      "Profile lookups the cache did not answer: a Redis read each")                     \
    X(TOO_LATE, "sq_too_late_total",                                                     \
      "Events scored but not aggregated: their KPI window ended more than "              \
      "windows.max_lateness_s before the watermark")                                     \
    X(TURNS, "sq_turns_total",                                                           \
      "Turns finished: their outputs delivered and their Redis steps applied")           \
    X(TURN_CHAIN_US, "sq_turn_chain_microseconds_total",                                 \
      "Time turns spent from their start to their outputs produced: store reads and "    \
      "the chain")                                                                       \
    X(TURN_DELIVERY_US, "sq_turn_delivery_wait_microseconds_total",                      \
      "Time turns spent waiting for the delivery reports of their outputs")              \
    X(TURN_REDIS_US, "sq_turn_redis_wait_microseconds_total",                            \
      "Time turns spent from their outputs delivered to their Redis steps applied")     \
    X(IDLE_BEHIND_US, "sq_idle_behind_microseconds_total",                               \
      "Time with no turn in flight and nothing fetched while messages waited in Kafka "  \
      "for an assigned partition: the fetch fell behind (kafka.queued.max.messages.kbytes)")

enum sq_metric {
#define SQ_X(e, name, help) SQ_M_##e,
    SQ_METRICS(SQ_X)
#undef SQ_X
    SQ_M__COUNT
};

/* Upper bounds (seconds) of the processing latency histogram, +Inf implied.
 * Up to 60 s, as the end-to-end one: a gateway behind its input holds
 * messages for seconds, and a quantile in +Inf reads as the last bound. */
#define SQ_METRICS_LATENCY_BOUNDS                                                        \
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,   \
    0.75, 1, 2.5, 5, 10, 30, 60
#define SQ_METRICS_LATENCY_NBOUNDS 21

/* Upper bounds (seconds) of the end-to-end latency histogram, +Inf implied:
 * finer below 10 ms, where a healthy gateway sits, and between 50 ms and
 * 1 s, where a loaded one does, so that a quantile read from the buckets
 * is not a guess across a 150 ms bucket. */
#define SQ_METRICS_E2E_BOUNDS                                                            \
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25,    \
    0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60
#define SQ_METRICS_E2E_NBOUNDS 23

/* Counters: lock-free (relaxed atomics), callable from any thread. */
void sq_metrics_inc(enum sq_metric m, uint64_t n);
uint64_t sq_metrics_get(enum sq_metric m);
/* "sq_consumed_total", …; NULL when m is out of range. */
const char *sq_metrics_name(enum sq_metric m);
const char *sq_metrics_help(enum sq_metric m);

/* sq_dlq_total{reason="…"}; SQ_DLQ_NONE and out-of-range reasons are ignored. */
void sq_metrics_dlq_inc(enum sq_dlq_reason r, uint64_t n);
uint64_t sq_metrics_dlq_get(enum sq_dlq_reason r);

/* sq_processing_latency_seconds: one observation (negative or NaN counts as 0). */
void sq_metrics_observe_latency(double seconds);
/* sq_end_to_end_latency_seconds: one observation of the time from an input
 * message's Kafka timestamp to the end of its processing (negative or NaN
 * counts as 0). */
void sq_metrics_observe_end_to_end(double seconds);

/* Per-partition gauges. -1 = unknown. `next_offset` is the next offset to
 * process (sq_part_next_offset: applied + 1, or where consumption starts);
 * `pending_from` the first offset not yet committed: the committed offset,
 * or before this instance's first commit next_offset.
 * sq_partition_lag (high watermark − pending_from) and
 * sq_partition_unapplied (high watermark − next_offset) are shown only when
 * both of their ends are known, sq_partition_committed_offset only when the
 * committed offset is. The topic is copied. */
void sq_metrics_partition_set(const char *topic, int32_t partition,
                              int64_t high_watermark, int64_t next_offset,
                              int64_t pending_from, int64_t committed);
void sq_metrics_partition_remove(const char *topic, int32_t partition);
/* Sum of sq_partition_lag over the partitions whose lag is known (0 when
 * none is), for the demo's terminal view. */
int64_t sq_metrics_lag_total(void);
/* Sum of sq_partition_unapplied likewise: what no step has applied yet,
 * without the applied messages that wait for the next offset commit. */
int64_t sq_metrics_unapplied_total(void);

/* Readiness for /readyz and sq_ready. why_not (copied, truncated to 255 bytes)
 * says why when not ready, e.g. "paused: redis unreachable"; ignored when
 * ready. The process starts not ready, why "starting". */
void sq_metrics_set_ready(bool ready, const char *why_not);
/* Returns the readiness; when not ready and why is not NULL, copies the
 * reason into why (NUL-terminated, truncated to whysz). */
bool sq_metrics_ready(char *why, size_t whysz);

/* sq_timers_armed: overdue timers held in process (sq_chain_timers_armed). */
void sq_metrics_set_timers_armed(uint64_t n);

/* sq_dedupe_set_marks and sq_dedupe_sets_past_intset: the last sample of
 * the dedupe sets (gateway/dedupe_watch.h): sets read, marks in them, the
 * largest set's, sets Redis no longer keeps as an intset. */
void sq_metrics_set_dedupe(uint64_t sampled, uint64_t marks, uint64_t max, uint64_t past);

/* sq_paused: consumption paused by backpressure. */
void sq_metrics_set_paused(bool paused);
bool sq_metrics_paused(void);

/* Appends every metric in Prometheus text format 0.0.4, each family with its
 * # HELP and # TYPE lines. Safe to call from any thread. */
void sq_metrics_render(struct sq_buf *out);

/* Back to the state at process start (tests only). */
void sq_metrics_reset(void);

#endif
