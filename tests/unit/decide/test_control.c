/* Unit tests for control groups and experiments in decide (decide.c,
 * decide/control.c): membership is bucket(salt, customer_id) < share and
 * nothing else (the same across two loads and two deciders), another salt
 * reshuffles, shares hold over 10,000 ids; a held action is in `held` and
 * never in `actions`, with its explain reason; a global-control customer
 * gets the fallback or nothing as declared; an experiment's challenger
 * decides for its share and the decision names its arm and version.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/decide/adaptive.h"
#include "engine/decide/policy.h"
#include "engine/request/bucket.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(control, .init = rf_setup, .fini = rf_teardown);

static bool in(const char *salt, const char *id, double share)
{
    return arb_bucket(salt, strlen(salt), id, strlen(id)) < share;
}

static const arb_decision_t *decide_for(rf_t *r, const char *id, bool explain)
{
    rf_decide(r, "{'customer_id':'%s','explain':%s}", id, explain ? "true" : "false");
    return rf_decision(r);
}

static const char *held_as(const arb_decision_t *d, const char *action)
{
    for (uint32_t i = 0; i < d->n_held; i++)
        if (strcmp(d->held[i].id, action) == 0) return d->held[i].control;
    return NULL;
}

#define GLOBAL(gets)                                                                   \
    "control { share = 0.3, salt = 'holdout-2026', gets = '" gets "' }\n"              \
    "action 'tv' { channels = { 'web' }, value = 10 }\n"                               \
    "action 'radio' { channels = { 'web' }, value = 5 }\n"                             \
    "fallback 'newsletter' { channels = { 'web' }, value = 1 }\n"

Test(control, membership_is_the_bucket_of_salt_and_id_across_loads_and_deciders)
{
    static rf_t R2;
    rf_init(&R2);
    cr_assert(rf_load(&R, "a.lua", GLOBAL("fallback"), NULL), "%s", rf_problems(&R));
    cr_assert(rf_load(&R2, "b.lua", GLOBAL("fallback"), NULL), "%s", rf_problems(&R2));
    char id[32];
    int n_control = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        bool want = in("holdout-2026", id, 0.3);
        const char *g1 = decide_for(&R, id, false)->group;
        cr_assert_str_eq(g1, want ? "control" : "treatment", "%s", id);
        cr_assert_str_eq(decide_for(&R2, id, false)->group, g1, "%s: another load and decider", id);
        n_control += want;
    }
    cr_expect(n_control > 100 && n_control < 200, "%d of 500 in a 30%% share", n_control);
    rf_fini(&R2);
}

Test(control, another_salt_reshuffles)
{
    cr_assert(rf_load(&R, "a.lua", GLOBAL("fallback"), NULL), "%s", rf_problems(&R));
    bool before[400];
    char id[32];
    for (int i = 0; i < 400; i++) {
        snprintf(id, sizeof id, "c%d", i);
        before[i] = strcmp(decide_for(&R, id, false)->group, "control") == 0;
    }
    cr_assert(rf_load(&R, "a.lua",
                      "control { share = 0.3, salt = 'holdout-2027' }\n"
                      "action 'tv' { channels = { 'web' }, value = 10 }\n", NULL), "%s", rf_problems(&R));
    int moved = 0;
    for (int i = 0; i < 400; i++) {
        snprintf(id, sizeof id, "c%d", i);
        bool now = strcmp(decide_for(&R, id, false)->group, "control") == 0;
        cr_assert_eq(now, in("holdout-2027", id, 0.3));
        moved += now != before[i];
    }
    cr_expect(moved > 80, "only %d of 400 changed group with another salt", moved);
}

Test(control, shares_hold_over_ten_thousand_ids)
{
    cr_assert(rf_load(&R, "a.lua",
                      "control { share = 0.05 }\n"
                      "action 'tv' { channels = { 'web' }, value = 10, control = 0.2 }\n", NULL),
              "%s", rf_problems(&R));
    char id[32];
    int global = 0, held = 0, treated = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "shopper-%05d", i);
        const arb_decision_t *d = decide_for(&R, id, false);
        if (strcmp(d->group, "control") == 0) {
            global++;
            continue;
        }
        treated++;
        held += d->n_held == 1;
    }
    cr_expect(fabs(global / 10000.0 - 0.05) <= 3 * sqrt(0.05 * 0.95 / 10000), "global %d", global);
    double p = (double)held / treated;
    cr_expect(fabs(p - 0.2) <= 3 * sqrt(0.2 * 0.8 / treated), "held %d of %d", held, treated);
}

Test(control, a_held_action_is_in_held_never_in_actions)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'tv' { channels = { 'web' }, value = 10, control = 0.5 }\n"
                      "action 'radio' { channels = { 'web' }, value = 5 }\n"
                      "action 'never' { channels = { 'web' }, value = 50, control = 0.5, when = raining() }\n",
                      NULL), "%s", rf_problems(&R));
    char id[32];
    int seen_held = 0, seen_shown = 0;
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "c%d", i);
        const arb_decision_t *d = decide_for(&R, id, true);
        cr_expect_str_eq(d->group, "treatment");
        cr_expect_null(held_as(d, "never"), "an ineligible action is not held");
        if (in("arbiter:tv", id, 0.5)) {
            seen_held++;
            cr_expect_str_eq(rf_ids(&R), "radio", "%s", id);
            cr_expect_str_eq(held_as(d, "tv"), "action");
            cr_expect_str_eq(rf_reason(&R, "tv"), "control: held out (50%)");
        } else {
            seen_shown++;
            cr_expect_str_eq(rf_ids(&R), "tv,radio", "%s", id);
            cr_expect_eq(d->n_held, 0);
        }
    }
    cr_expect(seen_held && seen_shown);
}

Test(control, a_group_holds_its_members_out_together)
{
    cr_assert(rf_load(&R, "a.lua",
                      "group 'promo' { cap = { 9, per = days(7) }, control = { share = 0.5, salt = 'p' } }\n"
                      "action 'tv' { channels = { 'web' }, value = 10, group = 'promo' }\n"
                      "action 'radio' { channels = { 'web' }, value = 5, group = 'promo' }\n"
                      "action 'mail' { channels = { 'web' }, value = 1 }\n", NULL), "%s", rf_problems(&R));
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "c%d", i);
        const arb_decision_t *d = decide_for(&R, id, true);
        if (in("p", id, 0.5)) {
            cr_expect_str_eq(rf_ids(&R), "mail");
            cr_expect_str_eq(held_as(d, "tv"), "promo");
            cr_expect_str_eq(held_as(d, "radio"), "promo");
            cr_expect_str_eq(rf_reason(&R, "radio"), "control: group promo");
        } else {
            cr_expect_str_eq(rf_ids(&R), "tv,radio,mail");
        }
    }
}

/* A customer of the global control group and one of treatment. */
static void two_customers(char *ctl, char *trt)
{
    *ctl = *trt = '\0';
    char id[32];
    for (int i = 0; !*ctl || !*trt; i++) {
        snprintf(id, sizeof id, "c%d", i);
        strcpy(in("holdout-2026", id, 0.3) ? ctl : trt, id);
    }
}

