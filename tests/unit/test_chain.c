/* test_chain.c: the chain runner decides one outcome per message, the Kafka
 * sink builds scored and DLQ records, the Redis sink coalesces customer
 * changes per batch, and the outcome counters add up. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "config.h"
#include "dedupe.h"
#include "store.h"
#include "strmap.h"

static const char *contact(const char *eid, const char *cust, const char *arrived,
                           const char *answered, const char *ended)
{
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 1024,
             "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":\"%s\","
             "\"customer_id\":\"%s\",\"region\":\"GD-SZ\",\"contact_id\":\"k-%s\","
             "\"channel\":\"voice\",\"queue\":\"billing\",\"arrived_at\":\"%s\"%s%s%s,"
             "\"ended_at\":\"%s\",\"hold_s\":1.5,\"reason\":\"billing\"}",
             eid, ended, cust, eid, arrived, answered ? ",\"answered_at\":\"" : "",
             answered ? answered : "", answered ? "\"" : "", ended);
    return b;
}

struct fixture {
    struct sq_settings st;
    struct sq_chain *chain;
    struct sq_batch batch;
    struct sq_store_mem *store;
};

static void batch_add(struct sq_batch *b, const char *topic, const char *schema, const char *key,
                      const char *value)
{
    b->msgs = realloc(b->msgs, (b->n + 1) * sizeof *b->msgs);
    struct sq_msg *m = &b->msgs[b->n];
    memset(m, 0, sizeof *m);
    m->topic = topic;
    m->partition = 0;
    m->offset = (int64_t)b->n + 10;
    m->key = key;
    m->key_len = key ? strlen(key) : 0;
    m->value = value;
    m->value_len = value ? strlen(value) : 0;
    m->default_schema = schema;
    snprintf(m->source, sizeof m->source, "%s/0/%lld", topic, (long long)m->offset);
    b->n++;
}

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    sq_settings_defaults(&f->st);
    struct sq_err err;
    sq_err_clear(&err);
    f->chain = sq_chain_new(&f->st, &err);
    cr_assert_not_null(f->chain, "%s", err.msg);
    f->batch.topic = "sq.in.contacts";
    f->store = sq_store_mem_new();
    f->batch.store = sq_store_mem_base(f->store);
}

/* Applies the batch's ops to the in-process store; returns duplicates. */
static size_t apply(struct fixture *f)
{
    size_t *dups = NULL, nd = 0;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_mem_apply(f->store, &f->batch.ops, &dups, &nd, &err), SQ_OK, "%s",
                 err.msg);
    sq_batch_mark_duplicates(&f->batch, dups, nd);
    free(dups);
    return nd;
}

/* Runs the chain over f's batch; it must succeed. */
static void run(struct fixture *f)
{
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_chain_run(f->chain, &f->batch, &err), SQ_OK, "%s", err.msg);
}

/* An empty batch on the same store, as the next poll's. */
static void next_batch(struct fixture *f)
{
    sq_batch_fini(&f->batch);
    memset(&f->batch, 0, sizeof f->batch);
    f->batch.topic = "sq.in.contacts";
    f->batch.store = sq_store_mem_base(f->store);
}

static void teardown(struct fixture *f)
{
    sq_batch_fini(&f->batch);
    sq_chain_free(f->chain);
    sq_store_mem_free(f->store);
    sq_settings_free(&f->st);
}

static const char *header_value(const struct sq_output *o, const char *name)
{
    if (strcmp(name, "sq-error") == 0)
        return o->error;
    if (strcmp(name, "sq-error-detail") == 0)
        return o->error_detail;
    return NULL;
}

