/* it_realdata.c: `sqgate convert` then `sqgate replay` on the real public
 * data of shared/data (SQ_DATA_DIR). The Anonymous Bank February 1999 month
 * totals, in all and per queue (offered, answered, abandoned, short
 * abandons, waits), from sq.out.scored must equal those computed here
 * straight from the raw file by a parser of this test's own; the telco
 * customers become 7,043 profiles; every other data set replays without a
 * DLQ record. A machine without the data folder fails, it does not skip. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "sq_common.h"
#include "sq_gen.h"
#include "sq_harness.h"
#include "strmap.h"

#ifndef SQ_DATA_DIR
#define SQ_DATA_DIR ""
#endif

/* sqgate's default sla.short_abandon_s (the replay runs without -c). */
#define SHORT_ABANDON_S 5

/* SQ_DATA_DIR/rel, which must exist. */
static char *data_path(const char *rel)
{
    cr_assert(SQ_DATA_DIR[0] != '\0',
              "the public data folder is missing: cmake looked for shared/data next to the "
              "source tree (%s/../shared/data) and found none; clone sqgate next to shared/ "
              "and re-run cmake",
              SQ_SOURCE_DIR);
    char *p = sq_xasprintf("%s/%s", SQ_DATA_DIR, rel);
    cr_assert(access(p, R_OK) == 0, "public data file %s is missing or unreadable", p);
    return p;
}

/* Runs sqgate, waits for exit 0 and returns its log (stdout + stderr). */
static char *run_sqgate(const char *const *args, int timeout_ms)
{
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, timeout_ms, &status), 0, "sqgate %s timed out", args[0]);
    char *log = sq_h_read_file(p.log_path, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sqgate %s failed:\n%s", args[0],
              log ? log : "");
    cr_assert_not_null(log);
    return log;
}

/* sqgate convert SET FILE -o OUT; returns OUT, the log in *log. */
static char *convert(const char *set, const char *file, const char *out_name, char **log)
{
    char *out = sq_h_tmp_path(out_name);
    const char *const args[] = {"convert", set, file, "-o", out, NULL};
    *log = run_sqgate(args, 120000);
    return out;
}

/* sqgate replay IN -o OUT; returns OUT, the log in *log. */
static char *replay(const char *in, const char *out_name, char **log)
{
    char *out = sq_h_tmp_path(out_name);
    const char *const args[] = {"replay", in, "-o", out, NULL};
    *log = run_sqgate(args, 300000);
    return out;
}

static uint64_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    uint64_t n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* The replay summary line for n events, all processed. */
static void assert_replay_clean(const char *log, uint64_t n)
{
    char *want = sq_xasprintf("replay: consumed %" PRIu64 ", processed %" PRIu64
                              ", duplicates 0, dlq 0\n", n, n);
    cr_assert(strstr(log, want), "want \"%s\" in the replay log:\n%s", want, log);
    free(want);
}

/* ---- Anonymous Bank, February 1999 --------------------------------------- */

struct tally {
    char queue[8];
    uint64_t offered, answered, abandoned, short_abandons;
    double wait_answered; /* sum of waits of answered calls, s */
    double handle;        /* sum of handle times of answered calls, s */
};

struct tallies {
    struct tally all;
    struct tally q[16];
    size_t n;
};

static struct tally *tally_for(struct tallies *t, const char *queue)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->q[i].queue, queue) == 0)
            return &t->q[i];
    cr_assert_lt(t->n, 16, "more than 16 queues");
    struct tally *q = &t->q[t->n++];
    memset(q, 0, sizeof *q);
    snprintf(q->queue, sizeof q->queue, "%s", queue);
    return q;
}

static void tally_add(struct tallies *t, const char *queue, bool answered, bool abandoned,
                      bool short_ab, double wait, double handle)
{
    struct tally *qs[2] = {&t->all, tally_for(t, queue)};
    for (int i = 0; i < 2; i++) {
        qs[i]->offered++;
        if (answered) {
            qs[i]->answered++;
            qs[i]->wait_answered += wait;
            qs[i]->handle += handle;
        }
        qs[i]->abandoned += abandoned;
        qs[i]->short_abandons += short_ab;
    }
}

