/* kpi_journal.h: the KPI journal (kpi.journal, docs/operations.md). With it
 * on, a Redis step does not add its KPI sums to the sq:kpi hashes itself:
 * it appends them as one entry to the list {prefix}kpi_journal, in the same
 * script as the rest of the step (SPEC 10: the step holds its KPI
 * increments). The closer lease holder folds the journal into the hashes
 * every kpi.fold_interval_s, and every instance once more on its way out:
 * it reads the oldest entries, sums them in process and applies the sums
 * in slices of a few thousand arguments, one script each, so that Redis
 * serves the steps between them. Each slice is fenced by a fold count and
 * by the fold's progress ({prefix}kpi_journal:fold), so that every sum is
 * applied once whoever sends it; the last slice also removes the entries
 * and counts the fold. A folder that stops between slices leaves the
 * progress behind: the next fold, by any instance, reads just that fold's
 * entries, sums them to the same sums in the same order and goes on where
 * it stood. A cell's touch (W op) travels with its counters, so the closer
 * never sees a touch without them. */
#ifndef SQ_KPI_JOURNAL_H
#define SQ_KPI_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "processor.h"
#include "sq_common.h"

struct sq_redis;

/* What a fold takes at most: entries and bytes of them (bytes: unless its
 * first entry alone is larger); the rest wait for the next fold, which
 * comes at once. It reads them a chunk at a time and adds each chunk to
 * the sums (sq_sums_add, which copies the keys it keeps), so its memory is
 * one chunk and the sums, not the entries: a fold of an interval's entries
 * sums each KPI cell over all of that interval's steps (one HINCRBY a
 * counter) where folds of one chunk each summed it over a few. Redis runs
 * one command or script at a time: each chunk's read (plain commands in
 * one transaction) and each slice of the apply (a script) hold back the
 * steps meanwhile, so both are bounded (a slice: about slice_args
 * arguments, ~2-3 ms of Redis). slices stops the apply after that many
 * slices, as a folder killed between them would (tests only; 0: no limit).
 * A zero slice_args means the default. */
struct sq_kpi_fold_limits {
    size_t entries;     /* SQ_KPI_JOURNAL_FOLD_MAX */
    size_t bytes;       /* SQ_KPI_JOURNAL_FOLD_BYTES */
    size_t chunk_bytes; /* SQ_KPI_JOURNAL_CHUNK_BYTES */
    size_t slice_args;  /* SQ_KPI_JOURNAL_SLICE_ARGS */
    size_t slices;      /* 0 */
};
#define SQ_KPI_JOURNAL_FOLD_MAX 4096
#define SQ_KPI_JOURNAL_FOLD_BYTES (16 << 20)
#define SQ_KPI_JOURNAL_CHUNK_BYTES (256 << 10)
#define SQ_KPI_JOURNAL_SLICE_ARGS 4096

/* {prefix}kpi_journal and {prefix}kpi_journal:folds (owned). */
char *sq_kpi_journal_key_dup(const char *prefix);
char *sq_kpi_journal_folds_key_dup(const char *prefix);
/* {prefix}kpi_journal:fold, the fold under way (owned). */
char *sq_kpi_journal_fold_key_dup(const char *prefix);

/* Appends the op a[from..to) (a K or W op of processors/store.h) to an
 * entry: each argument as its decimal length, ':' and its bytes (a K op's
 * KPI counter names as \x01 and the counter's index + 1), the op behind a
 * Y so that a parsed entry is a list of deferred ops. */
void sq_kpi_journal_put_op(struct sq_buf *entry, char *const *a, const size_t *len, size_t from,
                           size_t to);

/* Appends the ops of one entry to out as deferred (Y) ops, the form
 * sq_state_ops_append_sums sums. Returns 0, or -1 with nothing appended
 * when entry is not a journal entry. */
int sq_kpi_journal_parse(const char *entry, size_t len, struct sq_state_ops *out);

/* A fold in its two halves, for tests of two folders at once. */
struct sq_kpi_fold {
    char *folds;               /* the fold count read with the entries */
    size_t n, bad;             /* entries read; of them not journal entries */
    size_t pending;            /* entries of a fold under way that the read joined, or 0 */
    bool full;                 /* a limit stopped the read: entries are left */
    bool behind;               /* the apply met another fold of other entries under way */
    struct sq_sums *acc;       /* the entries' deferred ops, summed: the fold
                                * script's arguments after the fold count and n */
};
/* Reads entries up to the limits (NULL: the defaults above) a chunk at a
 * time and sums them into f (release it with sq_kpi_fold_fini, also after
 * an error). A fold under way on the same fold count makes it read just
 * that fold's entries, whatever the limits. */
int sq_kpi_journal_read(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        struct sq_kpi_fold *f, struct sq_err *err);
/* Applies f's sums slice by slice from where the fold stands, and removes
 * its entries with the last, unless another fold came first since f was
 * read: *folded is f->n, or 0 then (and f->behind when that fold, of other
 * entries, is still under way: the next read joins it). Writing the sums
 * out merges each KPI hash's counters into its fields in f->acc
 * (sq_sums_emit_range), so f is not const; a second apply writes the same
 * arguments. */
int sq_kpi_journal_apply(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                         struct sq_kpi_fold *f, size_t *folded, size_t *left,
                         struct sq_err *err);
void sq_kpi_fold_fini(struct sq_kpi_fold *f);

/* One fold of entries up to the limits (NULL: the defaults). SQ_OK
 * with *folded the entries applied (0: the journal was empty, or another
 * instance folded first) and *bad the entries among them that were not
 * journal entries (removed unapplied); SQ_ERR_TRANSIENT when Redis failed
 * (each slice is atomic: the fold stands where the last one left it, and
 * the next goes on from there). *left is the journal's length after the
 * fold; *more says that a limit stopped the fold before the entries that
 * were there when it read, or that another fold is under way (fold again
 * at once; an entry a step appended since waits for the next fold). */
int sq_kpi_journal_fold(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        size_t *folded, size_t *bad,
                        size_t *left, bool *more, struct sq_err *err);

#endif
