/* aggregate.h: the `aggregate` processor (SPEC 6): windowed KPI counters
 * per (dimension, key, window, start) as HINCRBY ops in each message's own
 * ops, and, in `sqgate replay` (settings.replay_mode), window close: the
 * KPI records for sq.out.kpi, riding on the message whose watermark move
 * closed them; in `run`, W ops naming the touched cells for the closer
 * (gateway/closer.c). Runs right after score in processors/chain.c. */
#ifndef SQ_AGGREGATE_H
#define SQ_AGGREGATE_H

#include <stdint.h>

#include "processor.h"

extern const struct sq_processor sq_proc_aggregate;

struct sq_store;

/* End of input (replay), after the timers fired on carrier: counts the
 * carrier's timer breaches (ops on carrier) and, in replay_mode, closes
 * every window still open or dirty (revision + 1 for a dirty one), its KPI
 * records on carrier->kpi_records in SPEC 15's order, sq-source
 * watermark/{greatest event time}. One store read. SQ_OK, or the store's
 * error. ctx is the processor's. */
int sq_aggregate_flush(void *ctx, struct sq_store *store, struct sq_msg *carrier,
                       struct sq_err *err);

/* `run`: the shared watermark (SPEC 6) as the closer last computed or read
 * it; lateness is judged against it. Never lowers it. */
void sq_aggregate_set_watermark(void *ctx, int64_t wm_ms);

/* Events (and TICKET_OVERDUE breaches) not aggregated because their window
 * ended more than windows.max_lateness_s before the watermark: SPEC 6's
 * sq_too_late_total. */
uint64_t sq_aggregate_too_late_total(const void *ctx);

#endif
