/* sq_gen.c: generated and replayed event files for integration tests, and
 * the check of sq:kpi hashes in Redis against a replay's KPI records. */
#define _GNU_SOURCE /* memmem */
#include "sq_gen.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void sq_gen_run_sqgate(const char *const *args, int timeout_ms)
{
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, timeout_ms, &status), 0, "sqgate %s timed out", args[0]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sqgate %s failed: see %s", args[0],
              p.log_path);
}

char *sq_gen_file(const char *name, const char *count, const char *customers)
{
    char *path = sq_h_tmp_path(name);
    const char *const args[] = {"gen", "--count", count, "--seed", "42", "--customers", customers,
                                "--start", SQ_GEN_START, "--profiles", "0", "--tickets", "0",
                                "--surveys", "0", "--qa", "0", "--outages", "0", "-o", path,
                                NULL};
    sq_gen_run_sqgate(args, 120000);
    return path;
}

char *sq_gen_replay_file(const char *in, const char *name)
{
    char *out = sq_h_tmp_path(name);
    const char *const args[] = {"replay", in, "-o", out, NULL};
    sq_gen_run_sqgate(args, 300000);
    return out;
}

void sq_gen_each_json_line(const char *path, const char *needle,
                           void (*fn)(json_t *v, const char *line, size_t n, void *arg),
                           void *arg)
{
    size_t len;
    char *data = sq_h_read_file(path, &len);
    cr_assert_not_null(data, "cannot read %s", path);
    for (char *line = data; line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        cr_assert_not_null(nl, "%s: last line without a line end", path);
        size_t n = (size_t)(nl - line);
        if (!needle || memmem(line, n, needle, strlen(needle))) {
            json_error_t jerr;
            json_t *v = json_loadb(line, n, 0, &jerr);
            cr_assert_not_null(v, "%s: a line that is not JSON: %s", path, jerr.text);
            fn(v, line, n, arg);
            json_decref(v);
        }
        line = nl + 1;
    }
    free(data);
}

static void sq_gen_tsv_line(json_t *env, const char *line, size_t n, void *arg)
{
    (void)line;
    (void)n;
    FILE *f = arg;
    json_t *v = json_object_get(env, "value");
    const char *key = json_string_value(json_object_get(env, "key"));
    cr_assert_str_eq(json_string_value(json_object_get(env, "topic")), "sq.in.contacts");
    char *val = json_is_string(v) ? strdup(json_string_value(v))
                                  : json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
    cr_assert_null(strpbrk(val, "\t\n"), "value fits a kcat line");
    fprintf(f, "%s\t%s\n", key ? key : "", val);
    free(val);
}

char *sq_gen_envelopes_to_tsv(const char *path, const char *name)
{
    char *out = sq_h_tmp_path(name);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    sq_gen_each_json_line(path, NULL, sq_gen_tsv_line, f);
    fclose(f);
    return out;
}

struct sq_gen_cell {
    json_int_t revision;
    json_t *counters;
};

static void sq_gen_kpi_record_line(json_t *rec, const char *line, size_t n, void *arg)
{
    (void)line;
    (void)n;
    struct sq_strmap *cells = arg;
    const char *key = json_string_value(json_object_get(rec, "key"));
    json_t *v = json_object_get(rec, "value");
    cr_assert_not_null(key);
    /* Kafka key dim|key|window|start -> Redis sq:kpi:dim:key:window:start
     * (':' and '|' inside the key are percent-encoded in both). */
    char rkey[512];
    int w = snprintf(rkey, sizeof rkey, "sq:kpi:%s", key);
    cr_assert(w > 0 && (size_t)w < sizeof rkey);
    for (char *p = rkey; *p; p++)
        if (*p == '|')
            *p = ':';
    json_int_t rev = json_integer_value(json_object_get(v, "revision"));
    struct sq_gen_cell *c = sq_strmap_get(cells, rkey);
    if (!c) {
        c = calloc(1, sizeof *c);
        sq_strmap_put(cells, rkey, c);
    }
    if (!c->counters || rev > c->revision) {
        json_decref(c->counters);
        c->counters = json_incref(json_object_get(v, "counters"));
        c->revision = rev;
    }
}

