/* kpi_folder.c: the KPI journal's fold thread (kpi_folder.h), a job thread
 * (job_thread.h) with its own connection. The main thread starts a fold and
 * later collects its outcome; the thread touches nothing but its own
 * connection and the fold's outcome. */
#include "kpi_folder.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "job_thread.h"
#include "kpi_journal.h"
#include "log.h"
#include "metrics.h"

struct sq_kpi_folder {
    struct sq_job_thread *thread;
    struct sq_redis *redis;
    bool own_arena;              /* sq_kpi_folder_own_arena ran on the thread */
    /* the last fold's outcome */
    int rc;
    bool more;
    size_t bad;
    struct sq_err err;
};

/* jemalloc's control, when sqgate is linked with it (gateway/main.c). */
extern int mallctl(const char *name, void *old, size_t *oldlen, void *newp, size_t newlen)
    __attribute__((weak));

/* How long this thread's arena keeps freed pages resident, ms. A fold
 * comes every kpi.fold_interval_s (3 s by default) and allocates megabytes
 * a quarter of a megabyte at a time: kept for 10 s, the next fold finds its
 * pages again. Returning them at once (0, as before) cost a madvise with
 * a TLB shootdown on every core and a page fault for every page of every
 * fold: sqgate used 0.76 cores at 7,000 events/s with it and 0.48-0.62
 * without (docs/performance.md), for a few MiB more peak RSS: the ~8 MiB
 * a fold leaves free here are kept. */
#define SQ_KPI_FOLDER_DECAY_MS 10000

/* A fold's pages go to an arena of this thread's own, so that keeping them
 * for the next fold does not keep the other threads' freed pages too. */
static void sq_kpi_folder_own_arena(void)
{
    if (!mallctl)
        return;
    unsigned arena;
    size_t len = sizeof arena;
    if (mallctl("arenas.create", &arena, &len, NULL, 0) != 0)
        return;
    ssize_t dirty = SQ_KPI_FOLDER_DECAY_MS, muzzy = 0;
    char name[64];
    snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", arena);
    mallctl(name, NULL, NULL, &dirty, sizeof dirty);
    snprintf(name, sizeof name, "arena.%u.muzzy_decay_ms", arena);
    mallctl(name, NULL, NULL, &muzzy, sizeof muzzy);
    mallctl("thread.arena", NULL, NULL, &arena, sizeof arena);
}

static void sq_kpi_folder_job(void *arg)
{
    struct sq_kpi_folder *f = arg;
    if (!f->own_arena) {
        sq_kpi_folder_own_arena();
        f->own_arena = true;
    }
    sq_err_clear(&f->err);
    size_t folded, left;
    int64_t start_us = sq_mono_us();
    f->rc = sq_kpi_journal_fold(f->redis, NULL, &folded, &f->bad, &left, &f->more, &f->err);
    sq_metrics_inc(SQ_M_KPI_FOLDED, folded);
    if (folded || left)
        sq_debug("kpi journal: folded %zu entries in %.1f ms, %zu left", folded,
                 (double)(sq_mono_us() - start_us) / 1000.0, left);
}

struct sq_kpi_folder *sq_kpi_folder_new(struct sq_redis *redis, struct sq_err *err)
{
    struct sq_job_thread *t = sq_job_thread_new("KPI journal", NULL, err);
    if (!t) {
        sq_redis_free(redis);
        return NULL;
    }
    struct sq_kpi_folder *f = sq_xcalloc(1, sizeof *f);
    f->thread = t;
    f->redis = redis;
    return f;
}

void sq_kpi_folder_free(struct sq_kpi_folder *f)
{
    if (!f)
        return;
    sq_job_thread_free(f->thread);
    sq_redis_free(f->redis);
    free(f);
}

bool sq_kpi_folder_start(struct sq_kpi_folder *f)
{
    return sq_job_thread_submit(f->thread, sq_kpi_folder_job, f);
}

bool sq_kpi_folder_collect(struct sq_kpi_folder *f, int wait_ms, int *rc, bool *more,
                           size_t *bad, struct sq_err *err)
{
    if (!sq_job_thread_collect(f->thread, wait_ms))
        return false;
    *rc = f->rc;
    *more = f->more;
    *bad = f->bad;
    *err = f->err;
    return true;
}
