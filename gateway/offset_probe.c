/* offset_probe.c: the broker queries of offset_probe.h on a thread of their
 * own: one request at a time, each query bounded, stop checked between
 * queries. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "offset_probe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Bound of one query; a stop waits at most this long. */
#define SQ_PROBE_QUERY_MS 1000

struct sq_offset_probe {
    rd_kafka_t *rk;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool has_job;   /* submitted, not yet collected */
    bool job_done;
    rd_kafka_topic_partition_list_t *wm, *committed; /* the job (owned) */
    struct sq_probe_answer *answers;
    size_t nanswers;
};

static bool sq_probe_stopping(struct sq_offset_probe *pr)
{
    pthread_mutex_lock(&pr->mu);
    bool stop = pr->stop;
    pthread_mutex_unlock(&pr->mu);
    return stop;
}

/* The answer of a partition; with a topic name that outlives the job (one
 * of the job's lists), added when absent, else NULL when absent. */
static struct sq_probe_answer *sq_probe_answer_of(struct sq_offset_probe *pr,
                                                  const char *topic, int32_t partition,
                                                  bool add)
{
    for (size_t i = 0; i < pr->nanswers; i++)
        if (pr->answers[i].partition == partition && strcmp(pr->answers[i].topic, topic) == 0)
            return &pr->answers[i];
    if (!add)
        return NULL;
    struct sq_probe_answer *a = &pr->answers[pr->nanswers++];
    a->topic = topic;
    a->partition = partition;
    a->lo = a->hi = a->committed = -1;
    return a;
}

/* Both watermarks of every partition of wm in two ListOffsets requests;
 * false when a request failed as a whole. */
static bool sq_probe_ask_batch(struct sq_offset_probe *pr,
                               const rd_kafka_topic_partition_list_t *wm)
{
    int64_t *lo = sq_xcalloc((size_t)wm->cnt, sizeof *lo);
    bool ok = true;
    for (int pass = 0; ok && pass < 2 && !sq_probe_stopping(pr); pass++) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(wm);
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = pass == 0 ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        ok = rd_kafka_offsets_for_times(pr->rk, l, SQ_PROBE_QUERY_MS) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; ok && i < l->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &l->elems[i];
            int64_t off = tp->err ? -1 : tp->offset;
            if (pass == 0) {
                lo[i] = off;
                continue;
            }
            /* the list comes back in the order asked */
            struct sq_probe_answer *a = sq_probe_answer_of(pr, tp->topic, tp->partition, false);
            if (a && lo[i] >= 0 && off >= 0) {
                a->lo = lo[i];
                a->hi = off;
            }
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    free(lo);
    return ok;
}

