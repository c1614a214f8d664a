/* chain.h: the processor chain and its runner, the one place that decides
 * and counts each message's outcome (processed, duplicate or DLQ). */
#ifndef SQ_CHAIN_H
#define SQ_CHAIN_H

#include "processor.h"

/* Outcome totals of the batches the gateway finished (applied). consumed
 * always equals processed + duplicates + the sum of dlq. */
struct sq_chain_stats {
    uint64_t consumed;
    uint64_t processed;
    uint64_t duplicates;
    uint64_t dlq[SQ_DLQ__COUNT];
};

struct sq_chain;

/* Initialises every processor of the chain in SPEC 3 order. Returns NULL with
 * err filled when one fails. */
struct sq_chain *sq_chain_new(const struct sq_settings *st, struct sq_err *err);
void sq_chain_free(struct sq_chain *chain);

/* Called between processors while a batch runs: `sqgate run` serves its
 * other turns there (delivery reports, Redis steps), so they do not wait
 * for the whole chain. NULL (the default) calls nothing. */
typedef void (*sq_chain_yield_fn)(void *arg);
void sq_chain_set_yield(struct sq_chain *chain, sq_chain_yield_fn fn, void *arg);

/* Runs every processor over the batch. Messages still pending at the end are
 * processed. Returns SQ_OK or the first processor's transient/fatal error
 * (the batch must then be run again from scratch: see sq_batch_reset). */
int sq_chain_run(struct sq_chain *chain, struct sq_batch *batch, struct sq_err *err);
/* sq_chain_run without building batch->ops: for a batch of several
 * partitions' messages that the caller splits into one batch per partition
 * and then assembles each (sq_batch_assemble_ops). */
int sq_chain_process(struct sq_chain *chain, struct sq_batch *batch, struct sq_err *err);

/* sq_chain_process in two parts around its Redis read, so that the read
 * can be in flight while the caller runs other work (`sqgate run` reads
 * on a thread of its own, gateway/read_worker.h). sq_chain_begin runs the
 * processors that read nothing (decode, validate) and appends to reads
 * what the others will read (their plan); *resume is where
 * sq_chain_finish goes on, once the store answers those reads (its
 * prefetch cache: sq_store_redis_install). With a store that does not
 * prefetch, begin runs the whole chain and plans nothing.
 * Another batch may begin between a batch's begin and its finish; the
 * finishes run in the order of the begins. */
int sq_chain_begin(struct sq_chain *chain, struct sq_batch *batch, struct sq_store_reads *reads,
                   size_t *resume, struct sq_err *err);
int sq_chain_finish(struct sq_chain *chain, struct sq_batch *batch, size_t resume,
                    struct sq_err *err);

/* Turns a processed message whose output the broker rejected permanently
 * into a DLQ message (reason output_rejected) and rebuilds the batch's
 * Redis effects without it. */
void sq_chain_reject_output(struct sq_chain *chain, struct sq_batch *batch, size_t idx,
                            const char *why);

/* Rebuilds batch->ops from the processed messages' own ops, each group
 * opened by "M idx" (store.h). */
void sq_batch_assemble_ops(struct sq_batch *batch);
/* The same without the batch's sums (B, S): for `run`, whose Redis step
 * sums the KPI increments of all the turn's partitions (redis_link.h). */
void sq_batch_assemble_message_ops(struct sq_batch *batch);
/* Appends to sums the batch sums (B, S) of the processed messages of
 * batches[0..n), as sq_batch_assemble_ops does for one batch. */
void sq_batches_sum_ops(struct sq_batch *const *batches, size_t n, struct sq_state_ops *sums);
/* The state step found these messages already applied elsewhere (a
 * duplicate event_id on another partition): they become duplicates. */
void sq_batch_mark_duplicates(struct sq_batch *batch, const size_t *idx, size_t n);

/* Adds the batch's outcomes to the totals once it is applied. Checks the
 * invariant that every message has a final verdict (aborts otherwise). */
void sq_chain_account(struct sq_chain *chain, const struct sq_batch *batch,
                      struct sq_chain_stats *delta);
const struct sq_chain_stats *sq_chain_stats(const struct sq_chain *chain);

struct sq_store;
/* Partition lifecycle in `run`: the partitions whose overdue timers this
 * instance reads and fires (ticket_timers.h); on revoke, those in memory
 * are dropped. */
int sq_chain_partition_assigned(struct sq_chain *chain, struct sq_store *store, const char *topic,
                                int32_t partition, struct sq_err *err);
void sq_chain_partition_revoked(struct sq_chain *chain, const char *topic, int32_t partition);
/* `run`: a turn's step was dropped without being applied, and no turn is
 * in flight now: the overdue timers it fired, still in Redis, go back into
 * memory (ticket_timers.h). */
int sq_chain_timers_resync(struct sq_chain *chain, struct sq_store *store, struct sq_err *err);

/* End of input (replay): fires the timers due by the greatest event time
 * seen, or all of them; outputs (timer_records) and ops go on carrier. */
int sq_chain_flush_timers(struct sq_chain *chain, struct sq_store *store, bool all,
                          struct sq_msg *carrier, struct sq_err *err);

/* End of input (replay), after sq_chain_flush_timers on the same carrier:
 * the counters of the carrier's timer breaches go on its ops and, with
 * settings.replay_mode, every window still open or dirty closes, its KPI
 * records on carrier->kpi_records (sq_kpi_outputs_add makes the outputs). */
int sq_chain_flush_windows(struct sq_chain *chain, struct sq_store *store, struct sq_msg *carrier,
                           struct sq_err *err);
/* The event time of SPEC 6 (window assignment and watermark): a contact's
 * arrived_at, else occurred_at (m->event_ms). */
int64_t sq_msg_event_time(const struct sq_msg *m);

/* `run`: the shared watermark (SPEC 6) the closer computed or read; KPI
 * lateness is judged against it. */
void sq_chain_set_watermark(struct sq_chain *chain, int64_t wm_ms);
/* Events too late to aggregate so far (SPEC 6's sq_too_late_total). */
uint64_t sq_chain_too_late_total(struct sq_chain *chain);
/* Profile lookups so far, and those that took a Redis read (enrich.h). */
void sq_chain_profile_cache_counts(struct sq_chain *chain, uint64_t *lookups, uint64_t *misses);
/* Overdue timers in memory (sq_timers_armed): those of the partitions held
 * due within the horizon (ticket_timers.h); the rest are only in Redis. */
size_t sq_chain_timers_armed(struct sq_chain *chain);

/* Frees chain results of every message (event, outputs, verdict) so the
 * batch can be run again, keeping the input bytes. */
void sq_batch_reset(struct sq_batch *batch);
void sq_batch_fini(struct sq_batch *batch);

#endif
