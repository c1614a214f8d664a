/* convert_cmd.c: `sqgate convert`: the command line, the line reader (plain
 * or gzip via zlib, stdin, memory), the row splitter, the envelope writer
 * and the skip counters that every converter (convert_<set>.c) uses, and
 * the table of data sets. */
#include "convert_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "sq_utf8.h"

/* ---- input ---------------------------------------------------------------- */

struct sq_conv_in {
    gzFile gz;          /* NULL: memory input */
    const char *chunk;  /* bytes not yet split into lines */
    size_t clen, cpos;
    bool eof, started;
    const char *mem;
    size_t mem_len;
    char *name;         /* for messages */
    struct sq_buf line;
    char gzbuf[65536];
};

struct sq_conv_in *sq_conv_in_open(const char *path, struct sq_err *err)
{
    gzFile gz;
    if (strcmp(path, "-") == 0) {
        int fd = dup(STDIN_FILENO);
        gz = fd < 0 ? NULL : gzdopen(fd, "rb");
        if (!gz && fd >= 0)
            close(fd);
    } else {
        errno = 0;
        gz = gzopen(path, "rb");
    }
    if (!gz) {
        sq_err_set(err, SQ_ERR_FATAL, "", "%s: %s", path,
                   errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    struct sq_conv_in *in = sq_xcalloc(1, sizeof *in);
    in->gz = gz;
    in->name = sq_xstrdup(strcmp(path, "-") == 0 ? "stdin" : path);
    sq_buf_init(&in->line);
    return in;
}

struct sq_conv_in *sq_conv_in_mem_new(const char *data, size_t len)
{
    struct sq_conv_in *in = sq_xcalloc(1, sizeof *in);
    in->mem = data;
    in->mem_len = len;
    in->name = sq_xstrdup("memory");
    sq_buf_init(&in->line);
    return in;
}

void sq_conv_in_free(struct sq_conv_in *in)
{
    if (!in)
        return;
    if (in->gz)
        gzclose(in->gz);
    sq_buf_fini(&in->line);
    free(in->name);
    free(in);
}

/* Refills the chunk. Returns 1, 0 at end of input, -1 on error. zlib reads
 * a file without the gzip magic as it is, so plain files need no branch. */
static int sq_conv_in_fill(struct sq_conv_in *in, struct sq_err *err)
{
    in->cpos = in->clen = 0;
    if (!in->gz) {
        if (in->chunk || in->mem_len == 0)
            return 0;
        in->chunk = in->mem;
        in->clen = in->mem_len;
        return 1;
    }
    int n = gzread(in->gz, in->gzbuf, sizeof in->gzbuf);
    int errnum = Z_OK;
    const char *msg = gzerror(in->gz, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        sq_err_set(err, SQ_ERR_FATAL, "", "reading %s: %s", in->name,
                   errnum == Z_ERRNO ? strerror(errno) : msg);
        return -1;
    }
    in->chunk = in->gzbuf;
    in->clen = (size_t)n;
    return n > 0;
}

int sq_conv_in_next(struct sq_conv_in *in, char **line, size_t *len, struct sq_err *err)
{
    sq_buf_reset(&in->line);
    sq_buf_append(&in->line, "", 0);
    bool ended = false;
    while (!ended) {
        if (in->cpos == in->clen) {
            if (in->eof)
                break;
            int r = sq_conv_in_fill(in, err);
            if (r < 0)
                return -1;
            if (r == 0) {
                in->eof = true;
                break;
            }
        }
        const char *p = in->chunk + in->cpos;
        size_t avail = in->clen - in->cpos;
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        if (in->line.len + take > SQ_CONV_MAX_LINE) {
            sq_err_set(err, SQ_ERR_DATA, "", "%s: a line is longer than %u bytes", in->name,
                       SQ_CONV_MAX_LINE);
            return -1;
        }
        sq_buf_append(&in->line, p, take);
        in->cpos += take + (nl ? 1 : 0);
        ended = nl != NULL;
    }
    if (!ended && in->line.len == 0)
        return 0;
    if (in->line.len && in->line.data[in->line.len - 1] == '\r')
        in->line.data[--in->line.len] = '\0';
    if (!in->started) {
        in->started = true;
        if (in->line.len >= 3 && memcmp(in->line.data, "\xEF\xBB\xBF", 3) == 0) {
            memmove(in->line.data, in->line.data + 3, in->line.len - 2);
            in->line.len -= 3;
        }
    }
    *line = in->line.data;
    *len = in->line.len;
    return 1;
}

/* ---- rows ------------------------------------------------------------------ */

void sq_conv_row_init(struct sq_conv_row *row)
{
    memset(row, 0, sizeof *row);
}

void sq_conv_row_fini(struct sq_conv_row *row)
{
    free(row->f);
    free(row->mem);
    sq_conv_row_init(row);
}

static void sq_conv_row_push(struct sq_conv_row *row, char *field)
{
    if (row->n == row->cap) {
        row->cap = row->cap ? row->cap * 2 : 32;
        row->f = sq_xrealloc(row->f, row->cap * sizeof *row->f);
    }
    row->f[row->n++] = field;
}

int sq_conv_split(const char *line, size_t len, char sep, bool quoted, struct sq_conv_row *row)
{
    /* Every field is at most as long as its raw text and every separator
     * becomes a NUL, so len + 1 bytes hold them all. */
    if (row->mem_cap < len + 1) {
        row->mem_cap = len + 1;
        row->mem = sq_xrealloc(row->mem, row->mem_cap);
    }
    row->n = 0;
    char *o = row->mem;
    char *start = o;
    size_t i = 0;
    bool at_start = true;
    while (i < len) {
        char c = line[i];
        if (quoted && at_start && c == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return -1;
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        *o++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *o++ = line[i++];
            }
            at_start = false;
            continue;
        }
        at_start = false;
        if (c == sep) {
            *o++ = '\0';
            sq_conv_row_push(row, start);
            start = o;
            at_start = true;
        } else {
            *o++ = c;
        }
        i++;
    }
    *o = '\0';
    sq_conv_row_push(row, start);
    return 0;
}

int sq_conv_header(struct sq_conv *cv, const char *dataset, const char *header)
{
    char *line;
    size_t len;
    int r = sq_conv_in_next(cv->in, &line, &len, cv->err);
    if (r < 0)
        return SQ_CONV_FAILED;
    cv->lineno = 1;
    if (r == 0) {
        sq_err_set(cv->err, SQ_ERR_DATA, "", "not a %s file: the input is empty", dataset);
        return SQ_CONV_NOT_DATASET;
    }
    if (len != strlen(header) || memcmp(line, header, len) != 0) {
        sq_err_set(cv->err, SQ_ERR_DATA, "",
                   "not a %s file: line 1 is not its header\n  want: %.200s\n  got:  %.200s",
                   dataset, header, line);
        return SQ_CONV_NOT_DATASET;
    }
    return SQ_CONV_OK;
}

int sq_conv_next_row(struct sq_conv *cv, char sep, bool quoted, struct sq_conv_row *row)
{
    for (;;) {
        char *line;
        size_t len;
        int r = sq_conv_in_next(cv->in, &line, &len, cv->err);
        if (r <= 0)
            return r;
        cv->lineno++;
        if (len == 0)
            continue;
        cv->stats->rows++;
        if (memchr(line, '\0', len) || sq_utf8_invalid_at(line, len) != len) {
            sq_conv_skip(cv, "bad_text");
            continue;
        }
        if (sq_conv_split(line, len, sep, quoted, row) != 0) {
            sq_conv_skip(cv, "bad_quotes");
            continue;
        }
        return 1;
    }
}

void sq_conv_skip(struct sq_conv *cv, const char *reason)
{
    struct sq_convert_stats *st = cv->stats;
    st->skipped++;
    for (size_t i = 0; i < st->reasons_n; i++) {
        if (strcmp(st->reasons[i].reason, reason) == 0) {
            st->reasons[i].n++;
            return;
        }
    }
    /* A reason beyond the table's last slot but one is counted as "other". */
    size_t i = st->reasons_n;
    if (i < SQ_CONV_MAX_REASONS - 1) {
        st->reasons[i].reason = reason;
    } else {
        i = SQ_CONV_MAX_REASONS - 1;
        st->reasons[i].reason = "other";
    }
    if (i == st->reasons_n) {
        st->reasons_n++;
        st->reasons[i].n = 0;
    }
    st->reasons[i].n++;
}

int sq_conv_emit(struct sq_conv *cv, const char *topic, const char *key, json_t *event)
{
    json_t *env = json_object();
    json_object_set_new(env, "topic", json_string(topic));
    json_object_set_new(env, "key", json_string(key));
    json_object_set_new(env, "value", event);
    char *s = json_dumps(env, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(env);
    int rc = 0;
    if (!s || fputs(s, cv->out) == EOF || fputc('\n', cv->out) == EOF) {
        sq_err_set(cv->err, SQ_ERR_FATAL, "", "writing output: %s",
                   s ? strerror(errno) : "cannot encode an event");
        rc = -1;
    } else {
        cv->stats->events++;
    }
    free(s);
    return rc;
}

/* ---- numbers and times ----------------------------------------------------- */

bool sq_conv_int(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    if (strlen(p) > 15)
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

bool sq_conv_num(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '+')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == 'e' || *p == 'E'))
            return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t sq_conv_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sq_conv_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t year;
    sq_civil_from_days(z, &year, m, d);
    *y = (int)year;
}

