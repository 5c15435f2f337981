/* Unit tests for contact policy on the decide side (engine/decide/policy.c
 * and its use in decide.c): each cap kind (action, group, channel), window
 * edges, cooldown, each suppression form, stored suppressions, the explain
 * reasons with their numbers, that nothing applies without a customer, and
 * the contacts a decision or a feedback impression asks the store to count.
 * The customer is a hand-built arb_customer_t value.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "engine/decide/policy.h"
#include "tests/support/rulefix.h"

TestSuite(policy, .init = rf_setup, .fini = rf_teardown);

static arb_customer_t C;

static const arb_customer_t *with_contacts(arb_contact_t *k, size_t n)
{
    memset(&C, 0, sizeof C);
    C.id = "cust-1";
    C.contacts = k;
    C.n_contacts = n;
    R.customer = &C;
    return &C;
}

static void with_outcomes(arb_outcome_t *o, size_t n)
{
    with_contacts(NULL, 0);
    C.outcomes = o;
    C.n_outcomes = n;
}

#define RULES_CAP \
    "action 'promo' { channels = { 'web', 'email' }, value = 10, cap = { 2, per = days(7) } }\n" \
    "action 'other' { channels = { 'web', 'email' }, value = 1 }\n"

Test(policy, action_cap_reached_drops_the_action_with_its_numbers)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CAP, NULL), "%s", rf_problems(&R));
    arb_contact_t k[] = { { AGO_DAYS(3), "promo", "web", "impression" },
                          { AGO_DAYS(1), "promo", "email", "decision" } };
    with_contacts(k, 2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "promo"), "cap: 2 per 7 days, 2 used");
    cr_expect_str_eq(rf_ids(&R), "other");
    rf_decide(&R, "{}");   /* the same without explain */
    cr_expect_str_eq(rf_ids(&R), "other");
}

Test(policy, action_cap_window_edge_is_exclusive)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CAP, NULL), "%s", rf_problems(&R));
    /* now - 7 days is outside the window, one second later inside. */
    arb_contact_t k[] = { { AGO_DAYS(7), "promo", "web", "impression" },
                          { AGO_DAYS(1), "promo", "web", "impression" } };
    with_contacts(k, 2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "promo"), "chosen");
    k[0].ts = AGO_DAYS(7) + 1;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "promo"), "cap: 2 per 7 days, 2 used");
}

Test(policy, nothing_applies_without_a_customer)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CAP, NULL), "%s", rf_problems(&R));
    R.customer = NULL;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "promo"), "chosen");
}

Test(policy, group_cap_counts_every_action_of_the_group)
{
    cr_assert(rf_load(&R, "a.lua",
                      "group 'promo' { cap = { 3, per = days(7) } }\n"
                      "action 'a' { channels = { 'web' }, value = 3, group = 'promo' }\n"
                      "action 'b' { channels = { 'web' }, value = 2, group = 'promo' }\n"
                      "action 'c' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    arb_contact_t k[] = { { AGO_DAYS(6), "a", "web", "impression" },
                          { AGO_DAYS(2), "b", "web", "impression" },
                          { AGO_DAYS(1), "c", "web", "impression" } };
    with_contacts(k, 3);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen", "2 of the group's contacts, 1 of another");
    k[2].action = "a";
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "cap: group promo 3 per 7 days, 3 used");
    cr_expect_str_eq(rf_reason(&R, "b"), "cap: group promo 3 per 7 days, 3 used");
    cr_expect_str_eq(rf_reason(&R, "c"), "chosen");
}

