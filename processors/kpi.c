/* kpi.c: SPEC 6's counter and KPI tables, the KPI formulas, window sizes
 * and alignment, cell keys and the sq.out.kpi record. Pure: no I/O, no
 * state; processors/aggregate.c and gateway/config.c call it. */
#include "kpi.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "json_out.h"
#include "sq_common.h"

/* The counters' names in one array of fixed width, so that the pointer
 * sq_kpi_counter_name gives tells its counter (sq_kpi_counter_of_name). */
#define SQ_KC_NAME_W 32
static const char sq_kpi_counter_names[SQ_KC__COUNT][SQ_KC_NAME_W] = {
#define SQ_KPI_X(e, name) #name,
    SQ_KPI_COUNTERS(SQ_KPI_X)
#undef SQ_KPI_X
};

static const char *const sq_kpi_names[SQ_KPI__COUNT] = {
#define SQ_KPI_X(e, name) #name,
    SQ_KPI_KPIS(SQ_KPI_X)
#undef SQ_KPI_X
};

static const char *const sq_kpi_dim_names[SQ_KD__COUNT] = {
    "queue", "region", "channel", "agent", "tier", "all",
};

static const char *const sq_sl_mode_names[] = {
    "abandons_against", "abandons_ignored", "abandons_met",
};

const char *sq_kpi_counter_name(enum sq_kpi_counter c)
{
    return (unsigned)c < SQ_KC__COUNT ? sq_kpi_counter_names[c] : NULL;
}

int sq_kpi_counter_of_name(const char *p)
{
    uintptr_t d = (uintptr_t)p - (uintptr_t)sq_kpi_counter_names;
    if (d >= sizeof sq_kpi_counter_names || d % SQ_KC_NAME_W)
        return -1;
    return (int)(d / SQ_KC_NAME_W);
}

const char *sq_kpi_name(enum sq_kpi k)
{
    return (unsigned)k < SQ_KPI__COUNT ? sq_kpi_names[k] : NULL;
}

const char *sq_kpi_dim_name(enum sq_kpi_dim d)
{
    return (unsigned)d < SQ_KD__COUNT ? sq_kpi_dim_names[d] : NULL;
}

/* A counter's index by the len bytes at name, or -1. */
static int sq_kpi_counter_find(const char *name, size_t len)
{
    for (int i = 0; i < SQ_KC__COUNT; i++) {
        const char *c = sq_kpi_counter_names[i];
        if (c[0] == name[0] && strncmp(c, name, len) == 0 && c[len] == '\0')
            return i;
    }
    return -1;
}

int sq_kpi_counter_parse(const char *name)
{
    return sq_kpi_counter_find(name, strlen(name));
}

