/* bench_engine.c: the quality engine's figures, from one run on this
 * machine: `sqgate replay` events/s on the generated mix beside the time to
 * only parse the same events with jansson; the same replay with KPI
 * aggregation on (the default) and off (`kpi.enabled: false`), each the
 * fastest of three alternating runs; Redis bytes per dedupe id and per KPI
 * hash; and in-process bytes per cached profile and per open ticket.
 * Usage: bench_engine [--events N] [--sqgate PATH] */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "chain.h"
#include "config.h"
#include "dedupe.h"
#include "gen.h"
#include "kpi.h"
#include "ports.h"
#include "redis_link.h"
#include "store.h"

static double sq_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- replay versus parse-only ----------------------------------------- */

struct sq_bench_events {
    char **values;   /* each message's bytes */
    size_t *lens;
    size_t n;
};

static void sq_bench_generate(const char *path, long count, struct sq_bench_events *ev)
{
    struct sq_gen_opts o;
    sq_gen_opts_defaults(&o);
    o.seed = 7;
    o.start_ms = 1795600000000LL;
    o.profile_share = 0.02;
    struct sq_gen *g = sq_gen_new(&o);
    FILE *f = fopen(path, "w");
    struct sq_buf key, val, env;
    sq_buf_init(&key);
    sq_buf_init(&val);
    sq_buf_init(&env);
    ev->values = calloc((size_t)count, sizeof *ev->values);
    ev->lens = calloc((size_t)count, sizeof *ev->lens);
    for (long i = 0; i < count; i++) {
        const char *topic;
        sq_buf_reset(&key);
        sq_buf_reset(&val);
        sq_buf_reset(&env);
        int kind = sq_gen_next(g, &topic, &key, &val);
        sq_gen_envelope(&env, kind, topic, &key, &val);
        fwrite(env.data, 1, env.len, f);
        fputc('\n', f);
        ev->values[i] = sq_xstrndup(val.data ? val.data : "", val.len);
        ev->lens[i] = val.len;
    }
    ev->n = (size_t)count;
    fclose(f);
    sq_buf_fini(&key);
    sq_buf_fini(&val);
    sq_buf_fini(&env);
    sq_gen_free(g);
}

static double sq_bench_parse_only(const struct sq_bench_events *ev)
{
    double t0 = sq_bench_now();
    for (size_t i = 0; i < ev->n; i++) {
        json_error_t jerr;
        json_t *j = json_loadb(ev->values[i], ev->lens[i], JSON_REJECT_DUPLICATES, &jerr);
        json_decref(j);
    }
    return sq_bench_now() - t0;
}

/* One `sqgate replay` of in, with the config file cfg when not NULL. */
static double sq_bench_replay(const char *sqgate, const char *in, const char *cfg)
{
    double t0 = sq_bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        if (cfg)
            execl(sqgate, sqgate, "replay", "-c", cfg, in, "-o", "/dev/null", (char *)NULL);
        else
            execl(sqgate, sqgate, "replay", in, "-o", "/dev/null", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: sqgate replay failed\n");
        exit(2);
    }
    return sq_bench_now() - t0;
}

/* ---- replay with KPI aggregation on versus off ------------------------ */

/* The fastest of three runs each, on and off alternating, so that a load
 * that comes and goes on the machine weighs on both alike. */
static void sq_bench_replay_kpi(const char *sqgate, const char *in, double *on, double *off)
{
    *on = *off = -1;
    char cfg[] = "/tmp/sq-bench-kpi-XXXXXX"; /* mkstemp's template */
    int fd = mkstemp(cfg);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool bad = !f || fputs("kpi:\n  enabled: false\n", f) < 0;
    if (f && fclose(f) != 0)
        bad = true;
    if (bad) {
        fprintf(stderr, "bench_engine: writing %s: %s\n", cfg, strerror(errno));
        return;
    }
    for (int i = 0; i < 3; i++) {
        double t = sq_bench_replay(sqgate, in, NULL);
        if (*on < 0 || t < *on)
            *on = t;
        t = sq_bench_replay(sqgate, in, cfg);
        if (*off < 0 || t < *off)
            *off = t;
    }
    unlink(cfg);
}

/* ---- Redis bytes per dedupe id and per KPI hash ----------------------- */

