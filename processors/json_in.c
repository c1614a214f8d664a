/* json_in.c: the hot path's JSON parser (json_in.h). A recursive descent
 * over the bytes that gives up (NULL, nothing leaked) at the first thing
 * it does not take; sq_json_loadb then hands the whole text to json_loadb,
 * so every error and every rare form is jansson's own. What it takes it
 * builds with the calls jansson's parser makes (json_object_setn_new_nocheck,
 * json_array_append_new, json_stringn_nocheck, json_integer, json_real),
 * so the tree is the same. */
#include "json_in.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq_common.h"
#include "sq_utf8.h"

#define SQ_JIN_MAX_DEPTH 64   /* deeper goes to json_loadb (its limit: 2048) */
#define SQ_JIN_NUM_MAX 63     /* a real's token, longer goes to json_loadb */
#define SQ_JIN_INT_DIGITS 18  /* always fits in json_int_t */

struct sq_jin {
    const unsigned char *p, *end;
    int depth;
    char *scratch;            /* a string's text with its escapes undone */
};

static bool sq_jin_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool sq_jin_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void sq_jin_ws(struct sq_jin *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* The first byte from q on that is a quote, a backslash or a control
 * character (end when there is none); NULL at invalid UTF-8 (which
 * jansson rejects too). */
static const unsigned char *sq_jin_plain(const unsigned char *q, const unsigned char *end)
{
    while (q < end) {
        unsigned c = *q;
        if (c == '"' || c == '\\' || c < 0x20)
            return q;
        if (c < 0x80) {
            q++;
        } else {
            size_t n = sq_utf8_seq_len(q, (size_t)(end - q));
            if (!n)
                return NULL;
            q += n;
        }
    }
    return q;
}

/* The string after an opening quote at j->p: *s borrows from the text when
 * it has no escape, else from j->scratch (valid until the next string).
 * false to give up: a \u escape, a control character, invalid UTF-8, no
 * closing quote. */
static bool sq_jin_string(struct sq_jin *j, const char **s, size_t *len)
{
    const unsigned char *run = j->p, *q = sq_jin_plain(run, j->end);
    if (q && q < j->end && *q == '"') {
        *s = (const char *)run;
        *len = (size_t)(q - run);
        j->p = q + 1;
        return true;
    }
    /* escapes: the text without them is never longer than the rest */
    if (!j->scratch)
        j->scratch = sq_xmalloc((size_t)(j->end - j->p) + 1);
    size_t used = 0;
    for (;;) {
        if (!q || q >= j->end)
            return false;
        memcpy(j->scratch + used, run, (size_t)(q - run));
        used += (size_t)(q - run);
        if (*q == '"') {
            *s = j->scratch;
            *len = used;
            j->p = q + 1;
            return true;
        }
        if (*q != '\\' || q + 1 >= j->end)
            return false; /* a control character, or a backslash at the end */
        char out;
        switch (q[1]) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        default: return false; /* \u, or not an escape */
        }
        j->scratch[used++] = out;
        run = q + 2;
        q = sq_jin_plain(run, j->end);
    }
}

/* A number, by jansson's grammar: an integer when it has no fraction and
 * no exponent (strtoll's value), else a real (strtod's). */
static json_t *sq_jin_number(struct sq_jin *j)
{
    const unsigned char *start = j->p, *q = j->p, *end = j->end;
    bool neg = *q == '-';
    if (neg)
        q++;
    if (q >= end)
        return NULL;
    if (*q == '0') {
        q++;
        if (q < end && sq_jin_digit(*q))
            return NULL; /* a leading zero */
    } else if (sq_jin_digit(*q)) {
        while (q < end && sq_jin_digit(*q))
            q++;
    } else {
        return NULL;
    }
    const unsigned char *int_end = q;
    bool real = false;
    if (q < end && *q == '.') {
        q++;
        if (q >= end || !sq_jin_digit(*q))
            return NULL;
        while (q < end && sq_jin_digit(*q))
            q++;
        real = true;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q >= end || !sq_jin_digit(*q))
            return NULL;
        while (q < end && sq_jin_digit(*q))
            q++;
        real = true;
    }
    j->p = q;
    if (!real) {
        const unsigned char *d = start + neg;
        if (int_end - d > SQ_JIN_INT_DIGITS)
            return NULL;
        json_int_t v = 0;
        for (; d < int_end; d++)
            v = v * 10 + (*d - '0');
        return json_integer(neg ? -v : v);
    }
    size_t n = (size_t)(q - start);
    if (n > SQ_JIN_NUM_MAX)
        return NULL;
    char tmp[SQ_JIN_NUM_MAX + 1], *e;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    errno = 0;
    double v = strtod(tmp, &e);
    if (e != tmp + n) /* a locale whose decimal point is not '.' */
        return NULL;
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        return NULL;
    return json_real(v);
}

