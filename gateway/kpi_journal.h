/* kpi_journal.h: the KPI journal (kpi.journal, docs/operations.md). With it
 * on, a Redis step does not add its KPI sums to the sq:kpi hashes itself:
 * it appends them as one entry to the list {prefix}kpi_journal, in the same
 * script as the rest of the step (SPEC 10: the step holds its KPI
 * increments). The closer lease holder folds the journal into the hashes
 * once a second, and every instance once more on its way out: it reads the
 * oldest entries, sums them in process and applies the sums in one script
 * that also removes those entries, fenced by a fold count so that two
 * folders never apply an entry twice. A cell's touch (W op) travels with
 * its counters, so the closer never sees a touch without them. */
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
 * one chunk and the sums, not the entries: a fold of a second's entries sums each KPI cell over
 * all of that second's steps (one HINCRBY a counter) where folds of one
 * chunk each summed it over a few. Redis runs one script at a time: each
 * chunk's read and the fold's one script hold back the steps meanwhile;
 * the script's length follows the cells it writes, not the entries. */
struct sq_kpi_fold_limits {
    size_t entries;     /* SQ_KPI_JOURNAL_FOLD_MAX */
    size_t bytes;       /* SQ_KPI_JOURNAL_FOLD_BYTES */
    size_t chunk_bytes; /* SQ_KPI_JOURNAL_CHUNK_BYTES */
};
#define SQ_KPI_JOURNAL_FOLD_MAX 4096
#define SQ_KPI_JOURNAL_FOLD_BYTES (16 << 20)
#define SQ_KPI_JOURNAL_CHUNK_BYTES (256 << 10)

/* {prefix}kpi_journal and {prefix}kpi_journal:folds (owned). */
char *sq_kpi_journal_key_dup(const char *prefix);
char *sq_kpi_journal_folds_key_dup(const char *prefix);

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
    bool full;                 /* a limit stopped the read: entries are left */
    struct sq_sums *acc;       /* the entries' deferred ops, summed: the fold
                                * script's arguments after the fold count and n */
};
/* Reads entries up to the limits (NULL: the defaults above) a chunk at a
 * time and sums them into f (release it with sq_kpi_fold_fini, also after
 * an error). */
int sq_kpi_journal_read(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        struct sq_kpi_fold *f, struct sq_err *err);
/* Applies f's sums and removes its entries unless another fold came first
 * since f was read: *folded is f->n, or 0 then. Writing the sums out
 * merges each KPI hash's counters into its fields in f->acc (sq_sums_emit),
 * so f is not const; a second apply writes the same arguments. */
int sq_kpi_journal_apply(struct sq_redis *r, struct sq_kpi_fold *f, size_t *folded,
                         size_t *left, struct sq_err *err);
void sq_kpi_fold_fini(struct sq_kpi_fold *f);

/* One fold of entries up to the limits (NULL: the defaults). SQ_OK
 * with *folded the entries applied (0: the journal was empty, or another
 * instance folded first) and *bad the entries among them that were not
 * journal entries (removed unapplied); SQ_ERR_TRANSIENT when Redis failed
 * (nothing applied, or all of it: the script is atomic). *left is the
 * journal's length after the fold; *more says that a limit stopped the
 * fold before the entries that were there when it read (fold again at
 * once; an entry a step appended since waits for the next fold). */
int sq_kpi_journal_fold(struct sq_redis *r, const struct sq_kpi_fold_limits *lim,
                        size_t *folded, size_t *bad,
                        size_t *left, bool *more, struct sq_err *err);

#endif
