/* json_arena.h: jansson's allocator, with arenas. While a thread has an
 * arena in use, every jansson value it makes is carved from that arena;
 * jansson's free of such a value does nothing, and the arena lets all of
 * them go at once. Without an arena in use jansson's values come from
 * malloc, as before. `run` parses a turn's events into the turn's arena and
 * `replay` each line into one it reuses, so a parsed event costs neither a
 * malloc nor a free per node.
 *
 * The rule for an arena's values: nothing may hold one (a reference taken
 * with json_incref, json_object_set or json_copy, or a pointer into its
 * text) after the arena is freed or reset. A value added to an arena's tree
 * while no arena is in use is an ordinary one and is freed as usual when the
 * tree goes. */
#ifndef SQ_JSON_ARENA_H
#define SQ_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct sq_json_arena;

/* An empty arena (no memory until its first value). */
struct sq_json_arena *sq_json_arena_new(void);
/* Lets every value of the arena go, and the arena. Accepts NULL. No thread
 * may have it in use. */
void sq_json_arena_free(struct sq_json_arena *a);
/* Lets every value go; the arena stays, for more. */
void sq_json_arena_reset(struct sq_json_arena *a);
/* Bytes the arena holds (its blocks). */
size_t sq_json_arena_bytes(const struct sq_json_arena *a);
/* Makes jansson take the calling thread's values from a (NULL: from malloc)
 * until the next call; returns the arena in use before, to restore. */
struct sq_json_arena *sq_json_arena_use(struct sq_json_arena *a);
/* Whether jansson's allocator is this one (it is installed when the program
 * starts, before anything uses jansson). */
bool sq_json_arena_installed(void);
/* Whether p lies in an arena's block (for tests). */
bool sq_json_arena_holds(const void *p);

#endif
