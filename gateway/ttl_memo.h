/* ttl_memo.h: which keys' TTLs the Redis steps refreshed lately, so that a
 * step refreshes a key's TTL about once per window instead of on every
 * write (an EXPIRE from a step script costs Redis about as much as the
 * write it follows).
 *
 * The step sends a TTL the memo finds fresh as its negative (step_lua.h):
 * the script then sets it only on a key its op just created (a hash
 * field that was not there, a set's first member...), so a key that was
 * deleted (an X op, an emptied hash, `sqgate forget`) gets its TTL again
 * at once. A key whose TTL is not refreshed still ends no earlier than
 * ttl - window after its last write; the window is ttl / 16, at most an
 * hour, so a key of the 400-day retention lives at most an hour less. A
 * refresh is taken as fresh for a minute less than its window (a step is
 * built a little before it runs) and in whole units of 64 s, so a TTL
 * under ~17 minutes is refreshed on every write, as before.
 *
 * A dedupe mark cannot tell a set it created: a dedupe set deleted by
 * someone else (a DEL, FLUSHDB, eviction) while the gateway runs, and
 * written again within the window, stays without a TTL until its next
 * refresh. docs/operations.md asks for `maxmemory-policy noeviction`.
 *
 * One memo is shared by the step connections of a process (its slots are
 * read and written whole, atomically, so no lock is taken). Each
 * connection keeps its steps' refreshes in notes of its own until the step
 * applied; only then are they written to the memo. A connection made again
 * clears the memo. Direct-mapped: a slot holds one key's tag (61 bits of
 * its hash, with the slot's place); a key that loses its slot is refreshed
 * at its next write. */
#ifndef SQ_TTL_MEMO_H
#define SQ_TTL_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sq_ttl_memo;

/* A connection's refreshes sent but not yet known applied. Zeroed is
 * empty. */
struct sq_ttl_notes {
    struct sq_ttl_note *v;
    size_t n, cap;
};

/* An empty memo (2^17 slots, 1 MiB). */
struct sq_ttl_memo *sq_ttl_memo_new(void);
void sq_ttl_memo_free(struct sq_ttl_memo *m);
/* Forgets every refresh. */
void sq_ttl_memo_clear(struct sq_ttl_memo *m);
/* The window in which a TTL of ttl_s seconds is not refreshed again. */
int64_t sq_ttl_memo_window_s(int64_t ttl_s);
/* Whether key's TTL of ttl_s must be refreshed at now_s (monotonic
 * seconds): true unless a step that applied refreshed it within its
 * window. When true the refresh goes into notes as part of the step with
 * tag `step`. */
bool sq_ttl_memo_due(const struct sq_ttl_memo *m, struct sq_ttl_notes *notes, const char *key,
                     size_t len, int64_t ttl_s, int64_t now_s, size_t step);
/* Writes the noted refreshes of step (SIZE_MAX: of every step) to m: its
 * step applied. */
void sq_ttl_memo_commit(struct sq_ttl_memo *m, struct sq_ttl_notes *notes, size_t step);
/* Drops the noted refreshes of step (SIZE_MAX: of every step): it was not
 * applied, or is about to be sent again. */
void sq_ttl_notes_drop(struct sq_ttl_notes *notes, size_t step);
void sq_ttl_notes_fini(struct sq_ttl_notes *notes);

#endif
