/* it_kpi.c: SPEC 6's exactness promise on real parts. The same events give
 * the same sq:kpi hashes in Redis and the same final KPI records (highest
 * revision per key: counters and kpis) whether one replay counted them or
 * three `sqgate run` instances in one group on 12 partitions did, with one
 * instance killed (SIGKILL) and restarted twice mid-stream, the closer
 * lease holder among the victims; and the real month (Anonymous Bank,
 * February 1999) through `sqgate run` gives the hashes and records of its
 * replay; and a partition that comes back to an instance which held it
 * before is not idle while its messages wait. windows.idle_s is 2 s so
 * that, once the input is consumed, every partition goes idle, the
 * watermark follows the wall clock and every window closes. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "sq_common.h"
#include "sq_gen.h"
#include "sq_stack.h"

#define TOPIC "sq.in.contacts"
#define IDLE_SET "windows.idle_s=2"

struct progress {
    struct sq_stack *s;
    int64_t want;
};

static bool applied_at_least(void *arg)
{
    struct progress *p = arg;
    return sq_stack_applied_total(p->s, TOPIC) >= p->want;
}

/* The running instance (of n) holding the closer lease, -1 when none
 * does: the lease value is "host:pid:random". */
static int lease_holder(struct sq_stack *s, int n)
{
    redisContext *c = sq_h_redis_connect(&s->redis);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "GET sq:lease:closer");
    int who = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *colon = strchr(r->str, ':');
        long pid = colon ? strtol(colon + 1, NULL, 10) : 0;
        for (int i = 0; i < n; i++)
            if (sq_h_alive(&s->inst[i]) && s->inst[i].pid == (pid_t)pid)
                who = i;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return who;
}

/* Kills the lease holder (or `victim` when none holds it) with SIGKILL once
 * `after` messages are applied, and starts an instance in its slot. */
static void kill_and_restart(struct sq_stack *s, int victim, const char *const *sets,
                             int64_t after, int64_t total)
{
    struct progress p = {s, after};
    cr_assert(sq_h_wait_until(applied_at_least, &p, 180000), "never applied %lld",
              (long long)after);
    int holder = lease_holder(s, 3);
    if (holder >= 0)
        victim = holder;
    sq_h_kill(&s->inst[victim], SIGKILL);
    cr_assert_eq(sq_h_wait_exit(&s->inst[victim], 10000, NULL), 0);
    cr_assert_lt(sq_stack_applied_total(s, TOPIC), total, "killed mid-stream");
    sq_stack_start_instance(s, victim, sets, NULL);
}

/* Waits (bounded) until the highest-revision record per key on sq.out.kpi
 * equals the replay's final KPI records in counters and kpis. */
static void expect_final_records_of_replay(struct sq_stack *s, const char *replay)
{
    struct sq_strmap want;
    sq_gen_load_final_kpi_replay(replay, &want);
    cr_assert_gt(want.n, 100, "the replay closed windows");
    int bad = -1;
    for (int tries = 0; tries < 60 && bad != 0; tries++) {
        if (tries)
            sleep(2);
        struct sq_strmap got;
        int rc = sq_gen_load_final_kpi_topic(s->kafka.bootstrap, "sq.out.kpi", &got);
        bad = rc == 0 ? sq_gen_compare_final_kpi(&want, &got, tries == 59) : -1;
        sq_gen_final_kpi_fini(&got);
    }
    cr_assert_eq(bad, 0, "sq.out.kpi's final records differ from the replay's %zu in %d cells",
                 want.n, bad);
    int64_t low = 0, high = 0;
    cr_assert_eq(sq_h_topic_watermarks(s->kafka.bootstrap, "sq.out.kpi", &low, &high), 0);
    cr_assert_eq(low, 0, "the mock cluster dropped KPI records");
    sq_gen_final_kpi_fini(&want);
}

struct offered_sum {
    const char *prefix;
    long long sum;
};

static void add_offered(const char *key, void *value, void *arg)
{
    struct offered_sum *o = arg;
    if (strncmp(key, o->prefix, strlen(o->prefix)) == 0)
        o->sum += sq_gen_cell_counter(value, "offered");
}

/* Scored records in a replay output (the contacts that were not malformed
 * or duplicates). */
static long long scored_records(const char *replay)
{
    size_t len;
    char *data = sq_h_read_file(replay, &len);
    cr_assert_not_null(data);
    long long n = 0;
    for (const char *p = data; (p = strstr(p, "{\"topic\":\"sq.out.scored\"")) != NULL; p++)
        n++;
    free(data);
    return n;
}

