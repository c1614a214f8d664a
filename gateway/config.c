/* config.c: the config key table and everything built from it: defaults,
 * validation, the YAML file (libyaml), SQGATE_* environment variables,
 * single sets for command-line flags and the Markdown key table of
 * docs/configuration.md. Called by gateway/main.c (run, check-config, replay). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>
#include <yaml.h>

#include "kpi.h"
#include "sq_common.h"

extern char **environ;

#define SQ_CFG_ENV_PREFIX "SQGATE_"
#define SQ_CFG_FILE_MAX (1024 * 1024) /* a config file is small; refuse more */
#define SQ_CFG_MSG 512

enum sq_cfg_type {
    SQ_CFG_STR,  /* char * */
    SQ_CFG_INT,  /* int64_t, within [min, max] */
    SQ_CFG_BOOL, /* bool */
    SQ_CFG_ENUM, /* char *, one of choices */
    SQ_CFG_REAL, /* double, finite, within [rmin, rmax] */
};

/* Checks a string value beyond its type: returns 0, or -1 with msg filled. */
typedef int (*sq_cfg_check_fn)(const char *v, char *msg, size_t msgsz);

/* One config key. Every part of the module (defaults, file, environment,
 * docs) reads this table only. */
struct sq_cfg_key {
    const char *path;       /* dotted path */
    enum sq_cfg_type type;
    size_t offset;          /* of the field in struct sq_settings */
    const char *def;        /* default in text form */
    int64_t min, max;       /* SQ_CFG_INT */
    double rmin, rmax;      /* SQ_CFG_REAL */
    const char *choices;    /* SQ_CFG_ENUM: "a|b|c" */
    sq_cfg_check_fn check;  /* SQ_CFG_STR */
    const char *schema;     /* input topics: default schema; fills st->inputs */
    const char *env_short;  /* SPEC 11 short variable name, when there is one */
    const char *help;
};

static int check_brokers(const char *v, char *msg, size_t msgsz);
static int check_nonempty(const char *v, char *msg, size_t msgsz);
static int check_topic(const char *v, char *msg, size_t msgsz);
static int check_input_topic(const char *v, char *msg, size_t msgsz);
static int check_redis_url(const char *v, char *msg, size_t msgsz);
static int check_prefix(const char *v, char *msg, size_t msgsz);
static int check_listen(const char *v, char *msg, size_t msgsz);
static int check_windows(const char *v, char *msg, size_t msgsz);

#define OFF(field) offsetof(struct sq_settings, field)
#define STR(p, f, d, chk, h) \
    { .path = p, .type = SQ_CFG_STR, .offset = OFF(f), .def = d, .check = chk, .help = h }
#define INPUT(p, d, sch) \
    { .path = p, .type = SQ_CFG_STR, .def = d, .check = check_input_topic, .schema = sch, \
      .help = "Input topic of " sch " events (their default schema); \"\" disables it." }
#define INT(p, f, d, lo, hi, h) \
    { .path = p, .type = SQ_CFG_INT, .offset = OFF(f), .def = d, .min = lo, .max = hi, .help = h }
#define REAL(p, f, d, lo, hi, h) \
    { .path = p, .type = SQ_CFG_REAL, .offset = OFF(f), .def = d, .rmin = lo, .rmax = hi, .help = h }
/* The answer-time target T of one channel (SPEC 4), for VIP customers or not. */
#define ANSWER(ch, i, d, vd)                                                                 \
    INT("sla.answer_s." ch, sla_answer_s[i], d, 1, 30 * 86400,                             \
        "T of the " ch " channel: SLA_WAIT when a non-VIP customer's answered contact "     \
        "waited more than this, major beyond 3T, s."),                                       \
    INT("sla.answer_s_vip." ch, sla_answer_s_vip[i], vd, 1, 30 * 86400,                    \
        "T of the " ch " channel for a VIP customer (tier diamond or gold, or enterprise), s.")
#define WEIGHT(dim, i, d)                                                                    \
    REAL("score.weights." dim, score_weights[i], d, 0, 1000,                                 \
         "Weight of the " dim " dimension in quality_score; weights are renormalised over "  \
         "the dimensions an event has.")

