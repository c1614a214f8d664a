/* closer.c: window close in `sqgate run` (SPEC 6; closer.h says what). The
 * Redis side, all under {prefix}:
 *   lease:closer, lease:closer:token  the lease ("host:pid:random", TTL 10 s) and
 *                                      its fencing token (INCR per taking)
 *   wm:parts, wm:idle                  zsets of partition offset keys scored
 *                                      by their greatest applied event time
 *                                      (written by the partition step)
 *   wm                                 the watermark, only ever raised
 *   win:open                           zset: cells never emitted, by end
 *   win:gen                            hash: cell -> touches (W ops)
 *   win:rev                            hash: cell -> last emitted revision
 *   win:dirty                          set: emitted cells touched since
 *   win:closed                         zset: emitted cells by end (pruning)
 * A close round reads candidates with their touch count, reads their
 * counters and produces the records; the pipeline loop goes on meanwhile
 * and, once every delivery report is in, a fenced step records the
 * revisions; a cell touched after its read stays
 * (or becomes) dirty, so its next record carries the newer counters. A
 * crash between produce and step repeats records with the same revision. */
#include "closer.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"
#include "json_out.h"
#include "kafka.h"
#include "kpi.h"
#include "kpi_folder.h"
#include "log.h"
#include "metrics.h"

#define SQ_CLOSER_ROUND 1000      /* cells per close round */
#define SQ_CLOSER_WAIT_MS 30000   /* a round's records unacknowledged this long are purged */

static const char sq_lease_lua[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return {1, redis.call('GET', KEYS[2]) or '0'}\n"
    "end\n"
    "if cur then return {0, ''} end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return {2, redis.call('INCR', KEYS[2])}\n";

static const char sq_release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* SPEC 6: the least greatest-event-time over partitions not idle, minus
 * grace (a partition before its first event, at -inf, holds it); the wall
 * clock minus grace when every partition is idle; never back; undefined
 * until some event was applied. The third value says which ("clock" when
 * every partition is idle). */
static const char sq_watermark_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1, ''} end\n"
    "local cand, src = nil, 'parts'\n"
    "local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')\n"
    "if first[1] then\n"
    "  local lo = tonumber(first[2])\n"
    "  if lo and lo > -math.huge then cand = lo - tonumber(ARGV[3]) end\n"
    "elseif redis.call('ZCARD', KEYS[4]) > 0 then\n"
    "  cand, src = tonumber(ARGV[2]) - tonumber(ARGV[3]), 'clock'\n"
    "end\n"
    "local stored = redis.call('GET', KEYS[2])\n"
    "if cand and ((not stored) or cand > tonumber(stored)) then\n"
    "  stored = string.format('%.0f', cand)\n"
    "  redis.call('SET', KEYS[2], stored)\n"
    "end\n"
    "if not stored then return {0, '', src} end\n"
    "return {1, stored, src}\n";

static const char sq_get_lua[] = "return redis.call('GET', KEYS[1])\n";

/* Cells to close: never emitted with end <= watermark, then (ARGV[3] "1")
 * dirty ones; each as (cell, touches, last revision). */
static const char sq_candidates_lua[] =
    "local out, max = {}, tonumber(ARGV[2])\n"
    "local open = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, max)\n"
    "for _, c in ipairs(open) do\n"
    "  out[#out + 1] = c\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[3], c) or '0'\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[4], c) or '0'\n"
    "end\n"
    "if ARGV[3] == '1' and max - #open > 0 then\n"
    "  for _, c in ipairs(redis.call('SRANDMEMBER', KEYS[2], max - #open)) do\n"
    "    out[#out + 1] = c\n"
    "    out[#out + 1] = redis.call('HGET', KEYS[3], c) or '0'\n"
    "    out[#out + 1] = redis.call('HGET', KEYS[4], c) or '0'\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Records the round: ARGV = token, prune_before, then (cell, touches read,
 * revision, end) per cell. */
