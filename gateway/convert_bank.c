/* convert_bank.c: `sqgate convert anonymous_bank`: the Anonymous Bank call
 * log of 1999 (shared/data/README.md section 1) to contact.v1, one event
 * per call that reached the agent queue or an agent, in event-time order
 * (the file is not: a replay judges lateness by the order it reads) unless
 * --file-order; with
 * --profiles a profile.v1 per identified customer comes first. Clock times
 * are Israel local time, turned into RFC 3339 with the 1999 offsets. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_cmd.h"
#include "sq_common.h"
#include "strmap.h"

#define SQ_BANK_HEADER                                                                        \
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\t"  \
    "q_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver"

enum {
    BF_VRU, BF_CALL, BF_CUST, BF_PRIO, BF_TYPE, BF_DATE, BF_VRU_ENTRY, BF_VRU_EXIT,
    BF_VRU_TIME, BF_Q_START, BF_Q_EXIT, BF_Q_TIME, BF_OUTCOME, BF_SER_START, BF_SER_EXIT,
    BF_SER_TIME, BF_SERVER, BF__N
};

/* ---- Asia/Jerusalem in 1999 ----------------------------------------------- */

/* +02:00, and +03:00 from 1999-04-02 03:00 local (clocks 02:00 → 03:00)
 * until 1999-09-03 02:00 local (clocks back to 01:00). The data holds 1999
 * only, so these two transitions are the whole zone. */
static int64_t sq_bank_day(int m, int d)
{
    return sq_conv_days_from_civil(1999, m, d) * 86400;
}

/* Local wall time (seconds since 1970-01-01 00:00 local) to UTC. The
 * repeated hour 01:00-01:59 of 1999-09-03 reads as its first occurrence
 * (+03:00); the skipped hour of 1999-04-02 (which no record has) as +02:00. */
static int64_t sq_bank_local_to_utc(int64_t local)
{
    bool dst = local >= sq_bank_day(4, 2) + 3 * 3600 && local < sq_bank_day(9, 3) + 2 * 3600;
    return local - (dst ? 3 : 2) * 3600;
}

static int sq_bank_offset_min(int64_t utc)
{
    bool dst = utc >= sq_bank_day(4, 2) && utc < sq_bank_day(9, 2) + 23 * 3600;
    return dst ? 180 : 120;
}

static void sq_bank_format(int64_t utc, char out[SQ_CONV_TIMESZ])
{
    sq_conv_format_time(utc, sq_bank_offset_min(utc), out);
}

/* ---- fields ----------------------------------------------------------------- */

/* "H:MM:SS" (hour without a leading zero) to seconds after midnight. */
static bool sq_bank_clock(const char *s, int *out)
{
    int h = 0, i = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < 2)
        h = h * 10 + (s[i++] - '0');
    if (i == 0 || s[i] != ':')
        return false;
    const char *p = s + i + 1;
    for (int k = 0; k < 5; k++)
        if (k == 2 ? p[k] != ':' : (p[k] < '0' || p[k] > '9'))
            return false;
    if (p[5] != '\0')
        return false;
    int mi = (p[0] - '0') * 10 + (p[1] - '0');
    int se = (p[3] - '0') * 10 + (p[4] - '0');
    if (h > 23 || mi > 59 || se > 59)
        return false;
    *out = h * 3600 + mi * 60 + se;
    return true;
}

/* "YYMMDD" with YY = 99 (1999: the Israeli offsets above are 1999's). */
static bool sq_bank_date(const char *s, int *m, int *d)
{
    if (strlen(s) != 6 || strspn(s, "0123456789") != 6 || s[0] != '9' || s[1] != '9')
        return false;
    *m = (s[2] - '0') * 10 + (s[3] - '0');
    *d = (s[4] - '0') * 10 + (s[5] - '0');
    return sq_conv_valid_date(1999, *m, *d);
}

/* The midnight rule: a clock time is taken on the record's date, plus a
 * day while it is more than 12 h earlier than the call's previous one. */
