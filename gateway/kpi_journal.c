/* kpi_journal.c: the KPI journal's entries and its fold (kpi_journal.h).
 * The steps write entries (redis_link.c, op J); the closer folds them
 * (closer.c). */
#include "kpi_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"
#include "redis_link.h"
#include "step_lua.h"
#include "store.h"

/* One slice of a fold. KEYS[1] = {prefix}kpi_journal:folds, KEYS[2] =
 * {prefix}kpi_journal, KEYS[3] = {prefix}kpi_journal:fold; ARGV[1] = the fold count read with
 * the entries, ARGV[2] = the number of entries read, ARGV[3] and ARGV[4] =
 * the first sum of this slice and the one after it, ARGV[5] = the number of
 * sums, then this slice's summed K and W ops. Entries are only appended at
 * the tail and only a fold removes them (and counts itself), so an
 * unchanged count means the head is still what was read. The fold under
 * way is the hash KEYS[3] {folds, n, done, sums}: a slice applies only
 * when it starts where the fold stands (done), so that every sum is
 * applied once whoever sends it, and the last slice removes the entries,
 * counts the fold and deletes the hash, all in one script. Returns {1,
 * left} folded, {0, left} another fold came first (nothing written), {2,
 * done} the fold stands at done (this slice written, or not its turn), {3,
 * n, sums} another fold of n entries and that many sums is under way. */
static const char sq_journal_fold_lua[] = SQ_STEP_LUA_COMMON
    "if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then\n"
    "  return {0, redis.call('LLEN', KEYS[2])}\n"
    "end\n"
    "local p = redis.call('HMGET', KEYS[3], 'folds', 'n', 'done', 'sums')\n"
    "local done = '0'\n"
    "if p[1] == ARGV[1] then\n"
    "  if p[2] ~= ARGV[2] or p[4] ~= ARGV[5] then return {3, p[2] or '', p[4] or ''} end\n"
    "  done = p[3]\n"
    "end\n"
    "if done ~= ARGV[3] then return {2, done} end\n"
    "local i = 6\n"
    "while i <= #ARGV do\n"
    "  i = apply(i)\n"
    "  if not i then return redis.error_reply('sqgate fold: unknown op') end\n"
    "end\n"
    "if ARGV[4] == ARGV[5] then\n"
    "  redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)\n"
    "  redis.call('INCR', KEYS[1])\n"
    "  redis.call('DEL', KEYS[3])\n"
    "  return {1, redis.call('LLEN', KEYS[2])}\n"
    "end\n"
    "redis.call('HSET', KEYS[3], 'folds', ARGV[1], 'n', ARGV[2], 'done', ARGV[4], 'sums', ARGV[5])\n"
    "return {2, ARGV[4]}\n";

char *sq_kpi_journal_key_dup(const char *prefix)
{
    return sq_xasprintf("%skpi_journal", prefix);
}

char *sq_kpi_journal_folds_key_dup(const char *prefix)
{
    return sq_xasprintf("%skpi_journal:folds", prefix);
}

char *sq_kpi_journal_fold_key_dup(const char *prefix)
{
    return sq_xasprintf("%skpi_journal:fold", prefix);
}

/* The length prefix: len in decimal and ':' (no snprintf: a turn's entry
 * has tens of thousands of arguments). */
static void sq_journal_put_len(struct sq_buf *entry, size_t len)
{
    char n[24];
    size_t k = sq_i64_format(n, (int64_t)len);
    n[k++] = ':';
    sq_buf_append(entry, n, k);
}

static void sq_journal_put_arg(struct sq_buf *entry, const char *s, size_t len)
{
    sq_journal_put_len(entry, len);
    sq_buf_append(entry, s, len);
}

/* A K op's field names are mostly KPI counter names (kpi.h), which go as
 * two bytes: \x01 and the counter's index + 1. A field that starts with
 * \x01 itself goes behind \x01\x00. */
