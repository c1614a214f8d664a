/* gen_cli.c: the `sqgate gen` command line (SPEC 11): options, the replay
 * envelope file (-o) and the Kafka run (--brokers, topic names and
 * librdkafka properties from SQGATE_* as for `run`), with a summary of what
 * was written or delivered on stderr. Called by gateway/main.c. */
#include "gen_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

extern char **environ;

static void sq_gen_usage(FILE *f)
{
    fputs("usage: sqgate gen [--rate N] [--seconds N | --count N] [--customers N] [--seed N]\n"
          "                  [--start RFC3339] [--shape daily|flat] [--malformed S]\n"
          "                  [--duplicates S] [--profiles S] [--tickets S] [--surveys S]\n"
          "                  [--qa S] [--outages S] (--brokers HOST:PORT,... | -o FILE|-)\n"
          "  --rate N         messages per second (default 1000); with -o, of event time;\n"
          "                   with --shape daily, the mean over a day\n"
          "  --seconds N      stop after N seconds (with -o: rate x N messages)\n"
          "  --count N        stop after N messages (with -o the default is 10000)\n"
          "  --customers N    distinct customer ids (default 10000)\n"
          "  --seed N         PRNG seed (default 1): same seed and --start, same messages\n"
          "  --start T        event time of the first message (default: now)\n"
          "  --shape daily    arrivals follow a contact centre's day, China time (the\n"
          "                   default with -o); with --brokers the production rate\n"
          "                   follows it too, so event time keeps pace with the clock\n"
          "  --shape flat     a constant rate (the default with --brokers)\n"
          "Shares of all messages (0..1, together at most 1; contacts get the rest):\n"
          "  --malformed S    malformed messages, every decode DLQ reason (0.01)\n"
          "  --duplicates S   redelivered messages, same event_id and bytes (0.01)\n"
          "  --profiles S     profile.v1 upserts to sq.in.profiles (0.02)\n"
          "  --tickets S      ticket.v1 lifecycle steps to sq.in.tickets (0.15)\n"
          "  --surveys S      survey.v1 answers to sq.in.surveys (0.08)\n"
          "  --qa S           qa_review.v1 reviews to sq.in.qa (0.03)\n"
          "  --outages S      outage.v1 starts and ends to sq.in.outages (0.0002)\n"
          "  --brokers B      produce to Kafka (without -o, SQGATE_BROKERS gives B);\n"
          "                   SQGATE_KAFKA__* add librdkafka properties\n"
          "                   (SASL, TLS) and SQGATE_TOPICS__* name the topics, as for\n"
          "                   `sqgate run`; only the topics written to must exist\n"
          "  -o FILE          write replay envelopes {\"topic\",\"key\",\"value\"}, one a line\n",
          f);
}

static int sq_gen_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The share options, each a field of struct sq_gen_opts. */
static const struct {
    const char *name;
    size_t offset;
} sq_gen_share_opts[] = {
    {"--malformed", offsetof(struct sq_gen_opts, malformed_share)},
    {"--duplicates", offsetof(struct sq_gen_opts, duplicate_share)},
    {"--profiles", offsetof(struct sq_gen_opts, profile_share)},
    {"--tickets", offsetof(struct sq_gen_opts, ticket_share)},
    {"--surveys", offsetof(struct sq_gen_opts, survey_share)},
    {"--qa", offsetof(struct sq_gen_opts, qa_share)},
    {"--outages", offsetof(struct sq_gen_opts, outage_share)},
};

static double *sq_gen_share_field(struct sq_gen_opts *o, const char *name)
{
    for (unsigned i = 0; i < SQ_N(sq_gen_share_opts); i++)
        if (strcmp(name, sq_gen_share_opts[i].name) == 0)
            return (double *)((char *)o + sq_gen_share_opts[i].offset);
    return NULL;
}

/* What the command line asked for. */
struct sq_gen_cli {
    struct sq_gen_opts o;
    double rate, seconds;
    int64_t count;
    int shape; /* -1 unset, 0 flat, 1 daily */
    const char *brokers, *out;
};

