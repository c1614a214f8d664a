/* it_delivery.c: SPEC 10 on real parts. SIGKILL mid-stream and at each
 * crash point (after produce, after the Redis step, after commit), Redis
 * stopped mid-stream (over TCP and over its unix socket), a database other
 * than 0, AUTH, SIGHUP, an applied offset past the partition's end, Redis
 * losing its data, instances joining and leaving the group (also while a
 * step is in flight), a partition whose fetch never starts (restarted, or
 * re-assigned when a restart does not help), and SIGTERM:
 * every message reflected exactly once in Redis and every valid input has
 * its scored record (repeats only with the same id and bytes). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sq_stack.h"

#define CUSTOMERS 300

struct progress_arg {
    struct sq_stack *s;
    int64_t want;
};

static bool applied_at_least(void *arg)
{
    struct progress_arg *a = arg;
    return sq_stack_applied_total(a->s, "sq.in.contacts") >= a->want;
}

/* A fresh stack of `partitions` partitions a topic and the file of `valid`
 * generated contact events (no malformed ones) for it. */
static char *stack_with_events(struct sq_stack *s, int partitions, int seed, int valid,
                               long *expected)
{
    sq_stack_start(s, partitions, false);
    return sq_stack_write_events("in.tsv", seed, valid, 0, CUSTOMERS, expected);
}

/* The same, six partitions, with the events already in sq.in.contacts. */
static char *stack_with_produced_events(struct sq_stack *s, int seed, int valid, long *expected)
{
    char *path = stack_with_events(s, 6, seed, valid, expected);
    cr_assert_eq(sq_h_kcat_produce_file(s->kafka.bootstrap, "sq.in.contacts", path), 0);
    return path;
}

/* Exactness checks shared by every scenario. */
static void check_exact(struct sq_stack *s, int seed, int valid, const long *expected)
{
    cr_assert(sq_stack_wait_applied(s, "sq.in.contacts", 180000),
              "not every message was applied");
    long sum = 0;
    cr_assert_eq(sq_stack_check_customers(s, expected, CUSTOMERS, &sum), 0,
                 "customer hashes not exact");
    cr_assert_eq(sum, valid, "events_total sum %ld, valid events %d", sum, valid);
    long nrec = 0;
    cr_assert_eq(sq_stack_check_scored(s, seed, valid, &nrec), 0);
    cr_assert_geq(nrec, valid);
}

/* Instance 0 (with sets) consuming while path is produced at rate
 * events/s, returned once `at` messages are applied: a gateway mid-stream. */
static struct sq_stack_producer *run_mid_stream(struct sq_stack *s, const char *path,
                                                const char *const *sets, int rate, int64_t at)
{
    sq_stack_start_instance(s, 0, sets, NULL);
    cr_assert(sq_stack_wait_ready(s, 0, 30000));
    struct sq_stack_producer *prod = sq_stack_produce_async(s, path, rate);
    struct progress_arg a = {s, at};
    cr_assert(sq_h_wait_until(applied_at_least, &a, 60000));
    return prod;
}

/* Every broker of the mock cluster down (up false) or up again. */
static void all_brokers(struct sq_stack *s, bool up)
{
    for (int b = 1; b <= 3; b++)
        cr_assert_eq(sq_h_kafka_cmd(&s->kafka, up ? "broker_up %d" : "broker_down %d", b), 0);
}

/* Kill with SIGKILL once `at` messages are applied (or let a crash point
 * kill it), restart, and check exactness. */
static void crash_and_restart(const char *fault, int after, int seed)
{
    const int valid = 20000;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    const char *const sets[] = {"runtime.batch_max_messages=200", NULL};
    char env_fault[64], env_after[64];
    snprintf(env_fault, sizeof env_fault, "SQGATE_FAULT=%s", fault ? fault : "");
    snprintf(env_after, sizeof env_after, "SQGATE_FAULT_AFTER=%d", after);
    const char *const env[] = {env_fault, env_after, NULL};
    sq_stack_start_instance(&s, 0, sets, fault ? env : NULL);
    int status = 0;
    if (fault) {
        cr_assert_eq(sq_h_wait_exit(&s.inst[0], 120000, &status), 0, "crash point never reached");
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    } else {
        struct progress_arg a = {&s, valid / 3};
        cr_assert(sq_h_wait_until(applied_at_least, &a, 120000));
        sq_h_kill(&s.inst[0], SIGKILL);
        cr_assert_eq(sq_h_wait_exit(&s.inst[0], 10000, &status), 0);
    }
    int64_t applied = sq_stack_applied_total(&s, "sq.in.contacts");
    cr_assert(applied > 0 && applied < valid, "killed mid-stream (applied %lld)", (long long)applied);
    sq_stack_start_instance(&s, 1, sets, NULL);
    check_exact(&s, seed, valid, expected);
    free(path);
    sq_stack_stop(&s);
}

