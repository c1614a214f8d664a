/* ticket_timers.c: overdue timers of open tickets in the store, and the
 * few due soon in memory (ticket_timers.h). */
#include "ticket_timers.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"

#define SQ_TIMERS_READ_MAX 1000 /* index entries a read takes at once */

/* A partition whose timers this instance fires: its timer hash and index,
 * and how far its index has been read into memory. */
struct sq_timer_part {
    char *topic;
    int32_t partition;
    char *hkey;        /* {prefix}timers:{topic}:{partition} */
    char *zkey;        /* {prefix}timers-due:{topic}:{partition} */
    int64_t loaded_to; /* every timer due before it is in memory; INT64_MIN: none read */
};

/* A ticket's timer in memory, as one partition's index holds it. */
struct sq_timer_cand {
    struct sq_timer_part *part;
    int64_t due_ms;
    int opening;
    char *customer_id; /* NULL when the timer hash had none */
};

/* A ticket's timers in memory: normally one; more when its events came in
 * more than one partition and each index holds a timer for it. The heap
 * holds the earliest; the others follow it when it fires (a stale one
 * fires as nothing: the ticket's state no longer has that deadline). */
struct sq_timer_owner {
    struct sq_timer_cand *c;
    size_t n;
};

static void sq_timer_owner_free(struct sq_timer_owner *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(o->c[i].customer_id);
    free(o->c);
    free(o);
}

static void sq_owner_free_each(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    sq_timer_owner_free(value);
}

void sq_ticket_timers_init(struct sq_ticket_timers *tt, const struct sq_settings *st)
{
    memset(tt, 0, sizeof *tt);
    tt->st = st;
    sq_timers_init(&tt->mem);
    sq_strmap_init(&tt->owner);
}

static void sq_timer_part_free(struct sq_timer_part *p)
{
    free(p->topic);
    free(p->hkey);
    free(p->zkey);
    free(p);
}

void sq_ticket_timers_fini(struct sq_ticket_timers *tt)
{
    sq_timers_fini(&tt->mem);
    sq_strmap_each(&tt->owner, sq_owner_free_each, NULL);
    sq_strmap_fini(&tt->owner);
    for (size_t i = 0; i < tt->nparts; i++)
        sq_timer_part_free(tt->parts[i]);
    free(tt->parts);
    tt->parts = NULL;
    tt->nparts = 0;
}

static struct sq_timer_part *sq_part_find(const struct sq_ticket_timers *tt, const char *topic,
                                          int32_t partition)
{
    for (size_t i = 0; i < tt->nparts; i++)
        if (tt->parts[i]->partition == partition && strcmp(tt->parts[i]->topic, topic) == 0)
            return tt->parts[i];
    return NULL;
}

/* topic/partition's entry, made (nothing read yet) when absent. */
static struct sq_timer_part *sq_part_get(struct sq_ticket_timers *tt, const char *topic,
                                         int32_t partition)
{
    struct sq_timer_part *p = sq_part_find(tt, topic, partition);
    if (p)
        return p;
    p = sq_xcalloc(1, sizeof *p);
    p->topic = sq_xstrdup(topic);
    p->partition = partition;
    char *t = sq_key_escape_dup(topic, strlen(topic));
    p->hkey = sq_xasprintf("%stimers:%s:%d", tt->st->redis_prefix, t, (int)partition);
    p->zkey = sq_xasprintf("%stimers-due:%s:%d", tt->st->redis_prefix, t, (int)partition);
    free(t);
    p->loaded_to = INT64_MIN;
    tt->parts = sq_xrealloc(tt->parts, (tt->nparts + 1) * sizeof *tt->parts);
    tt->parts[tt->nparts++] = p;
    return p;
}

/* Where a read that brings p up to limit_ms + the horizon ends, or
 * INT64_MIN when p needs none: it is read ahead by half a horizon at
 * least, so a busy partition is read once in that much event time. */
