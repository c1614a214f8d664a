/* chain_stack.h: the stack bench_chain measures. A librdkafka mock cluster
 * in this process holding every topic sqgate uses, a redis-server child on
 * a free loopback port with no persistence, and a `sqgate run` child that
 * consumes from the cluster into Redis, its admin HTTP on a free port. */
#ifndef SQ_CHAIN_STACK_H
#define SQ_CHAIN_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct sq_gen_opts;

struct sq_cb_stack {
    rd_kafka_t *host;                  /* hosts the mock cluster; produces nothing */
    rd_kafka_mock_cluster_t *mcluster;
    char bootstrap[256];
    int partitions;                    /* of contacts (the busiest input) and of
                                          every output topic; the other inputs
                                          get fewer, by their share of the load */
    pid_t redis_pid;
    int redis_port;
    redisContext *redis;               /* the bench's own connection */
    pid_t sqgate_pid;
    int admin_port;
    char dir[64];                      /* logs and the redis working dir */
    bool keep_dir;                     /* failed start: its logs stay for a look */
    char sqgate_log[128];
    char redis_log[128];
};

/* Starts the cluster (`partitions` for contacts and the outputs, the other
 * inputs in proportion to their share of gen's messages, at least 1),
 * redis-server and `sqgate run` (binary sqgate, with `--set` of each
 * PATH=VALUE of the NULL-terminated sets, which may be NULL), and waits until sqgate's
 * /readyz says ready. On failure fills err (naming the log to read, which
 * is kept), stops what was started and returns -1. */
int sq_cb_stack_start(struct sq_cb_stack *s, const char *sqgate, const char *const *sets,
                      int partitions, const struct sq_gen_opts *gen, char *err, size_t errsz);

/* SIGTERM to sqgate (its graceful shutdown), SIGKILL after 30 s. Returns
 * its exit status (sq_cb_stop), -1 when it was not running. */
int sq_cb_stack_stop_sqgate(struct sq_cb_stack *s);

/* Stops everything started; safe on a partly started stack and twice. */
void sq_cb_stack_stop(struct sq_cb_stack *s);

/* The overdue timers Redis holds (ZCARD of every sq:timers-due:* index,
 * summed); -1 on error. */
long long sq_cb_redis_timers(struct sq_cb_stack *s);

/* INFO memory used_memory, bytes; -1 on error. */
long long sq_cb_redis_used_memory(struct sq_cb_stack *s);

/* The commands Redis ran per event so far, busiest first: "evalsha 0.03,
 * hincrby 87.1, ..." (at most 6, the bench's own INFO and PING left out),
 * written to out; and the microseconds spent in them per event, longest
 * first, to usec_out. Returns 0, or -1 when INFO failed. */
int sq_cb_redis_commands(struct sq_cb_stack *s, double events, char *out, size_t outsz,
                         char *usec_out, size_t usec_outsz);

/* What Redis holds after a run, by key kind, from SCAN and MEMORY USAGE
 * (SAMPLES 0: exact). */
struct sq_cb_redis_mem {
    long keys;
    long customers;          /* sq:cust:{id} hashes */
    double customer_bytes;   /* their MEMORY USAGE, summed */
    long kpi_hashes;         /* sq:kpi:... */
    double kpi_bytes;
    long dedupe_keys;        /* sq:dm:... sets of event id marks */
    long dedupe_ids;         /* their fields */
    double dedupe_bytes;
    long breach_sets;        /* sq:cust:{id}:breaches */
    long breach_records;     /* their members */
    long histories;          /* sq:hist:{id} */
    double history_bytes;    /* their contacts field's length */
};
int sq_cb_redis_breakdown(struct sq_cb_stack *s, struct sq_cb_redis_mem *m, char *err,
                          size_t errsz);

#endif