Test(control, a_control_customer_gets_the_fallback)
{
    cr_assert(rf_load(&R, "a.lua", GLOBAL("fallback"), NULL), "%s", rf_problems(&R));
    char ctl[32], trt[32];
    two_customers(ctl, trt);
    const arb_decision_t *d = decide_for(&R, trt, false);
    cr_expect_str_eq(rf_ids(&R), "tv,radio");
    cr_expect_eq(d->n_held, 0);
    d = decide_for(&R, ctl, true);
    cr_expect_str_eq(d->group, "control");
    cr_expect_str_eq(rf_ids(&R), "newsletter");
    cr_expect_str_eq(held_as(d, "tv"), "global");
    cr_expect_str_eq(held_as(d, "radio"), "global");
    cr_expect_null(held_as(d, "newsletter"));
    cr_expect_str_eq(rf_reason(&R, "tv"), "control: global hold-out (30%)");
    cr_expect(rf_str_is(rf_get(R.dec, "group"), "control"), "the answer says its group");
}

Test(control, a_control_customer_gets_nothing_when_declared)
{
    cr_assert(rf_load(&R, "a.lua", GLOBAL("nothing"), NULL), "%s", rf_problems(&R));
    char ctl[32], trt[32];
    two_customers(ctl, trt);
    const arb_decision_t *d = decide_for(&R, ctl, true);
    cr_expect_str_eq(rf_ids(&R), "");
    cr_expect_eq(d->n_held, 2);
    cr_expect_str_eq(rf_reason(&R, "newsletter"), "control: global hold-out (30%)");
    decide_for(&R, trt, false);
    cr_expect_str_eq(rf_ids(&R), "tv,radio");
}

Test(control, the_challenger_decides_for_its_share_and_names_its_arm)
{
    char path[128];
    snprintf(path, sizeof path, "%s/challenger", R.dir);
    mkdir(path, 0700);
    rf_write(&R, "challenger/a.lua", "action 'new_tv' { channels = { 'web' }, value = 20 }\n");
    cr_assert(rf_load(&R, "a.lua",
                      "experiment 'spring' { challenger = 'challenger', share = 0.5, salt = 'spring' }\n"
                      "action 'tv' { channels = { 'web' }, value = 10 }\n", NULL), "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    char id[32];
    int arms[2] = { 0, 0 };
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "c%d", i);
        const arb_decision_t *d = decide_for(&R, id, false);
        cr_expect_str_eq(d->experiment, "spring");
        if (in("spring", id, 0.5)) {
            arms[1]++;
            cr_expect_str_eq(d->arm, "challenger");
            cr_expect_str_eq(rf_ids(&R), "new_tv");
            cr_expect_str_eq(d->ruleset, arb_ruleset_version(e.challenger));
            cr_expect_eq(d->decided_by, e.challenger);
            cr_expect(rf_str_is(rf_get(R.dec, "arm"), "challenger"));
            cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(e.challenger)));
        } else {
            arms[0]++;
            cr_expect_str_eq(d->arm, "champion");
            cr_expect_str_eq(rf_ids(&R), "tv");
            cr_expect_str_eq(d->ruleset, arb_ruleset_version(R.rs));
            cr_expect_eq(d->decided_by, R.rs);
        }
        cr_expect(rf_str_is(rf_get(R.dec, "experiment"), "spring"));
    }
    cr_expect(arms[0] && arms[1]);
}

