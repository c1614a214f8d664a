/* store_mem.c: the in-process state store of `sqgate replay` and unit tests,
 * and the op helpers shared with the Redis back end. Ops mean exactly what
 * the Redis step script (gateway/redis_link.c) makes them mean. Expiry is
 * not modelled: a replay is one run over a log. */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "kpi.h"
#include "score.h"
#include "strmap.h"
#include "timers.h"

/* A V op's record of one counter: its index, then its native int64. */
#define SQ_KC_REC 9

size_t sq_store_reads_add(struct sq_store_reads *r, const char *key, const char *field)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = sq_xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n] = (struct sq_store_read){.key = sq_xstrdup(key),
                                        .field = field ? sq_xstrdup(field) : NULL};
    return r->n++;
}

size_t sq_store_reads_add_due(struct sq_store_reads *r, const char *zkey, const char *hkey,
                              int64_t from_ms, int64_t limit_ms, size_t offset, size_t count)
{
    size_t at = sq_store_reads_add(r, zkey, hkey);
    r->v[at].due = true;
    r->v[at].from_ms = from_ms;
    r->v[at].limit_ms = limit_ms;
    r->v[at].offset = offset;
    r->v[at].count = count;
    return at;
}

size_t sq_store_reads_add_member(struct sq_store_reads *r, const char *key, const char *member)
{
    size_t at = sq_store_reads_add(r, key, member);
    r->v[at].member = true;
    return at;
}

void sq_store_reads_fini(struct sq_store_reads *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].field);
        free(r->v[i].value);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

void sq_op_message(struct sq_state_ops *ops, size_t idx)
{
    sq_state_ops_push_borrowed(ops, "M", 1);
    sq_state_ops_push_i64(ops, (int64_t)idx);
}

