/* test_json_out.c: sq_json_dumps gives json_dumps's bytes, value by value
 * and on random trees, and fails where json_dumps fails. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"

/* xorshift64: the random values of the tests below, one state each */
static unsigned long long xorshift(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void same(json_t *j, size_t flags)
{
    char *want = json_dumps(j, flags);
    size_t len = 0;
    char *got = sq_json_dumps(j, flags, &len);
    if (!want) {
        cr_assert_null(got, "json_dumps failed, sq_json_dumps gave %s", got);
        return;
    }
    cr_assert_not_null(got, "sq_json_dumps failed, json_dumps gave %s", want);
    cr_assert_str_eq(got, want);
    cr_assert_eq(len, strlen(want));
    free(want);
    free(got);
}

static const size_t flag_sets[] = {
    JSON_COMPACT,
    JSON_COMPACT | JSON_REAL_PRECISION(15),
    JSON_COMPACT | JSON_REAL_PRECISION(17),
    JSON_COMPACT | JSON_REAL_PRECISION(3),
    JSON_COMPACT | JSON_SORT_KEYS,
    JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15),
    0,
    JSON_INDENT(2) | JSON_SORT_KEYS,
    JSON_COMPACT | JSON_ENSURE_ASCII,
};

static void same_all(json_t *j)
{
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++)
        same(j, flag_sets[i]);
    json_decref(j);
}

