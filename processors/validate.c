/* validate.c: the `validate` processor (SPEC 3). Each event is checked
 * against the JSON Schema (draft 2020-12) of its schema, compiled once at
 * init from the built-in schemas/ with `format` asserted, then against the
 * semantic rules of contact.v1; it fills msg->event_ms and
 * msg->customer_id. A failure goes to the DLQ as schema_violation or
 * semantic, with "POINTER MESSAGE" as detail. In `run` (not in replay,
 * which has no wall clock) an event whose time lies more than
 * limits.max_future_s ahead of the wall clock goes to the DLQ as
 * future_time (SPEC 6: one bad clock must not close every window). */
#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "jsonschema.h"
#include "schemas_builtin.h"
#include "sq_utf8.h"

#define SQ_VALIDATE_MAGIC 0x5356a11du
#define SQ_VALIDATE_MAX_SCHEMAS 16

struct sq_validate {
    uint32_t magic;
    struct sq_jsv_registry *reg;
    struct {
        const char *name;  /* the static name decode hands out */
        struct sq_jsv *jsv;
    } schemas[SQ_VALIDATE_MAX_SCHEMAS];
    size_t n;
    bool check_future;     /* `run`: against the wall clock */
    int64_t max_future_ms; /* limits.max_future_s */
};

static void sq_validate_destroy(void *ctx)
{
    struct sq_validate *vd = ctx;
    if (!vd)
        return;
    for (size_t i = 0; i < vd->n; i++)
        sq_jsv_free(vd->schemas[i].jsv);
    sq_jsv_registry_free(vd->reg);
    vd->magic = 0;
    free(vd);
}

/* Compiles every built-in schema that decode knows as an input schema. */
static int sq_validate_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    struct sq_validate *vd = sq_xcalloc(1, sizeof *vd);
    vd->magic = SQ_VALIDATE_MAGIC;
    vd->check_future = !st->replay_mode;
    vd->max_future_ms = st->max_future_s * 1000;
    vd->reg = sq_schema_registry_new(err);
    if (!vd->reg) {
        sq_validate_destroy(vd);
        return SQ_ERR_FATAL;
    }
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    for (size_t i = 0; i < n; i++) {
        const char *name = sq_schema_lookup(all[i].name);
        if (!name)
            continue; /* an output or shared schema */
        if (vd->n == SQ_VALIDATE_MAX_SCHEMAS) {
            sq_validate_destroy(vd);
            return sq_err_set(err, SQ_ERR_FATAL, "", "more than %d input schemas",
                              SQ_VALIDATE_MAX_SCHEMAS);
        }
        struct sq_jsv *jsv = sq_schema_compile_builtin(vd->reg, name, true, err);
        if (!jsv) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            msg[sizeof msg - 64] = '\0';
            sq_validate_destroy(vd);
            return sq_err_set(err, SQ_ERR_FATAL, "", "schema %s: %s", name, msg);
        }
        vd->schemas[vd->n].name = name;
        vd->schemas[vd->n].jsv = jsv;
        vd->n++;
    }
    *ctx = vd;
    return SQ_OK;
}

static const struct sq_jsv *sq_validate_find(const struct sq_validate *vd, const char *schema)
{
    for (size_t i = 0; i < vd->n; i++)
        if (vd->schemas[i].name == schema || strcmp(vd->schemas[i].name, schema) == 0)
            return vd->schemas[i].jsv;
    return NULL;
}


/* A time field already checked by the schema (format date-time), read by
 * sq_time_parse; 0, or -1 after sending m to the DLQ. */
static int sq_validate_time(struct sq_msg *m, const char *field, int64_t *out)
{
    const char *s = json_string_value(json_object_get(m->event, field));
    if (s && sq_time_parse(s, out) == 0)
        return 0;
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/%s", field);
    sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, ptr, "%s is not an RFC 3339 date-time with an offset",
               field);
    return -1;
}

/* contact.v1 semantic rules: ended_at ≥ arrived_at, answered_at within.
 * Returns arrived_at (ms), the time the contact's windows use. */
static int64_t sq_check_contact(struct sq_msg *m)
{
    int64_t arrived = 0, answered = -1, ended = 0;
    if (sq_validate_time(m, "arrived_at", &arrived) || sq_validate_time(m, "ended_at", &ended))
        return arrived;
    if (json_object_get(m->event, "answered_at") &&
        sq_validate_time(m, "answered_at", &answered))
        return arrived;
    if (ended < arrived) {
        sq_msg_dlq(m, SQ_DLQ_SEMANTIC, "/ended_at", "ended_at is before arrived_at");
        return arrived;
    }
    if (answered != -1 && (answered < arrived || answered > ended))
        sq_msg_dlq(m, SQ_DLQ_SEMANTIC, "/answered_at",
                   "answered_at is outside [arrived_at, ended_at]");
    return arrived;
}

/* The event's time (the later of occurred_at and a contact's arrived_at,
 * -1 for other events) more than max_future_ms after now_ms: the DLQ as
 * future_time. */
static void sq_check_future(const struct sq_validate *vd, struct sq_msg *m, int64_t arrived,
                            int64_t now_ms)
{
    int64_t t = arrived;
    const char *ptr = "/arrived_at";
    if (m->event_ms >= t) {
        t = m->event_ms;
        ptr = "/occurred_at";
    }
    if (t - now_ms > vd->max_future_ms)
        sq_msg_dlq(m, SQ_DLQ_FUTURE_TIME, ptr,
                   "%.3f s ahead of the wall clock, more than limits.max_future_s (%lld)",
                   (double)(t - now_ms) / 1000.0, (long long)(vd->max_future_ms / 1000));
}

static int sq_validate_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_validate *vd = ctx;
    if (!vd || vd->magic != SQ_VALIDATE_MAGIC)
        return sq_err_set(err, SQ_ERR_FATAL, "", "validate called with a foreign context");
    int64_t now_ms = 0;
    if (vd->check_future) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event)
            continue; /* decided already, or a tombstone */
        const struct sq_jsv *jsv = sq_validate_find(vd, m->schema);
        if (!jsv) /* decode knows a schema that has no file in schemas/ */
            return sq_err_set(err, SQ_ERR_FATAL, "", "no compiled schema for %s", m->schema);
        struct sq_jsv_error je;
        memset(&je, 0, sizeof je);
        if (!sq_jsv_validate(jsv, m->event, &je)) {
            char ptr[sizeof je.instance], msg[sizeof je.msg];
            sq_utf8_clean_copy(ptr, sizeof ptr, je.instance);
            sq_utf8_clean_copy(msg, sizeof msg, je.msg);
            sq_msg_dlq(m, SQ_DLQ_SCHEMA_VIOLATION, ptr, "%s", msg);
            continue;
        }
        if (sq_validate_time(m, "occurred_at", &m->event_ms))
            continue;
        json_t *cj = json_object_get(m->event, "customer_id");
        m->customer_id = json_is_string(cj) ? json_string_value(cj) : NULL;
        int64_t arrived = -1;
        if (strcmp(m->schema, "contact.v1") == 0)
            arrived = sq_check_contact(m);
        if (vd->check_future && m->verdict == SQ_VERDICT_PENDING)
            sq_check_future(vd, m, arrived, now_ms);
    }
    return SQ_OK;
}

const struct sq_processor sq_proc_validate = {
    .name = "validate",
    .init = sq_validate_init,
    .process = sq_validate_process,
    .flush = NULL,
    .destroy = sq_validate_destroy,
};
