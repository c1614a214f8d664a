/* sq_stack.c: the integration-test stack (redis-server, mock Kafka, sqgate
 * instances) and the checks delivery tests share. See sq_stack.h. */
#include "sq_stack.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sq_common.h"

void sq_stack_start(struct sq_stack *s, int partitions, bool persist)
{
    memset(s, 0, sizeof *s);
    s->partitions = partitions;
    const char *dir = NULL;
    char *pdir = NULL;
    if (persist) {
        pdir = sq_h_tmp_path("redis-data");
        mkdir(pdir, 0700);
        dir = pdir;
    }
    cr_assert_eq(sq_h_redis_start(&s->redis, dir), 0, "redis-server did not start");
    free(pdir);
    cr_assert_eq(sq_h_kafka_start(&s->kafka, 3, sq_h_standard_topics(partitions)), 0,
                 "sq-mock-kafka did not start");
}

void sq_stack_stop(struct sq_stack *s)
{
    for (int i = 0; i < SQ_STACK_MAX_INSTANCES; i++)
        if (s->inst[i].pid)
            sq_h_proc_stop(&s->inst[i], 10000, NULL);
    sq_h_kafka_stop(&s->kafka);
    sq_h_redis_fini(&s->redis);
}

void sq_stack_start_instance(struct sq_stack *s, int i, const char *const *sets,
                             const char *const *env)
{
    const char *args[64];
    int n = 0;
    char *url = s->redis_unix
                    ? sq_h_redis_unix_url(&s->redis)
                    : sq_xasprintf("redis://127.0.0.1:%d/%d", s->redis.port, s->redis_db);
    char admin[64];
    s->admin_port[i] = sq_h_free_port();
    snprintf(admin, sizeof admin, "127.0.0.1:%d", s->admin_port[i]);
    args[n++] = "run";
    args[n++] = "--brokers";
    args[n++] = s->kafka.bootstrap;
    args[n++] = "--redis";
    args[n++] = url;
    args[n++] = "--group";
    args[n++] = SQ_STACK_GROUP;
    args[n++] = "--admin";
    args[n++] = admin;
    /* The mock cluster: rebalances wait about session.timeout.ms - 1 s. */
    static const char *const base[] = {
        "kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=500",
        "kafka.topic.metadata.refresh.interval.ms=2000", "runtime.commit_interval_ms=200",
        "shutdown.timeout_s=20", NULL};
    for (int k = 0; base[k]; k++) {
        args[n++] = "--set";
        args[n++] = base[k];
    }
    for (int k = 0; sets && sets[k] && n < 60; k++) {
        args[n++] = "--set";
        args[n++] = sets[k];
    }
    args[n] = NULL;
    char logname[64];
    snprintf(logname, sizeof logname, "sqgate-%d.log", i);
    char *log = sq_h_tmp_path(logname);
    cr_assert_eq(sq_h_spawn(&s->inst[i], args, env, log), 0, "sqgate did not start");
    free(log);
    free(url);
}

struct sq_ready_arg {
    int port;
};

static bool sq_ready_cond(void *arg)
{
    struct sq_ready_arg *a = arg;
    return sq_h_http_get(a->port, "/readyz", NULL) == 200;
}

bool sq_stack_wait_ready(struct sq_stack *s, int i, int timeout_ms)
{
    struct sq_ready_arg a = {s->admin_port[i]};
    return sq_h_wait_until(sq_ready_cond, &a, timeout_ms);
}

struct sq_log_arg {
    const char *path, *text;
};

static bool sq_log_cond(void *arg)
{
    struct sq_log_arg *a = arg;
    return sq_h_file_contains(a->path, a->text);
}

bool sq_stack_wait_log(struct sq_stack *s, int i, const char *text, int timeout_ms)
{
    struct sq_log_arg a = {s->inst[i].log_path, text};
    return sq_h_wait_until(sq_log_cond, &a, timeout_ms);
}

double sq_stack_metric(struct sq_stack *s, int i, const char *name)
{
    char *body = NULL;
    if (sq_h_http_get(s->admin_port[i], "/metrics", &body) != 200) {
        free(body);
        return -1;
    }
    double v = sq_h_metric(body, name);
    free(body);
    return v;
}

static void sq_write_malformed(FILE *f, int i)
{
    fprintf(f, "bad-%d\t", i);
    switch (i % 6) {
    case 0: /* malformed_json */
        fprintf(f, "{\"schema\":\"contact.v1\",\"event_id\":\"bad-%d\",", i);
        break;
    case 1: /* too_large */
        fprintf(f, "{\"schema\":\"contact.v1\",\"event_id\":\"big-%d\",\"pad\":\"", i);
        for (int k = 0; k < 70000; k++)
            fputc('x', f);
        fputs("\"}", f);
        break;
    case 2: /* not_object */
        fprintf(f, "[%d,\"contact.v1\"]", i);
        break;
    case 3: /* bad_utf8 */
        fprintf(f, "{\"schema\":\"contact.v1\",\"event_id\":\"\xff\xfe-%d\"}", i);
        break;
    case 4: /* too_deep */
        for (int k = 0; k < 100; k++)
            fputc('[', f);
        fprintf(f, "%d", i);
        for (int k = 0; k < 100; k++)
            fputc(']', f);
        break;
    default: /* unknown_schema */
        fprintf(f, "{\"schema\":\"nope.v9\",\"event_id\":\"u-%d\"}", i);
        break;
    }
    fputc('\n', f);
}

