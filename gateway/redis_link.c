/* redis_link.c: the Redis connection and the partition step scripts. One
 * EVALSHA per partition batch applies all its changes and moves the applied
 * offset, guarded against zombies (SPEC 10); a turn's batches go as one
 * EVALSHA when each of them would apply in full. Across the process's
 * connections steps go one at a time, and store reads go first. */
#include "redis_link.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "kpi_journal.h"
#include "sinks.h"
#include "step_lua.h"
#include "store.h"
#include "ttl_memo.h"

/* One partition step. KEYS[1] = the partition's offset hash {offset,
 * max_event_ms}; KEYS[2], KEYS[3] = the watermark's zsets {prefix}wm:parts
 * and {prefix}wm:idle (member: the offset hash's key, score: its
 * max_event_ms). ARGV[1] = expected stored offset ("" = none), ARGV[2] =
 * batch's last offset, ARGV[3] = greatest event time in ms ("" = none),
 * ARGV[4] = the number of dedupe marks, then each mark as (message index,
 * set key, member, TTL), then the batch's other ops without their M, B, Y and S
 * markers (processors/store.h; sq_redis_send_step below says which are
 * sent).
 * Returns {1, stored} applied, {0, stored} already applied, {-1, stored}
 * fenced (another instance moved the offset), {2, stored, idx...} nothing
 * written: these messages' events are marked already (or twice in the
 * batch), send the step again without them. */
static const char sq_step_lua[] = SQ_STEP_LUA_COMMON
    "local cur = redis.call('HGET', KEYS[1], 'offset')\n"
    "local last = tonumber(ARGV[2])\n"
    "if cur and tonumber(cur) >= last then return {0, cur} end\n"
    "if (cur or '') ~= ARGV[1] then return {-1, cur or ''} end\n"
    "local n = #ARGV\n"
    "local nd, i, dups, marked = tonumber(ARGV[4]), 5, {}, {}\n"
    "for k = 1, nd do\n"
    "  if redis.call('SADD', ARGV[i+1], ARGV[i+2]) == 1 then marked[#marked + 1] = i\n"
    "  else dups[#dups + 1] = ARGV[i] end\n"
    "  i = i + 4\n"
    "end\n"
    "if #dups > 0 then\n"
    "  for _, j in ipairs(marked) do redis.call('SREM', ARGV[j+1], ARGV[j+2]) end\n"
    "  return {2, cur or '', unpack(dups)}\n"
    "end\n"
    "-- a mark cannot tell a new set: a negative TTL is left to the memo\n"
    "for _, j in ipairs(marked) do expire(ARGV[j+1], ARGV[j+3], false) end\n"
    "while i <= n do\n"
    "  i = apply(i)\n"
    "  if not i then return redis.error_reply('sqgate step: unknown op') end\n"
    "end\n"
    "finish(KEYS[1], ARGV[2], ARGV[3], KEYS[2], KEYS[3])\n"
    "return {1, ARGV[2]}\n";

/* A whole turn's partition steps at once, applied only when each of them
 * would apply in full: every stored offset is the expected one and no
 * dedupe mark is taken. Their KPI sums are summed over all of them, so a
 * cell that several partitions' events touch gets one HINCRBY per counter.
 * KEYS[1..n] = the partitions' offset hashes, KEYS[n+1], KEYS[n+2] =
 * wm:parts and wm:idle. ARGV[1] = n, then per partition: expected offset,
 * last offset, greatest event time, the number of marks, the number of op
 * arguments, the marks (4 each) and the ops without sums; then the turn's
 * sums (K and W ops, or with the KPI journal one J op holding them:
 * step_lua.h). Returns {1} applied, or {3} nothing written: run the
 * partition steps one by one (sq_step_lua), which sort out each case. */
static const char sq_turn_lua[] = SQ_STEP_LUA_COMMON
    "local np = tonumber(ARGV[1])\n"
    "local at, i = {}, 2\n"
    "for p = 1, np do\n"
    "  at[p] = i\n"
    "  if (redis.call('HGET', KEYS[p], 'offset') or '') ~= ARGV[i] then return {3} end\n"
    "  i = i + 5 + 4 * tonumber(ARGV[i+3]) + tonumber(ARGV[i+4])\n"
    "end\n"
    "local sums, marked = i, {}\n"
    "for p = 1, np do\n"
    "  local j = at[p] + 5\n"
    "  for k = 1, tonumber(ARGV[at[p]+3]) do\n"
    "    if redis.call('SADD', ARGV[j+1], ARGV[j+2]) == 0 then\n"
    "      for _, m in ipairs(marked) do redis.call('SREM', ARGV[m+1], ARGV[m+2]) end\n"
    "      return {3}\n"
    "    end\n"
    "    marked[#marked + 1] = j\n"
    "    j = j + 4\n"
    "  end\n"
    "end\n"
    "for _, m in ipairs(marked) do expire(ARGV[m+1], ARGV[m+3], false) end\n"
    "for p = 1, np do\n"
    "  local j = at[p] + 5 + 4 * tonumber(ARGV[at[p]+3])\n"
    "  local stop = j + tonumber(ARGV[at[p]+4])\n"
    "  while j < stop do\n"
    "    j = apply(j)\n"
    "    if not j then return redis.error_reply('sqgate step: unknown op') end\n"
    "  end\n"
    "end\n"
    "i = sums\n"
    "while i <= #ARGV do\n"
    "  i = apply(i)\n"
    "  if not i then return redis.error_reply('sqgate step: unknown op') end\n"
    "end\n"
    "for p = 1, np do\n"
    "  finish(KEYS[p], ARGV[at[p]+1], ARGV[at[p]+2], KEYS[np+1], KEYS[np+2])\n"
    "end\n"
    "return {1}\n";

/* A growing argument vector of borrowed strings. */
struct sq_args {
    const char **v;
    size_t *len;
    size_t n, cap;
};

static void sq_args_push(struct sq_args *x, const char *v, size_t len)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        x->v = sq_xrealloc(x->v, x->cap * sizeof *x->v);
        x->len = sq_xrealloc(x->len, x->cap * sizeof *x->len);
    }
    x->v[x->n] = v;
    x->len[x->n++] = len;
}

static void sq_args_fini(struct sq_args *x)
{
    free(x->v);
    free(x->len);
    memset(x, 0, sizeof *x);
}

