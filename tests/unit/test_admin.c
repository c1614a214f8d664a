/* test_admin.c: the admin HTTP server and the metrics it serves, fetched
 * over real sockets with a tiny HTTP/1.1 client (no curl). Criterion forks
 * a child per test, so each test starts its own server on 127.0.0.1:0. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin.h"
#include "metrics.h"

/* ---- a tiny HTTP client ------------------------------------------------ */

struct http_resp {
    int status;
    struct sq_buf head; /* status line and headers */
    struct sq_buf body;
};

static void http_resp_fini(struct http_resp *r)
{
    sq_buf_fini(&r->head);
    sq_buf_fini(&r->body);
}

/* Sends one request with Connection: close and reads to EOF. */
static void http_do(int port, const char *method, const char *path, struct http_resp *r)
{
    sq_buf_init(&r->head);
    sq_buf_init(&r->body);
    r->status = -1;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect: %s",
              strerror(errno));

    struct sq_buf req;
    sq_buf_init(&req);
    sq_buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
                   method, path);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        sq_buf_appendf(&req, "Content-Length: 5\r\n\r\nhello");
    else
        sq_buf_appendf(&req, "\r\n");
    for (size_t off = 0; off < req.len;) {
        ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        cr_assert(n > 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
    sq_buf_fini(&req);

    struct sq_buf raw;
    sq_buf_init(&raw);
    char chunk[4096];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        cr_assert(n >= 0, "recv: %s", strerror(errno));
        if (n == 0)
            break;
        sq_buf_append(&raw, chunk, (size_t)n);
    }
    close(fd);

    cr_assert(raw.len > 0, "empty response to %s %s", method, path);
    const char *sep = strstr(raw.data, "\r\n\r\n");
    cr_assert(sep, "no end of headers in: %s", raw.data);
    sq_buf_append(&r->head, raw.data, (size_t)(sep - raw.data) + 2);
    const char *body = sep + 4;
    size_t body_len = raw.len - (size_t)(body - raw.data);
    /* Connection: close, and MHD sends Content-Length for buffers: no chunking. */
    cr_assert(strstr(r->head.data, "chunked") == NULL);
    sq_buf_append(&r->body, body, body_len);
    if (!r->body.data)
        sq_buf_append(&r->body, "", 0);
    cr_assert(sscanf(raw.data, "HTTP/1.%*d %d", &r->status) == 1, "bad status line: %s",
              raw.data);
    sq_buf_fini(&raw);
}

static struct sq_admin *start_admin(void)
{
    struct sq_err err;
    struct sq_admin *adm = sq_admin_new("127.0.0.1:0", &err);
    cr_assert(adm, "sq_admin_new: %s", err.msg);
    cr_assert(sq_admin_port(adm) > 0);
    return adm;
}

/* GET path, expect status, return the body (caller frees). */
static char *get_body(int port, const char *path, int want_status)
{
    struct http_resp r;
    http_do(port, "GET", path, &r);
    cr_assert_eq(r.status, want_status, "GET %s: status %d, body %s", path, r.status,
                 r.body.data);
    char *out = sq_xstrdup(r.body.data);
    http_resp_fini(&r);
    return out;
}

/* The value of the sample line that starts with `series ` exactly, or NAN. */
static double sample_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NAN;
}

static bool has_series(const char *text, const char *series)
{
    return !isnan(sample_value(text, series));
}

/* ---- tests ------------------------------------------------------------- */

static const char *const counter_names[] = {
#define SQ_X(e, name, help) name,
    SQ_METRICS(SQ_X)
#undef SQ_X
};

