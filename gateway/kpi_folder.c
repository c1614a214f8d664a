/* kpi_folder.c: the KPI journal's fold thread (kpi_folder.h). The main
 * thread starts a fold and later collects its outcome; the thread touches
 * nothing but its own connection and the fold's outcome. */
#include "kpi_folder.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <time.h>

#include "kpi_journal.h"
#include "metrics.h"

enum sq_fold_state { SQ_FOLD_IDLE, SQ_FOLD_QUEUED, SQ_FOLD_RUNNING, SQ_FOLD_DONE };

struct sq_kpi_folder {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* state changed, or stop */
    struct sq_redis *redis;
    bool stop;
    enum sq_fold_state state;
    int rc;
    bool more;
    size_t bad;
    struct sq_err err;
};

/* jemalloc's control, when sqgate is linked with it (gateway/main.c). */
extern int mallctl(const char *name, void *old, size_t *oldlen, void *newp, size_t newlen)
    __attribute__((weak));

/* A fold reads and parses a megabyte or so of entries a few times a
 * second. In the arenas the other threads share, freed pages stay resident
 * for a second (gateway/main.c), which put ~8 MiB on the peak RSS under
 * load; this thread gets an arena of its own that returns them at once. */
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

static void *sq_kpi_folder_main(void *arg)
{
    struct sq_kpi_folder *f = arg;
    sq_kpi_folder_own_arena();
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && f->state != SQ_FOLD_QUEUED)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->state != SQ_FOLD_QUEUED)
            break; /* stop, no fold waiting */
        f->state = SQ_FOLD_RUNNING;
        pthread_mutex_unlock(&f->mu);
        struct sq_err err;
        sq_err_clear(&err);
        size_t folded = 0, left = 0;
        struct sq_kpi_fold fold;
        int rc = sq_kpi_journal_read(f->redis, 0, &fold, &err);
        if (rc == SQ_OK)
            rc = sq_kpi_journal_apply(f->redis, &fold, &folded, &left, &err);
        size_t bad = folded ? fold.bad : 0;
        bool full = fold.full;
        sq_kpi_fold_fini(&fold);
        sq_metrics_inc(SQ_M_KPI_FOLDED, folded);
        pthread_mutex_lock(&f->mu);
        f->rc = rc;
        f->err = err;
        /* a fold that took less than its entries' bytes or count left
         * entries behind; a step's entry that came during the fold waits
         * for the next one */
        f->more = rc == SQ_OK && folded > 0 && full;
        f->bad = bad;
        f->state = SQ_FOLD_DONE;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct sq_kpi_folder *sq_kpi_folder_new(struct sq_redis *redis, struct sq_err *err)
{
    struct sq_kpi_folder *f = sq_xcalloc(1, sizeof *f);
    f->redis = redis;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int e = pthread_create(&f->thread, NULL, sq_kpi_folder_main, f);
    if (e) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot start the KPI journal thread: %s",
                   strerror(e));
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        sq_redis_free(redis);
        free(f);
        return NULL;
    }
    return f;
}

void sq_kpi_folder_free(struct sq_kpi_folder *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    if (f->state == SQ_FOLD_QUEUED)
        f->state = SQ_FOLD_IDLE; /* never started: nothing was sent */
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    sq_redis_free(f->redis);
    free(f);
}

bool sq_kpi_folder_start(struct sq_kpi_folder *f)
{
    pthread_mutex_lock(&f->mu);
    bool ok = f->state == SQ_FOLD_IDLE && !f->stop;
    if (ok) {
        f->state = SQ_FOLD_QUEUED;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

bool sq_kpi_folder_collect(struct sq_kpi_folder *f, int wait_ms, int *rc, bool *more,
                           size_t *bad, struct sq_err *err)
{
    pthread_mutex_lock(&f->mu);
    if (f->state != SQ_FOLD_DONE && f->state != SQ_FOLD_IDLE && wait_ms > 0) {
        struct timespec until = sq_deadline_in_ms(wait_ms);
        while (f->state != SQ_FOLD_DONE &&
               pthread_cond_timedwait(&f->cv, &f->mu, &until) != ETIMEDOUT)
            ;
    }
    bool done = f->state == SQ_FOLD_DONE;
    if (done) {
        *rc = f->rc;
        *more = f->more;
        *bad = f->bad;
        *err = f->err;
        f->state = SQ_FOLD_IDLE;
    }
    pthread_mutex_unlock(&f->mu);
    return done;
}
