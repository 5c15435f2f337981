/* The uplift report's computation (report.h): pure, records in, figures
 * out, as the audit/ rule asks (base/ only, no I/O). Records are grouped
 * by customer (sorted by pseudonym, then time), so each customer's first
 * exposure per row and the conversions after it are found in one pass.
 */
#include "engine/audit/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rep {
    arb_report_t *out;
    size_t cap;
    const arb_logrec_t *recs;
    const arb_logrec_t **decisions;     /* sorted by decision_id, for feedback */
    size_t n_decisions;
} rep_t;

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The row for (action, channel, experiment), added when new; NULL when out
 * of memory. Linear: a report has tens of rows, not thousands. */
static arb_report_row_t *row(rep_t *r, const char *action, const char *channel, const char *exp)
{
    arb_report_t *o = r->out;
    for (size_t i = 0; i < o->n_rows; i++) {
        arb_report_row_t *w = &o->rows[i];
        if (same(w->action, action) && same(w->channel, channel) && same(w->experiment, exp))
            return w;
    }
    if (o->n_rows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        arb_report_row_t *p = realloc(o->rows, cap * sizeof *p);
        if (!p) return NULL;
        o->rows = p;
        r->cap = cap;
    }
    arb_report_row_t *w = &o->rows[o->n_rows];
    memset(w, 0, sizeof *w);
    w->action = dup(action);
    w->channel = dup(channel);
    w->experiment = dup(exp);
    if ((action && !w->action) || (channel && !w->channel) || (exp && !w->experiment)) {
        free(w->action), free(w->channel), free(w->experiment);
        return NULL;
    }
    o->n_rows++;
    return w;
}

static int count_outcome(arb_report_row_t *w, const char *name)
{
    for (size_t i = 0; i < w->n_outcomes; i++)
        if (strcmp(w->outcomes[i].name, name) == 0) return (int)(w->outcomes[i].n++, 0);
    arb_report_count_t *p = realloc(w->outcomes, (w->n_outcomes + 1) * sizeof *p);
    if (!p) return -1;
    w->outcomes = p;
    if (!(p[w->n_outcomes].name = strdup(name))) return -1;
    p[w->n_outcomes++].n = 1;
    return 0;
}

static int by_decision_id(const void *a, const void *b)
{
    return strcmp((*(const arb_logrec_t *const *)a)->decision_id,
                  (*(const arb_logrec_t *const *)b)->decision_id);
}

static const arb_logrec_t *decision_of(const rep_t *r, const char *id)
{
    if (!id || !r->n_decisions) return NULL;
    arb_logrec_t key = { .decision_id = (char *)id };
    const arb_logrec_t *k = &key;
    const arb_logrec_t **hit = bsearch(&k, r->decisions, r->n_decisions, sizeof *hit, by_decision_id);
    return hit ? *hit : NULL;
}

static const char *chan(const rep_t *r, const char *c)
{
    return r->out->by == ARB_REPORT_BY_CHANNEL ? (c ? c : "") : NULL;
}

/* Contacts and outcomes, record by record. */
static int count(rep_t *r, const arb_logrec_t *x)
{
    arb_report_by_t by = r->out->by;
    if (x->type == ARB_LOGREC_DECISION) {
        if (by == ARB_REPORT_BY_ARM) {
            arb_report_row_t *w = x->experiment ? row(r, NULL, NULL, x->experiment) : NULL;
            if (x->experiment && !w) return -1;
            if (w) w->contacts += x->n_actions;
            return 0;
        }
        arb_report_row_t *all = row(r, NULL, chan(r, x->channel), NULL);
        if (!all) return -1;
        all->contacts += x->n_actions;
        for (uint32_t i = 0; i < x->n_actions; i++) {
            arb_report_row_t *w = row(r, x->actions[i].id, chan(r, x->channel), NULL);
            if (!w) return -1;
            w->contacts++;
        }
        return 0;
    }
    if (x->type != ARB_LOGREC_FEEDBACK) return 0;
    const arb_logrec_t *d = decision_of(r, x->decision_id);
    const char *c = x->channel ? x->channel : d ? d->channel : NULL;
    if (by == ARB_REPORT_BY_ARM) {
        if (!d || !d->experiment) return 0;
        arb_report_row_t *w = row(r, NULL, NULL, d->experiment);
        return w ? count_outcome(w, x->outcome) : -1;
    }
    arb_report_row_t *all = row(r, NULL, chan(r, c), NULL), *w = row(r, x->action, chan(r, c), NULL);
    if (!all || !w || count_outcome(all, x->outcome) < 0) return -1;
    return count_outcome(w, x->outcome);
}

