/* test_store_parity.c: the in-process store and the Redis step script give
 * the same state for the same ops (every op code, duplicate skipping, the
 * offset guard, a hash that several ops of one step read and write in
 * turn, and the TTLs around HDEL and DEL), against a real redis-server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"
#include "score.h"
#include "sq_harness.h"
#include "store.h"
#include "store_redis.h"

/* A C op (SQ_OP_CUSTOMER, processors/sinks.h) with its sixteen arguments:
 * the event's eight, then score's eight (x: contacts_30d, cx_t, cx_score,
 * cx_half_life, breaches, last_breach_at, last_breach_code, open_tickets;
 * NULL: none of them). */
static void push_customer(struct sq_state_ops *ops, const char *const a[8],
                          const char *const x[8])
{
    static const char *const none[8] = {"", "", "", "", "0", "", "", "0"};
    sq_state_ops_push(ops, "C", 1);
    for (int i = 0; i < 8; i++)
        sq_state_ops_push(ops, a[i], strlen(a[i]));
    for (int i = 0; i < 8; i++)
        sq_state_ops_push(ops, (x ? x : none)[i], strlen((x ? x : none)[i]));
}

static void build_ops(struct sq_state_ops *ops)
{
    sq_op_message(ops, 0);
    sq_op_dedupe(ops, "sq:dm:1:7", "contact.v1|e1", 100);
    const char *c[] = {"sq:cust:a", "1", "2026-11-25T10:00:00.000Z", "e1",
                       "2026-11-25T09:59:00.000Z", "GD-SZ", "gold", "1000"};
    push_customer(ops, c, NULL);
    const char *fv[] = {"contacts_30d", "3", "note", "x:y|z", NULL};
    sq_op_hset(ops, "sq:cust:a", 1000, fv);
    sq_op_hincr(ops, "sq:cust:a", "breaches_total", 2, 1000);
    const char *kf[] = {"offered", "answered"};
    const int64_t kb[] = {3, 1}, kb2[] = {4, -1};
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 2, kf, kb);
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 2, kf, kb2);
    /* deferred: applied at the end because message 1 is a duplicate */
    const char *yf[] = {"yk"};
    const int64_t y0[] = {5}, y1[] = {100}, s7[] = {7};
    sq_state_ops_push(ops, "Y", 1);
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 1, yf, y0);
    /* window cells: one new (twice: NX keeps the first end), one emitted */
    const char *rev[] = {"all|*|1h|1795597200", "1", NULL};
    sq_op_hset(ops, "sq:win:rev", 0, rev);
    sq_op_window_touch(ops, "sq:", "queue|billing|15m|1795600800", 1795601700000LL);
    sq_op_window_touch(ops, "sq:", "queue|billing|15m|1795600800", 1795609999000LL);
    sq_op_window_touch(ops, "sq:", "all|*|1h|1795597200", 1795600800000LL);
    sq_op_latest(ops, "sq:cust:a", "last_breach_at", "2026-11-25T10:00:00.000Z",
                 "last_breach_code", "SLA_WAIT", 1000);
    sq_op_latest(ops, "sq:cust:a", "last_breach_at", "2026-11-25T10:00:00.000Z",
                 "last_breach_code", "ABANDONED", 1000); /* tie: SLA_WAIT > ABANDONED stays */
    sq_op_zadd_keep(ops, "sq:cust:a:breaches", 1000, 2, 30, "{\"b\":3}");
    sq_op_zadd_keep(ops, "sq:cust:a:breaches", 1000, 2, 10, "{\"b\":1}");
    sq_op_zadd_keep(ops, "sq:cust:a:breaches", 1000, 2, 20, "{\"b\":2}");
    /* three more events of a with quality scores (the second older), breaches
     * (a tie in time with G's SLA_WAIT: ABANDONED loses, SLA_WAIT_VIP wins) and
     * ticket counts */
    const char *c2[] = {"sq:cust:a", "1", "2026-11-25T10:01:00.000Z", "e2", "", "", "", "1000"};
    const char *c3[] = {"sq:cust:a", "1", "2026-11-25T09:00:00.000Z", "e3", "", "", "", "1000"};
    const char *c4[] = {"sq:cust:a", "1", "2026-11-25T10:02:00.000Z", "e4", "", "", "", "1000"};
    const char *x2[] = {"5", "1795600000000", "80", "2592000000", "2",
                        "2026-11-25T10:00:00.000Z", "ABANDONED", "1"};
    const char *x3[] = {"", "1795500000000", "40", "2592000000", "0", "", "", "-1"};
    const char *x4[] = {"6", "1795700000000", "100", "2592000000", "1",
                        "2026-11-25T10:00:00.000Z", "SLA_WAIT_VIP", "2"};
    push_customer(ops, c2, x2);
    push_customer(ops, c3, x3);
    push_customer(ops, c4, x4);
    sq_op_hdel(ops, "sq:cust:a", "note");
    /* a second customer whose hash one step reads and writes in turn: C
     * with a quality score and a breach, a timer's breach (G, and a HINCRBY
     * of breaches_total), C again (an older event, a newer contact, an
     * older score) */
    const char *b1[] = {"sq:cust:b", "1", "2026-11-25T10:00:00.000Z", "b1",
                        "2026-11-25T09:00:00.000Z", "GD-SZ", "gold", "1000"};
    const char *b0[] = {"sq:cust:b", "1", "2026-11-25T08:00:00.000Z", "b0",
                        "2026-11-25T11:00:00.000Z", "GD-GZ", "", "1000"};
    const char *xb1[] = {"1", "1795600000000", "70", "2592000000", "1",
                         "2026-11-25T09:30:00.000Z", "REPEAT_CONTACT", "0"};
    const char *xb0[] = {"2", "1795550000000", "20", "2592000000", "0", "", "", "0"};
    push_customer(ops, b1, xb1);
    sq_op_latest(ops, "sq:cust:b", "last_breach_at", "2026-11-25T10:00:00.000Z",
                 "last_breach_code", "SLA_WAIT", 1000);
    sq_op_hincr(ops, "sq:cust:b", "breaches_total", 1, 1000);
    push_customer(ops, b0, xb0);
    /* a third with only a C op and a quality score: its TTL comes from it */
    const char *c1[] = {"sq:cust:c", "1", "2026-11-25T10:00:00.000Z", "c1", "", "", "", "1000"};
    const char *xc1[] = {"", "1795600000000", "90", "2592000000", "0", "", "", "0"};
    push_customer(ops, c1, xc1);
    const char *o[] = {"INC-1", "{}", NULL};
    sq_op_hset(ops, "sq:outages:active", 0, o);
    sq_op_del(ops, "sq:gone");
    /* an HDEL that empties a written hash drops it and its TTL before a
     * later write without one; a DEL drops what was written before it */
    const char *d1[] = {"a", "1", NULL}, *d2[] = {"b", "2", NULL};
    sq_op_hset(ops, "sq:cust:d", 1000, d1);
    sq_op_hdel(ops, "sq:cust:d", "a");
    sq_op_hset(ops, "sq:cust:d", 0, d2);
    sq_op_hset(ops, "sq:cust:e", 1000, d1);
    sq_op_del(ops, "sq:cust:e");
    sq_op_hincr(ops, "sq:cust:e", "b", 5, 1000);
    sq_op_hincr(ops, "sq:cust:e", "b", 2, 1000);
    /* message 1 repeats e1: a duplicate, its ops skipped */
    sq_op_message(ops, 1);
    sq_op_dedupe(ops, "sq:dm:1:7", "contact.v1|e1", 100);
    sq_op_hincr(ops, "sq:cust:a", "breaches_total", 50, 1000);
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 2, kf, kb);
    sq_state_ops_push(ops, "Y", 1);
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 1, yf, y1);
    const char *fv2[] = {"M", "D", NULL};
    sq_op_hset(ops, "sq:cust:a", 1000, fv2);
    /* the batch's sums: not applied, a message was a duplicate */
    const char *sf[] = {"sk"};
    sq_state_ops_push(ops, "B", 1);
    sq_state_ops_push(ops, "S", 1);
    sq_op_hincr_each(ops, "sq:cust:a", 1000, 1, sf, s7);
}