static const char sq_commit_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end\n"
    "for i = 3, #ARGV, 4 do\n"
    "  local c, g, r, e = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]\n"
    "  if tonumber(r) > tonumber(redis.call('HGET', KEYS[5], c) or '0') then\n"
    "    redis.call('HSET', KEYS[5], c, r)\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[2], c)\n"
    "  redis.call('ZADD', KEYS[6], e, c)\n"
    "  if (redis.call('HGET', KEYS[4], c) or '0') == g then redis.call('SREM', KEYS[3], c)\n"
    "  else redis.call('SADD', KEYS[3], c) end\n"
    "end\n"
    "local old = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 1000)\n"
    "for _, c in ipairs(old) do\n"
    "  -- a dirty cell is forgotten only after its last revision went out\n"
    "  if redis.call('SISMEMBER', KEYS[3], c) == 0 then\n"
    "    redis.call('HDEL', KEYS[5], c)\n"
    "    redis.call('HDEL', KEYS[4], c)\n"
    "    redis.call('ZREM', KEYS[6], c)\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* An assigned partition is busy: in wm:parts with its greatest applied
 * event time, or -inf (holding the watermark) before its first event. */
static const char sq_busy_lua[] =
    "local mx = redis.call('HGET', KEYS[1], 'max_event_ms')\n"
    "redis.call('ZREM', KEYS[3], KEYS[1])\n"
    "redis.call('ZADD', KEYS[2], mx or '-inf', KEYS[1])\n"
    "return 1\n";

static const char sq_idle_lua[] =
    "local mx = redis.call('HGET', KEYS[1], 'max_event_ms')\n"
    "redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "if mx then redis.call('ZADD', KEYS[3], mx, KEYS[1]) end\n"
    "return 1\n";

enum { SQ_K_LEASE, SQ_K_TOKEN, SQ_K_WM, SQ_K_PARTS, SQ_K_IDLE, SQ_K_OPEN, SQ_K_GEN, SQ_K_REV,
       SQ_K_DIRTY, SQ_K_CLOSED, SQ_K__COUNT };
static const char *const sq_key_suffix[SQ_K__COUNT] = {
    "lease:closer", "lease:closer:token", "wm", "wm:parts", "wm:idle",
    "win:open", "win:gen", "win:rev", "win:dirty", "win:closed",
};

struct sq_closer {
    const struct sq_settings *st;
    struct sq_redis *redis;
    struct sq_store *store;
    struct sq_chain *chain;
    rd_kafka_t *producer;
    enum sq_sl_mode mode;
    char id[160];
    char *key[SQ_K__COUNT];
    bool holder;
    char token[32];
    int64_t next_tick;
    int64_t next_dirty;        /* monotonic ms: dirty cells join rounds again (windows.reemit_s) */
    int64_t last_warn;
    struct sq_err fatal;       /* kind SQ_ERR_FATAL: an error that stops the gateway */
    size_t outstanding;        /* delivery reports awaited */
    /* the round in flight: records produced, awaiting their reports */
    struct sq_close_cell *round;
    size_t round_n;
    struct sq_redis_strs round_out;  /* owns the cells' id and touches */
    int64_t round_wm;
    int64_t round_deadline;    /* monotonic ms: purge what is still queued */
    bool round_purged;
    bool wm_follows_clock;     /* every partition was idle at the last watermark step */
    struct sq_kpi_folder *folder; /* kpi.journal: folds on a thread of its own */
    bool fold_wait;            /* a fold runs before this tick's watermark and round */
    int64_t last_close;        /* monotonic ms of the last watermark and round after a fold */
    int64_t next_fold;         /* monotonic ms: folds go every kpi.fold_interval_s, unless entries were left */
    bool round_more;           /* the last round was full: the next goes without a fold */
};

/* One cell of a close round. */
struct sq_close_cell {
    char *id;                  /* borrowed from the candidates reply */
    const char *touches;       /* borrowed */
    int64_t revision;          /* the one this round emits */
    struct sq_kpi_cell cell;
    bool parsed;
    int delivered;             /* 0 waiting, 1 done, -1 failed */
};

static void sq_closer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)opaque;
    struct sq_closer *c = rd_kafka_opaque(rk);
    struct sq_close_cell *cc = rkm->_private;
    if (cc)
        cc->delivered = rkm->err ? -1 : 1;
    if (rkm->err)
        sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
    if (c->outstanding)
        c->outstanding--;
}

