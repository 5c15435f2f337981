/* `arbiter report LOGDIR`: reads the decision log (audit/logread.h),
 * computes the figures (audit/report.h) and prints them for a person (an
 * aligned table) or a tool (--json, the shape in README.md "The report").
 * Keeps the cli/ rule: a thin front end, every figure is audit/'s.
 */
#include "engine/cli/report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/audit/logread.h"
#include "engine/audit/report.h"

static int usage(FILE *f, int code)
{
    fprintf(f,
        "usage: arbiter report LOGDIR [--since T] [--until T] [--by action|arm|channel] [--json]\n"
        "Uplift of treatment over control from a decision log (every *.jsonl of\n"
        "LOGDIR), per action (and an \"all actions\" row), per experiment arm\n"
        "(--by arm) or per action and channel (--by channel). T: unix seconds or\n"
        "YYYY-MM-DD (00:00 UTC); the period is since <= ts < until. --json prints\n"
        "the figures for tools. Exit 0, or 2 on usage or an unreadable LOGDIR.\n");
    return code;
}

int arb_cli_parse_time(const char *t, long long *out)
{
    char *end;
    int y, m, d, n = 0;
    if (t[0] && !strchr(t, '-')) {    /* unix seconds; a date has its dashes */
        long long v = strtoll(t, &end, 10);
        if (*end) return -1;
        *out = v;
        return 0;
    }
    if (sscanf(t, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || t[n] || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
    *out = (long long)timegm(&tm);
    return 0;
}

/* ------------------------------------------------------------ JSON */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *group_json(const arb_report_group_t *g)
{
    return json_pack("{sI sI so so so}", "customers", (json_int_t)g->customers, "converted",
                     (json_int_t)g->converted, "rate", num(arb_report_rate(g)), "value", num(g->value),
                     "value_per_customer", num(arb_report_value_per_customer(g)));
}

static json_t *row_json(const arb_report_t *rep, const arb_report_row_t *w)
{
    bool arm = rep->by == ARB_REPORT_BY_ARM;
    json_t *o = json_object(), *outs = json_object(), *rates = json_object();
    if (arm) json_object_set_new(o, "experiment", json_string(w->experiment));
    else json_object_set_new(o, "action", w->action ? json_string(w->action) : json_null());
    if (rep->by == ARB_REPORT_BY_CHANNEL) json_object_set_new(o, "channel", json_string(w->channel));
    json_object_set_new(o, "contacts", json_integer((json_int_t)w->contacts));
    for (size_t i = 0; i < w->n_outcomes; i++) {
        json_object_set_new(outs, w->outcomes[i].name, json_integer((json_int_t)w->outcomes[i].n));
        json_object_set_new(rates, w->outcomes[i].name,
                            w->contacts ? json_real((double)w->outcomes[i].n / (double)w->contacts)
                                        : json_null());
    }
    json_object_set_new(o, "outcomes", outs);
    json_object_set_new(o, "outcome_rates", rates);
    json_object_set_new(o, arm ? "challenger" : "treatment", group_json(&w->treatment));
    json_object_set_new(o, arm ? "champion" : "control", group_json(&w->control));
    double u, lo, hi;
    json_object_set_new(o, "uplift",
                        arb_report_uplift(&w->treatment, &w->control, &u, &lo, &hi) == 0
                            ? json_pack("{sf sf sf}", "estimate", u, "low", lo, "high", hi)
                            : json_null());
    return o;
}

static const char *const BY[] = { "action", "arm", "channel" };

static int print_json(const arb_report_t *rep, const arb_logset_t *set, const arb_report_options_t *opt)
{
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "by", json_string(BY[rep->by]));
    json_object_set_new(o, "since", opt->has_since ? json_integer(opt->since) : json_null());
    json_object_set_new(o, "until", opt->has_until ? json_integer(opt->until) : json_null());
    json_object_set_new(o, "files", json_integer((json_int_t)set->files));
    json_object_set_new(o, "records", json_integer((json_int_t)rep->records));
    json_object_set_new(o, "decisions", json_integer((json_int_t)rep->decisions));
    json_object_set_new(o, "customers", json_integer((json_int_t)rep->customers));
    json_object_set_new(o, "malformed", json_integer((json_int_t)set->malformed));
    json_object_set_new(o, "torn", json_integer((json_int_t)set->torn));
    for (size_t i = 0; i < rep->n_rows; i++) json_array_append_new(rows, row_json(rep, &rep->rows[i]));
    json_object_set_new(o, "rows", rows);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!text) return fprintf(stderr, "arbiter report: out of memory\n"), 2;
    printf("%s\n", text);
    free(text);
    return 0;
}

