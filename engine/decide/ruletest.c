/* Rule tests (see ruletest.h): the tests of a folder, read by
 * ruleset/testread.c in a state of their own, each decided through
 * arb_decide_bytes (the path the server takes, with explain forced on) and
 * its expectations compared with the arb_decision_t value. Keeps the decide
 * folder's rule: values in, values out; the only Lua that runs here is the
 * ruleset's own rules, deciding.
 */
#include "engine/decide/ruletest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/problems.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/testread.h"

/* Memory and wall time all the tests' decisions may take together: each
 * Lua call has its own budgets, but 3,000 tests of a rule that stops on its
 * 100 ms wall budget held a server's reload job for 5 minutes. */
#define RUN_MEMORY (256u * 1024 * 1024)
#define RUN_WALL_NS (5000000000ull)

typedef arb_id_list_t id_list_t;
typedef arb_rule_test_t test_case_t;

/* The decision's parts a test looks at. */
typedef struct outcome {
    const arb_decision_t *dec;       /* the decider's view, read before the next test */
} outcome_t;

/* Append the chosen ids as "a, b, c" to buf. */
static void ids_text(const outcome_t *out, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < out->dec->n_actions; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", i ? ", " : "", out->dec->actions[i].id);
    }
    if (!buf[0]) snprintf(buf, n, "nothing");
}

/* Position of id among the chosen actions, or -1. */
static int chosen_at(const outcome_t *out, const char *id)
{
    for (uint32_t i = 0; i < out->dec->n_actions; i++)
        if (strcmp(out->dec->actions[i].id, id) == 0) return (int)i;
    return -1;
}

static const char *reason_of(const outcome_t *out, const char *id, size_t *len)
{
    for (uint32_t i = 0; i < out->dec->n_explain; i++) {
        const arb_explained_t *e = &out->dec->explain[i];
        if (strcmp(e->id, id) == 0) {
            *len = strlen(e->reason);
            return e->reason;
        }
    }
    return NULL;
}

/* ---- checking */

static bool chosen_is(const outcome_t *out, const id_list_t *want)
{
    if (out->dec->n_actions != want->n) return false;
    for (size_t i = 0; i < want->n; i++)
        if (!want->items[i] || chosen_at(out, want->items[i]) != (int)i) return false;
    return true;
}

/* Check the test's expectations against out. Adds one failure per broken
 * expectation. */
static int check_expectations(const test_case_t *t, const outcome_t *out, arb_problems_t *failures)
{
    int failed = 0;
    char got[1024];
    ids_text(out, got, sizeof got);
    if (t->expect.given && !chosen_is(out, &t->expect)) {
        char want[1024] = "";
        for (size_t i = 0; i < t->expect.n; i++) {
            size_t used = strlen(want);
            snprintf(want + used, sizeof want - used, "%s%s", i ? ", " : "",
                     t->expect.items[i] ? t->expect.items[i] : "?");
        }
        arb_problems_add(failures, "%s: expected %s, got %s", t->where,
                         t->expect.n ? want : "nothing", got);
        failed++;
    }
    for (int pass = 0; pass < 2; pass++) {
        const id_list_t *l = pass ? &t->excludes : &t->includes;
        for (size_t i = 0; i < l->n; i++) {
            const char *id = l->items[i];
            if (id && (chosen_at(out, id) >= 0) == (pass == 1)) {
                arb_problems_add(failures, "%s: expected %s%s, got %s", t->where,
                                 pass ? "no " : "", id, got);
                failed++;
            }
        }
    }
    for (size_t i = 0; i < t->reason_ids.n; i++) {
        const char *id = t->reason_ids.items[i], *want = t->reason_wants.items[i];
        size_t len = 0;
        const char *have = id ? reason_of(out, id, &len) : NULL;
        if (!id || !want || !have || len < strlen(want) || memcmp(have, want, strlen(want)) != 0) {
            arb_problems_add(failures, "%s: expected the reason for %s to be '%s', got '%.*s'",
                             t->where, id ? id : "?", want ? want : "?", have ? (int)len : 4,
                             have ? have : "none");
            failed++;
        }
    }
    return failed;
}

static int run_one(arb_ruleset_t *rs, arb_decider_t *d, const test_case_t *t,
                   arb_problems_t *failures, int verbose)
{
    int failed = 0;
    if (t->err[0]) {
        arb_problems_add(failures, "%s: %s", t->where, t->err);
        failed = 1;
    } else {
        arb_decide_once_t once;
        arb_err_t e;
        outcome_t out = { arb_decide_bytes(d, rs, t->context.data, t->context.size, NULL, &once, &e) };
        if (!out.dec) {
            arb_problems_add(failures, "%s: the context is invalid: %.500s", t->where, e.message);
            failed = 1;
        } else {
            failed = check_expectations(t, &out, failures);
        }
        arb_decide_once_done(&once);
    }
    if (verbose) {
        char where[sizeof t->where];
        arb_text_clean(t->where, strlen(t->where), where, sizeof where);
        printf("%s %s\n", failed ? "FAIL" : "ok  ", where);
    }
    return failed;
}

int arb_ruleset_run_tests(arb_ruleset_t *rs, const char *dir, arb_problems_t *failures,
                          int verbose)
{
    arb_rule_tests_t r;
    if (arb_rule_tests_read(dir, &r, failures) < 0) return -1;
    int rc = 0;
    arb_decider_t *d = arb_decider_new();
    if (!d) {
        arb_problems_add(failures, "%s: out of memory running the tests", dir);
        rc = -1;
    } else {
        arb_decider_force_explain(d, true);
        /* One wall budget for every Lua call of the run, so that no test
         * passes the run's deadline; the instructions stay per call. */
        arb_ruleset_run_budget_begin(rs, RUN_MEMORY, RUN_WALL_NS);
        uint64_t deadline = arb_ruleset_run_clock_ns(rs) + RUN_WALL_NS;
        for (size_t i = 0; i < r.n; i++) {
            if (arb_ruleset_run_clock_ns(rs) >= deadline) {
                arb_problems_add(failures, "%s: running the tests stopped after %zu of %zu: together "
                                 "they may take %llu s (do rules stop on their budgets in every test?)",
                                 dir, i, r.n, RUN_WALL_NS / 1000000000ull);
                rc = -1;
                break;
            }
            run_one(rs, d, &r.cases[i], failures, verbose);
        }
        arb_ruleset_run_budget_end(rs);
        arb_decider_free(d);
    }
    size_t n = r.n;
    arb_rule_tests_free(&r);
    return rc < 0 ? -1 : (int)n;
}
