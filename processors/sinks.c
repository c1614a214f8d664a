/* sinks.c: the two sinks. sink_kafka turns each finished message into its
 * Kafka outputs (sq.out.scored, sq.out.breaches, sq.out.kpi, sq.out.dlq);
 * sink_redis coalesces the batch's customer-hash changes into state ops
 * (SPEC 8, 9). */
#include "sinks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "json_out.h"

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

void sq_timer_outputs_add(struct sq_msg *m, const struct sq_settings *st)
{
    size_t i;
    json_t *t;
    json_array_foreach(m->timer_records, i, t) {
        size_t bl;
        char *bv =
            sq_json_dumps(json_object_get(t, "record"), JSON_COMPACT | JSON_REAL_PRECISION(15), &bl);
        const char *k = json_string_value(json_object_get(t, "key"));
        char *bk = k ? sq_xstrdup(k) : NULL;
        struct sq_output *o = sq_msg_add_output(m, st->topic_breaches, bk, bk ? strlen(bk) : 0, bv,
                                                bl, "breach.v1");
        o->source = sq_xstrdup(json_string_value(json_object_get(t, "source")));
    }
}

void sq_kpi_outputs_add(struct sq_msg *m, const struct sq_settings *st)
{
    size_t i;
    json_t *t;
    json_array_foreach(m->kpi_records, i, t) {
        json_t *text = json_object_get(t, "text");
        size_t vl = json_string_length(text);
        char *v = sq_xstrndup(json_string_value(text), vl);
        const char *k = json_string_value(json_object_get(t, "key"));
        char *key = k ? sq_xstrdup(k) : NULL;
        struct sq_output *o = sq_msg_add_output(m, st->topic_kpi, key, key ? strlen(key) : 0, v,
                                                vl, "kpi.v1");
        o->source = sq_xstrdup(json_string_value(json_object_get(t, "source")));
    }
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
 * on contacts, derived (SPEC 8), without a survey's comment unless
 * privacy.keep_comments (SPEC 13). Enrichment and score are filled by
 * later processors when present; here they get their neutral values. */
static char *sq_scored_record_dup(struct sq_msg *m, const struct sq_settings *st, size_t *len)
{
    json_t *ev = m->event;
    if (!st->keep_comments && strcmp(m->schema, "survey.v1") == 0)
        json_object_del(ev, "comment");
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
    return sq_json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(15), len);
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
            /* then its breaches, in SPEC 4's table order (SPEC 15) */
            size_t bi;
            json_t *br;
            json_array_foreach(m->breach_records, bi, br) {
                size_t bl;
                char *bv;
                if (bi < m->breach_texts_n && m->breach_texts[bi]) {
                    bv = m->breach_texts[bi]; /* the score stage's dump: the same flags */
                    m->breach_texts[bi] = NULL;
                    bl = strlen(bv);
                } else {
                    bv = sq_json_dumps(br, JSON_COMPACT | JSON_REAL_PRECISION(15), &bl);
                }
                char *bk = m->customer_id ? sq_xstrdup(m->customer_id) : NULL;
                sq_msg_add_output(m, st->topic_breaches, bk, bk ? strlen(bk) : 0, bv, bl,
                                  "breach.v1");
            }
            sq_timer_outputs_add(m, st);
            sq_kpi_outputs_add(m, st); /* SPEC 15: after the timer breaches */
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

/* Op C's last eight arguments: what score changed beyond the event
 * counters ("" for what it left alone). */
static void sq_push_cust_change(struct sq_state_ops *ops, const struct sq_cust_change *cc)
{
    if (cc->has_contacts_30d)
        sq_state_ops_push_i64(ops, cc->contacts_30d);
    else
        sq_state_ops_push(ops, "", 0);
    if (cc->has_cx) {
        sq_state_ops_push_i64(ops, cc->cx_t_ms);
        sq_state_ops_pushf(ops, "%.17g", cc->cx_score);
        sq_state_ops_push_i64(ops, cc->cx_half_life_ms);
    } else {
        for (int k = 0; k < 3; k++)
            sq_state_ops_push(ops, "", 0);
    }
    sq_state_ops_push_i64(ops, cc->breaches);
    if (cc->last_breach_code) {
        char at[SQ_TIME_BUFSZ];
        sq_time_format(cc->last_breach_ms, at);
        sq_state_ops_push(ops, at, strlen(at));
        sq_state_ops_push(ops, cc->last_breach_code, strlen(cc->last_breach_code));
    } else {
        sq_state_ops_push(ops, "", 0);
        sq_state_ops_push(ops, "", 0);
    }
    sq_state_ops_push_i64(ops, cc->open_tickets);
}

/* Each processed message's customer-hash change (op C of store.h: the
 * event counters and, from score, contacts_30d, cx_index, the breach
 * counters and open_tickets), in the message's own ops so a message found
 * duplicate by the state step leaves no trace. */
static int sq_sink_redis_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    const struct sq_settings *st = ctx;
    (void)err;
    struct sq_buf key; /* a customer hash's key, reused */
    sq_buf_init(&key);
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PROCESSED || !m->event || !m->customer_id ||
            !sq_is_scored_schema(m->schema))
            continue;
        const char *eid = json_string_value(json_object_get(m->event, "event_id"));
        json_t *region = json_object_get(m->event, "region");
        char t[SQ_TIME_BUFSZ], tc[SQ_TIME_BUFSZ] = "";
        sq_time_format(m->event_ms, t);
        int64_t arrived_ms;
        const char *arrived = json_string_value(json_object_get(m->event, "arrived_at"));
        if (strcmp(m->schema, "contact.v1") == 0 && arrived && sq_time_parse(arrived, &arrived_ms) == 0)
            sq_time_format(arrived_ms, tc); /* contacts_30d counts back from it (SPEC 15) */
        struct sq_state_ops *ops = &m->ops;
        sq_state_ops_push(ops, SQ_OP_CUSTOMER, 1);
        sq_buf_reset(&key);
        sq_buf_append_str(&key, st->redis_prefix);
        sq_buf_append(&key, "cust:", 5);
        sq_buf_append_key_escaped(&key, m->customer_id, strlen(m->customer_id));
        sq_state_ops_push(ops, key.data, key.len);
        sq_state_ops_push(ops, "1", 1);
        sq_state_ops_push(ops, t, strlen(t));
        sq_state_ops_push(ops, eid ? eid : "", eid ? strlen(eid) : 0);
        sq_state_ops_push(ops, tc, strlen(tc));
        /* tier and region as enrichment saw them (the profile's region when
         * the event has none) */
        json_t *enr = json_object_get(m->event, "enrichment");
        json_t *er = json_object_get(enr, "region");
        const char *rg = json_is_string(er) ? json_string_value(er)
                         : json_is_string(region) ? json_string_value(region) : "";
        const char *tier = json_string_value(json_object_get(enr, "tier"));
        sq_state_ops_push(ops, rg, strlen(rg));
        sq_state_ops_push(ops, tier ? tier : "", tier ? strlen(tier) : 0);
        sq_state_ops_push_i64(ops, st->retention_customer_days * 86400LL);
        sq_push_cust_change(ops, &m->cust_change);
    }
    sq_buf_fini(&key);
    return SQ_OK;
}

const struct sq_processor sq_proc_sink_redis = {
    .name = "sink_redis",
    .init = sq_sink_init,
    .process = sq_sink_redis_process,
    .flush = NULL,
    .destroy = sq_sink_destroy,
};