struct sq_redis {
    char *host;          /* NULL for unix sockets */
    int port;
    char *unix_path;
    int db;
    char *prefix;
    int64_t timeout_ms;
    redisContext *c;
    char sha[41];        /* sq_step_lua */
    char turn_sha[41];   /* sq_turn_lua */
    char *epoch;         /* the epoch value seen at first connect */
    char *wm_parts_key;  /* {prefix}wm:parts */
    char *wm_idle_key;   /* {prefix}wm:idle */
    /* A step's command, built in place and written to the socket; kept
     * between steps with the argument lists that sort its ops, so a turn
     * of thousands of arguments allocates nothing once they have grown. */
    struct sq_buf cmd;
    size_t cmd_argc;
    struct sq_args marks, rest;
    struct sq_state_ops scratch; /* numbers of V ops expanded to K */
    char *journal_key;   /* {prefix}kpi_journal with kpi.journal, else NULL */
    struct sq_buf journal; /* the step's KPI journal entry (kpi_journal.h) */
    struct sq_ttl_memo *ttl_memo; /* the TTLs the steps refreshed lately:
                                   * shared, or made by the first step sent */
    bool ttl_memo_own;
    struct sq_ttl_notes ttl_notes; /* the refreshes of the steps in flight */
};

struct sq_redis *sq_redis_new(const char *url, const char *prefix, int64_t timeout_ms,
                              struct sq_err *err)
{
    struct sq_redis *r = sq_xcalloc(1, sizeof *r);
    r->prefix = sq_xstrdup(prefix);
    r->wm_parts_key = sq_xasprintf("%swm:parts", prefix);
    r->wm_idle_key = sq_xasprintf("%swm:idle", prefix);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    if (strncmp(url, "unix://", 7) == 0 && url[7] == '/') {
        r->unix_path = sq_xstrdup(url + 7);
        return r;
    }
    if (strncmp(url, "redis://", 8) != 0)
        goto bad;
    const char *hp = url + 8;
    const char *at = strrchr(hp, '@'); /* user:password@ is not accepted: secrets go in env */
    if (at)
        goto bad;
    const char *colon = strrchr(hp, ':');
    const char *slash = strchr(hp, '/');
    if (!colon || (slash && slash < colon) || colon == hp)
        goto bad;
    r->host = sq_xstrndup(hp, (size_t)(colon - hp));
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || port <= 0 || port > 65535 || (*end && *end != '/'))
        goto bad;
    r->port = (int)port;
    if (*end == '/' && end[1]) {
        char *e2;
        long db = strtol(end + 1, &e2, 10);
        if (*e2 || db < 0 || db > 1000)
            goto bad;
        r->db = (int)db;
    }
    return r;
bad:
    sq_err_set(err, SQ_ERR_FATAL, "redis.url",
               "\"%s\" is not redis://HOST:PORT[/DB] or unix:///PATH", url);
    sq_redis_free(r);
    return NULL;
}

static void sq_redis_drop(struct sq_redis *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    /* what the server holds is not known again until the next connection */
    if (r->ttl_memo)
        sq_ttl_memo_clear(r->ttl_memo);
    sq_ttl_notes_drop(&r->ttl_notes, SIZE_MAX);
}

void sq_redis_free(struct sq_redis *r)
{
    if (!r)
        return;
    sq_redis_drop(r);
    free(r->host);
    free(r->unix_path);
    free(r->prefix);
    free(r->epoch);
    free(r->wm_parts_key);
    free(r->wm_idle_key);
    sq_buf_fini(&r->cmd);
    sq_args_fini(&r->marks);
    sq_args_fini(&r->rest);
    sq_state_ops_fini(&r->scratch);
    free(r->journal_key);
    sq_buf_fini(&r->journal);
    if (r->ttl_memo_own)
        sq_ttl_memo_free(r->ttl_memo);
    sq_ttl_notes_fini(&r->ttl_notes);
    free(r);
}

void sq_redis_share_ttl_memo(struct sq_redis *r, struct sq_ttl_memo *m)
{
    if (r->ttl_memo_own)
        sq_ttl_memo_free(r->ttl_memo);
    r->ttl_memo = m;
    r->ttl_memo_own = false;
}

void sq_redis_set_kpi_journal(struct sq_redis *r, bool on)
{
    free(r->journal_key);
    r->journal_key = on ? sq_kpi_journal_key_dup(r->prefix) : NULL;
}

bool sq_redis_connected(const struct sq_redis *r)
{
    return r->c != NULL;
}

/* Runs one command; any failure drops the connection. Returns the reply
 * (caller frees) or NULL with err set. An error reply is returned as is. */
static redisReply *sq_redis_cmd(struct sq_redis *r, struct sq_err *err, int argc,
                                const char **argv, const size_t *lens)
{
    redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
    if (!rep) {
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis: %s",
                   r->c->errstr[0] ? r->c->errstr : "connection lost");
        sq_redis_drop(r);
    }
    return rep;
}

bool sq_redis_version_at_least(const char *info, int major, int minor, char *found,
                               size_t found_len)
{
    found[0] = '\0';
    const char *p = info ? strstr(info, "redis_version:") : NULL;
    if (!p)
        return true;
    p += strlen("redis_version:");
    size_t n = strcspn(p, "\r\n");
    snprintf(found, found_len, "%.*s", (int)n, p);
    int a = 0, b = 0;
    if (sscanf(found, "%d.%d", &a, &b) != 2)
        return true; /* not a version we can read: let the commands speak */
    return a > major || (a == major && b >= minor);
}

/* A Redis older than SQ_REDIS_MIN_*: fatal, with the version found. */
static int sq_redis_check_version(struct sq_redis *r, struct sq_err *err)
{
    redisReply *rep = redisCommand(r->c, "INFO server");
    if (!rep)
        return sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis INFO: %s",
                          r->c->errstr[0] ? r->c->errstr : "connection lost");
    char found[32];
    bool ok = rep->type != REDIS_REPLY_STRING ||
              sq_redis_version_at_least(rep->str, SQ_REDIS_MIN_MAJOR, SQ_REDIS_MIN_MINOR, found,
                                        sizeof found);
    freeReplyObject(rep);
    if (!ok)
        return sq_err_set(err, SQ_ERR_FATAL, "",
                          "redis %s is older than %d.%d, which sqgate needs (SMISMEMBER)", found,
                          SQ_REDIS_MIN_MAJOR, SQ_REDIS_MIN_MINOR);
    return SQ_OK;
}