Test(admin, counters_rendered_with_values)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    cr_assert_eq(sizeof(counter_names) / sizeof(counter_names[0]), SQ_M__COUNT);
    for (int m = 0; m < SQ_M__COUNT; m++) {
        sq_metrics_inc((enum sq_metric)m, (uint64_t)(m * 7 + 3));
        sq_metrics_inc((enum sq_metric)m, 1);
    }

    struct http_resp r;
    http_do(sq_admin_port(adm), "GET", "/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.head.data, "Content-Type: text/plain; version=0.0.4"), "%s",
              r.head.data);
    for (int m = 0; m < SQ_M__COUNT; m++) {
        uint64_t want = (uint64_t)(m * 7 + 4);
        cr_assert_eq(sq_metrics_get((enum sq_metric)m), want);
        cr_assert_str_eq(sq_metrics_name((enum sq_metric)m), counter_names[m]);
        char line[128];
        snprintf(line, sizeof(line), "\n%s %" PRIu64 "\n", counter_names[m], want);
        cr_assert(strstr(r.body.data, line), "missing %s in:\n%s", line + 1, r.body.data);
        snprintf(line, sizeof(line), "# TYPE %s counter\n", counter_names[m]);
        cr_assert(strstr(r.body.data, line), "missing %s", line);
        snprintf(line, sizeof(line), "# HELP %s %s\n", counter_names[m],
                 sq_metrics_help((enum sq_metric)m));
        cr_assert(strstr(r.body.data, line), "missing %s", line);
    }
    http_resp_fini(&r);

    sq_metrics_reset();
    char *body = get_body(sq_admin_port(adm), "/metrics", 200);
    for (int m = 0; m < SQ_M__COUNT; m++)
        cr_assert_eq(sample_value(body, counter_names[m]), 0.0, "%s not reset",
                     counter_names[m]);
    free(body);
    sq_admin_free(adm);
}

Test(admin, dlq_every_reason_present)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    sq_metrics_dlq_inc(SQ_DLQ_MALFORMED_JSON, 5);
    sq_metrics_dlq_inc(SQ_DLQ_OUTPUT_REJECTED, 2);
    sq_metrics_dlq_inc(SQ_DLQ_OUTPUT_REJECTED, 1);
    sq_metrics_dlq_inc(SQ_DLQ_NONE, 9); /* not a reason: ignored */
    cr_assert_eq(sq_metrics_dlq_get(SQ_DLQ_NONE), 0);

    char *body = get_body(sq_admin_port(adm), "/metrics", 200);
    cr_assert(strstr(body, "# TYPE sq_dlq_total counter\n"));
    cr_assert(strstr(body, "reason=\"none\"") == NULL);
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++) {
        char series[128];
        snprintf(series, sizeof(series), "sq_dlq_total{reason=\"%s\"}",
                 sq_dlq_reason_name((enum sq_dlq_reason)r));
        double want = r == SQ_DLQ_MALFORMED_JSON    ? 5
                      : r == SQ_DLQ_OUTPUT_REJECTED ? 3
                                                    : 0;
        cr_assert_eq(sample_value(body, series), want, "%s", series);
        cr_assert_eq((double)sq_metrics_dlq_get((enum sq_dlq_reason)r), want);
    }
    free(body);
    sq_admin_free(adm);
}

Test(admin, latency_histogram_cumulative)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    /* On a bound (le is inclusive), between bounds, below the first, above
     * the last, negative and NaN (both count as 0). */
    const double obs[] = {0.0005, 0.001, 0.003, 0.003, 0.2, 0.25, 1.7, 5.0, 12.0, 75.0, -1.0, NAN};
    const size_t nobs = sizeof(obs) / sizeof(obs[0]);
    double sum = 0;
    for (size_t i = 0; i < nobs; i++) {
        sq_metrics_observe_latency(obs[i]);
        sum += obs[i] > 0 ? obs[i] : 0;
    }

    char *body = get_body(sq_admin_port(adm), "/metrics", 200);
    cr_assert(strstr(body, "# TYPE sq_processing_latency_seconds histogram\n"));
    const double bounds[] = {SQ_METRICS_LATENCY_BOUNDS};
    cr_assert_eq(sizeof(bounds) / sizeof(bounds[0]), SQ_METRICS_LATENCY_NBOUNDS);
    const char *le_text[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                             "0.075", "0.1",    "0.15",  "0.2",  "0.25",  "0.3",
                             "0.4",   "0.5",    "0.75",  "1",    "2.5",   "5",
                             "10",    "30",     "60"};
    cr_assert_eq(sizeof le_text / sizeof le_text[0], SQ_METRICS_LATENCY_NBOUNDS);
    double prev = 0;
    for (size_t b = 0; b <= SQ_METRICS_LATENCY_NBOUNDS; b++) {
        char series[128];
        size_t want = 0;
        if (b < SQ_METRICS_LATENCY_NBOUNDS) {
            cr_assert_eq(strtod(le_text[b], NULL), bounds[b]);
            snprintf(series, sizeof(series),
                     "sq_processing_latency_seconds_bucket{le=\"%s\"}", le_text[b]);
            for (size_t i = 0; i < nobs; i++)
                want += (obs[i] > 0 ? obs[i] : 0) <= bounds[b];
        } else {
            snprintf(series, sizeof(series),
                     "sq_processing_latency_seconds_bucket{le=\"+Inf\"}");
            want = nobs;
        }
        double got = sample_value(body, series);
        cr_assert_eq(got, (double)want, "%s = %g, want %zu", series, got, want);
        cr_assert_geq(got, prev, "buckets not cumulative at %s", series);
        prev = got;
    }
    cr_assert_eq(sample_value(body, "sq_processing_latency_seconds_count"), (double)nobs);
    double got_sum = sample_value(body, "sq_processing_latency_seconds_sum");
    cr_assert(fabs(got_sum - sum) < 1e-6, "sum %g, want %g", got_sum, sum);
    free(body);
    sq_admin_free(adm);
}

