/* chain_metrics.c: a small HTTP/1.0 GET for sqgate's admin port and the
 * parsing of the /metrics lines bench_chain uses (see chain_metrics.h). */
#include "chain_metrics.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const double sq_cb_e2e_bounds[SQ_METRICS_E2E_NBOUNDS] = {SQ_METRICS_E2E_BOUNDS};
static const double sq_cb_inside_bounds[SQ_METRICS_LATENCY_NBOUNDS] = {SQ_METRICS_LATENCY_BOUNDS};

static int sq_cb_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int sq_cb_http_get(int port, const char *path, struct sq_buf *body)
{
    int fd = sq_cb_connect(port);
    if (fd < 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    struct sq_buf resp;
    sq_buf_init(&resp);
    char chunk[16384];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        sq_buf_append(&resp, chunk, (size_t)got);
    close(fd);
    int status = -1;
    if (resp.len > 12 && sscanf(resp.data, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    const char *start = resp.len ? strstr(resp.data, "\r\n\r\n") : NULL;
    if (body && start)
        sq_buf_append(body, start + 4, resp.len - (size_t)(start + 4 - resp.data));
    sq_buf_fini(&resp);
    return status;
}

/* The value of the sample line that starts with `series` (the whole text
 * before the value); 0 when absent. */
static double sq_cb_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return 0;
}

/* Sum of every sample of a labelled family: lines "family{...} value". */
static double sq_cb_family_sum(const char *text, const char *family)
{
    size_t n = strlen(family);
    double sum = 0;
    for (const char *p = text; (p = strstr(p, family)) != NULL; p += n) {
        if ((p != text && p[-1] != '\n') || p[n] != '{')
            continue;
        const char *v = strstr(p, "} ");
        if (v)
            sum += strtod(v + 2, NULL);
    }
    return sum;
}

/* The cumulative buckets of histogram `family` with the given bounds, and
 * +Inf last, into out[0..n]. */
static void sq_cb_parse_hist(const char *text, const char *family, const double *bounds,
                             size_t n, double *out)
{
    for (size_t i = 0; i <= n; i++) {
        char le[32], series[128];
        if (i < n)
            sq_fmt_number(bounds[i], le);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(series, sizeof series, "%s_bucket{le=\"%s\"}", family, le);
        out[i] = sq_cb_sample(text, series);
    }
}

int sq_cb_metrics_read(int port, struct sq_cb_metrics *m)
{
    struct sq_buf body;
    sq_buf_init(&body);
    int status = sq_cb_http_get(port, "/metrics", &body);
    memset(m, 0, sizeof *m);
    if (status != 200 || !body.len) {
        sq_buf_fini(&body);
        return -1;
    }
    const char *t = body.data;
    m->consumed = sq_cb_sample(t, "sq_consumed_total");
    m->processed = sq_cb_sample(t, "sq_processed_total");
    m->duplicates = sq_cb_sample(t, "sq_duplicates_total");
    m->skipped = sq_cb_sample(t, "sq_skipped_total");
    m->batches = sq_cb_sample(t, "sq_batches_total");
    m->turns = sq_cb_sample(t, "sq_turns_total");
    static const char *const phases[SQ_CB_TURN__N] = {
        [SQ_CB_TURN_CHAIN] = "sq_turn_chain_microseconds_total",
        [SQ_CB_TURN_DELIVERY] = "sq_turn_delivery_wait_microseconds_total",
        [SQ_CB_TURN_REDIS] = "sq_turn_redis_wait_microseconds_total",
    };
    for (int k = 0; k < SQ_CB_TURN__N; k++)
        m->turn_us[k] = sq_cb_sample(t, phases[k]);
    m->idle_behind_us = sq_cb_sample(t, "sq_idle_behind_microseconds_total");
    m->redis_errors = sq_cb_sample(t, "sq_redis_errors_total");
    m->kafka_errors = sq_cb_sample(t, "sq_kafka_errors_total");
    m->dlq = sq_cb_family_sum(t, "sq_dlq_total");
    m->outputs = sq_cb_sample(t, "sq_outputs_total");
    m->kpi_records = sq_cb_sample(t, "sq_kpi_records_total");
    m->timers_armed = sq_cb_sample(t, "sq_timers_armed");
    m->profile_lookups = sq_cb_sample(t, "sq_profile_cache_lookups_total");
    m->profile_misses = sq_cb_sample(t, "sq_profile_cache_misses_total");
    sq_cb_parse_hist(t, "sq_end_to_end_latency_seconds", sq_cb_e2e_bounds, SQ_METRICS_E2E_NBOUNDS,
                     m->e2e);
    sq_cb_parse_hist(t, "sq_processing_latency_seconds", sq_cb_inside_bounds,
                     SQ_METRICS_LATENCY_NBOUNDS, m->inside);
    sq_buf_fini(&body);
    return 0;
}

/* The q-quantile between the cumulative buckets a[0..n] and b[0..n]. */
static double sq_cb_quantile(const double *a, const double *b, const double *bounds, size_t n,
                             double q)
{
    double total = b[n] - a[n];
    if (!(total > 0))
        return NAN;
    double rank = q * total;
    double prev_count = 0, prev_bound = 0;
    for (size_t i = 0; i < n; i++) {
        double count = b[i] - a[i];
        if (count >= rank) {
            double in_bucket = count - prev_count;
            double frac = in_bucket > 0 ? (rank - prev_count) / in_bucket : 1;
            return prev_bound + (bounds[i] - prev_bound) * frac;
        }
        prev_count = count;
        prev_bound = bounds[i];
    }
    return INFINITY;
}

double sq_cb_e2e_quantile(const struct sq_cb_metrics *a, const struct sq_cb_metrics *b, double q)
{
    return sq_cb_quantile(a->e2e, b->e2e, sq_cb_e2e_bounds, SQ_METRICS_E2E_NBOUNDS, q);
}

double sq_cb_inside_quantile(const struct sq_cb_metrics *a, const struct sq_cb_metrics *b,
                             double q)
{
    return sq_cb_quantile(a->inside, b->inside, sq_cb_inside_bounds, SQ_METRICS_LATENCY_NBOUNDS,
                          q);
}
