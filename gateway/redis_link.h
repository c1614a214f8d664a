/* redis_link.h: sqgate's one synchronous Redis connection (hiredis 0.14):
 * connect from a URL with bounded timeouts, reconnect after any error, the
 * partition step script (SPEC 10) and applied-offset reads. */
#ifndef SQ_REDIS_LINK_H
#define SQ_REDIS_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "processor.h"
#include "sq_common.h"

struct sq_redis;

/* Parses the URL (redis://HOST:PORT[/DB] or unix:///path) and keeps the
 * settings; does not connect. NULL with err on a bad URL. */
struct sq_redis *sq_redis_new(const char *url, const char *prefix, int64_t timeout_ms,
                              struct sq_err *err);
void sq_redis_free(struct sq_redis *r);

/* Connects if not connected (AUTH from SQGATE_REDIS_USER/SQGATE_REDIS_PASSWORD,
 * SELECT, version check, SCRIPT LOAD, epoch check). Returns SQ_OK,
 * SQ_ERR_TRANSIENT (unreachable: retry later) or SQ_ERR_FATAL (data lost:
 * the epoch key changed; or a Redis older than SQ_REDIS_MIN_*). */
int sq_redis_ensure(struct sq_redis *r, struct sq_err *err);
bool sq_redis_connected(const struct sq_redis *r);
/* The oldest Redis sqgate runs on: 6.2, for SMISMEMBER (dedupe reads). */
#define SQ_REDIS_MIN_MAJOR 6
#define SQ_REDIS_MIN_MINOR 2
/* Whether INFO's text names a redis_version of at least major.minor; the
 * version found goes to found ("" when INFO names none, which passes: an
 * ACL may hide INFO, and the commands then say what they lack). */
bool sq_redis_version_at_least(const char *info, int major, int minor, char *found,
                               size_t found_len);

/* The applied-offset key of one input partition. */
char *sq_redis_offset_key_dup(const struct sq_redis *r, const char *group, const char *topic,
                              int32_t partition);

/* Makes the timer index zkey hold every timer of the hash hkey (one
 * written before the index existed: processors/store.h T); *indexed: how
 * many it added. */
int sq_redis_index_timers(struct sq_redis *r, const char *hkey, const char *zkey, long long *indexed,
                          struct sq_err *err);

/* Reads the applied offset of a partition: *applied = -1 when none. */
int sq_redis_read_applied(struct sq_redis *r, const char *offset_key, int64_t *applied,
                          struct sq_err *err);

/* One partition step (SPEC 10): applies ops and sets the applied offset to
 * last if the stored offset equals expected (-1: none stored). */
struct sq_redis_step {
    const char *offset_key;
    int64_t expected;        /* applied offset this instance believes is stored */
    int64_t last;            /* offset of the batch's last message */
    int64_t max_event_ms;    /* greatest event time applied in the batch, or -1 */
    const struct sq_state_ops *ops;
    /* result */
    int result;              /* 1 applied, 0 already applied (no-op), -1 fenced */
    int64_t stored;          /* the stored offset after the step */
    size_t *dups;            /* indexes of messages found duplicate (owned, free()) */
    size_t ndups;
};

/* With on, the steps sent on r append their KPI sums to the KPI journal
 * (kpi_journal.h) instead of adding them to the sq:kpi hashes. */
struct sq_ttl_memo;
/* The steps of r decide their TTL refreshes with m (gateway/ttl_memo.h),
 * shared with other connections; m must outlive r. Without it r makes a
 * memo of its own at its first step. */
void sq_redis_share_ttl_memo(struct sq_redis *r, struct sq_ttl_memo *m);
void sq_redis_set_kpi_journal(struct sq_redis *r, bool on);

/* Runs the steps of one turn. With sums (the KPI sums of all the steps'
 * messages, sq_state_ops_append_sums), they first go as one script that
 * applies all of them when each would apply in full, their KPI increments
 * summed across partitions. Otherwise, or when that script writes nothing,
 * every step goes on its own in one pipeline, with its batch's sums or,
 * when it has none or left a message out, its messages' deferred ops; a
 * step that found some of its messages duplicate wrote nothing and is sent
 * again without them (they end in dups). One call at a time in the process
 * runs; it waits (up to 20 ms) while a sq_redis_read_fields is out, so a
 * read waits only for the step Redis is running. Returns SQ_OK when every reply arrived
 * (see each step's result), else SQ_ERR_TRANSIENT (the connection is
 * dropped; outcomes unknown: run the same steps again). */
int sq_redis_run_steps(struct sq_redis *r, struct sq_redis_step *steps, size_t n,
                       const struct sq_state_ops *sums, struct sq_err *err);

struct sq_store_reads;
/* One pipelined round trip: HMGET of each run of (key, field) reads of one
 * key, HGETALL (as a JSON object) where field is NULL. */
int sq_redis_read_fields(struct sq_redis *r, struct sq_store_reads *reads, struct sq_err *err);

/* The key prefix (redis.prefix). */
const char *sq_redis_prefix(const struct sq_redis *r);

/* A script's reply flattened: an array's elements (or the one value) as
 * owned strings (NUL-terminated, len[i] bytes before it), integers in
 * decimal, nil as NULL. */
struct sq_redis_strs {
    char **v;
    size_t *len;
    size_t n;
};
void sq_redis_strs_fini(struct sq_redis_strs *s);
/* Runs the commands as one transaction (MULTI ... EXEC) in one round trip,
 * their replies flattened into *out in order: a command's value, or an
 * array's elements, as in a script's reply. A plain read of megabytes
 * costs Redis a twentieth of what a script returning them does (every
 * value goes through Lua). SQ_OK, or SQ_ERR_TRANSIENT (unreachable, or a
 * command failed: *out is empty). */
struct sq_redis_cmd {
    size_t argc;
    const char **argv; /* NUL-terminated strings */
};
int sq_redis_exec(struct sq_redis *r, size_t ncmd, const struct sq_redis_cmd *cmds,
                  struct sq_redis_strs *out, struct sq_err *err);
/* EVAL script with its keys and arguments. SQ_OK with *out filled (release
 * it), or SQ_ERR_TRANSIENT (unreachable, or the script failed). */
int sq_redis_eval(struct sq_redis *r, const char *script, size_t nkeys, const char *const *keys,
                  size_t nargs, const char *const *args, struct sq_redis_strs *out,
                  struct sq_err *err);
/* The same with each argument's length in arglens (binary-safe arguments;
 * NULL: strlen of each). */
int sq_redis_evalv(struct sq_redis *r, const char *script, size_t nkeys, const char *const *keys,
                   size_t nargs, const char *const *args, const size_t *arglens,
                   struct sq_redis_strs *out, struct sq_err *err);
/* The same with args (strings) followed by the bare K and W ops of the
 * sums [from, to) (processors/processor.h: sq_sums_emit_range), written
 * straight into the command. */
struct sq_sums;
int sq_redis_eval_sums(struct sq_redis *r, const char *script, size_t nkeys,
                       const char *const *keys, size_t nargs, const char *const *args,
                       struct sq_sums *sums, size_t from, size_t to, struct sq_redis_strs *out,
                       struct sq_err *err);

#endif
