/* test_offsets.c: where a partition's processing goes on (gateway/offsets.c):
 * the next offset to process and the first one not committed, before and
 * after anything was applied or committed, when messages wait in Kafka
 * past what it processed, and when a partition counts as stalled
 * (runtime.stall_s): messages waiting that the fetcher has not
 * reached, quiet since its last fetch or since we last held it, with the
 * wait doubling after a restart that fetched nothing (sq_part_stall_restart). */
#include <criterion/criterion.h>

#include "offsets.h"

static struct sq_part *fresh(struct sq_parts *ps)
{
    struct sq_part *p = sq_parts_add(ps, "sq.in.contacts", 2);
    p->last_fetch_mono_ms = 0;
    return p;
}

Test(offsets, next_offset_before_and_after_anything_applied)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    p->need_init = true;
    cr_assert_eq(sq_part_next_offset(p, 0), -1, "applied offset not read yet");
    p->need_init = false;
    cr_assert_eq(sq_part_next_offset(p, 0), -1, "the group's committed offset not known yet");
    p->start_from = SQ_START_EARLIEST;
    cr_assert_eq(sq_part_next_offset(p, 7), 7, "no commit: from the low watermark");
    cr_assert_eq(sq_part_next_offset(p, -1), -1, "low watermark unknown");
    p->start_from = 40;
    cr_assert_eq(sq_part_next_offset(p, 7), 40, "the group's committed offset");
    p->applied = 99;
    cr_assert_eq(sq_part_next_offset(p, 7), 100, "after the applied offset");
    sq_parts_fini(&ps);
}

Test(offsets, pending_from_is_the_commit_once_there_is_one)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    p->start_from = SQ_START_EARLIEST;
    cr_assert_eq(sq_part_pending_from(p, 0), 0);
    p->applied = 49;
    cr_assert_eq(sq_part_pending_from(p, 0), 50);
    p->committed = 30; /* commits lag the applied offset */
    cr_assert_eq(sq_part_pending_from(p, 0), 30);
    sq_parts_fini(&ps);
}

Test(offsets, stalled_only_with_messages_waiting_and_no_fetch)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    const int64_t stall = 60000;
    p->applied = 9; /* next offset 10 */
    cr_assert(!sq_part_stalled(p, 0, 10, 61000, stall), "nothing waits");
    cr_assert(!sq_part_stalled(p, 0, -1, 61000, stall), "high watermark unknown");
    cr_assert(!sq_part_stalled(p, 0, 15, 59999, stall), "fetched recently");
    cr_assert(sq_part_stalled(p, 0, 15, 60000, stall));
    cr_assert(!sq_part_stalled(p, 0, 15, 60000, 0), "the check is off");
    p->backlog_n = 1;
    cr_assert(!sq_part_stalled(p, 0, 15, 60000, stall), "fetched messages wait for a turn");
    p->backlog_n = 0;
    p->need_init = true;
    cr_assert(!sq_part_stalled(p, 0, 15, 60000, stall), "applied offset unknown");
    sq_parts_fini(&ps);
}

Test(offsets, a_restart_at_the_same_offset_waits_longer)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    const int64_t stall = 60000;
    p->applied = 9;
    p->stall_next = 10; /* restarted at 10 before */
    p->stall_wait_ms = 120000;
    cr_assert(!sq_part_stalled(p, 0, 15, 119999, stall));
    cr_assert(sq_part_stalled(p, 0, 15, 120000, stall));
    p->applied = 11; /* it moved on: the plain wait again */
    cr_assert(sq_part_stalled(p, 0, 15, 60000, stall));
    sq_parts_fini(&ps);
}

Test(offsets, next_offset_never_below_the_first_kept)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    p->applied = 9; /* retention deleted 10..19 before they were processed */
    cr_assert_eq(sq_part_next_offset(p, 20), 20);
    cr_assert_eq(sq_part_next_offset(p, -1), 10, "low watermark unknown");
    cr_assert(!sq_part_stalled(p, 20, 20, 60000, 60000), "nothing left to fetch");
    sq_parts_fini(&ps);
}

Test(offsets, a_partition_whose_end_the_fetcher_reported_is_not_stalled)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    p->applied = 9; /* offset 10 is a transaction marker, the end is 11 */
    p->eof_offset = 11;
    cr_assert(!sq_part_stalled(p, 0, 11, 60000, 60000));
    cr_assert(sq_part_stalled(p, 0, 12, 60000, 60000), "a message came after the end");
    sq_parts_fini(&ps);
}

Test(offsets, messages_wait_below_the_high_watermark_until_the_reported_end)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    cr_assert(!sq_part_messages_wait(p, 0, 15), "next offset not known yet");
    p->applied = 9; /* next offset 10 */
    cr_assert(!sq_part_messages_wait(p, 0, 10), "caught up");
    cr_assert(!sq_part_messages_wait(p, 0, -1), "high watermark unknown");
    cr_assert(sq_part_messages_wait(p, 0, 15));
    p->eof_offset = 11; /* offset 10 is a transaction marker, the end is 11 */
    cr_assert(!sq_part_messages_wait(p, 0, 11), "only a marker past the applied offset");
    cr_assert(sq_part_messages_wait(p, 0, 12), "a message came after the end");
    sq_parts_fini(&ps);
}

Test(offsets, the_stall_clock_restarts_while_the_partition_is_held)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    p->applied = 9;
    p->stall_clock_mono_ms = 50000; /* paused until then */
    cr_assert_eq(sq_part_quiet_since(p), 50000);
    cr_assert(!sq_part_stalled(p, 0, 15, 60000, 60000));
    cr_assert(sq_part_stalled(p, 0, 15, 110000, 60000));
    sq_parts_fini(&ps);
}

Test(offsets, restarts_at_one_offset_double_the_wait_up_to_an_hour)
{
    struct sq_parts ps = {0};
    struct sq_part *p = fresh(&ps);
    const int64_t stall = 60000;
    p->applied = 9;
    cr_assert(!sq_part_stall_restart(p, 10, stall, 60000), "the first restart at 10");
    cr_assert_eq(p->stall_wait_ms, 120000);
    cr_assert_eq(sq_part_quiet_since(p), 60000, "the stall clock restarts");
    cr_assert(!sq_part_stalled(p, 0, 15, 179999, stall));
    cr_assert(sq_part_stalled(p, 0, 15, 180000, stall));
    cr_assert(sq_part_stall_restart(p, 10, stall, 180000), "again at 10");
    cr_assert_eq(p->stall_wait_ms, 240000);
    for (int i = 0; i < 10; i++)
        sq_part_stall_restart(p, 10, stall, 180000);
    cr_assert_eq(p->stall_wait_ms, 3600000, "at most an hour");
    cr_assert(!sq_part_stall_restart(p, 12, stall, 200000), "another offset starts over");
    cr_assert_eq(p->stall_wait_ms, 120000);
    sq_parts_fini(&ps);
}
