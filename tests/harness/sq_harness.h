/* sq_harness.h: helpers for the integration tests (tests/integration/it_*.c):
 * a real redis-server, the sq-mock-kafka helper, sqgate and other child
 * processes, HTTP and Prometheus scraping, Kafka topic reading and kcat.
 *
 * Criterion runs each test in a forked child: start everything inside the
 * test. Every process started here is killed (SIGKILL) when the test process
 * exits, through an atexit handler, and also when it dies abruptly, through
 * PR_SET_PDEATHSIG (so spawn from the test's main thread). Scratch files go
 * under sq_h_tmpdir(), removed at exit unless SQ_KEEP_TMP=1 is set.
 * Functions print what went wrong to stderr and return -1 / NULL / false. */
#ifndef SQ_HARNESS_H
#define SQ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

/* ---- scratch directory ---------------------------------------------- */

/* "/tmp/sq-h-XXXXXX", created on first use by this process. */
const char *sq_h_tmpdir(void);
/* tmpdir + "/" + name, malloc'd (free()). */
char *sq_h_tmp_path(const char *name);

/* ---- redis-server ----------------------------------------------------- */

struct sq_h_redis {
    pid_t pid;    /* 0 while stopped */
    int port;
    char *dir;    /* working dir (persist_dir, or a fresh one under tmpdir) */
    bool persist; /* appendonly yes, appendfsync always */
};

/* Starts redis-server on 127.0.0.1 and a free port, and on the unix socket
 * DIR/redis.sock. No persistence unless
 * persist_dir != NULL (then appendonly yes, appendfsync always, dir
 * persist_dir, which must exist). Waits until PING answers PONG (10 s).
 * Returns 0, or -1 with nothing left running (sq_h_redis_fini is safe). */
int sq_h_redis_start(struct sq_h_redis *r, const char *persist_dir);
/* SIGTERM, wait up to 5 s, then SIGKILL. r keeps port and dir. */
int sq_h_redis_stop(struct sq_h_redis *r);
/* SIGKILL at once (a crash); r keeps port and dir. */
int sq_h_redis_kill(struct sq_h_redis *r);
/* Starts it again (after stop or kill, or stops it first): same port, dir. */
int sq_h_redis_restart(struct sq_h_redis *r);
/* Stops it if running and frees r->dir. Safe twice. */
void sq_h_redis_fini(struct sq_h_redis *r);
/* A connected context (2 s connect, 5 s command timeout), NULL on failure.
 * Release with redisFree(). */
redisContext *sq_h_redis_connect(const struct sq_h_redis *r);
/* "redis://127.0.0.1:PORT/0", malloc'd. */
char *sq_h_redis_url(const struct sq_h_redis *r);
/* "unix://DIR/redis.sock": the same server on the unix socket it also
 * listens on, malloc'd. */
char *sq_h_redis_unix_url(const struct sq_h_redis *r);

/* ---- sq-mock-kafka ---------------------------------------------------- */

struct sq_h_kafka {
    pid_t pid;
    FILE *in;             /* commands to the helper */
    FILE *out;            /* its answers (unbuffered) */
    char bootstrap[1024]; /* "127.0.0.1:P1,127.0.0.1:P2,..." */
    char log_path[256];   /* the helper's stderr */
};

/* Starts SQ_BUILD_DIR/sq-mock-kafka with `brokers` brokers and the topics
 * ("name:partitions", NULL-terminated, may be NULL) and reads its bootstrap
 * list (10 s). Ignores SIGPIPE in the calling process. */
int sq_h_kafka_start(struct sq_h_kafka *k, int brokers, const char *const *topics);
/* Sends one command line (see `sq-mock-kafka --help`), e.g.
 * sq_h_kafka_cmd(k, "produce_errors %d %d", 3, 7); "broker_down 1";
 * "clear_errors". Returns 0 when it answered OK, -1 otherwise (the ERR
 * text goes to stderr). Waits at most 10 s for the answer. */