Test(delivery, sigkill_mid_stream, .timeout = 400)
{
    crash_and_restart(NULL, 0, 11);
}

Test(delivery, crash_after_produce, .timeout = 400)
{
    crash_and_restart("after_produce", 20, 12);
}

Test(delivery, crash_after_redis_step, .timeout = 400)
{
    crash_and_restart("after_redis_step", 20, 13);
}

Test(delivery, crash_after_commit, .timeout = 400)
{
    crash_and_restart("after_commit", 3, 14);
}

struct ready_arg {
    struct sq_stack *s;
    int i;
    int want; /* HTTP status */
};

static bool readyz_is(void *arg)
{
    struct ready_arg *a = arg;
    return sq_h_http_get(a->s->admin_port[a->i], "/readyz", NULL) == a->want;
}

/* Redis stopped for down_s seconds under instance 0 mid-stream (prod
 * producing), then started again: not ready and nothing finished while it
 * is down, then resumed and exact. */
static void redis_down_then_back(struct sq_stack *s, struct sq_stack_producer *prod, int seed,
                                 int valid, const long *expected, int down_s)
{
    cr_assert_eq(sq_h_redis_stop(&s->redis), 0);
    struct ready_arg r = {s, 0, 503};
    cr_assert(sq_h_wait_until(readyz_is, &r, 8000), "/readyz stayed ready without Redis");
    cr_assert_eq(sq_stack_metric(s, 0, "sq_paused"), 1);
    double consumed1 = sq_stack_metric(s, 0, "sq_consumed_total");
    sleep((unsigned)down_s);
    double consumed2 = sq_stack_metric(s, 0, "sq_consumed_total");
    cr_assert_eq(consumed1, consumed2, "nothing finishes while Redis is down");
    cr_assert_eq(sq_h_http_get(s->admin_port[0], "/readyz", NULL), 503);
    cr_assert_gt(sq_stack_metric(s, 0, "sq_redis_errors_total"), 0);
    cr_assert_eq(sq_h_redis_restart(&s->redis), 0);

    r.want = 200;
    cr_assert(sq_h_wait_until(readyz_is, &r, 30000), "did not resume after Redis came back");
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    check_exact(s, seed, valid, expected);
}

Test(delivery, redis_down_10s_mid_stream, .timeout = 400)
{
    const int valid = 30000;
    const int seed = 21;
    struct sq_stack s;
    sq_stack_start(&s, 6, true); /* persistent: a restart keeps the data */
    long expected[CUSTOMERS];
    char *path = sq_stack_write_events("in.tsv", seed, valid, 0, CUSTOMERS, expected);
    struct sq_stack_producer *prod = run_mid_stream(&s, path, NULL, 2000, 4000);
    redis_down_then_back(&s, prod, seed, valid, expected, 8);
    free(path);
    sq_stack_stop(&s);
}

/* Redis on its unix socket (`--redis unix:///...`), restarted mid-stream:
 * the gateway connects, reconnects and stays exact there as over TCP. */
Test(delivery, redis_over_a_unix_socket_restarted_mid_stream, .timeout = 300)
{
    const int valid = 8000;
    const int seed = 89;
    struct sq_stack s;
    sq_stack_start(&s, 6, true);
    s.redis_unix = true;
    long expected[CUSTOMERS];
    char *path = sq_stack_write_events("in.tsv", seed, valid, 0, CUSTOMERS, expected);
    struct sq_stack_producer *prod = run_mid_stream(&s, path, NULL, 2000, 2000);
    redis_down_then_back(&s, prod, seed, valid, expected, 2);
    free(path);
    sq_stack_stop(&s);
}

/* `--redis redis://HOST:PORT/5`: every connection the gateway opens (the
 * turns' reads and steps, the KPI journal, the closer, readiness) selects
 * database 5, so database 0 stays empty. */
