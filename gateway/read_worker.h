/* read_worker.h: a thread that runs a turn's chain read (the prefetch that
 * answers the chain's reads, processors/chain.h sq_chain_begin) on its own
 * Redis connection, so that the main thread finishes another turn's chain
 * while Redis answers. One read at a time; the caller keeps the reads
 * alive until the job is collected. */
#ifndef SQ_READ_WORKER_H
#define SQ_READ_WORKER_H

#include <stdbool.h>

#include "redis_link.h"
#include "sq_common.h"

struct sq_read_worker;

struct sq_wake;

/* Starts the thread; it owns redis (freed by sq_read_worker_free). Each
 * job's end signals wake when it is not NULL (job_thread.h). NULL with err
 * when the thread cannot start (redis is then freed too). */
struct sq_read_worker *sq_read_worker_new(struct sq_redis *redis, struct sq_wake *wake,
                                          struct sq_err *err);
/* Waits for a running read to end, stops the thread, frees everything. */
void sq_read_worker_free(struct sq_read_worker *w);

/* Hands reads to the thread (sq_redis_read_fields fills their values).
 * false when a read is still running or its outcome was not collected. */
bool sq_read_worker_submit(struct sq_read_worker *w, struct sq_store_reads *reads);
/* true when the submitted read has ended (waiting up to wait_ms for it):
 * *rc and *err are its outcome and the worker is free for the next one. */
bool sq_read_worker_collect(struct sq_read_worker *w, int wait_ms, int *rc, struct sq_err *err);

#endif
