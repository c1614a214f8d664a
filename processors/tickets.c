/* tickets.c: the ticket.v1 state machine of tickets.h: opened_at and
 * openings, acknowledgement, resolution, reopen and regulator escalation,
 * the ticket breaches (TICKET_ACK_LATE, TICKET_OVERDUE, TICKET_REOPENED,
 * REGULATOR_ESCALATION), the ticket score at resolution, and the stored
 * JSON form. Decisions are made once, when their event is processed. */
#include "tickets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "sq_common.h"

#define SQ_MS_PER_H INT64_C(3600000)
#define SQ_TICKET_DUMP_VERSION 1

static const char *const sq_ticket_kind_names[SQ_TICKET__KINDS] = {
    [SQ_TICKET_COMPLAINT] = "complaint",
    [SQ_TICKET_FAULT] = "fault",
    [SQ_TICKET_INQUIRY] = "inquiry",
};

static const char *const sq_ticket_status_names[] = {
    [SQ_TICKET_OPENED] = "opened",
    [SQ_TICKET_ACKNOWLEDGED] = "acknowledged",
    [SQ_TICKET_UPDATED] = "updated",
    [SQ_TICKET_RESOLVED] = "resolved",
    [SQ_TICKET_CLOSED] = "closed",
    [SQ_TICKET_REOPENED] = "reopened",
    [SQ_TICKET_ESCALATED_REGULATOR] = "escalated_regulator",
};

const char *sq_ticket_kind_name(enum sq_ticket_kind k)
{
    return (k >= 0 && k < SQ_TICKET__KINDS) ? sq_ticket_kind_names[k] : "unknown";
}

int sq_ticket_kind_parse(const char *s, enum sq_ticket_kind *out)
{
    for (int i = 0; i < SQ_TICKET__KINDS; i++) {
        if (strcmp(s, sq_ticket_kind_names[i]) == 0) {
            *out = (enum sq_ticket_kind)i;
            return 0;
        }
    }
    return -1;
}

int sq_ticket_status_parse(const char *s, enum sq_ticket_status *out)
{
    size_t n = sizeof sq_ticket_status_names / sizeof sq_ticket_status_names[0];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, sq_ticket_status_names[i]) == 0) {
            *out = (enum sq_ticket_status)i;
            return 0;
        }
    }
    return -1;
}

/* SPEC 4: "VIP" = tier diamond or gold, or enterprise. (processors/score.c
 * says the same for contacts and surveys.) */
static bool vip(const char *tier, bool enterprise)
{
    return enterprise || strcmp(tier, "diamond") == 0 || strcmp(tier, "gold") == 0;
}

/* Copies s into out[cap] (cap includes the NUL), cut at a UTF-8 character
 * boundary when too long. */
static void copy_cut(char *out, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(out, s, n);
    out[n] = '\0';
}

static void cust_set(struct sq_ticket_cust *c, const char *tier, bool enterprise,
                     const char *region)
{
    copy_cut(c->tier, sizeof c->tier, tier);
    copy_cut(c->region, sizeof c->region, region);
    c->enterprise = enterprise;
}

int64_t sq_ticket_ack_deadline_ms(const struct sq_ticket *t, const struct sq_settings *st)
{
    return t->opened_ms + st->tickets_ack_h[t->kind] * SQ_MS_PER_H;
}

static int64_t resolve_h(const struct sq_ticket *t, const struct sq_settings *st)
{
    return st->tickets_resolve_h[t->kind][t->severity - 1];
}

int64_t sq_ticket_resolve_deadline_ms(const struct sq_ticket *t, const struct sq_settings *st)
{
    return t->cur.start_ms + resolve_h(t, st) * SQ_MS_PER_H;
}

int sq_ticket_open_count(const struct sq_ticket *t)
{
    return (t->seen && t->cur.resolved_ms < 0) ? 1 : 0;
}

