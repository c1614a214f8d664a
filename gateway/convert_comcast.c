/* convert_comcast.c: `sqgate convert comcast_complaints`: the Comcast
 * consumer complaints of 2015 (shared/data/README.md section 5) to ticket.v1
 * (kind complaint): an `opened` event at the filing time for every row and,
 * unless the status is Open, its status at that same time (the data gives no
 * later times). Times are the state's local time with US daylight saving. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert_cmd.h"

#define SQ_COMCAST_HEADER                                                                     \
    "Ticket #,Customer Complaint,Date,Date_month_year,Time,Received Via,City,State,"         \
    "Zip code,Status,Filing on Behalf of Someone"

enum { CF_TICKET = 0, CF_TEXT = 1, CF_DATE = 2, CF_TIME = 4, CF_STATE = 7, CF_STATUS = 9,
       CF__N = 11 };

/* Each state's postal code and the zone of most of its people (the data
 * names no city zone): standard offset in minutes, and whether it keeps US
 * daylight saving time. */
static const struct {
    const char *name, *code;
    int std_min;
    bool dst;
} sq_comcast_states[] = {
    {"Alabama", "AL", -360, true},        {"Alaska", "AK", -540, true},
    {"Arizona", "AZ", -420, false},       {"Arkansas", "AR", -360, true},
    {"California", "CA", -480, true},     {"Colorado", "CO", -420, true},
    {"Connecticut", "CT", -300, true},    {"Delaware", "DE", -300, true},
    {"District of Columbia", "DC", -300, true}, {"Florida", "FL", -300, true},
    {"Georgia", "GA", -300, true},        {"Hawaii", "HI", -600, false},
    {"Idaho", "ID", -420, true},          {"Illinois", "IL", -360, true},
    {"Indiana", "IN", -300, true},        {"Iowa", "IA", -360, true},
    {"Kansas", "KS", -360, true},         {"Kentucky", "KY", -300, true},
    {"Louisiana", "LA", -360, true},      {"Maine", "ME", -300, true},
    {"Maryland", "MD", -300, true},       {"Massachusetts", "MA", -300, true},
    {"Michigan", "MI", -300, true},       {"Minnesota", "MN", -360, true},
    {"Mississippi", "MS", -360, true},    {"Missouri", "MO", -360, true},
    {"Montana", "MT", -420, true},        {"Nebraska", "NE", -360, true},
    {"Nevada", "NV", -480, true},         {"New Hampshire", "NH", -300, true},
    {"New Jersey", "NJ", -300, true},     {"New Mexico", "NM", -420, true},
    {"New York", "NY", -300, true},       {"North Carolina", "NC", -300, true},
    {"North Dakota", "ND", -360, true},   {"Ohio", "OH", -300, true},
    {"Oklahoma", "OK", -360, true},       {"Oregon", "OR", -480, true},
    {"Pennsylvania", "PA", -300, true},   {"Rhode Island", "RI", -300, true},
    {"South Carolina", "SC", -300, true}, {"South Dakota", "SD", -360, true},
    {"Tennessee", "TN", -360, true},      {"Texas", "TX", -360, true},
    {"Utah", "UT", -420, true},           {"Vermont", "VT", -300, true},
    {"Virginia", "VA", -300, true},       {"Washington", "WA", -480, true},
    {"West Virginia", "WV", -300, true},  {"Wisconsin", "WI", -360, true},
    {"Wyoming", "WY", -420, true},
};

/* Case-insensitive ("District Of Columbia" occurs). */
static int sq_comcast_state(const char *name)
{
    for (size_t i = 0; i < sizeof sq_comcast_states / sizeof sq_comcast_states[0]; i++)
        if (strcasecmp(sq_comcast_states[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Day (1-based) of the n-th Sunday of y-m. 1970-01-01 was a Thursday. */
static int sq_comcast_sunday(int y, int m, int n)
{
    int64_t first = sq_conv_days_from_civil(y, m, 1);
    int wday = (int)((first + 4) % 7); /* 0 = Sunday */
    return 1 + (7 - wday) % 7 + 7 * (n - 1);
}

/* US daylight saving since 2007: from 02:00 on the second Sunday of March
 * to 02:00 on the first Sunday of November, local time (the repeated hour
 * reads as daylight time). */
static bool sq_comcast_is_dst(int y, int m, int d, int secs)
{
    int64_t t = sq_conv_days_from_civil(y, m, d) * 86400 + secs;
    int64_t on = sq_conv_days_from_civil(y, 3, sq_comcast_sunday(y, 3, 2)) * 86400 + 7200;
    int64_t off = sq_conv_days_from_civil(y, 11, sq_comcast_sunday(y, 11, 1)) * 86400 + 7200;
    return t >= on && t < off;
}

/* "dd-mm-yy", except that when the first number is 12 or less the field is
 * "mm-dd-yy" (README 5): 22-04-15 is 2015-04-22, 06-01-15 is 2015-06-01. */
static bool sq_comcast_date(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) != 8 || s[2] != '-' || s[5] != '-')
        return false;
    for (int i = 0; i < 8; i++)
        if (i != 2 && i != 5 && !isdigit((unsigned char)s[i]))
            return false;
    int a = (s[0] - '0') * 10 + (s[1] - '0');
    int b = (s[3] - '0') * 10 + (s[4] - '0');
    *y = 2000 + (s[6] - '0') * 10 + (s[7] - '0');
    if (a >= 13) {
        *d = a;
        *m = b;
    } else {
        *m = a;
        *d = b;
    }
    return sq_conv_valid_date(*y, *m, *d);
}

/* "h:mm:ss AM" / "h:mm:ss PM" to seconds after midnight. */
static bool sq_comcast_time(const char *s, int *out)
{
    int h = 0, mi, se, i = 0;
    while (isdigit((unsigned char)s[i]) && i < 2)
        h = h * 10 + (s[i++] - '0');
    const char *p = s + i;
    if (i == 0 || p[0] != ':' || !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) ||
        p[3] != ':' || !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]) ||
        p[6] != ' ' || (p[7] != 'A' && p[7] != 'P') || p[8] != 'M' || p[9] != '\0')
        return false;
    mi = (p[1] - '0') * 10 + (p[2] - '0');
    se = (p[4] - '0') * 10 + (p[5] - '0');
    if (h < 1 || h > 12 || mi > 59 || se > 59)
        return false;
    h %= 12;
    if (p[7] == 'P')
        h += 12;
    *out = h * 3600 + mi * 60 + se;
    return true;
}

