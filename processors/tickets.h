/* tickets.h: the ticket.v1 lifecycle state machine (SPEC 2, 4, 5, 15): the
 * state kept per ticket, its compact JSON form for the store, and what one
 * event or one fired overdue timer does (breaches, score, counter facts,
 * timer changes). Pure: no I/O; the score/aggregate processors call it. */
#ifndef SQ_TICKETS_H
#define SQ_TICKETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "breach.h"
#include "settings.h"

#define SQ_TICKET_ID_MAX SQ_ID_MAX_BYTES       /* ticket_id bytes: any id the schema admits */
#define SQ_TICKET_EVENT_ID_MAX SQ_ID_MAX_BYTES /* event_id bytes, likewise (SPEC 2: 1..128 characters) */
#define SQ_TICKET_CATEGORY_MAX 128 /* longer categories are cut at a UTF-8 boundary */
#define SQ_TICKET_TIER_MAX 15
#define SQ_TICKET_REGION_MAX 63

/* Index of settings.tickets_ack_h / tickets_resolve_h. */
enum sq_ticket_kind {
    SQ_TICKET_COMPLAINT = 0,
    SQ_TICKET_FAULT = 1,
    SQ_TICKET_INQUIRY = 2,
    SQ_TICKET__KINDS
};

enum sq_ticket_status {
    SQ_TICKET_OPENED,
    SQ_TICKET_ACKNOWLEDGED,
    SQ_TICKET_UPDATED,
    SQ_TICKET_RESOLVED,
    SQ_TICKET_CLOSED,
    SQ_TICKET_REOPENED,
    SQ_TICKET_ESCALATED_REGULATOR,
};

const char *sq_ticket_kind_name(enum sq_ticket_kind k);
/* 0 and *out set, or -1 for a name that is not a kind / status. */
int sq_ticket_kind_parse(const char *s, enum sq_ticket_kind *out);
int sq_ticket_status_parse(const char *s, enum sq_ticket_status *out);

/* The customer as the caller saw it at an event: the tier, enterprise flag
 * and region of that event's enrichment. */
struct sq_ticket_cust {
    char tier[SQ_TICKET_TIER_MAX + 1];
    char region[SQ_TICKET_REGION_MAX + 1];
    bool enterprise;
};

/* Where a breach comes from, for its record: the opening's event and
 * customer for TICKET_OVERDUE (SPEC 15), this event's for the others. */
struct sq_ticket_breach_src {
    char event_id[SQ_TICKET_EVENT_ID_MAX + 1];
    struct sq_ticket_cust cust;
};

/* One opening: opening 1 starts at opened_at, opening n > 1 at the
 * occurred_at of the (n-1)-th `reopened` processed. */
struct sq_ticket_opening {
    int64_t start_ms;        /* the resolve deadline runs from here */
    int64_t resolved_ms;     /* first resolution of this opening, or -1 */
    bool overdue_fired;      /* TICKET_OVERDUE emitted for this opening */
    bool scored;             /* the ticket score of this opening was given */
    char event_id[SQ_TICKET_EVENT_ID_MAX + 1]; /* `opened` / `reopened` (else first seen) */
    struct sq_ticket_cust cust;                /* customer at that event */
};

/* The state kept per ticket. A zeroed struct is a ticket not seen yet. */
struct sq_ticket {
    bool seen;                   /* some event was applied */
    char ticket_id[SQ_TICKET_ID_MAX + 1];
    enum sq_ticket_kind kind;    /* from `opened`, else the first event seen */
    int severity;                /* 1..4, likewise */
    char category[SQ_TICKET_CATEGORY_MAX + 1];
    bool opened_seen;            /* an `opened` was applied */
    int64_t opened_ms;           /* its occurred_at, else the earliest seen */
    int64_t acknowledged_ms;     /* first acknowledgement (or resolution), or -1 */
    char ack_event_id[SQ_TICKET_EVENT_ID_MAX + 1]; /* the event that gave it */
    bool ack_late_fired;         /* TICKET_ACK_LATE emitted (once per ticket) */
    bool regulator;              /* escalated_regulator seen (once per ticket) */
    int opening;                 /* n = 1 + `reopened` processed; reopens = n - 1 */
    struct sq_ticket_opening cur; /* the current opening n */
};

