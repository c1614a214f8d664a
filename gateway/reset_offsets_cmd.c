/* reset_offsets_cmd.c: `sqgate reset-offsets --group G --topic T`, the way
 * out when a topic was recreated (SPEC 10): the applied offsets of that
 * group's partitions of T are deleted from Redis (and taken out of the
 * watermark's zsets), so the group's instances, once restarted, read the
 * new topic from its start instead of skipping it as already done. */
#include "reset_offsets_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_settings.h"
#include "config.h"
#include "redis_link.h"

/* One page of SCAN from cursor ARGV[3]: deletes each {base}N hash (N a
 * partition number) with its place in the watermark's zsets; returns the
 * next cursor, then key, offset, key, offset, ... A page a script, so
 * Redis, which may serve other clients, is never held for a walk of its
 * whole key space. */
static const char sq_reset_offsets_lua[] =
    "local r = redis.call('SCAN', ARGV[3], 'MATCH', ARGV[1], 'COUNT', 1000)\n"
    "local out = {r[1]}\n"
    "for _, k in ipairs(r[2]) do\n"
    "  if string.sub(k, 1, #ARGV[2]) == ARGV[2] and string.match(string.sub(k, #ARGV[2] + 1), '^%d+$') then\n"
    "    out[#out + 1] = k\n"
    "    out[#out + 1] = redis.call('HGET', k, 'offset') or ''\n"
    "    redis.call('DEL', k)\n"
    "    redis.call('ZREM', KEYS[1], k)\n"
    "    redis.call('ZREM', KEYS[2], k)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* s with the glob characters of SCAN's MATCH escaped, then "*"; malloc'd. */
static char *sq_glob_prefix_dup(const char *s)
{
    size_t n = strlen(s);
    char *out = sq_xmalloc(2 * n + 2);
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\^-", s[i]))
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '*';
    *p = '\0';
    return out;
}

static void sq_reset_offsets_usage(FILE *out)
{
    fprintf(out,
            "usage: sqgate reset-offsets --topic T [--group ID] [-c FILE] [--redis URL]\n"
            "                            [--set PATH=VALUE]...\n"
            "Deletes the applied offsets the group keeps in Redis for the partitions of T\n"
            "(after T was recreated), then restart the group's instances: they read T\n"
            "from the group's committed offsets, or from its start when those are past\n"
            "its end. Stop or restart every instance of the group after it.\n");
}

int sq_reset_offsets_main(int argc, char **argv)
{
    const char *topic = NULL;
    const struct sq_cli_flag flags[] = {
        {"--redis", "redis.url", NULL},
        {"--group", "group", NULL},
        {"--topic", NULL, &topic},
    };
    struct sq_settings st;
    int code;
    if (!sq_cli_settings("reset-offsets", argc, argv, flags, sizeof flags / sizeof flags[0],
                         sq_reset_offsets_usage, &st, &code))
        return code;
    if (!topic || !*topic) {
        fprintf(stderr, "sqgate reset-offsets: --topic T is required\n");
        sq_reset_offsets_usage(stderr);
        sq_settings_free(&st);
        return 2;
    }
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *r = sq_redis_new(st.redis_url, st.redis_prefix, st.redis_timeout_ms, &err);
    if (!r || sq_redis_ensure(r, &err) != SQ_OK) {
        fprintf(stderr, "sqgate reset-offsets: %s\n", err.msg);
        sq_redis_free(r);
        sq_settings_free(&st);
        return 2;
    }
    /* the key of partition 0 without its number: the keys' common base */
    char *key0 = sq_redis_offset_key_dup(r, st.group_id, topic, 0);
    key0[strlen(key0) - 1] = '\0';
    char *pattern = sq_glob_prefix_dup(key0);
    char *parts = sq_xasprintf("%swm:parts", sq_redis_prefix(r));
    char *idle = sq_xasprintf("%swm:idle", sq_redis_prefix(r));
    const char *keys[] = {parts, idle};
    char cursor[32] = "0";
    size_t cleared = 0;
    code = 0;
    do {
        const char *args[] = {pattern, key0, cursor};
        struct sq_redis_strs out = {0};
        if (sq_redis_eval(r, sq_reset_offsets_lua, 2, keys, 3, args, &out, &err) != SQ_OK ||
            out.n < 1 || !out.v[0]) {
            fprintf(stderr, "sqgate reset-offsets: %s\n", err.msg[0] ? err.msg : "no cursor");
            sq_redis_strs_fini(&out);
            code = 2;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", out.v[0]);
        for (size_t i = 1; i + 1 < out.n; i += 2)
            printf("%s: applied offset %s deleted\n", out.v[i], out.v[i + 1] ? out.v[i + 1] : "");
        cleared += (out.n - 1) / 2;
        sq_redis_strs_fini(&out);
    } while (strcmp(cursor, "0") != 0);
    if (code == 0)
        printf("reset-offsets: %zu partition%s of %s cleared for group %s%s\n", cleared,
               cleared == 1 ? "" : "s", topic, st.group_id,
               cleared ? "; restart the group's instances" : " (none stored)");
    free(parts);
    free(idle);
    free(pattern);
    free(key0);
    sq_redis_free(r);
    sq_settings_free(&st);
    return code;
}