bool sq_conv_valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

void sq_conv_format_time(int64_t utc_s, int offset_min, char out[SQ_CONV_TIMESZ])
{
    int64_t local = utc_s + (int64_t)offset_min * 60;
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t secs = local - days * 86400;
    int y, m, d;
    sq_conv_civil_from_days(days, &y, &m, &d);
    int off = offset_min < 0 ? -offset_min : offset_min;
    snprintf(out, SQ_CONV_TIMESZ, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
             offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

/* ---- the command ----------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(struct sq_conv *cv); /* NULL: not supported yet */
} sq_conv_sets[] = {
    {"anonymous_bank", sq_convert_bank},
    {"telco_churn", sq_convert_telco},
    {"servicenow_incidents", sq_convert_servicenow},
    {"volvo_it_incidents", sq_convert_volvo},
    {"comcast_complaints", sq_convert_comcast},
    {"ecsi_mobile_survey", sq_convert_ecsi},
};
#define SQ_CONV_NSETS (sizeof sq_conv_sets / sizeof sq_conv_sets[0])

static int sq_conv_find(const char *dataset)
{
    for (size_t i = 0; i < SQ_CONV_NSETS; i++)
        if (strcmp(sq_conv_sets[i].name, dataset) == 0)
            return (int)i;
    return -1;
}

bool sq_convert_supported(const char *dataset)
{
    int i = sq_conv_find(dataset);
    return i >= 0 && sq_conv_sets[i].fn != NULL;
}

int sq_convert_run(const char *dataset, struct sq_conv_in *in, FILE *out,
                   const struct sq_convert_opts *opts, struct sq_convert_stats *stats,
                   struct sq_err *err)
{
    static const struct sq_convert_opts none = {0};
    memset(stats, 0, sizeof *stats);
    sq_err_clear(err);
    if (!opts)
        opts = &none;
    int i = sq_conv_find(dataset);
    if (i < 0) {
        sq_err_set(err, SQ_ERR_FATAL, "", "unknown data set %s", dataset);
        return SQ_CONV_FAILED;
    }
    if (!sq_conv_sets[i].fn) {
        sq_err_set(err, SQ_ERR_FATAL, "", "data set %s is not supported yet", dataset);
        return SQ_CONV_FAILED;
    }
    int64_t ms;
    if (opts->at && sq_time_parse(opts->at, &ms) != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "", "--at %s is not an RFC 3339 time with offset",
                   opts->at);
        return SQ_CONV_FAILED;
    }
    if (opts->profiles && strcmp(dataset, "anonymous_bank") != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "", "--profiles applies to anonymous_bank only");
        return SQ_CONV_FAILED;
    }
    struct sq_conv cv = {
        .in = in,
        .out = out,
        .opts = opts,
        .stats = stats,
        .err = err,
        .at = opts->at ? opts->at : SQ_CONV_DEFAULT_AT,
    };
    int rc = sq_conv_sets[i].fn(&cv);
    if (rc == SQ_CONV_OK && (fflush(out) != 0 || ferror(out))) {
        sq_err_set(err, SQ_ERR_FATAL, "", "writing output: %s", strerror(errno));
        rc = SQ_CONV_FAILED;
    }
    return rc;
}