Test(chain, one_outcome_per_message_and_outputs)
{
    struct fixture f;
    setup(&f);
    const char *ok1 = contact("e1", "cust-1", "2026-11-25T10:00:00Z", "2026-11-25T10:00:12Z",
                              "2026-11-25T10:05:00Z");
    const char *ok2 = contact("e2", "cust-1", "2026-11-25T11:00:00Z", NULL, "2026-11-25T11:00:03Z");
    const char *sem = contact("e3", "cust-2", "2026-11-25T10:00:00Z", "2026-11-25T10:09:00Z",
                              "2026-11-25T10:05:00Z");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-1", ok1);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-x", "{not json");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-1", ok2);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-2", sem);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-3",
              "{\"schema\":\"contact.v1\",\"occurred_at\":\"2026-11-25T10:00:00Z\"}");
    batch_add(&f.batch, "sq.in.profiles", "profile.v1", "cust-4", NULL);
    run(&f);

    struct sq_msg *m = f.batch.msgs;
    cr_assert_eq(m[0].verdict, SQ_VERDICT_PROCESSED);
    cr_assert_eq(m[1].verdict, SQ_VERDICT_DLQ);
    cr_assert_eq(m[1].reason, SQ_DLQ_MALFORMED_JSON);
    cr_assert_eq(m[2].verdict, SQ_VERDICT_PROCESSED);
    cr_assert_eq(m[3].reason, SQ_DLQ_SEMANTIC);
    cr_assert(strstr(m[3].detail, "/answered_at") == m[3].detail, "%s", m[3].detail);
    cr_assert_eq(m[4].reason, SQ_DLQ_SCHEMA_VIOLATION);
    cr_assert(strstr(m[4].detail, "event_id"), "%s", m[4].detail);
    cr_assert_eq(m[5].verdict, SQ_VERDICT_PROCESSED, "tombstone on profiles is processed");
    cr_assert_eq(m[5].outputs_n, 0);

    /* scored record: the event plus enrichment, score, breaches, derived */
    cr_assert_eq(m[0].outputs_n, 1);
    struct sq_output *o = &m[0].outputs[0];
    cr_assert_str_eq(o->topic, "sq.out.scored");
    cr_assert_str_eq(o->key, "cust-1");
    cr_assert_str_eq(o->schema, "scored.v1");
    json_error_t jerr;
    json_t *rec = json_loadb(o->value, o->value_len, 0, &jerr);
    cr_assert_not_null(rec);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "event_id")), "e1");
    json_t *d = json_object_get(rec, "derived");
    cr_assert_eq(json_integer_value(json_object_get(d, "wait_s")), 12);
    cr_assert_eq(json_real_value(json_object_get(d, "handle_s")), 289.5);
    cr_assert(json_is_false(json_object_get(d, "abandoned")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rec, "enrichment"), "tier")),
                     "unknown");
    cr_assert(json_is_array(json_object_get(rec, "breaches")));
    json_decref(rec);
    /* an abandon of 3 s is a short abandon */
    rec = json_loadb(m[2].outputs[0].value, m[2].outputs[0].value_len, 0, &jerr);
    d = json_object_get(rec, "derived");
    cr_assert(json_is_true(json_object_get(d, "abandoned")));
    cr_assert(json_is_true(json_object_get(d, "short_abandon")));
    cr_assert(json_is_null(json_object_get(d, "handle_s")));
    json_decref(rec);

    /* DLQ: original bytes unchanged, reason and detail headers */
    o = &m[1].outputs[0];
    cr_assert_str_eq(o->topic, "sq.out.dlq");
    cr_assert_eq(o->value_len, strlen("{not json"));
    cr_assert(memcmp(o->value, "{not json", o->value_len) == 0);
    cr_assert_str_eq(o->key, "cust-x");
    cr_assert_str_eq(header_value(o, "sq-error"), "malformed_json");
    cr_assert(strlen(header_value(o, "sq-error-detail")) > 3);

    /* State: the customer hash after applying the batch's ops. */
    cr_assert_eq(apply(&f), 0);
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "events_total"), "2");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "last_event_at"),
                     "2026-11-25T11:00:03.000Z");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "last_event_id"), "e2");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "last_contact_at"),
                     "2026-11-25T11:00:00.000Z", "the latest contact's arrived_at");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "region"), "GD-SZ");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:cust-1", "tier"), "unknown");
    cr_assert_null(sq_store_mem_hget(f.store, "sq:cust:cust-2", "events_total"),
                   "a DLQ message changes no state");

    struct sq_chain_stats delta;
    sq_chain_account(f.chain, &f.batch, &delta);
    cr_assert_eq(delta.consumed, 6);
    cr_assert_eq(delta.processed, 3);
    cr_assert_eq(delta.dlq[SQ_DLQ_MALFORMED_JSON], 1);
    cr_assert_eq(delta.dlq[SQ_DLQ_SEMANTIC], 1);
    cr_assert_eq(delta.dlq[SQ_DLQ_SCHEMA_VIOLATION], 1);
    teardown(&f);
}

