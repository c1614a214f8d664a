/* history.c: a customer's contact history (history.h). The text sqgate
 * writes, [[int,"printable ASCII"],…] without spaces or escapes, is read
 * in place and copied back in runs; anything else goes through jansson, as
 * it always did. */
#include "history.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"

static void sq_history_push(struct sq_history *h, struct sq_history_entry e)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->v = sq_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    h->v[h->n++] = e;
}

static const char *sq_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Reads a JSON integer at p as jansson would take it: *end after it;
 * false for what the plain reader leaves to jansson (leading zeros, a
 * fraction or exponent, out of range). */
static bool sq_history_int(const char *p, int64_t *t, const char **end)
{
    const char *d = *p == '-' ? p + 1 : p;
    if (*d < '0' || *d > '9' || (d[0] == '0' && d[1] >= '0' && d[1] <= '9'))
        return false;
    uint64_t v = 0;
    const char *q = d;
    while (*q >= '0' && *q <= '9' && q - d < 18)
        v = v * 10 + (uint64_t)(*q++ - '0');
    if (*q >= '0' && *q <= '9') {
        /* 19 digits or more: strtoll's range check */
        errno = 0;
        char *e;
        long long x = strtoll(p, &e, 10);
        if (errno == ERANGE)
            return false;
        *t = (int64_t)x;
        q = e;
    } else {
        *t = p == d ? (int64_t)v : -(int64_t)v;
    }
    if (*q == '.' || *q == 'e' || *q == 'E')
        return false; /* jansson's rules for those */
    *end = q;
    return true;
}

/* The common form, read in h->text (left as it is: the reasons point into
 * it with their lengths). false when the text is not that form (h is then
 * empty again). */
static bool sq_history_parse_plain(struct sq_history *h)
{
    const char *p = sq_skip_ws(h->text);
    if (*p++ != '[')
        return false;
    p = sq_skip_ws(p);
    if (*p == ']')
        return *sq_skip_ws(p + 1) == '\0';
    for (;;) {
        p = sq_skip_ws(p);
        const char *open = p;
        if (*p++ != '[')
            goto no;
        p = sq_skip_ws(p);
        int64_t t;
        const char *num = p;
        if (!sq_history_int(num, &t, &p))
            goto no;
        size_t num_len = (size_t)(p - num);
        p = sq_skip_ws(p);
        if (*p++ != ',')
            goto no;
        p = sq_skip_ws(p);
        if (*p++ != '"')
            goto no;
        const char *reason = p;
        while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (*p != '"')
            goto no; /* an escape, a control byte or UTF-8: jansson reads it */
        size_t reason_len = (size_t)(p - reason);
        p = sq_skip_ws(p + 1);
        if (*p++ != ']')
            goto no;
        /* exactly the dump's bytes when nothing but [t,"reason"] was read:
         * no white space, and the integer as the dump writes it (no
         * leading zeros, read above; "-0" is not) */
        size_t len = (size_t)(p - open);
        bool same = len == 1 + num_len + 2 + reason_len + 2 && !(t == 0 && *num == '-');
        sq_history_push(h, (struct sq_history_entry){
                               .t = t, .reason = reason, .reason_len = reason_len,
                               .src = (size_t)(open - h->text), .src_len = same ? len : 0});
        p = sq_skip_ws(p);
        if (*p == ']') {
            if (*sq_skip_ws(p + 1) != '\0')
                goto no;
            return true;
        }
        if (*p++ != ',')
            goto no;
    }
no:
    h->n = 0;
    return false;
}

/* Anything else, read as the jansson version of this code read it. */
static void sq_history_parse_json(struct sq_history *h, const char *text)
{
    json_error_t jerr;
    json_t *a = json_loads(text, 0, &jerr);
    if (json_is_array(a)) {
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
            const char *r = json_string_value(json_array_get(e, 1));
            sq_history_push(h, (struct sq_history_entry){
                                   .t = (int64_t)json_integer_value(json_array_get(e, 0)),
                                   .reason = r ? sq_xstrdup(r) : NULL,
                                   .reason_len = r ? strlen(r) : 0, .owned = r != NULL});
        }
    }
    json_decref(a);
}

