/* gen_int.h: what the files of the generator share (gateway/gen*.c, public
 * API in gen.h): the seeded PRNG and its distributions, the heaps of
 * scheduled work and the pools of recent contacts and tickets, the state of
 * struct sq_gen, and one writer per event type. Not for other modules. */
#ifndef SQ_GEN_INT_H
#define SQ_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen.h"

#define SQ_N(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

/* ---- PRNG (gen_rng.c): splitmix64 seeds xoshiro256** ----------------- */

struct sq_rng {
    uint64_t s[4];
};

void sq_rng_seed(struct sq_rng *r, uint64_t seed);
uint64_t sq_rng_u64(struct sq_rng *r);
double sq_rng_unit(struct sq_rng *r);                /* [0, 1) */
uint32_t sq_rng_below(struct sq_rng *r, uint32_t n); /* [0, n), n > 0 */
bool sq_rng_chance(struct sq_rng *r, double p);
double sq_rng_normal(struct sq_rng *r);              /* standard normal */
/* Log-normal with the given median and shape, capped at cap. */
double sq_rng_lognormal(struct sq_rng *r, double median, double sigma, double cap);
/* A hash of (seed, i): attributes of a customer or agent that never change. */
uint64_t sq_gen_hash(uint64_t seed, uint64_t i);

struct sq_weighted {
    const char *name;
    unsigned weight;
};
/* An index into w[0..n) drawn by weight. */
unsigned sq_rng_pick(struct sq_rng *r, const struct sq_weighted *w, unsigned n);
/* The same over bare weights. */
unsigned sq_rng_pick_w(struct sq_rng *r, const unsigned *w, unsigned n);

/* ---- scheduled work (gen_rng.c): a min-heap on (due, insertion order) --- */

/* A repeat contact waiting for its time: the same customer and reason. */
struct sq_gen_repeat {
    uint32_t cust;
    uint8_t queue, reason;
};

/* A ticket between two steps of its lifecycle (gen_tickets.c). */
struct sq_gen_ticket {
    uint64_t no;           /* ticket_id number (message number of its creation) */
    uint64_t contact_no;   /* originating contact's number; 0: none */
    uint32_t cust;
    int64_t opening_ms;    /* start of the current opening */
    int64_t ack_ms;        /* planned acknowledgement; -1 once done or skipped */
    int64_t resolve_ms;    /* planned resolution of the current opening */
    uint8_t kind, category, severity;
    uint8_t next;          /* the status it sends next (gen_tickets.c's enum) */
    uint8_t reopens, updates_left;
    bool escalate;         /* a regulator escalation is still to come */
    bool close_unresolved; /* closes without a `resolved` (the close resolves) */
    bool with_region;
    bool china_time;       /* its system writes +08:00 times */
};

struct sq_gen_due {
    int64_t due_ms;
    uint64_t order; /* insertion order: ties leave the heap deterministically */
    union {
        struct sq_gen_repeat rep;
        struct sq_gen_ticket tk;
    } u;
};

struct sq_gen_heap {
    struct sq_gen_due *v;
    size_t n, cap, max; /* max: pushes beyond it are refused */
    uint64_t order;
};

void sq_gen_heap_init(struct sq_gen_heap *h, size_t max);
void sq_gen_heap_fini(struct sq_gen_heap *h);
/* Adds d (its order is set here); false when the heap holds max entries. */
bool sq_gen_heap_push(struct sq_gen_heap *h, struct sq_gen_due d);
/* Removes and returns the earliest entry; the heap must not be empty. */
struct sq_gen_due sq_gen_heap_pop(struct sq_gen_heap *h);

/* ---- pools of recent contacts and tickets (gen_rng.c) ------------------ */

/* A contact or ticket that surveys, QA reviews and tickets may refer to. */
struct sq_gen_ref {
    uint64_t no;        /* contact or ticket number (its ids derive from it) */
    int64_t at_ms;      /* when it ended / was resolved */
    uint32_t cust;
    uint16_t agent;     /* agent number in its queue (contacts) */
    uint8_t queue;      /* contacts: queue index; tickets: kind */
    uint8_t channel;
    uint8_t reason;
    uint8_t outcome;    /* contacts: enum sq_gen_outcome */
    uint8_t transfers;
    bool slow;          /* contacts: waited beyond the channel's target;
                           tickets: resolved late */
    uint8_t reopens;    /* tickets */
};

/* A bounded sample of recent refs: a full pool replaces a random entry,
 * and a take removes a random one, so each is used once. */
struct sq_gen_pool {
    struct sq_gen_ref *v;
    size_t n, cap;
};

void sq_gen_pool_init(struct sq_gen_pool *p, size_t cap);
void sq_gen_pool_fini(struct sq_gen_pool *p);
void sq_gen_pool_put(struct sq_gen_pool *p, struct sq_rng *r, const struct sq_gen_ref *ref);
/* Takes a random entry into *out; false when the pool is empty. */
bool sq_gen_pool_take(struct sq_gen_pool *p, struct sq_rng *r, struct sq_gen_ref *out);

/* ---- the model's shared tables (gen_contacts.c) ------------------------- */

