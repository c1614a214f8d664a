/* runtime.c: the pipeline loop of `sqgate run` (SPEC 10). A turn polls a
 * batch, runs the chain over it, produces every output and waits for its
 * delivery reports, then runs its Redis steps (one per partition, or one
 * for all of them, on a step thread: step_worker.c), then commits. Up to
 * SQ_TURNS_MAX turns on disjoint partitions overlap: while one waits for
 * Kafka and Redis, the next one's chain runs; the loop sleeps on one
 * wake-up (wake.h) that whatever a turn waits for signals. Any infrastructure failure
 * pauses consumption and retries with backoff; nothing is committed past
 * an unfinished message. */
#include "runtime.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "closer.h"
#include "faults.h"
#include "dedupe_watch.h"
#include "json_arena.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "offset_probe.h"
#include "offsets.h"
#include "read_worker.h"
#include "reaper.h"
#include "redis_link.h"
#include "step_worker.h"
#include "ttl_memo.h"
#include "store_redis.h"
#include "wake.h"

#define SQ_RUNTIME_MAGIC 0x53515254u /* "SQRT" */

/* sq_output.delivered states, kept by this file. */
enum { SQ_OUT_PENDING = 0, SQ_OUT_DONE = 1, SQ_OUT_IN_FLIGHT = 2, SQ_OUT_FAILED = 3,
       SQ_OUT_REJECTED = 4 };

/* One partition's part of a turn. */
struct sq_turn_part {
    struct sq_part *part;
    struct sq_batch batch;
    struct sq_fetched *fetched;  /* owned messages, batch.msgs borrow from them */
    size_t n;
    bool dropped;                /* revoked or fenced: not committed; counted only
                                  * when a step sent before applied it */
    bool step_unknown;           /* a step was sent but its reply was lost */
};

/* A turn's phases: its chain's read in flight (the chain's first part ran
 * in sq_turn_start), the rest of its chain running, its outputs produced
 * and their delivery reports awaited, its Redis step, done. */
enum sq_turn_phase { SQ_TURN_READ, SQ_TURN_CHAIN, SQ_TURN_PRODUCE, SQ_TURN_WAIT, SQ_TURN_REDIS,
                     SQ_TURN_DONE };

struct sq_turn {
    struct sq_turn_part *tp;
    size_t n;
    enum sq_turn_phase phase;
    /* the chain between sq_chain_begin and sq_chain_finish: every
     * partition's messages in one batch, and what the rest reads */
    struct sq_batch all;
    struct sq_store_reads reads;
    size_t resume;
    bool read_submitted;         /* on the read thread */
    bool read_done;              /* answered: read_rc, read_err */
    int read_rc;
    struct sq_err read_err;
    size_t outstanding;          /* outputs awaiting a delivery report */
    int64_t retry_at;            /* monotonic ms; 0 = now */
    int64_t backoff_ms;
    int64_t wait_since;          /* monotonic ms the delivery wait began */
    int64_t started_us, produced_us, delivered_us; /* monotonic: the phases' times */
    /* the Redis step, while it is prepared or on the step thread */
    struct sq_redis_step *steps;
    size_t *step_of;             /* steps[s] belongs to tp[step_of[s]] */
    size_t ns;
    struct sq_state_ops sums;    /* KPI sums over all the steps (sq_redis_run_steps) */
    bool step_submitted;
    size_t stepper;              /* the step thread it was handed to */
};

/* Turns in flight at once: one runs its chain while the others wait for
 * delivery reports and their Redis steps. Their partitions never overlap.
 * Three kept the main thread and Redis busier than two (about 12 % more
 * events/s saturated, docs/performance.md). */
#define SQ_TURNS_MAX 3

/* The least batch a turn gives a busy partition (see sq_turn_start). */
#define SQ_MIN_SHARE 100

/* A turn this long, start to Redis steps applied, is logged at debug level
 * with its phases (docs/operations.md, "Threads and slow turns"). */
#define SQ_SLOW_TURN_US 50000

/* A produce not acknowledged for this long counts as failing: consumption
 * pauses and /readyz says so until the deliveries come. */
#define SQ_PRODUCE_SLOW_MS 5000

struct sq_runtime {
    unsigned magic;
    const struct sq_settings *st;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    struct sq_redis *redis;
    struct sq_store_redis store;
    struct sq_chain *chain;
    struct sq_closer *closer;    /* window close (SPEC 6); NULL with kpi.enabled false */
    struct sq_dedupe_watch *dedupe_watch; /* NULL with dedupe.check_s 0 */
    int64_t max_event_ms;        /* the greatest event time of a step applied, -1 */
    /* the chain's running totals already in their metrics (sq_rt_count_total) */
    uint64_t too_late_counted, profile_lookups_counted, profile_misses_counted;
    struct sq_parts parts;
    struct sq_turn *turns[SQ_TURNS_MAX]; /* in start order */
    size_t nturns;
    unsigned next_lane;          /* the lane the next turn prefers (sq_rt_pick_parts) */
    /* run the Redis steps, each on its own thread and connection: one per
     * turn in flight, so that one turn's step is built and sent while
     * Redis runs the other's */
    struct sq_step_worker *steppers[SQ_TURNS_MAX];
    struct sq_ttl_memo *ttl_memo;          /* shared by the steppers' links */
    /* runs the turns' chain reads, one at a time, on its own connection */
    struct sq_read_worker *reader;
    /* frees finished turns off the main thread (sq_turns_reap) */
    struct sq_reaper *reaper;
    /* what the loop sleeps on between rounds: the read and step threads
     * and the producer's delivery reports signal it (wake.h) */
    struct sq_wake *wake;
    bool in_chain;               /* a chain runs: its yields finish no other */
    bool timers_resync;          /* a turn part was dropped unapplied: the timers it
                                  * fired go back into memory once no turn is in
                                  * flight (sq_rt_start_turn) */
    bool assigned_once;
    bool paused;                 /* consumption paused by backpressure */
    char pause_reason[256];
    bool shutting_down;
    bool fatal;
    int64_t last_commit_mono;
    int64_t last_metrics_mono;
    int64_t loop_mono_us;        /* the loop's last pass (sq_rt_count_idle_behind) */
    bool idle_behind;            /* that pass found the gateway idle behind */
    int64_t backoff_ms;          /* for partition init retries */
    int64_t init_retry_at;
    bool init_paused;            /* paused because applied offsets could not be read */
    int64_t chain_backoff_ms;    /* a chain read failed: retry the turn then */
    int64_t chain_retry_at;
    bool kafka_down;             /* librdkafka said every broker is down */
    struct sq_offset_probe *probe; /* broker watermarks and committed offsets */
    uint64_t assign_gen;         /* assignments so far (sq_part.assign_gen) */
    uint64_t probe_gen;          /* assign_gen when the probe's request was sent */
    int64_t start_retry_at;      /* next ask for committed offsets (sq_rt_probe_want) */
};

static struct sq_runtime *sq_rt_of(rd_kafka_t *rk)
{
    struct sq_runtime *rt = rd_kafka_opaque(rk);
    if (!rt || rt->magic != SQ_RUNTIME_MAGIC) {
        fprintf(stderr, "sqgate: BUG: bad runtime opaque\n");
        abort();
    }
    return rt;
}

static int64_t sq_backoff_next(int64_t cur, const struct sq_settings *st)
{
    int64_t next = cur ? cur * 2 : 100;
    return next > st->backoff_max_ms ? st->backoff_max_ms : next;
}

/* Moves a partition's fetch position; the end the fetcher reported no
 * longer holds (sq_part_stalled). Returns the partition's error. */
static rd_kafka_resp_err_t sq_rt_seek(struct sq_runtime *rt, struct sq_part *p, int64_t offset)
{
    p->eof_offset = -1;
    return sq_kafka_seek(rt->consumer, p->topic, p->partition, offset);
}

/* Takes p out of this consumer's assignment and puts it back at offset,
 * without the group (librdkafka allows both outside a rebalance): a new
 * fetcher for a partition whose fetch a resume and a seek did not start.
 * Its pause flag is cleared first, as at a revocation: librdkafka keeps it
 * across unassign and assign, and a resume right after an assignment is
 * what can leave a fetch unstarted (sq_rt_on_assign). false, with a
 * warning, when librdkafka refused the assignment. */
