/* test_decode.c: unit tests of the decode processor (processors/decode.c)
 * and the strict UTF-8 check (processors/sq_utf8.c): every DLQ reason, the
 * order SPEC 15 gives them, tombstones, and the schema choice. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "sq_utf8.h"

static struct sq_settings st;

static void setup(void)
{
    memset(&st, 0, sizeof st);
    st.max_message_bytes = 65536;
    st.max_depth = 64;
}

TestSuite(decode, .init = setup);

static char detail[512];

/* sq_decode_bytes over len bytes; checks that *out is set exactly when the
 * message is accepted, and that it is then an object. */
static enum sq_dlq_reason decn(const char *buf, size_t len)
{
    json_t *out = (json_t *)&out; /* must be overwritten */
    enum sq_dlq_reason r = sq_decode_bytes(buf, len, &st, &out, detail, sizeof detail);
    if (r == SQ_DLQ_NONE) {
        cr_assert(json_is_object(out), "accepted but not an object: %.80s", buf);
        json_decref(out);
    } else {
        cr_assert_null(out, "rejected (%s) but out set", sq_dlq_reason_name(r));
        cr_assert(detail[0] != '\0', "no detail for %s", sq_dlq_reason_name(r));
    }
    return r;
}

static enum sq_dlq_reason dec(const char *s)
{
    return decn(s, strlen(s));
}

#define expect(reason, s)                                                                \
    do {                                                                                 \
        enum sq_dlq_reason r_ = dec(s);                                                  \
        cr_expect_eq(r_, (reason), "%.80s: got %s, want %s (%s)", (s), sq_dlq_reason_name(r_), \
                     sq_dlq_reason_name(reason), detail);                                \
    } while (0)

/* A buffer of n bytes: `{"a":"xxx…"}` padded to exactly n. */
static char *big_object(size_t n)
{
    char *b = malloc(n);
    cr_assert(n >= 8);
    memset(b, 'x', n);
    memcpy(b, "{\"a\":\"", 6);
    memcpy(b + n - 2, "\"}", 2);
    return b;
}

/* depth nested arrays around 1: "[[1]]" for 2. */
static char *nested(size_t depth, char open, char close)
{
    char *b = malloc(2 * depth + 2);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++)
        b[o++] = open;
    if (open == '[')
        b[o++] = '1';
    for (size_t i = 0; i < depth; i++)
        b[o++] = close;
    b[o] = '\0';
    return b;
}

/* ---- too_large ---------------------------------------------------------- */

Test(decode, too_large_detail)
{
    char *b = big_object(70000);
    cr_assert_eq(decn(b, 70000), SQ_DLQ_TOO_LARGE);
    cr_assert_str_eq(detail, "message of 70000 bytes exceeds limits.max_message_bytes 65536");
    free(b);
}

Test(decode, too_large_boundary)
{
    st.max_message_bytes = 10;
    expect(SQ_DLQ_NONE, "{\"a\":\"bb\"}");      /* 10 bytes */
    expect(SQ_DLQ_TOO_LARGE, "{\"a\":\"bbb\"}"); /* 11 bytes */
    st.max_message_bytes = 65536;
    char *b = big_object(65536);
    cr_expect_eq(decn(b, 65536), SQ_DLQ_NONE);
    free(b);
    b = big_object(65537);
    cr_expect_eq(decn(b, 65537), SQ_DLQ_TOO_LARGE);
    free(b);
}

Test(decode, too_large_wins_over_everything)
{
    st.max_message_bytes = 8;
    expect(SQ_DLQ_TOO_LARGE, "{\"a\":\"\xff\xfe\"}"); /* also bad UTF-8 */
    expect(SQ_DLQ_TOO_LARGE, "[[[[[[[[[[[[[[");       /* also too deep, malformed */
    expect(SQ_DLQ_TOO_LARGE, "not json at all");
    expect(SQ_DLQ_TOO_LARGE, "[1,2,3,4,5]"); /* also not an object */
}

/* ---- bad_utf8 ----------------------------------------------------------- */