/* The end-to-end histogram tells 120 ms from 240 ms: each falls in its
 * own bucket between 100 and 250 ms (a quantile is read from them). */
Test(admin, end_to_end_histogram_buckets)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    const double obs[] = {0.012, 0.12, 0.24, 0.24, 0.7};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        sq_metrics_observe_end_to_end(obs[i]);
    char *body = get_body(sq_admin_port(adm), "/metrics", 200);
    const double bounds[] = {SQ_METRICS_E2E_BOUNDS};
    cr_assert_eq(sizeof bounds / sizeof bounds[0], SQ_METRICS_E2E_NBOUNDS);
    const struct {
        const char *le;
        double want;
    } at[] = {{"0.01", 0}, {"0.02", 1}, {"0.03", 1}, {"0.1", 1},  {"0.15", 2},
              {"0.2", 2},  {"0.25", 4}, {"0.5", 4},  {"0.75", 5}, {"+Inf", 5}};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        char series[128];
        snprintf(series, sizeof series, "sq_end_to_end_latency_seconds_bucket{le=\"%s\"}",
                 at[k].le);
        double got = sample_value(body, series);
        cr_assert_eq(got, at[k].want, "%s = %g, want %g", series, got, at[k].want);
    }
    free(body);
    sq_admin_free(adm);
}