/* Splits a tab-separated line in place; returns the number of fields. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = '\0';
            break;
        }
        if (*p == '\t') {
            *p = '\0';
            if (n == max)
                return -1;
            f[n++] = p + 1;
        }
    }
    return n;
}

/* The month straight from the raw file, following README 1's record kinds:
 * AGENT is answered (wait = q_time, handle = ser_time); HANG is abandoned
 * when the call queued (q_start or q_exit not 0:00:00), else it never
 * reached the queue; PHANTOM is ignored. */
static void raw_bank(const char *path, struct tallies *t, uint64_t *rows, uint64_t *vru_only,
                     uint64_t *phantoms)
{
    memset(t, 0, sizeof *t);
    *rows = *vru_only = *phantoms = 0;
    gzFile gz = gzopen(path, "rb");
    cr_assert_not_null(gz);
    char line[4096];
    bool header = true;
    while (gzgets(gz, line, sizeof line)) {
        if (header) {
            cr_assert(strncmp(line, "vru+line\tcall_id\t", 17) == 0, "raw header: %s", line);
            header = false;
            continue;
        }
        char *f[17];
        cr_assert_eq(split_tabs(line, f, 17), 17, "raw row with other than 17 fields");
        (*rows)++;
        const char *type = f[4], *outcome = f[12];
        bool queued = strcmp(f[9], "0:00:00") != 0 || strcmp(f[10], "0:00:00") != 0;
        long q_time = strtol(f[11], NULL, 10), ser_time = strtol(f[15], NULL, 10);
        if (strcmp(outcome, "AGENT") == 0)
            tally_add(t, type, true, false, false, (double)q_time, (double)ser_time);
        else if (strcmp(outcome, "HANG") == 0 && queued)
            tally_add(t, type, false, true, q_time < SHORT_ABANDON_S, (double)q_time, 0);
        else if (strcmp(outcome, "HANG") == 0)
            (*vru_only)++;
        else if (strcmp(outcome, "PHANTOM") == 0)
            (*phantoms)++;
        else
            cr_assert_fail("raw outcome %s", outcome);
    }
    int errnum;
    gzerror(gz, &errnum);
    cr_assert_eq(errnum, Z_OK, "reading %s", path);
    gzclose(gz);
}

/* The month as sqgate scored it: every sq.out.scored record of a contact. */
static void scored_bank(const char *path, struct tallies *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    static const char prefix[] = "{\"topic\":\"sq.out.scored\"";
    while ((n = getline(&line, &cap, f)) != -1) {
        if (strncmp(line, prefix, sizeof prefix - 1) != 0)
            continue;
        json_error_t jerr;
        json_t *rec = json_loadb(line, (size_t)n, 0, &jerr);
        cr_assert_not_null(rec, "scored line is not JSON: %s", jerr.text);
        json_t *v = json_object_get(rec, "value");
        json_t *d = json_object_get(v, "derived");
        cr_assert(json_is_object(d), "a scored contact without derived");
        const char *queue = json_string_value(json_object_get(v, "queue"));
        cr_assert_not_null(queue);
        bool answered = json_object_get(v, "answered_at") != NULL;
        json_t *handle = json_object_get(d, "handle_s");
        tally_add(t, queue, answered, json_is_true(json_object_get(d, "abandoned")),
                  json_is_true(json_object_get(d, "short_abandon")),
                  json_number_value(json_object_get(d, "wait_s")),
                  answered ? json_number_value(handle) : 0);
        cr_assert(answered ? json_is_number(handle) : json_is_null(handle),
                  "handle_s is a number exactly when answered");
        json_decref(rec);
    }
    free(line);
    fclose(f);
}

static void print_tally(const struct tally *q)
{
    fprintf(stderr, "  %-6s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %8" PRIu64 " %10.1f\n",
            q->queue, q->offered, q->answered, q->abandoned, q->short_abandons,
            q->answered ? q->wait_answered / (double)q->answered : 0.0);
}

