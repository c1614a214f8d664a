/* validate.h: the `validate` processor. */
#ifndef SQ_VALIDATE_H
#define SQ_VALIDATE_H

#include "processor.h"

extern const struct sq_processor sq_proc_validate;

#endif
