/* jsonschema_regex.c: ECMA-262 regexes (`pattern`, `patternProperties`) on
 * PCRE2, translated with ECMA's `u`-flag meaning: \d \w \b ASCII, \s Unicode
 * space, `.` without line terminators, `$` only at the end, \uXXXX pairs,
 * \u{...}, ECMA \p{...} names, [] and [^], unset back-references matching
 * empty. Run with PCRE2 JIT where available, under a match limit. */
#include "jsonschema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jsv_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

#define JSV_REGEX_MATCH_LIMIT 1000000u

/* ECMA \s: White_Space and LineTerminator = PCRE2's Perl space plus U+FEFF. */
#define JSV_RX_SPACE_ITEMS "\\p{Xsp}\\x{feff}"

struct jsv_rx {
    const char *p;
    size_t n, i;
    struct sq_buf *out;
    char *err;
    size_t errlen;
};

static bool jsv_rx_fail(struct jsv_rx *rx, const char *fmt, const char *arg)
{
    char msg[160];
    snprintf(msg, sizeof msg, fmt, arg);
    snprintf(rx->err, rx->errlen, "%s at offset %zu", msg, rx->i);
    return false;
}

static void jsv_rx_emit(struct jsv_rx *rx, const char *s)
{
    sq_buf_append(rx->out, s, strlen(s));
}

static void jsv_rx_emit_cp(struct jsv_rx *rx, unsigned long cp)
{
    char b[24];
    snprintf(b, sizeof b, "\\x{%lx}", cp);
    jsv_rx_emit(rx, b);
}

