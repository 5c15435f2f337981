/* Unit tests for the uplift report's figures (engine/audit/report.c) on
 * hand-built records: known rates give the uplift and the Wald interval of
 * the formula; empty and zero-variance groups; value per customer; the
 * period; an exposure counts only what follows it.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/audit/report.h"

static arb_logset_t set;

static void fini(void)
{
    arb_logset_free(&set);
}

TestSuite(report, .fini = fini);

static arb_logrec_t *add(arb_logrec_type_t type, int64_t ts, const char *customer)
{
    if (set.n == set.cap) {
        set.cap = set.cap ? set.cap * 2 : 64;
        set.recs = realloc(set.recs, set.cap * sizeof *set.recs);
        cr_assert_not_null(set.recs);
    }
    arb_logrec_t *r = &set.recs[set.n++];
    memset(r, 0, sizeof *r);
    r->type = type;
    r->ts = ts;
    r->customer = strdup(customer);
    return r;
}

/* A decision showing `shown` and holding `held` (NULL: none); control:
 * a global-control decision. */
static arb_logrec_t *decision(int64_t ts, const char *customer, const char *channel,
                              const char *shown, const char *held, bool control)
{
    static unsigned seq;
    arb_logrec_t *r = add(ARB_LOGREC_DECISION, ts, customer);
    char id[32];
    snprintf(id, sizeof id, "d%u", ++seq);
    r->decision_id = strdup(id);
    r->channel = channel ? strdup(channel) : NULL;
    r->control = control;
    if (shown) {
        r->actions = calloc(1, sizeof *r->actions);
        r->actions[0].id = strdup(shown);
        r->n_actions = 1;
    }
    if (held) {
        r->held = calloc(1, sizeof *r->held);
        r->held[0].id = strdup(held);
        r->held[0].control = strdup(control ? "global" : "action");
        r->n_held = 1;
    }
    return r;
}

static void feedback(int64_t ts, const char *customer, const char *action, const char *outcome,
                     double value)
{
    arb_logrec_t *r = add(ARB_LOGREC_FEEDBACK, ts, customer);
    r->action = strdup(action);
    r->outcome = strdup(outcome);
    r->has_value = !isnan(value);
    r->value = value;
}

static void purchase(int64_t ts, const char *customer, double price)
{
    arb_logrec_t *r = add(ARB_LOGREC_PURCHASE, ts, customer);
    r->has_value = true;
    r->value = price;
}

static arb_report_t rep;

static void compute(arb_report_options_t opt)
{
    arb_err_t err;
    cr_assert_eq(arb_report_compute(set.recs, set.n, &opt, &rep, &err), 0, "%s", err.message);
}

static const arb_report_row_t *find(const char *action, const char *channel)
{
    for (size_t i = 0; i < rep.n_rows; i++) {
        const arb_report_row_t *w = &rep.rows[i];
        bool a = action ? w->action && strcmp(w->action, action) == 0 : !w->action;
        bool c = channel ? w->channel && strcmp(w->channel, channel) == 0 : !w->channel;
        if (a && c) return w;
    }
    cr_assert_fail("no row for %s/%s", action ? action : "all", channel ? channel : "-");
    return NULL;
}

static const arb_report_row_t *find_exp(const char *exp)
{
    for (size_t i = 0; i < rep.n_rows; i++)
        if (rep.rows[i].experiment && strcmp(rep.rows[i].experiment, exp) == 0) return &rep.rows[i];
    cr_assert_fail("no row for experiment %s", exp);
    return NULL;
}

/* n customers named prefix<i>, converting ones first, exposed at ts 10. */
static void population(const char *prefix, int n, int converting, bool held)
{
    for (int i = 0; i < n; i++) {
        char c[32];
        snprintf(c, sizeof c, "%s%d", prefix, i);
        decision(10, c, "app", held ? NULL : "x", held ? "x" : NULL, false);
        /* a convert counts whatever action it names */
        if (i < converting) feedback(20, c, held ? "fallback" : "x", "convert", NAN);
    }
}

