/* Unit tests for explain a marketer can act on (engine/decide/explain.c,
 * the words of engine/ruleset/compile_words.c and dsl/prelude.lua's cond,
 * the entry written by engine/wire/answer.c): each action's numbers and
 * where its propensity came from, whom an eligible action lost to and by
 * how much, and the first false part of a `when`, by its words. Every test
 * reads the entry as a client does, from the packed answer.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(explain, .init = rf_setup, .fini = rf_teardown);

static const msgpack_object *field(const char *id, const char *key)
{
    const msgpack_object *e = rf_explained(&R, id);
    cr_assert(e, "no explain entry for %s: %s", id, rf_dump(&R));
    return rf_get(e, key);
}

static double num(const char *id, const char *key)
{
    const msgpack_object *v = field(id, key);
    cr_assert(v, "%s has no %s: %s", id, key, rf_json(&R, rf_explained(&R, id)));
    return rf_num(v);
}

static void expect_str(const char *id, const char *key, const char *want)
{
    const msgpack_object *v = field(id, key);
    cr_assert(v, "%s has no %s: %s", id, key, rf_json(&R, rf_explained(&R, id)));
    cr_expect(rf_str_is(v, want), "%s.%s: want %s, got %s", id, key, want, rf_json(&R, v));
}

/* ---- the numbers -------------------------------------------------------- */

Test(explain, every_entry_has_its_numbers_and_where_the_propensity_came_from)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'churn' }\n"
                      "action 'scored' { channels = { 'web' }, value = 40, lever = 1.5, model = 'churn',"
                      " weight = 0.5 }\n"
                      "action 'fixed' { channels = { 'web' }, value = 10, lever = 3, propensity = 0.2 }\n"
                      "action 'plain' { channels = { 'web' }, value = 7 }\n"
                      "action 'never' { channels = { 'web' }, value = 9, when = raining() }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'scores':{'churn':0.25}}");
    expect_str("scored", "propensity_from", "score: churn");
    cr_expect_eq(num("scored", "propensity"), 0.25);
    cr_expect_eq(num("scored", "value"), 40);
    cr_expect_eq(num("scored", "weight"), 0.5);
    cr_expect_eq(num("scored", "lever"), 1.5);
    cr_expect_eq(num("scored", "priority"), 0.25 * 40 * 0.5 * 1.5);
    expect_str("fixed", "propensity_from", "fixed");
    cr_expect_eq(num("fixed", "priority"), 0.2 * 10 * 3);
    cr_expect_eq(num("fixed", "weight"), 1);
    expect_str("plain", "propensity_from", "default");
    cr_expect_eq(num("plain", "propensity"), 1);
    /* Not eligible: value and lever, but no product of numbers never computed. */
    cr_expect_eq(num("never", "value"), 9);
    cr_expect_eq(num("never", "lever"), 1);
    cr_expect_null(field("never", "priority"));
    cr_expect_null(field("never", "weight"));
    cr_expect_null(field("never", "propensity"));
}

Test(explain, an_adaptive_propensity_says_so_beside_its_evidence)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'learned' { channels = { 'web' }, value = 10,"
                      " propensity = adaptive { prior = 0.1 } }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    expect_str("learned", "propensity_from", "adaptive");
    cr_expect(field("learned", "learned"), "the evidence is there too");
    cr_expect_eq(num("learned", "priority"), num("learned", "propensity") * 10);
}

Test(explain, without_explain_the_answer_has_no_entries)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1, when = raining() }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_null(rf_decision(&R)->explain);
    cr_expect_null(rf_get(R.dec, "explain"));
}

/* ---- whom it lost to ---------------------------------------------------- */

