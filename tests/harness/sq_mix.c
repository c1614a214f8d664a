/* sq_mix.c: generated input of every event type for integration tests (see
 * sq_mix.h): `sqgate gen` runs, envelopes split per topic for kcat, and
 * applied offsets summed over the topics. */
#define _GNU_SOURCE /* memmem */
#include "sq_mix.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "sq_common.h"
#include "sq_gen.h"

static int sq_mix_topic_slot(struct sq_mix *m, const char *topic)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->topics[i], topic) == 0)
            return i;
    static const char *const known[] = {"sq.in.contacts", "sq.in.profiles", "sq.in.tickets",
                                        "sq.in.surveys",  "sq.in.qa",       "sq.in.outages"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (strcmp(known[k], topic) == 0) {
            m->topics[m->n] = known[k];
            return m->n++;
        }
    cr_assert_fail("an envelope for topic %s", topic);
    return -1;
}

struct sq_mix_envelope_fn {
    void (*fn)(const char *topic, const char *key, const char *value, void *arg);
    void *arg;
};

/* One envelope line: an object value as the bytes the generator wrote
 * (`sqgate gen` writes {"topic":…,"key":…,"value":…} with the value last),
 * a string value (a malformed message) as the text it holds. */
static void sq_mix_envelope(json_t *env, const char *line, size_t n, void *arg)
{
    const struct sq_mix_envelope_fn *x = arg;
    json_t *v = json_object_get(env, "value");
    char *val;
    if (json_is_string(v)) {
        val = strdup(json_string_value(v));
    } else {
        const char *at = memmem(line, n, ",\"value\":", 9);
        cr_assert(at && line[n - 1] == '}', "not a gen envelope: %.80s", line);
        val = sq_xstrndup(at + 9, (size_t)(line + n - 1 - (at + 9)));
    }
    const char *key = json_string_value(json_object_get(env, "key"));
    x->fn(json_string_value(json_object_get(env, "topic")), key ? key : "", val, x->arg);
    free(val);
}

/* Calls fn for each envelope of path: its topic, key and value as kcat
 * wants it: an object value as the bytes the generator wrote (`sqgate gen`
 * writes {"topic":…,"key":…,"value":…} with the value last), a string
 * value (a malformed message) as the text it holds. */
static void sq_mix_each(const char *path,
                        void (*fn)(const char *topic, const char *key, const char *value,
                                   void *arg),
                        void *arg)
{
    struct sq_mix_envelope_fn x = {fn, arg};
    sq_gen_each_json_line(path, NULL, sq_mix_envelope, &x);
}

static void sq_mix_count(const char *topic, const char *key, const char *value, void *arg)
{
    (void)key;
    (void)value;
    struct sq_mix *m = arg;
    m->counts[sq_mix_topic_slot(m, topic)]++;
    m->total++;
}

void sq_mix_gen(struct sq_mix *m, const char *name, const char *count, const char *customers,
                const char *start, const char *const *extra)
{
    memset(m, 0, sizeof *m);
    m->path = sq_h_tmp_path(name);
    const char *args[40] = {"gen",   "--count", count,   "--seed", "42", "--customers",
                            customers, "--start", start, "-o",     m->path};
    int n = 11;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    struct sq_h_proc p;
    cr_assert_eq(sq_h_spawn(&p, args, NULL, NULL), 0);
    int status = 0;
    cr_assert_eq(sq_h_wait_exit(&p, 120000, &status), 0, "sqgate gen timed out");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sqgate gen failed: see %s",
              p.log_path);
    sq_mix_each(m->path, sq_mix_count, m);
}

void sq_mix_fini(struct sq_mix *m)
{
    free(m->path);
    m->path = NULL;
}

void sq_mix_time_ago(char *buf, size_t bufsz, int64_t seconds)
{
    time_t t = (time_t)(sq_now_ms() / 1000 - seconds);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct sq_mix_files {
    struct sq_mix *m;
    FILE *f[SQ_MIX_TOPICS];
};

static void sq_mix_write(const char *topic, const char *key, const char *value, void *arg)
{
    struct sq_mix_files *x = arg;
    cr_assert_null(strpbrk(value, "\t\n"), "value fits a kcat line");
    fprintf(x->f[sq_mix_topic_slot(x->m, topic)], "%s\t%s\n", key, value);
}

void sq_mix_produce(const struct sq_mix *m, const char *bootstrap)
{
    struct sq_mix copy = *m; /* the slots are m's: no topic is added */
    struct sq_mix_files x = {&copy, {0}};
    char *paths[SQ_MIX_TOPICS] = {0};
    for (int i = 0; i < m->n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.tsv", m->topics[i]);
        paths[i] = sq_h_tmp_path(name);
        x.f[i] = fopen(paths[i], "w");
        cr_assert_not_null(x.f[i]);
    }
    sq_mix_each(m->path, sq_mix_write, &x);
    for (int i = 0; i < m->n; i++) {
        cr_assert_eq(fclose(x.f[i]), 0);
        cr_assert_eq(sq_h_kcat_produce_file(bootstrap, m->topics[i], paths[i]), 0,
                     "kcat to %s", m->topics[i]);
        free(paths[i]);
    }
}

int64_t sq_mix_applied_total(struct sq_stack *s, const struct sq_mix *m)
{
    int64_t total = 0;
    for (int i = 0; i < m->n; i++) {
        int64_t n = sq_stack_applied_total(s, m->topics[i]);
        if (n < 0)
            return -1;
        total += n;
    }
    return total;
}

bool sq_mix_wait_applied(struct sq_stack *s, const struct sq_mix *m, int timeout_ms)
{
    int64_t deadline = sq_mono_ms() + timeout_ms;
    for (int i = 0; i < m->n; i++) {
        int64_t left = deadline - sq_mono_ms();
        if (left <= 0 || !sq_stack_wait_applied(s, m->topics[i], (int)left))
            return false;
    }
    return true;
}
