/* ttl_memo.c: a direct-mapped table of (key tag, fresh until), one 64-bit
 * word a slot, and each connection's notes of the refreshes of its steps
 * in flight (ttl_memo.h). */
#include "ttl_memo.h"

#include <stdlib.h>
#include <string.h>

#include "sq_common.h"
#include "strmap.h"

#define SQ_TTL_MEMO_BITS 17
#define SQ_TTL_MEMO_SLOTS ((size_t)1 << SQ_TTL_MEMO_BITS)
#define SQ_TTL_MEMO_MAX_WINDOW_S 3600

/* A slot: the key hash's high 32 bits, then the monotonic second + 1
 * until which its TTL is fresh in the low 32 (0: empty). */
struct sq_ttl_memo {
    uint64_t *slots;
};

struct sq_ttl_note {
    size_t slot, step;
    uint64_t word;
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
    free(m);
}

void sq_ttl_memo_clear(struct sq_ttl_memo *m)
{
    for (size_t i = 0; i < SQ_TTL_MEMO_SLOTS; i++)
        __atomic_store_n(&m->slots[i], 0, __ATOMIC_RELAXED);
}

int64_t sq_ttl_memo_window_s(int64_t ttl_s)
{
    int64_t w = ttl_s / 16;
    return w > SQ_TTL_MEMO_MAX_WINDOW_S ? SQ_TTL_MEMO_MAX_WINDOW_S : w;
}

bool sq_ttl_memo_due(const struct sq_ttl_memo *m, struct sq_ttl_notes *notes, const char *key,
                     size_t len, int64_t ttl_s, int64_t now_s, size_t step)
{
    int64_t window = sq_ttl_memo_window_s(ttl_s);
    if (window <= 0 || now_s < 0 || now_s + window >= (int64_t)UINT32_MAX)
        return true;
    uint64_t h = sq_strhash(key, len);
    size_t slot = (size_t)(h & (SQ_TTL_MEMO_SLOTS - 1));
    uint64_t tag = h >> 32;
    uint64_t w = __atomic_load_n(&m->slots[slot], __ATOMIC_RELAXED);
    uint64_t until = w & 0xFFFFFFFFu;
    /* fresh while now < until - 1, i.e. for window seconds from the refresh */
    if (until && (w >> 32) == tag && (int64_t)until > now_s + 1)
        return false;
    if (notes->n == notes->cap) {
        notes->cap = notes->cap ? 2 * notes->cap : 256;
        notes->v = sq_xrealloc(notes->v, notes->cap * sizeof *notes->v);
    }
    notes->v[notes->n++] = (struct sq_ttl_note){
        .slot = slot, .step = step, .word = tag << 32 | (uint64_t)(now_s + window + 1)};
    return true;
}

/* Keeps the notes of other steps than step; writes step's to m when m is
 * not NULL. */
static void sq_ttl_notes_settle(struct sq_ttl_memo *m, struct sq_ttl_notes *notes, size_t step)
{
    size_t keep = 0;
    for (size_t i = 0; i < notes->n; i++) {
        const struct sq_ttl_note *p = &notes->v[i];
        if (step != SIZE_MAX && p->step != step)
            notes->v[keep++] = *p;
        else if (m)
            __atomic_store_n(&m->slots[p->slot], p->word, __ATOMIC_RELAXED);
    }
    notes->n = keep;
}

void sq_ttl_memo_commit(struct sq_ttl_memo *m, struct sq_ttl_notes *notes, size_t step)
{
    sq_ttl_notes_settle(m, notes, step);
}

void sq_ttl_notes_drop(struct sq_ttl_notes *notes, size_t step)
{
    sq_ttl_notes_settle(NULL, notes, step);
}

void sq_ttl_notes_fini(struct sq_ttl_notes *notes)
{
    free(notes->v);
    memset(notes, 0, sizeof *notes);
}
