/* score_stage.c: the `score` processor (SPEC 3-5). For each contact, ticket,
 * survey and QA review: breaches and dimension scores (rules in score.c and
 * tickets.c), the customer's contact history (REPEAT_CONTACT, contacts_30d),
 * ticket state, overdue timers fired by the watermark (ticket_timers.c),
 * the breach records for sq.out.breaches, and the customer-hash changes
 * (breaches, open_tickets, cx_index). One store read per batch for
 * histories and tickets. */
#include "score_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "derive.h"
#include "history.h"
#include "json_out.h"
#include "score.h"
#include "store.h"
#include "strmap.h"
#include "ticket_timers.h"
#include "tickets.h"
#include "timers.h"

#define SQ_BREACHES_KEPT 100                     /* sq:cust:{id}:breaches */

/* The stage's own state: overdue timers and the watermark that fires them. */
struct sq_score_stage {
    const struct sq_settings *st;
    struct sq_ticket_timers timers;
    /* the timers the last batch fired, put back should it fail */
    struct sq_ticket_timer *fired;
    size_t nfired, capfired;
    struct sq_watermark wm_before; /* the watermark before the last batch */
    struct sq_watermark wm;
    struct sq_buf ckey, zkey, hkey; /* customer, breach-set and history keys (sq_id_key) */
    struct sq_buf hval;             /* a history's stored form */
};

static int sq_score_stage_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    (void)err;
    struct sq_score_stage *ss = sq_xcalloc(1, sizeof *ss);
    ss->st = st;
    sq_ticket_timers_init(&ss->timers, st);
    sq_watermark_init(&ss->wm, st->windows_grace_s * 1000);
    *ctx = ss;
    return SQ_OK;
}