/* Feedback and learning for an action only the challenger has read the
 * challenger's rules (its adaptive rule, its outcomes). */
Test(control, an_action_only_the_challenger_has_is_read_in_the_challenger)
{
    char path[128];
    snprintf(path, sizeof path, "%s/challenger", R.dir);
    mkdir(path, 0700);
    rf_write(&R, "challenger/a.lua",
             "action 'new_tv' { channels = { 'web' }, value = 20, propensity = adaptive { } }\n"
             "action 'tv' { channels = { 'web' }, value = 10 }\n");
    cr_assert(rf_load(&R, "a.lua",
                      "experiment 'spring' { challenger = 'challenger', share = 0.5, salt = 'spring' }\n"
                      "action 'tv' { channels = { 'web' }, value = 10 }\n", NULL), "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    cr_expect_eq(arb_policy_ruleset_of(R.rs, "new_tv"), e.challenger);
    cr_expect_eq(arb_policy_ruleset_of(R.rs, "tv"), R.rs, "the champion's own first");
    cr_expect_eq(arb_policy_ruleset_of(R.rs, "nowhere"), R.rs);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_expect_null(arb_adaptive_rule(R.rs, "new_tv", &a));
    cr_expect_not_null(arb_adaptive_rule(arb_policy_ruleset_of(R.rs, "new_tv"), "new_tv", &a));
    const char *const *names;
    cr_expect_eq(arb_adaptive_actions(R.rs, &a, &names), 1, "the challenger's adaptive action is synced");
    cr_expect_str_eq(names[0], "new_tv");
    arb_arena_free(&a);
}

Test(control, without_an_experiment_the_ruleset_decides_with_no_arm)
{
    cr_assert(rf_load(&R, "a.lua", "action 'tv' { channels = { 'web' }, value = 10 }\n", NULL),
              "%s", rf_problems(&R));
    const arb_decision_t *d = decide_for(&R, "c1", false);
    cr_expect_null(d->experiment);
    cr_expect_null(d->arm);
    cr_expect_eq(d->decided_by, R.rs);
    cr_expect_str_eq(d->group, "treatment");
    cr_expect_str_eq(d->touchpoint, "web_home");
    cr_expect_null(rf_get(R.dec, "experiment"));
}

/* Contacts come only from what was shown: a held action counts none, and
 * a challenger decision's contacts are read in the challenger. */
Test(control, a_held_action_makes_no_contact)
{
    cr_assert(rf_load(&R, "a.lua",
                      "channel 'email' { counts = 'decision' }\n"
                      "action 'tv' { channels = { 'email' }, value = 10, cap = { 2, per = days(7) }, control = 0.5 }\n"
                      "action 'radio' { channels = { 'email' }, value = 5, cap = { 2, per = days(7) } }\n",
                      NULL), "%s", rf_problems(&R));
    char id[32];
    int checked = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "c%d", i);
        rf_decide(&R, "{'customer_id':'%s','channel':'email','touchpoint':'t'}", id);
        const arb_decision_t *d = rf_decision(&R);
        arb_contact_req_t *reqs;
        int n = arb_policy_contacts(d->decided_by, d, &R.arena, &reqs);
        cr_assert_eq(n, (int)d->n_actions);
        for (int k = 0; k < n; k++)
            if (in("arbiter:tv", id, 0.5)) cr_expect_str_neq(reqs[k].contact.action, "tv", "%s", id);
        checked += in("arbiter:tv", id, 0.5) && n == 1;
    }
    cr_expect(checked > 0);
}

/* Held means eligible, not "would have made the top": a controlled action
 * is evaluated even when the decision could pass it over unread. */
Test(control, an_eligible_action_is_held_even_when_outranked)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'one' { limit = 1 }\n"
                      "action 'big' { channels = { 'web' }, value = 50 }\n"
                      "action 'tv' { channels = { 'web' }, value = 10, control = 0.5 }\n", NULL),
              "%s", rf_problems(&R));
    char id[32];
    int held = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "c%d", i);
        rf_decide(&R, "{'customer_id':'%s','touchpoint':'one'}", id);
        const arb_decision_t *d = rf_decision(&R);
        cr_expect_str_eq(rf_ids(&R), "big");
        bool want = in("arbiter:tv", id, 0.5);
        cr_expect_eq(held_as(d, "tv") != NULL, want, "%s", id);
        held += want;
    }
    cr_expect(held > 0);
}
