/* test_json_arena.c: jansson's allocator with arenas (processors/
 * json_arena.c): values made while an arena is in use lie in it, the rest
 * are malloc's and free() takes jansson's text as before; a tree mixing
 * both goes without a leak; a freed or reset arena's blocks are reused (and
 * poisoned for ASan meanwhile); a value larger than a block, and a value
 * made on another thread, come from malloc. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "json_arena.h"
#include "json_in.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

static const char sq_event[] =
    "{\"event_id\":\"e-1\",\"schema\":\"contact.v1\",\"customer_id\":\"c-9\","
    "\"channel\":\"voice\",\"wait_s\":42,\"handle_s\":310.5,\"tags\":[\"a\",\"b\",{\"x\":null}],"
    "\"abandoned\":false}";

Test(json_arena, installed_before_main)
{
    cr_assert(sq_json_arena_installed());
}

Test(json_arena, values_in_use_lie_in_the_arena)
{
    struct sq_json_arena *a = sq_json_arena_new();
    cr_assert_eq(sq_json_arena_bytes(a), 0);
    struct sq_json_arena *prev = sq_json_arena_use(a);
    cr_assert_null(prev);
    json_error_t err;
    json_t *ev = sq_json_loadb(sq_event, strlen(sq_event), JSON_REJECT_DUPLICATES, &err);
    json_t *more = json_string("also in the arena");
    cr_assert_eq(sq_json_arena_use(prev), a);
    cr_assert_not_null(ev);
    cr_assert(sq_json_arena_holds(ev));
    cr_assert(sq_json_arena_holds(json_object_get(ev, "tags")));
    cr_assert(sq_json_arena_holds(more));
    cr_assert(sq_json_arena_bytes(a) > 0);

    /* outside the arena: malloc's, and jansson's text is free()'s */
    json_t *late = json_integer(7);
    cr_assert(!sq_json_arena_holds(late));
    json_object_set_new(ev, "late", late);           /* a malloc value in an arena tree */
    json_object_set_new(ev, "more", more);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert(!sq_json_arena_holds(text));
    cr_assert(strstr(text, "\"late\":7"), "%s", text);
    cr_assert(strstr(text, "\"wait_s\":42"), "%s", text);
    free(text);

    json_decref(ev); /* frees "late" (LSan would see it leak otherwise) */
    sq_json_arena_free(a);
}

Test(json_arena, freed_blocks_are_reused_and_poisoned)
{
    struct sq_json_arena *a = sq_json_arena_new();
    struct sq_json_arena *prev = sq_json_arena_use(a);
    json_t *v = json_string("first");
    sq_json_arena_use(prev);
    cr_assert(sq_json_arena_holds(v));
    sq_json_arena_reset(a);
    cr_assert_eq(sq_json_arena_bytes(a), 0);
#if defined(__SANITIZE_ADDRESS__)
    cr_assert(__asan_address_is_poisoned(v), "a reset arena's value is not poisoned");
#endif
    prev = sq_json_arena_use(a);
    json_t *w = json_string("second");
    sq_json_arena_use(prev);
    cr_assert_eq((void *)w, (void *)v, "the warmest block was not taken again");
    cr_assert_str_eq(json_string_value(w), "second");
    sq_json_arena_free(a);
#if defined(__SANITIZE_ADDRESS__)
    cr_assert(__asan_address_is_poisoned(w), "a freed arena's value is not poisoned");
#endif
}

Test(json_arena, many_blocks_and_a_large_value)
{
    struct sq_json_arena *a = sq_json_arena_new();
    struct sq_json_arena *prev = sq_json_arena_use(a);
    json_t *arr = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(arr, json_sprintf("value %d", i));
    size_t big_len = 200 * 1024;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    json_t *bigv = json_string(big); /* its text is larger than a block */
    sq_json_arena_use(prev);
    free(big);
    cr_assert(sq_json_arena_bytes(a) > 64 * 1024, "20000 values fit in one block?");
    cr_assert(sq_json_arena_holds(bigv));
    cr_assert(!sq_json_arena_holds(json_string_value(bigv)));
    cr_assert_eq(json_string_length(bigv), big_len);
    cr_assert_str_eq(json_string_value(json_array_get(arr, 19999)), "value 19999");
    json_decref(bigv); /* the text is malloc's: freed here */
    json_decref(arr);
    sq_json_arena_free(a);
}

static void *other_thread(void *arg)
{
    (void)arg;
    return json_string("made elsewhere");
}

Test(json_arena, another_threads_values_are_malloc)
{
    struct sq_json_arena *a = sq_json_arena_new();
    struct sq_json_arena *prev = sq_json_arena_use(a);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    void *v;
    pthread_join(t, &v);
    json_t *here = json_object();
    sq_json_arena_use(prev);
    cr_assert(!sq_json_arena_holds(v));
    cr_assert(sq_json_arena_holds(here));
    json_decref(v);
    json_decref(here);
    sq_json_arena_free(a);
}

/* The decode processor parses a batch's events into the batch's arena, and
 * makes nothing there when the batch has none. */
Test(json_arena, decode_parses_into_the_batchs_arena)
{
    struct sq_settings st;
    memset(&st, 0, sizeof st);
    st.max_message_bytes = 65536;
    st.max_depth = 64;
    void *ctx = NULL;
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_proc_decode.init(&st, &ctx, &err), SQ_OK, "%s", err.msg);
    struct sq_json_arena *a = sq_json_arena_new();
    struct sq_msg m[2];
    for (int k = 0; k < 2; k++) {
        memset(&m[k], 0, sizeof m[k]);
        m[k].topic = "sq.in.contacts";
        m[k].value = sq_event;
        m[k].value_len = strlen(sq_event);
    }
    struct sq_batch b;
    memset(&b, 0, sizeof b);
    b.msgs = &m[0];
    b.n = 1;
    b.json_arena = a;
    cr_assert_eq(sq_proc_decode.process(ctx, &b, &err), SQ_OK);
    cr_assert_eq(m[0].verdict, SQ_VERDICT_PENDING, "%s", m[0].detail);
    cr_assert_not_null(m[0].event);
    cr_assert(sq_json_arena_holds(m[0].event));
    cr_assert_str_eq(m[0].customer_id, "c-9");
    /* after the batch the thread is back to malloc */
    json_t *after = json_object();
    cr_assert(!sq_json_arena_holds(after));
    json_decref(after);

    b.msgs = &m[1];
    b.json_arena = NULL;
    cr_assert_eq(sq_proc_decode.process(ctx, &b, &err), SQ_OK);
    cr_assert_not_null(m[1].event);
    cr_assert(!sq_json_arena_holds(m[1].event));
    sq_proc_decode.destroy(ctx);
    sq_msg_fini(&m[0]);
    sq_msg_fini(&m[1]);
    sq_json_arena_free(a);
}
