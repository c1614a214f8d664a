/* test_gen.c: unit tests of the load generator (gateway/gen*.c):
 * determinism by seed with every event type, every valid message valid
 * against its schema in schemas/, the shares of the mix as asked, the shape
 * of contacts (abandon share, repeat contacts), ticket lifecycles in order
 * per ticket with late and reopened tickets, surveys, QA reviews and
 * tickets that refer to earlier contacts, outages that start and end, the
 * daily arrival profile, malformed messages that decode to each DLQ reason,
 * duplicates that repeat an earlier event, and the replay envelope format. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "gen.h"
#include "sq_validate_helper.h"
#include "strmap.h"

#define START_MS INT64_C(1795600800000) /* 2026-11-25T10:00:00Z */

static struct sq_gen_opts opts(uint64_t seed)
{
    struct sq_gen_opts o;
    sq_gen_opts_defaults(&o);
    o.seed = seed;
    o.start_ms = START_MS;
    return o;
}

/* Contacts only: every other share 0. */
static struct sq_gen_opts contacts_only(uint64_t seed)
{
    struct sq_gen_opts o = opts(seed);
    o.malformed_share = o.duplicate_share = o.profile_share = 0;
    o.ticket_share = o.survey_share = o.qa_share = o.outage_share = 0;
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
    int contacts, abandoned, short_abandons, callbacks, answered, voice, profiles, others;
};

/* Checks a contact.v1 beyond its schema (SPEC 2's semantic rules and the
 * generator's own shape) and counts what it is. */
static void check_contact(json_t *ev, int64_t occurred, struct contact_stats *cs)
{
    static const char *const channels[] = {"voice", "chat", "app", "email",
                                           "sms",   "store", "social", NULL};
    static const char *const outcomes[] = {"resolved", "unresolved", "escalated", "callback",
                                           NULL};
    const char *event_id = str(ev, "event_id");
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
        cr_assert(arrived <= answered && answered <= ended, "%s: times out of order", event_id);
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
}

/* The schema name and topic of each valid kind. */
static const struct {
    const char *schema, *topic;
} kinds[] = {
    [SQ_GEN_CONTACT] = {"contact.v1", SQ_GEN_TOPIC_CONTACTS},
    [SQ_GEN_PROFILE] = {"profile.v1", SQ_GEN_TOPIC_PROFILES},
    [SQ_GEN_TICKET] = {"ticket.v1", SQ_GEN_TOPIC_TICKETS},
    [SQ_GEN_SURVEY] = {"survey.v1", SQ_GEN_TOPIC_SURVEYS},
    [SQ_GEN_QA_REVIEW] = {"qa_review.v1", SQ_GEN_TOPIC_QA},
    [SQ_GEN_OUTAGE] = {"outage.v1", SQ_GEN_TOPIC_OUTAGES},
};

/* Checks one valid message of kind `kind`: valid against its schema in
 * schemas/, on its topic, keyed by its customer (outages: by incident), and
 * for contacts and profiles the generator's shape; counts it. */
