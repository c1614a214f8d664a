/* offset_probe.h: a thread that asks the brokers for partitions' watermarks
 * and the group's committed offsets, so that the main loop never blocks on
 * them. librdkafka's cached high watermark only moves when a partition
 * fetches; a partition that never fetches (stalled) or is quiet needs the
 * broker's answer for its lag and for the stall check (runtime.c). One
 * request at a time: the main loop submits a list and collects the answers
 * on a later pass. */
#ifndef SQ_OFFSET_PROBE_H
#define SQ_OFFSET_PROBE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "sq_common.h"

struct sq_offset_probe;

/* One partition's answer. lo / hi are -1 when the query failed; committed
 * is the group's committed offset, -1 when not asked or not known, and
 * SQ_PROBE_NO_COMMIT when the group has none. */
#define SQ_PROBE_NO_COMMIT (-2)
struct sq_probe_answer {
    const char *topic;
    int32_t partition;
    int64_t lo, hi;
    int64_t committed;
};

/* Starts the thread on rk (borrowed; librdkafka's calls are thread-safe).
 * NULL with err when it cannot start. */
struct sq_offset_probe *sq_offset_probe_new(rd_kafka_t *rk, struct sq_err *err);
/* Waits for a running request (bounded by its timeouts) and frees it all. */
void sq_offset_probe_free(struct sq_offset_probe *pr);

/* Hands a request to the thread: the watermarks of `watermarks` and the
 * committed offsets of `committed` (either may be NULL; both are copied).
 * false when the last request is still running or not collected. */
bool sq_offset_probe_submit(struct sq_offset_probe *pr,
                            const rd_kafka_topic_partition_list_t *watermarks,
                            const rd_kafka_topic_partition_list_t *committed);
/* When the submitted request has ended, calls fn once per partition asked
 * (a partition in both lists once) and returns true; the probe is then
 * free for the next request. */
bool sq_offset_probe_collect(struct sq_offset_probe *pr,
                             void (*fn)(const struct sq_probe_answer *a, void *arg),
                             void *arg);

#endif
