/* signals.h: the stop signals every long-running command handles alike. */
#ifndef SQ_SIGNALS_H
#define SQ_SIGNALS_H

#include <stdbool.h>

/* Installs handler for SIGINT and SIGTERM (and SIGHUP when hup) and
 * ignores SIGPIPE (a closed socket is an error return, not a death). */
void sq_signals_on_stop(void (*handler)(int), bool hup);

#endif
