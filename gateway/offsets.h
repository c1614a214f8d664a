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
    int64_t start_from;      /* with nothing applied: the group's committed offset,
                              * SQ_START_EARLIEST (none: from the low watermark),
                              * or -1 not asked yet */
    uint64_t assign_gen;     /* the runtime's assignment count when it was assigned */
    int64_t lo_queried, hi_queried; /* watermarks asked of the broker (librdkafka's
                              * cached ones are unknown until the partition
                              * fetches), -1 none */
    bool fetched;            /* a message was fetched since this assignment: only
                              * then are librdkafka's cached watermarks this
                              * assignment's (it keeps them across assignments, so
                              * a partition this process held before shows the
                              * high watermark of its last fetch then) */
    int64_t hi_queried_mono_ms;
    int64_t eof_offset;      /* where the fetcher last reported the partition's end, -1 */
    int64_t stall_clock_mono_ms; /* the stall check's clock also restarts here: while we
                              * hold the partition (paused, fetched, in a turn) and at a
                              * restart */
    int64_t stall_next;      /* the next offset at the last stall restart, -1 none */
    int64_t stall_wait_ms;   /* the wait before the next restart at stall_next: it
                              * doubles while restarts fetch nothing there */
    bool wedged_by_fault;    /* SQGATE_FAULT=wedge_partition (fault builds): a restart's
                              * resume and seek leave it paused; a re-assignment mends it */
    struct sq_fetched *backlog;
    size_t backlog_n, backlog_cap;
    int64_t last_fetch_mono_ms;
    int64_t idle_marked_mono_ms; /* when the closer was told it is idle, 0 = not */
    bool past_end;           /* its applied offset lies past the partition's end (the
                              * topic was recreated): paused, the instance not ready,
                              * until `sqgate reset-offsets` and a restart (SPEC 10) */
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

#define SQ_START_EARLIEST (-2)

/* The next offset the partition must process: applied + 1, or where
 * consumption starts when nothing was applied (start_from, the low
 * watermark `lo` for SQ_START_EARLIEST), and never below `lo` when it is
 * known (retention deleted what was not processed); -1 when not known
 * yet. */
int64_t sq_part_next_offset(const struct sq_part *p, int64_t lo);
/* The first offset not committed, for sq_partition_lag: the committed
 * offset, else sq_part_next_offset; -1 when not known. */
int64_t sq_part_pending_from(const struct sq_part *p, int64_t lo);
/* Since when the partition has been quiet: its last fetch, or the last
 * restart of the stall check's clock, whichever is later. */
int64_t sq_part_quiet_since(const struct sq_part *p);
/* Whether messages wait in Kafka past what the partition processed: its
 * next offset is known and below the high watermark `hi`, and the fetcher
 * has not reported the end at hi or beyond (offsets no message fills, such
 * as transaction markers, end there). */
bool sq_part_messages_wait(const struct sq_part *p, int64_t lo, int64_t hi);
/* Whether the partition is stalled (runtime.stall_s): messages waiting
 * (sq_part_messages_wait), nothing fetched and waiting, and quiet for
 * stall_ms (stall_wait_ms after a restart at the
 * same next offset). The caller rules out pauses and partitions in a
 * turn. */
bool sq_part_stalled(const struct sq_part *p, int64_t lo, int64_t hi, int64_t now_mono,
                     int64_t stall_ms);
/* Records a restart of a stalled partition at next (now_mono): the stall
 * clock restarts, and the wait before the next restart at the same offset
 * is twice stall_ms, then doubles while restarts there fetch nothing (up to
 * an hour). true when the last restart was at next too. */
bool sq_part_stall_restart(struct sq_part *p, int64_t next, int64_t stall_ms, int64_t now_mono);

#endif