static void sq_journal_put_field(struct sq_buf *entry, const char *f, size_t len)
{
    /* the chain's sums borrow the names themselves: their pointer tells */
    int c = sq_kpi_counter_of_name(f);
    for (int k = 0; c < 0 && k < SQ_KC__COUNT; k++) {
        const char *name = sq_kpi_counter_name((enum sq_kpi_counter)k);
        if (strlen(name) == len && memcmp(f, name, len) == 0)
            c = k;
    }
    if (c >= 0) {
        char code[5] = {'2', ':', '\x01', (char)(c + 1)};
        sq_buf_append(entry, code, 4);
        return;
    }
    if (len && f[0] == '\x01') {
        sq_journal_put_len(entry, len + 2);
        sq_buf_append(entry, "\x01\x00", 2);
        sq_buf_append(entry, f, len);
        return;
    }
    sq_journal_put_arg(entry, f, len);
}

void sq_kpi_journal_put_op(struct sq_buf *entry, char *const *a, const size_t *len, size_t from,
                           size_t to)
{
    sq_journal_put_arg(entry, "Y", 1);
    bool k_op = a[from][0] == 'K' && !a[from][1];
    for (size_t k = from; k < to; k++) {
        if (k_op && k >= from + 4 && (k - from) % 2 == 0)
            sq_journal_put_field(entry, a[k], len[k]);
        else
            sq_journal_put_arg(entry, a[k], len[k]);
    }
}

/* Pushes one argument of an entry, a counter's two bytes as its name. */
static void sq_journal_push_arg(struct sq_state_ops *out, const char *p, size_t n)
{
    if (n >= 2 && p[0] == '\x01') {
        if (p[1] == '\0') {
            sq_state_ops_push(out, p + 2, n - 2);
            return;
        }
        const char *name = n == 2 ? sq_kpi_counter_name((enum sq_kpi_counter)((unsigned char)p[1] - 1))
                                  : NULL;
        if (name) {
            sq_state_ops_push_borrowed(out, name, strlen(name));
            return;
        }
    }
    sq_state_ops_push(out, p, n);
}

int sq_kpi_journal_parse(const char *entry, size_t len, struct sq_state_ops *out)
{
    size_t first = out->argc;
    const char *p = entry, *end = entry + len;
    while (p < end) {
        size_t n = 0;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9' && p - d < 12)
            n = n * 10 + (size_t)(*p++ - '0');
        if (p == d || p == end || *p != ':' || (size_t)(end - p - 1) < n)
            goto bad;
        sq_journal_push_arg(out, p + 1, n);
        p += 1 + n;
    }
    /* every op whole and deferred: Y then a K or W op */
    for (size_t i = first, w; i < out->argc; i += w) {
        w = sq_op_width(out->argv, out->argc, i);
        const char *op = w > 1 ? out->argv[i + 1] : "";
        if (!w || strcmp(out->argv[i], "Y") != 0 || (strcmp(op, "K") != 0 && strcmp(op, "W") != 0))
            goto bad;
    }
    return 0;
bad:
    out->argc = first; /* the bytes stay in out's chunks until it is reset */
    return -1;
}

/* The journal's three keys (owned by the caller; sq_journal_keys_free). */
static void sq_journal_keys(struct sq_redis *r, char *keys[3])
{
    const char *prefix = sq_redis_prefix(r);
    keys[0] = sq_kpi_journal_folds_key_dup(prefix);
    keys[1] = sq_kpi_journal_key_dup(prefix);
    keys[2] = sq_kpi_journal_fold_key_dup(prefix);
}

static void sq_journal_keys_free(char *keys[3])
{
    for (int k = 0; k < 3; k++)
        free(keys[k]);
}

static const struct sq_kpi_fold_limits sq_fold_defaults = {
    SQ_KPI_JOURNAL_FOLD_MAX, SQ_KPI_JOURNAL_FOLD_BYTES, SQ_KPI_JOURNAL_CHUNK_BYTES,
    SQ_KPI_JOURNAL_SLICE_ARGS, 0};

/* Reads the chunk of at most want entries and bytes_max bytes (its first
 * entry whatever its size) after the f->n read so far, adds its entries to
 * f->n and their bytes to *bytes and sums them into f; *full when entries
 * are left after it. A chunk whose fold count is not f's reads nothing:
 * another fold came first, and the apply will find that too. A fold under
 * way on f's count sets f->pending to its entries, and the read stops
 * there. One transaction of plain reads (the count, the fold under way,
 * the length, then as many entries as fit bytes_max at *largest bytes, the
 * largest entry so far, so that a chunk seldom reads entries it leaves): a
 * script returning the entries cost Redis twenty times as much. */
