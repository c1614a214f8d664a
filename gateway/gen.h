/* gen.h: `sqgate gen` (SPEC 11): a deterministic generator of realistic
 * input messages of every event type (contact.v1, ticket.v1 lifecycles,
 * survey.v1, qa_review.v1, outage.v1, profile.v1), a share of malformed
 * messages for every decode DLQ reason and of redelivered duplicates,
 * written as replay envelopes or produced to Kafka. Also used by `sqgate
 * demo` (gateway/demo.c) to feed its cluster and by bench/. */
#ifndef SQ_GEN_H
#define SQ_GEN_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outcome.h"
#include "settings.h"
#include "sq_common.h"

/* What sq_gen_next produced. The valid kinds come first, then the
 * duplicate, then the six malformed kinds, each of which maps to exactly
 * one DLQ reason of decode (sq_gen_kind_reason); SQ_GEN_MALFORMED_JSON ..
 * SQ_GEN__KINDS - 1 are the malformed ones. */
enum sq_gen_kind {
    SQ_GEN_CONTACT = 0,      /* a valid contact.v1 */
    SQ_GEN_PROFILE,          /* a valid profile.v1 */
    SQ_GEN_TICKET,           /* a valid ticket.v1: one step of a lifecycle */
    SQ_GEN_SURVEY,           /* a valid survey.v1 */
    SQ_GEN_QA_REVIEW,        /* a valid qa_review.v1 */
    SQ_GEN_OUTAGE,           /* a valid outage.v1 */
    SQ_GEN_DUPLICATE,        /* an earlier valid message again, same bytes */
    SQ_GEN_MALFORMED_JSON,
    SQ_GEN_TOO_LARGE,
    SQ_GEN_NOT_OBJECT,
    SQ_GEN_BAD_UTF8,
    SQ_GEN_TOO_DEEP,
    SQ_GEN_UNKNOWN_SCHEMA,
    SQ_GEN__KINDS
};

/* The topics the generator writes to (default names of SPEC 2); the index
 * of a valid kind's topic is sq_gen_kind_topic(kind). */
enum sq_gen_topic {
    SQ_GEN_T_CONTACTS = 0,
    SQ_GEN_T_PROFILES,
    SQ_GEN_T_TICKETS,
    SQ_GEN_T_SURVEYS,
    SQ_GEN_T_QA,
    SQ_GEN_T_OUTAGES,
    SQ_GEN__TOPICS
};
#define SQ_GEN_TOPIC_CONTACTS "sq.in.contacts"
#define SQ_GEN_TOPIC_PROFILES "sq.in.profiles"
#define SQ_GEN_TOPIC_TICKETS "sq.in.tickets"
#define SQ_GEN_TOPIC_SURVEYS "sq.in.surveys"
#define SQ_GEN_TOPIC_QA "sq.in.qa"
#define SQ_GEN_TOPIC_OUTAGES "sq.in.outages"

/* "contact", "profile", "ticket", "survey", "qa_review", "outage",
 * "duplicate", "malformed_json", …; "?" out of range. */
const char *sq_gen_kind_name(int kind);
/* The DLQ reason decode gives a malformed kind; SQ_DLQ_NONE for the others. */
enum sq_dlq_reason sq_gen_kind_reason(int kind);
/* SQ_GEN_T_CONTACTS for SQ_GEN_TOPIC_CONTACTS, …; -1 when not ours. */
int sq_gen_topic_index(const char *topic);
/* The default topic name of topic index i (SQ_GEN_TOPIC_*); NULL out of range. */
const char *sq_gen_topic_name(int i);
/* The schema whose events go to topic index i ("contact.v1", …); NULL out
 * of range. */
const char *sq_gen_topic_schema(int i);

/* Shares are of all messages; contacts get what the others leave. */
struct sq_gen_opts {
    uint64_t seed;
    int64_t start_ms;        /* event time of the first message, epoch ms */
    uint32_t customers;      /* distinct customer ids, 1..100000000 */
    double rate;             /* messages per second of event time (> 0), the
                                mean over a day when daily is set */
    bool daily;              /* arrivals follow a contact centre's day
                                (China time); false: a constant rate */
    double malformed_share;  /* 0..1, split evenly over the six reasons */
    double duplicate_share;  /* 0..1 */
    double profile_share;    /* 0..1 */
    double ticket_share;     /* 0..1, ticket.v1 lifecycle steps */
    double survey_share;     /* 0..1 */
    double qa_share;         /* 0..1, qa_review.v1 */
    double outage_share;     /* 0..1, outage.v1 starts and ends */
};

