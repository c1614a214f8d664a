/* kafka.c: creation of sqgate's librdkafka clients and topic checks. The
 * `kafka:` settings are applied last, verbatim, so operators can set any
 * librdkafka property (security.protocol, sasl.*, ssl.*, timeouts). */
#include "kafka.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int sq_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                       struct sq_err *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s: %s", name, errstr);
    return SQ_OK;
}

/* Log librdkafka's own messages through ours. */
static void sq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sq_error("librdkafka %s: %s", fac, buf);
    else if (level <= 5)
        sq_warn("librdkafka %s: %s", fac, buf);
    else
        sq_debug("librdkafka %s: %s", fac, buf);
}

static rd_kafka_conf_t *sq_conf_base(const struct sq_settings *st, const char *const *defaults,
                                     struct sq_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_kafka_log_cb);
    if (sq_conf_set(conf, "bootstrap.servers", st->brokers, err))
        goto fail;
    for (const char *const *d = defaults; d[0]; d += 2)
        if (sq_conf_set(conf, d[0], d[1], err))
            goto fail;
    for (size_t i = 0; i < st->kafka_props_n; i++) {
        const char *name = st->kafka_props[i].name;
        /* Unknown-to-this-client properties (a consumer property on the
         * producer) are skipped with a debug line, not an error. */
        char errstr[512];
        rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, st->kafka_props[i].value, errstr,
                                                  sizeof errstr);
        if (r == RD_KAFKA_CONF_INVALID) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "kafka.%s: %s", name, errstr);
            goto fail;
        }
        if (r == RD_KAFKA_CONF_UNKNOWN) {
            sq_err_set(err, SQ_ERR_FATAL, "kafka", "kafka.%s: unknown librdkafka property", name);
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *sq_kafka_consumer_new(const struct sq_settings *st, const struct sq_kafka_callbacks *cb,
                                  struct sq_err *err)
{
    const char *defaults[] = {
        "group.id", st->group_id,
        "partition.assignment.strategy", "cooperative-sticky",
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        /* end-of-partition events tell a caught-up partition from a
         * stalled one (runtime.stall_s) */
        "enable.partition.eof", "true",
        /* the prefetch (one queue for every partition), which bounds what
         * a gateway catching up keeps fetched ahead. It must hold more
         * than a second of messages: librdkafka 2.0.2 stops fetching once
         * the queue is full and fetches again up to a second later,
         * however soon the queue drains (librdkafka issue 2879).
         * 4 MiB (~8,000 messages) ran dry first at ~12,000 events/s and
         * left the turns idle for up to a third of the time; 8 MiB holds
         * ~16,000 (docs/performance.md, "Since e0b6dbf") */
        "queued.max.messages.kbytes", "8192",
        "reconnect.backoff.ms", "100",
        "reconnect.backoff.max.ms", "2000",
        NULL, NULL,
    };
    rd_kafka_conf_t *conf = sq_conf_base(st, defaults, err);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_opaque(conf, cb->opaque);
    rd_kafka_conf_set_rebalance_cb(conf, cb->rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, cb->commit);
    rd_kafka_conf_set_error_cb(conf, cb->error);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees conf only on success */
        sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *sq_kafka_producer_new(const struct sq_settings *st, const struct sq_kafka_callbacks *cb,
                                  struct sq_err *err)
{
    const char *defaults[] = {
        "enable.idempotence", "true",
        "acks", "all",
        /* a turn enqueues all its outputs at once, so they batch without
         * lingering; each ms here is a ms of every turn's delivery wait */
        "linger.ms", "1",
        "message.timeout.ms", "30000",
        "queue.buffering.max.messages", "200000",
        "reconnect.backoff.ms", "100",
        "reconnect.backoff.max.ms", "2000",
        NULL, NULL,
    };
    /* The `kafka:` map is shared by both clients; consumer-only properties
     * would be warned about by the producer, so the producer gets only the
     * properties a producer accepts. */
    struct sq_settings pst = *st;
    struct sq_kafka_prop *props = sq_xcalloc(st->kafka_props_n + 1, sizeof *props);
    size_t n = 0;
    static const char *const consumer_only[] = {
        "group.", "session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy",
        "enable.auto.", "auto.commit.", "auto.offset.reset", "max.poll.interval.ms",
        "fetch.", "queued.", "isolation.level", "enable.partition.eof", "check.crcs",
        "coordinator.", NULL,
    };
    for (size_t i = 0; i < st->kafka_props_n; i++) {
        bool skip = false;
        for (const char *const *c = consumer_only; *c; c++)
            if (strncmp(st->kafka_props[i].name, *c, strlen(*c)) == 0)
                skip = true;
        if (!skip)
            props[n++] = st->kafka_props[i];
    }
    pst.kafka_props = props;
    pst.kafka_props_n = n;
    rd_kafka_conf_t *conf = sq_conf_base(&pst, defaults, err);
    free(props);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_opaque(conf, cb->opaque);
    rd_kafka_conf_set_dr_msg_cb(conf, cb->delivery);
    rd_kafka_conf_set_error_cb(conf, cb->error);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sq_err_set(err, SQ_ERR_FATAL, "kafka", "%s", errstr);
        return NULL;
    }
    return rk;
}

static bool sq_topic_exists(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && !md->topics[i].err)
            return true;
    return false;
}

