/* it_harness.c: self-test of the integration harness (tests/harness): redis
 * start/restart with and without persistence, sq-mock-kafka reached by kcat
 * and by librdkafka over TCP, fault injection through its stdin, child
 * process spawning and cleanup, HTTP and Prometheus helpers. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "sq_common.h"
#include "sq_harness.h"

/* ---- redis ------------------------------------------------------------ */

static redisReply *cmd(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *reply = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    cr_assert_not_null(reply, "redis command %s failed: %s", fmt, c->errstr);
    return reply;
}

/* GET key: the value malloc'd, or NULL when the key does not exist. */
static char *redis_get(const struct sq_h_redis *r, const char *key)
{
    redisContext *c = sq_h_redis_connect(r);
    redisReply *reply;
    char *val = NULL;

    cr_assert_not_null(c, "cannot connect to redis on port %d", r->port);
    reply = cmd(c, "GET %s", key);
    cr_assert(reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL);
    if (reply->type == REDIS_REPLY_STRING)
        val = sq_xstrdup(reply->str);
    freeReplyObject(reply);
    redisFree(c);
    return val;
}

static void redis_set(const struct sq_h_redis *r, const char *key, const char *val)
{
    redisContext *c = sq_h_redis_connect(r);
    redisReply *reply;

    cr_assert_not_null(c);
    reply = redisCommand(c, "SET %s %s", key, val);
    cr_assert_not_null(reply);
    cr_assert_eq(reply->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(reply->str, "OK");
    freeReplyObject(reply);
    redisFree(c);
}

Test(harness, redis_without_persistence_forgets_on_restart, .timeout = 60)
{
    struct sq_h_redis r;
    redisContext *c;
    redisReply *reply;
    char *url, expect[64], *val;
    int old_port;

    cr_assert_eq(sq_h_redis_start(&r, NULL), 0);
    cr_assert_gt(r.pid, 0);
    cr_assert_gt(r.port, 0);

    c = sq_h_redis_connect(&r);
    cr_assert_not_null(c);
    reply = cmd(c, "PING", NULL);
    cr_assert_eq(reply->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(reply->str, "PONG");
    freeReplyObject(reply);
    reply = cmd(c, "CONFIG GET appendonly", NULL);
    cr_assert_eq(reply->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(reply->elements, 2);
    cr_assert_str_eq(reply->element[1]->str, "no");
    freeReplyObject(reply);
    redisFree(c);

    url = sq_h_redis_url(&r);
    snprintf(expect, sizeof(expect), "redis://127.0.0.1:%d/0", r.port);
    cr_assert_str_eq(url, expect);
    free(url);

    redis_set(&r, "sq:h:k", "v1");
    val = redis_get(&r, "sq:h:k");
    cr_assert_str_eq(val, "v1");
    free(val);

    old_port = r.port;
    cr_assert_eq(sq_h_redis_restart(&r), 0);
    cr_assert_eq(r.port, old_port, "restart keeps the port");
    val = redis_get(&r, "sq:h:k");
    cr_assert_null(val, "no persistence: the key must be gone after a restart");

    cr_assert_eq(sq_h_redis_stop(&r), 0);
    cr_assert_eq(r.pid, 0);
    c = sq_h_redis_connect(&r);
    cr_assert_null(c, "a stopped redis must refuse connections");
    sq_h_redis_fini(&r);
    sq_h_redis_fini(&r);   /* safe twice */
}

/* A free port can be taken between the probe and the bind: a restart that
 * finds another server answering on its port fails instead of taking that
 * server for its own. */
Test(harness, redis_restart_refuses_a_port_another_server_took, .timeout = 60)
{
    struct sq_h_redis a, b;
    cr_assert_eq(sq_h_redis_start(&a, NULL), 0);
    cr_assert_eq(sq_h_redis_start(&b, NULL), 0);
    cr_assert_eq(sq_h_redis_stop(&b), 0);
    b.port = a.port;
    cr_assert_neq(sq_h_redis_restart(&b), 0,
                  "the restart took the server already on port %d for its own", a.port);
    cr_assert_eq(b.pid, 0);
    redis_set(&a, "sq:h:k", "still a");
    char *val = redis_get(&a, "sq:h:k");
    cr_assert_str_eq(val, "still a");
    free(val);
    sq_h_redis_fini(&b);
    sq_h_redis_fini(&a);
}

Test(harness, redis_with_persistence_survives_stop_and_crash, .timeout = 60)
{
    struct sq_h_redis r;
    char *dir = sq_h_tmp_path("persist"), *val;
    struct stat st;

    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(sq_h_redis_start(&r, dir), 0);
    cr_assert_str_eq(r.dir, dir);
    redis_set(&r, "sq:h:a", "after-stop");

    cr_assert_eq(sq_h_redis_restart(&r), 0);   /* SIGTERM: clean shutdown */
    val = redis_get(&r, "sq:h:a");
    cr_assert_not_null(val);
    cr_assert_str_eq(val, "after-stop");
    free(val);

    redis_set(&r, "sq:h:b", "after-crash");
    cr_assert_eq(sq_h_redis_kill(&r), 0);       /* SIGKILL: appendfsync always */
    cr_assert_eq(sq_h_redis_restart(&r), 0);
    val = redis_get(&r, "sq:h:b");
    cr_assert_not_null(val, "appendfsync always must keep a write acknowledged before SIGKILL");
    cr_assert_str_eq(val, "after-crash");
    free(val);

    cr_assert_eq(stat(dir, &st), 0);
    sq_h_redis_fini(&r);
    free(dir);
}

/* ---- Kafka: kcat in, harness reader out ------------------------------- */

#define N_LINES 1000
#define N_KEYS 50

/* The value of line i: any bytes but newline and TAB, NUL included. */
static size_t line_value(int i, char *buf, size_t sz)
{
    int n = snprintf(buf, sz, "{\"n\":%d,\"s\":\"caf\xc3\xa9 \\\" \x01\r\xff", i);
    size_t len = (size_t)n;

    buf[len++] = '\0';   /* an embedded NUL */
    len += (size_t)snprintf(buf + len, sz - len, "tail-%d\"}", i * 7);
    return len;
}

Test(harness, kafka_kcat_roundtrip, .timeout = 120)
{
    struct sq_h_kafka k;
    struct sq_h_records recs;
    char *path = sq_h_tmp_path("lines.tsv");
    FILE *f;
    char buf[256], key[32];
    bool seen[N_LINES] = {false};
    int64_t last_n[N_KEYS], lo, hi;
    int32_t key_part[N_KEYS];
    bool parts_used[3] = {false};

    cr_assert_eq(sq_h_kafka_start(&k, 2, sq_h_standard_topics(3)), 0);
    cr_assert_gt(k.pid, 0);
    cr_assert_not_null(strchr(k.bootstrap, ','), "two brokers: %s", k.bootstrap);
    cr_assert_eq(strncmp(k.bootstrap, "127.0.0.1:", 10), 0, "%s", k.bootstrap);

    f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < N_LINES; i++) {
        size_t len = line_value(i, buf, sizeof(buf));
        fprintf(f, "cust-%d\t", i % N_KEYS);
        fwrite(buf, 1, len, f);
        fputc('\n', f);
    }
    cr_assert_eq(fclose(f), 0);

    cr_assert_eq(sq_h_kcat_produce_file(k.bootstrap, "sq.in.contacts", path), 0);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "sq.in.contacts"), N_LINES);
    cr_assert_eq(sq_h_topic_watermarks(k.bootstrap, "sq.in.contacts", &lo, &hi), 0);
    cr_assert_eq(lo, 0, "the mock cluster dropped records");
    cr_assert_eq(hi, N_LINES);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "sq.out.dlq"), 0);
    /* the kept client of a wait loop counts the same, as often as asked */
    struct sq_h_counter *counter = sq_h_counter_new(k.bootstrap);
    cr_assert_not_null(counter);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(sq_h_counter_count(counter, "sq.in.contacts"), N_LINES);
        cr_assert_eq(sq_h_counter_count(counter, "sq.out.dlq"), 0);
    }
    sq_h_counter_free(counter);

    cr_assert_eq(sq_h_topic_read_all(k.bootstrap, "sq.in.contacts", &recs, 30000), 0);
    cr_assert_eq(recs.n, N_LINES);
    for (int i = 0; i < N_KEYS; i++) {
        last_n[i] = -1;
        key_part[i] = -1;
    }
    for (size_t r = 0; r < recs.n; r++) {
        const struct sq_h_record *rec = &recs.v[r];
        int n = -1;
        size_t len;

        cr_assert_not_null(rec->value);
        cr_assert_eq(sscanf(rec->value, "{\"n\":%d,", &n), 1, "value %zu: %s", r, rec->value);
        cr_assert(n >= 0 && n < N_LINES);
        cr_assert(!seen[n], "line %d read twice", n);
        seen[n] = true;
        len = line_value(n, buf, sizeof(buf));
        cr_assert_eq(rec->value_len, len, "line %d: length %zu, want %zu", n,
                     rec->value_len, len);
        cr_assert_eq(memcmp(rec->value, buf, len), 0, "line %d: bytes differ", n);

        snprintf(key, sizeof(key), "cust-%d", n % N_KEYS);
        cr_assert_not_null(rec->key);
        cr_assert_eq(rec->key_len, strlen(key));
        cr_assert_str_eq(rec->key, key);
        cr_assert(json_is_object(rec->headers));
        cr_assert_eq(json_object_size(rec->headers), 0);
        cr_assert(rec->partition >= 0 && rec->partition < 3);
        parts_used[rec->partition] = true;

        /* One key, one partition, in file order (records come sorted by
         * partition, offset). */
        if (key_part[n % N_KEYS] >= 0)
            cr_assert_eq(rec->partition, key_part[n % N_KEYS], "key %s moved", key);
        key_part[n % N_KEYS] = rec->partition;
        cr_assert_gt(n, last_n[n % N_KEYS], "key %s out of order", key);
        last_n[n % N_KEYS] = n;
        if (r > 0 && recs.v[r - 1].partition == rec->partition)
            cr_assert_gt(rec->offset, recs.v[r - 1].offset);
    }
    for (int i = 0; i < N_LINES; i++)
        cr_assert(seen[i], "line %d missing", i);
    cr_assert(parts_used[0] + parts_used[1] + parts_used[2] >= 2,
              "50 keys should spread over the partitions");
    sq_h_records_fini(&recs);
    cr_assert_eq(recs.n, 0);

    /* An empty topic reads as zero records. The 2.0.2 mock creates any
     * topic a metadata request names; topic_error makes one look missing. */
    cr_assert_eq(sq_h_topic_read_all(k.bootstrap, "sq.out.alerts", &recs, 10000), 0);
    cr_assert_eq(recs.n, 0);
    sq_h_records_fini(&recs);
    cr_assert_eq(sq_h_kafka_cmd(&k, "topic_error sq.out.kpi %d",
                                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), 0);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "sq.out.kpi"), -1);
    cr_assert_eq(sq_h_topic_read_all(k.bootstrap, "sq.out.kpi", &recs, 5000), -1);
    sq_h_records_fini(&recs);
    cr_assert_eq(sq_h_kafka_cmd(&k, "topic_error sq.out.kpi 0"), 0);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "sq.out.kpi"), 0);

    sq_h_kafka_stop(&k);
    cr_assert_eq(k.pid, 0);
    sq_h_kafka_stop(&k);   /* safe twice */
    free(path);
}

