/* test_reaper.c: the reaper (gateway/reaper.c) frees every item it is
 * given exactly once, on its own thread; items given while it is busy wait
 * for the next hand-over, and freeing the reaper frees what is left. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "reaper.h"

#define ITEMS 64

static pthread_t main_thread;
static atomic_int freed[ITEMS];
static atomic_int freed_here; /* on the main thread */
static atomic_int slow_ms;    /* each free takes this long */

struct item {
    int id;
};

static void item_free(void *p)
{
    struct item *it = p;
    if (pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&freed_here, 1);
    if (atomic_load(&slow_ms))
        usleep((useconds_t)atomic_load(&slow_ms) * 1000);
    atomic_fetch_add(&freed[it->id], 1);
    free(it);
}

static struct item *item_new(int id)
{
    struct item *it = malloc(sizeof *it);
    it->id = id;
    return it;
}

static int freed_total(void)
{
    int n = 0;
    for (int i = 0; i < ITEMS; i++)
        n += atomic_load(&freed[i]);
    return n;
}

static void reset(void)
{
    main_thread = pthread_self();
    for (int i = 0; i < ITEMS; i++)
        atomic_store(&freed[i], 0);
    atomic_store(&freed_here, 0);
    atomic_store(&slow_ms, 0);
}

Test(reaper, frees_each_item_once_on_its_own_thread)
{
    reset();
    struct sq_err err;
    struct sq_reaper *r = sq_reaper_new(&err);
    cr_assert_not_null(r, "%s", err.msg);
    for (int i = 0; i < ITEMS; i++) {
        sq_reaper_add(r, item_free, item_new(i));
        if (i % 8 == 7)
            usleep(2000);
    }
    /* kicked until the thread has taken everything */
    for (int k = 0; k < 500 && freed_total() < ITEMS; k++) {
        sq_reaper_kick(r);
        usleep(2000);
    }
    cr_assert_eq(freed_total(), ITEMS, "freed %d of %d", freed_total(), ITEMS);
    cr_assert_eq(atomic_load(&freed_here), 0, "%d freed on the main thread",
                 atomic_load(&freed_here));
    sq_reaper_free(r);
    for (int i = 0; i < ITEMS; i++)
        cr_assert_eq(atomic_load(&freed[i]), 1, "item %d freed %d times", i,
                     atomic_load(&freed[i]));
}

Test(reaper, items_given_while_busy_wait_and_the_end_frees_them)
{
    reset();
    atomic_store(&slow_ms, 100);
    struct sq_err err;
    struct sq_reaper *r = sq_reaper_new(&err);
    cr_assert_not_null(r, "%s", err.msg);
    sq_reaper_add(r, item_free, item_new(0)); /* the thread takes it and is busy 100 ms */
    usleep(20000);
    for (int i = 1; i < 10; i++)
        sq_reaper_add(r, item_free, item_new(i));
    cr_assert_eq(freed_total(), 0, "nothing is freed before the first free ends");
    atomic_store(&slow_ms, 0);
    sq_reaper_free(r); /* waits for item 0, then frees 1..9 */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(atomic_load(&freed[i]), 1, "item %d freed %d times", i,
                     atomic_load(&freed[i]));
    sq_reaper_free(NULL);
}
