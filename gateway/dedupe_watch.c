/* dedupe_watch.c: samples the dedupe sets of the current slice and warns
 * when they outgrow Redis's intset (dedupe_watch.h). */
#include "dedupe_watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dedupe.h"
#include "log.h"
#include "metrics.h"

/* KEYS = the sampled sets. Returns {sets read, marks, the largest, sets
 * that are not an intset}; a set that does not exist counts as empty. */
static const char sq_dedupe_sample_lua[] =
    "local marks, max, past = 0, 0, 0\n"
    "for i = 1, #KEYS do\n"
    "  local n = redis.call('SCARD', KEYS[i])\n"
    "  if n > 0 then\n"
    "    marks = marks + n\n"
    "    if n > max then max = n end\n"
    "    if redis.call('OBJECT', 'ENCODING', KEYS[i]) ~= 'intset' then past = past + 1 end\n"
    "  end\n"
    "end\n"
    "return {#KEYS, marks, max, past}\n";

struct sq_dedupe_watch {
    const struct sq_settings *st;
    struct sq_redis *redis;
    int64_t next_check;   /* monotonic ms */
    int64_t warned_slice; /* the slice warned about, and how: */
    int warned_level;     /* 1 on its way past the intset, 2 past it */
};

struct sq_dedupe_watch *sq_dedupe_watch_new(const struct sq_settings *st, struct sq_redis *redis)
{
    if (st->dedupe_check_s <= 0)
        return NULL;
    struct sq_dedupe_watch *w = sq_xcalloc(1, sizeof *w);
    w->st = st;
    w->redis = redis;
    w->next_check = sq_mono_ms() + st->dedupe_check_s * 1000;
    w->warned_slice = INT64_MIN;
    return w;
}

void sq_dedupe_watch_free(struct sq_dedupe_watch *w)
{
    free(w);
}

/* Reads the sample of event_ms's slice into *out. */
static int sq_dedupe_watch_sample(struct sq_dedupe_watch *w, int64_t event_ms,
                                  struct sq_dedupe_sample *out, struct sq_err *err)
{
    const struct sq_settings *st = w->st;
    int64_t shards = st->dedupe_shards > 0 ? st->dedupe_shards : 1;
    size_t n = shards < SQ_DEDUPE_WATCH_SAMPLE ? (size_t)shards : SQ_DEDUPE_WATCH_SAMPLE;
    int64_t slice = sq_dedupe_slice(st, event_ms);
    char *keys[SQ_DEDUPE_WATCH_SAMPLE];
    for (size_t i = 0; i < n; i++) /* spread over the shards, the first and last among them */
        keys[i] = sq_dedupe_set_key_dup(
            st, slice, n > 1 ? (int64_t)((long double)i * (shards - 1) / (n - 1)) : 0);
    struct sq_redis_strs res;
    int rc = sq_redis_eval(w->redis, sq_dedupe_sample_lua, n, (const char *const *)keys, 0, NULL,
                           &res, err);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    if (rc != SQ_OK)
        return rc;
    if (res.n != 4) {
        sq_redis_strs_fini(&res);
        return sq_err_set(err, SQ_ERR_TRANSIENT, "", "dedupe check: unexpected reply");
    }
    int64_t ttl_ms = st->dedupe_ttl_s * 1000;
    *out = (struct sq_dedupe_sample){
        .slice = slice,
        .sampled = strtoull(res.v[0], NULL, 10),
        .marks = strtoull(res.v[1], NULL, 10),
        .max = strtoull(res.v[2], NULL, 10),
        .past = strtoull(res.v[3], NULL, 10),
        .fraction = (double)(event_ms - slice * ttl_ms) / (double)ttl_ms,
    };
    sq_redis_strs_fini(&res);
    return SQ_OK;
}

/* The marks a sampled set holds now. */
static double sq_dedupe_mean(const struct sq_dedupe_sample *s)
{
    return s->sampled ? (double)s->marks / (double)s->sampled : 0;
}

/* What a set of the sample's slice holds at the slice's end, when a
 * quarter of the slice or more has gone (never less than now), else now. */
static double sq_dedupe_projected(const struct sq_dedupe_sample *s)
{
    double mean = sq_dedupe_mean(s);
    return s->fraction >= 0.25 && s->fraction <= 1 ? mean / s->fraction : mean;
}

int64_t sq_dedupe_watch_advice(const struct sq_dedupe_sample *s, int64_t shards)
{
    double need = ceil(sq_dedupe_projected(s) * (double)shards / SQ_DEDUPE_WATCH_MARKS);
    int64_t k = (int64_t)ceil(need / 1024);
    return (k < 1 ? 1 : k) * 1024;
}

void sq_dedupe_watch_tick(struct sq_dedupe_watch *w, int64_t event_ms)
{
    if (!w)
        return;
    int64_t now = sq_mono_ms();
    if (now < w->next_check || event_ms < 0)
        return;
    w->next_check = now + w->st->dedupe_check_s * 1000;
    struct sq_dedupe_sample s = {0};
    struct sq_err err;
    sq_err_clear(&err);
    if (sq_dedupe_watch_sample(w, event_ms, &s, &err) != SQ_OK) {
        sq_warn("dedupe check: %s (will retry in %llds)", err.msg,
                (long long)w->st->dedupe_check_s);
        return;
    }
    sq_metrics_set_dedupe(s.sampled, s.marks, s.max, s.past);
    double mean = sq_dedupe_mean(&s), projected = sq_dedupe_projected(&s);
    int level = s.past > 0                                                            ? 2
                : mean > SQ_DEDUPE_WATCH_MARKS || projected > SQ_DEDUPE_WATCH_INTSET ? 1
                                                                                     : 0;
    if (s.slice != w->warned_slice) {
        w->warned_slice = s.slice;
        w->warned_level = 0;
    }
    if (level <= w->warned_level)
        return;
    w->warned_level = level;
    int64_t advice = sq_dedupe_watch_advice(&s, w->st->dedupe_shards);
    if (level == 2)
        sq_warn("dedupe: %llu of %llu sampled sets of slice %lld are past Redis's intset "
                "(set-max-intset-entries): their marks take ~64 bytes each instead of ~9 "
                "(a set holds %.0f marks on average, the largest %llu); set dedupe.shards "
                "to %lld or more (now %lld; a change forgets the marks written before: "
                "docs/operations.md)",
                (unsigned long long)s.past, (unsigned long long)s.sampled, (long long)s.slice,
                mean, (unsigned long long)s.max, (long long)advice,
                (long long)w->st->dedupe_shards);
    else
        sq_warn("dedupe: the sampled sets of slice %lld hold %.0f marks on average (the "
                "largest %llu; at this pace %.0f by the slice's end), and Redis keeps a set "
                "of up to %d (set-max-intset-entries) as an intset at ~9 bytes a mark, a "
                "larger one at ~64: set dedupe.shards to %lld or more (now %lld; a change "
                "forgets the marks written before: docs/operations.md)",
                (long long)s.slice, mean, (unsigned long long)s.max, projected,
                SQ_DEDUPE_WATCH_INTSET, (long long)advice, (long long)w->st->dedupe_shards);
}
