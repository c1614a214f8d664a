/* test_dedupe_watch.c: the dedupe.shards the dedupe check advises
 * (gateway/dedupe_watch.c); the check itself runs against Redis in
 * integration.pipeline.dedupe_check_*. */
#include <criterion/criterion.h>

#include "dedupe_watch.h"

static struct sq_dedupe_sample sample(uint64_t sampled, uint64_t marks, double fraction)
{
    return (struct sq_dedupe_sample){.sampled = sampled, .marks = marks, .fraction = fraction};
}

Test(dedupe_watch, advice_keeps_a_set_at_400_marks_by_the_slice_end)
{
    /* half the slice gone, 600 a set now: 1,200 by its end, x 2 sets / 400 = 6 */
    struct sq_dedupe_sample s = sample(2, 1200, 0.5);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 2), 1024);
    /* a quarter gone, 1,000 a set of 4,096: 4,000 by the end, 40,960 sets */
    s = sample(32, 32000, 0.25);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 4096), 40960);
}

Test(dedupe_watch, advice_uses_the_mean_now_early_in_a_slice)
{
    /* a tenth gone: too early to project, 1,000 a set of 100,000 now */
    struct sq_dedupe_sample s = sample(32, 32000, 0.1);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 100000), 250880); /* 250,000 up to 245 x 1024 */
    /* an event time past the slice's end (clock skew): the mean now */
    s = sample(32, 32000, 1.5);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 100000), 250880);
}

Test(dedupe_watch, advice_is_at_least_1024)
{
    struct sq_dedupe_sample s = sample(0, 0, 0.5);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 4096), 1024);
    s = sample(32, 64, 0.9);
    cr_assert_eq(sq_dedupe_watch_advice(&s, 64), 1024);
}
