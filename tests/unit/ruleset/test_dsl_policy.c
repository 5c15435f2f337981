/* Unit tests for the contact policy constructs of the rule language
 * (dsl/prelude.lua, engine/ruleset/compile_policy.c): cap, cooldown, group,
 * counts and suppress on actions, the group and channel declarations and
 * outcomes { }, each compiled to its C value, and each mistake refused at
 * load as a problem at its file:line.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "engine/decide/policy.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(dsl_policy, .init = rf_setup, .fini = rf_teardown);

/* The policy of action id; one with every default when it has none. */
static const arb_action_policy_t *action(const char *id)
{
    static const arb_action_policy_t none = { .group = -1, .counts = ARB_COUNTS_DEFAULT };
    const arb_action_t *a = arb_policy_action(R.rs, id);
    cr_assert_not_null(a, "no action %s", id);
    return arb_action_policy(R.rs, a) ? arb_action_policy(R.rs, a) : &none;
}

static int channel(const char *name)
{
    for (int i = 0; i < R.rs->n_channels; i++)
        if (strcmp(R.rs->channels[i], name) == 0) return i;
    return -1;
}

Test(dsl_policy, every_construct_compiles_to_its_value)
{
    cr_assert(rf_load(&R, "a.lua",
                      "outcomes { 'wishlist' }\n"
                      "group 'promo' { cap = { 3, per = days(7) }, description = 'promotions' }\n"
                      "channel 'email' { cap = { 1, per = days(7) }, counts = 'decision' }\n"
                      "channel 'kiosk' { counts = 'decision' }\n"
                      "action 'a' { channels = { 'web', 'kiosk' }, value = 1, cap = { 2, per = days(7) },\n"
                      "  cooldown = days(3), group = 'promo', counts = 'impression',\n"
                      "  suppress = { dismiss = { times = 2, within = days(30), pause = days(14) },\n"
                      "               convert = 'forever', click = { pause = days(3) },\n"
                      "               wishlist = { pause = 'forever' } } }\n"
                      "action 'b' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    const arb_action_policy_t *a = action("a");
    cr_expect_eq(a->cap.max, 2);
    cr_expect_eq(a->cap.per, 7 * RF_DAY);
    cr_expect_eq(a->cooldown, 3 * RF_DAY);
    cr_assert_geq(a->group, 0);
    cr_expect_str_eq(R.rs->groups[a->group].id, "promo");
    cr_expect_eq(R.rs->groups[a->group].cap.max, 3);
    cr_expect_eq(a->counts, ARB_COUNTS_IMPRESSION);
    cr_assert_eq(a->n_suppress, 4);
    for (uint32_t i = 0; i < a->n_suppress; i++) {
        const arb_suppress_t *s = &a->suppress[i];
        if (strcmp(s->outcome, "dismiss") == 0)
            cr_expect(s->times == 2 && s->within == 30 * RF_DAY && s->pause == 14 * RF_DAY);
        else if (strcmp(s->outcome, "click") == 0)
            cr_expect(s->times == 1 && s->within == 0 && s->pause == 3 * RF_DAY);
        else
            cr_expect_eq(s->pause, ARB_FOREVER, "%s", s->outcome);
    }
    const arb_action_policy_t *b = action("b");
    cr_expect(b->cap.per == 0 && b->cooldown == 0 && b->group == -1 && b->n_suppress == 0 &&
              b->counts == ARB_COUNTS_DEFAULT);
    int email = channel("email"), kiosk = channel("kiosk"), web = channel("web");
    cr_assert(email >= 0 && kiosk >= 0 && web >= 0, "channel 'kiosk' declares the channel");
    cr_expect_eq(R.rs->channel_policy[email].cap.max, 1);
    cr_expect_eq(R.rs->channel_policy[email].counts, ARB_COUNTS_DECISION);
    cr_expect_eq(R.rs->channel_policy[kiosk].counts, ARB_COUNTS_DECISION);
    cr_expect_eq(R.rs->channel_policy[web].counts, ARB_COUNTS_IMPRESSION, "web counts on impression");
    cr_expect(arb_ruleset_outcome_known(R.rs, "wishlist", 8));
    cr_expect(R.rs->policy_forever);
    cr_expect_eq(R.rs->policy_window, 30 * RF_DAY);
}

Test(dsl_policy, channel_defaults_email_sms_call_center_decision_others_impression)
{
    cr_assert(rf_load(&R, "a.lua", "action 'b' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    cr_expect_eq(R.rs->channel_policy[channel("email")].counts, ARB_COUNTS_DECISION);
    cr_expect_eq(R.rs->channel_policy[channel("sms")].counts, ARB_COUNTS_DECISION);
    cr_expect_eq(R.rs->channel_policy[channel("call_center")].counts, ARB_COUNTS_DECISION);
    cr_expect_eq(R.rs->channel_policy[channel("web")].counts, ARB_COUNTS_IMPRESSION);
    cr_expect_eq(R.rs->channel_policy[channel("app")].counts, ARB_COUNTS_IMPRESSION);
    cr_expect_eq(R.rs->channel_policy[channel("store")].counts, ARB_COUNTS_IMPRESSION);
    cr_expect(!R.rs->policy_forever && R.rs->policy_window == 0);
}

/* Load one action line 2 of a.lua with the given fields; it must fail with
 * a problem holding every needle. */
static void refused(const char *fields, const char *needle, const char *needle2)
{
    char text[1024];
    snprintf(text, sizeof text,
             "group 'g' { cap = { 1, per = days(1) } }\n"
             "action 'x' { channels = { 'web' }, value = 1, %s }\n", fields);
    cr_assert(!rf_load(&R, "a.lua", text, NULL), "loaded: %s", fields);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2", "action 'x'", needle, needle2, NULL),
                       "%s\n--- got:\n%s", fields, rf_problems(&R));
}

Test(dsl_policy, cap_mistakes)
{
    refused("cap = 2", "'cap' must be a table such as { 2, per = days(7) }", "a number");
    refused("cap = { 2 }", "'cap' needs per", "");
    refused("cap = { per = days(7) }", "'cap' must start with a whole number", "");
    refused("cap = { 1.5, per = days(7) }", "'cap' must start with a whole number", "");
    refused("cap = { -1, per = days(7) }", "'cap' must start with a whole number", "");
    refused("cap = { 2, per = days(7), every = 3 }", "'cap' has only a count and per", "");
    refused("cap = { 2, per = 'week' }", "'cap' per must be a duration", "a string");
    refused("cap = { 2, per = 0 }", "'cap' per must be between 1 second and 10 years", "");
}

Test(dsl_policy, cooldown_group_counts_mistakes)
{
    refused("cooldown = 'long'", "'cooldown' must be a duration", "");
    refused("cooldown = days(0)", "'cooldown' must be between", "");
    refused("group = 'h'", "unknown group 'h'", "group \"h\" { cap");
    refused("group = 3", "'group' must be a string", "");
    refused("counts = 'open'", "'counts' must be \"decision\" or \"impression\"", "");
    refused("capp = { 1, per = days(1) }", "unknown field 'capp'", "did you mean 'cap'");
}

Test(dsl_policy, suppress_mistakes)
{
    refused("suppress = 'forever'", "'suppress' must be a table keyed by outcome", "");
    refused("suppress = { 'forever' }", "'suppress' is keyed by outcome", "");
    refused("suppress = { bought = 'forever' }", "unknown outcome 'bought'", "outcomes { ... }");
    refused("suppress = { dismiss = 'never' }", "'suppress' dismiss must be \"forever\" or a table", "");
    refused("suppress = { dismiss = { times = 2, pause = days(3) } }", "times = 2 needs within", "");
    refused("suppress = { dismiss = { within = days(3), pause = days(3) } }",
            "within counts only with times > 1", "");
    refused("suppress = { dismiss = { times = 2, within = days(3) } }", "needs pause", "");
    refused("suppress = { dismiss = { pause = days(3), tims = 2 } }", "unknown field 'tims'", "");
    refused("suppress = { dismiss = { times = 0, pause = days(3) } }", "'times' must be between 1", "");
}

Test(dsl_policy, declaration_mistakes)
{
    cr_assert(!rf_load(&R, "a.lua",
                       "group 'g' { cap = { 1, per = days(1) } }\n"
                       "group 'g' { cap = { 2, per = days(1) } }\n"
                       "group 'h' { }\n"
                       "channel 'email' { counts = 'never', limit = 3 }\n"
                       "outcomes { 'ok', 3 }\n"
                       "action 'x' { channels = { 'web' }, value = 1 }\n", NULL),
               "loaded");
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2", "duplicate group (first declared at", NULL),
                       "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:3", "a group needs cap", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:4", "'counts' must be", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:4", "unknown field 'limit'", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:5", "item 2 must be a string", NULL), "%s", rf_problems(&R));
}