Test(policy, channel_cap_drops_every_action_on_that_channel_only)
{
    cr_assert(rf_load(&R, "a.lua",
                      "channel 'email' { cap = { 1, per = days(7) } }\n"
                      "action 'a' { channels = { 'web', 'email' }, value = 3 }\n"
                      "fallback 'f' { channels = { 'web', 'email' }, value = 0 }\n", NULL),
              "%s", rf_problems(&R));
    arb_contact_t k[] = { { AGO_DAYS(2), "x", "email", "decision" } };
    with_contacts(k, 1);
    rf_decide(&R, "{'channel':'email','touchpoint':'t','explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "cap: channel email 1 per 7 days, 1 used");
    cr_expect_str_eq(rf_reason(&R, "f"), "cap: channel email 1 per 7 days, 1 used");
    cr_expect_eq(rf_count(&R), 0);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

Test(policy, cooldown_names_the_last_contact)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 3, cooldown = days(3) }\n", NULL),
              "%s", rf_problems(&R));
    arb_contact_t k[] = { { AGO_DAYS(5), "a", "web", "impression" },
                          { AGO_DAYS(2), "a", "email", "decision" } };
    with_contacts(k, 2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "cooldown: 3 days, last contact 2025-12-30");
    k[1].ts = AGO_DAYS(3);   /* exactly 3 days ago: cooled down */
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

#define RULES_SUPPRESS \
    "action 'a' { channels = { 'web' }, value = 3, suppress = {\n" \
    "  dismiss = { times = 2, within = days(30), pause = days(14) },\n" \
    "  convert = 'forever',\n" \
    "  click = { pause = days(3) } } }\n"

Test(policy, suppressed_after_two_dismissals_until_the_pause_ends)
{
    cr_assert(rf_load(&R, "a.lua", RULES_SUPPRESS, NULL), "%s", rf_problems(&R));
    arb_outcome_t o[] = { { AGO_DAYS(40), "a", "dismiss", NULL, "web", 0 },
                          { AGO_DAYS(5), "a", "dismiss", NULL, "web", 0 } };
    with_outcomes(o, 2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen", "the two are 35 days apart");
    o[0].ts = AGO_DAYS(20);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "suppressed: dismiss, until 2026-01-10");
    o[0].ts = AGO_DAYS(30);
    o[1].ts = AGO_DAYS(15);   /* the pause ended a day ago */
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

Test(policy, convert_suppresses_forever_and_click_pauses)
{
    cr_assert(rf_load(&R, "a.lua", RULES_SUPPRESS, NULL), "%s", rf_problems(&R));
    arb_outcome_t o[] = { { AGO_DAYS(300), "a", "convert", "d1", "web", 0 } };
    with_outcomes(o, 1);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "suppressed: convert, forever");
    o[0].outcome = "click";
    o[0].ts = AGO_DAYS(2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "suppressed: click, until 2026-01-02");
    o[0].ts = AGO_DAYS(4);
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
    o[0].action = "b";   /* another action's outcome */
    o[0].ts = AGO_DAYS(1);
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "a");
}

Test(policy, a_stored_suppression_holds_until_its_end)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 3 }\n", NULL),
              "%s", rf_problems(&R));
    arb_suppression_t s[] = { { RF_NOW + RF_DAY, "a", "complaint" } };
    with_contacts(NULL, 0);
    C.suppressions = s;
    C.n_suppressions = 1;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "suppressed: complaint, until 2026-01-02");
    s[0].until = RF_NOW;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

/* ---- the contacts to count ---------------------------------------------- */

#define RULES_CONTACTS \
    "channel 'email' { cap = { 1, per = days(7) } }\n" \
    "action 'a' { channels = { 'web', 'email' }, value = 3, cap = { 2, per = days(7) }, cooldown = days(1) }\n" \
    "action 'b' { channels = { 'web', 'email' }, value = 2, counts = 'impression' }\n" \
    "action 'c' { channels = { 'web' }, value = 1, counts = 'decision' }\n"