Test(report, known_rates_give_the_uplift_and_the_wald_interval)
{
    population("t", 1000, 100, false);     /* 0.10 */
    population("c", 500, 35, true);        /* 0.07 */
    compute((arb_report_options_t){ 0 });
    const arb_report_row_t *x = find("x", NULL);
    cr_assert_eq(x->treatment.customers, 1000);
    cr_assert_eq(x->treatment.converted, 100);
    cr_assert_eq(x->control.customers, 500);
    cr_assert_eq(x->control.converted, 35);
    cr_assert_eq(x->contacts, 1000, "held actions are no contacts");
    double u, lo, hi;
    cr_assert_eq(arb_report_uplift(&x->treatment, &x->control, &u, &lo, &hi), 0);
    double half = 1.96 * sqrt(0.10 * 0.90 / 1000 + 0.07 * 0.93 / 500);   /* 0.029085 */
    cr_assert_float_eq(u, 0.03, 1e-12);
    cr_assert_float_eq(lo, 0.03 - half, 1e-12);
    cr_assert_float_eq(hi, 0.03 + half, 1e-12);
    cr_assert_float_eq(half, 0.0290846, 1e-6);
    /* the outcomes by name, per contact */
    cr_assert_eq(x->n_outcomes, 1);
    cr_assert_str_eq(x->outcomes[0].name, "convert");
    cr_assert_eq(x->outcomes[0].n, 100);
}

Test(report, empty_and_zero_variance_groups)
{
    arb_report_group_t empty = { 0 }, all = { 10, 10, 0 }, none = { 10, 0, 0 };
    double u = 1, lo = 1, hi = 1;
    cr_assert(isnan(arb_report_rate(&empty)));
    cr_assert(isnan(arb_report_value_per_customer(&empty)));
    cr_assert_eq(arb_report_uplift(&all, &empty, &u, &lo, &hi), -1, "no control: no uplift");
    cr_assert_eq(arb_report_uplift(&empty, &all, &u, &lo, &hi), -1);
    cr_assert_eq(arb_report_uplift(&all, &all, &u, &lo, &hi), 0);
    cr_assert(u == 0 && lo == 0 && hi == 0, "every one converted: a zero-width interval");
    cr_assert_eq(arb_report_uplift(&all, &none, &u, &lo, &hi), 0);
    cr_assert(u == 1 && lo == 1 && hi == 1);
    /* a report with treatment only: the row is there, its control empty */
    population("t", 3, 1, false);
    compute((arb_report_options_t){ 0 });
    const arb_report_row_t *x = find("x", NULL);
    cr_assert_eq(x->treatment.customers, 3);
    cr_assert_eq(x->control.customers, 0);
    cr_assert_eq(arb_report_uplift(&x->treatment, &x->control, &u, &lo, &hi), -1);
    arb_report_free(&rep);
    /* no records at all: no rows, no crash */
    arb_report_t none_rep;
    arb_err_t err;
    cr_assert_eq(arb_report_compute(NULL, 0, &(arb_report_options_t){ 0 }, &none_rep, &err), 0);
    cr_assert_eq(none_rep.n_rows, 0);
    arb_report_free(&none_rep);
}

Test(report, value_per_customer_sums_converts_and_purchases_after_exposure)
{
    decision(10, "a", "app", "x", NULL, false);
    feedback(11, "a", "x", "convert", 10);
    purchase(12, "a", 5);
    feedback(13, "a", "x", "click", 99);        /* not a convert: no value */
    decision(10, "b", "app", "x", NULL, false);
    decision(10, "c", "app", NULL, "x", false);
    purchase(30, "c", 4);
    compute((arb_report_options_t){ 0 });
    const arb_report_row_t *x = find("x", NULL);
    cr_assert_float_eq(x->treatment.value, 15, 1e-12);
    cr_assert_float_eq(arb_report_value_per_customer(&x->treatment), 7.5, 1e-12);
    cr_assert_float_eq(arb_report_value_per_customer(&x->control), 4, 1e-12);
    cr_assert_eq(x->control.converted, 1, "a purchase converts");
    cr_assert_eq(x->n_outcomes, 2);
    cr_assert_str_eq(x->outcomes[0].name, "click");
    cr_assert_str_eq(x->outcomes[1].name, "convert");
}

