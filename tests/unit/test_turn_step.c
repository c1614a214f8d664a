/* test_turn_step.c: a turn's partition steps sent as one script (their KPI
 * sums added up across partitions) leave the same Redis state as the same
 * steps one by one, with fewer HINCRBY calls; when a step would not apply
 * in full (already applied, fenced, an event marked already) the script
 * writes nothing and each step goes on its own. With the KPI journal
 * (gateway/kpi_journal.h) the steps write their KPI sums as entries, and a
 * fold leaves the state the steps leave without it, once, however many
 * folders. The link refuses a Redis older than 6.2. Against a real
 * redis-server. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"
#include "kpi_journal.h"
#include "redis_link.h"
#include "sq_common.h"
#include "sq_redis_link.h"
#include "store.h"

#define NPART 3
#define NMSG 4

/* One message's ops: its dedupe mark, a customer field, and deferred KPI
 * increments and window touches of a cell of its customer's and of one
 * that every message shares. */
static void msg_ops(struct sq_state_ops *m, const char *px, int part, int msg)
{
    char k[96], f[96], eid[32], cust[32], own[96], shared[96];
    snprintf(eid, sizeof eid, "e%d-%d", part, msg);
    snprintf(cust, sizeof cust, "c%d", (part * 7 + msg) % 5); /* shared across partitions */
    snprintf(k, sizeof k, "%sdm:1:1", px);
    snprintf(f, sizeof f, "contact.v1|%s", eid);
    sq_op_dedupe(m, k, f, 100);
    snprintf(k, sizeof k, "%scust:%s", px, cust);
    const char *fv[] = {"last_event_id", eid, NULL};
    sq_op_hset(m, k, 1000, fv);
    const char *kf[] = {"offered", "answered"};
    const int64_t kb[] = {1 + msg, msg % 2};
    snprintf(own, sizeof own, "%skpi:agent|%s|15m|1795600800", px, cust);
    snprintf(shared, sizeof shared, "%skpi:all|*|15m|1795600800", px);
    sq_state_ops_push(m, "Y", 1);
    sq_op_hincr_each(m, own, 500, 2, kf, kb);
    /* the shared cell as the aggregate processor writes it: a counter
     * vector, which a step sent on its own expands to HINCRBYs */
    struct sq_kpi_counters kc = {{0}};
    kc.v[SQ_KC_OFFERED] = kb[0];
    kc.v[SQ_KC_ANSWERED] = kb[1];
    sq_state_ops_push(m, "Y", 1);
    sq_op_kpi_add(m, shared, 500, &kc);
    char cell[64];
    snprintf(cell, sizeof cell, "agent|%s|15m|1795600800", cust);
    sq_state_ops_push(m, "Y", 1);
    sq_op_window_touch(m, px, cell, 1795601700000LL);
    sq_state_ops_push(m, "Y", 1);
    sq_op_window_touch(m, px, "all|*|15m|1795600800", 1795601700000LL);
}

struct turn {
    struct sq_state_ops msgs[NPART][NMSG];
    struct sq_state_ops ops[NPART]; /* as the chain assembles them */
    struct sq_state_ops sums;       /* over every partition's messages */
    char offset_key[NPART][64];
    struct sq_redis_step steps[NPART];
};

/* part_sums: each partition's ops end with its batch's sums, as
 * sq_batch_assemble_ops builds them (replay), or not, as
 * sq_batch_assemble_message_ops builds them (`run`). */
static void turn_build(struct turn *t, const char *px, bool part_sums)
{
    memset(t, 0, sizeof *t);
    const struct sq_state_ops *all[NPART * NMSG];
    for (int p = 0; p < NPART; p++) {
        const struct sq_state_ops *lists[NMSG];
        for (int j = 0; j < NMSG; j++) {
            msg_ops(&t->msgs[p][j], px, p, j);
            sq_op_message(&t->ops[p], (size_t)j);
            sq_state_ops_append_borrowed(&t->ops[p], &t->msgs[p][j]);
            lists[j] = all[p * NMSG + j] = &t->msgs[p][j];
        }
        if (part_sums)
            sq_state_ops_append_sums(&t->ops[p], lists, NMSG);
        snprintf(t->offset_key[p], sizeof t->offset_key[p], "%soff:g:t:%d", px, p);
        t->steps[p] = (struct sq_redis_step){.offset_key = t->offset_key[p], .expected = -1,
                                             .last = 10 + p, .max_event_ms = 1795601000000LL + p,
                                             .ops = &t->ops[p]};
    }
    sq_state_ops_append_sums(&t->sums, all, NPART * NMSG);
}

static void turn_fini(struct turn *t)
{
    for (int p = 0; p < NPART; p++) {
        for (int j = 0; j < NMSG; j++)
            sq_state_ops_fini(&t->msgs[p][j]);
        sq_state_ops_fini(&t->ops[p]);
        free(t->steps[p].dups);
    }
    sq_state_ops_fini(&t->sums);
}

/* How many times Redis ran the command name (lower case) so far. */
static long long command_calls(redisContext *c, const char *name)
{
    redisReply *rep = redisCommand(c, "INFO commandstats");
    char field[64];
    snprintf(field, sizeof field, "cmdstat_%s:calls=", name);
    const char *at = strstr(rep->str, field);
    long long n = at ? atoll(at + strlen(field)) : 0;
    freeReplyObject(rep);
    return n;
}

