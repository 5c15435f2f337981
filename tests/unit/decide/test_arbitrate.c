/* Unit tests for arbitration (engine/decide/decide.c): priority as
 * propensity x value x weight x lever, order and ties, limits per
 * touchpoint and context, diversity, fallbacks, flights, channels and
 * consent, explain and the decision's fields, and the skipping of actions
 * that cannot be shown, which must never change an answer. Rule folders
 * come from the rule fixture (tests/support/rulefix.c).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(arbitrate, .init = rf_setup, .fini = rf_teardown);

/* ---- arbitration -------------------------------------------------------- */

Test(arbitrate, priority_is_propensity_times_value_times_weight_times_lever)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'scored' { channels = { 'web' }, value = 40, lever = 1.5, model = 'm', weight = 0.5 }\n"
                      "action 'fixed' { channels = { 'web' }, value = 10, lever = 3, propensity = 0.2 }\n"
                      "action 'plain' { channels = { 'web' }, value = 7 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'scores':{'m':0.25}}");
    cr_assert_str_eq(rf_ids(&R), "scored,plain,fixed", "%s", rf_dump(&R));
    const msgpack_object *s = rf_action(&R, "scored");
    cr_expect_eq(rf_num(rf_get(s, "priority")), 0.25 * 40 * 0.5 * 1.5);
    cr_expect_eq(rf_num(rf_get(s, "propensity")), 0.25);
    cr_expect_eq(rf_num(rf_get(s, "value")), 40);
    const msgpack_object *f = rf_action(&R, "fixed");
    cr_expect_eq(rf_num(rf_get(f, "priority")), 0.2 * 10 * 1 * 3);
    cr_expect_eq(rf_num(rf_get(f, "propensity")), 0.2);
    cr_expect_eq(rf_priority(&R, "plain"), 7.0);
}

Test(arbitrate, best_priority_first)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'low' { channels = { 'web' }, value = 1 }\n"
                      "action 'high' { channels = { 'web' }, value = 3 }\n"
                      "action 'mid' { channels = { 'web' }, value = 2 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "high,mid,low");
}

Test(arbitrate, ties_are_broken_by_id_ascending)
{
    cr_assert(rf_load(&R, "b.lua",
                      "action 'zeta' { channels = { 'web' }, value = 5 }\n"
                      "action 'alpha' { channels = { 'web' }, value = 5 }\n",
                      "a.lua",
                      "action 'mu' { channels = { 'web' }, value = 2.5, lever = 2 }\n"
                      "action 'beta' { channels = { 'web' }, value = 5 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'limit':4}");
    cr_expect_str_eq(rf_ids(&R), "alpha,beta,mu,zeta");
}

#define FIVE_ACTIONS                                        \
    "action 'a1' { channels = { 'web' }, value = 5 }\n"     \
    "action 'a2' { channels = { 'web' }, value = 4 }\n"     \
    "action 'a3' { channels = { 'web' }, value = 3 }\n"     \
    "action 'a4' { channels = { 'web' }, value = 2 }\n"     \
    "action 'a5' { channels = { 'web' }, value = 1 }\n"

Test(arbitrate, touchpoint_limit_caps_the_answer)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 2 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2");
    cr_expect_str_eq(rf_reason(&R, "a3"), "outranked");
}

Test(arbitrate, context_limit_overrides_the_touchpoint_limit)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 2 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'limit':4}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3,a4");
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "a1");
    cr_expect_neq(rf_try_decide(&R, "{'limit':0}"), 0, "limit 0 is refused");
}

Test(arbitrate, undeclared_touchpoint_uses_the_default_limit_of_3)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 1 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    uint64_t before = R.stats.undeclared_touchpoints;
    rf_decide(&R, "{'touchpoint':'somewhere_new'}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3");
    cr_expect_eq(R.stats.undeclared_touchpoints, before + 1);
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "a1");
    cr_expect_eq(R.stats.undeclared_touchpoints, before + 1, "web_home is declared");
}

