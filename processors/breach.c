/* breach.c: names of breach codes, severities and dimensions, and breach_id. */
#include "breach.h"

#include <stdio.h>
#include <string.h>

#include "sq_common.h"

static const char *const sq_dim_names[SQ_DIM__COUNT] = {
#define SQ_X(e, s) [SQ_DIM_##e] = s,
    SQ_DIMENSIONS(SQ_X)
#undef SQ_X
};

static const struct {
    const char *name;
    enum sq_dim dim;
} sq_breach_table[SQ_BREACH__COUNT] = {
#define SQ_X(e, s, d) [SQ_BREACH_##e] = {s, SQ_DIM_##d},
    SQ_BREACH_CODES(SQ_X)
#undef SQ_X
};

const char *sq_dim_name(enum sq_dim d)
{
    return (d >= 0 && d < SQ_DIM__COUNT) ? sq_dim_names[d] : "unknown";
}

const char *sq_breach_code_name(enum sq_breach_code c)
{
    return (c >= 0 && c < SQ_BREACH__COUNT) ? sq_breach_table[c].name : "UNKNOWN";
}

enum sq_dim sq_breach_code_dim(enum sq_breach_code c)
{
    return sq_breach_table[c].dim;
}

const char *sq_severity_name(enum sq_severity s)
{
    switch (s) {
    case SQ_SEV_MINOR: return "minor";
    case SQ_SEV_MAJOR: return "major";
    case SQ_SEV_CRITICAL: return "critical";
    }
    return "unknown";
}

enum sq_severity sq_severity_up(enum sq_severity s)
{
    return s >= SQ_SEV_CRITICAL ? SQ_SEV_CRITICAL : (enum sq_severity)(s + 1);
}

void sq_breach_id_make(const char *id_source, enum sq_breach_code code, char out[33])
{
    /* the whole id_source, never a cut: a breach_id is SHA-256 of the
     * event_id as it is, however many bytes its 128 characters take */
    struct sq_buf buf = {0};
    sq_buf_append_str(&buf, id_source);
    sq_buf_append(&buf, "|", 1);
    sq_buf_append_str(&buf, sq_breach_code_name(code));
    unsigned char md[32];
    sq_xsha256(buf.data, buf.len, md);
    sq_buf_fini(&buf);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

void sq_breach_fini(struct sq_breach *b)
{
    json_decref(b->details);
    b->details = NULL;
}