bool sq_ticket_timer_due(const struct sq_ticket *t, const struct sq_settings *st,
                         int64_t *due_ms)
{
    if (!t->seen || t->cur.resolved_ms >= 0 || t->cur.overdue_fired)
        return false;
    *due_ms = sq_ticket_resolve_deadline_ms(t, st);
    return true;
}

/* Fills b (id_source, breach_id, dimension) for code; value and threshold
 * are set by the caller. */
static void breach_fill(struct sq_breach *b, enum sq_breach_code code, enum sq_severity sev,
                        int64_t occurred_ms, const char *id_source)
{
    memset(b, 0, sizeof *b);
    b->code = code;
    b->severity = sev;
    b->dim = sq_breach_code_dim(code);
    b->occurred_ms = occurred_ms;
    copy_cut(b->id_source, sizeof b->id_source, id_source);
    sq_breach_id_make(b->id_source, code, b->breach_id);
}

static struct sq_breach *effects_add(struct sq_ticket_effects *out, const char *event_id,
                                     const struct sq_ticket_cust *cust)
{
    /* At most one of each ticket code per event: 4 always suffices. */
    int i = out->n_breaches++;
    copy_cut(out->src[i].event_id, sizeof out->src[i].event_id, event_id);
    out->src[i].cust = *cust;
    return &out->breaches[i];
}

/* TICKET_OVERDUE of the current opening: occurred_at is its deadline,
 * event_id the event that started it, breach_id from "ticket_id#n". */
static void overdue_fill(struct sq_ticket *t, const struct sq_settings *st, struct sq_breach *b)
{
    char src[sizeof b->id_source];
    snprintf(src, sizeof src, "%s#%d", t->ticket_id, t->opening);
    enum sq_severity sev = (t->severity == 1 || vip(t->cur.cust.tier, t->cur.cust.enterprise))
                               ? SQ_SEV_CRITICAL
                               : SQ_SEV_MAJOR;
    breach_fill(b, SQ_BREACH_TICKET_OVERDUE, sev, sq_ticket_resolve_deadline_ms(t, st), src);
    b->has_threshold = true;
    b->threshold = (double)resolve_h(t, st);
    t->cur.overdue_fired = true;
}

/* The first acknowledgement (an `acknowledged`, or the first resolution):
 * TICKET_ACK_LATE when it came more than ack_h after opened_at. */
static void acknowledge(struct sq_ticket *t, const struct sq_settings *st, int64_t ms,
                        const char *event_id, const struct sq_ticket_cust *cust,
                        struct sq_ticket_effects *out)
{
    t->acknowledged_ms = ms;
    copy_cut(t->ack_event_id, sizeof t->ack_event_id, event_id);
    if (t->ack_late_fired || ms <= sq_ticket_ack_deadline_ms(t, st))
        return;
    struct sq_breach *b = effects_add(out, event_id, cust);
    breach_fill(b, SQ_BREACH_TICKET_ACK_LATE, SQ_SEV_MAJOR, ms, event_id);
    b->has_value = b->has_threshold = true;
    b->value = (double)(ms - t->opened_ms) / (double)SQ_MS_PER_H;
    b->threshold = (double)st->tickets_ack_h[t->kind];
    t->ack_late_fired = true;
}

/* The first resolution of the current opening (`resolved`, or `closed`
 * without one): acknowledgement if none yet, TICKET_OVERDUE if late, the
 * ticket score (SPEC 5). */
static void resolve(struct sq_ticket *t, const struct sq_settings *st, int64_t ms,
                    const char *event_id, const struct sq_ticket_cust *cust,
                    struct sq_ticket_effects *out)
{
    if (t->acknowledged_ms < 0)
        acknowledge(t, st, ms, event_id, cust, out);
    t->cur.resolved_ms = ms;
    out->resolved_now = true;
    int64_t deadline = sq_ticket_resolve_deadline_ms(t, st);
    if (ms > deadline && !t->cur.overdue_fired)
        overdue_fill(t, st, effects_add(out, t->cur.event_id, &t->cur.cust));
    if (t->cur.scored)
        return;
    t->cur.scored = true;
    out->scored = true;
    out->responsiveness =
        (t->acknowledged_ms <= sq_ticket_ack_deadline_ms(t, st)) ? 100.0 : 50.0;
    double rel = (ms <= deadline) ? 100.0 : 30.0;
    rel -= 40.0 * (t->opening - 1);
    if (rel < 0 || t->regulator)
        rel = 0;
    out->reliability = rel;
}

