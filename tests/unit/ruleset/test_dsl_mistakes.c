/* Unit tests for the mistakes the loader refuses instead of running them
 * silently (dsl/README.mistakes.md, issue 16 "No silent mistakes"): each
 * mistake is a load problem naming the rule's file:line and saying what to
 * write, and the right form of each still loads. Rule folders are written
 * from strings into temp folders (tests/support/rulefix.c).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(dsl_mistakes, .init = rf_setup, .fini = rf_teardown);

/* a.lua: one action 'a' whose `when` is the text, on line 1. */
static bool load_when_text(const char *when)
{
    char text[2048];
    snprintf(text, sizeof text, "action 'a' { channels = { 'web' }, value = 1, when = %s }\n", when);
    return rf_load(&R, "a.lua", text, NULL);
}

/* The load of `when` fails with a problem at a.lua:1 containing needle and
 * needle2 (NULL for none), and with nothing else but that problem. */
static void refused(const char *when, const char *needle, const char *needle2)
{
    cr_expect_not(load_when_text(when), "%s must not load", when);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", needle, needle2, NULL),
                       "%s: want '%s' '%s', got:\n%s", when, needle, needle2 ? needle2 : "",
                       rf_problems(&R));
    cr_expect_eq(R.problems.total, 1, "%s: one problem, not a second misleading one:\n%s", when,
                 rf_problems(&R));
}

static void loads(const char *when)
{
    cr_expect(load_when_text(when), "%s must load: %s", when, rf_problems(&R));
}

/* ---- every word checks its arity ------------------------------------------ */

Test(dsl_mistakes, an_extra_argument_to_a_word_is_refused)
{
    refused("bought('laptop', within(days(30)), 'store')", "bought: takes at most 2 arguments, got 3",
            "write bought(\"laptop\", within(days(30)))");
    refused("no(raining(), cold())", "no: takes one argument, got 2", "no(any { a, b })");
    refused("raining(1)", "raining: takes no argument, got 1", "write raining()");
    refused("weekend('x')", "weekend: takes no argument, got 1", NULL);
    refused("attribute('tier', 'gold', 'x')", "attribute: takes at most 2 arguments", NULL);
    refused("all({ raining() }, cold())", "all: takes one argument, got 2", NULL);
    refused("temperature(at_least(25, 30))", "at_least: takes one argument, got 2", NULL);
}

Test(dsl_mistakes, a_trailing_nil_counts_as_an_argument)
{
    refused("bought('laptop', within(days(30)), nil)", "bought: takes at most 2 arguments, got 3", NULL);
    refused("cold(nil)", "cold: takes no argument, got 1", NULL);
}

Test(dsl_mistakes, the_right_number_of_arguments_loads)
{
    loads("bought('laptop', within(days(30)))");
    loads("no(raining())");
    loads("all { raining(), weekend(), attribute('tier', 'gold'), temperature(at_least(25)) }");
    loads("weekday('sat', 'sun', 'mon')");
    loads("bought('laptop', nil)");
}

Test(dsl_mistakes, a_declaration_given_its_body_as_an_argument_is_refused)
{
    cr_expect_not(rf_load(&R, "a.lua", "\naction('a', { channels = { 'web' }, value = 1 })\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "action: takes one argument, got 2",
                                       "write action \"id\" { ... }", NULL),
                       "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 1, "no second 'has no body':\n%s", rf_problems(&R));
}

/* ---- durations and score comparisons --------------------------------------- */

Test(dsl_mistakes, a_duration_without_its_unit_is_refused)
{
    refused("bought('laptop', within(30))", "within: 30 is a number of seconds, surely a missing unit (this duration is at least a minute)",
            "write within(days(30))");
    refused("lapsed(90)", "lapsed: 90 is a number of seconds", "write lapsed(days(90))");
    refused("lapsed(minutes(30))", "lapsed: 1800 is a number of seconds", "(this duration is at least an hour)");
    refused("due_for_replenishment('coffee', 30)", "due_for_replenishment: 30 is a number of seconds",
            "days(30)");
    cr_expect_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 1,\n"
                          "  weight = recency('laptop', 14) }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "recency: 14 is a number of seconds",
                                       "recency(..., days(14))", NULL), "%s", rf_problems(&R));
}

Test(dsl_mistakes, a_date_given_as_a_duration_is_refused)
{
    /* A date in milliseconds (Date.now() in JavaScript). */
    refused("bought('laptop', within(1767225600000))", "1767225600000 seconds is over 100 years",
            "looks like a date, not a duration");
    refused("lapsed(1767225600000)", "looks like a date, not a duration", NULL);
}

Test(dsl_mistakes, durations_with_their_unit_load)
{
    loads("bought('laptop', within(days(30)))");
    loads("bought('laptop', within(minutes(1)))");
    loads("lapsed(days(90))");
    loads("due_for_replenishment('coffee', weeks(4))");
    loads("bought('laptop', within(days(365 * 99)))");
}

Test(dsl_mistakes, a_score_comparison_that_cannot_hold_is_refused)
{
    const char *models = "models { 'churn' }\n";
    const char *bad[] = { "score('churn', above(1.2))", "score('churn', at_least(-1))",
                          "score('churn', between(0.5, 2))", "score('churn', 7)",
                          "score('churn', below(-0.1))" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "action 'a' { channels = { 'web' }, value = 1, when = %s }\n", bad[i]);
        cr_expect_not(rf_load(&R, "a.lua", text, "m.lua", models, NULL), "%s", bad[i]);
        cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", "is outside [0, 1]", "above(0.7)", NULL),
                           "%s:\n%s", bad[i], rf_problems(&R));
    }
    cr_expect_not(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1, when = score('churn', 'high') }\n",
                          "m.lua", models, NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", "a score is a number, never a string", NULL),
                       "%s", rf_problems(&R));
    cr_expect(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1,\n"
                      "  when = all { score('churn', above(0.7)), score('churn', between(0, 1)),\n"
                      "               score('churn', at_most(1)), score('churn', below(1)) } }\n",
                      "m.lua", models, NULL), "%s", rf_problems(&R));
}
