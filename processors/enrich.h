/* enrich.h: the `enrich` processor. */
#ifndef SQ_ENRICH_H
#define SQ_ENRICH_H

#include <stdint.h>

#include "processor.h"

extern const struct sq_processor sq_proc_enrich;

/* "{prefix}profile:{escaped id}", malloc'd. */
char *sq_enrich_profile_key_dup(const struct sq_settings *st, const char *customer_id);

/* The profile lookups of the events enriched so far (an event with a
 * customer_id), and of them the ones the cache did not answer: a batch
 * reads each customer it misses once, so those are the reads. */
void sq_enrich_cache_counts(const void *ctx, uint64_t *lookups, uint64_t *misses);

#endif