void sq_gen_load_kpi_records(const char *replay_path, struct sq_strmap *cells)
{
    sq_strmap_init(cells);
    sq_gen_each_json_line(replay_path, "\"sq.out.kpi\"", sq_gen_kpi_record_line, cells);
}

long long sq_gen_cell_counter(const void *cell, const char *name)
{
    const struct sq_gen_cell *c = cell;
    return json_integer_value(json_object_get(c->counters, name));
}

static void sq_gen_cell_free(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    struct sq_gen_cell *c = value;
    json_decref(c->counters);
    free(c);
}

void sq_gen_kpi_records_fini(struct sq_strmap *cells)
{
    sq_strmap_each(cells, sq_gen_cell_free, NULL);
    sq_strmap_fini(cells);
}

struct sq_gen_cmp {
    redisContext *c;
    int bad;
    size_t with_hash; /* cells with a non-zero counter */
};

static void sq_gen_bad(struct sq_gen_cmp *x, const char *fmt, const char *key, const char *field,
                       long long got, long long want)
{
    if (x->bad++ < 5) {
        fprintf(stderr, fmt, key, field, got, want);
        fputc('\n', stderr);
    }
}

static void sq_gen_cell_compare(const char *key, void *value, void *arg)
{
    struct sq_gen_cmp *x = arg;
    const struct sq_gen_cell *cell = value;
    redisReply *r = redisCommand(x->c, "HGETALL %s", key);
    cr_assert(r && r->type == REDIS_REPLY_ARRAY, "HGETALL %s", key);
    size_t nonzero = 0;
    const char *name;
    json_t *jv;
    json_object_foreach(cell->counters, name, jv) {
        long long want = json_integer_value(jv), got = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2)
            if (strcmp(r->element[i]->str, name) == 0)
                got = strtoll(r->element[i + 1]->str, NULL, 10);
        if (want != 0)
            nonzero++;
        if (got != want)
            sq_gen_bad(x, "%s %s: Redis %lld, replay %lld", key, name, got, want);
    }
    if (r->elements / 2 != nonzero)
        sq_gen_bad(x, "%s%s: Redis has %lld fields, replay %lld non-zero counters", key, "",
                   (long long)(r->elements / 2), (long long)nonzero);
    if (nonzero > 0)
        x->with_hash++;
    freeReplyObject(r);
}

bool sq_gen_wait_kpi_journal_folded(redisContext *c, int timeout_ms)
{
    for (int waited = 0;; waited += 100) {
        redisReply *r = redisCommand(c, "LLEN sq:kpi_journal");
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        long long left = r->integer;
        freeReplyObject(r);
        if (left == 0)
            return true;
        if (waited >= timeout_ms) {
            fprintf(stderr, "the KPI journal still holds %lld entries\n", left);
            return false;
        }
        usleep(100000);
    }
}

