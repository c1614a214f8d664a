/* demo.h: `sqgate demo`: an embedded librdkafka mock cluster, a local
 * redis-server, the load generator, the gateway and a live terminal view. */
#ifndef SQ_DEMO_H
#define SQ_DEMO_H

#include <signal.h>

/* argv: the options after "demo" (--seconds N, --rate N). Returns the exit
 * status. Stops on *stop (SIGINT/SIGTERM) or after --seconds. */
int sq_demo_main(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
