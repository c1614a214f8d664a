/* timers.c: the event-time timer heap and the watermark of timers.h. A
 * binary min-heap ordered by (due_ms, key bytes); a per-key slot holds the
 * armed timer's generation, so cancelling or re-arming leaves a stale entry
 * that is skipped when it reaches the top, and the heap is compacted when
 * stale entries outnumber armed ones, which keeps memory bounded. */
#include "timers.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"

struct sq_timer_slot {
    int64_t due_ms;     /* the armed timer, when armed */
    uint32_t gen;       /* generation of the armed entry */
    uint32_t refs;      /* heap entries pointing here */
    int32_t opening;
    bool armed;
    char key[];         /* NUL-terminated */
};

#define SQ_TIMERS_COMPACT_MIN 64

void sq_timers_init(struct sq_timers *tm)
{
    memset(tm, 0, sizeof *tm);
    sq_strmap_init(&tm->keys);
}

static void slot_free_cb(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void sq_timers_fini(struct sq_timers *tm)
{
    sq_strmap_each(&tm->keys, slot_free_cb, NULL);
    sq_strmap_fini(&tm->keys);
    free(tm->heap);
    tm->heap = NULL;
    tm->n = tm->cap = tm->armed = 0;
}

/* (due, key bytes): strcmp compares as unsigned char. */
static bool ent_less(const struct sq_timer_ent *a, const struct sq_timer_ent *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return strcmp(a->slot->key, b->slot->key) < 0;
}

static void sift_up(struct sq_timer_ent *h, size_t i)
{
    struct sq_timer_ent e = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&e, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static void sift_down(struct sq_timer_ent *h, size_t n, size_t i)
{
    struct sq_timer_ent e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&h[c + 1], &h[c]))
            c++;
        if (!ent_less(&h[c], &e))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static bool ent_live(const struct sq_timer_ent *e)
{
    return e->slot->armed && e->gen == e->slot->gen;
}

/* One heap entry fewer points at slot: free it when nothing needs it. */
static void slot_unref(struct sq_timers *tm, struct sq_timer_slot *slot)
{
    if (--slot->refs == 0 && !slot->armed) {
        sq_strmap_del(&tm->keys, slot->key);
        free(slot);
    }
}

static void heap_pop_top(struct sq_timers *tm)
{
    struct sq_timer_slot *slot = tm->heap[0].slot;
    tm->n--;
    if (tm->n > 0) {
        tm->heap[0] = tm->heap[tm->n];
        sift_down(tm->heap, tm->n, 0);
    }
    slot_unref(tm, slot);
}

/* Drops every stale entry and rebuilds the heap: O(n), run when stale
 * entries outnumber armed ones, so the amortised cost per operation stays
 * O(log n) and the heap at most twice the armed timers (plus a constant). */
static void heap_compact(struct sq_timers *tm)
{
    size_t w = 0;
    for (size_t r = 0; r < tm->n; r++) {
        if (ent_live(&tm->heap[r]))
            tm->heap[w++] = tm->heap[r];
        else
            slot_unref(tm, tm->heap[r].slot);
    }
    tm->n = w;
    for (size_t i = tm->n / 2; i-- > 0;)
        sift_down(tm->heap, tm->n, i);
}

static void maybe_compact(struct sq_timers *tm)
{
    if (tm->n >= SQ_TIMERS_COMPACT_MIN && tm->n > 2 * tm->armed)
        heap_compact(tm);
}

void sq_timers_set(struct sq_timers *tm, const char *key, int64_t due_ms, int opening)
{
    struct sq_timer_slot *slot = sq_strmap_get(&tm->keys, key);
    if (!slot) {
        size_t len = strlen(key);
        slot = sq_xcalloc(1, sizeof *slot + len + 1);
        memcpy(slot->key, key, len + 1);
        sq_strmap_put(&tm->keys, key, slot);
    }
    if (!slot->armed)
        tm->armed++;
    slot->armed = true;
    slot->gen++;
    slot->due_ms = due_ms;
    slot->opening = opening;
    slot->refs++;
    if (tm->n == tm->cap) {
        tm->cap = tm->cap ? tm->cap * 2 : 64;
        tm->heap = sq_xrealloc(tm->heap, tm->cap * sizeof *tm->heap);
    }
    tm->heap[tm->n] = (struct sq_timer_ent){
        .due_ms = due_ms, .slot = slot, .gen = slot->gen, .opening = opening};
    sift_up(tm->heap, tm->n);
    tm->n++;
    maybe_compact(tm);
}

bool sq_timers_cancel(struct sq_timers *tm, const char *key)
{
    struct sq_timer_slot *slot = sq_strmap_get(&tm->keys, key);
    if (!slot || !slot->armed)
        return false;
    slot->armed = false;
    slot->gen++;
    tm->armed--;
    maybe_compact(tm);
    return true;
}

bool sq_timers_get(const struct sq_timers *tm, const char *key, int64_t *due_ms, int *opening)
{
    const struct sq_timer_slot *slot = sq_strmap_get(&tm->keys, key);
    if (!slot || !slot->armed)
        return false;
    if (due_ms)
        *due_ms = slot->due_ms;
    if (opening)
        *opening = slot->opening;
    return true;
}

size_t sq_timers_count(const struct sq_timers *tm)
{
    return tm->armed;
}

/* Pops cancelled entries off the top; returns the top, or NULL. */
static const struct sq_timer_ent *top_live(struct sq_timers *tm)
{
    while (tm->n > 0 && !ent_live(&tm->heap[0]))
        heap_pop_top(tm);
    return tm->n > 0 ? &tm->heap[0] : NULL;
}

bool sq_timers_next_due(struct sq_timers *tm, int64_t *due_ms)
{
    const struct sq_timer_ent *e = top_live(tm);
    if (!e)
        return false;
    *due_ms = e->due_ms;
    return true;
}

bool sq_timers_pop_due(struct sq_timers *tm, int64_t limit_ms, struct sq_timer_due *out)
{
    const struct sq_timer_ent *e = top_live(tm);
    if (!e || e->due_ms >= limit_ms)
        return false;
    struct sq_timer_slot *slot = e->slot;
    out->due_ms = e->due_ms;
    out->opening = e->opening;
    out->key = sq_xstrdup(slot->key);
    slot->armed = false;
    tm->armed--;
    heap_pop_top(tm);
    return true;
}

void sq_timer_due_fini(struct sq_timer_due *d)
{
    free(d->key);
    d->key = NULL;
}

/* ---- watermark ---------------------------------------------------------- */

void sq_watermark_init(struct sq_watermark *wm, int64_t grace_ms)
{
    memset(wm, 0, sizeof *wm);
    wm->grace_ms = grace_ms;
}

bool sq_watermark_raise(struct sq_watermark *wm, int64_t ms)
{
    if (wm->defined && ms <= wm->value_ms)
        return false;
    wm->defined = true;
    wm->value_ms = ms;
    return true;
}

bool sq_watermark_observe(struct sq_watermark *wm, int64_t event_ms)
{
    if (wm->has_event && event_ms <= wm->max_event_ms)
        return false;
    wm->has_event = true;
    wm->max_event_ms = event_ms;
    /* Saturating: an event time near INT64_MIN must not wrap. */
    int64_t v = event_ms < INT64_MIN + wm->grace_ms ? INT64_MIN : event_ms - wm->grace_ms;
    return sq_watermark_raise(wm, v);
}

bool sq_watermark_get(const struct sq_watermark *wm, int64_t *ms)
{
    if (!wm->defined)
        return false;
    *ms = wm->value_ms;
    return true;
}