static int sq_redis_handshake(struct sq_redis *r, struct sq_err *err)
{
    const char *user = getenv("SQGATE_REDIS_USER");
    const char *pass = getenv("SQGATE_REDIS_PASSWORD");
    redisReply *rep;
    if (pass && *pass) {
        const char *argv[3] = {"AUTH", user && *user ? user : pass, pass};
        int argc = (user && *user) ? 3 : 2;
        rep = sq_redis_cmd(r, err, argc, argv, NULL);
        if (!rep)
            return SQ_ERR_TRANSIENT;
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad)
            sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis AUTH: %s", rep->str);
        freeReplyObject(rep);
        if (bad)
            return SQ_ERR_TRANSIENT;
    }
    if (r->db) {
        rep = redisCommand(r->c, "SELECT %d", r->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis SELECT %d failed", r->db);
            if (rep)
                freeReplyObject(rep);
            return SQ_ERR_TRANSIENT;
        }
        freeReplyObject(rep);
    }
    int vrc = sq_redis_check_version(r, err);
    if (vrc != SQ_OK)
        return vrc;
    const char *scripts[2] = {sq_step_lua, sq_turn_lua};
    char *shas[2] = {r->sha, r->turn_sha};
    for (int k = 0; k < 2; k++) {
        rep = redisCommand(r->c, "SCRIPT LOAD %s", scripts[k]);
        if (!rep || rep->type != REDIS_REPLY_STRING || rep->len != 40) {
            sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis SCRIPT LOAD failed: %s",
                       rep && rep->str ? rep->str : "no reply");
            if (rep)
                freeReplyObject(rep);
            return SQ_ERR_TRANSIENT;
        }
        memcpy(shas[k], rep->str, 40);
        shas[k][40] = '\0';
        freeReplyObject(rep);
    }

    /* Epoch: written once; a different or missing value later means the
     * server lost its data, and exactness can no longer be promised. */
    char epoch[64];
    snprintf(epoch, sizeof epoch, "%lld-%d", (long long)sq_now_ms(), (int)(rand() % 1000000));
    char *key = sq_xasprintf("%sepoch", r->prefix);
    rep = redisCommand(r->c, "SET %s %s NX", key, epoch);
    if (rep)
        freeReplyObject(rep);
    rep = redisCommand(r->c, "GET %s", key);
    free(key);
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis: cannot read the epoch key");
        if (rep)
            freeReplyObject(rep);
        return SQ_ERR_TRANSIENT;
    }
    if (!r->epoch) {
        r->epoch = sq_xstrdup(rep->str);
    } else if (strcmp(r->epoch, rep->str) != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "",
                   "redis lost its data (epoch key changed from %s to %s): exactness cannot be "
                   "kept; enable appendonly persistence, see docs/operations.md",
                   r->epoch, rep->str);
        freeReplyObject(rep);
        return SQ_ERR_FATAL;
    }
    freeReplyObject(rep);
    return SQ_OK;
}

int sq_redis_ensure(struct sq_redis *r, struct sq_err *err)
{
    if (r->c)
        return SQ_OK;
    struct timeval tv = {.tv_sec = r->timeout_ms / 1000,
                         .tv_usec = (r->timeout_ms % 1000) * 1000};
    r->c = r->unix_path ? redisConnectUnixWithTimeout(r->unix_path, tv)
                        : redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->c || r->c->err) {
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis %s%s%s:%d unreachable: %s",
                   r->unix_path ? "unix:" : "", r->unix_path ? r->unix_path : r->host,
                   r->unix_path ? "" : "", r->port, r->c ? r->c->errstr : "out of memory");
        sq_redis_drop(r);
        return SQ_ERR_TRANSIENT;
    }
    redisSetTimeout(r->c, tv);
    /* Keepalive is TCP's: on a unix socket hiredis's TCP_KEEPIDLE fails
     * with EOPNOTSUPP and leaves the context in error, so every command
     * after it would fail. */
    if (!r->unix_path && redisEnableKeepAlive(r->c) != REDIS_OK) {
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis %s:%d: cannot enable TCP keepalive: %s",
                   r->host, r->port, r->c->errstr);
        sq_redis_drop(r);
        return SQ_ERR_TRANSIENT;
    }
    int rc = sq_redis_handshake(r, err);
    if (rc != SQ_OK)
        sq_redis_drop(r);
    return rc;
}

char *sq_redis_offset_key_dup(const struct sq_redis *r, const char *group, const char *topic,
                              int32_t partition)
{
    char *g = sq_key_escape_dup(group, strlen(group));
    char *t = sq_key_escape_dup(topic, strlen(topic));
    char *k = sq_xasprintf("%soff:%s:%s:%d", r->prefix, g, t, (int)partition);
    free(g);
    free(t);
    return k;
}

int sq_redis_read_applied(struct sq_redis *r, const char *offset_key, int64_t *applied,
                          struct sq_err *err)
{
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    const char *argv[3] = {"HGET", offset_key, "offset"};
    redisReply *rep = sq_redis_cmd(r, err, 3, argv, NULL);
    if (!rep)
        return SQ_ERR_TRANSIENT;
    rc = SQ_OK;
    if (rep->type == REDIS_REPLY_STRING)
        *applied = strtoll(rep->str, NULL, 10);
    else if (rep->type == REDIS_REPLY_NIL)
        *applied = -1;
    else
        rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis HGET %s: unexpected reply", offset_key);
    freeReplyObject(rep);
    return rc;
}

/* Indexes a timer hash written before its index (processors/store.h T):
 * every field's due time ("due|opening|customer") into the index, its TTL
 * with it. Only when the two disagree in size, so a partition assigned
 * costs two lookups. */
static const char sq_index_timers_lua[] =
    "if redis.call('ZCARD', KEYS[2]) == redis.call('HLEN', KEYS[1]) then return 0 end\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local n = 0\n"
    "for i = 1, #h, 2 do\n"
    "  local due = tonumber(string.match(h[i + 1], '^(%-?%d+)|'))\n"
    "  if due and redis.call('ZSCORE', KEYS[2], h[i]) == false then\n"
    "    redis.call('ZADD', KEYS[2], due, h[i]); n = n + 1\n"
    "  end\n"
    "end\n"
    "local ttl = redis.call('TTL', KEYS[1])\n"
    "if n > 0 and ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "return n\n";

int sq_redis_index_timers(struct sq_redis *r, const char *hkey, const char *zkey, long long *indexed,
                          struct sq_err *err)
{
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    const char *argv[] = {"EVAL", sq_index_timers_lua, "2", hkey, zkey};
    redisReply *rep = sq_redis_cmd(r, err, 5, argv, NULL);
    if (!rep)
        return SQ_ERR_TRANSIENT;
    rc = SQ_OK;
    if (rep->type == REDIS_REPLY_INTEGER)
        *indexed = rep->integer;
    else
        rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis: indexing the timers of %s: %s", hkey,
                        rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return rc;
}

