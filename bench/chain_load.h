/* chain_load.h: the load bench_chain puts on the stack and the transport's
 * limits. A producer thread sends the generator's messages (gateway/gen.h,
 * the same events `sqgate gen` makes) at a rate that can change while it
 * runs, with an optional cap on the total so a caller can keep a fixed
 * backlog in front of sqgate. A plain consumer reads a topic back, with or
 * without parsing every message, to measure what the transport alone
 * allows. */
#ifndef SQ_CHAIN_LOAD_H
#define SQ_CHAIN_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "gen.h"

struct sq_cb_producer {
    unsigned magic;             /* checked in the delivery report callback */
    pthread_t th;
    rd_kafka_t *rk;
    struct sq_gen *gen;
    _Atomic double rate;        /* messages per second of wall time */
    _Atomic int64_t allow;      /* produce at most this many in total */
    _Atomic int64_t queued;     /* handed to librdkafka */
    _Atomic int64_t delivered;  /* acknowledged by the broker */
    _Atomic int64_t failed;     /* delivery failed */
    _Atomic int64_t bytes;      /* value bytes queued */
    _Atomic int stop;
    bool running;
};

/* qsort's order of doubles, ascending. */
int sq_cb_cmp_double(const void *a, const void *b);
/* The median of v[0..n), n > 0, which it sorts. */
double sq_cb_median(double *v, int n);

/* Starts the producer thread on bootstrap with the generator options o,
 * idle (rate 0) until sq_cb_producer_set. Returns 0, or -1 with err. */
int sq_cb_producer_start(struct sq_cb_producer *p, const char *bootstrap,
                         const struct sq_gen_opts *o, char *err, size_t errsz);

/* New rate (messages/s) and cap on the total queued (INT64_MAX: none).
 * Bursts are limited to 50 ms worth of messages. */
void sq_cb_producer_set(struct sq_cb_producer *p, double rate, int64_t allow);

/* Stops the thread, waits up to 30 s for the delivery reports and frees
 * the client and the generator. Returns the messages never acknowledged.
 * Safe on a producer that was not started. */
int64_t sq_cb_producer_stop(struct sq_cb_producer *p);

/* Reads every message held in topic's partitions (low to high watermark)
 * `rounds` times with a plain consumer (assign, no group management, no
 * commits); with parse, each value is parsed with jansson as sqgate's
 * decoder does. Returns messages per second from the first message to the
 * last (connecting excluded) and the count in *msgs; -1 with err on
 * failure. */
double sq_cb_consume_limit(const char *bootstrap, const char *topic, int partitions, int rounds,
                           bool parse, long *msgs, char *err, size_t errsz);

/* The transport's own latency: a plain consumer reads the new messages of
 * topic for `seconds` while something else produces, and *p50 and *p99 get
 * the exact quantiles (seconds) of receipt time minus message timestamp,
 * the first second left out. Returns 0, or -1 with err. */
int sq_cb_consume_latency(const char *bootstrap, const char *topic, int partitions,
                          double seconds, double *p50, double *p99, char *err, size_t errsz);

#endif