/* ------------------------------------------------------------ table */

#define COLS 12
#define CELL 96

typedef struct table {
    char (*cells)[COLS][CELL];
    size_t n, ncols;
} table_t;

static void pct(char *buf, double v)
{
    if (isfinite(v)) snprintf(buf, CELL, "%.2f%%", 100 * v);
    else snprintf(buf, CELL, "-");
}

static void money(char *buf, double v)
{
    if (isfinite(v)) snprintf(buf, CELL, "%.2f", v);
    else snprintf(buf, CELL, "-");
}

static void fill_row(const arb_report_t *rep, const arb_report_row_t *w, char (*c)[CELL])
{
    size_t k = 0;
    if (rep->by == ARB_REPORT_BY_ARM) snprintf(c[k++], CELL, "%s", w->experiment);
    else snprintf(c[k++], CELL, "%s", w->action ? w->action : "all actions");
    if (rep->by == ARB_REPORT_BY_CHANNEL) snprintf(c[k++], CELL, "%s", w->channel[0] ? w->channel : "-");
    snprintf(c[k++], CELL, "%llu", (unsigned long long)w->contacts);
    snprintf(c[k++], CELL, "%llu", (unsigned long long)w->treatment.customers);
    pct(c[k++], arb_report_rate(&w->treatment));
    snprintf(c[k++], CELL, "%llu", (unsigned long long)w->control.customers);
    pct(c[k++], arb_report_rate(&w->control));
    double u, lo, hi;
    if (arb_report_uplift(&w->treatment, &w->control, &u, &lo, &hi) == 0) {
        snprintf(c[k++], CELL, "%+.2f pp", 100 * u);
        snprintf(c[k++], CELL, "[%+.2f, %+.2f]", 100 * lo, 100 * hi);
    } else {
        snprintf(c[k++], CELL, "-");
        snprintf(c[k++], CELL, "-");
    }
    money(c[k++], arb_report_value_per_customer(&w->treatment));
    money(c[k++], arb_report_value_per_customer(&w->control));
    /* outcomes last: the one column of varying width */
    size_t used = 0;
    c[k][0] = '\0';
    for (size_t i = 0; i < w->n_outcomes && used < CELL; i++) {
        const arb_report_count_t *o = &w->outcomes[i];
        double rate = w->contacts ? (double)o->n / (double)w->contacts : NAN;
        char r[CELL];
        pct(r, rate);
        int m = snprintf(c[k] + used, CELL - used, "%s%s %llu (%s)", i ? ", " : "", o->name,
                         (unsigned long long)o->n, r);
        used += m > 0 ? (size_t)m : 0;
    }
    if (!w->n_outcomes) snprintf(c[k], CELL, "-");
}