Test(explain, an_outranked_action_says_the_lowest_chosen_it_failed_to_beat_and_by_how_much)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 2 }\n"
                      "action 'best' { channels = { 'web' }, value = 50 }\n"
                      "action 'second' { channels = { 'web' }, value = 30 }\n"
                      "action 'third' { channels = { 'web' }, value = 12 }\n"
                      "action 'fourth' { channels = { 'web' }, value = 5 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_assert_str_eq(rf_ids(&R), "best,second");
    expect_str("third", "reason", "outranked");
    expect_str("third", "lost_to", "second");
    cr_expect_eq(num("third", "lost_to_priority"), 30);
    cr_expect_eq(num("third", "lost_by"), 18);
    expect_str("fourth", "lost_to", "second");
    cr_expect_eq(num("fourth", "lost_by"), 25);
    cr_expect_null(field("best", "lost_to"), "a chosen action lost to no one");
}

Test(explain, a_tie_lost_on_id_order_is_lost_by_zero)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 1 }\n"
                      "action 'alpha' { channels = { 'web' }, value = 5 }\n"
                      "action 'zeta' { channels = { 'web' }, value = 5 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    expect_str("zeta", "lost_to", "alpha");
    cr_expect_eq(num("zeta", "lost_by"), 0);
}

Test(explain, diversity_names_the_chosen_action_of_the_same_category)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3, diverse = 'category' }\n"
                      "action 'tv_big' { channels = { 'web' }, value = 50, category = 'tv' }\n"
                      "action 'sofa' { channels = { 'web' }, value = 20, category = 'sofa' }\n"
                      "action 'tv_small' { channels = { 'web' }, value = 40, category = 'tv' }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_assert_str_eq(rf_ids(&R), "tv_big,sofa", "%s", rf_dump(&R));
    expect_str("tv_small", "reason", "diversity");
    expect_str("tv_small", "lost_to", "tv_big");
    cr_expect_eq(num("tv_small", "lost_by"), 10);
}

/* ---- which part of `when` failed ---------------------------------------- */

static void load_when_case(void)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'laptop_bag' { channels = { 'web' }, value = 10,\n"
                      "  when = all { bought('laptop', within(days(30))), no(raining()),\n"
                      "               any { segment('vip'), attribute('tier', 'gold') } } }\n"
                      "action 'fallback_tile' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
}

Test(explain, the_first_false_part_of_an_all_is_named_by_its_words)
{
    load_when_case();
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(45));
    expect_str("laptop_bag", "reason", "when");
    expect_str("laptop_bag", "failed", "bought(\"laptop\", within(days(30)))");
}

Test(explain, a_no_whose_inner_condition_held_is_named_whole)
{
    load_when_case();
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'laptop','ts':%lld}],"
                  "'weather':{'condition':'rain','temp_c':9}}", AGO_DAYS(2));
    expect_str("laptop_bag", "failed", "no(weather(\"rain\"))");
}

Test(explain, an_any_of_which_none_held_is_named_whole)
{
    load_when_case();
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(2));
    expect_str("laptop_bag", "failed", "any { segment(\"vip\"), attribute(\"tier\", \"gold\") }");
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'laptop','ts':%lld}],"
                  "'attributes':{'tier':'gold'}}", AGO_DAYS(2));
    expect_str("laptop_bag", "reason", "chosen");
    cr_expect_null(field("laptop_bag", "failed"), "a chosen action has no failed part");
}