static const struct sq_cfg_key sq_cfg_keys[] = {
    STR("brokers", brokers, "127.0.0.1:9092", check_brokers,
        "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...] (librdkafka bootstrap.servers)."),
    STR("group", group_id, "sqgate", check_nonempty,
        "Kafka consumer group id; the instances of one deployment share it."),
    INPUT("topics.contacts", "sq.in.contacts", "contact.v1"),
    INPUT("topics.tickets", "sq.in.tickets", "ticket.v1"),
    INPUT("topics.surveys", "sq.in.surveys", "survey.v1"),
    INPUT("topics.qa", "sq.in.qa", "qa_review.v1"),
    INPUT("topics.outages", "sq.in.outages", "outage.v1"),
    INPUT("topics.profiles", "sq.in.profiles", "profile.v1"),
    STR("topics.scored", topic_scored, "sq.out.scored", check_topic,
        "Output topic of scored events."),
    STR("topics.breaches", topic_breaches, "sq.out.breaches", check_topic,
        "Output topic of breach records."),
    STR("topics.kpi", topic_kpi, "sq.out.kpi", check_topic,
        "Output topic of windowed KPI records (compacted)."),
    STR("topics.alerts", topic_alerts, "sq.out.alerts", check_topic,
        "Output topic of alert state changes."),
    STR("topics.dlq", topic_dlq, "sq.out.dlq", check_topic,
        "Dead-letter topic: rejected inputs, original bytes, reason in headers."),
    {.path = "redis.url", .type = SQ_CFG_STR, .offset = OFF(redis_url),
     .def = "redis://127.0.0.1:6379/0", .check = check_redis_url, .env_short = "SQGATE_REDIS",
     .help = "Redis server: redis://HOST:PORT[/DB] (DB 0..1000) or unix:///path/to/redis.sock. "
             "No credentials here (see Secrets)."},
    STR("redis.prefix", redis_prefix, "sq:", check_prefix,
        "Prefix of every Redis key sqgate writes (at most 64 bytes)."),
    INT("redis.timeout_ms", redis_timeout_ms, "2000", 1, 600000,
        "Connect and command timeout of Redis calls, ms."),
    INT("limits.max_message_bytes", max_message_bytes, "65536", 1, 100 * 1024 * 1024,
        "Largest input message accepted; larger ones go to the DLQ as too_large."),
    /* Below jansson's JSON_PARSER_MAX_DEPTH (2048), so too_deep is ours to say. */
    INT("limits.max_depth", max_depth, "64", 1, 1000,
        "Deepest JSON nesting accepted (`{}` is 1); deeper goes to the DLQ as too_deep."),
    INT("limits.max_future_s", max_future_s, "300", 0, 366 * 86400,
        "How far an event time may lie ahead of the wall clock in `run` before the event "
        "goes to the DLQ as future_time, s (the later of occurred_at and a contact's "
        "arrived_at; replay has no wall clock)."),
    INT("runtime.batch_max_messages", batch_max_messages, "1000", 1, 100000,
        "Most fetched messages in flight: the overlapping turns of the loop (up to three, on disjoint partitions) take equal shares."),
    INT("runtime.batch_max_ms", batch_max_ms, "50", 1, 60000,
        "Longest a turn waits to fill its batch, ms."),
    INT("runtime.batch_linger_ms", batch_linger_ms, "10", 0, 60000,
        "While other turns are in flight, how long fetched messages wait for a turn to fill its share of runtime.batch_max_messages before it starts with fewer, ms; with none in flight a turn starts at once. 0 starts every turn at once."),
    INT("runtime.commit_interval_ms", commit_interval_ms, "1000", 0, 3600000,
        "Interval between offset commits, ms; 0 commits after every batch."),
    INT("runtime.backoff_max_ms", backoff_max_ms, "5000", 1, 600000,
        "Ceiling of the retry backoff while Redis or Kafka fail, ms."),
    INT("runtime.stall_s", stall_s, "60", 0, 86400,
        "An assigned partition that is not paused, has nothing fetched or in flight, and "
        "fetched nothing for this long while messages wait in it is stalled: its fetch is "
        "restarted at the next offset to process (sq_partition_stalls_total); keep it well "
        "above a first fetch's time (10 or more); 0 turns the check off, s."),
    INT("shutdown.timeout_s", shutdown_timeout_s, "30", 1, 3600,
        "Time allowed for a clean shutdown on SIGTERM/SIGINT before exiting 2, s."),
    {.path = "admin.listen", .type = SQ_CFG_STR, .offset = OFF(admin_listen),
     .def = "127.0.0.1:9464", .check = check_listen, .env_short = "SQGATE_ADMIN",
     .help = "Admin HTTP address HOST:PORT (host name or IPv4); port 0 picks a free port."},
    INT("enrich.cache_entries", enrich_cache_entries, "20000", 1, 100000000,
        "Most customer profiles cached in process (about 160 bytes each; when full it starts over)."),
    INT("enrich.cache_ttl_s", enrich_cache_ttl_s, "60", 0, 86400,
        "How long a cached profile is trusted before it is read again, s."),
    INT("dedupe.ttl_s", dedupe_ttl_s, "86400", 60, 31536000,
        "An event_id seen again within this time is a duplicate, s."),
    INT("dedupe.shards", dedupe_shards, "4096", 1, 16777216,
        "Sets each dedupe.ttl_s slice of marks is spread over. Keep it at least the events "
        "a slice gets (events/s × dedupe.ttl_s) / 400: a set of up to Redis's "
        "set-max-intset-entries marks (512 by default) is an intset at ~8-9 bytes a mark, a "
        "larger one a hash table at ~64 (docs/operations.md). Changing it forgets the marks "
        "written before."),
    INT("dedupe.check_s", dedupe_check_s, "60", 0, 86400,
        "How often `run` samples the dedupe sets of the current slice (the gauges "
        "sq_dedupe_set_marks and sq_dedupe_sets_past_intset) and warns when they outgrow "
        "Redis's intset, with the dedupe.shards that would not; 0 turns the check off, s."),
    INT("sla.short_abandon_s", sla_short_abandon_s, "5", 0, 86400,
        "An abandon with a wait below this is a short abandon (not a breach), s."),
    ANSWER("voice", 0, "20", "10"),
    ANSWER("chat", 1, "30", "30"),
    ANSWER("app", 2, "30", "30"),
    ANSWER("email", 3, "86400", "86400"),
    ANSWER("sms", 4, "3600", "3600"),
    ANSWER("store", 5, "900", "900"),
    ANSWER("social", 6, "60", "60"),
    INT("sla.max_transfers", sla_max_transfers, "2", 1, 1000,
        "TRANSFER_CHAIN when a contact was transferred at least this many times."),
    INT("fcr.window_h", fcr_window_h, "72", 0, 8760,
        "REPEAT_CONTACT when the customer had a contact with the same reason that arrived "
        "at most this long before (and strictly before) this one, h."),
    INT("qa.min_score", qa_min_score, "60", 0, 100,
        "QA_LOW when a QA review's score is below this."),
    WEIGHT("reliability", 0, "0.32"),
    WEIGHT("responsiveness", 1, "0.22"),
    WEIGHT("assurance", 2, "0.19"),
    WEIGHT("empathy", 3, "0.16"),
    WEIGHT("tangibles", 4, "0.11"),
    REAL("cx.half_life_days", cx_half_life_days, "30", 0.001, 36500,
         "Half-life of the customer experience index cx_index (a time-decayed mean of the "
         "customer's quality scores, in event time), days."),
    INT("tickets.ack_h.complaint", tickets_ack_h[0], "24", 0, 8760,
        "TICKET_ACK_LATE when a complaint ticket is acknowledged (or first resolved) "
        "more than this after opened_at, h."),
    INT("tickets.ack_h.fault", tickets_ack_h[1], "4", 0, 8760,
        "TICKET_ACK_LATE when a fault ticket is acknowledged (or first resolved) "
        "more than this after opened_at, h."),
    INT("tickets.ack_h.inquiry", tickets_ack_h[2], "24", 0, 8760,
        "TICKET_ACK_LATE when an inquiry ticket is acknowledged (or first resolved) "
        "more than this after opened_at, h."),
    INT("tickets.resolve_h.complaint.sev1", tickets_resolve_h[0][0], "120", 0, 8760,
        "TICKET_OVERDUE when a severity 1 complaint ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.complaint.sev2", tickets_resolve_h[0][1], "120", 0, 8760,
        "TICKET_OVERDUE when a severity 2 complaint ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.complaint.sev3", tickets_resolve_h[0][2], "120", 0, 8760,
        "TICKET_OVERDUE when a severity 3 complaint ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.complaint.sev4", tickets_resolve_h[0][3], "120", 0, 8760,
        "TICKET_OVERDUE when a severity 4 complaint ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.fault.sev1", tickets_resolve_h[1][0], "4", 0, 8760,
        "TICKET_OVERDUE when a severity 1 fault ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.fault.sev2", tickets_resolve_h[1][1], "24", 0, 8760,
        "TICKET_OVERDUE when a severity 2 fault ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.fault.sev3", tickets_resolve_h[1][2], "48", 0, 8760,
        "TICKET_OVERDUE when a severity 3 fault ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.fault.sev4", tickets_resolve_h[1][3], "72", 0, 8760,
        "TICKET_OVERDUE when a severity 4 fault ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.inquiry.sev1", tickets_resolve_h[2][0], "72", 0, 8760,
        "TICKET_OVERDUE when a severity 1 inquiry ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.inquiry.sev2", tickets_resolve_h[2][1], "72", 0, 8760,
        "TICKET_OVERDUE when a severity 2 inquiry ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.inquiry.sev3", tickets_resolve_h[2][2], "72", 0, 8760,
        "TICKET_OVERDUE when a severity 3 inquiry ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("tickets.resolve_h.inquiry.sev4", tickets_resolve_h[2][3], "72", 0, 8760,
        "TICKET_OVERDUE when a severity 4 inquiry ticket is not resolved this "
        "long after its opening (opened_at, or the reopen), h."),
    INT("windows.grace_s", windows_grace_s, "1800", 0, 7 * 86400,
        "Grace for late events: the watermark is the greatest event time applied (the least "
        "over partitions) minus this; timers and windows wait for it, s."),
    STR("windows.sizes", windows_sizes, "15m,1h", check_windows,
        "Tumbling KPI window sizes, comma-separated, each a number with unit s, m, h or d, "
        "aligned to the UTC epoch (1s..31d, at most 8)."),
    INT("windows.max_lateness_s", windows_max_lateness_s, "604800", 0, 366 * 86400,
        "An event whose KPI window ended more than this before the watermark is scored but "
        "not aggregated (sq_too_late_total); keep it below kpi.ttl_s, s."),
    INT("windows.idle_s", windows_idle_s, "30", 1, 86400,
        "A partition whose applied offset reached its end and that fetched nothing for this "
        "long is idle: it no longer holds the watermark back (when all are, the watermark "
        "follows the wall clock), s."),
    INT("windows.reemit_s", windows_reemit_s, "5", 0, 86400,
        "A closed window that late events touched gets its next revision at most this often "
        "(one revision covers the late events of the interval; 0: every second), s."),
    {.path = "kpi.enabled", .type = SQ_CFG_BOOL, .offset = OFF(kpi_enabled), .def = "true",
     .help = "Windowed KPI counters and KPI records (the aggregate processor); false turns "
             "both off."},
    {.path = "kpi.journal", .type = SQ_CFG_BOOL, .offset = OFF(kpi_journal), .def = "true",
     .help = "Each Redis step appends its KPI increments to the KPI journal, which the closer "
             "lease holder folds into the sq:kpi hashes every kpi.fold_interval_s (the hashes "
             "lag by up to that long); false adds them to the hashes in the step itself."},
    INT("kpi.fold_interval_s", kpi_fold_interval_s, "3", 1, 60,
        "How often the closer lease holder folds the KPI journal (kpi.journal) and then closes "
        "due windows: longer sums more steps into each HINCRBY (less Redis work an event) and "
        "lets the sq:kpi hashes and KPI records lag by up to that long, s."),
    {.path = "kpi.service_level_mode", .type = SQ_CFG_ENUM, .offset = OFF(kpi_service_level_mode),
     .def = "abandons_against", .choices = "abandons_against|abandons_ignored|abandons_met",
     .help = "How service_level treats abandons beyond the short-abandon threshold: in the "
             "denominator, left out, or counted as met when within T."},
    INT("kpi.ttl_s", kpi_ttl_s, "691200", 60, 3660 * 86400,
        "TTL of the KPI counter hashes sq:kpi:* in Redis, s."),
    INT("retention.customer_days", retention_customer_days, "400", 1, 36500,
        "TTL of customer and ticket state in Redis, days."),
    {.path = "privacy.keep_comments", .type = SQ_CFG_BOOL, .offset = OFF(keep_comments),
     .def = "false",
     .help = "A survey's free-text comment is copied into its scored record only when true; "
             "by default it is left out of every output (it may hold personal data). The DLQ "
             "keeps the original bytes."},
    {.path = "log.level", .type = SQ_CFG_ENUM, .offset = OFF(log_level), .def = "info",
     .choices = "error|warn|info|debug", .env_short = "SQGATE_LOG_LEVEL",
     .help = "Least severe log level written to stderr."},
};