/* Checks Redis against the replay's final KPI records; when contacts >= 0,
 * also that the replay's all-contacts hourly windows offered sum to it
 * (no contact judged too late). */
static void expect_hashes_of_replay(struct sq_stack *s, const char *replay, long long contacts)
{
    struct sq_strmap cells;
    sq_gen_load_kpi_records(replay, &cells);
    cr_assert_gt(cells.n, 100, "the replay closed windows");
    if (contacts >= 0) {
        struct offered_sum o = {"sq:kpi:all:*:1h:", 0};
        sq_strmap_each(&cells, add_offered, &o);
        cr_assert_eq(o.sum, contacts, "hourly windows offered %lld, contacts %lld", o.sum,
                     contacts);
    }
    redisContext *c = sq_h_redis_connect(&s->redis);
    cr_assert_not_null(c);
    int bad = sq_gen_compare_kpi_hashes(c, &cells);
    if (bad) {
        const char *const said[] = {"idle", "wall clock", "lease", "fenced", "moved to",
                                    "revoked", "assigned", "error", NULL};
        sq_h_print_log_lines("sqgate-", said);
        for (int i = 0; i < 3; i++)
            fprintf(stderr, "instance %d: sq_too_late_total %.0f\n", i,
                    sq_stack_metric(s, i, "sq_too_late_total"));
    }
    cr_assert_eq(bad, 0, "%d differences between sq:kpi hashes and the replay's %zu KPI records",
                 bad, cells.n);
    redisFree(c);
    sq_gen_kpi_records_fini(&cells);
}

Test(kpi, three_instances_one_killed_twice_match_replay, .timeout = 600)
{
    const int total = 12000;
    char *in = sq_gen_file("gen.ndjson", "12000", "1000");
    char *rep = sq_gen_replay_file(in, "replay.ndjson");
    struct sq_stack s;
    sq_stack_start(&s, 12, false);
    char *tsv = sq_gen_envelopes_to_tsv(in, "contacts.tsv");
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, tsv), 0);
    const char *const sets[] = {"runtime.batch_max_messages=100", IDLE_SET, NULL};
    for (int i = 0; i < 3; i++)
        sq_stack_start_instance(&s, i, sets, NULL);
    kill_and_restart(&s, 1, sets, total / 4, total);
    kill_and_restart(&s, 2, sets, total / 2, total);
    cr_assert(sq_stack_wait_applied(&s, TOPIC, 300000), "not every message was applied");
    expect_hashes_of_replay(&s, rep, scored_records(rep));
    expect_final_records_of_replay(&s, rep);
    free(tsv);
    free(rep);
    free(in);
    sq_stack_stop(&s);
}

Test(kpi, february_1999_run_matches_replay, .timeout = 600)
{
    char *raw = sq_xasprintf("%s/anonymous_bank/1999-02.txt.gz", SQ_DATA_DIR);
    char *events = sq_h_tmp_path("bank.ndjson");
    const char *const cargs[] = {"convert", "anonymous_bank", raw, "-o", events, NULL};
    sq_gen_run_sqgate(cargs, 120000);
    char *rep = sq_gen_replay_file(events, "bank.out.ndjson");
    struct sq_stack s;
    sq_stack_start(&s, 12, false);
    char *tsv = sq_gen_envelopes_to_tsv(events, "bank.tsv");
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, tsv), 0);
    const char *const sets[] = {IDLE_SET, NULL};
    sq_stack_start_instance(&s, 0, sets, NULL);
    cr_assert(sq_stack_wait_applied(&s, TOPIC, 300000), "not every message was applied");
    /* 31,125 contacts in the month (it_realdata counts them from the raw file) */
    expect_hashes_of_replay(&s, rep, 31125);
    expect_final_records_of_replay(&s, rep);
    free(tsv);
    free(rep);
    free(events);
    free(raw);
    sq_stack_stop(&s);
}

/* LLEN of the KPI journal (asserted to be an integer reply). */
static long long journal_len(redisContext *c)
{
    redisReply *r = redisCommand(c, "LLEN sq:kpi_journal");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "LLEN sq:kpi_journal");
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* Stops instance 0 with SIGTERM (exit 0), expects the journal folded on
 * its way out and the hashes of the replay; closes c. */
