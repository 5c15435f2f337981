/* Reading the decision log back into records (logread.h). It keeps the
 * audit/ folder's rule: base/ and a Debian library (jansson) only; the
 * schema it checks is the one the writer (log.c) documents in README.md.
 * Lenient where a reader can afford it (unknown keys ignored, a missing
 * optional field read as null), strict where a figure would be wrong (a
 * record without its customer, its time or its type is malformed).
 */
#include "engine/audit/logread.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/fileio.h"

/* A log file is rotated at --log-max-bytes (64 MiB by default); this bound
 * only keeps a stray huge file from exhausting memory. */
#define LOG_FILE_MAX ((size_t)4 << 30)

/* A copy of the string member key: 0 with *out (NULL when absent or null),
 * -1 when present with another type. */
static int opt_str(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    return (*out = strdup(json_string_value(v))) ? 0 : -1;
}

static int req_str(json_t *o, const char *key, char **out)
{
    return opt_str(o, key, out) < 0 || !*out ? -1 : 0;
}

static int opt_num(json_t *o, const char *key, bool *has, double *out)
{
    json_t *v = json_object_get(o, key);
    *has = false;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return -1;
    *has = true;
    *out = json_number_value(v);
    return 0;
}

static int parse_actions(json_t *arr, arb_logrec_t *r, char *err, size_t errlen)
{
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr)) return snprintf(err, errlen, "actions: expected an array"), -1;
    size_t n = json_array_size(arr);
    if (n && !(r->actions = calloc(n, sizeof *r->actions))) return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(arr, i);
        arb_logrec_action_t *x = &r->actions[i];
        bool has;
        if (!json_is_object(a) || req_str(a, "id", &x->id) < 0)
            return snprintf(err, errlen, "actions[%zu]: expected an object with an id", i), -1;
        r->n_actions = (uint32_t)i + 1;
        if (opt_num(a, "priority", &has, &x->priority) < 0 ||
            opt_num(a, "propensity", &has, &x->propensity) < 0 ||
            opt_num(a, "value", &has, &x->value) < 0)
            return snprintf(err, errlen, "actions[%zu]: a figure is not a number", i), -1;
    }
    return 0;
}

static int parse_held(json_t *arr, arb_logrec_t *r, char *err, size_t errlen)
{
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr)) return snprintf(err, errlen, "held: expected an array"), -1;
    size_t n = json_array_size(arr);
    if (n && !(r->held = calloc(n, sizeof *r->held))) return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(arr, i);
        arb_logrec_held_t *x = &r->held[i];
        if (!json_is_object(h) || req_str(h, "id", &x->id) < 0)
            return snprintf(err, errlen, "held[%zu]: expected an object with an id", i), -1;
        r->n_held = (uint32_t)i + 1;
        if (opt_str(h, "control", &x->control) < 0)
            return snprintf(err, errlen, "held[%zu].control: expected a string", i), -1;
    }
    return 0;
}

static int parse_decision(json_t *o, arb_logrec_t *r, char *err, size_t errlen)
{
    char *group = NULL;
    if (opt_str(o, "touchpoint", &r->touchpoint) < 0 || opt_str(o, "ruleset", &r->ruleset) < 0 ||
        opt_str(o, "experiment", &r->experiment) < 0 || opt_str(o, "arm", &r->arm) < 0 ||
        opt_str(o, "group", &group) < 0)
        return snprintf(err, errlen, "a decision's field is not a string"), -1;
    bool bad = group && strcmp(group, "control") != 0 && strcmp(group, "treatment") != 0;
    r->control = group && strcmp(group, "control") == 0;
    free(group);
    if (bad) return snprintf(err, errlen, "group: expected \"treatment\" or \"control\""), -1;
    if (parse_actions(json_object_get(o, "actions"), r, err, errlen) < 0 ||
        parse_held(json_object_get(o, "held"), r, err, errlen) < 0)
        return -1;
    json_t *ctx = json_object_get(o, "ctx");
    if (ctx && !json_is_null(ctx)) {
        if (!json_is_object(ctx)) return snprintf(err, errlen, "ctx: expected an object"), -1;
        if (!(r->ctx = json_dumps(ctx, JSON_COMPACT | JSON_PRESERVE_ORDER)))
            return snprintf(err, errlen, "out of memory"), -1;
    }
    return 0;
}

