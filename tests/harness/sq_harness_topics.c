/* sq_harness_topics.c: the harness's Kafka reader (see sq_harness.h): every
 * record of a topic, and its watermarks, read with a plain assign()ed
 * consumer that never commits, so integration tests can assert on what
 * sqgate or kcat wrote. */
#include "sq_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "sq_common.h"

/* A consumer for reading and watermark queries: it never joins its group
 * (assign only) and never commits. */
static rd_kafka_t *sq_h_consumer_new(const char *bootstrap)
{
    static const char *const props[][2] = {
        {"group.id", "sq-harness-reader"},   /* assign needs one; never committed */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"fetch.wait.max.ms", "50"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "500"},
        {"log_level", "4"},
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        goto bad;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
            goto bad;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        goto bad;   /* conf is still ours on failure */
    return rk;
bad:
    fprintf(stderr, "sq-harness: kafka consumer: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Partition count of topic, -1 when it does not exist or on timeout. */
static int sq_h_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int cnt = -1;

    if (rkt == NULL)
        return -1;
    err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "sq-harness: metadata of %s: %s\n", topic, rd_kafka_err2str(err));
    } else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "sq-harness: topic %s: %s\n", topic,
                md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
    } else {
        cnt = md->topics[0].partition_cnt;
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return cnt;
}

/* Per-partition watermarks into lo/hi (arrays of cnt). */
static int sq_h_query_wmarks(rd_kafka_t *rk, const char *topic, int cnt, int64_t *lo,
                             int64_t *hi, int timeout_ms)
{
    for (int p = 0; p < cnt; p++) {
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo[p], &hi[p], timeout_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "sq-harness: watermarks of %s [%d]: %s\n", topic, p,
                    rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

/* sq_h_topic_watermarks on a client the caller keeps. */
static int sq_h_topic_watermarks_on(rd_kafka_t *rk, const char *topic, int64_t *low_sum,
                                    int64_t *high_sum)
{
    int cnt, rc = -1;

    *low_sum = *high_sum = -1;
    cnt = sq_h_partition_count(rk, topic, 10000);
    if (cnt > 0) {
        int64_t *lo = sq_xcalloc((size_t)cnt, sizeof(*lo));
        int64_t *hi = sq_xcalloc((size_t)cnt, sizeof(*hi));
        if (sq_h_query_wmarks(rk, topic, cnt, lo, hi, 10000) == 0) {
            *low_sum = *high_sum = 0;
            for (int p = 0; p < cnt; p++) {
                *low_sum += lo[p];
                *high_sum += hi[p];
            }
            rc = 0;
        }
        free(lo);
        free(hi);
    }
    return rc;
}

int sq_h_topic_watermarks(const char *bootstrap, const char *topic, int64_t *low_sum,
                          int64_t *high_sum)
{
    rd_kafka_t *rk = sq_h_consumer_new(bootstrap);

    if (rk == NULL) {
        *low_sum = *high_sum = -1;
        return -1;
    }
    int rc = sq_h_topic_watermarks_on(rk, topic, low_sum, high_sum);
    rd_kafka_destroy(rk);
    return rc;
}

struct sq_h_counter {
    rd_kafka_t *rk;
};

struct sq_h_counter *sq_h_counter_new(const char *bootstrap)
{
    rd_kafka_t *rk = sq_h_consumer_new(bootstrap);
    if (rk == NULL)
        return NULL;
    struct sq_h_counter *c = sq_xcalloc(1, sizeof(*c));
    c->rk = rk;
    return c;
}

int64_t sq_h_counter_count(struct sq_h_counter *c, const char *topic)
{
    int64_t lo, hi;

    return sq_h_topic_watermarks_on(c->rk, topic, &lo, &hi) == 0 ? hi : -1;
}

void sq_h_counter_free(struct sq_h_counter *c)
{
    if (c == NULL)
        return;
    rd_kafka_destroy(c->rk);
    free(c);
}

int64_t sq_h_topic_count(const char *bootstrap, const char *topic)
{
    struct sq_h_counter *c = sq_h_counter_new(bootstrap);
    int64_t n = c ? sq_h_counter_count(c, topic) : -1;

    sq_h_counter_free(c);
    return n;
}

static void sq_h_record_fill(struct sq_h_record *rec, const rd_kafka_message_t *rkm)
{
    rd_kafka_headers_t *hdrs = NULL;

    memset(rec, 0, sizeof(*rec));
    if (rkm->key != NULL) {
        rec->key = sq_xstrndup(rkm->key, rkm->key_len);
        rec->key_len = rkm->key_len;
    }
    if (rkm->payload != NULL) {
        rec->value = sq_xstrndup(rkm->payload, rkm->len);
        rec->value_len = rkm->len;
    }
    rec->partition = rkm->partition;
    rec->offset = rkm->offset;
    rec->headers = json_object();
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            /* nocheck: header bytes are kept as they are, valid UTF-8 or not */
            json_object_set_new(rec->headers, name,
                                val ? json_stringn_nocheck(val, size) : json_null());
        }
    }
}

