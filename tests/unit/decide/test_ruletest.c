/* Unit tests for rule test files (engine/decide/ruletest.c): a passing file
 * passes, a failing test is reported at its file and line, a broken test
 * file is a problem. Rule folders come from tests/support/rulefix.c.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bindings/lua/sandbox.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(ruletest, .init = rf_setup, .fini = rf_teardown);

/* ---- rule test files ---------------------------------------------------- */

#define TESTED_RULES                                                                 \
    "action 'umbrella' { channels = { 'app' }, requires = { 'location' }, value = 8,\n" \
    "  when = all { raining(), in_country('FR') } }\n"                               \
    "fallback 'newsletter' { channels = { 'app', 'web' }, value = 1 }\n"

Test(ruletest, run_tests_passes_a_passing_test_file)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua",
             "test 'rain in France' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' },\n"
             "              consent = { location = true }, location = { country = 'FR' } },\n"
             "  expect = { 'umbrella' },\n"
             "}\n"
             "test 'no consent' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' },\n"
             "              location = { country = 'FR' } },\n"
             "  expect = { 'newsletter' }, excludes = { 'umbrella' },\n"
             "  reasons = { umbrella = 'consent:location' },\n"
             "}\n"
             "test 'uses the test clock' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home',\n"
             "              purchases = { { category = 'x', ts = ago(days(2)) } } },\n"
             "  includes = { 'newsletter' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 3, "three tests run");
    cr_expect_eq(failures.n, 0, "first failure: %s", failures.n ? failures.items[0] : "");
    arb_problems_free(&failures);
}

Test(ruletest, run_tests_run_in_a_state_of_their_own)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    /* A test keeping 4 MB: read in the tests' own state, it is gone with
     * that state; the published ruleset's state does not grow. */
    rf_write(&R, "rules_test.lua",
             "local big = string.rep('x', 4 * 1024 * 1024)\n"
             "test 'keeps a big string' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  expect = { 'newsletter' }, note = big,\n"
             "}\n");
    lua_gc(R.rs->L, LUA_GCCOLLECT);
    size_t before = R.rs->sandbox->used;
    arb_problems_t failures = { 0 };
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &failures, 0), 1);
    cr_expect_eq(failures.n, 0, "first failure: %s", failures.n ? failures.items[0] : "");
    arb_problems_free(&failures);
    lua_gc(R.rs->L, LUA_GCCOLLECT);
    cr_expect_lt(R.rs->sandbox->used, before + 1024 * 1024,
                 "the ruleset's state grew from %zu to %zu bytes", before, R.rs->sandbox->used);
}

Test(ruletest, run_tests_reports_the_file_and_line_of_a_failing_test)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "a_test.lua",
             "test 'passes' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  expect = { 'newsletter' },\n"
             "}\n"
             "\n"
             "test 'wrong expectation' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' } },\n"
             "  expect = { 'umbrella' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 2);
    cr_assert_eq(failures.n, 1, "exactly one failure");
    char want[256];
    snprintf(want, sizeof want, "%s/a_test.lua:6: test 'wrong expectation'", R.dir);
    cr_expect(rf_starts(failures.items[0], want), "got: %s\nwant prefix: %s", failures.items[0], want);
    cr_expect(strstr(failures.items[0], "umbrella") && strstr(failures.items[0], "newsletter"),
              "names what was expected and what came: %s", failures.items[0]);
    arb_problems_free(&failures);
}

Test(ruletest, run_tests_reports_a_broken_test_file)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "b_test.lua", "test 'x' {\n  context = { channel = 'web' \n");
    arb_problems_t failures = { 0 };
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &failures, 0), -1);
    cr_assert_geq(failures.n, 1);
    char want[256];
    snprintf(want, sizeof want, "%s/b_test.lua:", R.dir);
    cr_expect(rf_starts(failures.items[0], want), "%s", failures.items[0]);
    arb_problems_free(&failures);
}
