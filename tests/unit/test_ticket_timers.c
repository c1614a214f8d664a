/* test_ticket_timers.c: unit tests of processors/ticket_timers.c over the
 * in-process store: every timer goes to the store, memory holds only those
 * due before their partition's horizon, reads bring the rest in as the
 * watermark nears them, in (due, ticket) order, across partitions, and a
 * busy partition is left to its own batch. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "store.h"
#include "ticket_timers.h"

#define H SQ_TIMERS_HORIZON_MS
#define T0 1795600000000LL

struct fixture {
    struct sq_settings st;
    struct sq_store_mem *mem;
    struct sq_ticket_timers tt;
    struct sq_err err;
};

static void fx_init(struct fixture *f)
{
    sq_settings_defaults(&f->st);
    f->mem = sq_store_mem_new();
    sq_ticket_timers_init(&f->tt, &f->st);
    sq_err_clear(&f->err);
}

static void fx_fini(struct fixture *f)
{
    sq_ticket_timers_fini(&f->tt);
    sq_store_mem_free(f->mem);
    sq_settings_free(&f->st);
}

/* Applies ops to the store (as the step after a batch would) and resets them. */
static void apply(struct fixture *f, struct sq_state_ops *ops)
{
    size_t *dups = NULL, nd = 0;
    cr_assert_eq(sq_store_mem_apply(f->mem, ops, &dups, &nd, &f->err), SQ_OK, "%s", f->err.msg);
    free(dups);
    sq_state_ops_reset(ops);
}

/* One message's arm of ticket's timer in partition of the tickets topic,
 * applied at once. */
static void arm_applied(struct fixture *f, struct sq_state_ops *ops, int32_t partition,
                        const char *ticket, int64_t due_ms, int opening, const char *customer)
{
    sq_op_message(ops, 0);
    sq_ticket_timers_arm(&f->tt, ops, "sq.in.tickets", partition, ticket, due_ms, opening,
                         customer);
    apply(f, ops);
}

/* A batch of one message of topic/partition (what the loads look at). */
struct one_batch {
    struct sq_batch b;
    struct sq_msg m;
};

static void one_batch(struct one_batch *ob, const char *topic, int32_t partition)
{
    memset(ob, 0, sizeof *ob);
    ob->m.topic = topic;
    ob->m.partition = partition;
    ob->b.partition = -1;
    ob->b.msgs = &ob->m;
    ob->b.n = 1;
}

static bool only_idle(void *arg, const char *topic, int32_t partition)
{
    (void)topic;
    return partition == *(const int32_t *)arg;
}

/* A batch of topic/partition loads its timers; with idle set, the only
 * other partition no batch holds is *idle (else all are free). */
static int load_with(struct fixture *f, const char *topic, int32_t partition, int64_t limit,
                     const int32_t *idle)
{
    struct one_batch ob;
    one_batch(&ob, topic, partition);
    ob.b.store = sq_store_mem_base(f->mem);
    if (idle) {
        ob.b.part_idle = only_idle;
        ob.b.part_idle_arg = (void *)idle;
    }
    return sq_ticket_timers_load(&f->tt, &ob.b, ob.b.store, limit, &f->err);
}

static int load(struct fixture *f, const char *topic, int32_t partition, int64_t limit)
{
    return load_with(f, topic, partition, limit, NULL);
}

/* Pops every timer due before limit into "id@due_offset_s " text, ending
 * each in ops. */
static void pop_all(struct fixture *f, int64_t limit, struct sq_state_ops *ops, char *out,
                    size_t outsz)
{
    out[0] = 0;
    struct sq_ticket_timer t;
    while (sq_ticket_timers_pop_due(&f->tt, limit, &t)) {
        size_t len = strlen(out);
        snprintf(out + len, outsz - len, "%s@%lld/%d/%s ", t.ticket_id,
                 (long long)((t.due_ms - T0) / 1000), t.opening,
                 t.customer_id ? t.customer_id : "-");
        sq_ticket_timers_end(ops, &t);
        sq_ticket_timer_fini(&t);
    }
}

