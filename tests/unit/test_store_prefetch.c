/* test_store_prefetch.c: the Redis store answers reads from its last
 * prefetch (one round trip for several processors' reads), goes to Redis
 * for anything the prefetch left out, and forgets on request; the chain
 * plans every read of dedupe, enrich and score, so a batch costs one
 * round trip, with the same results as without a prefetch. Against a real
 * redis-server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "config.h"
#include "dedupe.h"
#include "redis_link.h"
#include "sq_redis_link.h"
#include "store.h"
#include "store_redis.h"

static const char *read_one(struct sq_store *st, const char *key, const char *field, char *out,
                            size_t outsz)
{
    struct sq_store_reads rd = {0};
    sq_store_reads_add(&rd, key, field);
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_read(st, &rd, &err), SQ_OK, "%s", err.msg);
    snprintf(out, outsz, "%s", rd.v[0].value ? rd.v[0].value : "(absent)");
    sq_store_reads_fini(&rd);
    return out;
}

Test(store_prefetch, reads_come_from_the_prefetch_until_it_is_forgotten, .timeout = 60)
{
    struct sq_h_link s;
    sq_h_link_start(&s, "sq:");
    struct sq_store_redis sr;
    sq_store_redis_init(&sr, s.r);
    struct sq_store *st = &sr.base;
    cr_assert(sq_store_can_prefetch(st));
    freeReplyObject(redisCommand(s.c, "HSET sq:a f v1 g w1"));

    struct sq_store_reads pre = {0};
    sq_store_reads_add(&pre, "sq:a", "f");
    sq_store_reads_add(&pre, "sq:a", "g");
    sq_store_reads_add(&pre, "sq:none", "f");
    sq_store_reads_add(&pre, "sq:a", NULL);
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_prefetch(st, &pre, &err), SQ_OK, "%s", err.msg);
    sq_store_reads_fini(&pre);
    cr_assert_eq(sr.round_trips, 1);
    freeReplyObject(redisCommand(s.c, "HSET sq:a f v2"));

    char v[128];
    cr_assert_str_eq(read_one(st, "sq:a", "f", v, sizeof v), "v1", "as prefetched");
    cr_assert_str_eq(read_one(st, "sq:none", "f", v, sizeof v), "(absent)");
    struct sq_store_reads whole = {0};
    sq_store_reads_add(&whole, "sq:a", NULL);
    cr_assert_eq(sq_store_read(st, &whole, &err), SQ_OK);
    cr_assert_not_null(strstr(whole.v[0].value, "v1"), "%s", whole.v[0].value);
    sq_store_reads_fini(&whole);
    cr_assert_eq(sr.round_trips, 1, "all from the prefetch");

    /* one read the prefetch left out: the whole call goes to Redis */
    struct sq_store_reads mixed = {0};
    sq_store_reads_add(&mixed, "sq:a", "f");
    sq_store_reads_add(&mixed, "sq:a", "h");
    cr_assert_eq(sq_store_read(st, &mixed, &err), SQ_OK);
    cr_assert_str_eq(mixed.v[0].value, "v2");
    cr_assert_null(mixed.v[1].value);
    sq_store_reads_fini(&mixed);
    cr_assert_eq(sr.round_trips, 2);

    cr_assert_eq(sq_store_prefetch(st, NULL, &err), SQ_OK);
    cr_assert_str_eq(read_one(st, "sq:a", "f", v, sizeof v), "v2", "forgotten");
    cr_assert_eq(sr.round_trips, 3);

    sq_store_redis_fini(&sr);
    sq_h_link_stop(&s);
}

static char *contact(const char *eid, const char *cust, int minute)
{
    return sq_xasprintf(
        "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":"
        "\"2026-11-25T10:%02d:30Z\",\"customer_id\":\"%s\",\"region\":\"GD-SZ\","
        "\"contact_id\":\"k-%s\",\"channel\":\"voice\",\"queue\":\"billing\","
        "\"agent_id\":\"ag-1\",\"arrived_at\":\"2026-11-25T10:%02d:00Z\","
        "\"answered_at\":\"2026-11-25T10:%02d:10Z\",\"ended_at\":\"2026-11-25T10:%02d:30Z\","
        "\"hold_s\":0,\"wrap_s\":0,\"transfers\":0,\"outcome\":\"resolved\","
        "\"reason\":\"billing\"}",
        eid, minute, cust, eid, minute, minute, minute);
}