/* Writes v in decimal at p; returns the end. */
static char *sq_resp_uint(char *p, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Room kept at the front of r->cmd for the RESP header, written right-aligned
 * before the arguments once their count is known. */
#define SQ_CMD_HEAD 24
/* A command buffer grown beyond this is freed after its write. */
#define SQ_CMD_KEEP ((size_t)8 << 20)

/* Starts a command in r->cmd. Commands are built in RESP directly and
 * written by sq_cmd_send: hiredis' formatter grows a string per argument,
 * and its output buffer takes a copy of each command and frees it after
 * the write, which for a turn's megabyte made new pages on every step. */
static void sq_cmd_begin(struct sq_redis *r)
{
    sq_buf_reset(&r->cmd);
    sq_buf_reserve(&r->cmd, SQ_CMD_HEAD);
    r->cmd.len = SQ_CMD_HEAD;
    r->cmd_argc = 0;
}

static void sq_cmd_arg(struct sq_redis *r, const char *v, size_t len)
{
    sq_buf_reserve(&r->cmd, 1 + 20 + 2 + len + 2);
    char *p = r->cmd.data + r->cmd.len;
    *p++ = '$';
    p = sq_resp_uint(p, len);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, v, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    r->cmd.len = (size_t)(p - r->cmd.data);
    r->cmd_argc++;
}

static void sq_cmd_arg_str(struct sq_redis *r, const char *v)
{
    sq_cmd_arg(r, v, strlen(v));
}

static void sq_cmd_arg_i64(struct sq_redis *r, int64_t v)
{
    char buf[24];
    sq_cmd_arg(r, buf, sq_i64_format(buf, v));
}

/* v in decimal, or "" when it is negative (none). */
static void sq_cmd_arg_opt_i64(struct sq_redis *r, int64_t v)
{
    if (v >= 0)
        sq_cmd_arg_i64(r, v);
    else
        sq_cmd_arg(r, "", 0);
}

static void sq_cmd_args(struct sq_redis *r, const struct sq_args *x)
{
    for (size_t k = 0; k < x->n; k++)
        sq_cmd_arg(r, x->v[k], x->len[k]);
}

/* Writes the command begun by sq_cmd_begin to the socket; its reply is read
 * with redisGetReply (hiredis' own output buffer is empty between
 * commands). Returns 0, or -1 with err set (the connection is unusable). */
static int sq_cmd_send(struct sq_redis *r, struct sq_err *err)
{
    char head[SQ_CMD_HEAD], *h = head;
    *h++ = '*';
    h = sq_resp_uint(h, r->cmd_argc);
    *h++ = '\r';
    *h++ = '\n';
    size_t hl = (size_t)(h - head);
    char *p = r->cmd.data + SQ_CMD_HEAD - hl;
    memcpy(p, head, hl);
    size_t left = r->cmd.len - (SQ_CMD_HEAD - hl);
    int rc = 0;
    while (left) {
        ssize_t k = send(r->c->fd, p, left, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis: cannot send: %s",
                       k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "timed out"
                                                                          : strerror(errno));
            rc = -1;
            break;
        }
        p += k;
        left -= (size_t)k;
    }
    if (r->cmd.cap > SQ_CMD_KEEP)
        sq_buf_fini(&r->cmd);
    return rc;
}

static bool sq_idx_in(size_t v, const size_t *set, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (set[k] == v)
            return true;
    return false;
}

/* Whether ops end with the batch's sums (a B marker, then S ops). */
static bool sq_ops_have_sums(const struct sq_state_ops *ops)
{
    char *const *a = ops->argv;
    for (size_t i = 0, w; i < ops->argc; i += w) {
        if (a[i][0] == 'B' && !a[i][1])
            return true;
        w = a[i][0] == 'M' && !a[i][1] ? 2 : sq_op_width(a, ops->argc, i);
        if (!w)
            w = 1;
    }
    return false;
}

/* Pushes the V op at a[i] (store.h) as the K op the scripts know, built in
 * scratch, which keeps its numbers until it is reset; a V op that is not
 * one goes as it is, for the script to refuse. */
static void sq_args_push_kpi(struct sq_args *rest, char *const *a, const size_t *len, size_t i,
                             struct sq_state_ops *scratch)
{
    size_t from = scratch->argc;
    if (!sq_op_kpi_as_k(scratch, a, len, i)) {
        for (size_t k = i; k < i + 4; k++)
            sq_args_push(rest, a[k], len[k]);
        return;
    }
    for (size_t k = from; k < scratch->argc; k++)
        sq_args_push(rest, scratch->argv[k], scratch->argvlen[k]);
}

/* Appends the K or W op a[from..to) to a KPI journal entry; a V op goes as
 * the K op it stands for, built in scratch. */
static void sq_journal_put(struct sq_buf *journal, char *const *a, const size_t *len,
                           size_t from, size_t to, struct sq_state_ops *scratch)
{
    if (a[from][0] == 'V' && !a[from][1]) {
        size_t at = scratch->argc;
        if (sq_op_kpi_as_k(scratch, a, len, from))
            sq_kpi_journal_put_op(journal, scratch->argv, scratch->argvlen, at, scratch->argc);
        return;
    }
    sq_kpi_journal_put_op(journal, a, len, from, to);
}

/* Pushes op J (step_lua.h) with r's journal entry to rest when it has one. */
static void sq_args_push_journal(struct sq_redis *r)
{
    if (!r->journal_key || !r->journal.len)
        return;
    sq_args_push(&r->rest, "J", 1);
    sq_args_push(&r->rest, r->journal_key, strlen(r->journal_key));
    sq_args_push(&r->rest, r->journal.data, r->journal.len);
}

/* What decides a step's TTL arguments (ttl_memo.h). */
struct sq_ttl_ctx {
    const struct sq_ttl_memo *memo;
    struct sq_ttl_notes *notes;
    int64_t now_s;
    size_t step;                  /* the pending refreshes' tag */
    struct sq_state_ops *scratch; /* keeps the negative TTLs' text */
};

/* Pushes the TTL argument ttl of an op on key: as it is when its refresh
 * is due, else as its negative, which the script sets only on a key the
 * op created. */
static void sq_args_push_ttl(struct sq_args *x, const struct sq_ttl_ctx *tc, const char *key,
                             size_t keylen, const char *ttl, size_t ttllen)
{
    char *end;
    long long t = strtoll(ttl, &end, 10);
    if (t <= 0 || *end || ttllen > 20 ||
        sq_ttl_memo_due(tc->memo, tc->notes, key, keylen, t, tc->now_s, tc->step)) {
        sq_args_push(x, ttl, ttllen);
        return;
    }
    sq_state_ops_push_i64(tc->scratch, -t);
    size_t k = tc->scratch->argc - 1;
    sq_args_push(x, tc->scratch->argv[k], tc->scratch->argvlen[k]);
}

/* Sorts one partition step's ops into its dedupe marks (message index,
 * key, field, TTL each) and its other ops, without their M, B, Y and S
 * markers. The ops of the messages in dups are left out. The batch's sums
 * (S) go when no message was left out; otherwise, or when the batch has no
 * sums (sq_batch_assemble_message_ops), the messages' deferred ops (Y) go
 * instead. With sums false, neither goes (the turn's sums are sent once for
 * all its partitions). V ops go as K ops, their numbers kept in scratch.
 * With a journal, the sums or deferred ops go into it instead of rest.
 * Each op's TTL goes as tc decides (sq_args_push_ttl). */
