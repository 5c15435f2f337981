/* Rule tests: the *_test.lua files beside a ruleset's rules, each a context
 * and the actions expected for it, run against a loaded ruleset by
 * `arbiter test` and by every reload before the swap. The test files run in
 * a state of their own (ruleset/testread.h), never in the ruleset's; only
 * the decisions run the ruleset's rules.
 */
#ifndef ARB_RULETEST_H
#define ARB_RULETEST_H

#include "engine/ruleset/ruleset.h"

/* Run the tests of dir against rs. Every failure is added to failures as
 * "file:line: test 'name': expected ..., got ...". Returns the number of
 * tests run, or -1 when a test file could not be loaded (the problem is in
 * failures). verbose: print one line per test to stdout. */
int arb_ruleset_run_tests(arb_ruleset_t *rs, const char *dir, arb_problems_t *failures,
                          int verbose);

#endif
