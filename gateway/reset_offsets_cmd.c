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

/* Deletes every {base}N hash (N a partition number) with its place in the
 * watermark's zsets; returns key, offset, key, offset, ... */
static const char sq_reset_offsets_lua[] =
    "local out, cur = {}, '0'\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 1000)\n"
    "  cur = r[1]\n"
    "  for _, k in ipairs(r[2]) do\n"
    "    if string.sub(k, 1, #ARGV[2]) == ARGV[2] and string.match(string.sub(k, #ARGV[2] + 1), '^%d+$') then\n"
    "      out[#out + 1] = k\n"
    "      out[#out + 1] = redis.call('HGET', k, 'offset') or ''\n"
    "      redis.call('DEL', k)\n"
    "      redis.call('ZREM', KEYS[1], k)\n"
    "      redis.call('ZREM', KEYS[2], k)\n"
    "    end\n"
    "  end\n"
    "until cur == '0'\n"
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
    const char *args[] = {pattern, key0};
    struct sq_redis_strs out = {0};
    int rc = sq_redis_eval(r, sq_reset_offsets_lua, 2, keys, 2, args, &out, &err);
    code = 0;
    if (rc != SQ_OK) {
        fprintf(stderr, "sqgate reset-offsets: %s\n", err.msg);
        code = 2;
    } else {
        for (size_t i = 0; i + 1 < out.n; i += 2)
            printf("%s: applied offset %s deleted\n", out.v[i], out.v[i + 1] ? out.v[i + 1] : "");
        printf("reset-offsets: %zu partition%s of %s cleared for group %s%s\n", out.n / 2,
               out.n / 2 == 1 ? "" : "s", topic, st.group_id,
               out.n ? "; restart the group's instances" : " (none stored)");
    }
    sq_redis_strs_fini(&out);
    free(parts);
    free(idle);
    free(pattern);
    free(key0);
    sq_redis_free(r);
    sq_settings_free(&st);
    return code;
}
