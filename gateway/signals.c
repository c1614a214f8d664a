/* signals.c: the stop signals every long-running command handles alike,
 * and SIGHUP for `run`. */
#include "signals.h"

#include <signal.h>
#include <string.h>

static void sq_signals_install(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void sq_signals_on_stop(void (*handler)(int))
{
    sq_signals_install(SIGINT, handler);
    sq_signals_install(SIGTERM, handler);
    signal(SIGPIPE, SIG_IGN);
}

void sq_signals_on_hup(void (*handler)(int))
{
    sq_signals_install(SIGHUP, handler);
}
