/* demo.c: `sqgate demo` (SPEC 11): everything on one machine, in one
 * command. A librdkafka mock cluster in this process, a redis-server child
 * on a free loopback port, the load generator (gen.c) on its own thread,
 * the gateway runtime on the main thread, the admin HTTP server, and a
 * terminal view once a second. At the end it checks that every message the
 * generator produced was consumed, and leaves nothing running. */
#include "demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "admin.h"
#include "config.h"
#include "gen.h"
#include "log.h"
#include "ports.h"
#include "metrics.h"
#include "runtime.h"
#include "signals.h"

extern char **environ;

/* The Debian 12 (librdkafka 2.0.2) mock cluster keeps only ~5 MiB (or 100k
 * message sets) per partition and silently drops the oldest. What the
 * gateway has consumed may go; what it has not is lost. At the default
 * 2000 events/s (~550 bytes each, plus 1 % malformed of which a sixth are
 * ~70 KiB too_large messages) sq.in.contacts takes ~1.3 MB/s, ~220 KB/s on
 * each of 6 partitions: the gateway may lag by ~20 s before anything is
 * dropped. Higher rates want more --partitions; the final check reports
 * a loss as MISMATCH. */
#define SQ_DEMO_BROKERS 3
#define SQ_DEMO_DRAIN_MS 30000     /* after the generator stops, to catch up */
#define SQ_DEMO_REDIS_WAIT_MS 10000
#define SQ_DEMO_FLUSH_MS 30000

static volatile sig_atomic_t sq_demo_signals; /* SIGINT/SIGTERM received */

static void sq_demo_on_signal(int sig)
{
    (void)sig;
    if (sq_demo_signals < 100)
        sq_demo_signals++;
}

struct sq_demo_opts {
    double seconds;   /* <= 0: until Ctrl-C */
    double rate;
    int partitions;
    uint64_t seed;
    const char *log_level;
};

struct sq_demo {
    struct sq_demo_opts o;
    volatile sig_atomic_t *stop;   /* the caller's flag (also honoured) */
    volatile sig_atomic_t gen_stop;
    volatile sig_atomic_t rt_stop;
    volatile sig_atomic_t view_stop;
    _Atomic int rt_done;
    struct sq_gen *gen;
    struct sq_gen_target tgt;
    struct sq_gen_stats stats;
    struct sq_err gen_err;
    int gen_rc;
    int64_t t0_mono;               /* the generator's start */
    bool tty;
    pthread_mutex_t view_mu;       /* one writer of the terminal at a time */
};

/* ---- small helpers ---------------------------------------------------- */

static void sq_demo_usage(FILE *f)
{
    fputs("usage: sqgate demo [--seconds N] [--rate N] [--partitions N] [--seed N]\n"
          "                   [--log-level error|warn|info|debug]\n"
          "  --seconds N      stop after N seconds (default: at Ctrl-C)\n"
          "  --rate N         generated events per second (default 2000)\n"
          "  --partitions N   partitions of every topic (default 6)\n"
          "  --seed N         generator seed (default 1)\n"
          "  --log-level L    gateway log level on stderr (default warn)\n"
          "Needs redis-server (Debian: apt-get install redis-server).\n",
          f);
}

static int sq_demo_parse(int argc, char **argv, struct sq_demo_opts *o)
{
    o->seconds = 0;
    o->rate = 2000;
    o->partitions = 6;
    o->seed = 1;
    o->log_level = "warn";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sq_demo_usage(stdout);
            return 1;
        } else if (strcmp(a, "--seconds") == 0 && sq_parse_double(v, 0.1, 1e7, &d) == 0) {
            o->seconds = d;
        } else if (strcmp(a, "--rate") == 0 && sq_parse_double(v, 1, 1e6, &d) == 0) {
            o->rate = d;
        } else if (strcmp(a, "--partitions") == 0 && sq_parse_double(v, 1, 256, &d) == 0 &&
                   d == (int)d) {
            o->partitions = (int)d;
        } else if (strcmp(a, "--seed") == 0 && sq_parse_double(v, 0, 1e15, &d) == 0 &&
                   d == (double)(uint64_t)d) {
            o->seed = (uint64_t)d;
        } else if (strcmp(a, "--log-level") == 0 && v) {
            enum sq_log_level lvl;
            if (sq_log_level_parse(v, &lvl) != 0)
                goto bad;
            o->log_level = v;
        } else {
            goto bad;
        }
        i++;
        continue;
    bad:
        fprintf(stderr, "sqgate demo: bad option %s%s%s\n", a, v ? " " : "", v ? v : "");
        sq_demo_usage(stderr);
        return -1;
    }
    return 0;
}

