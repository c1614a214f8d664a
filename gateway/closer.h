/* closer.h: window close in `sqgate run` (SPEC 6): the shared watermark,
 * the closer lease and the KPI records on sq.out.kpi. Partition steps keep
 * each partition's greatest applied event time in Redis and mark every
 * window cell they touch (the W op, processors/store.h); the one instance
 * holding {prefix}lease:closer computes the watermark from them, emits each
 * window's record once the watermark passes its end, and re-emits a closed
 * window (revision + 1) after a late event touched it. */
#ifndef SQ_CLOSER_H
#define SQ_CLOSER_H

#include <stdbool.h>
#include <stdint.h>

#include "chain.h"
#include "redis_link.h"
#include "settings.h"
#include "store.h"

/* Lease time to live (SPEC 6) and how often the closer runs. */
#define SQ_CLOSER_LEASE_MS 10000
#define SQ_CLOSER_TICK_MS 1000

struct sq_closer;

/* A closer on the runtime's Redis link, store (whole-hash reads) and chain
 * (told the watermark for lateness); it has its own Kafka producer. NULL
 * with err when the producer cannot be made. */
struct sq_closer *sq_closer_new(const struct sq_settings *st, struct sq_redis *redis,
                                struct sq_store *store, struct sq_chain *chain,
                                struct sq_err *err);
/* Gives the lease up (when held) so another instance takes over at once,
 * and frees the closer. Accepts NULL. */
void sq_closer_free(struct sq_closer *c);

/* Called from the pipeline loop; acts at most once per SQ_CLOSER_TICK_MS:
 * renews or takes the lease; the holder, every kpi.fold_interval_s, folds
 * the KPI journal (kpi.journal, kpi_journal.h), then computes the watermark
 * and closes
 * due and dirty windows (records produced and acknowledged first, then
 * one fenced Redis step records them), others read the watermark. Failures
 * are logged and retried at the next tick. */
void sq_closer_tick(struct sq_closer *c);
/* Whether the closer met an error no retry mends (Redis lost its data: the
 * epoch key changed), copied to err (may be NULL): the gateway stops. */
bool sq_closer_fatal(const struct sq_closer *c, struct sq_err *err);

/* Folds the KPI journal until it is empty, another instance folds, a fold
 * fails or deadline (monotonic ms) passes, holder or not: an instance
 * on its way out folds what its last steps journaled. Failures are logged. */
void sq_closer_fold_all(struct sq_closer *c, int64_t deadline);

/* A partition this instance holds is idle (SPEC 6): its greatest applied
 * event time stops holding the watermark back until its next step. */
int sq_closer_mark_idle(struct sq_closer *c, const char *offset_key, struct sq_err *err);

/* A partition this instance was just assigned (an event topic's): it
 * counts for the watermark, with its greatest applied event time or, before
 * its first event, holding the watermark back, until it is idle. */
int sq_closer_mark_busy(struct sq_closer *c, const char *offset_key, struct sq_err *err);

#endif