Test(arbitrate, settings_default_limit)
{
    cr_assert(rf_load(&R, "a.lua", "settings { default_limit = 4 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'touchpoint':'anywhere'}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3,a4");
}

Test(arbitrate, touchpoint_without_limit_uses_the_default_limit)
{
    cr_assert(rf_load(&R, "a.lua",
                      "settings { default_limit = 2 }\ntouchpoint 'web_home' { diverse = 'category' }\n" FIVE_ACTIONS,
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2");
}

Test(arbitrate, diversity_by_category)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3, diverse = 'category' }\n"
                      "action 'shoe1' { channels = { 'web' }, value = 50, category = 'shoes' }\n"
                      "action 'shoe2' { channels = { 'web' }, value = 40, category = 'shoes' }\n"
                      "action 'hat' { channels = { 'web' }, value = 30, category = 'hats' }\n"
                      "action 'bag' { channels = { 'web' }, value = 20, category = 'bags' }\n"
                      "action 'misc' { channels = { 'web' }, value = 10 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "shoe1,hat,bag");
    cr_expect_str_eq(rf_reason(&R, "shoe2"), "diversity");
    /* the same actions at a touchpoint without diversity */
    rf_decide(&R, "{'touchpoint':'other'}");
    cr_expect_str_eq(rf_ids(&R), "shoe1,shoe2,hat");
}

Test(arbitrate, actions_without_category_never_clash)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3, diverse = 'category' }\n"
                      "action 'x' { channels = { 'web' }, value = 3 }\n"
                      "action 'y' { channels = { 'web' }, value = 2 }\n"
                      "action 'z' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "x,y,z");
}

#define WITH_FALLBACK                                                                 \
    "action 'promo' { channels = { 'web' }, value = 5, when = raining() }\n"          \
    "fallback 'newsletter' { channels = { 'web' }, value = 1 }\n"                     \
    "fallback 'brand' { channels = { 'web' }, value = 0.5 }\n"

Test(arbitrate, fallback_only_when_nothing_else_is_eligible)
{
    cr_assert(rf_load(&R, "a.lua", WITH_FALLBACK, NULL), "%s", rf_problems(&R));
    uint64_t fb = R.stats.fallbacks;
    rf_decide(&R, "{'weather':{'condition':'rain'},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "promo", "room is left, but fallbacks stay out");
    cr_expect(rf_starts(rf_reason(&R, "newsletter"), "fallback"), "reason: %s",
              rf_reason(&R, "newsletter"));
    cr_expect_eq(R.stats.fallbacks, fb);
    rf_decide(&R, "{'weather':{'condition':'sun'}}");
    cr_expect_str_eq(rf_ids(&R), "newsletter,brand");
    cr_expect_eq(R.stats.fallbacks, fb + 1);
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "newsletter");
}

Test(arbitrate, fallbacks_obey_their_own_channels_and_conditions)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'promo' { channels = { 'web' }, value = 5, when = raining() }\n"
                      "fallback 'email_only' { channels = { 'email' }, value = 1 }\n"
                      "fallback 'cold_only' { channels = { 'web' }, value = 1, when = cold() }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'weather':{'condition':'sun','temp_c':20}}");
    cr_expect_str_eq(rf_ids(&R), "");
    rf_decide(&R, "{'weather':{'condition':'sun','temp_c':0}}");
    cr_expect_str_eq(rf_ids(&R), "cold_only");
}

Test(arbitrate, flight_dates_start_inclusive_stop_exclusive)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'sale' { channels = { 'web' }, value = 1, start = '2026-01-10', stop = '2026-02-01T00:00:00Z' }\n",
                      NULL),
              "%s", rf_problems(&R));
    long long jan10 = RF_NOW + 9 * RF_DAY, feb1 = RF_NOW + 31 * RF_DAY;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "", "before the start");
    cr_expect_str_eq(rf_reason(&R, "sale"), "dates");
    rf_decide(&R, "{'now':%lld}", jan10 - 1);
    cr_expect_str_eq(rf_ids(&R), "");
    rf_decide(&R, "{'now':%lld}", jan10);
    cr_expect_str_eq(rf_ids(&R), "sale", "on the start");
    rf_decide(&R, "{'now':%lld}", feb1 - 1);
    cr_expect_str_eq(rf_ids(&R), "sale");
    rf_decide(&R, "{'now':%lld}", feb1);
    cr_expect_str_eq(rf_ids(&R), "", "on the stop");
}

