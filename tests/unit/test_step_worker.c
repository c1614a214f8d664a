/* test_step_worker.c: the thread that runs Redis partition steps
 * (gateway/step_worker.c), against a real redis-server: a job's outcome is
 * the step's, one job at a time, a Redis outage is reported and the next
 * job reconnects, and freeing the worker with a job on it is safe. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "redis_link.h"
#include "sq_harness.h"
#include "step_worker.h"
#include "store.h"

/* One message: its dedupe mark and one field of a customer hash. */
static void build_ops(struct sq_state_ops *ops, const char *eid, const char *value)
{
    sq_op_message(ops, 0);
    sq_op_dedupe(ops, "sq:dm:1:1", eid, 100);
    const char *fv[] = {"tier", value, NULL};
    sq_op_hset(ops, "sq:cust:w", 1000, fv);
}

static char *hget(redisContext *c, const char *key, const char *field)
{
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    cr_assert_not_null(rep);
    char *v = rep->type == REDIS_REPLY_STRING ? strdup(rep->str) : NULL;
    freeReplyObject(rep);
    return v;
}

static struct sq_step_worker *worker_for(struct sq_h_redis *rs)
{
    struct sq_err err;
    sq_err_clear(&err);
    char *url = sq_h_redis_url(rs);
    struct sq_redis *r = sq_redis_new(url, "sq:", 2000, &err);
    free(url);
    cr_assert_not_null(r, "%s", err.msg);
    struct sq_step_worker *w = sq_step_worker_new(r, NULL, &err);
    cr_assert_not_null(w, "%s", err.msg);
    return w;
}

Test(step_worker, runs_a_step_and_takes_one_job_at_a_time, .timeout = 60)
{
    struct sq_h_redis rs;
    cr_assert_eq(sq_h_redis_start(&rs, NULL), 0);
    struct sq_step_worker *w = worker_for(&rs);
    struct sq_state_ops ops = {0};
    build_ops(&ops, "contact.v1|e1", "gold");
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:0", .expected = -1, .last = 5,
                                 .max_event_ms = -1, .ops = &ops};
    cr_assert(sq_step_worker_submit(w, &step, 1, NULL, NULL, NULL));
    cr_assert_not(sq_step_worker_submit(w, &step, 1, NULL, NULL, NULL), "a second job while one is on the thread");
    int rc = -1;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert(sq_step_worker_collect(w, 10000, &rc, &err), "the job ends");
    cr_assert_eq(rc, SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 1, "applied");
    cr_assert_not(sq_step_worker_collect(w, 0, &rc, &err), "an outcome is collected once");

    redisContext *c = sq_h_redis_connect(&rs);
    cr_assert_not_null(c);
    char *v = hget(c, "sq:cust:w", "tier");
    cr_assert_str_eq(v, "gold");
    free(v);
    v = hget(c, "sq:off:g:t:0", "offset");
    cr_assert_str_eq(v, "5");
    free(v);

    /* the same step again: already applied, nothing written */
    free(step.dups);
    step.dups = NULL;
    cr_assert(sq_step_worker_submit(w, &step, 1, NULL, NULL, NULL), "free again after the collect");
    cr_assert(sq_step_worker_collect(w, 10000, &rc, &err));
    cr_assert_eq(rc, SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 0, "a step at or below the stored offset is a no-op");
    free(step.dups);

    /* freed with a job submitted and not collected: it waits for it */
    struct sq_state_ops ops2 = {0};
    build_ops(&ops2, "contact.v1|e2", "silver");
    struct sq_redis_step next = {.offset_key = "sq:off:g:t:0", .expected = 5, .last = 9,
                                 .max_event_ms = -1, .ops = &ops2};
    cr_assert(sq_step_worker_submit(w, &next, 1, NULL, NULL, NULL));
    sq_step_worker_free(w);
    free(next.dups);
    v = hget(c, "sq:off:g:t:0", "offset");
    cr_assert(strcmp(v, "5") == 0 || strcmp(v, "9") == 0,
              "the step either ran whole or not at all (offset %s)", v);
    free(v);
    redisFree(c);
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&ops2);
    sq_h_redis_fini(&rs);
}

Test(step_worker, a_redis_outage_is_reported_and_the_next_job_reconnects, .timeout = 60)
{
    char *dir = sq_h_tmp_path("redis-data"); /* persisted: a restart keeps the data */
    cr_assert_eq(mkdir(dir, 0700), 0);
    struct sq_h_redis rs;
    cr_assert_eq(sq_h_redis_start(&rs, dir), 0);
    free(dir);
    struct sq_step_worker *w = worker_for(&rs);
    struct sq_state_ops ops = {0};
    build_ops(&ops, "contact.v1|e1", "gold");
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:1", .expected = -1, .last = 3,
                                 .max_event_ms = -1, .ops = &ops};
    int rc = -1;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert(sq_step_worker_submit(w, &step, 1, NULL, NULL, NULL));
    cr_assert(sq_step_worker_collect(w, 10000, &rc, &err));
    cr_assert_eq(rc, SQ_OK, "%s", err.msg);
    free(step.dups);

    cr_assert_eq(sq_h_redis_stop(&rs), 0);
    struct sq_state_ops ops2 = {0};
    build_ops(&ops2, "contact.v1|e2", "silver");
    struct sq_redis_step next = {.offset_key = "sq:off:g:t:1", .expected = 3, .last = 7,
                                 .max_event_ms = -1, .ops = &ops2};
    cr_assert(sq_step_worker_submit(w, &next, 1, NULL, NULL, NULL));
    cr_assert(sq_step_worker_collect(w, 10000, &rc, &err));
    cr_assert_eq(rc, SQ_ERR_TRANSIENT, "Redis down: a transient failure, not %d", rc);
    cr_assert_neq(err.msg[0], '\0', "with a reason");
    free(next.dups);

    cr_assert_eq(sq_h_redis_restart(&rs), 0);
    next.dups = NULL;
    sq_err_clear(&err);
    cr_assert(sq_step_worker_submit(w, &next, 1, NULL, NULL, NULL));
    cr_assert(sq_step_worker_collect(w, 10000, &rc, &err));
    cr_assert_eq(rc, SQ_OK, "%s", err.msg);
    cr_assert_eq(next.result, 1);
    free(next.dups);
    redisContext *c = sq_h_redis_connect(&rs);
    cr_assert_not_null(c);
    char *v = hget(c, "sq:cust:w", "tier");
    cr_assert_str_eq(v, "silver");
    free(v);
    redisFree(c);
    sq_step_worker_free(w);
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&ops2);
    sq_h_redis_fini(&rs);
}
