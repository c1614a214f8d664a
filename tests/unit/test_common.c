/* test_common.c: time parsing/formatting, key escaping, number format,
 * decimal parsing, the string map. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sq_common.h"
#include "strmap.h"

Test(common, time_parse_utc_and_offsets)
{
    int64_t ms;
    cr_assert_eq(sq_time_parse("2026-11-25T10:15:00Z", &ms), 0);
    cr_assert_eq(ms, 1795601700000LL);
    cr_assert_eq(sq_time_parse("2026-11-25T18:15:00+08:00", &ms), 0);
    cr_assert_eq(ms, 1795601700000LL);
    cr_assert_eq(sq_time_parse("2026-11-25T10:15:00.1234Z", &ms), 0);
    cr_assert_eq(ms, 1795601700123LL);
    cr_assert_eq(sq_time_parse("1970-01-01T00:00:00Z", &ms), 0);
    cr_assert_eq(ms, 0);
    cr_assert_eq(sq_time_parse("2024-02-29T00:00:00Z", &ms), 0);
}

Test(common, time_parse_rejects)
{
    int64_t ms;
    const char *bad[] = {"2026-11-25T10:15:00", "2026-11-25 10:15", "2023-02-29T00:00:00Z",
                         "2026-13-01T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:15:00.Z",
                         "2026-11-25T10:15:00+0800", "x", "", "2026-11-25T10:15:00Zjunk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(sq_time_parse(bad[i], &ms), 0, "accepted %s", bad[i]);
}

Test(common, time_format_round_trip)
{
    char out[SQ_TIME_BUFSZ];
    sq_time_format(1795601700123LL, out);
    cr_assert_str_eq(out, "2026-11-25T10:15:00.123Z");
    sq_time_format(0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    int64_t ms;
    cr_assert_eq(sq_time_parse(out, &ms), 0);
    cr_assert_eq(ms, 0);
}

Test(common, time_format_is_gmtime)
{
    const int64_t edge[] = {0, -1, 1, 999, -999, -1000, -1001, 86399999, 86400000, -86400000,
                            -86400001, 951782400000LL, 951868800000LL, 4102444800000LL,
                            253402300799999LL, 253402300800000LL, -62167219200000LL,
                            -62167219200001LL, INT64_MAX / 4, INT64_MIN / 4};
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        int64_t ms;
        if (i < (int)(sizeof edge / sizeof edge[0])) {
            ms = edge[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = (int64_t)(x % 600000000000000ULL) - 300000000000000LL; /* ±9500 years */
        }
        char got[SQ_TIME_BUFSZ], want[SQ_TIME_BUFSZ];
        sq_time_format(ms, got);
        int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - secs * 1000));
        cr_assert_str_eq(got, want, "ms %lld", (long long)ms);
    }
}

Test(common, key_escape)
{
    const char id[] = "a:b|c%d\x01z";
    char *e = sq_key_escape_dup(id, sizeof id - 1);
    cr_assert_str_eq(e, "a%3Ab%7Cc%25d%01z");
    free(e);
}

Test(common, number_format)
{
    char out[32];
    sq_fmt_number(72.3, out);
    cr_assert_str_eq(out, "72.3");
    sq_fmt_number(100.0, out);
    cr_assert_str_eq(out, "100");
    sq_fmt_number(0.1 + 0.2, out);
    cr_assert_str_eq(out, "0.3");
    sq_fmt_number(-2.5, out);
    cr_assert_str_eq(out, "-2.5");
}

Test(common, buf_grows)
{
    struct sq_buf b;
    sq_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        sq_buf_appendf(&b, "%d,", i);
    cr_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    cr_assert_eq(b.data[b.len], '\0');
    sq_buf_fini(&b);
    sq_buf_fini(&b);
}

Test(common, i64_parse_is_strtoll)
{
    const char *v[] = {"0", "-0", "7", "-7", "123456789012345678", "-123456789012345678",
                       "1234567890123456789", "9223372036854775807", "-9223372036854775808",
                       "99999999999999999999", "", "-", "+5", " 5", "5x", "0012", "1e3", "--1"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(sq_i64_parse(v[i]), strtoll(v[i], NULL, 10), "%s", v[i]);
}

Test(common, strmap_ref_adds_once)
{
    struct sq_strmap m;
    sq_strmap_init(&m);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i % 10);
        void **slot = sq_strmap_ref(&m, key);
        *slot = (void *)((uintptr_t)*slot + 1);
    }
    cr_assert_eq(m.n, 10);
    cr_assert_eq((uintptr_t)sq_strmap_get(&m, "k3"), 10);
    cr_assert_eq(sq_strmap_del(&m, "k3"), (void *)10);
    cr_assert_null(*sq_strmap_ref(&m, "k3"), "a deleted key comes back empty");
    cr_assert_eq(m.n, 10);
    sq_strmap_fini(&m);
}