static int64_t sq_part_read_to(const struct sq_timer_part *p, int64_t limit_ms)
{
    int64_t want = limit_ms > INT64_MAX - SQ_TIMERS_HORIZON_MS ? INT64_MAX
                                                                : limit_ms + SQ_TIMERS_HORIZON_MS;
    if (p->loaded_to != INT64_MIN && p->loaded_to >= limit_ms + SQ_TIMERS_HORIZON_MS / 2)
        return INT64_MIN;
    return want;
}

/* The topic a message's timers belong to (the batch's, else its own). */
static const char *sq_msg_timer_topic(const struct sq_batch *batch, const struct sq_msg *m)
{
    return batch->topic ? batch->topic : m->topic;
}

/* Calls fn for each partition of the batch's messages, once each (a
 * turn's messages come a partition after another, so few comparisons). */
static void sq_batch_parts_each(const struct sq_batch *batch,
                                void (*fn)(const char *topic, int32_t partition, void *arg),
                                void *arg)
{
    struct seen {
        const char *topic;
        int32_t partition;
    } *seen = NULL;
    size_t nseen = 0;
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        const char *topic = sq_msg_timer_topic(batch, m);
        if (!topic || (nseen && seen[nseen - 1].partition == m->partition &&
                       strcmp(seen[nseen - 1].topic, topic) == 0))
            continue;
        bool known = false;
        for (size_t k = 0; k < nseen && !known; k++)
            known = seen[k].partition == m->partition && strcmp(seen[k].topic, topic) == 0;
        if (known)
            continue;
        seen = sq_xrealloc(seen, (nseen + 1) * sizeof *seen);
        seen[nseen++] = (struct seen){topic, m->partition};
        fn(topic, m->partition, arg);
    }
    free(seen);
}

struct sq_plan_ctx {
    struct sq_ticket_timers *tt;
    int64_t limit_ms;
    struct sq_store_reads *reads;
};

static void sq_plan_part(const char *topic, int32_t partition, void *arg)
{
    struct sq_plan_ctx *c = arg;
    struct sq_timer_part *p = sq_part_get(c->tt, topic, partition);
    int64_t to = sq_part_read_to(p, c->limit_ms);
    if (to != INT64_MIN)
        sq_store_reads_add_due(c->reads, p->zkey, p->hkey, p->loaded_to, to, 0, SQ_TIMERS_READ_MAX);
}

void sq_ticket_timers_plan(struct sq_ticket_timers *tt, const struct sq_batch *batch,
                           int64_t limit_ms, struct sq_store_reads *reads)
{
    struct sq_plan_ctx c = {tt, limit_ms, reads};
    sq_batch_parts_each(batch, sq_plan_part, &c);
}

/* The index of o's earliest timer (o->n > 0): the one the heap holds. */
static size_t sq_owner_earliest(const struct sq_timer_owner *o)
{
    size_t m = 0;
    for (size_t i = 1; i < o->n; i++)
        if (o->c[i].due_ms < o->c[m].due_ms)
            m = i;
    return m;
}

/* The heap's entry for ticket_id: its earliest timer in memory; the
 * owner goes when it has none left. */
static void sq_owner_settle(struct sq_ticket_timers *tt, const char *ticket_id,
                            struct sq_timer_owner *o)
{
    if (!o->n) {
        sq_timers_cancel(&tt->mem, ticket_id);
        sq_timer_owner_free(sq_strmap_del(&tt->owner, ticket_id));
        return;
    }
    size_t m = sq_owner_earliest(o);
    sq_timers_set(&tt->mem, ticket_id, o->c[m].due_ms, o->c[m].opening);
}

static void sq_owner_remove(struct sq_timer_owner *o, size_t i)
{
    free(o->c[i].customer_id);
    o->c[i] = o->c[--o->n];
}

/* Puts partition p's timer of ticket_id into memory, beside those other
 * partitions' indexes hold for it. */