static void sq_free_str(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

/* The last batch was applied: its fired timers are gone for good. */
static void sq_fired_forget(struct sq_score_stage *ss)
{
    for (size_t i = 0; i < ss->nfired; i++)
        sq_ticket_timer_fini(&ss->fired[i]);
    ss->nfired = 0;
}

/* The last batch failed: its fired timers go back (the earliest of a
 * ticket's last, so that it is the one kept) and the watermark to where
 * it was, so that the batch run again fires them as it did. */
static void sq_score_stage_abort(void *ctx)
{
    struct sq_score_stage *ss = ctx;
    for (size_t i = ss->nfired; i-- > 0;)
        sq_ticket_timers_put_back(&ss->timers, &ss->fired[i]);
    ss->nfired = 0;
    ss->wm = ss->wm_before;
}

static void sq_score_stage_destroy(void *ctx)
{
    struct sq_score_stage *ss = ctx;
    if (!ss)
        return;
    sq_fired_forget(ss);
    free(ss->fired);
    sq_ticket_timers_fini(&ss->timers);
    sq_buf_fini(&ss->ckey);
    sq_buf_fini(&ss->zkey);
    sq_buf_fini(&ss->hkey);
    sq_buf_fini(&ss->hval);
    free(ss);
}

/* "{prefix}{kind}{escaped id}{suffix}" written over b, whose text it
 * returns (valid until b is written again): a customer's keys are built
 * several times per event, in buffers the stage reuses. */
static const char *sq_id_key(struct sq_buf *b, const struct sq_settings *st, const char *kind,
                             const char *id, const char *suffix)
{
    sq_buf_reset(b);
    sq_buf_append_str(b, st->redis_prefix);
    sq_buf_append_str(b, kind);
    sq_buf_append_key_escaped(b, id, strlen(id));
    sq_buf_append_str(b, suffix);
    return b->data;
}

static void sq_history_free_each(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    sq_history_fini(value);
    free(value);
}

static bool sq_is_contact(const struct sq_msg *m)
{
    return m->schema && strcmp(m->schema, "contact.v1") == 0;
}

static void sq_ctx_of(json_t *ev, struct sq_customer_ctx *c)
{
    json_t *enr = json_object_get(ev, "enrichment");
    c->tier = json_string_value(json_object_get(enr, "tier"));
    if (!c->tier)
        c->tier = "unknown";
    c->enterprise = json_is_true(json_object_get(enr, "enterprise"));
    c->region = json_string_value(json_object_get(enr, "region"));
}

static char *sq_ticket_key_dup(const struct sq_settings *st, const char *ticket_id)
{
    char *esc = sq_key_escape_dup(ticket_id, strlen(ticket_id));
    char *k = sq_xasprintf("%sticket:%s", st->redis_prefix, esc);
    free(esc);
    return k;
}

/* Adds a breach to breaches_total and last_breach_* of the event's own
 * customer change: the latest by (time, code), as op G would keep it. */
static void sq_cust_change_breach(struct sq_cust_change *cc, const struct sq_breach *b)
{
    const char *code = sq_breach_code_name(b->code);
    cc->breaches++;
    if (!cc->last_breach_code || b->occurred_ms > cc->last_breach_ms ||
        (b->occurred_ms == cc->last_breach_ms && strcmp(code, cc->last_breach_code) > 0)) {
        cc->last_breach_ms = b->occurred_ms;
        cc->last_breach_code = code;
    }
}

/* One breach: its record (kept for the sinks), the customer's breach set,
 * breaches_total and last_breach_*: in own, the change of the event's own
 * customer, which the Redis sink writes (NULL: a timer's breach, written
 * here as ops G and I). *text_out (when not NULL) takes the record's text,
 * which the breach set holds. */
static json_t *sq_breach_apply(struct sq_score_stage *ss, struct sq_state_ops *ops,
                               struct sq_cust_change *own, const struct sq_breach *b,
                               const char *event_id, const char *customer_id,
                               const struct sq_customer_ctx *cust, json_t *ev, int64_t detected_ms,
                               char **text_out)
{
    const struct sq_settings *st = ss->st;
    json_t *rec = sq_breach_record(b, event_id, customer_id, cust, ev, detected_ms);
    const char *zkey = sq_id_key(&ss->zkey, st, "cust:", customer_id, ":breaches");
    int64_t ttl = st->retention_customer_days * 86400;
    char *js = sq_json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15), NULL);
    sq_op_zadd_keep(ops, zkey, ttl, SQ_BREACHES_KEPT, b->occurred_ms, js);
    if (own) {
        sq_cust_change_breach(own, b);
    } else {
        const char *ckey = sq_id_key(&ss->ckey, st, "cust:", customer_id, "");
        char at[SQ_TIME_BUFSZ];
        sq_time_format(b->occurred_ms, at);
        sq_op_latest(ops, ckey, "last_breach_at", at, "last_breach_code",
                     sq_breach_code_name(b->code), ttl);
        sq_op_hincr(ops, ckey, "breaches_total", 1, ttl);
    }
    if (text_out)
        *text_out = js;
    else
        free(js);
    return rec;
}

/* Keeps a breach's record and its text (taking both) for the sinks. */
static void sq_add_record(struct sq_msg *m, json_t *rec, char *text)
{
    if (!m->breach_records)
        m->breach_records = json_array();
    json_array_append_new(m->breach_records, rec);
    m->breach_texts = sq_xrealloc(m->breach_texts, (m->breach_texts_n + 1) * sizeof *m->breach_texts);
    m->breach_texts[m->breach_texts_n++] = text;
}

/* The batch's view of tickets: loaded once, updated in offset order. */
struct sq_ticket_view {
    struct sq_strmap map; /* ticket_id → struct sq_ticket * */
};

static struct sq_ticket *sq_ticket_view_get(struct sq_ticket_view *v, const char *id)
{
    struct sq_ticket *t = sq_strmap_get(&v->map, id);
    if (!t) {
        t = sq_xcalloc(1, sizeof *t);
        sq_strmap_put(&v->map, id, t);
    }
    return t;
}