static void sq_demo_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Removes a directory and the plain files in it (the demo writes no more). */
static void sq_demo_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = sq_xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- redis-server ------------------------------------------------------- */

/* An executable redis-server: PATH first, then the Debian locations.
 * Returns a new string or NULL. */
static char *sq_demo_find_redis(void)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0) {
            char *cand = sq_xasprintf("%.*s/redis-server", (int)n, path);
            if (access(cand, X_OK) == 0)
                return cand;
            free(cand);
        }
        path = colon ? colon + 1 : NULL;
    }
    static const char *const fixed[] = {"/usr/bin/redis-server", "/usr/sbin/redis-server"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (access(fixed[i], X_OK) == 0)
            return sq_xstrdup(fixed[i]);
    return NULL;
}

static bool sq_demo_redis_ping(int port)
{
    struct timeval tv = {0, 300000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* SIGTERM, up to 5 s, then SIGKILL; always reaps. */
static void sq_demo_redis_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int64_t deadline = sq_mono_ms() + 5000;
    while (sq_mono_ms() < deadline) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        sq_demo_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Prints the last lines of the redis log to stderr. */
static void sq_demo_print_tail(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    char buf[2048];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "--- %s (end) ---\n%s\n---\n", file, buf);
}

/* Starts redis-server (no persistence) on a free loopback port and waits
 * for PING. Its own process group keeps Ctrl-C away from it (the demo
 * stops it last); PR_SET_PDEATHSIG stops it if the demo dies. Call from
 * the main thread: the death signal follows the thread that forked. */
static pid_t sq_demo_redis_start(const char *exe, const char *dir, int *port_out)
{
    char *log = sq_xasprintf("%s/redis.log", dir);
    pid_t parent = getpid();
    pid_t pid = -1;
    for (int attempt = 0; attempt < 3 && pid < 0; attempt++) {
        int port = sq_free_loopback_port();
        if (port < 0) {
            fprintf(stderr, "sqgate demo: no free loopback port: %s\n", strerror(errno));
            break;
        }
        char portstr[16];
        snprintf(portstr, sizeof portstr, "%d", port);
        char *const args[] = {(char *)exe, "--port", portstr, "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--daemonize", "no",
                              "--dir", (char *)dir, NULL};
        pid_t child = fork();
        if (child < 0) {
            fprintf(stderr, "sqgate demo: fork: %s\n", strerror(errno));
            break;
        }
        if (child == 0) {
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            int in = open("/dev/null", O_RDONLY);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
            }
            if (in >= 0)
                dup2(in, STDIN_FILENO);
            execv(exe, args);
            _exit(127);
        }
        int64_t deadline = sq_mono_ms() + SQ_DEMO_REDIS_WAIT_MS;
        bool up = false, exited = false;
        while (sq_mono_ms() < deadline) {
            if (waitpid(child, NULL, WNOHANG) == child) {
                exited = true;
                break;
            }
            if (sq_demo_redis_ping(port)) {
                up = true;
                break;
            }
            sq_demo_sleep_ms(50);
        }
        if (up) {
            pid = child;
            *port_out = port;
        } else if (exited) {
            fprintf(stderr, "sqgate demo: redis-server exited at start (port %d)%s\n", port,
                    attempt < 2 ? "; trying another port" : "");
            if (attempt == 2)
                sq_demo_print_tail(log);
        } else {
            fprintf(stderr, "sqgate demo: redis-server did not answer PING within %d ms\n",
                    SQ_DEMO_REDIS_WAIT_MS);
            sq_demo_redis_stop(child);
            sq_demo_print_tail(log);
            break;
        }
    }
    free(log);
    return pid;
}

/* ---- the mock cluster ----------------------------------------------------- */

struct sq_demo_kafka {
    rd_kafka_t *rk;                  /* hosts the cluster; nothing produced on it */
    rd_kafka_mock_cluster_t *mcluster;
};

static void sq_demo_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sq_error("mock cluster: %s: %s", fac, buf);
}