Test(decode, bad_utf8_raw_bytes)
{
    static const char *const bad[] = {
        "\xc3\x28",             /* lead byte, no continuation */
        "\xc0\xaf",             /* overlong '/' */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\xaf",         /* overlong 3 bytes */
        "\xe0\x9f\xbf",         /* overlong U+07FF */
        "\xf0\x80\x80\xaf",     /* overlong 4 bytes */
        "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
        "\xed\xa0\x80",         /* U+D800 encoded */
        "\xed\xbf\xbf",         /* U+DFFF encoded */
        "\xf4\x90\x80\x80",     /* U+110000 */
        "\xf5\x80\x80\x80",     /* lead byte above F4 */
        "\xff",
        "\xfe",
        "\x80",                 /* lone continuation */
        "\xbf\xbf",
        "\xe2\x82",             /* truncated euro sign */
        "\xf0\x9f\x98",         /* truncated emoji */
        "\xe2\x28\xa1",         /* bad second byte */
        "\xf0\x9f\x28\x80",     /* bad third byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"a\":\"x%sy\"}", bad[i]);
        expect(SQ_DLQ_BAD_UTF8, buf);
        snprintf(buf, sizeof buf, "{\"k%s\":1}", bad[i]);
        expect(SQ_DLQ_BAD_UTF8, buf);
        snprintf(buf, sizeof buf, "{\"a\":%s}", bad[i]); /* outside a string */
        expect(SQ_DLQ_BAD_UTF8, buf);
    }
    /* truncated at the very end of the buffer */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\xe2\x82");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":1}\xc3");
}

Test(decode, bad_utf8_detail)
{
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"x\xffy\"}");
    cr_assert_str_eq(detail, "invalid UTF-8 byte 0xFF at byte 7");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800\"}");
    cr_assert_str_eq(detail, "escaped lone surrogate \\uD800 at byte 6");
}

Test(decode, valid_utf8_accepted)
{
    static const char *const good[] = {
        "\xc2\xa9",             /* U+00A9 */
        "\xdf\xbf",             /* U+07FF */
        "\xe0\xa0\x80",         /* U+0800 */
        "\xe2\x82\xac",         /* euro */
        "\xed\x9f\xbf",         /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",         /* U+E000, just above */
        "\xef\xbf\xbf",         /* U+FFFF */
        "\xf0\x90\x80\x80",     /* U+10000 */
        "\xf0\x9f\x98\x80",     /* emoji */
        "\xf4\x8f\xbf\xbf",     /* U+10FFFF */
        "\xe4\xb8\xad\xe6\x96\x87",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"a\":\"%s\",\"%s\":1}", good[i], good[i]);
        expect(SQ_DLQ_NONE, buf);
    }
}

Test(decode, escaped_surrogates)
{
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800\"}");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\uDBFF\"}");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\udc00\"}");          /* lone low */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\uDFFF x\"}");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800\\u0041\"}");   /* high + non-low */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800\\ud800\"}");   /* high + high */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800x\\udc00\"}");  /* not adjacent */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\udc00\\ud800\"}");   /* wrong order */
    expect(SQ_DLQ_BAD_UTF8, "{\"\\ud800\":1}");              /* in a key */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\ud800");             /* at the end */
    expect(SQ_DLQ_NONE, "{\"a\":\"\\ud83d\\ude00\"}");
    expect(SQ_DLQ_NONE, "{\"a\":\"\\uD83D\\uDE00\"}");
    expect(SQ_DLQ_NONE, "{\"a\":\"\\udbff\\udfff\"}");
    expect(SQ_DLQ_NONE, "{\"a\":\"\\ud7ff\\ue000\"}");
    /* An escaped backslash followed by "ud800" is text, not an escape. */
    expect(SQ_DLQ_NONE, "{\"a\":\"\\\\ud800\"}");
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\\\\\ud800\"}");
    /* An escaped quote does not end the string. */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\\\" \\ud800\"}");
    /* Escapes are looked for inside strings only. */
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":1} \\ud800");
    /* Malformed \u escapes are jansson's to reject. */
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":\"\\u12\"}");
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":\"\\uZZZZ\"}");
}