static void stop_and_expect_folded(struct sq_stack *s, redisContext *c, const char *rep)
{
    int status = -1;
    cr_assert_eq(sq_h_proc_stop(&s->inst[0], 30000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    cr_assert_eq(journal_len(c), 0, "folded on the way out");
    redisFree(c);
    expect_hashes_of_replay(s, rep, scored_records(rep));
}

/* Starts the stack and instance 0 with the fold interval `set`, waits
 * until it holds the lease (its first fold, of an empty journal, is then
 * under way), then produces the events of `in` and waits until all are
 * applied: their entries wait for the next fold. */
static void apply_after_the_first_fold(struct sq_stack *s, const char *set, const char *in)
{
    sq_stack_start(s, 4, false);
    /* debug: the fold and close-round lines (docs/operations.md) */
    const char *const sets[] = {set, "log.level=debug", NULL};
    sq_stack_start_instance(s, 0, sets, NULL);
    cr_assert(sq_stack_wait_log(s, 0, "closer lease taken", 60000), "no closer lease");
    char *tsv = sq_gen_envelopes_to_tsv(in, "contacts.tsv");
    cr_assert_eq(sq_h_kcat_produce_file(s->kafka.bootstrap, TOPIC, tsv), 0);
    free(tsv);
    cr_assert(sq_stack_wait_applied(s, TOPIC, 120000), "not every message was applied");
}

/* kpi.fold_interval_s: the lease holder folds when it takes the lease and
 * then only every interval. With 60 s, the entries of events applied after
 * the first fold stay in the journal well past the default 3 s, and the
 * fold on the way out brings the hashes to the replay's. */
Test(kpi, the_journal_waits_for_kpi_fold_interval_s, .timeout = 300)
{
    char *in = sq_gen_file("gen.ndjson", "3000", "300");
    char *rep = sq_gen_replay_file(in, "replay.ndjson");
    struct sq_stack s;
    apply_after_the_first_fold(&s, "kpi.fold_interval_s=60", in);
    sleep(4);
    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    cr_assert_gt(journal_len(c), 0, "the steps' entries wait for the next fold");
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_kpi_journal_folded_total"), 0,
                 "no entry folded within the interval");
    stop_and_expect_folded(&s, c, rep);
    free(rep);
    free(in);
    sq_stack_stop(&s);
}

struct topic_count {
    struct sq_h_counter *counter; /* one client for the whole wait */
    int64_t want;
};

static bool kpi_records_reach(void *arg)
{
    struct topic_count *t = arg;
    return sq_h_counter_count(t->counter, "sq.out.kpi") >= t->want;
}

/* A close round takes at most 1,000 cells; when a fold makes more due, the
 * rounds after a full one go at once, not a kpi.fold_interval_s apart. The
 * instance takes the lease (and folds the empty journal) before the events
 * come, so the fold 30 s later brings every cell at once. */
Test(kpi, rounds_after_a_full_round_follow_at_once, .timeout = 300)
{
    char *in = sq_gen_file("gen.ndjson", "3000", "300");
    char *rep = sq_gen_replay_file(in, "replay.ndjson");
    struct sq_strmap want;
    sq_gen_load_final_kpi_replay(rep, &want);
    cr_assert_gt(want.n, 2000, "the replay closed more than two rounds of cells");
    struct sq_stack s;
    apply_after_the_first_fold(&s, "kpi.fold_interval_s=30", in);
    struct sq_h_counter *counter = sq_h_counter_new(s.kafka.bootstrap);
    cr_assert_not_null(counter);
    struct topic_count first = {counter, 1};
    cr_assert(sq_h_wait_until(kpi_records_reach, &first, 60000), "no KPI record after a fold");
    int64_t t0 = sq_mono_ms();
    struct topic_count all = {counter, (int64_t)want.n};
    cr_assert(sq_h_wait_until(kpi_records_reach, &all, 120000), "not every cell closed");
    int64_t took = sq_mono_ms() - t0;
    sq_h_counter_free(counter);
    cr_assert_lt(took, 20000, "%zu cells took %lld ms after the first record: rounds waited "
                 "for folds", want.n, (long long)took);
    /* the debug lines say so: a fold that brought entries, a full round */
    cr_assert(sq_stack_wait_log(&s, 0, "kpi journal: folded ", 1000), "no fold line");
    cr_assert(sq_stack_wait_log(&s, 0, "closer: 1000 cells due, read and produced in ", 1000),
              "no line for a full close round");
    expect_final_records_of_replay(&s, rep);
    sq_gen_final_kpi_fini(&want);
    free(rep);
    free(in);
    sq_stack_stop(&s);
}

/* kpi.journal: a step's KPI increments wait in sq:kpi_journal until a
 * fold. With the closer's periodic folds turned off
 * (SQGATE_FAULT=no_periodic_fold), the instance's fold on its way out
 * (SIGTERM) is the only one, and it leaves the hashes of the replay. */
Test(kpi, a_stopping_instance_folds_the_journal, .timeout = 300)
{
    char *in = sq_gen_file("gen.ndjson", "3000", "300");
    char *rep = sq_gen_replay_file(in, "replay.ndjson");
    struct sq_stack s;
    sq_stack_start(&s, 4, false);
    char *tsv = sq_gen_envelopes_to_tsv(in, "contacts.tsv");
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, tsv), 0);
    const char *const env[] = {"SQGATE_FAULT=no_periodic_fold", NULL};
    sq_stack_start_instance(&s, 0, NULL, env);
    cr_assert(sq_stack_wait_applied(&s, TOPIC, 120000), "not every message was applied");
    redisContext *c = sq_h_redis_connect(&s.redis);
    cr_assert_not_null(c);
    cr_assert_gt(journal_len(c), 0, "the steps' entries wait in the journal");
    redisReply *r = redisCommand(c, "KEYS sq:kpi:*");
    cr_assert_eq(r->elements, 0, "no KPI hash before a fold");
    freeReplyObject(r);
    stop_and_expect_folded(&s, c, rep);
    free(tsv);
    free(rep);
    free(in);
    sq_stack_stop(&s);
}

