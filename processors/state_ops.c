/* state_ops.c: the flat op argument lists (processor.h, op codes in
 * store.h). A list copies each argument into chunks it owns, so a message's
 * dozens of arguments cost a few allocations instead of one each; the
 * chunks grow geometrically and reset keeps the newest for reuse. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor.h"

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

void sq_state_ops_push(struct sq_state_ops *ops, const char *s, size_t len)
{
    if (ops->argc == ops->cap) {
        ops->cap = ops->cap ? ops->cap * 2 : 32;
        ops->argv = sq_xrealloc(ops->argv, ops->cap * sizeof *ops->argv);
        ops->argvlen = sq_xrealloc(ops->argvlen, ops->cap * sizeof *ops->argvlen);
    }
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

void sq_state_ops_append(struct sq_state_ops *ops, const struct sq_state_ops *from)
{
    for (size_t k = 0; k < from->argc; k++)
        sq_state_ops_push(ops, from->argv[k], from->argvlen[k]);
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