static int sq_demo_kafka_start(struct sq_demo_kafka *k, const struct sq_settings *st,
                               int partitions)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, sq_demo_kafka_log_cb);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "sqgate demo: rd_kafka_new: %s\n", errstr);
        return -1;
    }
    k->mcluster = rd_kafka_mock_cluster_new(k->rk, SQ_DEMO_BROKERS);
    if (!k->mcluster) {
        fprintf(stderr, "sqgate demo: cannot create the librdkafka mock cluster\n");
        return -1;
    }
    const char *outs[] = {st->topic_scored, st->topic_breaches, st->topic_kpi, st->topic_alerts,
                          st->topic_dlq};
    const char *names[SQ_MAX_INPUT_TOPICS + 5];
    size_t n = 0;
    for (size_t i = 0; i < st->inputs_n; i++)
        names[n++] = st->inputs[i].name;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        names[n++] = outs[i];
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(k->mcluster, names[i], partitions, SQ_DEMO_BROKERS);
        if (e) {
            fprintf(stderr, "sqgate demo: creating topic %s: %s\n", names[i],
                    rd_kafka_err2str(e));
            return -1;
        }
    }
    return 0;
}

static void sq_demo_kafka_stop(struct sq_demo_kafka *k)
{
    if (k->mcluster)
        rd_kafka_mock_cluster_destroy(k->mcluster);
    k->mcluster = NULL;
    if (k->rk)
        rd_kafka_destroy(k->rk);
    k->rk = NULL;
}

/* ---- threads ---------------------------------------------------------------- */

static void *sq_demo_gen_main(void *arg)
{
    struct sq_demo *d = arg;
    sq_err_clear(&d->gen_err);
    d->gen_rc = sq_gen_produce(d->gen, &d->tgt, d->o.rate, -1, 0, SQ_DEMO_FLUSH_MS, &d->gen_stop,
                               &d->stats, &d->gen_err);
    return NULL;
}

static bool sq_demo_interrupted(const struct sq_demo *d, int n)
{
    return sq_demo_signals >= n || (n == 1 && *d->stop);
}

/* Decides when the run ends: at Ctrl-C or after --seconds the generator
 * stops; then the gateway gets up to SQ_DEMO_DRAIN_MS (or until a second
 * Ctrl-C) to consume what was produced before the runtime is stopped. */
static void *sq_demo_ctl_main(void *arg)
{
    struct sq_demo *d = arg;
    while (!atomic_load(&d->rt_done) && !sq_demo_interrupted(d, 1)) {
        if (d->o.seconds > 0 && sq_mono_ms() - d->t0_mono >= (int64_t)(d->o.seconds * 1000))
            break;
        if (atomic_load(&d->stats.done)) /* the generator gave up */
            break;
        sq_demo_sleep_ms(50);
    }
    d->gen_stop = 1;
    while (!atomic_load(&d->stats.done))
        sq_demo_sleep_ms(50); /* bounded by the generator's flush timeout */
    int64_t deadline = sq_mono_ms() + SQ_DEMO_DRAIN_MS;
    bool said = false;
    while (!atomic_load(&d->rt_done) && !sq_demo_interrupted(d, 2) && sq_mono_ms() < deadline) {
        uint64_t produced = atomic_load(&d->stats.delivered);
        if (sq_metrics_get(SQ_M_CONSUMED) >= produced)
            break;
        if (!said) {
            pthread_mutex_lock(&d->view_mu);
            fprintf(stdout, "%sdemo: generator stopped; letting the gateway catch up "
                            "(Ctrl-C again to stop now)\n", d->tty ? "\r\033[2K" : "");
            fflush(stdout);
            pthread_mutex_unlock(&d->view_mu);
            said = true;
        }
        sq_demo_sleep_ms(100);
    }
    d->rt_stop = 1;
    return NULL;
}

static const char *sq_demo_reason_abbrev(int r)
{
    switch (r) {
    case SQ_DLQ_MALFORMED_JSON: return "json";
    case SQ_DLQ_TOO_LARGE: return "large";
    case SQ_DLQ_NOT_OBJECT: return "notobj";
    case SQ_DLQ_BAD_UTF8: return "utf8";
    case SQ_DLQ_TOO_DEEP: return "deep";
    case SQ_DLQ_UNKNOWN_SCHEMA: return "schema?";
    case SQ_DLQ_SCHEMA_VIOLATION: return "invalid";
    case SQ_DLQ_SEMANTIC: return "semantic";
    case SQ_DLQ_FUTURE_TIME: return "future";
    case SQ_DLQ_OUTPUT_REJECTED: return "rejected";
    default: return "?";
    }
}