int sq_sl_mode_parse(const char *name)
{
    for (size_t i = 0; i < sizeof sq_sl_mode_names / sizeof sq_sl_mode_names[0]; i++)
        if (name && strcmp(sq_sl_mode_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* num / den, or false when den is not positive. */
static bool sq_ratio(int64_t num, int64_t den, double *out)
{
    if (den <= 0)
        return false;
    *out = (double)num / (double)den;
    return true;
}

bool sq_kpi_value(const struct sq_kpi_counters *c, enum sq_kpi k, enum sq_sl_mode mode,
                  double *out)
{
    const int64_t *v = c->v;
    int64_t d = v[SQ_KC_OFFERED] - v[SQ_KC_SHORT_ABANDONED] - v[SQ_KC_CALLBACK_REQUESTS];
    int64_t long_abandons = v[SQ_KC_ABANDONED] - v[SQ_KC_SHORT_ABANDONED];
    int64_t answered = v[SQ_KC_ANSWERED];
    switch (k) {
    case SQ_KPI_SERVICE_LEVEL:
        switch (mode) {
        case SQ_SL_ABANDONS_IGNORED:
            return sq_ratio(v[SQ_KC_ANSWERED_IN_SLA], d - long_abandons, out);
        case SQ_SL_ABANDONS_MET:
            return sq_ratio(v[SQ_KC_ANSWERED_IN_SLA] + v[SQ_KC_ABANDONED_IN_SLA], d, out);
        case SQ_SL_ABANDONS_AGAINST:
            break;
        }
        return sq_ratio(v[SQ_KC_ANSWERED_IN_SLA], d, out);
    case SQ_KPI_ABANDON_RATE:
        return sq_ratio(long_abandons, d, out);
    case SQ_KPI_ASA_S:
        return sq_ratio(v[SQ_KC_WAIT_ANSWERED_MS_SUM], answered * 1000, out);
    case SQ_KPI_AHT_S:
        return sq_ratio(v[SQ_KC_HANDLE_MS_SUM], answered * 1000, out);
    case SQ_KPI_FCR_RATE:
        return sq_ratio(answered - v[SQ_KC_REPEAT], answered, out);
    case SQ_KPI_TRANSFER_RATE:
        return sq_ratio(v[SQ_KC_TRANSFERS_SUM], answered, out);
    case SQ_KPI_CSAT_AVG:
        return sq_ratio(v[SQ_KC_CSAT_SUM], v[SQ_KC_CSAT_N], out);
    case SQ_KPI_NPS:
        return sq_ratio(100 * (v[SQ_KC_NPS_PROMOTERS] - v[SQ_KC_NPS_DETRACTORS]), v[SQ_KC_NPS_N],
                        out);
    case SQ_KPI_QA_AVG:
        return sq_ratio(v[SQ_KC_QA_SCORE_MILLI_SUM], v[SQ_KC_QA_N] * 1000, out);
    case SQ_KPI_QUALITY_SCORE_AVG: {
        double tenths;
        if (!sq_ratio(v[SQ_KC_QUALITY_SCORE_DECI_SUM], v[SQ_KC_QUALITY_SCORE_N], &tenths))
            return false;
        *out = round(tenths) / 10;
        return true;
    }
    case SQ_KPI__COUNT:
        break;
    }
    return false;
}

/* ---- windows ----------------------------------------------------------- */

#define SQ_KPI_MIN_WINDOW_MS 1000LL
#define SQ_KPI_MAX_WINDOW_MS (31LL * 86400 * 1000)

static void sq_window_label(int64_t size_ms, char out[16])
{
    int64_t s = size_ms / 1000;
    if (s % 86400 == 0)
        snprintf(out, 16, "%lldd", (long long)(s / 86400));
    else if (s % 3600 == 0)
        snprintf(out, 16, "%lldh", (long long)(s / 3600));
    else if (s % 60 == 0)
        snprintf(out, 16, "%lldm", (long long)(s / 60));
    else
        snprintf(out, 16, "%llds", (long long)s);
}

/* One item "15m" (trimmed to [p, end)) to ms, or -1 with msg filled. */
static int64_t sq_window_item_ms(const char *p, const char *end, char *msg, size_t msgsz)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    size_t len = (size_t)(end - p);
    if (len == 0) {
        snprintf(msg, msgsz, "empty window size");
        return -1;
    }
    int64_t n = 0;
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9') {
        if (n > 1000000000LL) {
            snprintf(msg, msgsz, "window size \"%.*s\" is too large", (int)len, p);
            return -1;
        }
        n = n * 10 + (*q - '0');
        q++;
    }
    int64_t unit = 0;
    if (q > p && q + 1 == end) {
        switch (*q) {
        case 's': unit = 1000; break;
        case 'm': unit = 60000; break;
        case 'h': unit = 3600000; break;
        case 'd': unit = 86400000; break;
        default: break;
        }
    }
    if (!unit) {
        snprintf(msg, msgsz,
                 "window size \"%.*s\" is not a number with unit s, m, h or d (e.g. 15m)",
                 (int)(len > 40 ? 40 : len), p);
        return -1;
    }
    int64_t ms = n * unit;
    if (ms < SQ_KPI_MIN_WINDOW_MS || ms > SQ_KPI_MAX_WINDOW_MS) {
        snprintf(msg, msgsz, "window size \"%.*s\" must be between 1s and 31d", (int)len, p);
        return -1;
    }
    return ms;
}

int sq_kpi_windows_parse(const char *text, struct sq_kpi_windows *out, char *msg, size_t msgsz)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        int64_t ms = sq_window_item_ms(p, end, msg, msgsz);
        if (ms < 0)
            return -1;
        if (out->n == SQ_KPI_MAX_WINDOWS) {
            snprintf(msg, msgsz, "at most %d window sizes", SQ_KPI_MAX_WINDOWS);
            return -1;
        }
        /* insert sorted, smallest first */
        size_t pos = out->n;
        for (size_t i = 0; i < out->n; i++) {
            if (out->v[i].size_ms == ms) {
                snprintf(msg, msgsz, "window size %s given twice", out->v[i].label);
                return -1;
            }
        }
        while (pos > 0 && out->v[pos - 1].size_ms > ms) {
            out->v[pos] = out->v[pos - 1];
            pos--;
        }
        out->v[pos].size_ms = ms;
        sq_window_label(ms, out->v[pos].label);
        out->n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int64_t sq_kpi_window_start_ms(int64_t t_ms, int64_t size_ms)
{
    int64_t q = t_ms / size_ms;
    if (t_ms % size_ms < 0)
        q--;
    return q * size_ms;
}

/* Epoch seconds of a window start (starts are whole seconds: sizes are). */
static int64_t sq_start_s(int64_t start_ms)
{
    return start_ms / 1000;
}

/* {dimension}{sep}{key}{sep}{window}{sep}{start}, the key escaped. */
static void sq_kpi_cell_put(struct sq_buf *b, const char *sep, enum sq_kpi_dim dim,
                            const char *key, const struct sq_kpi_window *w, int64_t start_ms)
{
    sq_buf_append_str(b, sq_kpi_dim_name(dim));
    sq_buf_append(b, sep, 1);
    sq_buf_append_key_escaped(b, key, strlen(key));
    sq_buf_append(b, sep, 1);
    sq_buf_append_str(b, w->label);
    sq_buf_append(b, sep, 1);
    sq_buf_append_i64(b, sq_start_s(start_ms));
}

void sq_kpi_redis_key_put(struct sq_buf *b, const char *prefix, enum sq_kpi_dim dim,
                          const char *key, const struct sq_kpi_window *w, int64_t start_ms)
{
    sq_buf_append_str(b, prefix);
    sq_buf_append(b, "kpi:", 4);
    sq_kpi_cell_put(b, ":", dim, key, w, start_ms);
}

void sq_kpi_kafka_key_put(struct sq_buf *b, enum sq_kpi_dim dim, const char *key,
                          const struct sq_kpi_window *w, int64_t start_ms)
{
    sq_kpi_cell_put(b, "|", dim, key, w, start_ms);
}

void sq_kpi_redis_key_of_cell(struct sq_buf *b, const char *prefix, const char *id, size_t len)
{
    sq_buf_append_str(b, prefix);
    sq_buf_append(b, "kpi:", 4);
    size_t at = b->len;
    sq_buf_append(b, id, len);
    for (size_t i = at; i < b->len; i++)
        if (b->data[i] == '|')
            b->data[i] = ':';
}

char *sq_kpi_redis_key_dup(const char *prefix, enum sq_kpi_dim dim, const char *key,
                           const struct sq_kpi_window *w, int64_t start_ms)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_kpi_redis_key_put(&b, prefix, dim, key, w, start_ms);
    return b.data;
}

