/* enrich.c: the `enrich` processor (SPEC 3). Keeps customer profiles from
 * sq.in.profiles (upsert; a tombstone deletes) in {prefix}profile:{id} and
 * active outages from sq.in.outages in {prefix}outages:active, and adds
 * `enrichment` {tier, enterprise, region, during_outage, incidents} to every
 * other event. Profiles are looked up through an in-process cache bounded in
 * entries with a TTL; one store read per batch for the misses. */
#include "enrich.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "store.h"
#include "strmap.h"

/* A cached profile; tier "unknown" with found = false for no profile. */
struct sq_profile {
    bool found;
    char tier[16];
    bool enterprise;
    char region[40];
    int64_t expires_mono;
};

struct sq_enrich {
    const struct sq_settings *st;
    struct sq_strmap cache; /* customer id → struct sq_profile * */
    /* the active-outage view (sq_enrich_active_view) and the stored hash
     * text it was built from: reused while that text is unchanged */
    char *outages_text;     /* owned; NULL: no stored hash */
    json_t *outages_view;   /* owned; NULL until the first batch */
    /* profile lookups of events and those that took a read (the cache
     * missed), counted once a batch's read succeeded */
    uint64_t lookups, misses;
};

static int sq_enrich_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    (void)err;
    struct sq_enrich *e = sq_xcalloc(1, sizeof *e);
    e->st = st;
    sq_strmap_init(&e->cache);
    *ctx = e;
    return SQ_OK;
}