/* One contact answered at once, arrived at t_ms, as a kcat line. */
static void write_contact(FILE *f, const char *id, int64_t t_ms)
{
    char arrived[SQ_TIME_BUFSZ], ended[SQ_TIME_BUFSZ];
    sq_time_format(t_ms, arrived);
    sq_time_format(t_ms + 120000, ended);
    fprintf(f,
            "c-late\t{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":\"%s\","
            "\"customer_id\":\"c-late\",\"contact_id\":\"%s\",\"channel\":\"voice\","
            "\"queue\":\"billing\",\"agent_id\":\"ag-1\",\"arrived_at\":\"%s\","
            "\"answered_at\":\"%s\",\"ended_at\":\"%s\",\"hold_s\":0,\"wrap_s\":0,"
            "\"transfers\":0,\"outcome\":\"resolved\",\"reason\":\"billing\"}\n",
            id, ended, id, arrived, arrived, ended);
}

static void produce_contact(struct sq_stack *s, const char *id, int64_t t_ms)
{
    char *path = sq_h_tmp_path(id);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    write_contact(f, id, t_ms);
    fclose(f);
    cr_assert_eq(sq_h_kcat_produce_file(s->kafka.bootstrap, TOPIC, path), 0);
    free(path);
}

struct record_wait {
    struct sq_stack *s;
    const char *key;
    long long revision, offered;
    struct sq_h_counter *counter; /* kept: the topic is read only when it grew */
    int64_t seen;                 /* the count at the last read, -1 before it */
};

static void record_wait_init(struct record_wait *w, struct sq_stack *s, const char *key,
                             long long revision, long long offered)
{
    *w = (struct record_wait){s, key, revision, offered, sq_h_counter_new(s->kafka.bootstrap), -1};
    cr_assert_not_null(w->counter);
}

/* The highest-revision record of w->key on sq.out.kpi has w's revision and
 * offered. Reading the topic takes a client of its own, so it is read again
 * only when the kept counter sees the topic grow. */
static bool record_is(void *arg)
{
    struct record_wait *w = arg;
    int64_t n = sq_h_counter_count(w->counter, "sq.out.kpi");
    if (n < 0 || n == w->seen)
        return false;
    struct sq_strmap got;
    bool ok = false;
    if (sq_gen_load_final_kpi_topic(w->s->kafka.bootstrap, "sq.out.kpi", &got) == 0) {
        w->seen = n;
        json_t *r = sq_strmap_get(&got, w->key);
        ok = r && json_integer_value(json_object_get(r, "revision")) == w->revision &&
             json_integer_value(json_object_get(json_object_get(r, "counters"), "offered")) ==
                 w->offered;
    }
    sq_gen_final_kpi_fini(&got);
    return ok;
}

struct metric_wait {
    struct sq_stack *s;
    const char *name;
    double at_least;
};