/* Reads the stored state of tickets not yet in the view. */
static int sq_ticket_view_load(struct sq_ticket_view *v, const struct sq_settings *st,
                               struct sq_store *store, const char *const *ids, size_t n,
                               struct sq_err *err)
{
    struct sq_store_reads reads = {0};
    const char **want = sq_xcalloc(n ? n : 1, sizeof *want);
    size_t nw = 0;
    struct sq_strmap asked; /* the ids in want: a batch's tickets repeat */
    sq_strmap_init(&asked);
    for (size_t i = 0; i < n; i++) {
        if (sq_strmap_get(&v->map, ids[i]) || (n > 1 && sq_strmap_get(&asked, ids[i])))
            continue;
        if (n > 1) /* one id (a timer's ticket) cannot repeat */
            sq_strmap_put(&asked, ids[i], (void *)ids[i]);
        want[nw++] = ids[i];
        char *key = sq_ticket_key_dup(st, ids[i]);
        sq_store_reads_add(&reads, key, "s");
        free(key);
    }
    int rc = nw ? sq_store_read(store, &reads, err) : SQ_OK;
    for (size_t k = 0; rc == SQ_OK && k < nw; k++) {
        struct sq_ticket *t = sq_ticket_view_get(v, want[k]);
        if (reads.v[k].value && sq_ticket_load(t, reads.v[k].value) != 0)
            memset(t, 0, sizeof *t); /* unreadable state: start the ticket afresh */
    }
    free(want);
    sq_strmap_fini(&asked);
    sq_store_reads_fini(&reads);
    return rc;
}

static void sq_ticket_view_fini(struct sq_ticket_view *v)
{
    sq_strmap_each(&v->map, sq_free_str, NULL);
    sq_strmap_fini(&v->map);
}

static void sq_ticket_save(const struct sq_settings *st, struct sq_state_ops *ops,
                           const struct sq_ticket *t)
{
    char *key = sq_ticket_key_dup(st, t->ticket_id);
    char *dump = sq_ticket_dump(t);
    const char *fv[] = {"s", dump, NULL};
    sq_op_hset(ops, key, st->retention_customer_days * 86400, fv);
    free(dump);
    free(key);
}

/* Applies one ticket.v1 event; returns its score (has_quality false when
 * this event does not score the ticket). */
static void sq_score_ticket(struct sq_score_stage *ss, struct sq_ticket_view *view,
                            const struct sq_batch *batch, struct sq_msg *m,
                            const struct sq_customer_ctx *cust, struct sq_score *sc)
{
    const struct sq_settings *st = ss->st;
    const char *tid = json_string_value(json_object_get(m->event, "ticket_id"));
    const char *eid = json_string_value(json_object_get(m->event, "event_id"));
    if (!tid || !eid)
        return;
    struct sq_ticket *t = sq_ticket_view_get(view, tid);
    struct sq_ticket_effects fx;
    memset(&fx, 0, sizeof fx);
    if (sq_ticket_apply(t, st, m->event, m->event_ms, eid, cust->tier, cust->enterprise,
                        cust->region, &fx) != 0)
        return;
    m->ticket_opened_now = fx.opened_now; /* for aggregate's ticket counters */
    m->ticket_resolved_now = fx.resolved_now;
    m->ticket_regulator_now = fx.regulator_now;
    json_t *codes = json_array();
    for (int i = 0; i < fx.n_breaches; i++) {
        struct sq_customer_ctx bc = {fx.src[i].cust.tier, fx.src[i].cust.enterprise,
                                     fx.src[i].cust.region[0] ? fx.src[i].cust.region : NULL};
        json_array_append_new(codes, json_string(sq_breach_code_name(fx.breaches[i].code)));
        char *text;
        json_t *rec = sq_breach_apply(ss, &m->ops, &m->cust_change, &fx.breaches[i],
                                      fx.src[i].event_id, m->customer_id, &bc, m->event,
                                      m->event_ms, &text);
        sq_add_record(m, rec, text);
    }
    json_object_set_new(m->event, "breaches", codes);
    if (fx.scored) {
        sc->has[SQ_DIM_RESPONSIVENESS] = true;
        sc->dim[SQ_DIM_RESPONSIVENESS] = fx.responsiveness;
        sc->has[SQ_DIM_RELIABILITY] = true;
        sc->dim[SQ_DIM_RELIABILITY] = fx.reliability;
        sq_score_finish(st, sc);
    }
    m->cust_change.open_tickets += fx.open_delta;
    const char *topic = batch->topic ? batch->topic : m->topic;
    if (fx.timer_set)
        sq_ticket_timers_arm(&ss->timers, &m->ops, topic, m->partition, tid, fx.timer_due_ms,
                             fx.timer_opening, m->customer_id);
    else if (fx.timer_cancel)
        sq_ticket_timers_cancel(&ss->timers, &m->ops, topic, m->partition, tid);
    sq_ticket_save(st, &m->ops, t);
    sq_ticket_effects_fini(&fx);
}

