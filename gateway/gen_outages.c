/* gen_outages.c: outage.v1 messages of the generator: network or service
 * incidents in one region that start and, log-normal tens of minutes to
 * hours later, end. At most SQ_GEN_OUTAGES_MAX are active at once, one per
 * region (further outage messages are status updates meanwhile); while one
 * is active its region's customers call more about the network
 * (gen_contacts.c). Keyed by incident id, so an incident's start and end
 * share a partition. Called by sq_gen_next (gen.c). */
#include "gen_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct sq_weighted sq_services[] = {
    {"mobile_data", 40}, {"broadband", 25}, {"voice", 15}, {"iptv", 10}, {"sms", 5},
    {"fixed_line", 5}};
static const unsigned sq_outage_severity_w[4] = {10, 25, 40, 25};

bool sq_gen_outage_in(const struct sq_gen *g, unsigned reg)
{
    for (unsigned i = 0; i < g->outages_n; i++)
        if (g->outages[i].region == reg)
            return true;
    return false;
}

/* The active outage that ends first. */
static unsigned sq_gen_outage_first(const struct sq_gen *g)
{
    unsigned first = 0;
    for (unsigned i = 1; i < g->outages_n; i++)
        if (g->outages[i].end_ms < g->outages[first].end_ms)
            first = i;
    return first;
}

/* A new outage in a region without one; more severe ones are fixed sooner. */
static struct sq_gen_outage sq_gen_outage_start(struct sq_gen *g, int64_t now)
{
    struct sq_rng *r = &g->rng;
    struct sq_gen_outage o = {.no = g->n};
    unsigned reg = sq_rng_below(r, SQ_GEN_REGIONS);
    while (sq_gen_outage_in(g, reg))
        reg = (reg + 1) % SQ_GEN_REGIONS;
    o.region = (uint8_t)reg;
    o.service = (uint8_t)sq_rng_pick(r, sq_services, SQ_N(sq_services));
    o.severity = (uint8_t)(1 + sq_rng_pick_w(r, sq_outage_severity_w, 4));
    double median_min = o.severity <= 2 ? 50 : 80;
    o.end_ms = now + 120000 + (int64_t)(60000 * sq_rng_lognormal(r, median_min, 0.9, 1440));
    return o;
}

static void sq_gen_outage_write(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                const struct sq_gen_outage *o, bool started, int64_t now)
{
    sq_buf_appendf(b, "{\"schema\":\"outage.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_write_time(b, now, 0, false);
    sq_buf_appendf(b,
                   ",\"region\":\"%s\",\"incident_id\":\"inc-%" PRIu64 "-%" PRIu64 "\","
                   "\"service\":\"%s\",\"status\":\"%s\",\"severity\":%u}",
                   sq_gen_regions[o->region], g->o.seed, o->no, sq_services[o->service].name,
                   started ? "started" : "ended", o->severity);
}

/* An outage slot: the end of an outage that is due, else a new outage,
 * else (as many active as allowed) a status update of an active one, sent
 * as `started` again, now and then at another severity: outages keep
 * their length whatever the rate. */
void sq_gen_outage_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value)
{
    struct sq_rng *r = &g->rng;
    int64_t now = g->clock_ms;
    char id[64];
    sq_gen_event_id(g, 'o', id, sizeof id);
    unsigned first = g->outages_n ? sq_gen_outage_first(g) : 0;
    struct sq_gen_outage o;
    bool started = true;
    if (g->outages_n && g->outages[first].end_ms <= now) {
        o = g->outages[first];
        g->outages[first] = g->outages[--g->outages_n];
        started = false;
    } else if (g->outages_n < SQ_GEN_OUTAGES_MAX) {
        o = sq_gen_outage_start(g, now);
        g->outages[g->outages_n++] = o;
    } else {
        struct sq_gen_outage *a = &g->outages[sq_rng_below(r, g->outages_n)];
        if (sq_rng_chance(r, 0.2) && a->severity > 1)
            a->severity--;
        else if (sq_rng_chance(r, 0.1) && a->severity < 4)
            a->severity++;
        o = *a;
    }
    sq_buf_appendf(key, "inc-%" PRIu64 "-%" PRIu64, g->o.seed, o.no);
    sq_gen_outage_write(g, value, id, &o, started, now);
}
