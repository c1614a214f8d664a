/* kpi.h: the windowed KPIs of SPEC 6 as pure functions: the counter and KPI
 * tables, the KPI formulas (service level in its three modes), tumbling
 * window sizes and their UTC alignment, the Redis and Kafka keys of a
 * window cell and the sq.out.kpi record. No I/O; processors/aggregate.c
 * counts and closes windows with them, gateway/config.c checks
 * `windows.sizes` with sq_kpi_windows_parse. */
#ifndef SQ_KPI_H
#define SQ_KPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sq_common.h"

/* SPEC 6's counters, in its order: X(ENUM_SUFFIX, name). */
#define SQ_KPI_COUNTERS(X)                                                                    \
    X(OFFERED, offered)                                                                       \
    X(ANSWERED, answered)                                                                     \
    X(ANSWERED_IN_SLA, answered_in_sla)                                                       \
    X(ABANDONED, abandoned)                                                                   \
    X(SHORT_ABANDONED, short_abandoned)                                                       \
    X(ABANDONED_IN_SLA, abandoned_in_sla)                                                     \
    X(CALLBACK_REQUESTS, callback_requests)                                                   \
    X(WAIT_ANSWERED_MS_SUM, wait_answered_ms_sum)                                             \
    X(HANDLE_MS_SUM, handle_ms_sum)                                                           \
    X(TRANSFERS_SUM, transfers_sum)                                                           \
    X(REPEAT, repeat)                                                                         \
    X(RESOLVED, resolved)                                                                     \
    X(TICKETS_OPENED, tickets_opened)                                                         \
    X(TICKETS_RESOLVED, tickets_resolved)                                                     \
    X(TICKETS_OVERDUE, tickets_overdue)                                                       \
    X(COMPLAINTS, complaints)                                                                 \
    X(REGULATOR_ESCALATIONS, regulator_escalations)                                           \
    X(CSAT_SUM, csat_sum)                                                                     \
    X(CSAT_N, csat_n)                                                                         \
    X(NPS_PROMOTERS, nps_promoters)                                                           \
    X(NPS_DETRACTORS, nps_detractors)                                                         \
    X(NPS_N, nps_n)                                                                           \
    X(QA_SCORE_MILLI_SUM, qa_score_milli_sum)                                                 \
    X(QA_N, qa_n)                                                                             \
    X(QA_FATAL, qa_fatal)                                                                     \
    X(BREACHES_MINOR, breaches_minor)                                                         \
    X(BREACHES_MAJOR, breaches_major)                                                         \
    X(BREACHES_CRITICAL, breaches_critical)                                                   \
    X(QUALITY_SCORE_DECI_SUM, quality_score_deci_sum)                                         \
    X(QUALITY_SCORE_N, quality_score_n)

enum sq_kpi_counter {
#define SQ_KPI_X(e, name) SQ_KC_##e,
    SQ_KPI_COUNTERS(SQ_KPI_X)
#undef SQ_KPI_X
    SQ_KC__COUNT
};

/* SPEC 6's KPIs, in its order. */
#define SQ_KPI_KPIS(X)                                                                        \
    X(SERVICE_LEVEL, service_level)                                                           \
    X(ABANDON_RATE, abandon_rate)                                                             \
    X(ASA_S, asa_s)                                                                           \
    X(AHT_S, aht_s)                                                                           \
    X(FCR_RATE, fcr_rate)                                                                     \
    X(TRANSFER_RATE, transfer_rate)                                                           \
    X(CSAT_AVG, csat_avg)                                                                     \
    X(NPS, nps)                                                                               \
    X(QA_AVG, qa_avg)                                                                         \
    X(QUALITY_SCORE_AVG, quality_score_avg)

enum sq_kpi {
#define SQ_KPI_X(e, name) SQ_KPI_##e,
    SQ_KPI_KPIS(SQ_KPI_X)
#undef SQ_KPI_X
    SQ_KPI__COUNT
};

/* Group-by dimensions in SPEC 6's order (also SPEC 15's emission order). */
enum sq_kpi_dim {
    SQ_KD_QUEUE,
    SQ_KD_REGION,
    SQ_KD_CHANNEL,
    SQ_KD_AGENT,
    SQ_KD_TIER,
    SQ_KD_ALL,
    SQ_KD__COUNT
};

/* kpi.service_level_mode (SPEC 6). */
enum sq_sl_mode {
    SQ_SL_ABANDONS_AGAINST,
    SQ_SL_ABANDONS_IGNORED,
    SQ_SL_ABANDONS_MET,
};

/* One window cell's counters. */
struct sq_kpi_counters {
    int64_t v[SQ_KC__COUNT];
};

/* Static names ("offered", "service_level", "queue"); NULL out of range. */
const char *sq_kpi_counter_name(enum sq_kpi_counter c);
/* The counter whose name p is, when p is the very pointer
 * sq_kpi_counter_name gave for it (not a copy of the name); else -1. */
int sq_kpi_counter_of_name(const char *p);
const char *sq_kpi_name(enum sq_kpi k);
const char *sq_kpi_dim_name(enum sq_kpi_dim d);
/* A counter's index by name, or -1. */
int sq_kpi_counter_parse(const char *name);
/* The mode of its config name, or -1 ("abandons_against", …). */
int sq_sl_mode_parse(const char *name);