/* A `reopened`: ends the current opening and starts the next at ms. An
 * opening ended without a resolution seen is overdue when its deadline lies
 * before the reopen (it was still open then), so the outcome does not hang
 * on whether the watermark passed the deadline before the reopen arrived. */
static void reopen(struct sq_ticket *t, const struct sq_settings *st, int64_t ms,
                   const char *event_id, const struct sq_ticket_cust *cust,
                   struct sq_ticket_effects *out)
{
    if (t->cur.resolved_ms < 0 && !t->cur.overdue_fired &&
        ms > sq_ticket_resolve_deadline_ms(t, st))
        overdue_fill(t, st, effects_add(out, t->cur.event_id, &t->cur.cust));
    t->opening++;
    memset(&t->cur, 0, sizeof t->cur);
    t->cur.start_ms = ms;
    t->cur.resolved_ms = -1;
    copy_cut(t->cur.event_id, sizeof t->cur.event_id, event_id);
    t->cur.cust = *cust;
    struct sq_breach *b = effects_add(out, event_id, cust);
    breach_fill(b, SQ_BREACH_TICKET_REOPENED, SQ_SEV_MAJOR, ms, event_id);
}

/* Insertion sort by code: SPEC 4 table order, whatever order the rules
 * above added them in. */
static void effects_sort(struct sq_ticket_effects *out)
{
    for (int i = 1; i < out->n_breaches; i++) {
        for (int j = i; j > 0 && out->breaches[j].code < out->breaches[j - 1].code; j--) {
            struct sq_breach b = out->breaches[j];
            struct sq_ticket_breach_src c = out->src[j];
            out->breaches[j] = out->breaches[j - 1];
            out->src[j] = out->src[j - 1];
            out->breaches[j - 1] = b;
            out->src[j - 1] = c;
        }
    }
}

/* The ticket fields of ev, checked (the validator has checked them too,
 * but this module does not count on it). */
struct sq_ticket_fields {
    const char *ticket_id;
    enum sq_ticket_kind kind;
    int severity;
    const char *category;
    enum sq_ticket_status status;
};

static int fields_read(json_t *ev, struct sq_ticket_fields *f)
{
    const char *id = json_string_value(json_object_get(ev, "ticket_id"));
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *status = json_string_value(json_object_get(ev, "status"));
    json_t *sev = json_object_get(ev, "severity");
    if (!id || !*id || strlen(id) > SQ_TICKET_ID_MAX || !kind || !status || !json_is_number(sev))
        return -1;
    double sv = json_number_value(sev);
    if (!(sv == 1 || sv == 2 || sv == 3 || sv == 4))
        return -1;
    if (sq_ticket_kind_parse(kind, &f->kind) < 0 ||
        sq_ticket_status_parse(status, &f->status) < 0)
        return -1;
    f->ticket_id = id;
    f->severity = (int)sv;
    f->category = json_string_value(json_object_get(ev, "category"));
    return 0;
}