static int64_t sq_bank_after(int64_t prev, int64_t date_local, int clock)
{
    int64_t t = date_local + clock;
    while (t < prev - 12 * 3600)
        t += 86400;
    return t;
}

/* ---- profiles (--profiles) ------------------------------------------------- */

struct sq_bank_customer {
    char *id;
    bool gold; /* any of its records has priority 2 */
    int month; /* month of its first record */
};

struct sq_bank_profiles {
    struct sq_strmap index; /* id → position + 1 */
    struct sq_bank_customer *v;
    size_t n, cap;
};

static void sq_bank_profiles_note(struct sq_bank_profiles *pr, const char *id, bool gold,
                                  int month)
{
    uintptr_t pos = (uintptr_t)sq_strmap_get(&pr->index, id);
    if (pos) {
        pr->v[pos - 1].gold |= gold;
        return;
    }
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? pr->cap * 2 : 1024;
        pr->v = sq_xrealloc(pr->v, pr->cap * sizeof *pr->v);
    }
    pr->v[pr->n] = (struct sq_bank_customer){sq_xstrdup(id), gold, month};
    pr->n++;
    sq_strmap_put(&pr->index, id, (void *)(uintptr_t)pr->n);
}

static void sq_bank_profiles_fini(struct sq_bank_profiles *pr)
{
    for (size_t i = 0; i < pr->n; i++)
        free(pr->v[i].id);
    free(pr->v);
    sq_strmap_fini(&pr->index);
}

/* profile.v1 of every identified customer, in order of first appearance:
 * tier gold or standard, region IL, as of 00:00 local on the first day of
 * the month of its first record. */
static int sq_bank_emit_profiles(struct sq_conv *cv, const struct sq_bank_profiles *pr)
{
    for (size_t i = 0; i < pr->n; i++) {
        const struct sq_bank_customer *c = &pr->v[i];
        char at[SQ_CONV_TIMESZ];
        sq_bank_format(sq_bank_local_to_utc(sq_bank_day(c->month, 1)), at);
        char *id = sq_xasprintf("ab-profile-99%02d-%s", c->month, c->id);
        json_t *ev = json_object();
        json_object_set_new(ev, "schema", json_string("profile.v1"));
        json_object_set_new(ev, "event_id", json_string(id));
        json_object_set_new(ev, "occurred_at", json_string(at));
        json_object_set_new(ev, "customer_id", json_string(c->id));
        json_object_set_new(ev, "region", json_string("IL"));
        json_object_set_new(ev, "tier", json_string(c->gold ? "gold" : "standard"));
        json_object_set_new(ev, "enterprise", json_false());
        free(id);
        if (sq_conv_emit(cv, "sq.in.profiles", c->id, ev) != 0)
            return -1;
    }
    return 0;
}

/* One spooled contact line. */
struct sq_bank_line {
    int64_t t_ms;  /* occurred_at */
    size_t seq;    /* file order, for ties */
    size_t off, len;
};

