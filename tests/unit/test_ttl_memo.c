/* test_ttl_memo.c: a step refreshes a key's TTL once per window
 * (gateway/ttl_memo.h): the memo's own rules, then, against a real
 * redis-server, that a refresh the memo holds is not sent again, that a key
 * an op creates gets its TTL all the same (each op that can tell), and that
 * a step that did not apply notes nothing. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"
#include "sq_redis_link.h"
#include "sq_common.h"
#include "store.h"
#include "ttl_memo.h"

#define DAY 86400

Test(ttl_memo, window_is_a_sixteenth_at_most_an_hour)
{
    cr_assert_eq(sq_ttl_memo_window_s(400LL * DAY), 3600);
    cr_assert_eq(sq_ttl_memo_window_s(1600), 100);
    cr_assert_eq(sq_ttl_memo_window_s(15), 0);
}

Test(ttl_memo, a_refresh_counts_once_its_step_applied)
{
    struct sq_ttl_memo *m = sq_ttl_memo_new();
    struct sq_ttl_notes n = {0}, other = {0};
    int64_t t = sq_mono_ms() / 1000; /* the memo counts from its making */
    const char *k = "sq:cust:a";
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t, 0), "never refreshed");
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t, 0), "still only noted");
    sq_ttl_notes_drop(&n, 0);
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t + 1, 1), "dropped: not in the memo");
    sq_ttl_memo_commit(m, &n, 0); /* another step's: nothing of step 1 */
    cr_assert(sq_ttl_memo_due(m, &other, k, strlen(k), DAY, t + 1, 1), "step 1's only noted");
    sq_ttl_notes_drop(&other, SIZE_MAX);
    sq_ttl_memo_commit(m, &n, 1);
    /* a day's TTL: a window of 5400 s, capped at 3600, less a margin of 60 s
     * and at most a unit of 64 s */
    cr_assert_not(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t + 2, 2), "fresh");
    cr_assert_not(sq_ttl_memo_due(m, &other, k, strlen(k), DAY, t + 2, 0),
                  "fresh for another connection too");
    cr_assert_not(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t + 1 + 3600 - 60 - 65, 2),
                  "fresh to the end of the window, less the margin and a unit");
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), DAY, t + 1 + 3600 - 60, 2),
              "the window, less the margin, is over");
    const char *o = "sq:cust:b";
    cr_assert(sq_ttl_memo_due(m, &n, o, strlen(o), DAY, t + 2, 2), "another key");
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), 15, t + 2, 2), "a TTL too short for a window");
    cr_assert(sq_ttl_memo_due(m, &n, k, strlen(k), 1600, t + 2, 2),
              "a window of 100 s, less the margin, is shorter than a unit");
    sq_ttl_memo_commit(m, &n, SIZE_MAX);
    cr_assert_not(sq_ttl_memo_due(m, &n, o, strlen(o), DAY, t + 3, 3));
    sq_ttl_memo_clear(m);
    cr_assert(sq_ttl_memo_due(m, &n, o, strlen(o), DAY, t + 3, 3), "cleared");
    sq_ttl_notes_fini(&n);
    sq_ttl_notes_fini(&other);
    sq_ttl_memo_free(m);
}

/* One partition's steps on a link, offsets 1, 2, ... */
struct stepper {
    struct sq_redis *r;
    char offset_key[32];
    int64_t last;
};

/* Runs ops as the partition's next step; expected_off -2 sends the stored
 * offset, anything else that as expected. Returns the step's result. */
static int step_run(struct stepper *s, struct sq_state_ops *ops, int64_t expected)
{
    struct sq_redis_step st = {.offset_key = s->offset_key,
                               .expected = expected == -2 ? (s->last ? s->last : -1) : expected,
                               .last = s->last + 1,
                               .max_event_ms = 1795601000000LL,
                               .ops = ops};
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_redis_run_steps(s->r, &st, 1, NULL, &err), SQ_OK, "%s", err.msg);
    free(st.dups);
    if (st.result == 1)
        s->last++;
    sq_state_ops_reset(ops);
    return st.result;
}

/* A server of the test's own, and partition 0's steps on its link. */
static void stepper_start(struct sq_h_link *l, struct stepper *s)
{
    sq_h_link_start(l, "sq:");
    *s = (struct stepper){.r = l->r};
    snprintf(s->offset_key, sizeof s->offset_key, "sq:off:g:t:0");
}

static long long ttl_of(redisContext *c, const char *key)
{
    redisReply *rep = redisCommand(c, "TTL %s", key);
    long long t = rep->integer;
    freeReplyObject(rep);
    return t;
}

static void cmd(redisContext *c, const char *fmt, const char *key)
{
    redisReply *rep = redisCommand(c, fmt, key);
    cr_assert(rep && rep->type != REDIS_REPLY_ERROR, "%s %s", fmt, key);
    freeReplyObject(rep);
}

/* A C op of customer key (sinks.h: the event's eight arguments, score's
 * eight left empty). */
static void push_customer(struct sq_state_ops *ops, const char *key, const char *eid)
{
    const char *const a[16] = {"C", key, "1", "2026-11-25T10:00:00.000Z", eid, "", "", "gold",
                               "34560000", "", "", "", "", "0", "", ""};
    for (int i = 0; i < 16; i++)
        sq_state_ops_push_str(ops, a[i]);
    sq_state_ops_push_str(ops, "0");
}