char *sq_stack_write_events(const char *name, int seed, int valid, int malformed, int customers,
                            long *per_customer)
{
    char *path = sq_h_tmp_path(name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    if (per_customer)
        memset(per_customer, 0, (size_t)customers * sizeof *per_customer);
    int total = valid + malformed;
    int every = malformed ? total / malformed : 0;
    int bad = 0, good = 0;
    static const char *const channels[] = {"voice", "chat", "app", "voice", "email"};
    static const char *const reasons[] = {"billing", "network", "plan", "fault", "other"};
    for (int line = 0; line < total; line++) {
        if (malformed && bad < malformed && (line % every == every - 1 || good == valid)) {
            sq_write_malformed(f, bad++);
            continue;
        }
        int k = good++;
        int c = (int)(((unsigned)k * 2654435761u) % (unsigned)customers);
        if (per_customer)
            per_customer[c]++;
        long t = 1795600000L + k * 3L; /* 2026-11-25, one contact every 3 s */
        char arrived[32], answered[32], ended[32];
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        strftime(arrived, sizeof arrived, "%Y-%m-%dT%H:%M:%SZ", &tm);
        tt = (time_t)(t + 5 + k % 40);
        gmtime_r(&tt, &tm);
        strftime(answered, sizeof answered, "%Y-%m-%dT%H:%M:%SZ", &tm);
        tt = (time_t)(t + 200 + k % 300);
        gmtime_r(&tt, &tm);
        strftime(ended, sizeof ended, "%Y-%m-%dT%H:%M:%SZ", &tm);
        bool abandoned = k % 10 == 0;
        fprintf(f,
                "cust-%d\t{\"schema\":\"contact.v1\",\"event_id\":\"ev-%d-%d\","
                "\"occurred_at\":\"%s\",\"customer_id\":\"cust-%d\",\"region\":\"GD-SZ\","
                "\"contact_id\":\"ct-%d-%d\",\"channel\":\"%s\",\"queue\":\"q%d\","
                "\"arrived_at\":\"%s\",%s%s%s\"ended_at\":\"%s\",\"transfers\":%d,"
                "%s\"reason\":\"%s\"}\n",
                c, seed, k, ended, c, seed, k, channels[k % 5], k % 4, arrived,
                abandoned ? "" : "\"answered_at\":\"", abandoned ? "" : answered,
                abandoned ? "" : "\",\"agent_id\":\"a1\",", ended, k % 3,
                abandoned ? "" : "\"outcome\":\"resolved\",", reasons[k % 5]);
    }
    fclose(f);
    return path;
}

struct sq_stack_producer {
    pthread_t th;
    char bootstrap[1024];
    char *path;
    int rate;
    long produced;
};

static void *sq_producer_main(void *arg)
{
    struct sq_stack_producer *p = arg;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", p->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "message.max.bytes", "2000000", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        return NULL;
    size_t len;
    char *data = sq_h_read_file(p->path, &len);
    char *line = data;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (line && line < data + len) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        if (!nl)
            break;
        char *tab = memchr(line, '\t', (size_t)(nl - line));
        if (tab) {
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("sq.in.contacts"),
                                     RD_KAFKA_V_KEY(line, (size_t)(tab - line)),
                                     RD_KAFKA_V_VALUE(tab + 1, (size_t)(nl - tab - 1)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
            p->produced++;
        }
        line = nl + 1;
        if (p->rate > 0 && p->produced % 50 == 0) {
            /* Pace: sleep until produced / rate seconds have passed. */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
            double due = (double)p->produced / p->rate;
            if (due > el)
                usleep((useconds_t)((due - el) * 1e6));
            rd_kafka_poll(rk, 0);
        }
    }
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    free(data);
    return NULL;
}

struct sq_stack_producer *sq_stack_produce_async(struct sq_stack *s, const char *path, int rate)
{
    struct sq_stack_producer *p = calloc(1, sizeof *p);
    snprintf(p->bootstrap, sizeof p->bootstrap, "%s", s->kafka.bootstrap);
    p->path = strdup(path);
    p->rate = rate;
    pthread_create(&p->th, NULL, sq_producer_main, p);
    return p;
}

long sq_stack_produce_join(struct sq_stack_producer *p)
{
    pthread_join(p->th, NULL);
    long n = p->produced;
    free(p->path);
    free(p);
    return n;
}

/* A connection to the stack's database (s->redis_db), NULL on failure. */
static redisContext *sq_stack_redis_connect(struct sq_stack *s)
{
    redisContext *c = sq_h_redis_connect(&s->redis);
    if (!c || !s->redis_db)
        return c;
    redisReply *r = redisCommand(c, "SELECT %d", s->redis_db);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        fprintf(stderr, "sq-stack: SELECT %d failed\n", s->redis_db);
        redisFree(c);
        return NULL;
    }
    return c;
}