/* ---- Kafka: fault injection through the helper's stdin ---------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk, (void)opaque;
    *(rd_kafka_resp_err_t *)rkm->_private = rkm->err;   /* the message's opaque */
}

/* Produces one message and waits for its delivery report. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *value)
{
    rd_kafka_resp_err_t dr = RD_KAFKA_RESP_ERR__FAIL, err;

    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("faults"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(&dr), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR, "no delivery report");
    return dr;
}

Test(harness, kafka_produce_errors_reach_a_producer, .timeout = 60)
{
    const char *topics[] = {"faults:1", NULL};
    struct sq_h_kafka k;
    char errstr[256];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_resp_err_t dr;

    cr_assert_eq(sq_h_kafka_start(&k, 1, topics), 0);
    cr_assert_eq(sq_h_kafka_cmd(&k, "ping"), 0);

    conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", k.bootstrap, errstr,
                                   sizeof(errstr)), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "message.send.max.retries", "0", errstr,
                                   sizeof(errstr)), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof(errstr)),
                 RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(rk, "%s", errstr);

    cr_assert_eq(produce_one(rk, "before"), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* The next two Produce requests fail with MSG_SIZE_TOO_LARGE (10). */
    cr_assert_eq(sq_h_kafka_cmd(&k, "produce_errors %d %d", 2, 10), 0);
    dr = produce_one(rk, "rejected-1");
    cr_assert_eq(dr, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "got %s", rd_kafka_err2name(dr));
    dr = produce_one(rk, "rejected-2");
    cr_assert_eq(dr, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "got %s", rd_kafka_err2name(dr));
    cr_assert_eq(produce_one(rk, "after"), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* Queued errors can be cleared before they hit anything. */
    cr_assert_eq(sq_h_kafka_cmd(&k, "produce_errors 5 7"), 0);
    cr_assert_eq(sq_h_kafka_cmd(&k, "clear_errors"), 0);
    cr_assert_eq(produce_one(rk, "cleared"), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "faults"), 3);

    /* Bad commands answer ERR and leave the helper serving. */
    cr_assert_eq(sq_h_kafka_cmd(&k, "produce_errors faults 2 7"), -1);
    cr_assert_eq(sq_h_kafka_cmd(&k, "no_such_command"), -1);
    cr_assert_eq(sq_h_kafka_cmd(&k, "broker_down 9"), -1);
    cr_assert_eq(sq_h_kafka_cmd(&k, "topic more 2"), 0);
    cr_assert_eq(sq_h_kafka_cmd(&k, "broker_down 1"), 0);
    cr_assert_eq(sq_h_kafka_cmd(&k, "broker_up 1"), 0);
    cr_assert_eq(sq_h_topic_count(k.bootstrap, "more"), 0);

    rd_kafka_destroy(rk);
    sq_h_kafka_stop(&k);
}