Test(ticket_timers, memory_holds_only_the_timers_within_the_horizon)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops ops = {0};
    /* a partition read up to T0 + H: the near timer stays in memory too,
     * the far ones only in the store */
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0), SQ_OK);
    sq_op_message(&ops, 0);
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 0, "T-near", T0 + 60000, 1, "c1");
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 0, "T-far", T0 + 4 * 3600000LL, 1, "c2");
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 0, "T-mid", T0 + 2 * H, 2, "c3");
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 1);
    apply(&f, &ops);
    cr_assert_str_eq(sq_store_mem_hget(f.mem, "sq:timers:sq.in.tickets:0", "T-far"),
                     "1795614400000|1|c2");

    /* the watermark nears T-mid: a load brings it in, not T-far */
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0 + 2 * H - 1000), SQ_OK);
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 2);
    char got[256];
    pop_all(&f, T0 + 2 * H + 1, &ops, got, sizeof got);
    cr_assert_str_eq(got, "T-near@60/1/c1 T-mid@1200/2/c3 ");
    apply(&f, &ops);
    cr_assert_null(sq_store_mem_hget(f.mem, "sq:timers:sq.in.tickets:0", "T-near"));
    cr_assert_null(sq_store_mem_hget(f.mem, "sq:timers:sq.in.tickets:0", "T-mid"));
    /* popped and ended: a later load does not bring them back */
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0 + 5 * 3600000LL), SQ_OK);
    pop_all(&f, INT64_MAX, &ops, got, sizeof got);
    cr_assert_str_eq(got, "T-far@14400/1/c2 ");
    sq_state_ops_fini(&ops);
    fx_fini(&f);
}

Test(ticket_timers, cancel_rearm_and_order_across_partitions)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops ops = {0};
    sq_op_message(&ops, 0);
    for (int p = 0; p < 3; p++) { /* armed before any read: the store has them all */
        char id[16];
        snprintf(id, sizeof id, "T-%d", 2 - p);
        sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", p, id, T0 + 1000, 1, "c");
        snprintf(id, sizeof id, "U-%d", p);
        sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", p, id, T0 + 500 * p, 1, "c");
    }
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 0);
    /* re-armed later, and one cancelled, in the same batch */
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 1, "U-1", T0 + 3 * 3600000LL, 2, "c");
    sq_ticket_timers_cancel(&f.tt, &ops, "sq.in.tickets", 2, "U-2");
    apply(&f, &ops);
    /* a batch of partition 1: partitions 0 and 2 are idle (part_idle NULL)
     * and their timers may fall due too */
    cr_assert_eq(load(&f, "sq.in.tickets", 1, T0 + 2000), SQ_OK);
    char got[256];
    pop_all(&f, T0 + 2000, &ops, got, sizeof got);
    cr_assert_str_eq(got, "U-0@0/1/c T-0@1/1/c T-1@1/1/c T-2@1/1/c ");
    sq_op_message(&ops, 1);
    apply(&f, &ops);
    pop_all(&f, INT64_MAX, &ops, got, sizeof got);
    cr_assert_str_eq(got, "", "U-1 moved past the horizon, U-2 cancelled");
    cr_assert_eq(sq_ticket_timers_load_all(&f.tt, sq_store_mem_base(f.mem), INT64_MAX, &f.err),
                 SQ_OK);
    pop_all(&f, INT64_MAX, &ops, got, sizeof got);
    cr_assert_str_eq(got, "U-1@10800/2/c ");
    sq_state_ops_fini(&ops);
    fx_fini(&f);
}

Test(ticket_timers, a_busy_partition_is_left_to_its_own_batch)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops ops = {0};
    sq_op_message(&ops, 0);
    for (int p = 0; p < 3; p++) {
        char id[16];
        snprintf(id, sizeof id, "T-%d", p);
        sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", p, id, T0 + 1000, 1, "c");
    }
    apply(&f, &ops);
    /* a batch of partition 0 while another batch holds partition 2 */
    const int32_t idle = 1;
    cr_assert_eq(load_with(&f, "sq.in.tickets", 0, T0 + 2000, &idle), SQ_OK);
    char got[256];
    pop_all(&f, T0 + 2000, &ops, got, sizeof got);
    cr_assert_str_eq(got, "T-0@1/1/c T-1@1/1/c ");
    /* partition 2's own batch reads it */
    cr_assert_eq(load_with(&f, "sq.in.tickets", 2, T0 + 2000, &idle), SQ_OK);
    pop_all(&f, T0 + 2000, &ops, got, sizeof got);
    cr_assert_str_eq(got, "T-2@1/1/c ");
    /* revoked: its timers leave memory */
    cr_assert_eq(load(&f, "sq.in.tickets", 2, T0 + 2000), SQ_OK);
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 2, "T-late", T0 + 3000, 1, "c");
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 1);
    sq_ticket_timers_revoked(&f.tt, "sq.in.tickets", 2);
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 0);
    sq_state_ops_fini(&ops);
    fx_fini(&f);
}

/* A fire ends only the timer it fired: a re-arm of the same ticket that
 * another batch's step applied first stays. */