/* Fires every armed timer due strictly before limit_ms (SPEC 3: the
 * watermark strictly past the due time), in (due, ticket_id) order. The
 * breaches ride on `carrier` (the message that moved the watermark) with
 * sq-source watermark/{limit}. */
static int sq_fire_timers(struct sq_score_stage *ss, struct sq_ticket_view *view,
                          struct sq_store *store, int64_t limit_ms, int64_t wm_ms,
                          struct sq_msg *carrier, struct sq_err *err)
{
    const struct sq_settings *st = ss->st;
    struct sq_ticket_timer due;
    while (sq_ticket_timers_pop_due(&ss->timers, limit_ms, &due)) {
        const char *ids[1] = {due.ticket_id};
        int rc = sq_ticket_view_load(view, st, store, ids, 1, err);
        if (rc != SQ_OK) {
            sq_ticket_timers_put_back(&ss->timers, &due); /* retried later */
            return rc;
        }
        struct sq_ticket *t = sq_ticket_view_get(view, due.ticket_id);
        const char *cid = due.customer_id;
        struct sq_breach b;
        memset(&b, 0, sizeof b);
        if (cid && sq_ticket_timer_fire(t, st, due.due_ms, due.opening, &b)) {
            struct sq_customer_ctx bc = {t->cur.cust.tier, t->cur.cust.enterprise,
                                         t->cur.cust.region[0] ? t->cur.cust.region : NULL};
            json_t *tev = json_pack("{s:s}", "ticket_id", due.ticket_id); /* the record names its ticket */
            json_t *rec = sq_breach_apply(ss, &carrier->ops, NULL, &b, t->cur.event_id, cid, &bc,
                                          tev, b.occurred_ms, NULL);
            json_decref(tev);
            if (!carrier->timer_records)
                carrier->timer_records = json_array();
            char src[64];
            snprintf(src, sizeof src, "watermark/%lld", (long long)wm_ms);
            json_array_append_new(carrier->timer_records,
                                  json_pack("{s:s, s:s, s:o}", "source", src, "key", cid,
                                            "record", rec));
            sq_ticket_save(st, &carrier->ops, t);
        }
        sq_ticket_timers_end(&carrier->ops, &due);
        sq_breach_fini(&b);
        if (ss->nfired == ss->capfired) {
            ss->capfired = ss->capfired ? 2 * ss->capfired : 16;
            ss->fired = sq_xrealloc(ss->fired, ss->capfired * sizeof *ss->fired);
        }
        ss->fired[ss->nfired++] = due; /* taken: kept until the batch is applied */
    }
    return SQ_OK;
}