Test(policy, a_decision_on_email_counts_its_contacts_with_their_caps)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONTACTS, NULL), "%s", rf_problems(&R));
    rf_decide(&R, "{'channel':'email','touchpoint':'t'}");
    cr_assert_str_eq(rf_ids(&R), "a,b");
    arb_contact_req_t *reqs;
    int n = arb_policy_contacts(R.rs, rf_decision(&R), &R.arena, &reqs);
    cr_assert_eq(n, 1, "b counts on impression");
    cr_expect_str_eq(reqs[0].contact.action, "a");
    cr_expect_str_eq(reqs[0].contact.channel, "email");
    cr_expect_str_eq(reqs[0].contact.counted, "decision");
    cr_expect_eq(reqs[0].contact.ts, RF_NOW);
    cr_assert_eq(reqs[0].n_caps, 3);
    cr_expect(reqs[0].caps[0].action && !reqs[0].caps[0].channel && reqs[0].caps[0].max == 2 &&
              reqs[0].caps[0].window == 7 * RF_DAY);
    cr_expect(reqs[0].caps[1].max == 1 && reqs[0].caps[1].window == RF_DAY, "the cooldown");
    cr_expect(!reqs[0].caps[2].action && strcmp(reqs[0].caps[2].channel, "email") == 0 &&
              reqs[0].caps[2].max == 1);
    cr_expect_str_eq(rf_decision(&R)->customer_id, "cust-1");
}

Test(policy, a_group_cap_goes_to_the_store_with_the_members_of_the_group)
{
    cr_assert(rf_load(&R, "a.lua",
                      "group 'promo' { cap = { 3, per = days(7) } }\n"
                      "action 'a' { channels = { 'email' }, value = 3, group = 'promo' }\n"
                      "action 'b' { channels = { 'email' }, value = 2, group = 'promo' }\n"
                      "action 'c' { channels = { 'email' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'channel':'email','touchpoint':'t','limit':1}");
    arb_contact_req_t *reqs;
    cr_assert_eq(arb_policy_contacts(R.rs, rf_decision(&R), &R.arena, &reqs), 1);
    cr_assert_eq(reqs[0].n_caps, 1);
    const arb_cap_t *g = &reqs[0].caps[0];
    cr_expect(g->max == 3 && g->window == 7 * RF_DAY && !g->action && !g->channel);
    cr_assert_eq(g->n_actions, 2, "the store counts every member's contacts");
    cr_expect_str_eq(g->actions[0], "a");
    cr_expect_str_eq(g->actions[1], "b");
}

Test(policy, preview_and_impression_channels_count_nothing_at_decision)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONTACTS, NULL), "%s", rf_problems(&R));
    arb_contact_req_t *reqs;
    rf_decide(&R, "{'channel':'email','touchpoint':'t','preview':true}");
    cr_expect(rf_decision(&R)->preview);
    cr_expect_eq(arb_policy_contacts(R.rs, rf_decision(&R), &R.arena, &reqs), 0);
    rf_decide(&R, "{}");   /* web counts on impression, but c asks for decision */
    cr_assert_eq(arb_policy_contacts(R.rs, rf_decision(&R), &R.arena, &reqs), 1);
    cr_expect_str_eq(reqs[0].contact.action, "c");
    cr_expect_str_eq(reqs[0].contact.channel, "web");
}

Test(policy, preview_must_be_a_boolean)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONTACTS, NULL), "%s", rf_problems(&R));
    cr_assert_eq(rf_try_decide(&R, "{'preview':1}"), -1);
    cr_expect(strstr(R.err.message, "preview") != NULL, "%s", R.err.message);
}

Test(policy, an_impression_counts_where_the_channel_or_action_says_so)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONTACTS, NULL), "%s", rf_problems(&R));
    arb_contact_req_t *reqs;
    cr_assert_eq(arb_policy_feedback_contacts(R.rs, "a", "web", "impression", 5, &R.arena, &reqs), 1);
    cr_expect_str_eq(reqs[0].contact.counted, "impression");
    cr_expect_eq(reqs[0].contact.ts, 5);
    cr_expect_eq(reqs[0].n_caps, 0, "recorded even past a cap: the customer saw it");
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "a", "email", "impression", 5, &R.arena, &reqs), 0);
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "b", "email", "impression", 5, &R.arena, &reqs), 1);
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "c", "web", "impression", 5, &R.arena, &reqs), 0);
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "a", "web", "click", 5, &R.arena, &reqs), 0);
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "zz", "web", "impression", 5, &R.arena, &reqs), 0);
    cr_expect_eq(arb_policy_feedback_contacts(R.rs, "a", "nope", "impression", 5, &R.arena, &reqs), 0);
}