Test(ticket_timers, a_fire_leaves_a_rearm_applied_before_it)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops fire = {0}, rearm = {0};
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0), SQ_OK);
    arm_applied(&f, &rearm, 0, "T-1", T0 + 1000, 1, "c1");
    /* batch A fires it; batch B re-arms it past the horizon; B's step first */
    sq_op_message(&fire, 0);
    char got[256];
    pop_all(&f, T0 + 2000, &fire, got, sizeof got);
    cr_assert_str_eq(got, "T-1@1/1/c1 ");
    arm_applied(&f, &rearm, 0, "T-1", T0 + 3 * H, 2, "c1");
    apply(&f, &fire);
    cr_assert_str_eq(sq_store_mem_hget(f.mem, "sq:timers:sq.in.tickets:0", "T-1"),
                     "1795601800000|2|c1");
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0 + 3 * H), SQ_OK);
    pop_all(&f, INT64_MAX, &fire, got, sizeof got);
    cr_assert_str_eq(got, "T-1@1800/2/c1 ");
    sq_state_ops_fini(&fire);
    sq_state_ops_fini(&rearm);
    fx_fini(&f);
}

/* A ticket whose events came in two partitions, each index holding a
 * timer for it: both are kept in memory and fire in due order (the stale
 * one as nothing, its ticket's state no longer due then), so the one the
 * ticket's latest event armed is not lost to the one read first. */
Test(ticket_timers, a_ticket_with_timers_in_two_partitions_keeps_both)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops ops = {0};
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0), SQ_OK);
    cr_assert_eq(load(&f, "sq.in.tickets", 1, T0), SQ_OK);
    arm_applied(&f, &ops, 0, "X", T0 + 3 * H, 1, "c");
    arm_applied(&f, &ops, 1, "X", T0 + 3 * H + 120000, 2, "c");
    /* partition 0's batch while partition 1 is busy, then partition 1's */
    const int32_t idle = 0; /* partition 1 is another batch's */
    cr_assert_eq(load_with(&f, "sq.in.tickets", 0, T0 + 3 * H - 60000, &idle), SQ_OK);
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 1);
    cr_assert_eq(load(&f, "sq.in.tickets", 1, T0 + 3 * H - 60000), SQ_OK);
    char got[256];
    pop_all(&f, T0 + 3 * H + 60000, &ops, got, sizeof got);
    cr_assert_str_eq(got, "X@1800/1/c ");
    pop_all(&f, T0 + 3 * H + 180000, &ops, got, sizeof got);
    cr_assert_str_eq(got, "X@1920/2/c ", "the other partition's timer is still there");
    /* a new arm in one partition ends what the other holds in memory */
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0 + 4 * H), SQ_OK);
    cr_assert_eq(load(&f, "sq.in.tickets", 1, T0 + 4 * H), SQ_OK);
    sq_state_ops_reset(&ops);
    arm_applied(&f, &ops, 0, "Y", T0 + 4 * H, 1, "c");
    arm_applied(&f, &ops, 1, "Y", T0 + 4 * H + 1000, 2, "c");
    cr_assert_null(sq_store_mem_hget(f.mem, "sq:timers:sq.in.tickets:0", "Y"));
    pop_all(&f, INT64_MAX, &ops, got, sizeof got);
    cr_assert_str_eq(got, "Y@2401/2/c ");
    sq_state_ops_fini(&ops);
    fx_fini(&f);
}

/* A fire whose step was dropped unapplied leaves its timer in the store:
 * a resync, once no batch is in flight, brings it back into memory, and
 * leaves what memory holds as it was. */
Test(ticket_timers, a_resync_brings_back_what_a_dropped_step_fired)
{
    struct fixture f;
    fx_init(&f);
    struct sq_state_ops ops = {0}, dropped = {0};
    cr_assert_eq(load(&f, "sq.in.tickets", 0, T0), SQ_OK);
    sq_op_message(&ops, 0);
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 0, "T-1", T0 + 1000, 1, "c1");
    sq_ticket_timers_arm(&f.tt, &ops, "sq.in.tickets", 0, "T-2", T0 + 5000, 1, "c2");
    apply(&f, &ops);
    sq_op_message(&dropped, 0);
    char got[256];
    pop_all(&f, T0 + 2000, &dropped, got, sizeof got);
    cr_assert_str_eq(got, "T-1@1/1/c1 ");
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 1);
    /* its step is never applied */
    cr_assert_eq(sq_ticket_timers_resync(&f.tt, sq_store_mem_base(f.mem), &f.err), SQ_OK);
    cr_assert_eq(sq_ticket_timers_in_memory(&f.tt), 2);
    pop_all(&f, INT64_MAX, &ops, got, sizeof got);
    cr_assert_str_eq(got, "T-1@1/1/c1 T-2@5/1/c2 ");
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&dropped);
    fx_fini(&f);
}
