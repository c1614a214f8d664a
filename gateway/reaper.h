/* reaper.h: frees finished work on a thread of its own, so that the main
 * thread does not spend its turn cycle taking apart what it is done with
 * (a turn's jansson trees once its chain is done, the rest of the turn
 * once it is finished). */
#ifndef SQ_REAPER_H
#define SQ_REAPER_H

#include <stddef.h>

#include "sq_common.h"

struct sq_reaper;

/* Starts the thread. NULL with err when it cannot start. */
struct sq_reaper *sq_reaper_new(struct sq_err *err);
/* Takes ownership of item: free_fn(item) runs on the thread, soon. Only
 * the thread that made the reaper calls this. */
void sq_reaper_add(struct sq_reaper *r, void (*free_fn)(void *item), void *item);
/* Hands what was added since the last hand-over to the thread once it is
 * done with the one before (sq_reaper_add does this too). */
void sq_reaper_kick(struct sq_reaper *r);
/* Waits for the thread, frees what is left there and here, and the
 * reaper. Accepts NULL. */
void sq_reaper_free(struct sq_reaper *r);

#endif
