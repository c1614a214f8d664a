/* aggregate.c: the `aggregate` processor (SPEC 6). Each processed contact,
 * ticket, survey and QA review adds its counters (kpi.h) to its window cells
 * (dimension, key, window, start) as one V op per cell (store.h: the
 * counters in binary, HINCRBY of each nonzero one) in its own ops, so a
 * duplicate found by the state step adds nothing. In replay_mode it also
 * closes windows: when its watermark passes a cell's end, the cell's KPI
 * record rides on the message that moved the watermark; a late event marks
 * a closed cell dirty and the next move re-emits it (revision + 1). In
 * `run` it marks each touched cell with a W op instead; the closer lease
 * holder (gateway/closer.c) closes and re-emits from Redis. */
#include "aggregate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "derive.h"
#include "kpi.h"
#include "score.h"
#include "store.h"
#include "strmap.h"
#include "timers.h"

#define SQ_AGG_PRUNE_MIN 1024 /* cells kept before the first prune scan */

/* One window cell this instance has touched (replay_mode). */
struct sq_agg_cell {
    enum sq_kpi_dim dim;
    int win;                /* index in sq_aggregate.win */
    int64_t start_ms, end_ms;
    int64_t revision;       /* records emitted so far */
    bool queued;            /* in the close heap: never closed, or dirty */
    char *key;              /* the raw dimension key */
    char *id;               /* the Kafka key, also the cells map's key */
    bool pending_on;        /* in the batch's pending list */
    struct sq_kpi_counters pending; /* the batch's increments, not in the store yet */
};

/* The cells a batch touched (replay_mode), each holding the sum of the
 * batch's increments the store does not have yet. */
struct sq_agg_pending {
    struct sq_agg_cell **v;
    size_t n, cap;
};

struct sq_aggregate {
    const struct sq_settings *st;
    bool enabled;           /* kpi.enabled */
    bool emit;              /* replay_mode: close windows, emit records */
    struct sq_kpi_windows win;
    enum sq_sl_mode mode;
    int64_t max_late_ms;
    struct sq_watermark wm; /* fed with the same event times as score's */
    uint64_t too_late;
    struct sq_strmap cells; /* id → struct sq_agg_cell * */
    size_t prune_at;        /* scan for cells past max_lateness at this many */
    struct sq_agg_cell **heap; /* queued cells, SPEC 15's close order */
    size_t hn, hcap;
    struct sq_buf rkey, id;  /* a cell's Redis and Kafka keys, reused for every cell */
    struct sq_buf rec;       /* a KPI record's text, reused */
};

/* ---- the close heap ----------------------------------------------------- */

/* SPEC 15: by window end, window size, dimension order, key bytes. */
static int sq_cell_cmp(const struct sq_aggregate *ag, const struct sq_agg_cell *a,
                       const struct sq_agg_cell *b)
{
    if (a->end_ms != b->end_ms)
        return a->end_ms < b->end_ms ? -1 : 1;
    int64_t sa = ag->win.v[a->win].size_ms, sb = ag->win.v[b->win].size_ms;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (a->dim != b->dim)
        return a->dim < b->dim ? -1 : 1;
    return strcmp(a->key, b->key);
}

static void sq_heap_push(struct sq_aggregate *ag, struct sq_agg_cell *c)
{
    if (ag->hn == ag->hcap) {
        ag->hcap = ag->hcap ? 2 * ag->hcap : 64;
        ag->heap = sq_xrealloc(ag->heap, ag->hcap * sizeof *ag->heap);
    }
    size_t i = ag->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (sq_cell_cmp(ag, ag->heap[p], c) <= 0)
            break;
        ag->heap[i] = ag->heap[p];
        i = p;
    }
    ag->heap[i] = c;
    c->queued = true;
}

static struct sq_agg_cell *sq_heap_pop(struct sq_aggregate *ag)
{
    struct sq_agg_cell *top = ag->heap[0];
    struct sq_agg_cell *last = ag->heap[--ag->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        const struct sq_agg_cell *best = last;
        if (l < ag->hn && sq_cell_cmp(ag, ag->heap[l], best) < 0) {
            s = l;
            best = ag->heap[l];
        }
        if (r < ag->hn && sq_cell_cmp(ag, ag->heap[r], best) < 0)
            s = r;
        if (s == i)
            break;
        ag->heap[i] = ag->heap[s];
        i = s;
    }
    if (ag->hn)
        ag->heap[i] = last;
    top->queued = false;
    return top;
}