void sq_history_load(struct sq_history *h, const char *text)
{
    memset(h, 0, sizeof *h);
    if (!text)
        return;
    h->text = sq_xstrdup(text);
    if (!sq_history_parse_plain(h))
        sq_history_parse_json(h, text);
}

int sq_history_add(struct sq_history *h, int64_t arrived_ms, const char *reason,
                   int64_t window_ms, int64_t *contacts_30d, int64_t *latest_ms)
{
    int in_window = 1;
    size_t reason_len = strlen(reason);
    for (size_t i = 0; i < h->n; i++) {
        int64_t d = arrived_ms - h->v[i].t;
        if (d > 0 && d <= window_ms && h->v[i].reason && h->v[i].reason_len == reason_len &&
            memcmp(h->v[i].reason, reason, reason_len) == 0)
            in_window++;
    }
    /* insert in arrival order */
    size_t pos = h->n;
    while (pos > 0 && h->v[pos - 1].t > arrived_ms)
        pos--;
    sq_history_push(h, (struct sq_history_entry){0});
    memmove(&h->v[pos + 1], &h->v[pos], (h->n - 1 - pos) * sizeof *h->v);
    h->v[pos] = (struct sq_history_entry){
        .t = arrived_ms, .reason = sq_xstrndup(reason, reason_len), .reason_len = reason_len,
        .owned = true};
    int64_t newest = h->v[h->n - 1].t;
    size_t drop = 0;
    while (drop < h->n && h->v[drop].t <= newest - SQ_HISTORY_KEEP_MS) {
        if (h->v[drop].owned)
            free((char *)h->v[drop].reason);
        drop++;
    }
    if (drop) {
        memmove(h->v, h->v + drop, (h->n - drop) * sizeof *h->v);
        h->n -= drop;
    }
    *contacts_30d = (int64_t)h->n;
    *latest_ms = newest;
    return in_window;
}

/* Writes one entry as jansson dumps it. */
static void sq_history_put(struct sq_buf *b, const struct sq_history_entry *e)
{
    sq_buf_append(b, "[", 1);
    sq_buf_append_i64(b, e->t);
    sq_buf_append(b, ",", 1);
    if (!e->reason || sq_json_put_string(b, e->reason, e->reason_len) != 0)
        sq_buf_append(b, "null", 4);
    sq_buf_append(b, "]", 1);
}

void sq_history_dump(const struct sq_history *h, struct sq_buf *b)
{
    sq_buf_append(b, "[", 1);
    /* [run, run_end): loaded entries next to one another in h->text, copied
     * at once (one byte between two entries can only be their comma) */
    size_t run = 0, run_end = 0;
    bool any = false;
    for (size_t i = 0; i < h->n; i++) {
        const struct sq_history_entry *e = &h->v[i];
        if (e->src_len && run_end && e->src == run_end + 1) {
            run_end = e->src + e->src_len;
            continue;
        }
        if (run_end) {
            if (any)
                sq_buf_append(b, ",", 1);
            sq_buf_append(b, h->text + run, run_end - run);
            any = true;
            run_end = 0;
        }
        if (e->src_len) {
            run = e->src;
            run_end = e->src + e->src_len;
            continue;
        }
        if (any)
            sq_buf_append(b, ",", 1);
        sq_history_put(b, e);
        any = true;
    }
    if (run_end) {
        if (any)
            sq_buf_append(b, ",", 1);
        sq_buf_append(b, h->text + run, run_end - run);
    }
    sq_buf_append(b, "]", 1);
}

void sq_history_fini(struct sq_history *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].owned)
            free((char *)h->v[i].reason);
    free(h->v);
    free(h->text);
    memset(h, 0, sizeof *h);
}