static int sq_fold_read_chunk(struct sq_redis *r, char *const keys[3], size_t want,
                              size_t bytes_max, struct sq_kpi_fold *f, size_t *bytes,
                              size_t *largest, bool *full, struct sq_err *err)
{
    size_t ask = *largest ? bytes_max / *largest : 4; /* a few, until one chunk tells */
    ask = ask > want ? want : ask;
    ask = ask < 1 ? 1 : ask; /* never 0: LRANGE n n-1 would be the whole list */
    char first[24], last[24];
    snprintf(first, sizeof first, "%zu", f->n);
    snprintf(last, sizeof last, "%zu", f->n + ask - 1);
    const char *get[] = {"GET", keys[0]}, *under[] = {"HMGET", keys[2], "folds", "n"},
               *llen[] = {"LLEN", keys[1]}, *range[] = {"LRANGE", keys[1], first, last};
    const struct sq_redis_cmd cmds[] = {{2, get}, {4, under}, {2, llen}, {4, range}};
    struct sq_redis_strs got;
    *full = false;
    int rc = sq_redis_exec(r, 4, cmds, &got, err);
    if (rc != SQ_OK)
        return rc;
    if (got.n < 4 || !got.v[3]) {
        sq_redis_strs_fini(&got);
        return sq_err_set(err, SQ_ERR_TRANSIENT, "", "kpi journal: unexpected reply");
    }
    const char *folds = got.v[0] ? got.v[0] : "0";
    if (!f->folds)
        f->folds = sq_xstrdup(folds);
    if (strcmp(f->folds, folds) == 0) {
        if (got.v[1] && got.v[2] && strcmp(got.v[1], folds) == 0) {
            f->pending = strtoull(got.v[2], NULL, 10);
            want = f->pending > f->n ? f->pending - f->n : 0;
        }
        size_t took = 0, chunk_bytes = 0;
        struct sq_state_ops chunk = {0};
        for (size_t i = 4; i < got.n && took < want; i++) {
            if (took && chunk_bytes + got.len[i] > bytes_max)
                break;
            chunk_bytes += got.len[i];
            took++;
            if (got.len[i] > *largest)
                *largest = got.len[i];
            if (!got.v[i] || sq_kpi_journal_parse(got.v[i], got.len[i], &chunk) != 0)
                f->bad++;
            free(got.v[i]); /* parsed: the peak is one copy of the entries, not two */
            got.v[i] = NULL;
        }
        f->n += took;
        *bytes += chunk_bytes;
        *full = f->n < strtoull(got.v[3], NULL, 10);
        sq_sums_add(f->acc, &chunk); /* copies what it keeps: the chunk goes */
        sq_state_ops_fini(&chunk);
    }
    sq_redis_strs_fini(&got);
    return SQ_OK;
}

int sq_kpi_journal_read(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        struct sq_kpi_fold *f, struct sq_err *err)
{
    if (!lim)
        lim = &sq_fold_defaults;
    memset(f, 0, sizeof *f);
    f->acc = sq_sums_new(true);
    char *keys[3];
    sq_journal_keys(r, keys);
    int rc;
    size_t bytes = 0, largest = 0; /* the largest entry read so far, bytes */
    for (;;) {
        size_t room = lim->bytes > bytes ? lim->bytes - bytes : 0, before = f->n;
        bool full;
        /* a fold under way takes its entries, whatever the limits say */
        size_t want = f->pending ? f->pending - f->n : lim->entries - f->n;
        size_t chunk = f->pending || room > lim->chunk_bytes ? lim->chunk_bytes : room;
        rc = sq_fold_read_chunk(r, keys, want, chunk, f, &bytes, &largest, &full, err);
        if (rc != SQ_OK || f->n == before || !full)
            break; /* failed, another fold came first, or the journal's end */
        if (f->pending ? f->n >= f->pending
                       : f->n >= lim->entries || bytes >= lim->bytes || room <= lim->chunk_bytes) {
            f->full = true; /* the fold's limits, not the chunk's, stopped it */
            break;
        }
    }
    sq_journal_keys_free(keys);
    return rc;
}

/* Where the next slice of f ends: sums from from on while their arguments
 * stay within the limit (at least one). */