static void sq_step_sort_ops(const struct sq_redis_step *s, const size_t *dups, size_t ndups,
                             bool sums, struct sq_args *marks, struct sq_args *rest,
                             struct sq_state_ops *scratch, struct sq_buf *journal,
                             const struct sq_ttl_ctx *tc)
{
    const struct sq_state_ops *ops = s->ops;
    bool use_sums = sums && !ndups && sq_ops_have_sums(ops);
    bool use_deferred = sums && !use_sums;
    const char *msg = "0";
    size_t msg_len = 1;
    bool left_out = false;
    char *const *a = ops->argv;
    for (size_t i = 0, w; i < ops->argc; i += w) {
        const char *op = a[i];
        if (op[0] == 'M' && !op[1] && i + 1 < ops->argc) {
            msg = a[i + 1];
            msg_len = ops->argvlen[i + 1];
            left_out = ndups && sq_idx_in(strtoull(msg, NULL, 10), dups, ndups);
            w = 2;
            continue;
        }
        if (op[0] == 'B' && !op[1]) {
            msg = "0";
            msg_len = 1;
            left_out = false;
            w = 1;
            continue;
        }
        w = sq_op_width(a, ops->argc, i);
        if (!w) {
            /* not an op: sent as it is, for the script to refuse */
            sq_args_push(rest, a[i], ops->argvlen[i]);
            w = 1;
            continue;
        }
        size_t from = i, to = i + w;
        if (left_out)
            continue;
        if (op[0] == 'D' && !op[1]) {
            sq_args_push(marks, msg, msg_len);
            for (size_t k = 1; k < 3; k++)
                sq_args_push(marks, a[i + k], ops->argvlen[i + k]);
            size_t t = i + sq_op_ttl_offset('D');
            sq_args_push_ttl(marks, tc, a[i + 1], ops->argvlen[i + 1], a[t], ops->argvlen[t]);
            continue;
        }
        if (op[0] == 'Y' && !op[1]) {
            if (!use_deferred)
                continue;
            from = i + 1;
        } else if (op[0] == 'S' && !op[1]) {
            if (!use_sums)
                continue;
            from = i + 1;
        }
        if (journal && from > i) {
            sq_journal_put(journal, a, ops->argvlen, from, to, scratch);
            continue;
        }
        if (a[from][0] == 'V' && !a[from][1]) {
            sq_args_push_kpi(rest, a, ops->argvlen, from, scratch);
            continue;
        }
        /* a wrapped op (Y, S) is a KPI sum: refreshed by every write */
        size_t ttl_at = from == i ? sq_op_ttl_offset(sq_op_code(op)) : 0;
        for (size_t k = from; k < to; k++) {
            if (ttl_at && k == i + ttl_at)
                sq_args_push_ttl(rest, tc, a[i + 1], ops->argvlen[i + 1], a[k], ops->argvlen[k]);
            else
                sq_args_push(rest, a[k], ops->argvlen[k]);
        }
    }
}

/* Sorts s's ops into r->marks and r->rest (sq_step_sort_ops); the TTL
 * refreshes it sends are pending under tag `step` (ttl_memo.h). */
static void sq_redis_sort_step(struct sq_redis *r, const struct sq_redis_step *s,
                               const size_t *dups, size_t ndups, bool sums, size_t step)
{
    r->marks.n = r->rest.n = 0;
    sq_state_ops_reset(&r->scratch);
    sq_buf_reset(&r->journal);
    if (!r->ttl_memo) {
        r->ttl_memo = sq_ttl_memo_new();
        r->ttl_memo_own = true;
    }
    struct sq_ttl_ctx tc = {.memo = r->ttl_memo, .notes = &r->ttl_notes,
                            .now_s = sq_mono_ms() / 1000, .step = step, .scratch = &r->scratch};
    sq_step_sort_ops(s, dups, ndups, sums, &r->marks, &r->rest, &r->scratch,
                     r->journal_key ? &r->journal : NULL, &tc);
    sq_args_push_journal(r);
}

/* Sends one partition step (the format above sq_step_lua). The dedupe
 * marks go first so that the script can write nothing when one is taken.
 * Returns 0, or -1 with err set. */
static int sq_redis_send_step(struct sq_redis *r, const struct sq_redis_step *s, size_t idx,
                              const size_t *dups, size_t ndups, struct sq_err *err)
{
    sq_ttl_notes_drop(&r->ttl_notes, idx); /* an earlier send's */
    sq_redis_sort_step(r, s, dups, ndups, true, idx);
    sq_cmd_begin(r);
    sq_cmd_arg(r, "EVALSHA", 7);
    sq_cmd_arg(r, r->sha, 40);
    sq_cmd_arg(r, "3", 1);
    sq_cmd_arg_str(r, s->offset_key);
    sq_cmd_arg_str(r, r->wm_parts_key);
    sq_cmd_arg_str(r, r->wm_idle_key);
    sq_cmd_arg_opt_i64(r, s->expected);
    sq_cmd_arg_i64(r, s->last);
    sq_cmd_arg_opt_i64(r, s->max_event_ms);
    sq_cmd_arg_i64(r, (int64_t)(r->marks.n / 4));
    sq_cmd_args(r, &r->marks);
    sq_cmd_args(r, &r->rest);
    return sq_cmd_send(r, err);
}

/* Sends the steps[0..n) as one turn step (the format above sq_turn_lua)
 * with the turn's sums (K and W ops behind S markers, processors/store.h).
 * Returns 0, or -1 with err set. */
/* Builds the turn step's command in r->cmd (sent by sq_cmd_send). */
static void sq_redis_build_turn_step(struct sq_redis *r, const struct sq_redis_step *steps,
                                     size_t n, const struct sq_state_ops *sums)
{
    sq_cmd_begin(r);
    sq_cmd_arg(r, "EVALSHA", 7);
    sq_cmd_arg(r, r->turn_sha, 40);
    sq_cmd_arg_i64(r, (int64_t)n + 2);
    for (size_t i = 0; i < n; i++)
        sq_cmd_arg_str(r, steps[i].offset_key);
    sq_cmd_arg_str(r, r->wm_parts_key);
    sq_cmd_arg_str(r, r->wm_idle_key);
    sq_cmd_arg_i64(r, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        const struct sq_redis_step *s = &steps[i];
        sq_redis_sort_step(r, s, NULL, 0, false, i);
        sq_cmd_arg_opt_i64(r, s->expected);
        sq_cmd_arg_i64(r, s->last);
        sq_cmd_arg_opt_i64(r, s->max_event_ms);
        sq_cmd_arg_i64(r, (int64_t)(r->marks.n / 4));
        sq_cmd_arg_i64(r, (int64_t)r->rest.n);
        sq_cmd_args(r, &r->marks);
        sq_cmd_args(r, &r->rest);
    }
    char *const *a = sums->argv;
    sq_buf_reset(&r->journal);
    for (size_t i = 0, w; i < sums->argc; i += w) {
        w = sq_op_width(a, sums->argc, i);
        if (!w) {
            w = 1; /* the B marker */
            continue;
        }
        size_t from = a[i][0] == 'S' && !a[i][1] ? i + 1 : i;
        if (r->journal_key) {
            sq_kpi_journal_put_op(&r->journal, a, sums->argvlen, from, i + w);
            continue;
        }
        for (size_t k = from; k < i + w; k++)
            sq_cmd_arg(r, a[k], sums->argvlen[k]);
    }
    if (r->journal_key && r->journal.len) {
        sq_cmd_arg(r, "J", 1);
        sq_cmd_arg_str(r, r->journal_key);
        sq_cmd_arg(r, r->journal.data, r->journal.len);
    }
}

