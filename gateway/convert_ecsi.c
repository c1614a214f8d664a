/* convert_ecsi.c: `sqgate convert ecsi_mobile_survey`: the ECSI "mobi"
 * survey of a mobile phone provider (shared/data/README.md section 6) to
 * survey.v1, one per respondent in file order: csat from CUSA1, nps from
 * CUSL3, a reliability SERVQUAL pair from CUEX1 and PERQ6; time --at. */
#include <stdlib.h>
#include <string.h>

#include "convert_cmd.h"

#define SQ_ECSI_HEADER                                                                        \
    "CUEX1,CUEX2,CUEX3,CUSA1,CUSA2,CUSA3,CUSCO,CUSL1,CUSL2,CUSL3,IMAG1,IMAG2,IMAG3,IMAG4,"   \
    "IMAG5,PERQ1,PERQ2,PERQ3,PERQ4,PERQ5,PERQ6,PERQ7,PERV1,PERV2"

enum { EF_CUEX1 = 0, EF_CUSA1 = 3, EF_CUSL3 = 9, EF_PERQ6 = 20, EF__N = 24 };

/* 1..10 to 1..7: 1 + round((x − 1) · 6 / 9), halves up (none occur). */
static long long sq_ecsi_to7(long long x)
{
    return 1 + ((x - 1) * 12 + 9) / 18;
}

static int sq_ecsi_row(struct sq_conv *cv, struct sq_conv_row *row)
{
    if (row->n != EF__N) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    long long v[EF__N];
    for (size_t k = 0; k < EF__N; k++) {
        if (!sq_conv_int(row->f[k], &v[k]) || v[k] < 1 || v[k] > 10) {
            sq_conv_skip(cv, "bad_row");
            return 0;
        }
    }
    unsigned long long i = (unsigned long long)cv->stats->rows; /* 1-based row number */
    char *id = sq_xasprintf("ecsi-%llu", i);
    char *customer = sq_xasprintf("ecsi-cust-%llu", i);
    char *contact = sq_xasprintf("ecsi-contact-%llu", i);
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("survey.v1"));
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "occurred_at", json_string(cv->at));
    json_object_set_new(ev, "customer_id", json_string(customer));
    json_object_set_new(ev, "survey_id", json_string(id));
    json_object_set_new(ev, "contact_id", json_string(contact));
    json_object_set_new(ev, "csat", json_integer((v[EF_CUSA1] + 1) / 2));
    json_object_set_new(ev, "nps", json_integer(v[EF_CUSL3]));
    json_object_set_new(ev, "servqual",
                        json_pack("{s:{s:I,s:I}}", "reliability", "expected",
                                  (json_int_t)sq_ecsi_to7(v[EF_CUEX1]), "perceived",
                                  (json_int_t)sq_ecsi_to7(v[EF_PERQ6])));
    int rc = sq_conv_emit(cv, "sq.in.surveys", customer, ev);
    free(id);
    free(customer);
    free(contact);
    return rc;
}

int sq_convert_ecsi(struct sq_conv *cv)
{
    return sq_conv_each_csv_row(cv, "ecsi_mobile_survey", SQ_ECSI_HEADER, sq_ecsi_row);
}
