/* history.h: a customer's contact history (SPEC 4: REPEAT_CONTACT,
 * contacts_30d), the `contacts` field of sq:hist:{customer_id}: the text
 * [[arrived_ms,"reason"],…], oldest first. Read and written without a
 * JSON tree per entry: a customer with dozens of contacts in 30 days made
 * every contact parse and dump them all. */
#ifndef SQ_HISTORY_H
#define SQ_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sq_common.h"

#define SQ_HISTORY_KEEP_MS (30LL * 86400 * 1000) /* contacts_30d */

struct sq_history_entry {
    int64_t t;          /* arrived_ms */
    const char *reason; /* NULL where the stored entry has no string there */
    size_t reason_len;
    bool owned;         /* reason was allocated for this entry */
    size_t src, src_len; /* where the entry stands in text exactly as
                          * sq_history_dump writes it, which the dump then
                          * copies; src_len 0: not there */
};

struct sq_history {
    struct sq_history_entry *v;
    size_t n, cap;
    char *text;         /* the loaded text, the unowned reasons point into it
                         * (not NUL-terminated: reason_len) */
};

/* Loads a stored value (NULL: none). A value that is not a JSON array
 * gives an empty history; an entry that is not [integer, string] reads as
 * time 0 (dropped by the next sq_history_add) or reason NULL, as before.
 * Values sqgate wrote are read without jansson. */
void sq_history_load(struct sq_history *h, const char *text);

/* Counts this contact's repeats (the same reason, 0 < Δ ≤ window_ms;
 * itself included, so at least 1) and inserts it in arrival order, then
 * drops the entries SQ_HISTORY_KEEP_MS or more older than the newest.
 * *contacts_30d: the entries kept; *latest_ms: the newest. */
int sq_history_add(struct sq_history *h, int64_t arrived_ms, const char *reason,
                   int64_t window_ms, int64_t *contacts_30d, int64_t *latest_ms);

/* Appends the stored form to b: compact JSON, as json_dumps gives it. The
 * entries loaded from sqgate's own text are copied from it in runs rather
 * than written again, so a long history costs a copy, not a dump. */
void sq_history_dump(const struct sq_history *h, struct sq_buf *b);

void sq_history_fini(struct sq_history *h);

#endif
