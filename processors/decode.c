/* decode.c: the `decode` processor (SPEC 3, SPEC 15 "Decode order"). One
 * linear pass checks UTF-8, escaped surrogates and nesting depth together;
 * jansson then parses; last the schema is taken from the `schema` field or
 * the topic default. The chain runner calls it first for every batch. */
#include "decode.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_arena.h"
#include "json_in.h"
#include "sq_utf8.h"

/* The input schemas of SPEC 2; sq_schema_lookup hands out these pointers. */
static const char *const sq_schema_names[] = {
    "contact.v1", "ticket.v1", "survey.v1", "qa_review.v1", "outage.v1", "profile.v1",
};
#define SQ_SCHEMA_PROFILE "profile.v1"

/* Longest schema name quoted back in a detail, in bytes. */
#define SQ_DECODE_NAME_MAX 64

#define SQ_DECODE_MAGIC 0x5344ec0du

struct sq_decode {
    uint32_t magic;
    const struct sq_settings *st;
};

const char *sq_schema_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof sq_schema_names / sizeof sq_schema_names[0]; i++)
        if (strcmp(name, sq_schema_names[i]) == 0)
            return sq_schema_names[i];
    return NULL;
}

/* Four hex digits at p to *cp; false when one is not a hex digit. */
static bool sq_hex4(const unsigned char *p, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return false;
    }
    *cp = v;
    return true;
}

/* Steps 2 and 3 in one pass over the bytes: strict UTF-8 everywhere, escaped
 * lone surrogates inside strings (bad_utf8), and the nesting depth counted
 * outside strings (too_deep). A too-deep document is only reported once the
 * whole buffer has proved to be UTF-8, because bad_utf8 comes first. The
 * string tracking needs no valid JSON: on broken input it may misjudge where
 * strings are, which matters little as jansson rejects that input anyway. */
static enum sq_dlq_reason sq_decode_scan(const unsigned char *s, size_t len, int64_t max_depth,
                                         char *detail, size_t detail_sz)
{
    size_t i = 0;
    int64_t depth = 0;
    size_t deep_at = SIZE_MAX;

    while (i < len) {
        /* Outside strings: structure. */
        while (i < len) {
            unsigned char c = s[i];
            if (c == '"')
                break;
            if (c >= 0x80) {
                size_t n = sq_utf8_seq_len(s + i, len - i);
                if (n == 0)
                    goto bad_byte;
                i += n;
                continue;
            }
            if (c == '{' || c == '[') {
                if (++depth > max_depth && deep_at == SIZE_MAX)
                    deep_at = i;
            } else if ((c == '}' || c == ']') && depth > 0) {
                depth--;
            }
            i++;
        }
        if (i >= len)
            break;
        i++; /* opening quote */

        /* Inside a string: only quotes, escapes and multi-byte characters
         * need a look. */
        while (i < len) {
            unsigned char c = s[i];
            if (c == '"')
                break;
            if (c >= 0x80) {
                size_t n = sq_utf8_seq_len(s + i, len - i);
                if (n == 0)
                    goto bad_byte;
                i += n;
                continue;
            }
            if (c != '\\') {
                i++;
                continue;
            }
            if (i + 1 >= len) {
                i++;
                continue;
            }
            unsigned char e = s[i + 1];
            unsigned cp, lo;
            if (e != 'u' || i + 6 > len || !sq_hex4(s + i + 2, &cp)) {
                /* A two-byte escape (valid or not: jansson judges), or a
                 * backslash before a multi-byte character, checked next. */
                i += e < 0x80 ? 2 : 1;
                continue;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 12 <= len && s[i + 6] == '\\' && s[i + 7] == 'u' &&
                    sq_hex4(s + i + 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                    i += 12;
                    continue;
                }
                goto lone_surrogate;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                goto lone_surrogate;
            i += 6;
            continue;

        lone_surrogate:
            snprintf(detail, detail_sz, "escaped lone surrogate \\u%04X at byte %zu", cp, i);
            return SQ_DLQ_BAD_UTF8;
        }
        if (i >= len)
            break;
        i++; /* closing quote */
    }

    if (deep_at != SIZE_MAX) {
        snprintf(detail, detail_sz, "nesting deeper than limits.max_depth %" PRId64 " at byte %zu",
                 max_depth, deep_at);
        return SQ_DLQ_TOO_DEEP;
    }
    return SQ_DLQ_NONE;

bad_byte:
    snprintf(detail, detail_sz, "invalid UTF-8 byte 0x%02X at byte %zu", s[i], i);
    return SQ_DLQ_BAD_UTF8;
}


static const char *sq_json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* sq_decode_bytes; parsed, when not NULL, is what jansson makes of buf,
 * taken (a new reference) instead of parsing buf again. */
static enum sq_dlq_reason sq_decode_bytes_parsed(const char *buf, size_t len,
                                                 const struct sq_settings *st, json_t *parsed,
                                                 json_t **out, char *detail, size_t detail_sz)
{
    *out = NULL;
    if (detail_sz > 0)
        detail[0] = '\0';

    /* 1. too_large */
    if (st->max_message_bytes < 0 || (uint64_t)len > (uint64_t)st->max_message_bytes) {
        snprintf(detail, detail_sz,
                 "message of %zu bytes exceeds limits.max_message_bytes %" PRId64, len,
                 st->max_message_bytes);
        return SQ_DLQ_TOO_LARGE;
    }

    /* 2, 3. bad_utf8, too_deep */
    enum sq_dlq_reason r =
        sq_decode_scan((const unsigned char *)buf, len, st->max_depth, detail, detail_sz);
    if (r != SQ_DLQ_NONE)
        return r;

    /* 4. malformed_json */
    if (len == 0) {
        snprintf(detail, detail_sz, "empty message");
        return SQ_DLQ_MALFORMED_JSON;
    }
    json_error_t jerr;
    /* No JSON_ALLOW_NUL: "\u0000" is an error. JSON_DECODE_ANY: a scalar
     * parses, so it is reported as not_object rather than malformed. */
    json_t *root = parsed ? json_incref(parsed)
                          : sq_json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_out_of_memory) {
            /* As sq_xmalloc: out of memory aborts. */
            fprintf(stderr, "sqgate: out of memory parsing JSON\n");
            abort();
        }
        char text[JSON_ERROR_TEXT_LENGTH];
        if (code == json_error_null_character) /* jansson names its flag */
            snprintf(text, sizeof text, "NUL character (\\u0000) in a string");
        else
            sq_utf8_clean_copy(text, sizeof text, jerr.text);
        /* Defensive: the scan above already caught both of these. */
        if (code == json_error_invalid_utf8)
            r = SQ_DLQ_BAD_UTF8;
        else if (code == json_error_stack_overflow)
            r = SQ_DLQ_TOO_DEEP;
        else
            r = SQ_DLQ_MALFORMED_JSON;
        snprintf(detail, detail_sz, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, text);
        return r;
    }

    /* 5. not_object */
    if (!json_is_object(root)) {
        snprintf(detail, detail_sz, "top-level value is %s, not an object",
                 sq_json_type_name(root));
        json_decref(root);
        return SQ_DLQ_NOT_OBJECT;
    }
    *out = root;
    return SQ_DLQ_NONE;
}