int sq_ticket_apply(struct sq_ticket *t, const struct sq_settings *st, json_t *ev,
                    int64_t event_ms, const char *event_id, const char *tier,
                    bool enterprise, const char *region, struct sq_ticket_effects *out)
{
    memset(out, 0, sizeof *out);
    struct sq_ticket_fields f;
    if (fields_read(ev, &f) < 0 || (t->seen && strcmp(t->ticket_id, f.ticket_id) != 0))
        return -1;
    struct sq_ticket_cust cust;
    cust_set(&cust, tier, enterprise, region);

    int open_before = sq_ticket_open_count(t);
    int64_t due_before = 0;
    bool timer_before = sq_ticket_timer_due(t, st, &due_before);
    int opening_before = t->opening;

    if (!t->seen) {
        /* The first event seen stands in for `opened` until that arrives. */
        memset(t, 0, sizeof *t);
        t->seen = true;
        copy_cut(t->ticket_id, sizeof t->ticket_id, f.ticket_id);
        t->kind = f.kind;
        t->severity = f.severity;
        copy_cut(t->category, sizeof t->category, f.category);
        t->opened_ms = event_ms;
        t->acknowledged_ms = -1;
        t->opening = 1;
        t->cur.start_ms = event_ms;
        t->cur.resolved_ms = -1;
        copy_cut(t->cur.event_id, sizeof t->cur.event_id, event_id);
        t->cur.cust = cust;
    }
    if (f.status == SQ_TICKET_OPENED && !t->opened_seen) {
        /* Moves opened_at and the deadlines; revises nothing emitted. */
        t->opened_seen = true;
        out->opened_now = true;
        t->kind = f.kind;
        t->severity = f.severity;
        copy_cut(t->category, sizeof t->category, f.category);
        t->opened_ms = event_ms;
        if (t->opening == 1) {
            t->cur.start_ms = event_ms;
            if (!t->cur.overdue_fired) {
                copy_cut(t->cur.event_id, sizeof t->cur.event_id, event_id);
                t->cur.cust = cust;
            }
        }
    } else if (!t->opened_seen && event_ms < t->opened_ms) {
        t->opened_ms = event_ms;
        if (t->opening == 1)
            t->cur.start_ms = event_ms;
    }

    switch (f.status) {
    case SQ_TICKET_ACKNOWLEDGED:
        if (t->acknowledged_ms < 0)
            acknowledge(t, st, event_ms, event_id, &cust, out);
        break;
    case SQ_TICKET_RESOLVED:
    case SQ_TICKET_CLOSED:
        if (t->cur.resolved_ms < 0)
            resolve(t, st, event_ms, event_id, &cust, out);
        break;
    case SQ_TICKET_REOPENED:
        reopen(t, st, event_ms, event_id, &cust, out);
        break;
    case SQ_TICKET_ESCALATED_REGULATOR:
        if (!t->regulator) {
            t->regulator = true;
            out->regulator_now = true;
            breach_fill(effects_add(out, event_id, &cust), SQ_BREACH_REGULATOR_ESCALATION,
                        SQ_SEV_CRITICAL, event_ms, event_id);
        }
        break;
    case SQ_TICKET_OPENED:
    case SQ_TICKET_UPDATED:
        break;
    }
    effects_sort(out);

    int64_t due_after = 0;
    bool timer_after = sq_ticket_timer_due(t, st, &due_after);
    if (timer_after &&
        (!timer_before || due_after != due_before || t->opening != opening_before)) {
        out->timer_set = true;
        out->timer_due_ms = due_after;
        out->timer_opening = t->opening;
    } else if (!timer_after && timer_before) {
        out->timer_cancel = true;
    }
    out->open_delta = sq_ticket_open_count(t) - open_before;
    return 0;
}

void sq_ticket_effects_fini(struct sq_ticket_effects *out)
{
    for (int i = 0; i < out->n_breaches; i++)
        sq_breach_fini(&out->breaches[i]);
    out->n_breaches = 0;
}

bool sq_ticket_timer_fire(struct sq_ticket *t, const struct sq_settings *st, int64_t due_ms,
                          int opening, struct sq_breach *out)
{
    int64_t due = 0;
    if (opening != t->opening || !sq_ticket_timer_due(t, st, &due) || due != due_ms)
        return false;
    overdue_fill(t, st, out);
    return true;
}

/* ---- stored form -------------------------------------------------------- */