/* Applies option a with value v; -1 unknown option, -2 bad value, 0 ok. */
static int sq_gen_apply(struct sq_gen_cli *c, const char *a, const char *v)
{
    uint64_t u;
    double *share = sq_gen_share_field(&c->o, a);
    if (share)
        return v && sq_parse_double(v, 0, 1, share) == 0 ? 0 : -2;
    if (strcmp(a, "--rate") == 0)
        return v && sq_parse_double(v, 0.001, 1e7, &c->rate) == 0 ? 0 : -2;
    if (strcmp(a, "--seconds") == 0)
        return v && sq_parse_double(v, 0.001, 1e9, &c->seconds) == 0 ? 0 : -2;
    if (strcmp(a, "--count") == 0) {
        if (!v || sq_gen_parse_u64(v, INT64_MAX, &u) != 0)
            return -2;
        c->count = (int64_t)u;
        return 0;
    }
    if (strcmp(a, "--customers") == 0) {
        if (!v || sq_gen_parse_u64(v, 100000000, &u) != 0 || u == 0)
            return -2;
        c->o.customers = (uint32_t)u;
        return 0;
    }
    if (strcmp(a, "--seed") == 0)
        return v && sq_gen_parse_u64(v, UINT64_MAX, &c->o.seed) == 0 ? 0 : -2;
    if (strcmp(a, "--start") == 0)
        return v && sq_time_parse(v, &c->o.start_ms) == 0 ? 0 : -2;
    if (strcmp(a, "--shape") == 0) {
        if (!v || (strcmp(v, "daily") != 0 && strcmp(v, "flat") != 0))
            return -2;
        c->shape = strcmp(v, "daily") == 0;
        return 0;
    }
    if (strcmp(a, "--brokers") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
        if (!v || !*v)
            return -2;
        *(strcmp(a, "--brokers") == 0 ? &c->brokers : &c->out) = v;
        return 0;
    }
    return -1;
}

static const char *sq_gen_wants(const char *a)
{
    if (sq_gen_share_field(&(struct sq_gen_opts){0}, a))
        return "a share in [0, 1]";
    if (strcmp(a, "--start") == 0)
        return "an RFC 3339 time with offset";
    if (strcmp(a, "--shape") == 0)
        return "daily or flat";
    if (strcmp(a, "--brokers") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
        return "a value";
    return "a positive number";
}

/* Parses argv into c; returns -1 to go on, else the exit status. */
static int sq_gen_parse(int argc, char **argv, struct sq_gen_cli *c)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sq_gen_usage(stdout);
            return 0;
        }
        int rc = sq_gen_apply(c, a, v);
        if (rc == -1) {
            fprintf(stderr, "sqgate gen: unknown option %s\n", a);
            sq_gen_usage(stderr);
            return 2;
        }
        if (rc == -2) {
            fprintf(stderr, "sqgate gen: %s wants %s, got %s\n", a, sq_gen_wants(a),
                    v ? v : "nothing");
            return 2;
        }
        i++;
    }
    if (!c->brokers && !c->out) {
        const char *env = getenv("SQGATE_BROKERS"); /* as for run */
        if (env && *env)
            c->brokers = env;
    }
    if (!c->brokers == !c->out) {
        fprintf(stderr, "sqgate gen: give exactly one of --brokers B (or SQGATE_BROKERS) and "
                        "-o FILE\n");
        sq_gen_usage(stderr);
        return 2;
    }
    if (c->count >= 0 && c->seconds > 0) {
        fprintf(stderr, "sqgate gen: give --seconds or --count, not both\n");
        return 2;
    }
    double sum = 0;
    for (unsigned i = 0; i < SQ_N(sq_gen_share_opts); i++)
        sum += *sq_gen_share_field(&c->o, sq_gen_share_opts[i].name);
    if (sum > 1 + 1e-9) {
        fprintf(stderr, "sqgate gen: the shares (--malformed, --duplicates, --profiles, "
                        "--tickets, --surveys, --qa, --outages) add up to %g, more than 1\n",
                sum);
        return 2;
    }
    return -1;
}

static void sq_gen_print_summary(const struct sq_gen_stats *s, const char *const *names)
{
    fprintf(stderr, "gen: delivered %" PRIu64 " (", atomic_load(&s->delivered));
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        fprintf(stderr, "%s%s %" PRIu64, i ? ", " : "", names[i],
                atomic_load(&s->delivered_topic[i]));
    uint64_t malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        malformed += atomic_load(&s->delivered_kind[k]);
    fprintf(stderr, "), malformed %" PRIu64, malformed);
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        fprintf(stderr, "%s%s %" PRIu64, k == SQ_GEN_MALFORMED_JSON ? " (" : ", ",
                sq_gen_kind_name(k), atomic_load(&s->delivered_kind[k]));
    fprintf(stderr, "), duplicates %" PRIu64 ", failed %" PRIu64 "\n",
            atomic_load(&s->delivered_kind[SQ_GEN_DUPLICATE]), atomic_load(&s->failed));
}

