/* job_thread.h: a thread that runs one job at a time for the main thread,
 * which submits it and later collects it: the Redis steps (step_worker.c),
 * the chain's reads (read_worker.c) and the KPI journal's folds
 * (kpi_folder.c). A job's inputs and outcome
 * live in its argument, which the caller keeps alive until the job is
 * collected (or the thread freed). */
#ifndef SQ_JOB_THREAD_H
#define SQ_JOB_THREAD_H

#include <stdbool.h>

#include "sq_common.h"

struct sq_job_thread;

struct sq_wake;

/* Starts the thread. When wake is not NULL (it outlives the thread), each
 * job's end signals it (wake.h). NULL with err ("cannot start the WHAT
 * thread") when it cannot start. */
struct sq_job_thread *sq_job_thread_new(const char *what, struct sq_wake *wake,
                                        struct sq_err *err);
/* Waits for a running job to end (a queued one never runs), stops the
 * thread and frees it. Accepts NULL. */
void sq_job_thread_free(struct sq_job_thread *t);

/* true when no job is queued, running or waiting to be collected: the
 * caller may fill the next job's argument, then submit it. */
bool sq_job_thread_idle(struct sq_job_thread *t);
/* Hands run(arg) to the thread; false when it is not idle. */
bool sq_job_thread_submit(struct sq_job_thread *t, void (*run)(void *arg), void *arg);
/* true when the submitted job has ended (waiting up to wait_ms for it); the
 * thread is then idle again. An ended job is collected once. */
bool sq_job_thread_collect(struct sq_job_thread *t, int wait_ms);

#endif
