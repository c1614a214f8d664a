/* kpi_folder.h: a thread that folds the KPI journal (kpi_journal.h) on its
 * own Redis connection, so that the closer lease holder's main thread runs
 * chains while Redis folds. One fold at a time. */
#ifndef SQ_KPI_FOLDER_H
#define SQ_KPI_FOLDER_H

#include <stdbool.h>

#include "redis_link.h"
#include "sq_common.h"

struct sq_kpi_folder;

/* Starts the thread; it owns redis (freed by sq_kpi_folder_free). NULL with
 * err when the thread cannot start (redis is then freed too). */
struct sq_kpi_folder *sq_kpi_folder_new(struct sq_redis *redis, struct sq_err *err);
/* Waits for a running fold to end, stops the thread, frees everything.
 * Accepts NULL. */
void sq_kpi_folder_free(struct sq_kpi_folder *f);

/* Starts one fold; false while the last one's outcome is not collected. */
bool sq_kpi_folder_start(struct sq_kpi_folder *f);
/* true when the fold started last has ended (waiting up to wait_ms for it):
 * *rc and *err are its outcome, *more whether it was a full fold with
 * entries left behind, and
 * *bad how many entries it removed as not journal entries. */
bool sq_kpi_folder_collect(struct sq_kpi_folder *f, int wait_ms, int *rc, bool *more,
                           size_t *bad, struct sq_err *err);

#endif