void sq_op_dedupe(struct sq_state_ops *ops, const char *key, const char *field, int64_t ttl_s)
{
    sq_state_ops_push_borrowed(ops, "D", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_str(ops, field);
    sq_state_ops_push_i64(ops, ttl_s);
}

void sq_op_del(struct sq_state_ops *ops, const char *key)
{
    sq_state_ops_push_borrowed(ops, "X", 1);
    sq_state_ops_push_str(ops, key);
}

void sq_op_hdel(struct sq_state_ops *ops, const char *key, const char *field)
{
    sq_state_ops_push_borrowed(ops, "R", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_str(ops, field);
}

void sq_op_hincr(struct sq_state_ops *ops, const char *key, const char *field, int64_t n,
                 int64_t ttl_s)
{
    sq_state_ops_push_borrowed(ops, "I", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_str(ops, field);
    sq_state_ops_push_i64(ops, n);
    sq_state_ops_push_i64(ops, ttl_s);
}

void sq_op_hincr_each(struct sq_state_ops *ops, const char *key, int64_t ttl_s, size_t n,
                      const char *const *fields, const int64_t *by)
{
    sq_state_ops_push_borrowed(ops, "K", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_i64(ops, ttl_s);
    sq_state_ops_push_i64(ops, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        sq_state_ops_push_borrowed(ops, fields[i], strlen(fields[i]));
        sq_state_ops_push_i64(ops, by[i]);
    }
}

void sq_op_kpi_add(struct sq_state_ops *ops, const char *key, int64_t ttl_s,
                   const struct sq_kpi_counters *c)
{
    sq_state_ops_push_borrowed(ops, "V", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_i64(ops, ttl_s);
    /* only the nonzero counters: a message touches a dozen cells with a few
     * counters each, and waits with its ops for its step */
    char rec[SQ_KC__COUNT * SQ_KC_REC];
    size_t n = 0;
    for (int k = 0; k < SQ_KC__COUNT; k++) {
        if (!c->v[k])
            continue;
        rec[n] = (char)k;
        memcpy(rec + n + 1, &c->v[k], sizeof c->v[k]);
        n += SQ_KC_REC;
    }
    sq_state_ops_push(ops, rec, n);
}

bool sq_op_kpi_counters(const char *arg, size_t len, struct sq_kpi_counters *out)
{
    if (len % SQ_KC_REC)
        return false;
    memset(out->v, 0, sizeof out->v);
    for (size_t at = 0; at < len; at += SQ_KC_REC) {
        unsigned char k = (unsigned char)arg[at];
        if (k >= SQ_KC__COUNT)
            return false;
        memcpy(&out->v[k], arg + at + 1, sizeof out->v[k]); /* not aligned */
    }
    return true;
}

bool sq_op_kpi_as_k(struct sq_state_ops *out, char *const *a, const size_t *len, size_t i)
{
    struct sq_kpi_counters c;
    if (!sq_op_kpi_counters(a[i + 3], len[i + 3], &c))
        return false;
    int64_t nf = 0;
    for (int k = 0; k < SQ_KC__COUNT; k++)
        nf += c.v[k] != 0;
    sq_state_ops_push_borrowed(out, "K", 1);
    sq_state_ops_push_borrowed(out, a[i + 1], len[i + 1]);
    sq_state_ops_push_borrowed(out, a[i + 2], len[i + 2]);
    sq_state_ops_push_i64(out, nf);
    for (int k = 0; k < SQ_KC__COUNT; k++) {
        if (!c.v[k])
            continue;
        const char *name = sq_kpi_counter_name((enum sq_kpi_counter)k);
        sq_state_ops_push_borrowed(out, name, strlen(name));
        sq_state_ops_push_i64(out, c.v[k]);
    }
    return true;
}

void sq_op_window_touch(struct sq_state_ops *ops, const char *prefix, const char *cell,
                        int64_t end_ms)
{
    sq_state_ops_push_borrowed(ops, "W", 1);
    sq_state_ops_push_str(ops, prefix);
    sq_state_ops_push_str(ops, cell);
    sq_state_ops_push_i64(ops, end_ms);
}

void sq_op_zadd_keep(struct sq_state_ops *ops, const char *key, int64_t ttl_s, int keep,
                     int64_t score, const char *member)
{
    sq_state_ops_push_borrowed(ops, "Z", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_i64(ops, ttl_s);
    sq_state_ops_push_i64(ops, keep);
    sq_state_ops_push_i64(ops, score);
    sq_state_ops_push_str(ops, member);
}

void sq_op_latest(struct sq_state_ops *ops, const char *key, const char *tfield, const char *t,
                  const char *vfield, const char *v, int64_t ttl_s)
{
    sq_state_ops_push_borrowed(ops, "G", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_str(ops, tfield);
    sq_state_ops_push_str(ops, t);
    sq_state_ops_push_str(ops, vfield);
    sq_state_ops_push_str(ops, v);
    sq_state_ops_push_i64(ops, ttl_s);
}

void sq_op_timer_arm(struct sq_state_ops *ops, const char *hkey, const char *zkey,
                     const char *member, int64_t due_ms, const char *value, int64_t ttl_s)
{
    sq_state_ops_push_borrowed(ops, "T", 1);
    sq_state_ops_push_str(ops, hkey);
    sq_state_ops_push_str(ops, zkey);
    sq_state_ops_push_str(ops, member);
    sq_state_ops_push_i64(ops, due_ms);
    sq_state_ops_push_str(ops, value);
    sq_state_ops_push_i64(ops, ttl_s);
}

void sq_op_timer_drop(struct sq_state_ops *ops, const char *hkey, const char *zkey,
                      const char *member, int64_t due_ms)
{
    sq_state_ops_push_borrowed(ops, "U", 1);
    sq_state_ops_push_str(ops, hkey);
    sq_state_ops_push_str(ops, zkey);
    sq_state_ops_push_str(ops, member);
    if (due_ms == INT64_MIN)
        sq_state_ops_push_borrowed(ops, "", 0);
    else
        sq_state_ops_push_i64(ops, due_ms);
}

void sq_op_hset(struct sq_state_ops *ops, const char *key, int64_t ttl_s, const char *const *fv)
{
    size_t n = 0;
    while (fv[2 * n])
        n++;
    sq_state_ops_push_borrowed(ops, "H", 1);
    sq_state_ops_push_str(ops, key);
    sq_state_ops_push_i64(ops, ttl_s);
    sq_state_ops_push_i64(ops, (int64_t)n);
    for (size_t i = 0; i < 2 * n; i++)
        sq_state_ops_push_str(ops, fv[i]);
}

/* ---- the in-process store ---------------------------------------------- */

/* One key's value: a hash (field → char *), a sorted set or a timer index
 * (T: a heap, so that arming and reading the due stay O(log n) with the
 * open tickets of a long log). */
struct sq_zentry {
    int64_t score;
    char *member;
};
struct sq_mem_obj {
    struct sq_strmap h;
    /* a KPI cell's V increments, summed here as integers (kc_present: the
     * counters a nonzero increment touched, which HINCRBY would have made
     * fields) and folded into h before anything else reads or writes it */
    struct sq_kpi_counters *kc;
    uint64_t kc_present;
    struct sq_zentry *z;
    size_t zn;
    struct sq_timers *tq;
    /* h as a whole-hash read gives it (sq_hash_json_dup), until the next
     * write; kept only once h was read whole twice without a write in
     * between (the active outages, read by every batch), so the KPI cells,
     * read once when they close, keep no copy */
    char *text;
    bool read_whole;  /* read whole since the last write */
};

struct sq_store_mem {
    struct sq_store base;
    struct sq_strmap keys; /* key → struct sq_mem_obj * */
    int kc_order[SQ_KC__COUNT]; /* counters in byte order of their names */
};

_Static_assert(SQ_KC__COUNT <= 64, "kc_present holds a bit per counter");

static void sq_free_value(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

static void sq_free_hash(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    struct sq_mem_obj *o = value;
    sq_strmap_each(&o->h, sq_free_value, NULL);
    sq_strmap_fini(&o->h);
    for (size_t i = 0; i < o->zn; i++)
        free(o->z[i].member);
    free(o->z);
    if (o->tq)
        sq_timers_fini(o->tq);
    free(o->tq);
    free(o->text);
    free(o->kc);
    free(o);
}

static void sq_hincr(struct sq_strmap *h, const char *field, long long by);

/* Folds o's summed V increments into its fields, as the HINCRBYs they
 * stand for would have left them. */
static void sq_obj_fold_kc(struct sq_mem_obj *o)
{
    if (!o->kc)
        return;
    for (int k = 0; k < SQ_KC__COUNT; k++)
        if (o->kc_present & (UINT64_C(1) << k))
            sq_hincr(&o->h, sq_kpi_counter_name((enum sq_kpi_counter)k), o->kc->v[k]);
    free(o->kc);
    o->kc = NULL;
    o->kc_present = 0;
}

/* The object at key with its fields folded, or NULL. */
static struct sq_mem_obj *sq_obj_get(struct sq_store_mem *m, const char *key)
{
    struct sq_mem_obj *o = sq_strmap_get(&m->keys, key);
    if (o)
        sq_obj_fold_kc(o);
    return o;
}

const char *sq_store_mem_hget(struct sq_store_mem *m, const char *key, const char *field)
{
    struct sq_mem_obj *o = sq_obj_get(m, key);
    return o ? sq_strmap_get(&o->h, field) : NULL;
}

json_t *sq_store_mem_zrange(struct sq_store_mem *m, const char *key)
{
    json_t *a = json_array();
    struct sq_mem_obj *o = sq_strmap_get(&m->keys, key);
    for (size_t i = 0; o && i < o->zn; i++)
        json_array_append_new(a, json_string(o->z[i].member));
    return a;
}

static void sq_add_field_json(const char *key, void *value, void *arg)
{
    json_object_set_new(arg, key, json_string(value));
}

/* A whole hash as a JSON object text, fields in byte order (deterministic). */
static char *sq_hash_json_dup(struct sq_mem_obj *o)
{
    json_t *obj = json_object();
    sq_strmap_each(&o->h, sq_add_field_json, obj);
    char *s = sq_json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS, NULL);
    json_decref(obj);
    return s;
}

/* The text sq_hash_json_dup would give for a hash of only summed V
 * increments (a KPI cell as the aggregator writes it), without building
 * the hash. */
static char *sq_kc_json_dup(const struct sq_store_mem *m, const struct sq_mem_obj *o)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_buf_append(&b, "{", 1);
    bool first = true;
    for (int i = 0; i < SQ_KC__COUNT; i++) {
        int k = m->kc_order[i];
        if (!(o->kc_present & (UINT64_C(1) << k)))
            continue;
        if (!first)
            sq_buf_append(&b, ",", 1);
        first = false;
        sq_buf_append(&b, "\"", 1);
        sq_buf_append_str(&b, sq_kpi_counter_name((enum sq_kpi_counter)k));
        sq_buf_append(&b, "\":\"", 3);
        sq_buf_append_i64(&b, o->kc->v[k]);
        sq_buf_append(&b, "\"", 1);
    }
    sq_buf_append(&b, "}", 1);
    return b.data;
}

/* A due read's answer (store.h) from a timer index and its hash: the
 * index's entries are taken off its heap in (due, member) order and put
 * back. */
static char *sq_timer_index_due_dup(struct sq_timers *tq, const struct sq_strmap *h,
                                    const struct sq_store_read *rd)
{
    json_t *due = json_array();
    struct sq_timer_due *taken = NULL;
    size_t n = 0, cap = 0, in_range = 0;
    struct sq_timer_due d;
    while (in_range < rd->offset + rd->count && sq_timers_pop_due(tq, rd->limit_ms, &d)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            taken = sq_xrealloc(taken, cap * sizeof *taken);
        }
        taken[n++] = d;
        if (d.due_ms >= rd->from_ms && in_range++ >= rd->offset) {
            const char *v = h ? sq_strmap_get(h, d.key) : NULL;
            json_array_append_new(due, json_pack("[s, I, o]", d.key, (json_int_t)d.due_ms,
                                                 v ? json_string(v) : json_null()));
        }
    }
    for (size_t k = 0; k < n; k++) {
        sq_timers_set(tq, taken[k].key, taken[k].due_ms, taken[k].opening);
        sq_timer_due_fini(&taken[k]);
    }
    free(taken);
    char *s = json_array_size(due) ? sq_json_dumps(due, JSON_COMPACT, NULL) : NULL;
    json_decref(due);
    return s;
}

static int sq_store_mem_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    (void)err;
    struct sq_store_mem *m = (struct sq_store_mem *)s;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].value);
        r->v[i].value = NULL;
        if (r->v[i].due) {
            struct sq_mem_obj *o = sq_strmap_get(&m->keys, r->v[i].key);
            struct sq_mem_obj *h = sq_obj_get(m, r->v[i].field);
            if (o && o->tq && sq_timers_count(o->tq))
                r->v[i].value = sq_timer_index_due_dup(o->tq, h ? &h->h : NULL, &r->v[i]);
            continue;
        }
        if (!r->v[i].field) {
            struct sq_mem_obj *o = sq_strmap_get(&m->keys, r->v[i].key);
            if (o && o->kc && !o->h.n && !o->read_whole) {
                r->v[i].value = sq_kc_json_dup(m, o);
                o->read_whole = true;
                continue;
            }
            if (o)
                sq_obj_fold_kc(o);
            if (o && o->h.n) {
                if (!o->text && o->read_whole)
                    o->text = sq_hash_json_dup(o);
                r->v[i].value = o->text ? sq_xstrdup(o->text) : sq_hash_json_dup(o);
                o->read_whole = true;
            }
            continue;
        }
        /* a set (the D op's) is kept as a hash of its members, each "1",
         * which is what a member read answers */
        const char *v = sq_store_mem_hget(m, r->v[i].key, r->v[i].field);
        r->v[i].value = v ? sq_xstrdup(v) : NULL;
    }
    return SQ_OK;
}

static const struct sq_store_vt sq_store_mem_vt = {.read = sq_store_mem_read};

static int sq_kc_name_cmp(const void *a, const void *b)
{
    return strcmp(sq_kpi_counter_name(*(const enum sq_kpi_counter *)a),
                  sq_kpi_counter_name(*(const enum sq_kpi_counter *)b));
}

struct sq_store_mem *sq_store_mem_new(void)
{
    struct sq_store_mem *m = sq_xcalloc(1, sizeof *m);
    m->base.vt = &sq_store_mem_vt;
    sq_strmap_init(&m->keys);
    enum sq_kpi_counter order[SQ_KC__COUNT];
    for (int k = 0; k < SQ_KC__COUNT; k++)
        order[k] = (enum sq_kpi_counter)k;
    qsort(order, SQ_KC__COUNT, sizeof *order, sq_kc_name_cmp);
    for (int k = 0; k < SQ_KC__COUNT; k++)
        m->kc_order[k] = (int)order[k];
    return m;
}

void sq_store_mem_free(struct sq_store_mem *m)
{
    if (!m)
        return;
    sq_strmap_each(&m->keys, sq_free_hash, NULL);
    sq_strmap_fini(&m->keys);
    free(m);
}

struct sq_store *sq_store_mem_base(struct sq_store_mem *m)
{
    return &m->base;
}

/* A write to o: its whole-hash text no longer holds. */
static void sq_obj_changed(struct sq_mem_obj *o)
{
    free(o->text);
    o->text = NULL;
    o->read_whole = false;
}

/* The object of key to write V increments to, made when absent; its
 * fields are not folded. */
static struct sq_mem_obj *sq_obj_of_raw(struct sq_store_mem *m, const char *key)
{
    void **slot = sq_strmap_ref(&m->keys, key);
    struct sq_mem_obj *o = *slot;
    if (!o) {
        o = sq_xcalloc(1, sizeof *o);
        sq_strmap_init(&o->h);
        *slot = o;
    }
    sq_obj_changed(o);
    return o;
}

/* The object of key to write to, made when absent, its fields folded. */
static struct sq_mem_obj *sq_obj_of(struct sq_store_mem *m, const char *key)
{
    struct sq_mem_obj *o = sq_obj_of_raw(m, key);
    sq_obj_fold_kc(o);
    return o;
}

static struct sq_strmap *sq_hash_of(struct sq_store_mem *m, const char *key)
{
    return &sq_obj_of(m, key)->h;
}

static int sq_zcmp(const struct sq_zentry *a, int64_t score, const char *member)
{
    if (a->score != score)
        return a->score < score ? -1 : 1;
    return strcmp(a->member, member);
}

/* ZADD member score, then keep the `keep` highest entries. */
static void sq_zadd_keep(struct sq_mem_obj *o, int64_t score, const char *member, size_t keep)
{
    for (size_t i = 0; i < o->zn; i++) {
        if (strcmp(o->z[i].member, member) == 0) {
            free(o->z[i].member);
            memmove(&o->z[i], &o->z[i + 1], (o->zn - i - 1) * sizeof *o->z);
            o->zn--;
            break;
        }
    }
    size_t pos = o->zn;
    while (pos > 0 && sq_zcmp(&o->z[pos - 1], score, member) > 0)
        pos--;
    o->z = sq_xrealloc(o->z, (o->zn + 1) * sizeof *o->z);
    memmove(&o->z[pos + 1], &o->z[pos], (o->zn - pos) * sizeof *o->z);
    o->z[pos] = (struct sq_zentry){score, sq_xstrdup(member)};
    o->zn++;
    if (o->zn > keep) {
        size_t drop = o->zn - keep;
        for (size_t i = 0; i < drop; i++)
            free(o->z[i].member);
        memmove(o->z, o->z + drop, keep * sizeof *o->z);
        o->zn = keep;
    }
}

void sq_cx_apply(double *num, double *den, int64_t *t0_ms, int have, int64_t t_ms, double s,
                 int64_t half_life_ms)
{
    if (!have) {
        *num = s;
        *den = 1;
        *t0_ms = t_ms;
    } else if (t_ms >= *t0_ms) {
        double f = pow(2.0, -(double)(t_ms - *t0_ms) / (double)half_life_ms);
        *num = *num * f + s;
        *den = *den * f + 1;
        *t0_ms = t_ms;
    } else {
        double w = pow(2.0, -(double)(*t0_ms - t_ms) / (double)half_life_ms);
        *num += w * s;
        *den += w;
    }
}

static void sq_hset(struct sq_strmap *h, const char *field, const char *value)
{
    char *copy = sq_xstrdup(value); /* before the free: value may be the old one */
    void **slot = sq_strmap_ref(h, field);
    free(*slot);
    *slot = copy;
}

/* HINCRBY: the field's integer value plus by (in place when it fits). */
static void sq_hincr(struct sq_strmap *h, const char *field, long long by)
{
    void **slot = sq_strmap_ref(h, field);
    char *old = *slot;
    char buf[24];
    size_t n = sq_i64_format(buf, (old ? sq_i64_parse(old) : 0) + by);
    if (old && n <= strlen(old)) {
        memcpy(old, buf, n + 1);
    } else {
        free(old);
        *slot = sq_xstrndup(buf, n);
    }
}

/* The W op, as the step script does it with a zset and a set: here
 * win:open and win:dirty are hashes (cell -> end ms, cell -> "1"). */
static void sq_window_touch(struct sq_store_mem *m, const char *prefix, const char *cell,
                            const char *end_ms)
{
    char *k = sq_xasprintf("%swin:gen", prefix);
    sq_hincr(sq_hash_of(m, k), cell, 1);
    free(k);
    k = sq_xasprintf("%swin:rev", prefix);
    struct sq_mem_obj *rev = sq_obj_get(m, k);
    bool emitted = rev && sq_strmap_get(&rev->h, cell);
    free(k);
    k = sq_xasprintf(emitted ? "%swin:dirty" : "%swin:open", prefix);
    struct sq_strmap *h = sq_hash_of(m, k);
    if (emitted)
        sq_hset(h, cell, "1");
    else if (!sq_strmap_get(h, cell))
        sq_hset(h, cell, end_ms);
    free(k);
}

/* (t, eid) later than the stored pair? Strings compare as the Lua script's
 * `>` does (byte order). */
static int sq_later_str(const char *t, const char *eid, const char *t0, const char *eid0)
{
    if (!t0)
        return 1;
    int c = strcmp(t, t0);
    return c > 0 || (c == 0 && strcmp(eid, eid0 ? eid0 : "") > 0);
}

/* HSET tf t vf v when (t, v) is later than the stored pair (op G). */
static void sq_hset_latest(struct sq_strmap *h, const char *tf, const char *t, const char *vf,
                           const char *v)
{
    if (sq_later_str(t, v, sq_strmap_get(h, tf), sq_strmap_get(h, vf))) {
        sq_hset(h, tf, t);
        sq_hset(h, vf, v);
    }
}

/* cx_index from one more score s at t_ms (SPEC 5) on the hash's cx_num,
 * cx_den and cx_t0. */
static void sq_hash_cx(struct sq_strmap *h, int64_t t_ms, double s, int64_t half_life_ms)
{
    const char *n0 = sq_strmap_get(h, "cx_num"), *d0 = sq_strmap_get(h, "cx_den"),
               *t0 = sq_strmap_get(h, "cx_t0");
    double num = n0 ? strtod(n0, NULL) : 0, den = d0 ? strtod(d0, NULL) : 0;
    int64_t t0ms = t0 ? strtoll(t0, NULL, 10) : 0;
    sq_cx_apply(&num, &den, &t0ms, n0 && d0 && t0, t_ms, s, half_life_ms);
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", num);
    sq_hset(h, "cx_num", buf);
    snprintf(buf, sizeof buf, "%.17g", den);
    sq_hset(h, "cx_den", buf);
    sq_i64_format(buf, t0ms);
    sq_hset(h, "cx_t0", buf);
    /* SPEC 15: written as round(x * 10) / 10, in its shortest form */
    snprintf(buf, sizeof buf, "%.15g", sq_round1(num / den));
    sq_hset(h, "cx_index", buf);
}

/* Applies the data op at a[i] (not M, B, D, Y or S); its width is known
 * to fit. */
static int sq_mem_apply_one(struct sq_store_mem *m, char *const *a, const size_t *len, size_t n,
                            size_t i, struct sq_err *err)
{
    const char *op = a[i];
    char c = sq_op_code(op);
#define NEED(k)                                                                          \
    do {                                                                                 \
        if (i + (k) > n)                                                                 \
            return sq_err_set(err, SQ_ERR_FATAL, "", "store op %s: too few arguments", a[i]); \
    } while (0)
    if (c == 'C') {
        NEED(17);
        struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
        const char *old_total = sq_strmap_get(h, "events_total");
        char buf[24];
        sq_i64_format(buf, (old_total ? sq_i64_parse(old_total) : 0) + sq_i64_parse(a[i + 2]));
        sq_hset(h, "events_total", buf);
        if (sq_later_str(a[i + 3], a[i + 4], sq_strmap_get(h, "last_event_at"),
                         sq_strmap_get(h, "last_event_id"))) {
            sq_hset(h, "last_event_at", a[i + 3]);
            sq_hset(h, "last_event_id", a[i + 4]);
            if (*a[i + 6])
                sq_hset(h, "region", a[i + 6]);
            if (*a[i + 7])
                sq_hset(h, "tier", a[i + 7]);
        }
        const char *tc0 = sq_strmap_get(h, "last_contact_at");
        if (*a[i + 5] && (!tc0 || strcmp(a[i + 5], tc0) > 0))
            sq_hset(h, "last_contact_at", a[i + 5]);
        /* what score changed (processors/sinks.c) */
        if (*a[i + 9])
            sq_hset(h, "contacts_30d", a[i + 9]);
        if (*a[i + 10])
            sq_hash_cx(h, strtoll(a[i + 10], NULL, 10), strtod(a[i + 11], NULL),
                       strtoll(a[i + 12], NULL, 10));
        int64_t nb = sq_i64_parse(a[i + 13]), od = sq_i64_parse(a[i + 16]);
        if (nb)
            sq_hincr(h, "breaches_total", nb);
        if (*a[i + 14])
            sq_hset_latest(h, "last_breach_at", a[i + 14], "last_breach_code", a[i + 15]);
        if (od)
            sq_hincr(h, "open_tickets", od);
        i += 17;
    } else if (c == 'H') {
        NEED(4);
        size_t k = strtoull(a[i + 3], NULL, 10);
        NEED(4 + 2 * k);
        struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
        for (size_t j = 0; j < k; j++)
            sq_hset(h, a[i + 4 + 2 * j], a[i + 5 + 2 * j]);
        i += 4 + 2 * k;
    } else if (c == 'X') {
        NEED(2);
        struct sq_mem_obj *o = sq_strmap_del(&m->keys, a[i + 1]);
        if (o)
            sq_free_hash(NULL, o, NULL);
        i += 2;
    } else if (c == 'R') {
        NEED(3);
        struct sq_mem_obj *o = sq_obj_get(m, a[i + 1]);
        if (o) {
            free(sq_strmap_del(&o->h, a[i + 2]));
            sq_obj_changed(o);
        }
        i += 3;
    } else if (c == 'I') {
        NEED(5);
        struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
        sq_hincr(h, a[i + 2], sq_i64_parse(a[i + 3]));
        i += 5;
    } else if (c == 'K') {
        NEED(4);
        size_t k = strtoull(a[i + 3], NULL, 10);
        NEED(4 + 2 * k);
        struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
        for (size_t j = 0; j < k; j++)
            sq_hincr(h, a[i + 4 + 2 * j], sq_i64_parse(a[i + 5 + 2 * j]));
        i += 4 + 2 * k;
    } else if (c == 'V') {
        NEED(4);
        struct sq_kpi_counters kc;
        if (!sq_op_kpi_counters(a[i + 3], len[i + 3], &kc))
            return sq_err_set(err, SQ_ERR_FATAL, "", "store op V: not a counter vector");
        struct sq_mem_obj *o = sq_obj_of_raw(m, a[i + 1]);
        if (!o->kc)
            o->kc = sq_xcalloc(1, sizeof *o->kc);
        for (int k = 0; k < SQ_KC__COUNT; k++) {
            if (kc.v[k]) {
                o->kc->v[k] += kc.v[k];
                o->kc_present |= UINT64_C(1) << k;
            }
        }
        i += 4;
    } else if (c == 'W') {
        NEED(4);
        sq_window_touch(m, a[i + 1], a[i + 2], a[i + 3]);
        i += 4;
    } else if (c == 'Z') {
        NEED(6);
        sq_zadd_keep(sq_obj_of(m, a[i + 1]), strtoll(a[i + 4], NULL, 10), a[i + 5],
                     (size_t)strtoull(a[i + 3], NULL, 10));
        i += 6;
    } else if (c == 'T') {
        NEED(7);
        sq_hset(sq_hash_of(m, a[i + 1]), a[i + 3], a[i + 5]);
        struct sq_mem_obj *z = sq_obj_of(m, a[i + 2]);
        if (!z->tq) {
            z->tq = sq_xcalloc(1, sizeof *z->tq);
            sq_timers_init(z->tq);
        }
        sq_timers_set(z->tq, a[i + 3], strtoll(a[i + 4], NULL, 10), 0);
        i += 7;
    } else if (c == 'U') {
        NEED(5);
        const char *due = a[i + 4];
        size_t dl = strlen(due);
        struct sq_mem_obj *o = sq_obj_get(m, a[i + 1]);
        const char *v = o ? sq_strmap_get(&o->h, a[i + 3]) : NULL;
        if (v && (!dl || (strncmp(v, due, dl) == 0 && v[dl] == '|'))) {
            free(sq_strmap_del(&o->h, a[i + 3]));
            sq_obj_changed(o);
        }
        o = sq_strmap_get(&m->keys, a[i + 2]);
        int64_t at;
        int opening;
        if (o && o->tq && sq_timers_get(o->tq, a[i + 3], &at, &opening) &&
            (!dl || at == strtoll(due, NULL, 10)))
            sq_timers_cancel(o->tq, a[i + 3]);
        i += 5;
    } else if (c == 'G') {
        NEED(7);
        sq_hset_latest(sq_hash_of(m, a[i + 1]), a[i + 2], a[i + 3], a[i + 4], a[i + 5]);
        i += 7;
    } else {
        return sq_err_set(err, SQ_ERR_FATAL, "", "store: unknown op %s", op);
    }
#undef NEED
    return SQ_OK;
}

int sq_store_mem_apply(struct sq_store_mem *m, const struct sq_state_ops *ops, size_t **dups,
                       size_t *ndups, struct sq_err *err)
{
    char **a = ops->argv;
    size_t n = ops->argc, i = 0;
    size_t cur = 0;
    int skip = 0; /* the current message is a duplicate: parse, do not apply */
    size_t *later = sq_xcalloc(n ? n : 1, sizeof *later); /* Y ops, then S ops from the end */
    size_t ny = 0, ns = 0;
    int rc = SQ_OK;
    *dups = NULL;
    *ndups = 0;
    while (rc == SQ_OK && i < n) {
        const char *op = a[i];
        char c = sq_op_code(op);
        if (c == 'M' && i + 2 <= n) {
            cur = strtoull(a[i + 1], NULL, 10);
            skip = 0;
            i += 2;
            continue;
        }
        if (c == 'B') {
            skip = 0;
            i += 1;
            continue;
        }
        size_t w = sq_op_width(a, n, i);
        if (!w) {
            rc = sq_err_set(err, SQ_ERR_FATAL, "", "store: unknown or short op %s", op);
        } else if (skip) {
            /* a duplicate's ops: parse past them */
        } else if (c == 'D') {
            /* the set at a[i + 1] as a hash of its members */
            struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
            if (sq_strmap_get(h, a[i + 2])) {
                *dups = sq_xrealloc(*dups, (*ndups + 1) * sizeof **dups);
                (*dups)[(*ndups)++] = cur;
                skip = 1;
            } else {
                sq_hset(h, a[i + 2], "1");
            }
        } else if (c == 'Y') {
            later[ny++] = i + 1;
        } else if (c == 'S') {
            later[n - 1 - ns++] = i + 1;
        } else {
            rc = sq_mem_apply_one(m, a, ops->argvlen, n, i, err);
        }
        i += w;
    }
    /* the batch's sums when no message was a duplicate, else each
     * surviving message's own deferred ops */
    for (size_t k = 0; rc == SQ_OK && k < (*ndups ? ny : ns); k++)
        rc = sq_mem_apply_one(m, a, ops->argvlen, n, *ndups ? later[k] : later[n - 1 - k], err);
    free(later);
    return rc;
}
