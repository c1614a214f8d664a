/* reaper.h: frees finished work on a thread of its own, so that the main
 * thread does not spend its turn cycle taking apart what it is done with
 * (a finished turn's messages: their jansson trees, outputs and ops). */
#ifndef SQ_REAPER_H
#define SQ_REAPER_H

#include <stddef.h>

#include "sq_common.h"

struct sq_reaper;

/* Starts the thread; free_fn(item) is what freeing an item means. NULL
 * with err when the thread cannot start. */
struct sq_reaper *sq_reaper_new(void (*free_fn)(void *item), struct sq_err *err);
/* Takes ownership of item: it is freed on the thread, soon. Only the
 * thread that made the reaper calls this. */
void sq_reaper_add(struct sq_reaper *r, void *item);
/* Hands what was added since the last hand-over to the thread once it is
 * done with the one before (sq_reaper_add does this too). */
void sq_reaper_kick(struct sq_reaper *r);
/* Waits for the thread, frees what is left there and here, and the
 * reaper. Accepts NULL. */
void sq_reaper_free(struct sq_reaper *r);

#endif