Test(arbitrate, flight_dates_with_a_time_or_unix_seconds)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'morning' { channels = { 'web' }, value = 1, start = '2026-01-01T08:00:00Z' }\n"
                      "action 'until_noon' { channels = { 'web' }, value = 1, stop = 1767268800 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'now':%lld}", RF_NOW + 7 * 3600);
    cr_expect_str_eq(rf_ids(&R), "until_noon");
    rf_decide(&R, "{'now':%lld}", RF_NOW + 8 * 3600);
    cr_expect_str_eq(rf_ids(&R), "morning,until_noon");
    rf_decide(&R, "{'now':%lld}", RF_NOW + 12 * 3600);
    cr_expect_str_eq(rf_ids(&R), "morning");
}

Test(arbitrate, channel_filtering)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'web_only' { channels = { 'web' }, value = 2 }\n"
                      "action 'email_only' { channels = 'email', value = 3 }\n"
                      "action 'both' { channels = { 'web', 'email' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "web_only,both");
    cr_expect_str_eq(rf_reason(&R, "email_only"), "channel");
    rf_decide(&R, "{'channel':'email','touchpoint':'newsletter'}");
    cr_expect_str_eq(rf_ids(&R), "email_only,both");
    cr_expect_neq(rf_try_decide(&R, "{'channel':'fax'}"), 0);
    cr_expect(strstr(R.err.message, "fax") != NULL, "%s", R.err.message);
}

Test(arbitrate, declared_channels_add_to_the_defaults)
{
    cr_assert(rf_load(&R, "a.lua",
                      "channels { 'kiosk' }\n"
                      "action 'k' { channels = { 'kiosk' }, value = 1 }\n"
                      "action 'w' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'channel':'kiosk'}");
    cr_expect_str_eq(rf_ids(&R), "k");
    rf_decide(&R, "{'channel':'web'}");
    cr_expect_str_eq(rf_ids(&R), "w");
}

Test(arbitrate, touchpoints_field_restricts_an_action)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3 }\n"
                      "touchpoint 'web_cart' { limit = 3 }\n"
                      "action 'cart_only' { channels = { 'web' }, touchpoints = { 'web_cart' }, value = 2 }\n"
                      "action 'anywhere' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "anywhere");
    cr_expect_str_eq(rf_reason(&R, "cart_only"), "touchpoint");
    rf_decide(&R, "{'touchpoint':'web_cart'}");
    cr_expect_str_eq(rf_ids(&R), "cart_only,anywhere");
}

Test(arbitrate, requires_consent)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'personal' { channels = { 'web' }, requires = { 'personalisation' }, value = 2 }\n"
                      "action 'generic' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "generic");
    cr_expect_str_eq(rf_reason(&R, "personal"), "consent:personalisation");
    rf_decide(&R, "{'explain':true,'consent':{'personalisation':false}}");
    cr_expect_str_eq(rf_ids(&R), "generic");
    rf_decide(&R, "{'consent':{'personalisation':true}}");
    cr_expect_str_eq(rf_ids(&R), "personal,generic");
}

Test(arbitrate, missing_model_score_skips_the_action)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'scored' { channels = { 'web' }, model = 'm', value = 100 }\n"
                      "action 'other' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'scores':{'n':0.9}}");
    cr_expect_str_eq(rf_ids(&R), "other");
    cr_expect_str_eq(rf_reason(&R, "scored"), "no score: m");
    rf_decide(&R, "{'scores':{'m':0.5}}");
    cr_expect_str_eq(rf_ids(&R), "scored,other");
    cr_expect_eq(rf_priority(&R, "scored"), 50.0);
}

