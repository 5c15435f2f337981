/* Unit tests for `propensity = adaptive { ... }` (dsl/prelude.lua,
 * engine/ruleset/compile_adaptive.c): every field compiled to its
 * arb_adaptive_t value, the defaults, the hot flag, and each mistake
 * refused at load as a problem at its file:line that says how to fix it.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "engine/decide/policy.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(dsl_adaptive, .init = rf_setup, .fini = rf_teardown);

static const arb_action_t *action(const char *id)
{
    const arb_action_t *a = arb_policy_action(R.rs, id);
    cr_assert_not_null(a, "no action %s", id);
    return a;
}

static const arb_adaptive_t *adaptive(const char *id)
{
    const arb_action_t *a = action(id);
    cr_assert_geq(a->adaptive, 0, "%s is not adaptive", id);
    cr_assert_lt((uint32_t)a->adaptive, R.rs->n_adaptives);
    cr_assert(R.rs->hot[a - R.rs->actions].flags & ARB_HOT_ADAPTIVE, "%s: no hot flag", id);
    return &R.rs->adaptives[a->adaptive];
}

Test(dsl_adaptive, every_field_compiles_to_its_value)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'accessories' }\n"
                      "outcomes { 'wishlist' }\n"
                      "action 'a' { channels = { 'web' }, value = 1, propensity = adaptive {\n"
                      "  positive = 'convert', trial = 'decision', prior = 0.05, strength = 20,\n"
                      "  prior_model = 'accessories', segment = 'loyalty_tier', half_life = days(30),\n"
                      "  explore = 'always', settle = 500 } }\n"
                      "action 'b' { channels = { 'web' }, value = 1, propensity = adaptive {\n"
                      "  positive = 'wishlist' } }\n"
                      "action 'c' { channels = { 'web' }, value = 1, propensity = 0.3 }\n"
                      "action 'd' { channels = { 'web' }, value = 1, model = 'accessories' }\n", NULL),
              "%s", rf_problems(&R));
    cr_assert_eq(R.rs->n_adaptives, 2);
    const arb_adaptive_t *a = adaptive("a");
    cr_expect_str_eq(a->positive, "convert");
    cr_expect(!a->trials_on_impression);
    cr_expect_float_eq(a->prior, 0.05, 1e-12);
    cr_expect_float_eq(a->strength, 20, 1e-12);
    cr_expect_eq(a->prior_model, arb_symtab_find(&R.rs->syms, "accessories", 11));
    cr_assert_not_null(a->segment);
    cr_expect_str_eq(a->segment, "loyalty_tier");
    cr_expect_eq(a->segment_len, 12);
    cr_expect_float_eq(a->half_life, 30 * 86400.0, 1e-6);
    cr_expect(a->always_sample);
    cr_expect_float_eq(a->settle, 500, 1e-12);
    cr_expect_float_eq(action("a")->propensity, 1, 0, "the bound the candidate loop prunes by");
    cr_expect_eq(action("a")->model, -1);
    cr_expect_str_eq(adaptive("b")->positive, "wishlist", "a declared outcome");
    for (const char *const *id = (const char *const[]){ "c", "d", NULL }; *id; id++) {
        cr_expect_eq(action(*id)->adaptive, -1, "%s", *id);
        cr_expect(!(R.rs->hot[action(*id) - R.rs->actions].flags & ARB_HOT_ADAPTIVE), "%s", *id);
    }
    cr_expect_float_eq(action("c")->propensity, 0.3, 1e-12);
}

Test(dsl_adaptive, defaults)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1, propensity = adaptive {} }\n"
                      "action 'b' { channels = { 'web' }, value = 1, propensity = adaptive() }\n",
                      NULL),
              "%s", rf_problems(&R));
    for (const char *const *id = (const char *const[]){ "a", "b", NULL }; *id; id++) {
        const arb_adaptive_t *a = adaptive(*id);
        cr_expect_str_eq(a->positive, "click");
        cr_expect(a->trials_on_impression);
        cr_expect_float_eq(a->prior, 0.5, 1e-12);
        cr_expect_float_eq(a->strength, 2, 1e-12);
        cr_expect_eq(a->prior_model, -1);
        cr_expect_null(a->segment);
        cr_expect_eq(a->half_life, 0);
        cr_expect(!a->always_sample);
        cr_expect_float_eq(a->settle, 1000, 1e-12);
    }
}

Test(dsl_adaptive, one_wrapper_shared_by_two_actions)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local learned = adaptive { prior = 0.1, segment = 'tier' }\n"
                      "action 'a' { channels = { 'web' }, value = 1, propensity = learned }\n"
                      "action 'b' { channels = { 'email' }, value = 2, propensity = learned }\n", NULL),
              "%s", rf_problems(&R));
    cr_expect_neq(action("a")->adaptive, action("b")->adaptive, "each action its own evidence");
    cr_expect_str_eq(adaptive("b")->segment, "tier");
}

/* Load one action at line 2 of a.lua with the given fields; it must fail
 * with a problem at a.lua:2 holding every needle. */
static void refused(const char *fields, const char *needle, const char *needle2)
{
    char text[1024];
    snprintf(text, sizeof text,
             "models { 'm' }\n"
             "action 'x' { channels = { 'web' }, value = 1, %s }\n", fields);
    cr_assert(!rf_load(&R, "a.lua", text, NULL), "loaded: %s", fields);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2", "action 'x'", needle, needle2, NULL),
                       "%s\n--- got:\n%s", fields, rf_problems(&R));
}