static void sq_mem_put(struct sq_ticket_timers *tt, struct sq_timer_part *p, const char *ticket_id,
                       int64_t due_ms, int opening, const char *customer_id)
{
    void **slot = sq_strmap_ref(&tt->owner, ticket_id);
    struct sq_timer_owner *o = *slot;
    if (!o)
        o = *slot = sq_xcalloc(1, sizeof *o);
    size_t i = 0;
    while (i < o->n && o->c[i].part != p)
        i++;
    if (i == o->n) {
        o->c = sq_xrealloc(o->c, (o->n + 1) * sizeof *o->c);
        o->n++;
    } else {
        free(o->c[i].customer_id);
    }
    o->c[i] = (struct sq_timer_cand){p, due_ms, opening,
                                     customer_id ? sq_xstrdup(customer_id) : NULL};
    sq_owner_settle(tt, ticket_id, o);
}

/* Ends, in the store (op U, only if still due then) and in memory, the
 * timers of ticket_id that partitions other than keep hold in memory:
 * the ticket's latest event decided its timer in keep. */
static void sq_end_others(struct sq_ticket_timers *tt, struct sq_state_ops *ops,
                          const char *ticket_id, const struct sq_timer_part *keep)
{
    struct sq_timer_owner *o = sq_strmap_get(&tt->owner, ticket_id);
    if (!o)
        return;
    for (size_t i = o->n; i-- > 0;) {
        if (o->c[i].part == keep)
            continue;
        sq_op_timer_drop(ops, o->c[i].part->hkey, o->c[i].part->zkey, ticket_id, o->c[i].due_ms);
        sq_owner_remove(o, i);
    }
    sq_owner_settle(tt, ticket_id, o);
}

/* Installs a due read's answer (store.h) into memory; returns the entries
 * it held. */
static size_t sq_mem_install(struct sq_ticket_timers *tt, struct sq_timer_part *p, const char *value)
{
    json_error_t jerr;
    json_t *a = value ? json_loads(value, 0, &jerr) : NULL;
    size_t n = json_array_size(a);
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_array_get(a, k);
        const char *tid = json_string_value(json_array_get(e, 0));
        int64_t due = json_integer_value(json_array_get(e, 1));
        const char *v = json_string_value(json_array_get(e, 2)); /* "due|opening|customer" */
        if (!tid)
            continue;
        int opening = 0;
        const char *cust = NULL;
        char *end;
        if (v) {
            strtoll(v, &end, 10);
            if (*end == '|') {
                opening = (int)strtol(end + 1, &end, 10);
                if (*end == '|')
                    cust = end + 1;
            }
        }
        sq_mem_put(tt, p, tid, due, opening, cust);
    }
    json_decref(a);
    return n;
}

/* Reads p's timers due in [from, to) into memory, a page at a time; then
 * every timer of p due before to is in memory. */
static int sq_part_load(struct sq_ticket_timers *tt, struct sq_timer_part *p, struct sq_store *store,
                        int64_t from, int64_t to, struct sq_err *err)
{
    for (size_t offset = 0;; offset += SQ_TIMERS_READ_MAX) {
        struct sq_store_reads reads = {0};
        sq_store_reads_add_due(&reads, p->zkey, p->hkey, from, to, offset, SQ_TIMERS_READ_MAX);
        int rc = sq_store_read(store, &reads, err);
        size_t n = rc == SQ_OK ? sq_mem_install(tt, p, reads.v[0].value) : 0;
        sq_store_reads_fini(&reads);
        if (rc != SQ_OK)
            return rc;
        if (n < SQ_TIMERS_READ_MAX)
            break;
    }
    p->loaded_to = to;
    return SQ_OK;
}

struct sq_load_ctx {
    struct sq_ticket_timers *tt;
    struct sq_store *store;
    int64_t limit_ms;
    struct sq_err *err;
    int rc;
};

static void sq_load_batch_part(const char *topic, int32_t partition, void *arg)
{
    struct sq_load_ctx *c = arg;
    if (c->rc != SQ_OK)
        return;
    struct sq_timer_part *p = sq_part_get(c->tt, topic, partition);
    int64_t to = sq_part_read_to(p, c->limit_ms);
    if (to != INT64_MIN)
        c->rc = sq_part_load(c->tt, p, c->store, p->loaded_to, to, c->err);
}

