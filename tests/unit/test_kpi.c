/* test_kpi.c: SPEC 6's KPI formulas (each service_level mode, nulls),
 * window sizes and UTC alignment, cell keys, the sq.out.kpi record, and the
 * aggregate processor in a chain: counters as HINCRBY ops in each message's
 * own ops, windows closed mid-batch with increments not yet stored, a late
 * event's revision 2, and no KPI records outside replay mode. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "config.h"
#include "kpi.h"
#include "store.h"

/* ---- formulas ----------------------------------------------------------- */

static struct sq_kpi_counters sample(void)
{
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    c.v[SQ_KC_OFFERED] = 10;
    c.v[SQ_KC_ANSWERED] = 7;
    c.v[SQ_KC_ANSWERED_IN_SLA] = 5;
    c.v[SQ_KC_ABANDONED] = 2;
    c.v[SQ_KC_SHORT_ABANDONED] = 1;
    c.v[SQ_KC_ABANDONED_IN_SLA] = 1;
    c.v[SQ_KC_CALLBACK_REQUESTS] = 1;
    c.v[SQ_KC_WAIT_ANSWERED_MS_SUM] = 70000;
    c.v[SQ_KC_HANDLE_MS_SUM] = 1050000;
    c.v[SQ_KC_TRANSFERS_SUM] = 3;
    c.v[SQ_KC_REPEAT] = 2;
    c.v[SQ_KC_CSAT_SUM] = 17;
    c.v[SQ_KC_CSAT_N] = 4;
    c.v[SQ_KC_NPS_PROMOTERS] = 3;
    c.v[SQ_KC_NPS_DETRACTORS] = 1;
    c.v[SQ_KC_NPS_N] = 5;
    c.v[SQ_KC_QA_SCORE_MILLI_SUM] = 171500;
    c.v[SQ_KC_QA_N] = 2;
    c.v[SQ_KC_QUALITY_SCORE_DECI_SUM] = 1553;
    c.v[SQ_KC_QUALITY_SCORE_N] = 2;
    return c;
}

static double kpi(const struct sq_kpi_counters *c, enum sq_kpi k, enum sq_sl_mode mode)
{
    double v = -12345;
    cr_assert(sq_kpi_value(c, k, mode, &v), "%s should be defined", sq_kpi_name(k));
    return v;
}

Test(kpi, formulas_by_hand)
{
    struct sq_kpi_counters c = sample();
    /* D = offered - short_abandoned - callback_requests = 10 - 1 - 1 = 8 */
    cr_assert_float_eq(kpi(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_AGAINST), 5.0 / 8, 1e-15);
    /* D - (abandoned - short_abandoned) = 8 - 1 = 7 */
    cr_assert_float_eq(kpi(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_IGNORED), 5.0 / 7, 1e-15);
    /* (answered_in_sla + abandoned_in_sla) / D = 6 / 8 */
    cr_assert_float_eq(kpi(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_MET), 0.75, 1e-15);
    cr_assert_float_eq(kpi(&c, SQ_KPI_ABANDON_RATE, SQ_SL_ABANDONS_AGAINST), 0.125, 1e-15);
    cr_assert_float_eq(kpi(&c, SQ_KPI_ASA_S, SQ_SL_ABANDONS_AGAINST), 10, 1e-12);
    cr_assert_float_eq(kpi(&c, SQ_KPI_AHT_S, SQ_SL_ABANDONS_AGAINST), 150, 1e-12);
    cr_assert_float_eq(kpi(&c, SQ_KPI_FCR_RATE, SQ_SL_ABANDONS_AGAINST), 5.0 / 7, 1e-15);
    cr_assert_float_eq(kpi(&c, SQ_KPI_TRANSFER_RATE, SQ_SL_ABANDONS_AGAINST), 3.0 / 7, 1e-15);
    cr_assert_float_eq(kpi(&c, SQ_KPI_CSAT_AVG, SQ_SL_ABANDONS_AGAINST), 4.25, 1e-15);
    cr_assert_float_eq(kpi(&c, SQ_KPI_NPS, SQ_SL_ABANDONS_AGAINST), 40, 1e-12);
    cr_assert_float_eq(kpi(&c, SQ_KPI_QA_AVG, SQ_SL_ABANDONS_AGAINST), 85.75, 1e-12);
    /* 1553 / 2 = 776.5 tenths: rounded half away from zero to 777 → 77.7 */
    cr_assert_eq(kpi(&c, SQ_KPI_QUALITY_SCORE_AVG, SQ_SL_ABANDONS_AGAINST), 77.7);
    /* the mode changes service_level only */
    cr_assert_eq(kpi(&c, SQ_KPI_ABANDON_RATE, SQ_SL_ABANDONS_MET),
                 kpi(&c, SQ_KPI_ABANDON_RATE, SQ_SL_ABANDONS_IGNORED));
}

