/* outcome.c: names of verdicts and DLQ reasons (one table each). */
#include "outcome.h"

static const char *const sq_dlq_names[SQ_DLQ__COUNT] = {
    [SQ_DLQ_NONE] = "none",
#define SQ_X(e, s) [SQ_DLQ_##e] = s,
    SQ_DLQ_REASONS(SQ_X)
#undef SQ_X
};

const char *sq_dlq_reason_name(enum sq_dlq_reason r)
{
    return (r >= 0 && r < SQ_DLQ__COUNT) ? sq_dlq_names[r] : "unknown";
}

const char *sq_verdict_name(enum sq_verdict v)
{
    switch (v) {
    case SQ_VERDICT_PENDING: return "pending";
    case SQ_VERDICT_PROCESSED: return "processed";
    case SQ_VERDICT_DUPLICATE: return "duplicate";
    case SQ_VERDICT_DLQ: return "dlq";
    case SQ_VERDICT_SKIPPED: return "skipped";
    }
    return "unknown";
}
