/* enrich.h: the `enrich` processor. */
#ifndef SQ_ENRICH_H
#define SQ_ENRICH_H

#include "processor.h"

extern const struct sq_processor sq_proc_enrich;

/* "{prefix}profile:{escaped id}", malloc'd. */
char *sq_enrich_profile_key_dup(const struct sq_settings *st, const char *customer_id);

#endif
