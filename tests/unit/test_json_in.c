/* test_json_in.c: sq_json_loadb gives json_loadb's outcome (the same tree,
 * member order included, or the same error) on hand-picked texts, on the
 * generator's messages (malformed ones included) and on random mutations
 * of them, for every flag set the hot path uses. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "json_in.h"
#include "sq_common.h"

static const size_t flag_sets[] = {
    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, /* decode */
    0,                                        /* replay's lines */
    JSON_DECODE_ANY,
    JSON_REJECT_DUPLICATES,
    JSON_ALLOW_NUL | JSON_DECODE_ANY,         /* not taken: json_loadb's */
};

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

static void same(const char *buf, size_t len, size_t flags)
{
    json_error_t we, ge;
    json_t *want = json_loadb(buf, len, flags, &we);
    json_t *got = sq_json_loadb(buf, len, flags, &ge);
    if (!want) {
        cr_assert_null(got, "json_loadb failed (%s), sq_json_loadb parsed [%.*s]", we.text,
                       (int)len, buf);
        cr_assert_str_eq(ge.text, we.text, "[%.*s]", (int)len, buf);
        cr_assert_eq(ge.position, we.position);
        cr_assert_eq(json_error_code(&ge), json_error_code(&we));
        return;
    }
    cr_assert_not_null(got, "sq_json_loadb failed (%s) on [%.*s]", ge.text, (int)len, buf);
    cr_assert(json_equal(want, got), "[%.*s]", (int)len, buf);
    char *a = dump(want), *b = dump(got);
    cr_assert_str_eq(b, a, "member order or a real's value differ on [%.*s]", (int)len, buf);
    free(a);
    free(b);
    /* a real's sign survives (json_equal takes -0.0 for 0.0) */
    if (json_is_real(want))
        cr_assert_eq(signbit(json_real_value(want)), signbit(json_real_value(got)));
    json_decref(want);
    json_decref(got);
}

static void same_all(const char *buf, size_t len)
{
    for (size_t f = 0; f < sizeof flag_sets / sizeof *flag_sets; f++)
        same(buf, len, flag_sets[f]);
}

Test(json_in, hand_picked_texts_parse_as_jansson_parses_them)
{
    static const char *texts[] = {
        "", " ", "{}", "[]", " {} ", "{}\n", "\t[ ]\r\n", "{} x", "{}{}", "0", "-0", "-0.0",
        "01", "-01", "1.", "1.5", ".5", "-", "--1", "+1", "1e5", "1E+5", "1e-5", "1e", "1e+",
        "0.1e-2", "123456789012345678", "-123456789012345678", "1234567890123456789",
        "9223372036854775807", "-9223372036854775808", "92233720368547758070", "1e400",
        "-1e400", "1e-400", "3.141592653589793238462643383279502884197169399375105820974944",
        "true", "false", "null", "truex", "nul", "True", "true1", "[true,false,null]",
        "\"\"", "\"a\"", "\"a", "\"a\\\"b\"", "\"\\/\\b\\f\\n\\r\\t\\\\\"", "\"\\x\"",
        "\"a\\u00e9\"", "\"\\u0000\"", "\"tab\tin\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\x80\"", "\"\xe4\xb8\xad\"",
        "\xc3\xa9", "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"a\":2}}", "{\"a\" 1}", "{\"a\":}",
        "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", "{1:2}", "[1,]", "[,1]", "[1 2]", "[1,,2]",
        "{\"k\\n\":\"v\\\"\"}", "{\"a\\n\":{\"b\\t\":\"c\\r\",\"d\\n\":[\"e\\\\\"]}}",
        "{\"\":0}", "{\"b\":1,\"a\":2,\"c\":3}", "[1,2.5,-3e2,\"x\",{},[]]",
        "{\"n\":[1,{\"m\":[2,{\"o\":null}]}]}", "\"\x01\"", "[\"a\"]]", "[[[1]]", "{\"a\":[}",
        "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        same_all(texts[i], strlen(texts[i]));
    /* a NUL byte inside the buffer */
    same_all("{\"a\":1}\0", 8);
    same_all("[\"a\0b\"]", 7);
}

Test(json_in, nesting_near_and_past_its_own_limit_is_jansson_s)
{
    for (int depth = 60; depth <= 70; depth++) {
        char buf[512];
        int n = 0;
        for (int i = 0; i < depth; i++) {
            if (i % 2)
                buf[n++] = '[';
            else
                n += sprintf(buf + n, "{\"k\":");
        }
        buf[n++] = '1';
        for (int i = depth - 1; i >= 0; i--)
            buf[n++] = i % 2 ? ']' : '}';
        same_all(buf, (size_t)n);
    }
    /* past jansson's limit too */
    size_t n = 3000;
    char *deep = sq_xmalloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    same_all(deep, 2 * n);
    free(deep);
}

/* The generator's messages: every event kind, malformed ones (bad UTF-8,
 * too deep, not JSON, not an object, unknown schema) and duplicates. */
static void gen_values(int count, void (*each)(const char *buf, size_t len, void *arg), void *arg)
{
    struct sq_gen_opts o;
    sq_gen_opts_defaults(&o);
    o.seed = 11;
    o.start_ms = 1767225600000;
    o.malformed_share = 0.05;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    for (int i = 0; i < count; i++) {
        const char *topic;
        sq_gen_next(g, &topic, &key, &value);
        each(value.data ? value.data : "", value.len, arg);
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

static void check_one(const char *buf, size_t len, void *arg)
{
    (void)arg;
    same_all(buf, len);
}

Test(json_in, the_generator_s_messages_parse_as_jansson_parses_them, .timeout = 120)
{
    gen_values(20000, check_one, NULL);
}

struct sq_mut {
    uint64_t rng;
    int taken;
};

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A few bytes of each message changed, removed or put in, from bytes that
 * matter to a JSON lexer. */
static void mutate_one(const char *buf, size_t len, void *arg)
{
    struct sq_mut *m = arg;
    static const char pool[] = "\"\\{}[],:0123456789-+.eEtrufalsn u\t\n\x01\x7f\x80\xc3\xa9\xed\xff";
    char *b = sq_xmalloc(len + 8);
    for (int round = 0; round < 4; round++) {
        memcpy(b, buf, len);
        size_t n = len;
        int edits = 1 + (int)(next_rand(&m->rng) % 3);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = next_rand(&m->rng) % n;
            char c = pool[next_rand(&m->rng) % (sizeof pool - 1)];
            switch (next_rand(&m->rng) % 3) {
            case 0: b[at] = c; break;
            case 1: memmove(b + at, b + at + 1, n - at - 1); n--; break;
            default: memmove(b + at + 1, b + at, n - at); b[at] = c; n++; break;
            }
        }
        json_error_t je;
        json_t *j = json_loadb(b, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        m->taken += j != NULL;
        json_decref(j);
        same_all(b, n);
    }
    free(b);
}

Test(json_in, mutated_messages_parse_or_fail_as_jansson_parses_or_fails_them, .timeout = 120)
{
    struct sq_mut m = {0x9e3779b97f4a7c15ull, 0};
    gen_values(5000, mutate_one, &m);
    cr_assert_gt(m.taken, 1000, "some mutations still parse: %d", m.taken);
}