Test(chain, rejected_output_becomes_dlq_and_leaves_redis)
{
    struct fixture f;
    setup(&f);
    const char *ok1 = contact("e1", "cust-1", "2026-11-25T10:00:00Z", "2026-11-25T10:00:12Z",
                              "2026-11-25T10:05:00Z");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "cust-1", ok1);
    run(&f);
    cr_assert_gt(f.batch.ops.argc, 0);
    sq_chain_reject_output(f.chain, &f.batch, 0, "output to sq.out.scored rejected: too large");
    struct sq_msg *m = &f.batch.msgs[0];
    cr_assert_eq(m->verdict, SQ_VERDICT_DLQ);
    cr_assert_eq(m->reason, SQ_DLQ_OUTPUT_REJECTED);
    cr_assert_eq(m->outputs_n, 1);
    cr_assert_str_eq(m->outputs[0].topic, "sq.out.dlq");
    cr_assert_eq(m->outputs[0].value_len, strlen(ok1));
    cr_assert_eq(f.batch.ops.argc, 0, "no Redis change for a DLQ message");
    teardown(&f);
}

Test(chain, reset_allows_a_rerun_with_same_result)
{
    struct fixture f;
    setup(&f);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c",
              contact("e1", "c", "2026-11-25T10:00:00Z", NULL, "2026-11-25T10:01:00Z"));
    run(&f);
    char *first = strndup(f.batch.msgs[0].outputs[0].value, f.batch.msgs[0].outputs[0].value_len);
    sq_batch_reset(&f.batch);
    cr_assert_eq(f.batch.msgs[0].outputs_n, 0);
    run(&f);
    cr_assert_str_eq(f.batch.msgs[0].outputs[0].value, first);
    free(first);
    teardown(&f);
}

Test(chain, duplicates_within_and_across_batches)
{
    struct fixture f;
    setup(&f);
    const char *ev = contact("dup-1", "c9", "2026-11-25T10:00:00Z", "2026-11-25T10:00:10Z",
                             "2026-11-25T10:02:00Z");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c9", ev);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c9", ev); /* same batch */
    run(&f);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_PROCESSED);
    cr_assert_eq(f.batch.msgs[1].verdict, SQ_VERDICT_DUPLICATE);
    cr_assert_eq(f.batch.msgs[1].outputs_n, 0, "a duplicate has no output");
    cr_assert_eq(apply(&f), 0);
    next_batch(&f);

    /* a later batch: the applied mark makes it a duplicate */
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c9", ev);
    run(&f);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_DUPLICATE);
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:cust:c9", "events_total"), "1");
    teardown(&f);
}

/* dedupe.shards spreads a slice's marks over that many sets; a mark's set
 * and member depend only on the event, so a duplicate meets its mark;
 * every member is an int64 in the decimal form Redis keeps as an integer
 * (no leading zero, no "-0"), however long the id. */
static long mark_shard(const struct sq_settings *st, const char *eid, char **key_out,
                       char **field_out)
{
    char *key, *field;
    sq_dedupe_mark_dup(st, "contact.v1", eid, 1795600920000LL, &key, &field);
    char *fend, again[24];
    errno = 0;
    long long v = strtoll(field, &fend, 10);
    cr_assert(errno == 0 && *fend == '\0' && fend != field, "an int64: %s", field);
    snprintf(again, sizeof again, "%lld", v);
    cr_assert_str_eq(again, field, "canonical decimal");
    cr_assert_eq(strncmp(key, "sq:dm:20782:", 12), 0, "slice of the event's day: %s", key);
    char *end;
    long shard = strtol(key + 12, &end, 10);
    cr_assert_eq(*end, '\0', "%s", key);
    if (field_out)
        *field_out = field;
    else
        free(field);
    if (key_out)
        *key_out = key;
    else
        free(key);
    return shard;
}

