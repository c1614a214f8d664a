/* state_ops.c: the flat op argument lists (processor.h, op codes in
 * store.h). A list copies each argument into chunks it owns, so a message's
 * dozens of arguments cost a few allocations instead of one each; the
 * chunks grow geometrically and reset keeps the newest for reuse. Also the
 * batch sums of deferred ops: one K op per KPI hash and one W op per cell
 * for a whole batch instead of one per message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor.h"
#include "store.h"
#include "kpi.h"
#include "strmap.h" /* sq_strhash */

#define SQ_OPS_CHUNK_MIN 512
#define SQ_OPS_CHUNK_MAX (64 * 1024)

struct sq_ops_chunk {
    struct sq_ops_chunk *next;
    size_t used, cap;
    char data[];
};

/* Room for need bytes in the newest chunk (a new chunk when it is full). */
static char *sq_state_ops_room(struct sq_state_ops *ops, size_t need)
{
    struct sq_ops_chunk *c = ops->chunk;
    if (!c || c->cap - c->used < need) {
        size_t cap = c ? 2 * c->cap : SQ_OPS_CHUNK_MIN;
        if (cap > SQ_OPS_CHUNK_MAX)
            cap = SQ_OPS_CHUNK_MAX;
        if (cap < need)
            cap = need;
        struct sq_ops_chunk *n = sq_xmalloc(sizeof *n + cap);
        n->next = c;
        n->used = 0;
        n->cap = cap;
        ops->chunk = c = n;
    }
    return c->data + c->used;
}

/* Room for n more arguments in argv and argvlen. */
void sq_state_ops_reserve(struct sq_state_ops *ops, size_t n)
{
    if (ops->argc + n <= ops->cap)
        return;
    while (ops->argc + n > ops->cap)
        ops->cap = ops->cap ? ops->cap * 2 : 32;
    ops->argv = sq_xrealloc(ops->argv, ops->cap * sizeof *ops->argv);
    ops->argvlen = sq_xrealloc(ops->argvlen, ops->cap * sizeof *ops->argvlen);
}

void sq_state_ops_push(struct sq_state_ops *ops, const char *s, size_t len)
{
    sq_state_ops_reserve(ops, 1);
    char *p = sq_state_ops_room(ops, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    ops->chunk->used += len + 1;
    ops->argv[ops->argc] = p;
    ops->argvlen[ops->argc] = len;
    ops->argc++;
}

void sq_state_ops_push_str(struct sq_state_ops *ops, const char *s)
{
    sq_state_ops_push(ops, s, strlen(s));
}

void sq_state_ops_push_i64(struct sq_state_ops *ops, int64_t v)
{
    char buf[24];
    size_t n = sq_i64_format(buf, v);
    sq_state_ops_push(ops, buf, n);
}

void sq_state_ops_pushf(struct sq_state_ops *ops, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof buf) {
        sq_state_ops_push(ops, buf, (size_t)n);
        return;
    }
    char *big = sq_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sq_state_ops_push(ops, big, (size_t)n);
    free(big);
}

void sq_state_ops_append_borrowed(struct sq_state_ops *ops, const struct sq_state_ops *from)
{
    /* pointers only: copying a batch's every argument into its own chunks
     * doubled the bytes a turn wrote and freed */
    sq_state_ops_reserve(ops, from->argc);
    memcpy(ops->argv + ops->argc, from->argv, from->argc * sizeof *from->argv);
    memcpy(ops->argvlen + ops->argc, from->argvlen, from->argc * sizeof *from->argvlen);
    ops->argc += from->argc;
}

void sq_state_ops_reset(struct sq_state_ops *ops)
{
    struct sq_ops_chunk *c = ops->chunk;
    if (c) {
        struct sq_ops_chunk *rest = c->next;
        while (rest) {
            struct sq_ops_chunk *next = rest->next;
            free(rest);
            rest = next;
        }
        c->next = NULL;
        c->used = 0;
    }
    ops->argc = 0;
}

void sq_state_ops_fini(struct sq_state_ops *ops)
{
    sq_state_ops_reset(ops);
    free(ops->chunk);
    free(ops->argv);
    free(ops->argvlen);
    ops->chunk = NULL;
    ops->argv = NULL;
    ops->argvlen = NULL;
    ops->cap = 0;
}