Test(decode, bad_utf8_before_too_deep)
{
    st.max_depth = 3;
    expect(SQ_DLQ_BAD_UTF8, "[[[[[[\"\xff\"]]]]]]");
    expect(SQ_DLQ_BAD_UTF8, "[[[[[[1]]]]]] \xff");        /* invalid after the excess */
    expect(SQ_DLQ_BAD_UTF8, "[[[[[[\"\\udc00\"]]]]]]");   /* lone surrogate escape */
    expect(SQ_DLQ_BAD_UTF8, "{\"a\":\"\xc0\x80\"");      /* also malformed */
    expect(SQ_DLQ_BAD_UTF8, "[\"\xed\xa0\x80\"]");       /* also not an object */
}

/* ---- too_deep ----------------------------------------------------------- */

Test(decode, depth_limit_exact)
{
    st.max_depth = 3;
    expect(SQ_DLQ_NONE, "{\"a\":{\"b\":{\"c\":1}}}");
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":{\"b\":{\"c\":{}}}}");
    expect(SQ_DLQ_NONE, "{\"a\":[[1]]}");
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":[[[1]]]}");
    expect(SQ_DLQ_NONE, "{\"a\":[[1],[2],{\"b\":2}],\"c\":{\"d\":[3]}}");
    cr_assert_str_eq((dec("{\"a\":[[[1]]]}"), detail),
                     "nesting deeper than limits.max_depth 3 at byte 7");
}

Test(decode, depth_counts_from_one)
{
    st.max_depth = 1;
    expect(SQ_DLQ_NONE, "{}");
    expect(SQ_DLQ_NONE, "{\"a\":1,\"b\":\"[[[{{{\"}");
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":{}}");
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":[]}");
    st.max_depth = 2;
    char *b = nested(2, '[', ']');
    cr_assert_str_eq(b, "[[1]]");
    expect(SQ_DLQ_NOT_OBJECT, b); /* depth 2 is allowed: then not an object */
    free(b);
    b = nested(3, '[', ']');
    expect(SQ_DLQ_TOO_DEEP, b);
    free(b);
}

Test(decode, depth_ignores_strings)
{
    st.max_depth = 2;
    expect(SQ_DLQ_NONE, "{\"a\":\"[[[[[[[[{{{{{\"}");
    expect(SQ_DLQ_NONE, "{\"[[[[\":\"\\\"[[[[[[\",\"b\":[\"]]]]\"]}");
    expect(SQ_DLQ_NONE, "{\"a\":\"\\\\\",\"b\":[1]}"); /* string ending in a backslash */
}

Test(decode, too_deep_before_malformed_and_not_object)
{
    st.max_depth = 3;
    expect(SQ_DLQ_TOO_DEEP, "[[[[");            /* unclosed */
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":[[[x]]]}"); /* bad token inside */
    expect(SQ_DLQ_TOO_DEEP, "[[[[1]]]]");       /* also not an object */
    expect(SQ_DLQ_TOO_DEEP, "{\"a\":{\"a\":{\"a\":{\"a\":1}}},\"a\":2}"); /* dup key too */
}

Test(decode, very_deep_input_does_not_crash)
{
    size_t depth = 60000;
    st.max_message_bytes = 1 << 20;
    char *b = nested(depth, '[', ']');
    expect(SQ_DLQ_TOO_DEEP, b);
    free(b);
    b = nested(depth, '{', '}');
    expect(SQ_DLQ_TOO_DEEP, b);
    free(b);
}

Test(decode, parser_limit_agrees_with_max_depth)
{
    /* The largest max_depth init accepts must parse at that depth. */
    st.max_depth = SQ_DECODE_MAX_DEPTH;
    size_t d = (size_t)SQ_DECODE_MAX_DEPTH - 1;
    char *inner = nested(d, '[', ']');
    size_t n = strlen(inner) + 8;
    char *b = malloc(n);
    snprintf(b, n, "{\"a\":%s}", inner);
    expect(SQ_DLQ_NONE, b);
    free(b);
    free(inner);
    inner = nested(d + 1, '[', ']');
    n = strlen(inner) + 8;
    b = malloc(n);
    snprintf(b, n, "{\"a\":%s}", inner);
    expect(SQ_DLQ_TOO_DEEP, b);
    free(b);
    free(inner);
}

/* ---- malformed_json ----------------------------------------------------- */