/* src names where got comes from ("scored" records, "KPI" records). */
static void assert_tally_eq(const struct tally *got, const struct tally *want, const char *src)
{
    const char *q = want->queue[0] ? want->queue : "all";
    cr_assert_eq(got->offered, want->offered, "%s offered: %s %" PRIu64 ", raw %" PRIu64, q, src,
                 got->offered, want->offered);
    cr_assert_eq(got->answered, want->answered, "%s answered: %s %" PRIu64 ", raw %" PRIu64,
                 q, src, got->answered, want->answered);
    cr_assert_eq(got->abandoned, want->abandoned,
                 "%s abandoned: %s %" PRIu64 ", raw %" PRIu64, q, src, got->abandoned,
                 want->abandoned);
    cr_assert_eq(got->short_abandons, want->short_abandons,
                 "%s short abandons: %s %" PRIu64 ", raw %" PRIu64, q, src, got->short_abandons,
                 want->short_abandons);
    cr_assert_eq(got->wait_answered, want->wait_answered,
                 "%s sum of answered waits: %s %.0f s, raw %.0f s", q, src, got->wait_answered,
                 want->wait_answered);
    cr_assert_eq(got->handle, want->handle, "%s sum of handle times: %s %.0f s, raw %.0f s",
                 q, src, got->handle, want->handle);
}

/* The replay's hourly KPI records of the queue and all dimensions, summed
 * per queue (each window's highest revision). */
struct kpi_sum_arg {
    struct tallies *t;
    uint64_t wait_ms[17], handle_ms[17]; /* per tally: q[0..15], all = 16 */
};

static void kpi_sum_cell(const char *key, void *cell, void *arg)
{
    struct kpi_sum_arg *a = arg;
    struct tally *q;
    size_t idx;
    char queue[8];
    int end = 0; /* set only when ":1h:" matched too */
    if (strncmp(key, "sq:kpi:all:*:1h:", 16) == 0) {
        q = &a->t->all;
        idx = 16;
    } else if (sscanf(key, "sq:kpi:queue:%7[^:]:1h:%n", queue, &end) == 1 && end > 0) {
        q = tally_for(a->t, queue);
        idx = (size_t)(q - a->t->q);
    } else {
        return;
    }
    q->offered += (uint64_t)sq_gen_cell_counter(cell, "offered");
    q->answered += (uint64_t)sq_gen_cell_counter(cell, "answered");
    q->abandoned += (uint64_t)sq_gen_cell_counter(cell, "abandoned");
    q->short_abandons += (uint64_t)sq_gen_cell_counter(cell, "short_abandoned");
    a->wait_ms[idx] += (uint64_t)sq_gen_cell_counter(cell, "wait_answered_ms_sum");
    a->handle_ms[idx] += (uint64_t)sq_gen_cell_counter(cell, "handle_ms_sum");
}

static void kpi_bank(const char *replay, struct tallies *t)
{
    memset(t, 0, sizeof *t);
    struct sq_strmap cells;
    sq_gen_load_kpi_records(replay, &cells);
    struct kpi_sum_arg a = {.t = t};
    sq_strmap_each(&cells, kpi_sum_cell, &a);
    sq_gen_kpi_records_fini(&cells);
    for (size_t i = 0; i < t->n; i++) {
        t->q[i].wait_answered = (double)a.wait_ms[i] / 1000.0;
        t->q[i].handle = (double)a.handle_ms[i] / 1000.0;
    }
    t->all.wait_answered = (double)a.wait_ms[16] / 1000.0;
    t->all.handle = (double)a.handle_ms[16] / 1000.0;
}

