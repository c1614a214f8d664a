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
/* Times are kept in units of 64 s from the memo's making, 20 bits of them
 * (776 days: past that every refresh is due), beside 44 bits of the key's
 * hash, so that a slot is one word; with the 17 bits of its place, a key
 * is known by 61 bits of its hash, about what a dedupe mark's 64 bits
 * are trusted for (docs/contract.md). */
#define SQ_TTL_MEMO_UNIT_S 64
#define SQ_TTL_MEMO_UNIT_BITS 20
#define SQ_TTL_MEMO_UNIT_MASK (((uint64_t)1 << SQ_TTL_MEMO_UNIT_BITS) - 1)
/* A refresh counts as fresh this much less than its window: a step built
 * now may run a little later, and a write it skips is then later too. */
#define SQ_TTL_MEMO_MARGIN_S 60

/* A slot: the key hash's high 44 bits, then the unit (from base_s) until
 * which its TTL is fresh in the low 20 (0: empty). */
struct sq_ttl_memo {
    uint64_t *slots;
    int64_t base_s;  /* monotonic second of unit 0: the memo's making */
};

struct sq_ttl_note {
    size_t slot, step;
    uint64_t word;
};

struct sq_ttl_memo *sq_ttl_memo_new(void)
{
    struct sq_ttl_memo *m = sq_xcalloc(1, sizeof *m);
    m->slots = sq_xcalloc(SQ_TTL_MEMO_SLOTS, sizeof *m->slots);
    m->base_s = sq_mono_ms() / 1000;
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
    int64_t fresh_s = sq_ttl_memo_window_s(ttl_s) - SQ_TTL_MEMO_MARGIN_S;
    if (fresh_s < SQ_TTL_MEMO_UNIT_S || now_s < m->base_s)
        return true;
    int64_t now_u = (now_s - m->base_s) / SQ_TTL_MEMO_UNIT_S;
    /* fresh while now's unit is before until: less than fresh_s from now */
    int64_t until_u = (now_s - m->base_s + fresh_s) / SQ_TTL_MEMO_UNIT_S;
    if (until_u >= ((int64_t)1 << SQ_TTL_MEMO_UNIT_BITS))
        return true;
    uint64_t h = sq_strhash(key, len);
    size_t slot = (size_t)(h & (SQ_TTL_MEMO_SLOTS - 1));
    uint64_t tag = h & ~SQ_TTL_MEMO_UNIT_MASK;
    uint64_t w = __atomic_load_n(&m->slots[slot], __ATOMIC_RELAXED);
    uint64_t until = w & SQ_TTL_MEMO_UNIT_MASK;
    if (until && (w & ~SQ_TTL_MEMO_UNIT_MASK) == tag && now_u < (int64_t)until)
        return false;
    if (notes->n == notes->cap) {
        notes->cap = notes->cap ? 2 * notes->cap : 256;
        notes->v = sq_xrealloc(notes->v, notes->cap * sizeof *notes->v);
    }
    notes->v[notes->n++] =
        (struct sq_ttl_note){.slot = slot, .step = step, .word = tag | (uint64_t)until_u};
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
