/* admin.h: the admin HTTP server (SPEC 12): /metrics, /healthz, /readyz.
 * Runs on libmicrohttpd's own thread and reads only atomics or snapshots
 * (gateway/metrics.h), so it never blocks the pipeline thread. Started and
 * stopped by the `run` command (gateway/main.c). */
#ifndef SQ_ADMIN_H
#define SQ_ADMIN_H

#include "sq_common.h"

struct sq_admin;

/* Binds exactly HOST of "HOST:PORT" (an IPv4 literal or a name such as
 * "localhost", resolved to IPv4 with getaddrinfo; "0.0.0.0" for every
 * interface) and starts serving. Port 0 picks a free port. Returns NULL and
 * fills err (SQ_ERR_FATAL; pointer "admin.listen") when the address is
 * malformed, cannot be resolved or bound (port in use), or the server does
 * not start. Free with sq_admin_free. */
struct sq_admin *sq_admin_new(const char *listen_addr, struct sq_err *err);

/* The port actually bound (the free one picked for port 0). */
int sq_admin_port(const struct sq_admin *adm);

/* "127.0.0.1:9464": the numeric address actually bound, for the start-up
 * log line. Lent; valid until sq_admin_free. */
const char *sq_admin_address(const struct sq_admin *adm);

/* Stops the server (waits for its thread) and frees it; accepts NULL. */
void sq_admin_free(struct sq_admin *adm);

#endif
