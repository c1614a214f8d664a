/* test_ttl_refresh.c: a turn step leaves out the EXPIRE of a key whose TTL
 * its connection set within redis.ttl_refresh_s (gateway/ttl_cache.c), and
 * sends it again when the key may have been deleted: by its own X or R op,
 * by another instance after partitions moved (sq_redis_forget_ttls), or
 * when the step that set it did not apply. Against a real redis-server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"
#include "sq_common.h"
#include "sq_redis_link.h"
#include "store.h"
#include "ttl_cache.h"

static long long expire_calls(redisContext *c)
{
    redisReply *rep = redisCommand(c, "INFO commandstats");
    const char *at = strstr(rep->str, "cmdstat_expire:calls=");
    long long n = at ? atoll(at + strlen("cmdstat_expire:calls=")) : 0;
    freeReplyObject(rep);
    return n;
}

static long long ttl_of(redisContext *c, const char *key)
{
    redisReply *rep = redisCommand(c, "TTL %s", key);
    long long t = rep->integer;
    freeReplyObject(rep);
    return t;
}

/* One partition's turn with one message: a dedupe mark, a customer hash
 * field, a KPI increment, and del (when set) deleting the customer hash
 * first. Applies it and returns the EXPIRE calls it made. */
static long long run_turn(struct sq_redis *r, redisContext *c, const char *eid, int64_t expected,
                          int64_t last, bool del)
{
    struct sq_state_ops msg, ops, sums;
    memset(&msg, 0, sizeof msg);
    memset(&ops, 0, sizeof ops);
    memset(&sums, 0, sizeof sums);
    char f[64];
    snprintf(f, sizeof f, "contact.v1|%s", eid);
    sq_op_dedupe(&msg, "sq:dd:1:1", f, 86400);
    if (del)
        sq_op_del(&msg, "sq:cust:c1");
    const char *fv[] = {"last_event_id", eid, NULL};
    sq_op_hset(&msg, "sq:cust:c1", 86400, fv);
    const char *kf[] = {"offered"};
    const int64_t kb[] = {1};
    sq_state_ops_push(&msg, "Y", 1);
    sq_op_hincr_each(&msg, "sq:kpi:all|*|15m|1795600800", 691200, 1, kf, kb);
    sq_op_message(&ops, 0);
    sq_state_ops_append_borrowed(&ops, &msg);
    const struct sq_state_ops *lists[1] = {&msg};
    sq_state_ops_append_sums(&sums, lists, 1);
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:0", .expected = expected,
                                 .last = last, .max_event_ms = -1, .ops = &ops};
    struct sq_err err;
    sq_err_clear(&err);
    long long e0 = expire_calls(c);
    cr_assert_eq(sq_redis_run_steps(r, &step, 1, &sums, &err), SQ_OK, "%s", err.msg);
    long long e1 = expire_calls(c);
    cr_assert_eq(step.result, 1, "turn at %lld applied", (long long)last);
    free(step.dups);
    sq_state_ops_fini(&msg);
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&sums);
    return e1 - e0;
}

Test(ttl_refresh, a_key_given_its_ttl_recently_gets_no_expire, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    sq_redis_set_ttl_refresh(l.r, 60000);
    cr_assert_eq(run_turn(l.r, l.c, "e1", -1, 1, false), 3, "dedupe hash, customer, KPI cell");
    cr_assert_eq(run_turn(l.r, l.c, "e2", 1, 2, false), 0, "all three set within the interval");
    cr_assert_gt(ttl_of(l.c, "sq:dd:1:1"), 86000);
    cr_assert_gt(ttl_of(l.c, "sq:cust:c1"), 86000);
    cr_assert_gt(ttl_of(l.c, "sq:kpi:all|*|15m|1795600800"), 691000);

    /* the turn deletes the customer hash, then writes it: its TTL again */
    cr_assert_eq(run_turn(l.r, l.c, "e3", 2, 3, true), 1);
    cr_assert_gt(ttl_of(l.c, "sq:cust:c1"), 86000);
    cr_assert_eq(run_turn(l.r, l.c, "e4", 3, 4, false), 0, "noted again after the DEL");

    /* another instance deleted it while it held the partition */
    freeReplyObject(redisCommand(l.c, "DEL sq:cust:c1"));
    sq_redis_forget_ttls();
    cr_assert_eq(run_turn(l.r, l.c, "e5", 4, 5, false), 3, "every key forgotten");
    cr_assert_gt(ttl_of(l.c, "sq:cust:c1"), 86000);
    sq_h_link_stop(&l);
}

Test(ttl_refresh, zero_sends_every_expire, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    sq_redis_set_ttl_refresh(l.r, 0);
    cr_assert_eq(run_turn(l.r, l.c, "e1", -1, 1, false), 3);
    cr_assert_eq(run_turn(l.r, l.c, "e2", 1, 2, false), 3);
    sq_h_link_stop(&l);
}