int sq_kafka_check_topics(rd_kafka_t *rk, const struct sq_settings *st, struct sq_err *err)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 3; attempt++) {
        e = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
        if (!e)
            break;
    }
    if (e)
        return sq_err_set(err, SQ_ERR_FATAL, "brokers", "cannot read topic metadata from %s: %s",
                          st->brokers, rd_kafka_err2str(e));
    const char *names[SQ_MAX_INPUT_TOPICS + 5];
    size_t n = 0;
    for (size_t i = 0; i < st->inputs_n; i++)
        names[n++] = st->inputs[i].name;
    names[n++] = st->topic_scored;
    names[n++] = st->topic_breaches;
    names[n++] = st->topic_kpi;
    names[n++] = st->topic_alerts;
    names[n++] = st->topic_dlq;
    struct sq_buf missing;
    sq_buf_init(&missing);
    for (size_t i = 0; i < n; i++)
        if (names[i] && *names[i] && !sq_topic_exists(md, names[i]))
            sq_buf_appendf(&missing, "%s%s", missing.len ? ", " : "", names[i]);
    rd_kafka_metadata_destroy(md);
    int rc = SQ_OK;
    if (missing.len)
        rc = sq_err_set(err, SQ_ERR_FATAL, "topics",
                        "missing topics: %s (sqgate never creates topics; see docs/operations.md)",
                        missing.data);
    sq_buf_fini(&missing);
    return rc;
}

int sq_kafka_subscribe(rd_kafka_t *rk, const struct sq_settings *st, struct sq_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)st->inputs_n);
    for (size_t i = 0; i < st->inputs_n; i++)
        if (st->inputs[i].name && *st->inputs[i].name)
            rd_kafka_topic_partition_list_add(l, st->inputs[i].name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return sq_err_set(err, SQ_ERR_FATAL, "topics", "subscribe: %s", rd_kafka_err2str(e));
    return SQ_OK;
}

rd_kafka_resp_err_t sq_kafka_seek(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(rk, l, 5000);
    rd_kafka_resp_err_t err = l->elems[0].err; /* per partition, the call itself succeeding */
    if (error) {
        err = rd_kafka_error_code(error);
        sq_warn("seek %s/%d to %lld: %s", topic, (int)partition, (long long)offset,
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (err) {
        sq_warn("seek %s/%d to %lld: %s", topic, (int)partition, (long long)offset,
                rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

void sq_kafka_pause_one(rd_kafka_t *rk, const char *topic, int32_t partition, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    if (pause)
        rd_kafka_pause_partitions(rk, l);
    else
        rd_kafka_resume_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}
