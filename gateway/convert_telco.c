/* convert_telco.c: `sqgate convert telco_churn`: IBM's Telco Customer Churn
 * sample (shared/data/README.md section 2) to profile.v1, one per customer
 * in file order. The data has no tier, region or time: tier follows
 * TotalCharges (the README's rule), region is US-CA, the time is --at. */
#include <stdlib.h>
#include <string.h>

#include "convert_cmd.h"

#define SQ_TELCO_HEADER                                                                       \
    "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,"  \
    "InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,"  \
    "StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,"   \
    "Churn"

enum { TF_ID = 0, TF_TENURE = 5, TF_MONTHLY = 18, TF_TOTAL = 19, TF__N = 21 };

/* TotalCharges ≥ 6000 diamond, ≥ 3000 gold, ≥ 1000 silver, else (and
 * blank, as for the 11 customers with tenure 0) standard. */
static const char *sq_telco_tier(double total)
{
    if (total >= 6000)
        return "diamond";
    if (total >= 3000)
        return "gold";
    if (total >= 1000)
        return "silver";
    return "standard";
}

static int sq_telco_row(struct sq_conv *cv, struct sq_conv_row *row)
{
    char **f = row->f;
    long long tenure;
    double monthly, total = 0;
    size_t id_len = row->n == TF__N ? strlen(f[TF_ID]) : 0;
    bool blank_total = row->n == TF__N && strspn(f[TF_TOTAL], " ") == strlen(f[TF_TOTAL]);
    if (row->n != TF__N || id_len == 0 || id_len > 64 || !sq_conv_int(f[TF_TENURE], &tenure) ||
        tenure < 0 || !sq_conv_num(f[TF_MONTHLY], &monthly) || monthly < 0 ||
        (!blank_total && !sq_conv_num(f[TF_TOTAL], &total))) {
        sq_conv_skip(cv, "bad_row");
        return 0;
    }
    char *event_id = sq_xasprintf("telco-profile-%s", f[TF_ID]);
    json_t *ev = json_object();
    json_object_set_new(ev, "schema", json_string("profile.v1"));
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "occurred_at", json_string(cv->at));
    json_object_set_new(ev, "customer_id", json_string(f[TF_ID]));
    json_object_set_new(ev, "region", json_string("US-CA"));
    json_object_set_new(ev, "tier", json_string(sq_telco_tier(total)));
    json_object_set_new(ev, "enterprise", json_false());
    json_object_set_new(ev, "tenure_months", json_integer(tenure));
    json_object_set_new(ev, "arpu", json_real(monthly));
    free(event_id);
    return sq_conv_emit(cv, "sq.in.profiles", f[TF_ID], ev);
}

int sq_convert_telco(struct sq_conv *cv)
{
    return sq_conv_each_csv_row(cv, "telco_churn", SQ_TELCO_HEADER, sq_telco_row);
}