Test(arbitrate, explain_lists_every_action_with_a_reason)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "touchpoint 'web_home' { limit = 1 }\n"
                      "action 'best' { channels = { 'web' }, value = 9 }\n"
                      "action 'second' { channels = { 'web' }, value = 8 }\n"
                      "action 'by_email' { channels = { 'email' }, value = 9 }\n"
                      "action 'needs_rain' { channels = { 'web' }, value = 9, when = raining() }\n"
                      "action 'needs_score' { channels = { 'web' }, value = 9, model = 'm' }\n"
                      "action 'later' { channels = { 'web' }, value = 9, start = '2030-01-01' }\n"
                      "fallback 'fb' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    const msgpack_object *e = rf_get(R.dec, "explain");
    cr_assert(e && e->type == MSGPACK_OBJECT_ARRAY, "%s", rf_dump(&R));
    cr_expect_eq(e->via.array.size, arb_ruleset_action_count(R.rs));
    cr_expect_eq(e->via.array.size, 7);
    static const char *const want[][2] = {
        { "best", "chosen" },  { "second", "outranked" }, { "by_email", "channel" },
        { "needs_rain", "when" }, { "needs_score", "no score: m" }, { "later", "dates" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_str_eq(rf_reason(&R, want[i][0]), want[i][1], "reason of %s", want[i][0]);
    cr_expect(rf_starts(rf_reason(&R, "fb"), "fallback"), "fb: %s", rf_reason(&R, "fb"));
    for (uint32_t i = 0; i < e->via.array.size; i++) {
        const msgpack_object *x = &e->via.array.ptr[i];
        const msgpack_object *id = rf_get(x, "id"), *chosen = rf_get(x, "chosen");
        cr_assert(id && id->type == MSGPACK_OBJECT_STR);
        cr_assert(chosen && chosen->type == MSGPACK_OBJECT_BOOLEAN);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)id->via.str.size, id->via.str.ptr);
        cr_expect_eq(chosen->via.boolean, rf_chosen(&R, name), "chosen flag of %s", name);
    }
}

Test(arbitrate, explain_is_absent_unless_asked_and_forced_by_the_decider)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_null(rf_get(R.dec, "explain"));
    arb_decider_force_explain(R.d, true);
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

Test(arbitrate, payload_is_returned_as_given)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1, payload = {\n"
                      "  template = 'grid', count = 3, ratio = 0.25, on = true,\n"
                      "  skus = { 'A', 'B', 'C' },\n"
                      "  nested = { deep = { text = 'hi', n = -7 } },\n"
                      "} }\n"
                      "action 'b' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    const msgpack_object *p = rf_get(rf_action(&R, "a"), "payload");
    cr_assert(p && p->type == MSGPACK_OBJECT_MAP, "%s", rf_dump(&R));
    cr_expect_eq(p->via.map.size, 6);
    cr_expect(rf_str_is(rf_get(p, "template"), "grid"));
    const msgpack_object *count = rf_get(p, "count");
    cr_expect(count && count->type == MSGPACK_OBJECT_POSITIVE_INTEGER && count->via.u64 == 3,
              "an integer stays an integer");
    cr_expect_eq(rf_num(rf_get(p, "ratio")), 0.25);
    const msgpack_object *on = rf_get(p, "on");
    cr_expect(on && on->type == MSGPACK_OBJECT_BOOLEAN && on->via.boolean);
    const msgpack_object *skus = rf_get(p, "skus");
    cr_assert(skus && skus->type == MSGPACK_OBJECT_ARRAY && skus->via.array.size == 3);
    cr_expect(rf_str_is(&skus->via.array.ptr[0], "A"));
    cr_expect(rf_str_is(&skus->via.array.ptr[2], "C"));
    const msgpack_object *deep = rf_get(rf_get(p, "nested"), "deep");
    cr_expect(rf_str_is(rf_get(deep, "text"), "hi"));
    cr_expect_eq(rf_num(rf_get(deep, "n")), -7);
    const msgpack_object *none = rf_get(rf_action(&R, "b"), "payload");
    cr_expect(none && none->type == MSGPACK_OBJECT_NIL, "no payload is nil");
}