static bool sq_is_scored_kind(const struct sq_msg *m)
{
    return m->schema && (strcmp(m->schema, "contact.v1") == 0 || strcmp(m->schema, "ticket.v1") == 0 ||
                         strcmp(m->schema, "survey.v1") == 0 || strcmp(m->schema, "qa_review.v1") == 0);
}

/* The greatest watermark the batch can reach: the stage's, raised by every
 * event it may score (an upper bound: some may yet be dropped); INT64_MIN
 * when the watermark is undefined and the batch has no such event. The
 * timers due before it are the ones the batch can fire. */
static int64_t sq_batch_wm_limit(const struct sq_score_stage *ss, const struct sq_batch *batch)
{
    int64_t lim;
    if (!sq_watermark_get(&ss->wm, &lim))
        lim = INT64_MIN;
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        if (!m->event || !sq_is_scored_kind(m))
            continue;
        int64_t t = sq_msg_event_time(m) - ss->wm.grace_ms;
        if (t > lim)
            lim = t;
    }
    return lim;
}

/* Adds the contact histories the batch reads (one per customer, in batch
 * order) to reads and puts the batch's ticket ids in tids (with repeats);
 * returns their number. */
static size_t sq_score_add_reads(struct sq_score_stage *ss, const struct sq_batch *batch,
                                 struct sq_store_reads *reads, const char **tids)
{
    size_t ntids = 0;
    struct sq_strmap asked;
    sq_strmap_init(&asked);
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event || !m->customer_id)
            continue;
        if (m->schema && strcmp(m->schema, "ticket.v1") == 0) {
            const char *tid = json_string_value(json_object_get(m->event, "ticket_id"));
            if (tid)
                tids[ntids++] = tid;
            continue;
        }
        if (!sq_is_contact(m) || sq_strmap_get(&asked, m->customer_id))
            continue;
        sq_strmap_put(&asked, m->customer_id, (void *)m);
        sq_store_reads_add(reads, sq_id_key(&ss->hkey, ss->st, "hist:", m->customer_id, ""),
                           "contacts");
    }
    sq_strmap_fini(&asked);
    return ntids;
}

/* The histories and the ticket states (sq_ticket_view_load) it reads. */
static void sq_score_stage_plan(void *ctx, const struct sq_batch *batch,
                                struct sq_store_reads *reads)
{
    struct sq_score_stage *ss = ctx;
    const char **tids = sq_xcalloc(batch->n ? batch->n : 1, sizeof *tids);
    size_t ntids = sq_score_add_reads(ss, batch, reads, tids);
    struct sq_strmap seen;
    sq_strmap_init(&seen);
    for (size_t k = 0; k < ntids; k++) {
        if (sq_strmap_get(&seen, tids[k]))
            continue;
        sq_strmap_put(&seen, tids[k], (void *)tids[k]);
        char *key = sq_ticket_key_dup(ss->st, tids[k]);
        sq_store_reads_add(reads, key, "s");
        free(key);
    }
    sq_strmap_fini(&seen);
    free(tids);
    int64_t lim = sq_batch_wm_limit(ss, batch);
    if (lim != INT64_MIN)
        sq_ticket_timers_plan(&ss->timers, batch, lim, reads);
}

