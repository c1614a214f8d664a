/* ticket_timers.h: the overdue timers of open tickets (SPEC 3 "timers"),
 * kept in the store and, for those due soon, in memory.
 *
 * Every armed timer lives in its partition's timer hash
 * ({prefix}timers:{topic}:{partition}: ticket_id → "due|opening|customer")
 * and index ({prefix}timers-due:{topic}:{partition}: ticket_id by due
 * time), written by the batch's ops (store.h T and U). Memory holds only
 * the timers due before their partition's horizon (the turn's watermark +
 * SQ_TIMERS_HORIZON_MS, read from the index a turn at a time), so it grows
 * with the tickets falling due, not with every open ticket.
 *
 * A partition's index is read only while no other turn holds that
 * partition (the batch's own partitions, or idle ones: sq_batch.part_idle),
 * so what a read returns is what the steps before it left. */
#ifndef SQ_TICKET_TIMERS_H
#define SQ_TICKET_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "processor.h"
#include "strmap.h"
#include "timers.h"

/* How far past the watermark a turn reads timers into memory. */
#define SQ_TIMERS_HORIZON_MS (10 * 60 * 1000LL)

struct sq_store;
struct sq_store_reads;
struct sq_timer_part;

struct sq_ticket_timers {
    const struct sq_settings *st;
    struct sq_timers mem;         /* the timers due before their partition's horizon */
    struct sq_strmap owner;       /* ticket_id → struct sq_timer_owner * (those in mem) */
    struct sq_timer_part **parts; /* the partitions whose timers this instance fires */
    size_t nparts;
};

/* A timer taken from memory: what firing it needs. Owned strings
 * (sq_ticket_timer_fini frees them). */
struct sq_ticket_timer {
    char *ticket_id;
    int64_t due_ms;
    int opening;
    char *customer_id;          /* NULL when the timer hash had none */
    struct sq_timer_part *part; /* borrowed: valid until a partition is revoked */
};

void sq_ticket_timers_init(struct sq_ticket_timers *tt, const struct sq_settings *st);
void sq_ticket_timers_fini(struct sq_ticket_timers *tt);

/* The reads (into reads) that bring the timers of the batch's partitions
 * due before limit_ms + the horizon into memory, for a store that
 * prefetches: sq_ticket_timers_load asks the same. */
void sq_ticket_timers_plan(struct sq_ticket_timers *tt, const struct sq_batch *batch,
                           int64_t limit_ms, struct sq_store_reads *reads);
/* Brings into memory every timer that can fall due before limit_ms (the
 * greatest watermark the batch can reach), for the batch's partitions and
 * the idle ones. */
int sq_ticket_timers_load(struct sq_ticket_timers *tt, const struct sq_batch *batch,
                          struct sq_store *store, int64_t limit_ms, struct sq_err *err);
/* The end of a replay: every timer due before limit_ms into memory. */
int sq_ticket_timers_load_all(struct sq_ticket_timers *tt, struct sq_store *store,
                              int64_t limit_ms, struct sq_err *err);

/* Reads again every timer below each partition's horizon: memory then
 * holds all the store does there. For when a batch's step was dropped
 * without being applied (the timers it fired are still in the store) and
 * no batch is in flight (every other fire has been applied). */
int sq_ticket_timers_resync(struct sq_ticket_timers *tt, struct sq_store *store, struct sq_err *err);

/* Arms ticket_id's timer (partition of topic/partition): ops T, and memory
 * when it falls within the partition's horizon. */
void sq_ticket_timers_arm(struct sq_ticket_timers *tt, struct sq_state_ops *ops, const char *topic,
                          int32_t partition, const char *ticket_id, int64_t due_ms, int opening,
                          const char *customer_id);
/* Ends ticket_id's timer: op U, and out of memory. */
void sq_ticket_timers_cancel(struct sq_ticket_timers *tt, struct sq_state_ops *ops,
                             const char *topic, int32_t partition, const char *ticket_id);

/* Takes the earliest timer in memory due before limit_ms, in (due,
 * ticket_id) order; false when none. The caller ends it in the store
 * (sq_ticket_timers_end) once fired, or puts it back
 * (sq_ticket_timers_put_back). */
bool sq_ticket_timers_pop_due(struct sq_ticket_timers *tt, int64_t limit_ms,
                              struct sq_ticket_timer *out);
/* The earliest due time in memory; false when memory holds none. */
bool sq_ticket_timers_next_due(struct sq_ticket_timers *tt, int64_t *due_ms);
/* A popped timer fired: op U. */
void sq_ticket_timers_end(struct sq_state_ops *ops, const struct sq_ticket_timer *t);
/* A popped timer back into memory (its batch failed); takes it. */
void sq_ticket_timers_put_back(struct sq_ticket_timers *tt, struct sq_ticket_timer *t);
void sq_ticket_timer_fini(struct sq_ticket_timer *t);

/* A partition assigned: its timers are read when a turn needs them. A
 * timer hash written before the index existed is indexed first. */
int sq_ticket_timers_assigned(struct sq_ticket_timers *tt, struct sq_store *store,
                              const char *topic, int32_t partition, struct sq_err *err);
/* A partition revoked: its timers leave memory (the next owner's). */
void sq_ticket_timers_revoked(struct sq_ticket_timers *tt, const char *topic, int32_t partition);
/* Timers in memory. */
size_t sq_ticket_timers_in_memory(const struct sq_ticket_timers *tt);

#endif