Test(decode, malformed)
{
    static const char *const bad[] = {
        "{\"a\":1,\"a\":2}",
        "{\"o\":{\"k\":1,\"k\":\"x\"}}",
        "{\"a\":\"x\\u0000\"}",
        "{\"\\u0000\":1}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{\"a\":1},",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1,}",
        "{\"a\":NaN}",
        "{\"a\":01}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1",
        "{",
        "}",
        "\"abc",
        "[1",
        "   ",
        "\xef\xbb\xbf{}", /* BOM */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(SQ_DLQ_MALFORMED_JSON, bad[i]);
}

Test(decode, malformed_nul_bytes_and_empty)
{
    cr_expect_eq(decn("", 0), SQ_DLQ_MALFORMED_JSON);
    cr_expect_str_eq(detail, "empty message");
    cr_expect_eq(decn("{\"a\":\"x\0y\"}", 11), SQ_DLQ_MALFORMED_JSON);
    cr_expect_eq(decn("{\"a\":1}\0", 8), SQ_DLQ_MALFORMED_JSON);
    cr_expect_eq(decn("\0", 1), SQ_DLQ_MALFORMED_JSON);
    cr_expect_eq(decn("{\"a\":1}", 7), SQ_DLQ_NONE);
}

Test(decode, malformed_detail)
{
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":1,\"a\":2}");
    cr_assert(strncmp(detail, "malformed JSON at line 1 column ", 32) == 0, "%s", detail);
    cr_assert(strstr(detail, "duplicate") != NULL, "%s", detail);
    /* A control character from the input does not reach the header. */
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":\"x\ny\"}");
    for (const char *p = detail; *p; p++)
        cr_assert((unsigned char)*p >= 0x20, "control byte in detail: %s", detail);
    expect(SQ_DLQ_MALFORMED_JSON, "{\"a\":\"x\\u0000\"}");
    cr_assert_str_eq(detail, "malformed JSON at line 1 column 14: NUL character (\\u0000) in a string");
    expect(SQ_DLQ_MALFORMED_JSON, "\n\n{\"a\":x}");
    cr_assert(strncmp(detail, "malformed JSON at line 3 column ", 32) == 0, "%s", detail);
}

/* ---- not_object --------------------------------------------------------- */

Test(decode, not_object)
{
    static const char *const scalars[] = {
        "\"abc\"", "[1]", "[]", "1", "-2.5e3", "true", "false", "null", " [ {\"a\":1} ] ",
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        expect(SQ_DLQ_NOT_OBJECT, scalars[i]);
    dec("[1]");
    cr_assert_str_eq(detail, "top-level value is an array, not an object");
    dec("\"abc\"");
    cr_assert_str_eq(detail, "top-level value is a string, not an object");
}

Test(decode, accepted_objects)
{
    expect(SQ_DLQ_NONE, "{}");
    expect(SQ_DLQ_NONE, " \t\r\n{\"a\":[1,2.5,-3e2,true,false,null,\"s\"],\"b\":{}}\n");
    expect(SQ_DLQ_NONE, "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}");
    json_t *out;
    const char *s = "{\"schema\":\"contact.v1\",\"n\":{\"k\":[1]}}";
    cr_assert_eq(sq_decode_bytes(s, strlen(s), &st, &out, detail, sizeof detail), SQ_DLQ_NONE);
    cr_assert_str_eq(json_string_value(json_object_get(out, "schema")), "contact.v1");
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(json_object_get(out, "n"), "k"), 0)), 1);
    cr_assert_eq(out->refcount, 1);
    json_decref(out);
}

/* ---- the processor ------------------------------------------------------ */

static void msg_init(struct sq_msg *m, const char *topic, const char *dflt, const char *key,
                     const char *value, size_t value_len)
{
    memset(m, 0, sizeof *m);
    m->topic = topic;
    m->default_schema = dflt;
    m->key = key;
    m->key_len = key ? strlen(key) : 0;
    m->value = value;
    m->value_len = value_len;
}

static void run(struct sq_msg *msgs, size_t n)
{
    void *ctx = NULL;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_OK, "%s", err.msg);
    struct sq_batch b;
    memset(&b, 0, sizeof b);
    b.msgs = msgs;
    b.n = n;
    cr_assert_eq(sq_proc_decode.process(ctx, &b, &err), SQ_OK);
    sq_proc_decode.destroy(ctx);
}

