/* jsonschema_uri.c: RFC 3986 for the JSON Schema validator: reference
 * resolution against a base URI (5.2, with dot-segment removal) for $id and
 * $ref, fragment splitting and percent-decoding, and the grammar check
 * behind the "uri" format. */
#include "jsonschema_int.h"

#include <stdlib.h>
#include <string.h>

/* The five components of RFC 3986 appendix B; a NULL pointer = undefined. */
struct jsv_uri_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
};

static bool jsv_is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool jsv_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool jsv_is_hex(int c)
{
    return jsv_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of a valid scheme at the start of s followed by ':', else 0. */
static size_t jsv_scheme_len(const char *s, size_t len)
{
    if (len == 0 || !jsv_is_alpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (i < len && (jsv_is_alpha((unsigned char)s[i]) || jsv_is_digit((unsigned char)s[i]) ||
                       s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    return i < len && s[i] == ':' ? i : 0;
}

bool sq_jsv_uri_has_scheme(const char *s)
{
    return jsv_scheme_len(s, strlen(s)) > 0;
}

static void jsv_uri_split(const char *s, struct jsv_uri_parts *u)
{
    memset(u, 0, sizeof *u);
    size_t len = strlen(s), i = 0;
    size_t sl = jsv_scheme_len(s, len);
    if (sl) {
        u->scheme = s;
        u->scheme_len = sl;
        i = sl + 1;
    }
    if (i + 1 < len + 1 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        size_t st = i;
        while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
            i++;
        u->auth = s + st;
        u->auth_len = i - st;
    }
    size_t st = i;
    while (i < len && s[i] != '?' && s[i] != '#')
        i++;
    u->path = s + st;
    u->path_len = i - st;
    if (i < len && s[i] == '?') {
        st = ++i;
        while (i < len && s[i] != '#')
            i++;
        u->query = s + st;
        u->query_len = i - st;
    }
    if (i < len && s[i] == '#') {
        u->frag = s + i + 1;
        u->frag_len = len - i - 1;
    }
}

/* RFC 3986 5.2.4, appending the result to out. */
static void jsv_remove_dots(struct sq_buf *out, const char *p, size_t n)
{
    size_t base = out->len;
    size_t i = 0;
    while (i < n) {
        const char *in = p + i;
        size_t rest = n - i;
        if (rest >= 3 && memcmp(in, "../", 3) == 0) {
            i += 3;
        } else if (rest >= 2 && memcmp(in, "./", 2) == 0) {
            i += 2;
        } else if (rest >= 3 && memcmp(in, "/./", 3) == 0) {
            i += 2;
        } else if (rest == 2 && memcmp(in, "/.", 2) == 0) {
            sq_buf_append(out, "/", 1);
            i += 2;
        } else if ((rest >= 4 && memcmp(in, "/../", 4) == 0) ||
                   (rest == 3 && memcmp(in, "/..", 3) == 0)) {
            /* drop the last output segment and its leading '/' */
            size_t j = out->len;
            while (j > base && out->data[j - 1] != '/')
                j--;
            if (j > base)
                j--;
            out->len = j;
            out->data[j] = '\0';
            if (rest == 3)
                sq_buf_append(out, "/", 1);
            i += 3; /* "/../x": the second '/' stays as the input's start */
        } else if ((rest == 1 && in[0] == '.') || (rest == 2 && memcmp(in, "..", 2) == 0)) {
            i += rest;
        } else {
            size_t j = in[0] == '/' ? 1 : 0;
            while (j < rest && in[j] != '/')
                j++;
            sq_buf_append(out, in, j);
            i += j;
        }
    }
}

char *sq_jsv_uri_resolve(const char *base, const char *ref)
{
    struct jsv_uri_parts r, b;
    jsv_uri_split(ref, &r);
    jsv_uri_split(base ? base : "", &b);
    struct sq_buf out;
    sq_buf_init(&out);
    const char *scheme, *auth, *query;
    size_t scheme_len, auth_len, query_len;
    if (r.scheme) {
        scheme = r.scheme, scheme_len = r.scheme_len;
        auth = r.auth, auth_len = r.auth_len;
        query = r.query, query_len = r.query_len;
    } else {
        scheme = b.scheme, scheme_len = b.scheme_len;
        if (r.auth) {
            auth = r.auth, auth_len = r.auth_len;
            query = r.query, query_len = r.query_len;
        } else {
            auth = b.auth, auth_len = b.auth_len;
            if (r.path_len == 0)
                query = r.query ? r.query : b.query,
                query_len = r.query ? r.query_len : b.query_len;
            else
                query = r.query, query_len = r.query_len;
        }
    }
    if (scheme) {
        for (size_t i = 0; i < scheme_len; i++) {
            char c = scheme[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            sq_buf_append(&out, &c, 1);
        }
        sq_buf_append(&out, ":", 1);
    }
    if (auth) {
        sq_buf_append(&out, "//", 2);
        sq_buf_append(&out, auth, auth_len);
    }
    if (r.scheme || r.auth) {
        jsv_remove_dots(&out, r.path, r.path_len);
    } else if (r.path_len == 0) {
        sq_buf_append(&out, b.path, b.path_len);
    } else if (r.path[0] == '/') {
        jsv_remove_dots(&out, r.path, r.path_len);
    } else {
        /* merge (5.2.3), then remove dot segments */
        struct sq_buf m;
        sq_buf_init(&m);
        if (b.auth && b.path_len == 0) {
            sq_buf_append(&m, "/", 1);
        } else {
            size_t j = b.path_len;
            while (j > 0 && b.path[j - 1] != '/')
                j--;
            sq_buf_append(&m, b.path, j);
        }
        sq_buf_append(&m, r.path, r.path_len);
        jsv_remove_dots(&out, m.data, m.len);
        sq_buf_fini(&m);
    }
    if (query) {
        sq_buf_append(&out, "?", 1);
        sq_buf_append(&out, query, query_len);
    }
    if (r.frag) {
        sq_buf_append(&out, "#", 1);
        sq_buf_append(&out, r.frag, r.frag_len);
    }
    if (!out.data)
        sq_buf_append(&out, "", 0);
    return out.data;
}

char *sq_jsv_uri_strip_fragment(const char *uri, const char **frag)
{
    const char *h = strchr(uri, '#');
    if (frag)
        *frag = h ? h + 1 : NULL;
    return h ? sq_xstrndup(uri, (size_t)(h - uri)) : sq_xstrdup(uri);
}

static int jsv_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

char *sq_jsv_uri_pct_decode(const char *s)
{
    size_t len = strlen(s);
    char *out = sq_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= len || !jsv_is_hex((unsigned char)s[i + 1]) ||
            !jsv_is_hex((unsigned char)s[i + 2])) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(jsv_hexval(s[i + 1]) * 16 + jsv_hexval(s[i + 2]));
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* ---- RFC 3986 grammar ------------------------------------------------ */

static bool jsv_is_unreserved(int c)
{
    return jsv_is_alpha(c) || jsv_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool jsv_is_subdelim(int c)
{
    return c && strchr("!$&'()*+,;=", c) != NULL;
}

/* Checks s[0..n) made of unreserved, pct-encoded, sub-delims and the
 * characters in extra. */
static bool jsv_chars_ok(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !jsv_is_hex((unsigned char)s[i + 1]) ||
                !jsv_is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!jsv_is_unreserved(c) && !jsv_is_subdelim(c) && !(c && strchr(extra, c))) {
            return false;
        }
    }
    return true;
}

static bool jsv_host_ok(const char *h, size_t n)
{
    if (n > 0 && h[0] == '[') {
        if (h[n - 1] != ']')
            return false;
        const char *in = h + 1;
        size_t m = n - 2;
        if (m > 0 && (in[0] == 'v' || in[0] == 'V')) { /* IPvFuture */
            size_t i = 1;
            while (i < m && jsv_is_hex((unsigned char)in[i]))
                i++;
            if (i == 1 || i >= m || in[i] != '.' || i + 1 >= m)
                return false;
            for (size_t j = i + 1; j < m; j++)
                if (!jsv_is_unreserved((unsigned char)in[j]) &&
                    !jsv_is_subdelim((unsigned char)in[j]) && in[j] != ':')
                    return false;
            return true;
        }
        return sq_jsv_format_check(JSV_FMT_IPV6, in, m);
    }
    return jsv_chars_ok(h, n, ""); /* reg-name, which covers IPv4address */
}

static bool jsv_authority_ok(const char *a, size_t n)
{
    const char *at = memchr(a, '@', n);
    if (at) {
        if (!jsv_chars_ok(a, (size_t)(at - a), ":"))
            return false;
        n -= (size_t)(at - a) + 1;
        a = at + 1;
    }
    /* port: digits after the last ':' outside an IP literal */
    size_t hn = n;
    for (size_t i = n; i > 0; i--) {
        if (a[i - 1] == ']')
            break;
        if (a[i - 1] == ':') {
            hn = i - 1;
            break;
        }
    }
    for (size_t i = hn + 1; i < n; i++)
        if (!jsv_is_digit((unsigned char)a[i]))
            return false;
    return jsv_host_ok(a, hn);
}

bool sq_jsv_uri_check(const char *s, size_t len, bool absolute)
{
    if (memchr(s, '\0', len))
        return false;
    size_t i = 0;
    size_t sl = jsv_scheme_len(s, len);
    if (sl)
        i = sl + 1;
    else if (absolute)
        return false;
    /* hier-part / relative-part */
    size_t end = i;
    while (end < len && s[end] != '?' && s[end] != '#')
        end++;
    if (end - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, ae = a;
        while (ae < end && s[ae] != '/')
            ae++;
        if (!jsv_authority_ok(s + a, ae - a))
            return false;
        i = ae;
    } else if (!sl) {
        /* path-noscheme: no ':' in the first segment */
        size_t j = i;
        while (j < end && s[j] != '/') {
            if (s[j] == ':')
                return false;
            j++;
        }
    }
    if (!jsv_chars_ok(s + i, end - i, ":@/"))
        return false;
    i = end;
    if (i < len && s[i] == '?') {
        size_t q = ++i;
        while (i < len && s[i] != '#')
            i++;
        if (!jsv_chars_ok(s + q, i - q, ":@/?"))
            return false;
    }
    if (i < len && s[i] == '#') {
        i++;
        if (!jsv_chars_ok(s + i, len - i, ":@/?"))
            return false;
    }
    return true;
}