Test(delivery, a_redis_database_other_than_0_holds_everything, .timeout = 300)
{
    const int valid = 3000;
    const int seed = 97;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    s.redis_db = 5;
    sq_stack_start_instance(&s, 0, NULL, NULL);
    check_exact(&s, seed, valid, expected);
    cr_assert(sq_stack_wait_ready(&s, 0, 30000));
    sleep(4); /* a KPI fold and the closer's passes */
    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "DBSIZE");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, 0, "%lld keys written to database 0", (long long)r->integer);
    freeReplyObject(r);
    redisFree(c);
    free(path);
    sq_stack_stop(&s);
}

/* Redis AUTH from the environment (SQGATE_REDIS_USER / _PASSWORD, an ACL
 * user): a wrong password keeps the gateway unready with Redis's reason in
 * its log; the right one authenticates every connection it opens. */
Test(delivery, redis_auth_from_the_environment, .timeout = 300)
{
    const int valid = 3000;
    const int seed = 101;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "ACL SETUSER sqgate on >it-s3cret ~* &* +@all");
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER failed");
    freeReplyObject(r);
    redisFree(c);

    const char *const wrong[] = {"SQGATE_REDIS_USER=sqgate", "SQGATE_REDIS_PASSWORD=nope", NULL};
    sq_stack_start_instance(&s, 0, NULL, wrong);
    cr_assert(sq_stack_wait_log(&s, 0, "WRONGPASS", 20000), "no AUTH failure logged");
    cr_assert_eq(sq_h_http_get(s.admin_port[0], "/readyz", NULL), 503);
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_consumed_total"), 0);
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 20000, NULL), 0);

    const char *const right[] = {"SQGATE_REDIS_USER=sqgate", "SQGATE_REDIS_PASSWORD=it-s3cret",
                                 NULL};
    sq_stack_start_instance(&s, 1, NULL, right);
    check_exact(&s, seed, valid, expected);
    c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    r = redisCommand(c, "CLIENT ID");
    long long self = r->integer;
    freeReplyObject(r);
    /* The checks' own connections may linger a moment after they close. */
    int theirs = 0, other = 0;
    char example[512] = "";
    for (int tries = 0; tries < 50; tries++) {
        theirs = other = 0;
        r = redisCommand(c, "CLIENT LIST");
        cr_assert(r && r->type == REDIS_REPLY_STRING);
        for (char *line = strtok(r->str, "\n"); line; line = strtok(NULL, "\n")) {
            if (strtoll(line + 3, NULL, 10) == self) /* "id=N ..." */
                continue;
            if (strstr(line, " user=sqgate ")) {
                theirs++;
            } else {
                other++;
                snprintf(example, sizeof example, "%s", line);
            }
        }
        freeReplyObject(r);
        if (other == 0)
            break;
        usleep(100000);
    }
    cr_assert_eq(other, 0, "%d connections not authenticated, e.g. %s", other, example);
    cr_assert_geq(theirs, 3, "the gateway holds %d connections", theirs);
    redisFree(c);
    free(path);
    sq_stack_stop(&s);
}

/* SPEC 10: an applied offset past the partition's end (as after the topic
 * was recreated) makes the instance not ready and say so, and skips
 * nothing; `sqgate reset-offsets` clears it, and a restarted instance then
 * processes what waited. (The mock cluster cannot recreate a topic: the
 * stored offsets are moved past the end instead, which is what sqgate
 * sees either way.) */
