/* json_out.c: jansson's dump (src/dump.c, strconv.c of jansson 2.14) for
 * the compact flags, into an sq_buf: the same escapes, the same real
 * format, the same key order. Anything else is left to json_dumps. */
#include "json_out.h"

#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq_utf8.h"

/* Deeper nesting (or a cycle) is left to json_dumps, which detects cycles. */
#define SQ_JSON_OUT_MAX_DEPTH 2048
/* flags written here; JSON_PRESERVE_ORDER means nothing since jansson 2.8 */
#define SQ_JSON_OUT_FLAGS                                                                 \
    (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |               \
     JSON_REAL_PRECISION(31))

enum { SQ_JO_OK = 0, SQ_JO_FAIL = -1, SQ_JO_DEFER = -2 /* json_dumps decides */ };

static void sq_jo_put(struct sq_buf *b, const char *p, size_t n)
{
    sq_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void sq_jo_char(struct sq_buf *b, char c)
{
    sq_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

/* A string with jansson's escapes: '"', '\\' and control characters;
 * everything else, UTF-8 included, as it is. */
static int sq_jo_string(struct sq_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)str, *end = p + len, *run = p;
    sq_buf_reserve(b, len + 2);
    b->data[b->len++] = '"';
    while (p < end) {
        /* eight bytes at a time while none is a quote, a backslash, a
         * control character or non-ASCII (bit tricks: a byte below n, a
         * zero byte) */
        if (end - p >= 8) {
            uint64_t w, q, s;
            memcpy(&w, p, 8);
            q = w ^ 0x2222222222222222ull;
            s = w ^ 0x5C5C5C5C5C5C5C5Cull;
            if (!((w | ((w - 0x2020202020202020ull) & ~w) | ((q - 0x0101010101010101ull) & ~q) |
                   ((s - 0x0101010101010101ull) & ~s)) &
                  0x8080808080808080ull)) {
                p += 8;
                continue;
            }
        }
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = sq_utf8_seq_len(p, (size_t)(end - p));
            if (!n)
                return SQ_JO_FAIL;
            p += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        sq_jo_put(b, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', 0, '0', '0', hex[c >> 4], hex[c & 15]};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: esc[1] = 'u'; n = 6; break;
        }
        sq_jo_put(b, esc, n);
        run = ++p;
    }
    sq_jo_put(b, (const char *)run, (size_t)(p - run));
    sq_jo_char(b, '"');
    return SQ_JO_OK;
}

/* "%.*g" of value at precision p (at most 15) without printf, for the
 * reals records carry (scores, rates, minutes): a decimal D = m / 10^k
 * (k <= 6) of at most p digits that is in fixed notation's range. The
 * division of two exact doubles is correctly rounded, so when it gives
 * value, value is D's nearest double: within half an ulp of D (a
 * 2^-53 part of it), far closer than half a step of p digits (more than a
 * 10^-p part), so printf's correctly rounded p digits are D's, and %g
 * drops their trailing zeros. Returns the length written to buf, 0 to
 * leave the value to snprintf. */
static int sq_jo_real_short(char *buf, double value, int p)
{
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double a = value < 0 ? -value : value;
    if (p < 1 || p > 15 || !(a >= 1e-4 && a < 1e15))
        return 0;
    for (int k = 0; k <= 6; k++) {
        double s = a * pow10[k];
        if (s >= 9007199254740992.0) /* 2^53: m no longer exact */
            return 0;
        long long m = (long long)(s + 0.5);
        if ((double)m / pow10[k] != a)
            continue;
        char digits[24];
        int nd = 0;
        for (long long t = m; t; t /= 10)
            digits[nd++] = (char)('0' + t % 10);
        if (nd > p)
            return 0;
        while (nd <= k)
            digits[nd++] = '0'; /* 0.05: the integer part's zero */
        int n = 0;
        if (value < 0)
            buf[n++] = '-';
        for (int i = nd - 1; i >= k; i--)
            buf[n++] = digits[i];
        if (k) {
            buf[n++] = '.';
            for (int i = k - 1; i >= 0; i--)
                buf[n++] = digits[i];
        }
        buf[n] = '\0';
        return n;
    }
    return 0;
}

/* jansson's jsonp_dtostr: "%.{precision}g" with a '.' decimal point, ".0"
 * when neither '.' nor 'e' is there, no '+' or leading zeros in the
 * exponent. */
static int sq_jo_real(struct sq_buf *b, double value, int precision)
{
    char buf[100];
    int ret = sq_jo_real_short(buf, value, precision ? precision : 17);
    if (!ret)
        ret = snprintf(buf, sizeof buf, "%.*g", precision ? precision : 17, value);
    if (ret < 0 || (size_t)ret >= sizeof buf)
        return SQ_JO_FAIL;
    size_t length = (size_t)ret;
    const char *point = localeconv()->decimal_point;
    if (*point != '.') {
        char *pos = strchr(buf, *point);
        if (pos)
            *pos = '.';
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        if (length + 3 >= sizeof buf)
            return SQ_JO_FAIL;
        memcpy(buf + length, ".0", 3);
        length += 2;
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, length - (size_t)(end - buf));
            length -= (size_t)(end - start);
        }
    }
    sq_jo_put(b, buf, length);
    return SQ_JO_OK;
}

struct sq_jo_member {
    const char *key;
    size_t len;
    json_t *value;
};