static const char *const fields[] = {"events_total", "last_event_at", "last_event_id",
                                     "last_contact_at", "region", "tier", "contacts_30d", "note",
                                     "breaches_total", "last_breach_at", "last_breach_code",
                                     "cx_num", "cx_den", "cx_t0", "cx_index", "open_tickets",
                                     "M", "offered",
                                     "answered", "yk", "sk", NULL};

/* Every field of fields[] of key is the same in Redis and in mem. */
static void assert_same_fields(redisContext *c, struct sq_store_mem *mem, const char *key)
{
    for (int i = 0; fields[i]; i++) {
        redisReply *rep = redisCommand(c, "HGET %s %s", key, fields[i]);
        const char *want = sq_store_mem_hget(mem, key, fields[i]);
        if (!want)
            cr_assert_eq(rep->type, REDIS_REPLY_NIL, "%s %s: redis has %s", key, fields[i],
                         rep->str);
        else
            cr_assert_str_eq(rep->str, want, "%s field %s", key, fields[i]);
        freeReplyObject(rep);
    }
}

/* key holds field b = want and nothing else, in Redis and in mem (its a
 * is gone); returns its TTL in Redis. */
static long long assert_only_b(redisContext *c, struct sq_store_mem *mem, const char *key,
                               const char *want)
{
    redisReply *rep = redisCommand(c, "HGETALL %s", key);
    cr_assert_eq(rep->elements, 2, "%s", key);
    cr_assert_str_eq(rep->element[0]->str, "b");
    cr_assert_str_eq(rep->element[1]->str, want);
    freeReplyObject(rep);
    cr_assert_str_eq(sq_store_mem_hget(mem, key, "b"), want);
    cr_assert_null(sq_store_mem_hget(mem, key, "a"));
    rep = redisCommand(c, "TTL %s", key);
    long long ttl = rep->integer;
    freeReplyObject(rep);
    return ttl;
}

