/* jsonschema_format.c: the `format` values the validator asserts when asked
 * (sq_jsv_opts.assert_format, or the format-assertion vocabulary): RFC 3339
 * date-time, date and time (leap seconds at 23:59 UTC), RFC 5321 email,
 * ipv4, ipv6 (RFC 4291 text forms), RFC 4122 uuid and RFC 3986 uri. All
 * checks are ASCII-only: a non-ASCII digit is not a digit. */
#include "jsonschema_int.h"

#include <string.h>

static const char *const jsv_format_names[] = {
    [JSV_FMT_UNKNOWN] = "",  [JSV_FMT_DATE_TIME] = "date-time", [JSV_FMT_DATE] = "date",
    [JSV_FMT_TIME] = "time", [JSV_FMT_EMAIL] = "email",         [JSV_FMT_IPV4] = "ipv4",
    [JSV_FMT_IPV6] = "ipv6", [JSV_FMT_UUID] = "uuid",           [JSV_FMT_URI] = "uri",
};

enum jsv_format sq_jsv_format_lookup(const char *name)
{
    for (size_t f = 1; f < sizeof jsv_format_names / sizeof jsv_format_names[0]; f++)
        if (strcmp(jsv_format_names[f], name) == 0)
            return (enum jsv_format)f;
    return JSV_FMT_UNKNOWN;
}

const char *sq_jsv_format_name(enum jsv_format f)
{
    return jsv_format_names[f];
}

bool sq_jsv_format_is_standard(const char *name)
{
    static const char *const all[] = {
        "date-time",    "date",          "time",
        "duration",     "email",         "idn-email",
        "hostname",     "idn-hostname",  "ipv4",
        "ipv6",         "uri",           "uri-reference",
        "iri",          "iri-reference", "uuid",
        "uri-template", "json-pointer",  "relative-json-pointer",
        "regex",
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i], name) == 0)
            return true;
    return false;
}

static bool jsv_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static bool jsv_isalpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool jsv_ishex(char c)
{
    return jsv_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* n ASCII digits at s as a number, or -1. */
static int jsv_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!jsv_isdigit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 full-date: YYYY-MM-DD with the month's real length. */
static bool jsv_check_date(const char *s, size_t len)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = jsv_digits(s, 4), m = jsv_digits(s + 5, 2), d = jsv_digits(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return false;
    int max = mdays[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        max = 29;
    return d <= max;
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); second 60 only when
 * the time is 23:59 in UTC. */
static bool jsv_check_time(const char *s, size_t len)
{
    if (len < 9 || s[2] != ':' || s[5] != ':')
        return false;
    int h = jsv_digits(s, 2), mi = jsv_digits(s + 3, 2), se = jsv_digits(s + 6, 2);
    if (h < 0 || mi < 0 || se < 0 || h > 23 || mi > 59 || se > 60)
        return false;
    size_t i = 8;
    if (s[i] == '.') {
        size_t st = ++i;
        while (i < len && jsv_isdigit(s[i]))
            i++;
        if (i == st)
            return false;
    }
    if (i >= len)
        return false;
    int off = 0; /* minutes east of UTC */
    if (s[i] == 'Z' || s[i] == 'z') {
        if (i + 1 != len)
            return false;
    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i != 6 || s[i + 3] != ':')
            return false;
        int oh = jsv_digits(s + i + 1, 2), om = jsv_digits(s + i + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59)
            return false;
        off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    } else {
        return false;
    }
    if (se == 60) {
        int utc = ((h * 60 + mi - off) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

static bool jsv_check_date_time(const char *s, size_t len)
{
    return len > 11 && (s[10] == 'T' || s[10] == 't') && jsv_check_date(s, 10) &&
           jsv_check_time(s + 11, len - 11);
}

static bool jsv_check_ipv4(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t st = i;
        int v = 0;
        while (i < len && jsv_isdigit(s[i]) && i - st < 3)
            v = v * 10 + (s[i++] - '0');
        size_t n = i - st;
        if (n == 0 || v > 255 || (n > 1 && s[st] == '0'))
            return false;
    }
    return i == len;
}

static bool jsv_check_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool compressed = false;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        compressed = true;
        i = 2;
    } else if (len == 0 || s[0] == ':') {
        return false;
    }
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ':')
            j++;
        const char *tok = s + i;
        size_t n = j - i;
        if (memchr(tok, '.', n)) {
            if (j != len || !jsv_check_ipv4(tok, n))
                return false;
            groups += 2;
            i = j;
            break;
        }
        if (n < 1 || n > 4)
            return false;
        for (size_t k = 0; k < n; k++)
            if (!jsv_ishex(tok[k]))
                return false;
        groups++;
        i = j;
        if (i == len)
            break;
        if (i + 1 < len && s[i + 1] == ':') {
            if (compressed)
                return false;
            compressed = true;
            i += 2;
        } else {
            i++;
            if (i == len)
                return false;
        }
        if (groups > 8)
            return false;
    }
    return compressed ? groups <= 7 : groups == 8;
}

