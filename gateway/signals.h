/* signals.h: the stop signals every long-running command handles alike,
 * and SIGHUP for `run`. */
#ifndef SQ_SIGNALS_H
#define SQ_SIGNALS_H

/* Installs handler for SIGINT and SIGTERM and ignores SIGPIPE (a closed
 * socket is an error return, not a death). */
void sq_signals_on_stop(void (*handler)(int));
/* Installs handler for SIGHUP (whose default would end the process: a
 * service manager's reload must not stop `run`). */
void sq_signals_on_hup(void (*handler)(int));

#endif
