/* sq_common.h: allocation, error, time and key-encoding helpers shared by
 * every module of sqgate (processors and gateway alike). */
#ifndef SQ_COMMON_H
#define SQ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdarg.h>

/* Allocation: abort with a message on out-of-memory, so no caller has an
 * untested NULL branch (as redis zmalloc). */
void *sq_xmalloc(size_t n);
void *sq_xcalloc(size_t count, size_t size);
void *sq_xrealloc(void *p, size_t n);
char *sq_xstrdup(const char *s);
char *sq_xstrndup(const char *s, size_t n);
/* SHA-256 of p[0..n) into out; aborts with a message when OpenSSL cannot
 * compute it (no memory, no default provider), as the allocators do. */
void sq_xsha256(const void *p, size_t n, unsigned char out[32]);
/* Writes v in decimal, NUL-terminated, into buf (24 bytes are enough);
 * returns its length. printf's %lld without the format parsing. */
size_t sq_i64_format(char *buf, int64_t v);
/* strtoll(s, NULL, 10), without strtoll's locale and base handling for
 * the plain decimals ("-"? and up to 18 digits) counters hold. */
int64_t sq_i64_parse(const char *s);
char *sq_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What an error means for the caller: a data error goes to the DLQ, a
 * transient one is retried with backoff, a fatal one shuts down. */
enum sq_err_kind {
    SQ_OK = 0,
    SQ_ERR_DATA = 1,
    SQ_ERR_TRANSIENT = 2,
    SQ_ERR_FATAL = 3,
};

/* An error the callee fills and the caller logs once, with context. */
struct sq_err {
    enum sq_err_kind kind;
    char pointer[256];   /* JSON pointer or config path, "" when none */
    char msg[512];
};

void sq_err_clear(struct sq_err *err);
/* Fills err and returns kind, so callers can `return sq_err_set(...)`. */
int sq_err_set(struct sq_err *err, enum sq_err_kind kind, const char *pointer,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Time. Wall clock for event-time comparisons, monotonic for timeouts. */
int64_t sq_now_ms(void);
int64_t sq_mono_ms(void);
/* The same clock in microseconds. */
int64_t sq_mono_us(void);
/* The wall-clock time ms from now, as pthread_cond_timedwait takes it. */
struct timespec sq_deadline_in_ms(int64_t ms);
/* RFC 3339 with a mandatory offset ("Z" or +hh:mm) to epoch ms (truncated to
 * ms). Returns 0 on success, -1 when the text is not RFC 3339. */
int sq_time_parse(const char *s, int64_t *out_ms);
/* A whole decimal number in [lo, hi] (command-line values): 0 with *out,
 * or -1 when s is empty, not a number, has trailing text or is out of range. */
int sq_parse_double(const char *s, double lo, double hi, double *out);
/* The bytes of the longest id the schemas admit: SPEC 2's ids are 1..128
 * characters (JSON Schema's maxLength counts characters), each up to four
 * bytes of UTF-8. Buffers that keep an id whole are this big plus one. */
#define SQ_ID_MAX_BYTES 512
#define SQ_TIME_BUFSZ 64
/* Epoch ms to "2026-11-25T10:15:00.000Z" (UTC, milliseconds). */
void sq_time_format(int64_t ms, char out[SQ_TIME_BUFSZ]);
/* Year, month and day of a day count from 1970-01-01 (proleptic Gregorian). */
void sq_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Percent-encodes '%', ':', '|' and bytes below 0x20 of an id component so
 * no id can reach another key (SPEC 15). Returns a new string. */
char *sq_key_escape_dup(const char *id, size_t len);

/* A growable byte buffer with a ceiling (curl dynbuf). */
struct sq_buf {
    char *data;
    size_t len;
    size_t cap;
};
void sq_buf_init(struct sq_buf *b);
void sq_buf_fini(struct sq_buf *b);
/* Room for extra more bytes and a NUL after b->len. */
void sq_buf_reserve(struct sq_buf *b, size_t extra);
void sq_buf_append(struct sq_buf *b, const void *p, size_t n);
void sq_buf_appendf(struct sq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s; v in decimal; id escaped as sq_key_escape_dup does. For keys
 * built in a reused buffer instead of one allocation each. */
void sq_buf_append_str(struct sq_buf *b, const char *s);
void sq_buf_append_i64(struct sq_buf *b, int64_t v);
void sq_buf_append_key_escaped(struct sq_buf *b, const char *id, size_t len);
void sq_buf_reset(struct sq_buf *b);

/* Shortest round-trip form with at most 15 significant digits; integral
 * values below 1e15 without a fraction (SPEC 15). */
void sq_fmt_number(double v, char out[32]);

#endif