char *sq_ticket_dump(const struct sq_ticket *t)
{
    const struct sq_ticket_opening *o = &t->cur;
    json_t *doc = json_pack(
        "{s:i, s:s, s:s, s:i, s:s, s:b, s:I, s:I, s:s, s:b, s:b, s:i,"
        " s:I, s:I, s:b, s:b, s:s, s:s, s:s, s:b}",
        "v", SQ_TICKET_DUMP_VERSION, "id", t->ticket_id, "k", sq_ticket_kind_name(t->kind),
        "sev", t->severity, "cat", t->category, "os", t->opened_seen,
        "o", (json_int_t)t->opened_ms, "a", (json_int_t)t->acknowledged_ms,
        "ae", t->ack_event_id, "al", t->ack_late_fired, "reg", t->regulator,
        "n", t->opening, "s", (json_int_t)o->start_ms, "r", (json_int_t)o->resolved_ms,
        "od", o->overdue_fired, "sc", o->scored, "e", o->event_id, "t", o->cust.tier,
        "g", o->cust.region, "x", o->cust.enterprise);
    if (!doc) {
        /* Only an invalid UTF-8 string can fail the pack: ids come from
         * validated JSON and are cut at character boundaries, so this is a
         * bug, not data. */
        fprintf(stderr, "sqgate: ticket state of %s does not encode\n", t->ticket_id);
        abort();
    }
    char *s = sq_json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER, NULL);
    json_decref(doc);
    if (!s) {
        fprintf(stderr, "sqgate: out of memory\n");
        abort();
    }
    return s;
}

/* The string member key of doc into out[cap]; -1 when absent or too long. */
static int load_str(json_t *doc, const char *key, char *out, size_t cap, bool nonempty)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v) ||
        (nonempty && json_string_length(v) == 0))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int load_int(json_t *doc, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int load_bool(json_t *doc, const char *key, bool *out)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

int sq_ticket_load(struct sq_ticket *t, const char *s)
{
    json_t *doc = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    struct sq_ticket n;
    memset(&n, 0, sizeof n);
    n.seen = true;
    char kind[16];
    int64_t v = 0, sev = 0, opening = 0;
    int rc = 0;
    rc |= load_int(doc, "v", SQ_TICKET_DUMP_VERSION, SQ_TICKET_DUMP_VERSION, &v);
    rc |= load_str(doc, "id", n.ticket_id, sizeof n.ticket_id, true);
    rc |= load_str(doc, "k", kind, sizeof kind, true);
    rc |= load_int(doc, "sev", 1, 4, &sev);
    rc |= load_str(doc, "cat", n.category, sizeof n.category, false);
    rc |= load_bool(doc, "os", &n.opened_seen);
    rc |= load_int(doc, "o", INT64_MIN, INT64_MAX, &n.opened_ms);
    rc |= load_int(doc, "a", -1, INT64_MAX, &n.acknowledged_ms);
    rc |= load_str(doc, "ae", n.ack_event_id, sizeof n.ack_event_id, false);
    rc |= load_bool(doc, "al", &n.ack_late_fired);
    rc |= load_bool(doc, "reg", &n.regulator);
    rc |= load_int(doc, "n", 1, INT32_MAX, &opening);
    rc |= load_int(doc, "s", INT64_MIN, INT64_MAX, &n.cur.start_ms);
    rc |= load_int(doc, "r", -1, INT64_MAX, &n.cur.resolved_ms);
    rc |= load_bool(doc, "od", &n.cur.overdue_fired);
    rc |= load_bool(doc, "sc", &n.cur.scored);
    rc |= load_str(doc, "e", n.cur.event_id, sizeof n.cur.event_id, false);
    rc |= load_str(doc, "t", n.cur.cust.tier, sizeof n.cur.cust.tier, false);
    rc |= load_str(doc, "g", n.cur.cust.region, sizeof n.cur.cust.region, false);
    rc |= load_bool(doc, "x", &n.cur.cust.enterprise);
    json_decref(doc);
    if (rc != 0 || sq_ticket_kind_parse(kind, &n.kind) < 0)
        return -1;
    n.severity = (int)sev;
    n.opening = (int)opening;
    *t = n;
    return 0;
}