/* ---- processes --------------------------------------------------------- */

Test(harness, spawn_passes_env_and_collects_status_and_log, .timeout = 30)
{
    const char *args[] = {"-c", "echo \"$SQ_H_VAR:${SQGATE_LEAK-unset}\"; echo err >&2; exit 7",
                          NULL};
    const char *env[] = {"SQ_H_VAR=hello", NULL};
    struct sq_h_proc p;
    int status = 0;
    char *log;

    cr_assert_eq(setenv("SQGATE_LEAK", "leaked", 1), 0);
    cr_assert_eq(sq_h_spawn_exe(&p, "sh", args, env, NULL), 0);
    cr_assert_gt(p.pid, 0);
    cr_assert_eq(sq_h_wait_exit(&p, 10000, &status), 0);
    cr_assert_eq(p.pid, 0);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 7);
    log = sq_h_read_file(p.log_path, NULL);
    cr_assert_not_null(log);
    cr_assert_str_eq(log, "hello:unset\nerr\n");
    free(log);

    /* A process that ignores nothing stops on SIGTERM. */
    {
        const char *sleep_args[] = {"30", NULL};
        cr_assert_eq(sq_h_spawn_exe(&p, "sleep", sleep_args, NULL, NULL), 0);
        cr_assert(sq_h_alive(&p));
        cr_assert_eq(sq_h_wait_exit(&p, 100, &status), -1, "sleep 30 cannot be done");
        cr_assert_eq(sq_h_proc_stop(&p, 5000, &status), 0);
        cr_assert(WIFSIGNALED(status));
        cr_assert_eq(WTERMSIG(status), SIGTERM);
        cr_assert(!sq_h_alive(&p));
    }
    cr_assert_eq(sq_h_spawn_exe(&p, "sq-no-such-program", NULL, NULL, NULL), -1);
}

