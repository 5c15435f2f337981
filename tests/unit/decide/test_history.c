/* Unit tests for joining the stored customer to the context
 * (engine/decide/history.c, through arb_decide): the union of purchases and
 * of events with duplicates dropped, seen by the C conditions and by plain
 * Lua rules alike, and the consent rules (a recorded withdrawal holds, the
 * context may narrow, a recorded grant counts when the context is silent).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(history, .init = rf_setup, .fini = rf_teardown);

static arb_customer_t C;
static arb_event_t P[2], E[2];
static arb_consent_t K[2];

static void customer(size_t n_purchases, size_t n_events, size_t n_consents)
{
    memset(&C, 0, sizeof C);
    C.id = "cust-1";
    C.purchases = P;
    C.n_purchases = n_purchases;
    C.events = E;
    C.n_events = n_events;
    C.consents = K;
    C.n_consents = n_consents;
    R.customer = &C;
}

Test(history, stored_purchases_and_events_join_the_context)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'shoes' { channels = { 'web' }, value = 3, when = bought('shoes', within(days(7))) }\n"
                      "action 'tv' { channels = { 'web' }, value = 2, when = bought('tv', within(days(7))) }\n"
                      "action 'seen' { channels = { 'web' }, value = 1, when = viewed('sku-9', within(days(7))) }\n",
                      NULL),
              "%s", rf_problems(&R));
    P[0] = (arb_event_t){ AGO_DAYS(3), NULL, "web", NULL, "shoes", 40, NULL, 0 };
    E[0] = (arb_event_t){ AGO_DAYS(1), "view", "app", "sku-9", NULL, NAN, NULL, 0 };
    const char *ctx = "{'purchases':[{'category':'tv','ts':%lld}]}";
    rf_decide(&R, ctx, AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "tv", "no customer yet");
    customer(1, 1, 0);
    rf_decide(&R, ctx, AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "shoes,tv,seen");
}

Test(history, plain_lua_rules_see_the_union_without_duplicates)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'n' { channels = { 'web' }, value = 1, when = function(c)\n"
                      "  local p, e = c.purchases, c.events\n"
                      "  return #p == 2 and p[2].category == 'shoes' and p[2].price == 40 and\n"
                      "         p[1].brand == 'acme' and #e == 1 and e[1].sku == 'sku-9' end }\n",
                      NULL),
              "%s", rf_problems(&R));
    /* The stored tv purchase is the context's own (same ts, category, sku,
     * channel): it is counted once. The stored view repeats the context's. */
    P[0] = (arb_event_t){ AGO_DAYS(2), NULL, NULL, NULL, "tv", 10, NULL, 0 };
    P[1] = (arb_event_t){ AGO_DAYS(3), NULL, "web", NULL, "shoes", 40, NULL, 0 };
    E[0] = (arb_event_t){ AGO_DAYS(1), "view", "app", "sku-9", NULL, NAN, NULL, 0 };
    customer(2, 1, 0);
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'tv','ts':%lld,'brand':'acme'}],"
                  "'events':[{'type':'view','sku':'sku-9','ts':%lld}]}",
              AGO_DAYS(2), AGO_DAYS(1));
    cr_expect_str_eq(rf_reason(&R, "n"), "chosen");
    P[0].category = "radio";   /* no longer the same: three purchases */
    rf_decide(&R, "{'explain':true,'purchases':[{'category':'tv','ts':%lld,'brand':'acme'}],"
                  "'events':[{'type':'view','sku':'sku-9','ts':%lld}]}",
              AGO_DAYS(2), AGO_DAYS(1));
    cr_expect_str_eq(rf_reason(&R, "n"), "when");
}

#define RULES_CONSENT \
    "action 'mail' { channels = { 'web' }, value = 2, requires = { 'email' } }\n" \
    "action 'lua' { channels = { 'web' }, value = 1, when = function(c) return c.consent.email == true end }\n"

Test(history, a_recorded_withdrawal_holds_whatever_the_context_says)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONSENT, NULL), "%s", rf_problems(&R));
    K[0] = (arb_consent_t){ AGO_DAYS(1), "email", false };
    customer(0, 0, 1);
    rf_decide(&R, "{'explain':true,'consent':{'email':true}}");
    cr_expect_str_eq(rf_reason(&R, "mail"), "consent:email");
    cr_expect_str_eq(rf_reason(&R, "lua"), "when");
}

Test(history, the_context_may_withdraw_a_recorded_grant)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONSENT, NULL), "%s", rf_problems(&R));
    K[0] = (arb_consent_t){ AGO_DAYS(1), "email", true };
    customer(0, 0, 1);
    rf_decide(&R, "{'explain':true,'consent':{'email':false}}");
    cr_expect_str_eq(rf_reason(&R, "mail"), "consent:email");
    cr_expect_str_eq(rf_reason(&R, "lua"), "when");
}

Test(history, a_recorded_grant_counts_when_the_context_is_silent)
{
    cr_assert(rf_load(&R, "a.lua", RULES_CONSENT, NULL), "%s", rf_problems(&R));
    K[0] = (arb_consent_t){ AGO_DAYS(1), "email", true };
    K[1] = (arb_consent_t){ AGO_DAYS(1), "location", true };
    customer(0, 0, 2);
    rf_decide(&R, "{'explain':true,'consent':{'location':true}}");
    cr_expect_str_eq(rf_reason(&R, "mail"), "chosen");
    cr_expect_str_eq(rf_reason(&R, "lua"), "chosen");
    R.customer = NULL;
    rf_decide(&R, "{'explain':true,'consent':{'location':true}}");
    cr_expect_str_eq(rf_reason(&R, "mail"), "consent:email");
}
