/* read_worker.c: the thread that runs the chain's reads (see read_worker.h),
 * a job thread (job_thread.h) with its own connection. The thread touches
 * nothing but the job's reads and its own connection. */
#include "read_worker.h"

#include <stdlib.h>

#include "faults.h"
#include "job_thread.h"

struct sq_read_worker {
    struct sq_job_thread *thread;
    struct sq_redis *redis;
    /* the job: filled while the thread is idle, then its outcome */
    struct sq_store_reads *reads;
    int rc;
    struct sq_err err;
};

static void sq_read_worker_job(void *arg)
{
    struct sq_read_worker *w = arg;
    sq_err_clear(&w->err);
    w->rc = sq_redis_read_fields(w->redis, w->reads, &w->err);
    if (w->rc == SQ_OK)
        SQ_FAULT_HOLD("hold_chain_read");
}

struct sq_read_worker *sq_read_worker_new(struct sq_redis *redis, struct sq_wake *wake,
                                          struct sq_err *err)
{
    struct sq_job_thread *t = sq_job_thread_new("Redis read", wake, err);
    if (!t) {
        sq_redis_free(redis);
        return NULL;
    }
    struct sq_read_worker *w = sq_xcalloc(1, sizeof *w);
    w->thread = t;
    w->redis = redis;
    return w;
}

void sq_read_worker_free(struct sq_read_worker *w)
{
    if (!w)
        return;
    sq_job_thread_free(w->thread);
    sq_redis_free(w->redis);
    free(w);
}

bool sq_read_worker_submit(struct sq_read_worker *w, struct sq_store_reads *reads)
{
    if (!sq_job_thread_idle(w->thread))
        return false;
    w->reads = reads;
    return sq_job_thread_submit(w->thread, sq_read_worker_job, w);
}

bool sq_read_worker_collect(struct sq_read_worker *w, int wait_ms, int *rc, struct sq_err *err)
{
    if (!sq_job_thread_collect(w->thread, wait_ms))
        return false;
    *rc = w->rc;
    *err = w->err;
    w->reads = NULL;
    return true;
}