/* true, false or null: the word, not the start of a longer one. */
static json_t *sq_jin_word(struct sq_jin *j, const char *word, size_t n, json_t *value)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return NULL;
    if (j->p + n < j->end && sq_jin_alpha(j->p[n]))
        return NULL;
    j->p += n;
    return value;
}

static json_t *sq_jin_value(struct sq_jin *j);

/* After a member or element: true with j->p on the closing byte, or
 * after a comma and on the next value. */
static bool sq_jin_next(struct sq_jin *j, unsigned char close, bool *closed)
{
    sq_jin_ws(j);
    if (j->p >= j->end)
        return false;
    if (*j->p == close) {
        j->p++;
        *closed = true;
        return true;
    }
    if (*j->p != ',')
        return false;
    j->p++;
    sq_jin_ws(j);
    *closed = false;
    return true;
}

/* Past a container's opening byte: c (NULL when it could not be made),
 * *done when the container closes at once. */
static json_t *sq_jin_open(struct sq_jin *j, json_t *c, unsigned char close, bool *done)
{
    j->p++;
    sq_jin_ws(j);
    *done = j->p < j->end && *j->p == close;
    if (*done)
        j->p++;
    return c;
}

static json_t *sq_jin_object(struct sq_jin *j)
{
    bool done;
    json_t *o = sq_jin_open(j, json_object(), '}', &done);
    if (!o || done)
        return o;
    for (;;) {
        if (j->p >= j->end || *j->p != '"')
            break;
        j->p++;
        const char *key;
        size_t klen;
        if (!sq_jin_string(j, &key, &klen))
            break;
        char *copy = NULL; /* the next string reuses the scratch (no NUL in it:
                            * control characters go to json_loadb) */
        if (key == j->scratch)
            key = copy = sq_xstrndup(key, klen);
        sq_jin_ws(j);
        json_t *v = NULL;
        if (j->p < j->end && *j->p == ':') {
            j->p++;
            sq_jin_ws(j);
            v = sq_jin_value(j);
        }
        /* a repeated key goes to json_loadb (an error with
         * JSON_REJECT_DUPLICATES, the last value without): setting it
         * replaces the value and leaves the size, so the key is hashed once */
        size_t before = json_object_size(o);
        int rc = v ? json_object_setn_new_nocheck(o, key, klen, v) : -1; /* frees v on failure */
        free(copy);
        if (rc == 0 && json_object_size(o) == before)
            break;
        bool closed;
        if (rc != 0 || !sq_jin_next(j, '}', &closed))
            break;
        if (closed)
            return o;
    }
    json_decref(o);
    return NULL;
}

static json_t *sq_jin_array(struct sq_jin *j)
{
    bool done;
    json_t *a = sq_jin_open(j, json_array(), ']', &done);
    if (!a || done)
        return a;
    for (;;) {
        json_t *v = sq_jin_value(j);
        bool closed;
        if (!v || json_array_append_new(a, v) != 0 || !sq_jin_next(j, ']', &closed))
            break;
        if (closed)
            return a;
    }
    json_decref(a);
    return NULL;
}

static json_t *sq_jin_value(struct sq_jin *j)
{
    if (j->p >= j->end)
        return NULL;
    json_t *v = NULL;
    switch (*j->p) {
    case '{':
    case '[':
        if (++j->depth > SQ_JIN_MAX_DEPTH)
            return NULL;
        v = *j->p == '{' ? sq_jin_object(j) : sq_jin_array(j);
        j->depth--;
        return v;
    case '"': {
        j->p++;
        const char *s;
        size_t n;
        return sq_jin_string(j, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    }
    case 't': return sq_jin_word(j, "true", 4, json_true());
    case 'f': return sq_jin_word(j, "false", 5, json_false());
    case 'n': return sq_jin_word(j, "null", 4, json_null());
    default:
        return *j->p == '-' || sq_jin_digit(*j->p) ? sq_jin_number(j) : NULL;
    }
}

json_t *sq_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    if (buf && !(flags & ~(size_t)(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY))) {
        struct sq_jin j = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0, NULL};
        json_t *v = NULL;
        sq_jin_ws(&j);
        if (j.p < j.end && ((flags & JSON_DECODE_ANY) || *j.p == '{' || *j.p == '['))
            v = sq_jin_value(&j);
        free(j.scratch);
        if (v) {
            sq_jin_ws(&j);
            if (j.p == j.end) {
                if (err) { /* as json_loadb leaves it after a success */
                    memset(err, 0, sizeof *err);
                    err->line = err->column = -1;
                    err->position = (int)len;
                    snprintf(err->source, sizeof err->source, "<buffer>");
                }
                return v;
            }
            json_decref(v);
        }
    }
    return json_loadb(buf, len, flags, err);
}
