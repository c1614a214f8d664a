/* faults.c: the SQGATE_FAULT crash points (only with -DSQ_FAULTS=ON). */
#include "faults.h"

#ifdef SQ_FAULTS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sq_fault_point(const char *name)
{
    static long passes = -1;
    const char *want = getenv("SQGATE_FAULT");
    if (!want || strcmp(want, name) != 0)
        return;
    if (passes < 0) {
        const char *after = getenv("SQGATE_FAULT_AFTER");
        passes = after ? strtol(after, NULL, 10) : 0;
    }
    if (passes-- > 0)
        return;
    fprintf(stderr, "sqgate: fault point %s reached: killing myself\n", name);
    kill(getpid(), SIGKILL);
}
#else
typedef int sq_faults_unused;
#endif
