/* jsonschema_value.c: JSON value semantics for the JSON Schema validator:
 * numbers compared mathematically across jansson's integer and real kinds,
 * multipleOf in exact decimal arithmetic, JSON equality (1 == 1.0) and a
 * hash consistent with it (uniqueItems), and code-point string length. */
#include "jsonschema_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sq_jsv_num_of(const json_t *v, struct jsv_num *n)
{
    if (json_is_integer(v)) {
        n->is_int = true;
        n->i = json_integer_value(v);
        n->d = (double)n->i;
    } else {
        n->is_int = false;
        n->i = 0;
        n->d = json_real_value(v);
    }
}

/* Exact comparison of an integer with a double. */
static int jsv_cmp_int_dbl(json_int_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double fl = floor(d);
    json_int_t di = (json_int_t)fl; /* exact: |fl| < 2^63 and integral */
    if (i < di)
        return -1;
    if (i > di)
        return 1;
    return d > fl ? -1 : 0;
}

int sq_jsv_num_cmp(const struct jsv_num *a, const struct jsv_num *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    if (a->is_int)
        return jsv_cmp_int_dbl(a->i, b->d);
    if (b->is_int)
        return -jsv_cmp_int_dbl(b->i, a->d);
    return (a->d > b->d) - (a->d < b->d);
}

bool sq_jsv_is_integer(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && d == floor(d);
}

static void jsv_dec_trim(struct jsv_dec *d)
{
    if (d->mant == 0) {
        d->exp = 0;
        return;
    }
    while (d->mant % 10 == 0) {
        d->mant /= 10;
        d->exp++;
    }
}

void sq_jsv_dec_of(const struct jsv_num *n, struct jsv_dec *d)
{
    memset(d, 0, sizeof *d);
    if (n->is_int) {
        d->neg = n->i < 0;
        d->mant = d->neg ? (uint64_t)0 - (uint64_t)n->i : (uint64_t)n->i;
        jsv_dec_trim(d);
        return;
    }
    /* The shortest of 15, 16, 17 significant digits that reads back as the
     * same double: the decimal the schema author wrote, for <= 15 digits. */
    char buf[48];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, n->d);
        if (prec == 17 || strtod(buf, NULL) == n->d)
            break;
    }
    const char *p = buf;
    if (*p == '-') {
        d->neg = true;
        p++;
    }
    int digits = 0;
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') {
            d->mant = d->mant * 10 + (uint64_t)(*p - '0');
            digits++;
        }
    }
    int e = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
    d->exp = e - (digits - 1);
    jsv_dec_trim(d);
}

/* (a + b) mod m for a, b < m, without overflow. */
static uint64_t jsv_addmod(uint64_t a, uint64_t b, uint64_t m)
{
    return a >= m - b ? a - (m - b) : a + b;
}

bool sq_jsv_is_multiple(const struct jsv_num *x, const struct jsv_num *div,
                        const struct jsv_dec *div_dec)
{
    if (x->is_int && div->is_int)
        return div->i > 0 && x->i % div->i == 0;
    struct jsv_dec xd;
    sq_jsv_dec_of(x, &xd);
    if (xd.mant == 0)
        return true;
    uint64_t D = div_dec->mant;
    if (D == 0)
        return false;
    if (xd.exp >= div_dec->exp) {
        /* X * 10^k mod D, one decimal shift at a time */
        uint64_t r = xd.mant % D;
        for (int k = xd.exp - div_dec->exp; k > 0 && r != 0; k--) {
            uint64_t r10 = r;
            for (int j = 0; j < 9; j++)
                r10 = jsv_addmod(r10, r, D);
            r = r10;
        }
        return r == 0;
    }
    /* X mod (D * 10^k); X < 2^64 < 10^20 */
    int k = div_dec->exp - xd.exp;
    if (k > 19)
        return false;
    uint64_t m = D;
    for (int j = 0; j < k; j++) {
        if (m > UINT64_MAX / 10)
            return false; /* m > X */
        m *= 10;
    }
    return xd.mant % m == 0;
}

bool sq_jsv_equal(const json_t *a, const json_t *b, unsigned depth, bool *too_deep)
{
    if (depth > JSV_MAX_VALUE_DEPTH) {
        *too_deep = true;
        return false;
    }
    if (a == b)
        return true;
    if (json_is_number(a) && json_is_number(b)) {
        struct jsv_num na, nb;
        sq_jsv_num_of(a, &na);
        sq_jsv_num_of(b, &nb);
        return sq_jsv_num_cmp(&na, &nb) == 0;
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!sq_jsv_equal(json_array_get(a, i), json_array_get(b, i), depth + 1, too_deep))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter((json_t *)a); it;
             it = json_object_iter_next((json_t *)a, it)) {
            const json_t *bv =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!bv || !sq_jsv_equal(json_object_iter_value(it), bv, depth + 1, too_deep))
                return false;
        }
        return true;
    }
    default:
        return true; /* null, true, false: same type */
    }
}

static uint64_t jsv_fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t jsv_mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

uint64_t sq_jsv_hash(const json_t *v, unsigned depth)
{
    const uint64_t basis = 0xcbf29ce484222325ULL;
    if (depth > JSV_MAX_VALUE_DEPTH)
        return 0;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return jsv_mix((uint64_t)json_integer_value(v) ^ 0x1234);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            return jsv_mix((uint64_t)(json_int_t)d ^ 0x1234);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return jsv_mix(bits);
    }
    case JSON_STRING:
        return jsv_fnv(json_string_value(v), json_string_length(v), basis);
    case JSON_ARRAY: {
        uint64_t h = 0xa5a5;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = jsv_mix(h ^ sq_jsv_hash(json_array_get(v, i), depth + 1));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0x5a5a;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            uint64_t kh = jsv_fnv(json_object_iter_key(it), json_object_iter_key_len(it), basis);
            h += jsv_mix(kh ^ sq_jsv_hash(json_object_iter_value(it), depth + 1));
        }
        return h;
    }
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
        return 2;
    default:
        return 3;
    }
}

size_t sq_jsv_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}