static bool sq_rt_reassign(struct sq_runtime *rt, struct sq_part *p, int64_t offset)
{
    sq_kafka_pause_one(rt->consumer, p->topic, p->partition, false);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_error_t *e = rd_kafka_incremental_unassign(rt->consumer, l);
    if (e) {
        /* e.g. not in the assignment after an earlier failed assign */
        sq_warn("%s/%d: re-assignment: unassign: %s", p->topic, (int)p->partition,
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    l->elems[0].offset = offset;
    e = rd_kafka_incremental_assign(rt->consumer, l);
    bool ok = !e;
    if (e) {
        sq_warn("%s/%d: re-assignment at offset %lld refused: %s", p->topic, (int)p->partition,
                (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        sq_info("%s/%d re-assigned at offset %lld", p->topic, (int)p->partition,
                (long long)offset);
    }
    rd_kafka_topic_partition_list_destroy(l);
    p->eof_offset = -1;
    p->wedged_by_fault = false;
    return ok;
}

/* ---- readiness and backpressure ---------------------------------------- */

/* The first partition held past_end (sq_rt_check_past_end) as /readyz's
 * reason in buf; false when none is. */
static bool sq_rt_past_end_reason(struct sq_runtime *rt, char *buf, size_t n)
{
    for (size_t i = 0; i < rt->parts.n; i++) {
        const struct sq_part *p = rt->parts.v[i];
        if (!p->past_end)
            continue;
        int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(rt->consumer, p->topic, p->partition, &lo, &hi);
        snprintf(buf, n,
                 "%s/%d: applied offset %lld past the partition's end %lld (topic recreated?): "
                 "sqgate reset-offsets --group %s --topic %s",
                 p->topic, (int)p->partition, (long long)p->applied, (long long)hi,
                 rt->st->group_id, p->topic);
        return true;
    }
    return false;
}

static void sq_rt_update_ready(struct sq_runtime *rt)
{
    if (rt->fatal)
        return;
    char past_end[512];
    if (!rt->assigned_once)
        sq_metrics_set_ready(false, "not yet assigned by the consumer group");
    else if (rt->paused)
        sq_metrics_set_ready(false, rt->pause_reason);
    else if (sq_rt_past_end_reason(rt, past_end, sizeof past_end))
        sq_metrics_set_ready(false, past_end);
    else
        sq_metrics_set_ready(true, NULL);
    sq_metrics_set_paused(rt->paused);
}

static void sq_rt_set_pause(struct sq_runtime *rt, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)rt->parts.n);
    for (size_t i = 0; i < rt->parts.n; i++) {
        struct sq_part *p = rt->parts.v[i];
        if (!pause && (p->need_init || p->past_end))
            continue; /* stays paused until its applied offset is known, or for good */
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    }
    if (l->cnt) {
        if (pause)
            rd_kafka_pause_partitions(rt->consumer, l);
        else
            rd_kafka_resume_partitions(rt->consumer, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Backpressure: stop fetching and say why on /readyz. */
static void sq_rt_pause(struct sq_runtime *rt, const char *why)
{
    snprintf(rt->pause_reason, sizeof rt->pause_reason, "paused: %s", why);
    if (!rt->paused) {
        sq_warn("pausing consumption: %s", why);
        rt->paused = true;
        sq_rt_set_pause(rt, true);
    }
    sq_rt_update_ready(rt);
}

static void sq_rt_resume(struct sq_runtime *rt)
{
    if (!rt->paused)
        return;
    rt->paused = false;
    if (!rt->shutting_down) {
        sq_info("resuming consumption");
        sq_rt_set_pause(rt, false);
    }
    sq_rt_update_ready(rt);
}

/* ---- turns ------------------------------------------------------------- */

/* Releases a turn's prepared Redis step (not while on the step thread). */
static void sq_turn_steps_free(struct sq_turn *t)
{
    for (size_t s = 0; s < t->ns; s++) {
        free((char *)t->steps[s].offset_key);
        free(t->steps[s].dups);
    }
    free(t->steps);
    free(t->step_of);
    t->steps = NULL;
    t->step_of = NULL;
    t->ns = 0;
    sq_state_ops_fini(&t->sums);
}

static void sq_turn_split(struct sq_turn *t);

static void sq_turn_free(struct sq_turn *t)
{
    if (!t)
        return;
    sq_turn_split(t);
    sq_store_reads_fini(&t->reads);
    sq_turn_steps_free(t);
    for (size_t i = 0; i < t->n; i++) {
        sq_batch_fini(&t->tp[i].batch);
        for (size_t j = 0; j < t->tp[i].n; j++)
            rd_kafka_message_destroy(t->tp[i].fetched[j].rkm);
        free(t->tp[i].fetched);
    }
    sq_json_arena_free(t->all.json_arena); /* after the trees in it */
    free(t->tp);
    free(t);
}

static void sq_msg_init_from(struct sq_msg *m, const struct sq_part *p, const rd_kafka_message_t *rkm)
{
    memset(m, 0, sizeof *m);
    m->topic = p->topic;
    m->partition = p->partition;
    m->offset = rkm->offset;
    m->key = rkm->key;
    m->key_len = rkm->key_len;
    m->value = rkm->payload;
    m->value_len = rkm->len;
    m->default_schema = p->default_schema;
    m->step_event_ms = -1;
    snprintf(m->source, sizeof m->source, "%s/%d/%lld", p->topic, (int)p->partition,
             (long long)rkm->offset);
}

/* A partition in a turn in flight waits for that turn to end: a
 * partition's messages are applied in offset order, one turn at a time. */
static bool sq_rt_part_busy(const struct sq_runtime *rt, const struct sq_part *p)
{
    for (size_t k = 0; k < rt->nturns; k++)
        for (size_t i = 0; i < rt->turns[k]->n; i++)
            if (rt->turns[k]->tp[i].part == p)
                return true;
    return false;
}

/* sq_batch.part_idle: topic/partition is held and no turn in flight has
 * it, so its state in Redis is what its last step left. */
static bool sq_rt_part_idle(void *arg, const char *topic, int32_t partition)
{
    const struct sq_runtime *rt = arg;
    for (size_t i = 0; i < rt->parts.n; i++) {
        const struct sq_part *p = rt->parts.v[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return !sq_rt_part_busy(rt, p);
    }
    return false;
}

/* Which partitions the next turn takes (ok[i] for rt->parts.v[i]); false
 * when none has work. The partitions form SQ_TURNS_MAX lanes by position
 * (i % SQ_TURNS_MAX) and turns take the lanes in turn, so a turn leaves
 * the other lanes to the turns that overlap it; a lane without work yields
 * to the next. */
static bool sq_rt_pick_parts(struct sq_runtime *rt, bool *ok)
{
    bool any[SQ_TURNS_MAX] = {false};
    bool some = false;
    for (size_t i = 0; i < rt->parts.n; i++) {
        const struct sq_part *p = rt->parts.v[i];
        ok[i] = p->backlog_n && !p->need_init && !sq_rt_part_busy(rt, p);
        any[i % SQ_TURNS_MAX] |= ok[i];
        some |= ok[i];
    }
    if (!some)
        return false;
    unsigned lane = rt->next_lane % SQ_TURNS_MAX;
    while (!any[lane])
        lane = (lane + 1) % SQ_TURNS_MAX;
    for (size_t i = 0; i < rt->parts.n; i++)
        if (i % SQ_TURNS_MAX != lane)
            ok[i] = false;
    rt->next_lane = (lane + 1) % SQ_TURNS_MAX;
    return true;
}

/* Moves up to batch_max_messages fetched messages of the partitions ok
 * names into a new turn and runs the chain over them. */
/* A turn's share of runtime.batch_max_messages: every turn that can
 * overlap (one per lane with partitions: sq_rt_pick_parts) takes an equal
 * one. */
static size_t sq_rt_turn_share(const struct sq_runtime *rt)
{
    size_t lanes = rt->parts.n < SQ_TURNS_MAX ? rt->parts.n : SQ_TURNS_MAX;
    size_t share = (size_t)rt->st->batch_max_messages / (lanes ? lanes : 1);
    return share ? share : 1;
}

/* Gives each partition batch its messages from the turn's one batch. */
static void sq_turn_split(struct sq_turn *t)
{
    if (!t->all.msgs)
        return;
    for (size_t i = 0, at = 0; i < t->n; at += t->tp[i].n, i++) {
        struct sq_batch *b = &t->tp[i].batch;
        b->msgs = sq_xmalloc((b->n ? b->n : 1) * sizeof *b->msgs);
        memcpy(b->msgs, t->all.msgs + at, b->n * sizeof *b->msgs);
    }
    free(t->all.msgs);
    t->all.msgs = NULL;
    sq_state_ops_fini(&t->all.ops);
}

/* The turn's chain ended with rc: its partition batches take their
 * messages; after a failure the messages go back to the front of their
 * partitions' backlog, so nothing is lost (a later turn runs them again),
 * and the turn holds none. */
static void sq_turn_chain_end(struct sq_turn *t, int rc)
{
    sq_turn_split(t);
    if (rc == SQ_OK)
        return;
    for (size_t k = 0; k < t->n; k++) {
        struct sq_turn_part *tp = &t->tp[k];
        struct sq_part *p = tp->part;
        if (p && !tp->dropped) {
            if (p->backlog_n + tp->n > p->backlog_cap) {
                p->backlog_cap = p->backlog_n + tp->n;
                p->backlog = sq_xrealloc(p->backlog, p->backlog_cap * sizeof *p->backlog);
            }
            memmove(p->backlog + tp->n, p->backlog, p->backlog_n * sizeof *p->backlog);
            memcpy(p->backlog, tp->fetched, tp->n * sizeof *tp->fetched);
            p->backlog_n += tp->n;
        } else {
            for (size_t j = 0; j < tp->n; j++)
                rd_kafka_message_destroy(tp->fetched[j].rkm);
        }
        tp->n = 0;
    }
}

/* A chain failed (its read or a processor): fatal stops the gateway;
 * otherwise consumption pauses until the retry time, with backoff. */
static void sq_rt_chain_failed(struct sq_runtime *rt, const struct sq_err *err)
{
    if (err->kind == SQ_ERR_FATAL) {
        sq_error("chain: %s", err->msg);
        rt->fatal = true;
        return;
    }
    sq_metrics_inc(SQ_M_REDIS_ERRORS, 1);
    rt->chain_backoff_ms = sq_backoff_next(rt->chain_backoff_ms, rt->st);
    rt->chain_retry_at = sq_mono_ms() + rt->chain_backoff_ms;
    sq_rt_pause(rt, err->msg);
}

static struct sq_turn *sq_turn_start(struct sq_runtime *rt, const bool *ok, struct sq_err *err)
{
    struct sq_turn *t = sq_xcalloc(1, sizeof *t);
    t->started_us = sq_mono_us();
    t->tp = sq_xcalloc(rt->parts.n ? rt->parts.n : 1, sizeof *t->tp);
    /* runtime.batch_max_messages bounds the messages of every turn in
     * flight together: each of the turns that can overlap (one per lane
     * with partitions: sq_rt_pick_parts) takes an equal share. The
     * partitions whose oldest message waits longest come first, each with
     * an equal share of the turn's budget but at least SQ_MIN_SHARE
     * messages when they have them; what they leave goes to the others in
     * the same order. With many busy partitions a turn takes fewer of them
     * with larger batches: a turn's step sums its KPI increments, so its
     * Redis work per event falls as its batches grow. */
    size_t budget = sq_rt_turn_share(rt), ready = 0;
    size_t *want = sq_xcalloc(rt->parts.n ? rt->parts.n : 1, sizeof *want);
    size_t *order = sq_xcalloc(rt->parts.n ? rt->parts.n : 1, sizeof *order);
    for (size_t i = 0; i < rt->parts.n; i++) {
        if (!ok[i])
            continue;
        int64_t age = rt->parts.v[i]->backlog[0].fetched_mono_ms;
        size_t k = ready++;
        while (k > 0 && rt->parts.v[order[k - 1]]->backlog[0].fetched_mono_ms > age) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    size_t share = ready ? (budget + ready - 1) / ready : 0;
    size_t min_share = budget / 4 < SQ_MIN_SHARE ? budget / 4 : SQ_MIN_SHARE;
    if (share < min_share)
        share = min_share;
    for (size_t r = 0; r < ready && budget; r++) {
        size_t i = order[r];
        struct sq_part *p = rt->parts.v[i];
        want[i] = p->backlog_n < share ? p->backlog_n : share;
        if (want[i] > budget)
            want[i] = budget;
        budget -= want[i];
    }
    for (size_t r = 0; r < ready && budget; r++) {
        size_t i = order[r];
        struct sq_part *p = rt->parts.v[i];
        size_t more = p->backlog_n - want[i] < budget ? p->backlog_n - want[i] : budget;
        want[i] += more;
        budget -= more;
    }
    free(order);
    /* One chain run over the messages of all the turn's partitions (each
     * partition's in offset order), so that every processor reads what it
     * needs for all of them in one Redis round trip; then each partition's
     * batch takes its messages (the step thread builds its ops). The
     * chain's first part runs here; its read goes to the read thread and
     * the rest runs once it is answered (sq_turn_finish_chain), while this
     * thread serves the other turns. */
    size_t total = 0;
    for (size_t i = 0; i < rt->parts.n; i++)
        total += want[i];
    t->all = (struct sq_batch){.partition = -1, .store = &rt->store.base, .n = total,
                               .json_arena = sq_json_arena_new(),
                               .part_idle = sq_rt_part_idle, .part_idle_arg = rt};
    t->all.msgs = sq_xmalloc((total ? total : 1) * sizeof *t->all.msgs);
    for (size_t i = 0, at = 0; i < rt->parts.n; i++) {
        struct sq_part *p = rt->parts.v[i];
        if (!want[i])
            continue;
        size_t take = want[i];
        struct sq_turn_part *tp = &t->tp[t->n++];
        tp->part = p;
        tp->n = take;
        tp->fetched = sq_xmalloc(take * sizeof *tp->fetched);
        memcpy(tp->fetched, p->backlog, take * sizeof *tp->fetched);
        memmove(p->backlog, p->backlog + take, (p->backlog_n - take) * sizeof *p->backlog);
        p->backlog_n -= take;
        tp->batch.topic = p->topic;
        tp->batch.store = &rt->store.base;
        tp->batch.partition = p->partition;
        tp->batch.n = take;
        for (size_t j = 0; j < take; j++)
            sq_msg_init_from(&t->all.msgs[at + j], p, tp->fetched[j].rkm);
        at += take;
    }
    free(want);
    rt->in_chain = true;
    int rc = sq_chain_begin(rt->chain, &t->all, &t->reads, &t->resume, err);
    rt->in_chain = false;
    if (rc != SQ_OK) {
        sq_turn_chain_end(t, rc);
        sq_turn_free(t);
        return NULL;
    }
    t->phase = SQ_TURN_READ;
    return t;
}

/* Whether t may finish its chain now: no chain runs, and every turn that
 * started before it has finished its own (the chain sees batches in the
 * order they began). */
static bool sq_turn_chain_next(const struct sq_runtime *rt, const struct sq_turn *t)
{
    if (rt->in_chain)
        return false;
    for (size_t k = 0; k < rt->nturns && rt->turns[k] != t; k++)
        if (rt->turns[k]->phase == SQ_TURN_READ || rt->turns[k]->phase == SQ_TURN_CHAIN)
            return false;
    return true;
}

/* The turn's chain read: handed to the read thread, then collected once
 * it has ended (the thread's end wakes the loop). true once it is answered
 * (or failed: read_rc). */
static bool sq_turn_read(struct sq_runtime *rt, struct sq_turn *t)
{
    if (t->read_done)
        return true;
    if (!t->reads.n) {
        t->read_done = true;
        t->read_rc = SQ_OK;
        return true;
    }
    if (!t->read_submitted) {
        if (!sq_read_worker_submit(rt->reader, &t->reads))
            return false; /* another turn's read is on the thread */
        t->read_submitted = true;
    }
    if (!sq_read_worker_collect(rt->reader, 0, &t->read_rc, &t->read_err))
        return false;
    t->read_submitted = false;
    t->read_done = true;
    return true;
}

/* A turn's trees and the arena their events were parsed into. */
struct sq_trees_item {
    json_t *trees;
    struct sq_json_arena *arena;
};

static void sq_trees_item_free(void *item)
{
    struct sq_trees_item *ti = item;
    json_decref(ti->trees); /* frees what was added to them after the parse */
    sq_json_arena_free(ti->arena);
    free(ti);
}

/* Once a turn's chain is done, its messages' outputs are text and their
 * ops own their strings; of the jansson trees (the event, its breach, timer
 * and KPI records) only the step's event time is read later. That is kept
 * and the trees go to the reaper, so a message waiting for its delivery
 * reports and its step no longer holds them. */
static void sq_turn_release_trees(struct sq_runtime *rt, struct sq_turn *t)
{
    json_t *trees = json_array();
    for (size_t i = 0; i < t->n; i++) {
        struct sq_batch *b = &t->tp[i].batch;
        for (size_t j = 0; j < b->n; j++) {
            struct sq_msg *m = &b->msgs[j];
            /* SPEC 6: the partition's greatest applied event time (profiles
             * do not count), kept by the step for the shared watermark */
            m->step_event_ms = m->verdict == SQ_VERDICT_PROCESSED && m->event && m->schema &&
                                       strcmp(m->schema, "profile.v1") != 0
                                   ? sq_msg_event_time(m)
                                   : -1;
            json_t **own[] = {&m->event, &m->breach_records, &m->timer_records, &m->kpi_records};
            for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) {
                if (*own[k])
                    json_array_append_new(trees, *own[k]);
                *own[k] = NULL;
            }
            m->customer_id = NULL; /* it pointed into the event */
        }
    }
    struct sq_trees_item *ti = sq_xmalloc(sizeof *ti);
    ti->trees = trees;
    ti->arena = t->all.json_arena;
    t->all.json_arena = NULL;
    sq_reaper_add(rt->reaper, sq_trees_item_free, ti);
}

/* The rest of the turn's chain, over what its read answered. false when
 * the read or a processor failed: the turn's messages went back to their
 * partitions' backlog (run again by a later turn) and it is done. */
static bool sq_turn_finish_chain(struct sq_runtime *rt, struct sq_turn *t)
{
    struct sq_err err = t->read_err;
    int rc = t->read_rc;
    t->phase = SQ_TURN_CHAIN;
    if (rc == SQ_OK) {
        rt->in_chain = true;
        sq_store_redis_install(&rt->store, &t->reads);
        rc = sq_chain_finish(rt->chain, &t->all, t->resume, &err);
        sq_store_redis_install(&rt->store, NULL);
        rt->in_chain = false;
    }
    sq_store_reads_fini(&t->reads);
    sq_turn_chain_end(t, rc);
    if (rc == SQ_OK) {
        sq_turn_release_trees(rt, t);
        t->phase = SQ_TURN_PRODUCE;
        rt->chain_backoff_ms = 0;
        return true;
    }
    t->phase = SQ_TURN_DONE;
    sq_rt_chain_failed(rt, &err);
    return false;
}

static bool sq_err_is_permanent(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           e == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
           e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
           e == RD_KAFKA_RESP_ERR_INVALID_MSG ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

static rd_kafka_resp_err_t sq_produce_one(struct sq_runtime *rt, struct sq_output *o,
                                          const char *source)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, "sq-schema", -1, o->schema, -1);
    rd_kafka_header_add(h, "sq-source", -1, o->source ? o->source : source, -1);
    if (o->error) {
        rd_kafka_header_add(h, "sq-error", -1, o->error, -1);
        rd_kafka_header_add(h, "sq-error-detail", -1, o->error_detail ? o->error_detail : "", -1);
    }
    if (o->truncated)
        rd_kafka_header_add(h, "sq-truncated", -1, "true", -1);
    /* no copy: the output outlives its delivery report (its turn ends only
     * when every report is in, and sq_rt_release_outputs holds shutdown to
     * the same), so librdkafka sends the turn's own text */
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rt->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_MSGFLAGS(0),
        RD_KAFKA_V_KEY(o->key, o->key ? o->key_len : 0),
        RD_KAFKA_V_VALUE(o->value, o->value ? o->value_len : 0), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);
    if (e)
        rd_kafka_headers_destroy(h);
    return e;
}

/* Produces every output not yet delivered or in flight. Returns false when
 * the local queue stays full (try again later). */
static bool sq_turn_produce(struct sq_runtime *rt, struct sq_turn *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct sq_turn_part *tp = &t->tp[i];
        if (tp->dropped)
            continue;
        for (size_t j = 0; j < tp->batch.n; j++) {
            struct sq_msg *m = &tp->batch.msgs[j];
            for (size_t k = 0; k < m->outputs_n; k++) {
                struct sq_output *o = &m->outputs[k];
                if (o->delivered != SQ_OUT_PENDING && o->delivered != SQ_OUT_FAILED)
                    continue;
                rd_kafka_resp_err_t e;
                int spins = 0;
                o->owner = t;
                while ((e = sq_produce_one(rt, o, m->source)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rt->producer, 10);
                    if (++spins > 500)
                        return false;
                }
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    o->delivered = SQ_OUT_IN_FLIGHT;
                    t->outstanding++;
                } else {
                    o->err = e;
                    o->delivered = sq_err_is_permanent(e) ? SQ_OUT_REJECTED : SQ_OUT_FAILED;
                    sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
                }
            }
        }
    }
    return true;
}

static void sq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct sq_output *o = rkm->_private; /* owner: its turn (sq_turn_produce) */
    struct sq_turn *t = o ? o->owner : NULL;
    if (!t)
        return;
    o->owner = NULL;
    t->outstanding--;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        o->delivered = SQ_OUT_DONE;
        sq_metrics_inc(SQ_M_OUTPUTS, 1);
    } else {
        o->err = rkm->err;
        o->delivered = sq_err_is_permanent(rkm->err) ? SQ_OUT_REJECTED : SQ_OUT_FAILED;
        sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
    }
}

