/* step_worker.h: a thread that runs a turn's Redis partition steps on its
 * own connection, so the gateway's main thread can run the next turn's
 * chain (on other partitions) while Redis applies the last one. One job at
 * a time; the caller keeps the steps alive until the job is done. */
#ifndef SQ_STEP_WORKER_H
#define SQ_STEP_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "redis_link.h"
#include "sq_common.h"

struct sq_step_worker;

struct sq_wake;

/* Starts the thread; it owns redis (freed by sq_step_worker_free). Each
 * job's end signals wake when it is not NULL (job_thread.h). NULL with err
 * when the thread cannot start (redis is then freed too). */
struct sq_step_worker *sq_step_worker_new(struct sq_redis *redis, struct sq_wake *wake,
                                          struct sq_err *err);
/* Waits for a running job to end, stops the thread, frees everything. */
void sq_step_worker_free(struct sq_step_worker *w);

/* Hands steps[0..n) and their turn's KPI sums (or NULL) to the thread
 * (sq_redis_run_steps), which first calls prepare(arg) when prepare is not
 * NULL (building the steps' ops and the sums there). false when a job is
 * still running or its outcome was not collected. */
bool sq_step_worker_submit(struct sq_step_worker *w, struct sq_redis_step *steps, size_t n,
                           const struct sq_state_ops *sums, void (*prepare)(void *arg),
                           void *arg);
/* true when the submitted job has ended (waiting up to wait_ms for it):
 * *rc and *err are its outcome and the worker is free for the next job. */
bool sq_step_worker_collect(struct sq_step_worker *w, int wait_ms, int *rc, struct sq_err *err);

#endif