/* The number of arguments of the op at a[i] (a wrapped op's plus one for Y
 * and S), or 0 when it is unknown or cut short. */
size_t sq_op_width(char *const *a, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    size_t w = 0;
    switch (sq_op_code(a[i])) {
    case 'X': w = 2; break;
    case 'R': w = 3; break;
    case 'D': case 'W': case 'V': w = 4; break;
    case 'I': case 'U': w = 5; break;
    case 'Z': w = 6; break;
    case 'G': case 'T': w = 7; break;
    case 'C': w = 17; break;
    case 'H': case 'K':
        w = i + 4 <= n ? 4 + 2 * strtoull(a[i + 3], NULL, 10) : 0;
        break;
    case 'Y': case 'S': {
        size_t inner = sq_op_width(a, n, i + 1);
        w = inner ? inner + 1 : 0;
        break;
    }
    default: break;
    }
    return w && i + w <= n ? w : 0;
}

size_t sq_op_ttl_offset(char code)
{
    switch (code) {
    case 'D': return 3;
    case 'C': return 8;
    case 'H': case 'K': case 'V': case 'Z': return 2;
    case 'I': return 4;
    case 'G': case 'T': return 6;
    default: return 0;
    }
}


/* ---- batch sums of deferred ops (store.h: Y, B, S) ----------------------- */

struct sq_sum_field {
    const char *name; /* borrowed from the lists (owned when the sums own) */
    size_t len;
    int64_t by;
};

struct sq_sum {
    char op;          /* 'K' or 'W' */
    uint64_t hash;    /* of op, key and cell */
    const char *key;  /* K: the hash; W: the prefix (borrowed, as all strings here) */
    size_t key_len;
    const char *cell; /* W only */
    size_t cell_len;
    const char *end;  /* W only */
    size_t end_len;
    int64_t ttl;      /* K only: the greatest asked */
    struct sq_kpi_counters *kc; /* K only: the sum of V ops, or NULL */
    struct sq_sum_field *f;
    size_t nf, capf;
};

/* The sums in first-seen order, found through an open-addressing table of
 * their positions: no key is copied or built, every string is the lists',
 * unless own is set (sq_sums_new): then each string is copied once, when
 * its sum or field is first seen, so the lists can go after each add. */
struct sq_sums {
    struct sq_sum *v;
    size_t n, cap;
    size_t *slot;     /* position + 1 in v, 0 for empty; nslot a power of two */
    size_t nslot;
    bool own;
};

/* Whether p is one of the KPI counters' names (kpi.h), which live as long
 * as the program: owning sums keep those as they are. */
static bool sq_is_counter_name(const char *p)
{
    return sq_kpi_counter_of_name(p) >= 0;
}

/* s's copy of a string of the lists (the string itself when s borrows). */
static const char *sq_sums_keep(const struct sq_sums *s, const char *p, size_t len)
{
    if (!s->own)
        return p;
    char *c = sq_xmalloc(len + 1);
    memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

static void sq_sums_rehash(struct sq_sums *s, size_t nslot)
{
    free(s->slot);
    s->slot = sq_xcalloc(nslot, sizeof *s->slot);
    s->nslot = nslot;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->v[k].hash & (nslot - 1);
        while (s->slot[i])
            i = (i + 1) & (nslot - 1);
        s->slot[i] = k + 1;
    }
}