char *sq_kpi_kafka_key_dup(enum sq_kpi_dim dim, const char *key, const struct sq_kpi_window *w,
                           int64_t start_ms)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_kpi_kafka_key_put(&b, dim, key, w, start_ms);
    return b.data;
}

/* One hex digit's value, or -1. */
static int sq_hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int sq_kpi_cell_parse(const char *id, struct sq_kpi_cell *out)
{
    memset(out, 0, sizeof *out);
    const char *bar1 = strchr(id, '|');
    const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
    const char *bar3 = bar2 ? strchr(bar2 + 1, '|') : NULL;
    if (!bar3 || strchr(bar3 + 1, '|'))
        return -1;
    int dim = -1;
    for (int d = 0; d < SQ_KD__COUNT; d++)
        if (strlen(sq_kpi_dim_names[d]) == (size_t)(bar1 - id) &&
            strncmp(sq_kpi_dim_names[d], id, (size_t)(bar1 - id)) == 0)
            dim = d;
    char label[sizeof out->window.label];
    size_t ll = (size_t)(bar3 - bar2 - 1);
    if (dim < 0 || ll == 0 || ll >= sizeof label)
        return -1;
    memcpy(label, bar2 + 1, ll);
    label[ll] = '\0';
    struct sq_kpi_windows ws;
    char msg[128];
    if (sq_kpi_windows_parse(label, &ws, msg, sizeof msg) != 0 || ws.n != 1 ||
        strcmp(ws.v[0].label, label) != 0)
        return -1;
    char *end;
    long long start_s = strtoll(bar3 + 1, &end, 10);
    if (end == bar3 + 1 || *end || start_s % (ws.v[0].size_ms / 1000) != 0)
        return -1;
    size_t kl = (size_t)(bar2 - bar1 - 1);
    char *key = sq_xmalloc(kl + 1);
    size_t o = 0;
    for (const char *p = bar1 + 1; p < bar2; p++) {
        if (*p != '%') {
            key[o++] = *p;
            continue;
        }
        int hi = p + 2 < bar2 ? sq_hex_value(p[1]) : -1, lo = hi >= 0 ? sq_hex_value(p[2]) : -1;
        if (lo < 0) {
            free(key);
            return -1;
        }
        key[o++] = (char)(hi * 16 + lo);
        p += 2;
    }
    key[o] = '\0';
    out->dim = (enum sq_kpi_dim)dim;
    out->key = key;
    out->window = ws.v[0];
    out->start_ms = start_s * 1000;
    out->end_ms = out->start_ms + ws.v[0].size_ms;
    return 0;
}