enum sq_dlq_reason sq_decode_bytes(const char *buf, size_t len, const struct sq_settings *st,
                                   json_t **out, char *detail, size_t detail_sz)
{
    return sq_decode_bytes_parsed(buf, len, st, NULL, out, detail, detail_sz);
}

/* Writes s as a quoted string for a detail: at most SQ_DECODE_NAME_MAX bytes
 * of it, cut at a character boundary, with '"', '\\' and control bytes
 * escaped. */
static void sq_decode_quote(char *out, size_t outsz, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, o = 0;
    out[o++] = '"';
    while (i < len) {
        char piece[8];
        size_t n, adv = 1; /* bytes written, bytes read */
        if (p[i] == '"' || p[i] == '\\') {
            piece[0] = '\\';
            piece[1] = (char)p[i];
            n = 2;
        } else if (p[i] < 0x20 || p[i] == 0x7F) {
            n = (size_t)snprintf(piece, sizeof piece, "\\u%04X", p[i]);
        } else if (p[i] < 0x80) {
            piece[0] = (char)p[i];
            n = 1;
        } else if ((adv = sq_utf8_seq_len(p + i, len - i)) != 0) {
            memcpy(piece, p + i, adv);
            n = adv;
        } else { /* not from jansson, which gives UTF-8 */
            piece[0] = '?';
            n = adv = 1;
        }
        if (i + adv > SQ_DECODE_NAME_MAX || o + n + 5 > outsz) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, piece, n);
        o += n;
        i += adv;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Step 6: the schema from the `schema` field, else the topic default. */
static const char *sq_decode_schema(struct sq_msg *m, json_t *ev)
{
    char quoted[SQ_DECODE_NAME_MAX * 6 + 8];
    json_t *sj = json_object_get(ev, "schema");
    if (sj) {
        if (!json_is_string(sj)) {
            sq_msg_dlq(m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema", "schema is %s, not a string",
                       sq_json_type_name(sj));
            return NULL;
        }
        const char *name = sq_schema_lookup(json_string_value(sj));
        if (!name) {
            sq_decode_quote(quoted, sizeof quoted, json_string_value(sj));
            sq_msg_dlq(m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema", "unknown schema %s", quoted);
        }
        return name;
    }
    if (!m->default_schema) {
        sq_msg_dlq(m, SQ_DLQ_UNKNOWN_SCHEMA, "",
                   "no schema field, and topic %s has no default schema",
                   m->topic ? m->topic : "(none)");
        return NULL;
    }
    const char *name = sq_schema_lookup(m->default_schema);
    if (!name) {
        sq_decode_quote(quoted, sizeof quoted, m->default_schema);
        sq_msg_dlq(m, SQ_DLQ_UNKNOWN_SCHEMA, "", "no schema field, and the topic default %s is unknown",
                   quoted);
    }
    return name;
}

/* Decodes one pending message (see sq_proc_decode in decode.h). */
static void sq_decode_msg(const struct sq_settings *st, struct sq_msg *m)
{
    bool profiles = m->default_schema && strcmp(m->default_schema, SQ_SCHEMA_PROFILE) == 0;

    if (!m->value || m->value_len == 0) {
        if (!profiles) {
            sq_msg_dlq(m, SQ_DLQ_MALFORMED_JSON, "", "%s",
                       m->value ? "empty message"
                                : "null value (tombstone) on a topic without deletes");
        } else if (!m->key || m->key_len == 0) {
            sq_msg_dlq(m, SQ_DLQ_MALFORMED_JSON, "", "profile tombstone without a key");
        } else {
            /* A tombstone: deletes the profile named by the key. */
            m->event = NULL;
            m->schema = sq_schema_lookup(SQ_SCHEMA_PROFILE);
            m->customer_id = NULL;
        }
        return;
    }

    char detail[sizeof m->detail - 8];
    json_t *ev;
    enum sq_dlq_reason r = sq_decode_bytes_parsed(m->value, m->value_len, st, m->value_parsed, &ev,
                                                  detail, sizeof detail);
    if (r != SQ_DLQ_NONE) {
        sq_msg_dlq(m, r, "", "%s", detail);
        return;
    }
    const char *schema = sq_decode_schema(m, ev);
    if (!schema) {
        json_decref(ev);
        return;
    }
    m->event = ev;
    m->schema = schema;
    json_t *cj = json_object_get(ev, "customer_id");
    m->customer_id = json_is_string(cj) ? json_string_value(cj) : NULL;
}

static int sq_decode_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    if (st->max_message_bytes < 1)
        return sq_err_set(err, SQ_ERR_FATAL, "limits.max_message_bytes",
                          "must be at least 1, not %" PRId64, st->max_message_bytes);
    /* jansson refuses deeper documents by itself (it counts the scalars
     * inside the innermost container too); a larger limit would report
     * too_deep at a depth other than the configured one. */
    if (st->max_depth < 1 || st->max_depth > SQ_DECODE_MAX_DEPTH)
        return sq_err_set(err, SQ_ERR_FATAL, "limits.max_depth",
                          "must be between 1 and %d, not %" PRId64, SQ_DECODE_MAX_DEPTH,
                          st->max_depth);
    struct sq_decode *dc = sq_xcalloc(1, sizeof *dc);
    dc->magic = SQ_DECODE_MAGIC;
    dc->st = st;
    *ctx = dc;
    return SQ_OK;
}

static int sq_decode_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_decode *dc = ctx;
    (void)err;
    if (!dc || dc->magic != SQ_DECODE_MAGIC) {
        fprintf(stderr, "sqgate: BUG: decode called with a foreign context\n");
        abort();
    }
    /* the events' trees in the batch's arena, when it has one */
    struct sq_json_arena *prev = sq_json_arena_use(batch->json_arena);
    for (size_t i = 0; i < batch->n; i++)
        if (batch->msgs[i].verdict == SQ_VERDICT_PENDING)
            sq_decode_msg(dc->st, &batch->msgs[i]);
    sq_json_arena_use(prev);
    return SQ_OK;
}

static void sq_decode_destroy(void *ctx)
{
    struct sq_decode *dc = ctx;
    if (!dc)
        return;
    dc->magic = 0;
    free(dc);
}

const struct sq_processor sq_proc_decode = {
    .name = "decode",
    .init = sq_decode_init,
    .process = sq_decode_process,
    .flush = NULL,
    .destroy = sq_decode_destroy,
};
