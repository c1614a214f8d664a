/* admin.c: the admin HTTP server on libmicrohttpd's internal thread. We bind
 * the listening socket ourselves (exact host, port 0 = a free port, precise
 * bind errors) and hand it to MHD. Requests are routed through one table;
 * handlers fill a reply from atomics or snapshots and never block. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define SQ_ADMIN_MAGIC 0x5ad3141u
#define SQ_ADMIN_MAX_CONNECTIONS 64u
#define SQ_ADMIN_TIMEOUT_S 10u

struct sq_admin {
    unsigned magic;
    struct MHD_Daemon *mhd;
    int fd; /* our handle on the listening socket; MHD owns a dup */
    int port;
    char address[INET_ADDRSTRLEN + 8];
};

/* What a route handler fills; the dispatcher turns it into an MHD response. */
struct sq_admin_reply {
    unsigned status;
    const char *content_type; /* static */
    struct sq_buf body;
};

/* A route handler. rest is the part of the path after a prefix route's
 * path ("" for exact routes); conn gives query arguments
 * (MHD_lookup_connection_value). Runs on the MHD thread. */
typedef void (*sq_admin_handler)(struct sq_admin *adm, struct MHD_Connection *conn,
                                 const char *rest, struct sq_admin_reply *reply);

static void sq_admin_metrics(struct sq_admin *adm, struct MHD_Connection *conn,
                             const char *rest, struct sq_admin_reply *reply);
static void sq_admin_healthz(struct sq_admin *adm, struct MHD_Connection *conn,
                             const char *rest, struct sq_admin_reply *reply);
static void sq_admin_readyz(struct sq_admin *adm, struct MHD_Connection *conn,
                            const char *rest, struct sq_admin_reply *reply);
static void sq_admin_index(struct sq_admin *adm, struct MHD_Connection *conn,
                           const char *rest, struct sq_admin_reply *reply);

/* The routes, all GET (HEAD answered like GET without a body). A prefix
 * route (path ending in '/', e.g. "/api/customers/") matches longer paths. */
static const struct sq_admin_route {
    const char *path;
    bool prefix;
    sq_admin_handler fn;
} sq_admin_routes[] = {
    {"/metrics", false, sq_admin_metrics},
    {"/healthz", false, sq_admin_healthz},
    {"/readyz", false, sq_admin_readyz},
    {"/", false, sq_admin_index},
};

#define SQ_ADMIN_TEXT "text/plain; charset=utf-8"

static void sq_admin_metrics(struct sq_admin *adm, struct MHD_Connection *conn,
                             const char *rest, struct sq_admin_reply *reply)
{
    (void)adm, (void)conn, (void)rest;
    reply->status = MHD_HTTP_OK;
    reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
    sq_metrics_render(&reply->body);
}

static void sq_admin_healthz(struct sq_admin *adm, struct MHD_Connection *conn,
                             const char *rest, struct sq_admin_reply *reply)
{
    (void)adm, (void)conn, (void)rest;
    reply->status = MHD_HTTP_OK;
    sq_buf_append(&reply->body, "ok\n", 3);
}

static void sq_admin_readyz(struct sq_admin *adm, struct MHD_Connection *conn,
                            const char *rest, struct sq_admin_reply *reply)
{
    (void)adm, (void)conn, (void)rest;
    char why[256];
    if (sq_metrics_ready(why, sizeof(why))) {
        reply->status = MHD_HTTP_OK;
        sq_buf_append(&reply->body, "ready\n", 6);
    } else {
        reply->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        sq_buf_appendf(&reply->body, "not ready: %s\n", why);
    }
}

/* "/": a status page that reloads itself every 2 s: readiness and the
 * outcome counters, with links to the machine-readable endpoints. */
