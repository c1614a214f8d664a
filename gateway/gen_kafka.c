/* gen_kafka.c: the generator's Kafka side: an idempotent producer for
 * `sqgate gen --brokers` and `sqgate demo`, a check that the topics it will
 * write exist (sqgate never creates topics, nor does gen), and the paced
 * production loop with its delivery counters. */
#include "gen_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "log.h"

static void sq_gen_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sq_error("gen: librdkafka %s: %s", fac, buf);
    else if (level <= 4)
        sq_warn("gen: librdkafka %s: %s", fac, buf);
    else
        sq_debug("gen: librdkafka %s: %s", fac, buf);
}

/* Delivery reports: the message opaque is kind * SQ_GEN__TOPICS + topic. */
static void sq_gen_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct sq_gen_stats *stats = opaque;
    intptr_t tag = (intptr_t)rkm->_private;
    int topic = (int)(tag % SQ_GEN__TOPICS), kind = (int)(tag / SQ_GEN__TOPICS);
    if (rkm->err) {
        atomic_fetch_add(&stats->failed, 1);
        return;
    }
    atomic_fetch_add(&stats->delivered, 1);
    if (kind >= 0 && kind < SQ_GEN__KINDS)
        atomic_fetch_add(&stats->delivered_kind[kind], 1);
    if (topic >= 0 && topic < SQ_GEN__TOPICS)
        atomic_fetch_add(&stats->delivered_topic[topic], 1);
}