/* After every delivery report of the turn: permanent rejections turn the
 * input into a DLQ message (a rejected DLQ copy goes again, truncated);
 * transient failures are produced again after a backoff. Returns true when
 * every output is delivered. */
static bool sq_turn_review_deliveries(struct sq_runtime *rt, struct sq_turn *t)
{
    bool all_done = true, transient = false;
    for (size_t i = 0; i < t->n; i++) {
        struct sq_turn_part *tp = &t->tp[i];
        if (tp->dropped)
            continue;
        for (size_t j = 0; j < tp->batch.n; j++) {
            struct sq_msg *m = &tp->batch.msgs[j];
            for (size_t k = 0; k < m->outputs_n; k++) {
                struct sq_output *o = &m->outputs[k];
                if (o->delivered == SQ_OUT_DONE)
                    continue;
                all_done = false;
                if (o->delivered == SQ_OUT_FAILED) {
                    transient = true;
                    sq_metrics_inc(SQ_M_PRODUCE_RETRIES, 1);
                } else if (o->delivered == SQ_OUT_REJECTED) {
                    const char *why = rd_kafka_err2str(o->err);
                    if (o->error && !o->truncated) {
                        sq_warn("%s: DLQ copy rejected by the broker (%s): sending it truncated",
                                m->source, why);
                        free(o->value);
                        o->value = NULL;
                        o->value_len = 0;
                        o->truncated = true;
                        o->delivered = SQ_OUT_PENDING;
                    } else if (o->error) {
                        sq_error("%s: truncated DLQ copy rejected too (%s): retrying", m->source,
                                 why);
                        o->delivered = SQ_OUT_FAILED;
                        transient = true;
                    } else {
                        sq_warn("%s: output to %s rejected by the broker (%s): input goes to "
                                "the DLQ as output_rejected", m->source, o->topic, why);
                        char detail[256];
                        snprintf(detail, sizeof detail, "output to %s rejected: %s", o->topic, why);
                        sq_chain_reject_output(rt->chain, &tp->batch, j, detail);
                        k = m->outputs_n; /* outputs were replaced */
                    }
                }
            }
        }
    }
    if (transient) {
        t->backoff_ms = sq_backoff_next(t->backoff_ms, rt->st);
        t->retry_at = sq_mono_ms() + t->backoff_ms;
        sq_rt_pause(rt, "kafka produce failing");
    }
    return all_done;
}

/* Wall-clock time in seconds, to compare with Kafka message timestamps. */
static double sq_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds the turn's Redis steps, one per partition batch (their ops and
 * the turn's KPI sums come from sq_turn_assemble): sq_redis_run_steps sends
 * them as one script when each would apply in full, else one by one in a
 * pipeline. The steps copy what they need of each partition, which a lost
 * assignment may free while they run. */
static void sq_turn_redis_prepare(struct sq_turn *t)
{
    t->steps = sq_xcalloc(t->n ? t->n : 1, sizeof *t->steps);
    t->step_of = sq_xcalloc(t->n ? t->n : 1, sizeof *t->step_of);
    t->ns = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct sq_turn_part *tp = &t->tp[i];
        if (tp->dropped || !tp->n || !tp->part)
            continue;
        /* the greatest event time the messages count (sq_turn_release_trees) */
        int64_t maxev = -1;
        for (size_t j = 0; j < tp->batch.n; j++) {
            const struct sq_msg *m = &tp->batch.msgs[j];
            if (m->verdict == SQ_VERDICT_PROCESSED && m->step_event_ms > maxev)
                maxev = m->step_event_ms;
        }
        t->steps[t->ns] = (struct sq_redis_step){
            .offset_key = sq_xstrdup(tp->part->offset_key),
            .expected = tp->part->applied,
            .last = tp->fetched[tp->n - 1].rkm->offset,
            .max_event_ms = maxev,
            .ops = &tp->batch.ops,
        };
        t->step_of[t->ns++] = i;
    }
}

/* On the step thread, before the turn's steps go (sq_step_worker_submit):
 * each partition batch's ops and the KPI sums of all the steps' messages,
 * for the one script that applies the whole turn when each step would
 * apply in full. The main thread does not touch the batches meanwhile. */
static void sq_turn_assemble(void *arg)
{
    struct sq_turn *t = arg;
    struct sq_batch **batches = sq_xcalloc(t->ns ? t->ns : 1, sizeof *batches);
    for (size_t s = 0; s < t->ns; s++) {
        batches[s] = &t->tp[t->step_of[s]].batch;
        sq_batch_assemble_message_ops(batches[s]);
    }
    sq_state_ops_reset(&t->sums);
    sq_batches_sum_ops(batches, t->ns, &t->sums);
    free(batches);
}