/* Runs one message with a NUL-terminated value. */
static void run1(struct sq_msg *m, const char *topic, const char *dflt, const char *key,
                 const char *value)
{
    msg_init(m, topic, dflt, key, value, value ? strlen(value) : 0);
    run(m, 1);
}

static void expect_dlq(struct sq_msg *m, enum sq_dlq_reason reason, const char *detail_text)
{
    cr_assert_eq(m->verdict, SQ_VERDICT_DLQ);
    cr_assert_eq(m->reason, reason, "got %s", sq_dlq_reason_name(m->reason));
    cr_assert_null(m->event);
    cr_assert_null(m->schema);
    if (detail_text)
        cr_assert_str_eq(m->detail, detail_text);
}

Test(decode, proc_schema_from_field_and_default)
{
    struct sq_msg m;
    run1(&m, "sq.in.contacts", "contact.v1", "C1",
         "{\"schema\":\"ticket.v1\",\"customer_id\":\"C1\"}");
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_eq(m.schema, sq_schema_lookup("ticket.v1")); /* the static name */
    cr_assert_str_eq(m.schema, "ticket.v1");
    cr_assert_str_eq(m.customer_id, "C1");
    cr_assert_eq(m.customer_id, json_string_value(json_object_get(m.event, "customer_id")));
    sq_msg_fini(&m);

    run1(&m, "sq.in.tickets", "ticket.v1", NULL, "{\"event_id\":\"e1\"}");
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_str_eq(m.schema, "ticket.v1");
    cr_assert_null(m.customer_id);
    cr_assert(json_is_object(m.event));
    sq_msg_fini(&m);

    run1(&m, "misc", NULL, NULL, "{\"schema\":\"outage.v1\",\"customer_id\":42}");
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_str_eq(m.schema, "outage.v1");
    cr_assert_null(m.customer_id); /* not a string */
    sq_msg_fini(&m);
}

Test(decode, proc_unknown_schema)
{
    struct sq_msg m;
    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"schema\":\"foo.v9\"}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema unknown schema \"foo.v9\"");
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"schema\":\"Contact.v1\"}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema unknown schema \"Contact.v1\"");
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"schema\":7}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema schema is a number, not a string");
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"schema\":null}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA, "/schema schema is null, not a string");
    sq_msg_fini(&m);

    run1(&m, "misc", NULL, NULL, "{\"a\":1}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA,
               "\"\" no schema field, and topic misc has no default schema");
    sq_msg_fini(&m);

    run1(&m, "misc", "nope.v1", NULL, "{\"a\":1}");
    expect_dlq(&m, SQ_DLQ_UNKNOWN_SCHEMA,
               "\"\" no schema field, and the topic default \"nope.v1\" is unknown");
    sq_msg_fini(&m);

    /* A hostile name is escaped and cut short in the detail. */
    run1(&m, "misc", NULL, NULL, "{\"schema\":\"a\\\"b\\n\\u00e9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    cr_assert_eq(m.reason, SQ_DLQ_UNKNOWN_SCHEMA);
    cr_assert(strncmp(m.detail, "/schema unknown schema \"a\\\"b\\u000A\xc3\xa9xxx", 37) == 0,
              "%s", m.detail);
    size_t dl = strlen(m.detail);
    cr_assert(dl < 24 + 2 + 64 + 16, "detail too long: %zu", dl);
    cr_assert_str_eq(m.detail + dl - 4, "...\"");
    cr_assert_eq(sq_utf8_invalid_at(m.detail, dl), dl);
    sq_msg_fini(&m);
}

