/* store.h: the state store the processors read through. Two back ends:
 * Redis for `sqgate run` (gateway/store_redis.c: one pipelined round trip per
 * read call, writes applied by the partition's atomic step) and in-process
 * for `sqgate replay` and unit tests (processors/store_mem.c). Processors
 * read once per batch and write by appending ops to batch->ops; both back
 * ends apply the same ops with the same meaning. */
#ifndef SQ_STORE_H
#define SQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "processor.h"
#include "sq_common.h"

/* One (key, field) read. value is malloc'd by the store (NULL: absent) and
 * released by the caller (sq_store_reads_fini). field NULL reads the whole
 * hash: value is then a JSON object of its fields (NULL when absent). With
 * member set, field is a member of the set at key, and value is "1" when
 * the set holds it (NULL when not): a dedupe mark (D below). With due set
 * (sq_store_reads_add_due), key is a timer index and field its timer hash
 * (T below): value is [[member, due, hash value or null], …], the index's
 * entries of from_ms ≤ due < limit_ms in (due, member) order, from the
 * offset-th, at most count; NULL when there are none. */
struct sq_store_read {
    char *key;
    char *field;
    char *value;
    bool member;
    bool due;
    int64_t from_ms, limit_ms;
    size_t offset, count;
};

struct sq_store_reads {
    struct sq_store_read *v;
    size_t n, cap;
};
/* Adds a read (copies key and field) and returns its index. */
size_t sq_store_reads_add(struct sq_store_reads *r, const char *key, const char *field);
/* Adds a read of whether the set at key holds member; its index. */
size_t sq_store_reads_add_member(struct sq_store_reads *r, const char *key, const char *member);
/* Adds a read of the timers of index zkey (and hash hkey) due in
 * [from_ms, limit_ms), from the offset-th, at most count; its index. */
size_t sq_store_reads_add_due(struct sq_store_reads *r, const char *zkey, const char *hkey,
                              int64_t from_ms, int64_t limit_ms, size_t offset, size_t count);
void sq_store_reads_fini(struct sq_store_reads *r);

struct sq_store;
struct sq_store_vt {
    /* Fills every value. SQ_OK, or SQ_ERR_TRANSIENT (retry the batch). */
    int (*read)(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err);
    /* Optional: reads r now and answers later reads of the same (key,
     * field) pairs from what it read, until the next prefetch (r NULL:
     * forget them). For a round trip per read call, several processors'
     * reads in one (sq_chain_process). */
    int (*prefetch)(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err);
    /* Optional: makes the timer index zkey hold every timer of the hash
     * hkey (T below), for a hash written before the index existed. */
    int (*index_timers)(struct sq_store *s, const char *hkey, const char *zkey,
                        struct sq_err *err);
};
struct sq_store {
    const struct sq_store_vt *vt;
};

static inline int sq_store_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    return s->vt->read(s, r, err);
}

static inline bool sq_store_can_prefetch(const struct sq_store *s)
{
    return s->vt->prefetch != NULL;
}

static inline int sq_store_prefetch(struct sq_store *s, struct sq_store_reads *r,
                                    struct sq_err *err)
{
    return s->vt->prefetch ? s->vt->prefetch(s, r, err) : SQ_OK;
}

static inline int sq_store_index_timers(struct sq_store *s, const char *hkey, const char *zkey,
                                        struct sq_err *err)
{
    return s->vt->index_timers ? s->vt->index_timers(s, hkey, zkey, err) : SQ_OK;
}

/* The ops (flat arguments) both back ends apply, per message:
 *   M idx                     start of message idx's ops
 *   D key member ttl_s        dedupe mark, a message's first op (SADD to
 *                             the set key): if the set already holds
 *                             member (or an earlier message of the list
 *                             added it), message idx is a
 *                             duplicate: none of its ops apply and idx is
 *                             reported back (the Redis step writes nothing
 *                             then and the gateway sends it again without
 *                             those messages: gateway/redis_link.c)
 *   C key n t eid tc region tier ttl_s c30 cx_t cx_s cx_hl nb bt bc od
 *                             customer hash, read and written once: events_total
 *                             += n; last_event_at / last_event_id / region /
 *                             tier from the greatest (t, eid); last_contact_at
 *                             = max(tc); contacts_30d = c30; cx_index with the
 *                             score cx_s at cx_t (cx_num, cx_den, cx_t0: an
 *                             order-free decayed mean, half-life cx_hl ms,
 *                             SPEC 5, written as round(x * 10) / 10, SPEC 15);
 *                             breaches_total += nb; last_breach_at /
 *                             last_breach_code from the greatest (bt, bc) as G
 *                             does; open_tickets += od. An empty tc, region,
 *                             tier, c30, cx_t or bt leaves its fields alone
 *   H key ttl_s n f1 v1 … fn vn   HSET fields (ttl_s 0: no expiry)
 *   X key                     DEL key
 *   R key field               HDEL key field
 *   I key field n ttl_s       HINCRBY key field n
 *   K key ttl_s n f1 b1 … fn bn   HINCRBY key fi bi for each pair
 *   V key ttl_s counters      K of every nonzero KPI counter (kpi.h) in
 *                             counters: one binary argument of 9 bytes per
 *                             nonzero counter (its index, then its native
 *                             int64), the aggregate processor's form (no
 *                             numbers formatted per message); the chain's
 *                             sums and the Redis step turn it into K before it
 *                             leaves the process (gateway/redis_link.c)
 *   W prefix cell end_ms      a KPI window cell was touched (SPEC 6, run):
 *                             HINCRBY {prefix}win:gen cell 1; if the cell
 *                             was emitted ({prefix}win:rev has it) SADD
 *                             {prefix}win:dirty cell, else ZADD NX
 *                             {prefix}win:open end_ms cell (gateway/closer.c)
 *   Z key ttl_s keep score member   ZADD, then keep only the `keep` highest
 *   G key tf t vf v ttl_s     if (t, v) is later than the stored (tf, vf)
 *                             (strings, byte order), HSET tf t vf v
 *   T hkey zkey m due v ttl_s a timer: HSET hkey m v and ZADD zkey due m
 *                             (the index a due read answers from)
 *   U hkey zkey m due         a timer's end: HDEL hkey m and ZREM zkey m; with
 *                             due not empty, only the timer due then (the
 *                             index's score is due, the hash's value starts
 *                             "due|"): a fire or a cancel made by one turn
 *                             leaves a timer another turn's step re-armed
 *   Y <op>                    deferred: <op> (K, V or W) is applied after the
 *                             whole list, and only when some message of it
 *                             was a duplicate (a duplicate's own Y ops are
 *                             skipped with the rest of its ops)
 *   B                         the batch section: ops after it belong to no
 *                             message
 *   S <op>                    a batch sum: applied after the whole list, only
 *                             when no message was a duplicate. The chain adds
 *                             B and one S per KPI hash and window cell, the
 *                             sums of the messages' Y ops (processors/
 *                             state_ops.c), so a batch costs one HINCRBY per
 *                             counter and cell, not one per message.
 * Op helpers append to an op list: */
