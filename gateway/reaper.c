/* reaper.c: the reaper (reaper.h), a job thread (job_thread.h) handed the
 * items added since its last job, in one list, while it is idle. */
#include "reaper.h"

#include <stdbool.h>
#include <stdlib.h>

#include "job_thread.h"

struct sq_item {
    void (*free_fn)(void *item);
    void *item;
};

struct sq_item_list {
    struct sq_item *v;
    size_t n, cap;
};

struct sq_reaper {
    struct sq_job_thread *thread;
    struct sq_item_list pending; /* the caller's: added since the last hand-over */
    struct sq_item_list job;     /* the thread's while submitted */
    bool submitted;
};

static void sq_reaper_job(void *arg)
{
    struct sq_reaper *r = arg;
    for (size_t i = 0; i < r->job.n; i++)
        r->job.v[i].free_fn(r->job.v[i].item);
    r->job.n = 0;
}

struct sq_reaper *sq_reaper_new(struct sq_err *err)
{
    struct sq_job_thread *t = sq_job_thread_new("reaper", NULL, err);
    if (!t)
        return NULL;
    struct sq_reaper *r = sq_xcalloc(1, sizeof *r);
    r->thread = t;
    return r;
}

void sq_reaper_kick(struct sq_reaper *r)
{
    if (r->submitted && sq_job_thread_collect(r->thread, 0))
        r->submitted = false;
    if (r->submitted || !r->pending.n)
        return;
    struct sq_item_list done = r->job; /* empty: the job ran to its end */
    r->job = r->pending;
    r->pending = done;
    r->submitted = sq_job_thread_submit(r->thread, sq_reaper_job, r);
    if (!r->submitted)
        sq_reaper_job(r); /* not idle after all: free them here */
}

void sq_reaper_add(struct sq_reaper *r, void (*free_fn)(void *item), void *item)
{
    struct sq_item_list *l = &r->pending;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = sq_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (struct sq_item){free_fn, item};
    sq_reaper_kick(r);
}

void sq_reaper_free(struct sq_reaper *r)
{
    if (!r)
        return;
    /* joined: a job that never started left its items in job */
    sq_job_thread_free(r->thread);
    sq_reaper_job(r);
    for (size_t i = 0; i < r->pending.n; i++)
        r->pending.v[i].free_fn(r->pending.v[i].item);
    free(r->pending.v);
    free(r->job.v);
    free(r);
}