static bool metric_reaches(void *arg)
{
    struct metric_wait *m = arg;
    return sq_stack_metric(m->s, 0, m->name) >= m->at_least;
}

/* SPEC 6 in `run`: once every partition is idle the watermark follows the
 * wall clock and closes a window two hours back (revision 1, one contact);
 * a late contact for that window updates its counters and the closer emits
 * it again with revision 2 and both contacts; a contact eight days behind
 * the watermark is scored but counted in sq_too_late_total instead. */
Test(kpi, late_event_in_run_reemits_revision_2, .timeout = 300)
{
    struct sq_stack s;
    sq_stack_start(&s, 2, false);
    const char *const sets[] = {"windows.idle_s=1", NULL};
    sq_stack_start_instance(&s, 0, sets, NULL);
    cr_assert(sq_stack_wait_ready(&s, 0, 60000));
    int64_t hour = (sq_now_ms() / 3600000 - 3) * 3600000; /* an hour ending >= 2 h ago */
    char key[64];
    snprintf(key, sizeof key, "all|*|1h|%lld", (long long)(hour / 1000));
    produce_contact(&s, "late-1", hour + 600000);
    struct record_wait w;
    record_wait_init(&w, &s, key, 1, 1);
    cr_assert(sq_h_wait_until(record_is, &w, 60000), "no revision 1 of %s with one contact",
              key);
    cr_assert_geq(sq_stack_metric(&s, 0, "sq_closer_leases_total"), 1);
    produce_contact(&s, "late-2", hour + 1200000);
    w.revision = 2;
    w.offered = 2;
    cr_assert(sq_h_wait_until(record_is, &w, 60000), "no revision 2 of %s with both contacts",
              key);
    cr_assert_geq(sq_stack_metric(&s, 0, "sq_kpi_records_total"), 2);
    /* eight days behind the watermark: scored, not aggregated */
    double processed = sq_stack_metric(&s, 0, "sq_processed_total");
    produce_contact(&s, "late-3", hour - 8 * 86400000LL);
    struct metric_wait m = {&s, "sq_too_late_total", 1};
    cr_assert(sq_h_wait_until(metric_reaches, &m, 30000), "sq_too_late_total stayed %g",
              sq_stack_metric(&s, 0, "sq_too_late_total"));
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_processed_total"), processed + 1);
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_too_late_total"), 1);
    sq_h_counter_free(w.counter);
    sq_stack_stop(&s);
}

/* windows.reemit_s: late events that reach a closed window within the
 * interval share one revision (revision 2 carries both), where every
 * second would have emitted one revision each. */
Test(kpi, late_events_within_reemit_s_share_one_revision, .timeout = 300)
{
    struct sq_stack s;
    sq_stack_start(&s, 2, false);
    const char *const sets[] = {"windows.idle_s=1", "windows.reemit_s=15", NULL};
    sq_stack_start_instance(&s, 0, sets, NULL);
    cr_assert(sq_stack_wait_ready(&s, 0, 60000));
    int64_t hour = (sq_now_ms() / 3600000 - 3) * 3600000;
    char key[64];
    snprintf(key, sizeof key, "all|*|1h|%lld", (long long)(hour / 1000));
    produce_contact(&s, "late-1", hour + 600000);
    struct record_wait w;
    record_wait_init(&w, &s, key, 1, 1);
    cr_assert(sq_h_wait_until(record_is, &w, 60000), "no revision 1 of %s", key);
    produce_contact(&s, "late-2", hour + 1200000);
    struct metric_wait m = {&s, "sq_processed_total", 2};
    cr_assert(sq_h_wait_until(metric_reaches, &m, 30000));
    sleep(3); /* three close ticks: without the interval late-2 would get revision 2 alone */
    produce_contact(&s, "late-3", hour + 1800000);
    w.revision = 2;
    w.offered = 3;
    cr_assert(sq_h_wait_until(record_is, &w, 60000),
              "no revision 2 of %s with all three contacts (one revision per late event?)", key);
    sq_h_counter_free(w.counter);
    sq_stack_stop(&s);
}

/* The partition number right after the first `needle` in the log at
 * `path` (needle ends with "sq.in.contacts/"), -1 when none. */
static int logged_partition(const char *path, const char *needle)
{
    char *log = sq_h_read_file(path, NULL);
    const char *at = log ? strstr(log, needle) : NULL;
    int partition = at ? (int)strtol(at + strlen(needle), NULL, 10) : -1;
    free(log);
    return partition;
}