/* Adds to metric m what the chain's running total has grown by since
 * *counted, which it then becomes. */
static void sq_rt_count_total(enum sq_metric m, uint64_t total, uint64_t *counted)
{
    if (total > *counted)
        sq_metrics_inc(m, total - *counted);
    *counted = total;
}

/* The metrics of a partition batch whose step applied: its messages are
 * finished; and the greatest event time applied (the dedupe check's). */
static void sq_turn_part_account(struct sq_runtime *rt, struct sq_turn_part *tp,
                                 const struct sq_redis_step *st, int64_t now, double wall)
{
    if (st->ndups)
        sq_batch_mark_duplicates(&tp->batch, st->dups, st->ndups);
    struct sq_chain_stats d;
    sq_chain_account(rt->chain, &tp->batch, &d);
    sq_metrics_inc(SQ_M_CONSUMED, d.consumed);
    sq_metrics_inc(SQ_M_PROCESSED, d.processed);
    sq_metrics_inc(SQ_M_DUPLICATES, d.duplicates);
    for (int r = 0; r < SQ_DLQ__COUNT; r++)
        if (d.dlq[r])
            sq_metrics_dlq_inc((enum sq_dlq_reason)r, d.dlq[r]);
    for (size_t j = 0; j < tp->n; j++) {
        const rd_kafka_message_t *rkm = tp->fetched[j].rkm;
        sq_metrics_observe_latency((double)(now - tp->fetched[j].fetched_mono_ms) / 1000.0);
        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
        if (ts > 0)
            sq_metrics_observe_end_to_end(wall - (double)ts / 1000.0);
    }
    sq_metrics_inc(SQ_M_BATCHES, 1);
    if (st->max_event_ms > rt->max_event_ms)
        rt->max_event_ms = st->max_event_ms;
    uint64_t lookups, misses;
    sq_chain_profile_cache_counts(rt->chain, &lookups, &misses);
    sq_rt_count_total(SQ_M_TOO_LATE, sq_chain_too_late_total(rt->chain), &rt->too_late_counted);
    sq_rt_count_total(SQ_M_PROFILE_LOOKUPS, lookups, &rt->profile_lookups_counted);
    sq_rt_count_total(SQ_M_PROFILE_MISSES, misses, &rt->profile_misses_counted);
    sq_metrics_set_timers_armed(sq_chain_timers_armed(rt->chain));
}

/* The turn's Redis step: prepared here, run by the step thread, its
 * outcome applied here. Returns true when the step is done; false while
 * it runs (its end wakes the loop) or after a failure (retried later). */
static bool sq_turn_redis(struct sq_runtime *rt, struct sq_turn *t)
{
    if (!t->steps)
        sq_turn_redis_prepare(t);
    struct sq_err err;
    sq_err_clear(&err);
    int rc = SQ_OK;
    if (t->ns) {
        if (!t->step_submitted) {
            size_t k = 0;
            while (k < SQ_TURNS_MAX && !sq_step_worker_submit(rt->steppers[k], t->steps, t->ns,
                                                               &t->sums, sq_turn_assemble, t))
                k++;
            if (k == SQ_TURNS_MAX)
                return false; /* every step thread busy: another turn's step */
            t->stepper = k;
            t->step_submitted = true;
        }
        if (!sq_step_worker_collect(rt->steppers[t->stepper], 0, &rc, &err))
            return false;
        t->step_submitted = false;
    }
    if (rc != SQ_OK) {
        for (size_t s = 0; s < t->ns; s++)
            t->tp[t->step_of[s]].step_unknown = true;
        sq_metrics_inc(SQ_M_REDIS_ERRORS, 1);
        t->backoff_ms = sq_backoff_next(t->backoff_ms, rt->st);
        t->retry_at = sq_mono_ms() + t->backoff_ms;
        char why[400];
        snprintf(why, sizeof why, "redis unreachable: %s", err.msg);
        sq_rt_pause(rt, why);
        sq_turn_steps_free(t);
        return false;
    }
    SQ_FAULT("after_redis_step");
    int64_t now = sq_mono_ms();
    double wall = sq_wall_seconds();
    for (size_t s = 0; s < t->ns; s++) {
        struct sq_turn_part *tp = &t->tp[t->step_of[s]];
        struct sq_part *p = tp->part;
        struct sq_redis_step *st = &t->steps[s];
        bool ours = st->result == 1 || (st->result == 0 && tp->step_unknown && st->stored == st->last);
        if (!p || tp->dropped) {
            /* Revoked while the step ran. When it applied, its messages are
             * finished (outputs delivered, state written with the offset,
             * which the next owner resumes after): count them here, as
             * nobody else will. Otherwise the next owner reads them. */
            if (ours) {
                sq_turn_part_account(rt, tp, st, now, wall);
                /* the partition (and the topic name the batch borrowed from
                 * it) is gone; the turn's messages still name it */
                const rd_kafka_message_t *first = tp->fetched[0].rkm;
                sq_warn("%s/%d: revoked while its step ran; the step applied %zu messages, "
                        "counted here", rd_kafka_topic_name(first->rkt), (int)first->partition,
                        tp->n);
            }
            continue;
        }
        if (ours) {
            sq_turn_part_account(rt, tp, st, now, wall);
            sq_part_applied(p, st->last);
        } else if (st->result == 0) {
            /* Another instance applied these offsets already: our outputs
             * were repeats with the same ids; nothing to count. */
            sq_metrics_inc(SQ_M_SKIPPED, tp->n);
            rt->timers_resync = true; /* what our turn fired was not applied */
            sq_part_applied(p, st->stored);
            if (st->stored > st->last) {
                sq_part_backlog_clear(p);
                sq_rt_seek(rt, p, st->stored + 1);
            }
        } else {
            sq_warn("%s/%d: applied offset moved to %lld by another instance (expected %lld): "
                    "dropping in-flight work and seeking", p->topic, (int)p->partition,
                    (long long)st->stored, (long long)st->expected);
            sq_metrics_inc(SQ_M_FENCED, 1);
            tp->dropped = true;
            rt->timers_resync = true;
            p->applied = st->stored;
            sq_part_backlog_clear(p);
            sq_rt_seek(rt, p, st->stored + 1);
        }
    }
    sq_turn_steps_free(t);
    return true;
}

/* A turn that keeps consumption paused: waiting for its retry time, or
 * for delivery reports longer than SQ_PRODUCE_SLOW_MS. */
static bool sq_turn_failing(const struct sq_turn *t)
{
    return t->retry_at != 0 || (t->phase == SQ_TURN_WAIT && t->outstanding &&
                                sq_mono_ms() - t->wait_since > SQ_PRODUCE_SLOW_MS);
}

/* Whether a turn in flight other than except keeps consumption paused. */
static bool sq_rt_turn_failing(const struct sq_runtime *rt, const struct sq_turn *except)
{
    for (size_t k = 0; k < rt->nturns; k++)
        if (rt->turns[k] != except && sq_turn_failing(rt->turns[k]))
            return true;
    return false;
}

/* Whether every unfinished turn waits for its retry time (and some does):
 * nothing to do but sleep. */
static bool sq_rt_turns_backing_off(const struct sq_runtime *rt)
{
    bool any = false;
    for (size_t k = 0; k < rt->nturns; k++) {
        if (rt->turns[k]->phase == SQ_TURN_DONE)
            continue;
        if (!rt->turns[k]->retry_at)
            return false;
        any = true;
    }
    return any;
}

/* Where a finished turn's time went (sq_turn_*_microseconds_total). */
static void sq_turn_count_phases(const struct sq_turn *t)
{
    int64_t now = sq_mono_us();
    int64_t chain = t->produced_us - t->started_us, delivery = t->delivered_us - t->produced_us,
            redis = now - t->delivered_us;
    sq_metrics_inc(SQ_M_TURNS, 1);
    sq_metrics_inc(SQ_M_TURN_CHAIN_US, (uint64_t)chain);
    sq_metrics_inc(SQ_M_TURN_DELIVERY_US, (uint64_t)delivery);
    sq_metrics_inc(SQ_M_TURN_REDIS_US, (uint64_t)redis);
    if (now - t->started_us >= SQ_SLOW_TURN_US)
        sq_debug("slow turn: %zu messages, %zu partitions: chain %.1f ms, delivery wait %.1f ms, "
                 "Redis %.1f ms",
                 t->all.n, t->n, (double)chain / 1000.0, (double)delivery / 1000.0,
                 (double)redis / 1000.0);
}

/* Advances the turn as far as it can without waiting: whatever it waits
 * for signals rt->wake when it comes. */
static void sq_turn_advance(struct sq_runtime *rt, struct sq_turn *t)
{
    if (t->retry_at && sq_mono_ms() < t->retry_at) {
        rd_kafka_poll(rt->producer, 0);
        return;
    }
    t->retry_at = 0;
    switch (t->phase) {
    case SQ_TURN_READ:
        if (!sq_turn_read(rt, t) || !sq_turn_chain_next(rt, t))
            return;
        if (!sq_turn_finish_chain(rt, t))
            return;
        /* fall through */
    case SQ_TURN_PRODUCE:
        if (!sq_turn_produce(rt, t)) {
            t->retry_at = sq_mono_ms() + 50;
            return;
        }
        t->phase = SQ_TURN_WAIT;
        t->wait_since = sq_mono_ms();
        if (!t->produced_us)
            t->produced_us = sq_mono_us();
        /* fall through */
    case SQ_TURN_WAIT:
        rd_kafka_poll(rt->producer, 0);
        if (t->outstanding) {
            if (sq_mono_ms() - t->wait_since > SQ_PRODUCE_SLOW_MS)
                sq_rt_pause(rt, "kafka produce not acknowledged for 5 s");
            return;
        }
        if (!sq_turn_review_deliveries(rt, t)) {
            t->phase = SQ_TURN_PRODUCE;
            return;
        }
        SQ_FAULT("after_produce");
        t->phase = SQ_TURN_REDIS;
        t->delivered_us = sq_mono_us();
        /* fall through */
    case SQ_TURN_REDIS:
        if (!sq_turn_redis(rt, t))
            return;
        t->phase = SQ_TURN_DONE;
        sq_turn_count_phases(t);
        if (rt->paused) {
            /* the pause of a failing turn ends with that turn */
            if (!sq_rt_turn_failing(rt, t) && !rt->kafka_down)
                sq_rt_resume(rt);
        }
        return;
    case SQ_TURN_CHAIN: /* its chain runs: this is one of its yields */
    case SQ_TURN_DONE:
        return;
    }
}

/* Joins the step threads (waiting for a step still on one) and frees them,
 * with the read and reaper threads. */
static void sq_rt_free_steppers(struct sq_runtime *rt)
{
    for (size_t k = 0; k < SQ_TURNS_MAX; k++) {
        sq_step_worker_free(rt->steppers[k]);
        rt->steppers[k] = NULL;
    }
    sq_read_worker_free(rt->reader);
    rt->reader = NULL;
    sq_reaper_free(rt->reaper); /* its turns' steps are done */
    rt->reaper = NULL;
}

/* The chain's yield (sq_chain_set_yield): between the processors of a new
 * turn's chain, the turns already in flight take their delivery reports,
 * hand their step to the step thread or collect it, without waiting for
 * the whole chain. The new turn is not among them yet. */
static void sq_rt_serve_turns(void *arg)
{
    struct sq_runtime *rt = arg;
    rd_kafka_poll(rt->producer, 0);
    for (size_t k = 0; k < rt->nturns; k++)
        sq_turn_advance(rt, rt->turns[k]);
}

/* Runs every turn in flight to its end, bounded by deadline (monotonic
 * ms); true when all of them are done. */
