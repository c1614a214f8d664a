/* test_state_ops.c: the sums of deferred KPI ops (processors/state_ops.c,
 * sq_state_ops_append_sums): packed counters (V ops) of one cell add up
 * and go out as one K op in counter order, naming each counter by the very
 * pointer kpi.h gives (which the KPI journal codes in two bytes); K ops'
 * text fields come first and the packed counters merge into them; a sums
 * emitted twice says the same. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"
#include "store.h"

static void deferred_v(struct sq_state_ops *ops, const char *key, int64_t ttl,
                       const int *counters, const int64_t *by, int n)
{
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++)
        c.v[counters[i]] += by[i];
    sq_state_ops_push(ops, "Y", 1);
    sq_op_kpi_add(ops, key, ttl, &c);
}

/* ops' arguments from `from` on, joined by spaces */
static char *joined(const struct sq_state_ops *ops, size_t from)
{
    size_t n = 1;
    for (size_t i = from; i < ops->argc; i++)
        n += ops->argvlen[i] + 1;
    char *s = calloc(1, n);
    for (size_t i = from; i < ops->argc; i++) {
        if (i > from)
            strcat(s, " ");
        strncat(s, ops->argv[i], ops->argvlen[i]);
    }
    return s;
}

Test(state_ops, packed_counters_sum_in_counter_order)
{
    struct sq_state_ops m0 = {0}, m1 = {0}, out = {0};
    const int c0[] = {SQ_KC_ABANDONED, SQ_KC_OFFERED};
    const int64_t b0[] = {1, 1};
    const int c1[] = {SQ_KC_OFFERED, SQ_KC_ANSWERED, SQ_KC_HANDLE_MS_SUM};
    const int64_t b1[] = {2, 1, 310500};
    deferred_v(&m0, "sq:kpi:queue:q1:15m:1", 600, c0, b0, 2);
    deferred_v(&m1, "sq:kpi:queue:q1:15m:1", 700, c1, b1, 3);
    deferred_v(&m1, "sq:kpi:all:*:15m:1", 700, c1, b1, 3);
    const struct sq_state_ops *lists[] = {&m0, &m1};
    sq_state_ops_append_sums(&out, lists, 2);
    char *s = joined(&out, 0);
    cr_assert_str_eq(s,
                     "B S K sq:kpi:queue:q1:15m:1 700 4 offered 3 answered 1 abandoned 1 "
                     "handle_ms_sum 310500 "
                     "S K sq:kpi:all:*:15m:1 700 3 offered 2 answered 1 handle_ms_sum 310500");
    free(s);
    /* the names are kpi.h's own pointers */
    for (size_t i = 0; i < out.argc; i++)
        if (strcmp(out.argv[i], "offered") == 0)
            cr_assert_eq(sq_kpi_counter_of_name(out.argv[i]), SQ_KC_OFFERED);
    sq_state_ops_fini(&m0);
    sq_state_ops_fini(&m1);
    sq_state_ops_fini(&out);
}

Test(state_ops, text_fields_first_then_packed_counters_merged)
{
    struct sq_state_ops m0 = {0}, m1 = {0}, out = {0};
    const char *f[] = {"answered", "custom_field"};
    const int64_t by[] = {5, 7};
    sq_state_ops_push(&m0, "Y", 1);
    sq_op_hincr_each(&m0, "sq:kpi:agent:a1:1h:1", 500, 2, f, by);
    const int c1[] = {SQ_KC_OFFERED, SQ_KC_ANSWERED};
    const int64_t b1[] = {2, 1};
    deferred_v(&m1, "sq:kpi:agent:a1:1h:1", 500, c1, b1, 2);
    const struct sq_state_ops *lists[] = {&m0, &m1};
    sq_state_ops_append_sums(&out, lists, 2);
    char *s = joined(&out, 0);
    cr_assert_str_eq(s, "B S K sq:kpi:agent:a1:1h:1 500 3 answered 6 custom_field 7 offered 2");
    free(s);
    sq_state_ops_fini(&m0);
    sq_state_ops_fini(&m1);
    sq_state_ops_fini(&out);
}

Test(state_ops, sums_emitted_twice_say_the_same)
{
    struct sq_state_ops m0 = {0}, a = {0}, b = {0};
    const int c0[] = {SQ_KC_CSAT_SUM, SQ_KC_CSAT_N};
    const int64_t b0[] = {4, 1};
    deferred_v(&m0, "sq:kpi:tier:gold:1h:1", 900, c0, b0, 2);
    struct sq_sums *sums = sq_sums_new(false);
    sq_sums_add(sums, &m0);
    sq_sums_append_to(sums, &a, false);
    sq_sums_append_to(sums, &b, false);
    char *sa = joined(&a, 0), *sb = joined(&b, 0);
    cr_assert_str_eq(sa, "K sq:kpi:tier:gold:1h:1 900 2 csat_sum 4 csat_n 1");
    cr_assert_str_eq(sb, sa);
    free(sa);
    free(sb);
    sq_sums_free(sums);
    sq_state_ops_fini(&m0);
    sq_state_ops_fini(&a);
    sq_state_ops_fini(&b);
}

Test(state_ops, a_counter_is_known_by_its_pointer_only)
{
    for (int c = 0; c < SQ_KC__COUNT; c++)
        cr_assert_eq(sq_kpi_counter_of_name(sq_kpi_counter_name((enum sq_kpi_counter)c)), c);
    char copy[32];
    strcpy(copy, sq_kpi_counter_name(SQ_KC_OFFERED));
    cr_assert_eq(sq_kpi_counter_of_name(copy), -1);
    cr_assert_eq(sq_kpi_counter_of_name(sq_kpi_counter_name(SQ_KC_OFFERED) + 1), -1);
    cr_assert_eq(sq_kpi_counter_of_name(NULL), -1);
    cr_assert_eq(sq_kpi_counter_of_name("offered"), -1);
}