/* A redis-server for the test and sqgate's link to it. */
static struct sq_redis *redis_link_start(struct sq_h_redis *rs, char **url, struct sq_err *err)
{
    cr_assert_eq(sq_h_redis_start(rs, NULL), 0);
    *url = sq_h_redis_url(rs);
    struct sq_redis *r = sq_redis_new(*url, "sq:", 2000, err);
    cr_assert_not_null(r, "%s", err->msg);
    return r;
}

Test(store, redis_step_and_memory_agree, .timeout = 60)
{
    struct sq_state_ops ops = {0};
    build_ops(&ops);

    struct sq_store_mem *mem = sq_store_mem_new();
    size_t *dups = NULL, nd = 0;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_mem_apply(mem, &ops, &dups, &nd, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(nd, 1);
    cr_assert_eq(dups[0], 1);
    free(dups);

    struct sq_h_redis rs;
    char *url;
    struct sq_redis *r = redis_link_start(&rs, &url, &err);
    redisContext *c = sq_h_redis_connect(&rs);
    freeReplyObject(redisCommand(c, "SET sq:gone 1"));
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:0", .expected = -1, .last = 41,
                                 .max_event_ms = 5, .ops = &ops};
    cr_assert_eq(sq_redis_run_steps(r, &step, 1, NULL, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 1);
    cr_assert_eq(step.ndups, 1);
    cr_assert_eq(step.dups[0], 1);
    free(step.dups);

    for (int k = 0; k < 3; k++)
        assert_same_fields(c, mem, k == 0 ? "sq:cust:a" : k == 1 ? "sq:cust:b" : "sq:cust:c");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "events_total"), "2");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "last_event_id"), "b1");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "last_contact_at"),
                     "2026-11-25T11:00:00.000Z");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "region"), "GD-SZ");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "breaches_total"), "2");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "last_breach_code"), "SLA_WAIT",
                     "the timer's later breach");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:b", "contacts_30d"), "2");
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "sq:cust:c" : "sq:cust:b";
        redisReply *ttl = redisCommand(c, "TTL %s", key);
        cr_assert(ttl->integer > 0 && ttl->integer <= 1000, "%s TTL %lld", key, ttl->integer);
        freeReplyObject(ttl);
    }
    cr_assert_not_null(sq_store_mem_hget(mem, "sq:cust:c", "cx_index"));
    /* cx_index is written as round(x * 10) / 10 (SPEC 15): a tenth at most */
    for (int k = 0; k < 3; k++) {
        const char *v = sq_store_mem_hget(mem, k == 0 ? "sq:cust:a" : k == 1 ? "sq:cust:b"
                                                                           : "sq:cust:c",
                                          "cx_index");
        const char *dot = strchr(v, '.');
        cr_assert(!dot || strlen(dot + 1) == 1, "cx_index %s", v);
    }
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:c", "cx_index"), "90");
    /* ties at 10:00: G's SLA_WAIT over the later G's and a C op's ABANDONED,
     * and a C op's SLA_WAIT_VIP over SLA_WAIT (byte order) */
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "last_breach_code"), "SLA_WAIT_VIP");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "last_breach_at"),
                     "2026-11-25T10:00:00.000Z");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "breaches_total"), "5");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "open_tickets"), "2");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "contacts_30d"), "6");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "events_total"), "4");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "last_event_id"), "e4");
    /* the three scores in any order give SPEC 5's decayed mean */
    double num = 0, den = 0;
    int64_t t0 = 0;
    sq_cx_apply(&num, &den, &t0, 0, 1795700000000LL, 100, 2592000000LL);
    sq_cx_apply(&num, &den, &t0, 1, 1795600000000LL, 80, 2592000000LL);
    sq_cx_apply(&num, &den, &t0, 1, 1795500000000LL, 40, 2592000000LL);
    char want_cx[40];
    snprintf(want_cx, sizeof want_cx, "%.15g", sq_round1(num / den));
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "cx_index"), want_cx);
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "offered"), "7");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "answered"), "0");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:cust:a", "yk"), "5");
    cr_assert_null(sq_store_mem_hget(mem, "sq:cust:a", "sk"));
    redisReply *rep = redisCommand(c, "ZRANGE sq:cust:a:breaches 0 -1");
    json_t *z = sq_store_mem_zrange(mem, "sq:cust:a:breaches");
    cr_assert_eq(rep->elements, 2);
    cr_assert_eq(json_array_size(z), 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert_str_eq(rep->element[i]->str, json_string_value(json_array_get(z, i)));
    cr_assert_str_eq(rep->element[0]->str, "{\"b\":2}", "the 2 highest kept");
    json_decref(z);
    freeReplyObject(rep);
    /* the W op: touches counted, the new cell open with its first end, the
     * emitted one dirty (the memory store keeps both sets as hashes) */
    rep = redisCommand(c, "HGET sq:win:gen queue|billing|15m|1795600800");
    cr_assert_str_eq(rep->str, "2");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:win:gen", "queue|billing|15m|1795600800"), "2");
    freeReplyObject(rep);
    rep = redisCommand(c, "ZSCORE sq:win:open queue|billing|15m|1795600800");
    cr_assert_str_eq(rep->str, "1795601700000");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:win:open", "queue|billing|15m|1795600800"),
                     "1795601700000");
    freeReplyObject(rep);
    rep = redisCommand(c, "SISMEMBER sq:win:dirty all|*|1h|1795597200");
    cr_assert_eq(rep->integer, 1);
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:win:dirty", "all|*|1h|1795597200"), "1");
    freeReplyObject(rep);
    rep = redisCommand(c, "ZSCORE sq:win:open all|*|1h|1795597200");
    cr_assert_eq(rep->type, REDIS_REPLY_NIL, "an emitted cell is not open again");
    cr_assert_null(sq_store_mem_hget(mem, "sq:win:open", "all|*|1h|1795597200"));
    freeReplyObject(rep);
    rep = redisCommand(c, "EXISTS sq:gone");
    cr_assert_eq(rep->integer, 0);
    freeReplyObject(rep);
    rep = redisCommand(c, "HGET sq:outages:active INC-1");
    cr_assert_str_eq(rep->str, "{}");
    freeReplyObject(rep);
    cr_assert_eq(assert_only_b(c, mem, "sq:cust:d", "2"), -1,
                 "emptied, then written without a TTL");
    long long ttl_e = assert_only_b(c, mem, "sq:cust:e", "7");
    cr_assert(ttl_e > 900 && ttl_e <= 1000, "sq:cust:e TTL %lld", ttl_e);
    rep = redisCommand(c, "TTL sq:cust:a");
    cr_assert(rep->integer > 900 && rep->integer <= 1000);
    freeReplyObject(rep);

    /* the offset guard: a replay of the same batch is a no-op; a zombie
     * that expects an older offset is fenced */
    cr_assert_eq(sq_redis_run_steps(r, &step, 1, NULL, &err), SQ_OK);
    cr_assert_eq(step.result, 0);
    cr_assert_eq(step.stored, 41);
    struct sq_state_ops none = {0};
    struct sq_redis_step zombie = {.offset_key = "sq:off:g:t:0", .expected = 30, .last = 60,
                                   .max_event_ms = -1, .ops = &none};
    cr_assert_eq(sq_redis_run_steps(r, &zombie, 1, NULL, &err), SQ_OK);
    cr_assert_eq(zombie.result, -1);
    cr_assert_eq(zombie.stored, 41);
    struct sq_redis_step next = {.offset_key = "sq:off:g:t:0", .expected = 41, .last = 60,
                                 .max_event_ms = -1, .ops = &none};
    cr_assert_eq(sq_redis_run_steps(r, &next, 1, NULL, &err), SQ_OK);
    cr_assert_eq(next.result, 1);

    /* whole-hash reads agree too */
    struct sq_store_redis srs;
    sq_store_redis_init(&srs, r);
    struct sq_store_reads rd = {0}, rm = {0};
    sq_store_reads_add(&rd, "sq:cust:a", NULL);
    sq_store_reads_add(&rm, "sq:cust:a", NULL);
    sq_store_reads_add(&rd, "sq:nothing", NULL);
    sq_store_reads_add(&rm, "sq:nothing", NULL);
    cr_assert_eq(sq_store_read(&srs.base, &rd, &err), SQ_OK);
    cr_assert_eq(sq_store_read(sq_store_mem_base(mem), &rm, &err), SQ_OK);
    cr_assert_str_eq(rd.v[0].value, rm.v[0].value);
    cr_assert_null(rd.v[1].value);
    cr_assert_null(rm.v[1].value);
    sq_store_reads_fini(&rd);
    sq_store_reads_fini(&rm);

    redisFree(c);
    sq_redis_free(r);
    free(url);
    sq_store_mem_free(mem);
    sq_state_ops_fini(&ops);
    sq_h_redis_fini(&rs);
}