/* ---- init / destroy ----------------------------------------------------- */

static int sq_aggregate_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    struct sq_aggregate *ag = sq_xcalloc(1, sizeof *ag);
    ag->st = st;
    ag->enabled = st->kpi_enabled;
    ag->emit = st->replay_mode;
    char msg[256];
    if (sq_kpi_windows_parse(st->windows_sizes ? st->windows_sizes : "15m,1h", &ag->win, msg,
                             sizeof msg) != 0) {
        free(ag);
        return sq_err_set(err, SQ_ERR_FATAL, "/windows/sizes", "%s", msg);
    }
    int mode = st->kpi_service_level_mode ? sq_sl_mode_parse(st->kpi_service_level_mode)
                                          : SQ_SL_ABANDONS_AGAINST;
    if (mode < 0) {
        free(ag);
        return sq_err_set(err, SQ_ERR_FATAL, "/kpi/service_level_mode", "unknown mode %s",
                          st->kpi_service_level_mode);
    }
    ag->mode = (enum sq_sl_mode)mode;
    ag->max_late_ms = st->windows_max_lateness_s * 1000;
    sq_watermark_init(&ag->wm, st->windows_grace_s * 1000);
    sq_strmap_init(&ag->cells);
    ag->prune_at = SQ_AGG_PRUNE_MIN;
    *ctx = ag;
    return SQ_OK;
}

static void sq_cell_free(struct sq_agg_cell *c)
{
    if (!c)
        return;
    free(c->key);
    free(c->id);
    free(c);
}

static void sq_cell_free_each(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    sq_cell_free(value);
}

static void sq_aggregate_destroy(void *ctx)
{
    struct sq_aggregate *ag = ctx;
    if (!ag)
        return;
    sq_strmap_each(&ag->cells, sq_cell_free_each, NULL);
    sq_strmap_fini(&ag->cells);
    free(ag->heap);
    sq_buf_fini(&ag->rkey);
    sq_buf_fini(&ag->id);
    sq_buf_fini(&ag->rec);
    free(ag);
}

uint64_t sq_aggregate_too_late_total(const void *ctx)
{
    const struct sq_aggregate *ag = ctx;
    return ag ? ag->too_late : 0;
}

/* ---- one message's increments ------------------------------------------- */

/* Increments of one cell from one message. */
struct sq_agg_touch {
    enum sq_kpi_dim dim;
    const char *key;        /* borrowed from the message's JSON */
    int win;
    int64_t start_ms;
    struct sq_kpi_counters c;
};

struct sq_agg_touches {
    struct sq_agg_touch *v;
    size_t n, cap;
};

static bool sq_counters_zero(const struct sq_kpi_counters *c)
{
    for (int i = 0; i < SQ_KC__COUNT; i++)
        if (c->v[i])
            return false;
    return true;
}

static void sq_counters_add(struct sq_kpi_counters *to, const struct sq_kpi_counters *c)
{
    for (int i = 0; i < SQ_KC__COUNT; i++)
        to->v[i] += c->v[i];
}

/* Whether counters at event time t_ms come too late (SPEC 6): some window of
 * t ended more than windows.max_lateness_s before the watermark. All
 * windows of an event are judged together, so an event counts in all of
 * them or in none. */
static bool sq_agg_too_late(const struct sq_aggregate *ag, int64_t t_ms)
{
    int64_t wm;
    if (!sq_watermark_get(&ag->wm, &wm))
        return false;
    for (size_t w = 0; w < ag->win.n; w++) {
        int64_t end = sq_kpi_window_start_ms(t_ms, ag->win.v[w].size_ms) + ag->win.v[w].size_ms;
        if (wm > end && wm - end > ag->max_late_ms)
            return true;
    }
    return false;
}

/* Adds c at event time t_ms to every window and every dimension of dims
 * (NULL: the event has no key for it), unless it is too late. */
