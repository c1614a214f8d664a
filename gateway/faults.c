/* faults.c: the SQGATE_FAULT crash points, the step-reply hold and the
 * stalled partition (only with -DSQ_FAULTS=ON). */
#include "faults.h"

#ifdef SQ_FAULTS
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether this pass through the point `name` is the one SQGATE_FAULT
 * chose: the point it names, after SQGATE_FAULT_AFTER passes (0 when
 * unset), counting only once the file SQGATE_FAULT_ARM_FILE exists when
 * that is set; true once. One fault is chosen per process, so one count
 * serves every point; step threads pass concurrently. */
static bool sq_fault_due(const char *name)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static long passes;
    static bool counting;
    const char *want = getenv("SQGATE_FAULT");
    if (!want || strcmp(want, name) != 0)
        return false;
    const char *arm = getenv("SQGATE_FAULT_ARM_FILE");
    if (arm && access(arm, F_OK) != 0)
        return false;
    pthread_mutex_lock(&mu);
    if (!counting) {
        const char *after = getenv("SQGATE_FAULT_AFTER");
        passes = after ? strtol(after, NULL, 10) : 0;
        counting = true;
    }
    bool due = passes-- == 0;
    pthread_mutex_unlock(&mu);
    return due;
}

void sq_fault_point(const char *name)
{
    if (!sq_fault_due(name))
        return;
    fprintf(stderr, "sqgate: fault point %s reached: killing myself\n", name);
    kill(getpid(), SIGKILL);
}

void sq_fault_hold(const char *name)
{
    if (!sq_fault_due(name))
        return;
    const char *ms = getenv("SQGATE_FAULT_HOLD_MS");
    const char *release = getenv("SQGATE_FAULT_RELEASE_FILE");
    long hold = ms ? strtol(ms, NULL, 10) : 10000;
    fprintf(stderr, "sqgate: fault point %s reached: holding %ld ms%s%s\n", name, hold,
            release ? " or until this file exists: " : "", release ? release : "");
    for (long waited = 0; waited < hold; waited += 50) {
        if (release && access(release, F_OK) == 0)
            break;
        usleep(50000);
    }
    fprintf(stderr, "sqgate: fault point %s: released\n", name);
}

bool sq_fault_named(const char *name)
{
    const char *want = getenv("SQGATE_FAULT");
    return want && strcmp(want, name) == 0;
}

bool sq_fault_partition(const char *name, const char *topic, int32_t partition)
{
    const char *t = getenv("SQGATE_FAULT_TOPIC");
    const char *n = getenv("SQGATE_FAULT_PARTITION");
    return t && strcmp(t, topic) == 0 && (!n || strtol(n, NULL, 10) == partition) &&
           sq_fault_due(name);
}
#else
typedef int sq_faults_unused;
#endif
