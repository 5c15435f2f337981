/* The uplift report's figures (`arbiter report`, README.md "The report"):
 * pure computation, records in (logread.h), figures out; printing is the
 * command line's (cli/report.c). Keeps the audit/ rule: base/ only.
 *
 * Units are customers (pseudonyms). A customer's exposure to an action is
 * the first decision in the period that showed it (treatment) or held it
 * (control). The customer converted when a feedback with outcome "convert"
 * (for any action) or a purchase falls at or after the exposure, within
 * the period; the value is those converts' values plus those purchases'
 * prices. The "all actions" row puts a customer in treatment or control by
 * their first decision in the period (its group); --by arm by the first
 * decision of an experiment (challenger: treatment, champion: control).
 */
#ifndef ARB_AUDIT_REPORT_H
#define ARB_AUDIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/audit/logread.h"
#include "engine/base/error.h"

typedef enum arb_report_by {
    ARB_REPORT_BY_ACTION,
    ARB_REPORT_BY_ARM,
    ARB_REPORT_BY_CHANNEL,
} arb_report_by_t;

typedef struct arb_report_options {
    bool has_since, has_until;
    int64_t since;              /* records with ts >= since ... */
    int64_t until;              /* ... and ts < until */
    arb_report_by_t by;
} arb_report_options_t;

typedef struct arb_report_group {
    uint64_t customers;         /* exposed */
    uint64_t converted;         /* of them, converted after their exposure */
    double value;               /* their value after exposure, summed */
} arb_report_group_t;

typedef struct arb_report_count {
    char *name;                 /* an outcome's name (owned) */
    uint64_t n;
} arb_report_count_t;

typedef struct arb_report_row {
    char *action;               /* NULL: the "all actions" row, or an experiment's */
    char *channel;              /* --by channel: the decision's ("" when none); else NULL */
    char *experiment;           /* --by arm: the experiment; else NULL */
    uint64_t contacts;          /* times shown */
    arb_report_count_t *outcomes;   /* feedback naming the action, by outcome, sorted */
    size_t n_outcomes;
    arb_report_group_t treatment;   /* --by arm: the challenger */
    arb_report_group_t control;     /* --by arm: the champion */
} arb_report_row_t;

typedef struct arb_report {
    arb_report_by_t by;
    arb_report_row_t *rows;     /* the "all actions" rows first, then by action, channel */
    size_t n_rows;
    uint64_t records;           /* in the period */
    uint64_t decisions;
    uint64_t customers;         /* distinct, in the period */
} arb_report_t;

/* Compute the report of n records (in log order). Nothing of recs is kept.
 * 0, or -1 with err when out of memory. */
int arb_report_compute(const arb_logrec_t *recs, size_t n, const arb_report_options_t *opt,
                       arb_report_t *out, arb_err_t *err);
void arb_report_free(arb_report_t *r);

/* The group's conversion rate and value per customer: NAN when empty. */
double arb_report_rate(const arb_report_group_t *g);
double arb_report_value_per_customer(const arb_report_group_t *g);

/* Uplift of t over c (rate_T - rate_C) with its 95% Wald interval
 * (+-1.96 sqrt(pT(1-pT)/nT + pC(1-pC)/nC)). -1 when either group is empty. */
int arb_report_uplift(const arb_report_group_t *t, const arb_report_group_t *c, double *uplift,
                      double *low, double *high);

#endif
