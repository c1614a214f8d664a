/* wake.h: what the main loop of `sqgate run` sleeps on between its rounds
 * (runtime.c). Whatever a turn waits for signals it: the job threads when
 * a Redis read or step ends (job_thread.h) and librdkafka when the
 * producer's delivery reports arrive (its queue's IO event). One wait a
 * round then ends at the first of them, where a wait per turn slept
 * through the others' news. */
#ifndef SQ_WAKE_H
#define SQ_WAKE_H

#include "sq_common.h"

struct sq_wake;

/* NULL with err when no pipe can be made. */
struct sq_wake *sq_wake_new(struct sq_err *err);
/* Accepts NULL. */
void sq_wake_free(struct sq_wake *w);
/* Ends the current or next sq_wake_wait; any thread, never blocks. */
void sq_wake_signal(struct sq_wake *w);
/* The descriptor a signal writes to (for rd_kafka_queue_io_event_enable). */
int sq_wake_write_fd(const struct sq_wake *w);
/* Sleeps until a signal or wait_ms, then forgets every signal so far: the
 * caller looks at what they were about after it returns. */
void sq_wake_wait(struct sq_wake *w, int wait_ms);

#endif