static void sq_closer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    sq_metrics_inc(SQ_M_KAFKA_ERRORS, 1);
    sq_warn("kafka (closer): %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

struct sq_closer *sq_closer_new(const struct sq_settings *st, struct sq_redis *redis,
                                struct sq_store *store, struct sq_chain *chain,
                                struct sq_err *err)
{
    struct sq_closer *c = sq_xcalloc(1, sizeof *c);
    c->st = st;
    c->redis = redis;
    c->store = store;
    c->chain = chain;
    int mode = st->kpi_service_level_mode ? sq_sl_mode_parse(st->kpi_service_level_mode) : 0;
    c->mode = mode < 0 ? SQ_SL_ABANDONS_AGAINST : (enum sq_sl_mode)mode;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(c->id, sizeof c->id, "%s:%d:%08x", host, (int)getpid(),
             (unsigned)(sq_now_ms() ^ ((uint64_t)rand() << 16)));
    for (int k = 0; k < SQ_K__COUNT; k++)
        c->key[k] = sq_xasprintf("%s%s", st->redis_prefix, sq_key_suffix[k]);
    struct sq_kafka_callbacks cbs = {.opaque = c, .delivery = sq_closer_dr_cb,
                                     .error = sq_closer_error_cb};
    c->producer = sq_kafka_producer_new(st, &cbs, err);
    if (!c->producer) {
        sq_closer_free(c);
        return NULL;
    }
    if (st->kpi_journal) {
        struct sq_redis *link = sq_redis_new(st->redis_url, st->redis_prefix,
                                             st->redis_timeout_ms, err);
        if (!link || !(c->folder = sq_kpi_folder_new(link, err))) {
            sq_closer_free(c);
            return NULL;
        }
    }
    return c;
}

static int sq_closer_eval(struct sq_closer *c, const char *script, size_t nkeys,
                          const char *const *keys, size_t nargs, const char *const *args,
                          struct sq_redis_strs *out, struct sq_err *err)
{
    return sq_redis_eval(c->redis, script, nkeys, keys, nargs, args, out, err);
}

static void sq_closer_round_free(struct sq_closer *c)
{
    for (size_t i = 0; i < c->round_n; i++)
        if (c->round[i].parsed)
            sq_kpi_cell_fini(&c->round[i].cell);
    free(c->round);
    sq_redis_strs_fini(&c->round_out);
    c->round = NULL;
    c->round_n = 0;
}

void sq_closer_free(struct sq_closer *c)
{
    if (!c)
        return;
    if (c->holder) {
        struct sq_err err;
        sq_err_clear(&err);
        struct sq_redis_strs out;
        const char *keys[] = {c->key[SQ_K_LEASE]};
        const char *args[] = {c->id};
        if (sq_closer_eval(c, sq_release_lua, 1, keys, 1, args, &out, &err) == SQ_OK) {
            sq_info("closer lease given up");
            sq_redis_strs_fini(&out);
        }
    }
    if (c->producer) {
        rd_kafka_flush(c->producer, 5000);
        if (c->round) {
            rd_kafka_purge(c->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            for (int i = 0; c->outstanding && i < 100; i++)
                rd_kafka_poll(c->producer, 10); /* the purged reports, before the round goes */
        }
        rd_kafka_destroy(c->producer);
    }
    sq_closer_round_free(c);
    sq_kpi_folder_free(c->folder);
    for (int k = 0; k < SQ_K__COUNT; k++)
        free(c->key[k]);
    free(c);
}

int sq_closer_mark_idle(struct sq_closer *c, const char *offset_key, struct sq_err *err)
{
    const char *keys[] = {offset_key, c->key[SQ_K_PARTS], c->key[SQ_K_IDLE]};
    struct sq_redis_strs out;
    int rc = sq_closer_eval(c, sq_idle_lua, 3, keys, 0, NULL, &out, err);
    if (rc == SQ_OK)
        sq_redis_strs_fini(&out);
    return rc;
}

int sq_closer_mark_busy(struct sq_closer *c, const char *offset_key, struct sq_err *err)
{
    const char *keys[] = {offset_key, c->key[SQ_K_PARTS], c->key[SQ_K_IDLE]};
    struct sq_redis_strs out;
    int rc = sq_closer_eval(c, sq_busy_lua, 3, keys, 0, NULL, &out, err);
    if (rc == SQ_OK)
        sq_redis_strs_fini(&out);
    return rc;
}

/* Renews or takes the lease; c->holder says the outcome. */
static int sq_closer_lease(struct sq_closer *c, struct sq_err *err)
{
    const char *keys[] = {c->key[SQ_K_LEASE], c->key[SQ_K_TOKEN]};
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", SQ_CLOSER_LEASE_MS);
    const char *args[] = {c->id, ttl};
    struct sq_redis_strs out;
    int rc = sq_closer_eval(c, sq_lease_lua, 2, keys, 2, args, &out, err);
    if (rc != SQ_OK)
        return rc;
    bool was = c->holder;
    c->holder = out.n == 2 && out.v[0] && strcmp(out.v[0], "0") != 0;
    if (c->holder)
        snprintf(c->token, sizeof c->token, "%s", out.v[1] ? out.v[1] : "");
    if (c->holder && out.v[0] && strcmp(out.v[0], "2") == 0) {
        sq_info("closer lease taken (fencing token %s): this instance closes KPI windows",
                c->token);
        sq_metrics_inc(SQ_M_CLOSER_LEASES, 1);
    } else if (was && !c->holder) {
        sq_warn("closer lease lost: another instance closes KPI windows");
    }
    sq_redis_strs_fini(&out);
    return SQ_OK;
}

/* The holder's watermark step: 1 defined (*wm), 0 undefined, -1 fenced. */
static int sq_closer_watermark(struct sq_closer *c, int64_t *wm, struct sq_err *err)
{
    const char *keys[] = {c->key[SQ_K_TOKEN], c->key[SQ_K_WM], c->key[SQ_K_PARTS],
                          c->key[SQ_K_IDLE]};
    char now[24], grace[24];
    snprintf(now, sizeof now, "%lld", (long long)sq_now_ms());
    snprintf(grace, sizeof grace, "%lld", (long long)c->st->windows_grace_s * 1000);
    const char *args[] = {c->token, now, grace};
    struct sq_redis_strs out;
    int rc = sq_closer_eval(c, sq_watermark_lua, 4, keys, 3, args, &out, err);
    if (rc != SQ_OK)
        return -2;
    int res = out.n >= 2 && out.v[0] ? atoi(out.v[0]) : 0;
    if (res == 1)
        *wm = strtoll(out.v[1], NULL, 10);
    bool clock = out.n == 3 && out.v[2] && strcmp(out.v[2], "clock") == 0;
    if (res >= 0 && clock != c->wm_follows_clock) {
        if (clock)
            sq_info("closer: every partition is idle: the watermark follows the wall clock "
                    "(now - windows.grace_s)");
        else
            sq_info("closer: a partition is busy again: the watermark follows event time");
        c->wm_follows_clock = clock;
    }
    sq_redis_strs_fini(&out);
    return res;
}

/* A non-holder only reads the watermark (for lateness). */
static void sq_closer_read_watermark(struct sq_closer *c, struct sq_err *err)
{
    const char *keys[] = {c->key[SQ_K_WM]};
    struct sq_redis_strs out;
    if (sq_closer_eval(c, sq_get_lua, 1, keys, 0, NULL, &out, err) != SQ_OK)
        return;
    if (out.n == 1 && out.v[0])
        sq_chain_set_watermark(c->chain, strtoll(out.v[0], NULL, 10));
    sq_redis_strs_fini(&out);
}

/* SPEC 15's close order: window end, window size, dimension, key bytes. */
static int sq_close_cell_cmp(const void *pa, const void *pb)
{
    const struct sq_close_cell *a = pa, *b = pb;
    if (a->parsed != b->parsed)
        return a->parsed ? -1 : 1;
    if (!a->parsed)
        return strcmp(a->id, b->id);
    if (a->cell.end_ms != b->cell.end_ms)
        return a->cell.end_ms < b->cell.end_ms ? -1 : 1;
    if (a->cell.window.size_ms != b->cell.window.size_ms)
        return a->cell.window.size_ms < b->cell.window.size_ms ? -1 : 1;
    if (a->cell.dim != b->cell.dim)
        return a->cell.dim < b->cell.dim ? -1 : 1;
    return strcmp(a->cell.key, b->cell.key);
}

static rd_kafka_resp_err_t sq_closer_produce(struct sq_closer *c, struct sq_close_cell *cc,
                                             const char *value, const char *source)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "sq-schema", -1, "kpi.v1", -1);
    rd_kafka_header_add(h, "sq-source", -1, source, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        c->producer, RD_KAFKA_V_TOPIC(c->st->topic_kpi), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(cc->id, strlen(cc->id)), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(cc), RD_KAFKA_V_END);
    if (e)
        rd_kafka_headers_destroy(h);
    else
        c->outstanding++;
    return e;
}