int sq_ticket_timers_load(struct sq_ticket_timers *tt, const struct sq_batch *batch,
                          struct sq_store *store, int64_t limit_ms, struct sq_err *err)
{
    /* the batch's partitions: read as planned (from the prefetch) */
    struct sq_load_ctx c = {tt, store, limit_ms, err, SQ_OK};
    sq_batch_parts_each(batch, sq_load_batch_part, &c);
    /* the others whose timers may fall due in this batch, when no turn
     * holds them (a turn that does reads them itself) */
    for (size_t i = 0; c.rc == SQ_OK && i < tt->nparts; i++) {
        struct sq_timer_part *p = tt->parts[i];
        if (p->loaded_to != INT64_MIN && p->loaded_to >= limit_ms)
            continue;
        if (batch->part_idle && !batch->part_idle(batch->part_idle_arg, p->topic, p->partition))
            continue;
        int64_t to = sq_part_read_to(p, limit_ms);
        if (to != INT64_MIN)
            c.rc = sq_part_load(tt, p, store, p->loaded_to, to, err);
    }
    return c.rc;
}

int sq_ticket_timers_load_all(struct sq_ticket_timers *tt, struct sq_store *store,
                              int64_t limit_ms, struct sq_err *err)
{
    for (size_t i = 0; i < tt->nparts; i++) {
        struct sq_timer_part *p = tt->parts[i];
        if (p->loaded_to != INT64_MIN && p->loaded_to >= limit_ms)
            continue;
        int rc = sq_part_load(tt, p, store, p->loaded_to, limit_ms, err);
        if (rc != SQ_OK)
            return rc;
    }
    return SQ_OK;
}

int sq_ticket_timers_resync(struct sq_ticket_timers *tt, struct sq_store *store, struct sq_err *err)
{
    for (size_t i = 0; i < tt->nparts; i++) {
        struct sq_timer_part *p = tt->parts[i];
        if (p->loaded_to == INT64_MIN)
            continue; /* nothing read yet: its next read takes all */
        int rc = sq_part_load(tt, p, store, INT64_MIN, p->loaded_to, err);
        if (rc != SQ_OK)
            return rc;
    }
    return SQ_OK;
}

void sq_ticket_timers_arm(struct sq_ticket_timers *tt, struct sq_state_ops *ops, const char *topic,
                          int32_t partition, const char *ticket_id, int64_t due_ms, int opening,
                          const char *customer_id)
{
    struct sq_timer_part *p = sq_part_get(tt, topic, partition);
    char *v = sq_xasprintf("%lld|%d|%s", (long long)due_ms, opening, customer_id);
    sq_op_timer_arm(ops, p->hkey, p->zkey, ticket_id, due_ms, v,
                    tt->st->retention_customer_days * 86400);
    free(v);
    sq_end_others(tt, ops, ticket_id, p);
    if (p->loaded_to != INT64_MIN && due_ms < p->loaded_to) {
        sq_mem_put(tt, p, ticket_id, due_ms, opening, customer_id);
    } else {
        /* past the horizon: read again when it comes near */
        struct sq_timer_owner *o = sq_strmap_get(&tt->owner, ticket_id);
        if (o) {
            if (o->n)
                sq_owner_remove(o, 0); /* p's own: the others are ended */
            sq_owner_settle(tt, ticket_id, o);
        }
    }
}

void sq_ticket_timers_cancel(struct sq_ticket_timers *tt, struct sq_state_ops *ops,
                             const char *topic, int32_t partition, const char *ticket_id)
{
    struct sq_timer_part *p = sq_part_get(tt, topic, partition);
    sq_op_timer_drop(ops, p->hkey, p->zkey, ticket_id, INT64_MIN);
    sq_end_others(tt, ops, ticket_id, p);
    struct sq_timer_owner *o = sq_strmap_get(&tt->owner, ticket_id);
    if (o) {
        if (o->n)
            sq_owner_remove(o, 0); /* p's own: the others are ended */
        sq_owner_settle(tt, ticket_id, o);
    }
}