Test(kpi, null_when_the_denominator_is_zero)
{
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    double v = 7;
    for (int k = 0; k < SQ_KPI__COUNT; k++)
        for (int mode = 0; mode < 3; mode++)
            cr_assert(!sq_kpi_value(&c, (enum sq_kpi)k, (enum sq_sl_mode)mode, &v),
                      "%s defined on empty counters", sq_kpi_name((enum sq_kpi)k));
    cr_assert_eq(v, 7, "an undefined KPI leaves *out alone");
    /* two long abandons, nothing answered: against and met give 0, ignored
     * has no denominator left */
    c.v[SQ_KC_OFFERED] = 2;
    c.v[SQ_KC_ABANDONED] = 2;
    cr_assert_eq(kpi(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_AGAINST), 0);
    cr_assert_eq(kpi(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_MET), 0);
    cr_assert(!sq_kpi_value(&c, SQ_KPI_SERVICE_LEVEL, SQ_SL_ABANDONS_IGNORED, &v));
    cr_assert_eq(kpi(&c, SQ_KPI_ABANDON_RATE, SQ_SL_ABANDONS_AGAINST), 1);
    cr_assert(!sq_kpi_value(&c, SQ_KPI_ASA_S, SQ_SL_ABANDONS_AGAINST, &v));
    cr_assert(!sq_kpi_value(&c, SQ_KPI_FCR_RATE, SQ_SL_ABANDONS_AGAINST, &v));
    /* only short abandons and callback requests: D = 0 */
    memset(&c, 0, sizeof c);
    c.v[SQ_KC_OFFERED] = 3;
    c.v[SQ_KC_ABANDONED] = 2;
    c.v[SQ_KC_SHORT_ABANDONED] = 2;
    c.v[SQ_KC_CALLBACK_REQUESTS] = 1;
    for (int mode = 0; mode < 3; mode++)
        cr_assert(!sq_kpi_value(&c, SQ_KPI_SERVICE_LEVEL, (enum sq_sl_mode)mode, &v));
    cr_assert(!sq_kpi_value(&c, SQ_KPI_ABANDON_RATE, SQ_SL_ABANDONS_AGAINST, &v));
}

Test(kpi, names_and_modes)
{
    cr_assert_str_eq(sq_kpi_counter_name(SQ_KC_OFFERED), "offered");
    cr_assert_str_eq(sq_kpi_counter_name(SQ_KC_QUALITY_SCORE_N), "quality_score_n");
    cr_assert_eq(SQ_KC__COUNT, 30);
    cr_assert_eq(SQ_KPI__COUNT, 10);
    cr_assert_null(sq_kpi_counter_name(SQ_KC__COUNT));
    cr_assert_eq(sq_kpi_counter_parse("tickets_overdue"), SQ_KC_TICKETS_OVERDUE);
    cr_assert_eq(sq_kpi_counter_parse("tickets"), -1);
    cr_assert_str_eq(sq_kpi_name(SQ_KPI_QUALITY_SCORE_AVG), "quality_score_avg");
    cr_assert_str_eq(sq_kpi_dim_name(SQ_KD_ALL), "all");
    cr_assert_str_eq(sq_kpi_dim_name(SQ_KD_AGENT), "agent");
    cr_assert_eq(sq_sl_mode_parse("abandons_against"), SQ_SL_ABANDONS_AGAINST);
    cr_assert_eq(sq_sl_mode_parse("abandons_ignored"), SQ_SL_ABANDONS_IGNORED);
    cr_assert_eq(sq_sl_mode_parse("abandons_met"), SQ_SL_ABANDONS_MET);
    cr_assert_eq(sq_sl_mode_parse("abandons"), -1);
}

/* ---- windows ------------------------------------------------------------ */

Test(kpi, window_sizes_parse)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m,1h", &w, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(w.n, 2);
    cr_assert_eq(w.v[0].size_ms, 900000);
    cr_assert_str_eq(w.v[0].label, "15m");
    cr_assert_eq(w.v[1].size_ms, 3600000);
    cr_assert_str_eq(w.v[1].label, "1h");
    /* sorted smallest first, spaces allowed, labels canonical */
    cr_assert_eq(sq_kpi_windows_parse(" 1d , 60m,90s,120s", &w, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(w.n, 4);
    cr_assert_str_eq(w.v[0].label, "90s");
    cr_assert_str_eq(w.v[1].label, "2m");
    cr_assert_str_eq(w.v[2].label, "1h");
    cr_assert_str_eq(w.v[3].label, "1d");
    cr_assert_eq(w.v[3].size_ms, 86400000);
    const char *bad[] = {"", "15", "15x", "0m", "m", "15m,", "15m,900s", "32d", "-5m",
                         "1s,2s,3s,4s,5s,6s,7s,8s,9s", "15 m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = '\0';
        cr_assert_eq(sq_kpi_windows_parse(bad[i], &w, msg, sizeof msg), -1, "accepted \"%s\"",
                     bad[i]);
        cr_assert_neq(msg[0], '\0', "no message for \"%s\"", bad[i]);
    }
}

Test(kpi, window_alignment_utc)
{
    int64_t t;
    cr_assert_eq(sq_time_parse("2026-11-25T10:14:59.999Z", &t), 0);
    int64_t ten = 1795600800000LL; /* 2026-11-25T10:00:00Z */
    cr_assert_eq(sq_kpi_window_start_ms(t, 900000), ten);
    cr_assert_eq(sq_kpi_window_start_ms(t + 1, 900000), ten + 900000, "10:15 starts the next");
    cr_assert_eq(sq_kpi_window_start_ms(t, 3600000), ten);
    /* an offset time aligns in UTC: 18:20 at +08:00 is 10:20Z */
    cr_assert_eq(sq_time_parse("2026-11-25T18:20:00+08:00", &t), 0);
    cr_assert_eq(sq_kpi_window_start_ms(t, 900000), ten + 900000);
    cr_assert_eq(sq_kpi_window_start_ms(t, 86400000), ten - 10 * 3600000LL);
    /* before 1970: floor, not truncation */
    cr_assert_eq(sq_kpi_window_start_ms(-1, 900000), -900000);
    cr_assert_eq(sq_kpi_window_start_ms(-900000, 900000), -900000);
    cr_assert_eq(sq_kpi_window_start_ms(0, 900000), 0);
}

Test(kpi, keys_escape_ids)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m", &w, msg, sizeof msg), 0);
    char *r = sq_kpi_redis_key_dup("sq:", SQ_KD_QUEUE, "a:b|c%", &w.v[0], 1795600800000LL);
    cr_assert_str_eq(r, "sq:kpi:queue:a%3Ab%7Cc%25:15m:1795600800");
    char *k = sq_kpi_kafka_key_dup(SQ_KD_ALL, "*", &w.v[0], 1795600800000LL);
    cr_assert_str_eq(k, "all|*|15m|1795600800");
    char *k2 = sq_kpi_kafka_key_dup(SQ_KD_AGENT, "x|y\n", &w.v[0], 0);
    cr_assert_str_eq(k2, "agent|x%7Cy%0A|15m|0");
    free(r);
    free(k);
    free(k2);
}