Test(dsl_adaptive, unknown_fields_with_a_suggestion)
{
    refused("propensity = adaptive { prio = 0.1 }", "adaptive: unknown field 'prio'",
            "did you mean 'prior'?");
    refused("propensity = adaptive { halflife = days(3) }", "adaptive: unknown field 'halflife'",
            "did you mean 'half_life'?");
    refused("propensity = adaptive { learning_rate = 1 }", "unknown field 'learning_rate'",
            "fields are: positive, trial, prior");
    refused("propensity = adaptive { 0.1 }", "adaptive: fields are named", "");
}

Test(dsl_adaptive, wrong_types_and_ranges)
{
    refused("propensity = adaptive { prior = 0 }", "adaptive: 'prior' must be a rate above 0 and below 1", "");
    refused("propensity = adaptive { prior = 1 }", "'prior' must be a rate above 0 and below 1", "");
    refused("propensity = adaptive { prior = 1.5 }", "'prior' must be a rate", "");
    refused("propensity = adaptive { prior = '0.1' }", "'prior' must be a rate", "not a string");
    refused("propensity = adaptive { strength = 0 }", "'strength' must be", "above 0");
    refused("propensity = adaptive { strength = -3 }", "'strength' must be", "above 0");
    refused("propensity = adaptive { strength = true }", "'strength' must be", "not a boolean");
    refused("propensity = adaptive { half_life = 0 }",
            "'half_life' must be a positive duration such as days(30)", "");
    refused("propensity = adaptive { half_life = -5 }", "'half_life' must be a positive duration", "");
    refused("propensity = adaptive { half_life = 'month' }", "'half_life' must be a positive duration",
            "not a string");
    refused("propensity = adaptive { settle = -1 }", "'settle' must be a count of trials", "");
    refused("propensity = adaptive { segment = 3 }", "'segment' must be a string", "");
    refused("propensity = adaptive { segment = '' }", "'segment' must name a context attribute", "");
    refused("propensity = adaptive { positive = 4 }", "'positive' must be a string", "");
    refused("propensity = 'adaptive'", "'propensity' must be a number from 0 to 1 or adaptive { ... }",
            "not a string");
    refused("propensity = { prior = 0.1 }", "'propensity' must be a number from 0 to 1 or adaptive",
            "not a table");
    refused("propensity = adaptive", "'adaptive' must be called: write adaptive { ... }", "");
}

Test(dsl_adaptive, choices)
{
    refused("propensity = adaptive { trial = 'click' }",
            "adaptive: 'trial' must be \"impression\" or \"decision\", not \"click\"", "");
    refused("propensity = adaptive { trial = 1 }", "'trial' must be \"impression\" or \"decision\"",
            "not a number");
    refused("propensity = adaptive { explore = 'sometimes' }",
            "'explore' must be \"thin\" or \"always\", not \"sometimes\"", "");
}

Test(dsl_adaptive, positive_must_be_a_known_outcome_but_impression)
{
    refused("propensity = adaptive { positive = 'clik' }", "unknown outcome 'clik' for 'positive'",
            "did you mean 'click'?");
    refused("propensity = adaptive { positive = 'wishlist' }", "unknown outcome 'wishlist'",
            "outcomes { ... }");
    refused("propensity = adaptive { positive = 'impression' }",
            "'positive' cannot be \"impression\"", "such as \"click\" or \"convert\"");
}

Test(dsl_adaptive, prior_model_must_be_declared)
{
    refused("propensity = adaptive { prior_model = 'churn' }", "adaptive: unknown prior_model 'churn'",
            "models { ... }");
}

Test(dsl_adaptive, adaptive_with_model_is_refused)
{
    refused("model = 'm', propensity = adaptive { prior = 0.1 }",
            "an adaptive propensity does not take 'model'", "prior_model");
    /* The message of a fixed propensity with a model is unchanged. */
    refused("model = 'm', propensity = 0.5", "give either 'model'", "not both");
}

Test(dsl_adaptive, an_adaptive_action_id_past_256_bytes_is_refused)
{
    char rules[600];
    snprintf(rules, sizeof rules,
             "action '%0300d' { channels = { 'web' }, value = 1, propensity = adaptive { } }\n", 7);
    cr_assert(!rf_load(&R, "a.lua", rules, NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "at most 256 bytes", NULL), "%s", rf_problems(&R));
    snprintf(rules, sizeof rules, "action '%0256d' { channels = { 'web' }, value = 1, propensity = adaptive { } }\n", 7);
    cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s", rf_problems(&R));
}

Test(dsl_adaptive, prelude_refuses_a_wrapper_of_something_else)
{
    cr_assert(!rf_load(&R, "a.lua",
                       "local p = adaptive 'click'\n"
                       "action 'x' { channels = { 'web' }, value = 1, propensity = p }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "adaptive: expected a { ... } table", NULL),
                       "%s", rf_problems(&R));
}

Test(dsl_adaptive, a_wrapper_changed_after_it_was_made)
{
    cr_assert(!rf_load(&R, "a.lua",
                       "local p = adaptive { prior = 0.1 }\n"
                       "p.spec = 3\n"
                       "action 'x' { channels = { 'web' }, value = 1, propensity = p }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:3", "adaptive: its fields are not a plain", NULL),
                       "%s", rf_problems(&R));
}

Test(dsl_adaptive, every_mistake_of_one_action_is_reported)
{
    cr_assert(!rf_load(&R, "a.lua",
                       "action 'x' { channels = { 'web' }, value = 1, propensity = adaptive {\n"
                       "  prior = 2, strength = 0, trial = 'x', explore = 'y' } }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "'prior'", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "'strength'", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "'trial'", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1", "'explore'", NULL), "%s", rf_problems(&R));
}