/* Reads the cells' counters and produces their records (the reports come
 * through sq_closer_tick's polls). */
static int sq_closer_emit(struct sq_closer *c, struct sq_close_cell *v, size_t n, int64_t wm,
                          struct sq_err *err)
{
    struct sq_store_reads reads = {0};
    struct sq_buf val; /* a record's text, reused */
    sq_buf_init(&val);
    size_t *read_of = sq_xcalloc(n ? n : 1, sizeof *read_of);
    for (size_t i = 0; i < n; i++) {
        if (!v[i].parsed)
            continue;
        char *rkey = sq_kpi_redis_key_dup(c->st->redis_prefix, v[i].cell.dim, v[i].cell.key,
                                          &v[i].cell.window, v[i].cell.start_ms);
        read_of[i] = sq_store_reads_add(&reads, rkey, NULL);
        free(rkey);
    }
    int rc = reads.n ? sq_store_read(c->store, &reads, err) : SQ_OK;
    char source[64];
    snprintf(source, sizeof source, "watermark/%lld", (long long)wm);
    for (size_t i = 0; rc == SQ_OK && i < n; i++) {
        if (!v[i].parsed)
            continue;
        struct sq_kpi_counters cnt;
        memset(&cnt, 0, sizeof cnt);
        const char *stored = reads.v[read_of[i]].value;
        if (stored)
            sq_kpi_counters_add_text(&cnt, stored);
        sq_buf_reset(&val);
        sq_kpi_record_put(&val, v[i].cell.dim, v[i].cell.key, &v[i].cell.window,
                          v[i].cell.start_ms, v[i].revision, &cnt, c->mode);
        rd_kafka_resp_err_t e = sq_closer_produce(c, &v[i], val.data, source);
        if (e) {
            v[i].delivered = -1;
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "produce to %s: %s", c->st->topic_kpi,
                            rd_kafka_err2str(e));
        }
    }
    sq_store_reads_fini(&reads);
    sq_buf_fini(&val);
    free(read_of);
    return rc;
}

