/* sq_gen.h: generated and replayed event files for integration tests:
 * `sqgate gen` and `sqgate replay` runs, envelopes turned into kcat input,
 * and the final KPI records of a replay checked against sq:kpi hashes in
 * Redis and against the KPI records `sqgate run` wrote to sq.out.kpi (SPEC
 * 6: N instances, killed at will, give one instance's counters and final
 * records). */
#ifndef SQ_GEN_H
#define SQ_GEN_H

#include "sq_harness.h"
#include "strmap.h"

#define SQ_GEN_START "2026-11-20T08:00:00Z"

/* Runs sqgate with args (NULL-terminated, args[0] the subcommand) and
 * asserts exit 0 within timeout_ms. */
void sq_gen_run_sqgate(const char *const *args, int timeout_ms);
/* `sqgate gen` of count contacts over customers customers (seed 42; of the
 * other event types none, so every message is for sq.in.contacts: gen's
 * default malformed messages and duplicates go there too) into
 * tmpdir/name; returns the path (malloc'd). The tests that count offered
 * contacts against scored records (it_kpi) rely on it; sq_mix.h gives
 * every event type. */
char *sq_gen_file(const char *name, const char *count, const char *customers);
/* Calls fn with every line of the file at path (containing needle, when
 * not NULL) parsed as JSON (borrowed for the call) and its raw bytes; a
 * line that is not JSON, or a last line without a line end, fails the
 * test. */
void sq_gen_each_json_line(const char *path, const char *needle,
                           void (*fn)(json_t *v, const char *line, size_t n, void *arg),
                           void *arg);
/* `sqgate replay in` into tmpdir/name; returns the path (malloc'd). */
char *sq_gen_replay_file(const char *in, const char *name);
/* The sq.in.contacts envelopes of path as kcat "KEY<TAB>VALUE" lines in
 * tmpdir/name; returns the path (malloc'd). */
char *sq_gen_envelopes_to_tsv(const char *path, const char *name);

/* The final KPI record (highest revision) per window cell of a replay
 * output: Redis key (prefix "sq:") -> counters (json_t *, owned). */
void sq_gen_load_kpi_records(const char *replay_path, struct sq_strmap *cells);
void sq_gen_kpi_records_fini(struct sq_strmap *cells);
/* Counter `name` of one cell (a value of that map), 0 when absent. */
long long sq_gen_cell_counter(const void *cell, const char *name);
/* Waits until the KPI journal (sq:kpi_journal, kpi.journal) is empty:
 * every applied step's KPI increments are in their hashes. */
bool sq_gen_wait_kpi_journal_folded(redisContext *c, int timeout_ms);

/* Compares every sq:kpi hash in Redis with cells: the same keys (cells
 * whose counters are all 0 have no hash) and the same non-zero counters,
 * once the KPI journal is folded (asserted within 30 s). Returns the
 * number of differences, printing the first few. */
int sq_gen_compare_kpi_hashes(redisContext *c, struct sq_strmap *cells);

/* The final KPI record (highest revision; of equal ones the later) per
 * Kafka key: key -> record (json_t *, owned). From a replay output, or read
 * from a topic (returns 0, or -1 when the topic could not be read whole). */
void sq_gen_load_final_kpi_replay(const char *replay_path, struct sq_strmap *out);
int sq_gen_load_final_kpi_topic(const char *bootstrap, const char *topic, struct sq_strmap *out);
/* Differences between want and got in dimension, key, window, start, end,
 * counters and kpis (SPEC 6: revision may differ), keys missing from got
 * or extra in it; prints the first few when print. */
int sq_gen_compare_final_kpi(struct sq_strmap *want, struct sq_strmap *got, bool print);
void sq_gen_final_kpi_fini(struct sq_strmap *m);

#endif