static long long hincrby_calls(redisContext *c)
{
    return command_calls(c, "hincrby");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The key's content as text, the prefix px taken out of members and
 * fields; a window's touch count (win:gen) only as present, since one
 * script touches a cell once where one script per partition touches it
 * once each. */
static char *key_text(redisContext *c, const char *key, const char *px)
{
    redisReply *type = redisCommand(c, "TYPE %s", key);
    const char *ty = type->str;
    redisReply *rep = NULL;
    bool pairs = false;
    if (strcmp(ty, "hash") == 0) {
        rep = redisCommand(c, "HGETALL %s", key);
        pairs = true;
    } else if (strcmp(ty, "zset") == 0) {
        rep = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", key);
        pairs = true;
    } else if (strcmp(ty, "set") == 0) {
        rep = redisCommand(c, "SMEMBERS %s", key);
    } else {
        rep = redisCommand(c, "GET %s", key);
    }
    bool gen = strstr(key, "win:gen") != NULL;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 1;
    size_t step = pairs ? 2 : 1;
    char **items = calloc(n, sizeof *items);
    size_t ni = 0, plen = strlen(px);
    for (size_t i = 0; i < n; i += step) {
        const redisReply *e = rep->type == REDIS_REPLY_ARRAY ? rep->element[i] : rep;
        const char *name = e->str ? e->str : "(nil)";
        if (strncmp(name, px, plen) == 0)
            name += plen;
        const char *val = pairs ? rep->element[i + 1]->str : "";
        items[ni++] = sq_xasprintf("%s=%s", name, gen ? "touched" : val);
    }
    qsort(items, ni, sizeof *items, cmp_str);
    redisReply *ttl = redisCommand(c, "TTL %s", key);
    char *out = sq_xasprintf("%s ttl%s:", ty, ttl->integer > 0 ? ">0" : "none");
    for (size_t i = 0; i < ni; i++) {
        char *more = sq_xasprintf("%s %s", out, items[i]);
        free(out);
        free(items[i]);
        out = more;
    }
    free(items);
    freeReplyObject(ttl);
    freeReplyObject(rep);
    freeReplyObject(type);
    return out;
}

Test(turn_step, one_script_leaves_the_state_of_the_steps_one_by_one, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "a:");
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *ra = l.r, *rb = sq_redis_new(l.url, "b:", 2000, &err);
    cr_assert_not_null(rb);
    redisContext *c = l.c;

    struct turn ta, tb;
    turn_build(&ta, "a:", true);
    turn_build(&tb, "b:", false);
    long long h0 = hincrby_calls(c);
    cr_assert_eq(sq_redis_run_steps(ra, ta.steps, NPART, NULL, &err), SQ_OK, "%s", err.msg);
    long long h1 = hincrby_calls(c);
    cr_assert_eq(sq_redis_run_steps(rb, tb.steps, NPART, &tb.sums, &err), SQ_OK, "%s", err.msg);
    long long h2 = hincrby_calls(c);
    for (int p = 0; p < NPART; p++) {
        cr_assert_eq(ta.steps[p].result, 1);
        cr_assert_eq(tb.steps[p].result, 1);
        cr_assert_eq(tb.steps[p].stored, 10 + p);
        cr_assert_eq(tb.steps[p].ndups, 0);
    }
    /* 5 customers' cells and the shared one, 2 counters and a touch
     * (win:gen) each: one script sends each once; one per partition sends
     * the shared one 3 times and a customer's once per partition it
     * appears in */
    cr_assert_eq(h2 - h1, 3 * (5 + 1), "HINCRBY calls of the one script: %lld", h2 - h1);
    cr_assert_gt(h1 - h0, h2 - h1, "one by one: %lld", h1 - h0);

    redisReply *keys = redisCommand(c, "KEYS a:*");
    cr_assert_gt(keys->elements, 10);
    redisReply *bkeys = redisCommand(c, "KEYS b:*");
    cr_assert_eq(bkeys->elements, keys->elements);
    freeReplyObject(bkeys);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *ka = keys->element[i]->str;
        if (strcmp(ka, "a:epoch") == 0)
            continue; /* each link's first connect time */
        char kb[256];
        snprintf(kb, sizeof kb, "b:%s", ka + 2);
        char *xa = key_text(c, ka, "a:"), *xb = key_text(c, kb, "b:");
        cr_assert_str_eq(xb, xa, "%s differs", ka + 2);
        free(xa);
        free(xb);
    }
    freeReplyObject(keys);
    redisReply *rep = redisCommand(c, "HGET b:kpi:all|*|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, "30", "3 partitions x (1+2+3+4)");
    freeReplyObject(rep);

    turn_fini(&ta);
    turn_fini(&tb);
    sq_redis_free(rb);
    sq_h_link_stop(&l);
}

/* Each case leaves one step that would not apply in full: the script
 * writes nothing and the steps one by one give each its own result, with
 * their batch's sums or, when they have none, their messages' increments. */