Test(admin, partition_gauges)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    int port = sq_admin_port(adm);
    /* applied up to 119, committed up to 99 */
    sq_metrics_partition_set("sq.in.contacts", 3, 150, 120, 100, 100);
    sq_metrics_partition_set("sq.in.contacts", 0, 10, -1, -1, -1); /* start unknown */
    sq_metrics_partition_set("sq.in.tickets", 1, -1, 42, 42, 42);  /* watermark unknown */
    sq_metrics_partition_set("we\"ird\\top\nic", 7, 9, 4, 4, 4); /* label escaping */
    /* nothing committed yet: the lag counts from where consumption starts */
    sq_metrics_partition_set("sq.in.contacts", 4, 70, 20, 20, -1);
    /* a watermark read before the last commit: no negative lag */
    sq_metrics_partition_set("sq.in.contacts", 5, 30, 32, 32, 32);

    char *body = get_body(port, "/metrics", 200);
    cr_assert(strstr(body, "# TYPE sq_partition_lag gauge\n"));
    cr_assert_eq(
        sample_value(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"3\"}"),
        50.0);
    cr_assert_eq(sample_value(body,
                              "sq_partition_committed_offset{topic=\"sq.in.contacts\","
                              "partition=\"3\"}"),
                 100.0);
    cr_assert(
        !has_series(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"0\"}"));
    cr_assert(!has_series(body, "sq_partition_committed_offset{topic=\"sq.in.contacts\","
                                "partition=\"0\"}"));
    cr_assert(
        !has_series(body, "sq_partition_lag{topic=\"sq.in.tickets\",partition=\"1\"}"));
    cr_assert_eq(sample_value(body,
                              "sq_partition_committed_offset{topic=\"sq.in.tickets\","
                              "partition=\"1\"}"),
                 42.0);
    cr_assert_eq(sample_value(body, "sq_partition_lag{topic=\"we\\\"ird\\\\top\\nic\","
                                    "partition=\"7\"}"),
                 5.0, "%s", body);
    cr_assert_eq(
        sample_value(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"4\"}"),
        50.0);
    cr_assert(!has_series(body, "sq_partition_committed_offset{topic=\"sq.in.contacts\","
                                "partition=\"4\"}"));
    cr_assert_eq(
        sample_value(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"5\"}"),
        0.0);
    cr_assert_eq(sq_metrics_lag_total(), 50 + 5 + 50);
    /* what no step applied: from the next offset, not the committed one */
    cr_assert(strstr(body, "# TYPE sq_partition_unapplied gauge\n"));
    cr_assert_eq(sample_value(body, "sq_partition_unapplied{topic=\"sq.in.contacts\","
                                    "partition=\"3\"}"),
                 30.0);
    cr_assert_eq(sample_value(body, "sq_partition_unapplied{topic=\"sq.in.contacts\","
                                    "partition=\"4\"}"),
                 50.0);
    cr_assert_eq(sample_value(body, "sq_partition_unapplied{topic=\"sq.in.contacts\","
                                    "partition=\"5\"}"),
                 0.0);
    cr_assert(!has_series(body, "sq_partition_unapplied{topic=\"sq.in.contacts\","
                                "partition=\"0\"}"));
    cr_assert(!has_series(body, "sq_partition_unapplied{topic=\"sq.in.tickets\","
                                "partition=\"1\"}"));
    cr_assert_eq(sq_metrics_unapplied_total(), 30 + 5 + 50);
    free(body);

    /* An update replaces, a removal drops the partition's lines. */
    sq_metrics_partition_set("sq.in.contacts", 3, 180, 175, 175, 175);
    sq_metrics_partition_remove("sq.in.tickets", 1);
    sq_metrics_partition_remove("sq.in.tickets", 99); /* unknown: no-op */
    body = get_body(port, "/metrics", 200);
    cr_assert_eq(
        sample_value(body, "sq_partition_lag{topic=\"sq.in.contacts\",partition=\"3\"}"),
        5.0);
    cr_assert(strstr(body, "sq.in.tickets") == NULL, "%s", body);
    cr_assert(strstr(body, "partition=\"3\"}") != NULL);
    free(body);
    sq_admin_free(adm);
}

Test(admin, readyz_flips_with_reason)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    int port = sq_admin_port(adm);

    char *body = get_body(port, "/readyz", 503); /* not ready until joined */
    cr_assert_str_eq(body, "not ready: starting\n");
    free(body);

    sq_metrics_set_ready(true, NULL);
    body = get_body(port, "/readyz", 200);
    cr_assert_str_eq(body, "ready\n");
    free(body);
    body = get_body(port, "/metrics", 200);
    cr_assert_eq(sample_value(body, "sq_ready"), 1.0);
    cr_assert_eq(sample_value(body, "sq_paused"), 0.0);
    cr_assert_eq(sample_value(body, "sq_timers_armed"), 0.0);
    free(body);

    sq_metrics_set_timers_armed(1234567);
    body = get_body(port, "/metrics", 200);
    cr_assert_eq(sample_value(body, "sq_timers_armed"), 1234567.0);
    free(body);

    sq_metrics_set_paused(true);
    sq_metrics_set_ready(false, "paused: redis unreachable");
    body = get_body(port, "/readyz", 503);
    cr_assert_str_eq(body, "not ready: paused: redis unreachable\n");
    free(body);
    body = get_body(port, "/metrics", 200);
    cr_assert_eq(sample_value(body, "sq_ready"), 0.0);
    cr_assert_eq(sample_value(body, "sq_paused"), 1.0);
    free(body);
    char why[64];
    cr_assert(!sq_metrics_ready(why, sizeof(why)));
    cr_assert_str_eq(why, "paused: redis unreachable");
    cr_assert(sq_metrics_paused());

    sq_metrics_set_paused(false);
    sq_metrics_set_ready(true, "ignored when ready");
    body = get_body(port, "/readyz", 200);
    cr_assert_str_eq(body, "ready\n");
    free(body);
    sq_admin_free(adm);
}