static uint64_t sq_demo_dlq_total(void)
{
    uint64_t n = 0;
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++)
        n += sq_metrics_dlq_get((enum sq_dlq_reason)r);
    return n;
}

/* One status line: elapsed, produced, consumed/s, outcomes, lag (against
 * the committed offsets, and of it what no step has applied yet), readiness. */
static void sq_demo_status(struct sq_demo *d, struct sq_buf *b, uint64_t per_s)
{
    double el = (double)(sq_mono_ms() - d->t0_mono) / 1000.0;
    sq_buf_appendf(b, "%5.0fs  produced %" PRIu64 "  consumed %" PRIu64 "/s  processed %" PRIu64
                      "  dup %" PRIu64 "  dlq %" PRIu64,
                   el, atomic_load(&d->stats.delivered), per_s, sq_metrics_get(SQ_M_PROCESSED),
                   sq_metrics_get(SQ_M_DUPLICATES), sq_demo_dlq_total());
    bool first = true;
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++) {
        uint64_t n = sq_metrics_dlq_get((enum sq_dlq_reason)r);
        if (!n)
            continue;
        sq_buf_appendf(b, "%s%s %" PRIu64, first ? " (" : " ", sq_demo_reason_abbrev(r), n);
        first = false;
    }
    if (!first)
        sq_buf_append(b, ")", 1);
    char why[128];
    bool ready = sq_metrics_ready(why, sizeof why);
    sq_buf_appendf(b, "  lag %" PRId64 " (unapplied %" PRId64 ")  %s%s%s",
                   sq_metrics_lag_total(), sq_metrics_unapplied_total(),
                   sq_metrics_paused() ? "PAUSED " : "", ready ? "ready" : "not ready: ",
                   ready ? "" : why);
}

static void *sq_demo_view_main(void *arg)
{
    struct sq_demo *d = arg;
    uint64_t last = sq_metrics_get(SQ_M_CONSUMED);
    int64_t next = sq_mono_ms() + 1000;
    struct sq_buf line;
    sq_buf_init(&line);
    while (!d->view_stop) {
        if (sq_mono_ms() < next) {
            sq_demo_sleep_ms(50);
            continue;
        }
        next += 1000;
        uint64_t now = sq_metrics_get(SQ_M_CONSUMED);
        sq_buf_reset(&line);
        sq_demo_status(d, &line, now - last);
        last = now;
        pthread_mutex_lock(&d->view_mu);
        struct winsize ws;
        if (d->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
            line.len >= ws.ws_col)
            line.data[ws.ws_col - 1] = '\0'; /* a wrapped line would not redraw in place */
        if (d->tty)
            fprintf(stdout, "\r\033[2K%s", line.data);
        else
            fprintf(stdout, "%s\n", line.data);
        fflush(stdout);
        pthread_mutex_unlock(&d->view_mu);
    }
    if (d->tty) {
        fputc('\n', stdout);
        fflush(stdout);
    }
    sq_buf_fini(&line);
    return NULL;
}

/* ---- the end ----------------------------------------------------------------- */

/* Prints the final summary; returns true when nothing was lost. */
static bool sq_demo_summary(struct sq_demo *d)
{
    const struct sq_gen_stats *s = &d->stats;
    uint64_t produced = atomic_load(&s->delivered);
    uint64_t consumed = sq_metrics_get(SQ_M_CONSUMED);
    uint64_t malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        malformed += atomic_load(&s->delivered_kind[k]);
    printf("demo: produced %" PRIu64 " (", produced);
    for (int t = 0; t < SQ_GEN__TOPICS; t++)
        printf("%s%s %" PRIu64, t ? ", " : "",
               d->tgt.topics[t] ? d->tgt.topics[t] : sq_gen_topic_name(t),
               (uint64_t)atomic_load(&s->delivered_topic[t]));
    printf("; malformed %" PRIu64 ", duplicates %" PRIu64 ", failed %" PRIu64 ")\n", malformed,
           (uint64_t)atomic_load(&s->delivered_kind[SQ_GEN_DUPLICATE]),
           (uint64_t)atomic_load(&s->failed));
    printf("demo: consumed %" PRIu64 ": processed %" PRIu64 ", duplicates %" PRIu64
           ", dlq %" PRIu64,
           consumed, sq_metrics_get(SQ_M_PROCESSED), sq_metrics_get(SQ_M_DUPLICATES),
           sq_demo_dlq_total());
    bool first = true;
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++) {
        uint64_t n = sq_metrics_dlq_get((enum sq_dlq_reason)r);
        if (n) {
            printf("%s%s %" PRIu64, first ? " (" : ", ", sq_dlq_reason_name((enum sq_dlq_reason)r),
                   n);
            first = false;
        }
    }
    printf("%s; outputs delivered %" PRIu64 "\n", first ? "" : ")", sq_metrics_get(SQ_M_OUTPUTS));
    /* The decode reasons should match what the generator broke on purpose. */
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++) {
        enum sq_dlq_reason r = sq_gen_kind_reason(k);
        uint64_t want = atomic_load(&s->delivered_kind[k]), got = sq_metrics_dlq_get(r);
        if (want != got)
            printf("demo: note: dlq %s %" PRIu64 ", the generator sent %" PRIu64 "\n",
                   sq_dlq_reason_name(r), got, want);
    }
    bool ok = consumed == produced && produced > 0;
    if (ok)
        printf("demo: OK: consumed == produced (%" PRIu64 "), nothing lost\n", consumed);
    else
        printf("demo: MISMATCH: produced %" PRIu64 ", consumed %" PRIu64 " (%" PRId64
               " not consumed)\n",
               produced, consumed, (int64_t)(produced - consumed));
    fflush(stdout);
    return ok;
}

