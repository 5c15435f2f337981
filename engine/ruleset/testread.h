/* Reading rule tests: the *_test.lua files beside a folder's rules, run in
 * a sandboxed state of their own (never a published ruleset's) and read
 * into plain C values, which decide/ruletest.c decides and checks. Keeps the
 * ruleset folder's rule: no wire, and running out of memory is a problem of
 * the read, never an abort.
 *
 * A test file declares tests with the prelude's test vocabulary:
 *
 *   test "laptop buyer gets a mouse" {
 *     context  = { channel = "email", touchpoint = "email_post_purchase",
 *                  purchases = { { category = "laptop", ts = ago(days(2)) } } },
 *     expect   = { "wireless_mouse" },       -- exactly these ids, in order
 *     includes = { ... }, excludes = { ... },-- or looser checks
 *     reasons  = { umbrella = "consent:location" },  -- explain reasons (prefix)
 *     priorities = { mouse = at_least(2.5), bag = between(1, 2), tv = 12 },
 *     products = { complete_the_look = { "BG-118-GLD", "LS-031-RUBY" } },
 *     customer = { contacts = { { action = "x", channel = "email", ts = ago(days(1)) } },
 *                  outcomes = { ... }, purchases = { ... }, events = { ... },
 *                  consent = { email = false } },     -- the stored customer, optional
 *   }
 */
#ifndef ARB_TESTREAD_H
#define ARB_TESTREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <msgpack.h>

#include "engine/base/problems.h"

/* A list of ids read from a test: an item that is not a string is NULL. */
typedef struct arb_id_list {
    char **items;   /* owned, as are the strings */
    size_t n;
    bool given;     /* the field was there */
} arb_id_list_t;

/* One entry of priorities = { id = comparison }: the action's priority must
 * compare so ("ge" at_least, "le" at_most, "gt" above, "lt" below,
 * "between" a..b, "eq" a plain number, within 1e-9 of it). */
typedef struct arb_priority_want {
    char *id;                   /* owned; NULL when the entry is not id = number or comparison */
    char op[8];
    double a, b;
} arb_priority_want_t;

/* One test as read from its file. */
typedef struct arb_rule_test {
    char where[600];            /* "file:line: test 'name'" */
    char err[600];              /* why it cannot run; "" when it can */
    msgpack_sbuffer context;    /* the packed context, customer_id and now filled in */
    msgpack_sbuffer customer;   /* the packed customer = { ... } table; empty when none */
    arb_id_list_t expect, includes, excludes;
    arb_id_list_t reason_ids, reason_wants;   /* pairs, same length */
    arb_priority_want_t *priorities;          /* owned */
    size_t n_priorities;
    /* products = { id = { "SKU", ... } }: a recommending action chosen with
     * exactly these products, in order; pairs, same length (an entry that
     * is not id = list of strings has a NULL id, and fails). */
    arb_id_list_t product_ids;
    arb_id_list_t *product_wants;             /* owned */
} arb_rule_test_t;

/* The tests of a folder, in file then declaration order; owns every case. */
typedef struct arb_rule_tests {
    arb_rule_test_t *cases;
    size_t n;
} arb_rule_tests_t;

/* Run the test files of dir in a fresh sandboxed state, under the budgets
 * of a load (all the files together), and read their tests into *out
 * (zeroed first; free with arb_rule_tests_free). Returns 0, or -1 with
 * the problems in failures (a file that fails to run: its file:line;
 * "<dir>: reading the tests stopped: <why>"). */
int arb_rule_tests_read(const char *dir, arb_rule_tests_t *out, arb_problems_t *failures);

/* Give every test that names an action id rs does not have (in expect,
 * includes, excludes or reasons) the err saying so, so that it fails
 * naming the id instead of comparing against it. rs is the ruleset the
 * tests run against (borrowed). */
struct arb_ruleset;
void arb_rule_tests_check_ids(arb_rule_tests_t *tests, const struct arb_ruleset *rs);

void arb_rule_tests_free(arb_rule_tests_t *t);

#endif