#undef OFF
#undef STR
#undef INPUT
#undef INT
#undef REAL
#undef ANSWER
#undef WEIGHT

#define SQ_CFG_NKEYS (sizeof sq_cfg_keys / sizeof sq_cfg_keys[0])

/* ---- errors ---------------------------------------------------------- */

void sq_config_errors_fini(struct sq_config_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i]);
    free(errs->msgs);
    errs->msgs = NULL;
    errs->n = 0;
}

void sq_config_errors_print(const struct sq_config_errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(out, "%s\n", errs->msgs[i]);
}

static void errs_add(struct sq_config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void errs_add(struct sq_config_errors *errs, const char *fmt, ...)
{
    if (!errs)
        return;
    char line[2 * SQ_CFG_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    errs->msgs = sq_xrealloc(errs->msgs, (errs->n + 1) * sizeof *errs->msgs);
    errs->msgs[errs->n++] = sq_xstrdup(line);
}

/* A value quoted for a message: control bytes escaped, long ones cut. */
static void quote(const char *v, char out[96])
{
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (o > 80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            o += (size_t)snprintf(out + o, 96 - o, "\\x%02x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* ---- value checks ---------------------------------------------------- */

static bool has_control(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static int check_nonempty(const char *v, char *msg, size_t msgsz)
{
    if (!*v) {
        snprintf(msg, msgsz, "must not be empty");
        return -1;
    }
    if (has_control(v)) {
        snprintf(msg, msgsz, "must not contain control characters");
        return -1;
    }
    return 0;
}

static int check_brokers(const char *v, char *msg, size_t msgsz)
{
    if (check_nonempty(v, msg, msgsz) < 0)
        return -1;
    for (const char *p = v;; p++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t sp = strspn(p, " ");
        if (sp >= len) {
            snprintf(msg, msgsz, "empty entry in the broker list (want HOST:PORT[,HOST:PORT...])");
            return -1;
        }
        if (!e)
            return 0;
        p = e;
    }
}

static int check_topic_name(const char *v, bool empty_ok, char *msg, size_t msgsz)
{
    size_t len = strlen(v);
    if (len == 0) {
        if (empty_ok)
            return 0;
        snprintf(msg, msgsz, "must not be empty");
        return -1;
    }
    if (len > 249 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len) {
        char q[96];
        quote(v, q);
        snprintf(msg, msgsz, "%s is not a Kafka topic name (1-249 of [a-zA-Z0-9._-])", q);
        return -1;
    }
    return 0;
}

static int check_topic(const char *v, char *msg, size_t msgsz)
{
    return check_topic_name(v, false, msg, msgsz);
}

static int check_input_topic(const char *v, char *msg, size_t msgsz)
{
    return check_topic_name(v, true, msg, msgsz);
}

static int check_prefix(const char *v, char *msg, size_t msgsz)
{
    if (strlen(v) > 64) {
        snprintf(msg, msgsz, "longer than 64 bytes");
        return -1;
    }
    if (has_control(v)) {
        snprintf(msg, msgsz, "must not contain control characters");
        return -1;
    }
    return 0;
}

/* Decimal digits only, at most max: 0, or -1 when not. */
static int parse_port(const char *s, size_t len, long max, long *out)
{
    if (len == 0 || len > 5)
        return -1;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

/* Checks "HOST:PORT" with a host name or IPv4 address (the admin server and
 * gateway/redis_link.c resolve IPv4 only); min_port is 0 or 1. */
static int check_hostport(const char *s, size_t len, long min_port, char *msg, size_t msgsz)
{
    const char *colon = NULL;
    for (size_t i = len; i > 0 && !colon; i--)
        if (s[i - 1] == ':')
            colon = s + i - 1;
    if (!colon) {
        snprintf(msg, msgsz, "want HOST:PORT (the port is missing)");
        return -1;
    }
    size_t hlen = (size_t)(colon - s);
    if (hlen == 0) {
        snprintf(msg, msgsz, "the host is missing (want HOST:PORT)");
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':' || c == '[') {
            snprintf(msg, msgsz, "IPv6 addresses are not supported: use a host name or an "
                                 "IPv4 address");
            return -1;
        }
        if (!isalnum(c) && c != '.' && c != '-' && c != '_') {
            snprintf(msg, msgsz, "bad character '%c' in the host name", isprint(c) ? c : '?');
            return -1;
        }
    }
    long port;
    size_t plen = len - hlen - 1;
    if (parse_port(colon + 1, plen, 65535, &port) < 0 || port < min_port) {
        snprintf(msg, msgsz, "the port must be a number %ld..65535", min_port);
        return -1;
    }
    return 0;
}

/* redis://HOST:PORT[/DB] or unix:///path (the forms gateway/redis_link.c
 * connects to; hiredis 0.14 has no TLS). */
static int check_redis_url(const char *v, char *msg, size_t msgsz)
{
    static const char want[] = "want redis://HOST:PORT[/DB] or unix:///path/to/redis.sock";
    if (strncmp(v, "unix://", 7) == 0) {
        const char *path = v + 7;
        /* sizeof sockaddr_un.sun_path is 108 on Linux, with its NUL. */
        if (path[0] != '/' || path[1] == '\0' || strlen(path) > 107 || has_control(path)) {
            snprintf(msg, msgsz, "bad socket path: %s", want);
            return -1;
        }
        return 0;
    }
    if (strncmp(v, "rediss://", 9) == 0) {
        snprintf(msg, msgsz, "TLS (rediss://) is not supported by hiredis 0.14; use a TLS "
                             "sidecar and redis://");
        return -1;
    }
    if (strncmp(v, "redis://", 8) != 0) {
        snprintf(msg, msgsz, "%s", want);
        return -1;
    }
    const char *auth = v + 8;
    const char *slash = strchr(auth, '/');
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    if (memchr(auth, '@', alen)) {
        snprintf(msg, msgsz, "credentials do not belong in the URL: set SQGATE_REDIS_USER and "
                             "SQGATE_REDIS_PASSWORD");
        return -1;
    }
    char sub[SQ_CFG_MSG];
    if (check_hostport(auth, alen, 1, sub, sizeof sub) < 0) {
        snprintf(msg, msgsz, "%s (%s)", sub, want);
        return -1;
    }
    if (slash) {
        long db;
        if (parse_port(slash + 1, strlen(slash + 1), 1000, &db) < 0) {
            snprintf(msg, msgsz, "the database after '/' must be a number 0..1000 (%s)", want);
            return -1;
        }
    }
    return 0;
}

static int check_listen(const char *v, char *msg, size_t msgsz)
{
    return check_hostport(v, strlen(v), 0, msg, msgsz);
}

/* windows.sizes: the list kpi.h parses ("15m,1h"). */
static int check_windows(const char *v, char *msg, size_t msgsz)
{
    struct sq_kpi_windows w;
    return sq_kpi_windows_parse(v, &w, msg, msgsz);
}

/* Base-10 integer, whole text, no spaces: 0; -1 not a number; -2 overflow. */
static int parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || *end)
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = (int64_t)n;
    return 0;
}

/* Decimal real, whole text, digits, sign, '.' and exponent only (no hex,
 * inf or nan), finite: 0, or -1 when not. */
static int parse_real(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static bool enum_has(const char *choices, const char *v)
{
    size_t vlen = strlen(v);
    for (const char *p = choices;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vlen && strncmp(p, v, len) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

/* ---- applying one value ---------------------------------------------- */

static const struct sq_cfg_key *key_find(const char *path)
{
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++)
        if (strcmp(sq_cfg_keys[i].path, path) == 0)
            return &sq_cfg_keys[i];
    return NULL;
}

static void replace_str(char **field, const char *v)
{
    free(*field);
    *field = sq_xstrdup(v);
}

/* Rebuilds st->inputs in table order with the input topic of k set to v;
 * an empty name leaves that input out. Entries are found by their schema. */
static void set_input(struct sq_settings *st, const struct sq_cfg_key *k, const char *v)
{
    struct sq_input_topic in[SQ_MAX_INPUT_TOPICS];
    size_t n = 0;
    memset(in, 0, sizeof in);
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        const struct sq_cfg_key *r = &sq_cfg_keys[i];
        if (!r->schema)
            continue;
        const char *name = "";
        if (r == k) {
            name = v;
        } else {
            for (size_t j = 0; j < st->inputs_n; j++)
                if (strcmp(st->inputs[j].schema, r->schema) == 0)
                    name = st->inputs[j].name;
        }
        if (*name) {
            if (n == SQ_MAX_INPUT_TOPICS) { /* the table outgrew settings.h: a bug */
                fprintf(stderr, "sqgate: more input topics than SQ_MAX_INPUT_TOPICS\n");
                abort();
            }
            in[n].name = sq_xstrdup(name);
            in[n].schema = r->schema;
            n++;
        }
    }
    for (size_t j = 0; j < st->inputs_n; j++)
        free(st->inputs[j].name);
    memcpy(st->inputs, in, sizeof in);
    st->inputs_n = n;
}

/* Checks v against k and stores it; on error fills msg (without the path)
 * and leaves st unchanged. */
static int key_apply(struct sq_settings *st, const struct sq_cfg_key *k, const char *v,
                     char *msg, size_t msgsz)
{
    char *field = (char *)st + k->offset;
    char q[96];
    switch (k->type) {
    case SQ_CFG_INT: {
        int64_t n = 0;
        int rc = parse_int(v, &n);
        if (rc == -1) {
            quote(v, q);
            snprintf(msg, msgsz, "expected an integer, got %s", q);
            return -1;
        }
        if (rc == -2 || n < k->min || n > k->max) {
            quote(v, q);
            snprintf(msg, msgsz, "must be between %" PRId64 " and %" PRId64 ", got %s", k->min,
                     k->max, q);
            return -1;
        }
        memcpy(field, &n, sizeof n);
        return 0;
    }
    case SQ_CFG_REAL: {
        double d = 0;
        if (parse_real(v, &d) < 0) {
            quote(v, q);
            snprintf(msg, msgsz, "expected a number, got %s", q);
            return -1;
        }
        if (d < k->rmin || d > k->rmax) {
            quote(v, q);
            snprintf(msg, msgsz, "must be between %g and %g, got %s", k->rmin, k->rmax, q);
            return -1;
        }
        memcpy(field, &d, sizeof d);
        return 0;
    }
    case SQ_CFG_BOOL: {
        bool b;
        if (parse_bool(v, &b) < 0) {
            quote(v, q);
            snprintf(msg, msgsz, "expected true or false, got %s", q);
            return -1;
        }
        memcpy(field, &b, sizeof b);
        return 0;
    }
    case SQ_CFG_ENUM:
        if (!enum_has(k->choices, v)) {
            quote(v, q);
            snprintf(msg, msgsz, "must be one of %s, got %s", k->choices, q);
            return -1;
        }
        replace_str((char **)(void *)field, v);
        return 0;
    case SQ_CFG_STR:
        if (k->check && k->check(v, msg, msgsz) < 0)
            return -1;
        if (k->schema)
            set_input(st, k, v);
        else
            replace_str((char **)(void *)field, v);
        return 0;
    }
    return -1;
}

/* librdkafka properties that sqgate owns: set elsewhere, or fixed because
 * the delivery guarantees of SPEC 10 depend on them. */
static const struct {
    const char *prop;
    const char *why;
} sq_cfg_kafka_reserved[] = {
    {"bootstrap.servers", "set the brokers with the `brokers` key"},
    {"metadata.broker.list", "set the brokers with the `brokers` key"},
    {"group.id", "set the group with the `group` key"},
    {"enable.auto.commit", "sqgate commits offsets itself, after every output succeeded"},
    {"enable.auto.offset.store", "sqgate stores offsets itself, after every output succeeded"},
    {"auto.offset.reset", "sqgate reads a partition the group never committed from its first "
                          "offset, so that no message is skipped"},
    {"enable.partition.eof", "sqgate uses end-of-partition events to tell a caught-up partition "
                             "from a stalled one (runtime.stall_s)"},
};

/* Sets librdkafka property prop (checked by librdkafka itself); a later set
 * of the same property replaces the earlier one. */
static int kafka_apply(struct sq_settings *st, const char *prop, const char *v, char *msg,
                       size_t msgsz)
{
    if (!*prop) {
        snprintf(msg, msgsz, "empty librdkafka property name");
        return -1;
    }
    for (size_t i = 0; i < sizeof sq_cfg_kafka_reserved / sizeof sq_cfg_kafka_reserved[0]; i++) {
        if (strcmp(prop, sq_cfg_kafka_reserved[i].prop) == 0) {
            snprintf(msg, msgsz, "%s", sq_cfg_kafka_reserved[i].why);
            return -1;
        }
    }
    char errstr[256] = "";
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, prop, v, errstr, sizeof errstr);
    rd_kafka_conf_destroy(conf);
    if (res != RD_KAFKA_CONF_OK) {
        snprintf(msg, msgsz, "librdkafka: %s", errstr);
        return -1;
    }
    for (size_t i = 0; i < st->kafka_props_n; i++) {
        if (strcmp(st->kafka_props[i].name, prop) == 0) {
            replace_str(&st->kafka_props[i].value, v);
            return 0;
        }
    }
    st->kafka_props = sq_xrealloc(st->kafka_props,
                                  (st->kafka_props_n + 1) * sizeof *st->kafka_props);
    st->kafka_props[st->kafka_props_n].name = sq_xstrdup(prop);
    st->kafka_props[st->kafka_props_n].value = sq_xstrdup(v);
    st->kafka_props_n++;
    return 0;
}

/* Levenshtein distance of two short strings, capped at 9. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 9;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

/* "unknown key", with the closest known path when one is near. */
static void unknown_msg(const char *path, char *msg, size_t msgsz)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        size_t d = edit_distance(path, sq_cfg_keys[i].path);
        if (d < bestd) {
            bestd = d;
            best = sq_cfg_keys[i].path;
        }
    }
    if (best)
        snprintf(msg, msgsz, "unknown key (did you mean %s?)", best);
    else
        snprintf(msg, msgsz, "unknown key");
}

static bool is_kafka_path(const char *path)
{
    return strncmp(path, "kafka.", 6) == 0;
}

/* Sets path to v; fills msg on error. */
static int path_apply(struct sq_settings *st, const char *path, const char *v, char *msg,
                      size_t msgsz)
{
    if (is_kafka_path(path))
        return kafka_apply(st, path + 6, v, msg, msgsz);
    const struct sq_cfg_key *k = key_find(path);
    if (!k) {
        unknown_msg(path, msg, msgsz);
        return -1;
    }
    return key_apply(st, k, v, msg, msgsz);
}

int sq_config_set(struct sq_settings *st, const char *path, const char *value,
                  struct sq_config_errors *errs)
{
    char msg[SQ_CFG_MSG];
    if (path_apply(st, path, value, msg, sizeof msg) < 0) {
        errs_add(errs, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}

/* ---- defaults and release -------------------------------------------- */

void sq_settings_defaults(struct sq_settings *st)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        char msg[SQ_CFG_MSG];
        if (key_apply(st, &sq_cfg_keys[i], sq_cfg_keys[i].def, msg, sizeof msg) < 0) {
            /* The table contradicts itself: a bug, caught by any test run. */
            fprintf(stderr, "sqgate: bad default of %s: %s\n", sq_cfg_keys[i].path, msg);
            abort();
        }
    }
}

void sq_settings_free(struct sq_settings *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        const struct sq_cfg_key *k = &sq_cfg_keys[i];
        if ((k->type == SQ_CFG_STR || k->type == SQ_CFG_ENUM) && !k->schema) {
            char **field = (char **)(void *)((char *)st + k->offset);
            free(*field);
            *field = NULL;
        }
    }
    for (size_t j = 0; j < st->inputs_n; j++)
        free(st->inputs[j].name);
    memset(st->inputs, 0, sizeof st->inputs);
    st->inputs_n = 0;
    for (size_t j = 0; j < st->kafka_props_n; j++) {
        free(st->kafka_props[j].name);
        free(st->kafka_props[j].value);
    }
    free(st->kafka_props);
    st->kafka_props = NULL;
    st->kafka_props_n = 0;
}

/* ---- YAML file ------------------------------------------------------- */

struct sq_cfg_seen {
    char *path;
    size_t line;
};

/* One file load: where errors go and which paths were set already. */
struct sq_cfg_file {
    struct sq_settings *st;
    struct sq_config_errors *errs;
    const char *file;
    yaml_document_t *doc;
    struct sq_cfg_seen *seen;
    size_t seen_n;
    size_t nerr;
};

static void file_err(struct sq_cfg_file *fc, const yaml_node_t *at, const char *path,
                     const char *msg)
{
    errs_add(fc->errs, "%s:%zu:%zu: %s: %s", fc->file, at->start_mark.line + 1,
             at->start_mark.column + 1, path, msg);
    fc->nerr++;
}

static bool node_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* "an integer", "a string", ...: what a key's value must be. */
static void type_text(const struct sq_cfg_key *k, char *out, size_t outsz)
{
    if (!k)
        snprintf(out, outsz, "a scalar value");
    else if (k->type == SQ_CFG_INT)
        snprintf(out, outsz, "an integer");
    else if (k->type == SQ_CFG_REAL)
        snprintf(out, outsz, "a number");
    else if (k->type == SQ_CFG_BOOL)
        snprintf(out, outsz, "true or false");
    else if (k->type == SQ_CFG_ENUM)
        snprintf(out, outsz, "one of %s", k->choices);
    else
        snprintf(out, outsz, "a string");
}

/* The text of a leaf value node, or NULL after reporting why there is none.
 * k is NULL for a kafka property. */
static const char *file_scalar(struct sq_cfg_file *fc, const char *path,
                               const struct sq_cfg_key *k, const yaml_node_t *vn)
{
    char msg[SQ_CFG_MSG], want[128];
    type_text(k, want, sizeof want);
    if (vn->type == YAML_MAPPING_NODE || vn->type == YAML_SEQUENCE_NODE) {
        snprintf(msg, sizeof msg, "expected %s, got a %s", want,
                 vn->type == YAML_MAPPING_NODE ? "mapping" : "list");
        file_err(fc, vn, path, msg);
        return NULL;
    }
    if (vn->type != YAML_SCALAR_NODE)
        return NULL;
    if (node_is_null(vn)) {
        snprintf(msg, sizeof msg, "expected %s, got null%s", want,
                 k && k->schema ? " (\"\" disables an input topic)" : "");
        file_err(fc, vn, path, msg);
        return NULL;
    }
    const char *v = (const char *)vn->data.scalar.value;
    if (strlen(v) != vn->data.scalar.length) {
        file_err(fc, vn, path, "value contains a NUL character");
        return NULL;
    }
    return v;
}

/* Records path as set at kn; reports and returns false when it was already. */
static bool file_first_set(struct sq_cfg_file *fc, const char *path, const yaml_node_t *kn)
{
    for (size_t i = 0; i < fc->seen_n; i++) {
        if (strcmp(fc->seen[i].path, path) == 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "set twice (first at line %zu)", fc->seen[i].line);
            file_err(fc, kn, path, msg);
            return false;
        }
    }
    fc->seen = sq_xrealloc(fc->seen, (fc->seen_n + 1) * sizeof *fc->seen);
    fc->seen[fc->seen_n].path = sq_xstrdup(path);
    fc->seen[fc->seen_n].line = kn->start_mark.line + 1;
    fc->seen_n++;
    return true;
}

