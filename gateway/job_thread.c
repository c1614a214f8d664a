/* job_thread.c: the one-job-at-a-time thread (job_thread.h). The thread
 * touches nothing but the job it was handed. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "job_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wake.h"

enum sq_job_state { SQ_JOB_NONE, SQ_JOB_QUEUED, SQ_JOB_RUNNING, SQ_JOB_DONE };

struct sq_job_thread {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* job state changed, or stop */
    bool stop;
    enum sq_job_state state;
    void (*run)(void *arg);
    void *arg;
    struct sq_wake *wake;        /* signalled when a job ends, or NULL */
};

static void *sq_job_thread_main(void *arg)
{
    struct sq_job_thread *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->stop && t->state != SQ_JOB_QUEUED)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->state != SQ_JOB_QUEUED)
            break; /* stop, no job waiting */
        t->state = SQ_JOB_RUNNING;
        void (*run)(void *) = t->run;
        void *job = t->arg;
        pthread_mutex_unlock(&t->mu);
        run(job);
        pthread_mutex_lock(&t->mu);
        t->state = SQ_JOB_DONE;
        pthread_cond_broadcast(&t->cv);
        if (t->wake)
            sq_wake_signal(t->wake);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

struct sq_job_thread *sq_job_thread_new(const char *what, struct sq_wake *wake,
                                        struct sq_err *err)
{
    struct sq_job_thread *t = sq_xcalloc(1, sizeof *t);
    t->wake = wake;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    int e = pthread_create(&t->thread, NULL, sq_job_thread_main, t);
    if (e) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot start the %s thread: %s", what, strerror(e));
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    /* "sq " and the job's name, as `top -H` and perf show it (15 bytes) */
    char name[16];
    snprintf(name, sizeof name, "sq %s", what);
    pthread_setname_np(t->thread, name);
    return t;
}

void sq_job_thread_free(struct sq_job_thread *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    if (t->state == SQ_JOB_QUEUED)
        t->state = SQ_JOB_NONE; /* never started: nothing was done */
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

bool sq_job_thread_idle(struct sq_job_thread *t)
{
    pthread_mutex_lock(&t->mu);
    bool idle = t->state == SQ_JOB_NONE && !t->stop;
    pthread_mutex_unlock(&t->mu);
    return idle;
}

bool sq_job_thread_submit(struct sq_job_thread *t, void (*run)(void *arg), void *arg)
{
    pthread_mutex_lock(&t->mu);
    bool ok = t->state == SQ_JOB_NONE && !t->stop;
    if (ok) {
        t->run = run;
        t->arg = arg;
        t->state = SQ_JOB_QUEUED;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

bool sq_job_thread_collect(struct sq_job_thread *t, int wait_ms)
{
    pthread_mutex_lock(&t->mu);
    if (t->state != SQ_JOB_DONE && wait_ms > 0) {
        struct timespec until = sq_deadline_in_ms(wait_ms);
        while (t->state != SQ_JOB_DONE &&
               pthread_cond_timedwait(&t->cv, &t->mu, &until) != ETIMEDOUT)
            ;
    }
    bool done = t->state == SQ_JOB_DONE;
    if (done) {
        t->state = SQ_JOB_NONE;
        t->run = NULL;
        t->arg = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    return done;
}