/* The complaint's category from keywords of its title, first match wins:
 * billing, then service_attitude, then network_quality, else other. */
static const char *sq_comcast_category(const char *text)
{
    static const struct {
        const char *category;
        const char *words[10];
    } rules[] = {
        {"billing", {"bill", "charge", "fee", "price", "pricing", "payment", NULL}},
        {"service_attitude",
         {"customer service", "customer care", "rude", "agent", "representative", NULL}},
        {"network_quality",
         {"speed", "outage", "internet", "service", "slow", "connection", "disconnect", NULL}},
    };
    char low[512];
    size_t n = 0;
    for (; text[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)text[n]);
    low[n] = '\0';
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
        for (size_t w = 0; rules[r].words[w]; w++)
            if (strstr(low, rules[r].words[w]))
                return rules[r].category;
    return "other";
}

static int sq_comcast_emit(struct sq_conv *cv, char **f, const char *status, const char *at,
                           const char *region, const char *category)
{
    char *id = sq_xasprintf("comcast-%s-%s", f[CF_TICKET], status);
    char *customer = sq_xasprintf("comcast-%s", f[CF_TICKET]);
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("ticket.v1"));
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "occurred_at", json_string(at));
    json_object_set_new(ev, "customer_id", json_string(customer));
    json_object_set_new(ev, "region", json_string(region));
    json_object_set_new(ev, "ticket_id", json_string(f[CF_TICKET]));
    json_object_set_new(ev, "kind", json_string("complaint"));
    json_object_set_new(ev, "category", json_string(category));
    json_object_set_new(ev, "severity", json_integer(3));
    json_object_set_new(ev, "status", json_string(status));
    int rc = sq_conv_emit(cv, "sq.in.tickets", customer, ev);
    free(id);
    free(customer);
    return rc;
}

static int sq_comcast_row(struct sq_conv *cv, struct sq_conv_row *row)
{
    char **f = row->f;
    int y, m, d, secs;
    if (row->n != CF__N || !f[CF_TICKET][0] || strlen(f[CF_TICKET]) > 40 ||
        !sq_comcast_date(f[CF_DATE], &y, &m, &d) || !sq_comcast_time(f[CF_TIME], &secs)) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    int st = sq_comcast_state(f[CF_STATE]);
    if (st < 0) {
        sq_conv_skip(cv, "unknown_state");
        return 0;
    }
    const char *later;
    const char *status = f[CF_STATUS];
    if (strcmp(status, "Open") == 0)
        later = NULL;
    else if (strcmp(status, "Pending") == 0)
        later = "acknowledged";
    else if (strcmp(status, "Solved") == 0)
        later = "resolved";
    else if (strcmp(status, "Closed") == 0)
        later = "closed";
    else {
        sq_conv_skip(cv, "unknown_status");
        return 0;
    }
    int off = sq_comcast_states[st].std_min;
    if (sq_comcast_states[st].dst && sq_comcast_is_dst(y, m, d, secs))
        off += 60;
    int64_t utc = sq_conv_days_from_civil(y, m, d) * 86400 + secs - (int64_t)off * 60;
    char at[SQ_CONV_TIMESZ];
    sq_conv_format_time(utc, off, at);
    char region[8];
    snprintf(region, sizeof region, "US-%s", sq_comcast_states[st].code);
    const char *category = sq_comcast_category(f[CF_TEXT]);
    int rc = sq_comcast_emit(cv, f, "opened", at, region, category);
    if (rc == 0 && later)
        rc = sq_comcast_emit(cv, f, later, at, region, category);
    return rc;
}

int sq_convert_comcast(struct sq_conv *cv)
{
    return sq_conv_each_csv_row(cv, "comcast_complaints", SQ_COMCAST_HEADER, sq_comcast_row);
}