Test(delivery, applied_offset_past_the_end_is_not_ready_until_reset, .timeout = 300)
{
    const int valid1 = 2000, valid2 = 1500;
    const int seed1 = 107, seed2 = 109;
    struct sq_stack s;
    long expected[CUSTOMERS], expected2[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed1, valid1, expected);
    sq_stack_start_instance(&s, 0, NULL, NULL);
    cr_assert(sq_stack_wait_applied(&s, "sq.in.contacts", 120000));
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 20000, NULL), 0);

    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    for (int p = 0; p < 6; p++)
        freeReplyObject(redisCommand(c, "HSET sq:off:%s:sq.in.contacts:%d offset 999999",
                                     SQ_STACK_GROUP, p));
    redisFree(c);
    char *path2 = sq_stack_write_events("in2.tsv", seed2, valid2, 0, CUSTOMERS, expected2);
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, "sq.in.contacts", path2), 0);
    for (int k = 0; k < CUSTOMERS; k++)
        expected[k] += expected2[k];

    sq_stack_start_instance(&s, 1, NULL, NULL);
    cr_assert(sq_stack_wait_log(&s, 1, "lies past the partition's end", 30000),
              "the offset past the end was not reported");
    sleep(3);
    char *body = NULL;
    cr_assert_eq(sq_h_http_get(s.admin_port[1], "/readyz", &body), 503);
    cr_assert(body && strstr(body, "reset-offsets"), "/readyz says: %s", body ? body : "");
    free(body);
    cr_assert_eq(sq_stack_metric(&s, 1, "sq_skipped_total"), 0, "messages skipped as done");
    cr_assert_eq(sq_stack_metric(&s, 1, "sq_consumed_total"), 0);
    cr_assert_eq(sq_h_proc_stop(&s.inst[1], 20000, NULL), 0);

    char *url = sq_h_redis_url(&s.redis);
    const char *const args[] = {"reset-offsets", "--group", SQ_STACK_GROUP, "--topic",
                                "sq.in.contacts", "--redis", url, NULL};
    struct sq_h_proc rp;
    cr_assert_eq(sq_h_spawn(&rp, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&rp, 30000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reset-offsets failed: %s",
              rp.log_path);
    cr_assert(sq_h_file_contains(rp.log_path, "6 partitions of sq.in.contacts cleared"));
    free(url);

    sq_stack_start_instance(&s, 2, NULL, NULL);
    cr_assert(sq_stack_wait_applied(&s, "sq.in.contacts", 120000), "the waiting messages");
    long sum = 0;
    cr_assert_eq(sq_stack_check_customers(&s, expected, CUSTOMERS, &sum), 0);
    cr_assert_eq(sum, valid1 + valid2);
    cr_assert_geq(sq_h_topic_count(s.kafka.bootstrap, "sq.out.scored"), valid1 + valid2);
    cr_assert_eq(sq_stack_metric(&s, 2, "sq_skipped_total"), 0);
    free(path2);
    free(path);
    sq_stack_stop(&s);
}

/* Redis restarted without its data (here: FLUSHALL and every connection
 * dropped) under a caught-up instance: its closer reconnects first, finds
 * the epoch key changed and the gateway stops with exit 2 instead of
 * writing on from nothing (docs/operations.md). */
Test(delivery, redis_losing_its_data_stops_an_idle_instance_with_2, .timeout = 300)
{
    const int valid = 1000;
    const int seed = 113;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    sq_stack_start_instance(&s, 0, NULL, NULL);
    check_exact(&s, seed, valid, expected);
    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    freeReplyObject(redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes"));
    redisFree(c);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&s.inst[0], 60000, &status), 0,
                 "still running after Redis lost its data");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
    cr_assert(sq_h_file_contains(s.inst[0].log_path, "redis lost its data"));
    free(path);
    sq_stack_stop(&s);
}

struct took_part_arg {
    struct sq_stack *s;
    int i;
};

static bool took_part(void *arg)
{
    struct took_part_arg *a = arg;
    return sq_stack_metric(a->s, a->i, "sq_processed_total") > 0;
}

Test(delivery, group_join_and_leave_mid_stream, .timeout = 400)
{
    /* 60,000 events left ~5 MiB of scored records per partition, at the
     * mock's limit: 50,000 leave a margin, produced over the same ~30 s */
    const int valid = 50000;
    const int seed = 31;
    struct sq_stack s;
    long expected[CUSTOMERS];
    /* 12 partitions keep outputs under the mock's 5 MiB each */
    char *path = stack_with_events(&s, 12, seed, valid, expected);
    sq_stack_start_instance(&s, 0, NULL, NULL);
    sq_stack_start_instance(&s, 1, NULL, NULL);
    cr_assert(sq_stack_wait_ready(&s, 0, 30000));
    cr_assert(sq_stack_wait_ready(&s, 1, 30000));
    struct sq_stack_producer *prod = sq_stack_produce_async(&s, path, 1700);
    struct progress_arg a = {&s, 6000};
    cr_assert(sq_h_wait_until(applied_at_least, &a, 60000));
    sq_stack_start_instance(&s, 2, NULL, NULL); /* joins mid-stream */
    cr_assert(sq_stack_wait_ready(&s, 2, 30000));
    /* Rebalances on the mock cluster take about two session timeouts. */
    struct took_part_arg t = {&s, 2};
    cr_assert(sq_h_wait_until(took_part, &t, 60000), "the third instance never took part");
    cr_assert_lt(sq_stack_applied_total(&s, "sq.in.contacts"), valid, "still mid-stream");
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[2], 25000, &status), 0); /* leaves mid-stream */
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    check_exact(&s, seed, valid, expected);
    free(path);
    sq_stack_stop(&s);
}