static void sq_free_entry(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

static void sq_enrich_cache_clear(struct sq_enrich *e)
{
    sq_strmap_each(&e->cache, sq_free_entry, NULL);
    sq_strmap_fini(&e->cache);
    sq_strmap_init(&e->cache);
}

static void sq_enrich_destroy(void *ctx)
{
    struct sq_enrich *e = ctx;
    if (!e)
        return;
    sq_enrich_cache_clear(e);
    free(e->outages_text);
    json_decref(e->outages_view);
    free(e);
}

char *sq_enrich_profile_key_dup(const struct sq_settings *st, const char *customer_id)
{
    char *esc = sq_key_escape_dup(customer_id, strlen(customer_id));
    char *k = sq_xasprintf("%sprofile:%s", st->redis_prefix, esc);
    free(esc);
    return k;
}

static void sq_enrich_cache_put(struct sq_enrich *e, const char *id, const struct sq_profile *p)
{
    if (e->cache.n >= (size_t)e->st->enrich_cache_entries)
        sq_enrich_cache_clear(e); /* bounded: start over rather than grow */
    struct sq_profile *c = sq_xmalloc(sizeof *c);
    *c = *p;
    c->expires_mono = sq_mono_ms() + e->st->enrich_cache_ttl_s * 1000;
    free(sq_strmap_put(&e->cache, id, c));
}

static const struct sq_profile *sq_enrich_cache_get(struct sq_enrich *e, const char *id)
{
    struct sq_profile *p = sq_strmap_get(&e->cache, id);
    if (p && p->expires_mono < sq_mono_ms()) {
        free(sq_strmap_del(&e->cache, id));
        return NULL;
    }
    return p;
}

static void sq_profile_from_event(json_t *ev, struct sq_profile *p)
{
    memset(p, 0, sizeof *p);
    p->found = true;
    const char *tier = json_string_value(json_object_get(ev, "tier"));
    const char *region = json_string_value(json_object_get(ev, "region"));
    snprintf(p->tier, sizeof p->tier, "%s", tier ? tier : "unknown");
    p->enterprise = json_is_true(json_object_get(ev, "enterprise"));
    snprintf(p->region, sizeof p->region, "%s", region ? region : "");
}

/* Profile upserts and tombstones: state ops, and the batch's own view. */
static void sq_enrich_profile(struct sq_enrich *e, struct sq_msg *m, struct sq_strmap *overlay)
{
    const struct sq_settings *st = e->st;
    char *id = NULL;
    if (m->event && m->customer_id)
        id = sq_xstrdup(m->customer_id);
    else if (m->key)
        id = sq_xstrndup(m->key, m->key_len);
    if (!id)
        return;
    char *key = sq_enrich_profile_key_dup(st, id);
    struct sq_profile *p = sq_xcalloc(1, sizeof *p);
    sq_op_del(&m->ops, key);
    if (m->event) {
        sq_profile_from_event(m->event, p);
        char tenure[32] = "", arpu[32] = "";
        json_t *t = json_object_get(m->event, "tenure_months");
        json_t *a = json_object_get(m->event, "arpu");
        if (json_is_number(t))
            sq_fmt_number(json_number_value(t), tenure);
        if (json_is_number(a))
            sq_fmt_number(json_number_value(a), arpu);
        const char *fv[11];
        int n = 0;
        fv[n++] = "tier";
        fv[n++] = p->tier;
        fv[n++] = "enterprise";
        fv[n++] = p->enterprise ? "true" : "false";
        fv[n++] = "region";
        fv[n++] = p->region;
        if (*tenure) {
            fv[n++] = "tenure_months";
            fv[n++] = tenure;
        }
        if (*arpu) {
            fv[n++] = "arpu";
            fv[n++] = arpu;
        }
        fv[n] = NULL;
        sq_op_hset(&m->ops, key, st->retention_customer_days * 86400, fv);
    }
    free(sq_strmap_put(overlay, id, p));
    free(sq_strmap_del(&e->cache, id));
    free(key);
    free(id);
}

/* Outage started / ended: the active-outage hash and the batch's view
 * (incident id -> region). */
static void sq_enrich_outage(struct sq_enrich *e, struct sq_msg *m, json_t *active)
{
    const char *incident = json_string_value(json_object_get(m->event, "incident_id"));
    const char *status = json_string_value(json_object_get(m->event, "status"));
    if (!incident || !status)
        return;
    char *key = sq_xasprintf("%soutages:active", e->st->redis_prefix);
    if (strcmp(status, "started") == 0) {
        char *js = sq_json_dumps(m->event, JSON_COMPACT | JSON_REAL_PRECISION(15), NULL);
        const char *fv[] = {incident, js, NULL};
        sq_op_hset(&m->ops, key, 0, fv);
        const char *region = json_string_value(json_object_get(m->event, "region"));
        json_object_set_new(active, incident, region ? json_string(region) : json_null());
        free(js);
    } else {
        sq_op_hdel(&m->ops, key, incident);
        json_object_del(active, incident);
    }
    free(key);
}

static bool sq_enrich_wants(const struct sq_msg *m)
{
    return m->verdict == SQ_VERDICT_PENDING && m->event && m->schema &&
           strcmp(m->schema, "profile.v1") != 0 && strcmp(m->schema, "outage.v1") != 0;
}

/* The stored active-outage hash (incident id -> outage event JSON) as a
 * view: incident id -> its region (null when it has none). */
static json_t *sq_enrich_active_parse(const char *stored)
{
    json_error_t jerr;
    json_t *hash = stored ? json_loads(stored, 0, &jerr) : NULL;
    json_t *view = json_object();
    const char *id;
    json_t *v;
    json_object_foreach(hash, id, v) {
        json_t *o = json_loads(json_string_value(v), 0, &jerr);
        const char *r = json_string_value(json_object_get(o, "region"));
        json_object_set_new(view, id, r ? json_string(r) : json_null());
        json_decref(o);
    }
    json_decref(hash);
    return view;
}

/* The view of the stored hash text (NULL: none), lent by e. The outages
 * change rarely, so the view is parsed again only when the text differs
 * from the one it was built from; a batch that changes it works on a copy
 * (sq_enrich_process). */
static json_t *sq_enrich_active_view(struct sq_enrich *e, const char *stored)
{
    bool same = e->outages_view &&
                (stored && e->outages_text ? strcmp(stored, e->outages_text) == 0
                                           : stored == e->outages_text);
    if (!same) {
        json_decref(e->outages_view);
        free(e->outages_text);
        e->outages_view = sq_enrich_active_parse(stored);
        e->outages_text = stored ? sq_xstrdup(stored) : NULL;
    }
    return e->outages_view;
}

/* Incident ids of active outages in region, sorted. */
static json_t *sq_enrich_incidents(json_t *active, const char *region)
{
    json_t *ids = json_array();
    if (!region || !*region)
        return ids;
    const char *id;
    json_t *v;
    json_object_foreach(active, id, v) {
        const char *r = json_string_value(v);
        if (r && strcmp(r, region) == 0) {
            size_t k = 0;
            while (k < json_array_size(ids) &&
                   strcmp(json_string_value(json_array_get(ids, k)), id) < 0)
                k++;
            json_array_insert_new(ids, k, json_string(id));
        }
    }
    return ids;
}

/* Adds the batch's reads to reads: the profiles not cached, three fields
 * per customer in the order of ids (when not NULL), then the active
 * outages when an event needs them (*outage_read its index, else
 * SIZE_MAX). Returns the number of customers; *lookups (when not NULL)
 * gets the events that look a profile up. */
static size_t sq_enrich_add_reads(struct sq_enrich *e, const struct sq_batch *batch,
                                  struct sq_store_reads *reads, const char **ids,
                                  size_t *outage_read, size_t *lookups)
{
    const struct sq_settings *st = e->st;
    bool need_outages = false;
    struct sq_strmap asked;
    sq_strmap_init(&asked);
    size_t nids = 0;
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        if (!sq_enrich_wants(m))
            continue;
        need_outages = true;
        if (m->customer_id && lookups)
            (*lookups)++;
        if (m->customer_id && !sq_enrich_cache_get(e, m->customer_id) &&
            !sq_strmap_get(&asked, m->customer_id)) {
            sq_strmap_put(&asked, m->customer_id, (void *)m);
            if (ids)
                ids[nids] = m->customer_id;
            nids++;
            char *key = sq_enrich_profile_key_dup(st, m->customer_id);
            sq_store_reads_add(reads, key, "tier");
            sq_store_reads_add(reads, key, "enterprise");
            sq_store_reads_add(reads, key, "region");
            free(key);
        }
    }
    sq_strmap_fini(&asked);
    *outage_read = SIZE_MAX;
    for (size_t i = 0; i < batch->n; i++)
        if (batch->msgs[i].verdict == SQ_VERDICT_PENDING && batch->msgs[i].schema &&
            strcmp(batch->msgs[i].schema, "outage.v1") == 0)
            need_outages = true;
    if (need_outages) {
        char *okey = sq_xasprintf("%soutages:active", st->redis_prefix);
        *outage_read = sq_store_reads_add(reads, okey, NULL);
        free(okey);
    }
    return nids;
}

