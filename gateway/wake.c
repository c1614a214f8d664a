/* wake.c: the main loop's wake-up (wake.h), a non-blocking pipe: a signal
 * is a byte written, a wait polls the read end and then empties it. A full
 * pipe drops a signal harmlessly, as one unread byte already wakes. */
#define _GNU_SOURCE /* pipe2 */
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sq_wake {
    int rfd, wfd;
};

struct sq_wake *sq_wake_new(struct sq_err *err)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        sq_err_set(err, SQ_ERR_FATAL, "", "cannot make the main loop's wake-up pipe: %s",
                   strerror(errno));
        return NULL;
    }
    struct sq_wake *w = sq_xcalloc(1, sizeof *w);
    w->rfd = fds[0];
    w->wfd = fds[1];
    return w;
}

void sq_wake_free(struct sq_wake *w)
{
    if (!w)
        return;
    close(w->rfd);
    close(w->wfd);
    free(w);
}

void sq_wake_signal(struct sq_wake *w)
{
    ssize_t n;
    do
        n = write(w->wfd, "w", 1);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full, and a wait wakes already */
}

int sq_wake_write_fd(const struct sq_wake *w)
{
    return w->wfd;
}

void sq_wake_wait(struct sq_wake *w, int wait_ms)
{
    struct pollfd p = {.fd = w->rfd, .events = POLLIN};
    if (wait_ms > 0 && poll(&p, 1, wait_ms) <= 0)
        return;
    char buf[256];
    while (read(w->rfd, buf, sizeof buf) > 0)
        ;
}