void sq_convert_stats_print(const struct sq_convert_stats *st, FILE *f)
{
    fprintf(f, "convert: %llu rows, %llu events, %llu skipped", (unsigned long long)st->rows,
            (unsigned long long)st->events, (unsigned long long)st->skipped);
    for (size_t i = 0; i < st->reasons_n; i++)
        fprintf(f, "%s%s: %llu", i ? ", " : " (", st->reasons[i].reason,
                (unsigned long long)st->reasons[i].n);
    fprintf(f, "%s\n", st->reasons_n ? ")" : "");
}

static void sq_convert_usage(FILE *f)
{
    fprintf(f, "usage: sqgate convert DATASET FILE|- [-o OUT.ndjson] [--profiles] [--file-order] [--at TIME]\n"
               "  DATASET: one of");
    for (size_t i = 0; i < SQ_CONV_NSETS; i++)
        fprintf(f, " %s%s", sq_conv_sets[i].name, sq_conv_sets[i].fn ? "" : " (not supported yet)");
    fprintf(f, "\n  FILE may be gzip-compressed; - reads stdin.\n");
}

int sq_convert_main(int argc, char **argv)
{
    const char *dataset = NULL, *in_path = NULL, *out_path = NULL;
    struct sq_convert_opts opts = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(a, "--at") == 0 && i + 1 < argc) {
            opts.at = argv[++i];
        } else if (strcmp(a, "--profiles") == 0) {
            opts.profiles = true;
        } else if (strcmp(a, "--file-order") == 0) {
            opts.file_order = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sq_convert_usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sqgate convert: unknown or incomplete option %s\n", a);
            sq_convert_usage(stderr);
            return 2;
        } else if (!dataset) {
            dataset = a;
        } else if (!in_path) {
            in_path = a;
        } else {
            sq_convert_usage(stderr);
            return 2;
        }
    }
    if (!dataset || !in_path) {
        sq_convert_usage(stderr);
        return 2;
    }
    int set = sq_conv_find(dataset);
    if (set < 0) {
        fprintf(stderr, "sqgate convert: unknown data set %s\n", dataset);
        sq_convert_usage(stderr);
        return 2;
    }
    if (!sq_convert_supported(dataset)) {
        fprintf(stderr, "sqgate convert: data set %s is not supported yet\n", dataset);
        return 2;
    }
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_conv_in *in = sq_conv_in_open(in_path, &err);
    if (!in) {
        fprintf(stderr, "sqgate convert: %s\n", err.msg);
        return 2;
    }
    bool to_file = out_path && strcmp(out_path, "-") != 0;
    FILE *out = to_file ? fopen(out_path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "sqgate convert: %s: %s\n", out_path, strerror(errno));
        sq_conv_in_free(in);
        return 2;
    }
    /* only a regular file is removed on failure: never /dev/null, a pipe
     * or a terminal given as -o (run as root, unlink would delete them) */
    struct stat ost;
    bool out_regular = to_file && fstat(fileno(out), &ost) == 0 && S_ISREG(ost.st_mode);
    struct sq_convert_stats st;
    int rc = sq_convert_run(dataset, in, out, &opts, &st, &err);
    if (to_file && fclose(out) != 0 && rc == SQ_CONV_OK) {
        sq_err_set(&err, SQ_ERR_FATAL, "", "writing %s: %s", out_path, strerror(errno));
        rc = SQ_CONV_FAILED;
    }
    if (rc != SQ_CONV_OK) {
        fprintf(stderr, "sqgate convert: %s\n", err.msg);
        if (out_regular)
            unlink(out_path); /* half a conversion is no conversion */
    } else {
        sq_convert_stats_print(&st, stderr);
    }
    sq_conv_in_free(in);
    return rc;
}

int sq_conv_each_csv_row(struct sq_conv *cv, const char *dataset, const char *header,
                         int (*fn)(struct sq_conv *cv, struct sq_conv_row *row))
{
    int rc = sq_conv_header(cv, dataset, header);
    if (rc != SQ_CONV_OK)
        return rc;
    struct sq_conv_row row;
    sq_conv_row_init(&row);
    int r;
    while ((r = sq_conv_next_row(cv, ',', true, &row)) == 1)
        if (fn(cv, &row) != 0) {
            r = -1;
            break;
        }
    sq_conv_row_fini(&row);
    return r < 0 ? SQ_CONV_FAILED : SQ_CONV_OK;
}