static bool jsv_check_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!jsv_ishex(s[i])) {
            return false;
        }
    }
    return true;
}

static bool jsv_is_atext(char c)
{
    return jsv_isalpha(c) || jsv_isdigit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 5321 Domain: labels of letters, digits and '-', not at either end. */
static bool jsv_check_domain(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    size_t st = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!jsv_isalpha(s[i]) && !jsv_isdigit(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t n = i - st;
        if (n == 0 || n > 63 || s[st] == '-' || s[i - 1] == '-')
            return false;
        st = i + 1;
    }
    return true;
}

static bool jsv_check_email(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '"') {
        /* Quoted-string: qtextSMTP or backslash pairs, ASCII 32..126 */
        for (i = 1; i < len && s[i] != '"'; i++) {
            if (s[i] == '\\') {
                i++;
                if (i >= len || s[i] < 32 || s[i] > 126)
                    return false;
            } else if (s[i] < 32 || s[i] > 126) {
                return false;
            }
        }
        if (i >= len)
            return false;
        i++;
    } else {
        /* Dot-string: atoms separated by single dots */
        bool prev_dot = true;
        for (; i < len && s[i] != '@'; i++) {
            if (s[i] == '.') {
                if (prev_dot)
                    return false;
                prev_dot = true;
            } else if (jsv_is_atext(s[i])) {
                prev_dot = false;
            } else {
                return false;
            }
        }
        if (prev_dot)
            return false;
    }
    if (i == 0 || i > 64 || i >= len || s[i] != '@')
        return false;
    const char *d = s + i + 1;
    size_t dl = len - i - 1;
    if (dl >= 2 && d[0] == '[' && d[dl - 1] == ']') {
        const char *a = d + 1;
        size_t al = dl - 2;
        if (al > 5 && memcmp(a, "IPv6:", 5) == 0)
            return jsv_check_ipv6(a + 5, al - 5);
        if (jsv_check_ipv4(a, al))
            return true;
        /* General-address-literal: tag ":" 1*dcontent */
        const char *colon = memchr(a, ':', al);
        if (!colon || colon == a || !jsv_check_domain(a, (size_t)(colon - a)) ||
            colon + 1 == a + al)
            return false;
        for (const char *p = colon + 1; p < a + al; p++)
            if (*p < 33 || *p > 126 || *p == '[' || *p == '\\' || *p == ']')
                return false;
        return true;
    }
    return jsv_check_domain(d, dl);
}

bool sq_jsv_format_check(enum jsv_format f, const char *s, size_t len)
{
    switch (f) {
    case JSV_FMT_DATE_TIME:
        return jsv_check_date_time(s, len);
    case JSV_FMT_DATE:
        return jsv_check_date(s, len);
    case JSV_FMT_TIME:
        return jsv_check_time(s, len);
    case JSV_FMT_EMAIL:
        return jsv_check_email(s, len);
    case JSV_FMT_IPV4:
        return jsv_check_ipv4(s, len);
    case JSV_FMT_IPV6:
        return jsv_check_ipv6(s, len);
    case JSV_FMT_UUID:
        return jsv_check_uuid(s, len);
    case JSV_FMT_URI:
        return sq_jsv_uri_check(s, len, true);
    default:
        return true;
    }
}
