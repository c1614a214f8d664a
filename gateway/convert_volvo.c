/* convert_volvo.c: `sqgate convert volvo_it_incidents`: the Volvo IT
 * Belgium VINST incident log, BPI Challenge 2013 (shared/data/README.md
 * section 4) to ticket.v1 in file order: an `opened` event for each
 * service request's first row, then one event per status change. The
 * file's times already carry their offset (+01:00). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert_cmd.h"
#include "strmap.h"

#define SQ_VOLVO_HEADER                                                                       \
    "SR Number,Change Date+Time,Status,Sub Status,Activity,Activity Level,"                  \
    "Involved ST Function Div,Involved Org line 3,Involved ST,Involved ST 2,ST Level,"       \
    "SR Latest Impact,Product,Country,Owner Country,Owner First Name,Resource"

enum {
    VF_SR = 0, VF_TIME = 1, VF_STATUS = 2, VF_SUB = 3, VF_IMPACT = 11, VF_PRODUCT = 12,
    VF_COUNTRY = 13, VF__N = 17
};

/* What the rows so far said about one service request. */
struct sq_volvo_sr {
    uint64_t rows;     /* its rows so far, skipped ones included */
    bool opened;       /* its `opened` event was written */
    bool accepted;     /* an Accepted row was seen */
    bool completed;    /* the last converted row was Completed */
};

static int sq_volvo_severity(const char *impact)
{
    static const char *const names[] = {"Major", "High", "Medium", "Low"};
    for (int i = 0; i < 4; i++)
        if (strcmp(impact, names[i]) == 0)
            return i + 1;
    return 0;
}

static int sq_volvo_emit(struct sq_conv *cv, char **f, const char *event_id, const char *status,
                         int severity)
{
    char *customer = sq_xasprintf("vinst-%s", f[VF_SR]);
    /* Region: the owner's country code, lower-cased ("SE" occurs too);
     * none for "0" (unknown). */
    char region[33];
    size_t rl = strlen(f[VF_COUNTRY]);
    bool has_region = rl > 0 && rl < sizeof region && strcmp(f[VF_COUNTRY], "0") != 0;
    for (size_t i = 0; has_region && i <= rl; i++)
        region[i] = (char)tolower((unsigned char)f[VF_COUNTRY][i]);
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("ticket.v1"));
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "occurred_at", json_string(f[VF_TIME]));
    json_object_set_new(ev, "customer_id", json_string(customer));
    if (has_region)
        json_object_set_new(ev, "region", json_string(region));
    json_object_set_new(ev, "ticket_id", json_string(f[VF_SR]));
    json_object_set_new(ev, "kind", json_string("fault"));
    json_object_set_new(ev, "category", json_string(f[VF_PRODUCT][0] ? f[VF_PRODUCT] : "unknown"));
    json_object_set_new(ev, "severity", json_integer(severity));
    json_object_set_new(ev, "status", json_string(status));
    int rc = sq_conv_emit(cv, "sq.in.tickets", customer, ev);
    free(customer);
    return rc;
}

static int sq_volvo_row(struct sq_conv *cv, struct sq_conv_row *row, struct sq_strmap *srs)
{
    char **f = row->f;
    int64_t ms;
    if (row->n != VF__N || !f[VF_SR][0] || strlen(f[VF_SR]) > 50) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    struct sq_volvo_sr *sr = sq_strmap_get(srs, f[VF_SR]);
    if (!sr) {
        sr = sq_xcalloc(1, sizeof *sr);
        sq_strmap_put(srs, f[VF_SR], sr);
    }
    uint64_t n = sr->rows++;
    const char *st = f[VF_STATUS], *sub = f[VF_SUB];
    if (strcmp(st, "Unmatched") == 0) {
        sq_conv_skip(cv, "unmatched");
        return 0;
    }
    int severity = sq_volvo_severity(f[VF_IMPACT]);
    if (severity == 0 || sq_time_parse(f[VF_TIME], &ms) != 0) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    const char *status;
    bool completed = strcmp(st, "Completed") == 0;
    if (completed) {
        if (strcmp(sub, "Resolved") == 0 || strcmp(sub, "In Call") == 0)
            status = "resolved";
        else if (strcmp(sub, "Closed") == 0 || strcmp(sub, "Cancelled") == 0)
            status = "closed";
        else
            status = NULL;
    } else if (sr->completed) {
        status = "reopened";
    } else if (strcmp(st, "Accepted") == 0) {
        status = sr->accepted ? "updated" : "acknowledged";
    } else if (strcmp(st, "Queued") == 0) {
        status = "updated";
    } else {
        status = NULL;
    }
    if (!status) {
        sq_conv_skip(cv, "unknown_status");
        return 0;
    }
    if (strcmp(st, "Accepted") == 0)
        sr->accepted = true;
    sr->completed = completed;
    int rc = 0;
    char *id = sq_xasprintf("%s-%llu", f[VF_SR], (unsigned long long)n);
    if (!sr->opened) {
        /* The first row opens the ticket; its own status follows at the
         * same time when it says more than `updated`. */
        sr->opened = true;
        char *oid = sq_xasprintf("%s-opened", id);
        rc = sq_volvo_emit(cv, f, oid, "opened", severity);
        free(oid);
        if (rc == 0 && strcmp(status, "updated") != 0)
            rc = sq_volvo_emit(cv, f, id, status, severity);
    } else {
        rc = sq_volvo_emit(cv, f, id, status, severity);
    }
    free(id);
    return rc;
}

static void sq_volvo_free_sr(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

int sq_convert_volvo(struct sq_conv *cv)
{
    int rc = sq_conv_header(cv, "volvo_it_incidents", SQ_VOLVO_HEADER);
    if (rc != SQ_CONV_OK)
        return rc;
    struct sq_strmap srs;
    sq_strmap_init(&srs);
    struct sq_conv_row row;
    sq_conv_row_init(&row);
    int r;
    while ((r = sq_conv_next_row(cv, ',', true, &row)) == 1)
        if (sq_volvo_row(cv, &row, &srs) != 0) {
            r = -1;
            break;
        }
    sq_conv_row_fini(&row);
    sq_strmap_each(&srs, sq_volvo_free_sr, NULL);
    sq_strmap_fini(&srs);
    return r < 0 ? SQ_CONV_FAILED : SQ_CONV_OK;
}