static rd_kafka_t *sq_gen_producer_new(const struct sq_gen_target *tgt, struct sq_gen_stats *stats,
                                       struct sq_err *err)
{
    static const char *const defaults[] = {
        "enable.idempotence", "true", /* no duplicates of our own making */
        "acks", "all",
        "linger.ms", "5",
        "message.timeout.ms", "30000",
        "queue.buffering.max.messages", "200000",
        "message.max.bytes", "2000000",
        "reconnect.backoff.ms", "100",
        "reconnect.backoff.max.ms", "2000",
        NULL, NULL,
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_gen_log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", tgt->brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        sq_err_set(err, SQ_ERR_FATAL, "brokers", "%s", errstr);
        goto fail;
    }
    for (const char *const *d = defaults; d[0]; d += 2)
        if (rd_kafka_conf_set(conf, d[0], d[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s: %s", d[0], errstr);
            goto fail;
        }
    for (size_t i = 0; i < tgt->props_n; i++) {
        const char *name = tgt->props[i].name;
        /* Consumer properties of the shared `kafka:` settings do not apply. */
        if (strncmp(name, "group.", 6) == 0 || strcmp(name, "session.timeout.ms") == 0 ||
            strcmp(name, "heartbeat.interval.ms") == 0 ||
            strcmp(name, "partition.assignment.strategy") == 0 ||
            strncmp(name, "enable.auto.", 12) == 0 || strncmp(name, "auto.", 5) == 0 ||
            strncmp(name, "fetch.", 6) == 0 || strncmp(name, "queued.", 7) == 0 ||
            strcmp(name, "max.poll.interval.ms") == 0 || strcmp(name, "isolation.level") == 0 ||
            strcmp(name, "enable.partition.eof") == 0)
            continue;
        if (rd_kafka_conf_set(conf, name, tgt->props[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "kafka.%s: %s", name, errstr);
            goto fail;
        }
    }
    rd_kafka_conf_set_opaque(conf, stats);
    rd_kafka_conf_set_dr_msg_cb(conf, sq_gen_dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s", errstr);
        goto fail; /* rd_kafka_new takes conf only on success */
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Checks that the topics g writes to exist. */
static int sq_gen_check_topics(rd_kafka_t *rk, const struct sq_gen *g, const char *const *names,
                               struct sq_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e)
        return sq_err_set(err, SQ_ERR_FATAL, "brokers", "cannot read the cluster metadata: %s",
                          rd_kafka_err2str(e));
    char missing[512] = "";
    size_t off = 0;
    for (int i = 0; i < SQ_GEN__TOPICS; i++) {
        if (!sq_gen_topic_used(g, i))
            continue;
        bool found = false;
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, names[i]) == 0 && !md->topics[t].err)
                found = true;
        if (!found && off < sizeof missing)
            off += (size_t)snprintf(missing + off, sizeof missing - off, "%s%s", off ? ", " : "",
                                    names[i]);
    }
    rd_kafka_metadata_destroy(md);
    if (off)
        return sq_err_set(err, SQ_ERR_FATAL, "topics", "missing topic(s): %s", missing);
    return SQ_OK;
}

/* How many messages the pacing allows by `el` ms of wall time, for a
 * constant rate: a token bucket; with the daily profile: whether the next
 * message's event time is due, event time running `speed` times as fast
 * as wall time. */
struct sq_gen_pace {
    bool daily;
    double rate, speed;
    int64_t start_ms;
};

static bool sq_gen_pace_allows(const struct sq_gen_pace *p, const struct sq_gen *g,
                               uint64_t sent, int64_t el)
{
    if (p->daily)
        return (double)(sq_gen_clock_ms(g) - p->start_ms) <= (double)el * p->speed;
    return sent < (uint64_t)(p->rate * (double)el / 1000.0);
}

/* Waits for the delivery reports, bounded; purges what is left. Returns
 * the number of messages not confirmed. */
static int sq_gen_flush(rd_kafka_t *rk, int flush_ms)
{
    int64_t deadline = sq_mono_ms() + flush_ms;
    while (rd_kafka_outq_len(rk) > 0 && sq_mono_ms() < deadline)
        rd_kafka_flush(rk, 100);
    int left = rd_kafka_outq_len(rk);
    if (left > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk, 0); /* the purged messages report as failed */
    }
    return left;
}

int sq_gen_produce(struct sq_gen *g, const struct sq_gen_target *tgt, double rate, int64_t count,
                   double seconds, int flush_ms, volatile sig_atomic_t *stop,
                   struct sq_gen_stats *stats, struct sq_err *err)
{
    const char *names[SQ_GEN__TOPICS];
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        names[i] = tgt->topics[i] ? tgt->topics[i] : sq_gen_topic_name(i);
    rd_kafka_t *rk = sq_gen_producer_new(tgt, stats, err);
    if (!rk) {
        atomic_store(&stats->done, 1);
        return err->kind;
    }
    int rc = sq_gen_check_topics(rk, g, names, err);
    if (rc != SQ_OK) {
        rd_kafka_destroy(rk);
        atomic_store(&stats->done, 1);
        return rc;
    }
    const struct sq_gen_opts *o = sq_gen_options(g);
    struct sq_gen_pace pace = {o->daily, rate, rate / o->rate, o->start_ms};
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    int64_t t0 = sq_mono_ms();
    uint64_t sent = 0;
    bool have = false; /* a message generated but not yet accepted */
    const char *topic = NULL;
    int kind = 0;
    while (!*stop && (count < 0 || sent < (uint64_t)count)) {
        int64_t el = sq_mono_ms() - t0;
        if (seconds > 0 && el >= (int64_t)(seconds * 1000))
            break;
        /* Everything due by now, in a slice every 10 ms. */
        while (!*stop && (count < 0 || sent < (uint64_t)count)) {
            if (!pace.daily && !sq_gen_pace_allows(&pace, g, sent, el))
                break;
            if (!have) {
                kind = sq_gen_next(g, &topic, &key, &value);
                have = true;
            }
            if (pace.daily && !sq_gen_pace_allows(&pace, g, sent, el))
                break;
            int ti = sq_gen_topic_index(topic);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(names[ti]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key.data, key.len), RD_KAFKA_V_VALUE(value.data, value.len),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)(kind * SQ_GEN__TOPICS + ti)),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                break; /* try again in the next slice */
            }
            have = false;
            sent++;
            if (e) {
                atomic_fetch_add(&stats->failed, 1);
                sq_err_set(err, SQ_ERR_FATAL, "kafka", "produce to %s: %s", names[ti],
                           rd_kafka_err2str(e));
                continue;
            }
            atomic_fetch_add(&stats->queued, 1);
        }
        rd_kafka_poll(rk, 10);
    }
    int left = sq_gen_flush(rk, flush_ms);
    rd_kafka_destroy(rk);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    uint64_t failed = atomic_load(&stats->failed);
    atomic_store(&stats->done, 1);
    if (left > 0)
        return sq_err_set(err, SQ_ERR_FATAL, "kafka",
                          "%d message(s) not confirmed within %d ms (%" PRIu64 " failed)", left,
                          flush_ms, failed);
    if (failed)
        return sq_err_set(err, SQ_ERR_FATAL, "kafka", "%" PRIu64 " message(s) not delivered",
                          failed);
    return SQ_OK;
}
