/* validate.c: the `validate` processor. Checks the common envelope of SPEC 2
 * (event_id, occurred_at, customer_id, region) and the semantic rules of
 * contact.v1, and fills msg->event_ms; a failure goes to the DLQ as
 * schema_violation or semantic with the JSON pointer of the field. */
#include "validate.h"

#include <stdio.h>
#include <string.h>

static int sq_validate_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    (void)err;
    *ctx = (void *)st;
    return SQ_OK;
}

/* A required or optional string field of 1..max bytes. */
static int sq_check_string(struct sq_msg *m, const char *field, size_t max, int required,
                           const char **out)
{
    json_t *v = json_object_get(m->event, field);
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/%s", field);
    if (!v) {
        if (required)
            sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, "", "required property \"%s\" is missing",
                       field);
        return !required;
    }
    if (!json_is_string(v)) {
        sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, ptr, "must be a string");
        return 0;
    }
    size_t len = json_string_length(v);
    if (len < 1 || len > max) {
        sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, ptr, "length must be 1..%zu", max);
        return 0;
    }
    if (out)
        *out = json_string_value(v);
    return 1;
}

static int sq_check_time(struct sq_msg *m, const char *field, int required, int64_t *out)
{
    const char *s = NULL;
    if (!sq_check_string(m, field, 64, required, &s))
        return 0;
    if (!s)
        return 1;
    if (sq_time_parse(s, out) != 0) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/%s", field);
        sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, ptr, "is not an RFC 3339 date-time with offset");
        return 0;
    }
    return 1;
}

/* contact.v1 semantic rules: ended_at ≥ arrived_at, answered_at within. */
static void sq_check_contact(struct sq_msg *m)
{
    int64_t arrived = 0, answered = -1, ended = 0;
    if (!sq_check_time(m, "arrived_at", 1, &arrived) || !sq_check_time(m, "ended_at", 1, &ended))
        return;
    if (json_object_get(m->event, "answered_at") &&
        !sq_check_time(m, "answered_at", 1, &answered))
        return;
    if (ended < arrived) {
        sq_msg_dlq(m, SQ_DLQ_SEMANTIC, "/ended_at", "ended_at is before arrived_at");
        return;
    }
    if (answered != -1 && (answered < arrived || answered > ended))
        sq_msg_dlq(m, SQ_DLQ_SEMANTIC, "/answered_at",
                   "answered_at is outside [arrived_at, ended_at]");
}

static int sq_validate_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event)
            continue;
        int is_outage = strcmp(m->schema, "outage.v1") == 0;
        if (!sq_check_string(m, "event_id", 128, 1, NULL) ||
            !sq_check_time(m, "occurred_at", 1, &m->event_ms) ||
            !sq_check_string(m, "customer_id", 64, !is_outage, &m->customer_id) ||
            !sq_check_string(m, "region", 32, is_outage, NULL))
            continue;
        if (strcmp(m->schema, "contact.v1") == 0)
            sq_check_contact(m);
    }
    return SQ_OK;
}

static void sq_validate_destroy(void *ctx)
{
    (void)ctx;
}

const struct sq_processor sq_proc_validate = {
    .name = "validate",
    .init = sq_validate_init,
    .process = sq_validate_process,
    .flush = NULL,
    .destroy = sq_validate_destroy,
};