void sq_op_message(struct sq_state_ops *ops, size_t idx);
/* An op's code letter, or 0 when op is not a single letter. */
static inline char sq_op_code(const char *op)
{
    return op[0] && !op[1] ? op[0] : 0;
}
void sq_op_dedupe(struct sq_state_ops *ops, const char *key, const char *field, int64_t ttl_s);
void sq_op_del(struct sq_state_ops *ops, const char *key);
void sq_op_hdel(struct sq_state_ops *ops, const char *key, const char *field);
void sq_op_hincr(struct sq_state_ops *ops, const char *key, const char *field, int64_t n,
                 int64_t ttl_s);
struct sq_kpi_counters;
/* A V op of c's counters. */
void sq_op_kpi_add(struct sq_state_ops *ops, const char *key, int64_t ttl_s,
                   const struct sq_kpi_counters *c);
/* The counters of a V op's last argument; false when it is not a list of
 * (index, value) records of known counters. */
bool sq_op_kpi_counters(const char *arg, size_t len, struct sq_kpi_counters *out);
/* Appends the V op at a[i] (len: the arguments' lengths) as the K op of its
 * nonzero counters, the form the Redis scripts know; the key, the TTL and
 * the counter names are pointed at, not copied. false (nothing appended)
 * when its last argument is not a counter list. */
bool sq_op_kpi_as_k(struct sq_state_ops *out, char *const *a, const size_t *len, size_t i);
/* The field names are not copied: they must outlive ops (the KPI counter
 * names are static). */
void sq_op_hincr_each(struct sq_state_ops *ops, const char *key, int64_t ttl_s, size_t n,
                      const char *const *fields, const int64_t *by);
void sq_op_window_touch(struct sq_state_ops *ops, const char *prefix, const char *cell,
                        int64_t end_ms);
void sq_op_zadd_keep(struct sq_state_ops *ops, const char *key, int64_t ttl_s, int keep,
                     int64_t score, const char *member);
void sq_op_latest(struct sq_state_ops *ops, const char *key, const char *tfield, const char *t,
                  const char *vfield, const char *v, int64_t ttl_s);
void sq_op_timer_arm(struct sq_state_ops *ops, const char *hkey, const char *zkey,
                     const char *member, int64_t due_ms, const char *value, int64_t ttl_s);
/* U: due_ms INT64_MIN ends member's timer whatever its due time. */
void sq_op_timer_drop(struct sq_state_ops *ops, const char *hkey, const char *zkey,
                      const char *member, int64_t due_ms);
/* H with n field/value pairs given as a NULL-terminated list. */
void sq_op_hset(struct sq_state_ops *ops, const char *key, int64_t ttl_s, const char *const *fv);

/* In-process back end. */
struct sq_store_mem;
struct sq_store_mem *sq_store_mem_new(void);
void sq_store_mem_free(struct sq_store_mem *m);
struct sq_store *sq_store_mem_base(struct sq_store_mem *m);
/* Applies a batch's ops; message indexes found duplicate are returned in
 * *dups (malloc'd, *ndups entries). Returns SQ_OK or SQ_ERR_FATAL on a bad
 * op list (a bug). */
int sq_store_mem_apply(struct sq_store_mem *m, const struct sq_state_ops *ops, size_t **dups,
                       size_t *ndups, struct sq_err *err);
/* Direct access for tests and replay summaries: a field's value or NULL. */
const char *sq_store_mem_hget(struct sq_store_mem *m, const char *key, const char *field);
/* The members of a sorted set, lowest score first, as a JSON array of
 * strings (new reference; empty array when absent). */
json_t *sq_store_mem_zrange(struct sq_store_mem *m, const char *key);

/* The cx_index update both back ends perform (SPEC 5), on (num, den, t0). */
void sq_cx_apply(double *num, double *den, int64_t *t0_ms, int have, int64_t t_ms, double s,
                 int64_t half_life_ms);

#endif
