/* test_timers.c: unit tests of processors/timers.c: (due, key) order,
 * the strict watermark limit, re-arming and cancellation, compaction,
 * 100k timers through the heap, and the replay watermark. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timers.h"

static bool pop(struct sq_timers *tm, int64_t limit, int64_t *due, char *key, size_t keysz,
                int *opening)
{
    struct sq_timer_due d;
    if (!sq_timers_pop_due(tm, limit, &d))
        return false;
    *due = d.due_ms;
    snprintf(key, keysz, "%s", d.key);
    if (opening)
        *opening = d.opening;
    sq_timer_due_fini(&d);
    cr_assert_null(d.key);
    return true;
}

Test(timers, due_then_key_order)
{
    struct sq_timers tm;
    sq_timers_init(&tm);
    sq_timers_set(&tm, "b", 200, 1);
    sq_timers_set(&tm, "a", 300, 1);
    sq_timers_set(&tm, "c", 100, 2);
    sq_timers_set(&tm, "T10", 200, 1);
    sq_timers_set(&tm, "T9", 200, 3);
    sq_timers_set(&tm, "\xc3\xa9", 200, 1); /* é: bytes above ASCII sort last */
    sq_timers_set(&tm, "B", 200, 1);
    cr_assert_eq(sq_timers_count(&tm), 7);
    int64_t next = 0;
    cr_assert(sq_timers_next_due(&tm, &next));
    cr_assert_eq(next, 100);

    const char *want[] = {"c", "B", "T10", "T9", "b", "\xc3\xa9", "a"};
    const int64_t want_due[] = {100, 200, 200, 200, 200, 200, 300};
    int64_t due;
    char key[64];
    int opening;
    for (size_t i = 0; i < 7; i++) {
        cr_assert(pop(&tm, 1000, &due, key, sizeof key, &opening), "pop %zu", i);
        cr_assert_str_eq(key, want[i], "pop %zu", i);
        cr_assert_eq(due, want_due[i]);
        if (strcmp(key, "T9") == 0)
            cr_assert_eq(opening, 3);
    }
    cr_assert(!pop(&tm, 1000, &due, key, sizeof key, NULL));
    cr_assert_eq(sq_timers_count(&tm), 0);
    cr_assert(!sq_timers_next_due(&tm, &next));
    sq_timers_fini(&tm);
    sq_timers_fini(&tm);
}

Test(timers, fires_only_strictly_past)
{
    struct sq_timers tm;
    sq_timers_init(&tm);
    sq_timers_set(&tm, "x", 1000, 1);
    int64_t due;
    char key[16];
    cr_assert(!pop(&tm, 999, &due, key, sizeof key, NULL));
    cr_assert(!pop(&tm, 1000, &due, key, sizeof key, NULL), "watermark at due: not past");
    cr_assert_eq(sq_timers_count(&tm), 1);
    cr_assert(pop(&tm, 1001, &due, key, sizeof key, NULL));
    cr_assert_eq(due, 1000);
    cr_assert(!sq_timers_get(&tm, "x", NULL, NULL), "popped timers are disarmed");
    sq_timers_fini(&tm);
}