Test(turn_step, a_step_that_would_not_apply_in_full_sends_them_one_by_one, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *r = l.r;
    redisContext *c = l.c;

    for (int with_sums = 0; with_sums < 2; with_sums++) {
        /* partition 1 applied already, partition 2 moved by another instance */
        struct turn t;
        freeReplyObject(redisCommand(c, "FLUSHALL"));
        turn_build(&t, "sq:", with_sums);
        freeReplyObject(redisCommand(c, "HSET sq:off:g:t:1 offset 11"));
        freeReplyObject(redisCommand(c, "HSET sq:off:g:t:2 offset 5"));
        cr_assert_eq(sq_redis_run_steps(r, t.steps, NPART, &t.sums, &err), SQ_OK, "%s", err.msg);
        cr_assert_eq(t.steps[0].result, 1);
        cr_assert_eq(t.steps[1].result, 0);
        cr_assert_eq(t.steps[1].stored, 11);
        cr_assert_eq(t.steps[2].result, -1);
        cr_assert_eq(t.steps[2].stored, 5);
        redisReply *rep = redisCommand(c, "HGET sq:kpi:all|*|15m|1795600800 offered");
        cr_assert_str_eq(rep->str, "10", "partition 0's own increments only (sums %d)", with_sums);
        freeReplyObject(rep);
        turn_fini(&t);

        /* an event of partition 1 marked already (by another partition's step) */
        freeReplyObject(redisCommand(c, "FLUSHALL"));
        turn_build(&t, "sq:", with_sums);
        freeReplyObject(redisCommand(c, "SADD sq:dm:1:1 contact.v1|e1-2"));
        cr_assert_eq(sq_redis_run_steps(r, t.steps, NPART, &t.sums, &err), SQ_OK, "%s", err.msg);
        for (int p = 0; p < NPART; p++)
            cr_assert_eq(t.steps[p].result, 1, "partition %d", p);
        cr_assert_eq(t.steps[1].ndups, 1);
        cr_assert_eq(t.steps[1].dups[0], 2);
        cr_assert_eq(t.steps[0].ndups + t.steps[2].ndups, 0);
        rep = redisCommand(c, "HGET sq:kpi:all|*|15m|1795600800 offered");
        cr_assert_str_eq(rep->str, "27", "all but the duplicate's 3 (sums %d)", with_sums);
        freeReplyObject(rep);
        rep = redisCommand(c, "HGET sq:win:gen all|*|15m|1795600800");
        cr_assert_not_null(rep->str, "the shared cell touched (sums %d)", with_sums);
        freeReplyObject(rep);
        turn_fini(&t);
    }

    sq_h_link_stop(&l);
}

Test(turn_step, journal_entries_read_back_and_foreign_bytes_are_refused)
{
    char key[] = "sq:kpi:agent:a\0b:15m:1";
    /* two KPI counters (two bytes each in the entry), a field of another
     * name and one that starts with the counters' marker byte */
    char odd[] = "\x01odd";
    char *k_op[] = {"K", key, "500", "4", "offered", "12", "answered", "-3", "other", "5",
                    odd, "7"};
    size_t k_len[] = {1, sizeof key - 1, 3, 1, 7, 2, 8, 2, 5, 1, 4, 1};
    const size_t kn = sizeof k_len / sizeof *k_len;
    char *w_op[] = {"W", "sq:", "all|*|15m|1", "1795601700000"};
    size_t w_len[] = {1, 3, 11, 13};
    struct sq_buf e;
    sq_buf_init(&e);
    sq_kpi_journal_put_op(&e, k_op, k_len, 0, kn);
    cr_assert_null(memmem(e.data, e.len, "offered", 7), "counter names go as their index");
    cr_assert_not_null(memmem(e.data, e.len, "other", 5));
    sq_kpi_journal_put_op(&e, w_op, w_len, 0, 4);
    struct sq_state_ops got;
    memset(&got, 0, sizeof got);
    sq_state_ops_push(&got, "before", 6);
    cr_assert_eq(sq_kpi_journal_parse(e.data, e.len, &got), 0);
    cr_assert_eq(got.argc, 1 + (1 + kn) + 5);
    cr_assert_str_eq(got.argv[1], "Y");
    for (size_t i = 0; i < kn; i++) {
        cr_assert_eq(got.argvlen[2 + i], k_len[i], "K argument %zu", i);
        cr_assert(memcmp(got.argv[2 + i], k_op[i], k_len[i]) == 0, "K argument %zu", i);
    }
    cr_assert_str_eq(got.argv[2 + kn], "Y");
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(got.argv[3 + kn + i], w_op[i]);
    cr_assert_eq(sq_kpi_journal_parse("", 0, &got), 0, "an empty entry holds no ops");
    const char *const bad[] = {
        "3:ab",                       /* cut short */
        "x:Y",                        /* no length */
        "1:Y1:X2:ab",                 /* not a K or W op */
        "1:K3:key1:01:0",             /* not deferred */
        "1:Y1:K3:key1:01:2",          /* a K op missing its fields */
        "1:Y1:W3:sq:",                /* a W op cut short */
        "99999999999999:Y",           /* a length beyond the entry */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t before = got.argc;
        cr_assert_eq(sq_kpi_journal_parse(bad[i], strlen(bad[i]), &got), -1, "%s", bad[i]);
        cr_assert_eq(got.argc, before, "%s: nothing appended", bad[i]);
    }
    sq_state_ops_fini(&got);
    sq_buf_fini(&e);
}

