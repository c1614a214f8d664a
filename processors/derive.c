/* derive.c: contact.v1 derived fields, computed once per event (SPEC 2). */
#include "derive.h"

#include <math.h>
#include <string.h>

#include "sq_common.h"

static int sq_time_field(json_t *ev, const char *name, int64_t *out)
{
    const char *s = json_string_value(json_object_get(ev, name));
    return s ? sq_time_parse(s, out) : -1;
}

static double sq_num_field(json_t *ev, const char *name)
{
    json_t *v = json_object_get(ev, name);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

int sq_contact_derive(json_t *ev, const struct sq_settings *st, struct sq_contact_derived *out)
{
    int64_t arrived, ended, answered = 0;
    memset(out, 0, sizeof *out);
    if (sq_time_field(ev, "arrived_at", &arrived) || sq_time_field(ev, "ended_at", &ended))
        return -1;
    out->answered = sq_time_field(ev, "answered_at", &answered) == 0;
    const char *outcome = json_string_value(json_object_get(ev, "outcome"));
    out->callback_request = !out->answered && outcome && strcmp(outcome, "callback") == 0;
    out->abandoned = !out->answered && !out->callback_request;
    out->wait_ms = (out->answered ? answered : ended) - arrived;
    out->short_abandon = out->abandoned && out->wait_ms < st->sla_short_abandon_s * 1000;
    out->handle_ms = -1;
    if (out->answered)
        out->handle_ms = ended - answered +
                         (int64_t)llround((sq_num_field(ev, "hold_s") + sq_num_field(ev, "wrap_s")) * 1000.0);
    return 0;
}

json_t *sq_json_number(double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

json_t *sq_contact_derived_json(const struct sq_contact_derived *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "wait_s", sq_json_number((double)d->wait_ms / 1000.0));
    json_object_set_new(o, "handle_s", d->handle_ms >= 0
                                           ? sq_json_number((double)d->handle_ms / 1000.0)
                                           : json_null());
    json_object_set_new(o, "abandoned", json_boolean(d->abandoned));
    json_object_set_new(o, "short_abandon", json_boolean(d->short_abandon));
    json_object_set_new(o, "callback_request", json_boolean(d->callback_request));
    json_object_set_new(o, "repeat", json_boolean(d->repeat));
    return o;
}