Test(timers, rearm_and_cancel)
{
    struct sq_timers tm;
    sq_timers_init(&tm);
    sq_timers_set(&tm, "t1", 500, 1);
    sq_timers_set(&tm, "t2", 600, 1);
    sq_timers_set(&tm, "t1", 900, 2); /* re-armed later: the 500 entry is stale */
    cr_assert_eq(sq_timers_count(&tm), 2);
    int64_t due = 0;
    int opening = 0;
    cr_assert(sq_timers_get(&tm, "t1", &due, &opening));
    cr_assert_eq(due, 900);
    cr_assert_eq(opening, 2);
    char key[16];
    cr_assert(pop(&tm, 1000, &due, key, sizeof key, &opening));
    cr_assert_str_eq(key, "t2");
    cr_assert(pop(&tm, 1000, &due, key, sizeof key, &opening));
    cr_assert_str_eq(key, "t1");
    cr_assert_eq(due, 900);
    cr_assert_eq(opening, 2);
    cr_assert(!pop(&tm, 1000, &due, key, sizeof key, NULL), "t1 fires once");

    /* re-armed earlier */
    sq_timers_set(&tm, "t3", 800, 1);
    sq_timers_set(&tm, "t3", 100, 1);
    cr_assert(pop(&tm, 101, &due, key, sizeof key, NULL));
    cr_assert_eq(due, 100);
    cr_assert(!pop(&tm, 10000, &due, key, sizeof key, NULL));

    /* cancelled */
    sq_timers_set(&tm, "t4", 100, 1);
    sq_timers_set(&tm, "t5", 200, 1);
    cr_assert(sq_timers_cancel(&tm, "t4"));
    cr_assert(!sq_timers_cancel(&tm, "t4"));
    cr_assert(!sq_timers_cancel(&tm, "nope"));
    cr_assert_eq(sq_timers_count(&tm), 1);
    int64_t next = 0;
    cr_assert(sq_timers_next_due(&tm, &next));
    cr_assert_eq(next, 200, "the cancelled top is skipped");
    /* cancelled then armed again */
    sq_timers_set(&tm, "t4", 300, 5);
    cr_assert(pop(&tm, 10000, &due, key, sizeof key, NULL));
    cr_assert_str_eq(key, "t5");
    cr_assert(pop(&tm, 10000, &due, key, sizeof key, &opening));
    cr_assert_str_eq(key, "t4");
    cr_assert_eq(due, 300);
    cr_assert_eq(opening, 5);
    cr_assert(!pop(&tm, INT64_MAX, &due, key, sizeof key, NULL));
    sq_timers_fini(&tm);
}

Test(timers, stale_entries_stay_bounded)
{
    struct sq_timers tm;
    sq_timers_init(&tm);
    for (int i = 0; i < 10; i++)
        sq_timers_set(&tm, (char[]){(char)('a' + i), 0}, 1000 + i, 1);
    for (int i = 0; i < 100000; i++)
        sq_timers_set(&tm, "hot", 5000 + i, 1);
    for (int i = 0; i < 1000; i++) {
        sq_timers_set(&tm, "cold", i, 1);
        sq_timers_cancel(&tm, "cold");
    }
    cr_assert_eq(sq_timers_count(&tm), 11);
    cr_assert_leq(tm.n, 128, "heap holds %zu entries for 11 timers", tm.n);
    int64_t due;
    char key[16];
    size_t n = 0;
    while (pop(&tm, INT64_MAX, &due, key, sizeof key, NULL))
        n++;
    cr_assert_eq(n, 11);
    cr_assert_eq(due, 5000 + 99999, "the hot key's last due");
    cr_assert_eq(tm.n, 0);
    cr_assert_eq(tm.keys.n, 0, "no slot outlives its entries");
    sq_timers_fini(&tm);
}

/* 100k timers: random dues with ties, 10% re-armed, 10% cancelled; every
 * armed timer comes out once, in (due, key) order, with its last due. */
Test(timers, hundred_thousand)
{
    enum { N = 100000 };
    struct sq_timers tm;
    sq_timers_init(&tm);
    int64_t *last = calloc(N, sizeof *last); /* -1: cancelled */
    bool *seen = calloc(N, sizeof *seen);
    cr_assert(last && seen);
    uint64_t x = 88172645463325252ULL;
    char key[32];
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        last[i] = (int64_t)(x % 50000); /* many ties */
        snprintf(key, sizeof key, "k%06d", i);
        sq_timers_set(&tm, key, last[i], 1);
    }
    for (int i = 0; i < N; i += 10) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        last[i] = (int64_t)(x % 50000);
        snprintf(key, sizeof key, "k%06d", i);
        sq_timers_set(&tm, key, last[i], 2);
    }
    size_t cancelled = 0;
    for (int i = 5; i < N; i += 10) {
        snprintf(key, sizeof key, "k%06d", i);
        cr_assert(sq_timers_cancel(&tm, key));
        last[i] = -1;
        cancelled++;
    }
    cr_assert_eq(sq_timers_count(&tm), N - cancelled);

    /* pop in two watermark steps */
    int64_t prev_due = -1;
    char prev_key[32] = "";
    size_t popped = 0;
    int64_t due;
    int opening;
    char got[32];
    for (int step = 0; step < 2; step++) {
        int64_t limit = step == 0 ? 25000 : INT64_MAX;
        while (pop(&tm, limit, &due, got, sizeof got, &opening)) {
            cr_assert_lt(due, limit);
            cr_assert(due > prev_due || (due == prev_due && strcmp(got, prev_key) > 0),
                      "order at %s", got);
            int i = (int)strtol(got + 1, NULL, 10);
            cr_assert(!seen[i], "%s twice", got);
            seen[i] = true;
            cr_assert_eq(due, last[i], "%s: its last due", got);
            cr_assert_eq(opening, i % 10 == 0 ? 2 : 1);
            prev_due = due;
            snprintf(prev_key, sizeof prev_key, "%s", got);
            popped++;
        }
        if (step == 0)
            cr_assert_geq(prev_due, 0);
    }
    cr_assert_eq(popped, N - cancelled);
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], last[i] >= 0, "k%06d", i);
    cr_assert_eq(tm.n, 0);
    free(last);
    free(seen);
    sq_timers_fini(&tm);
}