static void file_leaf(struct sq_cfg_file *fc, const char *path, const struct sq_cfg_key *k,
                      const yaml_node_t *kn, const yaml_node_t *vn)
{
    const char *v = file_scalar(fc, path, k, vn);
    if (!v || !file_first_set(fc, path, kn))
        return;
    char msg[SQ_CFG_MSG];
    int rc = k ? key_apply(fc->st, k, v, msg, sizeof msg)
               : kafka_apply(fc->st, path + 6, v, msg, sizeof msg);
    if (rc < 0)
        file_err(fc, vn, path, msg);
}

static bool is_section(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++)
        if (strncmp(sq_cfg_keys[i].path, path, len) == 0 && sq_cfg_keys[i].path[len] == '.')
            return true;
    return false;
}

/* A mapping's key text, or NULL after reporting a key that is not one. */
static const char *file_key_text(struct sq_cfg_file *fc, const char *prefix,
                                 const yaml_node_t *kn)
{
    if (kn->type != YAML_SCALAR_NODE || kn->data.scalar.length == 0 ||
        strlen((const char *)kn->data.scalar.value) != kn->data.scalar.length) {
        file_err(fc, kn, prefix ? prefix : "(top level)", "a key must be a non-empty string");
        return NULL;
    }
    return (const char *)kn->data.scalar.value;
}