typedef struct exposure {
    size_t row;                 /* an index: a new row may move the others */
    bool control;
    int64_t ts;
} exposure_t;

typedef struct customer {
    exposure_t *ex;
    size_t n, cap;
} customer_t;

static int expose(rep_t *r, customer_t *c, arb_report_row_t *w, bool control, int64_t ts)
{
    size_t row = (size_t)(w - r->out->rows);
    for (size_t i = 0; i < c->n; i++)
        if (c->ex[i].row == row) return 0;        /* the first exposure counts */
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        exposure_t *p = realloc(c->ex, cap * sizeof *p);
        if (!p) return -1;
        c->ex = p;
        c->cap = cap;
    }
    c->ex[c->n++] = (exposure_t){ row, control, ts };
    return 0;
}

/* One customer's records (sorted by time): exposures, then conversions. */
static int customer(rep_t *r, const arb_logrec_t *const *recs, size_t n, customer_t *c)
{
    c->n = 0;
    for (size_t i = 0; i < n; i++) {
        const arb_logrec_t *x = recs[i];
        if (x->type != ARB_LOGREC_DECISION) continue;
        if (r->out->by == ARB_REPORT_BY_ARM) {
            if (!x->experiment) continue;
            arb_report_row_t *w = row(r, NULL, NULL, x->experiment);
            bool champion = !x->arm || strcmp(x->arm, "challenger") != 0;
            if (!w || expose(r, c, w, champion, x->ts) < 0) return -1;
            continue;
        }
        const char *ch = chan(r, x->channel);
        arb_report_row_t *w = row(r, NULL, ch, NULL);
        if (!w || expose(r, c, w, x->control, x->ts) < 0) return -1;
        for (uint32_t k = 0; k < x->n_actions; k++)
            if (!(w = row(r, x->actions[k].id, ch, NULL)) || expose(r, c, w, false, x->ts) < 0) return -1;
        for (uint32_t k = 0; k < x->n_held; k++)
            if (!(w = row(r, x->held[k].id, ch, NULL)) || expose(r, c, w, true, x->ts) < 0) return -1;
    }
    for (size_t e = 0; e < c->n; e++) {
        const exposure_t *x = &c->ex[e];
        arb_report_row_t *w = &r->out->rows[x->row];
        arb_report_group_t *g = x->control ? &w->control : &w->treatment;
        bool converted = false;
        double value = 0;
        for (size_t i = 0; i < n; i++) {
            const arb_logrec_t *y = recs[i];
            if (y->ts < x->ts) continue;
            bool conv = y->type == ARB_LOGREC_PURCHASE ||
                        (y->type == ARB_LOGREC_FEEDBACK && strcmp(y->outcome, "convert") == 0);
            if (!conv) continue;
            converted = true;
            if (y->has_value && isfinite(y->value)) value += y->value;
        }
        g->customers++;
        g->converted += converted;
        g->value += value;
    }
    return 0;
}

static int by_customer_time(const void *a, const void *b)
{
    const arb_logrec_t *x = *(const arb_logrec_t *const *)a, *y = *(const arb_logrec_t *const *)b;
    int c = strcmp(x->customer, y->customer);
    if (c) return c;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x < y ? -1 : x > y;  /* log order among equal times */
}