int sq_gen_compare_kpi_hashes(redisContext *c, struct sq_strmap *cells)
{
    /* the journal is folded about once a second (kpi.journal) */
    cr_assert(sq_gen_wait_kpi_journal_folded(c, 30000), "the KPI journal was not folded");
    struct sq_gen_cmp x = {c, 0, 0};
    sq_strmap_each(cells, sq_gen_cell_compare, &x);
    int bad_cells = x.bad;
    /* no hash beyond the replay's cells */
    size_t in_redis = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH sq:kpi:* COUNT 1000", cursor);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        in_redis += r->element[1]->elements;
        if (in_redis > 0 && in_redis == r->element[1]->elements && x.bad > 0)
            fprintf(stderr, "a key in Redis: %s\n", r->element[1]->element[0]->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (in_redis != x.with_hash) {
        x.bad = 0; /* print this one */
        sq_gen_bad(&x, "%s%s: %lld sq:kpi hashes in Redis, %lld cells in the replay", "", "",
                   (long long)in_redis, (long long)x.with_hash);
        x.bad = bad_cells + 1;
    }
    return x.bad;
}

/* ---- final KPI records (highest revision per key) ------------------------ */

/* Keeps rec for key unless a higher revision is there; of equal revisions
 * the later wins (a closer that crashed before recording repeats one). */
static void sq_gen_final_put(struct sq_strmap *m, const char *key, json_t *rec)
{
    json_t *old = sq_strmap_get(m, key);
    json_int_t rev = json_integer_value(json_object_get(rec, "revision"));
    if (old && json_integer_value(json_object_get(old, "revision")) > rev)
        return;
    json_decref(sq_strmap_put(m, key, json_incref(rec)));
}

static void sq_gen_final_kpi_line(json_t *env, const char *line, size_t n, void *arg)
{
    (void)line;
    (void)n;
    const char *key = json_string_value(json_object_get(env, "key"));
    cr_assert_not_null(key);
    sq_gen_final_put(arg, key, json_object_get(env, "value"));
}

void sq_gen_load_final_kpi_replay(const char *replay_path, struct sq_strmap *out)
{
    sq_strmap_init(out);
    sq_gen_each_json_line(replay_path, "\"sq.out.kpi\"", sq_gen_final_kpi_line, out);
}

int sq_gen_load_final_kpi_topic(const char *bootstrap, const char *topic, struct sq_strmap *out)
{
    sq_strmap_init(out);
    struct sq_h_records recs;
    int rc = sq_h_topic_read_all(bootstrap, topic, &recs, 60000);
    for (size_t i = 0; rc == 0 && i < recs.n; i++) {
        json_error_t jerr;
        json_t *v = recs.v[i].value ? json_loadb(recs.v[i].value, recs.v[i].value_len, 0, &jerr)
                                    : NULL;
        cr_assert_not_null(v, "a KPI record that is not JSON");
        cr_assert_not_null(recs.v[i].key, "a KPI record without a key");
        sq_gen_final_put(out, recs.v[i].key, v);
        json_decref(v);
    }
    sq_h_records_fini(&recs);
    return rc;
}

struct sq_gen_final_cmp {
    struct sq_strmap *other;
    int bad;
    bool print;
};

static void sq_gen_final_cmp_one(const char *key, void *value, void *arg)
{
    struct sq_gen_final_cmp *x = arg;
    json_t *want = value, *got = sq_strmap_get(x->other, key);
    static const char *const same[] = {"dimension", "key", "window", "start", "end",
                                       "counters", "kpis"};
    bool ok = got != NULL;
    for (size_t i = 0; ok && i < sizeof same / sizeof *same; i++)
        ok = json_equal(json_object_get(want, same[i]), json_object_get(got, same[i]));
    if (ok)
        return;
    if (x->print && x->bad < 3) {
        char *w = json_dumps(want, JSON_COMPACT), *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
        fprintf(stderr, "KPI record %s\n  want %s\n  got  %s\n", key, w, g ? g : "(none)");
        free(w);
        free(g);
    }
    x->bad++;
}

int sq_gen_compare_final_kpi(struct sq_strmap *want, struct sq_strmap *got, bool print)
{
    struct sq_gen_final_cmp x = {got, 0, print};
    sq_strmap_each(want, sq_gen_final_cmp_one, &x);
    if (got->n > want->n) {
        if (print)
            fprintf(stderr, "%zu KPI keys in the topic, %zu in the replay\n", got->n, want->n);
        x.bad += (int)(got->n - want->n);
    }
    return x.bad;
}

static void sq_gen_json_decref_each(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    json_decref(value);
}

void sq_gen_final_kpi_fini(struct sq_strmap *m)
{
    sq_strmap_each(m, sq_gen_json_decref_each, NULL);
    sq_strmap_fini(m);
}