/* A cell's Redis key made from its Kafka key is the one made from its parts,
 * whatever bytes its key holds (a '|' or ':' in the key is escaped, so every
 * '|' of the Kafka key is a separator). */
Test(kpi, redis_key_of_cell_is_redis_key)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m,1h,1d", &w, msg, sizeof msg), 0);
    uint64_t x = 0x243F6A8885A308D3ULL;
    struct sq_buf id, a, b;
    sq_buf_init(&id);
    sq_buf_init(&a);
    sq_buf_init(&b);
    for (int i = 0; i < 5000; i++) {
        char key[24];
        size_t n = 1 + (size_t)(i % 20);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* every byte but NUL, with the separators and '%' often */
            static const char often[] = "|:%*";
            key[k] = x % 4 == 0 ? often[(x >> 8) % 4] : (char)(1 + (x >> 16) % 255);
        }
        key[n] = '\0';
        enum sq_kpi_dim dim = (enum sq_kpi_dim)(i % SQ_KD__COUNT);
        const struct sq_kpi_window *win = &w.v[(size_t)i % w.n];
        int64_t start = (int64_t)(x % 4000000000ULL) * 1000;
        sq_buf_reset(&id);
        sq_buf_reset(&a);
        sq_buf_reset(&b);
        sq_kpi_kafka_key_put(&id, dim, key, win, start);
        sq_kpi_redis_key_of_cell(&a, "sq:", id.data, id.len);
        sq_kpi_redis_key_put(&b, "sq:", dim, key, win, start);
        cr_assert_eq(a.len, b.len, "key %d", i);
        cr_assert_eq(memcmp(a.data, b.data, a.len), 0, "%.*s against %.*s", (int)a.len, a.data,
                     (int)b.len, b.data);
    }
    sq_buf_fini(&id);
    sq_buf_fini(&a);
    sq_buf_fini(&b);
}

/* The closer knows cells by their Kafka key only: parsing gives back the
 * dimension, the raw key, the window and its bounds; anything else is not
 * a cell. */
Test(kpi, cell_names_parse_back)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m,1h", &w, msg, sizeof msg), 0);
    char *k = sq_kpi_kafka_key_dup(SQ_KD_AGENT, "x|y\n%:", &w.v[1], 1795600800000LL);
    struct sq_kpi_cell c;
    cr_assert_eq(sq_kpi_cell_parse(k, &c), 0);
    cr_assert_eq(c.dim, SQ_KD_AGENT);
    cr_assert_str_eq(c.key, "x|y\n%:");
    cr_assert_str_eq(c.window.label, "1h");
    cr_assert_eq(c.window.size_ms, 3600000);
    cr_assert_eq(c.start_ms, 1795600800000LL);
    cr_assert_eq(c.end_ms, 1795604400000LL);
    sq_kpi_cell_fini(&c);
    free(k);
    cr_assert_eq(sq_kpi_cell_parse("all|*|15m|1795600800", &c), 0);
    cr_assert_eq(c.dim, SQ_KD_ALL);
    sq_kpi_cell_fini(&c);
    static const char *const bad[] = {
        "", "all|*|15m", "all|*|15m|1795600800|x", "team|a|15m|1795600800",
        "queue|a|15x|1795600800", "queue|a|60m|1795600800", "queue|a|15m|1795600801",
        "queue|a|15m|", "queue|a%G1|15m|1795600800", "queue|a%4|15m|1795600800", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(sq_kpi_cell_parse(bad[i], &c), -1, "%s", bad[i]);
}

/* ---- the record --------------------------------------------------------- */

