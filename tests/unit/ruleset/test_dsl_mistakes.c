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

/* As refused, for `not x`: the when is then false, a boolean, which the
 * compiler reports too. */
static void refused_not(const char *when, const char *needle, const char *needle2)
{
    cr_expect_not(load_when_text(when), "%s must not load", when);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", needle, needle2, NULL),
                       "%s: want '%s' '%s', got:\n%s", when, needle, needle2 ? needle2 : "",
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
    /* the words of the prelude's parts (dates, order in time) too */
    refused("season('spring', 'north')", "season: takes one argument, got 2", "season(\"spring\")");
    refused("since('engaged_at', at_least(months(2)), 'x')", "since: takes at most 2 arguments", NULL);
    refused("one_category(within(days(30)), 1)", "one_category: takes one argument, got 2", NULL);
    refused("before(viewed('tv'), bought('tv'), bought('tv'))", "before: takes at most 2 arguments", NULL);
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
    loads("all { season('spring'), since('engaged_at', at_least(months(2))), one_category() }");
    loads("before(viewed('tv'), bought('tv'))");
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

/* ---- Lua's and / or / not between conditions ------------------------------ */

Test(dsl_mistakes, lua_and_between_conditions_is_refused)
{
    refused("raining() and cold()", "Lua's 'and' after raining(...)", "write all { a, b } for both");
    refused("bought('tv') and viewed 'laptop'", "Lua's 'and' after bought(...)", "`a and b` is b alone");
    refused("all { raining() } and any { cold(), hot() }", "Lua's 'and' after all(...)", NULL);
}

Test(dsl_mistakes, lua_or_between_conditions_is_refused)
{
    refused("raining() or cold()", "Lua's 'or' after raining(...)", "write any { a, b } for either");
    refused("bought 'tv' or bought 'radio'", "Lua's 'or' after bought(...)", NULL);
}

Test(dsl_mistakes, lua_not_of_a_condition_is_refused)
{
    refused_not("not raining()", "Lua's 'not' before raining(...)", "write no(a) for its opposite");
    refused_not("not (bought('tv'))", "Lua's 'not' before bought(...)", "`not a` is always false");
}

Test(dsl_mistakes, lua_and_before_a_word_after_a_plain_value_is_refused)
{
    /* The condition on the left is a local: only the word on the right shows. */
    cr_expect_not(rf_load(&R, "a.lua",
                          "local wet = raining()\n"
                          "action 'a' { channels = { 'web' }, value = 1,\n"
                          "  when = wet and cold() }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:3:", "Lua's 'and' before cold(...)", NULL),
                       "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 1, "%s", rf_problems(&R));
}

Test(dsl_mistakes, every_and_of_a_file_is_reported_at_its_line)
{
    cr_expect_not(rf_load(&R, "a.lua",
                          "-- raining() and cold() in a comment is fine\n"
                          "action 'a' { channels = { 'web' }, value = 1, when = raining() }\n"
                          "action 'b' { channels = { 'web' }, value = 1,\n"
                          "  when = all { raining(),\n"
                          "    hot() or\n"
                          "    cold() } }\n"
                          "local s = [[ not raining() ]] .. \"cold() and hot()\"\n"
                          "action 'c' { channels = { 'web' }, value = 1, when = not weekend() }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:5:", "Lua's 'or' after hot(...)", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:8:", "Lua's 'not' before weekend(...)", NULL),
                       "%s", rf_problems(&R));
    cr_expect_null(rf_problem_with(&R, "a.lua:1:", NULL), "nothing in the comment:\n%s", rf_problems(&R));
    cr_expect_null(rf_problem_with(&R, "a.lua:7:", NULL), "nothing in the strings:\n%s", rf_problems(&R));
}

Test(dsl_mistakes, plain_lua_and_or_not_stay_legal)
{
    cr_expect(rf_load(&R, "a.lua",
                      "local premium = true\n"
                      "local t = { all = function(x) return x end }\n"
                      "local n = premium and 2 or 1\n"
                      "--[==[ raining() and cold() ]==]\n"
                      "action 'a' { channels = { 'web' }, value = 1, weight = n,\n"
                      "  when = function(c) return c.x and c.y or not c.z end }\n"
                      "action 'b' { channels = { 'web' }, value = 1,\n"
                      "  when = all { raining(), no(cold()), function(c) return not c.any and c.all end } }\n"
                      "local fields = t.all(1) and t:all(2) or t.all { 3 }\n"
                      "local days_ok = premium and days(3) or days(7)\n"
                      "action 'd' { channels = { 'web' }, value = 1, when = bought('tv', within(days_ok)),\n"
                      "  description = 'raining() and cold()' }\n",
                      NULL),
              "%s", rf_problems(&R));
}

/* ---- in_store names a declared store --------------------------------------- */

Test(dsl_mistakes, in_store_of_an_undeclared_store_is_refused)
{
    cr_expect_not(rf_load(&R, "a.lua",
                          "store 'berlin' { lat = 52.52, lon = 13.40 }\n"
                          "action 'a' { channels = { 'web' }, value = 1,\n"
                          "  when = in_store('berlln') }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "action 'a'", "in_store(\"berlln\"): no store \"berlln\" is declared",
                                       "declare it with store \"berlln\"", NULL),
                       "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 1, "%s", rf_problems(&R));
}

Test(dsl_mistakes, in_store_of_a_declared_store_or_of_any_loads)
{
    /* The store may be declared in a later file: stores compile first. */
    cr_expect(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1, when = in_store('berlin') }\n"
                      "action 'b' { channels = { 'web' }, value = 1, when = in_store() }\n",
                      "z.lua", "store 'berlin' { lat = 52.52, lon = 13.40 }\n", NULL),
              "%s", rf_problems(&R));
}

/* ---- rule tests name actions the ruleset has -------------------------------- */

Test(dsl_mistakes, a_rule_test_naming_an_unknown_action_fails_naming_it)
{
    cr_assert(rf_load(&R, "rules.lua",
                      "action 'umbrella' { channels = { 'web' }, value = 1, when = raining() }\n"
                      "action 'sunscreen' { channels = { 'web' }, value = 1, when = hot() }\n", NULL),
              "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua",
             "test 'rain' {\n"
             "  context = { weather = { condition = 'rain' } },\n"
             "  expect = { 'umbrela' },\n"
             "}\n"
             "test 'heat' {\n"
             "  context = { weather = { temp_c = 30 } },\n"
             "  includes = { 'sunscreen' }, excludes = { 'parasol' },\n"
             "}\n"
             "test 'why' {\n"
             "  context = { },\n"
             "  reasons = { snow_boots = 'when' },\n"
             "}\n"
             "test 'right' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home', weather = { condition = 'rain' } },\n"
             "  expect = { 'umbrella' }, excludes = { 'sunscreen' }, reasons = { sunscreen = 'when' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 4);
    char all[4096] = "";
    for (size_t i = 0; i < failures.n; i++) { strncat(all, failures.items[i], sizeof all - strlen(all) - 2); strcat(all, "\n"); }
    cr_assert_eq(failures.n, 3, "the right test passes:\n%s", all);
    cr_expect(strstr(failures.items[0], "rules_test.lua:1: test 'rain': expect names 'umbrela', an id no "
                                        "action or fallback of the ruleset has (did you mean 'umbrella'?)"),
              "%s", failures.items[0]);
    cr_expect(strstr(failures.items[1], "rules_test.lua:5: test 'heat': excludes names 'parasol', an id no "
                                        "action or fallback of the ruleset has: fix the id, or remove it"),
              "%s", failures.items[1]);
    cr_expect(strstr(failures.items[2], "rules_test.lua:9: test 'why': reasons names 'snow_boots'"),
              "%s", failures.items[2]);
    arb_problems_free(&failures);
}

/* ---- the numbers a priority multiplies ---------------------------------------- */

Test(dsl_mistakes, an_action_of_value_or_weight_zero_is_refused)
{
    cr_expect_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 0 }\n"
                          "action 'b' { channels = { 'web' }, value = 1, weight = 0 }\n"
                          "action 'c' { channels = { 'web' }, value = 1, weight = -2 }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", "action 'a'", "'value' is 0",
                                       "it would never be shown", "hold it out with a control", NULL),
                       "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "action 'b'", "'weight' is 0",
                                       "remove it, or hold it out with a control", NULL),
                       "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:3:", "action 'c'", "'weight' is -2",
                                       "must be 0 or more", NULL), "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 3, "%s", rf_problems(&R));
}