static long long sq_bench_used_memory(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO memory");
    const char *p = r && r->str ? strstr(r->str, "used_memory:") : NULL;
    long long v = p ? strtoll(p + 12, NULL, 10) : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* Starts a redis-server with nothing saved on a free port: the connection,
 * *pid and *port, or NULL when it did not come up. */
static redisContext *sq_bench_redis_start(pid_t *pidp, int *portp)
{
    int port = sq_free_loopback_port();
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    redisContext *c = NULL;
    for (int i = 0; i < 100; i++) {
        usleep(50000);
        c = redisConnect("127.0.0.1", port);
        if (c && !c->err)
            break;
        if (c)
            redisFree(c);
        c = NULL;
    }
    if (!c) {
        fprintf(stderr, "bench: redis-server did not start\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return NULL;
    }
    *pidp = pid;
    *portp = port;
    return c;
}

static void sq_bench_redis_stop(redisContext *c, pid_t pid)
{
    redisFree(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* Redis bytes per item: n items, each added to a step's ops by add(), in
 * steps of 1,000 on a fresh redis-server, as the runtime writes them. */
typedef void sq_bench_add_fn(struct sq_state_ops *ops, const struct sq_settings *st, long k,
                             void *ctx);

static double sq_bench_redis_bytes(long n, sq_bench_add_fn *add, void *ctx)
{
    pid_t pid;
    int port;
    redisContext *c = sq_bench_redis_start(&pid, &port);
    if (!c)
        return -1;
    struct sq_settings st;
    sq_settings_defaults(&st);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *r = sq_redis_new(url, "sq:", 5000, &err);
    sq_redis_ensure(r, &err);
    long long before = sq_bench_used_memory(c);
    int64_t off = -1;
    for (long i = 0; i < n; i += 1000) {
        struct sq_state_ops ops = {0};
        for (long k = i; k < i + 1000 && k < n; k++) {
            sq_op_message(&ops, (size_t)(k - i));
            add(&ops, &st, k, ctx);
        }
        struct sq_redis_step s = {.offset_key = "sq:off:bench:t:0", .expected = off,
                                  .last = off + 1000, .max_event_ms = -1, .ops = &ops};
        sq_redis_run_steps(r, &s, 1, NULL, &err);
        free(s.dups);
        off += 1000;
        sq_state_ops_fini(&ops);
    }
    long long after = sq_bench_used_memory(c);
    sq_redis_free(r);
    sq_bench_redis_stop(c, pid);
    sq_settings_free(&st);
    return (double)(after - before) / (double)n;
}

/* One dedupe mark, as the dedupe processor writes it. */
static void sq_bench_add_dedupe(struct sq_state_ops *ops, const struct sq_settings *st, long k,
                                void *ctx)
{
    (void)ctx;
    char eid[64], *key, *field;
    snprintf(eid, sizeof eid, "c-7-%ld", k);
    sq_dedupe_mark_dup(st, "contact.v1", eid, 1795600000000LL + k * 50, &key, &field);
    sq_op_dedupe(ops, key, field, st->dedupe_ttl_s * 2);
    free(key);
    free(field);
}

static double sq_bench_dedupe_bytes(long ids)
{
    return sq_bench_redis_bytes(ids, sq_bench_add_dedupe, NULL);
}

/* A 15m queue cell with a few dozen contacts: the 15 counters such a cell
 * has non-zero, written as aggregate.c writes them (HINCRBY, kpi.ttl_s). */
static void sq_bench_kpi_cell(struct sq_state_ops *ops, const struct sq_settings *st,
                              const struct sq_kpi_window *w, long k)
{
    static const struct {
        enum sq_kpi_counter c;
        int64_t base, per;
    } cell[] = {
        {SQ_KC_OFFERED, 24, 1},          {SQ_KC_ANSWERED, 21, 1},
        {SQ_KC_ANSWERED_IN_SLA, 17, 1},  {SQ_KC_ABANDONED, 3, 0},
        {SQ_KC_SHORT_ABANDONED, 1, 0},   {SQ_KC_ABANDONED_IN_SLA, 1, 0},
        {SQ_KC_WAIT_ANSWERED_MS_SUM, 310000, 14000},
        {SQ_KC_HANDLE_MS_SUM, 5600000, 270000},
        {SQ_KC_TRANSFERS_SUM, 2, 0},     {SQ_KC_REPEAT, 4, 0},
        {SQ_KC_RESOLVED, 17, 1},         {SQ_KC_CSAT_SUM, 19, 0},
        {SQ_KC_CSAT_N, 5, 0},            {SQ_KC_QUALITY_SCORE_DECI_SUM, 17600, 780},
        {SQ_KC_QUALITY_SCORE_N, 21, 1},
    };
    /* 50 queues, each with one cell per 15 minutes. */
    char queue[32];
    snprintf(queue, sizeof queue, "queue-%02ld", k % 50);
    int64_t start = 1795600800000LL + (k / 50) * w->size_ms;
    char *key = sq_kpi_redis_key_dup(st->redis_prefix, SQ_KD_QUEUE, queue, w, start);
    for (size_t i = 0; i < sizeof cell / sizeof cell[0]; i++)
        sq_op_hincr(ops, key, sq_kpi_counter_name(cell[i].c), cell[i].base + cell[i].per * (k % 17),
                    st->kpi_ttl_s);
    free(key);
}

static void sq_bench_add_kpi(struct sq_state_ops *ops, const struct sq_settings *st, long k,
                             void *ctx)
{
    sq_bench_kpi_cell(ops, st, ctx, k);
}

static double sq_bench_kpi_bytes(long hashes)
{
    struct sq_kpi_windows win;
    char msg[128];
    sq_kpi_windows_parse("15m", &win, msg, sizeof msg);
    return sq_bench_redis_bytes(hashes, sq_bench_add_kpi, &win.v[0]);
}

/* ---- in-process bytes per cached profile, open ticket and window cell -- */

/* A store holding nothing: every read misses, so the only state that grows
 * is what the processors keep in process. */
static int sq_null_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    (void)s;
    (void)r;
    (void)err;
    return SQ_OK;
}
static const struct sq_store_vt sq_null_vt = {.read = sq_null_read};

static size_t sq_bench_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

/* Runs n one-message batches built by make(i) and returns the heap growth
 * divided by kept, the number of entries the processors keep of them. */
static double sq_bench_retained(struct sq_chain *chain, const char *topic, const char *schema,
                                long n, long kept, void (*make)(long i, char *buf, size_t sz))
{
    struct sq_store null_store = {.vt = &sq_null_vt};
    char buf[1024];
    size_t before = sq_bench_heap();
    for (long i = 0; i < n; i++) {
        make(i, buf, sizeof buf);
        struct sq_batch b;
        memset(&b, 0, sizeof b);
        b.store = &null_store;
        b.n = 1;
        b.msgs = sq_xcalloc(1, sizeof *b.msgs);
        b.msgs[0].topic = topic;
        b.msgs[0].value = buf;
        b.msgs[0].value_len = strlen(buf);
        b.msgs[0].default_schema = schema;
        struct sq_err err;
        sq_err_clear(&err);
        sq_chain_run(chain, &b, &err);
        sq_batch_fini(&b);
    }
    malloc_trim(0);
    return (double)(sq_bench_heap() - before) / (double)kept;
}

static void sq_make_contact(long i, char *buf, size_t sz)
{
    snprintf(buf, sz,
             "{\"schema\":\"contact.v1\",\"event_id\":\"b-%ld\",\"occurred_at\":\"2026-11-25T10:05:00Z\","
             "\"customer_id\":\"138%08ld\",\"contact_id\":\"k\",\"channel\":\"voice\",\"queue\":\"q\","
             "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"answered_at\":\"2026-11-25T10:00:05Z\","
             "\"ended_at\":\"2026-11-25T10:05:00Z\",\"outcome\":\"resolved\",\"reason\":\"billing\"}",
             i, i);
}

/* A contact of a queue and an agent no other contact has: a new cell of
 * each in every window size (the other dimensions' keys are shared). */
static void sq_make_contact_cells(long i, char *buf, size_t sz)
{
    snprintf(buf, sz,
             "{\"schema\":\"contact.v1\",\"event_id\":\"w-%ld\",\"occurred_at\":\"2026-11-25T10:05:00Z\","
             "\"customer_id\":\"139%08ld\",\"contact_id\":\"k\",\"channel\":\"voice\","
             "\"queue\":\"q-%ld\",\"agent_id\":\"ag-%ld\","
             "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"answered_at\":\"2026-11-25T10:00:05Z\","
             "\"ended_at\":\"2026-11-25T10:05:00Z\",\"outcome\":\"resolved\",\"reason\":\"billing\"}",
             i, i % 1000, i, i);
}

static void sq_make_ticket(long i, char *buf, size_t sz)
{
    snprintf(buf, sz,
             "{\"schema\":\"ticket.v1\",\"event_id\":\"t-%ld\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
             "\"customer_id\":\"138%08ld\",\"ticket_id\":\"TK-%08ld\",\"kind\":\"fault\","
             "\"category\":\"network_quality\",\"severity\":2,\"status\":\"opened\"}",
             i, i % 1000, i);
}

int main(int argc, char **argv)
{
    long events = 100000;
    const char *sqgate = SQ_BUILD_DIR "/sqgate";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            events = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sqgate") == 0 && i + 1 < argc)
            sqgate = argv[++i];
    }
    char path[] = "/tmp/sq-bench-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct sq_bench_events ev = {0};
    sq_bench_generate(path, events, &ev);
    double parse = sq_bench_parse_only(&ev);
    double replay, replay_off;
    sq_bench_replay_kpi(sqgate, path, &replay, &replay_off);
    unlink(path);

    struct sq_settings st;
    sq_settings_defaults(&st);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_chain *chain = sq_chain_new(&st, &err);
    /* the profile cache keeps at most enrich.cache_entries of 50k customers */
    long cached = st.enrich_cache_entries < 50000 ? (long)st.enrich_cache_entries : 50000;
    double per_profile =
        sq_bench_retained(chain, "sq.in.contacts", "contact.v1", 50000, cached, sq_make_contact);
    double per_ticket =
        sq_bench_retained(chain, "sq.in.tickets", "ticket.v1", 50000, 50000, sq_make_ticket);
    /* `run` keeps a live window cell in Redis (its KPI hash, the closer's
     * sets), so this is what the process keeps of one beyond its turn */
    struct sq_kpi_windows win;
    char msg[128];
    if (sq_kpi_windows_parse(st.windows_sizes, &win, msg, sizeof msg) != 0) {
        fprintf(stderr, "bench: windows.sizes: %s\n", msg);
        return 1;
    }
    size_t nwin = win.n;
    long cells = 50000L * 2 * (long)nwin;
    double per_cell = sq_bench_retained(chain, "sq.in.contacts", "contact.v1", 50000, cells,
                                        sq_make_contact_cells);
    sq_chain_free(chain);
    sq_settings_free(&st);
    double per_id = sq_bench_dedupe_bytes(100000);
    double per_kpi = sq_bench_kpi_bytes(20000);

    printf("| figure | value |\n|---|---|\n");
    printf("| events (gen's default mix: contacts, tickets, surveys, QA reviews, outages, 2%% profiles, 1%% malformed, 1%% duplicates) | %ld |\n", events);
    printf("| jansson parse only | %.0f events/s |\n", (double)events / parse);
    printf("| sqgate replay (whole chain, in-process store; KPI aggregation on, the default) "
           "| %.0f events/s |\n", (double)events / replay);
    printf("| sqgate replay, KPI aggregation off (`kpi.enabled: false`) | %.0f events/s |\n",
           (double)events / replay_off);
    printf("| replay KPI on / KPI off | %.2f |\n", replay_off / replay);
    printf("| replay / parse-only | %.2f |\n", parse / replay);
    printf("| Redis bytes per dedupe id (100k ids) | %.1f |\n", per_id);
    printf("| Redis bytes per KPI hash (20k 15m queue cells, 15 counters each) | %.1f |\n",
           per_kpi);
    printf("| in-process bytes per cached profile (50k customers, %ld cached: enrich.cache_entries) "
           "| %.1f |\n",
           cached, per_profile);
    printf("| in-process bytes per open ticket (`run`'s chain; 50k tickets: state and timers "
           "in Redis, a timer in memory only near its deadline) | %.1f |\n", per_ticket);
    printf("| in-process bytes per live window cell (`run`'s chain; 50k contacts, each opening "
           "a queue and an agent cell in each of %zu window sizes: %ld cells) | %.1f |\n",
           nwin, cells, per_cell);
    for (size_t i = 0; i < ev.n; i++)
        free(ev.values[i]);
    free(ev.values);
    free(ev.lens);
    return 0;
}
