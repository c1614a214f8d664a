/* chain_load.c: bench_chain's paced producer thread and its plain
 * consumers (see chain_load.h). */
#include "chain_load.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain_proc.h"

#define SQ_CB_PRODUCER_MAGIC 0x53514350u /* "SQCP" */
#define SQ_CB_SLICE_S 0.002              /* the producer's pacing step */
#define SQ_CB_BURST_S 0.05               /* at most this much rate at once */

static void sq_cb_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

/* The delivery report; the opaque is the producer, checked by its magic. */
static void sq_cb_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct sq_cb_producer *p = opaque;
    if (!p || p->magic != SQ_CB_PRODUCER_MAGIC) {
        fprintf(stderr, "bench_chain: BUG: bad producer opaque\n");
        abort();
    }
    if (rkm->err)
        atomic_fetch_add(&p->failed, 1);
    else
        atomic_fetch_add(&p->delivered, 1);
}

/* A quiet client configuration for bootstrap with props (NULL-terminated
 * name, value pairs); NULL with err filled when a property is refused. */
static rd_kafka_conf_t *sq_cb_conf_new(const char *bootstrap, const char *const *props,
                                       char *err, size_t errsz)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_cb_quiet_log);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr)) {
        snprintf(err, errsz, "%s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (const char *const *d = props; d[0]; d += 2)
        if (rd_kafka_conf_set(conf, d[0], d[1], errstr, sizeof errstr)) {
            snprintf(err, errsz, "%s: %s", d[0], errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    return conf;
}

static rd_kafka_t *sq_cb_producer_client(struct sq_cb_producer *p, const char *bootstrap,
                                         char *err, size_t errsz)
{
    /* As `sqgate gen` (idempotent, acks=all) but with a 25 ms linger
     * instead of 5: the mock broker finds a fetch's offset by walking the
     * partition's message sets from the oldest it keeps (~5 MiB), so its
     * CPU per fetch grows with the number of sets. At 10,000 events/s a
     * 5 ms linger gave sets of ~8 messages and the walk took ~0.3 of the
     * machine's 2 cores; 25 ms halves the broker's CPU (docs/performance.md).
     * A broker with an offset index has no such cost. The linger is part of
     * every end-to-end latency figure (message timestamp to Redis step). */
    static const char *const props[] = {
        "enable.idempotence", "true",         "acks", "all",
        "linger.ms", "25",                    "message.timeout.ms", "30000",
        "queue.buffering.max.messages", "200000", "message.max.bytes", "2000000",
        NULL, NULL,
    };
    char errstr[512];
    rd_kafka_conf_t *conf = sq_cb_conf_new(bootstrap, props, err, errsz);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, sq_cb_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        snprintf(err, errsz, "rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf); /* taken only on success */
    }
    return rk;
}

/* Queues the messages the token bucket allows; returns false when the
 * local queue was full (the message stays pending in key/value). */
static bool sq_cb_produce_due(struct sq_cb_producer *p, double *tokens, bool *pending,
                              struct sq_buf *key, struct sq_buf *value, const char **topic)
{
    int64_t allow = atomic_load(&p->allow);
    while (*tokens >= 1 && atomic_load(&p->queued) < allow) {
        if (!*pending) {
            sq_buf_reset(key);
            sq_buf_reset(value);
            sq_gen_next(p->gen, topic, key, value);
            *pending = true;
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(*topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key->data, key->len), RD_KAFKA_V_VALUE(value->data, value->len),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return false;
        *pending = false;
        if (e) {
            atomic_fetch_add(&p->failed, 1);
            continue;
        }
        atomic_fetch_add(&p->queued, 1);
        atomic_fetch_add(&p->bytes, (int64_t)value->len);
        *tokens -= 1;
    }
    return true;
}

static void *sq_cb_producer_main(void *arg)
{
    struct sq_cb_producer *p = arg;
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    const char *topic = NULL;
    bool pending = false;
    double tokens = 0, last = sq_cb_now();
    while (!atomic_load(&p->stop)) {
        double now = sq_cb_now(), rate = atomic_load(&p->rate);
        tokens += rate * (now - last);
        last = now;
        if (tokens > rate * SQ_CB_BURST_S + 1)
            tokens = rate * SQ_CB_BURST_S + 1;
        if (!sq_cb_produce_due(p, &tokens, &pending, &key, &value, &topic))
            rd_kafka_poll(p->rk, 1);
        rd_kafka_poll(p->rk, 0);
        sq_cb_sleep(SQ_CB_SLICE_S);
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    return NULL;
}

int sq_cb_producer_start(struct sq_cb_producer *p, const char *bootstrap,
                         const struct sq_gen_opts *o, char *err, size_t errsz)
{
    memset(p, 0, sizeof *p);
    p->magic = SQ_CB_PRODUCER_MAGIC;
    atomic_store(&p->allow, INT64_MAX);
    p->rk = sq_cb_producer_client(p, bootstrap, err, errsz);
    if (!p->rk)
        return -1;
    p->gen = sq_gen_new(o);
    if (pthread_create(&p->th, NULL, sq_cb_producer_main, p) != 0) {
        snprintf(err, errsz, "pthread_create failed");
        sq_gen_free(p->gen);
        rd_kafka_destroy(p->rk);
        p->gen = NULL;
        p->rk = NULL;
        return -1;
    }
    p->running = true;
    return 0;
}

void sq_cb_producer_set(struct sq_cb_producer *p, double rate, int64_t allow)
{
    atomic_store(&p->rate, rate);
    atomic_store(&p->allow, allow);
}

int64_t sq_cb_producer_stop(struct sq_cb_producer *p)
{
    if (!p->running)
        return 0;
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    p->running = false;
    double deadline = sq_cb_now() + 30;
    while (rd_kafka_outq_len(p->rk) > 0 && sq_cb_now() < deadline)
        rd_kafka_flush(p->rk, 100);
    int64_t left = rd_kafka_outq_len(p->rk);
    if (left > 0)
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
    sq_gen_free(p->gen);
    p->gen = NULL;
    return atomic_load(&p->queued) - atomic_load(&p->delivered);
}

/* ---- the plain consumer ------------------------------------------------ */

static rd_kafka_t *sq_cb_consumer_client(const char *bootstrap, char *err, size_t errsz)
{
    /* fetch.wait.max.ms as bench_chain gives sqgate (chain_stack.c). */
    static const char *const props[] = {
        "group.id", "sq-bench-limit", "enable.auto.commit", "false",
        "enable.auto.offset.store", "false", "enable.partition.eof", "false",
        "fetch.wait.max.ms", "10", NULL, NULL,
    };
    char errstr[512];
    rd_kafka_conf_t *conf = sq_cb_conf_new(bootstrap, props, err, errsz);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        snprintf(err, errsz, "rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* The partitions at their low watermarks, and how many messages they hold. */
static rd_kafka_topic_partition_list_t *sq_cb_held(rd_kafka_t *rk, const char *topic,
                                                   int partitions, long *held)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    *held = 0;
    for (int i = 0; i < partitions; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000)) {
            rd_kafka_topic_partition_list_destroy(l);
            return NULL;
        }
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = lo;
        *held += (long)(hi - lo);
    }
    return l;
}

/* One pass over the held messages; returns the seconds from the first
 * message to the last, -1 when they did not all come within 60 s. */
static double sq_cb_consume_round(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *from,
                                  long held, bool parse)
{
    if (rd_kafka_assign(rk, from))
        return -1;
    long got = 0;
    double first = 0, last = 0, deadline = sq_cb_now() + 60;
    while (got < held && sq_cb_now() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
        if (!rkm)
            continue;
        if (!rkm->err) {
            if (!got)
                first = sq_cb_now();
            if (parse) {
                json_error_t jerr;
                json_t *j = json_loadb(rkm->payload, rkm->len,
                                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
                json_decref(j);
            }
            got++;
        }
        rd_kafka_message_destroy(rkm);
    }
    last = sq_cb_now();
    rd_kafka_assign(rk, NULL);
    return got == held ? last - first : -1;
}

double sq_cb_consume_limit(const char *bootstrap, const char *topic, int partitions, int rounds,
                           bool parse, long *msgs, char *err, size_t errsz)
{
    rd_kafka_t *rk = sq_cb_consumer_client(bootstrap, err, errsz);
    if (!rk)
        return -1;
    long held = 0;
    rd_kafka_topic_partition_list_t *from = sq_cb_held(rk, topic, partitions, &held);
    double secs = 0;
    *msgs = 0;
    if (!from || held <= 0) {
        snprintf(err, errsz, "%s: no messages held (or watermarks unknown)", topic);
        secs = -1;
    }
    for (int r = 0; r < rounds && secs >= 0; r++) {
        double t = sq_cb_consume_round(rk, from, held, parse);
        if (t < 0) {
            snprintf(err, errsz, "%s: not every held message came back within 60 s", topic);
            secs = -1;
        } else {
            secs += t;
            *msgs += held;
        }
    }
    if (from)
        rd_kafka_topic_partition_list_destroy(from);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return secs > 0 ? (double)*msgs / secs : -1;
}

/* ---- the transport's latency ------------------------------------------- */

#define SQ_CB_LAT_MAX 400000

static double sq_cb_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sq_cb_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sq_cb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, sq_cb_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Latencies (seconds) of the messages received in [start + 1 s, end);
 * returns how many, at most max. */
static size_t sq_cb_collect_latency(rd_kafka_t *rk, double seconds, double *lat, size_t max)
{
    size_t n = 0;
    double start = sq_cb_now();
    while (sq_cb_now() - start < seconds) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 10);
        if (!rkm)
            continue;
        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
        if (!rkm->err && ts > 0 && sq_cb_now() - start >= 1 && n < max)
            lat[n++] = sq_cb_wall() - (double)ts / 1000.0;
        rd_kafka_message_destroy(rkm);
    }
    return n;
}

int sq_cb_consume_latency(const char *bootstrap, const char *topic, int partitions,
                          double seconds, double *p50, double *p99, char *err, size_t errsz)
{
    rd_kafka_t *rk = sq_cb_consumer_client(bootstrap, err, errsz);
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    double *lat = malloc(SQ_CB_LAT_MAX * sizeof *lat);
    size_t n = lat ? sq_cb_collect_latency(rk, seconds, lat, SQ_CB_LAT_MAX) : 0;
    int rc = 0;
    if (n < 100) {
        snprintf(err, errsz, "%s: only %zu messages came in %.0f s", topic, n, seconds);
        rc = -1;
    } else {
        qsort(lat, n, sizeof *lat, sq_cb_cmp_double);
        *p50 = lat[n / 2];
        *p99 = lat[n * 99 / 100];
    }
    free(lat);
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
