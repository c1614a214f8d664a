/* dedupe_watch.h: how full the dedupe sets are, in `sqgate run`. Every
 * dedupe.check_s one script reads the size and encoding of a sample of the
 * dedupe sets (processors/dedupe.c) of the slice this instance writes now;
 * the gauges sq_dedupe_set_marks and sq_dedupe_sets_past_intset say it,
 * and a warning says when the sets are outgrowing Redis's intset, where a
 * mark costs ~9 bytes, for a hash table at ~64, and what dedupe.shards
 * would keep them small (docs/operations.md, "Before the first start"). */
#ifndef SQ_DEDUPE_WATCH_H
#define SQ_DEDUPE_WATCH_H

#include <stdint.h>

#include "redis_link.h"
#include "settings.h"

/* Sets sampled a check (all of them when dedupe.shards is smaller). */
#define SQ_DEDUPE_WATCH_SAMPLE 32
/* Redis's default set-max-intset-entries: a larger set is a hash table. */
#define SQ_DEDUPE_WATCH_INTSET 512
/* Marks a set may hold before the warning: below the intset's limit, as a
 * slice's sets are not all equal. */
#define SQ_DEDUPE_WATCH_MARKS 400

/* What one check read. */
struct sq_dedupe_sample {
    int64_t slice;      /* the slice's number (event time / dedupe.ttl_s) */
    uint64_t sampled;   /* sets read */
    uint64_t marks;     /* marks in them */
    uint64_t max;       /* marks in the largest */
    uint64_t past;      /* sets Redis keeps as a hash table (not an intset) */
    double fraction;    /* of the slice's event time gone at event_ms */
};

struct sq_dedupe_watch;

/* A watch on the runtime's Redis link (used from the pipeline thread
 * only); NULL when dedupe.check_s is 0. */
struct sq_dedupe_watch *sq_dedupe_watch_new(const struct sq_settings *st, struct sq_redis *redis);
/* Accepts NULL. */
void sq_dedupe_watch_free(struct sq_dedupe_watch *w);

/* Called from the pipeline loop with the greatest event time this
 * instance applied (-1: none yet): at most once every dedupe.check_s it
 * samples that time's slice, sets the gauges and warns (once a slice for
 * each of: the sets will outgrow the intset, they have). A Redis error is
 * logged and the check is retried at the next interval. */
void sq_dedupe_watch_tick(struct sq_dedupe_watch *w, int64_t event_ms);

/* The dedupe.shards that would keep a slice's sets at SQ_DEDUPE_WATCH_MARKS
 * marks or fewer, from a sample: its mean, or the mean the slice is on its
 * way to when a quarter of it or more has gone; a multiple of 1024. */
int64_t sq_dedupe_watch_advice(const struct sq_dedupe_sample *s, int64_t shards);

#endif