static void file_walk(struct sq_cfg_file *fc, const yaml_node_t *map, const char *prefix);

/* `kafka:` mapping: its keys are librdkafka property names, verbatim. */
static void file_kafka_map(struct sq_cfg_file *fc, const yaml_node_t *map)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(fc->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(fc->doc, p->value);
        const char *key = kn && vn ? file_key_text(fc, "kafka", kn) : NULL;
        if (!key)
            continue;
        char *path = sq_xasprintf("kafka.%s", key);
        file_leaf(fc, path, NULL, kn, vn);
        free(path);
    }
}

static void file_entry(struct sq_cfg_file *fc, const char *path, const yaml_node_t *kn,
                       const yaml_node_t *vn)
{
    if (strcmp(path, "kafka") == 0) {
        if (vn->type == YAML_MAPPING_NODE)
            file_kafka_map(fc, vn);
        else
            file_err(fc, vn, path, "expected a mapping of librdkafka properties");
        return;
    }
    if (is_kafka_path(path)) {
        file_leaf(fc, path, NULL, kn, vn);
        return;
    }
    const struct sq_cfg_key *k = key_find(path);
    if (k) {
        file_leaf(fc, path, k, kn, vn);
    } else if (is_section(path)) {
        if (vn->type == YAML_MAPPING_NODE)
            file_walk(fc, vn, path);
        else
            file_err(fc, vn, path, "expected a mapping");
    } else {
        char msg[SQ_CFG_MSG];
        unknown_msg(path, msg, sizeof msg);
        file_err(fc, kn, path, msg);
    }
}

