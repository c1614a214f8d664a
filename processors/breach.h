/* breach.h: breach codes (SPEC 4), severities and SERVQUAL dimensions, each
 * with its one to-string table, the breach value every scorer fills, and
 * the deterministic breach_id. processors/score.c decides breaches;
 * processors/tickets.c decides the ticket ones. */
#ifndef SQ_BREACH_H
#define SQ_BREACH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sq_common.h"

/* SERVQUAL dimensions in SPEC 5's weight order (ties are broken by it). */
#define SQ_DIMENSIONS(X)                 \
    X(RELIABILITY, "reliability")        \
    X(RESPONSIVENESS, "responsiveness")  \
    X(ASSURANCE, "assurance")            \
    X(EMPATHY, "empathy")                \
    X(TANGIBLES, "tangibles")

enum sq_dim {
#define SQ_X(e, s) SQ_DIM_##e,
    SQ_DIMENSIONS(SQ_X)
#undef SQ_X
    SQ_DIM__COUNT
};

/* Breach codes in SPEC 4's table order (the order breaches of one event are
 * listed and produced in), with their SERVQUAL dimension. SERVQUAL_GAP's
 * dimension is the worst gap's, set per breach. */
#define SQ_BREACH_CODES(X)                                  \
    X(SLA_WAIT, "SLA_WAIT", RESPONSIVENESS)                 \
    X(ABANDONED, "ABANDONED", RESPONSIVENESS)               \
    X(REPEAT_CONTACT, "REPEAT_CONTACT", RELIABILITY)        \
    X(TRANSFER_CHAIN, "TRANSFER_CHAIN", ASSURANCE)          \
    X(UNRESOLVED, "UNRESOLVED", RELIABILITY)                \
    X(TICKET_ACK_LATE, "TICKET_ACK_LATE", RESPONSIVENESS)   \
    X(TICKET_OVERDUE, "TICKET_OVERDUE", RESPONSIVENESS)     \
    X(TICKET_REOPENED, "TICKET_REOPENED", RELIABILITY)      \
    X(REGULATOR_ESCALATION, "REGULATOR_ESCALATION", RELIABILITY) \
    X(SURVEY_DETRACTOR, "SURVEY_DETRACTOR", EMPATHY)        \
    X(SERVQUAL_GAP, "SERVQUAL_GAP", EMPATHY)                \
    X(QA_FATAL, "QA_FATAL", ASSURANCE)                      \
    X(QA_LOW, "QA_LOW", ASSURANCE)

enum sq_breach_code {
#define SQ_X(e, s, d) SQ_BREACH_##e,
    SQ_BREACH_CODES(SQ_X)
#undef SQ_X
    SQ_BREACH__COUNT
};

enum sq_severity { SQ_SEV_MINOR = 1, SQ_SEV_MAJOR = 2, SQ_SEV_CRITICAL = 3 };

const char *sq_dim_name(enum sq_dim d);
const char *sq_breach_code_name(enum sq_breach_code c);
enum sq_dim sq_breach_code_dim(enum sq_breach_code c);
const char *sq_severity_name(enum sq_severity s);
/* One level up, capped at critical (VIP rule of SPEC 4). */
enum sq_severity sq_severity_up(enum sq_severity s);

/* One breach as a scorer decides it. */
struct sq_breach {
    enum sq_breach_code code;
    enum sq_severity severity;
    enum sq_dim dim;
    bool has_value, has_threshold;   /* false: written as null */
    double value, threshold;
    json_t *details;                 /* owned, or NULL (SERVQUAL_GAP: the dimensions) */
    int64_t occurred_ms;             /* the causing event's time, or the deadline */
    char id_source[SQ_ID_MAX_BYTES + 16]; /* event_id, or "ticket_id#opening" for timer breaches */
    char breach_id[33];              /* sq_breach_id_make(id_source, code) */
};

/* breach_id: the first 32 hex characters of SHA-256(id_source "|" code):
 * deterministic, so a replay or a redelivery gives the same id. */
void sq_breach_id_make(const char *id_source, enum sq_breach_code code, char out[33]);
void sq_breach_fini(struct sq_breach *b);

#endif