struct consumed_arg {
    struct sq_stack *s;
    double want;
};

static bool consumed_sum_is(void *arg)
{
    struct consumed_arg *a = arg;
    return sq_stack_metric(a->s, 0, "sq_consumed_total") +
               sq_stack_metric(a->s, 1, "sq_consumed_total") == a->want;
}

/* Starts instance 0 with the hold fault point `fault` (faults.h: its 21st
 * pass holds until the file *release exists), produces path at 1,000
 * events/s, waits until the point holds, then starts instance 1, which
 * joins the group meanwhile. */
static struct sq_stack_producer *join_while_held(struct sq_stack *s, const char *path,
                                                 const char *fault, char **release)
{
    *release = sq_h_tmp_path("release-hold");
    char env_fault[64], env_release[512], reached[96];
    snprintf(env_fault, sizeof env_fault, "SQGATE_FAULT=%s", fault);
    snprintf(env_release, sizeof env_release, "SQGATE_FAULT_RELEASE_FILE=%s", *release);
    const char *const env[] = {env_fault, "SQGATE_FAULT_AFTER=20", "SQGATE_FAULT_HOLD_MS=150000",
                               env_release, NULL};
    sq_stack_start_instance(s, 0, NULL, env);
    cr_assert(sq_stack_wait_ready(s, 0, 30000));
    struct sq_stack_producer *prod = sq_stack_produce_async(s, path, 1000);
    snprintf(reached, sizeof reached, "fault point %s reached", fault);
    cr_assert(sq_stack_wait_log(s, 0, reached, 60000), "%s was never held", fault);
    sq_stack_start_instance(s, 1, NULL, NULL);
    return prod;
}

/* Ends the hold of join_while_held. */
static void release_hold(const char *release)
{
    FILE *f = fopen(release, "w");
    cr_assert_not_null(f);
    fclose(f);
}

/* Every message was produced, applied exactly (check_exact) and counted
 * once across the two instances, none skipped. */
static void check_counted_once(struct sq_stack *s, struct sq_stack_producer *prod, int seed,
                               int valid, const long *expected)
{
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    check_exact(s, seed, valid, expected);
    struct consumed_arg c = {s, valid};
    bool once = sq_h_wait_until(consumed_sum_is, &c, 20000);
    cr_assert(once, "consumed by the two instances: %.0f + %.0f, messages %d",
              sq_stack_metric(s, 0, "sq_consumed_total"),
              sq_stack_metric(s, 1, "sq_consumed_total"), valid);
    cr_assert_eq(sq_stack_metric(s, 0, "sq_skipped_total") +
                     sq_stack_metric(s, 1, "sq_skipped_total"),
                 0);
}

/* Partitions revoked while their Redis step is in flight: the step applies
 * (the next owner resumes after it), so the instance that sent it counts
 * those messages when the reply comes. Instance 0's step reply is held
 * (SQGATE_FAULT=hold_step_reply) until instance 1 has joined and instance
 * 0 has lost partitions (on the mock cluster the join makes instance 0's
 * assignment lost; on a broker with cooperative rebalancing the 5 s finish
 * at revocation would run out), and across the two instances every
 * message is still counted exactly once. */
Test(delivery, revoked_while_a_step_is_in_flight_counted_once, .timeout = 400)
{
    const int valid = 20000;
    const int seed = 61;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    char *release = NULL;
    struct sq_stack_producer *prod = join_while_held(&s, path, "hold_step_reply", &release);
    cr_assert(sq_stack_wait_log(&s, 0, "revoked sq.in.contacts/", 120000),
              "instance 0 lost no partition");
    release_hold(release); /* the reply comes now */
    cr_assert(sq_stack_wait_log(&s, 0, "revoked while its step ran; the step applied", 30000),
              "no partition of the held step was revoked before its reply came");
    check_counted_once(&s, prod, seed, valid, expected);
    free(release);
    free(path);
    sq_stack_stop(&s);
}

/* Partitions revoked while a turn's chain read is out (on the read
 * thread; the chain's first part ran, the rest waits for the answer):
 * the revocation finishes that turn's chain first, and across the two
 * instances every message is counted exactly once. Instance 0 holds the
 * answer of one read (SQGATE_FAULT=hold_chain_read) until instance 1 has
 * joined and instance 0's revocation waits for it. */
