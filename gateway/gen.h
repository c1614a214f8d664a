/* gen.h: `sqgate gen` (SPEC 11): a deterministic generator of realistic
 * input messages (contact.v1 contacts, profile.v1 upserts, a share of
 * malformed messages for every decode DLQ reason and of redelivered
 * duplicates), written as replay envelopes or produced to Kafka at a steady
 * rate. Also used by `sqgate demo` (gateway/demo.c) to feed its cluster. */
#ifndef SQ_GEN_H
#define SQ_GEN_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "outcome.h"
#include "settings.h"
#include "sq_common.h"

/* What sq_gen_next produced. The six malformed kinds each map to exactly
 * one DLQ reason of decode (sq_gen_kind_reason). */
enum sq_gen_kind {
    SQ_GEN_CONTACT = 0,      /* a valid contact.v1 */
    SQ_GEN_PROFILE,          /* a valid profile.v1 */
    SQ_GEN_DUPLICATE,        /* an earlier valid message again, same bytes */
    SQ_GEN_MALFORMED_JSON,
    SQ_GEN_TOO_LARGE,
    SQ_GEN_NOT_OBJECT,
    SQ_GEN_BAD_UTF8,
    SQ_GEN_TOO_DEEP,
    SQ_GEN_UNKNOWN_SCHEMA,
    SQ_GEN__KINDS
};

/* The topics the generator writes to (default names of SPEC 2). */
enum sq_gen_topic { SQ_GEN_T_CONTACTS = 0, SQ_GEN_T_PROFILES, SQ_GEN__TOPICS };
#define SQ_GEN_TOPIC_CONTACTS "sq.in.contacts"
#define SQ_GEN_TOPIC_PROFILES "sq.in.profiles"

/* "contact", "profile", "duplicate", "malformed_json", …; "?" out of range. */
const char *sq_gen_kind_name(int kind);
/* The DLQ reason decode gives a malformed kind; SQ_DLQ_NONE for the others. */
enum sq_dlq_reason sq_gen_kind_reason(int kind);
/* SQ_GEN_T_CONTACTS for SQ_GEN_TOPIC_CONTACTS, …; -1 when not ours. */
int sq_gen_topic_index(const char *topic);

struct sq_gen_opts {
    uint64_t seed;
    int64_t start_ms;        /* event time of the first message, epoch ms */
    uint32_t customers;      /* distinct customer ids, 1..100000000 */
    double rate;             /* messages per second of event time (> 0) */
    double malformed_share;  /* 0..1, split evenly over the six reasons */
    double duplicate_share;  /* 0..1 */
    double profile_share;    /* 0..1 */
};

/* seed 1, start now, 10000 customers, rate 1000/s, malformed 1 %,
 * duplicates 1 %, profiles 2 %. */
void sq_gen_opts_defaults(struct sq_gen_opts *o);

struct sq_gen;

/* A generator; the same options always give the same messages, byte for
 * byte. Shares are clamped to [0, 1] and their sum to 1. Free with
 * sq_gen_free. */
struct sq_gen *sq_gen_new(const struct sq_gen_opts *o);
void sq_gen_free(struct sq_gen *g);

/* The next message: *topic (static string, SQ_GEN_TOPIC_*), the key (the
 * customer id) and the value replace what key and value held (caller-owned
 * buffers; value may hold NUL-free but arbitrary ASCII text, and is empty
 * for one malformed variant). Returns its enum sq_gen_kind. Event time
 * advances with opts.rate (exponential inter-arrival times), so at a steady
 * production rate event time follows wall time. */
int sq_gen_next(struct sq_gen *g, const char **topic, struct sq_buf *key, struct sq_buf *value);

/* Event time (epoch ms) of the generator's clock: the time of the last
 * message generated. */
int64_t sq_gen_clock_ms(const struct sq_gen *g);

/* Appends one replay envelope line (SPEC 11) with its '\n':
 * {"topic":T,"key":K,"value":V}. V is the message text itself when the
 * message is a JSON object within the default limits (valid events,
 * duplicates, unknown_schema), otherwise the original text as a JSON string
 * (malformed_json, too_large, not_object, bad_utf8, too_deep). */
void sq_gen_envelope(struct sq_buf *out, int kind, const char *topic, const struct sq_buf *key,
                     const struct sq_buf *value);

/* Counters of a producing run; atomics so another thread (the demo's view)
 * may read them while it runs. Zero-initialise. */
struct sq_gen_stats {
    _Atomic uint64_t queued;                      /* handed to librdkafka */
    _Atomic uint64_t delivered;                   /* acknowledged by the broker */
    _Atomic uint64_t failed;                      /* delivery failed for good */
    _Atomic uint64_t delivered_kind[SQ_GEN__KINDS];
    _Atomic uint64_t delivered_topic[SQ_GEN__TOPICS];
    _Atomic int done;                             /* 1 once sq_gen_produce returned */
};

/* Where and how sq_gen_produce produces. */
struct sq_gen_target {
    const char *brokers;                   /* bootstrap.servers */
    const struct sq_kafka_prop *props;     /* extra librdkafka properties, verbatim */
    size_t props_n;
    const char *topics[SQ_GEN__TOPICS];    /* topic names; NULL = the default name */
};

/* Produces messages of g at `rate` per second of wall time (token bucket,
 * slices every 10 ms) until `count` were queued (count < 0: no limit),
 * `seconds` passed (seconds <= 0: no limit) or *stop became non-zero; then
 * waits for the delivery reports (at most flush_ms). Fills stats as it
 * goes. Returns SQ_OK when every queued message was delivered; otherwise
 * an error in err (SQ_ERR_FATAL: bad property, missing topic, failed or
 * unconfirmed deliveries). Never blocks without a bound. */
int sq_gen_produce(struct sq_gen *g, const struct sq_gen_target *tgt, double rate, int64_t count,
                   double seconds, int flush_ms, volatile sig_atomic_t *stop,
                   struct sq_gen_stats *stats, struct sq_err *err);

/* `sqgate gen [--rate N] [--seconds N | --count N] [--customers N] [--seed N]
 * [--start T] [--malformed SHARE] [--duplicates SHARE] [--profiles SHARE]
 * [--brokers B | -o FILE]`; argv holds the options after "gen". Kafka
 * properties (SASL, TLS) come from SQGATE_KAFKA__* as for `run`. Returns
 * the exit status (SPEC 11): 0 done, 2 usage error or Kafka/file failure. */
int sq_gen_main(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