/* Records the round in Redis (fenced). 1 done, -1 fenced. */
static int sq_closer_commit(struct sq_closer *c, struct sq_close_cell *v, size_t n, int64_t wm,
                            struct sq_err *err)
{
    const char *keys[] = {c->key[SQ_K_TOKEN], c->key[SQ_K_OPEN], c->key[SQ_K_DIRTY],
                          c->key[SQ_K_GEN], c->key[SQ_K_REV], c->key[SQ_K_CLOSED]};
    size_t nargs = 2 + 4 * n;
    const char **args = sq_xcalloc(nargs, sizeof *args);
    char (*nums)[2][24] = sq_xcalloc(n ? n : 1, sizeof *nums);
    char prune[24];
    snprintf(prune, sizeof prune, "%lld",
             (long long)(wm - c->st->windows_max_lateness_s * 1000));
    args[0] = c->token;
    args[1] = prune;
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i][0], sizeof nums[i][0], "%lld", (long long)v[i].revision);
        snprintf(nums[i][1], sizeof nums[i][1], "%lld",
                 (long long)(v[i].parsed ? v[i].cell.end_ms : 0));
        args[2 + 4 * i] = v[i].id;
        args[3 + 4 * i] = v[i].touches;
        args[4 + 4 * i] = nums[i][0];
        args[5 + 4 * i] = nums[i][1];
    }
    struct sq_redis_strs out;
    int rc = sq_closer_eval(c, sq_commit_lua, 6, keys, nargs, args, &out, err);
    free(args);
    free(nums);
    if (rc != SQ_OK)
        return -2;
    int res = out.n == 1 && out.v[0] ? atoi(out.v[0]) : 0;
    sq_redis_strs_fini(&out);
    return res;
}

/* Starts a close round: reads the candidates and their counters and
 * produces the records. Returns the number of cells (0: nothing to close),
 * or -1 on an error (err filled). */
