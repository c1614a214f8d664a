/* sq_stack.h: the whole stack for integration tests, built on sq_harness:
 * a redis-server, the mock Kafka cluster with the standard topics, sqgate
 * instances in one group, test event data, and the checks the delivery
 * tests share (applied offsets reached, customer-hash sums, output ids). */
#ifndef SQ_STACK_H
#define SQ_STACK_H

#include "sq_harness.h"

#define SQ_STACK_GROUP "sqgate-it"
#define SQ_STACK_MAX_INSTANCES 4

struct sq_stack {
    struct sq_h_redis redis;
    struct sq_h_kafka kafka;
    int partitions;
    struct sq_h_proc inst[SQ_STACK_MAX_INSTANCES];
    int admin_port[SQ_STACK_MAX_INSTANCES];
    bool redis_unix; /* instances reach Redis on its unix socket */
    int redis_db;    /* the database instances and the checks use (TCP only) */
};

/* Starts redis-server (persistent when persist is true) and the mock
 * cluster with the standard topics of `partitions` partitions each. */
void sq_stack_start(struct sq_stack *s, int partitions, bool persist);
void sq_stack_stop(struct sq_stack *s);

/* Starts sqgate instance i (`run` against the stack, Redis on its unix
 * socket when s->redis_unix, else database s->redis_db, group SQ_STACK_GROUP,
 * a free admin port, settings for the mock cluster) with extra "PATH=VALUE"
 * --set options and extra environment (both NULL-terminated, may be NULL). */
void sq_stack_start_instance(struct sq_stack *s, int i, const char *const *sets,
                             const char *const *env);
/* Waits until instance i answers /readyz with 200. */
bool sq_stack_wait_ready(struct sq_stack *s, int i, int timeout_ms);
/* Waits until instance i's log holds text. */
bool sq_stack_wait_log(struct sq_stack *s, int i, const char *text, int timeout_ms);
/* Value of a metric of instance i (-1 when unreachable or absent). */
double sq_stack_metric(struct sq_stack *s, int i, const char *name);

/* Test data: n lines "KEY\tVALUE" for kcat. Valid contact.v1 events with
 * event_id "ev-<seed>-<k>" over `customers` customers, plus `malformed`
 * messages cycling through the six decode reasons. The counts of valid
 * events per customer go to per_customer[customers] (may be NULL). Returns
 * the file path (malloc'd). */
char *sq_stack_write_events(const char *name, int seed, int valid, int malformed, int customers,
                            long *per_customer);
/* The same events produced from this process at `rate` per second (0: as
 * fast as possible), in a background thread. */
struct sq_stack_producer;
struct sq_stack_producer *sq_stack_produce_async(struct sq_stack *s, const char *path, int rate);
/* Waits for the producer thread and returns the number produced. */
long sq_stack_produce_join(struct sq_stack_producer *p);

/* Sum over the input topic's partitions of (applied offset + 1) in Redis. */
int64_t sq_stack_applied_total(struct sq_stack *s, const char *topic);
/* Waits until every message of the topic is applied in Redis. */
bool sq_stack_wait_applied(struct sq_stack *s, const char *topic, int timeout_ms);
/* Sum of events_total over sq:cust:* and, per customer, a check against
 * expected (customers "cust-<k>"). Returns the number of mismatching
 * customers, printing the first few. */
int sq_stack_check_customers(struct sq_stack *s, const long *expected, int customers,
                             long *sum_out);
/* Checks sq.out.scored: every valid event id "ev-<seed>-<k>" (k < valid)
 * has at least one record, repeats carry the same id and value. Returns
 * the number of problems; *records_out gets the number of records. */
int sq_stack_check_scored(struct sq_stack *s, int seed, int valid, long *records_out);

#endif