Test(delivery, revoked_while_a_chain_read_is_out_counted_once, .timeout = 400)
{
    const int valid = 20000;
    const int seed = 67;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    char *release = NULL;
    struct sq_stack_producer *prod = join_while_held(&s, path, "hold_chain_read", &release);
    cr_assert(sq_stack_wait_log(&s, 0, "finish their chain first", 120000),
              "no revocation came while the chain read was out");
    release_hold(release); /* the answer comes now */
    cr_assert(sq_stack_wait_log(&s, 0, "revoked sq.in.contacts/", 120000),
              "instance 0 lost no partition");
    check_counted_once(&s, prod, seed, valid, expected);
    free(release);
    free(path);
    sq_stack_stop(&s);
}

struct stalled_arg {
    struct sq_stack *s;
    int i;
    int valid;
    double lag;
    double consumed;
    char lags[2048]; /* the sq_partition_lag lines that were not 0 */
};

/* Instance i consumed every message but those of sq.in.contacts/2, whose
 * lag is the rest, and every other partition's lag is 0. */
static bool only_partition_2_waits(void *arg)
{
    struct stalled_arg *a = arg;
    char *body = NULL;
    bool ok = false;
    if (sq_h_http_get(a->s->admin_port[a->i], "/metrics", &body) == 200) {
        a->lag = sq_h_metric(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"2\"}");
        a->consumed = sq_h_metric(body, "sq_consumed_total");
        ok = a->lag > 0 && sq_h_metric_sum(body, "sq_partition_lag") == a->lag &&
             a->consumed + a->lag == a->valid;
        a->lags[0] = '\0';
        for (const char *p = body; (p = strstr(p, "\nsq_partition_lag{")) != NULL; p++) {
            const char *end = strchr(p + 1, '\n');
            if (end && !(end[-1] == '0' && end[-2] == ' '))
                snprintf(a->lags + strlen(a->lags), sizeof a->lags - strlen(a->lags), "%.*s",
                         (int)(end - p), p);
        }
    }
    free(body);
    return ok;
}

/* Starts instance `inst` with the fault point `fault` (faults.h) on
 * sq.in.contacts/2 and the settings sets. */
static void start_with_contacts_2_fault(struct sq_stack *s, int inst, const char *fault,
                                        const char *const *sets)
{
    char env_fault[64];
    snprintf(env_fault, sizeof env_fault, "SQGATE_FAULT=%s", fault);
    const char *const env[] = {env_fault, "SQGATE_FAULT_TOPIC=sq.in.contacts",
                               "SQGATE_FAULT_PARTITION=2", NULL};
    sq_stack_start_instance(s, inst, sets, env);
}

/* After check_exact: instance `inst` reached the fault, found the stall of
 * sq.in.contacts/2 at least min_stalls times and skipped nothing. */
static void check_stall_mended(struct sq_stack *s, int inst, const char *fault, int min_stalls)
{
    char reached[96];
    snprintf(reached, sizeof reached, "fault point %s reached", fault);
    cr_assert(sq_h_file_contains(s->inst[inst].log_path, reached));
    cr_assert(sq_h_file_contains(s->inst[inst].log_path, "sq.in.contacts/2 fetched nothing for"));
    cr_assert_geq(sq_stack_metric(s, inst, "sq_partition_stalls_total"), min_stalls);
    cr_assert_eq(sq_stack_metric(s, inst, "sq_skipped_total"), 0);
}

/* A partition whose fetch never starts: SQGATE_FAULT=stall_partition pauses
 * sq.in.contacts/2 inside librdkafka only, as librdkafka 2.0.2 can leave a
 * partition after a pause or resume right after its assignment. With
 * runtime.stall_s 0 (the check off) its messages wait, and sq_partition_lag
 * shows them although nothing of the partition was ever committed. With
 * the check on, the next instance finds the stall, restarts the fetch, and
 * every message is applied exactly once. */