static bool sq_turns_finish_by(struct sq_runtime *rt, int64_t deadline)
{
    for (;;) {
        bool all_done = true;
        for (size_t k = 0; k < rt->nturns; k++) {
            if (rt->turns[k]->phase == SQ_TURN_DONE)
                continue;
            all_done = false;
            sq_turn_advance(rt, rt->turns[k]);
        }
        if (all_done)
            return true;
        if (sq_mono_ms() >= deadline)
            return false;
        if (sq_rt_turns_backing_off(rt))
            usleep(20000); /* each waits for its retry time */
        else
            sq_wake_wait(rt->wake, 50);
    }
}

static void sq_turn_free_item(void *t)
{
    sq_turn_free(t);
}

/* Takes the turns that are done out, keeping the order of the others, to
 * be freed on the reaper's thread: taking
 * apart a turn's messages (their jansson trees above all) was a tenth of
 * the main thread's work. A finished turn holds nothing the main thread
 * still reads: its offsets are applied, its outputs delivered. */
static bool sq_turns_reap(struct sq_runtime *rt)
{
    size_t keep = 0;
    bool any = false;
    sq_reaper_kick(rt->reaper);
    for (size_t k = 0; k < rt->nturns; k++) {
        if (rt->turns[k]->phase == SQ_TURN_DONE) {
            sq_reaper_add(rt->reaper, sq_turn_free_item, rt->turns[k]);
            any = true;
        } else {
            rt->turns[keep++] = rt->turns[k];
        }
    }
    for (size_t k = keep; k < rt->nturns; k++)
        rt->turns[k] = NULL;
    rt->nturns = keep;
    return any;
}

/* ---- commits ----------------------------------------------------------- */

static void sq_rt_commit(struct sq_runtime *rt, bool force)
{
    int64_t now = sq_mono_ms();
    if (!force && now - rt->last_commit_mono < rt->st->commit_interval_ms)
        return;
    rt->last_commit_mono = now;
    rd_kafka_topic_partition_list_t *l = sq_parts_commit_list(&rt->parts);
    if (!l)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(rt->consumer, l, 1 /* async */);
    if (e) {
        sq_warn("commit: %s", rd_kafka_err2str(e));
        sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
        sq_parts_commit_done(&rt->parts, NULL);
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].err = e;
        sq_parts_commit_done(&rt->parts, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void sq_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)opaque;
    struct sq_runtime *rt = sq_rt_of(rk);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        sq_warn("offset commit failed: %s (retried with the next commit)", rd_kafka_err2str(err));
        sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
        for (int i = 0; offsets && i < offsets->cnt; i++)
            if (!offsets->elems[i].err)
                offsets->elems[i].err = err;
    }
    sq_parts_commit_done(&rt->parts, offsets);
    if (!err && offsets && offsets->cnt)
        SQ_FAULT("after_commit");
}

/* ---- partition assignment ---------------------------------------------- */

/* Reads the applied offset of a partition from Redis. */
static bool sq_part_read_applied(struct sq_runtime *rt, struct sq_part *p)
{
    struct sq_err err;
    sq_err_clear(&err);
    int64_t applied = -1;
    int rc = sq_redis_read_applied(rt->redis, p->offset_key, &applied, &err);
    if (rc != SQ_OK) {
        sq_metrics_inc(SQ_M_REDIS_ERRORS, 1);
        sq_warn("%s/%d: cannot read the applied offset: %s", p->topic, (int)p->partition, err.msg);
        if (rc == SQ_ERR_FATAL)
            rt->fatal = true;
        return false;
    }
    /* The partition's overdue timers: fired by this instance from now on. */
    rc = sq_chain_partition_assigned(rt->chain, &rt->store.base, p->topic, p->partition, &err);
    if (rc != SQ_OK) {
        sq_metrics_inc(SQ_M_REDIS_ERRORS, 1);
        sq_warn("%s/%d: cannot index its timers: %s", p->topic, (int)p->partition, err.msg);
        return false;
    }
    sq_metrics_set_timers_armed(sq_chain_timers_armed(rt->chain));
    /* SPEC 6: a partition just assigned is not idle; until its first step
     * it holds the watermark where it is (the closer keeps profiles out). */
    if (rt->closer && !(p->default_schema && strcmp(p->default_schema, "profile.v1") == 0)) {
        rc = sq_closer_mark_busy(rt->closer, p->offset_key, &err);
        if (rc != SQ_OK) {
            sq_metrics_inc(SQ_M_REDIS_ERRORS, 1);
            sq_warn("%s/%d: cannot register it for the watermark: %s", p->topic,
                    (int)p->partition, err.msg);
            return false;
        }
    }
    p->applied = applied;
    p->need_init = false;
    p->idle_marked_mono_ms = 0;
    p->last_fetch_mono_ms = sq_mono_ms();
    return true;
}

/* Partitions whose applied offset could not be read at assignment stay
 * paused; once Redis answers, seek past the applied offset and resume. */
static void sq_rt_init_pending_parts(struct sq_runtime *rt)
{
    int64_t now = sq_mono_ms();
    if (now < rt->init_retry_at)
        return;
    bool any_failed = false, any_pending = false;
    for (size_t i = 0; i < rt->parts.n; i++)
        any_pending |= rt->parts.v[i]->need_init;
    if (!any_pending)
        return;
    for (size_t i = 0; i < rt->parts.n; i++) {
        struct sq_part *p = rt->parts.v[i];
        if (!p->need_init)
            continue;
        if (!sq_part_read_applied(rt, p)) {
            any_failed = true;
            break;
        }
        sq_part_backlog_clear(p);
        /* after the applied offset; without one, from the first message
         * fetched and dropped while it was unknown (else the consumer's
         * position has not moved) */
        int64_t from = p->applied >= 0 ? p->applied + 1 : p->init_dropped_from;
        p->init_dropped_from = -1;
        if (from >= 0)
            sq_rt_seek(rt, p, from);
        if (!rt->paused && !rt->shutting_down)
            sq_kafka_pause_one(rt->consumer, p->topic, p->partition, false);
        sq_info("%s/%d: applied offset %lld read; consuming", p->topic, (int)p->partition,
                (long long)p->applied);
    }
    if (any_failed) {
        rt->backoff_ms = sq_backoff_next(rt->backoff_ms, rt->st);
        rt->init_retry_at = now + rt->backoff_ms;
        sq_rt_pause(rt, "redis unreachable: applied offsets unknown");
        rt->init_paused = true;
    } else {
        /* Resume only what this function paused; a pause for another reason
         * (a chain read or a Redis step failing) ends when its turn does. */
        rt->backoff_ms = 0;
        if (rt->paused && !rt->nturns && rt->init_paused && !rt->kafka_down)
            sq_rt_resume(rt);
        rt->init_paused = false;
    }
}

static const char *sq_rt_default_schema(const struct sq_settings *st, const char *topic)
{
    for (size_t i = 0; i < st->inputs_n; i++)
        if (strcmp(st->inputs[i].name, topic) == 0)
            return st->inputs[i].schema;
    return NULL;
}

static void sq_rt_on_assign(struct sq_runtime *rt, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *later = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct sq_part *p = sq_parts_find(&rt->parts, tp->topic, tp->partition);
        if (!p)
            p = sq_parts_add(&rt->parts, tp->topic, tp->partition);
        p->assign_gen = rt->assign_gen + 1;
        p->default_schema = sq_rt_default_schema(rt->st, tp->topic);
        if (!p->offset_key)
            p->offset_key = sq_redis_offset_key_dup(rt->redis, rt->st->group_id, tp->topic,
                                                    tp->partition);
        p->need_init = true;
        p->init_dropped_from = -1;
        p->past_end = false; /* checked again from this assignment's fetches */
        if (sq_part_read_applied(rt, p)) {
            /* Resume after the applied offset; without one, after Kafka's
             * committed offset (or from the beginning). Commits only follow
             * Redis steps, so the applied offset is never behind them. */
            if (p->applied >= 0)
                tp->offset = p->applied + 1;
            sq_info("assigned %s/%d, resuming at %s %lld", tp->topic, (int)tp->partition,
                    p->applied >= 0 ? "applied offset +1 =" : "the committed offset", 
                    (long long)(p->applied >= 0 ? p->applied + 1 : -1));
        } else {
            rd_kafka_topic_partition_list_add(later, tp->topic, tp->partition);
        }
        sq_metrics_inc(SQ_M_REBALANCES, 1);
    }
    rt->assign_gen++;
    rd_kafka_error_t *error = rd_kafka_incremental_assign(rt->consumer, parts);
    if (error) {
        sq_error("incremental assign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    /* No partition comes with a pause flag (sq_rt_on_revoke clears it, as
     * librdkafka would keep it across unassign and assign): pause what must
     * wait, resume nothing. librdkafka 2.0.2 bumps a partition's op version
     * on every pause or resume, even of a partition not paused, and a bump
     * right after the assignment can make its fetch start stale (upstream
     * issues 2190, 4686, 5591): a partition that restarts from an earlier
     * offset, or never fetches. */
    if (rt->paused || rt->shutting_down)
        rd_kafka_pause_partitions(rt->consumer, parts);
    else if (later->cnt)
        rd_kafka_pause_partitions(rt->consumer, later);
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        int32_t partition = parts->elems[i].partition;
        const char *fault = SQ_FAULT_PARTITION("stall_partition", topic, partition)
                                ? "stall_partition"
                            : SQ_FAULT_PARTITION("wedge_partition", topic, partition)
                                ? "wedge_partition"
                                : NULL;
        if (fault) {
            sq_kafka_pause_one(rt->consumer, topic, partition, true);
            struct sq_part *p = sq_parts_find(&rt->parts, topic, partition);
            if (p && strcmp(fault, "wedge_partition") == 0)
                p->wedged_by_fault = true;
            sq_warn("fault point %s reached: %s/%d paused inside librdkafka only", fault, topic,
                    (int)partition);
        }
    }
    rd_kafka_topic_partition_list_destroy(later);
    rt->assigned_once = true;
    sq_rt_update_ready(rt);
}

/* The part of a turn still in flight that holds partition p, or NULL. The
 * turns in flight never share a partition (sq_rt_pick_parts). */
static struct sq_turn_part *sq_rt_live_turn_part(const struct sq_runtime *rt,
                                                 const struct sq_part *p)
{
    for (size_t t = 0; t < rt->nturns; t++)
        if (rt->turns[t]->phase != SQ_TURN_DONE)
            for (size_t k = 0; k < rt->turns[t]->n; k++)
                if (rt->turns[t]->tp[k].part == p)
                    return &rt->turns[t]->tp[k];
    return NULL;
}

/* Runs the chain of every turn whose read is still out to its end (a
 * failed one puts its messages back). Before a revocation: the chain
 * keeps state per partition (sq_chain_partition_revoked), which must not
 * see a revoked partition's messages afterwards. Bounded by the reads'
 * Redis timeout. */
static void sq_rt_finish_chains(struct sq_runtime *rt)
{
    if (rt->in_chain)
        return; /* never: rebalances are served outside the chain */
    size_t reading = 0;
    for (size_t k = 0; k < rt->nturns; k++)
        reading += rt->turns[k]->phase == SQ_TURN_READ;
    if (reading)
        sq_info("revoke: %zu turns whose chain read is out finish their chain first", reading);
    while (reading) {
        reading = 0;
        for (size_t k = 0; k < rt->nturns; k++) {
            struct sq_turn *t = rt->turns[k];
            if (t->phase != SQ_TURN_READ)
                continue;
            if (sq_turn_read(rt, t) && sq_turn_chain_next(rt, t))
                sq_turn_finish_chain(rt, t);
            reading += t->phase == SQ_TURN_READ;
        }
        if (reading)
            sq_wake_wait(rt->wake, 20); /* until a read ends */
    }
}