/* Without a duplicate in the batch the sums apply and the messages'
 * deferred ops do not: the chain's sums are the deferred ops added up. */
Test(store, batch_sums_apply_when_no_message_is_a_duplicate, .timeout = 60)
{
    struct sq_state_ops m0 = {0}, m1 = {0};
    const char *f[] = {"offered", "answered"};
    const int64_t b0[] = {1, 1}, b1[] = {2, 0};
    sq_op_dedupe(&m0, "sq:dm:1:1", "contact.v1|x0", 100);
    sq_state_ops_push(&m0, "Y", 1);
    sq_op_hincr_each(&m0, "sq:kpi:q", 500, 2, f, b0);
    sq_state_ops_push(&m0, "Y", 1);
    sq_op_window_touch(&m0, "sq:", "queue|q|15m|1795600800", 1795601700000LL);
    sq_op_dedupe(&m1, "sq:dm:1:1", "contact.v1|x1", 100);
    sq_state_ops_push(&m1, "Y", 1);
    sq_op_hincr_each(&m1, "sq:kpi:q", 600, 2, f, b1);
    sq_state_ops_push(&m1, "Y", 1);
    sq_op_window_touch(&m1, "sq:", "queue|q|15m|1795600800", 1795601700000LL);
    struct sq_state_ops ops = {0};
    sq_op_message(&ops, 0);
    sq_state_ops_append_borrowed(&ops, &m0);
    sq_op_message(&ops, 1);
    sq_state_ops_append_borrowed(&ops, &m1);
    const struct sq_state_ops *lists[] = {&m0, &m1};
    sq_state_ops_append_sums(&ops, lists, 2);
    /* B, one S K (fields summed, TTL the greatest) and one S W */
    size_t nb = 0, nsum = 0;
    for (size_t i = 0; i < ops.argc; i++) {
        nb += strcmp(ops.argv[i], "B") == 0;
        nsum += strcmp(ops.argv[i], "S") == 0;
    }
    cr_assert_eq(nb, 1);
    cr_assert_eq(nsum, 2);

    struct sq_store_mem *mem = sq_store_mem_new();
    size_t *dups = NULL, nd = 0;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_mem_apply(mem, &ops, &dups, &nd, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(nd, 0);
    free(dups);
    struct sq_h_redis rs;
    char *url;
    struct sq_redis *r = redis_link_start(&rs, &url, &err);
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:1", .expected = -1, .last = 2,
                                 .max_event_ms = -1, .ops = &ops};
    cr_assert_eq(sq_redis_run_steps(r, &step, 1, NULL, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 1);
    cr_assert_eq(step.ndups, 0);
    free(step.dups);
    redisContext *c = sq_h_redis_connect(&rs);
    static const char *const want[][2] = {{"offered", "3"}, {"answered", "1"}};
    for (int i = 0; i < 2; i++) {
        redisReply *rep = redisCommand(c, "HGET sq:kpi:q %s", want[i][0]);
        cr_assert_str_eq(rep->str, want[i][1], "redis %s", want[i][0]);
        cr_assert_str_eq(sq_store_mem_hget(mem, "sq:kpi:q", want[i][0]), want[i][1]);
        freeReplyObject(rep);
    }
    redisReply *rep = redisCommand(c, "HGET sq:win:gen queue|q|15m|1795600800");
    cr_assert_str_eq(rep->str, "1", "one touch per batch");
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:win:gen", "queue|q|15m|1795600800"), "1");
    freeReplyObject(rep);
    rep = redisCommand(c, "TTL sq:kpi:q");
    cr_assert(rep->integer > 500 && rep->integer <= 600, "the greatest TTL");
    freeReplyObject(rep);
    redisFree(c);
    sq_redis_free(r);
    free(url);
    sq_h_redis_stop(&rs);
    sq_h_redis_fini(&rs);
    sq_store_mem_free(mem);
    sq_state_ops_fini(&m0);
    sq_state_ops_fini(&m1);
    sq_state_ops_fini(&ops);
}

static long long sq_t_int(redisContext *c, const char *cmd)
{
    redisReply *rep = redisCommand(c, cmd);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -99;
    freeReplyObject(rep);
    return v;
}

/* The step's shortcuts keep the meaning of the ops: a key deleted and
 * written again in one step gets its TTL again; a second touch of a cell
 * that ends after the watermark leaves it open, one that ends before it
 * and was emitted marks it dirty; field reads of one key (one HMGET) come
 * back each in its place. */
Test(store, step_shortcuts_keep_the_ops_meaning, .timeout = 60)
{
    struct sq_h_redis rs;
    struct sq_err err;
    sq_err_clear(&err);
    char *url;
    struct sq_redis *r = redis_link_start(&rs, &url, &err);
    redisContext *c = sq_h_redis_connect(&rs);
    freeReplyObject(redisCommand(c, "SET sq:wm 1795601000000"));
    freeReplyObject(redisCommand(c, "HSET sq:win:rev old 1"));
    freeReplyObject(redisCommand(c, "HSET sq:win:gen old 4"));

    struct sq_state_ops ops = {0};
    const char *fv[] = {"a", "1", NULL}, *fv2[] = {"b", "2", NULL};
    sq_op_hset(&ops, "sq:k", 100, fv);
    sq_op_del(&ops, "sq:k");
    sq_op_hset(&ops, "sq:k", 100, fv2);
    sq_op_window_touch(&ops, "sq:", "new", 1795602000000LL);
    sq_op_window_touch(&ops, "sq:", "new", 1795602000000LL);
    sq_op_window_touch(&ops, "sq:", "old", 1795600900000LL);
    struct sq_redis_step step = {.offset_key = "sq:off:g:t:0", .expected = -1, .last = 1,
                                 .max_event_ms = -1, .ops = &ops};
    cr_assert_eq(sq_redis_run_steps(r, &step, 1, NULL, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(step.result, 1);
    long long ttl = sq_t_int(c, "TTL sq:k");
    cr_assert(ttl > 90 && ttl <= 100, "TTL after delete and rewrite: %lld", ttl);
    cr_assert_eq(sq_t_int(c, "HLEN sq:k"), 1);
    cr_assert_eq(sq_t_int(c, "ZCARD sq:win:open"), 1);
    cr_assert_eq(sq_t_int(c, "HGET sq:win:gen new") , -99, "a bulk string, not an integer");
    redisReply *rep = redisCommand(c, "HGET sq:win:gen new");
    cr_assert_str_eq(rep->str, "2");
    freeReplyObject(rep);
    cr_assert_eq(sq_t_int(c, "SISMEMBER sq:win:dirty old"), 1, "emitted and touched: dirty");
    cr_assert_eq(sq_t_int(c, "SISMEMBER sq:win:dirty new"), 0);

    freeReplyObject(redisCommand(c, "HSET sq:h1 f1 v1 f3 v3"));
    freeReplyObject(redisCommand(c, "HSET sq:h2 f1 w1"));
    struct sq_store_redis srs;
    sq_store_redis_init(&srs, r);
    struct sq_store_reads rd = {0};
    sq_store_reads_add(&rd, "sq:h1", "f1");
    sq_store_reads_add(&rd, "sq:h1", "f2");
    sq_store_reads_add(&rd, "sq:h1", "f3");
    sq_store_reads_add(&rd, "sq:h2", "f1");
    sq_store_reads_add(&rd, "sq:h2", NULL);
    sq_store_reads_add(&rd, "sq:h1", "f3");
    cr_assert_eq(sq_store_read(&srs.base, &rd, &err), SQ_OK, "%s", err.msg);
    cr_assert_str_eq(rd.v[0].value, "v1");
    cr_assert_null(rd.v[1].value);
    cr_assert_str_eq(rd.v[2].value, "v3");
    cr_assert_str_eq(rd.v[3].value, "w1");
    cr_assert_str_eq(rd.v[4].value, "{\"f1\":\"w1\"}");
    cr_assert_str_eq(rd.v[5].value, "v3");
    sq_store_reads_fini(&rd);

    redisFree(c);
    sq_redis_free(r);
    free(url);
    sq_state_ops_fini(&ops);
    sq_h_redis_fini(&rs);
}

/* Timers (T and U) and the due reads of their index: the same entries, in
 * (due, member) order, with the same hash values, from both stores. */
Test(store, timer_ops_and_due_reads_agree, .timeout = 60)
{
    struct sq_state_ops ops = {0};
    sq_op_message(&ops, 0);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-b", 2000, "2000|1|cb", 1000);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-a", 2000, "2000|1|ca", 1000);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-c", 1000, "1000|1|cc", 1000);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-d", 5000, "5000|1|cd", 1000);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-e", 3000, "3000|1|ce", 1000);
    sq_op_message(&ops, 1); /* a duplicate: its timer is not armed */
    sq_op_dedupe(&ops, "sq:dm:1:0", "ticket.v1|x", 100);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-x", 1500, "1500|1|cx", 1000);
    sq_op_message(&ops, 2);
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-c", 4000, "4000|2|cc", 1000);
    sq_op_timer_drop(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-e", INT64_MIN);
    sq_op_timer_drop(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-none", INT64_MIN);
    /* ends only the timer due then: T-d was re-armed (to 5000), T-f was not */
    sq_op_timer_arm(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-f", 6000, "6000|1|cf", 1000);
    sq_op_timer_drop(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-d", 4999);
    sq_op_timer_drop(&ops, "sq:timers:t:0", "sq:timers-due:t:0", "T-f", 6000);
    struct sq_state_ops mark = {0}; /* the duplicate's mark, taken before */
    sq_op_message(&mark, 0);
    sq_op_dedupe(&mark, "sq:dm:1:0", "ticket.v1|x", 100);

    struct sq_err err;
    sq_err_clear(&err);
    struct sq_store_mem *mem = sq_store_mem_new();
    size_t *dups = NULL, nd = 0;
    cr_assert_eq(sq_store_mem_apply(mem, &mark, &dups, &nd, &err), SQ_OK, "%s", err.msg);
    free(dups);
    cr_assert_eq(sq_store_mem_apply(mem, &ops, &dups, &nd, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(nd, 1);
    free(dups);

    struct sq_h_redis rs;
    char *url;
    struct sq_redis *r = redis_link_start(&rs, &url, &err);
    struct sq_redis_step s0 = {.offset_key = "sq:off:g:t:0", .expected = -1, .last = 1,
                               .max_event_ms = -1, .ops = &mark};
    cr_assert_eq(sq_redis_run_steps(r, &s0, 1, NULL, &err), SQ_OK, "%s", err.msg);
    struct sq_redis_step s1 = {.offset_key = "sq:off:g:t:0", .expected = 1, .last = 4,
                               .max_event_ms = -1, .ops = &ops};
    cr_assert_eq(sq_redis_run_steps(r, &s1, 1, NULL, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(s1.ndups, 1);
    free(s0.dups);
    free(s1.dups);
    redisContext *c = sq_h_redis_connect(&rs);
    for (int k = 0; k < 2; k++) {
        redisReply *ttl = redisCommand(c, "TTL %s", k ? "sq:timers:t:0" : "sq:timers-due:t:0");
        cr_assert(ttl->integer > 900 && ttl->integer <= 1000, "TTL %lld", ttl->integer);
        freeReplyObject(ttl);
    }

    struct sq_store_redis srs;
    sq_store_redis_init(&srs, r);
    static const struct {
        int64_t from, limit;
        size_t offset, count;
        const char *want;
    } q[] = {
        {INT64_MIN, INT64_MAX, 0, 100,
         "[[\"T-a\",2000,\"2000|1|ca\"],[\"T-b\",2000,\"2000|1|cb\"],[\"T-c\",4000,\"4000|2|cc\"],"
         "[\"T-d\",5000,\"5000|1|cd\"]]"},
        {INT64_MIN, 4000, 0, 100, "[[\"T-a\",2000,\"2000|1|ca\"],[\"T-b\",2000,\"2000|1|cb\"]]"},
        {2000, 4001, 1, 100, "[[\"T-b\",2000,\"2000|1|cb\"],[\"T-c\",4000,\"4000|2|cc\"]]"},
        {2001, INT64_MAX, 0, 1, "[[\"T-c\",4000,\"4000|2|cc\"]]"},
        {INT64_MIN, 2000, 0, 100, NULL},
        {6000, INT64_MAX, 0, 100, NULL},
    };
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        struct sq_store_reads rd = {0}, rm = {0};
        sq_store_reads_add_due(&rd, "sq:timers-due:t:0", "sq:timers:t:0", q[k].from, q[k].limit,
                               q[k].offset, q[k].count);
        sq_store_reads_add_due(&rm, "sq:timers-due:t:0", "sq:timers:t:0", q[k].from, q[k].limit,
                               q[k].offset, q[k].count);
        sq_store_reads_add_due(&rd, "sq:timers-due:none", "sq:timers:none", INT64_MIN, INT64_MAX, 0, 9);
        sq_store_reads_add_due(&rm, "sq:timers-due:none", "sq:timers:none", INT64_MIN, INT64_MAX, 0, 9);
        cr_assert_eq(sq_store_read(&srs.base, &rd, &err), SQ_OK, "%s", err.msg);
        cr_assert_eq(sq_store_read(sq_store_mem_base(mem), &rm, &err), SQ_OK);
        if (q[k].want) {
            cr_assert_str_eq(rd.v[0].value, q[k].want, "query %zu (redis)", k);
            cr_assert_str_eq(rm.v[0].value, q[k].want, "query %zu (memory)", k);
        } else {
            cr_assert_null(rd.v[0].value, "query %zu (redis): %s", k, rd.v[0].value);
            cr_assert_null(rm.v[0].value, "query %zu (memory): %s", k, rm.v[0].value);
        }
        cr_assert_null(rd.v[1].value);
        cr_assert_null(rm.v[1].value);
        sq_store_reads_fini(&rd);
        sq_store_reads_fini(&rm);
    }
    /* reading did not take anything away from the memory store's heap */
    struct sq_store_reads again = {0};
    sq_store_reads_add_due(&again, "sq:timers-due:t:0", "sq:timers:t:0", INT64_MIN, INT64_MAX, 0, 100);
    cr_assert_eq(sq_store_read(sq_store_mem_base(mem), &again, &err), SQ_OK);
    cr_assert_str_eq(again.v[0].value, q[0].want);
    sq_store_reads_fini(&again);
    cr_assert_null(sq_store_mem_hget(mem, "sq:timers:t:0", "T-e"));
    cr_assert_null(sq_store_mem_hget(mem, "sq:timers:t:0", "T-x"));
    cr_assert_null(sq_store_mem_hget(mem, "sq:timers:t:0", "T-f"));
    cr_assert_str_eq(sq_store_mem_hget(mem, "sq:timers:t:0", "T-d"), "5000|1|cd");
    redisReply *hv = redisCommand(c, "HGET sq:timers:t:0 T-f");
    cr_assert_eq(hv->type, REDIS_REPLY_NIL);
    freeReplyObject(hv);
    hv = redisCommand(c, "HGET sq:timers:t:0 T-d");
    cr_assert_str_eq(hv->str, "5000|1|cd");
    freeReplyObject(hv);

    sq_store_redis_fini(&srs);
    redisFree(c);
    sq_redis_free(r);
    free(url);
    sq_store_mem_free(mem);
    sq_state_ops_fini(&ops);
    sq_state_ops_fini(&mark);
    sq_h_redis_fini(&rs);
}
