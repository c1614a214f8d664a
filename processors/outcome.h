/* outcome.h: the three ends of a consumed message (processed, duplicate,
 * DLQ) and the DLQ reasons of SPEC 8, each with its one to-string entry. */
#ifndef SQ_OUTCOME_H
#define SQ_OUTCOME_H

enum sq_verdict {
    SQ_VERDICT_PENDING = 0,  /* still going through the chain */
    SQ_VERDICT_PROCESSED,
    SQ_VERDICT_DUPLICATE,
    SQ_VERDICT_DLQ,
    SQ_VERDICT_SKIPPED,      /* at or below the applied offset: already done */
};

#define SQ_DLQ_REASONS(X)                      \
    X(MALFORMED_JSON, "malformed_json")        \
    X(TOO_LARGE, "too_large")                  \
    X(NOT_OBJECT, "not_object")                \
    X(BAD_UTF8, "bad_utf8")                    \
    X(TOO_DEEP, "too_deep")                    \
    X(UNKNOWN_SCHEMA, "unknown_schema")        \
    X(SCHEMA_VIOLATION, "schema_violation")    \
    X(SEMANTIC, "semantic")                    \
    X(FUTURE_TIME, "future_time")              \
    X(OUTPUT_REJECTED, "output_rejected")

enum sq_dlq_reason {
    SQ_DLQ_NONE = 0,
#define SQ_X(e, s) SQ_DLQ_##e,
    SQ_DLQ_REASONS(SQ_X)
#undef SQ_X
    SQ_DLQ__COUNT
};

/* "malformed_json", …; "none" for SQ_DLQ_NONE. */
const char *sq_dlq_reason_name(enum sq_dlq_reason r);
const char *sq_verdict_name(enum sq_verdict v);

#endif
