/* ttl_memo.c: a direct-mapped table of (key tag, fresh until) and the
 * refreshes of the steps in flight (ttl_memo.h). */
#include "ttl_memo.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"
#include "strmap.h"

#define SQ_TTL_MEMO_BITS 17
#define SQ_TTL_MEMO_SLOTS ((size_t)1 << SQ_TTL_MEMO_BITS)
#define SQ_TTL_MEMO_MAX_WINDOW_S 3600

struct sq_ttl_slot {
    uint32_t tag;   /* the key hash's high bits; 0 with until 0: empty */
    uint32_t until; /* monotonic seconds + 1 until which the TTL is fresh */
};

struct sq_ttl_pending {
    size_t slot, step;
    struct sq_ttl_slot v;
};

struct sq_ttl_memo {
    struct sq_ttl_slot *slots;
    struct sq_ttl_pending *pending;
    size_t npending, cap;
};

struct sq_ttl_memo *sq_ttl_memo_new(void)
{
    struct sq_ttl_memo *m = sq_xcalloc(1, sizeof *m);
    m->slots = sq_xcalloc(SQ_TTL_MEMO_SLOTS, sizeof *m->slots);
    return m;
}

void sq_ttl_memo_free(struct sq_ttl_memo *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->pending);
    free(m);
}

void sq_ttl_memo_clear(struct sq_ttl_memo *m)
{
    memset(m->slots, 0, SQ_TTL_MEMO_SLOTS * sizeof *m->slots);
    m->npending = 0;
}

int64_t sq_ttl_memo_window_s(int64_t ttl_s)
{
    int64_t w = ttl_s / 16;
    return w > SQ_TTL_MEMO_MAX_WINDOW_S ? SQ_TTL_MEMO_MAX_WINDOW_S : w;
}

bool sq_ttl_memo_due(struct sq_ttl_memo *m, const char *key, size_t len, int64_t ttl_s,
                     int64_t now_s, size_t step)
{
    int64_t window = sq_ttl_memo_window_s(ttl_s);
    if (window <= 0 || now_s < 0 || now_s + window >= (int64_t)UINT32_MAX)
        return true;
    uint64_t h = sq_strhash(key, len);
    size_t slot = (size_t)(h & (SQ_TTL_MEMO_SLOTS - 1));
    uint32_t tag = (uint32_t)(h >> 32);
    const struct sq_ttl_slot *s = &m->slots[slot];
    if (s->until && s->tag == tag && (int64_t)s->until > now_s + 1)
        return false;
    if (m->npending == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->pending = sq_xrealloc(m->pending, m->cap * sizeof *m->pending);
    }
    /* fresh while now < until - 1, i.e. for window seconds from now */
    m->pending[m->npending++] = (struct sq_ttl_pending){
        .slot = slot, .step = step, .v = {.tag = tag, .until = (uint32_t)(now_s + window + 1)}};
    return true;
}

/* Keeps the pending refreshes of other steps than step; notes step's in
 * the table when commit. */
static void sq_ttl_memo_settle(struct sq_ttl_memo *m, size_t step, bool commit)
{
    if (!m)
        return;
    size_t keep = 0;
    for (size_t i = 0; i < m->npending; i++) {
        struct sq_ttl_pending *p = &m->pending[i];
        if (step != SIZE_MAX && p->step != step) {
            m->pending[keep++] = *p;
            continue;
        }
        if (commit)
            m->slots[p->slot] = p->v;
    }
    m->npending = keep;
}

void sq_ttl_memo_commit(struct sq_ttl_memo *m, size_t step)
{
    sq_ttl_memo_settle(m, step, true);
}

void sq_ttl_memo_drop(struct sq_ttl_memo *m, size_t step)
{
    sq_ttl_memo_settle(m, step, false);
}