static int sq_bank_line_cmp(const void *a, const void *b)
{
    const struct sq_bank_line *x = a, *y = b;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* occurred_at of one envelope line written by sq_conv_emit. */
static int sq_bank_line_time(const char *line, size_t len, int64_t *t_ms)
{
    static const char key[] = "\"occurred_at\":\"";
    const char *p = memmem(line, len, key, sizeof key - 1);
    if (!p)
        return -1;
    p += sizeof key - 1;
    const char *q = memchr(p, '"', len - (size_t)(p - line));
    if (!q || q - p >= 64)
        return -1;
    char buf[64];
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = '\0';
    return sq_time_parse(buf, t_ms);
}

/* Writes the spooled contact lines (buf, n bytes) to `to` sorted by
 * occurred_at, file order among equal times. */
static int sq_bank_write_sorted(struct sq_conv *cv, const char *buf, size_t n, FILE *to)
{
    size_t cap = 1024, cnt = 0;
    struct sq_bank_line *v = sq_xmalloc(cap * sizeof *v);
    for (size_t off = 0; off < n;) {
        const char *nl = memchr(buf + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (buf + off)) + 1 : n - off;
        if (cnt == cap)
            v = sq_xrealloc(v, (cap *= 2) * sizeof *v);
        v[cnt] = (struct sq_bank_line){0, cnt, off, len};
        if (sq_bank_line_time(buf + off, len, &v[cnt].t_ms) != 0) {
            free(v);
            sq_err_set(cv->err, SQ_ERR_FATAL, "", "spooled contact %zu has no occurred_at", cnt);
            return -1;
        }
        cnt++;
        off += len;
    }
    qsort(v, cnt, sizeof *v, sq_bank_line_cmp);
    int rc = 0;
    for (size_t i = 0; i < cnt && rc == 0; i++)
        if (fwrite(buf + v[i].off, 1, v[i].len, to) != v[i].len) {
            sq_err_set(cv->err, SQ_ERR_FATAL, "", "writing output: %s", strerror(errno));
            rc = -1;
        }
    free(v);
    return rc;
}

/* ---- one row --------------------------------------------------------------- */

/* Converts one split row: emits its contact, or counts it skipped. Returns
 * 0, or -1 when the output failed. */
static int sq_bank_row(struct sq_conv *cv, struct sq_conv_row *row, struct sq_bank_profiles *pr)
{
    char **f = row->f;
    if (row->n != BF__N) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    int month, day, entry, vru_exit, q_start, q_exit;
    long long prio, q_time, ser_time;
    size_t cust_len = strlen(f[BF_CUST]);
    if (!f[BF_VRU][0] || !f[BF_CALL][0] || cust_len == 0 || cust_len > 64 || !f[BF_TYPE][0] ||
        !sq_conv_int(f[BF_PRIO], &prio) || !sq_bank_date(f[BF_DATE], &month, &day) ||
        !sq_bank_clock(f[BF_VRU_ENTRY], &entry) || !sq_bank_clock(f[BF_VRU_EXIT], &vru_exit) ||
        !sq_bank_clock(f[BF_Q_START], &q_start) || !sq_bank_clock(f[BF_Q_EXIT], &q_exit) ||
        !sq_conv_int(f[BF_Q_TIME], &q_time) || !sq_conv_int(f[BF_SER_TIME], &ser_time)) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    bool identified = strcmp(f[BF_CUST], "0") != 0;
    if (pr && identified)
        sq_bank_profiles_note(pr, f[BF_CUST], prio == 2, month);

    const char *outcome = f[BF_OUTCOME];
    bool answered = strcmp(outcome, "AGENT") == 0;
    /* Queued: either queue clock is set (one call joined at 0:00:00 sharp). */
    bool queued = q_start != 0 || q_exit != 0;
    if (strcmp(outcome, "PHANTOM") == 0) {
        sq_conv_skip(cv, "phantom");
        return 0;
    }
    if (!answered && strcmp(outcome, "HANG") != 0) {
        sq_conv_skip(cv, "unknown_outcome");
        return 0;
    }
    if (!answered && !queued) {
        sq_conv_skip(cv, "vru_hangup"); /* never reached the agent queue */
        return 0;
    }
    if (q_time < 0 || ser_time < 0 || (!queued && q_time != 0)) {
        sq_conv_skip(cv, "bad_durations");
        return 0;
    }

    int64_t date_local = sq_bank_day(month, day);
    int64_t t = date_local + entry;
    t = sq_bank_after(t, date_local, vru_exit);
    if (queued)
        t = sq_bank_after(t, date_local, q_start);
    int64_t arrived = sq_bank_local_to_utc(t);
    /* From q_time and ser_time, not the service clock, which runs 1-3 s
     * ahead of the queue's: wait_s = q_time and handle_s = ser_time. */
    int64_t answered_at = arrived + q_time;
    int64_t ended = answered ? answered_at + ser_time : arrived + q_time;

    char arr_s[SQ_CONV_TIMESZ], ans_s[SQ_CONV_TIMESZ], end_s[SQ_CONV_TIMESZ];
    sq_bank_format(arrived, arr_s);
    sq_bank_format(answered_at, ans_s);
    sq_bank_format(ended, end_s);
    char *event_id = sq_xasprintf("ab-%s-%s", f[BF_VRU], f[BF_CALL]);
    char *customer = identified ? sq_xstrdup(f[BF_CUST])
                                : sq_xasprintf("ab-anon-%s-%s", f[BF_VRU], f[BF_CALL]);
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("contact.v1"));
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "occurred_at", json_string(end_s));
    json_object_set_new(ev, "customer_id", json_string(customer));
    json_object_set_new(ev, "contact_id", json_string(event_id));
    json_object_set_new(ev, "channel", json_string("voice"));
    json_object_set_new(ev, "queue", json_string(f[BF_TYPE]));
    json_object_set_new(ev, "reason", json_string(f[BF_TYPE]));
    if (answered && f[BF_SERVER][0] && strcmp(f[BF_SERVER], "NO_SERVER") != 0)
        json_object_set_new(ev, "agent_id", json_string(f[BF_SERVER]));
    json_object_set_new(ev, "arrived_at", json_string(arr_s));
    if (answered)
        json_object_set_new(ev, "answered_at", json_string(ans_s));
    json_object_set_new(ev, "ended_at", json_string(end_s));
    int rc = sq_conv_emit(cv, "sq.in.contacts", customer, ev);
    free(event_id);
    free(customer);
    return rc;
}