/* Counts the keys matching pattern. */
static size_t count_keys(redisContext *c, const char *pattern)
{
    redisReply *rep = redisCommand(c, "KEYS %s", pattern);
    size_t n = rep->elements;
    freeReplyObject(rep);
    return n;
}

/* Every key under a: has the content of its twin under b:, apart from
 * b:'s fold count. */
static void expect_same_keys(redisContext *c, const char *what)
{
    redisReply *keys = redisCommand(c, "KEYS a:*");
    cr_assert_gt(keys->elements, 10);
    size_t nb = count_keys(c, "b:*") - count_keys(c, "b:kpi_journal:folds");
    cr_assert_eq(nb, keys->elements, "%s: %zu keys under b:, %zu under a:", what, nb,
                 keys->elements);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *ka = keys->element[i]->str;
        if (strcmp(ka, "a:epoch") == 0)
            continue;
        char kb[256];
        snprintf(kb, sizeof kb, "b:%s", ka + 2);
        char *xa = key_text(c, ka, "a:"), *xb = key_text(c, kb, "b:");
        cr_assert_str_eq(xb, xa, "%s: %s differs", what, ka + 2);
        free(xa);
        free(xb);
    }
    freeReplyObject(keys);
}

/* One turn run straight under a: and with the journal under b:, with its
 * sums (one script) or its messages' own ops, optionally with an event
 * marked already (steps one by one, the deferred ops of the others). */
