/* sq_common.c: allocation, error, time, key-encoding and buffer helpers. */
#include "sq_common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sq_oom(size_t n)
{
    fprintf(stderr, "sqgate: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sq_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        sq_oom(n);
    return p;
}

/* SHA-256 as fetched from OpenSSL's provider once: EVP_sha256() makes
 * EVP_Digest fetch it again on every call, half of a short digest's time
 * (0.54 against 0.24 µs). Fetched methods may be shared by threads. */
static EVP_MD *sq_sha256_md;
static pthread_once_t sq_sha256_once = PTHREAD_ONCE_INIT;

static void sq_sha256_fetch(void)
{
    sq_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sq_xsha256(const void *p, size_t n, unsigned char out[32])
{
    pthread_once(&sq_sha256_once, sq_sha256_fetch);
    unsigned int len = 0;
    if (!sq_sha256_md || !EVP_Digest(p, n, out, &len, sq_sha256_md, NULL) || len != 32) {
        fprintf(stderr, "sqgate: OpenSSL could not compute a SHA-256\n");
        abort();
    }
}

void *sq_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        sq_oom(count * size);
    return p;
}

void *sq_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        sq_oom(n);
    return q;
}

char *sq_xstrdup(const char *s)
{
    return sq_xstrndup(s, strlen(s));
}

char *sq_xstrndup(const char *s, size_t n)
{
    char *p = sq_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t sq_i64_format(char *buf, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return n;
}

int64_t sq_i64_parse(const char *s)
{
    const char *p = s + (*s == '-');
    int64_t v = 0;
    int n = 0;
    for (; p[n] >= '0' && p[n] <= '9'; n++) {
        if (n == 18)
            return strtoll(s, NULL, 10); /* may not fit */
        v = v * 10 + (p[n] - '0');
    }
    if (n == 0 || p[n] != '\0')
        return strtoll(s, NULL, 10); /* signs, spaces, trailing text */
    return *s == '-' ? -v : v;
}

int sq_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

char *sq_xasprintf(const char *fmt, ...)
{
    /* formatted once into a stack buffer when it fits (keys and ids do),
     * and only a longer text a second time */
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    char *p = sq_xmalloc((size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(p, small, (size_t)n + 1);
        return p;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void sq_err_clear(struct sq_err *err)
{
    err->kind = SQ_OK;
    err->pointer[0] = '\0';
    err->msg[0] = '\0';
}

int sq_err_set(struct sq_err *err, enum sq_err_kind kind, const char *pointer,
               const char *fmt, ...)
{
    if (!err)
        return kind;
    err->kind = kind;
    snprintf(err->pointer, sizeof err->pointer, "%s", pointer ? pointer : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return kind;
}

int64_t sq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sq_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sq_mono_ms(void)
{
    return sq_mono_us() / 1000;
}

struct timespec sq_deadline_in_ms(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t sq_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int sq_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sq_time_parse(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20)
        return -1;
    if (sq_digits(s, 4, &y) || s[4] != '-' || sq_digits(s + 5, 2, &mo) || s[7] != '-' ||
        sq_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        sq_digits(s + 11, 2, &h) || s[13] != ':' || sq_digits(s + 14, 2, &mi) ||
        s[16] != ':' || sq_digits(s + 17, 2, &sec))
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sq_digits(p + 1, 2, &oh) || p[3] != ':' || sq_digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (sec == 60)
        sec = 59; /* leap second: clamp, epoch time has none */
    int64_t t = sq_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out_ms = t * 1000 + frac_ms;
    return 0;
}

/* y-m-d of a day count from 1970-01-01, the inverse of sq_days_from_civil
 * (H. Hinnant's civil_from_days). */
void sq_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits of v, zero-padded, at p. */
static char *sq_put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

void sq_time_format(int64_t ms, char out[SQ_TIME_BUFSZ])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int milli = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400, y;
    int mo, d;
    sq_civil_from_days(days, &y, &mo, &d);
    if (y >= 0 && y <= 9999) { /* by hand: gmtime_r locks, snprintf parses */
        char *p = sq_put_digits(out, y, 4);
        *p++ = '-';
        p = sq_put_digits(p, mo, 2);
        *p++ = '-';
        p = sq_put_digits(p, d, 2);
        *p++ = 'T';
        p = sq_put_digits(p, sod / 3600, 2);
        *p++ = ':';
        p = sq_put_digits(p, sod / 60 % 60, 2);
        *p++ = ':';
        p = sq_put_digits(p, sod % 60, 2);
        *p++ = '.';
        p = sq_put_digits(p, milli, 3);
        memcpy(p, "Z", 2);
        return;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, SQ_TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}

/* Writes id escaped (at most 3 * len bytes) to out; returns the length. */
static size_t sq_key_escape_to(char *out, const char *id, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c == '%' || c == ':' || c == '|' || c < 0x20) {
            static const char hex[] = "0123456789ABCDEF";
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

char *sq_key_escape_dup(const char *id, size_t len)
{
    char *out = sq_xmalloc(len * 3 + 1);
    out[sq_key_escape_to(out, id, len)] = '\0';
    return out;
}

void sq_buf_init(struct sq_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sq_buf_fini(struct sq_buf *b)
{
    free(b->data);
    sq_buf_init(b);
}

void sq_buf_reserve(struct sq_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = sq_xrealloc(b->data, cap);
    b->cap = cap;
}

void sq_buf_append(struct sq_buf *b, const void *p, size_t n)
{
    sq_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sq_buf_appendf(struct sq_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sq_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sq_buf_append_str(struct sq_buf *b, const char *s)
{
    sq_buf_append(b, s, strlen(s));
}

void sq_buf_append_i64(struct sq_buf *b, int64_t v)
{
    sq_buf_reserve(b, 24);
    b->len += sq_i64_format(b->data + b->len, v);
}

void sq_buf_append_key_escaped(struct sq_buf *b, const char *id, size_t len)
{
    sq_buf_reserve(b, 3 * len);
    b->len += sq_key_escape_to(b->data + b->len, id, len);
    b->data[b->len] = '\0';
}

void sq_buf_reset(struct sq_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sq_fmt_number(double v, char out[32])
{
    if (isnan(v) || isinf(v)) {
        snprintf(out, 32, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v == 0 ? 0.0 : v);
        return;
    }
    for (int prec = 1; prec <= 15; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
    snprintf(out, 32, "%.15g", v);
}
