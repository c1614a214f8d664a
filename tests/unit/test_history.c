/* test_history.c: the contact history's stored form (processors/history.c)
 * reads and writes what jansson read and wrote: sqgate's own text in
 * place, anything else through jansson; repeats, arrival order and the
 * 30-day cut. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "json_out.h"

#define DAY (86400LL * 1000)

static char *dump(const struct sq_history *h)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_history_dump(h, &b);
    char *s = sq_xstrdup(b.data);
    sq_buf_fini(&b);
    return s;
}

/* Loads text, and returns what it dumps back. */
static char *reload(const char *text, size_t *n)
{
    struct sq_history h;
    sq_history_load(&h, text);
    *n = h.n;
    char *s = dump(&h);
    sq_history_fini(&h);
    return s;
}

Test(history, sqgate_text_reads_back_byte_for_byte)
{
    const char *text = "[[1764800000000,\"billing\"],[1764800060000,\"no_service\"],[-5,\"\"]]";
    size_t n;
    char *s = reload(text, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(s, text);
    free(s);
    s = reload("[]", &n);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(s, "[]");
    free(s);
    s = reload(NULL, &n);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(s, "[]");
    free(s);
}

Test(history, other_text_reads_as_jansson_read_it)
{
    struct {
        const char *in, *out;
        size_t n;
    } cases[] = {
        {" [ [ 1 , \"a\" ] ,\n[2,\"b\"] ] ", "[[1,\"a\"],[2,\"b\"]]", 2},
        {"[[1,\"q\\\"uote\\\\ \\u00e9 \\n\"]]", "[[1,\"q\\\"uote\\\\ \xc3\xa9 \\n\"]]", 1},
        {"[[1,\"\xc3\xa9t\xc3\xa9\"]]", "[[1,\"\xc3\xa9t\xc3\xa9\"]]", 1},
        {"[[1.5,\"a\"],[2e3,\"b\"]]", "[[0,\"a\"],[0,\"b\"]]", 2},
        {"[[1,2],[3]]", "[[1,null],[3,null]]", 2},
        {"[[1,\"a\",9]]", "[[1,\"a\"]]", 1},
        {"{\"a\":1}", "[]", 0},
        {"[[1,\"a\"]", "[]", 0},
        {"[[01,\"a\"]]", "[]", 0},
        {"[[99999999999999999999,\"a\"]]", "[]", 0},
        {"[[1,\"a\"]] x", "[]", 0},
        {"", "[]", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        char *s = reload(cases[i].in, &n);
        cr_assert_eq(n, cases[i].n, "case %zu: %zu entries", i, n);
        cr_assert_str_eq(s, cases[i].out, "case %zu", i);
        free(s);
    }
}

Test(history, dump_is_what_jansson_dumps)
{
    const char *reasons[] = {"billing", "", "a\"b", "back\\slash", "tab\there", "\x01",
                             "caf\xc3\xa9", "/slash", "\xe2\x82\xac"};
    struct sq_history h;
    sq_history_load(&h, NULL);
    json_t *a = json_array();
    srand(7);
    int64_t t = 1764800000000LL;
    for (int i = 0; i < 200; i++) {
        const char *r = reasons[rand() % (int)(sizeof reasons / sizeof reasons[0])];
        t += rand() % 100000;
        int64_t c30, latest;
        sq_history_add(&h, t, r, DAY, &c30, &latest);
        json_array_append_new(a, json_pack("[I,s]", (json_int_t)t, r));
    }
    char *want = json_dumps(a, JSON_COMPACT);
    char *got = dump(&h);
    cr_assert_str_eq(got, want);
    size_t n;
    char *again = reload(got, &n);
    cr_assert_eq(n, 200);
    cr_assert_str_eq(again, want);
    free(again);
    free(got);
    free(want);
    json_decref(a);
    sq_history_fini(&h);
}

Test(history, repeats_order_and_the_30_day_cut)
{
    struct sq_history h;
    sq_history_load(&h, "[[1000,\"billing\"],[5000,\"tech\"]]");
    int64_t c30 = 0, latest = 0;
    /* same reason within the window: a repeat; the other reason is not */
    cr_assert_eq(sq_history_add(&h, 3000, "billing", 10000, &c30, &latest), 2);
    cr_assert_eq(c30, 3);
    cr_assert_eq(latest, 5000);
    char *s = dump(&h);
    cr_assert_str_eq(s, "[[1000,\"billing\"],[3000,\"billing\"],[5000,\"tech\"]]", "%s", s);
    free(s);
    /* the same time is not a repeat (0 < Δ), nor one past the window */
    cr_assert_eq(sq_history_add(&h, 3000, "billing", 10000, &c30, &latest), 2, "only 1000");
    cr_assert_eq(sq_history_add(&h, 13000, "billing", 10000, &c30, &latest), 3, "3000 twice");
    /* 30 days after 1000 drops it, and everything up to it */
    cr_assert_eq(sq_history_add(&h, 1000 + 30 * DAY, "x", 10000, &c30, &latest), 1);
    cr_assert_eq(latest, 1000 + 30 * DAY);
    s = dump(&h);
    cr_assert_str_eq(s,
                     "[[3000,\"billing\"],[3000,\"billing\"],[5000,\"tech\"],[13000,\"billing\"],"
                     "[2592001000,\"x\"]]",
                     "%s", s);
    cr_assert_eq(c30, 5);
    free(s);
    /* entries read as time 0 go at the next add */
    sq_history_fini(&h);
    sq_history_load(&h, "[[\"x\",\"a\"],[7,\"b\"]]");
    cr_assert_eq(h.n, 2);
    sq_history_add(&h, 40 * DAY, "c", 1, &c30, &latest);
    cr_assert_eq(c30, 1);
    sq_history_fini(&h);
}

/* What jansson makes of text after sq_history_add(t, reason): inserted in
 * arrival order, entries 30 days older than the newest dropped. */
static char *jansson_after_add(const char *text, int64_t t, const char *reason)
{
    json_error_t jerr;
    json_t *a = json_loads(text, 0, &jerr);
    cr_assert(json_is_array(a), "%s", text);
    size_t pos = json_array_size(a);
    while (pos > 0 && json_integer_value(json_array_get(json_array_get(a, pos - 1), 0)) > t)
        pos--;
    json_array_insert_new(a, pos, json_pack("[I,s]", (json_int_t)t, reason));
    json_int_t newest =
        json_integer_value(json_array_get(json_array_get(a, json_array_size(a) - 1), 0));
    while (json_array_size(a) &&
           json_integer_value(json_array_get(json_array_get(a, 0), 0)) <= newest - 30 * DAY)
        json_array_remove(a, 0);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

Test(history, loaded_entries_copied_only_where_they_are_the_dump)
{
    /* entries that are not byte for byte what the dump writes ("-0", white
     * space inside or between them) must come out as the dump writes
     * them; the rest is copied in runs around them and around new ones */
    struct {
        const char *text;
        int64_t t;
        const char *reason;
    } cases[] = {
        {"[[1,\"a\"],[-0,\"b\"],[3, \"c\"],[4,\"d\"],[5,\"e\"]]", 6, "f"},
        {"[[1,\"a\"] , [2,\"b\"],[3,\"c\"]\n,[4,\"d\"]]", 5, "x"},
        {"[[1,\"a\"],[2,\"b\"],[4,\"d\"],[5,\"e\"]]", 3, "mid"},
        {"[[1,\"a\"],[2,\"b\"],[4,\"d\"],[5,\"e\"]]", 0, "first"},
        {"[[1,\"a\"],[2,\"b\"],[4,\"d\"],[5,\"e\"]]", 2 + 30 * DAY, "cut"},
        {"[[1000,\"a,b]\"],[2000,\"[\\\"q\\\"]\"],[3000,\"c\"]]", 4000, "after an escape"},
        {"[]", 7, "only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sq_history h;
        sq_history_load(&h, cases[i].text);
        int64_t c30, latest;
        sq_history_add(&h, cases[i].t, cases[i].reason, DAY, &c30, &latest);
        char *got = dump(&h);
        char *want = jansson_after_add(cases[i].text, cases[i].t, cases[i].reason);
        cr_assert_str_eq(got, want, "case %zu", i);
        free(got);
        free(want);
        sq_history_fini(&h);
    }
    /* a long history of sqgate's own text, added to many times in one load
     * (a batch with many contacts of one customer) */
    struct sq_history h;
    sq_history_load(&h, NULL);
    int64_t t = 1764800000000LL, c30, latest;
    for (int i = 0; i < 300; i++)
        sq_history_add(&h, t += 3600 * 1000, i % 3 ? "billing" : "tech", DAY, &c30, &latest);
    char *text = dump(&h);
    sq_history_fini(&h);
    sq_history_load(&h, text);
    char *want = sq_xstrdup(text);
    for (int i = 0; i < 50; i++) {
        t += 7200 * 1000;
        char *next = jansson_after_add(want, t, "network");
        free(want);
        want = next;
        sq_history_add(&h, t, "network", DAY, &c30, &latest);
    }
    char *got = dump(&h);
    cr_assert_str_eq(got, want);
    cr_assert_eq(c30, (int64_t)h.n);
    free(got);
    free(want);
    free(text);
    sq_history_fini(&h);
}