/* What applying one event did. Breaches are in SPEC 4 table order; the
 * caller emits them (a TICKET_OVERDUE among them also counts
 * tickets_overdue, in the window of its occurred_ms, the deadline). */
struct sq_ticket_effects {
    struct sq_breach breaches[4];
    int n_breaches;
    struct sq_ticket_breach_src src[4]; /* event_id, tier, region of breaches[i] */
    bool scored;                 /* the ticket score of an opening (SPEC 5) */
    double responsiveness, reliability; /* unrounded */
    bool opened_now;             /* counts tickets_opened (and complaints for kind complaint) */
    bool resolved_now;           /* counts tickets_resolved, once per opening */
    bool regulator_now;          /* counts regulator_escalations, once per ticket */
    bool timer_set;              /* (re)arm the overdue timer of the current opening */
    int64_t timer_due_ms;        /*   at this due time (the resolve deadline) */
    int timer_opening;           /*   for this opening */
    bool timer_cancel;           /* the ticket no longer needs its timer */
    int open_delta;              /* change of sq_ticket_open_count: -1, 0 or +1 */
};

/* Applies one ticket.v1 event. Events apply in processing order (opening n
 * = 1 + `reopened` processed so far) and may be out of event-time order;
 * event_ms is the event's occurred_at, tier/enterprise/region the customer
 * at this event (NULL tier or region: ""). *out is overwritten; the caller
 * releases it with sq_ticket_effects_fini. Returns 0, or -1 when ev is not
 * a usable ticket.v1 (ticket_id missing or longer than SQ_TICKET_ID_MAX, or
 * another than t's; kind, severity or status missing or invalid): then t is
 * unchanged and *out empty. */
int sq_ticket_apply(struct sq_ticket *t, const struct sq_settings *st, json_t *ev,
                    int64_t event_ms, const char *event_id, const char *tier,
                    bool enterprise, const char *region, struct sq_ticket_effects *out);
void sq_ticket_effects_fini(struct sq_ticket_effects *out);

/* The overdue timer of opening `opening` fired at due_ms (the watermark
 * passed it). Fills *out with TICKET_OVERDUE and returns true unless the
 * opening is no longer current, is resolved, already fired, or due_ms is not
 * its deadline any more (a stale timer). The breach record's event_id,
 * tier and region are t->cur.event_id and t->cur.cust (the opening's). */
bool sq_ticket_timer_fire(struct sq_ticket *t, const struct sq_settings *st, int64_t due_ms,
                          int opening, struct sq_breach *out);

/* Whether the current opening needs an overdue timer, and its due time:
 * the way to re-arm timers from stored state after a restart. */
bool sq_ticket_timer_due(const struct sq_ticket *t, const struct sq_settings *st,
                         int64_t *due_ms);

/* Resolve deadline of the current opening and the ticket's ack deadline
 * (ms), from the current opened_at, kind and severity. */
int64_t sq_ticket_resolve_deadline_ms(const struct sq_ticket *t, const struct sq_settings *st);
int64_t sq_ticket_ack_deadline_ms(const struct sq_ticket *t, const struct sq_settings *st);

/* 1 when the ticket is open, else 0. Open = some event of the ticket was
 * applied and its current opening has no resolution (no `resolved`, no
 * `closed`) yet; a `reopened` makes a resolved ticket open again. The sum
 * over a customer's tickets is open_tickets; sq_ticket_effects.open_delta
 * is the change one event made. */
int sq_ticket_open_count(const struct sq_ticket *t);

/* Compact JSON for the store (of a ticket some event was applied to); the
 * caller frees the string with free(). */
char *sq_ticket_dump(const struct sq_ticket *t);
/* Parses what sq_ticket_dump wrote into *t. Returns 0, or -1 (t unchanged)
 * when s is not such a document. */
int sq_ticket_load(struct sq_ticket *t, const char *s);

#endif
