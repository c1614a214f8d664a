/* sq_mock_kafka.c: the sq-mock-kafka helper program. Runs a librdkafka mock
 * cluster that other processes (sqgate, kcat, tests) reach over TCP on
 * 127.0.0.1, prints "BOOTSTRAP host:port,..." once, then answers fault
 * injection commands read from stdin until EOF or SIGTERM/SIGINT.
 * Started by tests/harness (sq_h_kafka_start) and usable by hand. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Kafka protocol API keys (rdkafka_protocol.h is not installed). */
#define SQ_MK_APIKEY_PRODUCE 0
#define SQ_MK_APIKEY_MAX 67   /* highest key librdkafka 2.0.2 knows */

#define SQ_MK_LINE_MAX 4096
#define SQ_MK_ARGS_MAX 64

static volatile sig_atomic_t sq_mk_stop;

static void sq_mk_on_signal(int sig)
{
    (void)sig;
    sq_mk_stop = 1;
}

static void sq_mk_usage(FILE *f)
{
    fputs("usage: sq-mock-kafka [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
          "                     [--default-partitions N] [--no-stdin]\n"
          "Prints 'BOOTSTRAP host:port,...' and serves until stdin reaches EOF\n"
          "(or, with --no-stdin, until SIGTERM/SIGINT).\n"
          "Commands on stdin, one per line, each answered 'OK' or 'ERR message':\n"
          "  ping\n"
          "  topic NAME PARTITIONS             create a topic\n"
          "  produce_errors N ERRCODE...       next N Produce requests fail (one\n"
          "                                    ERRCODE for all, or N of them)\n"
          "  request_errors APIKEY N ERRCODE...  same for any API key\n"
          "  clear_errors [APIKEY]             drop queued request errors\n"
          "  topic_error TOPIC ERRCODE         metadata error for a topic (0 clears)\n"
          "  broker_down ID | broker_up ID     ID -1 means every broker\n"
          "  broker_rtt ID MS                  add round-trip delay\n"
          "  leader TOPIC PARTITION ID         move a partition's leader\n"
          "ERRCODE is the integer rd_kafka_resp_err_t (6 NOT_LEADER_FOR_PARTITION,\n"
          "7 REQUEST_TIMED_OUT, 10 MSG_SIZE_TOO_LARGE, ...).\n"
          "--topic NAME without :PARTITIONS gets --default-partitions (1).\n"
          "The librdkafka 2.0.2 mock creates any unknown topic a Metadata request\n"
          "names (4 partitions), whatever allow.auto.create.topics says: to make a\n"
          "topic look missing, send 'topic_error NAME 3' (UNKNOWN_TOPIC_OR_PART).\n",
          f);
}

/* Parses a whole decimal integer in [lo, hi]; returns false otherwise. */
static bool sq_mk_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Creates NAME with PARTITIONS, replication min(brokers, 3). */
static int sq_mk_topic_create(rd_kafka_mock_cluster_t *mcluster, int brokers,
                              const char *name, long partitions, char *errbuf,
                              size_t errsz)
{
    rd_kafka_resp_err_t err;
    int rf = brokers < 3 ? brokers : 3;

    err = rd_kafka_mock_topic_create(mcluster, name, (int)partitions, rf);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errsz, "topic %s: %s", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Parses ERRCODE arguments: one code repeated cnt times, or cnt codes.
 * Fills errs (cnt entries); returns 0 or -1 with a message. */
static int sq_mk_parse_errors(char **argv, int argc, long cnt,
                              rd_kafka_resp_err_t *errs, char *errbuf,
                              size_t errsz)
{
    long code;

    if (argc != 1 && argc != cnt) {
        snprintf(errbuf, errsz, "give one ERRCODE or exactly %ld of them", cnt);
        return -1;
    }
    for (long i = 0; i < cnt; i++) {
        const char *s = argv[argc == 1 ? 0 : i];
        if (!sq_mk_parse_long(s, -200, 1000, &code)) {
            snprintf(errbuf, errsz, "bad ERRCODE '%s' (an integer)", s);
            return -1;
        }
        errs[i] = (rd_kafka_resp_err_t)code;
    }
    return 0;
}

/* Pushes cnt errors for api_key; argv holds the ERRCODE arguments. */
static int sq_mk_push_errors(rd_kafka_mock_cluster_t *mcluster, long api_key,
                             const char *cnt_s, char **argv, int argc,
                             char *errbuf, size_t errsz)
{
    rd_kafka_resp_err_t errs[SQ_MK_ARGS_MAX];
    long cnt;

    if (!sq_mk_parse_long(cnt_s, 1, 1000000, &cnt)) {
        snprintf(errbuf, errsz, "bad count '%s' (1..1000000)", cnt_s ? cnt_s : "");
        return -1;
    }
    if (argc == 1) {
        /* One code for all: push it in chunks, no size limit on cnt. */
        if (sq_mk_parse_errors(argv, 1, 1, errs, errbuf, errsz) != 0)
            return -1;
        for (long i = 1; i < SQ_MK_ARGS_MAX; i++)
            errs[i] = errs[0];
        for (long left = cnt; left > 0;) {
            size_t n = left < SQ_MK_ARGS_MAX ? (size_t)left : SQ_MK_ARGS_MAX;
            rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)api_key, n, errs);
            left -= (long)n;
        }
        return 0;
    }
    if (cnt > SQ_MK_ARGS_MAX) {
        snprintf(errbuf, errsz, "at most %d individual error codes", SQ_MK_ARGS_MAX);
        return -1;
    }
    if (sq_mk_parse_errors(argv, argc, cnt, errs, errbuf, errsz) != 0)
        return -1;
    rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)api_key, (size_t)cnt, errs);
    return 0;
}