static void check_valid(int kind, const char *topic, const struct sq_buf *key,
                        const struct sq_buf *value, struct contact_stats *cs)
{
    static const char *const tiers[] = {"diamond", "gold", "silver", "standard", NULL};
    cr_assert(kind >= 0 && kind < SQ_GEN_DUPLICATE, "kind %s", sq_gen_kind_name(kind));
    char why[512];
    cr_assert_eq(sq_h_validate_record(kinds[kind].schema, value->data, value->len, why,
                                      sizeof why),
                 0, "%s invalid: %s: %.300s", kinds[kind].schema, why, value->data);
    cr_assert_str_eq(topic, kinds[kind].topic);
    json_error_t jerr;
    json_t *ev = json_loadb(value->data, value->len, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(ev, "not JSON: %s: %.200s", jerr.text, value->data);
    cr_assert_str_eq(str(ev, "schema"), kinds[kind].schema);
    const char *keyed_by = str(ev, kind == SQ_GEN_OUTAGE ? "incident_id" : "customer_id");
    cr_assert_not_null(keyed_by);
    cr_assert(key->len == strlen(keyed_by) && memcmp(key->data, keyed_by, key->len) == 0,
              "key %.*s is not %s", (int)key->len, key->data, keyed_by);
    int64_t occurred = time_of(ev, "occurred_at");
    if (kind == SQ_GEN_CONTACT) {
        check_contact(ev, occurred, cs);
    } else if (kind == SQ_GEN_PROFILE) {
        cr_assert(in_list(str(ev, "tier"), tiers));
        cr_assert(json_is_boolean(json_object_get(ev, "enterprise")));
        cr_assert(json_integer_value(json_object_get(ev, "tenure_months")) >= 0);
        cr_assert(json_number_value(json_object_get(ev, "arpu")) >= 0);
        cs->profiles++;
    } else {
        cs->others++;
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
        check_valid(kind, topic, &key, &value, &cs);
    }
    double abandon = (double)cs.abandoned / cs.contacts;
    cr_assert(abandon >= 0.08 && abandon <= 0.15, "abandon share %.3f", abandon);
    cr_assert_gt(cs.short_abandons, cs.abandoned / 10, "short abandons %d of %d",
                 cs.short_abandons, cs.abandoned);
    cr_assert_lt(cs.short_abandons, cs.abandoned / 2);
    cr_assert(cs.callbacks > 35 && cs.callbacks < 350, "callbacks %d", cs.callbacks);
    cr_assert_gt(cs.voice, cs.contacts * 4 / 10, "voice %d of %d", cs.voice, cs.contacts);
    double prof = (double)cs.profiles / 10000;
    cr_assert(prof > 0.01 && prof < 0.03, "profile share %.3f", prof);
    cr_assert_gt(cs.others, 2000, "tickets, surveys, QA reviews, outages: %d", cs.others);
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
        if (kind >= SQ_GEN_DUPLICATE)
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

Test(gen, only_contacts_when_every_other_share_is_zero)
{
    struct sq_gen_opts o = contacts_only(12);
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
        } else if (kind < SQ_GEN_DUPLICATE) {
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
    struct sq_gen_opts o = contacts_only(17);
    o.rate = 1;
    o.customers = 10000000;
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
    cr_assert_eq(sq_gen_topic_index("sq.in.tickets"), SQ_GEN_T_TICKETS);
    cr_assert_eq(sq_gen_topic_index("sq.in.nope"), -1);
    for (int i = 0; i < SQ_GEN__TOPICS; i++) {
        cr_assert_eq(sq_gen_topic_index(sq_gen_topic_name(i)), i);
        cr_assert_not_null(sq_schema_lookup(sq_gen_topic_schema(i)), "%s",
                           sq_gen_topic_schema(i));
    }
    cr_assert_null(sq_gen_topic_name(SQ_GEN__TOPICS));
    cr_assert_str_eq(sq_gen_kind_name(SQ_GEN_QA_REVIEW), "qa_review");
}

/* ---- every event type -------------------------------------------------- */

/* The full mix at a low rate, so that lifecycles run their course: ~20000
 * messages over a few days of event time, following the day. */
static struct sq_gen_opts slow_mix(uint64_t seed)
{
    struct sq_gen_opts o = opts(seed);
    o.rate = 0.2;
    o.daily = true;
    o.outage_share = 0.005;
    return o;
}

Test(gen, same_seed_same_bytes_with_every_type)
{
    struct sq_gen_opts o = slow_mix(7);
    o.malformed_share = 0.03;
    o.duplicate_share = 0.03;
    struct sq_gen *a = sq_gen_new(&o), *b = sq_gen_new(&o);
    struct sq_buf ka, va, kb, vb;
    sq_buf_init(&ka);
    sq_buf_init(&va);
    sq_buf_init(&kb);
    sq_buf_init(&vb);
    int per_kind[SQ_GEN__KINDS] = {0};
    for (int i = 0; i < 20000; i++) {
        const char *ta, *tb;
        int kind = sq_gen_next(a, &ta, &ka, &va);
        cr_assert_eq(sq_gen_next(b, &tb, &kb, &vb), kind, "message %d: kinds differ", i);
        cr_assert_str_eq(ta, tb);
        cr_assert(ka.len == kb.len && memcmp(ka.data, kb.data, ka.len) == 0);
        cr_assert(va.len == vb.len && memcmp(va.data, vb.data, va.len) == 0,
                  "message %d differs: %.200s", i, va.data);
        per_kind[kind]++;
    }
    for (int k = 0; k < SQ_GEN__KINDS; k++)
        cr_assert_gt(per_kind[k], 10, "%s: %d", sq_gen_kind_name(k), per_kind[k]);
    cr_assert_eq(sq_gen_clock_ms(a), sq_gen_clock_ms(b));
    /* Another --start: other times, so other bytes. */
    struct sq_gen_opts o2 = o;
    o2.start_ms += 3600 * 1000;
    struct sq_gen *c = sq_gen_new(&o2);
    sq_gen_free(a);
    a = sq_gen_new(&o);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        const char *ta, *tc;
        sq_gen_next(a, &ta, &ka, &va);
        sq_gen_next(c, &tc, &kb, &vb);
        same += va.len == vb.len && memcmp(va.data, vb.data, va.len) == 0;
    }
    cr_assert_lt(same, 10);
    sq_buf_fini(&ka);
    sq_buf_fini(&va);
    sq_buf_fini(&kb);
    sq_buf_fini(&vb);
    sq_gen_free(a);
    sq_gen_free(b);
    sq_gen_free(c);
}

Test(gen, every_valid_message_is_valid_against_its_schema)
{
    struct sq_gen_opts o = slow_mix(21);
    o.duplicate_share = 0.02;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    struct contact_stats cs = {0};
    int per_kind[SQ_GEN__KINDS] = {0};
    for (int i = 0; i < 20000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        per_kind[kind]++;
        if (kind == SQ_GEN_DUPLICATE) { /* valid too, against the schema it names */
            json_t *ev = json_loadb(value.data, value.len, 0, NULL);
            cr_assert_not_null(ev);
            char why[512];
            cr_assert_eq(sq_h_validate_record(str(ev, "schema"), value.data, value.len, why,
                                              sizeof why),
                         0, "duplicate invalid: %s", why);
            json_decref(ev);
        } else if (kind < SQ_GEN_DUPLICATE) {
            check_valid(kind, topic, &key, &value, &cs);
        }
    }
    for (int k = 0; k <= SQ_GEN_DUPLICATE; k++)
        cr_assert_gt(per_kind[k], 20, "%s: %d", sq_gen_kind_name(k), per_kind[k]);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

/* |got - want| within 4 standard deviations of a binomial count. */
static void expect_count(const char *what, int got, int n, double share)
{
    double want = n * share, sd = sqrt(n * share * (1 - share));
    cr_assert(fabs(got - want) <= 4 * sd + 2, "%s: %d messages, %.0f expected", what, got,
              want);
}

Test(gen, shares_as_asked)
{
    struct sq_gen_opts o = opts(23);
    o.malformed_share = 0.02;
    o.duplicate_share = 0.03;
    o.profile_share = 0.05;
    o.ticket_share = 0.20;
    o.survey_share = 0.10;
    o.qa_share = 0.05;
    o.outage_share = 0.01;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    int per_kind[SQ_GEN__KINDS] = {0}, per_topic[SQ_GEN__TOPICS] = {0}, malformed = 0;
    const int n = 40000;
    for (int i = 0; i < n; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        per_kind[kind]++;
        per_topic[sq_gen_topic_index(topic)]++;
        malformed += kind >= SQ_GEN_MALFORMED_JSON;
    }
    expect_count("malformed", malformed, n, 0.02);
    expect_count("duplicates", per_kind[SQ_GEN_DUPLICATE], n, 0.03);
    expect_count("profiles", per_kind[SQ_GEN_PROFILE], n, 0.05);
    expect_count("tickets", per_kind[SQ_GEN_TICKET], n, 0.20);
    expect_count("surveys", per_kind[SQ_GEN_SURVEY], n, 0.10);
    expect_count("qa reviews", per_kind[SQ_GEN_QA_REVIEW], n, 0.05);
    expect_count("outages", per_kind[SQ_GEN_OUTAGE], n, 0.01);
    expect_count("contacts", per_kind[SQ_GEN_CONTACT], n, 0.54);
    /* Duplicates go back to the topic of their original. */
    expect_count("sq.in.tickets", per_topic[SQ_GEN_T_TICKETS], n, 0.20 * 1.03);
    /* Each topic gets the share sq_gen_topic_share gives it, and the
     * shares make up every message. */
    double all = 0;
    for (int t = 0; t < SQ_GEN__TOPICS; t++) {
        expect_count(sq_gen_topic_name(t), per_topic[t], n, sq_gen_topic_share(g, t));
        all += sq_gen_topic_share(g, t);
    }
    cr_assert(fabs(all - 1) < 1e-9, "topic shares add up to %g", all);
    cr_assert_eq(sq_gen_topic_share(g, SQ_GEN__TOPICS), 0);
    sq_gen_free(g);

    /* A zero share gives none of that type; shares above 1 in all are
     * scaled down to 1. */
    o = opts(24);
    o.ticket_share = 0;
    o.survey_share = 0.9;
    o.qa_share = 0.6;
    g = sq_gen_new(&o);
    const struct sq_gen_opts *in = sq_gen_options(g);
    double sum = in->malformed_share + in->duplicate_share + in->profile_share +
                 in->ticket_share + in->survey_share + in->qa_share + in->outage_share;
    cr_assert(fabs(sum - 1) < 1e-9, "shares add up to %g", sum);
    cr_assert(!sq_gen_topic_used(g, SQ_GEN_T_TICKETS));
    cr_assert(sq_gen_topic_used(g, SQ_GEN_T_QA));
    for (int i = 0; i < 5000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        cr_assert(kind != SQ_GEN_TICKET && kind != SQ_GEN_CONTACT, "%s", sq_gen_kind_name(kind));
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

/* ---- ticket lifecycles ---------------------------------------------------- */

enum { T_OPENED, T_ACK, T_UPDATED, T_RESOLVED, T_CLOSED, T_REOPENED, T_ESCALATED };
static const char *const statuses[] = {"opened",   "acknowledged", "updated",
                                       "resolved", "closed",       "reopened",
                                       "escalated_regulator", NULL};

/* Which status may follow which (a bit per status). */
#define B(s) (1u << (s))
static const unsigned next_ok[] = {
    [T_OPENED] = B(T_ACK) | B(T_UPDATED) | B(T_RESOLVED) | B(T_CLOSED) | B(T_ESCALATED),
    [T_ACK] = B(T_UPDATED) | B(T_RESOLVED) | B(T_CLOSED) | B(T_ESCALATED),
    [T_UPDATED] = B(T_UPDATED) | B(T_RESOLVED) | B(T_CLOSED) | B(T_ESCALATED),
    [T_RESOLVED] = B(T_CLOSED) | B(T_REOPENED),
    [T_CLOSED] = 0,
    [T_REOPENED] = B(T_UPDATED) | B(T_RESOLVED),
    [T_ESCALATED] = B(T_UPDATED) | B(T_RESOLVED) | B(T_CLOSED),
};

struct ticket {
    int last;
    int64_t last_ms, opened_ms, acked_ms, resolved_ms;
    char kind[16], category[32], customer[32];
    int severity, reopens;
    bool closed;
};

static int status_index(const char *s)
{
    for (int i = 0; statuses[i]; i++)
        if (strcmp(s, statuses[i]) == 0)
            return i;
    cr_assert_fail("status %s", s);
    return -1;
}

struct lifecycle_counts {
    int tickets, fresh, complete, ack_seen, ack_late, res_seen, res_late, reopened, escalated;
};

/* SPEC 4's default deadlines, hours. */
static double ack_h(const char *kind)
{
    return strcmp(kind, "fault") == 0 ? 4 : 24;
}

static double resolve_h(const char *kind, int severity)
{
    static const double fault[] = {4, 24, 48, 72};
    return strcmp(kind, "complaint") == 0 ? 120 : strcmp(kind, "inquiry") == 0 ? 72
                                                                               : fault[severity - 1];
}

/* One ticket event, in stream order, against what its ticket did before. */
static void ticket_step(struct sq_strmap *tickets, json_t *ev, struct lifecycle_counts *lc)
{
    const char *id = str(ev, "ticket_id");
    int st = status_index(str(ev, "status"));
    int64_t at = time_of(ev, "occurred_at");
    struct ticket *t = sq_strmap_get(tickets, id);
    if (!t) {
        t = calloc(1, sizeof *t);
        t->last = -1;
        t->opened_ms = t->acked_ms = t->resolved_ms = -1;
        snprintf(t->kind, sizeof t->kind, "%s", str(ev, "kind"));
        snprintf(t->category, sizeof t->category, "%s", str(ev, "category"));
        snprintf(t->customer, sizeof t->customer, "%s", str(ev, "customer_id"));
        t->severity = (int)json_integer_value(json_object_get(ev, "severity"));
        sq_strmap_put(tickets, id, t);
        lc->tickets++;
        lc->fresh += st == T_OPENED;
    } else {
        cr_assert(next_ok[t->last] & B(st), "%s: %s after %s", id, statuses[st],
                  statuses[t->last]);
        cr_assert_geq(at, t->last_ms, "%s: %s at an earlier time", id, statuses[st]);
        cr_assert_neq(st, T_OPENED, "%s opened twice", id);
    }
    /* One ticket keeps its kind, category, severity and customer. */
    cr_assert_str_eq(str(ev, "kind"), t->kind);
    cr_assert_str_eq(str(ev, "category"), t->category);
    cr_assert_str_eq(str(ev, "customer_id"), t->customer);
    cr_assert_eq(json_integer_value(json_object_get(ev, "severity")), t->severity);
    if (st == T_OPENED)
        t->opened_ms = at;
    bool resolves = st == T_RESOLVED || (st == T_CLOSED && t->last != T_RESOLVED);
    if ((st == T_ACK || resolves) && t->acked_ms < 0 && t->opened_ms >= 0) {
        t->acked_ms = at;
        lc->ack_seen++;
        lc->ack_late += at - t->opened_ms > ack_h(t->kind) * 3600000;
    }
    if (resolves && t->resolved_ms < 0 && t->opened_ms >= 0 && t->reopens == 0) {
        t->resolved_ms = at;
        lc->res_seen++;
        lc->res_late += at - t->opened_ms > resolve_h(t->kind, t->severity) * 3600000;
    }
    lc->reopened += st == T_REOPENED;
    t->reopens += st == T_REOPENED;
    lc->escalated += st == T_ESCALATED;
    if (st == T_CLOSED && t->opened_ms >= 0)
        lc->complete++;
    t->last = st;
    t->last_ms = at;
}

static void free_value(const char *k, void *v, void *arg)
{
    (void)k;
    (void)arg;
    free(v);
}

Test(gen, ticket_lifecycles_run_in_order_per_ticket)
{
    struct sq_gen_opts o = slow_mix(29);
    o.rate = 0.05; /* 40000 messages over ~9 days */
    o.ticket_share = 0.3;
    o.duplicate_share = 0; /* a redelivery repeats an earlier step */
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    struct sq_strmap tickets;
    sq_strmap_init(&tickets);
    struct lifecycle_counts lc = {0};
    int events = 0;
    for (int i = 0; i < 40000; i++) {
        const char *topic;
        if (sq_gen_next(g, &topic, &key, &value) != SQ_GEN_TICKET)
            continue;
        json_t *ev = json_loadb(value.data, value.len, 0, NULL);
        ticket_step(&tickets, ev, &lc);
        json_decref(ev);
        events++;
    }
    /* ~9 days of event time: most lifecycles complete, with late
     * acknowledgements and resolutions, reopenings and escalations, and
     * the backlog of tickets opened before the start shows up too. */
    cr_assert_gt(events, 10000);
    cr_assert(lc.fresh > lc.tickets / 3 && lc.fresh < lc.tickets, "%d of %d tickets opened here",
              lc.fresh, lc.tickets);
    cr_assert_gt(lc.complete, lc.fresh / 2, "%d of %d complete", lc.complete, lc.fresh);
    double ack_late = (double)lc.ack_late / lc.ack_seen;
    cr_assert(ack_late > 0.02 && ack_late < 0.2, "acknowledgements late: %d of %d", lc.ack_late,
              lc.ack_seen);
    double res_late = (double)lc.res_late / lc.res_seen;
    cr_assert(res_late > 0.02 && res_late < 0.25, "resolutions late: %d of %d", lc.res_late,
              lc.res_seen);
    cr_assert(lc.reopened > events / 200 && lc.reopened < events / 10, "reopened %d of %d",
              lc.reopened, events);
    cr_assert_gt(lc.escalated, 5, "regulator escalations %d", lc.escalated);
    sq_strmap_each(&tickets, free_value, NULL);
    sq_strmap_fini(&tickets);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

/* ---- what refers to contacts ---------------------------------------------- */

struct contact_ref {
    char customer[32], agent[64], channel[16], outcome[16];
};

struct feedback_counts {
    int surveys, survey_refs, ticket_refs, reviews, review_refs, tickets_from_contacts;
    int csat_n, csat5, csat_sum, csat_resolved_n, csat_unresolved_n;
    double csat_resolved_sum, csat_unresolved_sum;
    int nps_n, promoters, detractors, qa_fatal, qa_low;
    double qa_sum;
};

/* A contact_id that names a contact of this stream ("ct-SEED-N", not the
 * "ct-SEED-bN" of a contact from before it began). */
static bool in_stream(const char *contact_id)
{
    const char *dash = strrchr(contact_id, '-');
    return dash && dash[1] != 'b';
}

static struct contact_ref *earlier_contact(struct sq_strmap *contacts, json_t *ev)
{
    const char *id = str(ev, "contact_id");
    struct contact_ref *c = sq_strmap_get(contacts, id);
    cr_assert_not_null(c, "%s refers to unknown contact %s", str(ev, "event_id"), id);
    cr_assert_str_eq(str(ev, "customer_id"), c->customer, "%s: not the contact's customer",
                     str(ev, "event_id"));
    return c;
}

static void survey_seen(struct sq_strmap *contacts, struct sq_strmap *resolved, json_t *ev,
                        struct feedback_counts *fc)
{
    fc->surveys++;
    json_t *csat = json_object_get(ev, "csat"), *nps = json_object_get(ev, "nps");
    const char *outcome = NULL;
    if (str(ev, "ticket_id")) {
        cr_assert_not_null(sq_strmap_get(resolved, str(ev, "ticket_id")),
                           "survey of a ticket not resolved yet");
        fc->ticket_refs++;
    } else if (in_stream(str(ev, "contact_id"))) {
        struct contact_ref *c = earlier_contact(contacts, ev);
        cr_assert(c->outcome[0], "survey of an unanswered contact");
        outcome = c->outcome;
        fc->survey_refs++;
    }
    if (csat) {
        int v = (int)json_integer_value(csat);
        fc->csat_n++;
        fc->csat_sum += v;
        fc->csat5 += v == 5;
        if (outcome && strcmp(outcome, "resolved") == 0) {
            fc->csat_resolved_n++;
            fc->csat_resolved_sum += v;
        } else if (outcome && strcmp(outcome, "unresolved") == 0) {
            fc->csat_unresolved_n++;
            fc->csat_unresolved_sum += v;
        }
    }
    if (nps) {
        int v = (int)json_integer_value(nps);
        fc->nps_n++;
        fc->promoters += v >= 9;
        fc->detractors += v <= 6;
    }
}

static void review_seen(struct sq_strmap *contacts, json_t *ev, struct feedback_counts *fc)
{
    static const char *const recorded[] = {"voice", "chat", "app", NULL};
    fc->reviews++;
    double score = json_number_value(json_object_get(ev, "score"));
    fc->qa_sum += score;
    fc->qa_low += score < 60;
    fc->qa_fatal += json_array_size(json_object_get(ev, "fatal_errors")) > 0;
    if (!in_stream(str(ev, "contact_id")))
        return;
    struct contact_ref *c = earlier_contact(contacts, ev);
    cr_assert_str_eq(str(ev, "agent_id"), c->agent, "QA review names another agent");
    cr_assert(in_list(c->channel, recorded), "QA review of a %s contact", c->channel);
    fc->review_refs++;
}

static void contact_seen(struct sq_strmap *contacts, json_t *ev)
{
    struct contact_ref *c = calloc(1, sizeof *c);
    snprintf(c->customer, sizeof c->customer, "%s", str(ev, "customer_id"));
    snprintf(c->channel, sizeof c->channel, "%s", str(ev, "channel"));
    if (str(ev, "agent_id")) {
        snprintf(c->agent, sizeof c->agent, "%s", str(ev, "agent_id"));
        snprintf(c->outcome, sizeof c->outcome, "%s", str(ev, "outcome"));
    }
    free(sq_strmap_put(contacts, str(ev, "contact_id"), c));
}

Test(gen, surveys_reviews_and_tickets_follow_earlier_contacts)
{
    struct sq_gen_opts o = opts(31);
    o.duplicate_share = 0;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    struct sq_strmap contacts, resolved;
    sq_strmap_init(&contacts);
    sq_strmap_init(&resolved);
    struct feedback_counts fc = {0};
    for (int i = 0; i < 40000; i++) {
        const char *topic;
        int kind = sq_gen_next(g, &topic, &key, &value);
        if (kind >= SQ_GEN_DUPLICATE)
            continue;
        json_t *ev = json_loadb(value.data, value.len, 0, NULL);
        if (kind == SQ_GEN_CONTACT) {
            contact_seen(&contacts, ev);
        } else if (kind == SQ_GEN_SURVEY) {
            survey_seen(&contacts, &resolved, ev, &fc);
        } else if (kind == SQ_GEN_QA_REVIEW) {
            review_seen(&contacts, ev, &fc);
        } else if (kind == SQ_GEN_TICKET) {
            if (str(ev, "contact_id")) {
                earlier_contact(&contacts, ev);
                fc.tickets_from_contacts++;
            }
            const char *s = str(ev, "status");
            if (strcmp(s, "resolved") == 0 || strcmp(s, "closed") == 0)
                sq_strmap_put(&resolved, str(ev, "ticket_id"), &resolved);
        }
        json_decref(ev);
    }
    /* Nearly all refer to a contact or ticket of this stream. */
    cr_assert_gt(fc.survey_refs + fc.ticket_refs, fc.surveys * 9 / 10, "%d+%d of %d surveys",
                 fc.survey_refs, fc.ticket_refs, fc.surveys);
    cr_assert_gt(fc.ticket_refs, 0);
    cr_assert_gt(fc.review_refs, fc.reviews * 9 / 10);
    cr_assert_gt(fc.tickets_from_contacts, 500);
    /* CSAT J-shaped around 4, lower after an unresolved contact; NPS
     * with both promoters and detractors; QA scores in the 80s with a few
     * fatal errors and low scores. */
    double csat = (double)fc.csat_sum / fc.csat_n;
    cr_assert(csat > 3.4 && csat < 4.4, "CSAT mean %.2f", csat);
    cr_assert_gt(fc.csat5, fc.csat_n / 4, "CSAT 5: %d of %d", fc.csat5, fc.csat_n);
    cr_assert_gt(fc.csat_resolved_sum / fc.csat_resolved_n,
                 fc.csat_unresolved_sum / fc.csat_unresolved_n + 0.8);
    cr_assert(fc.promoters > fc.nps_n / 5 && fc.detractors > fc.nps_n / 10, "NPS %d/%d of %d",
              fc.promoters, fc.detractors, fc.nps_n);
    double qa = fc.qa_sum / fc.reviews;
    cr_assert(qa > 75 && qa < 92, "QA mean %.1f", qa);
    cr_assert(fc.qa_fatal > fc.reviews / 100 && fc.qa_fatal < fc.reviews / 10, "fatal %d of %d",
              fc.qa_fatal, fc.reviews);
    cr_assert(fc.qa_low > fc.reviews / 100 && fc.qa_low < fc.reviews / 8, "low %d of %d",
              fc.qa_low, fc.reviews);
    sq_strmap_each(&contacts, free_value, NULL);
    sq_strmap_fini(&contacts);
    sq_strmap_fini(&resolved);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

/* ---- outages and the day --------------------------------------------------- */

Test(gen, outages_start_and_end)
{
    struct sq_gen_opts o = contacts_only(37);
    o.rate = 0.05;
    o.outage_share = 0.02;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    json_t *started = json_object(); /* incident_id -> start ms */
    int active = 0, ended = 0, long_ones = 0, max_active = 0;
    for (int i = 0; i < 20000; i++) {
        const char *topic;
        if (sq_gen_next(g, &topic, &key, &value) != SQ_GEN_OUTAGE)
            continue;
        json_t *ev = json_loadb(value.data, value.len, 0, NULL);
        const char *id = str(ev, "incident_id");
        json_t *start = json_object_get(started, id);
        if (strcmp(str(ev, "status"), "started") == 0) {
            if (!start) { /* a repeated `started` is a status update */
                json_object_set_new(started, id, json_integer(time_of(ev, "occurred_at")));
                active++;
            }
        } else {
            cr_assert_not_null(start, "%s ended before it started", id);
            cr_assert_neq(json_integer_value(start), -1, "%s ended twice", id);
            long_ones += time_of(ev, "occurred_at") - json_integer_value(start) > 3600000;
            json_object_set_new(started, id, json_integer(-1));
            active--;
            ended++;
        }
        max_active = active > max_active ? active : max_active;
        json_decref(ev);
    }
    cr_assert_gt(ended, 30);
    cr_assert_leq(max_active, 2);
    cr_assert_gt(long_ones, ended / 5, "%d of %d outages longer than an hour", long_ones, ended);
    json_decref(started);
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

/* Messages per local (UTC+8) hour of the day over a few days. */
static void count_by_hour(bool daily, int *per_hour)
{
    struct sq_gen_opts o = contacts_only(41);
    o.rate = 0.05;
    o.daily = daily;
    struct sq_gen *g = sq_gen_new(&o);
    struct sq_buf key, value;
    sq_buf_init(&key);
    sq_buf_init(&value);
    for (int i = 0; i < 20000; i++) {
        const char *topic;
        sq_gen_next(g, &topic, &key, &value);
        int64_t local_s = sq_gen_clock_ms(g) / 1000 + 8 * 3600;
        per_hour[(local_s % 86400) / 3600]++;
    }
    sq_buf_fini(&key);
    sq_buf_fini(&value);
    sq_gen_free(g);
}

Test(gen, daily_profile_shapes_the_arrivals)
{
    double sum = 0;
    for (int m = 0; m < 1440; m++)
        sum += sq_gen_daily_factor(START_MS + (int64_t)m * 60000);
    cr_assert(fabs(sum / 1440 - 1) < 0.01, "mean factor %.3f", sum / 1440);
    /* 10:00 China time is 02:00Z; 04:00 China time is 20:00Z. */
    cr_assert_gt(sq_gen_daily_factor(INT64_C(1795572000000)), 1.5);
    cr_assert_lt(sq_gen_daily_factor(INT64_C(1795550400000)), 0.2);
    int daily[24] = {0}, flat[24] = {0};
    count_by_hour(true, daily);
    count_by_hour(false, flat);
    cr_assert_gt(daily[10], 5 * daily[4], "10:00 %d, 04:00 %d", daily[10], daily[4]);
    cr_assert(flat[10] < 2 * flat[4] && flat[4] < 2 * flat[10], "flat: 10:00 %d, 04:00 %d",
              flat[10], flat[4]);
}