static long sq_closer_round_start(struct sq_closer *c, int64_t wm, struct sq_err *err)
{
    const char *keys[] = {c->key[SQ_K_OPEN], c->key[SQ_K_DIRTY], c->key[SQ_K_GEN],
                          c->key[SQ_K_REV]};
    char wms[24], max[24];
    snprintf(wms, sizeof wms, "%lld", (long long)wm);
    snprintf(max, sizeof max, "%d", SQ_CLOSER_ROUND);
    int64_t now = sq_mono_ms();
    bool dirty = now >= c->next_dirty;
    const char *args[] = {wms, max, dirty ? "1" : "0"};
    struct sq_redis_strs out;
    if (sq_closer_eval(c, sq_candidates_lua, 4, keys, 3, args, &out, err) != SQ_OK)
        return -1;
    size_t n = out.n / 3;
    if (!n) {
        sq_redis_strs_fini(&out);
        return 0;
    }
    if (dirty) /* late events of the next interval share a revision */
        c->next_dirty = now + c->st->windows_reemit_s * 1000;
    struct sq_close_cell *v = sq_xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].id = out.v[3 * i] ? out.v[3 * i] : "";
        v[i].touches = out.v[3 * i + 1] ? out.v[3 * i + 1] : "0";
        v[i].revision = (out.v[3 * i + 2] ? strtoll(out.v[3 * i + 2], NULL, 10) : 0) + 1;
        v[i].parsed = sq_kpi_cell_parse(v[i].id, &v[i].cell) == 0;
        if (!v[i].parsed) {
            sq_warn("closer: dropping the unknown window cell \"%s\"", v[i].id);
            v[i].revision = 0;
        }
    }
    qsort(v, n, sizeof *v, sq_close_cell_cmp);
    c->round = v;
    c->round_n = n;
    c->round_out = out;
    c->round_wm = wm;
    c->round_deadline = sq_mono_ms() + SQ_CLOSER_WAIT_MS;
    c->round_purged = false;
    /* On an error the records produced so far still report back: the round
     * ends (unrecorded) once they have. */
    return sq_closer_emit(c, v, n, wm, err) == SQ_OK ? (long)n : -1;
}

/* Ends the round once every report is in: records it when every record was
 * delivered and the lease is still ours. Returns the number of cells
 * recorded, 0 when the round was dropped, -1 while reports are awaited. */
static long sq_closer_round_finish(struct sq_closer *c, struct sq_err *err)
{
    if (c->outstanding) {
        if (!c->round_purged && sq_mono_ms() >= c->round_deadline) {
            /* unacknowledged for too long: give them up, retry later */
            rd_kafka_purge(c->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            c->round_purged = true;
        }
        return -1;
    }
    bool all = true;
    for (size_t i = 0; i < c->round_n; i++)
        if (c->round[i].parsed && c->round[i].delivered != 1)
            all = false;
    long done = 0;
    if (!all) {
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "KPI records not acknowledged by %s",
                   c->st->topic_kpi);
    } else if (c->holder) {
        int res = sq_closer_commit(c, c->round, c->round_n, c->round_wm, err);
        if (res == 1) {
            done = (long)c->round_n;
            for (size_t i = 0; i < c->round_n; i++)
                if (c->round[i].parsed)
                    sq_metrics_inc(SQ_M_KPI_RECORDS, 1);
        } else if (res == -1) {
            sq_warn("closer: fenced (another instance holds the lease now)");
            c->holder = false;
        }
    }
    sq_closer_round_free(c);
    return done;
}

static void sq_closer_warn(struct sq_closer *c, const struct sq_err *err)
{
    if (err->kind == SQ_ERR_FATAL) {
        /* Redis lost its data (the epoch key): no retry can mend that */
        if (c->fatal.kind != SQ_ERR_FATAL)
            c->fatal = *err;
        return;
    }
    int64_t now = sq_mono_ms();
    if (now - c->last_warn >= 10000) {
        sq_warn("closer: %s (retrying)", err->msg);
        c->last_warn = now;
    }
}

/* Collects the fold in flight (waiting up to wait_ms): true when it ended,
 * *more when it left entries behind. Failures are logged. */
static bool sq_closer_fold_collect(struct sq_closer *c, int wait_ms, bool *more)
{
    int rc;
    size_t bad;
    struct sq_err err;
    sq_err_clear(&err);
    if (!sq_kpi_folder_collect(c->folder, wait_ms, &rc, more, &bad, &err))
        return false;
    if (rc != SQ_OK)
        sq_closer_warn(c, &err);
    if (bad)
        sq_error("kpi journal: %zu entries were not journal entries: removed unapplied", bad);
    return true;
}