Test(realdata, anonymous_bank_february_1999_totals, .timeout = 300)
{
    char *raw = data_path("anonymous_bank/1999-02.txt.gz");
    struct tallies want, got;
    uint64_t rows, vru_only, phantoms;
    raw_bank(raw, &want, &rows, &vru_only, &phantoms);
    cr_assert_gt(want.all.offered, 10000, "the raw parse found the calls");

    char *clog, *rlog;
    char *events = convert("anonymous_bank", raw, "bank-1999-02.ndjson", &clog);
    char *sum = sq_xasprintf("convert: %" PRIu64 " rows, %" PRIu64 " events, %" PRIu64
                             " skipped (", rows, want.all.offered, vru_only + phantoms);
    cr_assert(strstr(clog, sum), "want \"%s\" in:\n%s", sum, clog);
    char *r1 = sq_xasprintf("vru_hangup: %" PRIu64, vru_only);
    char *r2 = sq_xasprintf("phantom: %" PRIu64, phantoms);
    cr_assert(strstr(clog, r1) && strstr(clog, r2), "skip reasons %s, %s in:\n%s", r1, r2, clog);
    cr_assert_eq(count_lines(events), want.all.offered, "one envelope per contact");

    char *scored = replay(events, "bank-1999-02.out.ndjson", &rlog);
    assert_replay_clean(rlog, want.all.offered);
    scored_bank(scored, &got);

    fprintf(stderr, "Anonymous Bank, February 1999 (%" PRIu64 " records; %" PRIu64
                    " VRU-only, %" PRIu64 " phantom):\n"
                    "  queue   offered answered abandoned short<%ds mean wait (answered, s)\n",
            rows, vru_only, phantoms, SHORT_ABANDON_S);
    for (size_t i = 0; i < want.n; i++)
        print_tally(&want.q[i]);
    snprintf(want.all.queue, sizeof want.all.queue, "all");
    print_tally(&want.all);
    fprintf(stderr, "  sum of answered waits %.0f s, of handle times %.0f s\n",
            want.all.wait_answered, want.all.handle);

    assert_tally_eq(&got.all, &want.all, "scored");
    cr_assert_eq(got.n, want.n, "queues: scored %zu, raw %zu", got.n, want.n);
    for (size_t i = 0; i < want.n; i++)
        assert_tally_eq(tally_for(&got, want.q[i].queue), &want.q[i], "scored");
    /* the KPI counters of the month's hourly windows, per queue and all */
    struct tallies kpi;
    kpi_bank(scored, &kpi);
    assert_tally_eq(&kpi.all, &want.all, "KPI");
    cr_assert_eq(kpi.n, want.n, "queues: KPI %zu, raw %zu", kpi.n, want.n);
    for (size_t i = 0; i < want.n; i++)
        assert_tally_eq(tally_for(&kpi, want.q[i].queue), &want.q[i], "KPI");
    cr_assert_eq(want.all.offered, want.all.answered + want.all.abandoned);

    free(raw);
    free(events);
    free(scored);
    free(clog);
    free(rlog);
    free(sum);
    free(r1);
    free(r2);
}

/* ---- telco_churn ---------------------------------------------------------- */