/* ---- sq_demo_main ------------------------------------------------------------- */

static int sq_demo_settings(struct sq_settings *st, const char *brokers, int redis_port,
                            const char *log_level)
{
    struct sq_config_errors errs = {0};
    /* SQGATE_* variables apply (thresholds, windows); the infrastructure is ours. */
    int rc = sq_config_build(st, NULL, environ, &errs);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", redis_port);
    const char *sets[][2] = {
        {"brokers", brokers},
        {"redis.url", url},
        {"admin.listen", "127.0.0.1:0"},
        {"group", "sqgate-demo"},
        {"log.level", log_level},
        /* The mock's group rebalances wait ~session.timeout.ms - 1 s. */
        {"kafka.session.timeout.ms", "6000"},
        {"kafka.heartbeat.interval.ms", "1000"},
        {"kafka.topic.metadata.refresh.interval.ms", "10000"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (sq_config_set(st, sets[i][0], sets[i][1], &errs) != 0)
            rc = -1;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "sqgate demo: %s\n", errs.msgs[i]);
    sq_config_errors_fini(&errs);
    return rc;
}

int sq_demo_main(int argc, char **argv, volatile sig_atomic_t *stop)
{
    struct sq_demo d;
    memset(&d, 0, sizeof d);
    int prc = sq_demo_parse(argc, argv, &d.o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    d.stop = stop;
    pthread_mutex_init(&d.view_mu, NULL);
    const char *term = getenv("TERM");
    d.tty = isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb") != 0;

    char *redis_exe = sq_demo_find_redis();
    if (!redis_exe) {
        fprintf(stderr, "sqgate demo: redis-server not found (looked in PATH, /usr/bin, "
                        "/usr/sbin).\nInstall it: apt-get install redis-server\n");
        pthread_mutex_destroy(&d.view_mu);
        return 2;
    }

    /* Our handlers: the first Ctrl-C ends the run gracefully, the second
     * stops waiting for the gateway to catch up. */
    sq_signals_on_stop(sq_demo_on_signal);

    int code = 2;
    struct sq_settings st;
    memset(&st, 0, sizeof st);
    struct sq_demo_kafka kafka = {0};
    struct sq_admin *adm = NULL;
    pid_t redis_pid = -1;
    pthread_t gen_th, ctl_th, view_th;

    const char *tmpbase = getenv("TMPDIR");
    char *dir = sq_xasprintf("%s/sqgate-demo-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "sqgate demo: mkdtemp %s: %s\n", dir, strerror(errno));
        free(dir);
        free(redis_exe);
        pthread_mutex_destroy(&d.view_mu);
        return 2;
    }

    /* redis-server first, while this process has a single thread. */
    int redis_port = 0;
    redis_pid = sq_demo_redis_start(redis_exe, dir, &redis_port);
    if (redis_pid < 0)
        goto out;

    sq_settings_defaults(&st); /* topic names, for the cluster */
    if (sq_demo_kafka_start(&kafka, &st, d.o.partitions) != 0)
        goto out;
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(kafka.mcluster);
    sq_settings_free(&st);
    if (sq_demo_settings(&st, bootstraps, redis_port, d.o.log_level) != 0) {
        code = 1;
        goto out;
    }
    enum sq_log_level lvl;
    if (sq_log_level_parse(st.log_level, &lvl) == 0)
        sq_log_set_level(lvl);

    struct sq_err err;
    sq_err_clear(&err);
    adm = sq_admin_new(st.admin_listen, &err);
    if (!adm) {
        fprintf(stderr, "sqgate demo: admin HTTP: %s\n", err.msg);
        goto out;
    }

    struct sq_gen_opts go;
    sq_gen_opts_defaults(&go);
    go.seed = d.o.seed;
    go.rate = d.o.rate;
    d.gen = sq_gen_new(&go);
    d.tgt.brokers = bootstraps;
    d.tgt.props = st.kafka_props;
    d.tgt.props_n = st.kafka_props_n;
    for (size_t i = 0; i < st.inputs_n; i++) {
        if (strcmp(st.inputs[i].schema, "contact.v1") == 0)
            d.tgt.topics[SQ_GEN_T_CONTACTS] = st.inputs[i].name;
        else if (strcmp(st.inputs[i].schema, "profile.v1") == 0)
            d.tgt.topics[SQ_GEN_T_PROFILES] = st.inputs[i].name;
    }
    if (!d.tgt.topics[SQ_GEN_T_CONTACTS] || !d.tgt.topics[SQ_GEN_T_PROFILES]) {
        fprintf(stderr, "sqgate demo: the contacts and profiles topics must be enabled\n");
        code = 1;
        goto out;
    }

    printf("sqgate demo\n"
           "  kafka      librdkafka mock cluster, %d brokers at %s, %d partitions per topic\n"
           "  redis      redis-server on 127.0.0.1:%d (no persistence, removed at exit)\n"
           "  load       %g events/s: contacts, tickets, surveys, QA reviews, outages, "
           "profiles,\n"
           "             1%% malformed, 1%% duplicates (seed %" PRIu64 ")\n"
           "\n"
           "  dashboard  http://%s/\n"
           "  metrics    http://%s/metrics\n"
           "\n"
           "  %s\n\n",
           SQ_DEMO_BROKERS, bootstraps, d.o.partitions, redis_port, d.o.rate, d.o.seed,
           sq_admin_address(adm), sq_admin_address(adm),
           d.o.seconds > 0 ? "running for the given --seconds; Ctrl-C stops earlier"
                           : "Ctrl-C to stop");
    fflush(stdout);

    d.t0_mono = sq_mono_ms();
    if (pthread_create(&gen_th, NULL, sq_demo_gen_main, &d) != 0) {
        fprintf(stderr, "sqgate demo: cannot start a thread\n");
        goto out;
    }
    if (pthread_create(&ctl_th, NULL, sq_demo_ctl_main, &d) != 0) {
        d.gen_stop = 1;
        pthread_join(gen_th, NULL);
        fprintf(stderr, "sqgate demo: cannot start a thread\n");
        goto out;
    }
    if (pthread_create(&view_th, NULL, sq_demo_view_main, &d) != 0) {
        d.rt_stop = 1;
        atomic_store(&d.rt_done, 1);
        pthread_join(ctl_th, NULL);
        pthread_join(gen_th, NULL);
        fprintf(stderr, "sqgate demo: cannot start a thread\n");
        goto out;
    }

    int rt_code = sq_runtime_run(&st, &d.rt_stop, NULL);
    atomic_store(&d.rt_done, 1);
    pthread_join(ctl_th, NULL);
    pthread_join(gen_th, NULL);
    d.view_stop = 1;
    pthread_join(view_th, NULL);

    bool ok = sq_demo_summary(&d);
    if (d.gen_rc != SQ_OK)
        fprintf(stderr, "sqgate demo: generator: %s\n", d.gen_err.msg);
    if (rt_code != 0)
        fprintf(stderr, "sqgate demo: the gateway exited with status %d\n", rt_code);
    code = rt_code != 0 || d.gen_rc != SQ_OK ? 2 : ok ? 0 : 1;

out:
    sq_admin_free(adm);
    sq_gen_free(d.gen);
    sq_demo_kafka_stop(&kafka);
    sq_demo_redis_stop(redis_pid);
    sq_demo_rmdir(dir);
    sq_settings_free(&st);
    free(dir);
    free(redis_exe);
    pthread_mutex_destroy(&d.view_mu);
    return code;
}
