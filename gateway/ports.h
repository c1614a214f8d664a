/* ports.h: a free TCP port on the loopback interface, for the servers
 * `sqgate demo` and the benchmarks start (redis-server, admin HTTP). */
#ifndef SQ_PORTS_H
#define SQ_PORTS_H

/* A port that was free on 127.0.0.1 a moment ago; -1 on error. */
int sq_free_loopback_port(void);

#endif
