/* test_gen.c: unit tests of the load generator (gateway/gen.c): determinism
 * by seed, the shape of contact.v1 and profile.v1 events, the abandon share,
 * malformed messages that decode to each DLQ reason, duplicates that repeat
 * an earlier event, repeat contacts, and the replay envelope format. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "gen.h"

#define START_MS INT64_C(1795600800000) /* 2026-11-25T10:00:00Z */

static struct sq_gen_opts opts(uint64_t seed)
{
    struct sq_gen_opts o;
    sq_gen_opts_defaults(&o);
    o.seed = seed;
    o.start_ms = START_MS;
    return o;
}

/* n messages of g as replay envelopes, one buffer. */
static void run_envelopes(struct sq_gen *g, int n, struct sq_buf *out)
{
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    for (int i = 0; i < n; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        sq_gen_envelope(out, kind, topic, &key, &value);
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
}

Test(gen, same_seed_same_bytes)
{
    struct sq_gen_opts o = opts(42);
    o.malformed_share = 0.05;
    o.duplicate_share = 0.05;
    struct sq_gen *a = sq_gen_new(&o), *b = sq_gen_new(&o);
    struct sq_buf ba, bb;
    sq_buf_init(&ba);
    sq_buf_init(&bb);
    run_envelopes(a, 5000, &ba);
    run_envelopes(b, 5000, &bb);
    cr_assert_gt(ba.len, 5000u * 100);
    cr_assert_eq(ba.len, bb.len);
    cr_assert(memcmp(ba.data, bb.data, ba.len) == 0, "same seed, different output");
    cr_assert_eq(sq_gen_clock_ms(a), sq_gen_clock_ms(b));
    sq_buf_fini(&ba);
    sq_buf_fini(&bb);
    sq_gen_free(a);
    sq_gen_free(b);
}

Test(gen, different_seeds_differ)
{
    struct sq_gen_opts o1 = opts(1), o2 = opts(2);
    struct sq_gen *a = sq_gen_new(&o1), *b = sq_gen_new(&o2);
    struct sq_buf ba, bb;
    sq_buf_init(&ba);
    sq_buf_init(&bb);
    run_envelopes(a, 200, &ba);
    run_envelopes(b, 200, &bb);
    cr_assert(ba.len != bb.len || memcmp(ba.data, bb.data, ba.len) != 0);
    /* Not just the ids: the customers differ too. */
    cr_assert(strstr(ba.data, "\"key\":") != NULL);
    size_t same_keys = 0;
    const char *pa = ba.data, *pb = bb.data;
    for (int i = 0; i < 200; i++) {
        pa = strstr(pa, "\"key\":");
        pb = strstr(pb, "\"key\":");
        if (strncmp(pa, pb, 20) == 0)
            same_keys++;
        pa++;
        pb++;
    }
    cr_assert_lt(same_keys, 20u, "%zu of 200 keys equal", same_keys);
    sq_buf_fini(&ba);
    sq_buf_fini(&bb);
    sq_gen_free(a);
    sq_gen_free(b);
}

static const char *str(json_t *ev, const char *field)
{
    json_t *v = json_object_get(ev, field);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t time_of(json_t *ev, const char *field)
{
    const char *s = str(ev, field);
    cr_assert_not_null(s, "%s missing", field);
    int64_t ms;
    cr_assert_eq(sq_time_parse(s, &ms), 0, "%s=%s not RFC 3339", field, s);
    return ms;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

struct contact_stats {
    int contacts, abandoned, short_abandons, callbacks, answered, voice, profiles;
};

/* Checks one valid message and counts what it is. */
static void check_valid(const char *topic, const struct sq_buf *key, const struct sq_buf *value,
                        struct contact_stats *cs)
{
    static const char *const channels[] = {"voice", "chat", "app", "email",
                                           "sms",   "store", "social", NULL};
    static const char *const outcomes[] = {"resolved", "unresolved", "escalated", "callback",
                                           NULL};
    static const char *const tiers[] = {"diamond", "gold", "silver", "standard", NULL};
    json_error_t jerr;
    json_t *ev = json_loadb(value->data, value->len, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(ev, "not JSON: %s: %.200s", jerr.text, value->data);
    cr_assert(json_is_object(ev));
    const char *event_id = str(ev, "event_id"), *cust = str(ev, "customer_id");
    cr_assert(event_id && strlen(event_id) >= 1 && strlen(event_id) <= 128);
    cr_assert(cust && strlen(cust) >= 1 && strlen(cust) <= 64);
    cr_assert_eq(key->len, strlen(cust));
    cr_assert(memcmp(key->data, cust, key->len) == 0, "key is not the customer id");
    int64_t occurred = time_of(ev, "occurred_at");
    const char *region = str(ev, "region");
    cr_assert(!json_object_get(ev, "region") || (region && strlen(region) <= 32));
    const char *schema = str(ev, "schema");
    cr_assert_not_null(schema);
    if (strcmp(schema, "contact.v1") == 0) {
        cr_assert_str_eq(topic, SQ_GEN_TOPIC_CONTACTS);
        cs->contacts++;
        cr_assert_not_null(str(ev, "contact_id"));
        cr_assert(in_list(str(ev, "channel"), channels), "channel %s", str(ev, "channel"));
        cr_assert_not_null(str(ev, "queue"));
        cr_assert_not_null(str(ev, "reason"));
        if (strcmp(str(ev, "channel"), "voice") == 0)
            cs->voice++;
        int64_t arrived = time_of(ev, "arrived_at"), ended = time_of(ev, "ended_at");
        cr_assert_eq(occurred, ended, "occurred_at is not ended_at");
        cr_assert_leq(arrived, ended);
        json_t *outcome = json_object_get(ev, "outcome");
        if (outcome)
            cr_assert(in_list(json_string_value(outcome), outcomes));
        if (json_object_get(ev, "answered_at")) {
            int64_t answered = time_of(ev, "answered_at");
            cr_assert(arrived <= answered && answered <= ended, "%s: times out of order",
                      event_id);
            cr_assert_not_null(str(ev, "agent_id"));
            cr_assert_not_null(outcome, "answered without outcome");
            static const char *const nums[] = {"hold_s", "wrap_s", "transfers"};
            for (int i = 0; i < 3; i++) {
                json_t *v = json_object_get(ev, nums[i]);
                cr_assert(json_is_integer(v) && json_integer_value(v) >= 0, "%s", nums[i]);
            }
            cs->answered++;
        } else {
            cr_assert_null(json_object_get(ev, "agent_id"), "unanswered with an agent");
            if (outcome) {
                cr_assert_str_eq(json_string_value(outcome), "callback");
                cs->callbacks++;
            } else {
                cs->abandoned++;
                if (ended - arrived < 5000)
                    cs->short_abandons++;
            }
        }
    } else {
        cr_assert_str_eq(schema, "profile.v1");
        cr_assert_str_eq(topic, SQ_GEN_TOPIC_PROFILES);
        cr_assert(in_list(str(ev, "tier"), tiers));
        cr_assert_not_null(region, "profile without region");
        cr_assert(json_is_boolean(json_object_get(ev, "enterprise")));
        cr_assert(json_integer_value(json_object_get(ev, "tenure_months")) >= 0);
        cr_assert(json_number_value(json_object_get(ev, "arpu")) >= 0);
        cs->profiles++;
    }
    json_decref(ev);
}

Test(gen, valid_events_have_the_required_fields_and_shape)
{
    struct sq_gen_opts o = opts(3);
    o.malformed_share = 0;
    o.duplicate_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    struct contact_stats cs = {0};
    for (int i = 0; i < 10000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        cr_assert(kind == SQ_GEN_CONTACT || kind == SQ_GEN_PROFILE, "kind %s",
                  sq_gen_kind_name(kind));
        check_valid(topic, &key, &value, &cs);
    }
    double abandon = (double)cs.abandoned / cs.contacts;
    cr_assert(abandon >= 0.08 && abandon <= 0.15, "abandon share %.3f", abandon);
    cr_assert_gt(cs.short_abandons, cs.abandoned / 10, "short abandons %d of %d",
                 cs.short_abandons, cs.abandoned);
    cr_assert_lt(cs.short_abandons, cs.abandoned / 2);
    cr_assert(cs.callbacks > 50 && cs.callbacks < 500, "callbacks %d", cs.callbacks);
    cr_assert_gt(cs.voice, cs.contacts * 4 / 10, "voice %d of %d", cs.voice, cs.contacts);
    double prof = (double)cs.profiles / 10000;
    cr_assert(prof > 0.01 && prof < 0.03, "profile share %.3f", prof);
    /* The clock follows the rate: 10000 messages at 1000/s ~ 10 s. */
    int64_t span = sq_gen_clock_ms(g) - START_MS;
    cr_assert(span > 9000 && span < 11000, "10000 messages span %lld ms", (long long)span);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, event_ids_are_unique)
{
    struct sq_gen_opts o = opts(5);
    o.duplicate_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    json_t *seen = json_object();
    for (int i = 0; i < 5000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        if (kind != SQ_GEN_CONTACT && kind != SQ_GEN_PROFILE)
            continue;
        json_t *ev = json_loadb(value.data, value.len, 0, NULL);
        const char *id = str(ev, "event_id");
        cr_assert_null(json_object_get(seen, id), "event_id %s twice", id);
        json_object_set_new(seen, id, json_true());
        json_decref(ev);
    }
    cr_assert_gt(json_object_size(seen), 4500u);
    json_decref(seen);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, malformed_messages_decode_to_their_reason)
{
    struct sq_settings st;
    memset(&st, 0, sizeof st);
    st.max_message_bytes = 65536;
    st.max_depth = 64;
    struct sq_gen_opts o = opts(11);
    o.malformed_share = 0.3;
    o.duplicate_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    int per_kind[SQ_GEN__KINDS] = {0};
    const int n = 4000;
    for (int i = 0; i < n; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        per_kind[kind]++;
        enum sq_dlq_reason want = sq_gen_kind_reason(kind);
        if (want == SQ_DLQ_NONE)
            continue;
        cr_assert_str_eq(topic, SQ_GEN_TOPIC_CONTACTS);
        cr_assert_gt(key.len, 0u);
        json_t *ev = NULL;
        char detail[512];
        enum sq_dlq_reason got = sq_decode_bytes(value.data, value.len, &st, &ev, detail,
                                                 sizeof detail);
        if (want == SQ_DLQ_UNKNOWN_SCHEMA) {
            /* Decodes to an object whose schema is not one of SPEC 2's. */
            cr_assert_eq(got, SQ_DLQ_NONE, "%s: %.200s", detail, value.data);
            json_t *sch = json_object_get(ev, "schema");
            cr_assert(!json_is_string(sch) || !sq_schema_lookup(json_string_value(sch)),
                      "schema is known: %.200s", value.data);
            json_decref(ev);
        } else {
            cr_assert_eq(got, want, "%s: got %s (%s): %.200s", sq_gen_kind_name(kind),
                         sq_dlq_reason_name(got), detail, value.data);
            cr_assert_null(ev);
        }
        if (kind == SQ_GEN_TOO_LARGE)
            cr_assert_gt(value.len, 65536u);
    }
    int malformed = 0;
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++) {
        cr_assert_gt(per_kind[k], 50, "%s: %d", sq_gen_kind_name(k), per_kind[k]);
        malformed += per_kind[k];
    }
    double share = (double)malformed / n;
    cr_assert(share > 0.25 && share < 0.35, "malformed share %.3f", share);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, no_malformed_when_share_is_zero)
{
    struct sq_gen_opts o = opts(12);
    o.malformed_share = 0;
    o.duplicate_share = 0;
    o.profile_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    for (int i = 0; i < 3000; i++) {
        const char *topic;
        cr_assert_eq(sq_gen_next(g, &topic, &key, &value), SQ_GEN_CONTACT);
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, duplicates_repeat_an_earlier_event)
{
    struct sq_gen_opts o = opts(13);
    o.duplicate_share = 0.1;
    o.malformed_share = 0.05;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    json_t *earlier = json_object(); /* event_id -> [topic, key, value] */
    int dups = 0;
    for (int i = 0; i < 3000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        if (kind == SQ_GEN_DUPLICATE) {
            json_t *ev = json_loadb(value.data, value.len, 0, NULL);
            cr_assert_not_null(ev, "a duplicate is a valid event");
            json_t *prev = json_object_get(earlier, str(ev, "event_id"));
            cr_assert_not_null(prev, "duplicate of an unseen event_id %s", str(ev, "event_id"));
            cr_assert_str_eq(json_string_value(json_array_get(prev, 0)), topic);
            cr_assert_eq(json_string_length(json_array_get(prev, 1)), key.len);
            cr_assert(memcmp(json_string_value(json_array_get(prev, 1)), key.data, key.len) == 0);
            cr_assert_eq(json_string_length(json_array_get(prev, 2)), value.len);
            cr_assert(memcmp(json_string_value(json_array_get(prev, 2)), value.data,
                             value.len) == 0, "a duplicate differs from its original");
            json_decref(ev);
            dups++;
        } else if (kind == SQ_GEN_CONTACT || kind == SQ_GEN_PROFILE) {
            json_t *ev = json_loadb(value.data, value.len, 0, NULL);
            json_object_set_new(earlier, str(ev, "event_id"),
                                json_pack("[s s# s#]", topic, key.data, key.len, value.data,
                                          value.len));
            json_decref(ev);
        }
    }
    cr_assert(dups > 200 && dups < 400, "duplicates %d of 3000", dups);
    json_decref(earlier);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, repeat_contacts_come_back_within_hours)
{
    /* One message per second of event time over ~8 hours, among so many
     * customers that chance alone rarely brings one back. */
    struct sq_gen_opts o = opts(17);
    o.rate = 1;
    o.customers = 10000000;
    o.malformed_share = 0;
    o.duplicate_share = 0;
    o.profile_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    json_t *last = json_object(); /* customer|reason -> arrived ms */
    int repeats = 0, hours_later = 0;
    const int n = 30000;
    for (int i = 0; i < n; i++) {
        const char *topic;
        sq_gen_next(g, &topic, &key, &value);
        json_t *ev = json_loadb(value.data, value.len, 0, NULL);
        char k[160];
        snprintf(k, sizeof k, "%s|%s", str(ev, "customer_id"), str(ev, "reason"));
        int64_t arrived = time_of(ev, "arrived_at");
        json_t *prev = json_object_get(last, k);
        if (prev) {
            int64_t delta = arrived - json_integer_value(prev);
            if (delta > 0 && delta <= 72 * 3600 * INT64_C(1000)) {
                repeats++;
                if (delta >= 3600 * 1000)
                    hours_later++;
            }
        }
        json_object_set_new(last, k, json_integer(arrived));
        json_decref(ev);
    }
    /* ~6 % of contacts schedule a repeat; most are due within the run. */
    cr_assert(repeats > n / 50 && repeats < n / 10, "repeats %d of %d", repeats, n);
    cr_assert_gt(hours_later, repeats / 4, "%d of %d repeats an hour or more later",
                 hours_later, repeats);
    json_decref(last);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, envelopes_are_json_lines_with_the_original_bytes)
{
    struct sq_gen_opts o = opts(19);
    o.malformed_share = 0.2;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value, line;
    sq_buf_init(&key);
    sq_buf_init(&value);
    sq_buf_init(&line);
    int strings = 0;
    for (int i = 0; i < 2000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        sq_buf_reset(&line);
        sq_gen_envelope(&line, kind, topic, &key, &value);
        cr_assert_eq(line.data[line.len - 1], '\n');
        cr_assert(memchr(line.data, '\n', line.len - 1) == NULL, "one line per message");
        json_error_t jerr;
        json_t *env = json_loadb(line.data, line.len, JSON_DECODE_ANY, &jerr);
        cr_assert_not_null(env, "%s: %.200s", jerr.text, line.data);
        cr_assert_str_eq(json_string_value(json_object_get(env, "topic")), topic);
        json_t *k = json_object_get(env, "key");
        cr_assert(json_string_length(k) == key.len &&
                  memcmp(json_string_value(k), key.data, key.len) == 0);
        json_t *v = json_object_get(env, "value");
        if (sq_gen_kind_reason(kind) == SQ_DLQ_NONE || kind == SQ_GEN_UNKNOWN_SCHEMA) {
            cr_assert(json_is_object(v), "%s value is not an object", sq_gen_kind_name(kind));
        } else {
            cr_assert(json_is_string(v), "%s value is not a string", sq_gen_kind_name(kind));
            cr_assert_eq(json_string_length(v), value.len);
            cr_assert(memcmp(json_string_value(v), value.data, value.len) == 0,
                      "%s: string is not the original text", sq_gen_kind_name(kind));
            strings++;
        }
        json_decref(env);
    }
    cr_assert_gt(strings, 200);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_buf_fini(&line);
    sq_gen_free(g);
}

Test(gen, kind_names_and_reasons)
{
    cr_assert_str_eq(sq_gen_kind_name(SQ_GEN_TOO_DEEP), "too_deep");
    cr_assert_str_eq(sq_gen_kind_name(-1), "?");
    for (int k = SQ_GEN_MALFORMED_JSON; k < SQ_GEN__KINDS; k++)
        cr_assert_str_eq(sq_gen_kind_name(k), sq_dlq_reason_name(sq_gen_kind_reason(k)));
    cr_assert_eq(sq_gen_kind_reason(SQ_GEN_DUPLICATE), SQ_DLQ_NONE);
    cr_assert_eq(sq_gen_topic_index(SQ_GEN_TOPIC_PROFILES), SQ_GEN_T_PROFILES);
    cr_assert_eq(sq_gen_topic_index("sq.in.tickets"), -1);
}
