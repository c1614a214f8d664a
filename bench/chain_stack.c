/* chain_stack.c: starts and stops bench_chain's stack (mock cluster,
 * redis-server, `sqgate run`) and reads Redis memory after a run (see
 * chain_stack.h). */
#include "chain_stack.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain_metrics.h"
#include "chain_proc.h"
#include "config.h"
#include "gen.h"
#include "ports.h"

#define SQ_CB_GROUP "sq-bench-chain"
#define SQ_CB_READY_S 60.0
#define SQ_CB_REDIS_UP_S 10.0

static void sq_cb_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

/* Sets TCP_NODELAY on this process's sockets bound to port: the mock
 * broker's listening socket, whose accepted connections inherit it. The
 * mock leaves Nagle's algorithm on, so when it answers two requests in a
 * row the second answer waits for the client's delayed ACK (~40 ms): a
 * produce to several partitions took ~45 ms instead of ~6. Kafka brokers
 * set TCP_NODELAY. Returns how many sockets were set. */
static int sq_cb_mock_nodelay(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = (int)strtol(e->d_name, NULL, 10);
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int one = 1;
        if (fd > 2 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
            sa.sin_family == AF_INET && ntohs(sa.sin_port) == port &&
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Partitions for an input topic taking `share` of the messages when the
 * busiest input takes `top_share` and has `partitions`: in proportion, at
 * least 1, as an operator sizes topics by their volume. */
static int sq_cb_topic_partitions(int partitions, double share, double top_share)
{
    if (top_share <= 0 || share >= top_share)
        return partitions;
    int p = (int)floor(partitions * share / top_share + 0.5);
    return p < 1 ? 1 : p;
}

/* Every topic sqgate reads or writes on one broker: the inputs sized by
 * their share of gen's messages, the outputs `partitions` each. The mock
 * broker finds a fetch's offset by walking the partition's message sets
 * from the oldest it keeps, and a partition of a small topic holds
 * thousands of sets of a message or two (a set a linger, 25 ms, at most),
 * so with every input at 6 partitions the walks of the five smaller
 * inputs took ~0.2 of the machine's 2 cores by the end of the main run
 * (docs/performance.md). A broker with an offset index has no such cost;
 * an operator gives a topic of 3 % of the events fewer partitions anyway. */
static int sq_cb_kafka_start(struct sq_cb_stack *s, const struct sq_gen_opts *gen, char *err,
                             size_t errsz)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_cb_quiet_log);
    s->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!s->host) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes it only on success */
        snprintf(err, errsz, "rd_kafka_new: %s", errstr);
        return -1;
    }
    s->mcluster = rd_kafka_mock_cluster_new(s->host, 1);
    if (!s->mcluster) {
        snprintf(err, errsz, "cannot create the librdkafka mock cluster");
        return -1;
    }
    struct sq_settings st;
    sq_settings_defaults(&st);
    const char *names[SQ_MAX_INPUT_TOPICS + 5];
    int parts[SQ_MAX_INPUT_TOPICS + 5];
    size_t n = 0;
    struct sq_gen *g = sq_gen_new(gen); /* asked only its shares */
    double top = sq_gen_topic_share(g, SQ_GEN_T_CONTACTS);
    for (size_t i = 0; i < st.inputs_n; i++) {
        int t = sq_gen_topic_index(st.inputs[i].name);
        parts[n] = t < 0 ? s->partitions
                         : sq_cb_topic_partitions(s->partitions, sq_gen_topic_share(g, t), top);
        names[n++] = st.inputs[i].name;
    }
    sq_gen_free(g);
    for (size_t i = n; i < n + 5; i++)
        parts[i] = s->partitions;
    names[n++] = st.topic_scored;
    names[n++] = st.topic_breaches;
    names[n++] = st.topic_kpi;
    names[n++] = st.topic_alerts;
    names[n++] = st.topic_dlq;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(s->mcluster, names[i], parts[i], 1);
        if (e) {
            snprintf(err, errsz, "creating topic %s: %s", names[i], rd_kafka_err2str(e));
            rc = -1;
        }
    }
    sq_settings_free(&st);
    snprintf(s->bootstrap, sizeof s->bootstrap, "%s",
             rd_kafka_mock_cluster_bootstraps(s->mcluster));
    const char *colon = strrchr(s->bootstrap, ':');
    int port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    if (rc == 0 && (port <= 0 || sq_cb_mock_nodelay(port) == 0)) {
        snprintf(err, errsz, "no listening socket of the mock broker %s found", s->bootstrap);
        rc = -1;
    }
    return rc;
}