/* The next reply on r's connection, or NULL with err set to "redis WHAT:
 * why" (what NULL: "redis: why"); the connection is then unusable. */
static redisReply *sq_redis_next_reply(struct sq_redis *r, const char *what, struct sq_err *err)
{
    redisReply *rep = NULL;
    if (redisGetReply(r->c, (void **)&rep) == REDIS_OK && rep)
        return rep;
    sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis%s%s: %s", what ? " " : "", what ? what : "",
               r->c->errstr[0] ? r->c->errstr : "connection lost");
    return NULL;
}

/* Reads one step reply into s; dups of a {2, ...} reply are added to s's.
 * Returns 1 read, 0 a reply that is not a step's (err set), -1 connection lost. */
static int sq_redis_read_step(struct sq_redis *r, struct sq_redis_step *s, struct sq_err *err)
{
    redisReply *rep = sq_redis_next_reply(r, "step", err);
    if (!rep)
        return -1;
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
             rep->element[0]->type == REDIS_REPLY_INTEGER;
    if (ok) {
        s->result = (int)rep->element[0]->integer;
        const char *st = rep->element[1]->str;
        s->stored = (st && *st) ? strtoll(st, NULL, 10) : -1;
        size_t more = rep->elements - 2;
        if (more) {
            s->dups = sq_xrealloc(s->dups, (s->ndups + more) * sizeof *s->dups);
            for (size_t k = 0; k < more; k++) {
                const redisReply *e = rep->element[2 + k];
                s->dups[s->ndups++] = e->type == REDIS_REPLY_STRING ? strtoull(e->str, NULL, 10)
                                                                    : (size_t)e->integer;
            }
        }
    } else {
        /* NOSCRIPT after a server restart, or a script error: the
         * connection is renewed (reloading the script) and the step
         * retried. */
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis step on %s: %s", s->offset_key,
                   rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    return ok;
}

/* A step is sent again without the messages found duplicate at most this
 * often (each time leaves out at least one more message). */
#define SQ_STEP_RETRIES 16

/* Sends steps[0..n) as one turn step, its command already built
 * (sq_redis_build_turn_step). Returns 1 applied (each step's result set),
 * 0 not applied (nothing written: run them one by one), -1 connection lost
 * or a reply that is not the script's (err set). */
static int sq_redis_try_turn_step(struct sq_redis *r, struct sq_redis_step *steps, size_t n,
                                  struct sq_err *err)
{
    if (sq_cmd_send(r, err) != 0)
        return -1;
    redisReply *rep = sq_redis_next_reply(r, "turn step", err);
    if (!rep)
        return -1;
    int got = -1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        (rep->element[0]->integer == 1 || rep->element[0]->integer == 3))
        got = rep->element[0]->integer == 1;
    else
        sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis turn step: %s",
                   rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    for (size_t i = 0; got == 1 && i < n; i++) {
        steps[i].result = 1;
        steps[i].stored = steps[i].last;
    }
    return got;
}

/* Reads first, one step at a time. Redis runs one command at a time and a
 * turn's step script takes milliseconds; the chain's store read (on the
 * main thread, which waits for it) sent behind two or three queued
 * scripts waited for all of them. So the step threads send one script at
 * a time, and none while a read is out (for at most SQ_READS_FIRST_MS):
 * a read waits at most for the script Redis is running. */
#define SQ_READS_FIRST_MS 20
static pthread_mutex_t sq_sched_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sq_sched_cv = PTHREAD_COND_INITIALIZER;
static int sq_reads_out;
static bool sq_step_out;

static void sq_reads_begin(void)
{
    pthread_mutex_lock(&sq_sched_mu);
    sq_reads_out++;
    pthread_mutex_unlock(&sq_sched_mu);
}

static void sq_reads_end(void)
{
    pthread_mutex_lock(&sq_sched_mu);
    sq_reads_out--;
    pthread_cond_broadcast(&sq_sched_cv);
    pthread_mutex_unlock(&sq_sched_mu);
}

/* Waits until no other step is out and no read is (the read for at most
 * SQ_READS_FIRST_MS), then marks this one out. */
static void sq_step_begin(void)
{
    struct timespec until = sq_deadline_in_ms(SQ_READS_FIRST_MS);
    bool late = false;
    pthread_mutex_lock(&sq_sched_mu);
    while (sq_step_out || (sq_reads_out > 0 && !late)) {
        if (late)
            pthread_cond_wait(&sq_sched_cv, &sq_sched_mu);
        else if (pthread_cond_timedwait(&sq_sched_cv, &sq_sched_mu, &until) != 0)
            late = true;
    }
    sq_step_out = true;
    pthread_mutex_unlock(&sq_sched_mu);
}

static void sq_step_end(void)
{
    pthread_mutex_lock(&sq_sched_mu);
    sq_step_out = false;
    pthread_cond_broadcast(&sq_sched_cv);
    pthread_mutex_unlock(&sq_sched_mu);
}

static int sq_redis_run_steps_now(struct sq_redis *r, struct sq_redis_step *steps, size_t n,
                                  bool turn_built, struct sq_err *err);

int sq_redis_run_steps(struct sq_redis *r, struct sq_redis_step *steps, size_t n,
                       const struct sq_state_ops *sums, struct sq_err *err)
{
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    /* The turn step's command is built before this thread's turn to send
     * comes, while Redis runs another step thread's script. */
    bool turn_built = sums && n;
    if (turn_built)
        sq_redis_build_turn_step(r, steps, n, sums);
    sq_step_begin();
    rc = sq_redis_run_steps_now(r, steps, n, turn_built, err);
    sq_step_end();
    return rc;
}

