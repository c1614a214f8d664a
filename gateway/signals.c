/* signals.c: the stop signals every long-running command handles alike. */
#include "signals.h"

#include <signal.h>
#include <string.h>

void sq_signals_on_stop(void (*handler)(int), bool hup)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (hup)
        sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