static void sq_rt_on_revoke(struct sq_runtime *rt, rd_kafka_topic_partition_list_t *parts)
{
    bool lost = rd_kafka_assignment_lost(rt->consumer);
    sq_rt_finish_chains(rt);
    /* Finish in-flight work first, bounded, so the next owner starts after
     * it; what cannot finish is dropped (not applied, not committed). */
    if (!lost && rt->nturns && !sq_turns_finish_by(rt, sq_mono_ms() + 5000))
        sq_warn("revoke: in-flight turns did not finish within 5 s; the revoked partitions' "
                "part of them is dropped (a step already sent still counts when it applies)");
    if (lost)
        sq_warn("assignment lost (the group went on without this member): %d partitions "
                "revoked without finishing their in-flight work", parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        struct sq_part *p = sq_parts_find(&rt->parts, parts->elems[i].topic, parts->elems[i].partition);
        if (!p)
            continue;
        struct sq_turn_part *tp = sq_rt_live_turn_part(rt, p);
        if (tp) {
            tp->dropped = true;
            rt->timers_resync = true;
        }
        sq_part_backlog_clear(p);
        sq_metrics_inc(SQ_M_REBALANCES, 1);
    }
    /* A step built but not sent yet is built again without the dropped
     * partitions: their batches must not be applied for the next owner. */
    for (size_t t = 0; t < rt->nturns; t++)
        if (rt->turns[t]->steps && !rt->turns[t]->step_submitted)
            sq_turn_steps_free(rt->turns[t]);
    if (!lost)
        sq_rt_commit(rt, true);
    /* The partitions with a pause flag (all while paused or stopping, else
     * those still waiting for their applied offset): librdkafka would keep
     * it across unassign and assign, so it is cleared here and an
     * assignment never has to resume (sq_rt_on_assign). */
    rd_kafka_topic_partition_list_t *flagged = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        struct sq_part *p = sq_parts_find(&rt->parts, parts->elems[i].topic, parts->elems[i].partition);
        if (!p)
            continue;
        if (rt->paused || rt->shutting_down || p->need_init)
            rd_kafka_topic_partition_list_add(flagged, p->topic, p->partition);
        for (size_t t = 0; t < rt->nturns; t++)
            for (size_t k = 0; k < rt->turns[t]->n; k++)
                if (rt->turns[t]->tp[k].part == p)
                    rt->turns[t]->tp[k].part = NULL;
        sq_chain_partition_revoked(rt->chain, p->topic, p->partition);
        sq_metrics_set_timers_armed(sq_chain_timers_armed(rt->chain));
        sq_metrics_partition_remove(p->topic, p->partition);
        sq_info("revoked %s/%d%s (applied %lld)", p->topic, (int)p->partition,
                lost ? " (lost)" : "", (long long)p->applied);
        sq_parts_remove(&rt->parts, p);
    }
    if (flagged->cnt)
        rd_kafka_resume_partitions(rt->consumer, flagged);
    rd_kafka_topic_partition_list_destroy(flagged);
    rd_kafka_error_t *error = rd_kafka_incremental_unassign(rt->consumer, parts);
    if (error) {
        /* librdkafka refuses the whole list when one partition is not in
         * this consumer's assignment (a stall's re-assignment whose assign
         * was refused, sq_rt_reassign): unassign the others */
        rd_kafka_error_destroy(error);
        rd_kafka_topic_partition_list_t *cur = NULL, *held = NULL;
        if (!rd_kafka_assignment(rt->consumer, &cur)) {
            held = rd_kafka_topic_partition_list_new(parts->cnt);
            for (int i = 0; i < parts->cnt; i++)
                if (rd_kafka_topic_partition_list_find(cur, parts->elems[i].topic,
                                                       parts->elems[i].partition))
                    rd_kafka_topic_partition_list_add(held, parts->elems[i].topic,
                                                      parts->elems[i].partition);
            error = rd_kafka_incremental_unassign(rt->consumer, held);
        } else {
            error = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "assignment unknown");
        }
        if (error) {
            sq_error("incremental unassign: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        if (held)
            rd_kafka_topic_partition_list_destroy(held);
        if (cur)
            rd_kafka_topic_partition_list_destroy(cur);
    }
}

static void sq_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    struct sq_runtime *rt = sq_rt_of(rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        sq_rt_on_assign(rt, parts);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        sq_rt_on_revoke(rt, parts);
    else
        sq_error("rebalance error: %s", rd_kafka_err2str(err));
}

static void sq_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
    sq_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    /* Unreachable Kafka pauses the instance even when no turn is waiting
     * for it (nothing left to do): /readyz says so until a broker answers
     * again (sq_rt_probe_kafka). */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        struct sq_runtime *rt = sq_rt_of(rk);
        rt->kafka_down = true;
        sq_rt_pause(rt, "kafka: all brokers are down");
    }
}

/* While every broker is down, asks one for metadata once a second (200 ms
 * at most); when one answers, the pause for it ends. */
static void sq_rt_probe_kafka(struct sq_runtime *rt)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rt->producer, 0, NULL, &md, 200) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_metadata_destroy(md);
    rt->kafka_down = false;
    sq_info("kafka: a broker answers again");
    if (!sq_rt_turn_failing(rt, NULL) && !rt->init_paused)
        sq_rt_resume(rt);
}

/* ---- the loop ---------------------------------------------------------- */

/* SPEC 10: a message at or below the applied offset came although the
 * partition was sought past it. When the partition now ends at or before
 * the applied offset (its topic was recreated, so librdkafka's fetch fell
 * back to the start), skipping its messages as done would lose them all:
 * pause it for good and say so (not ready) until an operator clears the
 * applied offsets (`sqgate reset-offsets`) and restarts. true: past_end. */
static bool sq_rt_check_past_end(struct sq_runtime *rt, struct sq_part *p)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(rt->consumer, p->topic, p->partition, &lo, &hi) ||
        hi < 0 || hi > p->applied)
        return false;
    p->past_end = true;
    sq_kafka_pause_one(rt->consumer, p->topic, p->partition, true);
    sq_part_backlog_clear(p);
    sq_error("%s/%d: the applied offset %lld stored in Redis lies past the partition's end "
             "(high watermark %lld): was the topic recreated? Its messages are left in Kafka "
             "and the instance is not ready; run `sqgate reset-offsets --group %s --topic %s` "
             "and restart the group's instances",
             p->topic, (int)p->partition, (long long)p->applied, (long long)hi,
             rt->st->group_id, p->topic);
    sq_rt_update_ready(rt);
    return true;
}

/* Polls the consumer for up to wait_ms, moving up to max messages to the
 * backlog: all that is already fetched, then what arrives in time. */
static void sq_rt_poll(struct sq_runtime *rt, int wait_ms, size_t max)
{
    int64_t deadline = sq_mono_ms() + wait_ms;
    size_t got = 0;
    for (;;) {
        int64_t left = deadline - sq_mono_ms();
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rt->consumer, left > 0 ? (int)left : 0);
        if (!rkm)
            break;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* the fetcher reached the end: caught up, not stalled */
            struct sq_part *p = rkm->rkt ? sq_parts_find(&rt->parts, rd_kafka_topic_name(rkm->rkt),
                                                         rkm->partition)
                                         : NULL;
            if (p && rkm->offset > p->eof_offset)
                p->eof_offset = rkm->offset;
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (rkm->err) {
            sq_warn("consume: %s", rd_kafka_message_errstr(rkm));
            sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
            rd_kafka_message_destroy(rkm);
            continue;
        }
        struct sq_part *p = sq_parts_find(&rt->parts, rd_kafka_topic_name(rkm->rkt), rkm->partition);
        if (!p || p->need_init) {
            /* not ours (anymore), or position unknown: read again from
             * here once the applied offset is known */
            if (p && (p->init_dropped_from < 0 || rkm->offset < p->init_dropped_from))
                p->init_dropped_from = rkm->offset;
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (p->past_end || (p->applied >= 0 && rkm->offset <= p->applied &&
                            sq_rt_check_past_end(rt, p))) {
            rd_kafka_message_destroy(rkm); /* left in Kafka: not consumed */
            continue;
        }
        if (!sq_part_backlog_push(p, rkm, sq_mono_ms()))
            sq_metrics_inc(SQ_M_SKIPPED, 1);
        if (++got >= max)
            break; /* past the deadline, what is already queued still comes */
    }
}

/* SPEC 6: a partition is idle when its applied offset reached its end and
 * nothing was fetched from it for windows.idle_s; a paused one never is.
 * The closer is told once per idle spell (the next step ends it). */
static void sq_rt_check_idle(struct sq_runtime *rt, struct sq_part *p, int64_t hi, int64_t now)
{
    bool idle = rt->closer && !rt->paused && !p->need_init && hi >= 0 &&
                p->applied + 1 >= hi && p->backlog_n == 0 &&
                now - p->last_fetch_mono_ms >= rt->st->windows_idle_s * 1000;
    if (!idle) {
        if (p->last_fetch_mono_ms > p->idle_marked_mono_ms)
            p->idle_marked_mono_ms = 0;
        return;
    }
    if (p->idle_marked_mono_ms)
        return;
    struct sq_err err;
    sq_err_clear(&err);
    if (sq_closer_mark_idle(rt->closer, p->offset_key, &err) == SQ_OK) {
        p->idle_marked_mono_ms = now;
        if (p->applied >= 0)
            sq_info("%s/%d is idle (applied offset %lld, high watermark %lld): it no longer "
                    "holds the watermark", p->topic, (int)p->partition, (long long)p->applied,
                    (long long)hi);
    }
}

/* ---- stalled partitions ------------------------------------------------- */

/* Whether nothing of ours holds the partition back: not paused, not
 * waiting for its applied offset, nothing fetched or in flight. */
static bool sq_rt_part_free_to_fetch(const struct sq_runtime *rt, const struct sq_part *p)
{
    return !rt->paused && !rt->shutting_down && !rt->kafka_down && !p->need_init &&
           !p->backlog_n && !sq_rt_live_turn_part(rt, p);
}

/* One answer of the offset probe: the broker's watermarks, and where
 * consumption starts in a partition with nothing applied. */
static void sq_rt_probe_answer(const struct sq_probe_answer *a, void *arg)
{
    struct sq_runtime *rt = arg;
    struct sq_part *p = sq_parts_find(&rt->parts, a->topic, a->partition);
    if (!p || p->assign_gen > rt->probe_gen)
        return; /* revoked meanwhile (and maybe assigned again: the answer is older) */
    if (a->hi >= 0) {
        p->lo_queried = a->lo;
        p->hi_queried = a->hi;
    }
    if (a->committed != -1 && p->start_from == -1)
        p->start_from = a->committed >= 0 ? a->committed : SQ_START_EARLIEST;
}

/* A partition's watermarks: librdkafka's cached ones (the high one moves
 * only when the partition fetches), or the broker's (the offset probe)
 * when those are unknown or older. librdkafka's count only once the
 * partition fetched in this assignment: before, they may be left from an
 * earlier one in this process, behind the applied offset another owner
 * reached meanwhile, and would make a partition with messages waiting
 * look caught up (and idle, SPEC 6). *cached_hi says whether librdkafka's
 * high one counted. */
static int64_t sq_rt_high_watermark(struct sq_runtime *rt, const struct sq_part *p,
                                    int64_t *lo, bool *cached_hi)
{
    int64_t hi = -1;
    *lo = -1;
    if (!p->fetched ||
        rd_kafka_get_watermark_offsets(rt->consumer, p->topic, p->partition, lo, &hi) ||
        hi < 0) {
        hi = -1;
        *lo = -1;
    }
    *cached_hi = hi >= 0;
    if (*lo < 0)
        *lo = p->lo_queried;
    return p->hi_queried > hi ? p->hi_queried : hi;
}