/* Every op the memo decides, each on a key of its own. */
static void push_all(struct sq_state_ops *ops, int n)
{
    char eid[16], member[32];
    snprintf(eid, sizeof eid, "e%d", n);
    snprintf(member, sizeof member, "{\"b\":%d}", n);
    sq_op_message(ops, 0);
    char mark[32];
    snprintf(mark, sizeof mark, "contact.v1|%s", eid);
    sq_op_dedupe(ops, "sq:dm:1:7", mark, 2 * DAY);
    push_customer(ops, "sq:cust:a", eid);
    const char *fv[] = {"contacts", eid, NULL};
    sq_op_hset(ops, "sq:hist:a", 30 * DAY, fv);
    sq_op_hincr(ops, "sq:i:a", "n", 1, DAY);
    sq_op_zadd_keep(ops, "sq:cust:a:breaches", DAY, 100, 10 + n, member);
    sq_op_latest(ops, "sq:g:a", "t", eid, "v", "x", DAY);
    /* the same ticket's timer again: a new ticket's is a new field, and
     * sets the TTL as a new key does */
    sq_op_timer_arm(ops, "sq:timers:t:0", "sq:timers-due:t:0", "t1", 1795601000000LL + n,
                    eid, DAY);
}

static const char *const all_keys[] = {"sq:dm:1:7", "sq:cust:a", "sq:hist:a", "sq:i:a",
                                       "sq:cust:a:breaches", "sq:g:a", "sq:timers:t:0",
                                       "sq:timers-due:t:0"};
#define NKEYS (sizeof all_keys / sizeof *all_keys)

Test(ttl_memo, a_step_skips_a_fresh_refresh_but_not_a_new_key, .timeout = 60)
{
    struct sq_h_link l;
    struct stepper s;
    stepper_start(&l, &s);
    struct sq_state_ops ops = {0};

    push_all(&ops, 1);
    cr_assert_eq(step_run(&s, &ops, -2), 1);
    for (size_t k = 0; k < NKEYS; k++) {
        cr_assert_gt(ttl_of(l.c, all_keys[k]), 0, "%s has its TTL", all_keys[k]);
        cmd(l.c, "PERSIST %s", all_keys[k]);
    }
    /* written again within the window: the memo holds every refresh */
    push_all(&ops, 2);
    cr_assert_eq(step_run(&s, &ops, -2), 1);
    for (size_t k = 0; k < NKEYS; k++)
        cr_assert_eq(ttl_of(l.c, all_keys[k]), -1, "%s: TTL refreshed again", all_keys[k]);

    /* deleted (an emptied hash, `sqgate forget`): the op that makes the
     * key again gives it its TTL, the memo notwithstanding; a dedupe set
     * is never deleted while it is written, and cannot tell */
    for (size_t k = 0; k < NKEYS; k++)
        cmd(l.c, "DEL %s", all_keys[k]);
    push_all(&ops, 3);
    cr_assert_eq(step_run(&s, &ops, -2), 1);
    for (size_t k = 1; k < NKEYS; k++)
        cr_assert_gt(ttl_of(l.c, all_keys[k]), 0, "%s made again without a TTL", all_keys[k]);
    sq_state_ops_fini(&ops);
    sq_h_link_stop(&l);
}

Test(ttl_memo, a_step_that_did_not_apply_notes_nothing, .timeout = 60)
{
    struct sq_h_link l;
    struct stepper s;
    stepper_start(&l, &s);
    struct sq_state_ops ops = {0};

    push_all(&ops, 1);
    cr_assert_eq(step_run(&s, &ops, 7), -1, "fenced: another offset expected");
    for (size_t k = 0; k < NKEYS; k++)
        cr_assert_eq(ttl_of(l.c, all_keys[k]), -2, "%s: a fenced step wrote", all_keys[k]);
    /* the keys are made by hand without TTLs; the next step must refresh
     * them, since the fenced one never did */
    cmd(l.c, "SADD %s 1", "sq:dm:1:7");
    cmd(l.c, "HSET %s events_total 1", "sq:cust:a");
    push_all(&ops, 2);
    cr_assert_eq(step_run(&s, &ops, -2), 1);
    cr_assert_gt(ttl_of(l.c, "sq:dm:1:7"), 0, "the dedupe set's TTL");
    cr_assert_gt(ttl_of(l.c, "sq:cust:a"), 0, "the customer's TTL");
    sq_state_ops_fini(&ops);
    sq_h_link_stop(&l);
}

Test(ttl_memo, connections_sharing_a_memo_refresh_once_between_them, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_ttl_memo *m = sq_ttl_memo_new();
    struct sq_redis *other = sq_redis_new(l.url, "sq:", 2000, &err);
    cr_assert_not_null(other);
    sq_redis_share_ttl_memo(l.r, m);
    sq_redis_share_ttl_memo(other, m);
    struct stepper a = {.r = l.r}, b = {.r = other};
    snprintf(a.offset_key, sizeof a.offset_key, "sq:off:g:t:0");
    snprintf(b.offset_key, sizeof b.offset_key, "sq:off:g:t:1");
    struct sq_state_ops ops = {0};

    push_all(&ops, 1);
    cr_assert_eq(step_run(&a, &ops, -2), 1);
    for (size_t k = 0; k < NKEYS; k++)
        cmd(l.c, "PERSIST %s", all_keys[k]);
    push_all(&ops, 2);
    cr_assert_eq(step_run(&b, &ops, -2), 1);
    for (size_t k = 0; k < NKEYS; k++)
        cr_assert_eq(ttl_of(l.c, all_keys[k]), -1, "%s: refreshed again by the other",
                     all_keys[k]);
    sq_state_ops_fini(&ops);
    sq_redis_free(other);
    sq_h_link_stop(&l);
    sq_ttl_memo_free(m); /* after the links that share it */
}
