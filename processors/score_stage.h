/* score_stage.h: the `score` processor (the rules live in score.c). */
#ifndef SQ_SCORE_STAGE_H
#define SQ_SCORE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "processor.h"

extern const struct sq_processor sq_proc_score;

struct sq_store;
/* End of a replay: fires the overdue timers due by the greatest event time
 * seen (all of them when `all`, for --flush-timers). Their breaches and
 * state changes go on `carrier`, a message with no input of its own. */
int sq_score_stage_flush_timers(void *ctx, struct sq_store *store, bool all, struct sq_msg *carrier,
                                struct sq_err *err);

/* A partition was assigned: its overdue timers are read from the store as
 * they near the watermark (ticket_timers.h); a timer hash written before
 * the index existed is indexed now. */
int sq_score_stage_partition_assigned(void *ctx, struct sq_store *store, const char *topic,
                                      int32_t partition, struct sq_err *err);
/* A batch's step was dropped unapplied and none is in flight: the timers
 * the store still holds below the horizon go back into memory
 * (sq_ticket_timers_resync). */
int sq_score_stage_timers_resync(void *ctx, struct sq_store *store, struct sq_err *err);
/* A partition was revoked: its timers are the next owner's. */
void sq_score_stage_partition_revoked(void *ctx, const char *topic, int32_t partition);
/* Overdue timers in memory: those of the partitions held due within the
 * horizon (ticket_timers.h); the others are only in the store. */
size_t sq_score_stage_timers_armed(const void *ctx);

#endif