Test(explain, comparisons_windows_and_plain_functions_are_rendered_back)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'churn' }\n"
                      "action 'a' { channels = { 'web' }, value = 1, model = 'churn',\n"
                      "  when = score('churn', above(0.7)) }\n"
                      "action 'b' { channels = { 'web' }, value = 1,\n"
                      "  when = all { purchases(at_least(3), 'shoes', within(hours(12))), cold() } }\n"
                      "action 'c' { channels = { 'web' }, value = 1,\n"
                      "  when = all { weekday('sat', 'sun'),\n"
                      "               function(c) return false end } }\n"
                      "action 'd' { channels = { 'web' }, value = 1, when = viewed('tv', within(days(7))) }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'scores':{'churn':0.5},'now':%lld}", RF_NOW + 2 * RF_DAY);
    expect_str("a", "failed", "score(\"churn\", above(0.7))");
    expect_str("b", "failed", "purchases(at_least(3), \"shoes\", within(hours(12)))");
    /* 2026-01-03 is a Saturday: the weekday holds, the function does not. */
    const msgpack_object *f = field("c", "failed");
    cr_assert(f && f->type == MSGPACK_OBJECT_STR, "%s", rf_dump(&R));
    cr_expect(f->via.str.size > 20 && memcmp(f->via.str.ptr, "function at ", 12) == 0 &&
              memcmp(f->via.str.ptr + f->via.str.size - 8, "/a.lua:8", 8) == 0,
              "c.failed: %s", rf_json(&R, f));
    expect_str("d", "failed", "viewed(\"tv\", within(days(7)))");
}

Test(explain, the_history_and_date_words_are_rendered_back)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1,\n"
                      "  when = bought { category = 'laptop', price = at_least(800), within = days(14) } }\n"
                      "action 'b' { channels = { 'web' }, value = 1,\n"
                      "  when = before(viewed { category = 'tv', channel = 'web' }, bought('tv')) }\n"
                      "action 'c' { channels = { 'web' }, value = 1, when = season('summer') }\n"
                      "action 'd' { channels = { 'web' }, value = 1,\n"
                      "  when = anniversary('member_since', { years = 3, within = days(7) }) }\n"
                      "action 'e' { channels = { 'web' }, value = 1, when = day_between('12-01', '02-28') }\n"
                      "action 'f' { channels = { 'web' }, value = 1, when = first_purchase(at_least(days(30))) }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'now':%lld}", RF_NOW + 100 * RF_DAY);
    expect_str("a", "failed", "bought({ category = \"laptop\", price = at_least(800), within = days(14) })");
    expect_str("b", "failed", "before(viewed({ category = \"tv\", channel = \"web\" }), bought(\"tv\"))");
    expect_str("c", "failed", "month(\"jun\", \"jul\", \"aug\")");
    expect_str("d", "failed", "anniversary(\"member_since\", { years = 3, within = days(7) })");
    expect_str("e", "failed", "day_between(\"12-01\", \"02-28\")");
    expect_str("f", "failed", "first_purchase(at_least(2592000))");
}

Test(explain, an_action_false_for_another_reason_has_no_failed_part)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'a' { channels = { 'web' }, value = 1, model = 'm', when = raining() }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    expect_str("a", "reason", "no score: m");
    cr_expect_null(field("a", "failed"));
}

/* ---- rule tests assert priorities and reasons ---------------------------- */

#define PRICED_RULES                                                                   \
    "touchpoint 'web_home' { limit = 1 }\n"                                            \
    "models { 'accessories' }\n"                                                       \
    "action 'mouse_offer' { channels = { 'web' }, value = 10, model = 'accessories' }\n" \
    "action 'promo' { channels = { 'web' }, value = 2 }\n"                             \
    "action 'laptop_offer' { channels = { 'web' }, value = 50,\n"                      \
    "  when = bought('laptop', within(days(30))) }\n"

static arb_problems_t run_tests(const char *test_file, int expect_n)
{
    cr_assert(rf_load(&R, "rules.lua", PRICED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua", test_file);
    arb_problems_t failures = { 0 };
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &failures, 0), expect_n);
    return failures;
}

Test(explain, a_rule_test_asserting_priorities_and_reasons_passes)
{
    arb_problems_t f = run_tests(
        "test 'the mouse wins' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.3 } },\n"
        "  expect = { 'mouse_offer' },\n"
        "  priorities = { mouse_offer = at_least(2.5), promo = between(1.9, 2.1), laptop_offer = nil },\n"
        "  reasons = { laptop_offer = 'when: bought(\"laptop\", within(days(30)))',\n"
        "              promo = 'outranked to mouse_offer' },\n"
        "}\n"
        "test 'exact and strict' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.3 } },\n"
        "  priorities = { mouse_offer = 3, promo = below(3) },\n"
        "  reasons = { promo = 'outranked' },\n"
        "}\n", 2);
    cr_expect_eq(f.n, 0, "first failure: %s", f.n ? f.items[0] : "");
    arb_problems_free(&f);
}

