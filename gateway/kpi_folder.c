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

/* A fold reads and parses the entries of a second or so, a quarter of a
 * megabyte at a time. In the arenas the other threads share, freed pages
 * stay resident for a second (gateway/main.c), which put ~8 MiB on the
 * peak RSS under load; this thread gets an arena of its own that returns
 * them at once. */
static void sq_kpi_folder_own_arena(void)
{
    if (!mallctl)
        return;
    unsigned arena;
    size_t len = sizeof arena;
    if (mallctl("arenas.create", &arena, &len, NULL, 0) != 0)
        return;
    ssize_t now = 0;
    char name[64];
    snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", arena);
    mallctl(name, NULL, NULL, &now, sizeof now);
    snprintf(name, sizeof name, "arena.%u.muzzy_decay_ms", arena);
    mallctl(name, NULL, NULL, &now, sizeof now);
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
    f->rc = sq_kpi_journal_fold(f->redis, NULL, &folded, &f->bad, &left, &f->more, &f->err);
    sq_metrics_inc(SQ_M_KPI_FOLDED, folded);
}

struct sq_kpi_folder *sq_kpi_folder_new(struct sq_redis *redis, struct sq_err *err)
{
    struct sq_job_thread *t = sq_job_thread_new("KPI journal", err);
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
