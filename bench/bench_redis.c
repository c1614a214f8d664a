/* bench_redis.c: what Redis itself spends on the kinds of work sqgate's
 * partition steps give it, in redis-server CPU (INFO cpu, user + system)
 * per unit, from a redis-server child on a free loopback port: a HINCRBY
 * called from a script, the same HINCRBY sent as a plain pipelined command,
 * an argument of an EVALSHA, and a cell's counters summed in the script
 * (HMGET, add, HSET) instead of a HINCRBY each; then each op of the real
 * step script (gateway/redis_link.c, processors/store.h), run as partition
 * steps of 300 ops of one kind, and a dedupe mark's read, with a slice's
 * sets as full as docs/operations.md sizes them (~400 marks). These are
 * the unit costs behind the step
 * scripts' cost per event (docs/performance.md). Usage:
 * bench_redis [--rounds N] (--sqgate PATH is ignored). */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dedupe.h"
#include "ports.h"
#include "redis_link.h"
#include "store.h"

#define BR_CELLS 100   /* KPI cells a script touches */
#define BR_FIELDS 10   /* counters per cell, as a contact adds to an agent cell */
#define BR_ARGS 2000   /* arguments of the do-nothing EVALSHA */
#define BR_REPS 300    /* scripts (or pipelines) per measurement */

static const char *const br_fields[BR_FIELDS] = {
    "offered", "answered", "answered_in_sla", "wait_answered_ms_sum", "handle_ms_sum",
    "resolved", "quality_score_deci_sum", "quality_score_n", "transfers_sum", "repeat"};

/* one HINCRBY per (field, by) pair of ARGV on KEYS[1] */
static const char br_incr_lua[] =
    "local k = KEYS[1]\n"
    "for i = 1, #ARGV, 2 do redis.call('HINCRBY', k, ARGV[i], ARGV[i+1]) end\n"
    "return 1\n";
/* the same sums with one HMGET and one HSET */
static const char br_sum_lua[] =
    "local k, f, n = KEYS[1], {}, #ARGV / 2\n"
    "for j = 1, n do f[j] = ARGV[2*j-1] end\n"
    "local o = redis.call('HMGET', k, unpack(f))\n"
    "local set = {}\n"
    "for j = 1, n do set[2*j-1] = f[j]; set[2*j] = string.format('%d', (tonumber(o[j]) or 0) + tonumber(ARGV[2*j])) end\n"
    "redis.call('HSET', k, unpack(set))\n"
    "return 1\n";
static const char br_nop_lua[] = "return 1\n";

struct br {
    pid_t pid;
    int port;
    redisContext *c;
    char incr_sha[48], sum_sha[48], nop_sha[48];
    char cells[BR_CELLS][64];
};

static int br_start(struct br *b)
{
    int port = sq_free_loopback_port();
    if (port <= 0)
        return -1;
    b->port = port;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    b->pid = fork();
    if (b->pid < 0)
        return -1;
    if (b->pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        struct timeval tv = {1, 0};
        b->c = redisConnectWithTimeout("127.0.0.1", port, tv);
        if (b->c && !b->c->err) {
            redisReply *r = redisCommand(b->c, "PING");
            int up = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            if (up)
                return 0;
        }
        if (b->c)
            redisFree(b->c);
        b->c = NULL;
        usleep(50000);
    }
    return -1;
}

static void br_stop(struct br *b)
{
    if (b->c)
        redisFree(b->c);
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
    }
}