static int sq_score_stage_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_score_stage *ss = ctx;
    const struct sq_settings *st = ss->st;
    sq_fired_forget(ss); /* a batch after the last one: that one was applied */
    ss->wm_before = ss->wm;
    /* 1. contact histories and ticket states of the batch, one read each */
    struct sq_store_reads reads = {0};
    struct sq_strmap hist; /* customer id → struct sq_history * (the batch's view) */
    sq_strmap_init(&hist);
    struct sq_ticket_view view;
    sq_strmap_init(&view.map);
    const char **tids = sq_xcalloc(batch->n ? batch->n : 1, sizeof *tids);
    size_t ntids = sq_score_add_reads(ss, batch, &reads, tids);
    int rc = reads.n ? sq_store_read(batch->store, &reads, err) : SQ_OK;
    if (rc == SQ_OK)
        rc = sq_ticket_view_load(&view, st, batch->store, tids, ntids, err);
    free(tids);
    /* the timers that can fall due in this batch, into memory */
    int64_t lim = sq_batch_wm_limit(ss, batch);
    if (rc == SQ_OK && lim != INT64_MIN)
        rc = sq_ticket_timers_load(&ss->timers, batch, batch->store, lim, err);
    /* read just now but due before the watermark already: they fire on the
     * batch's first scored event, before it is scored (the watermark had
     * passed them before it came) */
    int64_t wm0 = 0, due0 = 0;
    bool late = rc == SQ_OK && sq_watermark_get(&ss->wm, &wm0) &&
                sq_ticket_timers_next_due(&ss->timers, &due0) && due0 < wm0;
    if (rc != SQ_OK) {
        sq_store_reads_fini(&reads);
        sq_strmap_fini(&hist);
        sq_ticket_view_fini(&view);
        return rc;
    }
    size_t next_read = 0;
    for (size_t i = 0; i < batch->n && next_read < reads.n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event || !sq_is_contact(m) || !m->customer_id ||
            sq_strmap_get(&hist, m->customer_id))
            continue;
        struct sq_history *h = sq_xmalloc(sizeof *h);
        sq_history_load(h, reads.v[next_read++].value);
        sq_strmap_put(&hist, m->customer_id, h);
    }
    sq_store_reads_fini(&reads);

    /* 2. score each event in offset order; after each, fire the timers the
     * watermark has passed */
    for (size_t i = 0; i < batch->n && rc == SQ_OK; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->event || !m->schema || !m->customer_id ||
            !sq_is_scored_kind(m))
            continue;
        if (late) {
            late = false;
            rc = sq_fire_timers(ss, &view, batch->store, wm0, wm0, m, err);
            if (rc != SQ_OK)
                break;
        }
        struct sq_customer_ctx cust;
        sq_ctx_of(m->event, &cust);
        struct sq_breach_list bl;
        memset(&bl, 0, sizeof bl);
        struct sq_score sc;
        memset(&sc, 0, sizeof sc);
        struct sq_contact_derived d;
        bool has_derived = false;
        if (sq_is_contact(m)) {
            if (sq_contact_derive(m->event, st, &d) != 0)
                continue; /* validate guarantees the times */
            const char *reason = json_string_value(json_object_get(m->event, "reason"));
            int64_t arrived_ms = sq_msg_event_time(m);
            struct sq_history *h = sq_strmap_get(&hist, m->customer_id);
            int64_t c30 = 0, latest = 0;
            int repeat = sq_history_add(h, arrived_ms, reason ? reason : "",
                                        st->fcr_window_h * 3600000LL, &c30, &latest);
            sq_score_contact(st, m->event, m->event_ms, &d, &cust, repeat, &bl, &sc);
            has_derived = true;
            sq_buf_reset(&ss->hval);
            sq_history_dump(h, &ss->hval);
            const char *fv[] = {"contacts", ss->hval.data, NULL};
            sq_op_hset(&m->ops, sq_id_key(&ss->hkey, st, "hist:", m->customer_id, ""),
                       st->retention_customer_days * 86400, fv);
            m->cust_change.has_contacts_30d = true;
            m->cust_change.contacts_30d = c30;
        } else if (strcmp(m->schema, "survey.v1") == 0) {
            sq_score_survey(st, m->event, m->event_ms, &cust, &bl, &sc);
        } else if (strcmp(m->schema, "qa_review.v1") == 0) {
            sq_score_qa(st, m->event, m->event_ms, &cust, &bl, &sc);
        } else {
            sq_score_ticket(ss, &view, batch, m, &cust, &sc);
        }
        if (strcmp(m->schema, "ticket.v1") != 0) {
            const char *eid = json_string_value(json_object_get(m->event, "event_id"));
            json_t *codes = json_array();
            for (int k = 0; k < bl.n; k++) {
                json_array_append_new(codes, json_string(sq_breach_code_name(bl.v[k].code)));
                char *text;
                json_t *rec = sq_breach_apply(ss, &m->ops, &m->cust_change, &bl.v[k], eid,
                                              m->customer_id, &cust, m->event, m->event_ms, &text);
                sq_add_record(m, rec, text);
            }
            json_object_set_new(m->event, "breaches", codes);
        }
        /* SPEC 8's order: event, enrichment, score, breaches, derived */
        json_t *codes = json_incref(json_object_get(m->event, "breaches"));
        json_object_del(m->event, "breaches");
        json_object_set_new(m->event, "score", sq_score_json(&sc));
        json_object_set_new(m->event, "breaches", codes ? codes : json_array());
        if (has_derived)
            json_object_set_new(m->event, "derived", sq_contact_derived_json(&d));
        if (sc.has_quality) {
            m->cust_change.has_cx = true;
            m->cust_change.cx_t_ms = m->event_ms;
            m->cust_change.cx_score = sq_round1(sc.quality);
            m->cust_change.cx_half_life_ms = (int64_t)(st->cx_half_life_days * 86400000.0);
        }
        sq_breach_list_fini(&bl);
        int64_t wm;
        bool moved = sq_watermark_observe(&ss->wm, sq_msg_event_time(m));
        if (moved && sq_watermark_get(&ss->wm, &wm))
            rc = sq_fire_timers(ss, &view, batch->store, wm, wm, m, err);
    }
    sq_strmap_each(&hist, sq_history_free_each, NULL);
    sq_strmap_fini(&hist);
    sq_ticket_view_fini(&view);
    return rc;
}