enum { SQ_R_BILLING, SQ_R_NETWORK, SQ_R_PLAN, SQ_R_FAULT, SQ_R_COMPLAINT, SQ_R_OTHER, SQ_R__N };
enum sq_gen_outcome { SQ_O_RESOLVED, SQ_O_UNRESOLVED, SQ_O_ESCALATED, SQ_O_CALLBACK, SQ_O__N };

struct sq_gen_channel {
    const char *name;
    unsigned weight;
    double wait_med, wait_sigma, wait_cap;
    double handle_med, handle_sigma;
    double abandon_p, callback_p;
    bool realtime;   /* short abandons happen; wrap-up time; recorded for QA */
    bool whole_secs; /* the source system writes second-resolution times */
};

struct sq_gen_queue {
    const char *name;
    unsigned weight;
    unsigned agents;
    unsigned reason_w[SQ_R__N]; /* billing network plan fault complaint other */
};

extern const struct sq_gen_channel sq_gen_channels[];
extern const unsigned sq_gen_channels_n;
extern const struct sq_gen_queue sq_gen_queues[];
extern const unsigned sq_gen_queues_n;
extern const char *const sq_gen_reasons[SQ_R__N];
#define SQ_GEN_REGIONS 10
extern const char *const sq_gen_regions[SQ_GEN_REGIONS];

/* ---- the generator ------------------------------------------------------ */

#define SQ_GEN_RING 256          /* recent valid messages kept for duplicates */
#define SQ_GEN_REPEATS_MAX 65536 /* pending repeat contacts */
#define SQ_GEN_TICKETS_MAX 131072 /* open tickets with a step to come */
#define SQ_GEN_POOL 4096         /* recent contacts / tickets per pool */
#define SQ_GEN_OUTAGES_MAX 2     /* outages active at once */

struct sq_gen_saved {
    int topic;
    struct sq_buf key, value;
};

/* An active outage. */
struct sq_gen_outage {
    uint64_t no;
    int64_t end_ms;
    uint8_t region, service, severity;
};

struct sq_gen {
    unsigned magic;
    struct sq_gen_opts o;
    double contact_share;    /* 1 - the other shares */
    struct sq_rng rng;
    uint64_t n;              /* messages generated so far */
    double t_ms;             /* event clock, ms after start */
    int64_t clock_ms;        /* start + t_ms */
    struct sq_gen_heap repeats;  /* repeat contacts */
    struct sq_gen_heap tickets;  /* next lifecycle steps */
    struct sq_gen_pool surveyable;   /* answered contacts */
    struct sq_gen_pool recorded;     /* answered voice/chat/app contacts (QA) */
    struct sq_gen_pool ticketable;   /* contacts that may open a ticket */
    struct sq_gen_pool resolved;     /* resolved tickets (surveys) */
    struct sq_gen_outage outages[SQ_GEN_OUTAGES_MAX];
    unsigned outages_n;
    struct sq_gen_saved ring[SQ_GEN_RING];
    size_t ring_n, ring_next;
    struct sq_buf tmp;
};

/* Text helpers (gen_rng.c). An RFC 3339 time of ms, quoted, in UTC ("Z") or
 * at +off_min minutes, with milliseconds unless whole_secs. */
void sq_gen_write_time(struct sq_buf *b, int64_t ms, int off_min, bool whole_secs);
void sq_gen_write_customer(struct sq_buf *b, uint32_t cust);
/* The customer's home region (index into sq_gen_regions). */
unsigned sq_gen_region_of(const struct sq_gen *g, uint32_t cust);
/* A customer: one in five messages comes from the busiest 5 % of them. */
uint32_t sq_gen_pick_customer(struct sq_gen *g);
/* A message's event_id: "<prefix>-<seed>-<n>". */
void sq_gen_event_id(const struct sq_gen *g, char prefix, char *id, size_t idsz);

/* Event writers; each appends one message to b. at_ms is its event time,
 * event_id its id. */
/* gen_contacts.c. queue/reason < 0: drawn. live: a message of the stream
 * (may schedule a repeat, feeds the pools); false for the raw material of a
 * malformed message. */
void sq_gen_contact(struct sq_gen *g, struct sq_buf *b, const char *event_id, uint32_t cust,
                    int queue, int reason, int64_t ended_ms, bool live);
/* A contact slot: a repeat contact when one is due, else a new one. Sets
 * the key. */
void sq_gen_contact_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value,
                         uint32_t cust, int64_t at_ms);
void sq_gen_profile(struct sq_gen *g, struct sq_buf *b, const char *event_id, uint32_t cust,
                    int64_t at_ms);
/* gen_tickets.c: the next step of a ticket lifecycle. Sets the key. */
void sq_gen_ticket_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value);
/* gen_feedback.c: a survey answer / a QA review about a recent contact (or
 * ticket). Set the key. */
void sq_gen_survey_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value);
void sq_gen_qa_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value);
/* gen_outages.c: an outage starting or ending. Sets the key (incident id). */
void sq_gen_outage_next(struct sq_gen *g, struct sq_buf *key, struct sq_buf *value);
/* Whether an outage is active in region index reg. */
bool sq_gen_outage_in(const struct sq_gen *g, unsigned reg);
/* gen_malformed.c: a malformed message of kind (SQ_GEN_MALFORMED_JSON ..). */
void sq_gen_malformed(struct sq_gen *g, int kind, struct sq_buf *b, const char *event_id,
                      uint32_t cust);

#endif
