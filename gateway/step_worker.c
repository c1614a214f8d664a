/* step_worker.c: the thread that runs Redis partition steps (see
 * step_worker.h). The main thread submits a job and later collects its
 * outcome; the thread touches nothing but the job's steps and its own
 * connection. */
#include "step_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faults.h"

enum sq_job_state { SQ_JOB_NONE, SQ_JOB_QUEUED, SQ_JOB_RUNNING, SQ_JOB_DONE };

struct sq_step_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* job state changed, or stop */
    struct sq_redis *redis;
    bool stop;
    enum sq_job_state state;
    struct sq_redis_step *steps;
    size_t n;
    const struct sq_state_ops *sums;
    void (*prepare)(void *arg);
    void *prepare_arg;
    int rc;
    struct sq_err err;
};

static void *sq_step_worker_main(void *arg)
{
    struct sq_step_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->state != SQ_JOB_QUEUED)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->state != SQ_JOB_QUEUED)
            break; /* stop, no job waiting */
        w->state = SQ_JOB_RUNNING;
        struct sq_redis_step *steps = w->steps;
        size_t n = w->n;
        const struct sq_state_ops *sums = w->sums;
        void (*prepare)(void *) = w->prepare;
        void *prepare_arg = w->prepare_arg;
        pthread_mutex_unlock(&w->mu);
        if (prepare)
            prepare(prepare_arg);
        struct sq_err err;
        sq_err_clear(&err);
        int rc = sq_redis_run_steps(w->redis, steps, n, sums, &err);
        if (rc == SQ_OK)
            SQ_FAULT_HOLD("hold_step_reply");
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->err = err;
        w->state = SQ_JOB_DONE;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct sq_step_worker *sq_step_worker_new(struct sq_redis *redis, struct sq_err *err)
{
    struct sq_step_worker *w = sq_xcalloc(1, sizeof *w);
    w->redis = redis;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int e = pthread_create(&w->thread, NULL, sq_step_worker_main, w);
    if (e) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot start the Redis step thread: %s", strerror(e));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        sq_redis_free(redis);
        free(w);
        return NULL;
    }
    return w;
}

void sq_step_worker_free(struct sq_step_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    if (w->state == SQ_JOB_QUEUED)
        w->state = SQ_JOB_NONE; /* never started: nothing was sent */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    sq_redis_free(w->redis);
    free(w);
}

bool sq_step_worker_submit(struct sq_step_worker *w, struct sq_redis_step *steps, size_t n,
                           const struct sq_state_ops *sums, void (*prepare)(void *arg),
                           void *arg)
{
    pthread_mutex_lock(&w->mu);
    bool ok = w->state == SQ_JOB_NONE && !w->stop;
    if (ok) {
        w->steps = steps;
        w->n = n;
        w->sums = sums;
        w->prepare = prepare;
        w->prepare_arg = arg;
        w->state = SQ_JOB_QUEUED;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

bool sq_step_worker_collect(struct sq_step_worker *w, int wait_ms, int *rc, struct sq_err *err)
{
    pthread_mutex_lock(&w->mu);
    if (w->state != SQ_JOB_DONE && wait_ms > 0) {
        struct timespec until = sq_deadline_in_ms(wait_ms);
        while (w->state != SQ_JOB_DONE &&
               pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
            ;
    }
    bool done = w->state == SQ_JOB_DONE;
    if (done) {
        *rc = w->rc;
        *err = w->err;
        w->state = SQ_JOB_NONE;
        w->steps = NULL;
        w->n = 0;
        w->sums = NULL;
        w->prepare = NULL;
        w->prepare_arg = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    return done;
}