/* Every pair of a mapping at prefix (NULL: the top level). Recursion only
 * follows known sections, so it is as deep as the longest path, even when
 * aliases make the document cyclic. */
static void file_walk(struct sq_cfg_file *fc, const yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(fc->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(fc->doc, p->value);
        const char *key = kn && vn ? file_key_text(fc, prefix, kn) : NULL;
        if (!key)
            continue;
        char *path = prefix ? sq_xasprintf("%s.%s", prefix, key) : sq_xstrdup(key);
        file_entry(fc, path, kn, vn);
        free(path);
    }
}

static void file_syntax_err(struct sq_cfg_file *fc, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "cannot parse";
    if (parser->error == YAML_READER_ERROR) {
        errs_add(fc->errs, "%s: YAML error at byte %zu: %s", fc->file, parser->problem_offset,
                 problem);
    } else if (parser->context) {
        errs_add(fc->errs, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)", fc->file,
                 parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
                 parser->context, parser->context_mark.line + 1);
    } else {
        errs_add(fc->errs, "%s:%zu:%zu: YAML syntax error: %s", fc->file,
                 parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
    }
    fc->nerr++;
}

/* Reads the whole file (at most SQ_CFG_FILE_MAX bytes) into a new buffer. */
static char *file_read_dup(const char *file, size_t *len, char *msg, size_t msgsz)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(msg, msgsz, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = sq_xmalloc(SQ_CFG_FILE_MAX + 1);
    size_t n = fread(buf, 1, SQ_CFG_FILE_MAX + 1, f);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        snprintf(msg, msgsz, "cannot read: %s", strerror(saved));
        free(buf);
        return NULL;
    }
    if (n > SQ_CFG_FILE_MAX) {
        snprintf(msg, msgsz, "larger than %d bytes", SQ_CFG_FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int sq_config_load_file(struct sq_settings *st, const char *file,
                        struct sq_config_errors *errs)
{
    char msg[SQ_CFG_MSG];
    size_t len = 0;
    char *buf = file_read_dup(file, &len, msg, sizeof msg);
    if (!buf) {
        errs_add(errs, "%s: %s", file, msg);
        return -1;
    }
    struct sq_cfg_file fc = {.st = st, .errs = errs, .file = file};
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        file_syntax_err(&fc, &parser);
    } else {
        fc.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE) {
            file_walk(&fc, root, NULL);
        } else if (root && !node_is_null(root)) {
            file_err(&fc, root, "(top level)", "expected a mapping of config keys");
        }
        yaml_document_delete(&doc);
        /* A second document would be silently ignored: say so instead. */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            file_syntax_err(&fc, &parser);
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&next);
            if (extra)
                file_err(&fc, extra, "(top level)", "only one YAML document is allowed");
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < fc.seen_n; i++)
        free(fc.seen[i].path);
    free(fc.seen);
    free(buf);
    return fc.nerr ? -1 : 0;
}

