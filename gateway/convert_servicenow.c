/* convert_servicenow.c: `sqgate convert servicenow_incidents`: the
 * ServiceNow incident audit log (shared/data/README.md section 3) to
 * ticket.v1, one event per update row in file order, with an `opened` event
 * at opened_at first for an incident whose first row is not New. The zone
 * is unknown: times are read as UTC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert_cmd.h"
#include "strmap.h"

#define SQ_SN_HEADER                                                                          \
    "number,incident_state,active,reassignment_count,reopen_count,sys_mod_count,made_sla,"   \
    "caller_id,opened_by,opened_at,sys_created_by,sys_created_at,sys_updated_by,"            \
    "sys_updated_at,contact_type,location,category,subcategory,u_symptom,cmdb_ci,impact,"    \
    "urgency,priority,assignment_group,assigned_to,knowledge,u_priority_confirmation,"       \
    "notify,problem_id,rfc,vendor,caused_by,closed_code,resolved_by,resolved_at,closed_at"

enum {
    SF_NUMBER = 0, SF_STATE = 1, SF_REOPEN = 4, SF_MODCOUNT = 5, SF_CALLER = 7,
    SF_OPENED_AT = 9, SF_UPDATED_AT = 13, SF_CATEGORY = 16, SF_PRIORITY = 22, SF__N = 36
};

/* What the rows so far said about one incident. */
struct sq_sn_incident {
    uint64_t rows;          /* its rows so far, skipped ones included */
    bool opened;            /* an `opened` event was written */
    bool acknowledged;      /* an Active row was seen */
    bool have_reopen;
    long long reopen_count; /* of its previous converted row */
};

/* "D/M/YYYY HH:MM" (no zone) to "YYYY-MM-DDTHH:MM:00+00:00". */
static bool sq_sn_time(const char *s, char out[SQ_CONV_TIMESZ])
{
    int v[5] = {0}, k = 0, nd = 0;
    static const char seps[] = "// :";
    for (const char *p = s;; p++) {
        if (*p >= '0' && *p <= '9') {
            if (++nd > 4)
                return false;
            v[k] = v[k] * 10 + (*p - '0');
        } else if (nd > 0 && k < 4 && *p == seps[k]) {
            k++;
            nd = 0;
        } else if (*p == '\0' && k == 4 && nd == 2) {
            break;
        } else {
            return false;
        }
    }
    if (v[2] < 1000 || !sq_conv_valid_date(v[2], v[1], v[0]) || v[3] > 23 || v[4] > 59)
        return false;
    int64_t utc = sq_conv_days_from_civil(v[2], v[1], v[0]) * 86400 + v[3] * 3600 + v[4] * 60;
    sq_conv_format_time(utc, 0, out);
    return true;
}

static int sq_sn_emit(struct sq_conv *cv, char **f, const char *event_id, const char *at,
                      const char *status, int severity)
{
    const char *category = strcmp(f[SF_CATEGORY], "?") == 0 || !f[SF_CATEGORY][0]
                               ? "unknown" : f[SF_CATEGORY];
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("ticket.v1"));
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "occurred_at", json_string(at));
    json_object_set_new(ev, "customer_id", json_string(f[SF_CALLER]));
    json_object_set_new(ev, "ticket_id", json_string(f[SF_NUMBER]));
    json_object_set_new(ev, "kind", json_string("fault"));
    json_object_set_new(ev, "category", json_string(category));
    json_object_set_new(ev, "severity", json_integer(severity));
    json_object_set_new(ev, "status", json_string(status));
    return sq_conv_emit(cv, "sq.in.tickets", f[SF_CALLER], ev);
}

static int sq_sn_row(struct sq_conv *cv, struct sq_conv_row *row, struct sq_strmap *incidents)
{
    char **f = row->f;
    if (row->n != SF__N || !f[SF_NUMBER][0] || strlen(f[SF_NUMBER]) > 64) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    struct sq_sn_incident *inc = sq_strmap_get(incidents, f[SF_NUMBER]);
    if (!inc) {
        inc = sq_xcalloc(1, sizeof *inc);
        sq_strmap_put(incidents, f[SF_NUMBER], inc);
    }
    uint64_t index = inc->rows++;
    const char *state = f[SF_STATE];
    if (strcmp(state, "-100") == 0) {
        sq_conv_skip(cv, "state_-100");
        return 0;
    }
    size_t caller_len = strlen(f[SF_CALLER]);
    if (strcmp(f[SF_CALLER], "?") == 0 || caller_len == 0 || caller_len > 64) {
        sq_conv_skip(cv, "no_caller");
        return 0;
    }
    char opened_at[SQ_CONV_TIMESZ], updated_at[SQ_CONV_TIMESZ];
    long long reopen, modcount;
    const char *pr = f[SF_PRIORITY];
    if (!sq_sn_time(f[SF_OPENED_AT], opened_at) || !sq_sn_time(f[SF_UPDATED_AT], updated_at) ||
        !sq_conv_int(f[SF_REOPEN], &reopen) || !sq_conv_int(f[SF_MODCOUNT], &modcount) ||
        pr[0] < '1' || pr[0] > '4' || (pr[1] != '\0' && pr[1] != ' ')) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    int severity = pr[0] - '0';
    const char *status;
    const char *at = updated_at;
    if (inc->have_reopen && reopen > inc->reopen_count) {
        status = "reopened";
    } else if (strcmp(state, "New") == 0) {
        status = inc->opened ? "updated" : "opened";
        if (!inc->opened)
            at = opened_at;
    } else if (strcmp(state, "Active") == 0) {
        status = inc->acknowledged ? "updated" : "acknowledged";
        inc->acknowledged = true;
    } else if (strncmp(state, "Awaiting ", 9) == 0) {
        status = "updated";
    } else if (strcmp(state, "Resolved") == 0) {
        status = "resolved";
    } else if (strcmp(state, "Closed") == 0) {
        status = "closed";
    } else {
        sq_conv_skip(cv, "unknown_state");
        return 0;
    }
    inc->have_reopen = true;
    inc->reopen_count = reopen;
    if (!inc->opened) {
        inc->opened = true;
        if (strcmp(status, "opened") != 0) {
            /* The log starts after the opening: say it opened at opened_at. */
            char *id = sq_xasprintf("%s-opened", f[SF_NUMBER]);
            int rc = sq_sn_emit(cv, f, id, opened_at, "opened", severity);
            free(id);
            if (rc != 0)
                return rc;
        }
    }
    char *id = sq_xasprintf("%s-%lld-%llu", f[SF_NUMBER], modcount, (unsigned long long)index);
    int rc = sq_sn_emit(cv, f, id, at, status, severity);
    free(id);
    return rc;
}

static void sq_sn_free_incident(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

int sq_convert_servicenow(struct sq_conv *cv)
{
    int rc = sq_conv_header(cv, "servicenow_incidents", SQ_SN_HEADER);
    if (rc != SQ_CONV_OK)
        return rc;
    struct sq_strmap incidents;
    sq_strmap_init(&incidents);
    struct sq_conv_row row;
    sq_conv_row_init(&row);
    int r;
    while ((r = sq_conv_next_row(cv, ',', true, &row)) == 1)
        if (sq_sn_row(cv, &row, &incidents) != 0) {
            r = -1;
            break;
        }
    sq_conv_row_fini(&row);
    sq_strmap_each(&incidents, sq_sn_free_incident, NULL);
    sq_strmap_fini(&incidents);
    return r < 0 ? SQ_CONV_FAILED : SQ_CONV_OK;
}