static struct sq_sum *sq_sums_get(struct sq_sums *s, char op, const char *key, size_t key_len,
                                  const char *cell, size_t cell_len)
{
    if ((s->n + 1) * 2 > s->nslot)
        sq_sums_rehash(s, s->nslot ? 2 * s->nslot : 256);
    uint64_t h = sq_strhash(key, key_len) ^ (uint64_t)(unsigned char)op;
    if (cell)
        h = (h * 0x9E3779B97F4A7C15ULL) ^ sq_strhash(cell, cell_len);
    size_t mask = s->nslot - 1, i = h & mask;
    for (; s->slot[i]; i = (i + 1) & mask) {
        struct sq_sum *x = &s->v[s->slot[i] - 1];
        if (x->hash == h && x->op == op && x->key_len == key_len &&
            memcmp(x->key, key, key_len) == 0 &&
            (!cell || (x->cell_len == cell_len && memcmp(x->cell, cell, cell_len) == 0)))
            return x;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = sq_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    struct sq_sum *x = &s->v[s->n++];
    memset(x, 0, sizeof *x);
    x->op = op;
    x->hash = h;
    x->key = sq_sums_keep(s, key, key_len);
    x->key_len = key_len;
    x->cell = cell ? sq_sums_keep(s, cell, cell_len) : NULL;
    x->cell_len = cell_len;
    s->slot[i] = s->n;
    return x;
}

static void sq_sum_add_field(const struct sq_sums *s, struct sq_sum *x, const char *name,
                             size_t len, int64_t by)
{
    for (size_t i = 0; i < x->nf; i++)
        if (x->f[i].len == len && memcmp(x->f[i].name, name, len) == 0) {
            x->f[i].by += by;
            return;
        }
    if (x->nf == x->capf) {
        x->capf = x->capf ? 2 * x->capf : 16;
        x->f = sq_xrealloc(x->f, x->capf * sizeof *x->f);
    }
    x->f[x->nf++] = (struct sq_sum_field){
        s->own && !sq_is_counter_name(name) ? sq_sums_keep(s, name, len) : name, len, by};
}

/* Adds the deferred K, V and W ops of one list to the sums. */
void sq_sums_add(struct sq_sums *s, const struct sq_state_ops *l)
{
    char *const *a = l->argv;
    const size_t *len = l->argvlen;
    size_t w;
    for (size_t i = 0; i < l->argc && (w = sq_op_width(a, l->argc, i)) != 0; i += w) {
        if (a[i][0] != 'Y' || a[i][1])
            continue;
        char op = a[i + 1][0];
        if (a[i + 1][1] || i + 5 > l->argc)
            continue;
        if (op == 'K') {
            size_t nf = strtoull(a[i + 4], NULL, 10);
            if (i + 5 + 2 * nf > l->argc)
                continue;
            struct sq_sum *x = sq_sums_get(s, 'K', a[i + 2], len[i + 2], NULL, 0);
            int64_t ttl = strtoll(a[i + 3], NULL, 10);
            if (ttl > x->ttl)
                x->ttl = ttl;
            for (size_t j = 0; j < nf; j++)
                sq_sum_add_field(s, x, a[i + 5 + 2 * j], len[i + 5 + 2 * j],
                                 strtoll(a[i + 6 + 2 * j], NULL, 10));
        } else if (op == 'V') {
            struct sq_kpi_counters c;
            if (!sq_op_kpi_counters(a[i + 4], len[i + 4], &c))
                continue;
            struct sq_sum *x = sq_sums_get(s, 'K', a[i + 2], len[i + 2], NULL, 0);
            int64_t ttl = strtoll(a[i + 3], NULL, 10);
            if (ttl > x->ttl)
                x->ttl = ttl;
            if (!x->kc)
                x->kc = sq_xcalloc(1, sizeof *x->kc);
            for (int k = 0; k < SQ_KC__COUNT; k++)
                x->kc->v[k] += c.v[k];
        } else if (op == 'W') {
            struct sq_sum *x = sq_sums_get(s, 'W', a[i + 2], len[i + 2], a[i + 3], len[i + 3]);
            if (!x->end) { /* a cell's end follows from the cell: the first says it */
                x->end = sq_sums_keep(s, a[i + 4], len[i + 4]);
                x->end_len = len[i + 4];
            }
        }
    }
}

void sq_state_ops_push_borrowed(struct sq_state_ops *ops, const char *s, size_t len)
{
    sq_state_ops_reserve(ops, 1);
    ops->argv[ops->argc] = (char *)s;
    ops->argvlen[ops->argc] = len;
    ops->argc++;
}

struct sq_sums *sq_sums_new(bool own)
{
    struct sq_sums *s = sq_xcalloc(1, sizeof *s);
    s->own = own;
    return s;
}

size_t sq_sums_count(const struct sq_sums *s)
{
    return s->n;
}

size_t sq_sums_args_about(const struct sq_sums *s, size_t k)
{
    const struct sq_sum *x = &s->v[k];
    if (x->op == 'W')
        return 4;
    size_t nf = x->nf;
    for (int c = 0; x->kc && c < SQ_KC__COUNT; c++)
        nf += x->kc->v[c] != 0;
    return 4 + 2 * nf;
}

void sq_sums_emit_range(struct sq_sums *s, bool marked, size_t from, size_t to,
                        sq_sums_emit_fn emit, void *ctx)
{
    char num[24];
    if (to > s->n)
        to = s->n;
    if (s->n && marked && from == 0)
        emit(ctx, "B", 1, false);
    for (size_t k = from; k < to; k++) {
        struct sq_sum *x = &s->v[k];
        if (marked)
            emit(ctx, "S", 1, false);
        if (x->op == 'W') {
            emit(ctx, "W", 1, false);
            emit(ctx, x->key, x->key_len, false);
            emit(ctx, x->cell, x->cell_len, false);
            emit(ctx, x->end, x->end_len, false);
            continue;
        }
        /* Packed counters (V ops) merge into the cell's named fields; a
         * cell of packed counters only, the usual case, goes out straight
         * from them, in the counter order the merge would give. */
        if (x->kc && x->nf) {
            for (int c = 0; c < SQ_KC__COUNT; c++)
                if (x->kc->v[c]) {
                    const char *name = sq_kpi_counter_name((enum sq_kpi_counter)c);
                    sq_sum_add_field(s, x, name, strlen(name), x->kc->v[c]);
                }
            free(x->kc);
            x->kc = NULL;
        }
        const struct sq_kpi_counters *kc = x->kc;
        size_t nf = x->nf;
        for (int c = 0; kc && c < SQ_KC__COUNT; c++)
            nf += kc->v[c] != 0;
        emit(ctx, "K", 1, false);
        emit(ctx, x->key, x->key_len, false);
        emit(ctx, num, sq_i64_format(num, x->ttl), true);
        emit(ctx, num, sq_i64_format(num, (int64_t)nf), true);
        for (int c = 0; kc && c < SQ_KC__COUNT; c++)
            if (kc->v[c]) {
                const char *name = sq_kpi_counter_name((enum sq_kpi_counter)c);
                emit(ctx, name, strlen(name), false);
                emit(ctx, num, sq_i64_format(num, kc->v[c]), true);
            }
        for (size_t i = 0; i < x->nf; i++) {
            emit(ctx, x->f[i].name, x->f[i].len, false);
            emit(ctx, num, sq_i64_format(num, x->f[i].by), true);
        }
    }
}

/* sq_sums_emit_range's callback for sq_sums_append_to: ctx is the ops. */
static void sq_sums_push(void *ctx, const char *v, size_t len, bool transient)
{
    if (transient)
        sq_state_ops_push(ctx, v, len);
    else
        sq_state_ops_push_borrowed(ctx, v, len);
}

void sq_sums_append_to(struct sq_sums *s, struct sq_state_ops *ops, bool marked)
{
    sq_sums_emit_range(s, marked, 0, s->n, sq_sums_push, ops);
}

void sq_sums_free(struct sq_sums *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n; k++) {
        struct sq_sum *x = &s->v[k];
        if (s->own) {
            free((char *)x->key);
            free((char *)x->cell);
            free((char *)x->end);
            for (size_t i = 0; i < x->nf; i++)
                if (!sq_is_counter_name(x->f[i].name))
                    free((char *)x->f[i].name);
        }
        free(x->kc);
        free(x->f);
    }
    free(s->v);
    free(s->slot);
    free(s);
}

void sq_state_ops_append_sums(struct sq_state_ops *ops, const struct sq_state_ops *const *lists,
                              size_t n)
{
    struct sq_sums *s = sq_sums_new(false);
    for (size_t k = 0; k < n; k++)
        sq_sums_add(s, lists[k]);
    sq_sums_append_to(s, ops, true);
    sq_sums_free(s);
}
