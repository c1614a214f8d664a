/* step_worker.c: the thread that runs Redis partition steps (see
 * step_worker.h), a job thread (job_thread.h) with its own connection. The
 * main thread submits a job and later collects its outcome; the thread
 * touches nothing but the job's steps and its own connection. */
#include "step_worker.h"

#include <stdlib.h>

#include "faults.h"
#include "job_thread.h"

struct sq_step_worker {
    struct sq_job_thread *thread;
    struct sq_redis *redis;
    /* the job: filled while the thread is idle, read by it, then its outcome */
    struct sq_redis_step *steps;
    size_t n;
    const struct sq_state_ops *sums;
    void (*prepare)(void *arg);
    void *prepare_arg;
    int rc;
    struct sq_err err;
};

static void sq_step_worker_job(void *arg)
{
    struct sq_step_worker *w = arg;
    if (w->prepare)
        w->prepare(w->prepare_arg);
    sq_err_clear(&w->err);
    w->rc = sq_redis_run_steps(w->redis, w->steps, w->n, w->sums, &w->err);
    if (w->rc == SQ_OK)
        SQ_FAULT_HOLD("hold_step_reply");
}

struct sq_step_worker *sq_step_worker_new(struct sq_redis *redis, struct sq_wake *wake,
                                          struct sq_err *err)
{
    struct sq_job_thread *t = sq_job_thread_new("Redis step", wake, err);
    if (!t) {
        sq_redis_free(redis);
        return NULL;
    }
    struct sq_step_worker *w = sq_xcalloc(1, sizeof *w);
    w->thread = t;
    w->redis = redis;
    return w;
}

void sq_step_worker_free(struct sq_step_worker *w)
{
    if (!w)
        return;
    sq_job_thread_free(w->thread);
    sq_redis_free(w->redis);
    free(w);
}

bool sq_step_worker_submit(struct sq_step_worker *w, struct sq_redis_step *steps, size_t n,
                           const struct sq_state_ops *sums, void (*prepare)(void *arg),
                           void *arg)
{
    if (!sq_job_thread_idle(w->thread))
        return false;
    w->steps = steps;
    w->n = n;
    w->sums = sums;
    w->prepare = prepare;
    w->prepare_arg = arg;
    return sq_job_thread_submit(w->thread, sq_step_worker_job, w);
}

bool sq_step_worker_collect(struct sq_step_worker *w, int wait_ms, int *rc, struct sq_err *err)
{
    if (!sq_job_thread_collect(w->thread, wait_ms))
        return false;
    *rc = w->rc;
    *err = w->err;
    w->steps = NULL;
    w->n = 0;
    w->sums = NULL;
    w->prepare = NULL;
    w->prepare_arg = NULL;
    return true;
}