static void journal_case(struct sq_h_link *l, struct sq_redis *rb, bool part_sums, bool dup)
{
    redisContext *c = l->c;
    char what[64];
    snprintf(what, sizeof what, "part_sums %d, dup %d", part_sums, dup);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    struct sq_err err;
    sq_err_clear(&err);
    struct turn ta, tb;
    turn_build(&ta, "a:", part_sums);
    turn_build(&tb, "b:", part_sums);
    if (dup) {
        freeReplyObject(redisCommand(c, "SADD a:dm:1:1 contact.v1|e1-2"));
        freeReplyObject(redisCommand(c, "SADD b:dm:1:1 contact.v1|e1-2"));
    }
    cr_assert_eq(sq_redis_run_steps(l->r, ta.steps, NPART, &ta.sums, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(sq_redis_run_steps(rb, tb.steps, NPART, &tb.sums, &err), SQ_OK, "%s", err.msg);
    for (int p = 0; p < NPART; p++)
        cr_assert_eq(tb.steps[p].result, 1, "%s: partition %d", what, p);
    cr_assert_eq(tb.steps[1].ndups, dup ? 1 : 0, "%s", what);
    cr_assert_eq(count_keys(c, "b:kpi:*"), 0, "%s: no KPI hash before the fold", what);
    cr_assert_eq(count_keys(c, "b:win:gen"), 0, "%s: no touch before the fold", what);
    redisReply *rep = redisCommand(c, "LLEN b:kpi_journal");
    long long entries = rep->integer;
    freeReplyObject(rep);
    /* one script: one entry; one by one: one per partition */
    cr_assert_eq(entries, dup ? NPART : 1, "%s: %lld entries", what, entries);
    size_t folded, bad, left;
    bool more;
    cr_assert_eq(sq_kpi_journal_fold(rb, NULL, &folded, &bad, &left, &more, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, (size_t)entries, "%s", what);
    cr_assert_eq(bad, 0);
    cr_assert_eq(left, 0);
    expect_same_keys(c, what);
    rep = redisCommand(c, "HGET b:kpi:all|*|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, dup ? "27" : "30", "%s", what);
    freeReplyObject(rep);
    turn_fini(&ta);
    turn_fini(&tb);
}

Test(turn_step, journaled_steps_and_a_fold_leave_the_state_of_steps_without_it, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "a:");
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_redis *rb = sq_redis_new(l.url, "b:", 2000, &err);
    cr_assert_not_null(rb);
    sq_redis_set_kpi_journal(rb, true);
    for (int part_sums = 0; part_sums < 2; part_sums++)
        for (int dup = 0; dup < 2; dup++)
            journal_case(&l, rb, part_sums, dup);
    sq_redis_free(rb);
    sq_h_link_stop(&l);
}

Test(turn_step, two_folders_at_once_apply_the_journal_once, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    struct sq_err err;
    sq_err_clear(&err);
    sq_redis_set_kpi_journal(l.r, true);
    struct sq_redis *other = sq_redis_new(l.url, "sq:", 2000, &err);
    cr_assert_not_null(other);
    struct turn t;
    turn_build(&t, "sq:", false);
    cr_assert_eq(sq_redis_run_steps(l.r, t.steps, NPART, &t.sums, &err), SQ_OK, "%s", err.msg);
    struct sq_kpi_fold fa, fb;
    cr_assert_eq(sq_kpi_journal_read(l.r, NULL, &fa, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(sq_kpi_journal_read(other, NULL, &fb, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(fa.n, 1);
    cr_assert_eq(fb.n, 1);
    /* another turn's step between the reads and the folds (its own keys,
     * the same journal): its entry is the next fold's */
    struct turn t2;
    turn_build(&t2, "t:", false);
    cr_assert_eq(sq_redis_run_steps(l.r, t2.steps, NPART, &t2.sums, &err), SQ_OK, "%s", err.msg);
    size_t folded, left, bad;
    bool more;
    cr_assert_eq(sq_kpi_journal_apply(other, NULL, &fb, &folded, &left, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, 1);
    cr_assert_eq(left, 1);
    cr_assert_eq(sq_kpi_journal_apply(l.r, NULL, &fa, &folded, &left, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, 0, "the later fold of the same entries writes nothing");
    cr_assert_eq(left, 1);
    redisReply *rep = redisCommand(l.c, "HGET sq:kpi:all|*|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, "30", "applied once");
    freeReplyObject(rep);
    cr_assert_eq(count_keys(l.c, "t:kpi:*"), 0);
    sq_kpi_fold_fini(&fa);
    sq_kpi_fold_fini(&fb);
    cr_assert_eq(sq_kpi_journal_fold(other, NULL, &folded, &bad, &left, &more, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, 1);
    cr_assert_eq(left, 0);
    rep = redisCommand(l.c, "HGET t:kpi:all|*|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, "30", "the second turn's, folded once");
    freeReplyObject(rep);
    rep = redisCommand(l.c, "HGET sq:kpi:all|*|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, "30", "the first turn's unchanged");
    freeReplyObject(rep);
    turn_fini(&t);
    turn_fini(&t2);
    sq_redis_free(other);
    sq_h_link_stop(&l);
}

/* The journal entries of the chunked-fold tests: NCELL agent cells, each
 * entry adding to some of them and touching some of their windows, and
 * the sums they make (want, touched). */
#define NENTRY 40
#define NCELL 7
static const char *const chunk_counters[] = {"offered", "answered", "handle_ms_sum"};

static uint32_t chunk_rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* What the entries add up to: each cell's counters, and which cells an
 * entry wrote and touched. */
struct chunk_sums {
    long long want[NCELL][3];
    bool touched[NCELL], written[NCELL];
};

static void push_entries(redisContext *c, struct chunk_sums *cs)
{
    uint32_t seed = 12345;
    for (int e = 0; e < NENTRY; e++) {
        struct sq_buf b;
        sq_buf_init(&b);
        for (int k = 0; k < NCELL; k++) {
            if (chunk_rnd(&seed) % 3 == 0)
                continue;
            char key[64], by[3][24], cell[64];
            snprintf(key, sizeof key, "sq:kpi:agent|a%d|15m|1795600800", k);
            for (int j = 0; j < 3; j++) {
                long long v = (long long)(chunk_rnd(&seed) % 100) - 20;
                cs->want[k][j] += v;
                snprintf(by[j], sizeof by[j], "%lld", v);
            }
            char *a[] = {"K", key, "691200", "3", (char *)chunk_counters[0], by[0],
                         (char *)chunk_counters[1], by[1], (char *)chunk_counters[2], by[2]};
            size_t len[10];
            for (int j = 0; j < 10; j++)
                len[j] = strlen(a[j]);
            sq_kpi_journal_put_op(&b, a, len, 0, 10);
            cs->written[k] = true;
            if (chunk_rnd(&seed) % 2) {
                snprintf(cell, sizeof cell, "agent|a%d|15m|1795600800", k);
                char *w[] = {"W", "sq:", cell, "1795601700000"};
                size_t wl[] = {1, 3, strlen(cell), 13};
                sq_kpi_journal_put_op(&b, w, wl, 0, 4);
                cs->touched[k] = true;
            }
        }
        freeReplyObject(redisCommand(c, "RPUSH sq:kpi_journal %b", b.data, b.len));
        sq_buf_fini(&b);
        if (e == NENTRY / 2)
            freeReplyObject(redisCommand(c, "RPUSH sq:kpi_journal not-an-entry"));
    }
}

/* A link with the entries pushed to its journal. */
static void chunk_start(struct sq_h_link *l, struct chunk_sums *cs, struct sq_err *err)
{
    sq_h_link_start(l, "sq:");
    sq_err_clear(err);
    memset(cs, 0, sizeof *cs);
    push_entries(l->c, cs);
}

/* The chunked-fold entries' cells written and touched: the HINCRBYs a
 * fold that writes each sum once makes. */
static long long chunk_hincrbys(const struct chunk_sums *cs)
{
    long long n = 0;
    for (int k = 0; k < NCELL; k++)
        n += 3 * cs->written[k] + cs->touched[k];
    return n;
}

static void expect_sums(redisContext *c, const struct chunk_sums *cs)
{
    for (int k = 0; k < NCELL; k++) {
        for (int j = 0; j < 3; j++) {
            redisReply *rep = redisCommand(c, "HGET sq:kpi:agent|a%d|15m|1795600800 %s", k,
                                           chunk_counters[j]);
            if (!cs->written[k]) {
                cr_assert_eq(rep->type, REDIS_REPLY_NIL, "cell %d", k);
            } else {
                cr_assert_eq(rep->type, REDIS_REPLY_STRING, "cell %d %s", k, chunk_counters[j]);
                cr_assert_eq(atoll(rep->str), cs->want[k][j], "cell %d %s: %s, want %lld", k,
                             chunk_counters[j], rep->str, cs->want[k][j]);
            }
            freeReplyObject(rep);
        }
        redisReply *rep = redisCommand(c, "HEXISTS sq:win:gen agent|a%d|15m|1795600800", k);
        cr_assert_eq(rep->integer, cs->touched[k] ? 1 : 0, "cell %d touched", k);
        freeReplyObject(rep);
    }
}

Test(turn_step, a_fold_sums_its_chunks_and_writes_each_counter_once, .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    /* chunks of one entry each (a chunk's first entry goes whatever its size) */
    const struct sq_kpi_fold_limits lim = {.entries = 4096, .bytes = 16 << 20, .chunk_bytes = 64};
    long long calls = hincrby_calls(l.c);
    size_t folded, bad, left;
    bool more;
    cr_assert_eq(sq_kpi_journal_fold(l.r, &lim, &folded, &bad, &left, &more, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, NENTRY + 1);
    cr_assert_eq(bad, 1, "the foreign entry, in a later chunk");
    cr_assert_eq(left, 0);
    cr_assert_not(more);
    redisReply *rep = redisCommand(l.c, "GET sq:kpi_journal:folds");
    cr_assert_str_eq(rep->str, "1", "one fold, one script");
    freeReplyObject(rep);
    expect_sums(l.c, &cs);
    cr_assert_eq(hincrby_calls(l.c) - calls, chunk_hincrbys(&cs),
                 "one HINCRBY a counter and a touch a cell for the whole fold");
    sq_h_link_stop(&l);
}

Test(turn_step, a_fold_stops_at_its_bytes_and_the_next_folds_take_the_rest, .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    redisReply *rep = redisCommand(l.c, "LINDEX sq:kpi_journal 0");
    size_t entry = rep->len;
    freeReplyObject(rep);
    /* about three entries a fold, read in chunks of about one */
    const struct sq_kpi_fold_limits lim = {.entries = 4096, .bytes = 3 * entry,
                                           .chunk_bytes = entry / 2};
    size_t total = 0, folds = 0, bad_total = 0, folded, bad, left;
    bool more = true;
    while (more) {
        cr_assert_eq(sq_kpi_journal_fold(l.r, &lim, &folded, &bad, &left, &more, &err), SQ_OK,
                     "%s", err.msg);
        cr_assert_gt(folded, 0);
        cr_assert_leq(folded, 5, "fold %zu took %zu entries", folds, folded);
        cr_assert_eq(left, NENTRY + 1 - total - folded);
        cr_assert_eq(more, left > 0);
        total += folded;
        bad_total += bad;
        folds++;
    }
    cr_assert_eq(total, NENTRY + 1);
    cr_assert_eq(bad_total, 1);
    cr_assert_geq(folds, 8);
    expect_sums(l.c, &cs);
    sq_h_link_stop(&l);
}

Test(turn_step, a_fold_takes_at_most_its_share_and_says_more_are_left, .timeout = 60)
{
    struct sq_h_link l;
    sq_h_link_start(&l, "sq:");
    struct sq_err err;
    sq_err_clear(&err);
    sq_redis_set_kpi_journal(l.r, true);
    struct turn t[3];
    const char *px[] = {"t0:", "t1:", "t2:"};
    for (int k = 0; k < 3; k++) {
        turn_build(&t[k], px[k], false);
        cr_assert_eq(sq_redis_run_steps(l.r, t[k].steps, NPART, &t[k].sums, &err), SQ_OK, "%s",
                     err.msg);
    }
    struct sq_kpi_fold f;
    const struct sq_kpi_fold_limits two = {.entries = 2, .bytes = SQ_KPI_JOURNAL_FOLD_BYTES,
                                           .chunk_bytes = SQ_KPI_JOURNAL_CHUNK_BYTES};
    cr_assert_eq(sq_kpi_journal_read(l.r, &two, &f, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(f.n, 2);
    cr_assert(f.full, "a third entry is left");
    size_t folded, left;
    cr_assert_eq(sq_kpi_journal_apply(l.r, NULL, &f, &folded, &left, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, 2);
    cr_assert_eq(left, 1);
    sq_kpi_fold_fini(&f);
    cr_assert_eq(count_keys(l.c, "t2:kpi:*"), 0, "the third turn's entry waits");
    cr_assert_eq(sq_kpi_journal_read(l.r, &two, &f, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    cr_assert_not(f.full, "the last entry");
    cr_assert_eq(sq_kpi_journal_apply(l.r, NULL, &f, &folded, &left, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(left, 0);
    sq_kpi_fold_fini(&f);
    for (int k = 0; k < 3; k++) {
        char key[96];
        snprintf(key, sizeof key, "HGET %skpi:all|*|15m|1795600800 offered", px[k]);
        redisReply *rep = redisCommand(l.c, key);
        cr_assert_str_eq(rep->str, "30", "%s", px[k]);
        freeReplyObject(rep);
        turn_fini(&t[k]);
    }
    sq_h_link_stop(&l);
}

/* The field of the fold under way, or -1 when there is none. */
static long long fold_under_way(redisContext *c, const char *field)
{
    redisReply *rep = redisCommand(c, "HGET sq:kpi_journal:fold %s", field);
    long long v = rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : -1;
    freeReplyObject(rep);
    return v;
}

/* A slice of about one sum: a K op of three counters is ten arguments. */
#define SLICE_ONE_SUM 12

Test(turn_step, a_fold_in_slices_writes_each_counter_once_and_counts_one_fold, .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    const struct sq_kpi_fold_limits lim = {.entries = 4096, .bytes = 16 << 20,
                                           .chunk_bytes = 64, .slice_args = SLICE_ONE_SUM};
    long long calls = hincrby_calls(l.c), evals = command_calls(l.c, "eval");
    size_t folded, bad, left;
    bool more;
    cr_assert_eq(sq_kpi_journal_fold(l.r, &lim, &folded, &bad, &left, &more, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, NENTRY + 1);
    cr_assert_eq(bad, 1);
    cr_assert_eq(left, 0);
    cr_assert_not(more);
    /* the reads are plain commands: every script is a slice */
    long long slices = command_calls(l.c, "eval") - evals;
    cr_assert_geq(slices, NCELL, "%lld slices: each of about one sum", slices);
    redisReply *rep = redisCommand(l.c, "GET sq:kpi_journal:folds");
    cr_assert_str_eq(rep->str, "1", "many slices, one fold");
    freeReplyObject(rep);
    cr_assert_eq(fold_under_way(l.c, "done"), -1, "the last slice ends the fold under way");
    expect_sums(l.c, &cs);
    cr_assert_eq(hincrby_calls(l.c) - calls, chunk_hincrbys(&cs));
    sq_h_link_stop(&l);
}

Test(turn_step, a_fold_stopped_between_slices_is_finished_once_by_the_next, .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    long long calls = hincrby_calls(l.c);
    /* the first folder writes two slices and stops, as if killed */
    const struct sq_kpi_fold_limits two = {.entries = 4096, .bytes = 16 << 20,
                                           .chunk_bytes = 64, .slice_args = SLICE_ONE_SUM,
                                           .slices = 2};
    struct sq_kpi_fold f;
    cr_assert_eq(sq_kpi_journal_read(l.r, NULL, &f, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(f.n, NENTRY + 1);
    size_t folded, bad, left;
    bool more;
    cr_assert_eq(sq_kpi_journal_apply(l.r, &two, &f, &folded, &left, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(folded, 0, "stopped: not folded yet");
    long long done = fold_under_way(l.c, "done");
    cr_assert_gt(done, 0, "the fold under way stands after its two slices");
    cr_assert_lt(done, fold_under_way(l.c, "sums"));
    cr_assert_eq(fold_under_way(l.c, "n"), NENTRY + 1);
    long long partial = hincrby_calls(l.c) - calls;
    cr_assert_gt(partial, 0);
    cr_assert_lt(partial, chunk_hincrbys(&cs));
    sq_kpi_fold_fini(&f);
    /* a step appends an entry meanwhile: not the stopped fold's */
    struct sq_buf b;
    sq_buf_init(&b);
    char *a[] = {"K", "sq:kpi:agent|late|15m|1795600800", "691200", "1", "offered", "5"};
    size_t len[6];
    for (int j = 0; j < 6; j++)
        len[j] = strlen(a[j]);
    sq_kpi_journal_put_op(&b, a, len, 0, 6);
    freeReplyObject(redisCommand(l.c, "RPUSH sq:kpi_journal %b", b.data, b.len));
    sq_buf_fini(&b);
    /* another instance's fold, with limits that alone would take fewer
     * entries: it reads the stopped fold's entries and goes on from done */
    struct sq_redis *other = sq_redis_new(l.url, "sq:", 2000, &err);
    cr_assert_not_null(other);
    const struct sq_kpi_fold_limits few = {.entries = 3, .bytes = 16 << 20,
                                           .chunk_bytes = 64, .slice_args = SLICE_ONE_SUM};
    cr_assert_eq(sq_kpi_journal_fold(other, &few, &folded, &bad, &left, &more, &err), SQ_OK,
                 "%s", err.msg);
    cr_assert_eq(folded, NENTRY + 1, "the stopped fold's entries, all of them");
    cr_assert_eq(bad, 1);
    cr_assert_eq(left, 1, "the entry appended since waits");
    cr_assert(more);
    cr_assert_eq(fold_under_way(l.c, "done"), -1);
    expect_sums(l.c, &cs);
    cr_assert_eq(hincrby_calls(l.c) - calls, chunk_hincrbys(&cs), "each sum written once");
    cr_assert_eq(count_keys(l.c, "sq:kpi:agent|late*"), 0);
    cr_assert_eq(sq_kpi_journal_fold(other, &few, &folded, &bad, &left, &more, &err), SQ_OK,
                 "%s", err.msg);
    cr_assert_eq(folded, 1);
    cr_assert_eq(left, 0);
    redisReply *rep = redisCommand(l.c, "HGET sq:kpi:agent|late|15m|1795600800 offered");
    cr_assert_str_eq(rep->str, "5");
    freeReplyObject(rep);
    rep = redisCommand(l.c, "GET sq:kpi_journal:folds");
    cr_assert_str_eq(rep->str, "2");
    freeReplyObject(rep);
    sq_redis_free(other);
    sq_h_link_stop(&l);
}

Test(turn_step, two_folders_taking_turns_at_the_slices_write_each_sum_once, .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    struct sq_redis *other = sq_redis_new(l.url, "sq:", 2000, &err);
    cr_assert_not_null(other);
    long long calls = hincrby_calls(l.c);
    struct sq_kpi_fold fa, fb, fc;
    cr_assert_eq(sq_kpi_journal_read(l.r, NULL, &fa, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(sq_kpi_journal_read(other, NULL, &fb, &err), SQ_OK, "%s", err.msg);
    const struct sq_kpi_fold_limits five = {.entries = 5, .bytes = 16 << 20,
                                            .chunk_bytes = 64};
    cr_assert_eq(sq_kpi_journal_read(other, &five, &fc, &err), SQ_OK, "%s", err.msg);
    cr_assert_eq(fc.n, 5);
    size_t folded, left;
    const struct sq_kpi_fold_limits one = {.slice_args = SLICE_ONE_SUM, .slices = 1};
    const struct sq_kpi_fold_limits two = {.slice_args = SLICE_ONE_SUM, .slices = 2};
    cr_assert_eq(sq_kpi_journal_apply(l.r, &one, &fa, &folded, &left, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, 0);
    long long d1 = fold_under_way(l.c, "done");
    cr_assert_gt(d1, 0);
    /* the second folder's first script finds the fold at d1, its second
     * writes the slice from there */
    cr_assert_eq(sq_kpi_journal_apply(other, &two, &fb, &folded, &left, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, 0);
    long long d2 = fold_under_way(l.c, "done");
    cr_assert_gt(d2, d1);
    /* a fold of other entries writes nothing while this one is under way */
    long long before = hincrby_calls(l.c);
    cr_assert_eq(sq_kpi_journal_apply(other, NULL, &fc, &folded, &left, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, 0);
    cr_assert(fc.behind, "it meets the fold under way");
    cr_assert_eq(hincrby_calls(l.c), before);
    cr_assert_eq(fold_under_way(l.c, "done"), d2);
    /* the first folder finishes from d2; the second then finds it folded */
    cr_assert_eq(sq_kpi_journal_apply(l.r, NULL, &fa, &folded, &left, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, NENTRY + 1);
    cr_assert_eq(left, 0);
    cr_assert_eq(sq_kpi_journal_apply(other, NULL, &fb, &folded, &left, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, 0);
    expect_sums(l.c, &cs);
    cr_assert_eq(hincrby_calls(l.c) - calls, chunk_hincrbys(&cs), "each sum written once");
    sq_kpi_fold_fini(&fa);
    sq_kpi_fold_fini(&fb);
    sq_kpi_fold_fini(&fc);
    sq_redis_free(other);
    sq_h_link_stop(&l);
}

Test(turn_step, a_fold_of_the_same_entries_into_other_sums_is_refused_with_the_key_to_clear,
     .timeout = 60)
{
    struct sq_h_link l;
    struct sq_err err;
    struct chunk_sums cs;
    chunk_start(&l, &cs, &err);
    /* another version's fold of these entries, left after its first slice */
    freeReplyObject(redisCommand(l.c, "HSET sq:kpi_journal:fold folds 0 n %d done 1 sums 999",
                                 NENTRY + 1));
    long long calls = hincrby_calls(l.c);
    size_t folded, bad, left;
    bool more;
    cr_assert_eq(sq_kpi_journal_fold(l.r, NULL, &folded, &bad, &left, &more, &err),
                 SQ_ERR_TRANSIENT);
    cr_assert(strstr(err.msg, "another version") && strstr(err.msg, "sq:kpi_journal:fold"),
              "%s", err.msg);
    cr_assert_eq(hincrby_calls(l.c), calls, "nothing written");
    /* the operator clears it: the next fold starts afresh */
    freeReplyObject(redisCommand(l.c, "DEL sq:kpi_journal:fold"));
    sq_err_clear(&err);
    cr_assert_eq(sq_kpi_journal_fold(l.r, NULL, &folded, &bad, &left, &more, &err), SQ_OK, "%s",
                 err.msg);
    cr_assert_eq(folded, NENTRY + 1);
    expect_sums(l.c, &cs);
    sq_h_link_stop(&l);
}

/* The link refuses a Redis too old for its commands (SMISMEMBER: 6.2), and
 * passes what it cannot read. */
Test(turn_step, a_redis_older_than_6_2_is_refused_with_its_version)
{
    char found[32];
    const char *info = "# Server\r\nredis_version:6.0.16\r\nredis_git_sha1:0\r\n";
    cr_assert_not(sq_redis_version_at_least(info, SQ_REDIS_MIN_MAJOR, SQ_REDIS_MIN_MINOR, found,
                                            sizeof found));
    cr_assert_str_eq(found, "6.0.16");
    cr_assert_not(sq_redis_version_at_least("redis_version:5.9.9\r\n", 6, 2, found, sizeof found));
    cr_assert(sq_redis_version_at_least("redis_version:6.2.0\r\n", 6, 2, found, sizeof found));
    cr_assert(sq_redis_version_at_least("redis_version:7.0.15\r\n", 6, 2, found, sizeof found));
    cr_assert_str_eq(found, "7.0.15");
    cr_assert(sq_redis_version_at_least("redis_version:10.0.0", 6, 2, found, sizeof found));
    cr_assert(sq_redis_version_at_least("# Server\r\n", 6, 2, found, sizeof found));
    cr_assert_str_eq(found, "", "no version named: nothing to refuse");
    cr_assert(sq_redis_version_at_least("redis_version:unstable\r\n", 6, 2, found, sizeof found));
}
