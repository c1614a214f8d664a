/* test_enrich.c: profiles (upsert, tombstone) and active outages reach the
 * enrichment of later events, through the in-process store and across
 * batches; an unknown customer gets tier "unknown". */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "config.h"
#include "store.h"

struct env {
    struct sq_settings st;
    struct sq_chain *chain;
    struct sq_store_mem *store;
};

static void env_init(struct env *e)
{
    sq_settings_defaults(&e->st);
    struct sq_err err;
    sq_err_clear(&err);
    e->chain = sq_chain_new(&e->st, &err);
    cr_assert_not_null(e->chain, "%s", err.msg);
    e->store = sq_store_mem_new();
}

static void env_fini(struct env *e)
{
    sq_chain_free(e->chain);
    sq_store_mem_free(e->store);
    sq_settings_free(&e->st);
}

/* Runs one message as its own batch, applies it, returns its scored record
 * enrichment (new reference) or NULL. */
static json_t *run(struct env *e, const char *topic, const char *schema, const char *key,
                   const char *value)
{
    struct sq_batch b;
    memset(&b, 0, sizeof b);
    b.store = sq_store_mem_base(e->store);
    b.n = 1;
    b.msgs = calloc(1, sizeof *b.msgs);
    struct sq_msg *m = &b.msgs[0];
    m->topic = topic;
    m->key = key;
    m->key_len = key ? strlen(key) : 0;
    m->value = value;
    m->value_len = value ? strlen(value) : 0;
    m->default_schema = schema;
    snprintf(m->source, sizeof m->source, "%s/0/1", topic);
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_chain_run(e->chain, &b, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(m->verdict, SQ_VERDICT_PROCESSED, "%s", m->detail);
    size_t *d = NULL, nd = 0;
    cr_assert_eq(sq_store_mem_apply(e->store, &b.ops, &d, &nd, &err), SQ_OK);
    free(d);
    json_t *enr = NULL;
    if (m->outputs_n) {
        json_error_t jerr;
        json_t *rec = json_loadb(m->outputs[0].value, m->outputs[0].value_len, 0, &jerr);
        enr = json_incref(json_object_get(rec, "enrichment"));
        json_decref(rec);
    }
    sq_batch_fini(&b);
    return enr;
}

static const char *contact(const char *eid, const char *cust, const char *region)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":\"2026-11-25T10:05:00Z\","
             "\"customer_id\":\"%s\",%s%s%s\"contact_id\":\"k\",\"channel\":\"voice\",\"queue\":\"q\","
             "\"arrived_at\":\"2026-11-25T10:00:00Z\",\"answered_at\":\"2026-11-25T10:00:05Z\","
             "\"ended_at\":\"2026-11-25T10:05:00Z\",\"outcome\":\"resolved\",\"reason\":\"billing\"}",
             eid, cust, region ? "\"region\":\"" : "", region ? region : "", region ? "\"," : "");
    return buf;
}