int64_t sq_stack_applied_total(struct sq_stack *s, const char *topic)
{
    redisContext *c = sq_stack_redis_connect(s);
    if (!c)
        return -1;
    int64_t total = 0;
    for (int p = 0; p < s->partitions; p++) {
        redisReply *r = redisCommand(c, "HGET sq:off:%s:%s:%d offset", SQ_STACK_GROUP, topic, p);
        if (r && r->type == REDIS_REPLY_STRING)
            total += strtoll(r->str, NULL, 10) + 1;
        if (r)
            freeReplyObject(r);
    }
    redisFree(c);
    return total;
}

struct sq_applied_arg {
    struct sq_stack *s;
    const char *topic;
    int64_t want;
};

static bool sq_applied_cond(void *arg)
{
    struct sq_applied_arg *a = arg;
    return sq_stack_applied_total(a->s, a->topic) >= a->want;
}

bool sq_stack_wait_applied(struct sq_stack *s, const char *topic, int timeout_ms)
{
    int64_t lo = 0, hi = 0;
    if (sq_h_topic_watermarks(s->kafka.bootstrap, topic, &lo, &hi) != 0)
        return false;
    cr_assert_eq(lo, 0, "the mock cluster dropped %lld records of %s", (long long)lo, topic);
    struct sq_applied_arg a = {s, topic, hi};
    return sq_h_wait_until(sq_applied_cond, &a, timeout_ms);
}

int sq_stack_check_customers(struct sq_stack *s, const long *expected, int customers,
                             long *sum_out)
{
    redisContext *c = sq_stack_redis_connect(s);
    cr_assert_not_null(c);
    int bad = 0;
    long sum = 0;
    for (int k = 0; k < customers; k++) {
        redisReply *r = redisCommand(c, "HGET sq:cust:cust-%d events_total", k);
        long got = (r && r->type == REDIS_REPLY_STRING) ? strtol(r->str, NULL, 10) : 0;
        if (r)
            freeReplyObject(r);
        sum += got;
        if (got != expected[k]) {
            if (bad < 5)
                fprintf(stderr, "cust-%d: events_total %ld, expected %ld\n", k, got, expected[k]);
            bad++;
        }
    }
    redisFree(c);
    if (sum_out)
        *sum_out = sum;
    return bad;
}

int sq_stack_check_scored(struct sq_stack *s, int seed, int valid, long *records_out)
{
    int64_t lo = 0, hi = 0;
    cr_assert_eq(sq_h_topic_watermarks(s->kafka.bootstrap, "sq.out.scored", &lo, &hi), 0);
    cr_assert_eq(lo, 0, "the mock cluster dropped %lld scored records (5 MiB per partition): "
                 "use more partitions or fewer events", (long long)lo);
    struct sq_h_records recs;
    int rc = sq_h_topic_read_all(s->kafka.bootstrap, "sq.out.scored", &recs, 60000);
    cr_assert_eq(rc, 0, "could not read sq.out.scored");
    char **seen = calloc((size_t)valid, sizeof *seen);
    int problems = 0;
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "ev-%d-", seed);
    for (size_t i = 0; i < recs.n; i++) {
        json_error_t jerr;
        json_t *v = json_loadb(recs.v[i].value, recs.v[i].value_len, 0, &jerr);
        const char *eid = json_string_value(json_object_get(v, "event_id"));
        long k = (eid && strncmp(eid, prefix, (size_t)plen) == 0) ? strtol(eid + plen, NULL, 10) : -1;
        if (k < 0 || k >= valid) {
            if (problems++ < 5)
                fprintf(stderr, "unexpected scored record %s\n", eid ? eid : "(no event_id)");
        } else if (seen[k] && strcmp(seen[k], recs.v[i].value) != 0) {
            if (problems++ < 5)
                fprintf(stderr, "repeat of %s with a different value\n", eid);
        } else if (!seen[k]) {
            seen[k] = strdup(recs.v[i].value);
        }
        json_decref(v);
    }
    for (int k = 0; k < valid; k++) {
        if (!seen[k] && problems++ < 10)
            fprintf(stderr, "no scored record for ev-%d-%d\n", seed, k);
        free(seen[k]);
    }
    free(seen);
    if (records_out)
        *records_out = (long)recs.n;
    sq_h_records_fini(&recs);
    return problems;
}