static void sq_agg_add(struct sq_aggregate *ag, struct sq_agg_touches *tl,
                       const char *const dims[SQ_KD__COUNT], int64_t t_ms,
                       const struct sq_kpi_counters *c)
{
    if (sq_counters_zero(c))
        return;
    if (sq_agg_too_late(ag, t_ms)) {
        ag->too_late++;
        return;
    }
    for (size_t w = 0; w < ag->win.n; w++) {
        int64_t start = sq_kpi_window_start_ms(t_ms, ag->win.v[w].size_ms);
        for (int d = 0; d < SQ_KD__COUNT; d++) {
            if (!dims[d])
                continue;
            struct sq_agg_touch *t = NULL;
            for (size_t k = 0; k < tl->n && !t; k++) {
                struct sq_agg_touch *x = &tl->v[k];
                if (x->dim == (enum sq_kpi_dim)d && x->win == (int)w && x->start_ms == start &&
                    strcmp(x->key, dims[d]) == 0)
                    t = x;
            }
            if (!t) {
                if (tl->n == tl->cap) {
                    tl->cap = tl->cap ? 2 * tl->cap : 16;
                    tl->v = sq_xrealloc(tl->v, tl->cap * sizeof *tl->v);
                }
                t = &tl->v[tl->n++];
                memset(t, 0, sizeof *t);
                t->dim = (enum sq_kpi_dim)d;
                t->key = dims[d];
                t->win = (int)w;
                t->start_ms = start;
            }
            sq_counters_add(&t->c, c);
        }
    }
}

