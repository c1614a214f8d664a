/* it_pipeline.c: end to end on real parts. 10,000 messages produced with kcat
 * (100 malformed of every decode kind) into a 6-partition topic: exactly
 * 9,900 scored records, each valid against schemas/scored.v1.json, 100 DLQ
 * records with the right reasons and the original bytes, the customer
 * hashes in Redis, and /metrics adding up. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sq_stack.h"
#include "sq_validate_helper.h"

#define VALID 9900
#define MALFORMED 100
#define CUSTOMERS 500

static const char *const reasons[6] = {"malformed_json", "too_large", "not_object",
                                       "bad_utf8", "too_deep", "unknown_schema"};

/* Whether a thread of process pid is named name (/proc/PID/task/TID/comm). */
static bool has_thread_named(pid_t pid, const char *name)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[320];
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        char *comm = sq_h_read_file(path, NULL); /* NULL: the thread ended */
        if (comm) {
            comm[strcspn(comm, "\n")] = '\0';
            found = strcmp(comm, name) == 0;
            free(comm);
        }
    }
    closedir(d);
    return found;
}

/* The malformed lines of the input file, in order, as (key, value). */
static size_t read_malformed(const char *path, char ***keys, char ***vals, size_t **lens)
{
    size_t len;
    char *data = sq_h_read_file(path, &len);
    cr_assert_not_null(data);
    size_t n = 0;
    *keys = calloc(MALFORMED, sizeof **keys);
    *vals = calloc(MALFORMED, sizeof **vals);
    *lens = calloc(MALFORMED, sizeof **lens);
    for (char *line = data; line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        char *tab = memchr(line, '\t', (size_t)(nl - line));
        if (strncmp(line, "bad-", 4) == 0) {
            (*keys)[n] = strndup(line, (size_t)(tab - line));
            (*lens)[n] = (size_t)(nl - tab - 1);
            (*vals)[n] = malloc((*lens)[n] + 1);
            memcpy((*vals)[n], tab + 1, (*lens)[n]);
            n++;
        }
        line = nl + 1;
    }
    free(data);
    return n;
}

struct lag_arg {
    int port;
};

/* Every assigned partition (six input topics of six partitions each)
 * reports a lag, also those that never had anything to commit, and every
 * lag is 0. */
static bool lag_settled(void *arg)
{
    struct lag_arg *a = arg;
    char *body = NULL;
    bool ok = false;
    if (sq_h_http_get(a->port, "/metrics", &body) == 200) {
        int n = 0;
        for (const char *p = body; (p = strstr(p, "\nsq_partition_lag{")) != NULL; p++)
            n++;
        ok = n == 36 && sq_h_metric_sum(body, "sq_partition_lag") == 0 &&
             sq_h_metric_sum(body, "sq_partition_unapplied") == 0;
    }
    free(body);
    return ok;
}