Test(decode, proc_dlq_details_have_root_pointer)
{
    struct sq_msg m;
    char *b = big_object(70000);
    msg_init(&m, "sq.in.contacts", "contact.v1", NULL, b, 70000);
    run(&m, 1);
    expect_dlq(&m, SQ_DLQ_TOO_LARGE,
               "\"\" message of 70000 bytes exceeds limits.max_message_bytes 65536");
    sq_msg_fini(&m);
    free(b);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"a\":1} x");
    expect_dlq(&m, SQ_DLQ_MALFORMED_JSON, NULL);
    cr_assert(strncmp(m.detail, "\"\" malformed JSON at line 1 column ", 35) == 0, "%s",
              m.detail);
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "[1]");
    expect_dlq(&m, SQ_DLQ_NOT_OBJECT, "\"\" top-level value is an array, not an object");
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", NULL, "{\"a\":\"\\udc00\"}");
    expect_dlq(&m, SQ_DLQ_BAD_UTF8, "\"\" escaped lone surrogate \\uDC00 at byte 6");
    sq_msg_fini(&m);
}

Test(decode, proc_empty_and_tombstone)
{
    struct sq_msg m;
    run1(&m, "sq.in.contacts", "contact.v1", "C1", NULL);
    expect_dlq(&m, SQ_DLQ_MALFORMED_JSON, NULL);
    sq_msg_fini(&m);

    run1(&m, "sq.in.contacts", "contact.v1", "C1", "");
    expect_dlq(&m, SQ_DLQ_MALFORMED_JSON, "\"\" empty message");
    sq_msg_fini(&m);

    run1(&m, "misc", NULL, "C1", NULL);
    expect_dlq(&m, SQ_DLQ_MALFORMED_JSON, NULL);
    sq_msg_fini(&m);

    /* The profiles topic: a tombstone deletes the profile of the key. */
    run1(&m, "sq.in.profiles", "profile.v1", "C1", NULL);
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_null(m.event);
    cr_assert_eq(m.schema, sq_schema_lookup("profile.v1"));
    cr_assert_null(m.customer_id);
    sq_msg_fini(&m);

    run1(&m, "sq.in.profiles", "profile.v1", "C1", "");
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_null(m.event);
    cr_assert_str_eq(m.schema, "profile.v1");
    sq_msg_fini(&m);

    run1(&m, "sq.in.profiles", "profile.v1", NULL, NULL);
    expect_dlq(&m, SQ_DLQ_MALFORMED_JSON, "\"\" profile tombstone without a key");
    sq_msg_fini(&m);

    /* A profile with a value is decoded as usual. */
    run1(&m, "sq.in.profiles", "profile.v1", "C1",
         "{\"customer_id\":\"C1\",\"tier\":\"gold\",\"region\":\"GD-SZ\"}");
    cr_assert_eq(m.verdict, SQ_VERDICT_PENDING);
    cr_assert_str_eq(m.schema, "profile.v1");
    cr_assert_str_eq(m.customer_id, "C1");
    sq_msg_fini(&m);
}

Test(decode, proc_batch_keeps_order_and_skips_finished)
{
    struct sq_msg ms[4];
    msg_init(&ms[0], "t", "contact.v1", NULL, "{\"a\":1}", 7);
    msg_init(&ms[1], "t", "contact.v1", NULL, "[1]", 3);
    msg_init(&ms[2], "t", "contact.v1", NULL, "{\"b\":2}", 7);
    ms[2].verdict = SQ_VERDICT_SKIPPED; /* already applied: left alone */
    msg_init(&ms[3], "t", "contact.v1", NULL, "{\"a\":", 5);
    sq_msg_dlq(&ms[3], SQ_DLQ_SEMANTIC, "/x", "set before"); /* first verdict stays */
    run(ms, 4);
    cr_assert_eq(ms[0].verdict, SQ_VERDICT_PENDING);
    cr_assert_eq(json_integer_value(json_object_get(ms[0].event, "a")), 1);
    cr_assert_eq(ms[1].reason, SQ_DLQ_NOT_OBJECT);
    cr_assert_null(ms[2].event);
    cr_assert_eq(ms[2].verdict, SQ_VERDICT_SKIPPED);
    cr_assert_eq(ms[3].reason, SQ_DLQ_SEMANTIC);
    cr_assert_str_eq(ms[3].detail, "/x set before");
    for (int i = 0; i < 4; i++)
        sq_msg_fini(&ms[i]);
}