static int jsv_rx_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly n hex digits at rx->i; -1 when they are not there. */
static long jsv_rx_hex(struct jsv_rx *rx, int n)
{
    if (rx->n - rx->i < (size_t)n)
        return -1;
    long v = 0;
    for (int k = 0; k < n; k++) {
        int h = jsv_rx_hexval((unsigned char)rx->p[rx->i + (size_t)k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    rx->i += (size_t)n;
    return v;
}

/* After "\u": XXXX (a surrogate pair combined) or {X...}. Returns the code
 * point, -2 for a lone surrogate, -1 when malformed. */
static long jsv_rx_unicode_escape(struct jsv_rx *rx)
{
    if (rx->i < rx->n && rx->p[rx->i] == '{') {
        size_t j = rx->i + 1;
        long v = 0;
        int digits = 0;
        while (j < rx->n && jsv_rx_hexval((unsigned char)rx->p[j]) >= 0) {
            v = v * 16 + jsv_rx_hexval((unsigned char)rx->p[j]);
            if (v > 0x10FFFF)
                return -1;
            j++;
            digits++;
        }
        if (!digits || j >= rx->n || rx->p[j] != '}')
            return -1;
        rx->i = j + 1;
        return v >= 0xD800 && v <= 0xDFFF ? -2 : v;
    }
    long v = jsv_rx_hex(rx, 4);
    if (v < 0)
        return -1;
    if (v >= 0xD800 && v <= 0xDBFF && rx->n - rx->i >= 6 && rx->p[rx->i] == '\\' &&
        rx->p[rx->i + 1] == 'u') {
        size_t save = rx->i;
        rx->i += 2;
        long lo = jsv_rx_hex(rx, 4);
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        rx->i = save;
    }
    return v >= 0xD800 && v <= 0xDFFF ? -2 : v;
}

/* ECMA property names PCRE2 spells differently (General_Category long
 * names and aliases). */
static const char *const jsv_rx_gc[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"LC", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

static const char *jsv_rx_gc_name(const char *v, size_t len)
{
    for (size_t k = 0; k < sizeof jsv_rx_gc / sizeof jsv_rx_gc[0]; k++)
        if (strlen(jsv_rx_gc[k][0]) == len && memcmp(jsv_rx_gc[k][0], v, len) == 0)
            return jsv_rx_gc[k][1];
    return NULL;
}

/* After "\p" or "\P": {Name} or {Key=Value}. */
static bool jsv_rx_property(struct jsv_rx *rx, bool negate)
{
    if (rx->i >= rx->n || rx->p[rx->i] != '{')
        return jsv_rx_fail(rx, "%s", "\\p must be followed by {name}");
    const char *name = rx->p + rx->i + 1;
    const char *close = memchr(name, '}', rx->n - rx->i - 1);
    if (!close || close == name)
        return jsv_rx_fail(rx, "%s", "unterminated \\p{...}");
    size_t len = (size_t)(close - name);
    for (size_t k = 0; k < len; k++) {
        char c = name[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '='))
            return jsv_rx_fail(rx, "%s", "invalid property name in \\p{...}");
    }
    rx->i += len + 2;
    const char *eq = memchr(name, '=', len);
    char buf[96];
    const char *mapped;
    if (len >= sizeof buf - 8)
        return jsv_rx_fail(rx, "%s", "property name too long");
    if (eq) {
        size_t klen = (size_t)(eq - name), vlen = len - klen - 1;
        const char *val = eq + 1;
        if ((klen == 16 && memcmp(name, "General_Category", 16) == 0) ||
            (klen == 2 && memcmp(name, "gc", 2) == 0)) {
            mapped = jsv_rx_gc_name(val, vlen);
            snprintf(buf, sizeof buf, "%.*s", mapped ? (int)strlen(mapped) : (int)vlen,
                     mapped ? mapped : val);
        } else if ((klen == 6 && memcmp(name, "Script", 6) == 0) ||
                   (klen == 2 && memcmp(name, "sc", 2) == 0)) {
            snprintf(buf, sizeof buf, "sc:%.*s", (int)vlen, val);
        } else if ((klen == 17 && memcmp(name, "Script_Extensions", 17) == 0) ||
                   (klen == 3 && memcmp(name, "scx", 3) == 0)) {
            snprintf(buf, sizeof buf, "scx:%.*s", (int)vlen, val);
        } else {
            return jsv_rx_fail(rx, "%s", "unknown property in \\p{Key=Value}");
        }
    } else if (len == 8 && memcmp(name, "Assigned", 8) == 0) {
        negate = !negate;
        snprintf(buf, sizeof buf, "Cn");
    } else {
        mapped = jsv_rx_gc_name(name, len);
        snprintf(buf, sizeof buf, "%.*s", mapped ? (int)strlen(mapped) : (int)len,
                 mapped ? mapped : name);
    }
    jsv_rx_emit(rx, negate ? "\\P{" : "\\p{");
    jsv_rx_emit(rx, buf);
    jsv_rx_emit(rx, "}");
    return true;
}

static bool jsv_rx_is_syntax(int c)
{
    return c && strchr("^$\\.*+?()[]{}|/", c) != NULL;
}

/* An escape after '\' (rx->i at the escaped character). In a class, \S
 * cannot be written inline: *has_not_space is set instead. */
static bool jsv_rx_escape(struct jsv_rx *rx, bool in_class, bool *has_not_space)
{
    if (rx->i >= rx->n)
        return jsv_rx_fail(rx, "%s", "pattern ends with '\\'");
    char c = rx->p[rx->i++];
    char two[3] = {'\\', c, '\0'};
    switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 't':
    case 'n':
    case 'r':
    case 'f':
        jsv_rx_emit(rx, two);
        return true;
    case 'b':
        jsv_rx_emit(rx, in_class ? "\\x{8}" : "\\b");
        return true;
    case 'B':
        if (in_class)
            return jsv_rx_fail(rx, "%s", "\\B in a character class");
        jsv_rx_emit(rx, "\\B");
        return true;
    case 'v':
        jsv_rx_emit(rx, "\\x{b}");
        return true;
    case 's':
        jsv_rx_emit(rx, in_class ? JSV_RX_SPACE_ITEMS : "[" JSV_RX_SPACE_ITEMS "]");
        return true;
    case 'S':
        if (in_class)
            *has_not_space = true;
        else
            jsv_rx_emit(rx, "[^" JSV_RX_SPACE_ITEMS "]");
        return true;
    case 'c':
        if (rx->i < rx->n && ((rx->p[rx->i] >= 'a' && rx->p[rx->i] <= 'z') ||
                              (rx->p[rx->i] >= 'A' && rx->p[rx->i] <= 'Z'))) {
            jsv_rx_emit_cp(rx, (unsigned long)(rx->p[rx->i] % 32));
            rx->i++;
            return true;
        }
        return jsv_rx_fail(rx, "%s", "\\c must be followed by a letter");
    case '0':
        if (rx->i < rx->n && rx->p[rx->i] >= '0' && rx->p[rx->i] <= '9')
            return jsv_rx_fail(rx, "%s", "octal escapes are not allowed");
        jsv_rx_emit(rx, "\\x{0}");
        return true;
    case 'x': {
        long v = jsv_rx_hex(rx, 2);
        if (v < 0)
            return jsv_rx_fail(rx, "%s", "\\x must be followed by two hex digits");
        jsv_rx_emit_cp(rx, (unsigned long)v);
        return true;
    }
    case 'u': {
        long v = jsv_rx_unicode_escape(rx);
        if (v == -1)
            return jsv_rx_fail(rx, "%s", "malformed \\u escape");
        if (v == -2) {
            /* a lone surrogate never occurs in UTF-8 text */
            if (in_class)
                return jsv_rx_fail(rx, "%s", "lone surrogate in a character class");
            jsv_rx_emit(rx, "(?!)");
            return true;
        }
        jsv_rx_emit_cp(rx, (unsigned long)v);
        return true;
    }
    case 'p':
    case 'P':
        return jsv_rx_property(rx, c == 'P');
    case 'k':
        if (in_class || rx->i >= rx->n || rx->p[rx->i] != '<')
            return jsv_rx_fail(rx, "%s", "\\k must be followed by <name>");
        {
            const char *close = memchr(rx->p + rx->i, '>', rx->n - rx->i);
            if (!close)
                return jsv_rx_fail(rx, "%s", "unterminated \\k<name>");
            jsv_rx_emit(rx, "\\k");
            sq_buf_append(rx->out, rx->p + rx->i, (size_t)(close - (rx->p + rx->i)) + 1);
            rx->i = (size_t)(close - rx->p) + 1;
        }
        return true;
    case '-':
        jsv_rx_emit(rx, "\\-");
        return true;
    default:
        break;
    }
    if (c >= '1' && c <= '9') {
        if (in_class)
            return jsv_rx_fail(rx, "%s", "back-reference in a character class");
        unsigned long n = (unsigned long)(c - '0');
        while (rx->i < rx->n && rx->p[rx->i] >= '0' && rx->p[rx->i] <= '9' && n < 100000)
            n = n * 10 + (unsigned long)(rx->p[rx->i++] - '0');
        char b[32];
        snprintf(b, sizeof b, "\\g{%lu}", n);
        jsv_rx_emit(rx, b);
        return true;
    }
    if (jsv_rx_is_syntax((unsigned char)c) ||
        (c > ' ' && c < 0x7f &&
         !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))) {
        jsv_rx_emit(rx, two);
        return true;
    }
    char esc[2] = {c, '\0'};
    return jsv_rx_fail(rx, "invalid escape \\%s", (unsigned char)c < 0x80 ? esc : "(non-ASCII)");
}

/* Copies one (possibly multi-byte) character. */
static void jsv_rx_copy_char(struct jsv_rx *rx)
{
    size_t k = 1;
    while (rx->i + k < rx->n && ((unsigned char)rx->p[rx->i + k] & 0xC0) == 0x80)
        k++;
    sq_buf_append(rx->out, rx->p + rx->i, k);
    rx->i += k;
}

/* A character class, rx->i just after '['. */
static bool jsv_rx_class(struct jsv_rx *rx)
{
    bool neg = false;
    if (rx->i < rx->n && rx->p[rx->i] == '^') {
        neg = true;
        rx->i++;
    }
    if (rx->i < rx->n && rx->p[rx->i] == ']') {
        rx->i++;
        jsv_rx_emit(rx, neg ? "[\\x{0}-\\x{10ffff}]" : "(?!)");
        return true;
    }
    struct sq_buf items;
    sq_buf_init(&items);
    struct sq_buf *main_out = rx->out;
    rx->out = &items;
    bool not_space = false, ok = true;
    while (ok && rx->i < rx->n && rx->p[rx->i] != ']') {
        char c = rx->p[rx->i];
        if (c == '\\') {
            rx->i++;
            ok = jsv_rx_escape(rx, true, &not_space);
        } else if (c == '[') {
            jsv_rx_emit(rx, "\\[");
            rx->i++;
        } else {
            jsv_rx_copy_char(rx);
        }
    }
    rx->out = main_out;
    if (ok && rx->i >= rx->n)
        ok = jsv_rx_fail(rx, "%s", "unterminated character class");
    if (!ok) {
        sq_buf_fini(&items);
        return false;
    }
    rx->i++;
    const char *it = items.data ? items.data : "";
    if (!not_space) {
        jsv_rx_emit(rx, neg ? "[^" : "[");
        jsv_rx_emit(rx, it);
        jsv_rx_emit(rx, "]");
    } else if (!neg) {
        /* [items\S] = items or non-space */
        if (*it) {
            jsv_rx_emit(rx, "(?:[");
            jsv_rx_emit(rx, it);
            jsv_rx_emit(rx, "]|(?!\\x{feff})\\P{Xsp})");
        } else {
            jsv_rx_emit(rx, "(?:(?!\\x{feff})\\P{Xsp})");
        }
    } else {
        /* [^items\S] = a space that is not one of items */
        if (*it) {
            jsv_rx_emit(rx, "(?:(?![");
            jsv_rx_emit(rx, it);
            jsv_rx_emit(rx, "])[" JSV_RX_SPACE_ITEMS "])");
        } else {
            jsv_rx_emit(rx, "[" JSV_RX_SPACE_ITEMS "]");
        }
    }
    sq_buf_fini(&items);
    return true;
}

static bool jsv_rx_translate(struct jsv_rx *rx)
{
    while (rx->i < rx->n) {
        char c = rx->p[rx->i];
        switch (c) {
        case '\\':
            rx->i++;
            if (!jsv_rx_escape(rx, false, NULL))
                return false;
            break;
        case '[':
            rx->i++;
            if (!jsv_rx_class(rx))
                return false;
            break;
        case '.':
            rx->i++;
            jsv_rx_emit(rx, "[^\\n\\r\\x{2028}\\x{2029}]");
            break;
        case '(':
            if (rx->i + 1 < rx->n && rx->p[rx->i + 1] == '*')
                return jsv_rx_fail(rx, "%s", "nothing to repeat");
            if (rx->i + 1 < rx->n && rx->p[rx->i + 1] == '?') {
                const char *g = rx->p + rx->i + 2;
                size_t rest = rx->n - rx->i - 2;
                bool ok = rest >= 1 && (g[0] == ':' || g[0] == '=' || g[0] == '!');
                ok = ok || (rest >= 2 && g[0] == '<' && (g[1] == '=' || g[1] == '!'));
                ok = ok || (rest >= 2 && g[0] == '<' &&
                            (g[1] == '_' || g[1] == '$' || (g[1] >= 'a' && g[1] <= 'z') ||
                             (g[1] >= 'A' && g[1] <= 'Z')));
                if (!ok)
                    return jsv_rx_fail(rx, "%s", "invalid group");
            }
            jsv_rx_copy_char(rx);
            break;
        default:
            jsv_rx_copy_char(rx);
            break;
        }
    }
    return true;
}

struct jsv_regex *sq_jsv_regex_new(const char *pattern, size_t len, char *errbuf, size_t errlen)
{
    struct sq_buf out;
    sq_buf_init(&out);
    sq_buf_append(&out, "", 0);
    struct jsv_rx rx = {pattern, len, 0, &out, errbuf, errlen};
    if (!jsv_rx_translate(&rx)) {
        sq_buf_fini(&out);
        return NULL;
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)out.data, out.len,
                                   PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C |
                                       PCRE2_MATCH_UNSET_BACKREF,
                                   &code, &off, NULL);
    sq_buf_fini(&out);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(errbuf, errlen, "%s", (const char *)msg);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter when JIT is unavailable */
    struct jsv_regex *r = sq_xcalloc(1, sizeof *r);
    r->code = re;
    r->mctx = pcre2_match_context_create(NULL);
    if (!r->mctx) {
        fprintf(stderr, "sqgate: out of memory (pcre2_match_context_create)\n");
        abort();
    }
    pcre2_set_match_limit(r->mctx, JSV_REGEX_MATCH_LIMIT);
    return r;
}

void sq_jsv_regex_free(struct jsv_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    free(re);
}

int sq_jsv_regex_match(const struct jsv_regex *re, const char *s, size_t len, pcre2_match_data **md)
{
    if (!*md) {
        *md = pcre2_match_data_create(1, NULL);
        if (!*md) {
            fprintf(stderr, "sqgate: out of memory (pcre2_match_data_create)\n");
            abort();
        }
    }
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, *md, re->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT, *md, re->mctx);
    if (rc >= 0)
        return 1; /* 0: matched, ovector too small for the groups */
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
