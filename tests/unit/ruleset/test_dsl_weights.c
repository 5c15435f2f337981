/* Unit tests for the rule language's weights, plain Lua functions and the
 * sharing of identical conditions and weights (compiled once, answered for
 * every request and action): loaded by engine/ruleset, evaluated by
 * engine/decide/eval.c. Split from test_dsl.c, which tests the conditions.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/ruleset/compiled.h"
#include "tests/support/dslfix.h"

TestSuite(dsl_weights, .init = rf_setup, .fini = rf_teardown);

/* ---- weights ------------------------------------------------------------ */

Test(dsl_weights, recency_halves_after_each_half_life)
{
    load_weight(NULL, "recency('laptop', days(14))");
    double p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(14));
    cr_expect(NEAR(p, 5.0), "one half-life: value 10 x 0.5 = 5, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(28));
    cr_expect(NEAR(p, 2.5), "two half-lives: 2.5, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", RF_NOW);
    cr_expect(NEAR(p, 10.0), "bought right now: weight 1, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld},{'category':'laptop','ts':%lld}]}",
             AGO_DAYS(100), AGO_DAYS(14));
    cr_expect(NEAR(p, 5.0), "the newest purchase counts, got %.17g", p);
    p = prio("{}");
    cr_expect(NEAR(p, 0.0), "never bought: weight 0, got %.17g", p);
}

Test(dsl_weights, recency_of_an_event)
{
    load_weight(NULL, "recency(viewed('tv'), days(7))");
    double p = prio("{'events':[{'type':'view','category':'tv','ts':%lld}]}", AGO_DAYS(7));
    cr_expect(NEAR(p, 5.0), "got %.17g", p);
}

Test(dsl_weights, boost_multiplies_when_the_condition_holds)
{
    load_weight(NULL, "boost(raining(), 1.5)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'}}"), 15.0));
    cr_expect(NEAR(prio("{'weather':{'condition':'sun'}}"), 10.0));
    load_weight(NULL, "boost(raining(), 2, 0.5)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'}}"), 20.0));
    cr_expect(NEAR(prio("{}"), 5.0));
}

Test(dsl_weights, score_and_attribute_in_weight_expressions)
{
    load_weight("models { 'churn' }", "score('churn') * 2");
    cr_expect(NEAR(prio("{'scores':{'churn':0.25}}"), 5.0), "10 x 0.25 x 2");
    cr_expect(NEAR(prio("{}"), 0.0), "a missing score weighs 0");
    load_weight(NULL, "attribute('ltv') / 100");
    cr_expect(NEAR(prio("{'attributes':{'ltv':250}}"), 25.0), "10 x 2.5");
    cr_expect(NEAR(prio("{'attributes':{'ltv':'lots'}}"), 0.0), "a non-number attribute weighs 0");
}

Test(dsl_weights, weight_arithmetic)
{
    load_weight("models { 'm' }", "(score('m') + 1) * 2 - 0.5");
    cr_expect(NEAR(prio("{'scores':{'m':0.25}}"), 20.0), "((0.25 + 1) x 2 - 0.5) x 10 = 20");
    load_weight(NULL, "2 * attribute('x') + attribute('y') / 4");
    cr_expect(NEAR(prio("{'attributes':{'x':1,'y':2}}"), 25.0), "(2 + 0.5) x 10");
    load_weight(NULL, "min_of(attribute('x'), 3) + max_of(attribute('y'), 1)");
    cr_expect(NEAR(prio("{'attributes':{'x':7,'y':0.5}}"), 40.0), "(3 + 1) x 10");
    load_weight(NULL, "attribute('x') / attribute('zero')");
    cr_expect(NEAR(prio("{'attributes':{'x':7,'zero':0}}"), 0.0), "division by zero weighs 0");
}

Test(dsl_weights, plain_number_weight)
{
    load_weight(NULL, "0.3");
    cr_expect(NEAR(prio("{}"), 3.0));
}

/* ---- plain Lua functions ------------------------------------------------ */

Test(dsl_weights, function_condition_reads_attributes)
{
    load_when(NULL, "function(c) return c.attributes.loyalty_tier == 'gold' end");
    cr_expect(hit("{'attributes':{'loyalty_tier':'gold'}}"));
    cr_expect_not(hit("{'attributes':{'loyalty_tier':'silver'}}"));
    cr_expect_not(hit("{}"), "absent attributes read as an empty table");
    cr_expect_str_eq(rf_reason(&R, "a"), "(none)", "no explain unless asked");
}