Test(kpi, record_json)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m", &w, msg, sizeof msg), 0);
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    c.v[SQ_KC_OFFERED] = 4;
    c.v[SQ_KC_ANSWERED] = 3;
    c.v[SQ_KC_ANSWERED_IN_SLA] = 2;
    c.v[SQ_KC_ABANDONED] = 1;
    c.v[SQ_KC_ABANDONED_IN_SLA] = 1;
    c.v[SQ_KC_WAIT_ANSWERED_MS_SUM] = 45000;
    c.v[SQ_KC_HANDLE_MS_SUM] = 361500;
    json_t *rec = sq_kpi_record(SQ_KD_AGENT, "a:1", &w.v[0], 1795600800000LL + 900000, 3, &c,
                                SQ_SL_ABANDONS_AGAINST);
    char *s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
    /* SL 2/4, abandon rate 1/4, asa 45000/3000, aht 361500/3000, fcr 3/3,
     * transfers 0/3; no survey, QA or score: null */
    const char *want =
        "{\"dimension\":\"agent\",\"key\":\"a:1\",\"window\":\"15m\","
        "\"start\":\"2026-11-25T10:15:00.000Z\",\"end\":\"2026-11-25T10:30:00.000Z\","
        "\"revision\":3,\"counters\":{\"offered\":4,\"answered\":3,\"answered_in_sla\":2,"
        "\"abandoned\":1,\"short_abandoned\":0,\"abandoned_in_sla\":1,\"callback_requests\":0,"
        "\"wait_answered_ms_sum\":45000,\"handle_ms_sum\":361500,\"transfers_sum\":0,"
        "\"repeat\":0,\"resolved\":0,\"tickets_opened\":0,\"tickets_resolved\":0,"
        "\"tickets_overdue\":0,\"complaints\":0,\"regulator_escalations\":0,\"csat_sum\":0,"
        "\"csat_n\":0,\"nps_promoters\":0,\"nps_detractors\":0,\"nps_n\":0,"
        "\"qa_score_milli_sum\":0,\"qa_n\":0,\"qa_fatal\":0,\"breaches_minor\":0,"
        "\"breaches_major\":0,\"breaches_critical\":0,\"quality_score_deci_sum\":0,"
        "\"quality_score_n\":0},\"kpis\":{\"service_level\":0.5,\"abandon_rate\":0.25,"
        "\"asa_s\":15,\"aht_s\":120.5,\"fcr_rate\":1,\"transfer_rate\":0,\"csat_avg\":null,"
        "\"nps\":null,\"qa_avg\":null,\"quality_score_avg\":null}}";
    cr_assert_str_eq(s, want);
    free(s);
    json_decref(rec);
    /* a real with more than 15 digits is cut to 15 */
    c.v[SQ_KC_ANSWERED_IN_SLA] = 5;
    c.v[SQ_KC_ANSWERED] = 7;
    c.v[SQ_KC_OFFERED] = 7;
    c.v[SQ_KC_ABANDONED] = 0;
    c.v[SQ_KC_ABANDONED_IN_SLA] = 0;
    rec = sq_kpi_record(SQ_KD_ALL, "*", &w.v[0], 0, 1, &c, SQ_SL_ABANDONS_AGAINST);
    s = json_dumps(json_object_get(rec, "kpis"), JSON_COMPACT | JSON_REAL_PRECISION(15));
    cr_assert(strstr(s, "\"service_level\":0.714285714285714,"), "%s", s);
    free(s);
    json_decref(rec);
}

/* The record's text written directly is jansson's dump of sq_kpi_record,
 * byte for byte, over counters that give integers, reals, long reals,
 * nulls and negative values, in every service-level mode, and for keys
 * that need escapes or are not UTF-8. */
Test(kpi, record_text_is_the_dump_of_the_record)
{
    struct sq_kpi_windows w;
    char msg[256];
    cr_assert_eq(sq_kpi_windows_parse("15m,1h", &w, msg, sizeof msg), 0);
    const char *keys[] = {"a:1", "*", "q\"uo\\te\n", "\xc3\xa9t\xc3\xa9", "ag-billing-055",
                          "bad\xff" /* not UTF-8: jansson leaves the member out */};
    const enum sq_sl_mode modes[] = {SQ_SL_ABANDONS_AGAINST, SQ_SL_ABANDONS_IGNORED,
                                     SQ_SL_ABANDONS_MET};
    uint64_t x = 88172645463325252ULL;
    struct sq_buf b;
    sq_buf_init(&b);
    for (int round = 0; round < 600; round++) {
        struct sq_kpi_counters c;
        memset(&c, 0, sizeof c);
        for (int k = 0; k < SQ_KC__COUNT; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* mostly small counts, some zero, some large sums, a few negative */
            int64_t v = (int64_t)(x % 50);
            if (x % 7 == 0)
                v = 0;
            if (x % 11 == 0)
                v = (int64_t)(x % 100000000000ULL);
            if (x % 97 == 0)
                v = -v;
            c.v[k] = v;
        }
        const char *key = keys[round % 6];
        enum sq_kpi_dim dim = (enum sq_kpi_dim)(round % SQ_KD__COUNT);
        enum sq_sl_mode mode = modes[round % 3];
        const struct sq_kpi_window *win = &w.v[round % 2];
        int64_t start = 1795600800000LL + (int64_t)round * 900000;
        json_t *rec = sq_kpi_record(dim, key, win, start, round + 1, &c, mode);
        char *want = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
        sq_buf_reset(&b);
        sq_buf_append(&b, "x", 1); /* appends after what the buffer holds */
        sq_kpi_record_put(&b, dim, key, win, start, round + 1, &c, mode);
        cr_assert_str_eq(b.data + 1, want, "round %d", round);
        free(want);
        json_decref(rec);
    }
    sq_buf_fini(&b);
}