Test(report, the_period_bounds_exposures_and_conversions)
{
    decision(5, "a", "app", "x", NULL, false);      /* before --since */
    feedback(15, "a", "x", "convert", 1);
    decision(12, "b", "app", "x", NULL, false);
    feedback(20, "b", "x", "convert", 1);           /* at --until: outside */
    decision(19, "c", "app", NULL, "x", false);
    feedback(19, "c", "x", "convert", 1);           /* at the exposure: counts */
    compute((arb_report_options_t){ .has_since = true, .since = 10, .has_until = true, .until = 20 });
    const arb_report_row_t *x = find("x", NULL);
    cr_assert_eq(x->treatment.customers, 1, "a's decision is before the period");
    cr_assert_eq(x->treatment.converted, 0, "b's convert is at the end, outside");
    cr_assert_eq(x->control.customers, 1);
    cr_assert_eq(x->control.converted, 1);
    cr_assert_eq(x->contacts, 1);
    cr_assert_eq(rep.records, 4);
    cr_assert_eq(rep.customers, 3);
}

Test(report, only_what_follows_the_first_exposure_counts)
{
    purchase(5, "a", 100);                          /* before any exposure */
    decision(10, "a", "app", NULL, "x", false);     /* first: held, so control */
    decision(20, "a", "app", "x", NULL, false);
    decision(30, "b", "app", NULL, "y", false);     /* equal times: log order decides */
    decision(30, "b", "app", "y", NULL, false);
    compute((arb_report_options_t){ 0 });
    cr_assert_eq(find("y", NULL)->control.customers, 1);
    cr_assert_eq(find("y", NULL)->treatment.customers, 0);
    const arb_report_row_t *x = find("x", NULL);
    cr_assert_eq(x->control.customers, 1);
    cr_assert_eq(x->treatment.customers, 0, "one customer, one exposure: the first");
    cr_assert_eq(x->control.converted, 0, "the purchase came before");
    cr_assert_eq(x->contacts, 1);
}

Test(report, the_all_actions_row_compares_global_control_customers)
{
    decision(10, "t1", "app", "x", NULL, false);
    decision(10, "t2", "app", "y", NULL, false);
    feedback(11, "t2", "y", "convert", 3);
    decision(10, "c1", "app", "fallback", "x", true);   /* global control: x held, fallback shown */
    purchase(12, "c1", 2);
    compute((arb_report_options_t){ 0 });
    const arb_report_row_t *all = find(NULL, NULL);
    cr_assert_eq(rep.rows[0].action, NULL, "the all actions row comes first");
    cr_assert_eq(all->treatment.customers, 2);
    cr_assert_eq(all->treatment.converted, 1);
    cr_assert_eq(all->control.customers, 1);
    cr_assert_eq(all->control.converted, 1);
    cr_assert_eq(all->contacts, 3);
    cr_assert_eq(find("x", NULL)->control.customers, 1, "held by the global control");
}

Test(report, by_arm_compares_challenger_with_champion)
{
    for (int i = 0; i < 4; i++) {
        char c[16];
        snprintf(c, sizeof c, "a%d", i);
        arb_logrec_t *d = decision(10, c, "app", "x", NULL, false);
        d->experiment = strdup("spring");
        d->arm = strdup(i < 2 ? "challenger" : "champion");
        if (i != 3) purchase(11, c, 1);
    }
    compute((arb_report_options_t){ .by = ARB_REPORT_BY_ARM });
    cr_assert_eq(rep.n_rows, 1);
    const arb_report_row_t *e = find_exp("spring");
    cr_assert_eq(e->treatment.customers, 2);
    cr_assert_eq(e->treatment.converted, 2);
    cr_assert_eq(e->control.customers, 2);
    cr_assert_eq(e->control.converted, 1);
    cr_assert_eq(e->contacts, 4);
}

Test(report, by_channel_splits_the_rows)
{
    decision(10, "a", "app", "x", NULL, false);
    decision(10, "b", "web", "x", NULL, false);
    decision(11, "a", "web", "x", NULL, false);     /* a's first exposure on web */
    compute((arb_report_options_t){ .by = ARB_REPORT_BY_CHANNEL });
    cr_assert_eq(find("x", "app")->treatment.customers, 1);
    cr_assert_eq(find("x", "web")->treatment.customers, 2);
    cr_assert_eq(find("x", "web")->contacts, 2);
    cr_assert_eq(find(NULL, "app")->contacts, 1);
}
