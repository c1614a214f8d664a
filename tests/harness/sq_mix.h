/* sq_mix.h: input of every event type for integration tests: a `sqgate gen`
 * file of the full mix (or the mix its extra options ask for), its
 * envelopes produced to their input topics with kcat, and the applied
 * offsets of all those topics. */
#ifndef SQ_MIX_H
#define SQ_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sq_stack.h"

#define SQ_MIX_TOPICS 6

struct sq_mix {
    char *path;                        /* the envelope file (malloc'd) */
    const char *topics[SQ_MIX_TOPICS]; /* the input topics it has messages for */
    long counts[SQ_MIX_TOPICS];        /* messages per topic */
    int n;                             /* topics */
    long total;
};

/* `sqgate gen --count count --seed 42 --customers customers --start start
 * -o tmpdir/name` plus `extra` options (NULL-terminated, may be NULL);
 * asserts exit 0 and counts the messages per topic. */
void sq_mix_gen(struct sq_mix *m, const char *name, const char *count, const char *customers,
                const char *start, const char *const *extra);
void sq_mix_fini(struct sq_mix *m);

/* now - seconds as RFC 3339 UTC text, whole seconds, into buf. */
void sq_mix_time_ago(char *buf, size_t bufsz, int64_t seconds);

/* Produces the messages of every topic in file order, one kcat run per
 * topic, through "KEY\tVALUE" files in the test's directory. */
void sq_mix_produce(const struct sq_mix *m, const char *bootstrap);

/* Sum over m's topics of sq_stack_applied_total. */
int64_t sq_mix_applied_total(struct sq_stack *s, const struct sq_mix *m);
/* Waits until every message of every topic of m is applied in Redis. */
bool sq_mix_wait_applied(struct sq_stack *s, const struct sq_mix *m, int timeout_ms);

#endif