void sq_kpi_cell_fini(struct sq_kpi_cell *c)
{
    free(c->key);
    c->key = NULL;
}

/* A counter's value: 0 with *n, or -1 when s is not an integer. */
static int sq_kpi_counter_value(const char *s, long long *n)
{
    char *end = NULL;
    errno = 0;
    *n = s ? strtoll(s, &end, 10) : 0;
    return !s || end == s || *end || errno ? -1 : 0;
}

int sq_kpi_counters_add_hash(struct sq_kpi_counters *c, json_t *hash)
{
    int rc = 0;
    const char *field;
    json_t *val;
    json_object_foreach(hash, field, val) {
        int i = sq_kpi_counter_parse(field);
        long long n;
        if (i < 0)
            continue;
        if (sq_kpi_counter_value(json_string_value(val), &n) != 0) {
            rc = -1;
            continue;
        }
        c->v[i] += n;
    }
    return rc;
}

/* A JSON string without escapes, control or non-ASCII bytes at *p (past
 * its opening quote): its bytes [*s, *s + *len), *p past the closing
 * quote. false for anything else, which json_loads then judges. */
static bool sq_kpi_plain_string(const char **p, const char **s, size_t *len)
{
    const char *q = *p;
    while (*q != '"') {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x20 || ch >= 0x80 || ch == '\\')
            return false;
        q++;
    }
    *s = *p;
    *len = (size_t)(q - *p);
    *p = q + 1;
    return true;
}

/* The compact text of a hash of plain strings, each counter at most once,
 * added to c: 0 or -1 as sq_kpi_counters_add_hash, or 1 (c untouched) when
 * the text is anything else. */