/* Adds p to the offset probe's next request where it needs the broker:
 * its watermarks when librdkafka's high one is unknown (every 5 s) or it
 * was quiet for runtime.stall_s (once per stall_s), the group's committed
 * offset while nothing of it is applied (every 10 s until known). */
static void sq_rt_probe_want(struct sq_runtime *rt, const struct sq_part *p, bool cached_hi,
                             bool held, int64_t now, rd_kafka_topic_partition_list_t *wm,
                             rd_kafka_topic_partition_list_t *committed)
{
    if (p->need_init)
        return;
    int64_t stall_ms = rt->st->stall_s * 1000;
    bool unknown = !cached_hi && now - p->hi_queried_mono_ms >= 5000;
    bool quiet = stall_ms > 0 && !held && now - sq_part_quiet_since(p) >= stall_ms &&
                 now - p->hi_queried_mono_ms >= stall_ms;
    if (unknown || quiet)
        rd_kafka_topic_partition_list_add(wm, p->topic, p->partition);
    if (p->applied < 0 && p->start_from == -1 && now >= rt->start_retry_at)
        rd_kafka_topic_partition_list_add(committed, p->topic, p->partition);
}

/* Hands the request to the probe thread when it is free. */
static void sq_rt_probe_submit(struct sq_runtime *rt, int64_t now,
                               const rd_kafka_topic_partition_list_t *wm,
                               const rd_kafka_topic_partition_list_t *committed)
{
    if (rt->kafka_down || !(wm->cnt || committed->cnt) ||
        !sq_offset_probe_submit(rt->probe, wm, committed))
        return;
    rt->probe_gen = rt->assign_gen;
    for (int i = 0; i < wm->cnt; i++)
        sq_parts_find(&rt->parts, wm->elems[i].topic, wm->elems[i].partition)
            ->hi_queried_mono_ms = now;
    if (committed->cnt)
        rt->start_retry_at = now + 10000;
}

/* A partition free to fetch (the caller checks) that fetched nothing for
 * runtime.stall_s while messages wait in it: librdkafka 2.0.2 can leave a partition's fetch not
 * started after a pause or resume right after its assignment (upstream
 * 2190). Its fetch is restarted at the next offset to process, with a
 * warning and sq_partition_stalls_total: resumed and sought there the first
 * time; when that fetched nothing, or the seek is refused (a fetcher that
 * never started), the partition is re-assigned locally at that offset,
 * which gives it a new fetcher. While restarts at the same offset fetch
 * nothing the wait doubles, up to an hour. */
static void sq_rt_check_stall(struct sq_runtime *rt, struct sq_part *p, int64_t lo,
                              int64_t hi, int64_t now)
{
    int64_t stall_ms = rt->st->stall_s * 1000;
    if (!sq_part_stalled(p, lo, hi, now, stall_ms))
        return;
    int64_t next = sq_part_next_offset(p, lo);
    int64_t quiet_s = (now - sq_part_quiet_since(p)) / 1000;
    /* the last restart at this offset fetched nothing: re-assign this time */
    bool again = sq_part_stall_restart(p, next, stall_ms, now);
    sq_warn("%s/%d fetched nothing for %lld s while %lld messages wait (next offset %lld, high "
            "watermark %lld): %s there", p->topic, (int)p->partition,
            (long long)quiet_s, (long long)(hi - next),
            (long long)next, (long long)hi,
            again ? "the last restart fetched nothing: re-assigning it" : "restarting its fetch");
    sq_metrics_inc(SQ_M_STALLS, 1);
    if (!again) {
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (p->wedged_by_fault) {
            /* the fault: a fetcher that a resume and a seek do not start */
            sq_warn("fault point wedge_partition: %s/%d left paused by its restart", p->topic,
                    (int)p->partition);
        } else {
            /* whatever pause librdkafka kept */
            sq_kafka_pause_one(rt->consumer, p->topic, p->partition, false);
            err = sq_rt_seek(rt, p, next);
        }
        if (!err)
            return;
        sq_warn("%s/%d: the restart's seek to %lld failed (%s): re-assigning it there",
                p->topic, (int)p->partition, (long long)next, rd_kafka_err2str(err));
    }
    if (!sq_rt_reassign(rt, p, next))
        sq_warn("%s/%d: tried again in %lld s", p->topic, (int)p->partition,
                (long long)(p->stall_wait_ms / 1000));
}

static void sq_rt_metrics(struct sq_runtime *rt)
{
    int64_t now = sq_mono_ms();
    if (now - rt->last_metrics_mono < 1000)
        return;
    rt->last_metrics_mono = now;
    if (rt->kafka_down)
        sq_rt_probe_kafka(rt);
    sq_offset_probe_collect(rt->probe, sq_rt_probe_answer, rt);
    rd_kafka_topic_partition_list_t *wm = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < rt->parts.n; i++) {
        struct sq_part *p = rt->parts.v[i];
        bool held = !sq_rt_part_free_to_fetch(rt, p);
        if (held)
            p->stall_clock_mono_ms = now; /* held by us: not stalled meanwhile */
        int64_t lo = -1;
        bool cached_hi;
        int64_t hi = sq_rt_high_watermark(rt, p, &lo, &cached_hi);
        sq_metrics_partition_set(p->topic, p->partition, hi, sq_part_next_offset(p, lo),
                                 sq_part_pending_from(p, lo), p->committed);
        sq_rt_check_idle(rt, p, hi, now);
        if (!held)
            sq_rt_check_stall(rt, p, lo, hi, now);
        sq_rt_probe_want(rt, p, cached_hi, held, now, wm, committed);
    }
    sq_rt_probe_submit(rt, now, wm, committed);
    rd_kafka_topic_partition_list_destroy(wm);
    rd_kafka_topic_partition_list_destroy(committed);
}

static volatile int64_t sq_watchdog_deadline;

static void *sq_watchdog_main(void *arg)
{
    (void)arg;
    while (sq_mono_ms() < sq_watchdog_deadline)
        usleep(100000);
    fprintf(stderr, "sqgate: shutdown did not finish within shutdown.timeout_s: exiting 2\n");
    _exit(2);
    return NULL;
}

static void sq_rt_begin_shutdown(struct sq_runtime *rt)
{
    rt->shutting_down = true;
    sq_info("shutting down: finishing in-flight work (timeout %llds)",
            (long long)rt->st->shutdown_timeout_s);
    sq_watchdog_deadline = sq_mono_ms() + rt->st->shutdown_timeout_s * 1000;
    pthread_t th;
    if (pthread_create(&th, NULL, sq_watchdog_main, NULL) == 0)
        pthread_detach(th);
    sq_rt_set_pause(rt, true);
    sq_metrics_set_ready(false, "shutting down");
}

/* Whether a turn on the partitions ok names should start now: at once
 * when no other turn is in flight (or at shutdown); otherwise when they
 * hold a full share of runtime.batch_max_messages or one of their messages
 * has waited runtime.batch_linger_ms. Under load turns then grow instead of
 * starting with a few messages each, and a turn's fixed costs (its Redis
 * read and step, its produce round, its commit) spread over more events;
 * a turn's step also sums more KPI increments. */
static bool sq_rt_turn_ripe(const struct sq_runtime *rt, const bool *ok)
{
    if (!rt->nturns || rt->shutting_down)
        return true;
    size_t share = sq_rt_turn_share(rt), have = 0;
    int64_t oldest = INT64_MAX;
    for (size_t i = 0; i < rt->parts.n; i++) {
        const struct sq_part *p = rt->parts.v[i];
        if (!ok[i])
            continue;
        have += p->backlog_n;
        if (p->backlog[0].fetched_mono_ms < oldest)
            oldest = p->backlog[0].fetched_mono_ms;
    }
    return have >= share || sq_mono_ms() - oldest >= rt->st->batch_linger_ms;
}

/* Starts a turn on the partitions sq_rt_pick_parts gives, if any and when
 * they are ripe. false on a fatal chain error. */
static bool sq_rt_start_turn(struct sq_runtime *rt, bool **ok, size_t *ok_cap)
{
    if (rt->parts.n > *ok_cap) {
        *ok_cap = rt->parts.n;
        *ok = sq_xrealloc(*ok, *ok_cap * sizeof **ok);
    }
    if (rt->timers_resync) {
        /* overdue timers fired by a dropped step are still in Redis: read
         * them again once every other fire has been applied */
        if (rt->nturns)
            return true;
        struct sq_err err;
        sq_err_clear(&err);
        if (sq_chain_timers_resync(rt->chain, &rt->store.base, &err) != SQ_OK) {
            sq_rt_chain_failed(rt, &err);
            return !rt->fatal;
        }
        rt->timers_resync = false;
        sq_metrics_set_timers_armed(sq_chain_timers_armed(rt->chain));
    }
    if (!sq_rt_pick_parts(rt, *ok))
        return true;
    if (!sq_rt_turn_ripe(rt, *ok))
        return true; /* the lanes rotate: the next one is asked next */
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_turn *t = sq_turn_start(rt, *ok, &err);
    if (!t) {
        sq_rt_chain_failed(rt, &err);
        return !rt->fatal;
    }
    rt->turns[rt->nturns++] = t;
    return true;
}

/* Whether a partition that fetched has messages in Kafka past what was
 * fetched (sq_part_messages_wait, as the stall check decides it), by the
 * high watermark the lag gauges use (sq_rt_high_watermark: no broker
 * request). Called only with no turn in flight and nothing fetched, when
 * what was fetched is what was applied. */
static bool sq_rt_waiting_in_kafka(struct sq_runtime *rt)
{
    for (size_t i = 0; i < rt->parts.n; i++) {
        const struct sq_part *p = rt->parts.v[i];
        if (!p->fetched)
            continue;
        int64_t lo;
        bool cached;
        int64_t hi = sq_rt_high_watermark(rt, p, &lo, &cached);
        if (sq_part_messages_wait(p, lo, hi))
            return true;
    }
    return false;
}

/* sq_idle_behind_microseconds_total: the time since the loop's last pass
 * counts when that pass found nothing to do while messages waited in
 * Kafka (librdkafka 2.0.2 stops fetching for up to a second once its
 * prefetch is full: docs/configuration.md). Paused consumption (backpressure,
 * shutdown) does not count. */
static void sq_rt_count_idle_behind(struct sq_runtime *rt, size_t backlog)
{
    int64_t now = sq_mono_us();
    if (rt->idle_behind && rt->loop_mono_us)
        sq_metrics_inc(SQ_M_IDLE_BEHIND_US, (uint64_t)(now - rt->loop_mono_us));
    rt->loop_mono_us = now;
    rt->idle_behind = !rt->nturns && !backlog && !rt->paused && !rt->shutting_down &&
                      sq_rt_waiting_in_kafka(rt);
}

