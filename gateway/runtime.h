/* runtime.h: `sqgate run`: the consumer-group pipeline loop (consume a
 * batch, run the chain, produce, one Redis step per partition, commit). */
#ifndef SQ_RUNTIME_H
#define SQ_RUNTIME_H

#include <signal.h>

#include "settings.h"

/* Runs until *stop becomes non-zero (set from a signal handler or another
 * thread), then shuts down cleanly within settings->shutdown_timeout_s.
 * A non-zero *hup (SIGHUP; may be NULL) is logged and cleared: nothing is
 * reloaded while running. Returns the process exit status: 0 clean, 2
 * infrastructure failure or a shutdown past its timeout. */
int sq_runtime_run(const struct sq_settings *st, volatile sig_atomic_t *stop,
                   volatile sig_atomic_t *hup);

#endif