/* true when pid no longer runs (gone, or a zombie nobody reaped yet). */
static bool pid_dead(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    char path[64], stat[512];
    FILE *f;
    size_t n;
    const char *rp;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return true;
    n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    rp = strrchr(stat, ')');   /* "pid (comm) S ..." */
    return rp == NULL || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

/* A forked "test" starts redis-server and sleep, then ends as told; both
 * children must be gone soon after, however it ended. */
static void check_cleanup(bool crash)
{
    int fds[2];
    pid_t child, pids[2] = {0, 0};
    int status;

    sq_h_tmpdir();   /* shared with the forked child, removed by us */
    cr_assert_eq(pipe(fds), 0);
    child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        struct sq_h_redis r;
        struct sq_h_proc p;
        const char *args[] = {"60", NULL};
        pid_t got[2] = {0, 0};

        close(fds[0]);
        if (sq_h_redis_start(&r, NULL) == 0)
            got[0] = r.pid;
        if (sq_h_spawn_exe(&p, "sleep", args, NULL, NULL) == 0)
            got[1] = p.pid;
        if (write(fds[1], got, sizeof(got)) != (ssize_t)sizeof(got))
            _exit(2);
        close(fds[1]);
        if (crash)
            raise(SIGKILL);   /* no atexit: PR_SET_PDEATHSIG must act */
        exit(3);              /* atexit handler must act (as after a failed assert) */
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], pids, sizeof(pids)), (ssize_t)sizeof(pids));
    close(fds[0]);
    cr_assert_gt(pids[0], 0, "redis did not start in the child");
    cr_assert_gt(pids[1], 0, "sleep did not start in the child");
    cr_assert_eq(waitpid(child, &status, 0), child);
    if (crash)
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    cr_assert(sq_h_wait_until(pid_dead, &pids[0], 5000), "redis-server %d survived", (int)pids[0]);
    cr_assert(sq_h_wait_until(pid_dead, &pids[1], 5000), "sleep %d survived", (int)pids[1]);
}