static char *ticket(const char *eid, const char *cust, const char *tid, const char *status)
{
    return sq_xasprintf(
        "{\"schema\":\"ticket.v1\",\"event_id\":\"%s\",\"occurred_at\":\"2026-11-25T10:20:00Z\","
        "\"customer_id\":\"%s\",\"region\":\"GD-SZ\",\"ticket_id\":\"%s\",\"kind\":\"complaint\","
        "\"category\":\"billing\",\"severity\":3,\"status\":\"%s\"}",
        eid, cust, tid, status);
}

#define NIN 7

/* The batch's results as text: each message's verdict and ops. */
static char *run_chain(struct sq_store *store, char *const *values)
{
    struct sq_settings st;
    sq_settings_defaults(&st);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_chain *chain = sq_chain_new(&st, &err);
    cr_assert_not_null(chain, "%s", err.msg);
    struct sq_batch b = {.partition = -1, .store = store, .n = NIN};
    b.msgs = sq_xcalloc(NIN, sizeof *b.msgs);
    for (size_t i = 0; i < NIN; i++) {
        struct sq_msg *m = &b.msgs[i];
        m->topic = i < 5 ? "sq.in.contacts" : "sq.in.tickets";
        m->partition = (int32_t)(i % 2);
        m->offset = (int64_t)i;
        m->value = values[i];
        m->value_len = strlen(values[i]);
        snprintf(m->source, sizeof m->source, "%s/%d/%zu", m->topic, (int)m->partition, i);
    }
    cr_assert_eq(sq_chain_process(chain, &b, &err), SQ_OK, "%s", err.msg);
    sq_batch_assemble_ops(&b);
    struct sq_buf out;
    sq_buf_init(&out);
    for (size_t i = 0; i < NIN; i++)
        sq_buf_appendf(&out, "%zu:%d ", i, (int)b.msgs[i].verdict);
    for (size_t k = 0; k < b.ops.argc; k++)
        sq_buf_appendf(&out, "%s ", b.ops.argv[k]);
    sq_batch_fini(&b);
    sq_chain_free(chain);
    sq_settings_free(&st);
    return out.data;
}

Test(store_prefetch, the_chain_reads_a_batch_in_one_round_trip_with_the_same_results,
     .timeout = 60)
{
    struct sq_h_link s;
    sq_h_link_start(&s, "sq:");
    /* stored state every reading processor finds: a profile, a history,
     * a ticket, a dedupe mark taken */
    freeReplyObject(redisCommand(s.c, "HSET sq:profile:c1 tier gold enterprise true region GD-SZ"));
    freeReplyObject(redisCommand(
        s.c, "HSET sq:hist:c1 contacts [{\"t\":1795600000000,\"r\":\"billing\"}]"));
    char *values[NIN] = {
        contact("e1", "c1", 1), contact("e2", "c2", 2), contact("e3", "c1", 3),
        contact("e1", "c1", 1), /* a repeat of e1 in the batch */
        contact("e9", "c3", 4), ticket("t1", "c2", "T-1", "opened"),
        ticket("t2", "c2", "T-1", "resolved"),
    };
    char *key, *field;
    struct sq_settings st;
    sq_settings_defaults(&st);
    sq_dedupe_mark_dup(&st, "contact.v1", "e9", 1795600000000LL, &key, &field);
    sq_settings_free(&st);
    freeReplyObject(redisCommand(s.c, "SADD %s %s", key, field));
    free(key);
    free(field);

    struct sq_store_redis with;
    sq_store_redis_init(&with, s.r);
    char *a = run_chain(&with.base, values);
    cr_assert_eq(with.round_trips, 1, "round trips with the prefetch: %llu",
                 (unsigned long long)with.round_trips);
    cr_assert_eq(with.cache.n, 0, "forgotten after the chain");

    /* the same store without a prefetch: one round trip per read */
    struct sq_store_redis without;
    sq_store_redis_init(&without, s.r);
    struct sq_store_vt vt = *without.base.vt;
    vt.prefetch = NULL;
    without.base.vt = &vt;
    char *b = run_chain(&without.base, values);
    cr_assert_gt(without.round_trips, 2, "without: %llu", (unsigned long long)without.round_trips);
    cr_assert_str_eq(a, b);
    cr_assert_not_null(strstr(a, "3:2 "), "the repeat is a duplicate: %s", a);
    cr_assert_not_null(strstr(a, "4:2 "), "e9 was marked already: %s", a);
    cr_assert_not_null(strstr(a, "gold"), "the stored profile enriched c1");

    free(a);
    free(b);
    for (size_t i = 0; i < NIN; i++)
        free(values[i]);
    sq_store_redis_fini(&with);
    sq_store_redis_fini(&without);
    sq_h_link_stop(&s);
}
