/* history.c: a customer's contact history (history.h). The text sqgate
 * writes, [[int,"printable ASCII"],…] without spaces or escapes, is read
 * in place; anything else goes through jansson, as it always did. */
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

static char *sq_skip_ws(char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* The common form, read in h->text: each reason is cut out of it with a
 * NUL where its closing quote was. false when the text is not that form
 * (h is then empty again). */
static bool sq_history_parse_plain(struct sq_history *h)
{
    char *p = sq_skip_ws(h->text);
    if (*p++ != '[')
        return false;
    p = sq_skip_ws(p);
    if (*p == ']')
        return *sq_skip_ws(p + 1) == '\0';
    for (;;) {
        p = sq_skip_ws(p);
        if (*p++ != '[')
            goto no;
        p = sq_skip_ws(p);
        const char *digits = *p == '-' ? p + 1 : p;
        if (*digits < '0' || *digits > '9' || (digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9'))
            goto no;
        errno = 0;
        char *end;
        long long t = strtoll(p, &end, 10);
        if (errno == ERANGE || *end == '.' || *end == 'e' || *end == 'E')
            goto no; /* jansson's rules for those */
        p = sq_skip_ws(end);
        if (*p++ != ',')
            goto no;
        p = sq_skip_ws(p);
        if (*p++ != '"')
            goto no;
        char *reason = p;
        while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (*p != '"')
            goto no; /* an escape, a control byte or UTF-8: jansson reads it */
        *p++ = '\0';
        p = sq_skip_ws(p);
        if (*p++ != ']')
            goto no;
        sq_history_push(h, (struct sq_history_entry){(int64_t)t, reason, false});
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
                                   (int64_t)json_integer_value(json_array_get(e, 0)),
                                   r ? sq_xstrdup(r) : NULL, r != NULL});
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
    for (size_t i = 0; i < h->n; i++) {
        int64_t d = arrived_ms - h->v[i].t;
        if (d > 0 && d <= window_ms && h->v[i].reason && strcmp(h->v[i].reason, reason) == 0)
            in_window++;
    }
    /* insert in arrival order */
    size_t pos = h->n;
    while (pos > 0 && h->v[pos - 1].t > arrived_ms)
        pos--;
    sq_history_push(h, (struct sq_history_entry){0});
    memmove(&h->v[pos + 1], &h->v[pos], (h->n - 1 - pos) * sizeof *h->v);
    h->v[pos] = (struct sq_history_entry){arrived_ms, sq_xstrdup(reason), true};
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

void sq_history_dump(const struct sq_history *h, struct sq_buf *b)
{
    sq_buf_append(b, "[", 1);
    for (size_t i = 0; i < h->n; i++) {
        sq_buf_append(b, i ? ",[" : "[", i ? 2 : 1);
        sq_buf_append_i64(b, h->v[i].t);
        sq_buf_append(b, ",", 1);
        const char *r = h->v[i].reason;
        if (!r || sq_json_put_string(b, r, strlen(r)) != 0)
            sq_buf_append(b, "null", 4);
        sq_buf_append(b, "]", 1);
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
