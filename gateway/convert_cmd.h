/* convert_cmd.h: `sqgate convert DATASET FILE|- [-o OUT] [--profiles]`:
 * turns one file of a public data set (shared/data/README.md gives each
 * mapping) into replay envelopes {"topic", "key", "value"}, one per line.
 * The command, its testable core (sq_convert_run), and the helpers the
 * per-data-set converters (convert_<set>.c) share. */
#ifndef SQ_CONVERT_CMD_H
#define SQ_CONVERT_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sq_common.h"

/* Results, equal to the command's exit status. */
enum sq_conv_rc {
    SQ_CONV_OK = 0,
    SQ_CONV_NOT_DATASET = 1, /* the input is not a file of that data set (header) */
    SQ_CONV_FAILED = 2,      /* usage, I/O or gzip error */
};

/* Instant given to the events of data sets that have no time of their own
 * (telco_churn, ecsi_mobile_survey) unless --at says otherwise. */
#define SQ_CONV_DEFAULT_AT "2020-01-01T00:00:00Z"

/* ---- input: the lines of a plain or gzip file, stdin, or memory ------ */

/* A line longer than this is an error (no data set has one over 2 KiB). */
#define SQ_CONV_MAX_LINE (1u << 20)

struct sq_conv_in;
/* path "-" is stdin. gzip input (by its magic bytes, not its name) is
 * inflated with zlib; anything else is read as is. NULL with err filled
 * when the file cannot be opened. Release with sq_conv_in_free. */
struct sq_conv_in *sq_conv_in_open(const char *path, struct sq_err *err);
/* Reads len bytes at data (borrowed: must outlive the reader). */
struct sq_conv_in *sq_conv_in_mem_new(const char *data, size_t len);
/* The next line, NUL-terminated, without its LF or CRLF; a UTF-8 BOM at
 * the very start of the input is dropped. *line is lent until the next
 * call. Returns 1, 0 at end of input, -1 on a read error or an overlong
 * line (err filled). A last line without line end is still a line. */
int sq_conv_in_next(struct sq_conv_in *in, char **line, size_t *len, struct sq_err *err);
void sq_conv_in_free(struct sq_conv_in *in);

/* ---- the conversion ---------------------------------------------------- */

struct sq_convert_opts {
    bool profiles;  /* anonymous_bank: profile.v1 events first (README 1) */
    bool file_order; /* anonymous_bank: contacts in row order, not event-time order */
    const char *at; /* RFC 3339: the instant of timeless data sets; NULL = default */
};

#define SQ_CONV_MAX_REASONS 16
struct sq_convert_stats {
    uint64_t rows;    /* data rows read (blank lines and the header not counted) */
    uint64_t events;  /* envelopes written */
    uint64_t skipped; /* rows that gave no event */
    size_t reasons_n; /* skip reasons, in order of first occurrence */
    struct {
        const char *reason; /* static string */
        uint64_t n;
    } reasons[SQ_CONV_MAX_REASONS];
};

/* Converts `in` as data set `dataset` and writes envelopes to `out`.
 * stats is zeroed first and filled as rows go. Returns an enum sq_conv_rc;
 * on SQ_CONV_NOT_DATASET or SQ_CONV_FAILED err says why (and what was
 * written to out so far must be discarded). */
int sq_convert_run(const char *dataset, struct sq_conv_in *in, FILE *out,
                   const struct sq_convert_opts *opts, struct sq_convert_stats *stats,
                   struct sq_err *err);
/* "convert: N rows, N events, N skipped (reason: count, …)\n". */
void sq_convert_stats_print(const struct sq_convert_stats *st, FILE *f);
/* Whether dataset is one this version converts (false: unknown or not yet). */
bool sq_convert_supported(const char *dataset);
/* argv: the options after "convert". Returns the exit status. */
int sq_convert_main(int argc, char **argv);

/* ---- for the converters -------------------------------------------------- */

/* One conversion in progress. */
struct sq_conv {
    struct sq_conv_in *in;
    FILE *out;
    const struct sq_convert_opts *opts;
    struct sq_convert_stats *stats;
    struct sq_err *err;
    uint64_t lineno; /* 1-based number of the line last read */
    const char *at;  /* opts->at or SQ_CONV_DEFAULT_AT */
};

/* One split row: n fields, each NUL-terminated in mem, which the row owns. */
struct sq_conv_row {
    char **f;
    size_t n, cap;
    char *mem;
    size_t mem_cap;
};
void sq_conv_row_init(struct sq_conv_row *row);
void sq_conv_row_fini(struct sq_conv_row *row);
/* Splits a line at sep. quoted: RFC 4180 double quotes ("a,b", "x""y").
 * Returns 0, or -1 for an unbalanced quote. */
int sq_conv_split(const char *line, size_t len, char sep, bool quoted, struct sq_conv_row *row);

/* Reads the first line and checks it is exactly `header`. Returns
 * SQ_CONV_OK, SQ_CONV_NOT_DATASET (empty input or another header) or
 * SQ_CONV_FAILED, with err filled. */
int sq_conv_header(struct sq_conv *cv, const char *dataset, const char *header);
/* The next non-blank line, split, counted in stats->rows. A line that is
 * not UTF-8, holds a NUL byte or has an unbalanced quote is skipped
 * ("bad_text", "bad_quotes") and the next one read. Returns 1, 0 at the
 * end, -1 on a read error (cv->err filled). */
int sq_conv_next_row(struct sq_conv *cv, char sep, bool quoted, struct sq_conv_row *row);
/* The whole loop of a comma-separated, quoted data set: checks the header,
 * then calls fn for every row until it fails. Returns SQ_CONV_OK, the
 * header's code, or SQ_CONV_FAILED. */
int sq_conv_each_csv_row(struct sq_conv *cv, const char *dataset, const char *header,
                         int (*fn)(struct sq_conv *cv, struct sq_conv_row *row));
/* Counts the current row as skipped for `reason` (a static string). */
void sq_conv_skip(struct sq_conv *cv, const char *reason);
/* Writes {"topic": topic, "key": key, "value": event} as one line and
 * counts it; takes the reference to event. Returns 0, or -1 when the
 * write failed (cv->err filled). */
int sq_conv_emit(struct sq_conv *cv, const char *topic, const char *key, json_t *event);

/* Parses a decimal integer that fills the whole of s (optional '-'). */
bool sq_conv_int(const char *s, long long *out);
/* Parses a finite decimal number that fills the whole of s. */
bool sq_conv_num(const char *s, double *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t sq_conv_days_from_civil(int y, int m, int d);
void sq_conv_civil_from_days(int64_t days, int *y, int *m, int *d);
/* Whether y-m-d is a real date. */
bool sq_conv_valid_date(int y, int m, int d);
#define SQ_CONV_TIMESZ 32
/* utc_s (epoch seconds) as local time at offset_min east of UTC:
 * "1999-02-01T07:02:47+02:00" ("+00:00" for UTC). */
void sq_conv_format_time(int64_t utc_s, int offset_min, char out[SQ_CONV_TIMESZ]);

/* The converters, one per data set; each reads cv->in from its header on
 * and returns an enum sq_conv_rc. */
int sq_convert_bank(struct sq_conv *cv);
int sq_convert_telco(struct sq_conv *cv);
int sq_convert_servicenow(struct sq_conv *cv);
int sq_convert_volvo(struct sq_conv *cv);
int sq_convert_comcast(struct sq_conv *cv);
int sq_convert_ecsi(struct sq_conv *cv);

#endif