Test(arbitrate, decision_fields)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{}");
    const msgpack_object *id = rf_get(R.dec, "decision_id");
    cr_assert(id && id->type == MSGPACK_OBJECT_STR && id->via.str.size > 0, "%s", rf_dump(&R));
    char first[128];
    snprintf(first, sizeof first, "%.*s", (int)id->via.str.size, id->via.str.ptr);
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)), "%s", rf_dump(&R));
    const msgpack_object *us = rf_get(R.dec, "elapsed_us");
    cr_expect(us && us->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "elapsed_us is an unsigned integer");
    cr_expect(us && us->via.u64 < 10 * 1000 * 1000, "a tiny decision takes well under 10 s");

    rf_decide(&R, "{}");
    cr_expect_not(rf_str_is(rf_get(R.dec, "decision_id"), first), "ids are unique per decision");

    arb_decider_t *other = arb_decider_new();
    arb_decider_t *mine = R.d;
    R.d = other;
    rf_decide(&R, "{}");
    cr_expect_not(rf_str_is(rf_get(R.dec, "decision_id"), first), "and across deciders");
    R.d = mine;
    arb_decider_free(other);
}

Test(arbitrate, decision_names_the_ruleset_version_after_a_reload)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    rf_decide(&R, "{}");
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)));
    cr_assert(rf_load(&R, "a.lua", "action 'b' { channels = { 'web' }, value = 1 }\n", NULL));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "b");
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)), "%s", rf_dump(&R));
    cr_expect(rf_starts(arb_ruleset_version(R.rs), "2-"), "%s", arb_ruleset_version(R.rs));
}

/* ---- deciding without running what cannot be shown ------------------------- */

/* A small deterministic generator, so a failure names its seed. */
static uint32_t lcg(uint32_t *s) { return (*s = *s * 1103515245u + 12345u) >> 8; }

/* The ids and priorities of the decision's actions, as text. */
static void answer_text(char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    const msgpack_object *acts = rf_actions(&R);
    for (uint32_t i = 0; i < acts->via.array.size && len < n; i++) {
        const msgpack_object *a = &acts->via.array.ptr[i];
        const msgpack_object *id = rf_get(a, "id");
        len += (size_t)snprintf(out + len, n - len, "%.*s=%.17g ", (int)id->via.str.size,
                                id->via.str.ptr, rf_num(rf_get(a, "priority")));
    }
}

Test(arbitrate, skipping_actions_that_cannot_be_shown_never_changes_the_answer)
{
    /* Without explain, once `limit` actions are eligible an action whose
     * priority bound (propensity x value x weight's bound x lever) is below
     * the last of them is not evaluated. With explain every action is. The
     * answers must be the same, ties at the boundary included. */
    static const char *const weights[] = {
        "", "weight = recency('c%u', days(7)),", "weight = 2,", "weight = boost(raining(), 0, 0),",
        "weight = max_of(recency('c%u', days(3)), 0.5),", "weight = boost(raining(), 3),",
        "weight = recency('c%u', days(5)) * boost(raining(), 2, 0.5),",
        "weight = score('m2') * 3,", "weight = min_of(attribute('ltv') / 100, 2),",
        "weight = 1 + recency('c%u', days(9)),", "weight = function(c) return 1.5 end,",
    };
    static const char *const whens[] = {
        "", "when = bought('c%u'),", "when = no(bought('c%u', within(days(20)))),",
        "when = raining(),", "when = all { bought('c%u'), temperature(below(10)) },",
        "when = function(c) return #c.purchases > 2 end,",
    };
    for (uint32_t seed = 1; seed <= 12; seed++) {
        uint32_t s = seed;
        char *rules = malloc(64 * 1024);
        size_t len = (size_t)snprintf(rules, 64 * 1024, "models { 'm1', 'm2' }\n");
        for (int a = 0; a < 60; a++) {
            char w[160], c[160];
            snprintf(w, sizeof w, weights[lcg(&s) % 11], lcg(&s) % 6);
            snprintf(c, sizeof c, whens[lcg(&s) % 6], lcg(&s) % 6);
            /* Few distinct values and levers: ties are common. */
            len += (size_t)snprintf(rules + len, 64 * 1024 - len,
                                    "action 'a%02d' { channels = { 'web' }, value = %u, lever = %s,"
                                    " %s %s %s }\n",
                                    a, 1 + lcg(&s) % 5, lcg(&s) % 3 ? "1" : "0.5",
                                    lcg(&s) % 2 ? "model = 'm1'," : "propensity = 0.5,", w, c);
        }
        cr_assert(rf_load(&R, "a.lua", rules, NULL), "seed %u: %s", seed, rf_problems(&R));
        for (int k = 0; k < 20; k++) {
            char ctx[512], pruned[2048], full[2048];
            snprintf(ctx, sizeof ctx,
                     "{'limit':%u,'scores':{'m1':%.3f,'m2':%.3f},'attributes':{'ltv':%u},"
                     "'weather':{'condition':'%s','temp_c':%u},'purchases':["
                     "{'category':'c%u','ts':%%lld},{'category':'c%u','ts':%%lld},"
                     "{'category':'c%u','ts':%%lld}]%s}",
                     1 + lcg(&s) % 6, (lcg(&s) % 1000) / 1000.0, (lcg(&s) % 1000) / 1000.0,
                     lcg(&s) % 300, lcg(&s) % 2 ? "rain" : "clear", lcg(&s) % 20, lcg(&s) % 6,
                     lcg(&s) % 6, lcg(&s) % 6, "%s");
            long long t1 = AGO_DAYS(lcg(&s) % 30), t2 = AGO_DAYS(lcg(&s) % 30),
                      t3 = AGO_DAYS(lcg(&s) % 30);
            rf_decide(&R, ctx, t1, t2, t3, "");
            answer_text(pruned, sizeof pruned);
            rf_decide(&R, ctx, t1, t2, t3, ",'explain':true");
            answer_text(full, sizeof full);
            cr_expect_str_eq(pruned, full, "seed %u, context %d:\n%s", seed, k, ctx);
        }
        free(rules);
    }
}