Test(pipeline, kcat_10k_with_malformed, .timeout = 300)
{
    struct sq_stack s;
    sq_stack_start(&s, 6, false);
    long expected[CUSTOMERS];
    char *path = sq_stack_write_events("in.tsv", 1, VALID, MALFORMED, CUSTOMERS, expected);
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, "sq.in.contacts", path), 0,
                 "kcat failed");
    cr_assert_eq(sq_h_topic_count(s.kafka.bootstrap, "sq.in.contacts"), VALID + MALFORMED);

    sq_stack_start_instance(&s, 0, NULL, NULL);
    cr_assert(sq_stack_wait_ready(&s, 0, 30000), "sqgate never became ready");
    cr_assert(sq_stack_wait_applied(&s, "sq.in.contacts", 120000),
              "not every message was applied");

    /* Kafka outputs: exactly one scored record per valid event. */
    cr_assert_eq(sq_h_topic_count(s.kafka.bootstrap, "sq.out.scored"), VALID);
    long nrec = 0;
    cr_assert_eq(sq_stack_check_scored(&s, 1, VALID, &nrec), 0);
    cr_assert_eq(nrec, VALID);
    /* ... and every one follows schemas/scored.v1.json */
    struct sq_h_records scored;
    cr_assert_eq(sq_h_topic_read_all(s.kafka.bootstrap, "sq.out.scored", &scored, 60000), 0);
    cr_assert_eq(scored.n, VALID);
    for (size_t i = 0; i < scored.n; i++) {
        char why[1024];
        cr_assert_eq(sq_h_validate_record("scored.v1", scored.v[i].value, scored.v[i].value_len,
                                          why, sizeof why),
                     0, "scored record %zu (key %s) is not a valid scored.v1: %s\n%s", i,
                     scored.v[i].key ? scored.v[i].key : "(none)", why, scored.v[i].value);
    }
    sq_h_records_fini(&scored);

    /* DLQ: the original bytes, key and reason of each malformed message. */
    char **keys, **vals;
    size_t *lens;
    size_t nm = read_malformed(path, &keys, &vals, &lens);
    cr_assert_eq(nm, MALFORMED);
    struct sq_h_records dlq;
    cr_assert_eq(sq_h_topic_read_all(s.kafka.bootstrap, "sq.out.dlq", &dlq, 30000), 0);
    cr_assert_eq(dlq.n, MALFORMED);
    int matched = 0;
    for (size_t i = 0; i < dlq.n; i++) {
        struct sq_h_record *r = &dlq.v[i];
        cr_assert_not_null(r->key);
        int idx = (int)strtol(r->key + 4, NULL, 10);
        cr_assert(idx >= 0 && idx < MALFORMED, "bad key %s", r->key);
        cr_assert_eq(r->value_len, lens[idx], "DLQ value of %s has %zu bytes, sent %zu", r->key,
                     r->value_len, lens[idx]);
        cr_assert(memcmp(r->value, vals[idx], lens[idx]) == 0, "DLQ value of %s changed", r->key);
        const char *reason = json_string_value(json_object_get(r->headers, "sq-error"));
        cr_assert_str_eq(reason, reasons[idx % 6], "%s", r->key);
        cr_assert_not_null(json_object_get(r->headers, "sq-error-detail"));
        const char *src = json_string_value(json_object_get(r->headers, "sq-source"));
        cr_assert(src && strncmp(src, "sq.in.contacts/", 15) == 0);
        cr_assert_str_eq(json_string_value(json_object_get(r->headers, "sq-schema")), "dlq.v1");
        matched++;
    }
    cr_assert_eq(matched, MALFORMED);
    sq_h_records_fini(&dlq);

    /* Redis: every customer hash exact. */
    long sum = 0;
    cr_assert_eq(sq_stack_check_customers(&s, expected, CUSTOMERS, &sum), 0);
    cr_assert_eq(sum, VALID);
    redisContext *c = sq_h_redis_connect(&s.redis);
    redisReply *r = redisCommand(c, "HGETALL sq:cust:cust-7");
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements >= 8);
    bool has_last_event = false, has_last_contact = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (strcmp(r->element[i]->str, "last_event_at") == 0)
            has_last_event = strlen(r->element[i + 1]->str) == 24;
        if (strcmp(r->element[i]->str, "last_contact_at") == 0)
            has_last_contact = true;
    }
    cr_assert(has_last_event && has_last_contact);
    freeReplyObject(r);
    r = redisCommand(c, "TTL sq:cust:cust-7");
    cr_assert(r->integer > 86400 * 300, "customer hash has retention TTL");
    freeReplyObject(r);
    redisFree(c);

    /* /metrics add up. */
    double consumed = sq_stack_metric(&s, 0, "sq_consumed_total");
    double processed = sq_stack_metric(&s, 0, "sq_processed_total");
    double dups = sq_stack_metric(&s, 0, "sq_duplicates_total");
    char *body = NULL;
    cr_assert_eq(sq_h_http_get(s.admin_port[0], "/metrics", &body), 200);
    double dlq_sum = sq_h_metric_sum(body, "sq_dlq_total");
    for (int k = 0; k < 6; k++) {
        char name[96];
        snprintf(name, sizeof name, "sq_dlq_total{reason=\"%s\"}", reasons[k]);
        double want = MALFORMED / 6 + (k < MALFORMED % 6 ? 1 : 0);
        cr_assert_eq(sq_h_metric(body, name), want, "%s", name);
    }
    free(body);
    /* Lag is refreshed every second: once everything is committed it is 0
     * on all 6 partitions. */
    struct lag_arg la = {s.admin_port[0]};
    cr_assert(sq_h_wait_until(lag_settled, &la, 10000), "per-partition lag never reached 0");
    cr_assert_eq(sq_h_http_get(s.admin_port[0], "/metrics", &body), 200);
    cr_assert(strstr(body, "sq_processing_latency_seconds_bucket"));
    free(body);
    cr_assert_eq(consumed, VALID + MALFORMED);
    cr_assert_eq(processed, VALID);
    cr_assert_eq(dups, 0);
    cr_assert_eq(consumed, processed + dups + dlq_sum);
    /* Every turn applied at least one partition batch, and the turns' time
     * is accounted in each of its three phases. */
    double turns = sq_stack_metric(&s, 0, "sq_turns_total");
    double batches = sq_stack_metric(&s, 0, "sq_batches_total");
    cr_assert(turns >= 1 && turns <= batches, "turns %.0f, batches %.0f", turns, batches);
    cr_assert_gt(sq_stack_metric(&s, 0, "sq_turn_chain_microseconds_total"), 0);
    cr_assert_gt(sq_stack_metric(&s, 0, "sq_turn_delivery_wait_microseconds_total"), 0);
    cr_assert_gt(sq_stack_metric(&s, 0, "sq_turn_redis_wait_microseconds_total"), 0);
    /* Every valid contact looked its customer's profile up. The cache
     * starts empty, so each of the customers took a read at least once,
     * and later batches found most of them cached (20,000 entries, 60 s).
     * The ratio gauge is the quotient of the two counters. */
    double lookups = sq_stack_metric(&s, 0, "sq_profile_cache_lookups_total");
    double misses = sq_stack_metric(&s, 0, "sq_profile_cache_misses_total");
    cr_assert_eq(lookups, VALID);
    cr_assert(misses >= CUSTOMERS && misses < lookups / 2, "%.0f misses of %.0f lookups", misses,
              lookups);
    cr_assert_float_eq(sq_stack_metric(&s, 0, "sq_profile_cache_hit_ratio"), 1 - misses / lookups,
                       1e-5);
    /* Its helper threads carry names top -H and perf show. */
    static const char *const threads[] = {"sq Redis step", "sq Redis read", "sq reaper",
                                          "sq KPI journal", "sq offset probe"};
    for (size_t k = 0; k < sizeof threads / sizeof *threads; k++)
        cr_assert(has_thread_named(s.inst[0].pid, threads[k]), "no thread named \"%s\"",
                  threads[k]);

    for (size_t i = 0; i < nm; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    free(keys);
    free(vals);
    free(lens);
    free(path);
    int status = 0;
    cr_assert_eq(sq_h_proc_stop(&s.inst[0], 25000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sq_stack_stop(&s);
}

Test(pipeline, missing_topics_named_exit_2, .timeout = 60)
{
    struct sq_h_redis redis;
    struct sq_h_kafka kafka;
    cr_assert_eq(sq_h_redis_start(&redis, NULL), 0);
    const char *const topics[] = {"sq.in.contacts:1", "sq.out.scored:1", NULL};
    cr_assert_eq(sq_h_kafka_start(&kafka, 1, topics), 0);
    char *url = sq_h_redis_url(&redis);
    const char *const args[] = {"run", "--brokers", kafka.bootstrap, "--redis", url,
                                "--admin", "127.0.0.1:0", NULL};
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, 30000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    cr_assert(sq_h_file_contains(p.log_path, "missing topics"));
    cr_assert(sq_h_file_contains(p.log_path, "sq.out.dlq"));
    cr_assert(sq_h_file_contains(p.log_path, "sq.in.tickets"));
    free(url);
    sq_h_kafka_stop(&kafka);
    sq_h_redis_fini(&redis);
}

/* Runs sqgate with args and env; returns its exit status (-1 when it did
 * not exit normally within 60 s); its log path goes to log (256 bytes). */
static int cli(const char *const *args, const char *const *env, char *log)
{
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, env, NULL), 0);
    int status = 0;
    int rc = sq_h_wait_exit(&p, 60000, &status);
    snprintf(log, 256, "%s", p.log_path);
    return rc == 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Every command answers --help with its usage and exit 0; a -c without its
 * file is a usage error (it started with the defaults before); gen takes
 * its brokers from SQGATE_BROKERS as run does. */
Test(pipeline, command_line_help_usage_errors_and_gen_brokers_from_env, .timeout = 120)
{
    char log[256];
    const char *const cmds[] = {"run", "replay", "gen", "check-config", "reset-offsets",
                                "validate", "convert", "demo"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *const args[] = {cmds[i], "--help", NULL};
        cr_expect_eq(cli(args, NULL, log), 0, "sqgate %s --help", cmds[i]);
        cr_expect(sq_h_file_contains(log, "usage"), "sqgate %s --help printed no usage", cmds[i]);
    }
    const char *const run_c[] = {"run", "-c", NULL};
    cr_expect_eq(cli(run_c, NULL, log), 2);
    cr_expect(sq_h_file_contains(log, "-c wants a FILE"));
    const char *const reset_no_topic[] = {"reset-offsets", "--redis", "redis://127.0.0.1:1/0",
                                          NULL};
    cr_expect_eq(cli(reset_no_topic, NULL, log), 2);
    cr_expect(sq_h_file_contains(log, "--topic T is required"));

    struct sq_h_kafka kafka;
    cr_assert_eq(sq_h_kafka_start(&kafka, 1, sq_h_standard_topics(1)), 0);
    char env_brokers[1100];
    snprintf(env_brokers, sizeof env_brokers, "SQGATE_BROKERS=%s", kafka.bootstrap);
    const char *const env[] = {env_brokers, NULL};
    const char *const gen[] = {"gen", "--count", "50", "--tickets", "0", "--surveys", "0",
                               "--qa", "0", "--outages", "0", "--profiles", "0",
                               "--malformed", "0", "--duplicates", "0", NULL};
    cr_assert_eq(cli(gen, env, log), 0, "gen with SQGATE_BROKERS (log %s)", log);
    cr_assert_eq(sq_h_topic_count(kafka.bootstrap, "sq.in.contacts"), 50);
    sq_h_kafka_stop(&kafka);
}

/* A failed convert removes its half-written -o file, but only a regular
 * one: given a pipe (as /dev/null would be), it leaves it where it is. As
 * root, unlink would have deleted a device node. */
Test(pipeline, convert_failure_removes_only_a_regular_output_file, .timeout = 60)
{
    char log[256];
    char *bad = sq_h_tmp_path("bad.csv");
    FILE *f = fopen(bad, "w");
    cr_assert_not_null(f);
    fputs("not,the,header\n1,2,3\n", f);
    fclose(f);
    char *reg = sq_h_tmp_path("out.ndjson");
    const char *const a1[] = {"convert", "telco_churn", bad, "-o", reg, NULL};
    cr_assert_eq(cli(a1, NULL, log), 1);
    cr_assert_neq(access(reg, F_OK), 0, "the half-written regular file stayed");

    char *fifo = sq_h_tmp_path("out.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* so convert's open does not block */
    cr_assert_geq(rd, 0);
    const char *const a2[] = {"convert", "telco_churn", bad, "-o", fifo, NULL};
    cr_assert_eq(cli(a2, NULL, log), 1);
    struct stat st;
    cr_assert_eq(stat(fifo, &st), 0, "convert removed the pipe it was given as -o");
    cr_assert(S_ISFIFO(st.st_mode));
    close(rd);
    free(fifo);
    free(reg);
    free(bad);
}

/* ---- the dedupe check (gateway/dedupe_watch.c) ---------------------------- */

struct dedupe_gauge {
    struct sq_stack *s;
    double mean;
};

static bool dedupe_gauge_reads(void *arg)
{
    struct dedupe_gauge *g = arg;
    return sq_stack_metric(g->s, 0, "sq_dedupe_set_marks{stat=\"mean\"}") == g->mean;
}

/* What Redis holds of one slice's dedupe sets, and what the check's sample
 * of them (32 shards spread from the first to the last) should read. */
struct dedupe_truth {
    long sets, marks, not_intset;
    double sample_mean;
    long sample_max;
};

/* Runs 1,200 contacts (one slice of event time) through one instance with
 * dedupe.shards=shards and the check every second, and reads the slice's
 * sets from Redis once every message is applied. The instance runs on. */
static void dedupe_check_run(struct sq_stack *s, long shards, struct dedupe_truth *t)
{
    sq_stack_start(s, 1, false);
    char *path = sq_stack_write_events("dd.tsv", 3, 1200, 0, 50, NULL);
    cr_assert_eq(sq_h_kcat_produce_file(s->kafka.bootstrap, "sq.in.contacts", path), 0);
    free(path);
    char shards_opt[64];
    snprintf(shards_opt, sizeof shards_opt, "dedupe.shards=%ld", shards);
    const char *sets_opt[] = {shards_opt, "dedupe.check_s=1", NULL};
    sq_stack_start_instance(s, 0, sets_opt, NULL);
    cr_assert(sq_stack_wait_ready(s, 0, 30000), "sqgate never became ready");
    cr_assert(sq_stack_wait_applied(s, "sq.in.contacts", 120000),
              "not every message was applied");
    redisContext *c = sq_h_redis_connect(&s->redis);
    redisReply *keys = redisCommand(c, "KEYS sq:dm:*");
    cr_assert(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements > 0);
    memset(t, 0, sizeof *t);
    t->sets = (long)keys->elements;
    long slice = -1;
    for (size_t i = 0; i < keys->elements; i++) {
        long sl = -1, shard = -1;
        cr_assert_eq(sscanf(keys->element[i]->str, "sq:dm:%ld:%ld", &sl, &shard), 2);
        cr_assert(slice < 0 || sl == slice, "the events span two slices");
        slice = sl;
        redisReply *e = redisCommand(c, "OBJECT ENCODING %s", keys->element[i]->str);
        cr_assert(e && e->type == REDIS_REPLY_STRING);
        if (strcmp(e->str, "intset") != 0)
            t->not_intset++;
        freeReplyObject(e);
    }
    freeReplyObject(keys);
    long n = shards < 32 ? shards : 32, sampled = 0;
    for (long k = 0; k < shards; k++) {
        redisReply *r = redisCommand(c, "SCARD sq:dm:%ld:%ld", slice, k);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        t->marks += (long)r->integer;
        bool in_sample = false;
        for (long i = 0; i < n; i++)
            in_sample |= (n > 1 ? (long)((long double)i * (shards - 1) / (n - 1)) : 0) == k;
        if (in_sample) {
            sampled += (long)r->integer;
            if (r->integer > t->sample_max)
                t->sample_max = (long)r->integer;
        }
        freeReplyObject(r);
    }
    redisFree(c);
    cr_assert_eq(t->marks, 1200, "every event leaves one mark");
    t->sample_mean = (double)sampled / (double)n;
    /* the gauges read a check made after the last step */
    struct dedupe_gauge g = {s, t->sample_mean};
    cr_assert(sq_h_wait_until(dedupe_gauge_reads, &g, 20000), "mean marks gauge %f, want %f",
              sq_stack_metric(s, 0, "sq_dedupe_set_marks{stat=\"mean\"}"), t->sample_mean);
    cr_assert_eq(sq_stack_metric(s, 0, "sq_dedupe_set_marks{stat=\"max\"}"),
                 (double)t->sample_max);
    cr_assert_eq(sq_stack_metric(s, 0, "sq_dedupe_sets_sampled"), (double)n);
}

Test(pipeline, dedupe_check_warns_when_the_sets_outgrow_the_intset, .timeout = 240)
{
    struct sq_stack s;
    struct dedupe_truth t;
    dedupe_check_run(&s, 2, &t);
    /* 600 marks a set: past Redis's 512-entry intset */
    cr_assert_eq(t.sets, 2);
    cr_assert_eq(t.not_intset, 2);
    cr_assert_eq(t.sample_mean, 600.0);
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_dedupe_sets_past_intset"), 2.0);
    /* the warning names what to set: 600 marks a set with ~45 % of the
     * slice's event time gone is ~1,340 by its end, 2 sets of them over 400
     * marks a set is 7, a multiple of 1024 */
    cr_assert(sq_stack_wait_log(&s, 0, "2 of 2 sampled sets of slice", 10000),
              "no warning about the sets");
    cr_assert(sq_stack_wait_log(&s, 0, "set dedupe.shards to 1024 or more (now 2;", 1000),
              "the warning does not say what to set");
    sq_stack_stop(&s);
}

Test(pipeline, dedupe_check_is_quiet_while_the_sets_are_intsets, .timeout = 240)
{
    struct sq_stack s;
    struct dedupe_truth t;
    dedupe_check_run(&s, 64, &t);
    cr_assert_eq(t.not_intset, 0);
    cr_assert(t.sample_mean > 5 && t.sample_mean < 100, "%f", t.sample_mean);
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_dedupe_sets_past_intset"), 0.0);
    usleep(1500000); /* one more check after the gauge's */
    cr_assert_not(sq_h_file_contains(s.inst[0].log_path, "dedupe:"), "a warning about intsets");
    sq_stack_stop(&s);
}