int arb_logrec_parse(const char *line, size_t len, arb_logrec_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return snprintf(err, errlen, "not JSON: %s", je.text), -1;
    int rc = -1;
    json_t *v = json_object_get(o, "v"), *type = json_object_get(o, "type"),
           *ts = json_object_get(o, "ts");
    if (!json_is_object(o)) snprintf(err, errlen, "not a JSON object");
    else if (!json_is_integer(v) || json_integer_value(v) != 1) snprintf(err, errlen, "v: expected 1");
    else if (!json_is_integer(ts)) snprintf(err, errlen, "ts: expected an integer");
    else if (!json_is_string(type)) snprintf(err, errlen, "type: expected a string");
    else if (req_str(o, "customer", &r->customer) < 0 || !r->customer[0])
        snprintf(err, errlen, "customer: expected a pseudonym");
    else if (opt_str(o, "decision_id", &r->decision_id) < 0 || opt_str(o, "channel", &r->channel) < 0)
        snprintf(err, errlen, "decision_id, channel: expected strings or null");
    else {
        r->ts = json_integer_value(ts);
        const char *t = json_string_value(type);
        if (strcmp(t, "decision") == 0) {
            r->type = ARB_LOGREC_DECISION;
            rc = parse_decision(o, r, err, errlen);
        } else if (strcmp(t, "feedback") == 0) {
            r->type = ARB_LOGREC_FEEDBACK;
            if (req_str(o, "action", &r->action) < 0 || req_str(o, "outcome", &r->outcome) < 0)
                snprintf(err, errlen, "feedback: action and outcome are strings");
            else if (opt_num(o, "value", &r->has_value, &r->value) < 0)
                snprintf(err, errlen, "value: expected a number or null");
            else rc = 0;
        } else if (strcmp(t, "purchase") == 0) {
            r->type = ARB_LOGREC_PURCHASE;
            if (opt_str(o, "sku", &r->sku) < 0 || opt_str(o, "category", &r->category) < 0)
                snprintf(err, errlen, "sku, category: expected strings or null");
            else if (opt_num(o, "price", &r->has_value, &r->value) < 0)
                snprintf(err, errlen, "price: expected a number or null");
            else rc = 0;
        } else {
            snprintf(err, errlen, "type: unknown record type");
        }
    }
    json_decref(o);
    if (rc < 0) arb_logrec_free(r);
    return rc;
}

static int push(arb_logset_t *set, const arb_logrec_t *r)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        arb_logrec_t *p = realloc(set->recs, cap * sizeof *p);
        if (!p) return -1;
        set->recs = p;
        set->cap = cap;
    }
    set->recs[set->n++] = *r;
    return 0;
}

int arb_logset_add_text(arb_logset_t *set, const char *text, size_t len, const char *name)
{
    size_t lineno = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        lineno++;
        if (!nl) {              /* the writer always ends a line: this one was cut */
            set->torn++;
            break;
        }
        size_t n = (size_t)(nl - (text + at));
        if (n) {
            arb_logrec_t r;
            char why[300];
            if (arb_logrec_parse(text + at, n, &r, why, sizeof why) == 0) {
                if (push(set, &r) < 0) {
                    arb_logrec_free(&r);
                    return -1;
                }
            } else if (set->malformed++ == 0) {
                snprintf(set->first_malformed, sizeof set->first_malformed, "%s:%zu: %s",
                         name, lineno, why);
            }
        }
        at += n + 1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int arb_logset_read_dir(arb_logset_t *set, const char *dir, arb_err_t *err)
{
    DIR *d = opendir(dir);
    if (!d) return arb_err_set(err, ARB_INVALID_PARAMS, "%s: cannot read the log folder: %m", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 6, ".jsonl") != 0 || e->d_name[0] == '.') continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *p);
            if (!p) { rc = arb_err_set(err, ARB_INTERNAL, "out of memory"); break; }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = arb_err_set(err, ARB_INTERNAL, "out of memory"); break; }
        n++;
    }
    int dfd = dirfd(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *text = NULL, why[300];
        size_t len = 0;
        /* a file that vanished (retention) or is no regular file is skipped */
        int r = arb_file_read(dfd, names[i], true, LOG_FILE_MAX, &text, &len, why, sizeof why);
        if (r == 0) {
            set->files++;
            if (arb_logset_add_text(set, text, len, names[i]) < 0)
                rc = arb_err_set(err, ARB_INTERNAL, "%s: out of memory", dir);
        }
        free(text);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

void arb_logrec_free(arb_logrec_t *r)
{
    free(r->customer);
    free(r->decision_id);
    free(r->channel);
    free(r->touchpoint);
    free(r->ruleset);
    free(r->experiment);
    free(r->arm);
    for (uint32_t i = 0; i < r->n_actions; i++) free(r->actions[i].id);
    free(r->actions);
    for (uint32_t i = 0; i < r->n_held; i++) {
        free(r->held[i].id);
        free(r->held[i].control);
    }
    free(r->held);
    free(r->ctx);
    free(r->action);
    free(r->outcome);
    free(r->sku);
    free(r->category);
    memset(r, 0, sizeof *r);
}

void arb_logset_free(arb_logset_t *set)
{
    for (size_t i = 0; i < set->n; i++) arb_logrec_free(&set->recs[i]);
    free(set->recs);
    memset(set, 0, sizeof *set);
}