Test(harness, children_die_when_the_test_exits, .timeout = 30)
{
    check_cleanup(false);
}

Test(harness, children_die_when_the_test_is_killed, .timeout = 30)
{
    check_cleanup(true);
}

/* ---- HTTP, metrics, waiting ------------------------------------------- */

static const char metrics_text[] =
    "# HELP sq_dlq_total Messages sent to the DLQ.\n"
    "# TYPE sq_dlq_total counter\n"
    "sq_dlq_total{reason=\"too_large\"} 3\n"
    "sq_dlq_total{reason=\"malformed_json\"} 4.5\n"
    "sq_dlq_total_extra 100\n"
    "sq_consumed_total 12\n"
    "sq_lag{topic=\"sq.in.contacts\",partition=\"0\"} 7 1700000000000\n";

/* /metrics: metrics_text; /secret: "secret" with the right bearer token,
 * else 401; anything else 404. */
static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version,
                             const char *upload_data, size_t *upload_data_size,
                             void **req_cls)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *text = "";
    unsigned int code = MHD_HTTP_NOT_FOUND;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size,
        (void)req_cls;
    if (strcmp(url, "/metrics") == 0) {
        text = metrics_text;
        code = MHD_HTTP_OK;
    } else if (strcmp(url, "/secret") == 0) {
        bool ok = auth != NULL && strcmp(auth, "Bearer t0k") == 0;
        text = ok ? "secret" : "";
        code = ok ? MHD_HTTP_OK : MHD_HTTP_UNAUTHORIZED;
    }
    resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

Test(harness, http_get_and_metric_parsing, .timeout = 30)
{
    int port = sq_h_free_port();
    struct MHD_Daemon *d;
    struct sockaddr_in sin;
    char *body = NULL;

    cr_assert_gt(port, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, serve,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_END);
    cr_assert_not_null(d);

    cr_assert_eq(sq_h_http_get(port, "/metrics", &body), 200);
    cr_assert_not_null(body);
    cr_assert_str_eq(body, metrics_text);
    cr_assert_float_eq(sq_h_metric(body, "sq_dlq_total{reason=\"too_large\"}"), 3.0, 1e-9);
    cr_assert_float_eq(sq_h_metric(body, "sq_dlq_total{reason=\"malformed_json\"}"), 4.5, 1e-9);
    cr_assert_float_eq(sq_h_metric(body, "sq_consumed_total"), 12.0, 1e-9);
    cr_assert_float_eq(sq_h_metric(body, "sq_dlq_total{reason=\"bad_utf8\"}"), -1.0, 1e-9);
    cr_assert_float_eq(sq_h_metric(body, "sq_dlq_total"), -1.0, 1e-9,
                       "no unlabelled sample of sq_dlq_total");
    cr_assert_float_eq(sq_h_metric_sum(body, "sq_dlq_total"), 7.5, 1e-9);
    cr_assert_float_eq(sq_h_metric_sum(body, "sq_lag"), 7.0, 1e-9, "timestamp is not the value");
    cr_assert_float_eq(sq_h_metric_sum(body, "sq_nothing"), -1.0, 1e-9);
    free(body);

    cr_assert_eq(sq_h_http_get(port, "/nope", &body), 404);
    free(body);
    cr_assert_eq(sq_h_http_get(port, "/secret", NULL), 401);
    cr_assert_eq(sq_h_http_request(port, "GET", "/secret", "Authorization: Bearer t0k\r\n",
                                   NULL, &body), 200);
    cr_assert_str_eq(body, "secret");
    free(body);

    MHD_stop_daemon(d);
    cr_assert_eq(sq_h_http_get(port, "/metrics", &body), -1, "nothing listens any more");
    cr_assert_null(body);
}

static bool third_call(void *arg)
{
    return ++*(int *)arg >= 3;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

Test(harness, wait_until_polls_and_times_out, .timeout = 30)
{
    int calls = 0;
    int64_t t0;

    cr_assert(sq_h_wait_until(third_call, &calls, 5000));
    cr_assert_eq(calls, 3);
    t0 = sq_mono_ms();
    cr_assert(!sq_h_wait_until(never, NULL, 300));
    cr_assert_geq(sq_mono_ms() - t0, 300);
    cr_assert_lt(sq_mono_ms() - t0, 2000);
}