Test(delivery, stalled_partition_shows_its_lag_and_is_restarted, .timeout = 400)
{
    const int valid = 6000;
    const int seed = 71;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    const char *const off[] = {"runtime.stall_s=0", NULL};
    start_with_contacts_2_fault(&s, 0, "stall_partition", off);
    struct stalled_arg a = {&s, 0, valid, 0, 0, ""};
    bool waits = sq_h_wait_until(only_partition_2_waits, &a, 120000);
    cr_assert(waits, "instance 0: consumed %.0f, lag of the stalled partition %.0f, messages %d, "
              "lags not 0:%s", a.consumed, a.lag, valid, a.lags);
    cr_assert(sq_h_file_contains(s.inst[0].log_path, "fault point stall_partition reached"));
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_partition_stalls_total"), 0);
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 20000, &status), 0, "SIGTERM did not stop it in time");

    const char *const on[] = {"runtime.stall_s=2", NULL};
    start_with_contacts_2_fault(&s, 1, "stall_partition", on);
    check_exact(&s, seed, valid, expected);
    check_stall_mended(&s, 1, "stall_partition", 1);
    cr_assert_eq(sq_stack_metric(&s, 1, "sq_consumed_total"), a.lag);
    free(path);
    sq_stack_stop(&s);
}

/* A partition whose fetch neither a resume nor a seek starts (the fault
 * leaves the restart undone) is re-assigned locally at its next offset at
 * the second stall check, and every message is applied once. */
Test(delivery, wedged_partition_is_reassigned, .timeout = 300)
{
    const int valid = 4000;
    const int seed = 73;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    const char *const on[] = {"runtime.stall_s=2", NULL};
    start_with_contacts_2_fault(&s, 0, "wedge_partition", on);
    check_exact(&s, seed, valid, expected);
    check_stall_mended(&s, 0, "wedge_partition", 2);
    const char *log = s.inst[0].log_path;
    cr_assert(sq_h_file_contains(log, "wedge_partition: sq.in.contacts/2 left paused"),
              "the first stall was not answered with a restart");
    cr_assert(sq_h_file_contains(log, "the last restart fetched nothing: re-assigning it there"));
    cr_assert(sq_h_file_contains(log, "sq.in.contacts/2 re-assigned at offset"));
    free(path);
    sq_stack_stop(&s);
}

/* Produces path's lines to sq.in.contacts with one kcat per `chunk` lines,
 * so that each partition's backlog lies in many message sets: the mock
 * broker answers a fetch with one set a partition, so the backlog takes
 * many fetches whatever kcat's batching. */
static void produce_in_chunks(const struct sq_stack *s, const char *path, int chunk)
{
    FILE *in = fopen(path, "r");
    cr_assert(in, "cannot read %s", path);
    char *part = sq_h_tmp_path("chunk.tsv");
    char line[8192];
    bool more = true;
    while (more) {
        FILE *out = fopen(part, "w");
        cr_assert(out);
        int n = 0;
        while (n < chunk && (more = fgets(line, sizeof line, in) != NULL)) {
            fputs(line, out);
            n++;
        }
        fclose(out);
        if (n)
            cr_assert_eq(sq_h_kcat_produce_file(s->kafka.bootstrap, "sq.in.contacts", part), 0);
    }
    fclose(in);
    free(part);
}

/* A prefetch far too small for its backlog (kafka.queued.max.messages.kbytes
 * 1, the least librdkafka takes): librdkafka 2.0.2 stops fetching once it
 * is full and fetches again up to a second later, so the gateway idles
 * while messages wait in Kafka, and sq_idle_behind_microseconds_total
 * counts that time. Every message is still applied exactly once; once they
 * are, nothing waits, and the counter stands still while the gateway idles
 * caught up. */
Test(delivery, a_prefetch_run_dry_counts_as_idle_behind, .timeout = 300)
{
    const int valid = 3000;
    const int seed = 83;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    produce_in_chunks(&s, path, 250);
    const char *const sets[] = {"kafka.queued.max.messages.kbytes=1", NULL};
    sq_stack_start_instance(&s, 0, sets, NULL);
    check_exact(&s, seed, valid, expected);
    double behind = sq_stack_metric(&s, 0, "sq_idle_behind_microseconds_total");
    cr_assert_gt(behind, 0, "no idle time counted while the backlog waited in Kafka");
    sleep(3);
    double later = sq_stack_metric(&s, 0, "sq_idle_behind_microseconds_total");
    cr_assert_eq(later, behind, "idle time counted while caught up: %.0f then %.0f µs", behind,
                 later);
    free(path);
    sq_stack_stop(&s);
}