static int br_load(struct br *b, const char *lua, char *sha)
{
    redisReply *r = redisCommand(b->c, "SCRIPT LOAD %s", lua);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len < 48;
    if (ok)
        snprintf(sha, 48, "%s", r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* redis-server's CPU so far, seconds (user + system); -1 on error */
static double br_cpu(struct br *b)
{
    redisReply *r = redisCommand(b->c, "INFO cpu");
    double user = -1, sys = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *u = strstr(r->str, "used_cpu_user:");
        const char *s = strstr(r->str, "used_cpu_sys:");
        if (u && s) {
            user = strtod(u + strlen("used_cpu_user:"), NULL);
            sys = strtod(s + strlen("used_cpu_sys:"), NULL);
        }
    }
    freeReplyObject(r);
    return user < 0 || sys < 0 ? -1 : user + sys;
}

/* Reads n replies; -1 when one is an error or missing. */
static int br_replies(struct br *b, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(b->c, (void **)&r) != REDIS_OK || !r) {
            fprintf(stderr, "bench_redis: %s\n", b->c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "bench_redis: %s\n", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* One EVALSHA sha per cell with its BR_FIELDS (field, 3) pairs, pipelined. */
static int br_scripts_per_cell(struct br *b, const char *sha)
{
    const char *argv[4 + 2 * BR_FIELDS];
    for (int c = 0; c < BR_CELLS; c++) {
        int n = 0;
        argv[n++] = "EVALSHA";
        argv[n++] = sha;
        argv[n++] = "1";
        argv[n++] = b->cells[c];
        for (int f = 0; f < BR_FIELDS; f++) {
            argv[n++] = br_fields[f];
            argv[n++] = "3";
        }
        redisAppendCommandArgv(b->c, n, argv, NULL);
    }
    return br_replies(b, BR_CELLS);
}

static int br_script_incr(struct br *b)
{
    return br_scripts_per_cell(b, b->incr_sha);
}

static int br_script_sum(struct br *b)
{
    return br_scripts_per_cell(b, b->sum_sha);
}

/* The same HINCRBYs as plain commands in one pipeline. */
static int br_plain_incr(struct br *b)
{
    for (int c = 0; c < BR_CELLS; c++)
        for (int f = 0; f < BR_FIELDS; f++) {
            const char *argv[4] = {"HINCRBY", b->cells[c], br_fields[f], "3"};
            redisAppendCommandArgv(b->c, 4, argv, NULL);
        }
    return br_replies(b, BR_CELLS * BR_FIELDS);
}

/* One EVALSHA of a script that does nothing, with BR_ARGS arguments. */
static int br_nop_args(struct br *b)
{
    static const char *argv[3 + BR_ARGS];
    static char args[BR_ARGS][16];
    if (!argv[0]) { /* built once, not in every measured call */
        for (int i = 0; i < BR_ARGS; i++) {
            snprintf(args[i], sizeof args[i], "a%d", i);
            argv[3 + i] = args[i];
        }
        argv[0] = "EVALSHA";
        argv[2] = "0";
    }
    argv[1] = b->nop_sha;
    redisAppendCommandArgv(b->c, 3 + BR_ARGS, argv, NULL);
    return br_replies(b, 1);
}

/* The median of v[0..n), which it sorts. */
static double br_median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* Redis CPU per unit in microseconds: the median over rounds of BR_REPS
 * calls of fn, each doing units units; -1 on error. */
static double br_measure(struct br *b, int (*fn)(struct br *), double units, int rounds)
{
    double v[16];
    if (rounds > 16)
        rounds = 16;
    for (int r = 0; r < rounds; r++) {
        double c0 = br_cpu(b);
        for (int i = 0; i < BR_REPS; i++)
            if (fn(b) != 0)
                return -1;
        double c1 = br_cpu(b);
        if (c0 < 0 || c1 < 0)
            return -1;
        v[r] = (c1 - c0) / (BR_REPS * units) * 1e6;
    }
    return br_median(v, rounds);
}

/* ---- the step script's ops ------------------------------------------ */

#define BR_STEP_OPS 300 /* ops of one kind in a step */
#define BR_STEPS 60     /* steps per measurement */
#define BR_MARK_MS 1795600000000LL /* the dedupe marks' event time: one slice */
#define BR_MARK_FILL 400           /* marks a dedupe set holds before measuring */
#define BR_STR(x) #x
#define BR_XSTR(x) BR_STR(x)

static struct sq_settings br_st; /* defaults: dedupe.shards, dedupe.ttl_s, prefix */

/* The dedupe mark of id (kind, n, k) as the dedupe processor makes it. */
static void br_mark(const char *kind, long n, int k, char **key, char **member)
{
    char eid[48];
    snprintf(eid, sizeof eid, "%s-%ld-%d", kind, n, k);
    sq_dedupe_mark_dup(&br_st, "contact.v1", eid, BR_MARK_MS, key, member);
}

static const char *const br_kpi_fields[8] = {
    "offered", "answered", "answered_in_sla", "wait_answered_ms_sum", "handle_ms_sum",
    "resolved", "quality_score_deci_sum", "quality_score_n"};
static const int64_t br_kpi_by[8] = {1, 1, 1, 12000, 240000, 1, 800, 1};

/* Appends op number k of kind (of step rep) to ops, as the processors
 * write them for a contact. */
static void br_step_op(struct sq_state_ops *ops, char kind, int rep, int k)
{
    char key[96], t[40], eid[32], cell[96], member[96];
    snprintf(t, sizeof t, "2026-11-25T10:%02d:%02d.000Z", rep % 60, k % 60);
    switch (kind) {
    case 'C': case 'F': {
        /* F: with what score adds for a contact with a breach */
        snprintf(key, sizeof key, "sq:cust:c%d", k);
        snprintf(eid, sizeof eid, "e%d-%d", rep, k);
        char cxt[24];
        snprintf(cxt, sizeof cxt, "%lld", 1795600000000LL + rep * 1000LL + k);
        bool f = kind == 'F';
        const char *a[] = {"C", key, "1", t, eid, t, "GD-SZ", "gold", "2592000",
                           f ? "3" : "", f ? cxt : "", f ? "70" : "", f ? "2592000000" : "",
                           f ? "1" : "0", f ? t : "", f ? "SLA_WAIT" : "", "0"};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
            sq_state_ops_push(ops, a[i], strlen(a[i]));
        break;
    }
    case 'K':
        snprintf(key, sizeof key, "sq:kpi:agent:AG%04d:15m:1795600800", k);
        sq_op_hincr_each(ops, key, 691200, 8, br_kpi_fields, br_kpi_by);
        break;
    case 'W':
        snprintf(cell, sizeof cell, "agent|AG%04d|15m|1795600800", k);
        sq_op_window_touch(ops, "sq:", cell, 1795601700000LL);
        break;
    case 'H': case 'h': {
        /* h: the same without a TTL, so the script calls no EXPIRE */
        snprintf(key, sizeof key, "sq:hist:c%d", k);
        const char *fv[] = {"contacts", "[[1795600000000,\"billing\"],[1795600100000,\"billing\"]]",
                            NULL};
        sq_op_hset(ops, key, kind == 'H' ? 2592000 : 0, fv);
        break;
    }
    case 'Z':
        snprintf(key, sizeof key, "sq:cust:c%d:breaches", k);
        snprintf(member, sizeof member, "{\"code\":\"SLA_WAIT\",\"n\":%d}", rep);
        sq_op_zadd_keep(ops, key, 2592000, 100, 1795600000000LL + rep, member);
        break;
    case 'G':
        snprintf(key, sizeof key, "sq:cust:c%d", k);
        sq_op_latest(ops, key, "last_breach_at", t, "last_breach_code", "SLA_WAIT", 2592000);
        break;
    case 'D': {
        char *mkey, *mmember;
        br_mark("d", rep, k, &mkey, &mmember);
        sq_op_dedupe(ops, mkey, mmember, br_st.dedupe_ttl_s * 2);
        free(mkey);
        free(mmember);
        break;
    }
    }
}

/* Fills the marks' slice to ~BR_MARK_FILL marks a set with plain SADDs. */
static int br_fill_marks(struct br *b)
{
    long n = (long)br_st.dedupe_shards * BR_MARK_FILL;
    for (long i = 0; i < n; i += 10000) {
        int sent = 0;
        for (long j = i; j < i + 10000 && j < n; j++, sent++) {
            char *key, *member;
            br_mark("fill", j, 0, &key, &member);
            redisAppendCommand(b->c, "SADD %s %s", key, member);
            free(key);
            free(member);
        }
        if (br_replies(b, sent) != 0)
            return -1;
    }
    return 0;
}

/* Redis CPU per dedupe mark read (SMISMEMBER, BR_STEP_OPS marks of new ids
 * a read, as the chain reads a batch's marks), the median over rounds. */
static double br_mark_read_cost(struct br *b, struct sq_redis *r, int rounds)
{
    double v[16];
    if (rounds > 16)
        rounds = 16;
    static long n = 0;
    for (int round = 0; round < rounds; round++) {
        double c0 = br_cpu(b);
        for (int rep = 0; rep < BR_STEPS; rep++, n++) {
            struct sq_store_reads reads = {0};
            for (int k = 0; k < BR_STEP_OPS; k++) {
                char *key, *member;
                br_mark("r", n, k, &key, &member);
                sq_store_reads_add_member(&reads, key, member);
                free(key);
                free(member);
            }
            struct sq_err err;
            sq_err_clear(&err);
            int rc = sq_redis_read_fields(r, &reads, &err);
            sq_store_reads_fini(&reads);
            if (rc != SQ_OK) {
                fprintf(stderr, "bench_redis: mark reads: %s\n", err.msg);
                return -1;
            }
        }
        double c1 = br_cpu(b);
        if (c0 < 0 || c1 < 0)
            return -1;
        v[round] = (c1 - c0) / ((double)BR_STEPS * BR_STEP_OPS) * 1e6;
    }
    return br_median(v, rounds);
}

/* Redis CPU per op of kind (0: none, the step's own cost per op slot) in
 * partition steps of BR_STEP_OPS ops, the median over rounds, after warm
 * steps that create the keys; -1 on error. */
static double br_step_cost(struct br *b, struct sq_redis *r, char kind, int rounds)
{
    double v[16];
    if (rounds > 16)
        rounds = 16;
    static int part = 0; /* a partition of its own for each measurement */
    char offset_key[64];
    snprintf(offset_key, sizeof offset_key, "sq:off:bench:t:%d", part++);
    int64_t applied = -1;
    for (int round = -1; round < rounds; round++) {
        double c0 = br_cpu(b);
        int steps = round < 0 ? 3 : BR_STEPS;
        for (int rep = 0; rep < steps; rep++) {
            struct sq_state_ops ops = {0};
            sq_op_message(&ops, 0);
            for (int k = 0; kind && k < BR_STEP_OPS; k++)
                br_step_op(&ops, kind, rep, k);
            struct sq_redis_step st = {.offset_key = offset_key, .expected = applied,
                                       .last = applied + 1, .max_event_ms = -1, .ops = &ops};
            struct sq_err err;
            sq_err_clear(&err);
            int rc = sq_redis_run_steps(r, &st, 1, NULL, &err);
            sq_state_ops_fini(&ops);
            free(st.dups);
            if (rc != SQ_OK || st.result != 1) {
                fprintf(stderr, "bench_redis: step of %c ops: %s (result %d)\n", kind ? kind : '-',
                        err.msg, st.result);
                return -1;
            }
            applied++;
        }
        double c1 = br_cpu(b);
        if (c0 < 0 || c1 < 0)
            return -1;
        if (round >= 0)
            v[round] = (c1 - c0) / ((double)BR_STEPS * BR_STEP_OPS) * 1e6;
    }
    return br_median(v, rounds);
}

int main(int argc, char **argv)
{
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--sqgate") == 0 && i + 1 < argc) {
            i++;
        } else {
            fprintf(stderr, "usage: bench_redis [--rounds N]\n");
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    struct br b;
    memset(&b, 0, sizeof b);
    sq_settings_defaults(&br_st);
    for (int c = 0; c < BR_CELLS; c++)
        snprintf(b.cells[c], sizeof b.cells[c], "sq:kpi:agent:AG%04d:15m:1795600800", c);
    if (br_start(&b) != 0 || br_load(&b, br_incr_lua, b.incr_sha) != 0 ||
        br_load(&b, br_sum_lua, b.sum_sha) != 0 || br_load(&b, br_nop_lua, b.nop_sha) != 0) {
        fprintf(stderr, "bench_redis: cannot start redis-server or load the scripts\n");
        br_stop(&b);
        return 1;
    }
    double counters = BR_CELLS * BR_FIELDS;
    double in_script = br_measure(&b, br_script_incr, counters, rounds);
    double plain = br_measure(&b, br_plain_incr, counters, rounds);
    double summed = br_measure(&b, br_script_sum, counters, rounds);
    double arg = br_measure(&b, br_nop_args, BR_ARGS, rounds);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", b.port);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *r = sq_redis_new(url, "sq:", 10000, &err);
    static const char kinds[] = "CFKWHhZGD";
    static const char *const what[] = {
        "C (a customer's counts and times: HMGET, HSET, EXPIRE)",
        "the same C with a contact's contacts_30d, cx_index (its decay in Lua) and a breach",
        "K (an agent cell, 8 counters: 8 HINCRBY, EXPIRE)",
        "W (a window cell touched: HINCRBY, GET once a step, then its open/dirty set)",
        "H (a contact history: HSET, EXPIRE)",
        "the same H without a TTL (HSET alone: the difference is an EXPIRE's cost)",
        "Z (a breach: ZADD, ZREMRANGEBYRANK, EXPIRE)",
        "G (a timer breach on its customer: last_breach_* by HMGET, HSET, EXPIRE)",
        "D (a dedupe mark: SADD into a set of ~" BR_XSTR(BR_MARK_FILL) " marks, EXPIRE)"};
    double empty = r ? br_step_cost(&b, r, 0, rounds) : -1;
    double op[sizeof kinds - 1], mark_read = -1;
    int ops_ok = empty >= 0;
    for (size_t k = 0; ops_ok && k < sizeof kinds - 1; k++) {
        if (kinds[k] == 'D')
            ops_ok = br_fill_marks(&b) == 0;
        ops_ok = ops_ok && (op[k] = br_step_cost(&b, r, kinds[k], rounds)) >= 0;
    }
    if (ops_ok)
        ops_ok = (mark_read = br_mark_read_cost(&b, r, rounds)) >= 0;
    if (!r)
        fprintf(stderr, "bench_redis: %s\n", err.msg);
    sq_redis_free(r);
    br_stop(&b);
    if (in_script < 0 || plain < 0 || summed < 0 || arg < 0 || !ops_ok) {
        fprintf(stderr, "bench_redis: a measurement failed\n");
        return 1;
    }
    printf("| redis-server CPU per unit (median of %d rounds of %d) | µs |\n", rounds, BR_REPS);
    printf("|---|---|\n");
    printf("| a HINCRBY called from a script (an EVALSHA a cell, %d counters each), per counter "
           "| %.2f |\n", BR_FIELDS, in_script);
    printf("| the same HINCRBY as a plain command, pipelined, per counter | %.2f |\n", plain);
    printf("| a cell's %d counters summed in the script (HMGET, add, HSET), per counter | %.2f |\n",
           BR_FIELDS, summed);
    printf("| an argument of an EVALSHA (a script that does nothing, %d arguments) | %.3f |\n",
           BR_ARGS, arg);
    printf("\n| redis-server CPU per op of the step script (steps of %d ops of one kind, "
           "the step's own cost taken out) | µs |\n|---|---|\n", BR_STEP_OPS);
    for (size_t k = 0; k < sizeof kinds - 1; k++)
        printf("| %s | %.2f |\n", what[k], op[k] - empty);
    printf("| the step's own cost, per op slot (offset, watermark, the call) | %.3f |\n", empty);
    printf("| a dedupe mark's read (SMISMEMBER, a set of ~%d marks; %d marks a read) | %.2f |\n",
           BR_MARK_FILL, BR_STEP_OPS, mark_read);
    sq_settings_free(&br_st);
    return 0;
}