Test(kpi, counters_from_a_stored_hash)
{
    struct sq_kpi_counters c;
    memset(&c, 0, sizeof c);
    c.v[SQ_KC_OFFERED] = 1;
    json_t *h = json_pack("{s:s, s:s, s:s}", "offered", "4", "handle_ms_sum", "1200", "rev", "2");
    cr_assert_eq(sq_kpi_counters_add_hash(&c, h), 0);
    cr_assert_eq(c.v[SQ_KC_OFFERED], 5);
    cr_assert_eq(c.v[SQ_KC_HANDLE_MS_SUM], 1200);
    json_decref(h);
    h = json_pack("{s:s, s:s}", "answered", "x", "repeat", "3");
    cr_assert_eq(sq_kpi_counters_add_hash(&c, h), -1);
    cr_assert_eq(c.v[SQ_KC_ANSWERED], 0);
    cr_assert_eq(c.v[SQ_KC_REPEAT], 3);
    json_decref(h);
}

/* sq_kpi_counters_add_text gives what json_loads and sq_kpi_counters_add_hash
 * give, on the texts it reads itself and on those it leaves to jansson. */
Test(kpi, counters_from_a_stored_text)
{
    const char *texts[] = {
        "{}",
        "{\"offered\":\"4\",\"handle_ms_sum\":\"1200\",\"rev\":\"2\"}",
        "{\"answered\":\"x\",\"repeat\":\"3\"}",
        "{\"answered\":\"\",\"repeat\":\"-3\",\"nps_n\":\"99999999999999999999\"}",
        "{\"offered\":\"1\",\"offered\":\"7\"}",
        "{\"offered\":\"1\",\"csat_sum\":\"12 \",\"qa_n\":\" 5\"}",
        "{\"offered\": \"4\"}",
        "{\"off\\u0065red\":\"4\"}",
        "{\"offered\":4}",
        "{\"offered\":\"4\"} x",
        "{\"offered\":\"4\",}",
        "{\"offered\":\"4\"",
        "[\"offered\",\"4\"]",
        "{\"\":\"1\",\"é\":\"2\",\"answered\":\"1234567890123456789012345678901234\"}",
        "",
        "{",
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        struct sq_kpi_counters want, got;
        memset(&want, 0, sizeof want);
        want.v[SQ_KC_OFFERED] = 1;
        got = want;
        json_error_t jerr;
        json_t *h = json_loads(texts[t], 0, &jerr);
        int want_rc = sq_kpi_counters_add_hash(&want, h);
        json_decref(h);
        cr_assert_eq(sq_kpi_counters_add_text(&got, texts[t]), want_rc, "%s", texts[t]);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s", texts[t]);
    }
}

/* ---- the aggregate processor in a chain --------------------------------- */

/* An answered voice contact of customer cust that arrived at `arrived`,
 * waited 10 s and was handled 50 s (+ 1.5 s hold). */
static char *contact_dup(const char *eid, const char *cust, const char *arrived_hhmm)
{
    return sq_xasprintf(
        "{\"schema\":\"contact.v1\",\"event_id\":\"%s\",\"occurred_at\":\"2026-11-25T%s:59Z\","
        "\"customer_id\":\"%s\",\"region\":\"GD-SZ\",\"contact_id\":\"k-%s\","
        "\"channel\":\"voice\",\"queue\":\"billing\",\"arrived_at\":\"2026-11-25T%s:00Z\","
        "\"answered_at\":\"2026-11-25T%s:10Z\",\"ended_at\":\"2026-11-25T%s:59Z\","
        "\"hold_s\":1.5,\"outcome\":\"resolved\",\"reason\":\"billing\"}",
        eid, arrived_hhmm, cust, eid, arrived_hhmm, arrived_hhmm, arrived_hhmm);
}

struct agg_fixture {
    struct sq_settings st;
    struct sq_chain *chain;
    struct sq_store_mem *store;
    struct sq_batch batch;
    char *values[8];
    size_t nv;
};

static void agg_setup(struct agg_fixture *f, bool replay, const char *sizes)
{
    memset(f, 0, sizeof *f);
    sq_settings_defaults(&f->st);
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_set(&f->st, "windows.sizes", sizes, &errs), 0);
    f->st.replay_mode = replay;
    struct sq_err err;
    sq_err_clear(&err);
    f->chain = sq_chain_new(&f->st, &err);
    cr_assert_not_null(f->chain, "%s", err.msg);
    f->store = sq_store_mem_new();
}

static void agg_add(struct agg_fixture *f, char *value)
{
    struct sq_batch *b = &f->batch;
    b->msgs = realloc(b->msgs, (b->n + 1) * sizeof *b->msgs);
    struct sq_msg *m = &b->msgs[b->n];
    memset(m, 0, sizeof *m);
    m->topic = "sq.in.contacts";
    m->offset = (int64_t)f->nv + 1;
    m->value = value;
    m->value_len = strlen(value);
    m->default_schema = "contact.v1";
    snprintf(m->source, sizeof m->source, "sq.in.contacts/0/%lld", (long long)m->offset);
    b->n++;
    f->values[f->nv++] = value;
}

