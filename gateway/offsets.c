/* offsets.c: per-partition fetched messages, applied offsets and the commit
 * point. Offsets are committed as applied + 1 (the next message to read),
 * only over messages whose every output and Redis step succeeded. */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"

struct sq_part *sq_parts_find(struct sq_parts *ps, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i]->partition == partition && strcmp(ps->v[i]->topic, topic) == 0)
            return ps->v[i];
    return NULL;
}

struct sq_part *sq_parts_add(struct sq_parts *ps, const char *topic, int32_t partition)
{
    struct sq_part *p = sq_xcalloc(1, sizeof *p);
    p->topic = sq_xstrdup(topic);
    p->partition = partition;
    p->applied = -1;
    p->commit_next = -1;
    p->commit_sent = -1;
    p->committed = -1;
    p->start_from = -1;
    p->stall_next = -1;
    p->eof_offset = -1;
    p->lo_queried = -1;
    p->hi_queried = -1;
    p->init_dropped_from = -1;
    p->last_fetch_mono_ms = sq_mono_ms(); /* idle_s counts from assignment */
    ps->v = sq_xrealloc(ps->v, (ps->n + 1) * sizeof *ps->v);
    ps->v[ps->n++] = p;
    return p;
}

void sq_part_backlog_clear(struct sq_part *p)
{
    for (size_t i = 0; i < p->backlog_n; i++)
        rd_kafka_message_destroy(p->backlog[i].rkm);
    p->backlog_n = 0;
}

static void sq_part_free(struct sq_part *p)
{
    sq_part_backlog_clear(p);
    free(p->backlog);
    free(p->topic);
    free(p->offset_key);
    free(p);
}

void sq_parts_remove(struct sq_parts *ps, struct sq_part *p)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->v[i] == p) {
            memmove(&ps->v[i], &ps->v[i + 1], (ps->n - i - 1) * sizeof *ps->v);
            ps->n--;
            break;
        }
    }
    sq_part_free(p);
}

void sq_parts_fini(struct sq_parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        sq_part_free(ps->v[i]);
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

size_t sq_parts_backlog_total(const struct sq_parts *ps)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        n += ps->v[i]->backlog_n;
    return n;
}

bool sq_part_backlog_push(struct sq_part *p, rd_kafka_message_t *rkm, int64_t now_mono)
{
    p->last_fetch_mono_ms = now_mono;
    p->fetched = true;
    if (rkm->offset <= p->applied ||
        (p->backlog_n && rkm->offset <= p->backlog[p->backlog_n - 1].rkm->offset)) {
        rd_kafka_message_destroy(rkm);
        return false;
    }
    if (p->backlog_n == p->backlog_cap) {
        p->backlog_cap = p->backlog_cap ? p->backlog_cap * 2 : 256;
        p->backlog = sq_xrealloc(p->backlog, p->backlog_cap * sizeof *p->backlog);
    }
    p->backlog[p->backlog_n++] = (struct sq_fetched){rkm, now_mono};
    return true;
}

void sq_part_applied(struct sq_part *p, int64_t last)
{
    if (last > p->applied)
        p->applied = last;
    if (p->applied + 1 > p->commit_next)
        p->commit_next = p->applied + 1;
}

rd_kafka_topic_partition_list_t *sq_parts_commit_list(struct sq_parts *ps)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < ps->n; i++) {
        struct sq_part *p = ps->v[i];
        if (p->commit_next < 0 || p->commit_next <= p->commit_sent)
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new((int)ps->n);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->commit_next;
        p->commit_sent = p->commit_next;
    }
    return l;
}

void sq_parts_commit_done(struct sq_parts *ps, const rd_kafka_topic_partition_list_t *offsets)
{
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        struct sq_part *p = sq_parts_find(ps, tp->topic, tp->partition);
        if (!p)
            continue;
        if (tp->err) {
            /* Commit again with the next batch. */
            if (p->commit_sent == tp->offset)
                p->commit_sent = p->committed;
        } else if (tp->offset > p->committed) {
            p->committed = tp->offset;
        }
    }
}

int64_t sq_part_next_offset(const struct sq_part *p, int64_t lo)
{
    int64_t next;
    if (p->need_init)
        return -1;
    if (p->applied >= 0)
        next = p->applied + 1;
    else if (p->start_from == SQ_START_EARLIEST)
        next = lo;
    else
        next = p->start_from;
    return next >= 0 && lo > next ? lo : next;
}

int64_t sq_part_quiet_since(const struct sq_part *p)
{
    return p->stall_clock_mono_ms > p->last_fetch_mono_ms ? p->stall_clock_mono_ms
                                                          : p->last_fetch_mono_ms;
}

int64_t sq_part_pending_from(const struct sq_part *p, int64_t lo)
{
    return p->committed >= 0 ? p->committed : sq_part_next_offset(p, lo);
}

bool sq_part_messages_wait(const struct sq_part *p, int64_t lo, int64_t hi)
{
    int64_t next = sq_part_next_offset(p, lo);
    return next >= 0 && next < hi && p->eof_offset < hi;
}

bool sq_part_stalled(const struct sq_part *p, int64_t lo, int64_t hi, int64_t now_mono,
                     int64_t stall_ms)
{
    if (stall_ms <= 0 || hi < 0 || p->backlog_n || !sq_part_messages_wait(p, lo, hi))
        return false;
    int64_t next = sq_part_next_offset(p, lo);
    int64_t wait = next == p->stall_next && p->stall_wait_ms > stall_ms ? p->stall_wait_ms
                                                                        : stall_ms;
    return now_mono - sq_part_quiet_since(p) >= wait;
}

bool sq_part_stall_restart(struct sq_part *p, int64_t next, int64_t stall_ms, int64_t now_mono)
{
    bool again = next == p->stall_next;
    if (again) {
        p->stall_wait_ms = 2 * p->stall_wait_ms;
        if (p->stall_wait_ms > 3600000)
            p->stall_wait_ms = 3600000;
    } else {
        p->stall_next = next;
        p->stall_wait_ms = 2 * stall_ms;
    }
    p->stall_clock_mono_ms = now_mono;
    return again;
}