Test(admin, healthz_ok)
{
    sq_metrics_reset(); /* healthz does not depend on readiness */
    struct sq_admin *adm = start_admin();
    struct http_resp r;
    http_do(sq_admin_port(adm), "GET", "/healthz", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "ok\n");
    cr_assert(strstr(r.head.data, "Cache-Control: no-store"));
    http_resp_fini(&r);

    http_do(sq_admin_port(adm), "HEAD", "/healthz", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, 0, "HEAD sent a body: %s", r.body.data);
    http_resp_fini(&r);
    sq_admin_free(adm);
}

Test(admin, index_page_shows_state_and_counters)
{
    sq_metrics_reset();
    sq_metrics_inc(SQ_M_PROCESSED, 4242);
    sq_metrics_dlq_inc(SQ_DLQ_TOO_DEEP, 7);
    sq_metrics_set_ready(false, "paused: redis <down>");
    /* 90 behind the commits, 25 of them not applied yet */
    sq_metrics_partition_set("sq.in.contacts", 0, 100, 75, 10, 10);
    struct sq_admin *adm = start_admin();
    struct http_resp r;
    http_do(sq_admin_port(adm), "GET", "/", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.head.data, "text/html"));
    cr_assert(strstr(r.body.data, "not ready"));
    cr_assert(strstr(r.body.data, "redis &lt;down>"), "reason escaped: %s", r.body.data);
    cr_assert(strstr(r.body.data, "<td>sq_processed_total</td><td>4242</td>"));
    cr_assert(strstr(r.body.data, "<td>dlq too_deep</td><td>7</td>"));
    cr_assert(strstr(r.body.data, "<td>lag (all partitions)</td><td>90</td>"), "%s", r.body.data);
    cr_assert(strstr(r.body.data, "<td>not yet applied (all partitions)</td><td>25</td>"));
    cr_assert(strstr(r.body.data, "href=\"/metrics\""));
    http_resp_fini(&r);
    sq_metrics_set_ready(true, NULL);
    http_do(sq_admin_port(adm), "GET", "/", &r);
    cr_assert(strstr(r.body.data, "<p>ready</p>"));
    http_resp_fini(&r);
    sq_admin_free(adm);
}

Test(admin, not_found_and_method_not_allowed)
{
    struct sq_admin *adm = start_admin();
    int port = sq_admin_port(adm);
    const char *missing[] = {"/nope", "/metrics/", "/metricsx", "/healthz/extra"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        struct http_resp r;
        http_do(port, "GET", missing[i], &r);
        cr_assert_eq(r.status, 404, "GET %s gave %d", missing[i], r.status);
        http_resp_fini(&r);
    }
    const char *methods[] = {"POST", "PUT", "DELETE"};
    const char *paths[] = {"/metrics", "/healthz", "/readyz"};
    for (size_t m = 0; m < 3; m++) {
        for (size_t p = 0; p < 3; p++) {
            struct http_resp r;
            http_do(port, methods[m], paths[p], &r);
            cr_assert_eq(r.status, 405, "%s %s gave %d", methods[m], paths[p], r.status);
            cr_assert(strstr(r.head.data, "Allow: GET, HEAD"), "%s", r.head.data);
            http_resp_fini(&r);
        }
    }
    struct http_resp r;
    http_do(port, "POST", "/nope", &r);
    cr_assert_eq(r.status, 404);
    http_resp_fini(&r);
    sq_admin_free(adm);
}

/* Every line is a comment or a sample of a family declared by # TYPE; names
 * are valid Prometheus names; a histogram's series use its suffixes. */