static int cmp_str(const char *a, const char *b)
{
    if (!a || !b) return a ? 1 : b ? -1 : 0;  /* NULL (the "all" row) first */
    return strcmp(a, b);
}

static int by_row(const void *a, const void *b)
{
    const arb_report_row_t *x = a, *y = b;
    int c = cmp_str(x->action, y->action);
    if (!c) c = cmp_str(x->experiment, y->experiment);
    return c ? c : cmp_str(x->channel, y->channel);
}

static int by_outcome(const void *a, const void *b)
{
    return strcmp(((const arb_report_count_t *)a)->name, ((const arb_report_count_t *)b)->name);
}

int arb_report_compute(const arb_logrec_t *recs, size_t n, const arb_report_options_t *opt,
                       arb_report_t *out, arb_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->by = opt->by;
    rep_t r = { .out = out, .recs = recs };
    const arb_logrec_t **in = malloc((n ? n : 1) * sizeof *in);
    r.decisions = malloc((n ? n : 1) * sizeof *r.decisions);
    customer_t c = { 0 };
    int rc = -1;
    if (!in || !r.decisions) goto done;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const arb_logrec_t *x = &recs[i];
        if ((opt->has_since && x->ts < opt->since) || (opt->has_until && x->ts >= opt->until)) continue;
        in[m++] = x;
        if (x->type == ARB_LOGREC_DECISION) {
            out->decisions++;
            if (x->decision_id) r.decisions[r.n_decisions++] = x;
        }
    }
    out->records = m;
    if (r.n_decisions) qsort(r.decisions, r.n_decisions, sizeof *r.decisions, by_decision_id);
    for (size_t i = 0; i < m; i++)
        if (count(&r, in[i]) < 0) goto done;
    if (m) qsort(in, m, sizeof *in, by_customer_time);
    for (size_t i = 0, j; i < m; i = j) {
        for (j = i + 1; j < m && strcmp(in[j]->customer, in[i]->customer) == 0; j++) {}
        out->customers++;
        if (customer(&r, in + i, j - i, &c) < 0) goto done;
    }
    if (out->n_rows) qsort(out->rows, out->n_rows, sizeof *out->rows, by_row);
    for (size_t i = 0; i < out->n_rows; i++)
        if (out->rows[i].n_outcomes)
            qsort(out->rows[i].outcomes, out->rows[i].n_outcomes, sizeof *out->rows[i].outcomes, by_outcome);
    rc = 0;
done:
    free(c.ex);
    free(in);
    free(r.decisions);
    if (rc < 0) {
        arb_report_free(out);
        arb_err_set(err, ARB_INTERNAL, "out of memory computing the report");
    }
    return rc;
}

void arb_report_free(arb_report_t *r)
{
    for (size_t i = 0; i < r->n_rows; i++) {
        arb_report_row_t *w = &r->rows[i];
        free(w->action), free(w->channel), free(w->experiment);
        for (size_t k = 0; k < w->n_outcomes; k++) free(w->outcomes[k].name);
        free(w->outcomes);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

double arb_report_rate(const arb_report_group_t *g)
{
    return g->customers ? (double)g->converted / (double)g->customers : NAN;
}

double arb_report_value_per_customer(const arb_report_group_t *g)
{
    return g->customers ? g->value / (double)g->customers : NAN;
}

int arb_report_uplift(const arb_report_group_t *t, const arb_report_group_t *c, double *uplift,
                      double *low, double *high)
{
    if (!t->customers || !c->customers) return -1;
    double pt = arb_report_rate(t), pc = arb_report_rate(c);
    double se = sqrt(pt * (1 - pt) / (double)t->customers + pc * (1 - pc) / (double)c->customers);
    *uplift = pt - pc;
    *low = *uplift - 1.96 * se;
    *high = *uplift + 1.96 * se;
    return 0;
}