/* One KPI of c (SPEC 6). Returns false when it is undefined (a zero
 * denominator); else *out. Each is one division of exact integers:
 * asa_s = wait_answered_ms_sum / (answered · 1000), fcr_rate =
 * (answered − repeat) / answered, nps = 100 · (promoters − detractors) /
 * nps_n, qa_avg = qa_score_milli_sum / (qa_n · 1000); quality_score_avg is
 * rounded to one decimal (SPEC 15: round(x · 10) / 10, x · 10 =
 * quality_score_deci_sum / quality_score_n). */
bool sq_kpi_value(const struct sq_kpi_counters *c, enum sq_kpi k, enum sq_sl_mode mode,
                  double *out);

/* The tumbling window sizes of `windows.sizes`, smallest first. */
#define SQ_KPI_MAX_WINDOWS 8
struct sq_kpi_window {
    int64_t size_ms;
    char label[16];         /* canonical: "15m", "1h", "1d", "90s" */
};
struct sq_kpi_windows {
    struct sq_kpi_window v[SQ_KPI_MAX_WINDOWS];
    size_t n;
};

/* Parses "15m,1h": comma-separated sizes, each a positive integer with unit
 * s, m, h or d (spaces around items allowed), between 1 s and 31 d, at most
 * SQ_KPI_MAX_WINDOWS, no size twice. Labels are canonical (the largest unit
 * that divides the size: "60m" is "1h"). Returns 0, or -1 with msg filled
 * and *out unspecified. */
int sq_kpi_windows_parse(const char *text, struct sq_kpi_windows *out, char *msg, size_t msgsz);

/* The start of the window of size_ms holding t_ms, aligned to the UTC epoch
 * (floor division, so times before 1970 align too). */
int64_t sq_kpi_window_start_ms(int64_t t_ms, int64_t size_ms);

/* Keys of a cell (SPEC 9, 15); key is the raw dimension key, escaped with
 * sq_key_escape_dup here. Owned by the caller.
 *   Redis: {prefix}kpi:{dimension}:{key}:{window}:{start epoch s}
 *   Kafka: {dimension}|{key}|{window}|{start epoch s} */
char *sq_kpi_redis_key_dup(const char *prefix, enum sq_kpi_dim dim, const char *key,
                           const struct sq_kpi_window *w, int64_t start_ms);
char *sq_kpi_kafka_key_dup(enum sq_kpi_dim dim, const char *key, const struct sq_kpi_window *w,
                           int64_t start_ms);
/* The same keys appended to b (a buffer reused for every cell). */
struct sq_buf;
void sq_kpi_redis_key_put(struct sq_buf *b, const char *prefix, enum sq_kpi_dim dim,
                          const char *key, const struct sq_kpi_window *w, int64_t start_ms);
void sq_kpi_kafka_key_put(struct sq_buf *b, enum sq_kpi_dim dim, const char *key,
                          const struct sq_kpi_window *w, int64_t start_ms);

/* The Redis key of the cell whose Kafka key is id (len bytes), appended to
 * b: the same parts with ':' between them. Every '|' in a Kafka key is a
 * separator (the key part is escaped; dimension names, window labels and
 * starts have none), so this is sq_kpi_redis_key_put's text without a
 * second escape and number format. */
void sq_kpi_redis_key_of_cell(struct sq_buf *b, const char *prefix, const char *id, size_t len);

/* A window cell named by its Kafka key (as sq_kpi_kafka_key_dup writes it):
 * the closer of `run` knows cells by that name only. */
struct sq_kpi_cell {
    enum sq_kpi_dim dim;
    char *key;                  /* raw (unescaped), owned */
    struct sq_kpi_window window;
    int64_t start_ms, end_ms;
};
/* Parses "{dimension}|{escaped key}|{window}|{start s}". Returns 0 (release
 * with sq_kpi_cell_fini), or -1 when id is not such a name. */
int sq_kpi_cell_parse(const char *id, struct sq_kpi_cell *out);
void sq_kpi_cell_fini(struct sq_kpi_cell *c);

/* Adds a stored KPI hash (a JSON object of field → decimal string, as a
 * whole-hash store read returns it) to c; unknown fields are ignored.
 * Returns 0, or -1 when a counter's value is not an integer (it counts 0). */
int sq_kpi_counters_add_hash(struct sq_kpi_counters *c, json_t *hash);
/* The same from the hash's text as the store read gives it, without
 * building a jansson object for the usual compact text (a text that does
 * not parse adds nothing and returns 0, as json_loads' NULL would). */
int sq_kpi_counters_add_text(struct sq_kpi_counters *c, const char *text);

/* The sq.out.kpi record (SPEC 8, 15): {dimension, key, window, start, end,
 * revision, counters{every counter}, kpis{every KPI, null when undefined}}.
 * New reference. */
json_t *sq_kpi_record(enum sq_kpi_dim dim, const char *key, const struct sq_kpi_window *w,
                      int64_t start_ms, int64_t revision, const struct sq_kpi_counters *c,
                      enum sq_sl_mode mode);

/* Appends the text of that record to b, byte for byte what
 * sq_json_dumps(sq_kpi_record(…), JSON_COMPACT | JSON_REAL_PRECISION(15))
 * gives, without building it (the closer and replay write thousands). */
void sq_kpi_record_put(struct sq_buf *b, enum sq_kpi_dim dim, const char *key,
                       const struct sq_kpi_window *w, int64_t start_ms, int64_t revision,
                       const struct sq_kpi_counters *c, enum sq_sl_mode mode);

#endif