Test(delivery, sigterm_commits_everything, .timeout = 300)
{
    const int valid = 5000;
    const int seed = 41;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_produced_events(&s, seed, valid, expected);
    sq_stack_start_instance(&s, 0, NULL, NULL);
    check_exact(&s, seed, valid, expected);
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 20000, &status), 0, "SIGTERM did not stop it in time");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert(sq_h_file_contains(s.inst[0].log_path, "stopped: consumed"));
    int64_t scored = sq_h_topic_count(s.kafka.bootstrap, "sq.out.scored");

    /* A new instance with a fresh Redis-less view would start at Kafka's
     * committed offsets: delete the applied offsets so only the commits
     * decide, and check it produces nothing new. */
    redisContext *c = sq_h_redis_connect(&s.redis);
    for (int p = 0; p < 6; p++)
        freeReplyObject(redisCommand(c, "DEL sq:off:%s:sq.in.contacts:%d", SQ_STACK_GROUP, p));
    redisFree(c);
    sq_stack_start_instance(&s, 1, NULL, NULL);
    cr_assert(sq_stack_wait_ready(&s, 1, 30000));
    sleep(4);
    cr_assert_eq(sq_h_topic_count(s.kafka.bootstrap, "sq.out.scored"), scored,
                 "a restarted instance produced again: offsets were not all committed");
    cr_assert_eq(sq_stack_metric(&s, 1, "sq_consumed_total"), 0);
    long sum = 0;
    cr_assert_eq(sq_stack_check_customers(&s, expected, CUSTOMERS, &sum), 0);
    free(path);
    sq_stack_stop(&s);
}

/* SIGHUP (a service manager's reload) mid-stream: logged, and the gateway
 * goes on; its default action would have ended the process. */
Test(delivery, sighup_mid_stream_is_logged_and_goes_on, .timeout = 300)
{
    const int valid = 6000;
    const int seed = 103;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    struct sq_stack_producer *prod = run_mid_stream(&s, path, NULL, 2000, 1000);
    sq_h_kill(&s.inst[0], SIGHUP);
    cr_assert(sq_stack_wait_log(&s, 0, "SIGHUP: nothing to reload", 10000), "SIGHUP not logged");
    cr_assert(sq_h_alive(&s.inst[0]), "SIGHUP ended the gateway");
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    check_exact(&s, seed, valid, expected);
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 20000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(path);
    sq_stack_stop(&s);
}

Test(delivery, kafka_down_10s_mid_stream, .timeout = 400)
{
    const int valid = 30000;
    const int seed = 51;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    struct sq_stack_producer *prod = run_mid_stream(&s, path, NULL, 2000, 4000);

    /* Every broker down: deliveries stall, so the instance pauses and
     * reports not ready; nothing is applied or committed meanwhile. */
    all_brokers(&s, false);
    struct ready_arg r = {&s, 0, 503};
    cr_assert(sq_h_wait_until(readyz_is, &r, 9000), "/readyz stayed ready with Kafka down");
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_paused"), 1);
    sleep(3);
    all_brokers(&s, true);

    r.want = 200;
    cr_assert(sq_h_wait_until(readyz_is, &r, 60000), "did not resume after Kafka came back");
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    check_exact(&s, seed, valid, expected);
    free(path);
    sq_stack_stop(&s);
}

/* SIGTERM while every broker is down: the turns in flight cannot deliver
 * (librdkafka holds their outputs, which it sends without a copy of its
 * own, so none may be freed under it), so the process exits 2 once
 * shutdown.timeout_s has passed, without a crash. A new instance with
 * Kafka back applies everything exactly once. */
Test(delivery, sigterm_with_kafka_down_exits_and_loses_nothing, .timeout = 400)
{
    const int valid = 20000;
    const int seed = 53;
    struct sq_stack s;
    long expected[CUSTOMERS];
    char *path = stack_with_events(&s, 6, seed, valid, expected);
    const char *const sets[] = {"shutdown.timeout_s=2", NULL};
    struct sq_stack_producer *prod = run_mid_stream(&s, path, sets, 4000, 3000);
    all_brokers(&s, false);
    sleep(1);
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 60000, &status), 0,
                 "SIGTERM with Kafka down did not stop it in time");
    cr_assert(WIFEXITED(status), "it did not exit by itself (signal %d)",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 2);
    cr_assert(sq_h_file_contains(s.inst[0].log_path,
                                 "shutdown did not finish within shutdown.timeout_s"));
    all_brokers(&s, true);
    cr_assert_eq(sq_stack_produce_join(prod), valid);
    sq_stack_start_instance(&s, 1, NULL, NULL);
    check_exact(&s, seed, valid, expected);
    free(path);
    sq_stack_stop(&s);
}