Test(chain, dedupe_marks_spread_over_the_configured_shards)
{
    struct fixture f;
    setup(&f);
    cr_assert_eq(f.st.dedupe_shards, 4096, "the default");
    f.st.dedupe_shards = 16;
    bool used[16] = {false};
    struct sq_strmap fields;
    sq_strmap_init(&fields);
    for (int i = 0; i < 400; i++) {
        char eid[160];
        /* ids of 5 to 125 characters */
        snprintf(eid, sizeof eid, "e-%d-%0*d", i, i % 120, 0);
        char *field, *again;
        long shard = mark_shard(&f.st, eid, NULL, &field);
        cr_assert(shard >= 0 && shard < 16, "shard %ld", shard);
        cr_assert_eq(mark_shard(&f.st, eid, NULL, &again), shard, "the same event, the same hash");
        cr_assert_str_eq(again, field);
        cr_assert_null(sq_strmap_get(&fields, field), "two ids, one member: %s", field);
        sq_strmap_put(&fields, field, &used[0]);
        free(field);
        free(again);
        used[shard] = true;
    }
    sq_strmap_fini(&fields);
    for (int k = 0; k < 16; k++)
        cr_assert(used[k], "400 marks leave no shard of 16 empty: %d is", k);
    char *f1, *f2;
    mark_shard(&f.st, "e-1", NULL, &f1);
    char *key, *field;
    sq_dedupe_mark_dup(&f.st, "survey.v1", "e-1", 1795600920000LL, &key, &f2);
    cr_assert_str_neq(f1, f2, "the schema is part of the mark");
    /* the format is stable: SHA-256("contact.v1|e-1") bytes 8..15, signed;
     * shard = bytes 0..7 mod 16 */
    cr_assert_str_eq(f1, "-515801286765361495");
    cr_assert_eq(mark_shard(&f.st, "e-1", NULL, NULL), 6);
    free(f1);
    free(f2);
    free(key);
    f.st.dedupe_shards = 1;
    cr_assert_eq(mark_shard(&f.st, "e-1", NULL, NULL), 0);
    cr_assert_eq(mark_shard(&f.st, "e-2", NULL, NULL), 0);

    /* through the chain: the mark lands in its shard and finds the duplicate */
    f.st.dedupe_shards = 16;
    const char *ev = contact("e-7", "c9", "2026-11-25T10:00:00Z", "2026-11-25T10:00:10Z",
                             "2026-11-25T10:02:00Z");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c9", ev);
    run(&f);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_PROCESSED);
    cr_assert_eq(apply(&f), 0);
    cr_assert(mark_shard(&f.st, "e-7", &key, &field) < 16);
    cr_assert_not_null(sq_store_mem_hget(f.store, key, field), "mark in %s", key);
    free(key);
    free(field);
    next_batch(&f);
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c9", ev);
    run(&f);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_DUPLICATE);
    teardown(&f);
}

Test(chain, duplicate_found_by_the_state_step_leaves_no_trace)
{
    struct fixture f;
    setup(&f);
    const char *ev = contact("x-1", "c5", "2026-11-25T10:00:00Z", "2026-11-25T10:00:10Z",
                             "2026-11-25T10:02:00Z");
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c5", ev);
    run(&f);
    /* Another partition applied the same event_id after our read. */
    char *key, *field;
    sq_dedupe_mark_dup(&f.st, "contact.v1", "x-1", 1795600920000LL, &key, &field);
    struct sq_state_ops other = {0};
    sq_op_message(&other, 0);
    sq_op_dedupe(&other, key, field, 100);
    size_t *d = NULL, nd = 0;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_store_mem_apply(f.store, &other, &d, &nd, &err), SQ_OK);
    cr_assert_eq(nd, 0);
    free(d);
    sq_state_ops_fini(&other);
    free(key);
    free(field);
    cr_assert_eq(apply(&f), 1);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_DUPLICATE);
    cr_assert_null(sq_store_mem_hget(f.store, "sq:cust:c5", "events_total"));
    struct sq_chain_stats delta;
    sq_chain_account(f.chain, &f.batch, &delta);
    cr_assert_eq(delta.duplicates, 1);
    cr_assert_eq(delta.processed, 0);
    teardown(&f);
}