static void sq_enrich_plan(void *ctx, const struct sq_batch *batch, struct sq_store_reads *reads)
{
    size_t outage_read;
    sq_enrich_add_reads(ctx, batch, reads, NULL, &outage_read, NULL);
}

static int sq_enrich_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_enrich *e = ctx;
    struct sq_store_reads reads = {0};
    /* 1. Which profiles are not cached: one read for all of them. */
    const char **ids = sq_xcalloc(batch->n ? batch->n : 1, sizeof *ids);
    size_t outage_read, lookups = 0;
    size_t nids = sq_enrich_add_reads(e, batch, &reads, ids, &outage_read, &lookups);
    int rc = reads.n ? sq_store_read(batch->store, &reads, err) : SQ_OK;
    if (rc != SQ_OK) {
        free(ids);
        sq_store_reads_fini(&reads);
        return rc;
    }
    e->lookups += lookups;
    e->misses += nids;
    for (size_t j = 0; j < nids; j++) {
        const struct sq_store_read *r = &reads.v[3 * j];
        struct sq_profile p;
        memset(&p, 0, sizeof p);
        p.found = r[0].value != NULL;
        snprintf(p.tier, sizeof p.tier, "%s", r[0].value ? r[0].value : "unknown");
        p.enterprise = r[1].value && strcmp(r[1].value, "true") == 0;
        snprintf(p.region, sizeof p.region, "%s", r[2].value ? r[2].value : "");
        sq_enrich_cache_put(e, ids[j], &p);
    }
    free(ids);
    /* borrowed from e until an outage of the batch changes it */
    json_t *active =
        outage_read != SIZE_MAX ? sq_enrich_active_view(e, reads.v[outage_read].value) : NULL;
    bool active_owned = false;
    sq_store_reads_fini(&reads);

    /* 2. In offset order: reference data first changes the batch's view,
     * then each event gets its enrichment. */
    struct sq_strmap overlay;
    sq_strmap_init(&overlay);
    for (size_t i = 0; i < batch->n; i++) {
        struct sq_msg *m = &batch->msgs[i];
        if (m->verdict != SQ_VERDICT_PENDING || !m->schema)
            continue;
        if (strcmp(m->schema, "profile.v1") == 0) {
            sq_enrich_profile(e, m, &overlay);
            continue;
        }
        if (strcmp(m->schema, "outage.v1") == 0) {
            if (!m->event)
                continue;
            if (!active_owned) {
                active = json_copy(active); /* the cached view stays as stored */
                active_owned = true;
            }
            sq_enrich_outage(e, m, active);
            continue;
        }
        if (!m->event)
            continue;
        const struct sq_profile *p = NULL;
        struct sq_profile none;
        memset(&none, 0, sizeof none);
        snprintf(none.tier, sizeof none.tier, "unknown");
        if (m->customer_id) {
            p = sq_strmap_get(&overlay, m->customer_id);
            if (!p)
                p = sq_enrich_cache_get(e, m->customer_id);
        }
        if (!p)
            p = &none;
        const char *ev_region = json_string_value(json_object_get(m->event, "region"));
        const char *region = ev_region ? ev_region : (p->found && *p->region ? p->region : NULL);
        json_t *incidents = sq_enrich_incidents(active, region);
        json_t *enr = json_object();
        json_object_set_new(enr, "tier", json_string(p->found ? p->tier : "unknown"));
        json_object_set_new(enr, "enterprise", json_boolean(p->found && p->enterprise));
        json_object_set_new(enr, "region", region ? json_string(region) : json_null());
        json_object_set_new(enr, "during_outage", json_boolean(json_array_size(incidents) > 0));
        json_object_set_new(enr, "incidents", incidents);
        json_object_set_new(m->event, "enrichment", enr);
    }
    sq_strmap_each(&overlay, sq_free_entry, NULL);
    sq_strmap_fini(&overlay);
    if (active_owned)
        json_decref(active);
    return SQ_OK;
}

const struct sq_processor sq_proc_enrich = {
    .name = "enrich",
    .init = sq_enrich_init,
    .process = sq_enrich_process,
    .plan = sq_enrich_plan,
    .flush = NULL,
    .destroy = sq_enrich_destroy,
};

void sq_enrich_cache_counts(const void *ctx, uint64_t *lookups, uint64_t *misses)
{
    const struct sq_enrich *e = ctx;
    *lookups = e ? e->lookups : 0;
    *misses = e ? e->misses : 0;
}