/* Runs the batch, applies its ops, keeps the messages for inspection. */
static void agg_run(struct agg_fixture *f)
{
    struct sq_err err;
    sq_err_clear(&err);
    f->batch.topic = "sq.in.contacts";
    f->batch.store = sq_store_mem_base(f->store);
    cr_assert_eq(sq_chain_run(f->chain, &f->batch, &err), SQ_OK, "%s", err.msg);
    size_t *dups = NULL, nd = 0;
    cr_assert_eq(sq_store_mem_apply(f->store, &f->batch.ops, &dups, &nd, &err), SQ_OK, "%s",
                 err.msg);
    free(dups);
}

static void agg_next_batch(struct agg_fixture *f)
{
    sq_batch_fini(&f->batch);
    memset(&f->batch, 0, sizeof f->batch);
}

static void agg_teardown(struct agg_fixture *f)
{
    sq_batch_fini(&f->batch);
    sq_chain_free(f->chain);
    sq_store_mem_free(f->store);
    sq_settings_free(&f->st);
    for (size_t i = 0; i < f->nv; i++)
        free(f->values[i]);
}

/* The i-th KPI record a message carries. */
static json_t *kpi_rec(const struct sq_msg *m, size_t i, const char **key, const char **source)
{
    json_t *e = json_array_get(m->kpi_records, i);
    cr_assert_not_null(e, "no KPI record %zu", i);
    if (key)
        *key = json_string_value(json_object_get(e, "key"));
    if (source)
        *source = json_string_value(json_object_get(e, "source"));
    /* the record as its text parses, kept on the entry (freed with it) */
    json_error_t jerr;
    json_t *rec = json_loads(json_string_value(json_object_get(e, "text")), 0, &jerr);
    cr_assert_not_null(rec, "KPI record %zu: %s", i, jerr.text);
    json_object_set_new(e, "record", rec);
    return rec;
}

static json_int_t counter(json_t *rec, const char *name)
{
    json_t *v = json_object_get(json_object_get(rec, "counters"), name);
    cr_assert(json_is_integer(v), "counter %s", name);
    return json_integer_value(v);
}

Test(aggregate, run_mode_counts_in_ops_and_closes_nothing)
{
    struct agg_fixture f;
    agg_setup(&f, false, "15m,1h");
    agg_add(&f, contact_dup("r1", "c1", "10:00"));
    agg_add(&f, contact_dup("r2", "c2", "11:00")); /* moves the watermark past 10:15 */
    agg_run(&f);
    for (size_t i = 0; i < f.batch.n; i++) {
        cr_assert_eq(f.batch.msgs[i].verdict, SQ_VERDICT_PROCESSED);
        cr_assert_null(f.batch.msgs[i].kpi_records, "run mode closes no window");
        for (size_t k = 0; k < f.batch.msgs[i].outputs_n; k++)
            cr_assert_str_neq(f.batch.msgs[i].outputs[k].topic, "sq.out.kpi");
    }
    /* the counters are in the store, one hash per cell, with the TTL in the op */
    const char *q15 = "sq:kpi:queue:billing:15m:1795600800";
    cr_assert_str_eq(sq_store_mem_hget(f.store, q15, "offered"), "1");
    cr_assert_str_eq(sq_store_mem_hget(f.store, q15, "answered_in_sla"), "1");
    cr_assert_str_eq(sq_store_mem_hget(f.store, q15, "wait_answered_ms_sum"), "10000");
    cr_assert_str_eq(sq_store_mem_hget(f.store, q15, "handle_ms_sum"), "50500");
    cr_assert_str_eq(sq_store_mem_hget(f.store, q15, "resolved"), "1");
    cr_assert_null(sq_store_mem_hget(f.store, q15, "abandoned"), "a zero is not written");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:kpi:all:*:1h:1795600800", "offered"), "1");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:kpi:all:*:1h:1795604400", "offered"), "1");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:kpi:region:GD-SZ:15m:1795604400", "offered"),
                     "1");
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:kpi:tier:unknown:15m:1795604400", "offered"),
                     "1");
    cr_assert_null(sq_store_mem_hget(f.store, "sq:kpi:agent:*:15m:1795600800", "offered"),
                   "no agent_id, no agent dimension");
    /* the ops name the TTL kpi.ttl_s: one counter-list op per cell */
    const struct sq_state_ops *ops = &f.batch.msgs[0].ops;
    bool seen = false;
    for (size_t k = 0; k + 3 < ops->argc; k++)
        if (strcmp(ops->argv[k], "V") == 0 && strcmp(ops->argv[k + 1], q15) == 0) {
            cr_assert_eq(seen, false, "one op per cell");
            cr_assert_str_eq(ops->argv[k + 2], "691200");
            struct sq_kpi_counters c;
            cr_assert(sq_op_kpi_counters(ops->argv[k + 3], ops->argvlen[k + 3], &c));
            cr_assert_eq(c.v[SQ_KC_OFFERED], 1);
            cr_assert_eq(c.v[SQ_KC_WAIT_ANSWERED_MS_SUM], 10000);
            cr_assert_eq(c.v[SQ_KC_ABANDONED], 0);
            /* the argument holds the nonzero counters only, 9 bytes each */
            size_t nz = 0;
            for (int j = 0; j < SQ_KC__COUNT; j++)
                nz += c.v[j] != 0;
            cr_assert_eq(ops->argvlen[k + 3], 9 * nz);
            cr_assert_not(sq_op_kpi_counters(ops->argv[k + 3], ops->argvlen[k + 3] - 1, &c),
                          "a cut record is not a counter list");
            char bad[9] = {(char)SQ_KC__COUNT};
            cr_assert_not(sq_op_kpi_counters(bad, sizeof bad, &c), "an unknown counter");
            seen = true;
        }
    cr_assert(seen, "no counter op on %s", q15);
    agg_teardown(&f);
}