static int sq_redis_run_steps_now(struct sq_redis *r, struct sq_redis_step *steps, size_t n,
                                  bool turn_built, struct sq_err *err)
{
    for (size_t i = 0; i < n; i++) {
        steps[i].dups = NULL; /* a new array each time: the caller frees it */
        steps[i].ndups = 0;
    }
    if (turn_built) {
        int got = sq_redis_try_turn_step(r, steps, n, err);
        if (got < 0) {
            sq_redis_drop(r);
            return SQ_ERR_TRANSIENT;
        }
        if (got) {
            sq_ttl_memo_commit(r->ttl_memo, &r->ttl_notes, SIZE_MAX);
            return SQ_OK;
        }
    }
    sq_ttl_notes_drop(&r->ttl_notes, SIZE_MAX); /* the turn step's: it wrote nothing */
    for (size_t i = 0; i < n; i++) {
        if (sq_redis_send_step(r, &steps[i], i, NULL, 0, err) != 0) {
            sq_redis_drop(r);
            return SQ_ERR_TRANSIENT;
        }
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int got = sq_redis_read_step(r, &steps[i], err);
        if (got < 0) {
            sq_redis_drop(r);
            return SQ_ERR_TRANSIENT;
        }
        if (!got)
            failed = 1;
    }
    /* steps that found duplicates wrote nothing: again without them */
    for (size_t i = 0; i < n && !failed; i++) {
        for (int t = 0; steps[i].result == 2; t++) {
            if (t == SQ_STEP_RETRIES) {
                sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis step on %s: duplicates keep appearing",
                           steps[i].offset_key);
                failed = 1;
                break;
            }
            if (sq_redis_send_step(r, &steps[i], i, steps[i].dups, steps[i].ndups, err) != 0) {
                sq_redis_drop(r);
                return SQ_ERR_TRANSIENT;
            }
            int got = sq_redis_read_step(r, &steps[i], err);
            if (got < 0) {
                sq_redis_drop(r);
                return SQ_ERR_TRANSIENT;
            }
            if (!got) {
                failed = 1;
                break;
            }
        }
    }
    if (failed) {
        for (size_t i = 0; i < n; i++) {
            free(steps[i].dups);
            steps[i].dups = NULL;
            steps[i].ndups = 0;
        }
        sq_redis_drop(r);
        return SQ_ERR_TRANSIENT;
    }
    /* the TTLs a step refreshed count once it applied */
    for (size_t i = 0; i < n; i++) {
        if (steps[i].result == 1)
            sq_ttl_memo_commit(r->ttl_memo, &r->ttl_notes, i);
        else
            sq_ttl_notes_drop(&r->ttl_notes, i);
    }
    return SQ_OK;
}

static int sq_redis_read_fields_now(struct sq_redis *r, struct sq_store_reads *reads,
                                    struct sq_err *err);

/* A due read (processors/store.h): the index's entries in the range,
 * each with its timer hash's value, as flat (member, due, value) triples. */
static const char sq_due_lua[] =
    "local z = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])\n"
    "if #z == 0 then return z end\n"
    "local ids = {}\n"
    "for i = 1, #z, 2 do ids[#ids + 1] = z[i] end\n"
    "local v = redis.call('HMGET', KEYS[2], unpack(ids))\n"
    "local out = {}\n"
    "for i = 1, #ids do out[3 * i - 2] = ids[i]; out[3 * i - 1] = z[2 * i]; out[3 * i] = v[i] end\n"
    "return out\n";

/* A due read's value from its reply: [[member, due, value or null], …];
 * NULL when the range is empty. */
static char *sq_redis_due_json_dup(const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return NULL;
    json_t *a = json_array();
    for (size_t k = 0; k + 2 < rep->elements; k += 3) {
        const redisReply *m = rep->element[k], *sc = rep->element[k + 1], *v = rep->element[k + 2];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING)
            continue;
        json_array_append_new(a, json_pack("[s%, I, o]", m->str, (size_t)m->len,
                                           (json_int_t)strtod(sc->str, NULL),
                                           v->type == REDIS_REPLY_STRING
                                               ? json_stringn(v->str, v->len) : json_null()));
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

int sq_redis_read_fields(struct sq_redis *r, struct sq_store_reads *reads, struct sq_err *err)
{
    sq_reads_begin();
    int rc = sq_redis_read_fields_now(r, reads, err);
    sq_reads_end();
    return rc;
}

static int sq_redis_read_fields_now(struct sq_redis *r, struct sq_store_reads *reads,
                                    struct sq_err *err)
{
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    /* consecutive field reads of one key go as one HMGET, member reads as
     * one SMISMEMBER */
    size_t ncmd = 0;
    size_t *span = sq_xmalloc((reads->n ? reads->n : 1) * sizeof *span); /* reads per command */
    const char *argv[66];
    for (size_t i = 0; i < reads->n; ncmd++) {
        const struct sq_store_read *rd = &reads->v[i];
        if (rd->due) {
            char from[32], lim[32], off[32], cnt[32];
            if (rd->from_ms == INT64_MIN)
                snprintf(from, sizeof from, "-inf");
            else
                snprintf(from, sizeof from, "%lld", (long long)rd->from_ms);
            if (rd->limit_ms == INT64_MAX)
                snprintf(lim, sizeof lim, "+inf");
            else
                snprintf(lim, sizeof lim, "(%lld", (long long)rd->limit_ms);
            snprintf(off, sizeof off, "%zu", rd->offset);
            snprintf(cnt, sizeof cnt, "%zu", rd->count);
            const char *a[] = {"EVAL", sq_due_lua, "2", rd->key, rd->field, from, lim, off, cnt};
            redisAppendCommandArgv(r->c, 9, a, NULL);
            span[ncmd] = 1;
            i++;
            continue;
        }
        if (!rd->field) {
            argv[0] = "HGETALL";
            argv[1] = rd->key;
            redisAppendCommandArgv(r->c, 2, argv, NULL);
            span[ncmd] = 1;
            i++;
            continue;
        }
        size_t n = 0;
        argv[0] = rd->member ? "SMISMEMBER" : "HMGET";
        argv[1] = rd->key;
        while (i + n < reads->n && n < 64 && reads->v[i + n].field && !reads->v[i + n].due &&
               reads->v[i + n].member == rd->member && strcmp(reads->v[i + n].key, rd->key) == 0) {
            argv[2 + n] = reads->v[i + n].field;
            n++;
        }
        redisAppendCommandArgv(r->c, (int)(2 + n), argv, NULL);
        span[ncmd] = n;
        i += n;
    }
    for (size_t i = 0, c = 0; c < ncmd; c++) {
        redisReply *rep = sq_redis_next_reply(r, "read", err);
        if (!rep) {
            sq_redis_drop(r);
            free(span);
            return SQ_ERR_TRANSIENT;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis read: %s", rep->str);
        } else if (reads->v[i].due) {
            free(reads->v[i].value);
            reads->v[i].value = sq_redis_due_json_dup(rep);
        } else if (!reads->v[i].field) {
            /* HGETALL: a JSON object, fields sorted as the in-process store does */
            free(reads->v[i].value);
            reads->v[i].value = NULL;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
                json_t *o = json_object();
                for (size_t k = 0; k + 1 < rep->elements; k += 2)
                    json_object_set_new(o, rep->element[k]->str,
                                        json_stringn(rep->element[k + 1]->str,
                                                     rep->element[k + 1]->len));
                reads->v[i].value = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
                json_decref(o);
            }
        } else {
            /* HMGET or SMISMEMBER: one element per field or member, in order */
            for (size_t k = 0; k < span[c]; k++) {
                const redisReply *e = rep->type == REDIS_REPLY_ARRAY && k < rep->elements
                                          ? rep->element[k] : NULL;
                free(reads->v[i + k].value);
                if (reads->v[i + k].member)
                    reads->v[i + k].value = e && e->type == REDIS_REPLY_INTEGER && e->integer == 1
                                                ? sq_xstrdup("1") : NULL;
                else
                    reads->v[i + k].value = e && e->type == REDIS_REPLY_STRING
                                                ? sq_xstrndup(e->str, e->len) : NULL;
            }
        }
        i += span[c];
        freeReplyObject(rep);
    }
    free(span);
    return rc;
}

