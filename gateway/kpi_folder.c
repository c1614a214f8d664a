/* kpi_folder.c: the KPI journal's fold thread (kpi_folder.h). The main
 * thread starts a fold and later collects its outcome; the thread touches
 * nothing but its own connection and the fold's outcome. */
#include "kpi_folder.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpi_journal.h"
#include "metrics.h"

enum sq_fold_state { SQ_FOLD_IDLE, SQ_FOLD_QUEUED, SQ_FOLD_RUNNING, SQ_FOLD_DONE };

struct sq_kpi_folder {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* state changed, or stop */
    struct sq_redis *redis;
    bool stop;
    enum sq_fold_state state;
    int rc;
    bool more;
    size_t bad;
    struct sq_err err;
};

static void *sq_kpi_folder_main(void *arg)
{
    struct sq_kpi_folder *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && f->state != SQ_FOLD_QUEUED)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->state != SQ_FOLD_QUEUED)
            break; /* stop, no fold waiting */
        f->state = SQ_FOLD_RUNNING;
        pthread_mutex_unlock(&f->mu);
        struct sq_err err;
        sq_err_clear(&err);
        size_t folded = 0, bad = 0, left = 0;
        int rc = sq_kpi_journal_fold(f->redis, 0, &folded, &bad, &left, &err);
        sq_metrics_inc(SQ_M_KPI_FOLDED, folded);
        pthread_mutex_lock(&f->mu);
        f->rc = rc;
        f->err = err;
        /* a full fold may have left entries behind; a step's entry that
         * came during the fold waits for the next one */
        f->more = rc == SQ_OK && folded >= SQ_KPI_JOURNAL_FOLD_MAX && left > 0;
        f->bad = bad;
        f->state = SQ_FOLD_DONE;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct sq_kpi_folder *sq_kpi_folder_new(struct sq_redis *redis, struct sq_err *err)
{
    struct sq_kpi_folder *f = sq_xcalloc(1, sizeof *f);
    f->redis = redis;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int e = pthread_create(&f->thread, NULL, sq_kpi_folder_main, f);
    if (e) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot start the KPI journal thread: %s",
                   strerror(e));
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        sq_redis_free(redis);
        free(f);
        return NULL;
    }
    return f;
}

void sq_kpi_folder_free(struct sq_kpi_folder *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    if (f->state == SQ_FOLD_QUEUED)
        f->state = SQ_FOLD_IDLE; /* never started: nothing was sent */
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    sq_redis_free(f->redis);
    free(f);
}

bool sq_kpi_folder_start(struct sq_kpi_folder *f)
{
    pthread_mutex_lock(&f->mu);
    bool ok = f->state == SQ_FOLD_IDLE && !f->stop;
    if (ok) {
        f->state = SQ_FOLD_QUEUED;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool sq_kpi_folder_collect(struct sq_kpi_folder *f, int wait_ms, int *rc, bool *more,
                           size_t *bad, struct sq_err *err)
{
    pthread_mutex_lock(&f->mu);
    if (f->state != SQ_FOLD_DONE && f->state != SQ_FOLD_IDLE && wait_ms > 0) {
        struct timespec until = sq_deadline_in_ms(wait_ms);
        while (f->state != SQ_FOLD_DONE &&
               pthread_cond_timedwait(&f->cv, &f->mu, &until) != ETIMEDOUT)
            ;
    }
    bool done = f->state == SQ_FOLD_DONE;
    if (done) {
        *rc = f->rc;
        *more = f->more;
        *bad = f->bad;
        *err = f->err;
        f->state = SQ_FOLD_IDLE;
    }
    pthread_mutex_unlock(&f->mu);
    return done;
}