/* ---- environment ----------------------------------------------------- */

char *sq_config_env_name_dup(const char *path)
{
    if (!key_find(path))
        return NULL;
    struct sq_buf b;
    sq_buf_init(&b);
    sq_buf_append(&b, SQ_CFG_ENV_PREFIX, strlen(SQ_CFG_ENV_PREFIX));
    for (const char *p = path; *p; p++) {
        if (*p == '.')
            sq_buf_append(&b, "__", 2);
        else {
            char c = (char)toupper((unsigned char)*p);
            sq_buf_append(&b, &c, 1);
        }
    }
    char *name = sq_xstrndup(b.data, b.len);
    sq_buf_fini(&b);
    return name;
}

/* The config path a full variable name (after SQGATE_) stands for, or NULL
 * when it is not of the form: upper-case letters, digits, '_'. In a kafka
 * property every '_' (and "__") becomes '.'. */
static char *env_path_dup(const char *name, size_t len)
{
    if (len == 0 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") < len)
        return NULL;
    bool kafka = len > 7 && strncmp(name, "KAFKA__", 7) == 0;
    char *path = sq_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '_' && i + 1 < len && name[i + 1] == '_') {
            path[o++] = '.';
            i++;
        } else if (name[i] == '_' && kafka && i >= 7) {
            path[o++] = '.';
        } else {
            path[o++] = (char)tolower((unsigned char)name[i]);
        }
    }
    path[o] = '\0';
    return path;
}