Test(explain, a_failing_priority_names_the_test_the_action_the_expected_and_the_actual)
{
    arb_problems_t f = run_tests(
        "test 'too low' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.2 } },\n"
        "  priorities = { mouse_offer = at_least(2.5) },\n"
        "}\n"
        "test 'not eligible' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.2 } },\n"
        "  priorities = { laptop_offer = above(1) },\n"
        "}\n"
        "test 'wrong reason' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.2 } },\n"
        "  reasons = { promo = 'outranked to laptop_offer' },\n"
        "}\n"
        "test 'not a comparison' {\n"
        "  context = { channel = 'web', touchpoint = 'web_home', scores = { accessories = 0.2 } },\n"
        "  priorities = { promo = 'high' },\n"
        "}\n", 4);
    cr_assert_eq(f.n, 4, "four failures, got %zu: %s", f.n, f.n ? f.items[0] : "");
    cr_expect(strstr(f.items[0], "rules_test.lua:1: test 'too low': expected the priority of "
                                 "mouse_offer to be at least 2.5, got 2"),
              "%s", f.items[0]);
    cr_expect(strstr(f.items[1], "rules_test.lua:5: test 'not eligible': expected the priority of "
                                 "laptop_offer to be above 1, got none (reason 'when: "
                                 "bought(\"laptop\", within(days(30)))')"),
              "%s", f.items[1]);
    cr_expect(strstr(f.items[2], "test 'wrong reason': expected the reason for promo to be "
                                 "'outranked to laptop_offer', got 'outranked to mouse_offer'"),
              "%s", f.items[2]);
    cr_expect(strstr(f.items[3], "test 'not a comparison': priorities: each entry must be id = "
                                 "at_least(x)"),
              "%s", f.items[3]);
    arb_problems_free(&f);
}

/* ---- a decision held for the store keeps its own copy ------------------- */

#include "engine/server/state_int.h"

Test(explain, a_decision_held_for_the_store_copies_the_explain_words_and_names)
{
    /* The server answers a decision with stored customers after the store
     * commits: by then a reload may have freed the ruleset that the words,
     * lost_to and propensity_from point into. */
    char *rs_strings = strdup("bought(\"laptop\")|promo|score: churn|mouse");
    rs_strings[16] = rs_strings[22] = rs_strings[35] = '\0';
    arb_explained_t ex[1] = { { .id = rs_strings + 17, .reason = "outranked", .eligible = true,
                                .priority = 1, .propensity = 1, .propensity_from = rs_strings + 23,
                                .lost_to = rs_strings + 36, .failed = rs_strings } };
    arb_decision_t d = { .decision_id = "f-1", .decision_id_len = 3, .ruleset = "1-0",
                         .explain = ex, .n_explain = 1, .channel = "web", .customer_id = "c",
                         .touchpoint = "web_home", .group = "treatment" };
    static arb_pending_t p;
    arb_arena_init(&p.arena);
    arb_err_t err;
    cr_assert_eq(arb__state_copy_decision(&p, &d, &err), 0, "%s", err.message);
    memset(rs_strings, 'X', 41);   /* the ruleset is gone */
    const arb_explained_t *c = &p.dec.explain[0];
    cr_expect_str_eq(c->failed, "bought(\"laptop\")");
    cr_expect_str_eq(c->id, "promo");
    cr_expect_str_eq(c->propensity_from, "score: churn");
    cr_expect_str_eq(c->lost_to, "mouse");
    arb_arena_free(&p.arena);
    free(rs_strings);
}