static void print_table(const arb_report_t *rep)
{
    bool arm = rep->by == ARB_REPORT_BY_ARM, ch = rep->by == ARB_REPORT_BY_CHANNEL;
    const char *head[COLS];
    size_t nc = 0;
    head[nc++] = arm ? "experiment" : "action";
    if (ch) head[nc++] = "channel";
    head[nc++] = "contacts";
    head[nc++] = arm ? "challenger" : "treated";
    head[nc++] = "rate";
    head[nc++] = arm ? "champion" : "control";
    head[nc++] = "rate";
    head[nc++] = "uplift";
    head[nc++] = "95% CI (pp)";
    head[nc++] = arm ? "value/chall." : "value/treated";
    head[nc++] = arm ? "value/champ." : "value/control";
    head[nc++] = "outcomes (per contact)";
    char (*cells)[COLS][CELL] = calloc(rep->n_rows + 1, sizeof *cells);
    if (!cells) return;
    for (size_t j = 0; j < nc; j++) snprintf(cells[0][j], CELL, "%s", head[j]);
    for (size_t i = 0; i < rep->n_rows; i++) fill_row(rep, &rep->rows[i], cells[i + 1]);
    size_t width[COLS] = { 0 };
    for (size_t i = 0; i <= rep->n_rows; i++)
        for (size_t j = 0; j < nc; j++)
            if (strlen(cells[i][j]) > width[j]) width[j] = strlen(cells[i][j]);
    for (size_t i = 0; i <= rep->n_rows; i++) {
        for (size_t j = 0; j < nc; j++) {
            bool left = j == 0 || (ch && j == 1) || j == nc - 1;
            if (j == nc - 1) printf("%s", cells[i][j]);
            else printf(left ? "%-*s  " : "%*s  ", (int)width[j], cells[i][j]);
        }
        printf("\n");
    }
    free(cells);
}

int arb_cli_report(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    arb_report_options_t opt = { .by = ARB_REPORT_BY_ACTION };
    for (int i = 1; i < argc; i++) {
        long long t;
        if ((strcmp(argv[i], "--since") == 0 || strcmp(argv[i], "--until") == 0) && i + 1 < argc) {
            bool since = argv[i][2] == 's';
            if (arb_cli_parse_time(argv[++i], &t) < 0) {
                fprintf(stderr, "arbiter report: %s: expected unix seconds or YYYY-MM-DD\n", argv[i]);
                return 2;
            }
            if (since) opt.has_since = true, opt.since = t;
            else opt.has_until = true, opt.until = t;
        } else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            const char *b = argv[++i];
            if (strcmp(b, "action") == 0) opt.by = ARB_REPORT_BY_ACTION;
            else if (strcmp(b, "arm") == 0) opt.by = ARB_REPORT_BY_ARM;
            else if (strcmp(b, "channel") == 0) opt.by = ARB_REPORT_BY_CHANNEL;
            else return usage(stderr, 2);
        } else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage(stdout, 0);
        else if (!dir && argv[i][0] != '-') dir = argv[i];
        else return usage(stderr, 2);
    }
    if (!dir) return usage(stderr, 2);
    arb_logset_t set = { 0 };
    arb_err_t err;
    if (arb_logset_read_dir(&set, dir, &err) < 0) {
        fprintf(stderr, "arbiter report: %s\n", err.message);
        arb_logset_free(&set);
        return 2;
    }
    if (set.malformed)
        fprintf(stderr, "arbiter report: %zu malformed line%s skipped (the first: %s)\n",
                set.malformed, set.malformed == 1 ? "" : "s", set.first_malformed);
    arb_report_t rep;
    int code = 0;
    if (arb_report_compute(set.recs, set.n, &opt, &rep, &err) < 0) {
        fprintf(stderr, "arbiter report: %s\n", err.message);
        arb_logset_free(&set);
        return 2;
    }
    if (json) {
        code = print_json(&rep, &set, &opt);
    } else {
        printf("%llu records (%llu decisions, %llu customers) from %zu file%s; "
               "%zu malformed line%s, %zu torn tail%s skipped\n",
               (unsigned long long)rep.records, (unsigned long long)rep.decisions,
               (unsigned long long)rep.customers, set.files, set.files == 1 ? "" : "s",
               set.malformed, set.malformed == 1 ? "" : "s", set.torn, set.torn == 1 ? "" : "s");
        print_table(&rep);
    }
    arb_report_free(&rep);
    arb_logset_free(&set);
    return code;
}