static int sq_h_record_cmp(const void *a, const void *b)
{
    const struct sq_h_record *x = a, *y = b;

    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int sq_h_topic_read_all(const char *bootstrap, const char *topic, struct sq_h_records *out,
                        int timeout_ms)
{
    int64_t deadline = sq_mono_ms() + timeout_ms;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *parts;
    int64_t *lo = NULL, *hi = NULL, *next = NULL;
    size_t cap = 0;
    int cnt, left = 0, rc = -1;
    rd_kafka_resp_err_t aerr, last_err = RD_KAFKA_RESP_ERR_NO_ERROR;

    out->v = NULL;
    out->n = 0;
    rk = sq_h_consumer_new(bootstrap);
    if (rk == NULL)
        return -1;
    cnt = sq_h_partition_count(rk, topic, timeout_ms);
    if (cnt <= 0)
        goto done;
    lo = sq_xcalloc((size_t)cnt, sizeof(*lo));
    hi = sq_xcalloc((size_t)cnt, sizeof(*hi));
    next = sq_xcalloc((size_t)cnt, sizeof(*next));
    if (sq_h_query_wmarks(rk, topic, cnt, lo, hi, timeout_ms) != 0)
        goto done;

    parts = rd_kafka_topic_partition_list_new(cnt);
    for (int p = 0; p < cnt; p++) {
        next[p] = lo[p];
        if (hi[p] > lo[p]) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo[p];
            left++;
        }
    }
    if (left > 0 && (aerr = rd_kafka_assign(rk, parts)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "sq-harness: assign %s: %s\n", topic, rd_kafka_err2str(aerr));
        rd_kafka_topic_partition_list_destroy(parts);
        goto done;
    }
    rd_kafka_topic_partition_list_destroy(parts);

    while (left > 0 && sq_mono_ms() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
        int32_t p;

        if (rkm == NULL)
            continue;
        p = rkm->partition;
        if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (rkm->err != last_err)   /* transient ones repeat: say it once */
                fprintf(stderr, "sq-harness: reading %s: %s\n", topic,
                        rd_kafka_message_errstr(rkm));
            last_err = rkm->err;
        } else if (p >= 0 && p < cnt && rkm->offset >= next[p] && rkm->offset < hi[p]) {
            if (out->n == cap) {
                cap = cap ? cap * 2 : 256;
                out->v = sq_xrealloc(out->v, cap * sizeof(*out->v));
            }
            sq_h_record_fill(&out->v[out->n++], rkm);
            next[p] = rkm->offset + 1;
            if (next[p] >= hi[p])
                left--;
        }
        rd_kafka_message_destroy(rkm);
    }
    if (left == 0) {
        rc = 0;
    } else {
        fprintf(stderr, "sq-harness: read %zu records of %s, %d partitions unfinished "
                        "after %d ms\n", out->n, topic, left, timeout_ms);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), sq_h_record_cmp);

done:
    free(lo);
    free(hi);
    free(next);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

void sq_h_records_fini(struct sq_h_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].value);
        json_decref(r->v[i].headers);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