/* The op list keeps every argument intact across its chunks: many small
 * ones, one larger than a chunk, numbers at the extremes, and again after a
 * reset reuses the storage. */
Test(state_ops, arguments_survive_chunk_growth_and_reset)
{
    struct sq_state_ops ops = {0};
    char big[100000];
    memset(big, 'b', sizeof big);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5000; i++)
            sq_state_ops_pushf(&ops, "arg-%d", i);
        sq_state_ops_push(&ops, big, sizeof big);
        sq_state_ops_push_i64(&ops, INT64_MIN);
        sq_state_ops_push_i64(&ops, 0);
        sq_state_ops_push_i64(&ops, -42);
        sq_state_ops_push(&ops, "", 0);
        cr_assert_eq(ops.argc, 5005);
        for (int i = 0; i < 5000; i++) {
            char want[32];
            snprintf(want, sizeof want, "arg-%d", i);
            cr_assert_str_eq(ops.argv[i], want);
            cr_assert_eq(ops.argvlen[i], strlen(want));
        }
        cr_assert_eq(ops.argvlen[5000], sizeof big);
        cr_assert_eq(memcmp(ops.argv[5000], big, sizeof big), 0);
        cr_assert_eq(ops.argv[5000][sizeof big], '\0');
        cr_assert_str_eq(ops.argv[5001], "-9223372036854775808");
        cr_assert_str_eq(ops.argv[5002], "0");
        cr_assert_str_eq(ops.argv[5003], "-42");
        cr_assert_str_eq(ops.argv[5004], "");
        struct sq_state_ops copy = {0};
        sq_state_ops_push(&copy, "M", 1);
        sq_state_ops_append_borrowed(&copy, &ops);
        cr_assert_eq(copy.argc, ops.argc + 1);
        cr_assert_str_eq(copy.argv[0], "M");
        cr_assert_str_eq(copy.argv[5000], "arg-4999");
        cr_assert_eq(copy.argv[5001], ops.argv[5000]); /* borrowed, not copied */
        cr_assert_eq(copy.argvlen[5001], sizeof big);
        sq_state_ops_fini(&copy);
        sq_state_ops_reset(&ops);
        cr_assert_eq(ops.argc, 0);
    }
    sq_state_ops_fini(&ops);
}

/* A store that fails a read of one key while failing is set. */
struct failing_store {
    struct sq_store base;
    struct sq_store *inner;
    const char *fail_key;
    bool failing;
    int failed;
};

static int failing_read(struct sq_store *s, struct sq_store_reads *r, struct sq_err *err)
{
    struct failing_store *fs = (struct failing_store *)s;
    for (size_t i = 0; fs->failing && i < r->n; i++) {
        if (strcmp(r->v[i].key, fs->fail_key) == 0) {
            fs->failed++;
            return sq_err_set(err, SQ_ERR_TRANSIENT, "", "read of %s refused", fs->fail_key);
        }
    }
    return sq_store_read(fs->inner, r, err);
}

static const struct sq_store_vt failing_vt = {.read = failing_read};

static const char *fault_opened(const char *tid, const char *cust)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 512,
             "{\"schema\":\"ticket.v1\",\"event_id\":\"o-%s\",\"occurred_at\":"
             "\"2026-11-25T10:00:00Z\",\"customer_id\":\"%s\",\"region\":\"GD-SZ\","
             "\"ticket_id\":\"%s\",\"kind\":\"fault\",\"category\":\"network_quality\","
             "\"severity\":1,\"status\":\"opened\"}",
             tid, cust, tid);
    return b;
}

/* Overdue timers fired by a batch that then fails are fired again when the
 * batch runs again: none is lost with the failed batch's ops. */