static int sq_rt_loop(struct sq_runtime *rt, volatile sig_atomic_t *stop,
                      volatile sig_atomic_t *hup)
{
    size_t batch_max = (size_t)rt->st->batch_max_messages;
    bool *ok = NULL;
    size_t ok_cap = 0;
    while (!rt->fatal) {
        if (*stop && !rt->shutting_down)
            sq_rt_begin_shutdown(rt);
        if (hup && *hup) {
            *hup = 0;
            sq_info("SIGHUP: nothing to reload; settings are read at start (restart to "
                    "apply a change), and the gateway goes on");
        }
        sq_rt_init_pending_parts(rt);
        size_t have = sq_parts_backlog_total(&rt->parts);
        sq_rt_count_idle_behind(rt, have);
        if (!rt->nturns && rt->shutting_down && !have)
            break;
        /* A failed chain read pauses until the turn that retries it runs;
         * when a revocation took the backlog that turn would read, none
         * will: resume. */
        if (rt->paused && rt->chain_backoff_ms && !rt->nturns && !have && !rt->init_paused &&
            !rt->kafka_down && !rt->shutting_down) {
            rt->chain_backoff_ms = 0;
            sq_rt_resume(rt);
        }
        if (!rt->nturns) {
            if (!rt->paused || !have)
                sq_rt_poll(rt, have ? 0 : (int)rt->st->batch_max_ms,
                           have >= batch_max ? 1 : batch_max - have);
        } else {
            /* Keep serving group membership and rebalances while turns
             * wait, without letting the backlog grow without bound. */
            sq_rt_poll(rt, 0, have < batch_max * 4 ? batch_max : 1);
        }
        /* A new turn while the others wait, unless one of them is failing:
         * its retry comes first. */
        if (rt->nturns < SQ_TURNS_MAX && !sq_rt_turn_failing(rt, NULL) &&
            sq_parts_backlog_total(&rt->parts) &&
            sq_mono_ms() >= rt->chain_retry_at) {
            if (!sq_rt_start_turn(rt, &ok, &ok_cap))
                break;
        } else if (!rt->nturns && rt->paused && sq_parts_backlog_total(&rt->parts)) {
            usleep(20000); /* waiting for the chain's retry time */
        }
        rd_kafka_poll(rt->producer, 0);
        for (size_t k = 0; k < rt->nturns; k++)
            sq_turn_advance(rt, rt->turns[k]);
        if (sq_turns_reap(rt))
            sq_rt_commit(rt, rt->st->commit_interval_ms == 0);
        if (sq_rt_turns_backing_off(rt))
            usleep(20000);
        sq_rt_commit(rt, false);
        sq_rt_metrics(rt);
        if (rt->closer && !rt->shutting_down) {
            sq_closer_tick(rt->closer);
            struct sq_err cerr;
            if (sq_closer_fatal(rt->closer, &cerr)) {
                sq_error("closer: %s", cerr.msg);
                rt->fatal = true;
            }
        }
        if (!rt->shutting_down && !rt->paused) /* paused: Redis may be down */
            sq_dedupe_watch_tick(rt->dedupe_watch, rt->max_event_ms);
        /* Turns in flight wait for Redis or Kafka: sleep until the first
         * of them has news, briefly when another turn could start or go
         * on meanwhile. */
        if (rt->nturns)
            sq_wake_wait(rt->wake, rt->nturns > 1 || sq_parts_backlog_total(&rt->parts) ? 1 : 5);
    }
    free(ok);
    return rt->fatal ? 2 : 0;
}

/* Commit what is applied, wait (bounded) for the answer, leave the group. */
static void sq_rt_close(struct sq_runtime *rt)
{
    sq_rt_commit(rt, true);
    int64_t deadline = sq_mono_ms() + 5000;
    while (sq_mono_ms() < deadline) {
        bool pending = false;
        for (size_t i = 0; i < rt->parts.n; i++)
            if (rt->parts.v[i]->commit_sent > rt->parts.v[i]->committed)
                pending = true;
        if (!pending)
            break;
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rt->consumer, 100);
        if (rkm)
            rd_kafka_message_destroy(rkm); /* fetched after the pause: not ours to process */
    }
    rd_kafka_consumer_close(rt->consumer);
    rd_kafka_flush(rt->producer, 5000);
}

/* Detaches the turn's outputs from its messages, left allocated: the
 * Kafka client may still read them (sq_rt_release_outputs). */
static void sq_turn_leave_outputs(struct sq_turn *t)
{
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; t->tp[i].batch.msgs && j < t->tp[i].batch.n; j++) {
            t->tp[i].batch.msgs[j].outputs = NULL;
            t->tp[i].batch.msgs[j].outputs_n = 0;
        }
}

/* At shutdown, before the turns still held are freed: librdkafka sends
 * their outputs without a copy (sq_produce_one), so every message it still
 * holds must be reported first. Waits for the reports, then purges what
 * is left and serves the purge's reports. Returns false when the client
 * still holds messages after that: their outputs are then left allocated
 * rather than freed under it (the process is ending). */
static bool sq_rt_release_outputs(struct sq_runtime *rt)
{
    rd_kafka_flush(rt->producer, 5000);
    if (rd_kafka_outq_len(rt->producer) > 0) {
        rd_kafka_purge(rt->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t until = sq_mono_ms() + 2000;
        while (rd_kafka_outq_len(rt->producer) > 0 && sq_mono_ms() < until)
            rd_kafka_poll(rt->producer, 50);
    }
    int held = rd_kafka_outq_len(rt->producer);
    if (held)
        sq_warn("shutdown: the Kafka producer still holds %d messages; their outputs are not freed",
                held);
    return held == 0;
}

int sq_runtime_run(const struct sq_settings *st, volatile sig_atomic_t *stop,
                   volatile sig_atomic_t *hup)
{
    struct sq_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.magic = SQ_RUNTIME_MAGIC;
    rt.st = st;
    rt.max_event_ms = -1;
    struct sq_err err;
    sq_err_clear(&err);
    sq_metrics_set_ready(false, "starting");

    /* a failure frees what was made at out: */
    int code = 2;
    rt.wake = sq_wake_new(&err);
    if (!rt.wake) {
        sq_error("%s", err.msg);
        goto out;
    }
    rt.redis = sq_redis_new(st->redis_url, st->redis_prefix, st->redis_timeout_ms, &err);
    if (!rt.redis) {
        sq_error("%s: %s", err.pointer, err.msg);
        goto out;
    }
    sq_store_redis_init(&rt.store, rt.redis);
    /* The steps go on connections of their own, from their own threads,
     * which share what they know of the keys' TTLs. */
    rt.ttl_memo = sq_ttl_memo_new();
    for (size_t k = 0; k < SQ_TURNS_MAX; k++) {
        struct sq_redis *step_link = sq_redis_new(st->redis_url, st->redis_prefix,
                                                  st->redis_timeout_ms, &err);
        if (step_link) {
            sq_redis_set_kpi_journal(step_link, st->kpi_enabled && st->kpi_journal);
            sq_redis_share_ttl_memo(step_link, rt.ttl_memo);
        }
        rt.steppers[k] = step_link ? sq_step_worker_new(step_link, rt.wake, &err) : NULL;
        if (!rt.steppers[k]) {
            sq_error("%s", err.msg);
            goto out;
        }
    }
    struct sq_redis *read_link = sq_redis_new(st->redis_url, st->redis_prefix,
                                              st->redis_timeout_ms, &err);
    rt.reader = read_link ? sq_read_worker_new(read_link, rt.wake, &err) : NULL;
    if (rt.reader)
        rt.reaper = sq_reaper_new(&err);
    if (!rt.reaper) {
        sq_error("%s", err.msg);
        goto out;
    }
    rt.chain = sq_chain_new(st, &err);
    if (!rt.chain) {
        sq_error("%s", err.msg);
        goto out;
    }
    sq_chain_set_yield(rt.chain, sq_rt_serve_turns, &rt);
    struct sq_kafka_callbacks cbs = {
        .opaque = &rt,
        .rebalance = sq_rebalance_cb,
        .commit = sq_commit_cb,
        .error = sq_error_cb,
        .delivery = sq_dr_cb,
    };
    rt.consumer = sq_kafka_consumer_new(st, &cbs, &err);
    if (!rt.consumer) {
        sq_error("kafka consumer: %s", err.msg);
        goto out;
    }
    rt.producer = sq_kafka_producer_new(st, &cbs, &err);
    if (!rt.producer) {
        sq_error("kafka producer: %s", err.msg);
        goto out;
    }
    {
        /* delivery reports wake the loop: librdkafka writes to the pipe
         * when its queue of them (the producer's main queue, which
         * rd_kafka_poll empties every round) gets its first */
        rd_kafka_queue_t *q = rd_kafka_queue_get_main(rt.producer);
        rd_kafka_queue_io_event_enable(q, sq_wake_write_fd(rt.wake), "d", 1);
        rd_kafka_queue_destroy(q);
    }
    if (sq_kafka_check_topics(rt.consumer, st, &err) != SQ_OK) {
        sq_error("%s", err.msg);
        goto out;
    }
    if (st->kpi_enabled && !(rt.closer = sq_closer_new(st, rt.redis, &rt.store.base, rt.chain,
                                                       &err))) {
        sq_error("kafka producer (closer): %s", err.msg);
        goto out;
    }
    rt.dedupe_watch = sq_dedupe_watch_new(st, rt.redis);
    int rrc = sq_redis_ensure(rt.redis, &err);
    if (rrc == SQ_ERR_FATAL) { /* a Redis sqgate cannot run on: no retry helps */
        sq_error("%s", err.msg);
        goto out;
    }
    if (rrc != SQ_OK)
        sq_warn("%s (will retry)", err.msg);
    if (sq_kafka_subscribe(rt.consumer, st, &err) != SQ_OK) {
        sq_error("%s", err.msg);
        goto out;
    }
    if (!(rt.probe = sq_offset_probe_new(rt.consumer, &err))) {
        sq_error("%s", err.msg);
        goto out;
    }
    sq_info("consuming as group %s from %s", st->group_id, st->brokers);
    code = sq_rt_loop(&rt, stop, hup);
    if (rt.nturns) {
        sq_turns_finish_by(&rt, sq_mono_ms() + st->shutdown_timeout_s * 1000);
        if (sq_turns_reap(&rt))
            sq_rt_commit(&rt, true);
        /* Wait for outstanding delivery reports and a step still on the
         * thread before freeing outputs and ops. */
        bool released = sq_rt_release_outputs(&rt);
        sq_rt_free_steppers(&rt);
        for (size_t k = 0; k < rt.nturns; k++) {
            if (!released)
                sq_turn_leave_outputs(rt.turns[k]);
            sq_turn_free(rt.turns[k]);
        }
        rt.nturns = 0;
    }
    /* the turns it still holds keep librdkafka messages: gone before the
     * consumer closes */
    sq_reaper_free(rt.reaper);
    rt.reaper = NULL;
    if (rt.closer) /* the last steps' KPI increments into their hashes */
        sq_closer_fold_all(rt.closer, sq_mono_ms() + 5000);
    sq_offset_probe_free(rt.probe); /* before the consumer closes */
    rt.probe = NULL;
    sq_rt_close(&rt);
    const struct sq_chain_stats *cs = sq_chain_stats(rt.chain);
    uint64_t dlq = 0;
    for (int r = 0; r < SQ_DLQ__COUNT; r++)
        dlq += cs->dlq[r];
    sq_info("stopped: consumed %llu, processed %llu, duplicates %llu, dlq %llu",
            (unsigned long long)cs->consumed, (unsigned long long)cs->processed,
            (unsigned long long)cs->duplicates, (unsigned long long)dlq);
out:
    sq_reaper_free(rt.reaper); /* before the consumer goes: see above */
    rt.reaper = NULL;
    sq_offset_probe_free(rt.probe);
    sq_closer_free(rt.closer);
    sq_dedupe_watch_free(rt.dedupe_watch);
    if (rt.consumer)
        rd_kafka_destroy(rt.consumer);
    if (rt.producer)
        rd_kafka_destroy(rt.producer);
    sq_parts_fini(&rt.parts);
    sq_rt_free_steppers(&rt);
    sq_ttl_memo_free(rt.ttl_memo); /* after the step connections that share it */
    sq_chain_free(rt.chain);
    sq_store_redis_fini(&rt.store);
    sq_redis_free(rt.redis);
    sq_wake_free(rt.wake); /* after every thread and client that signals it */
    return code;
}