Test(timers, fini_frees_armed_and_stale)
{
    /* run under ASan/LSan: nothing leaks with timers still in the heap */
    struct sq_timers tm;
    sq_timers_init(&tm);
    sq_timers_set(&tm, "a", 1, 1);
    sq_timers_set(&tm, "a", 2, 1);
    sq_timers_set(&tm, "b", 3, 1);
    sq_timers_cancel(&tm, "b");
    cr_assert_eq(sq_timers_count(&tm), 1);
    sq_timers_fini(&tm);
    cr_assert_eq(sq_timers_count(&tm), 0);
}

Test(timers, watermark)
{
    struct sq_watermark wm;
    sq_watermark_init(&wm, 1800 * 1000);
    int64_t v = 0;
    cr_assert(!sq_watermark_get(&wm, &v), "undefined before any event");
    cr_assert(sq_watermark_observe(&wm, 10000000));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 10000000 - 1800000);
    cr_assert(!sq_watermark_observe(&wm, 9000000), "an older event moves nothing");
    cr_assert(!sq_watermark_observe(&wm, 10000000));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 8200000);
    cr_assert_eq(wm.max_event_ms, 10000000);
    cr_assert(sq_watermark_observe(&wm, 10000001));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 8200001);
    /* raised beyond the events (wall clock): events below it move nothing */
    cr_assert(sq_watermark_raise(&wm, 9500000));
    cr_assert(!sq_watermark_raise(&wm, 9000000), "never back");
    cr_assert(!sq_watermark_observe(&wm, 11000000), "11000000 - grace < 9500000");
    cr_assert_eq(wm.max_event_ms, 11000000);
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 9500000);
    cr_assert(sq_watermark_observe(&wm, 12000000));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 12000000 - 1800000);

    /* raised before any event: the first event still counts */
    sq_watermark_init(&wm, 0);
    cr_assert(sq_watermark_raise(&wm, 50));
    cr_assert(!sq_watermark_observe(&wm, 40));
    cr_assert(wm.has_event);
    cr_assert(sq_watermark_observe(&wm, 60));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, 60);
    /* no wrap near the bottom of int64 */
    sq_watermark_init(&wm, 1000);
    cr_assert(sq_watermark_observe(&wm, INT64_MIN + 10));
    cr_assert(sq_watermark_get(&wm, &v));
    cr_assert_eq(v, INT64_MIN);
}

/* The timers and watermark together, as replay drives them: a timer due at
 * 1000 fires once an event puts the watermark past it. */
Test(timers, watermark_drives_timers)
{
    struct sq_timers tm;
    struct sq_watermark wm;
    sq_timers_init(&tm);
    sq_watermark_init(&wm, 100);
    sq_timers_set(&tm, "T1", 1000, 1);
    sq_watermark_observe(&wm, 1100); /* watermark 1000: at due, not past */
    int64_t w = 0, due;
    char key[16];
    cr_assert(sq_watermark_get(&wm, &w));
    cr_assert(!pop(&tm, w, &due, key, sizeof key, NULL));
    /* end of replay input: due <= greatest event time fires */
    cr_assert(pop(&tm, wm.max_event_ms + 1, &due, key, sizeof key, NULL));
    cr_assert_str_eq(key, "T1");
    sq_timers_fini(&tm);
}