void sq_closer_fold_all(struct sq_closer *c, int64_t deadline)
{
    if (!c->folder)
        return;
    bool more = false;
    if (c->fold_wait) {
        int64_t left = deadline - sq_mono_ms();
        if (left <= 0 || !sq_closer_fold_collect(c, (int)left, &more))
            return;
        c->fold_wait = false;
    }
    do {
        int64_t left = deadline - sq_mono_ms();
        if (left <= 0 || !sq_kpi_folder_start(c->folder))
            return;
        if (!sq_closer_fold_collect(c, (int)left, &more)) {
            c->fold_wait = true;
            return;
        }
    } while (more);
}

/* The holder's watermark and close round (unless one awaits reports). */
static void sq_closer_close(struct sq_closer *c)
{
    if (c->round)
        return; /* reports still awaited */
    struct sq_err err;
    sq_err_clear(&err);
    int64_t wm = 0;
    int res = sq_closer_watermark(c, &wm, &err);
    if (res == -1) {
        sq_warn("closer: fenced (another instance holds the lease now)");
        c->holder = false;
        return;
    }
    if (res == -2)
        sq_closer_warn(c, &err);
    if (res != 1)
        return;
    sq_chain_set_watermark(c->chain, wm);
    int64_t start_us = sq_mono_us();
    long n = sq_closer_round_start(c, wm, &err);
    if (n < 0)
        sq_closer_warn(c, &err);
    else if (n > 0)
        sq_debug("closer: %ld cells due, read and produced in %.1f ms", n,
                 (double)(sq_mono_us() - start_us) / 1000.0);
}

bool sq_closer_fatal(const struct sq_closer *c, struct sq_err *err)
{
    if (c->fatal.kind != SQ_ERR_FATAL)
        return false;
    if (err)
        *err = c->fatal;
    return true;
}

void sq_closer_tick(struct sq_closer *c)
{
    rd_kafka_poll(c->producer, 0);
    struct sq_err err;
    sq_err_clear(&err);
    if (c->round) {
        long done = sq_closer_round_finish(c, &err);
        if (done == SQ_CLOSER_ROUND) {
            c->next_tick = 0; /* more may be due: go on at once */
            c->round_more = true;
        } else if (done == 0 && err.msg[0])
            sq_closer_warn(c, &err);
        sq_err_clear(&err);
    }
    if (c->fold_wait) {
        bool more = false;
        if (!sq_closer_fold_collect(c, 0, &more))
            return; /* the round waits for the fold */
        c->fold_wait = false;
        if (more)
            c->next_tick = c->next_fold = 0; /* a long journal: fold on at once */
        /* a journal longer than one fold (kpi_journal.h) takes several:
         * the watermark and round follow the last of them, or one a tick */
        int64_t now = sq_mono_ms();
        if (c->holder && (!more || now - c->last_close >= SQ_CLOSER_TICK_MS)) {
            c->last_close = now;
            c->round_more = false;
            sq_closer_close(c);
        }
        return;
    }
    int64_t now = sq_mono_ms();
    if (now < c->next_tick)
        return;
    c->next_tick = now + SQ_CLOSER_TICK_MS;
    if (sq_closer_lease(c, &err) != SQ_OK) {
        sq_closer_warn(c, &err);
        return;
    }
    if (!c->holder) {
        sq_closer_read_watermark(c, &err);
        return;
    }
    /* the KPI journal first (on the folder's thread), so that the round
     * reads counters with every step applied so far */
    if (c->folder && now >= c->next_fold && !SQ_FAULT_NAMED("no_periodic_fold") &&
        sq_kpi_folder_start(c->folder)) {
        /* once every kpi.fold_interval_s: the more steps a fold sums, the
         * fewer HINCRBYs (docs/kpis.md) */
        c->next_fold = now + c->st->kpi_fold_interval_s * 1000;
        c->fold_wait = true;
        return;
    }
    /* a round follows the fold that brings its counters, unless the last
     * round left more due: those go on at once, on the counters folded */
    if (c->folder && !c->round_more && !SQ_FAULT_NAMED("no_periodic_fold"))
        return;
    c->round_more = false;
    sq_closer_close(c);
}
