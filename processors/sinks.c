/* sinks.c: the two sinks. sink_kafka turns each finished message into its
 * Kafka outputs (sq.out.scored, sq.out.dlq); sink_redis coalesces the
 * batch's customer-hash changes into state ops (SPEC 8, 9). */
#include "sinks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"

static int sq_sink_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    (void)err;
    *ctx = (void *)st;
    return SQ_OK;
}

static void sq_sink_destroy(void *ctx)
{
    (void)ctx;
}

const struct sq_settings *sq_sink_kafka_settings(void *ctx)
{
    return ctx;
}

/* Schemas that get a scored record (SPEC 15: not profiles, not outages). */
static int sq_is_scored_schema(const char *schema)
{
    return schema && (strcmp(schema, "contact.v1") == 0 || strcmp(schema, "ticket.v1") == 0 ||
                      strcmp(schema, "survey.v1") == 0 || strcmp(schema, "qa_review.v1") == 0);
}

void sq_dlq_output_add(struct sq_msg *m, const struct sq_settings *st)
{
    char *key = m->key ? sq_xstrndup(m->key, m->key_len) : NULL;
    char *val = m->value ? sq_xstrndup(m->value, m->value_len) : NULL;
    struct sq_output *o = sq_msg_add_output(m, st->topic_dlq, key, m->key_len, val,
                                            m->value ? m->value_len : 0, "dlq.v1");
    o->error = sq_dlq_reason_name(m->reason);
    o->error_detail = sq_xstrdup(m->detail);
}

/* The scored record: the input event plus enrichment, score, breaches and,
 * on contacts, derived (SPEC 8). Enrichment and score are filled by later
 * processors when present; here they get their neutral values. */
static char *sq_scored_record_dup(struct sq_msg *m, const struct sq_settings *st, size_t *len)
{
    json_t *ev = m->event;
    if (!json_object_get(ev, "enrichment")) {
        json_t *region = json_object_get(ev, "region");
        json_object_set_new(ev, "enrichment",
                            json_pack("{s:s, s:b, s:O, s:b, s:[]}", "tier", "unknown",
                                      "enterprise", 0, "region", region ? region : json_null(),
                                      "during_outage", 0, "incidents"));
    }
    if (!json_object_get(ev, "score"))
        json_object_set_new(ev, "score", json_pack("{s:{}}", "dimensions"));
    if (!json_object_get(ev, "breaches"))
        json_object_set_new(ev, "breaches", json_array());
    if (strcmp(m->schema, "contact.v1") == 0 && !json_object_get(ev, "derived")) {
        struct sq_contact_derived d;
        if (sq_contact_derive(ev, st, &d) == 0)
            json_object_set_new(ev, "derived", sq_contact_derived_json(&d));
    }
    char *s = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(15));
    *len = strlen(s);
    return s;
}

static int sq_sink_kafka_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    const struct sq_settings *st = ctx;
    (void)err;
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict == SQ_VERDICT_DLQ) {
            sq_dlq_output_add(m, st);
        } else if (m->verdict == SQ_VERDICT_PROCESSED && m->event &&
                   sq_is_scored_schema(m->schema)) {
            size_t len;
            char *val = sq_scored_record_dup(m, st, &len);
            char *key = m->customer_id ? sq_xstrdup(m->customer_id) : NULL;
            sq_msg_add_output(m, st->topic_scored, key, key ? strlen(key) : 0, val, len,
                              "scored.v1");
        }
    }
    return SQ_OK;
}

const struct sq_processor sq_proc_sink_kafka = {
    .name = "sink_kafka",
    .init = sq_sink_init,
    .process = sq_sink_kafka_process,
    .flush = NULL,
    .destroy = sq_sink_destroy,
};

/* One customer's coalesced change within a batch. */
struct sq_cust_delta {
    const char *id;
    long n;
    int64_t last_ms;
    const char *last_event_id;
    const char *region;
    int64_t last_contact_ms; /* -1 none */
};

static int sq_later(int64_t t, const char *id, int64_t t0, const char *id0)
{
    return t > t0 || (t == t0 && strcmp(id, id0) > 0);
}

static int sq_sink_redis_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    const struct sq_settings *st = ctx;
    (void)err;
    /* Batches are small (runtime.batch_max_messages): a linear scan over the
     * batch's distinct customers is cheaper than hashing. */
    struct sq_cust_delta *d = sq_xcalloc(batch->n ? batch->n : 1, sizeof *d);
    size_t dn = 0;
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PROCESSED || !m->event || !m->customer_id ||
            !sq_is_scored_schema(m->schema))
            continue;
        size_t k = 0;
        while (k < dn && strcmp(d[k].id, m->customer_id) != 0)
            k++;
        const char *eid = json_string_value(json_object_get(m->event, "event_id"));
        json_t *region = json_object_get(m->event, "region");
        if (k == dn) {
            d[dn] = (struct sq_cust_delta){.id = m->customer_id, .n = 0, .last_ms = INT64_MIN,
                                            .last_event_id = "", .last_contact_ms = -1};
            dn++;
        }
        d[k].n++;
        if (sq_later(m->event_ms, eid, d[k].last_ms, d[k].last_event_id)) {
            d[k].last_ms = m->event_ms;
            d[k].last_event_id = eid;
            d[k].region = json_is_string(region) ? json_string_value(region) : NULL;
        }
        if (strcmp(m->schema, "contact.v1") == 0 && m->event_ms > d[k].last_contact_ms)
            d[k].last_contact_ms = m->event_ms;
    }
    for (size_t k = 0; k < dn; k++) {
        char *esc = sq_key_escape_dup(d[k].id, strlen(d[k].id));
        char t[SQ_TIME_BUFSZ], tc[SQ_TIME_BUFSZ] = "";
        sq_time_format(d[k].last_ms, t);
        if (d[k].last_contact_ms >= 0)
            sq_time_format(d[k].last_contact_ms, tc);
        sq_state_ops_push(&batch->ops, SQ_OP_CUSTOMER, 1);
        sq_state_ops_pushf(&batch->ops, "%scust:%s", st->redis_prefix, esc);
        sq_state_ops_pushf(&batch->ops, "%ld", d[k].n);
        sq_state_ops_push(&batch->ops, t, strlen(t));
        sq_state_ops_push(&batch->ops, d[k].last_event_id, strlen(d[k].last_event_id));
        sq_state_ops_push(&batch->ops, tc, strlen(tc));
        sq_state_ops_push(&batch->ops, d[k].region ? d[k].region : "",
                          d[k].region ? strlen(d[k].region) : 0);
        sq_state_ops_pushf(&batch->ops, "%lld",
                           (long long)st->retention_customer_days * 86400LL);
        free(esc);
    }
    free(d);
    return SQ_OK;
}

const struct sq_processor sq_proc_sink_redis = {
    .name = "sink_redis",
    .init = sq_sink_init,
    .process = sq_sink_redis_process,
    .flush = NULL,
    .destroy = sq_sink_destroy,
};