Test(policy, outcomes_known_and_retention)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONTACTS "outcomes { 'wishlist' }\n", NULL), "%s", rf_problems(&R));
    cr_expect(arb_ruleset_outcome_known(R.rs, "convert", 7));
    cr_expect(arb_ruleset_outcome_known(R.rs, "wishlist", 8));
    cr_expect(!arb_ruleset_outcome_known(R.rs, "wish", 4));
    arb_retention_t rt;
    arb_ruleset_retention(R.rs, &rt);
    cr_expect_eq(rt.max_age, 365 * RF_DAY, "a year of history for the conditions, at least");
    cr_expect(rt.max_events && rt.max_purchases && rt.max_contacts && rt.max_outcomes && rt.max_offers,
              "every list is bounded by a count");
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1, cap = { 1, per = days(400) } }\n",
                      NULL), "%s", rf_problems(&R));
    arb_ruleset_retention(R.rs, &rt);
    cr_expect_eq(rt.max_age, 400 * RF_DAY, "never shorter than the longest cap window");
    cr_assert(rf_load(&R, "a.lua", RULES_SUPPRESS, NULL), "%s", rf_problems(&R));
    arb_ruleset_retention(R.rs, &rt);
    cr_expect_eq(rt.max_age, 0, "a forever suppression keeps outcomes whatever their age");
}

/* ---- rule tests stating the stored customer ----------------------------- */

Test(policy, a_rule_test_states_the_stored_customer)
{
    cr_assert(rf_load(&R, "rules.lua", RULES_SUPPRESS RULES_CAP, NULL), "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua",
             "test 'capped' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { contacts = { { action = 'promo', channel = 'web', ts = ago(days(1)) },\n"
             "                            { action = 'promo', channel = 'email', ts = ago(days(2)) } } },\n"
             "  excludes = { 'promo' }, reasons = { promo = 'cap: 2 per 7 days, 2 used' },\n"
             "}\n"
             "test 'converted' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { outcomes = { { action = 'a', outcome = 'convert', ts = ago(days(200)) } } },\n"
             "  reasons = { a = 'suppressed: convert, forever' },\n"
             "}\n"
             "test 'nothing stored' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { },\n"
             "  includes = { 'promo', 'a' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 3);
    cr_expect_eq(failures.n, 0, "first failure: %s", failures.n ? failures.items[0] : "");
    arb_problems_free(&failures);
}

Test(policy, a_broken_customer_in_a_rule_test_is_reported_at_its_line)
{
    cr_assert(rf_load(&R, "rules.lua", RULES_CAP, NULL), "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua",
             "test 'no ts' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { contacts = { { action = 'promo', channel = 'web' } } },\n"
             "  expect = { },\n"
             "}\n"
             "test 'unknown part' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { contact = { } },\n"
             "  expect = { },\n"
             "}\n"
             "test 'not a table' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = 'x',\n"
             "}\n");
    arb_problems_t failures = { 0 };
    arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_assert_eq(failures.n, 3, "%s", failures.n ? failures.items[0] : "");
    cr_expect(strstr(failures.items[0], "rules_test.lua:1: test 'no ts': customer.contacts[1].ts: required"),
              "%s", failures.items[0]);
    cr_expect(strstr(failures.items[1], "rules_test.lua:6: test 'unknown part': customer.contact: unknown"),
              "%s", failures.items[1]);
    cr_expect(strstr(failures.items[2], "'customer' must be a plain table"), "%s", failures.items[2]);
    arb_problems_free(&failures);
}