Test(chain, a_failed_batch_fires_its_timers_when_run_again)
{
    struct fixture f;
    setup(&f);
    struct failing_store fs = {.base = {&failing_vt}, .inner = sq_store_mem_base(f.store),
                               .fail_key = "sq:ticket:T-2"};
    f.batch.topic = "sq.in.tickets";
    f.batch.store = &fs.base;
    batch_add(&f.batch, "sq.in.tickets", "ticket.v1", "c1", fault_opened("T-1", "c1"));
    batch_add(&f.batch, "sq.in.tickets", "ticket.v1", "c2", fault_opened("T-2", "c2"));
    run(&f);
    apply(&f);
    next_batch(&f);
    f.batch.store = &fs.base;
    /* 5 h later: the watermark (15:00 - 30 min) passes both deadlines (14:00) */
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c3",
              contact("e1", "c3", "2026-11-25T15:00:00Z", NULL, "2026-11-25T15:01:00Z"));
    fs.failing = true;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_chain_run(f.chain, &f.batch, &err), SQ_ERR_TRANSIENT, "%s", err.msg);
    cr_assert_eq(fs.failed, 1, "T-1 fired, then T-2's ticket could not be read");
    fs.failing = false;
    sq_batch_reset(&f.batch);
    run(&f);
    json_t *tr = f.batch.msgs[0].timer_records;
    cr_assert_eq(json_array_size(tr), 2, "both timers fire in the batch run again, not %zu",
                 json_array_size(tr));
    for (size_t i = 0; i < 2; i++) {
        json_t *rec = json_object_get(json_array_get(tr, i), "record");
        cr_assert_str_eq(json_string_value(json_object_get(rec, "code")), "TICKET_OVERDUE");
        cr_assert_str_eq(json_string_value(json_object_get(rec, "ticket_id")), i ? "T-2" : "T-1");
    }
    apply(&f);
    cr_assert_null(sq_store_mem_hget(f.store, "sq:timers:sq.in.tickets:0", "T-1"));
    cr_assert_null(sq_store_mem_hget(f.store, "sq:timers:sq.in.tickets:0", "T-2"));
    teardown(&f);
}

static bool no_partition_idle(void *arg, const char *topic, int32_t partition)
{
    (void)arg;
    (void)topic;
    (void)partition;
    return false;
}

/* A timer the watermark passed while another batch held its partition is
 * read by that partition's next batch and fires before that batch's first
 * event is scored: a late resolution then finds it fired, as it would
 * have had the partition been free. */
Test(chain, a_timer_read_late_fires_before_the_next_event)
{
    struct fixture f;
    setup(&f);
    f.batch.topic = "sq.in.tickets";
    batch_add(&f.batch, "sq.in.tickets", "ticket.v1", "c1", fault_opened("T-1", "c1"));
    run(&f);
    apply(&f);
    /* 15:00: the watermark (14:30) passes the deadline (14:00), but the
     * tickets partition is another batch's */
    next_batch(&f);
    f.batch.part_idle = no_partition_idle;
    batch_add(&f.batch, "sq.in.contacts", "contact.v1", "c3",
              contact("e1", "c3", "2026-11-25T15:00:00Z", NULL, "2026-11-25T15:01:00Z"));
    run(&f);
    cr_assert_eq(json_array_size(f.batch.msgs[0].timer_records), 0, "not read yet");
    apply(&f);
    /* the partition's next batch: its resolution at 14:45 */
    next_batch(&f);
    f.batch.topic = "sq.in.tickets";
    batch_add(&f.batch, "sq.in.tickets", "ticket.v1", "c1",
              "{\"schema\":\"ticket.v1\",\"event_id\":\"r-T-1\",\"occurred_at\":"
              "\"2026-11-25T14:45:00Z\",\"customer_id\":\"c1\",\"region\":\"GD-SZ\","
              "\"ticket_id\":\"T-1\",\"kind\":\"fault\",\"category\":\"network_quality\","
              "\"severity\":1,\"status\":\"resolved\"}");
    run(&f);
    json_t *tr = f.batch.msgs[0].timer_records;
    cr_assert_eq(json_array_size(tr), 1, "the timer fires on the batch's first event");
    json_t *rec = json_object_get(json_array_get(tr, 0), "record");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "code")), "TICKET_OVERDUE");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "occurred_at")),
                     "2026-11-25T14:00:00.000Z");
    json_t *own = f.batch.msgs[0].breach_records;
    for (size_t i = 0; i < json_array_size(own); i++)
        cr_assert_str_neq(json_string_value(json_object_get(json_array_get(own, i), "code")),
                          "TICKET_OVERDUE", "once per opening: the resolution finds it fired");
    teardown(&f);
}