Test(json_out, reals)
{
    const double v[] = {0.0, -0.0, 1.0, -1.0, 0.1, 0.1 + 0.2, 100.0, 1e15, 1e16, 1e17, 1e21,
                        1e22, 1e100, 1e-5, 1e-7, 1.5e-300, 1.5e300, 123456789012345678.0,
                        28.493, 1403.306, 95.7, 72.34999999999999, DBL_MIN, DBL_MAX,
                        -DBL_MAX, 5e-324, 2.5, 1.0 / 3.0, 2.0 / 3.0, 1234567.0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        same_all(json_pack("{s:f, s:[f]}", "v", v[i], "a", -v[i]));
}

/* The decimals records carry take a path of their own (sq_jo_real_short):
 * it must print what printf prints, at the edges of its range too. */
Test(json_out, decimals_print_as_printf_prints_them)
{
    const double v[] = {1e-4, 9.9999999999999e-5, 0.00010000000000000001, 0.0001234, 0.05,
                        0.5, 0.85, 0.3, 0.7, 0.1 + 0.2, 1.1, 99.99, 100.5, 73.125, 4.35,
                        999999999999999.0, 99999999999999.9, 999999999999999.9, 1e15 - 1,
                        123456.789012, 12345.6789012, 9007199254740.992, 0.123456789012345,
                        0.1234567890123456, 1.000001, 1.0000001, 2.675, 1.005, 0.015, 8.325,
                        5e-5, 7.0, 10.0, 1e14, 4503599627370495.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        same_all(json_pack("{s:f, s:[f]}", "v", v[i], "a", -v[i]));
    /* random decimals of 0-7 places and random doubles over the range */
    unsigned long long x = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 20000; i++) {
        xorshift(&x);
        static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7};
        double d = (double)(x % 100000000000ull) / scale[(x >> 40) % 8];
        double r = (double)(x >> 11) / 9007199254740992.0 * 1e6;
        json_t *j = json_pack("[f,f,f]", d, r, d / 1e5);
        same(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
        same(j, JSON_COMPACT);
        same(j, JSON_COMPACT | JSON_REAL_PRECISION(3));
        json_decref(j);
    }
}

Test(json_out, integers_and_atoms)
{
    same_all(json_pack("[I, I, I, I, b, b, n, {}, []]", (json_int_t)0, (json_int_t)-1,
                       (json_int_t)INT64_MAX, (json_int_t)INT64_MIN, 1, 0));
}

Test(json_out, strings)
{
    const char s[] = "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f é € 😀 end";
    json_t *o = json_object();
    json_object_set_new(o, s, json_string(s));
    json_object_set_new(o, "", json_string(""));
    json_object_set_new(o, "nul", json_stringn("a\0b", 3));
    json_object_setn_new(o, "k\0z", 3, json_true());
    same_all(o);
}

/* Strings are scanned eight bytes at a time: what needs an escape, and
 * invalid UTF-8, at every offset of the eight and across their edges. */
Test(json_out, strings_at_every_offset)
{
    static const char *pieces[] = {"\"", "\\", "\n", "\x01", "\x1f", " ", "\x7f", "\xc3\xa9",
                                   "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xff", "\x80", "/"};
    unsigned long long x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 5000; i++) {
        char buf[64];
        size_t n = 0;
        xorshift(&x);
        size_t plain = x % 20, at = (x >> 8) % 20;
        for (size_t k = 0; k < plain; k++)
            buf[n++] = (char)('a' + k % 26);
        const char *piece = pieces[(x >> 16) % (sizeof pieces / sizeof *pieces)];
        size_t pl = strlen(piece), cut = at < n ? at : n;
        memmove(buf + cut + pl, buf + cut, n - cut);
        memcpy(buf + cut, piece, pl);
        n += pl;
        json_t *j = json_array();
        json_array_append_new(j, json_stringn_nocheck(buf, n));
        same(j, JSON_COMPACT);
        same(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(j);
    }
}

Test(json_out, key_order)
{
    json_t *o = json_object();
    const char *keys[] = {"b", "a", "ab", "aa", "B", "", "a\x7f", "\xc3\xa9", "ba", "a0"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_object_set_new(o, keys[i], json_integer((json_int_t)i));
    json_object_setn_new(o, "a\0", 2, json_integer(99));
    same_all(o);
}

Test(json_out, failures)
{
    same_all(json_string("only a string")); /* not a container: NULL */
    json_t *atoms = json_pack("[i, s, f]", 3, "x", 0.5);
    for (size_t i = 0; i < json_array_size(atoms); i++)
        same(json_array_get(atoms, i), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(atoms);
    json_t *bad = json_pack("[o]", json_stringn_nocheck("\xff\xfe", 2)); /* not UTF-8 */
    same_all(bad);
    json_t *a = json_array(), *b = json_array();
    json_array_append(a, b);
    json_array_append(b, a); /* a cycle */
    same(a, JSON_COMPACT);
    json_array_clear(b);
    json_decref(b);
    json_decref(a);
}

Test(json_out, deep_nesting)
{
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 3000; i++) {
        json_t *next = i % 2 ? json_array() : json_object();
        if (json_is_array(cur))
            json_array_append_new(cur, next);
        else
            json_object_set_new(cur, "k", next);
        cur = next;
    }
    same(root, JSON_COMPACT);
    json_decref(root);
}

/* ---- random trees -------------------------------------------------------- */

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
    return (unsigned)(xorshift(&rng_state) % n);
}

static json_t *random_string(void)
{
    static const char *const parts[] = {"a", "Z", "0", " ", "\"", "\\", "\n", "\x02", "é",
                                        "中", "😀", "/", "\x7f", "key", "ß"};
    char buf[64] = "";
    unsigned n = rnd(6);
    for (unsigned i = 0; i < n; i++)
        strcat(buf, parts[rnd(sizeof parts / sizeof parts[0])]);
    return json_string(buf);
}

static json_t *random_value(int depth)
{
    unsigned k = rnd(depth > 4 ? 6 : 8);
    switch (k) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 3: return json_real(((double)rnd(1000000) - 500000) / (double)(1u << rnd(30)));
    case 4:
        return json_real(pow(10.0, (double)rnd(80) - 40) * (rnd(2) ? 1 : -1) * 1.2345678901234567);
    case 5: return random_string();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(5); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(6); i > 0; i--) {
            json_t *key = random_string();
            json_object_set_new(o, json_string_value(key), random_value(depth + 1));
            json_decref(key);
        }
        return o;
    }
    }
}

Test(json_out, random_trees)
{
    for (int i = 0; i < 3000; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "v", random_value(0));
        for (size_t f = 0; f < 6; f++)
            same(o, flag_sets[f]);
        json_decref(o);
    }
}

Test(json_out, put_string_is_json_stringn)
{
    const char *v[] = {"",     "plain",  "q\"b\\s\n\x01", "é€😀",
                       "a\0b", "\xff",   "ok\xc3",       "\xed\xa0\x80"};
    const size_t n[] = {0, 5, 7, 9, 3, 1, 3, 3};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sq_buf b;
        sq_buf_init(&b);
        sq_buf_append(&b, "x", 1);
        json_t *s = json_stringn(v[i], n[i]);
        int rc = sq_json_put_string(&b, v[i], n[i]);
        if (!s) {
            cr_assert_eq(rc, -1, "#%zu", i);
            cr_assert_str_eq(b.data, "x");
        } else {
            char *want = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);
            cr_assert_eq(rc, 0, "#%zu", i);
            cr_assert_str_eq(b.data + 1, want);
            free(want);
        }
        json_decref(s);
        sq_buf_fini(&b);
    }
}