Test(aggregate, a_duplicate_found_by_the_state_step_adds_nothing)
{
    struct agg_fixture f;
    agg_setup(&f, false, "15m");
    agg_add(&f, contact_dup("d1", "c1", "10:00"));
    struct sq_err err;
    sq_err_clear(&err);
    f.batch.topic = "sq.in.contacts";
    f.batch.store = sq_store_mem_base(f.store);
    cr_assert_eq(sq_chain_run(f.chain, &f.batch, &err), SQ_OK, "%s", err.msg);
    size_t idx = 0;
    sq_batch_mark_duplicates(&f.batch, &idx, 1);
    sq_batch_assemble_ops(&f.batch);
    size_t *dups = NULL, nd = 0;
    cr_assert_eq(sq_store_mem_apply(f.store, &f.batch.ops, &dups, &nd, &err), SQ_OK);
    free(dups);
    cr_assert_null(sq_store_mem_hget(f.store, "sq:kpi:all:*:15m:1795600800", "offered"));
    agg_teardown(&f);
}

Test(aggregate, kpi_enabled_false_writes_no_counter)
{
    struct agg_fixture f;
    agg_setup(&f, true, "15m");
    sq_chain_free(f.chain);
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_set(&f.st, "kpi.enabled", "false", &errs), 0);
    struct sq_err err;
    f.chain = sq_chain_new(&f.st, &err);
    agg_add(&f, contact_dup("n1", "c1", "10:00"));
    agg_add(&f, contact_dup("n2", "c1", "11:00"));
    agg_run(&f);
    cr_assert_null(sq_store_mem_hget(f.store, "sq:kpi:all:*:15m:1795600800", "offered"));
    cr_assert_null(f.batch.msgs[1].kpi_records);
    struct sq_msg carrier;
    memset(&carrier, 0, sizeof carrier);
    cr_assert_eq(sq_chain_flush_windows(f.chain, sq_store_mem_base(f.store), &carrier, &err),
                 SQ_OK);
    cr_assert_null(carrier.kpi_records);
    sq_msg_fini(&carrier);
    agg_teardown(&f);
}