static size_t sq_fold_slice_end(const struct sq_kpi_fold *f, size_t from, size_t total,
                                size_t args_max)
{
    size_t to = from, args = 0;
    while (to < total) {
        size_t a = sq_sums_args_about(f->acc, to);
        if (to > from && args + a > args_max)
            break;
        args += a;
        to++;
    }
    return to;
}

int sq_kpi_journal_apply(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                         struct sq_kpi_fold *f, size_t *folded, size_t *left, struct sq_err *err)
{
    *folded = *left = 0;
    if (!f->n)
        return SQ_OK;
    if (!lim)
        lim = &sq_fold_defaults;
    size_t args_max = lim->slice_args ? lim->slice_args : SQ_KPI_JOURNAL_SLICE_ARGS;
    char *keys[3];
    sq_journal_keys(r, keys);
    /* each slice script's arguments (sq_journal_fold_lua): the fold count
     * read, the entries, the slice's first sum and the one after it, the
     * number of sums, then the slice's summed ops */
    size_t total = sq_sums_count(f->acc), from = 0, slices = 0;
    char n[24], sfrom[24], sto[24], stotal[24];
    snprintf(n, sizeof n, "%zu", f->n);
    snprintf(stotal, sizeof stotal, "%zu", total);
    int rc = SQ_OK;
    for (;;) {
        if (lim->slices && slices == lim->slices)
            break; /* a test's fold stopped between slices, as if killed */
        size_t to = sq_fold_slice_end(f, from, total, args_max);
        snprintf(sfrom, sizeof sfrom, "%zu", from);
        snprintf(sto, sizeof sto, "%zu", to);
        const char *head[] = {f->folds, n, sfrom, sto, stotal};
        struct sq_redis_strs res;
        rc = sq_redis_eval_sums(r, sq_journal_fold_lua, 3, (const char *const *)keys, 5, head,
                                f->acc, from, to, &res, err);
        if (rc != SQ_OK)
            break;
        slices++;
        const char *code = res.n >= 2 && res.v[0] && res.v[1] ? res.v[0] : "";
        size_t at = code[0] ? strtoull(res.v[1], NULL, 10) : 0;
        if (strcmp(code, "1") == 0 || strcmp(code, "0") == 0) {
            *folded = code[0] == '1' ? f->n : 0;
            *left = at;
        } else if (strcmp(code, "2") == 0 && at > from && at <= total) {
            from = at; /* this slice written, or another folder's: on from there */
            sq_redis_strs_fini(&res);
            continue;
        } else if (strcmp(code, "3") == 0 && res.n == 3 && strcmp(res.v[1], n) == 0) {
            /* the same entries, other sums: a folder that sums them another
             * way (another version) is under way; it must finish its fold */
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "",
                            "kpi journal fold: a fold of the same %zu entries into %s sums "
                            "(not %zu), by another version of sqgate, is under way in %s; it "
                            "finishes when that version folds again. If none is left, delete "
                            "%s: the sums it already wrote are then written again "
                            "(docs/kpis.md, The KPI journal)",
                            f->n, res.v[2], total, keys[2], keys[2]);
        } else if (strcmp(code, "3") != 0) {
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "kpi journal fold: unexpected reply");
        }
        /* "3" with other entries: another fold is under way; the next read
         * joins it (sq_fold_read_chunk stops at its entries) */
        f->behind = strcmp(code, "3") == 0 && rc == SQ_OK;
        sq_redis_strs_fini(&res);
        break;
    }
    sq_journal_keys_free(keys);
    return rc;
}

void sq_kpi_fold_fini(struct sq_kpi_fold *f)
{
    free(f->folds);
    sq_sums_free(f->acc);
    memset(f, 0, sizeof *f);
}

int sq_kpi_journal_fold(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        size_t *folded, size_t *bad, size_t *left, bool *more,
                        struct sq_err *err)
{
    *folded = *bad = *left = 0;
    *more = false;
    struct sq_kpi_fold f;
    int rc = sq_kpi_journal_read(r, lim, &f, err);
    if (rc == SQ_OK)
        rc = sq_kpi_journal_apply(r, lim, &f, folded, left, err);
    if (rc == SQ_OK && *folded) {
        *bad = f.bad;
        *more = f.full;
    }
    if (rc == SQ_OK && f.behind)
        *more = true;
    sq_kpi_fold_fini(&f);
    return rc;
}