Test(ttl_refresh, a_turn_that_wrote_nothing_notes_nothing, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    sq_redis_set_ttl_refresh(l.r, 60000);
    /* the turn script finds e1 marked already and writes nothing; the
     * step alone then applies without it: nothing of the message is
     * written, and the customer hash is not noted */
    freeReplyObject(redisCommand(l.c, "HSET sq:dd:1:1 contact.v1|e1 1"));
    struct sq_state_ops msg, ops, sums;
    memset(&msg, 0, sizeof msg);
    memset(&ops, 0, sizeof ops);
    memset(&sums, 0, sizeof sums);
    sq_op_dedupe(&msg, "sq:dd:1:1", "contact.v1|e1", 86400);
    const char *fv[] = {"last_event_id", "e1", NULL};
    sq_op_hset(&msg, "sq:cust:c1", 86400, fv);
    sq_op_message(&ops, 0);
    sq_state_ops_append_borrowed(&ops, &msg);
    const struct sq_state_ops *lists[1] = {&msg};
    sq_state_ops_append_sums(&sums, lists, 1);
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:0", .expected = -1, .last = 1,
                                 .max_event_ms = -1, .ops = &ops};
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_redis_run_steps(l.r, &step, 1, &sums, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 1);
    cr_assert_eq(step.ndups, 1);
    free(step.dups);
    sq_state_ops_fini(&msg);
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&sums);
    redisReply *rep = redisCommand(l.c, "EXISTS sq:cust:c1");
    cr_assert_eq(rep->integer, 0);
    freeReplyObject(rep);
    /* the next turn creates the customer hash: it must get its TTL */
    cr_assert_eq(run_turn(l.r, l.c, "e2", 1, 2, false), 3);
    cr_assert_gt(ttl_of(l.c, "sq:cust:c1"), 86000);
    sq_h_link_stop(&l);
}

Test(ttl_cache, skip_commit_rollback_forget)
{
    struct sq_ttl_cache *c = sq_ttl_cache_new(60000);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 86400, 1000), "first write: EXPIRE");
    cr_assert(sq_ttl_cache_skip(c, "k", 1, 86400, 2000), "noted in the same step");
    sq_ttl_cache_rollback(c);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 86400, 3000), "the step wrote nothing");
    sq_ttl_cache_commit(c);
    cr_assert(sq_ttl_cache_skip(c, "k", 1, 86400, 62999));
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 86400, 63000), "the interval passed");
    sq_ttl_cache_commit(c);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 3600, 63001), "another TTL");
    sq_ttl_cache_commit(c);
    cr_assert(sq_ttl_cache_skip(c, "k", 1, 3600, 63002));
    /* a hundredth of the TTL when that is shorter: 36 s for an hour */
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 3600, 63001 + 36000));
    sq_ttl_cache_commit(c);
    sq_ttl_cache_forget(c, "k", 1);
    sq_ttl_cache_rollback(c);
    cr_assert(sq_ttl_cache_skip(c, "k", 1, 3600, 100000), "the forget rolled back");
    sq_ttl_cache_forget(c, "k", 1);
    sq_ttl_cache_commit(c);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 3600, 100001));
    sq_ttl_cache_commit(c);
    cr_assert_not(sq_ttl_cache_skip(c, "other", 5, 3600, 100002));
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 0, 100003), "no TTL: nothing to skip");
    sq_ttl_cache_commit(c);
    sq_ttl_cache_clear(c);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 3600, 100004));
    sq_ttl_cache_free(c);
}

Test(ttl_cache, many_keys_push_the_oldest_out)
{
    struct sq_ttl_cache *c = sq_ttl_cache_new(60000);
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "key%d", i);
        cr_assert_not(sq_ttl_cache_skip(c, k, strlen(k), 86400, i));
        sq_ttl_cache_commit(c);
    }
    int kept_new = 0, kept_old = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "key%d", 99999 - i);
        kept_new += sq_ttl_cache_skip(c, k, strlen(k), 86400, 100000);
        snprintf(k, sizeof k, "key%d", i);
        kept_old += sq_ttl_cache_skip(c, k, strlen(k), 86400, 100000);
        sq_ttl_cache_rollback(c);
    }
    cr_assert_gt(kept_new, 900, "the newest keys stay: %d of 1000", kept_new);
    cr_assert_eq(kept_old, 0, "the oldest went");
    sq_ttl_cache_free(c);
}

Test(ttl_cache, zero_interval_never_skips)
{
    struct sq_ttl_cache *c = sq_ttl_cache_new(0);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 86400, 1));
    sq_ttl_cache_commit(c);
    cr_assert_not(sq_ttl_cache_skip(c, "k", 1, 86400, 2));
    sq_ttl_cache_free(c);
}