Test(dsl_mistakes, a_refused_value_is_not_also_called_zero)
{
    cr_expect_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = -1 }\n"
                          "action 'b' { channels = { 'web' } }\n"
                          "action 'c' { channels = { 'web' }, value = 1 / 0 }\n", NULL));
    cr_expect_eq(R.problems.total, 3, "one each, none saying 0:\n%s", rf_problems(&R));
    cr_expect_null(rf_problem_with(&R, "is 0", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "'value' is required", NULL), "%s", rf_problems(&R));
}

Test(dsl_mistakes, positive_numbers_and_a_fallback_of_value_zero_load)
{
    cr_expect(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 0.01, weight = 0.5, lever = 2 }\n"
                      "action 'b' { channels = { 'web' }, value = 1, weight = boost(raining(), 0, 1) }\n"
                      "fallback 'f' { channels = { 'web' }, value = 0 }\n", NULL),
              "%s", rf_problems(&R));
}

Test(dsl_mistakes, a_negative_computed_weight_is_a_rule_fault)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'fn' { channels = { 'web' }, value = 1, weight = function(c) return -1 end }\n"
                      "action 'attr' { channels = { 'web' }, value = 1, weight = attribute('ltv') }\n"
                      "action 'plain' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'ltv':-5},'explain':true,'limit':5}");
    cr_expect_str_eq(rf_ids(&R), "plain", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "fn"), "error: the weight is -1, below 0", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "attr"), "error: the weight is -5, below 0", "%s", rf_dump(&R));
    rf_decide(&R, "{'attributes':{'ltv':3},'explain':true,'limit':5}");
    cr_expect_str_eq(rf_ids(&R), "attr,plain", "%s", rf_dump(&R));
}