Test(aggregate, close_mid_batch_late_event_revision_and_flush)
{
    struct agg_fixture f;
    agg_setup(&f, true, "15m");
    /* one batch: 10:00 and 11:00. The 11:00 contact moves the watermark to
     * 10:30, closing 10:00-10:15 while the 10:00 contact's increments are
     * still only in the batch's ops. */
    agg_add(&f, contact_dup("b1", "c1", "10:00"));
    agg_add(&f, contact_dup("b2", "c2", "11:00"));
    agg_run(&f);
    cr_assert_null(f.batch.msgs[0].kpi_records);
    const struct sq_msg *m = &f.batch.msgs[1];
    cr_assert_eq(json_array_size(m->kpi_records), 5, "queue, region, channel, tier, all");
    const char *want_keys[] = {"queue|billing|15m|1795600800", "region|GD-SZ|15m|1795600800",
                               "channel|voice|15m|1795600800", "tier|unknown|15m|1795600800",
                               "all|*|15m|1795600800"};
    for (size_t i = 0; i < 5; i++) {
        const char *key, *src;
        json_t *rec = kpi_rec(m, i, &key, &src);
        cr_assert_str_eq(key, want_keys[i]);
        cr_assert_str_eq(src, "watermark/1795602600000", "10:30 = 11:00 - grace 1800 s");
        cr_assert_eq(counter(rec, "offered"), 1);
        cr_assert_eq(counter(rec, "handle_ms_sum"), 50500);
        cr_assert_eq(json_integer_value(json_object_get(rec, "revision")), 1);
    }
    /* the sink put them after the scored record, on sq.out.kpi */
    cr_assert_eq(m->outputs_n, 6);
    cr_assert_str_eq(m->outputs[1].topic, "sq.out.kpi");
    cr_assert_str_eq(m->outputs[1].schema, "kpi.v1");
    cr_assert_str_eq(m->outputs[1].source, "watermark/1795602600000");

    /* a late contact at 10:05 updates the closed window: dirty, nothing yet */
    agg_next_batch(&f);
    agg_add(&f, contact_dup("b3", "c3", "10:05"));
    agg_run(&f);
    cr_assert_null(f.batch.msgs[0].kpi_records, "re-emitted at the next watermark move");
    /* 11:20 moves the watermark to 10:50: the dirty window again, revision 2,
     * with both contacts (read back from the store) */
    agg_next_batch(&f);
    agg_add(&f, contact_dup("b4", "c4", "11:20"));
    agg_run(&f);
    m = &f.batch.msgs[0];
    cr_assert_eq(json_array_size(m->kpi_records), 5);
    for (size_t i = 0; i < 5; i++) {
        const char *key;
        json_t *rec = kpi_rec(m, i, &key, NULL);
        cr_assert_str_eq(key, want_keys[i]);
        cr_assert_eq(json_integer_value(json_object_get(rec, "revision")), 2);
        cr_assert_eq(counter(rec, "offered"), 2);
        cr_assert_eq(counter(rec, "wait_answered_ms_sum"), 20000);
    }
    /* end of input: 11:00-11:15 and 11:15-11:30 close, in end order */
    struct sq_msg carrier;
    memset(&carrier, 0, sizeof carrier);
    struct sq_err err;
    sq_err_clear(&err);
    cr_assert_eq(sq_chain_flush_windows(f.chain, sq_store_mem_base(f.store), &carrier, &err),
                 SQ_OK, "%s", err.msg);
    cr_assert_eq(json_array_size(carrier.kpi_records), 10);
    const char *key, *src;
    json_t *rec = kpi_rec(&carrier, 0, &key, &src);
    cr_assert_str_eq(key, "queue|billing|15m|1795604400");
    cr_assert_str_eq(src, "watermark/1795605600000", "the greatest event time, 11:20");
    cr_assert_eq(counter(rec, "offered"), 1);
    kpi_rec(&carrier, 5, &key, NULL);
    cr_assert_str_eq(key, "queue|billing|15m|1795605300");
    sq_msg_fini(&carrier);
    /* a second flush has nothing left to close */
    memset(&carrier, 0, sizeof carrier);
    cr_assert_eq(sq_chain_flush_windows(f.chain, sq_store_mem_base(f.store), &carrier, &err),
                 SQ_OK);
    cr_assert_null(carrier.kpi_records);
    sq_msg_fini(&carrier);
    cr_assert_eq(sq_chain_too_late_total(f.chain), 0);
    agg_teardown(&f);
}

Test(aggregate, too_late_is_scored_not_aggregated)
{
    struct agg_fixture f;
    agg_setup(&f, true, "15m");
    sq_chain_free(f.chain);
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_set(&f.st, "windows.max_lateness_s", "3600", &errs), 0);
    struct sq_err err;
    f.chain = sq_chain_new(&f.st, &err);
    agg_add(&f, contact_dup("t1", "c1", "13:00")); /* watermark 12:30 */
    agg_run(&f);
    /* 11:00-11:15 ended 75 min before the watermark: too late by 15 min */
    agg_next_batch(&f);
    agg_add(&f, contact_dup("t2", "c2", "11:00"));
    agg_run(&f);
    cr_assert_eq(f.batch.msgs[0].verdict, SQ_VERDICT_PROCESSED);
    cr_assert_eq(f.batch.msgs[0].outputs_n, 1, "still scored");
    cr_assert_null(sq_store_mem_hget(f.store, "sq:kpi:all:*:15m:1795604400", "offered"));
    cr_assert_eq(sq_chain_too_late_total(f.chain), 1);
    /* 11:30-11:45 ended exactly 45 min before: aggregated (a late revision) */
    agg_next_batch(&f);
    agg_add(&f, contact_dup("t3", "c3", "11:30"));
    agg_run(&f);
    cr_assert_str_eq(sq_store_mem_hget(f.store, "sq:kpi:all:*:15m:1795606200", "offered"), "1");
    cr_assert_eq(sq_chain_too_late_total(f.chain), 1);
    agg_teardown(&f);
}

Test(aggregate, config_keys_and_their_checks)
{
    struct sq_settings st;
    sq_settings_defaults(&st);
    cr_assert_str_eq(st.windows_sizes, "15m,1h");
    cr_assert_eq(st.windows_max_lateness_s, 604800);
    cr_assert(st.kpi_enabled);
    cr_assert_str_eq(st.kpi_service_level_mode, "abandons_against");
    cr_assert_eq(st.kpi_ttl_s, 691200);
    cr_assert(!st.replay_mode, "only sqgate replay sets it");
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_set(&st, "windows.sizes", "15m,15x", &errs), -1);
    cr_assert_eq(errs.n, 1);
    cr_assert(strstr(errs.msgs[0], "windows.sizes") && strstr(errs.msgs[0], "15x"), "%s",
              errs.msgs[0]);
    cr_assert_str_eq(st.windows_sizes, "15m,1h", "a bad value leaves the key alone");
    cr_assert_eq(sq_config_set(&st, "kpi.service_level_mode", "abandons", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "kpi.service_level_mode", "abandons_met", &errs), 0);
    cr_assert_str_eq(st.kpi_service_level_mode, "abandons_met");
    cr_assert_eq(sq_config_set(&st, "windows.sizes", "5m, 1d", &errs), 0);
    cr_assert_str_eq(st.windows_sizes, "5m, 1d");
    sq_config_errors_fini(&errs);
    sq_settings_free(&st);
}