static int sq_cb_redis_start(struct sq_cb_stack *s, char *err, size_t errsz)
{
    s->redis_port = sq_free_loopback_port();
    char port[16];
    snprintf(port, sizeof port, "%d", s->redis_port);
    char *const argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", s->dir, NULL};
    s->redis_pid = sq_cb_spawn(argv, s->redis_log);
    double deadline = sq_cb_now() + SQ_CB_REDIS_UP_S;
    while (s->redis_pid > 0 && sq_cb_now() < deadline) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", s->redis_port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            bool up = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            if (up) {
                s->redis = c;
                return 0;
            }
        }
        if (c)
            redisFree(c);
        if (sq_cb_wait(s->redis_pid, 50) != -2) {
            s->redis_pid = 0;
            break;
        }
    }
    snprintf(err, errsz, "redis-server did not answer PING on port %d (its log: %s)",
             s->redis_port, s->redis_log);
    return -1;
}

#define SQ_CB_MAX_ARGS 48

static int sq_cb_sqgate_start(struct sq_cb_stack *s, const char *sqgate, const char *const *sets,
                              char *err, size_t errsz)
{
    s->admin_port = sq_free_loopback_port();
    char redis_url[64], admin[64];
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d/0", s->redis_port);
    snprintf(admin, sizeof admin, "127.0.0.1:%d", s->admin_port);
    /* The mock cluster's rebalances wait about session.timeout.ms - 1 s
     * (SPEC 14), and it answers a fetch on an empty partition only after
     * fetch.wait.max.ms (librdkafka's default 500 ms) even when data comes
     * sooner, where a broker answers at once: 10 ms keeps the mock's wait
     * out of the latency. dedupe.shards is sized as docs/operations.md
     * tells an operator to, for what one slice of marks gets here: a
     * stack's few million events at most 400 marks a set, so the sets stay
     * intsets (the default, 4,096, took the main run's sets past 512 marks
     * once it passed ~2 million events). Everything else is sqgate's
     * default unless sets say otherwise. */
    const char *argv[SQ_CB_MAX_ARGS] = {sqgate, "run", "--brokers", s->bootstrap, "--redis",
                                        redis_url, "--group", SQ_CB_GROUP, "--admin", admin,
                                        "--set", "kafka.session.timeout.ms=6000",
                                        "--set", "kafka.heartbeat.interval.ms=500",
                                        "--set", "kafka.topic.metadata.refresh.interval.ms=2000",
                                        "--set", "kafka.fetch.wait.max.ms=10",
                                        "--set", "log.level=warn",
                                        "--set", "dedupe.shards=16384"};
    size_t n = 22;
    for (size_t i = 0; sets && sets[i] && n + 3 < SQ_CB_MAX_ARGS; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;
    s->sqgate_pid = sq_cb_spawn((char *const *)argv, s->sqgate_log);
    double deadline = sq_cb_now() + SQ_CB_READY_S;
    while (s->sqgate_pid > 0 && sq_cb_now() < deadline) {
        if (sq_cb_http_get(s->admin_port, "/readyz", NULL) == 200)
            return 0;
        if (sq_cb_wait(s->sqgate_pid, 100) != -2) {
            s->sqgate_pid = 0;
            snprintf(err, errsz, "sqgate run exited at start (its log: %s)", s->sqgate_log);
            return -1;
        }
    }
    snprintf(err, errsz, "sqgate run not ready within %.0f s (its log: %s)", SQ_CB_READY_S,
             s->sqgate_log);
    return -1;
}

int sq_cb_stack_start(struct sq_cb_stack *s, const char *sqgate, const char *const *sets,
                      int partitions, const struct sq_gen_opts *gen, char *err, size_t errsz)
{
    memset(s, 0, sizeof *s);
    s->partitions = partitions;
    snprintf(s->dir, sizeof s->dir, "/tmp/sq-bench-chain-XXXXXX");
    if (!mkdtemp(s->dir)) {
        snprintf(err, errsz, "mkdtemp %s failed", s->dir);
        s->dir[0] = '\0';
        return -1;
    }
    snprintf(s->sqgate_log, sizeof s->sqgate_log, "%s/sqgate.log", s->dir);
    snprintf(s->redis_log, sizeof s->redis_log, "%s/redis.log", s->dir);
    if (sq_cb_kafka_start(s, gen, err, errsz) != 0 || sq_cb_redis_start(s, err, errsz) != 0 ||
        sq_cb_sqgate_start(s, sqgate, sets, err, errsz) != 0) {
        s->keep_dir = true; /* the logs the message names */
        sq_cb_stack_stop(s);
        return -1;
    }
    return 0;
}

int sq_cb_stack_stop_sqgate(struct sq_cb_stack *s)
{
    int code = sq_cb_stop(s->sqgate_pid, 30000);
    s->sqgate_pid = 0;
    return code;
}

static void sq_cb_remove_dir(const char *dir)
{
    const char *files[] = {"sqgate.log", "redis.log", "dump.rdb"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

void sq_cb_stack_stop(struct sq_cb_stack *s)
{
    sq_cb_stack_stop_sqgate(s);
    if (s->redis) {
        redisFree(s->redis);
        s->redis = NULL;
    }
    sq_cb_stop(s->redis_pid, 5000);
    s->redis_pid = 0;
    if (s->mcluster) {
        rd_kafka_mock_cluster_destroy(s->mcluster);
        s->mcluster = NULL;
    }
    if (s->host) {
        rd_kafka_destroy(s->host);
        s->host = NULL;
    }
    if (s->dir[0] && !s->keep_dir)
        sq_cb_remove_dir(s->dir);
    s->dir[0] = '\0';
}

long long sq_cb_redis_timers(struct sq_cb_stack *s)
{
    char cursor[32] = "0";
    long long n = 0;
    do {
        redisReply *r = redisCommand(s->redis, "SCAN %s MATCH sq:timers-due:* COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t k = 0; k < r->element[1]->elements; k++) {
            redisReply *z = redisCommand(s->redis, "ZCARD %s", r->element[1]->element[k]->str);
            n += z && z->type == REDIS_REPLY_INTEGER ? z->integer : 0;
            if (z)
                freeReplyObject(z);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

long long sq_cb_redis_used_memory(struct sq_cb_stack *s)
{
    redisReply *r = redisCommand(s->redis, "INFO memory");
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    long long v = p ? strtoll(p + 12, NULL, 10) : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

struct sq_cb_cmdstat {
    char name[48];
    double calls;
    double usec;
};

static int sq_cb_cmdstat_cmp(const void *a, const void *b)
{
    const struct sq_cb_cmdstat *x = a, *y = b;
    return (x->calls < y->calls) - (x->calls > y->calls);
}

static int sq_cb_cmdstat_usec_cmp(const void *a, const void *b)
{
    const struct sq_cb_cmdstat *x = a, *y = b;
    return (x->usec < y->usec) - (x->usec > y->usec);
}

/* v by calls or by usec per event, largest first, down to 0.05 calls or
 * 0.5 µs an event: "name value, ...". By calls the list starts with the
 * total, "all T:"; by usec it has none, since a script's commands count
 * both in evalsha's usec and in their own. */
static void sq_cb_cmdstats_top(struct sq_cb_cmdstat *v, size_t n, double events, bool usec,
                               char *out, size_t outsz)
{
    qsort(v, n, sizeof v[0], usec ? sq_cb_cmdstat_usec_cmp : sq_cb_cmdstat_cmp);
    size_t off = 0;
    out[0] = '\0';
    if (!usec) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += v[i].calls;
        off = (size_t)snprintf(out, outsz, "all %.2f: ", events > 0 ? total / events : 0);
    }
    for (size_t i = 0; i < n && off < outsz; i++) {
        double per = events > 0 ? (usec ? v[i].usec : v[i].calls) / events : 0;
        if (per < (usec ? 0.5 : 0.05))
            break;
        off += (size_t)snprintf(out + off, outsz - off, usec ? "%s%s %.1f" : "%s%s %.2f",
                                i ? ", " : "", v[i].name, per);
    }
}

/* Parses "cmdstat_NAME:calls=N,..." lines, leaving out the bench's own. */
static size_t sq_cb_cmdstats_parse(const char *text, struct sq_cb_cmdstat *v, size_t max)
{
    static const char *const own[] = {"info", "ping", "scan", "memory|usage", "hlen", NULL};
    size_t n = 0;
    for (const char *p = strstr(text, "cmdstat_"); p && n < max; p = strstr(p + 1, "cmdstat_")) {
        const char *colon = strchr(p, ':');
        const char *calls = colon ? strstr(colon, "calls=") : NULL;
        size_t len = colon ? (size_t)(colon - p - 8) : 0;
        if (!calls || len == 0 || len >= sizeof v[n].name)
            continue;
        memcpy(v[n].name, p + 8, len);
        v[n].name[len] = '\0';
        bool skip = false;
        for (const char *const *o = own; *o; o++)
            skip = skip || strcmp(v[n].name, *o) == 0;
        if (!skip) {
            const char *usec = strstr(calls, "usec=");
            v[n].calls = strtod(calls + 6, NULL);
            v[n].usec = usec ? strtod(usec + 5, NULL) : 0;
            n++;
        }
    }
    return n;
}

int sq_cb_redis_commands(struct sq_cb_stack *s, double events, char *out, size_t outsz,
                         char *usec_out, size_t usec_outsz)
{
    redisReply *r = redisCommand(s->redis, "INFO commandstats");
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    struct sq_cb_cmdstat v[128];
    size_t n = sq_cb_cmdstats_parse(r->str, v, sizeof v / sizeof v[0]);
    freeReplyObject(r);
    sq_cb_cmdstats_top(v, n, events, false, out, outsz);
    /* Time inside commands: evalsha's includes the commands its script
     * calls, which also count on their own. */
    sq_cb_cmdstats_top(v, n, events, true, usec_out, usec_outsz);
    return 0;
}

enum sq_cb_key_kind { SQ_CB_K_OTHER, SQ_CB_K_CUST, SQ_CB_K_KPI, SQ_CB_K_DEDUPE,
                       SQ_CB_K_BREACHES, SQ_CB_K_HIST };

static enum sq_cb_key_kind sq_cb_key_kind(const char *k, size_t len)
{
    static const char breaches[] = ":breaches";
    size_t bl = sizeof breaches - 1;
    if (len > 8 && memcmp(k, "sq:cust:", 8) == 0)
        return len > bl && memcmp(k + len - bl, breaches, bl) == 0 ? SQ_CB_K_BREACHES
                                                                   : SQ_CB_K_CUST;
    if (len > 8 && memcmp(k, "sq:hist:", 8) == 0)
        return SQ_CB_K_HIST;
    if (len > 7 && memcmp(k, "sq:kpi:", 7) == 0)
        return SQ_CB_K_KPI;
    if (len > 6 && memcmp(k, "sq:dm:", 6) == 0)
        return SQ_CB_K_DEDUPE;
    return SQ_CB_K_OTHER;
}

/* MEMORY USAGE (and SCARD for dedupe sets) of one SCAN page, pipelined;
 * a breach set's ZCARD and a contact history's length instead. */
static int sq_cb_measure_page(redisContext *c, const redisReply *keys, struct sq_cb_redis_mem *m)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        enum sq_cb_key_kind kind = sq_cb_key_kind(k->str, k->len);
        if (kind == SQ_CB_K_OTHER)
            continue;
        if (kind == SQ_CB_K_BREACHES) {
            redisAppendCommand(c, "ZCARD %b", k->str, k->len);
            continue;
        }
        if (kind == SQ_CB_K_HIST) {
            redisAppendCommand(c, "HSTRLEN %b contacts", k->str, k->len);
            continue;
        }
        redisAppendCommand(c, "MEMORY USAGE %b SAMPLES 0", k->str, k->len);
        if (kind == SQ_CB_K_DEDUPE)
            redisAppendCommand(c, "SCARD %b", k->str, k->len);
    }
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        enum sq_cb_key_kind kind = sq_cb_key_kind(k->str, k->len);
        m->keys++;
        if (kind == SQ_CB_K_OTHER)
            continue;
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return -1;
        double bytes = r->type == REDIS_REPLY_INTEGER ? (double)r->integer : 0;
        freeReplyObject(r);
        if (kind == SQ_CB_K_BREACHES) {
            m->breach_sets++;
            m->breach_records += (long)bytes;
        } else if (kind == SQ_CB_K_HIST) {
            m->histories++;
            m->history_bytes += bytes;
        } else if (kind == SQ_CB_K_CUST) {
            m->customers++;
            m->customer_bytes += bytes;
        } else if (kind == SQ_CB_K_KPI) {
            m->kpi_hashes++;
            m->kpi_bytes += bytes;
        } else {
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                return -1;
            m->dedupe_keys++;
            m->dedupe_ids += r->type == REDIS_REPLY_INTEGER ? (long)r->integer : 0;
            m->dedupe_bytes += bytes;
            freeReplyObject(r);
        }
    }
    return 0;
}

int sq_cb_redis_breakdown(struct sq_cb_stack *s, struct sq_cb_redis_mem *m, char *err,
                          size_t errsz)
{
    memset(m, 0, sizeof *m);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(s->redis, "SCAN %s COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(err, errsz, "SCAN failed: %s", s->redis->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        int rc = sq_cb_measure_page(s->redis, r->element[1], m);
        freeReplyObject(r);
        if (rc != 0) {
            snprintf(err, errsz, "MEMORY USAGE failed: %s", s->redis->errstr);
            return -1;
        }
    } while (strcmp(cursor, "0") != 0);
    return 0;
}
