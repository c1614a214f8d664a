/* offsets.h: the assigned partitions and their offsets. The one place that
 * tracks fetched-but-unfinished messages per partition, the applied offset
 * this instance believes Redis holds, and the commit point (applied + 1). */
#ifndef SQ_OFFSETS_H
#define SQ_OFFSETS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* A fetched message waiting for its turn. */
struct sq_fetched {
    rd_kafka_message_t *rkm;
    int64_t fetched_mono_ms;
};

struct sq_part {
    char *topic;
    int32_t partition;
    char *offset_key;        /* Redis key of the applied offset */
    const char *default_schema;
    int64_t applied;         /* offset applied in Redis as far as we know, -1 none */
    bool need_init;          /* applied offset not read yet: partition paused */
    int64_t init_dropped_from; /* lowest offset fetched and dropped while need_init,
                                * read again once the applied offset is known; -1 */
    int64_t commit_next;     /* next offset to commit (applied + 1), -1 nothing */
    int64_t commit_sent;     /* last commit_next handed to rd_kafka_commit */
    int64_t committed;       /* last commit acknowledged by the coordinator */
    struct sq_fetched *backlog;
    size_t backlog_n, backlog_cap;
    int64_t last_fetch_mono_ms;
    int64_t idle_marked_mono_ms; /* when the closer was told it is idle, 0 = not */
};

struct sq_parts {
    struct sq_part **v;
    size_t n;
};

struct sq_part *sq_parts_find(struct sq_parts *ps, const char *topic, int32_t partition);
/* Adds a partition (owned by ps) and returns it. */
struct sq_part *sq_parts_add(struct sq_parts *ps, const char *topic, int32_t partition);
/* Removes and frees a partition, destroying its backlog messages. */
void sq_parts_remove(struct sq_parts *ps, struct sq_part *p);
void sq_parts_fini(struct sq_parts *ps);
size_t sq_parts_backlog_total(const struct sq_parts *ps);

/* Takes ownership of rkm. Messages at or below the applied offset are
 * already reflected in Redis: they are destroyed and false is returned. */
bool sq_part_backlog_push(struct sq_part *p, rd_kafka_message_t *rkm, int64_t now_mono);
/* Drops every fetched message (seek, revoke, fence). */
void sq_part_backlog_clear(struct sq_part *p);

/* A batch of the partition's messages [0, n) was applied up to `last`. */
void sq_part_applied(struct sq_part *p, int64_t last);

/* The partitions whose commit point moved since the last commit, with the
 * +1 already added; NULL when none. Marks them sent. */
rd_kafka_topic_partition_list_t *sq_parts_commit_list(struct sq_parts *ps);
/* Records the coordinator's answer to a commit. */
void sq_parts_commit_done(struct sq_parts *ps, const rd_kafka_topic_partition_list_t *offsets);

#endif