/* Runs one command line; returns 0 (OK) or -1 with errbuf filled. */
static int sq_mk_command(rd_kafka_mock_cluster_t *mcluster, int brokers, char *line,
                         char *errbuf, size_t errsz)
{
    char *argv[SQ_MK_ARGS_MAX + 4];
    int argc = 0;
    char *save = NULL;
    long a, b;
    rd_kafka_resp_err_t err;

    for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (argc == (int)(sizeof(argv) / sizeof(argv[0]))) {
            snprintf(errbuf, errsz, "too many arguments");
            return -1;
        }
        argv[argc++] = tok;
    }
    if (argc == 0) {
        snprintf(errbuf, errsz, "empty command");
        return -1;
    }

    if (strcmp(argv[0], "ping") == 0 && argc == 1)
        return 0;

    if (strcmp(argv[0], "topic") == 0 && argc == 3) {
        if (!sq_mk_parse_long(argv[2], 1, 100000, &a)) {
            snprintf(errbuf, errsz, "bad partition count '%s'", argv[2]);
            return -1;
        }
        return sq_mk_topic_create(mcluster, brokers, argv[1], a, errbuf, errsz);
    }

    if (strcmp(argv[0], "produce_errors") == 0 && argc >= 3) {
        if (!sq_mk_parse_long(argv[1], 1, LONG_MAX, &a)) {
            /* The 2.0.2 mock API queues errors per API key for the whole
             * cluster; a per-topic variant would silently hit every topic. */
            snprintf(errbuf, errsz, "produce errors apply to every topic in the "
                                    "librdkafka 2.0.2 mock: use 'produce_errors N "
                                    "ERRCODE' (or topic_error for metadata)");
            return -1;
        }
        return sq_mk_push_errors(mcluster, SQ_MK_APIKEY_PRODUCE, argv[1], argv + 2,
                                 argc - 2, errbuf, errsz);
    }

    if (strcmp(argv[0], "request_errors") == 0 && argc >= 4) {
        if (!sq_mk_parse_long(argv[1], 0, SQ_MK_APIKEY_MAX, &a)) {
            snprintf(errbuf, errsz, "bad API key '%s' (0..%d)", argv[1], SQ_MK_APIKEY_MAX);
            return -1;
        }
        return sq_mk_push_errors(mcluster, a, argv[2], argv + 3, argc - 3, errbuf, errsz);
    }

    if (strcmp(argv[0], "clear_errors") == 0 && (argc == 1 || argc == 2)) {
        if (argc == 2) {
            if (!sq_mk_parse_long(argv[1], 0, SQ_MK_APIKEY_MAX, &a)) {
                snprintf(errbuf, errsz, "bad API key '%s'", argv[1]);
                return -1;
            }
            rd_kafka_mock_clear_request_errors(mcluster, (int16_t)a);
            return 0;
        }
        for (int k = 0; k <= SQ_MK_APIKEY_MAX; k++)
            rd_kafka_mock_clear_request_errors(mcluster, (int16_t)k);
        return 0;
    }

    if (strcmp(argv[0], "topic_error") == 0 && argc == 3) {
        if (!sq_mk_parse_long(argv[2], -200, 1000, &a)) {
            snprintf(errbuf, errsz, "bad ERRCODE '%s'", argv[2]);
            return -1;
        }
        rd_kafka_mock_topic_set_error(mcluster, argv[1], (rd_kafka_resp_err_t)a);
        return 0;
    }

    if ((strcmp(argv[0], "broker_down") == 0 || strcmp(argv[0], "broker_up") == 0) &&
        argc == 2) {
        if (!sq_mk_parse_long(argv[1], -1, brokers, &a) || a == 0) {
            snprintf(errbuf, errsz, "bad broker id '%s' (1..%d or -1)", argv[1], brokers);
            return -1;
        }
        if (strcmp(argv[0], "broker_down") == 0)
            err = rd_kafka_mock_broker_set_down(mcluster, (int32_t)a);
        else
            err = rd_kafka_mock_broker_set_up(mcluster, (int32_t)a);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errbuf, errsz, "%s", rd_kafka_err2str(err));
            return -1;
        }
        return 0;
    }

    if (strcmp(argv[0], "broker_rtt") == 0 && argc == 3) {
        if (!sq_mk_parse_long(argv[1], -1, brokers, &a) || a == 0 ||
            !sq_mk_parse_long(argv[2], 0, 600000, &b)) {
            snprintf(errbuf, errsz, "usage: broker_rtt ID MS");
            return -1;
        }
        err = rd_kafka_mock_broker_set_rtt(mcluster, (int32_t)a, (int)b);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errbuf, errsz, "%s", rd_kafka_err2str(err));
            return -1;
        }
        return 0;
    }

    if (strcmp(argv[0], "leader") == 0 && argc == 4) {
        if (!sq_mk_parse_long(argv[2], 0, 100000, &a) ||
            !sq_mk_parse_long(argv[3], -1, brokers, &b)) {
            snprintf(errbuf, errsz, "usage: leader TOPIC PARTITION ID");
            return -1;
        }
        err = rd_kafka_mock_partition_set_leader(mcluster, argv[1], (int32_t)a, (int32_t)b);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errbuf, errsz, "%s", rd_kafka_err2str(err));
            return -1;
        }
        return 0;
    }

    snprintf(errbuf, errsz, "unknown command or wrong arguments: %s", argv[0]);
    return -1;
}