Test(decode, proc_init_checks_limits)
{
    void *ctx = NULL;
    struct sq_err err;
    sq_err_clear(&err);
    st.max_depth = 0;
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_ERR_FATAL);
    cr_assert_str_eq(err.pointer, "limits.max_depth");
    st.max_depth = SQ_DECODE_MAX_DEPTH + 1;
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_ERR_FATAL);
    st.max_depth = 64;
    st.max_message_bytes = 0;
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_ERR_FATAL);
    cr_assert_str_eq(err.pointer, "limits.max_message_bytes");
    cr_assert_null(ctx);
    st.max_message_bytes = 65536;
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_OK);
    cr_assert_not_null(ctx);
    sq_proc_decode.destroy(ctx);
    sq_proc_decode.destroy(NULL);
}

Test(decode, schema_lookup)
{
    static const char *const names[] = {
        "contact.v1", "ticket.v1", "survey.v1", "qa_review.v1", "outage.v1", "profile.v1",
    };
    for (size_t i = 0; i < 6; i++) {
        char copy[32];
        snprintf(copy, sizeof copy, "%s", names[i]);
        const char *s = sq_schema_lookup(copy);
        cr_assert_not_null(s, "%s", names[i]);
        cr_assert_str_eq(s, names[i]);
        cr_assert_neq(s, copy); /* a static string, not the argument */
        cr_assert_eq(s, sq_schema_lookup(names[i]));
    }
    cr_assert_null(sq_schema_lookup(""));
    cr_assert_null(sq_schema_lookup("contact.v2"));
    cr_assert_null(sq_schema_lookup("contact.v1 "));
    cr_assert_null(sq_schema_lookup("scored.v1"));
}

/* ---- sq_utf8 against a reference decoder -------------------------------- */

/* Decodes by the bit patterns and then rejects overlongs, surrogates and
 * values above U+10FFFF: a different route to the same answer. */
static size_t ref_seq_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

Test(utf8, matches_reference)
{
    unsigned char b[4];
    /* every lead byte with every second byte, and every 3-byte sequence */
    for (unsigned a = 0x80; a < 0x100; a++) {
        b[0] = (unsigned char)a;
        for (unsigned x = 0; x < 0x100; x++) {
            b[1] = (unsigned char)x;
            cr_assert_eq(sq_utf8_seq_len(b, 2), ref_seq_len(b, 2), "%02x %02x", a, x);
            for (unsigned y = 0; y < 0x100 && a >= 0xE0 && a < 0xF0; y++) {
                b[2] = (unsigned char)y;
                if (sq_utf8_seq_len(b, 3) != ref_seq_len(b, 3))
                    cr_assert_fail("%02x %02x %02x", a, x, y);
            }
        }
    }
    /* 4-byte sequences over every second byte and edge continuation bytes */
    static const unsigned char edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0xA5, 0xBF, 0xC0, 0xFF};
    for (unsigned a = 0xF0; a < 0x100; a++)
        for (unsigned x = 0; x < 0x100; x++)
            for (size_t y = 0; y < sizeof edges; y++)
                for (size_t z = 0; z < sizeof edges; z++) {
                    b[0] = (unsigned char)a;
                    b[1] = (unsigned char)x;
                    b[2] = edges[y];
                    b[3] = edges[z];
                    if (sq_utf8_seq_len(b, 4) != ref_seq_len(b, 4))
                        cr_assert_fail("%02x %02x %02x %02x", a, x, b[2], b[3]);
                    if (sq_utf8_seq_len(b, 3) != 0)
                        cr_assert_fail("truncated accepted: %02x %02x %02x", a, x, b[2]);
                }
}

Test(utf8, invalid_at)
{
    cr_assert_eq(sq_utf8_invalid_at("", 0), 0);
    cr_assert_eq(sq_utf8_invalid_at("abc", 3), 3);
    cr_assert_eq(sq_utf8_invalid_at("a\xc3\xa9z", 4), 4);
    cr_assert_eq(sq_utf8_invalid_at("ab\xc3", 3), 2);
    cr_assert_eq(sq_utf8_invalid_at("ab\xed\xa0\x80z", 6), 2);
    cr_assert_eq(sq_utf8_invalid_at("\xf0\x9f\x98\x80\xff", 5), 4);
    cr_assert_eq(sq_utf8_invalid_at("a\0b", 3), 3); /* NUL is valid UTF-8 */
}