static const char *sq_str(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

/* The counter of a breach severity, or -1. */
static int sq_severity_counter(const char *sev)
{
    if (!sev)
        return -1;
    if (strcmp(sev, "minor") == 0)
        return SQ_KC_BREACHES_MINOR;
    if (strcmp(sev, "major") == 0)
        return SQ_KC_BREACHES_MAJOR;
    if (strcmp(sev, "critical") == 0)
        return SQ_KC_BREACHES_CRITICAL;
    return -1;
}

static bool sq_is_overdue(json_t *rec)
{
    const char *code = sq_str(rec, "code");
    return code && strcmp(code, "TICKET_OVERDUE") == 0;
}

/* A breach counted in the window of its own occurred_at (TICKET_OVERDUE:
 * the deadline), with the keys its record names: queue, region, agent_id,
 * tier (a ticket breach has the tier and region of its opening). */
static void sq_agg_breach_own_window(struct sq_aggregate *ag, struct sq_agg_touches *tl,
                                     json_t *rec)
{
    int64_t t;
    const char *at = sq_str(rec, "occurred_at");
    if (!at || sq_time_parse(at, &t) != 0)
        return;
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    int sev = sq_severity_counter(sq_str(rec, "severity"));
    if (sev >= 0)
        c.v[sev] = 1;
    if (sq_is_overdue(rec))
        c.v[SQ_KC_TICKETS_OVERDUE] = 1;
    const char *dims[SQ_KD__COUNT] = {
        [SQ_KD_QUEUE] = sq_str(rec, "queue"),   [SQ_KD_REGION] = sq_str(rec, "region"),
        [SQ_KD_CHANNEL] = NULL,                 [SQ_KD_AGENT] = sq_str(rec, "agent_id"),
        [SQ_KD_TIER] = sq_str(rec, "tier"),     [SQ_KD_ALL] = "*",
    };
    sq_agg_add(ag, tl, dims, t, &c);
}

static int64_t sq_llround(double v)
{
    return (int64_t)llround(v);
}

/* contact.v1 counters (SPEC 6); d from sq_contact_derive, repeat from the
 * score stage's `derived`. */
static void sq_agg_contact(const struct sq_settings *st, json_t *ev,
                           const struct sq_contact_derived *d, struct sq_kpi_counters *c)
{
    json_t *enr = json_object_get(ev, "enrichment");
    struct sq_customer_ctx cust = {sq_str(enr, "tier"),
                                   json_is_true(json_object_get(enr, "enterprise")),
                                   sq_str(enr, "region")};
    if (!cust.tier)
        cust.tier = "unknown";
    double t_ms = sq_answer_threshold_s(st, sq_str(ev, "channel"), sq_is_vip(&cust)) * 1000.0;
    bool within = (double)d->wait_ms <= t_ms;
    bool repeat = json_is_true(json_object_get(json_object_get(ev, "derived"), "repeat"));
    const char *outcome = sq_str(ev, "outcome");
    c->v[SQ_KC_OFFERED] = 1;
    if (d->answered) {
        c->v[SQ_KC_ANSWERED] = 1;
        c->v[SQ_KC_ANSWERED_IN_SLA] = within;
        c->v[SQ_KC_WAIT_ANSWERED_MS_SUM] = d->wait_ms;
        c->v[SQ_KC_HANDLE_MS_SUM] = d->handle_ms > 0 ? d->handle_ms : 0;
        json_t *tr = json_object_get(ev, "transfers");
        c->v[SQ_KC_TRANSFERS_SUM] = json_is_number(tr) ? sq_llround(json_number_value(tr)) : 0;
        c->v[SQ_KC_REPEAT] = repeat;
        c->v[SQ_KC_RESOLVED] = outcome && strcmp(outcome, "resolved") == 0;
    }
    if (d->abandoned) {
        c->v[SQ_KC_ABANDONED] = 1;
        c->v[SQ_KC_SHORT_ABANDONED] = d->short_abandon;
        c->v[SQ_KC_ABANDONED_IN_SLA] = !d->short_abandon && within;
    }
    c->v[SQ_KC_CALLBACK_REQUESTS] = d->callback_request;
}

static void sq_agg_survey(json_t *ev, struct sq_kpi_counters *c)
{
    json_t *csat = json_object_get(ev, "csat"), *nps = json_object_get(ev, "nps");
    if (json_is_number(csat)) {
        c->v[SQ_KC_CSAT_SUM] = sq_llround(json_number_value(csat));
        c->v[SQ_KC_CSAT_N] = 1;
    }
    if (json_is_number(nps)) {
        double n = json_number_value(nps);
        c->v[SQ_KC_NPS_N] = 1;
        c->v[SQ_KC_NPS_PROMOTERS] = n >= 9;
        c->v[SQ_KC_NPS_DETRACTORS] = n <= 6;
    }
}

/* The review's own score (qa_review.v1 `score`). The score stage has put
 * the SERVQUAL score object in its place on the event, so it is read back
 * from the message's bytes (QA reviews are few). */
static bool sq_agg_qa_score(const struct sq_msg *m, double *out)
{
    json_t *s = json_object_get(m->event, "score");
    if (json_is_number(s)) {
        *out = json_number_value(s);
        return true;
    }
    if (!m->value)
        return false;
    json_error_t jerr;
    json_t *raw = json_loadb(m->value, m->value_len, 0, &jerr);
    s = json_object_get(raw, "score");
    bool ok = json_is_number(s);
    if (ok)
        *out = json_number_value(s);
    json_decref(raw);
    return ok;
}

static void sq_agg_qa(const struct sq_msg *m, struct sq_kpi_counters *c)
{
    double score;
    if (sq_agg_qa_score(m, &score)) {
        c->v[SQ_KC_QA_SCORE_MILLI_SUM] = sq_llround(score * 1000.0);
        c->v[SQ_KC_QA_N] = 1;
    }
    c->v[SQ_KC_QA_FATAL] = json_array_size(json_object_get(m->event, "fatal_errors")) > 0;
}

static void sq_agg_ticket(const struct sq_msg *m, struct sq_kpi_counters *c)
{
    const char *kind = sq_str(m->event, "kind");
    c->v[SQ_KC_TICKETS_OPENED] = m->ticket_opened_now;
    c->v[SQ_KC_COMPLAINTS] = m->ticket_opened_now && kind && strcmp(kind, "complaint") == 0;
    c->v[SQ_KC_TICKETS_RESOLVED] = m->ticket_resolved_now;
    c->v[SQ_KC_REGULATOR_ESCALATIONS] = m->ticket_regulator_now;
}

/* Everything one message adds: its event's counters in the window of t_ms
 * (d: a contact's derived fields, else NULL), its TICKET_OVERDUE breach and
 * the timer breaches its watermark move fired, each in its own window. */
static void sq_agg_message(struct sq_aggregate *ag, const struct sq_msg *m,
                           const struct sq_contact_derived *d, int64_t t_ms,
                           struct sq_agg_touches *tl)
{
    json_t *ev = m->event, *enr = json_object_get(ev, "enrichment");
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    if (d)
        sq_agg_contact(ag->st, ev, d, &c);
    else if (strcmp(m->schema, "survey.v1") == 0)
        sq_agg_survey(ev, &c);
    else if (strcmp(m->schema, "qa_review.v1") == 0)
        sq_agg_qa(m, &c);
    else
        sq_agg_ticket(m, &c);
    json_t *q = json_object_get(json_object_get(ev, "score"), "quality_score");
    if (json_is_number(q)) {
        c.v[SQ_KC_QUALITY_SCORE_DECI_SUM] = sq_llround(json_number_value(q) * 10.0);
        c.v[SQ_KC_QUALITY_SCORE_N] = 1;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(m->breach_records, i, rec) {
        if (sq_is_overdue(rec))
            continue; /* in the deadline's window, below */
        int sev = sq_severity_counter(sq_str(rec, "severity"));
        if (sev >= 0)
            c.v[sev]++;
    }
    const char *dims[SQ_KD__COUNT] = {
        [SQ_KD_QUEUE] = sq_str(ev, "queue"),  [SQ_KD_REGION] = sq_str(enr, "region"),
        [SQ_KD_CHANNEL] = sq_str(ev, "channel"), [SQ_KD_AGENT] = sq_str(ev, "agent_id"),
        [SQ_KD_TIER] = sq_str(enr, "tier"),   [SQ_KD_ALL] = "*",
    };
    sq_agg_add(ag, tl, dims, t_ms, &c);
    json_array_foreach(m->breach_records, i, rec)
        if (sq_is_overdue(rec))
            sq_agg_breach_own_window(ag, tl, rec);
    json_array_foreach(m->timer_records, i, rec)
        sq_agg_breach_own_window(ag, tl, json_object_get(rec, "record"));
}

/* ---- ops, cells and closing -------------------------------------------- */

/* Writes m's touches as HINCRBY ops into m->ops and, when closing windows
 * (pending != NULL), marks the cells touched (queued for close: a closed
 * one becomes dirty) and adds the increments to pending; in `run` each
 * touch is a W op instead, for the closer. */
static void sq_agg_write(struct sq_aggregate *ag, struct sq_msg *m,
                         const struct sq_agg_touches *tl, struct sq_agg_pending *pending)
{
    const struct sq_settings *st = ag->st;
    for (size_t k = 0; k < tl->n; k++) {
        const struct sq_agg_touch *t = &tl->v[k];
        const struct sq_kpi_window *w = &ag->win.v[t->win];
        sq_buf_reset(&ag->id);
        sq_kpi_kafka_key_put(&ag->id, t->dim, t->key, w, t->start_ms);
        const char *id = ag->id.data;
        bool any = !sq_counters_zero(&t->c);
        /* run: deferred ops the chain sums per batch, and the closer lease
         * holder closes windows (gateway/closer.c) */
        if (any && !pending)
            sq_state_ops_push_borrowed(&m->ops, "Y", 1);
        if (any) {
            sq_buf_reset(&ag->rkey);
            sq_kpi_redis_key_of_cell(&ag->rkey, st->redis_prefix, id, ag->id.len);
            sq_op_kpi_add(&m->ops, ag->rkey.data, st->kpi_ttl_s, &t->c);
        }
        if (!pending) {
            sq_state_ops_push_borrowed(&m->ops, "Y", 1);
            sq_op_window_touch(&m->ops, st->redis_prefix, id, t->start_ms + w->size_ms);
            continue;
        }
        struct sq_agg_cell *cell = sq_strmap_get(&ag->cells, id);
        if (!cell) {
            cell = sq_xcalloc(1, sizeof *cell);
            cell->dim = t->dim;
            cell->win = t->win;
            cell->start_ms = t->start_ms;
            cell->end_ms = t->start_ms + w->size_ms;
            cell->key = sq_xstrdup(t->key);
            cell->id = sq_xstrdup(id);
            sq_strmap_put(&ag->cells, id, cell);
        }
        if (!cell->queued)
            sq_heap_push(ag, cell);
        if (!cell->pending_on) {
            if (pending->n == pending->cap) {
                pending->cap = pending->cap ? 2 * pending->cap : 16;
                pending->v = sq_xrealloc(pending->v, pending->cap * sizeof *pending->v);
            }
            pending->v[pending->n++] = cell;
            cell->pending_on = true;
        }
        sq_counters_add(&cell->pending, &t->c);
    }
}

/* One closing: a record to build once the stored counters are read. */
struct sq_agg_close {
    struct sq_agg_cell *cell;
    struct sq_msg *carrier;
    int64_t revision;
    int64_t wm_ms;                  /* for sq-source watermark/{ms} */
    struct sq_kpi_counters pending; /* increments not yet in the store */
};

struct sq_agg_closes {
    struct sq_agg_close *v;
    size_t n, cap;
};

/* Closes every queued cell whose end the watermark has reached (limit_ms:
 * end <= limit), in SPEC 15's order, onto carrier. */
static void sq_agg_close_due(struct sq_aggregate *ag, int64_t limit_ms, int64_t wm_ms,
                             struct sq_msg *carrier, struct sq_agg_closes *cl)
{
    while (ag->hn && ag->heap[0]->end_ms <= limit_ms) {
        struct sq_agg_cell *cell = sq_heap_pop(ag);
        if (cl->n == cl->cap) {
            cl->cap = cl->cap ? 2 * cl->cap : 16;
            cl->v = sq_xrealloc(cl->v, cl->cap * sizeof *cl->v);
        }
        struct sq_agg_close *x = &cl->v[cl->n++];
        memset(x, 0, sizeof *x);
        x->cell = cell;
        x->carrier = carrier;
        x->revision = ++cell->revision;
        x->wm_ms = wm_ms;
        if (cell->pending_on)
            x->pending = cell->pending;
    }
}

/* Reads the closing cells' stored counters (one read) and attaches each
 * KPI record to its carrier's kpi_records, in closing order. */
static int sq_agg_emit(struct sq_aggregate *ag, struct sq_store *store,
                       const struct sq_agg_closes *cl, struct sq_err *err)
{
    if (!cl->n)
        return SQ_OK;
    struct sq_store_reads reads = {0};
    for (size_t k = 0; k < cl->n; k++) {
        const struct sq_agg_cell *cell = cl->v[k].cell;
        sq_buf_reset(&ag->rkey);
        sq_kpi_redis_key_of_cell(&ag->rkey, ag->st->redis_prefix, cell->id, strlen(cell->id));
        sq_store_reads_add(&reads, ag->rkey.data, NULL);
    }
    int rc = sq_store_read(store, &reads, err);
    for (size_t k = 0; rc == SQ_OK && k < cl->n; k++) {
        const struct sq_agg_close *x = &cl->v[k];
        struct sq_kpi_counters c = x->pending;
        if (reads.v[k].value)
            sq_kpi_counters_add_text(&c, reads.v[k].value); /* a bad field counts 0 */
        const struct sq_agg_cell *cell = x->cell;
        sq_buf_reset(&ag->rec);
        sq_kpi_record_put(&ag->rec, cell->dim, cell->key, &ag->win.v[cell->win], cell->start_ms,
                          x->revision, &c, ag->mode);
        char src[64];
        snprintf(src, sizeof src, "watermark/%lld", (long long)x->wm_ms);
        if (!x->carrier->kpi_records)
            x->carrier->kpi_records = json_array();
        json_array_append_new(x->carrier->kpi_records,
                              json_pack("{s:s, s:s, s:o}", "source", src, "key", cell->id, "text",
                                        json_stringn_nocheck(ag->rec.data, ag->rec.len)));
    }
    sq_store_reads_fini(&reads);
    return rc;
}

/* Collects the closed, clean cells past max_lateness (sq_agg_prune). */
struct sq_agg_prune_scan {
    const struct sq_aggregate *ag;
    int64_t wm;
    struct sq_agg_cell **gone;
    size_t n;
};

static void sq_agg_prune_pick(const char *key, void *value, void *arg)
{
    (void)key;
    struct sq_agg_prune_scan *ps = arg;
    struct sq_agg_cell *c = value;
    if (!c->queued && ps->wm > c->end_ms && ps->wm - c->end_ms > ps->ag->max_late_ms)
        ps->gone[ps->n++] = c;
}

/* Forgets closed, clean cells no event can touch any more (their window
 * ended more than max_lateness before the watermark, so sq_agg_too_late
 * keeps every later event out of them); scans only when the map has
 * doubled since the last scan, so the cost per cell stays constant. */
static void sq_agg_prune(struct sq_aggregate *ag)
{
    struct sq_agg_prune_scan ps = {ag, 0, NULL, 0};
    if (ag->cells.n < ag->prune_at || !sq_watermark_get(&ag->wm, &ps.wm))
        return;
    ps.gone = sq_xcalloc(ag->cells.n, sizeof *ps.gone);
    sq_strmap_each(&ag->cells, sq_agg_prune_pick, &ps);
    for (size_t i = 0; i < ps.n; i++) {
        sq_strmap_del(&ag->cells, ps.gone[i]->id);
        sq_cell_free(ps.gone[i]);
    }
    free(ps.gone);
    ag->prune_at = ag->cells.n * 2 > SQ_AGG_PRUNE_MIN ? ag->cells.n * 2 : SQ_AGG_PRUNE_MIN;
}

static bool sq_is_contact(const struct sq_msg *m)
{
    return strcmp(m->schema, "contact.v1") == 0;
}

static bool sq_is_aggregated_kind(const struct sq_msg *m)
{
    return m->schema &&
           (strcmp(m->schema, "contact.v1") == 0 || strcmp(m->schema, "ticket.v1") == 0 ||
            strcmp(m->schema, "survey.v1") == 0 || strcmp(m->schema, "qa_review.v1") == 0);
}

/* End of the batch: its increments are in its ops now. */
static void sq_pending_fini(struct sq_agg_pending *pending)
{
    for (size_t i = 0; i < pending->n; i++) {
        memset(&pending->v[i]->pending, 0, sizeof pending->v[i]->pending);
        pending->v[i]->pending_on = false;
    }
    free(pending->v);
}

/* In offset order: each message's increments, then, when its event time
 * moved the watermark, the windows that closes (replay_mode). The records
 * are built after the loop from one store read plus the batch's own
 * increments not yet applied. If that read fails the closes already made
 * are not undone: only the in-process store, which cannot fail, closes. */
static int sq_aggregate_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_aggregate *ag = ctx;
    if (!ag->enabled)
        return SQ_OK;
    struct sq_agg_pending pending = {0};
    struct sq_agg_closes cl = {0};
    struct sq_agg_touches tl = {0};
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event || !m->customer_id ||
            !sq_is_aggregated_kind(m))
            continue;
        struct sq_contact_derived d;
        if (sq_is_contact(m) && sq_contact_derive(m->event, ag->st, &d) != 0)
            continue; /* as score: validate guarantees the times */
        int64_t t = sq_msg_event_time(m);
        tl.n = 0;
        sq_agg_message(ag, m, sq_is_contact(m) ? &d : NULL, t, &tl);
        sq_agg_write(ag, m, &tl, ag->emit ? &pending : NULL);
        /* Replay's watermark is its own (one partition, in order). In
         * `run` it is the shared one the closer computes, handed in by
         * sq_aggregate_set_watermark: this instance's greatest event time
         * over its partitions is not it (a partition fetched behind the
         * others would lose its counters). */
        int64_t wm;
        if (ag->emit && sq_watermark_observe(&ag->wm, t) && sq_watermark_get(&ag->wm, &wm))
            sq_agg_close_due(ag, wm, wm, m, &cl);
    }
    int rc = sq_agg_emit(ag, batch->store, &cl, err);
    free(tl.v);
    free(cl.v);
    sq_pending_fini(&pending);
    if (ag->emit)
        sq_agg_prune(ag);
    return rc;
}