/* Serves stdin commands until EOF or a signal. Returns 0. */
static int sq_mk_serve_stdin(rd_kafka_mock_cluster_t *mcluster, int brokers)
{
    char buf[SQ_MK_LINE_MAX];
    size_t len = 0;
    bool overlong = false;

    while (!sq_mk_stop) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int rc = poll(&pfd, 1, 200);
        ssize_t n;

        if (rc < 0 && errno != EINTR)
            return 0;
        if (rc <= 0)
            continue;
        n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return 0;   /* EOF: our parent is done with us */
        len += (size_t)n;

        for (;;) {
            char *nl = memchr(buf, '\n', len);
            char errbuf[512];
            size_t used;

            if (nl == NULL) {
                if (len == sizeof(buf) - 1) {   /* line too long: drop it */
                    overlong = true;
                    len = 0;
                }
                break;
            }
            *nl = '\0';
            used = (size_t)(nl - buf) + 1;
            if (overlong) {
                printf("ERR line too long\n");
                overlong = false;
            } else if (sq_mk_command(mcluster, brokers, buf, errbuf, sizeof(errbuf)) == 0) {
                printf("OK\n");
            } else {
                printf("ERR %s\n", errbuf);
            }
            fflush(stdout);
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    long brokers = 1, default_partitions = 1, v;
    const char *topics[256];
    int ntopics = 0;
    bool use_stdin = true;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    struct sigaction sa;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            sq_mk_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--no-stdin") == 0) {
            use_stdin = false;
        } else if (strcmp(arg, "--brokers") == 0 && sq_mk_parse_long(val, 1, 32, &v)) {
            brokers = v;
            i++;
        } else if (strcmp(arg, "--default-partitions") == 0 &&
                   sq_mk_parse_long(val, 1, 100000, &v)) {
            default_partitions = v;
            i++;
        } else if (strcmp(arg, "--topic") == 0 && val != NULL && *val != '\0' &&
                   ntopics < (int)(sizeof(topics) / sizeof(topics[0]))) {
            topics[ntopics++] = val;
            i++;
        } else {
            fprintf(stderr, "sq-mock-kafka: bad argument '%s'\n", arg);
            sq_mk_usage(stderr);
            return 2;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sq_mk_on_signal;   /* no SA_RESTART: poll() wakes up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The handle only hosts the cluster; nothing is produced through it. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "sq-mock-kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "sq-mock-kafka: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);   /* not taken on failure */
        return 2;
    }
    mcluster = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (mcluster == NULL) {
        fprintf(stderr, "sq-mock-kafka: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 2;
    }

    for (int i = 0; i < ntopics; i++) {
        char name[512];
        const char *colon = strrchr(topics[i], ':');
        long parts = default_partitions;

        if (colon != NULL) {
            size_t nlen = (size_t)(colon - topics[i]);
            if (nlen == 0 || nlen >= sizeof(name) ||
                !sq_mk_parse_long(colon + 1, 1, 100000, &parts)) {
                fprintf(stderr, "sq-mock-kafka: bad --topic '%s' (NAME[:PARTITIONS])\n",
                        topics[i]);
                rc = 2;
                goto out;
            }
            memcpy(name, topics[i], nlen);
            name[nlen] = '\0';
        } else {
            snprintf(name, sizeof(name), "%s", topics[i]);
        }
        if (sq_mk_topic_create(mcluster, (int)brokers, name, parts, errstr,
                               sizeof(errstr)) != 0) {
            fprintf(stderr, "sq-mock-kafka: %s\n", errstr);
            rc = 2;
            goto out;
        }
    }

    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);

    if (use_stdin) {
        sq_mk_serve_stdin(mcluster, (int)brokers);
    } else {
        while (!sq_mk_stop)
            poll(NULL, 0, 200);
    }

out:
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return rc;
}