Test(arbitrate, an_action_whose_priority_is_not_a_number_is_not_shown)
{
    /* A weight of 0 (a constant 0 is refused at load) times a weight that
     * overflowed: 0 x infinity. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'big' { channels = { 'web' }, value = 1,\n"
                      "               weight = attribute('ltv') * 1e300 * boost(raining(), 1, 0) }\n"
                      "action 'plain' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'ltv':1e300},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "plain", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "big"), "priority: not a number");
    rf_decide(&R, "{'attributes':{'ltv':2}}");
    cr_expect_str_eq(rf_ids(&R), "plain,big", "a finite weight: priority 0, %s", rf_dump(&R));
}

Test(arbitrate, an_action_whose_priority_is_infinite_is_not_shown)
{
    /* A weight past DBL_MAX (1e300 x 1e300) times a finite value. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'huge' { channels = { 'web' }, value = 1e15,\n"
                      "                weight = attribute('ltv') * 1e300 }\n"
                      "action 'plain' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'ltv':1e300},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "plain", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "huge"), "priority: infinite");
}

Test(arbitrate, a_weight_function_must_return_a_number_not_a_string)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'str' { channels = { 'web' }, value = 1,\n"
                      "               weight = function(c) return '1e308' end }\n"
                      "action 'num' { channels = { 'web' }, value = 1,\n"
                      "               weight = function(c) return 2 end }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "num", "%s", rf_dump(&R));
    cr_expect(strstr(rf_reason(&R, "str"), "weight function returned no number") != NULL, "%s",
              rf_reason(&R, "str"));
}

Test(arbitrate, a_plain_function_in_a_weight_runs_even_for_an_action_that_cannot_win)
{
    /* Skipping actions that cannot be shown must not hide a rule's error. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a_top' { channels = { 'web' }, value = 10 }\n"
                      "action 'b_low' { channels = { 'web' }, value = 1,\n"
                      "                 weight = boost(function(c) error('boom') end, 2) }\n",
                      NULL),
              "%s", rf_problems(&R));
    uint64_t before = R.stats.rule_errors;
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "a_top");   /* considered first: b_low comes after the floor */
    cr_expect_eq(R.stats.rule_errors - before, 1, "the function ran and its error was counted");
}