/* seed 1, start now, 10000 customers, rate 1000/s, constant rate,
 * malformed 1 %, duplicates 1 %, profiles 2 %, tickets 15 %, surveys 8 %,
 * QA reviews 3 %, outages 0.02 % (contacts ~70 %). */
void sq_gen_opts_defaults(struct sq_gen_opts *o);

/* The intensity of arrivals at event time ms relative to the day's mean
 * (1.0 on average over a day; low at night, high mid-morning and
 * mid-afternoon, China time): what opts.daily applies to opts.rate. */
double sq_gen_daily_factor(int64_t ms);

struct sq_gen;

/* A generator; the same options always give the same messages, byte for
 * byte. Shares are clamped to [0, 1] and, when they add up to more than
 * 1, scaled down to add up to 1. Free with sq_gen_free. */
struct sq_gen *sq_gen_new(const struct sq_gen_opts *o);
void sq_gen_free(struct sq_gen *g);

/* The options in effect (shares after clamping). */
const struct sq_gen_opts *sq_gen_options(const struct sq_gen *g);

/* The next message: *topic (static string, SQ_GEN_TOPIC_*), the key (the
 * customer id; the incident id for outages) and the value replace what key
 * and value held (caller-owned buffers; value may hold NUL-free but
 * arbitrary ASCII text, and is empty for one malformed variant). Returns
 * its enum sq_gen_kind. Event time advances with opts.rate (exponential
 * inter-arrival times, following the day when opts.daily), so at a steady
 * production rate event time follows wall time. */
int sq_gen_next(struct sq_gen *g, const char **topic, struct sq_buf *key, struct sq_buf *value);

/* Event time (epoch ms) of the generator's clock: the arrival time of the
 * last message generated. */
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

/* Sets tgt->topics from the input topics of st (by their default schema);
 * a topic st disables stays NULL (the default name). */
void sq_gen_target_topics(struct sq_gen_target *tgt, const struct sq_settings *st);

/* The share of g's messages that go to topic index i (0 out of range):
 * events by their shares, duplicates in the events' mix, malformed
 * messages to contacts. */
double sq_gen_topic_share(const struct sq_gen *g, int i);

/* Whether g ever writes to topic index i with its shares. */
bool sq_gen_topic_used(const struct sq_gen *g, int i);

/* Produces messages of g until `count` were queued (count < 0: no limit),
 * `seconds` passed (seconds <= 0: no limit) or *stop became non-zero; then
 * waits for the delivery reports (at most flush_ms). Pacing: with a
 * constant rate, `rate` per second of wall time (token bucket, slices every
 * 10 ms); with opts.daily, each message when its event time is due, event
 * time running rate / opts.rate times as fast as wall time, so the
 * production rate follows the day (its mean is `rate`). Only the topics g
 * uses must exist. Fills stats as it goes. Returns SQ_OK when every queued
 * message was delivered; otherwise an error in err (SQ_ERR_FATAL: bad
 * property, missing topic, failed or unconfirmed deliveries). Never blocks
 * without a bound. */
int sq_gen_produce(struct sq_gen *g, const struct sq_gen_target *tgt, double rate, int64_t count,
                   double seconds, int flush_ms, volatile sig_atomic_t *stop,
                   struct sq_gen_stats *stats, struct sq_err *err);

/* `sqgate gen [--rate N] [--seconds N | --count N] [--customers N] [--seed N]
 * [--start T] [--shape daily|flat] [--malformed S] [--duplicates S]
 * [--profiles S] [--tickets S] [--surveys S] [--qa S] [--outages S]
 * [--brokers B | -o FILE]`; argv holds the options after "gen". Kafka
 * properties (SASL, TLS) and topic names come from SQGATE_* as for `run`.
 * Returns the exit status (SPEC 11): 0 done, 2 usage error or Kafka/file
 * failure. */
int sq_gen_main(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