/* Runs the job; answers borrow topic names from the job's lists. */
static void sq_probe_run(struct sq_offset_probe *pr)
{
    size_t cap = (size_t)(pr->wm ? pr->wm->cnt : 0) +
                 (size_t)(pr->committed ? pr->committed->cnt : 0);
    pr->answers = sq_xcalloc(cap ? cap : 1, sizeof *pr->answers);
    pr->nanswers = 0;
    /* ListOffsets for every partition at once: timestamp -2 asks for the
     * earliest offset, -1 for the latest (the high watermark). One
     * rd_kafka_query_watermark_offsets per partition would wait for each
     * in turn (~0.5 s on the mock cluster). librdkafka fails the whole
     * call when one partition has no leader: then each is asked alone. */
    for (int i = 0; pr->wm && i < pr->wm->cnt; i++) /* names borrowed from the job */
        sq_probe_answer_of(pr, pr->wm->elems[i].topic, pr->wm->elems[i].partition, true);
    if (pr->wm && !sq_probe_ask_batch(pr, pr->wm))
        for (int i = 0; i < pr->wm->cnt && !sq_probe_stopping(pr); i++) {
            rd_kafka_topic_partition_t *tp = &pr->wm->elems[i];
            int64_t lo = -1, hi = -1;
            if (rd_kafka_query_watermark_offsets(pr->rk, tp->topic, tp->partition, &lo, &hi,
                                                 SQ_PROBE_QUERY_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                lo >= 0 && hi >= 0) {
                struct sq_probe_answer *a =
                    sq_probe_answer_of(pr, tp->topic, tp->partition, false);
                a->lo = lo;
                a->hi = hi;
            }
        }
    rd_kafka_resp_err_t cerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (pr->committed && pr->committed->cnt && !sq_probe_stopping(pr))
        cerr = rd_kafka_committed(pr->rk, pr->committed, SQ_PROBE_QUERY_MS);
    if (pr->committed && pr->committed->cnt && !cerr) {
        for (int i = 0; i < pr->committed->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &pr->committed->elems[i];
            if (tp->err)
                continue;
            sq_probe_answer_of(pr, tp->topic, tp->partition, true)->committed =
                tp->offset >= 0 ? tp->offset : SQ_PROBE_NO_COMMIT;
        }
    }
}

static void *sq_probe_main(void *arg)
{
    struct sq_offset_probe *pr = arg;
    pthread_mutex_lock(&pr->mu);
    for (;;) {
        while (!pr->stop && !(pr->has_job && !pr->job_done))
            pthread_cond_wait(&pr->cv, &pr->mu);
        if (pr->stop)
            break;
        pthread_mutex_unlock(&pr->mu);
        sq_probe_run(pr);
        pthread_mutex_lock(&pr->mu);
        pr->job_done = true;
    }
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

struct sq_offset_probe *sq_offset_probe_new(rd_kafka_t *rk, struct sq_err *err)
{
    struct sq_offset_probe *pr = sq_xcalloc(1, sizeof *pr);
    pr->rk = rk;
    pthread_mutex_init(&pr->mu, NULL);
    pthread_cond_init(&pr->cv, NULL);
    if (pthread_create(&pr->thread, NULL, sq_probe_main, pr) != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot start the offset probe thread");
        pthread_mutex_destroy(&pr->mu);
        pthread_cond_destroy(&pr->cv);
        free(pr);
        return NULL;
    }
    pthread_setname_np(pr->thread, "sq offset probe");
    return pr;
}

static void sq_probe_clear_job(struct sq_offset_probe *pr)
{
    if (pr->wm)
        rd_kafka_topic_partition_list_destroy(pr->wm);
    if (pr->committed)
        rd_kafka_topic_partition_list_destroy(pr->committed);
    free(pr->answers);
    pr->wm = pr->committed = NULL;
    pr->answers = NULL;
    pr->nanswers = 0;
    pr->has_job = pr->job_done = false;
}

void sq_offset_probe_free(struct sq_offset_probe *pr)
{
    if (!pr)
        return;
    pthread_mutex_lock(&pr->mu);
    pr->stop = true;
    pthread_cond_signal(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    pthread_join(pr->thread, NULL);
    sq_probe_clear_job(pr);
    pthread_mutex_destroy(&pr->mu);
    pthread_cond_destroy(&pr->cv);
    free(pr);
}

bool sq_offset_probe_submit(struct sq_offset_probe *pr,
                            const rd_kafka_topic_partition_list_t *watermarks,
                            const rd_kafka_topic_partition_list_t *committed)
{
    pthread_mutex_lock(&pr->mu);
    bool free_now = !pr->has_job;
    if (free_now) {
        pr->wm = watermarks && watermarks->cnt ? rd_kafka_topic_partition_list_copy(watermarks)
                                               : NULL;
        pr->committed = committed && committed->cnt
                            ? rd_kafka_topic_partition_list_copy(committed)
                            : NULL;
        pr->has_job = pr->wm || pr->committed;
        pr->job_done = false;
        pthread_cond_signal(&pr->cv);
    }
    pthread_mutex_unlock(&pr->mu);
    return free_now;
}

bool sq_offset_probe_collect(struct sq_offset_probe *pr,
                             void (*fn)(const struct sq_probe_answer *a, void *arg), void *arg)
{
    pthread_mutex_lock(&pr->mu);
    bool done = pr->has_job && pr->job_done;
    pthread_mutex_unlock(&pr->mu);
    if (!done)
        return false;
    for (size_t i = 0; i < pr->nanswers; i++)
        fn(&pr->answers[i], arg);
    pthread_mutex_lock(&pr->mu);
    sq_probe_clear_job(pr);
    pthread_mutex_unlock(&pr->mu);
    return true;
}
