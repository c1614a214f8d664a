/* bench_engine.c: the quality engine's figures, from one run on this
 * machine: `sqgate replay` events/s on the generated mix beside the time to
 * only parse the same events with jansson; Redis bytes per dedupe id; and
 * in-process bytes per cached profile and per open ticket.
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

static double sq_bench_replay(const char *sqgate, const char *in)
{
    double t0 = sq_bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
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

/* ---- Redis bytes per dedupe id ---------------------------------------- */

static int sq_bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static long long sq_bench_used_memory(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO memory");
    const char *p = r && r->str ? strstr(r->str, "used_memory:") : NULL;
    long long v = p ? strtoll(p + 12, NULL, 10) : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

static double sq_bench_dedupe_bytes(long ids)
{
    int port = sq_bench_free_port();
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
        return -1;
    }
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
    for (long i = 0; i < ids; i += 1000) {
        struct sq_state_ops ops = {0};
        for (long k = i; k < i + 1000 && k < ids; k++) {
            char eid[64], *key, *field;
            snprintf(eid, sizeof eid, "c-7-%ld", k);
            sq_dedupe_mark_dup(&st, "contact.v1", eid, 1795600000000LL + k * 50, &key, &field);
            sq_op_message(&ops, (size_t)(k - i));
            sq_op_dedupe(&ops, key, field, st.dedupe_ttl_s * 2);
            free(key);
            free(field);
        }
        struct sq_redis_step s = {.offset_key = "sq:off:bench:t:0", .expected = off,
                                  .last = off + 1000, .max_event_ms = -1, .ops = &ops};
        sq_redis_run_steps(r, &s, 1, &err);
        free(s.dups);
        off += 1000;
        sq_state_ops_fini(&ops);
    }
    long long after = sq_bench_used_memory(c);
    sq_redis_free(r);
    redisFree(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    sq_settings_free(&st);
    return (double)(after - before) / (double)ids;
}

/* ---- in-process bytes per cached profile and per open ticket ---------- */

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

/* Runs n one-message batches built by make(i) and returns the heap growth. */
static double sq_bench_retained(struct sq_chain *chain, const char *topic, const char *schema,
                                long n, void (*make)(long i, char *buf, size_t sz))
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
    return (double)(sq_bench_heap() - before) / (double)n;
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
    double replay = sq_bench_replay(sqgate, path);
    unlink(path);

    struct sq_settings st;
    sq_settings_defaults(&st);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_chain *chain = sq_chain_new(&st, &err);
    double per_profile = sq_bench_retained(chain, "sq.in.contacts", "contact.v1", 50000, sq_make_contact);
    double per_ticket = sq_bench_retained(chain, "sq.in.tickets", "ticket.v1", 50000, sq_make_ticket);
    sq_chain_free(chain);
    sq_settings_free(&st);
    double per_id = sq_bench_dedupe_bytes(100000);

    printf("| figure | value |\n|---|---|\n");
    printf("| events (generated mix: contacts, profiles, 1%% malformed, 1%% duplicates) | %ld |\n", events);
    printf("| jansson parse only | %.0f events/s |\n", (double)events / parse);
    printf("| sqgate replay (whole chain, in-process store) | %.0f events/s |\n", (double)events / replay);
    printf("| replay / parse-only | %.2f |\n", parse / replay);
    printf("| Redis bytes per dedupe id (100k ids) | %.1f |\n", per_id);
    printf("| in-process bytes per cached profile (50k customers) | %.1f |\n", per_profile);
    printf("| in-process bytes per open ticket (50k tickets: timer + owner) | %.1f |\n", per_ticket);
    for (size_t i = 0; i < ev.n; i++)
        free(ev.values[i]);
    free(ev.values);
    free(ev.lens);
    return 0;
}
