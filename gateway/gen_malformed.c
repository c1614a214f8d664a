/* gen_malformed.c: the generator's malformed messages, one variant family
 * per decode DLQ reason (malformed_json, too_large, not_object, bad_utf8,
 * too_deep, unknown_schema), most of them built from a valid contact the
 * way real producers break them. Called by sq_gen_next (gen.c). */
#include "gen_int.h"

#include <inttypes.h>
#include <string.h>

#define SQ_GEN_DEEP 100        /* nesting of too_deep messages (limit: 64) */
#define SQ_GEN_LARGE_MIN 65537 /* too_large: above limits.max_message_bytes */

/* A valid contact in g->tmp, the raw material of most malformed variants. */
static void sq_gen_contact_tmp(struct sq_gen *g, const char *event_id, uint32_t cust)
{
    sq_buf_reset(&g->tmp);
    sq_gen_contact(g, &g->tmp, event_id, cust, -1, -1, g->clock_ms, false);
}

static void sq_gen_malformed_json(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                  uint32_t cust)
{
    struct sq_rng *r = &g->rng;
    sq_gen_contact_tmp(g, event_id, cust);
    const char *t = g->tmp.data;
    size_t len = g->tmp.len;
    switch (sq_rng_below(r, 9)) {
    case 0: /* cut short: a producer died mid-write */
        sq_buf_append(b, t, 1 + sq_rng_below(r, (uint32_t)len - 2));
        break;
    case 1: /* a repeated key */
        sq_buf_appendf(b, "{\"event_id\":\"%s-x\",", event_id);
        sq_buf_append(b, t + 1, len - 1);
        break;
    case 2: /* Python repr instead of JSON */
        for (size_t i = 0; i < len; i++)
            sq_buf_append(b, t[i] == '"' ? "'" : t + i, 1);
        break;
    case 3: /* a trailing comma */
        sq_buf_append(b, t, len - 1);
        sq_buf_append(b, ",}", 2);
        break;
    case 4: /* an empty value (not a tombstone outside sq.in.profiles) */
        break;
    case 5: /* a NUL character in a string */
        sq_buf_append(b, t, len - 1);
        sq_buf_append(b, ",\"note\":\"a\\u0000b\"}", 19);
        break;
    case 6: /* two events in one message */
        sq_buf_append(b, t, len);
        sq_buf_append(b, t, len);
        break;
    case 7: /* NaN is not JSON */
        sq_buf_append(b, "{\"hold_s\":NaN,", 14);
        sq_buf_append(b, t + 1, len - 1);
        break;
    default: /* the wrong serializer */
        sq_buf_appendf(b, "<contact id=\"%s\"><channel>voice</channel></contact>", event_id);
        break;
    }
}

static void sq_gen_too_large(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                             uint32_t cust)
{
    static const char words[] = "customer says the line drops every evening since the "
                                "upgrade and wants a refund for the month. ";
    sq_gen_contact_tmp(g, event_id, cust);
    size_t target = SQ_GEN_LARGE_MIN + sq_rng_below(&g->rng, 16384);
    sq_buf_append(b, g->tmp.data, g->tmp.len - 1);
    sq_buf_append(b, ",\"transcript\":\"", 15);
    size_t wl = sizeof words - 1, i = 0;
    while (b->len + 2 < target) {
        size_t n = target - 2 - b->len;
        size_t off = i % wl;
        if (n > wl - off)
            n = wl - off;
        sq_buf_append(b, words + off, n);
        i += n;
    }
    sq_buf_append(b, "\"}", 2);
}

static void sq_gen_not_object(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                              uint32_t cust)
{
    switch (sq_rng_below(&g->rng, 5)) {
    case 0: /* a batch array instead of one event */
        sq_gen_contact_tmp(g, event_id, cust);
        sq_buf_append(b, "[", 1);
        sq_buf_append(b, g->tmp.data, g->tmp.len);
        sq_buf_append(b, "]", 1);
        break;
    case 1: sq_buf_appendf(b, "\"%s\"", event_id); break;
    case 2: sq_buf_appendf(b, "%" PRIu64, g->n); break;
    case 3: sq_buf_append(b, "null", 4); break;
    default: sq_buf_append(b, "true", 4); break;
    }
}

static void sq_gen_bad_utf8(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                            uint32_t cust)
{
    /* Escaped lone surrogates: invalid UTF-8 once decoded, and the message
     * stays ASCII so it fits a replay envelope unchanged. */
    static const char *const notes[] = {"\\ud800", "caf\\udfff", "\\ud83d\\u0041 smile"};
    unsigned v = sq_rng_below(&g->rng, SQ_N(notes));
    sq_gen_contact_tmp(g, event_id, cust);
    sq_buf_append(b, g->tmp.data, g->tmp.len - 1);
    sq_buf_appendf(b, ",\"note\":\"%s\"}", notes[v]);
}

static void sq_gen_too_deep(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                            uint32_t cust)
{
    struct sq_rng *r = &g->rng;
    char closers[SQ_GEN_DEEP];
    sq_buf_appendf(b, "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":", event_id);
    sq_gen_write_time(b, g->clock_ms, 0, false);
    sq_buf_append(b, ",\"customer_id\":\"", 16);
    sq_gen_write_customer(b, cust);
    sq_buf_append(b, "\",\"attrs\":", 10);
    /* The root is level 1; levels 2..DEEP-1 open here, level DEEP is the
     * empty innermost container. */
    size_t nc = 0;
    for (int level = 2; level < SQ_GEN_DEEP; level++) {
        if (sq_rng_chance(r, 0.5)) {
            sq_buf_append(b, "{\"a\":", 5);
            closers[nc++] = '}';
        } else {
            sq_buf_append(b, "[", 1);
            closers[nc++] = ']';
        }
    }
    sq_buf_append(b, "[]", 2);
    while (nc)
        sq_buf_append(b, &closers[--nc], 1);
    sq_buf_append(b, "}", 1);
}

static void sq_gen_unknown_schema(struct sq_gen *g, struct sq_buf *b, const char *event_id,
                                  uint32_t cust)
{
    static const char *const schemas[] = {"\"contact.v2\"", "\"Contact.V1\"", "\"chat.v1\"",
                                          "\"\"", "7"};
    unsigned v = sq_rng_below(&g->rng, SQ_N(schemas));
    sq_gen_contact_tmp(g, event_id, cust);
    /* tmp starts {"schema":"contact.v1", */
    static const char head[] = "{\"schema\":\"contact.v1\"";
    sq_buf_appendf(b, "{\"schema\":%s", schemas[v]);
    sq_buf_append(b, g->tmp.data + sizeof head - 1, g->tmp.len - (sizeof head - 1));
}

void sq_gen_malformed(struct sq_gen *g, int kind, struct sq_buf *b, const char *event_id,
                      uint32_t cust)
{
    switch (kind) {
    case SQ_GEN_MALFORMED_JSON: sq_gen_malformed_json(g, b, event_id, cust); break;
    case SQ_GEN_TOO_LARGE: sq_gen_too_large(g, b, event_id, cust); break;
    case SQ_GEN_NOT_OBJECT: sq_gen_not_object(g, b, event_id, cust); break;
    case SQ_GEN_BAD_UTF8: sq_gen_bad_utf8(g, b, event_id, cust); break;
    case SQ_GEN_TOO_DEEP: sq_gen_too_deep(g, b, event_id, cust); break;
    default: sq_gen_unknown_schema(g, b, event_id, cust); break;
    }
}