static int env_apply(struct sq_settings *st, const char *path, const char *var, size_t var_len,
                     const char *v, struct sq_config_errors *errs)
{
    char msg[SQ_CFG_MSG];
    if (path_apply(st, path, v, msg, sizeof msg) < 0) {
        errs_add(errs, "%s: %s (from %.*s)", path, msg, (int)var_len, var);
        return -1;
    }
    return 0;
}

int sq_config_load_env(struct sq_settings *st, char *const *envp,
                       struct sq_config_errors *errs)
{
    if (!envp)
        envp = environ;
    size_t plen = strlen(SQ_CFG_ENV_PREFIX);
    int rc = 0;
    /* Short names first, so the full name of the same key wins. */
    for (char *const *e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, SQ_CFG_ENV_PREFIX, plen) != 0)
            continue;
        size_t nlen = (size_t)(eq - *e);
        for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
            const char *s = sq_cfg_keys[i].env_short;
            if (s && strlen(s) == nlen && strncmp(s, *e, nlen) == 0 &&
                env_apply(st, sq_cfg_keys[i].path, *e, nlen, eq + 1, errs) < 0)
                rc = -1;
        }
    }
    for (char *const *e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, SQ_CFG_ENV_PREFIX, plen) != 0)
            continue;
        size_t nlen = (size_t)(eq - *e);
        char *path = env_path_dup(*e + plen, nlen - plen);
        if (!path)
            continue;
        /* SQGATE_FAULT, SQGATE_REDIS_PASSWORD, ...: other modules' variables. */
        if ((is_kafka_path(path) || key_find(path)) &&
            env_apply(st, path, *e, nlen, eq + 1, errs) < 0)
            rc = -1;
        free(path);
    }
    return rc;
}

/* ---- build and docs -------------------------------------------------- */

int sq_config_build(struct sq_settings *st, const char *file, char *const *envp,
                    struct sq_config_errors *errs)
{
    int rc = 0;
    sq_settings_defaults(st);
    if (file && sq_config_load_file(st, file, errs) < 0)
        rc = -1;
    if (sq_config_load_env(st, envp, errs) < 0)
        rc = -1;
    return rc;
}

/* Markdown table cell text: '|' escaped. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

/* A librdkafka property whose value is a secret (passwords, keys, tokens). */
static bool sq_cfg_secret_prop(const char *name)
{
    static const char *const marks[] = {"password", "secret", "key", "token", "jaas"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(name, marks[i]))
            return true;
    return false;
}

void sq_config_dump_effective(const struct sq_settings *st, FILE *out)
{
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        const struct sq_cfg_key *k = &sq_cfg_keys[i];
        const char *base = (const char *)st + k->offset;
        char v[64];
        const char *text = v;
        switch (k->type) {
        case SQ_CFG_INT:
            snprintf(v, sizeof v, "%" PRId64, *(const int64_t *)(const void *)base);
            break;
        case SQ_CFG_REAL:
            snprintf(v, sizeof v, "%g", *(const double *)(const void *)base);
            break;
        case SQ_CFG_BOOL:
            text = *(const bool *)(const void *)base ? "true" : "false";
            break;
        case SQ_CFG_ENUM:
        case SQ_CFG_STR:
            text = k->schema ? "" : *(char *const *)(const void *)base;
            for (size_t j = 0; k->schema && j < st->inputs_n; j++)
                if (strcmp(st->inputs[j].schema, k->schema) == 0)
                    text = st->inputs[j].name; /* an input topic; absent: disabled */
            if (!text)
                text = "";
            break;
        }
        fprintf(out, "%s: %s\n", k->path, text);
    }
    for (size_t i = 0; i < st->kafka_props_n; i++)
        fprintf(out, "kafka.%s: %s\n", st->kafka_props[i].name,
                sq_cfg_secret_prop(st->kafka_props[i].name) ? "(set, not shown)"
                                                             : st->kafka_props[i].value);
}

void sq_config_dump_docs(FILE *out)
{
    fputs("| Key | Type | Default | Environment | Description |\n", out);
    fputs("|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < SQ_CFG_NKEYS; i++) {
        const struct sq_cfg_key *k = &sq_cfg_keys[i];
        fprintf(out, "| `%s` | ", k->path);
        switch (k->type) {
        case SQ_CFG_INT:
            fprintf(out, "int, %" PRId64 "..%" PRId64, k->min, k->max);
            break;
        case SQ_CFG_REAL:
            fprintf(out, "real, %g..%g", k->rmin, k->rmax);
            break;
        case SQ_CFG_BOOL:
            fputs("bool", out);
            break;
        case SQ_CFG_ENUM:
            fputs("`", out);
            md_cell(out, k->choices);
            fputs("`", out);
            break;
        case SQ_CFG_STR:
            fputs("string", out);
            break;
        }
        if (*k->def)
            fprintf(out, " | `%s` | ", k->def);
        else
            fputs(" | `\"\"` | ", out);
        char *env = sq_config_env_name_dup(k->path);
        fprintf(out, "`%s`", env);
        free(env);
        if (k->env_short)
            fprintf(out, ", `%s`", k->env_short);
        fputs(" | ", out);
        md_cell(out, k->help);
        fputs(" |\n", out);
    }
    fputs("| `kafka.<property>` | string | (librdkafka's) | `SQGATE_KAFKA__<PROPERTY>` | "
          "Any librdkafka property, passed verbatim (checked against librdkafka's table), "
          "except bootstrap.servers, metadata.broker.list, group.id, enable.auto.commit, "
          "enable.auto.offset.store, auto.offset.reset and enable.partition.eof. |\n",
          out);
}