void sq_aggregate_set_watermark(void *ctx, int64_t wm_ms)
{
    struct sq_aggregate *ag = ctx;
    if (ag && !ag->emit)
        sq_watermark_raise(&ag->wm, wm_ms);
}

int sq_aggregate_flush(void *ctx, struct sq_store *store, struct sq_msg *carrier,
                       struct sq_err *err)
{
    struct sq_aggregate *ag = ctx;
    if (!ag || !ag->enabled)
        return SQ_OK;
    struct sq_agg_pending pending = {0};
    struct sq_agg_closes cl = {0};
    struct sq_agg_touches tl = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(carrier->timer_records, i, rec)
        sq_agg_breach_own_window(ag, &tl, json_object_get(rec, "record"));
    sq_agg_write(ag, carrier, &tl, ag->emit ? &pending : NULL);
    if (ag->emit && ag->wm.has_event)
        sq_agg_close_due(ag, INT64_MAX, ag->wm.max_event_ms, carrier, &cl);
    int rc = sq_agg_emit(ag, store, &cl, err);
    free(tl.v);
    free(cl.v);
    sq_pending_fini(&pending);
    return rc;
}

const struct sq_processor sq_proc_aggregate = {
    .name = "aggregate",
    .init = sq_aggregate_init,
    .process = sq_aggregate_process,
    .flush = NULL,
    .destroy = sq_aggregate_destroy,
};