Test(admin, exposition_format_valid)
{
    sq_metrics_reset();
    sq_metrics_inc(SQ_M_PROCESSED, 1);
    sq_metrics_observe_latency(0.01);
    sq_metrics_partition_set("sq.in.contacts", 0, 5, 3, 2, 2);
    struct sq_buf out;
    sq_buf_init(&out);
    sq_metrics_render(&out);
    cr_assert(out.len > 0 && out.data[out.len - 1] == '\n');

    char family[128] = "", type[32] = "";
    int nsamples = 0, nfamilies = 0;
    for (char *line = out.data, *next; *line; line = next) {
        char *nl = strchr(line, '\n');
        cr_assert(nl, "last line not terminated");
        *nl = '\0';
        next = nl + 1;
        cr_assert(line[0] != '\0', "empty line in the exposition");
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert(strchr(line + 7, ' '), "HELP without text: %s", line);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%127s %31s", family, type), 2, "%s", line);
            cr_assert(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
                          !strcmp(type, "histogram"),
                      "%s", line);
            size_t flen = strlen(family);
            for (size_t i = 0; i < flen; i++) {
                char c = family[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          c == ':' || (i > 0 && c >= '0' && c <= '9');
                cr_assert(ok, "invalid metric name %s", family);
            }
            if (!strcmp(type, "counter"))
                cr_assert(flen > 6 && !strcmp(family + flen - 6, "_total"), "%s", family);
            nfamilies++;
            continue;
        }
        cr_assert(line[0] != '#', "stray comment %s", line);
        cr_assert(family[0], "sample before any # TYPE: %s", line);
        size_t nlen = strcspn(line, "{ ");
        char name[160];
        cr_assert(nlen < sizeof(name));
        memcpy(name, line, nlen);
        name[nlen] = '\0';
        if (!strcmp(type, "histogram")) {
            size_t flen = strlen(family);
            cr_assert(!strncmp(name, family, flen) && (!strcmp(name + flen, "_bucket") ||
                                                       !strcmp(name + flen, "_sum") ||
                                                       !strcmp(name + flen, "_count")),
                      "%s not a series of %s", name, family);
        } else {
            cr_assert_str_eq(name, family);
        }
        const char *rest = line + nlen;
        if (*rest == '{') {
            const char *close = strstr(rest, "\"} ");
            cr_assert(close, "unterminated labels: %s", line);
            rest = close + 2;
        }
        cr_assert_eq(*rest, ' ', "%s", line);
        char *end;
        strtod(rest + 1, &end);
        cr_assert(end != rest + 1 && *end == '\0', "bad value in %s", line);
        nsamples++;
    }
    /* counters + dlq + 2 histograms + lag + unapplied + committed + ready + paused +
     * timers_armed + profile_cache_hit_ratio + dedupe_set_marks + dedupe_sets_sampled +
     * dedupe_sets_past_intset + build_info */
    cr_assert_eq(nfamilies, SQ_M__COUNT + 14);
    /* + buckets with +Inf, _sum, _count; lag, unapplied, committed, ready, paused,
     * timers_armed, profile_cache_hit_ratio, dedupe_set_marks (mean and max),
     * dedupe_sets_sampled, dedupe_sets_past_intset, build_info */
    cr_assert_eq(nsamples, SQ_M__COUNT + (SQ_DLQ__COUNT - 1) +
                               (SQ_METRICS_LATENCY_NBOUNDS + 3) +
                               (SQ_METRICS_E2E_NBOUNDS + 3) + 12);
    sq_buf_fini(&out);
}