Test(dsl_weights, function_condition_reads_purchases)
{
    load_when(NULL,
              "function(c)\n"
              "    local n = 0\n"
              "    for _, p in ipairs(c.purchases) do\n"
              "      if p.category == 'book' and p.price >= 10 then n = n + 1 end\n"
              "    end\n"
              "    return n >= 2\n"
              "  end");
    cr_expect(hit("{'purchases':[{'category':'book','price':12,'ts':%lld},{'category':'book','price':10,'ts':%lld}]}",
                  AGO_DAYS(1), AGO_DAYS(2)),
              "%s", rf_dump(&R));
    cr_expect_not(hit("{'purchases':[{'category':'book','price':12,'ts':%lld},{'category':'book','price':9,'ts':%lld}]}",
                      AGO_DAYS(1), AGO_DAYS(2)));
}

Test(dsl_weights, function_condition_reads_scores_now_and_request_fields)
{
    load_when(NULL,
              "function(c) return c.scores.churn > 0.5 and c.now == 1767225600 + 60\n"
              "    and c.channel == 'web' and c.touchpoint == 'web_home' and c.customer_id == 'cust-1'\n"
              "    and c.weather.condition == 'rain' and c.events[1].type == 'view'\n"
              "    and c.consent.email == true end");
    cr_expect(hit("{'now':%lld,'scores':{'churn':0.6},'weather':{'condition':'rain'},"
                  "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                  RF_NOW + 60),
              "%s", rf_dump(&R));
    cr_expect_not(hit("{'now':%lld,'scores':{'churn':0.6},'weather':{'condition':'rain'},"
                      "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                      RF_NOW + 61));
    cr_expect_not(hit("{'now':%lld,'scores':{'churn':0.4},'weather':{'condition':'rain'},"
                      "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                      RF_NOW + 60));
}

Test(dsl_weights, function_weight_reads_the_context)
{
    load_weight(NULL, "function(c) return c.attributes.ltv / 100 + #c.purchases end");
    double p = prio("{'attributes':{'ltv':150},'purchases':[{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1),
                    AGO_DAYS(2));
    cr_expect(NEAR(p, 35.0), "(1.5 + 2) x 10, got %.17g", p);
}

Test(dsl_weights, function_weight_mixed_into_an_expression)
{
    load_weight(NULL, "boost(raining(), function(c) return c.attributes.k end)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'},'attributes':{'k':4}}"), 40.0));
    cr_expect(NEAR(prio("{'attributes':{'k':4}}"), 10.0));
}

Test(dsl_weights, function_weight_must_return_a_number)
{
    load_weight(NULL, "function(c) return 'heavy' end");
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "");
    cr_expect(rf_starts(rf_reason(&R, "a"), "error:"), "reason: %s", rf_reason(&R, "a"));
}

/* ---- shared conditions and weights ---------------------------------------- */

/* Three offers with one condition and one weight, a fourth with another. */
#define SAME_CONDITION_RULES                                                                 \
    "local laptop_no_mouse = all { bought('laptop', within(days(30))),\n"                    \
    "                              no(bought('mouse', within(days(60)))) }\n"                \
    "action 'm1' { channels = { 'web' }, value = 10, when = laptop_no_mouse,\n"              \
    "              weight = recency('laptop', days(14)) }\n"                                 \
    "action 'm2' { channels = { 'web' }, value = 20, when = all { bought('laptop', within(days(30))),\n" \
    "              no(bought('mouse', within(days(60)))) }, weight = recency('laptop', days(14)) }\n" \
    "action 'm3' { channels = { 'web' }, value = 30, lever = 2, when = laptop_no_mouse,\n"   \
    "              weight = recency('laptop', days(14)) }\n"                                 \
    "action 'other' { channels = { 'web' }, value = 1,\n"                                    \
    "                 when = bought('laptop', within(days(7))) }\n"

Test(dsl_weights, identical_conditions_and_weights_are_compiled_once)
{
    cr_assert(rf_load(&R, "a.lua", SAME_CONDITION_RULES, NULL), "%s", rf_problems(&R));
    /* bought(laptop, 30d), bought(mouse, 60d), no(...), all {...}, bought(laptop, 7d),
     * and the recency weight's bought(laptop) */
    cr_expect_eq(R.rs->n_nodes, 6, "nodes: %u", R.rs->n_nodes);
    cr_expect_eq(R.rs->n_wexprs, 1, "weights: %u", R.rs->n_wexprs);
    const arb_action_t *m1 = NULL, *m2 = NULL;
    for (uint32_t i = 0; i < R.rs->n_actions; i++) {
        if (strcmp(R.rs->actions[i].id, "m1") == 0) m1 = &R.rs->actions[i];
        if (strcmp(R.rs->actions[i].id, "m2") == 0) m2 = &R.rs->actions[i];
    }
    cr_assert(m1 && m2);
    cr_expect_eq(m1->when, m2->when, "written apart, the same condition is one node");
    cr_expect(R.rs->nodes[m1->when].memo, "a shared condition is remembered per request");
}

Test(dsl_weights, shared_conditions_answer_for_each_request_and_each_action)
{
    cr_assert(rf_load(&R, "a.lua", SAME_CONDITION_RULES, NULL), "%s", rf_problems(&R));
    const char *laptop = "{'limit':4,'purchases':[{'category':'laptop','ts':%lld}]}";
    rf_decide(&R, laptop, AGO_DAYS(14));
    cr_expect_str_eq(rf_ids(&R), "m3,m2,m1", "%s", rf_dump(&R));
    cr_expect(NEAR(rf_priority(&R, "m1"), 5.0), "10 x 0.5: %.17g", rf_priority(&R, "m1"));
    cr_expect(NEAR(rf_priority(&R, "m2"), 10.0), "20 x 0.5: %.17g", rf_priority(&R, "m2"));
    cr_expect(NEAR(rf_priority(&R, "m3"), 30.0), "30 x 0.5 x 2: %.17g", rf_priority(&R, "m3"));
    /* The next request's answers are its own: a mouse now rules them out... */
    rf_decide(&R, "{'limit':4,'purchases':[{'category':'laptop','ts':%lld},"
                  "{'category':'mouse','ts':%lld}]}", AGO_DAYS(3), AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "other", "%s", rf_dump(&R));
    /* ... and a newer laptop weighs more. */
    rf_decide(&R, laptop, RF_NOW);
    cr_expect_str_eq(rf_ids(&R), "m3,m2,m1,other", "%s", rf_dump(&R));
    cr_expect(NEAR(rf_priority(&R, "m1"), 10.0), "%.17g", rf_priority(&R, "m1"));
}

Test(dsl_weights, a_plain_function_runs_for_every_action_that_uses_it)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local calls = 0\n"
                      "local function counted(c) calls = calls + 1 return true end\n"
                      "action 'a' { channels = { 'web' }, value = 1, when = all { raining(), counted } }\n"
                      "action 'b' { channels = { 'web' }, value = 1, when = all { raining(), counted } }\n"
                      "action 'c' { channels = { 'web' }, value = 1, weight = function(c) return calls end }\n",
                      NULL),
              "%s", rf_problems(&R));
    const char *rain = "{'weather':{'condition':'rain'}}";
    rf_decide(&R, rain);
    cr_expect_eq(rf_priority(&R, "c"), 2.0, "a and b each called it once: %s", rf_dump(&R));
    rf_decide(&R, rain);
    cr_expect_eq(rf_priority(&R, "c"), 4.0, "and again on the next decision: %s", rf_dump(&R));
}