int sq_score_stage_partition_assigned(void *ctx, struct sq_store *store, const char *topic,
                                      int32_t partition, struct sq_err *err)
{
    struct sq_score_stage *ss = ctx;
    return sq_ticket_timers_assigned(&ss->timers, store, topic, partition, err);
}

int sq_score_stage_timers_resync(void *ctx, struct sq_store *store, struct sq_err *err)
{
    struct sq_score_stage *ss = ctx;
    sq_fired_forget(ss); /* the batches that fired them are done with */
    return sq_ticket_timers_resync(&ss->timers, store, err);
}

size_t sq_score_stage_timers_armed(const void *ctx)
{
    const struct sq_score_stage *ss = ctx;
    return sq_ticket_timers_in_memory(&ss->timers);
}

void sq_score_stage_partition_revoked(void *ctx, const char *topic, int32_t partition)
{
    struct sq_score_stage *ss = ctx;
    sq_ticket_timers_revoked(&ss->timers, topic, partition);
}

int sq_score_stage_flush_timers(void *ctx, struct sq_store *store, bool all, struct sq_msg *carrier,
                                struct sq_err *err)
{
    struct sq_score_stage *ss = ctx;
    sq_fired_forget(ss);
    if (!ss->wm.has_event)
        return SQ_OK;
    struct sq_ticket_view view;
    sq_strmap_init(&view.map);
    /* a timer fires when its due time <= the greatest event time seen */
    int64_t limit = all ? INT64_MAX : ss->wm.max_event_ms + 1;
    int rc = sq_ticket_timers_load_all(&ss->timers, store, limit, err);
    if (rc == SQ_OK)
        rc = sq_fire_timers(ss, &view, store, limit, ss->wm.max_event_ms, carrier, err);
    sq_ticket_view_fini(&view);
    return rc;
}

const struct sq_processor sq_proc_score = {
    .name = "score",
    .init = sq_score_stage_init,
    .process = sq_score_stage_process,
    .plan = sq_score_stage_plan,
    .flush = NULL,
    .destroy = sq_score_stage_destroy,
    .abort = sq_score_stage_abort,
};
