/* timers.h: event-time timers (SPEC 3 "timers") and the replay watermark.
 * A min-heap of (due_ms, key, opening), at most one armed timer per key,
 * popped in (due, key bytes) order once the watermark is strictly past the
 * due time. The timers processor keeps one per partition; replay one. */
#ifndef SQ_TIMERS_H
#define SQ_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

struct sq_timer_slot; /* per key: the armed timer and its generation */

/* One heap entry; an entry whose gen differs from its slot's is cancelled
 * (lazy cancellation: re-arming or cancelling a key costs O(log n) or
 * O(1), the stale entry is dropped when it surfaces). */
struct sq_timer_ent {
    int64_t due_ms;
    struct sq_timer_slot *slot;
    uint32_t gen;
    int32_t opening;
};

struct sq_timers {
    struct sq_timer_ent *heap;
    size_t n, cap;          /* entries, armed and stale */
    size_t armed;           /* keys with an armed timer */
    struct sq_strmap keys;  /* key -> struct sq_timer_slot * */
};

/* A timer taken off the heap; key is owned (sq_timer_due_fini frees it). */
struct sq_timer_due {
    int64_t due_ms;
    char *key;
    int opening;
};

void sq_timers_init(struct sq_timers *tm);
/* Frees every timer; safe twice. */
void sq_timers_fini(struct sq_timers *tm);

/* Arms key's timer at due_ms for opening, replacing the timer key had. */
void sq_timers_set(struct sq_timers *tm, const char *key, int64_t due_ms, int opening);
/* Disarms key's timer; returns whether it had one. */
bool sq_timers_cancel(struct sq_timers *tm, const char *key);
/* key's armed timer, if any. */
bool sq_timers_get(const struct sq_timers *tm, const char *key, int64_t *due_ms,
                   int *opening);
/* Armed timers. */
size_t sq_timers_count(const struct sq_timers *tm);
/* The earliest armed due time, if any (drops cancelled entries on top). */
bool sq_timers_next_due(struct sq_timers *tm, int64_t *due_ms);

/* Takes the earliest armed timer whose due_ms < limit_ms (the watermark:
 * strictly past) into *out and disarms it; false when there is none. Call
 * in a loop: timers come in (due_ms, key bytes) order. At end of a replay
 * pass the greatest event time + 1 (due ≤ greatest event time), and
 * INT64_MAX to fire them all. */
bool sq_timers_pop_due(struct sq_timers *tm, int64_t limit_ms, struct sq_timer_due *out);
void sq_timer_due_fini(struct sq_timer_due *d);

/* The watermark of one stream (replay: all input is one partition): the
 * greatest event time seen minus the grace, never going back; undefined
 * until the first event. */
struct sq_watermark {
    int64_t grace_ms;
    bool has_event;
    int64_t max_event_ms;   /* greatest event time observed (when has_event) */
    bool defined;
    int64_t value_ms;       /* the watermark (when defined) */
};

void sq_watermark_init(struct sq_watermark *wm, int64_t grace_ms);
/* An applied event's time. Returns true when the watermark moved forward. */
bool sq_watermark_observe(struct sq_watermark *wm, int64_t event_ms);
/* Raises the watermark to at least ms (restored state, or the wall clock
 * when every partition is idle); never lowers it. Returns true if it moved. */
bool sq_watermark_raise(struct sq_watermark *wm, int64_t ms);
/* The watermark, or false while undefined (nothing may fire or close). */
bool sq_watermark_get(const struct sq_watermark *wm, int64_t *ms);

#endif