/* 1 when `member` is in the zset `key`, 0 when not. */
static int zset_has(struct sq_stack *s, const char *key, const char *member)
{
    redisContext *c = sq_h_redis_connect(&s->redis);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "ZSCORE %s %s", key, member);
    cr_assert_not_null(r);
    int has = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    redisFree(c);
    return has;
}

/* SPEC 6 across a rebalance: a partition that comes back to an instance
 * which held it before is not idle while messages wait in it. librdkafka
 * keeps a partition's cached high watermark across assignments in one
 * process, from the partition's last fetch there. Instance 0 applies batch
 * a, instance 1 joins and applies part of batch b, instance 1 is killed
 * and batch c produced: the contacts partition Z that instance 0 is
 * assigned next has messages waiting, and its fetch does not start
 * (SQGATE_FAULT=stall_partition, armed only now). Z's old high watermark
 * is not beyond its applied offset: taken as Z's end, it made Z look
 * caught up, idle after windows.idle_s, and the watermark could follow the
 * wall clock past Z's waiting events. Z must stay in wm:parts; the stall
 * check then restarts its fetch and everything is applied. */
Test(kpi, a_partition_back_with_messages_waiting_is_not_idle, .timeout = 300)
{
    const int batch = 300;
    struct sq_stack s;
    sq_stack_start(&s, 2, false);
    char *a = sq_stack_write_events("a.tsv", 81, batch, 0, 40, NULL);
    char *b = sq_stack_write_events("b.tsv", 82, batch, 0, 40, NULL);
    char *c = sq_stack_write_events("c.tsv", 83, batch, 0, 40, NULL);
    char *arm = sq_h_tmp_path("arm-stall");
    char *arm_env = sq_xasprintf("SQGATE_FAULT_ARM_FILE=%s", arm);
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, a), 0);
    const char *const sets0[] = {IDLE_SET, "runtime.stall_s=15", NULL};
    const char *const env0[] = {"SQGATE_FAULT=stall_partition", "SQGATE_FAULT_TOPIC=" TOPIC,
                                arm_env, NULL};
    sq_stack_start_instance(&s, 0, sets0, env0);
    cr_assert(sq_stack_wait_applied(&s, TOPIC, 120000), "instance 0 did not apply batch a");

    const char *const sets1[] = {IDLE_SET, NULL};
    sq_stack_start_instance(&s, 1, sets1, NULL);
    cr_assert(sq_stack_wait_log(&s, 1, "assigned " TOPIC "/", 60000),
              "instance 1 got no contacts partition");
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, b), 0);
    cr_assert(sq_stack_wait_applied(&s, TOPIC, 120000), "batch b was not applied");

    FILE *f = fopen(arm, "w");
    cr_assert_not_null(f);
    fclose(f);
    sq_h_kill(&s.inst[1], SIGKILL);
    cr_assert_eq(sq_h_wait_exit(&s.inst[1], 10000, NULL), 0);
    cr_assert_eq(sq_h_kcat_produce_file(s.kafka.bootstrap, TOPIC, c), 0);
    const char *back = "fault point stall_partition reached: " TOPIC "/";
    cr_assert(sq_stack_wait_log(&s, 0, back, 60000), "no contacts partition came to instance 0");
    int z = logged_partition(s.inst[0].log_path, back);
    cr_assert(z == 0 || z == 1);

    sleep(6); /* three times windows.idle_s; the stall check waits 15 s */
    char key[96];
    snprintf(key, sizeof key, "sq:off:%s:%s:%d", SQ_STACK_GROUP, TOPIC, z);
    cr_assert_lt(sq_stack_applied_total(&s, TOPIC), 3 * batch,
                 "the check ran while Z's messages waited");
    cr_assert_eq(zset_has(&s, "sq:wm:idle", key), 0, "Z marked idle with messages waiting");
    cr_assert_eq(zset_has(&s, "sq:wm:parts", key), 1, "Z holds the watermark");
    cr_assert_eq(sq_stack_metric(&s, 0, "sq_partition_stalls_total"), 0);

    cr_assert(sq_stack_wait_applied(&s, TOPIC, 120000), "Z's messages were not applied");
    cr_assert_geq(sq_stack_metric(&s, 0, "sq_partition_stalls_total"), 1);
    free(arm_env);
    free(arm);
    free(c);
    free(b);
    free(a);
    sq_stack_stop(&s);
}