Test(enrich, unknown_profile_then_upsert_then_tombstone)
{
    struct env e;
    env_init(&e);
    json_t *enr = run(&e, "sq.in.contacts", "contact.v1", "c1", contact("e1", "c1", NULL));
    cr_assert_str_eq(json_string_value(json_object_get(enr, "tier")), "unknown");
    cr_assert(json_is_false(json_object_get(enr, "enterprise")));
    cr_assert(json_is_null(json_object_get(enr, "region")));
    json_decref(enr);

    enr = run(&e, "sq.in.profiles", "profile.v1", "c1",
              "{\"schema\":\"profile.v1\",\"event_id\":\"p1\",\"occurred_at\":\"2026-11-25T09:00:00Z\","
              "\"customer_id\":\"c1\",\"tier\":\"gold\",\"enterprise\":true,\"region\":\"GD-SZ\","
              "\"tenure_months\":30,\"arpu\":88.5}");
    cr_assert_null(enr, "profiles have no scored record");
    cr_assert_str_eq(sq_store_mem_hget(e.store, "sq:profile:c1", "tier"), "gold");
    cr_assert_str_eq(sq_store_mem_hget(e.store, "sq:profile:c1", "arpu"), "88.5");
    cr_assert_str_eq(sq_store_mem_hget(e.store, "sq:profile:c1", "tenure_months"), "30");

    enr = run(&e, "sq.in.contacts", "contact.v1", "c1", contact("e2", "c1", NULL));
    cr_assert_str_eq(json_string_value(json_object_get(enr, "tier")), "gold");
    cr_assert(json_is_true(json_object_get(enr, "enterprise")));
    cr_assert_str_eq(json_string_value(json_object_get(enr, "region")), "GD-SZ",
                     "region filled from the profile");
    json_decref(enr);
    enr = run(&e, "sq.in.contacts", "contact.v1", "c1", contact("e3", "c1", "BJ-HD"));
    cr_assert_str_eq(json_string_value(json_object_get(enr, "region")), "BJ-HD",
                     "the event's own region wins");
    json_decref(enr);

    enr = run(&e, "sq.in.profiles", "profile.v1", "c1", NULL); /* tombstone */
    cr_assert_null(sq_store_mem_hget(e.store, "sq:profile:c1", "tier"));
    enr = run(&e, "sq.in.contacts", "contact.v1", "c1", contact("e4", "c1", NULL));
    cr_assert_str_eq(json_string_value(json_object_get(enr, "tier")), "unknown");
    json_decref(enr);
    env_fini(&e);
}

Test(enrich, outage_window)
{
    struct env e;
    env_init(&e);
    run(&e, "sq.in.outages", "outage.v1", "GD-SZ",
        "{\"schema\":\"outage.v1\",\"event_id\":\"o1\",\"occurred_at\":\"2026-11-25T09:00:00Z\","
        "\"incident_id\":\"INC-2\",\"region\":\"GD-SZ\",\"service\":\"mobile_data\",\"status\":\"started\",\"severity\":2}");
    run(&e, "sq.in.outages", "outage.v1", "GD-SZ",
        "{\"schema\":\"outage.v1\",\"event_id\":\"o2\",\"occurred_at\":\"2026-11-25T09:01:00Z\","
        "\"incident_id\":\"INC-1\",\"region\":\"GD-SZ\",\"service\":\"voice\",\"status\":\"started\",\"severity\":3}");
    json_t *enr = run(&e, "sq.in.contacts", "contact.v1", "c2", contact("e1", "c2", "GD-SZ"));
    cr_assert(json_is_true(json_object_get(enr, "during_outage")));
    json_t *inc = json_object_get(enr, "incidents");
    cr_assert_eq(json_array_size(inc), 2);
    cr_assert_str_eq(json_string_value(json_array_get(inc, 0)), "INC-1", "sorted");
    json_decref(enr);
    enr = run(&e, "sq.in.contacts", "contact.v1", "c3", contact("e2", "c3", "BJ-HD"));
    cr_assert(json_is_false(json_object_get(enr, "during_outage")), "other region");
    json_decref(enr);
    run(&e, "sq.in.outages", "outage.v1", "GD-SZ",
        "{\"schema\":\"outage.v1\",\"event_id\":\"o3\",\"occurred_at\":\"2026-11-25T11:00:00Z\","
        "\"incident_id\":\"INC-1\",\"region\":\"GD-SZ\",\"service\":\"voice\",\"status\":\"ended\",\"severity\":3}");
    enr = run(&e, "sq.in.contacts", "contact.v1", "c2", contact("e3", "c2", "GD-SZ"));
    inc = json_object_get(enr, "incidents");
    cr_assert_eq(json_array_size(inc), 1);
    cr_assert_str_eq(json_string_value(json_array_get(inc, 0)), "INC-2");
    json_decref(enr);
    env_fini(&e);
}
