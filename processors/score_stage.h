/* score_stage.h: the `score` processor (the rules live in score.c). */
#ifndef SQ_SCORE_STAGE_H
#define SQ_SCORE_STAGE_H

#include "processor.h"

extern const struct sq_processor sq_proc_score;

struct sq_store;
/* End of a replay: fires the overdue timers due by the greatest event time
 * seen (all of them when `all`, for --flush-timers). Their breaches and
 * state changes go on `carrier`, a message with no input of its own. */
int sq_score_stage_flush_timers(void *ctx, struct sq_store *store, bool all, struct sq_msg *carrier,
                                struct sq_err *err);

#endif