static void sq_gen_print_written(int64_t n, const uint64_t *per_topic, const uint64_t *per_kind)
{
    uint64_t malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        malformed += per_kind[k];
    fprintf(stderr, "gen: wrote %" PRId64 " messages (", n);
    for (int i = 0; i < SQ_GEN__TOPICS; i++)
        fprintf(stderr, "%s%s %" PRIu64, i ? ", " : "", sq_gen_topic_name(i), per_topic[i]);
    fprintf(stderr, "), malformed %" PRIu64 ", duplicates %" PRIu64 "\n", malformed,
            per_kind[SQ_GEN_DUPLICATE]);
}

/* Writes count envelopes to path ("-" = stdout). */
static int sq_gen_write_file(struct sq_gen *g, const char *path, int64_t count,
                             volatile sig_atomic_t *stop)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "sqgate gen: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct sq_buf key, value, line;
    sq_buf_init(&key);
    sq_buf_init(&value);
    sq_buf_init(&line);
    uint64_t per_topic[SQ_GEN__TOPICS] = {0}, per_kind[SQ_GEN__KINDS] = {0};
    int64_t i = 0;
    bool werr = false;
    for (; i < count && !*stop && !werr; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        sq_buf_reset(&line);
        sq_gen_envelope(&line, kind, topic, &key, &value);
        if (fwrite(line.data, 1, line.len, f) != line.len)
            werr = true;
        per_topic[sq_gen_topic_index(topic)]++;
        per_kind[kind]++;
    }
    if (fflush(f) != 0 || ferror(f))
        werr = true;
    if (f != stdout && fclose(f) != 0)
        werr = true;
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_buf_fini(&line);
    if (werr) {
        fprintf(stderr, "sqgate gen: writing %s: %s\n", path, strerror(errno));
        return 2;
    }
    sq_gen_print_written(i, per_topic, per_kind);
    return 0;
}

/* The config keys of the input topics, by topic index. */
static const char *const sq_gen_topic_keys[SQ_GEN__TOPICS] = {
    "topics.contacts", "topics.profiles", "topics.tickets",
    "topics.surveys",  "topics.qa",       "topics.outages"};

/* Produces g to Kafka with topic names and properties from the environment. */
static int sq_gen_run_kafka(struct sq_gen *g, const struct sq_gen_cli *c,
                            volatile sig_atomic_t *stop)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    if (sq_config_build(&st, NULL, environ, &errs) != 0) {
        sq_config_errors_print(&errs, stderr);
        sq_config_errors_fini(&errs);
        sq_settings_free(&st);
        return 2;
    }
    struct sq_gen_target tgt = {.brokers = c->brokers, .props = st.kafka_props,
                                .props_n = st.kafka_props_n};
    sq_gen_target_topics(&tgt, &st);
    const char *names[SQ_GEN__TOPICS];
    for (int i = 0; i < SQ_GEN__TOPICS; i++) {
        names[i] = tgt.topics[i] ? tgt.topics[i] : sq_gen_topic_name(i);
        if (!tgt.topics[i] && sq_gen_topic_used(g, i)) {
            fprintf(stderr, "sqgate gen: %s is disabled but would receive %s messages\n",
                    sq_gen_topic_keys[i], sq_gen_topic_schema(i));
            sq_settings_free(&st);
            return 2;
        }
    }
    struct sq_gen_stats stats;
    memset(&stats, 0, sizeof stats);
    struct sq_err err;
    sq_err_clear(&err);
    fprintf(stderr, "gen: producing to %s at %g/s%s%s\n", c->brokers, c->rate,
            sq_gen_options(g)->daily ? " (mean over a day)" : "",
            c->count < 0 && c->seconds <= 0 ? " until Ctrl-C" : "");
    int rc = sq_gen_produce(g, &tgt, c->rate, c->count, c->seconds, 30000, stop, &stats, &err);
    sq_gen_print_summary(&stats, names);
    if (rc != SQ_OK)
        fprintf(stderr, "sqgate gen: %s\n", err.msg);
    sq_settings_free(&st);
    return rc == SQ_OK ? 0 : 2;
}

int sq_gen_main(int argc, char **argv, volatile sig_atomic_t *stop)
{
    struct sq_gen_cli c = {.rate = 1000, .count = -1, .shape = -1};
    sq_gen_opts_defaults(&c.o);
    int rc = sq_gen_parse(argc, argv, &c);
    if (rc >= 0)
        return rc;
    c.o.rate = c.rate;
    c.o.daily = c.shape < 0 ? c.out != NULL : c.shape == 1;
    struct sq_gen *g = sq_gen_new(&c.o);
    int code;
    if (c.out) {
        int64_t count = c.count;
        if (count < 0)
            count = c.seconds > 0 ? (int64_t)ceil(c.rate * c.seconds) : 10000;
        code = sq_gen_write_file(g, c.out, count, stop);
    } else {
        code = sq_gen_run_kafka(g, &c, stop);
    }
    sq_gen_free(g);
    return code;
}