Test(realdata, telco_churn_profiles, .timeout = 120)
{
    char *raw = data_path("telco_churn/Telco-Customer-Churn.csv");
    /* The raw file: customer ids and TotalCharges (column 20). */
    FILE *f = fopen(raw, "r");
    cr_assert_not_null(f);
    char line[2048];
    cr_assert_not_null(fgets(line, sizeof line, f));
    struct sq_strmap ids;
    sq_strmap_init(&ids);
    uint64_t rows = 0, tiers[4] = {0}; /* diamond gold silver standard */
    while (fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        cr_assert_not_null(comma);
        *comma = '\0';
        cr_assert_null(sq_strmap_put(&ids, line, (void *)1), "customerID %s twice", line);
        char *p = comma + 1;
        for (int k = 1; k < 19; k++)
            p = strchr(p, ',') + 1;
        double total = strtod(p, NULL); /* " " reads as 0 */
        tiers[total >= 6000 ? 0 : total >= 3000 ? 1 : total >= 1000 ? 2 : 3]++;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, 7043, "README 2: 7,043 customers");
    /* README 2 gives the tier split of its suggested rule. */
    cr_assert(tiers[0] == 692 && tiers[1] == 1512 && tiers[2] == 1935 && tiers[3] == 2904);

    char *clog, *rlog;
    char *events = convert("telco_churn", raw, "telco.ndjson", &clog);
    cr_assert(strstr(clog, "convert: 7043 rows, 7043 events, 0 skipped\n"), "%s", clog);
    /* One profile per raw customer, each its own id. */
    FILE *e = fopen(events, "r");
    char *l = NULL;
    size_t cap = 0;
    uint64_t n = 0, got_tiers[4] = {0};
    static const char *const names[4] = {"diamond", "gold", "silver", "standard"};
    while (getline(&l, &cap, e) != -1) {
        json_error_t jerr;
        json_t *env = json_loads(l, 0, &jerr);
        cr_assert_not_null(env);
        cr_assert_str_eq(json_string_value(json_object_get(env, "topic")), "sq.in.profiles");
        json_t *v = json_object_get(env, "value");
        const char *id = json_string_value(json_object_get(v, "customer_id"));
        cr_assert_not_null(id);
        cr_assert_eq(sq_strmap_del(&ids, id), (void *)1, "profile of unknown or repeated %s", id);
        const char *tier = json_string_value(json_object_get(v, "tier"));
        for (int k = 0; k < 4; k++)
            got_tiers[k] += tier && strcmp(tier, names[k]) == 0;
        json_decref(env);
        n++;
    }
    free(l);
    fclose(e);
    cr_assert_eq(n, 7043);
    cr_assert_eq(ids.n, 0, "every customer has a profile");
    for (int k = 0; k < 4; k++)
        cr_assert_eq(got_tiers[k], tiers[k], "%s: %" PRIu64 " profiles, raw %" PRIu64,
                     names[k], got_tiers[k], tiers[k]);
    fprintf(stderr, "telco_churn: %" PRIu64 " profiles (diamond %" PRIu64 ", gold %" PRIu64
                    ", silver %" PRIu64 ", standard %" PRIu64 ")\n",
            n, got_tiers[0], got_tiers[1], got_tiers[2], got_tiers[3]);

    char *out = replay(events, "telco.out.ndjson", &rlog);
    assert_replay_clean(rlog, 7043);
    sq_strmap_fini(&ids);
    free(raw);
    free(events);
    free(out);
    free(clog);
    free(rlog);
}

/* ---- the other data sets: every event passes sqgate ------------------------ */

/* The N of "convert: R rows, N events". */
static uint64_t events_of(const char *log)
{
    const char *p = strstr(log, "convert: ");
    cr_assert_not_null(p, "%s", log);
    unsigned long long rows, events;
    cr_assert_eq(sscanf(p, "convert: %llu rows, %llu events", &rows, &events), 2);
    cr_assert_gt(rows, 0);
    return events;
}

Test(realdata, other_sets_replay_without_dlq, .timeout = 300)
{
    static const struct {
        const char *set, *file;
    } sets[] = {
        {"servicenow_incidents", "servicenow_incidents/incident_event_log.csv.gz"},
        {"volvo_it_incidents", "volvo_it_incidents/VINST-new.csv.gz"},
        {"comcast_complaints", "comcast_complaints/Comcast_telecom_complaints_data.csv"},
        {"ecsi_mobile_survey", "ecsi_mobile_survey/mobi.csv"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char *raw = data_path(sets[i].file);
        char *name = sq_xasprintf("%s.ndjson", sets[i].set);
        char *oname = sq_xasprintf("%s.out.ndjson", sets[i].set);
        char *clog, *rlog;
        char *events = convert(sets[i].set, raw, name, &clog);
        uint64_t n = events_of(clog);
        cr_assert_gt(n, 0, "%s gave no events", sets[i].set);
        cr_assert_eq(count_lines(events), n);
        char *out = replay(events, oname, &rlog);
        assert_replay_clean(rlog, n);
        fprintf(stderr, "%s: %s", sets[i].set, strstr(clog, "convert: "));
        unlink(out);
        unlink(events);
        free(raw);
        free(name);
        free(oname);
        free(events);
        free(out);
        free(clog);
        free(rlog);
    }
}

Test(realdata, wrong_data_set_is_exit_1, .timeout = 60)
{
    char *raw = data_path("telco_churn/Telco-Customer-Churn.csv");
    char *out = sq_h_tmp_path("wrong.ndjson");
    const char *const args[] = {"convert", "anonymous_bank", raw, "-o", out, NULL};
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, 60000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit 1 for a telco file");
    cr_assert(sq_h_file_contains(p.log_path, "not a anonymous_bank file"));
    cr_assert_neq(access(out, F_OK), 0, "no half-written output is left");
    free(raw);
    free(out);
}