static void sq_admin_index(struct sq_admin *adm, struct MHD_Connection *conn,
                           const char *rest, struct sq_admin_reply *reply)
{
    (void)adm, (void)conn, (void)rest;
    char why[256];
    bool ready = sq_metrics_ready(why, sizeof(why));
    reply->status = MHD_HTTP_OK;
    reply->content_type = "text/html; charset=utf-8";
    struct sq_buf *b = &reply->body;
    sq_buf_appendf(b, "<!doctype html><html><head><meta charset=\"utf-8\">"
                      "<meta http-equiv=\"refresh\" content=\"2\"><title>sqgate</title>"
                      "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px}"
                      "td+td{text-align:right;font-family:monospace}</style></head><body>"
                      "<h1>sqgate</h1><p>%s</p><table>",
                   ready ? "ready" : "not ready");
    if (!ready) {
        /* why comes from our own code, but escape it anyway */
        sq_buf_appendf(b, "<tr><td>reason</td><td>");
        for (const char *p = why; *p; p++) {
            if (*p == '<')
                sq_buf_appendf(b, "&lt;");
            else if (*p == '&')
                sq_buf_appendf(b, "&amp;");
            else
                sq_buf_append(b, p, 1);
        }
        sq_buf_appendf(b, "</td></tr>");
    }
    for (int m = 0; m < SQ_M__COUNT; m++)
        sq_buf_appendf(b, "<tr><td>%s</td><td>%llu</td></tr>", sq_metrics_name((enum sq_metric)m),
                       (unsigned long long)sq_metrics_get((enum sq_metric)m));
    for (int r = 1; r < SQ_DLQ__COUNT; r++)
        sq_buf_appendf(b, "<tr><td>dlq %s</td><td>%llu</td></tr>",
                       sq_dlq_reason_name((enum sq_dlq_reason)r),
                       (unsigned long long)sq_metrics_dlq_get((enum sq_dlq_reason)r));
    sq_buf_appendf(b, "<tr><td>lag (all partitions)</td><td>%lld</td></tr>"
                      "<tr><td>not yet applied (all partitions)</td><td>%lld</td></tr></table>"
                      "<p><a href=\"/metrics\">/metrics</a> &middot; "
                      "<a href=\"/healthz\">/healthz</a> &middot; "
                      "<a href=\"/readyz\">/readyz</a></p></body></html>\n",
                   (long long)sq_metrics_lag_total(), (long long)sq_metrics_unapplied_total());
}

static const struct sq_admin_route *sq_admin_route_find(const char *url,
                                                        const char **rest)
{
    for (size_t i = 0; i < sizeof(sq_admin_routes) / sizeof(sq_admin_routes[0]); i++) {
        const struct sq_admin_route *rt = &sq_admin_routes[i];
        size_t n = strlen(rt->path);
        if (rt->prefix ? strncmp(url, rt->path, n) == 0 : strcmp(url, rt->path) == 0) {
            *rest = url + n;
            return rt;
        }
    }
    return NULL;
}

static enum MHD_Result sq_admin_send(struct MHD_Connection *conn,
                                     struct sq_admin_reply *reply, bool allow_header)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        reply->body.len, reply->body.len ? reply->body.data : (void *)"",
        MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow_header)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, reply->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* MHD's access handler: called once with the headers, then once per chunk
 * of body, then once more with *upload_data_size == 0; we answer then. */
static enum MHD_Result sq_admin_handle(void *cls, struct MHD_Connection *conn,
                                       const char *url, const char *method,
                                       const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls)
{
    static int sq_admin_seen; /* address only: marks "headers already seen" */
    struct sq_admin *adm = cls;
    (void)version, (void)upload_data;
    if (!adm || adm->magic != SQ_ADMIN_MAGIC)
        return MHD_NO;
    if (*con_cls == NULL) {
        *con_cls = &sq_admin_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* no route takes a body: discard it */
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct sq_admin_reply reply = {.status = MHD_HTTP_OK, .content_type = SQ_ADMIN_TEXT};
    sq_buf_init(&reply.body);
    bool allow_header = false;
    const char *rest = "";
    const struct sq_admin_route *rt = sq_admin_route_find(url, &rest);
    if (!rt) {
        reply.status = MHD_HTTP_NOT_FOUND;
        sq_buf_append(&reply.body, "not found\n", 10);
    } else if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
               strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        reply.status = MHD_HTTP_METHOD_NOT_ALLOWED;
        sq_buf_append(&reply.body, "method not allowed\n", 19);
        allow_header = true;
    } else {
        rt->fn(adm, conn, rest, &reply);
    }
    enum MHD_Result ret = sq_admin_send(conn, &reply, allow_header);
    sq_buf_fini(&reply.body);
    return ret;
}

/* MHD's own error messages (client resets, timeouts): debug level only. */
static void sq_admin_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    sq_debug("admin http: %s", line);
}

