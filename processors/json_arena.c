/* json_arena.c: jansson's allocator with arenas (json_arena.h).
 *
 * An arena's values are carved, 16-byte aligned, from blocks of 64 KiB.
 * Every block lies in one region of address space reserved when the first
 * arena is made (256 MiB, no memory until touched), so jansson's free knows
 * an arena's value by its address alone and does nothing for it; any other
 * pointer is malloc's and goes to free(). Values are not tagged, so what
 * jansson allocates outside an arena (json_dumps's text, say) stays an
 * ordinary malloc block that callers free() as before.
 *
 * An arena's blocks go back to a shared free list when it is freed or
 * reset (the warmest is the next taken); past SQ_JA_WARM free blocks their pages are returned to the
 * system. A value larger than a block, or one asked for when the region is
 * used up, comes from malloc. The allocator is installed by a constructor,
 * before main and so before any jansson value exists, in every program
 * linked with this file. Under ASan a block's bytes are poisoned while it
 * is free, so a value used after its arena went is reported. */
#include "json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sq_common.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SQ_JA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SQ_JA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SQ_JA_POISON(p, n) ((void)(p), (void)(n))
#define SQ_JA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SQ_JA_BLOCK ((size_t)64 * 1024)
#define SQ_JA_REGION ((size_t)256 << 20)
#define SQ_JA_WARM 256 /* free blocks (16 MiB) kept with their pages */

struct sq_json_arena {
    unsigned char **blocks; /* blocks[nblocks - 1] is the one values come from */
    size_t nblocks, cap;
    size_t used;            /* bytes taken from the last block */
};

static struct {
    _Atomic uintptr_t base; /* 0 until reserved */
    pthread_once_t once;
    pthread_mutex_t mu;     /* the fields below */
    size_t next;            /* bytes of the region handed out once */
    unsigned char **free_v; /* free blocks, the warmest last */
    size_t free_n, free_cap;
} sq_ja = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local struct sq_json_arena *sq_ja_current;

static void sq_ja_reserve(void)
{
    void *p = mmap(NULL, SQ_JA_REGION, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED)
        atomic_store_explicit(&sq_ja.base, (uintptr_t)p, memory_order_release);
    /* else arenas take nothing from a region: every value is malloc's */
}

static bool sq_ja_owns(const void *p)
{
    uintptr_t base = atomic_load_explicit(&sq_ja.base, memory_order_acquire);
    return base && (uintptr_t)p - base < SQ_JA_REGION;
}

/* A block for a, or NULL when the region is used up (or not there). */
static unsigned char *sq_ja_block_get(void)
{
    uintptr_t base = atomic_load_explicit(&sq_ja.base, memory_order_acquire);
    if (!base)
        return NULL;
    unsigned char *b = NULL;
    pthread_mutex_lock(&sq_ja.mu);
    if (sq_ja.free_n) {
        b = sq_ja.free_v[--sq_ja.free_n];
    } else if (sq_ja.next + SQ_JA_BLOCK <= SQ_JA_REGION) {
        b = (unsigned char *)base + sq_ja.next;
        sq_ja.next += SQ_JA_BLOCK;
    }
    pthread_mutex_unlock(&sq_ja.mu);
    if (b)
        SQ_JA_UNPOISON(b, SQ_JA_BLOCK);
    return b;
}

/* Gives n blocks back; those past the warm ones lose their pages. */
static void sq_ja_blocks_put(unsigned char **v, size_t n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n; i++)
        SQ_JA_POISON(v[i], SQ_JA_BLOCK);
    pthread_mutex_lock(&sq_ja.mu);
    if (sq_ja.free_n + n > sq_ja.free_cap) {
        size_t cap = sq_ja.free_cap ? sq_ja.free_cap : 64;
        while (cap < sq_ja.free_n + n)
            cap *= 2;
        sq_ja.free_v = sq_xrealloc(sq_ja.free_v, cap * sizeof *sq_ja.free_v);
        sq_ja.free_cap = cap;
    }
    /* the cold ones go under the warm ones, taken last */
    size_t cold = sq_ja.free_n + n > SQ_JA_WARM ? sq_ja.free_n + n - SQ_JA_WARM : 0;
    if (cold > n)
        cold = n;
    if (cold)
        memmove(sq_ja.free_v + cold, sq_ja.free_v, sq_ja.free_n * sizeof *sq_ja.free_v);
    for (size_t i = 0; i < cold; i++)
        sq_ja.free_v[i] = v[i];
    for (size_t i = cold; i < n; i++)
        sq_ja.free_v[sq_ja.free_n + i] = v[i];
    sq_ja.free_n += n;
    pthread_mutex_unlock(&sq_ja.mu);
    for (size_t i = 0; i < cold; i++)
        madvise(v[i], SQ_JA_BLOCK, MADV_DONTNEED);
}

static void *sq_ja_malloc(size_t size)
{
    struct sq_json_arena *a = sq_ja_current;
    size_t need = (size + 15) & ~(size_t)15;
    if (!a || size == 0 || need > SQ_JA_BLOCK)
        return malloc(size);
    if (!a->nblocks || SQ_JA_BLOCK - a->used < need) {
        unsigned char *b = sq_ja_block_get();
        if (!b)
            return malloc(size);
        if (a->nblocks == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 8;
            a->blocks = sq_xrealloc(a->blocks, a->cap * sizeof *a->blocks);
        }
        a->blocks[a->nblocks++] = b;
        a->used = 0;
    }
    void *p = a->blocks[a->nblocks - 1] + a->used;
    a->used += need;
    return p;
}

static void sq_ja_free(void *p)
{
    if (!sq_ja_owns(p))
        free(p); /* NULL too */
    /* an arena's value goes with its arena */
}

__attribute__((constructor)) static void sq_ja_install(void)
{
    json_set_alloc_funcs(sq_ja_malloc, sq_ja_free);
}

bool sq_json_arena_installed(void)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    return m == sq_ja_malloc && f == sq_ja_free;
}

bool sq_json_arena_holds(const void *p)
{
    return sq_ja_owns(p);
}

struct sq_json_arena *sq_json_arena_new(void)
{
    pthread_once(&sq_ja.once, sq_ja_reserve);
    return sq_xcalloc(1, sizeof(struct sq_json_arena));
}

void sq_json_arena_free(struct sq_json_arena *a)
{
    if (!a)
        return;
    sq_json_arena_reset(a);
    free(a->blocks);
    free(a);
}

void sq_json_arena_reset(struct sq_json_arena *a)
{
    /* every block back (the warmest comes back with the next value), so
     * ASan sees a value used after the reset */
    sq_ja_blocks_put(a->blocks, a->nblocks);
    a->nblocks = 0;
    a->used = 0;
}

size_t sq_json_arena_bytes(const struct sq_json_arena *a)
{
    return a ? a->nblocks * SQ_JA_BLOCK : 0;
}

struct sq_json_arena *sq_json_arena_use(struct sq_json_arena *a)
{
    struct sq_json_arena *prev = sq_ja_current;
    sq_ja_current = a;
    return prev;
}