int sq_h_kafka_cmd(struct sq_h_kafka *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Closes its stdin (it destroys the cluster and exits), waits up to 5 s,
 * then SIGKILL. Safe twice. */
void sq_h_kafka_stop(struct sq_h_kafka *k);
/* sq.in.contacts sq.in.tickets sq.in.surveys sq.in.qa sq.in.outages
 * sq.in.profiles sq.out.scored sq.out.breaches sq.out.kpi sq.out.alerts
 * sq.out.dlq as "name:partitions". Static storage, NULL-terminated; the
 * next call overwrites it. */
const char *const *sq_h_standard_topics(int partitions);

/* ---- child processes -------------------------------------------------- */

struct sq_h_proc {
    pid_t pid;          /* 0 once reaped */
    char log_path[256]; /* stdout + stderr, appended */
};

/* Starts SQ_BUILD_DIR/sqgate with args (NULL-terminated, args[0] is the
 * subcommand: {"run", "--brokers", b, NULL}). extra_env: "NAME=VALUE"
 * strings added to (or replacing in) the inherited environment, whose
 * SQGATE_* variables are dropped so the developer's shell cannot leak in.
 * log_path NULL: a fresh file under sq_h_tmpdir(). stdin is /dev/null. */
int sq_h_spawn(struct sq_h_proc *p, const char *const *args,
               const char *const *extra_env, const char *log_path);
/* The same for any program: exe is a path, or a name looked up in PATH. */
int sq_h_spawn_exe(struct sq_h_proc *p, const char *exe, const char *const *args,
                   const char *const *extra_env, const char *log_path);
/* Waits for it to exit: 0 when it did within timeout_ms (*status, if not
 * NULL, gets the waitpid status: use WIFEXITED/WEXITSTATUS), -1 otherwise.
 * Sanitizer reports found in its log are copied to stderr, so ctest's
 * FAIL_REGULAR_EXPRESSION sees them. */
int sq_h_wait_exit(struct sq_h_proc *p, int timeout_ms, int *status);
/* Sends sig if it is still running; does not reap. */
void sq_h_kill(struct sq_h_proc *p, int sig);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns 0 when it exited
 * by itself in time (*status as for sq_h_wait_exit), -1 when it was killed. */
int sq_h_proc_stop(struct sq_h_proc *p, int timeout_ms, int *status);
/* true while it has not exited (reaps it if it has). */
bool sq_h_alive(struct sq_h_proc *p);
/* Whole file, malloc'd and NUL-terminated; NULL when unreadable. */
char *sq_h_read_file(const char *path, size_t *len);
/* true when the file exists and contains needle. */
bool sq_h_file_contains(const char *path, const char *needle);
/* Copies to stderr, each behind its file's name, the lines of the logs in
 * sq_h_tmpdir() whose name starts with prefix that contain one of needles
 * (NULL-terminated): a failing test shows what its processes said, though
 * its directory is removed. */
void sq_h_print_log_lines(const char *prefix, const char *const *needles);
/* A port that was free on 127.0.0.1 a moment ago. */
int sq_h_free_port(void);

/* ---- HTTP and metrics ------------------------------------------------- */

/* HTTP/1.0 GET http://127.0.0.1:port/path (5 s). Returns the status code
 * and, if body != NULL, the body malloc'd into *body; -1 on a connection
 * or protocol failure (*body NULL). */
int sq_h_http_get(int port, const char *path, char **body);
/* Any method, optional extra header lines ("Authorization: Bearer x\r\n")
 * and request body (may be NULL). */
int sq_h_http_request(int port, const char *method, const char *path,
                      const char *headers, const char *req_body, char **body);
/* The value of one Prometheus sample written exactly as in the text, labels
 * included: sq_h_metric(body, "sq_dlq_total{reason=\"too_large\"}").
 * Returns -1 when absent. */
double sq_h_metric(const char *body, const char *name);
/* Sum of every sample of a metric family, whatever its labels
 * ("sq_dlq_total"); -1 when there is none. */
double sq_h_metric_sum(const char *body, const char *family);
/* Calls cond(arg) every 50 ms until it returns true (then true) or
 * timeout_ms passed (then false). */
bool sq_h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms);

/* ---- Kafka topics ----------------------------------------------------- */

struct sq_h_record {
    char *key;        /* NULL when the record has no key; else NUL-terminated */
    size_t key_len;
    char *value;      /* NULL for a tombstone; else NUL-terminated */
    size_t value_len;
    json_t *headers;  /* object name → string (null for a NULL header value) */
    int32_t partition;
    int64_t offset;
};
struct sq_h_records {
    struct sq_h_record *v;
    size_t n;
};

/* Reads every record of topic, all partitions from the low watermark up to
 * the high watermarks measured at the start (rd_kafka_assign, no group, no
 * commits). Records come sorted by (partition, offset). Returns 0 when all
 * were read within timeout_ms, -1 otherwise. out is always initialised
 * (it holds what was read): release it with sq_h_records_fini. */
int sq_h_topic_read_all(const char *bootstrap, const char *topic,
                        struct sq_h_records *out, int timeout_ms);
void sq_h_records_fini(struct sq_h_records *r);
/* Sum of the high watermarks of the topic's partitions, -1 on error. */
int64_t sq_h_topic_count(const char *bootstrap, const char *topic);
/* Sums of the low and high watermarks. low_sum > 0 means the mock cluster
 * dropped old records (it keeps ~5 MiB per partition). */
int sq_h_topic_watermarks(const char *bootstrap, const char *topic,
                          int64_t *low_sum, int64_t *high_sum);
/* One client kept for counting topics again and again, as a wait loop does
 * (sq_h_topic_count makes a client a call): librdkafka 2.0 can abort in
 * rd_kafka_broker_destroy_final when short-lived clients come and go by
 * the hundred (its issue #3608). NULL when no client could be made. */
struct sq_h_counter;
struct sq_h_counter *sq_h_counter_new(const char *bootstrap);
/* sq_h_topic_count through the kept client. */
int64_t sq_h_counter_count(struct sq_h_counter *c, const char *topic);
void sq_h_counter_free(struct sq_h_counter *c);

/* ---- kcat ------------------------------------------------------------- */

/* kcat -P -b bootstrap -t topic -K '\t' -l path: each line of the file is
 * KEY<TAB>VALUE (bytes other than newline and TAB). Returns kcat's exit
 * status (0 when every message was delivered, 1 when one failed), -1 when
 * it could not run or took over 60 s. Its output goes to a log under
 * sq_h_tmpdir(). */
int sq_h_kcat_produce_file(const char *bootstrap, const char *topic, const char *path);

#endif