/* Splits "HOST:PORT" at the last ':'; host copied into host[hostsz]. */
static int sq_admin_parse_listen(const char *listen_addr, char *host, size_t hostsz,
                                 int *port, struct sq_err *err)
{
    const char *colon = listen_addr ? strrchr(listen_addr, ':') : NULL;
    if (!colon || colon == listen_addr)
        return sq_err_set(err, SQ_ERR_FATAL, "admin.listen",
                          "admin listen address \"%s\" is not HOST:PORT",
                          listen_addr ? listen_addr : "");
    size_t hlen = (size_t)(colon - listen_addr);
    if (hlen >= hostsz || memchr(listen_addr, ':', hlen))
        return sq_err_set(
            err, SQ_ERR_FATAL, "admin.listen",
            "admin listen host in \"%s\" is not an IPv4 address or host name",
            listen_addr);
    const char *p = colon + 1;
    long v = 0;
    if (*p == '\0')
        v = -1;
    for (; *p && v >= 0; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            v = -1;
        else
            v = v * 10 + (*p - '0');
    }
    if (v < 0 || v > 65535)
        return sq_err_set(err, SQ_ERR_FATAL, "admin.listen",
                          "admin listen port in \"%s\" is not a number from 0 to 65535",
                          listen_addr);
    memcpy(host, listen_addr, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return SQ_OK;
}

/* Resolves host (IPv4 only) and binds + listens on the first address that
 * takes it. Returns the socket or -1 with err filled. */
static int sq_admin_bind(const char *listen_addr, const char *host, int port,
                         struct sq_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "admin.listen", "admin listen host \"%s\": %s",
                   host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        /* Restarts rebind while old connections sit in TIME_WAIT; a live
         * listener on the port still makes bind fail. */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        sq_err_set(err, SQ_ERR_FATAL, "admin.listen", "admin cannot listen on %s: %s",
                   listen_addr, strerror(last_errno ? last_errno : EADDRNOTAVAIL));
    return fd;
}

struct sq_admin *sq_admin_new(const char *listen_addr, struct sq_err *err)
{
    char host[256];
    int port = 0;
    if (sq_admin_parse_listen(listen_addr, host, sizeof(host), &port, err) != SQ_OK)
        return NULL;
    int fd = sq_admin_bind(listen_addr, host, port, err);
    if (fd < 0)
        return NULL;

    struct sq_admin *adm = sq_xcalloc(1, sizeof(*adm));
    adm->magic = SQ_ADMIN_MAGIC;
    adm->fd = fd;
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    if (getsockname(fd, (struct sockaddr *)&sin, &slen) != 0 ||
        sin.sin_family != AF_INET) {
        sq_err_set(err, SQ_ERR_FATAL, "admin.listen", "admin getsockname on %s: %s",
                   listen_addr, strerror(errno));
        sq_admin_free(adm);
        return NULL;
    }
    adm->port = ntohs(sin.sin_port);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
    snprintf(adm->address, sizeof(adm->address), "%s:%d", ip, adm->port);

    /* MHD closes the socket it is given when it stops; whether it does so
     * when it fails to start is not documented. Give it a dup, so we close
     * ours exactly once either way. */
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mhd_fd < 0) {
        sq_err_set(err, SQ_ERR_FATAL, "admin.listen", "admin dup of listening socket: %s",
                   strerror(errno));
        sq_admin_free(adm);
        return NULL;
    }
    adm->mhd = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, sq_admin_handle,
        adm, MHD_OPTION_EXTERNAL_LOGGER, sq_admin_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)mhd_fd, MHD_OPTION_CONNECTION_LIMIT, SQ_ADMIN_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, SQ_ADMIN_TIMEOUT_S, MHD_OPTION_END);
    if (!adm->mhd) {
        sq_err_set(err, SQ_ERR_FATAL, "admin.listen",
                   "admin HTTP server on %s did not start", listen_addr);
        sq_admin_free(adm);
        return NULL;
    }
    if (err)
        sq_err_clear(err);
    return adm;
}

int sq_admin_port(const struct sq_admin *adm)
{
    return adm->port;
}

const char *sq_admin_address(const struct sq_admin *adm)
{
    return adm->address;
}

void sq_admin_free(struct sq_admin *adm)
{
    if (!adm)
        return;
    if (adm->mhd)
        MHD_stop_daemon(adm->mhd); /* joins its thread, closes its dup */
    if (adm->fd >= 0)
        close(adm->fd);
    adm->magic = 0;
    free(adm);
}