int sq_convert_bank(struct sq_conv *cv)
{
    int rc = sq_conv_header(cv, "anonymous_bank", SQ_BANK_HEADER);
    if (rc != SQ_CONV_OK)
        return rc;
    struct sq_bank_profiles profiles, *pr = NULL;
    /* Contacts are spooled in memory, to be written in event-time order
     * (after the profiles, which are known only at the end). */
    char *spool_buf = NULL;
    size_t spool_len = 0;
    FILE *out = cv->out, *spool = open_memstream(&spool_buf, &spool_len);
    if (!spool) {
        sq_err_set(cv->err, SQ_ERR_FATAL, "", "creating the spool: %s", strerror(errno));
        return SQ_CONV_FAILED;
    }
    if (cv->opts->profiles) {
        memset(&profiles, 0, sizeof profiles);
        sq_strmap_init(&profiles.index);
        pr = &profiles;
    }
    cv->out = spool;
    struct sq_conv_row row;
    sq_conv_row_init(&row);
    int r;
    while ((r = sq_conv_next_row(cv, '\t', false, &row)) == 1) {
        if (sq_bank_row(cv, &row, pr) != 0) {
            r = -1;
            break;
        }
    }
    rc = r < 0 ? SQ_CONV_FAILED : SQ_CONV_OK;
    cv->out = out;
    if (fclose(spool) != 0 && rc == SQ_CONV_OK) {
        sq_err_set(cv->err, SQ_ERR_FATAL, "", "writing the spool: %s", strerror(errno));
        rc = SQ_CONV_FAILED;
    }
    if (rc == SQ_CONV_OK && pr && sq_bank_emit_profiles(cv, pr) != 0)
        rc = SQ_CONV_FAILED;
    if (rc == SQ_CONV_OK && cv->opts->file_order && spool_len > 0 &&
        fwrite(spool_buf, 1, spool_len, out) != spool_len) {
        sq_err_set(cv->err, SQ_ERR_FATAL, "", "writing output: %s", strerror(errno));
        rc = SQ_CONV_FAILED;
    }
    if (rc == SQ_CONV_OK && !cv->opts->file_order &&
        sq_bank_write_sorted(cv, spool_buf, spool_len, out) != 0)
        rc = SQ_CONV_FAILED;
    free(spool_buf);
    if (pr)
        sq_bank_profiles_fini(pr);
    sq_conv_row_fini(&row);
    return rc;
}
