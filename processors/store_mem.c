/* store_mem.c: the in-process state store of `sqgate replay` and unit tests,
 * and the op helpers shared with the Redis back end. Ops mean exactly what
 * the Redis step script (gateway/redis_link.c) makes them mean. Expiry is
 * not modelled: a replay is one run over a log. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

size_t sq_store_reads_add(struct sq_store_reads *r, const char *key, const char *field)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = sq_xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n] = (struct sq_store_read){sq_xstrdup(key), sq_xstrdup(field), NULL};
    return r->n++;
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
    sq_state_ops_push(ops, "M", 1);
    sq_state_ops_pushf(ops, "%zu", idx);
}

void sq_op_dedupe(struct sq_state_ops *ops, const char *key, const char *field, int64_t ttl_s)
{
    sq_state_ops_push(ops, "D", 1);
    sq_state_ops_push(ops, key, strlen(key));
    sq_state_ops_push(ops, field, strlen(field));
    sq_state_ops_pushf(ops, "%lld", (long long)ttl_s);
}

void sq_op_del(struct sq_state_ops *ops, const char *key)
{
    sq_state_ops_push(ops, "X", 1);
    sq_state_ops_push(ops, key, strlen(key));
}

void sq_op_hset(struct sq_state_ops *ops, const char *key, int64_t ttl_s, const char *const *fv)
{
    size_t n = 0;
    while (fv[2 * n])
        n++;
    sq_state_ops_push(ops, "H", 1);
    sq_state_ops_push(ops, key, strlen(key));
    sq_state_ops_pushf(ops, "%lld", (long long)ttl_s);
    sq_state_ops_pushf(ops, "%zu", n);
    for (size_t i = 0; i < 2 * n; i++)
        sq_state_ops_push(ops, fv[i], strlen(fv[i]));
}

/* ---- the in-process store ---------------------------------------------- */

struct sq_store_mem {
    struct sq_store base;
    struct sq_strmap keys; /* key → struct sq_strmap * of field → char * */
};

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
    struct sq_strmap *h = value;
    sq_strmap_each(h, sq_free_value, NULL);
    sq_strmap_fini(h);
    free(h);
}

const char *sq_store_mem_hget(struct sq_store_mem *m, const char *key, const char *field)
{
    struct sq_strmap *h = sq_strmap_get(&m->keys, key);
    return h ? sq_strmap_get(h, field) : NULL;
}

static int sq_store_mem_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    (void)err;
    struct sq_store_mem *m = (struct sq_store_mem *)s;
    for (size_t i = 0; i < r->n; i++) {
        const char *v = sq_store_mem_hget(m, r->v[i].key, r->v[i].field);
        free(r->v[i].value);
        r->v[i].value = v ? sq_xstrdup(v) : NULL;
    }
    return SQ_OK;
}

static const struct sq_store_vt sq_store_mem_vt = {.read = sq_store_mem_read};

struct sq_store_mem *sq_store_mem_new(void)
{
    struct sq_store_mem *m = sq_xcalloc(1, sizeof *m);
    m->base.vt = &sq_store_mem_vt;
    sq_strmap_init(&m->keys);
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

static struct sq_strmap *sq_hash_of(struct sq_store_mem *m, const char *key)
{
    struct sq_strmap *h = sq_strmap_get(&m->keys, key);
    if (!h) {
        h = sq_xcalloc(1, sizeof *h);
        sq_strmap_init(h);
        sq_strmap_put(&m->keys, key, h);
    }
    return h;
}

static void sq_hset(struct sq_strmap *h, const char *field, const char *value)
{
    free(sq_strmap_put(h, field, sq_xstrdup(value)));
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

int sq_store_mem_apply(struct sq_store_mem *m, const struct sq_state_ops *ops, size_t **dups,
                       size_t *ndups, struct sq_err *err)
{
    char **a = ops->argv;
    size_t n = ops->argc, i = 0;
    size_t cur = 0;
    int skip = 0; /* the current message is a duplicate: parse, do not apply */
    *dups = NULL;
    *ndups = 0;
#define NEED(k)                                                                          \
    do {                                                                                 \
        if (i + (k) > n)                                                                 \
            return sq_err_set(err, SQ_ERR_FATAL, "", "store op %s: too few arguments", a[i]); \
    } while (0)
    while (i < n) {
        const char *op = a[i];
        if (strcmp(op, "M") == 0) {
            NEED(2);
            cur = strtoull(a[i + 1], NULL, 10);
            skip = 0;
            i += 2;
        } else if (skip) {
            /* parse past the op without applying it */
            size_t len = strcmp(op, "D") == 0 ? 4 : strcmp(op, "C") == 0 ? 8
                       : strcmp(op, "X") == 0 ? 2 : 0;
            if (strcmp(op, "H") == 0) {
                NEED(4);
                len = 4 + 2 * strtoull(a[i + 3], NULL, 10);
            }
            if (!len)
                return sq_err_set(err, SQ_ERR_FATAL, "", "store: unknown op %s", op);
            NEED(len);
            i += len;
        } else if (strcmp(op, "D") == 0) {
            NEED(4);
            struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
            if (sq_strmap_get(h, a[i + 2])) {
                *dups = sq_xrealloc(*dups, (*ndups + 1) * sizeof **dups);
                (*dups)[(*ndups)++] = cur;
                skip = 1;
                i += 4;
                continue;
            }
            sq_hset(h, a[i + 2], "1");
            i += 4;
        } else if (strcmp(op, "C") == 0) {
            NEED(8);
            struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
            const char *old_total = sq_strmap_get(h, "events_total");
            char buf[32];
            snprintf(buf, sizeof buf, "%lld",
                     (old_total ? strtoll(old_total, NULL, 10) : 0) + strtoll(a[i + 2], NULL, 10));
            sq_hset(h, "events_total", buf);
            if (sq_later_str(a[i + 3], a[i + 4], sq_strmap_get(h, "last_event_at"),
                             sq_strmap_get(h, "last_event_id"))) {
                sq_hset(h, "last_event_at", a[i + 3]);
                sq_hset(h, "last_event_id", a[i + 4]);
                if (*a[i + 6])
                    sq_hset(h, "region", a[i + 6]);
            }
            const char *tc0 = sq_strmap_get(h, "last_contact_at");
            if (*a[i + 5] && (!tc0 || strcmp(a[i + 5], tc0) > 0))
                sq_hset(h, "last_contact_at", a[i + 5]);
            i += 8;
        } else if (strcmp(op, "H") == 0) {
            NEED(4);
            size_t k = strtoull(a[i + 3], NULL, 10);
            NEED(4 + 2 * k);
            struct sq_strmap *h = sq_hash_of(m, a[i + 1]);
            for (size_t j = 0; j < k; j++)
                sq_hset(h, a[i + 4 + 2 * j], a[i + 5 + 2 * j]);
            i += 4 + 2 * k;
        } else if (strcmp(op, "X") == 0) {
            NEED(2);
            struct sq_strmap *h = sq_strmap_del(&m->keys, a[i + 1]);
            if (h)
                sq_free_hash(NULL, h, NULL);
            i += 2;
        } else {
            return sq_err_set(err, SQ_ERR_FATAL, "", "store: unknown op %s", op);
        }
    }
#undef NEED
    return SQ_OK;
}