bool sq_ticket_timers_pop_due(struct sq_ticket_timers *tt, int64_t limit_ms,
                              struct sq_ticket_timer *out)
{
    struct sq_timer_due d;
    if (!sq_timers_pop_due(&tt->mem, limit_ms, &d))
        return false;
    out->ticket_id = d.key; /* taken */
    out->due_ms = d.due_ms;
    out->opening = d.opening;
    out->customer_id = NULL;
    out->part = NULL;
    struct sq_timer_owner *o = sq_strmap_get(&tt->owner, d.key);
    if (o && o->n) {
        size_t m = sq_owner_earliest(o); /* the one the heap held */
        out->customer_id = o->c[m].customer_id; /* taken */
        out->part = o->c[m].part;
        out->opening = o->c[m].opening;
        o->c[m].customer_id = NULL;
        sq_owner_remove(o, m);
        sq_owner_settle(tt, d.key, o); /* the next of another partition, if any */
    } else if (o) {
        sq_owner_settle(tt, d.key, o);
    }
    return true;
}

bool sq_ticket_timers_next_due(struct sq_ticket_timers *tt, int64_t *due_ms)
{
    return sq_timers_next_due(&tt->mem, due_ms);
}

void sq_ticket_timers_end(struct sq_state_ops *ops, const struct sq_ticket_timer *t)
{
    if (t->part)
        sq_op_timer_drop(ops, t->part->hkey, t->part->zkey, t->ticket_id, t->due_ms);
}

void sq_ticket_timers_put_back(struct sq_ticket_timers *tt, struct sq_ticket_timer *t)
{
    if (t->part)
        sq_mem_put(tt, t->part, t->ticket_id, t->due_ms, t->opening, t->customer_id);
    sq_ticket_timer_fini(t);
}

void sq_ticket_timer_fini(struct sq_ticket_timer *t)
{
    free(t->ticket_id);
    free(t->customer_id);
    memset(t, 0, sizeof *t);
}

int sq_ticket_timers_assigned(struct sq_ticket_timers *tt, struct sq_store *store,
                              const char *topic, int32_t partition, struct sq_err *err)
{
    struct sq_timer_part *p = sq_part_get(tt, topic, partition);
    p->loaded_to = INT64_MIN; /* read again from the store: another owner may have moved it */
    return sq_store_index_timers(store, p->hkey, p->zkey, err);
}

struct sq_revoke_ctx {
    const struct sq_timer_part *part;
    char **touched;
    size_t n;
};

static void sq_collect_part(const char *key, void *value, void *arg)
{
    struct sq_revoke_ctx *rc = arg;
    const struct sq_timer_owner *o = value;
    for (size_t i = 0; i < o->n; i++) {
        if (o->c[i].part == rc->part) {
            rc->touched = sq_xrealloc(rc->touched, (rc->n + 1) * sizeof *rc->touched);
            rc->touched[rc->n++] = sq_xstrdup(key);
            return;
        }
    }
}

void sq_ticket_timers_revoked(struct sq_ticket_timers *tt, const char *topic, int32_t partition)
{
    struct sq_timer_part *p = sq_part_find(tt, topic, partition);
    if (!p)
        return;
    struct sq_revoke_ctx rc = {p, NULL, 0};
    sq_strmap_each(&tt->owner, sq_collect_part, &rc);
    for (size_t i = 0; i < rc.n; i++) {
        struct sq_timer_owner *o = sq_strmap_get(&tt->owner, rc.touched[i]);
        for (size_t k = o->n; k-- > 0;)
            if (o->c[k].part == p)
                sq_owner_remove(o, k);
        sq_owner_settle(tt, rc.touched[i], o);
        free(rc.touched[i]);
    }
    free(rc.touched);
    for (size_t i = 0; i < tt->nparts; i++) {
        if (tt->parts[i] == p) {
            tt->parts[i] = tt->parts[--tt->nparts];
            break;
        }
    }
    sq_timer_part_free(p);
}

size_t sq_ticket_timers_in_memory(const struct sq_ticket_timers *tt)
{
    return sq_timers_count(&tt->mem);
}