const char *sq_redis_prefix(const struct sq_redis *r)
{
    return r->prefix;
}

void sq_redis_strs_fini(struct sq_redis_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->len);
    s->v = NULL;
    s->len = NULL;
    s->n = 0;
}

/* One reply element as an owned string (NULL for nil), its length in *len. */
static char *sq_redis_elem_dup(const redisReply *e, size_t *len)
{
    *len = 0;
    if (e->type == REDIS_REPLY_INTEGER) {
        char *v = sq_xasprintf("%lld", (long long)e->integer);
        *len = strlen(v);
        return v;
    }
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS)
        return NULL;
    char *v = sq_xmalloc(e->len + 1);
    memcpy(v, e->str, e->len);
    v[e->len] = '\0';
    *len = e->len;
    return v;
}

/* Appends a reply to *out: an array's elements, or the reply itself. */
static void sq_redis_strs_put(struct sq_redis_strs *out, const redisReply *rep)
{
    bool many = rep->type == REDIS_REPLY_ARRAY;
    size_t k = many ? rep->elements : 1;
    out->v = sq_xrealloc(out->v, (out->n + k + 1) * sizeof *out->v);
    out->len = sq_xrealloc(out->len, (out->n + k + 1) * sizeof *out->len);
    for (size_t i = 0; i < k; i++, out->n++)
        out->v[out->n] = sq_redis_elem_dup(many ? rep->element[i] : rep, &out->len[out->n]);
}

int sq_redis_exec(struct sq_redis *r, size_t ncmd, const struct sq_redis_cmd *cmds,
                  struct sq_redis_strs *out, struct sq_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    redisAppendCommandArgv(r->c, 1, multi, NULL);
    for (size_t c = 0; c < ncmd; c++)
        redisAppendCommandArgv(r->c, (int)cmds[c].argc, cmds[c].argv, NULL);
    redisAppendCommandArgv(r->c, 1, exec, NULL);
    /* MULTI's +OK and a +QUEUED a command, then EXEC's array of replies */
    redisReply *rep = NULL;
    for (size_t k = 0; k < ncmd + 2; k++) {
        if (!(rep = sq_redis_next_reply(r, NULL, err))) {
            sq_redis_drop(r);
            return SQ_ERR_TRANSIENT;
        }
        if (rep->type == REDIS_REPLY_ERROR && rc == SQ_OK)
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis transaction: %s", rep->str);
        if (k < ncmd + 1)
            freeReplyObject(rep);
    }
    if (rc == SQ_OK && (rep->type != REDIS_REPLY_ARRAY || rep->elements != ncmd))
        rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis transaction: unexpected reply");
    for (size_t c = 0; rc == SQ_OK && c < ncmd; c++)
        if (rep->element[c]->type == REDIS_REPLY_ERROR)
            rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis transaction: %s",
                            rep->element[c]->str);
    for (size_t c = 0; rc == SQ_OK && c < ncmd; c++)
        sq_redis_strs_put(out, rep->element[c]);
    freeReplyObject(rep);
    return rc;
}

int sq_redis_eval(struct sq_redis *r, const char *script, size_t nkeys, const char *const *keys,
                  size_t nargs, const char *const *args, struct sq_redis_strs *out,
                  struct sq_err *err)
{
    return sq_redis_evalv(r, script, nkeys, keys, nargs, args, NULL, out, err);
}

/* Starts an EVAL of script with its keys in r->cmd (sq_cmd_begin); the
 * arguments follow. */
static void sq_cmd_eval_begin(struct sq_redis *r, const char *script, size_t nkeys,
                              const char *const *keys)
{
    sq_cmd_begin(r);
    sq_cmd_arg(r, "EVAL", 4);
    sq_cmd_arg_str(r, script);
    sq_cmd_arg_i64(r, (int64_t)nkeys);
    for (size_t i = 0; i < nkeys; i++)
        sq_cmd_arg_str(r, keys[i]);
}

/* Sends the EVAL built in r->cmd and reads its reply into *out. */
static int sq_redis_eval_send(struct sq_redis *r, struct sq_redis_strs *out, struct sq_err *err)
{
    int rc = SQ_OK;
    redisReply *rep = NULL;
    if (sq_cmd_send(r, err) != 0 || !(rep = sq_redis_next_reply(r, NULL, err))) {
        sq_redis_drop(r);
        return SQ_ERR_TRANSIENT;
    }
    if (rep->type == REDIS_REPLY_ERROR)
        rc = sq_err_set(err, SQ_ERR_TRANSIENT, "", "redis script: %s", rep->str);
    else
        sq_redis_strs_put(out, rep);
    freeReplyObject(rep);
    return rc;
}

/* sq_sums_emit_range's callback for sq_redis_eval_with: ctx is the connection. */
static void sq_cmd_emit(void *ctx, const char *v, size_t len, bool transient)
{
    (void)transient; /* copied into the command at once */
    sq_cmd_arg(ctx, v, len);
}

/* EVAL script with its keys, args (arglens NULL: strlen of each) and then
 * the bare ops of sums [from, to) when sums is not NULL. */
static int sq_redis_eval_with(struct sq_redis *r, const char *script, size_t nkeys,
                              const char *const *keys, size_t nargs, const char *const *args,
                              const size_t *arglens, struct sq_sums *sums, size_t from,
                              size_t to, struct sq_redis_strs *out, struct sq_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = sq_redis_ensure(r, err);
    if (rc != SQ_OK)
        return rc;
    /* in RESP straight into the connection's buffer (sq_cmd_begin): a
     * fold's sums are megabytes, which hiredis' formatter would copy twice */
    sq_cmd_eval_begin(r, script, nkeys, keys);
    for (size_t i = 0; i < nargs; i++)
        sq_cmd_arg(r, args[i], arglens ? arglens[i] : strlen(args[i]));
    if (sums)
        sq_sums_emit_range(sums, false, from, to, sq_cmd_emit, r);
    return sq_redis_eval_send(r, out, err);
}

int sq_redis_evalv(struct sq_redis *r, const char *script, size_t nkeys, const char *const *keys,
                   size_t nargs, const char *const *args, const size_t *arglens,
                   struct sq_redis_strs *out, struct sq_err *err)
{
    return sq_redis_eval_with(r, script, nkeys, keys, nargs, args, arglens, NULL, 0, 0, out, err);
}

int sq_redis_eval_sums(struct sq_redis *r, const char *script, size_t nkeys,
                       const char *const *keys, size_t nargs, const char *const *args,
                       struct sq_sums *sums, size_t from, size_t to, struct sq_redis_strs *out,
                       struct sq_err *err)
{
    return sq_redis_eval_with(r, script, nkeys, keys, nargs, args, NULL, sums, from, to, out,
                              err);
}