static int sq_kpi_counters_add_plain(struct sq_kpi_counters *c, const char *text)
{
    struct sq_kpi_counters sum = *c;
    uint64_t seen = 0;
    int rc = 0;
    const char *p = text;
    if (*p++ != '{')
        return 1;
    if (*p == '}')
        return p[1] ? 1 : 0;
    for (;;) {
        const char *k, *v;
        size_t kl, vl;
        if (*p++ != '"' || !sq_kpi_plain_string(&p, &k, &kl) || *p++ != ':' || *p++ != '"' ||
            !sq_kpi_plain_string(&p, &v, &vl))
            return 1;
        int i = kl ? sq_kpi_counter_find(k, kl) : -1;
        if (i >= 0) {
            char num[32];
            long long n;
            if ((seen >> i & 1) || vl >= sizeof num)
                return 1; /* json_loads keeps a repeated field's last value */
            seen |= 1ULL << i;
            memcpy(num, v, vl);
            num[vl] = '\0';
            if (sq_kpi_counter_value(num, &n) != 0)
                rc = -1;
            else
                sum.v[i] += n;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (p[0] != '}' || p[1])
            return 1;
        *c = sum;
        return rc;
    }
}

int sq_kpi_counters_add_text(struct sq_kpi_counters *c, const char *text)
{
    int rc = sq_kpi_counters_add_plain(c, text);
    if (rc != 1)
        return rc;
    json_error_t jerr;
    json_t *h = json_loads(text, 0, &jerr);
    rc = sq_kpi_counters_add_hash(c, h);
    json_decref(h);
    return rc;
}

json_t *sq_kpi_record(enum sq_kpi_dim dim, const char *key, const struct sq_kpi_window *w,
                      int64_t start_ms, int64_t revision, const struct sq_kpi_counters *c,
                      enum sq_sl_mode mode)
{
    char start[SQ_TIME_BUFSZ], end[SQ_TIME_BUFSZ];
    sq_time_format(start_ms, start);
    sq_time_format(start_ms + w->size_ms, end);
    /* member names are the tables' ASCII: set without jansson's UTF-8 check */
    json_t *counters = json_object();
    for (int i = 0; i < SQ_KC__COUNT; i++)
        json_object_set_new_nocheck(counters, sq_kpi_counter_names[i], json_integer(c->v[i]));
    json_t *kpis = json_object();
    for (int k = 0; k < SQ_KPI__COUNT; k++) {
        double v;
        json_t *val = sq_kpi_value(c, (enum sq_kpi)k, mode, &v) ? sq_json_number(v) : json_null();
        json_object_set_new_nocheck(kpis, sq_kpi_names[k], val);
    }
    json_t *rec = json_object();
    json_object_set_new_nocheck(rec, "dimension", json_string(sq_kpi_dim_name(dim)));
    json_object_set_new_nocheck(rec, "key", json_string(key));
    json_object_set_new_nocheck(rec, "window", json_string(w->label));
    json_object_set_new_nocheck(rec, "start", json_string(start));
    json_object_set_new_nocheck(rec, "end", json_string(end));
    json_object_set_new_nocheck(rec, "revision", json_integer(revision));
    json_object_set_new_nocheck(rec, "counters", counters);
    json_object_set_new_nocheck(rec, "kpis", kpis);
    return rec;
}

/* `"name":` for a member whose name needs no escapes (the tables'). */
static void sq_kpi_put_name(struct sq_buf *b, const char *name)
{
    sq_buf_append(b, "\"", 1);
    sq_buf_append_str(b, name);
    sq_buf_append(b, "\":", 2);
}

/* A KPI value as sq_json_number(v) dumps with precision 15; false where
 * json_real would refuse it (not finite) and the member is left out. */
static bool sq_kpi_put_number(struct sq_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        sq_buf_append_i64(b, (int64_t)v);
        return true;
    }
    return isfinite(v) && sq_json_put_real(b, v, 15) == 0;
}

void sq_kpi_record_put(struct sq_buf *b, enum sq_kpi_dim dim, const char *key,
                       const struct sq_kpi_window *w, int64_t start_ms, int64_t revision,
                       const struct sq_kpi_counters *c, enum sq_sl_mode mode)
{
    size_t len0 = b->len;
    char t[SQ_TIME_BUFSZ];
    sq_buf_append_str(b, "{\"dimension\":\"");
    sq_buf_append_str(b, sq_kpi_dim_name(dim));
    sq_buf_append_str(b, "\",\"key\":");
    if (sq_json_put_string(b, key, strlen(key)) != 0) {
        /* not UTF-8: whatever jansson makes of it */
        b->len = len0;
        json_t *rec = sq_kpi_record(dim, key, w, start_ms, revision, c, mode);
        sq_json_dump_buf(b, rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(rec);
        return;
    }
    sq_buf_append_str(b, ",\"window\":");
    sq_json_put_string(b, w->label, strlen(w->label));
    sq_time_format(start_ms, t);
    sq_buf_append_str(b, ",\"start\":\"");
    sq_buf_append_str(b, t);
    sq_time_format(start_ms + w->size_ms, t);
    sq_buf_append_str(b, "\",\"end\":\"");
    sq_buf_append_str(b, t);
    sq_buf_append_str(b, "\",\"revision\":");
    sq_buf_append_i64(b, revision);
    sq_buf_append_str(b, ",\"counters\":{");
    for (int i = 0; i < SQ_KC__COUNT; i++) {
        if (i)
            sq_buf_append(b, ",", 1);
        sq_kpi_put_name(b, sq_kpi_counter_names[i]);
        sq_buf_append_i64(b, c->v[i]);
    }
    sq_buf_append_str(b, "},\"kpis\":{");
    bool first = true;
    for (int k = 0; k < SQ_KPI__COUNT; k++) {
        size_t at = b->len;
        if (!first)
            sq_buf_append(b, ",", 1);
        sq_kpi_put_name(b, sq_kpi_names[k]);
        double v;
        if (!sq_kpi_value(c, (enum sq_kpi)k, mode, &v))
            sq_buf_append(b, "null", 4);
        else if (!sq_kpi_put_number(b, v)) {
            b->len = at;
            continue;
        }
        first = false;
    }
    sq_buf_append(b, "}}", 2);
}