/* ---- one mistake, one problem --------------------------------------------------- */

Test(dsl_mistakes, recency_of_a_list_says_what_to_write)
{
    cr_expect_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 1,\n"
                          "  weight = recency(bought({ 'mouse', 'trackpad' }), days(7)) }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "recency: a list (bought { ... }) is any of several purchases",
                                       "write max_of(recency(\"mouse\", days(7)), recency(\"trackpad\", days(7)))",
                                       NULL),
                       "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 1, "no 'has no { ... } body' after it:\n%s", rf_problems(&R));
    cr_expect(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1,\n"
                      "  weight = max_of(recency('mouse', days(7)), recency(bought('trackpad'), days(7))) }\n", NULL),
              "%s", rf_problems(&R));
}

Test(dsl_mistakes, a_mistake_in_one_action_leaves_the_others_reported_alone)
{
    /* The file stops at its first error; a body it did not reach is not
     * "missing", and the other files are still compiled and checked. */
    cr_expect_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 1, when = bought('tv', within(7)) }\n"
                          "action 'b' { channels = { 'web' }, value = 1 }\n",
                          "b.lua", "action 'c' { channels = { 'nope' }, value = 1 }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", "within: 7 is a number of seconds", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "b.lua:1:", "unknown channel 'nope'", NULL), "%s", rf_problems(&R));
    cr_expect_null(rf_problem_with(&R, "has no { ... } body", NULL), "%s", rf_problems(&R));
    cr_expect_eq(R.problems.total, 2, "%s", rf_problems(&R));
}

Test(dsl_mistakes, a_declaration_without_a_body_is_still_reported)
{
    cr_expect_not(rf_load(&R, "a.lua", "action 'a'\naction 'b' { channels = { 'web' }, value = 1 }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1:", "action 'a'", "has no { ... } body", NULL),
                       "%s", rf_problems(&R));
}