Test(dsl_weights, thresholds_and_windows_at_their_limits)
{
    /* Thresholds a float cannot hold, windows past 2^31 seconds, purchases
     * a century old. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'cold_inline' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), temperature(below(0.5)) } }\n"
                      "action 'cold_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), temperature(below(0.1)) } }\n"
                      "action 'long_inline' { channels = { 'web' }, value = 1,\n"
                      "  when = no(bought('tv', within(days(20000)))) }\n"
                      "action 'long_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = no(bought('tv', within(days(30000)))) }\n"
                      "action 'three_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), raining(), no(bought('radio')) } }\n",
                      NULL),
              "%s", rf_problems(&R));
    const char *ctx = "{'limit':10,'weather':{'temp_c':%s,'condition':'%s'},"
                      "'purchases':[{'category':'tv','ts':%lld}]}";
    rf_decide(&R, ctx, "0.05", "rain", AGO_DAYS(25000));
    cr_expect_str_eq(rf_ids(&R), "cold_inline,cold_tree,long_inline,three_tree", "%s", rf_dump(&R));
    rf_decide(&R, ctx, "0.3", "clear", AGO_DAYS(10));
    cr_expect_str_eq(rf_ids(&R), "cold_inline", "%s", rf_dump(&R));
    rf_decide(&R, ctx, "0.6", "rain", AGO_DAYS(40000));
    cr_expect_str_eq(rf_ids(&R), "long_inline,long_tree,three_tree", "%s", rf_dump(&R));
}
