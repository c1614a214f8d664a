/* derive.h: the derived fields of a contact.v1 event (SPEC 2): wait, handle
 * time, abandoned, short abandon, callback request. */
#ifndef SQ_DERIVE_H
#define SQ_DERIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "settings.h"

struct sq_contact_derived {
    int64_t wait_ms;
    int64_t handle_ms;      /* -1 when not answered */
    bool answered;
    bool abandoned;
    bool short_abandon;
    bool callback_request;
    bool repeat;            /* set by score (REPEAT_CONTACT) */
};

/* Computes the derived fields of a validated contact.v1 event. Returns 0, or
 * -1 when a required time is missing or not RFC 3339. */
int sq_contact_derive(json_t *ev, const struct sq_settings *st, struct sq_contact_derived *out);
/* {"wait_s", "handle_s", "abandoned", "short_abandon", "repeat"}: new ref. */
json_t *sq_contact_derived_json(const struct sq_contact_derived *d);
/* A JSON number: an integer when v is integral below 1e15 (SPEC 15). */
json_t *sq_json_number(double v);

#endif