Test(admin, bad_listen_addresses)
{
    const char *bad[] = {
        "",                /* empty */
        "127.0.0.1",       /* no port */
        "127.0.0.1:",      /* empty port */
        ":9464",           /* no host */
        "127.0.0.1:65536", /* port out of range */
        "127.0.0.1:-1",    /* negative */
        "127.0.0.1:94x4",  /* not a number */
        "[::1]:9464",      /* not IPv4 */
        "192.0.2.1:0",     /* TEST-NET-1: no local interface has it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sq_err err;
        sq_err_clear(&err);
        struct sq_admin *adm = sq_admin_new(bad[i], &err);
        cr_assert_null(adm, "\"%s\" was accepted", bad[i]);
        cr_assert_eq(err.kind, SQ_ERR_FATAL, "\"%s\"", bad[i]);
        cr_assert(err.msg[0] != '\0', "\"%s\" gave no message", bad[i]);
        cr_assert_str_eq(err.pointer, "admin.listen");
    }
    struct sq_err err;
    cr_assert_null(sq_admin_new(NULL, &err));
    sq_admin_free(NULL); /* accepted */
}

Test(admin, port_in_use)
{
    struct sq_admin *first = start_admin();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", sq_admin_port(first));
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_admin *second = sq_admin_new(listen, &err);
    cr_assert_null(second, "bound %s twice", listen);
    cr_assert_eq(err.kind, SQ_ERR_FATAL);
    cr_assert(strstr(err.msg, "in use"), "message: %s", err.msg);
    /* The first server still answers. */
    char *body = get_body(sq_admin_port(first), "/healthz", 200);
    free(body);
    sq_admin_free(first);

    /* Freed: the port can be bound again. */
    struct sq_admin *again = sq_admin_new(listen, &err);
    cr_assert_not_null(again, "rebinding %s after free: %s", listen, err.msg);
    sq_admin_free(again);
}

Test(admin, port_zero_and_address)
{
    struct sq_admin *a = start_admin();
    struct sq_err err;
    struct sq_admin *b = sq_admin_new("localhost:0", &err);
    cr_assert_not_null(b, "localhost:0: %s", err.msg);
    cr_assert_neq(sq_admin_port(a), sq_admin_port(b));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", sq_admin_port(a));
    cr_assert_str_eq(sq_admin_address(a), want);
    snprintf(want, sizeof(want), "127.0.0.1:%d", sq_admin_port(b));
    cr_assert_str_eq(sq_admin_address(b), want);
    char *body = get_body(sq_admin_port(b), "/healthz", 200);
    free(body);
    sq_admin_free(a);
    sq_admin_free(b);
}

#define WRITER_INCS 200000

static void *writer_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < WRITER_INCS; i++) {
        sq_metrics_inc(SQ_M_CONSUMED, 1);
        if (i % 1000 == 0)
            sq_metrics_partition_set("sq.in.contacts", i % 4, i + 10, i, i, i);
    }
    return NULL;
}

/* Scrapes while the "pipeline" writes: values only grow, none is lost. */
Test(admin, scrape_during_writes)
{
    sq_metrics_reset();
    struct sq_admin *adm = start_admin();
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, writer_main, NULL), 0);
    double prev = 0;
    for (int i = 0; i < 10; i++) {
        char *body = get_body(sq_admin_port(adm), "/metrics", 200);
        double v = sample_value(body, "sq_consumed_total");
        cr_assert(v >= prev && v <= WRITER_INCS, "scraped %g after %g", v, prev);
        prev = v;
        free(body);
    }
    pthread_join(writer, NULL);
    char *body = get_body(sq_admin_port(adm), "/metrics", 200);
    cr_assert_eq(sample_value(body, "sq_consumed_total"), (double)WRITER_INCS);
    free(body);
    sq_admin_free(adm);
}

/* docs/operations.md lists every endpoint and metric the code serves. */
Test(admin, operations_doc_lists_everything)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/operations.md", SQ_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    struct sq_buf doc;
    sq_buf_init(&doc);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sq_buf_append(&doc, chunk, n);
    fclose(f);
    cr_assert(doc.len > 0);
    cr_assert(strstr(doc.data, "## Admin HTTP and metrics"));

    for (int m = 0; m < SQ_M__COUNT; m++)
        cr_assert(strstr(doc.data, counter_names[m]), "docs miss %s", counter_names[m]);
    /* Every family name from a real render (# TYPE lines). */
    struct sq_buf out;
    sq_buf_init(&out);
    sq_metrics_render(&out);
    for (const char *t = strstr(out.data, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
        char family[128];
        cr_assert_eq(sscanf(t + 7, "%127s", family), 1);
        cr_assert(strstr(doc.data, family), "docs miss %s", family);
    }
    for (int r = SQ_DLQ_NONE + 1; r < SQ_DLQ__COUNT; r++)
        cr_assert(strstr(doc.data, sq_dlq_reason_name((enum sq_dlq_reason)r)),
                  "docs miss %s", sq_dlq_reason_name((enum sq_dlq_reason)r));
    const char *endpoints[] = {"/metrics", "/healthz", "/readyz"};
    for (size_t i = 0; i < 3; i++)
        cr_assert(strstr(doc.data, endpoints[i]), "docs miss %s", endpoints[i]);
    sq_buf_fini(&out);
    sq_buf_fini(&doc);
}