/* jansson's key order for JSON_SORT_KEYS: bytes, then length. */
static int sq_jo_member_cmp(const void *a, const void *b)
{
    const struct sq_jo_member *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int sq_jo_value(struct sq_buf *b, const json_t *json, size_t flags, int depth);

static int sq_jo_member(struct sq_buf *b, const char *key, size_t len, const json_t *value,
                        size_t flags, int depth)
{
    int rc = sq_jo_string(b, key, len);
    if (rc != SQ_JO_OK)
        return rc;
    sq_jo_char(b, ':');
    return sq_jo_value(b, value, flags, depth + 1);
}

static int sq_jo_object_sorted(struct sq_buf *b, const json_t *json, size_t flags, int depth)
{
    size_t n = json_object_size(json), i = 0;
    struct sq_jo_member *v = sq_xmalloc(n * sizeof *v);
    for (void *it = json_object_iter((json_t *)json); it && i < n;
         it = json_object_iter_next((json_t *)json, it), i++)
        v[i] = (struct sq_jo_member){json_object_iter_key(it), json_object_iter_key_len(it),
                                     json_object_iter_value(it)};
    qsort(v, i, sizeof *v, sq_jo_member_cmp);
    int rc = SQ_JO_OK;
    for (size_t k = 0; k < i && rc == SQ_JO_OK; k++) {
        if (k)
            sq_jo_char(b, ',');
        rc = sq_jo_member(b, v[k].key, v[k].len, v[k].value, flags, depth);
    }
    free(v);
    return rc;
}

static int sq_jo_object(struct sq_buf *b, const json_t *json, size_t flags, int depth)
{
    sq_jo_char(b, '{');
    int rc = SQ_JO_OK;
    if (flags & JSON_SORT_KEYS) {
        rc = sq_jo_object_sorted(b, json, flags, depth);
    } else {
        bool first = true;
        for (void *it = json_object_iter((json_t *)json); it && rc == SQ_JO_OK;
             it = json_object_iter_next((json_t *)json, it)) {
            if (!first)
                sq_jo_char(b, ',');
            first = false;
            rc = sq_jo_member(b, json_object_iter_key(it), json_object_iter_key_len(it),
                              json_object_iter_value(it), flags, depth);
        }
    }
    sq_jo_char(b, '}');
    return rc;
}

static int sq_jo_array(struct sq_buf *b, const json_t *json, size_t flags, int depth)
{
    sq_jo_char(b, '[');
    size_t n = json_array_size(json);
    int rc = SQ_JO_OK;
    for (size_t i = 0; i < n && rc == SQ_JO_OK; i++) {
        if (i)
            sq_jo_char(b, ',');
        rc = sq_jo_value(b, json_array_get(json, i), flags, depth + 1);
    }
    sq_jo_char(b, ']');
    return rc;
}

static int sq_jo_value(struct sq_buf *b, const json_t *json, size_t flags, int depth)
{
    if (!json)
        return SQ_JO_FAIL;
    switch (json_typeof(json)) {
    case JSON_NULL:
        sq_jo_put(b, "null", 4);
        return SQ_JO_OK;
    case JSON_TRUE:
        sq_jo_put(b, "true", 4);
        return SQ_JO_OK;
    case JSON_FALSE:
        sq_jo_put(b, "false", 5);
        return SQ_JO_OK;
    case JSON_INTEGER: {
        char buf[24];
        sq_jo_put(b, buf, sq_i64_format(buf, json_integer_value(json)));
        return SQ_JO_OK;
    }
    case JSON_REAL:
        return sq_jo_real(b, json_real_value(json), (int)((flags >> 11) & 0x1F));
    case JSON_STRING:
        return sq_jo_string(b, json_string_value(json), json_string_length(json));
    case JSON_ARRAY:
        return depth < SQ_JSON_OUT_MAX_DEPTH ? sq_jo_array(b, json, flags, depth) : SQ_JO_DEFER;
    case JSON_OBJECT:
        return depth < SQ_JSON_OUT_MAX_DEPTH ? sq_jo_object(b, json, flags, depth) : SQ_JO_DEFER;
    }
    return SQ_JO_FAIL;
}

int sq_json_dump_buf(struct sq_buf *b, const json_t *json, size_t flags)
{
    size_t len0 = b->len;
    int rc = SQ_JO_DEFER;
    if ((flags & JSON_COMPACT) && !(flags & ~(size_t)SQ_JSON_OUT_FLAGS)) {
        if (!(flags & JSON_ENCODE_ANY) && !json_is_object(json) && !json_is_array(json))
            return -1;
        rc = sq_jo_value(b, json, flags, 0);
    }
    if (rc == SQ_JO_OK) {
        sq_buf_reserve(b, 0);
        b->data[b->len] = '\0';
        return 0;
    }
    b->len = len0;
    if (b->data)
        b->data[len0] = '\0';
    if (rc == SQ_JO_FAIL)
        return -1;
    char *s = json_dumps(json, flags);
    if (!s)
        return -1;
    sq_buf_append(b, s, strlen(s));
    free(s);
    return 0;
}

int sq_json_put_string(struct sq_buf *b, const char *s, size_t n)
{
    size_t len0 = b->len;
    if (sq_jo_string(b, s, n) == SQ_JO_OK) {
        b->data[b->len] = '\0';
        return 0;
    }
    b->len = len0;
    b->data[len0] = '\0';
    return -1;
}

int sq_json_put_real(struct sq_buf *b, double v, int precision)
{
    size_t len0 = b->len;
    if (sq_jo_real(b, v, precision) == SQ_JO_OK) {
        sq_buf_reserve(b, 1);
        b->data[b->len] = '\0';
        return 0;
    }
    b->len = len0;
    return -1;
}

char *sq_json_dumps(const json_t *json, size_t flags, size_t *len)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_buf_reserve(&b, 1023); /* one allocation for most records */
    if (sq_json_dump_buf(&b, json, flags) != 0) {
        sq_buf_fini(&b);
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}
