/* Unit tests for adaptive propensities on the decide path
 * (engine/decide/adaptive.c and its calls in decide.c): the propensity of
 * an adaptive action from a snapshot of learned arms built by the real
 * learner, sampled with a seeded decider (reproducible), the mean once
 * settled, segment and pooled arms, a model's score as the prior, decay
 * with a half-life, the explain evidence, and the offers, learn rules and
 * deltas decisions and feedback hand on.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/decide/adaptive.h"
#include "engine/decide/ruletest.h"
#include "engine/learn/learner.h"
#include "tests/support/rulefix.h"

static arb_learner_t *learner;
static arb_arms_snap_t *snap;

static void setup(void) { rf_setup(); }

static void teardown(void)
{
    arb_arms_snap_release(snap);
    arb_learner_free(learner);
    rf_teardown();
}

TestSuite(adaptive, .init = setup, .fini = teardown);

/* The decider reads arms[0..n) (as the store's totals) from now on. */
static void use_arms(const arb_arm_t *arms, size_t n)
{
    if (!learner) learner = arb_learner_new(NULL);
    cr_assert_not_null(learner);
    arb_arms_snap_release(snap);
    snap = arb_learner_absorb(learner, arms, n);
    cr_assert_not_null(snap);
    arb_decider_set_arms(R.d, snap);
}

static void load(const char *text)
{
    cr_assert(rf_load(&R, "a.lua", text, NULL), "%s", rf_problems(&R));
}

/* The explain entry of action id in the last decision. */
static const arb_explained_t *explained(const char *id)
{
    const arb_decision_t *d = rf_decision(&R);
    for (uint32_t i = 0; i < d->n_explain; i++)
        if (strcmp(d->explain[i].id, id) == 0) return &d->explain[i];
    cr_assert_fail("no explain entry for %s", id);
    return NULL;
}

static const arb_learned_t *learned(const char *id)
{
    const arb_explained_t *x = explained(id);
    cr_assert_not_null(x->learned, "%s: no learned evidence (reason %s)", id, x->reason);
    return x->learned;
}

/* The first chosen action of the last decision, "" when none. */
static const char *first(void)
{
    const arb_decision_t *d = rf_decision(&R);
    return d->n_actions ? d->actions[0].id : "";
}

#define TWO_ACTIONS(fields)                                                                        \
    "action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { " fields " } }\n"       \
    "action 'b' { channels = { 'web' }, value = 1, propensity = adaptive { " fields " } }\n"

Test(adaptive, a_seed_makes_decisions_reproducible)
{
    load(TWO_ACTIONS(""));   /* no evidence: Beta(1, 1) for each, a coin toss */
    char runs[3][41];
    uint64_t seeds[3] = { 7, 7, 8 };
    for (int r = 0; r < 3; r++) {
        arb_decider_seed(R.d, seeds[r]);
        for (int i = 0; i < 40; i++) {
            rf_decide(&R, "{'limit':1}");
            runs[r][i] = first()[0];
        }
        runs[r][40] = '\0';
    }
    cr_expect_str_eq(runs[0], runs[1], "the same seed, the same decisions");
    cr_expect_str_neq(runs[0], runs[2], "another seed, other draws");
    cr_expect(strchr(runs[0], 'a') && strchr(runs[0], 'b'), "both explored: %s", runs[0]);
}

Test(adaptive, strong_evidence_wins_and_explain_shows_it)
{
    load(TWO_ACTIONS("prior = 0.05, strength = 20, settle = 5000"));
    use_arms((arb_arm_t[]){ { "a", "web", "", 900, 1000, RF_NOW },
                            { "b", "web", "", 10, 1000, RF_NOW } }, 2);
    arb_decider_seed(R.d, 1);
    int a_wins = 0;
    for (int i = 0; i < 200; i++) {
        rf_decide(&R, "{'limit':1}");
        a_wins += strcmp(first(), "a") == 0;
    }
    cr_expect_geq(a_wins, 198, "a won %d of 200", a_wins);
    rf_decide(&R, "{'limit':1,'explain':true}");
    const arb_learned_t *l = learned("a");
    cr_expect_str_eq(l->segment, "");
    cr_expect_float_eq(l->positives, 900, 1e-9);
    cr_expect_float_eq(l->trials, 1000, 1e-9);
    cr_expect_float_eq(l->prior, 0.05, 1e-12);
    cr_expect_float_eq(l->mean, (0.05 * 20 + 900) / (20 + 1000.0), 1e-12);
    cr_expect(l->sample > 0.8 && l->sample < 0.95, "sample %g", l->sample);
    cr_expect_float_eq(explained("a")->propensity, l->sample, 0, "the propensity is the draw");
    cr_expect_float_eq(learned("b")->mean, (0.05 * 20 + 10) / 1020.0, 1e-12);
    cr_expect_null(rf_decision(&R)->actions[0].segment[0] ? "x" : NULL, "pooled: segment \"\"");
}

Test(adaptive, settled_uses_the_mean_exactly)
{
    load("action 'a' { channels = { 'web' }, value = 10, propensity = adaptive { prior = 0.1, "
         "strength = 10, settle = 1000 } }\n");
    use_arms((arb_arm_t[]){ { "a", "web", "", 300, 1000, RF_NOW } }, 1);
    rf_decide(&R, "{'explain':true}");
    const arb_learned_t *l = learned("a");
    double mean = (0.1 * 10 + 300) / (10 + 1000.0);
    cr_expect(isnan(l->sample), "no draw once settled");
    cr_expect_float_eq(l->mean, mean, 1e-12);
    cr_expect_eq(rf_decision(&R)->actions[0].propensity, mean);
    cr_expect_float_eq(rf_decision(&R)->actions[0].priority, mean * 10, 1e-12);
    /* Just below settle it still samples. */
    use_arms((arb_arm_t[]){ { "a", "web", "", 300, 999, RF_NOW } }, 1);
    rf_decide(&R, "{'explain':true}");
    cr_expect(!isnan(learned("a")->sample));
}

Test(adaptive, explore_always_samples_even_when_settled)
{
    load("action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { explore = 'always', "
         "settle = 10 } }\n");
    use_arms((arb_arm_t[]){ { "a", "web", "", 300, 1000, RF_NOW } }, 1);
    rf_decide(&R, "{'explain':true}");
    const arb_learned_t *l = learned("a");
    cr_expect(!isnan(l->sample));
    cr_expect_eq(rf_decision(&R)->actions[0].propensity, l->sample);
    cr_expect_neq(l->sample, l->mean);
}

Test(adaptive, the_segment_arm_when_present_else_the_pooled_one)
{
    load("action 'a' { channels = { 'web', 'email' }, value = 1, propensity = adaptive { "
         "segment = 'tier', settle = 0 } }\n");
    use_arms((arb_arm_t[]){ { "a", "web", "", 100, 400, RF_NOW },
                            { "a", "web", "gold", 80, 100, RF_NOW },
                            { "a", "web", "3", 1, 10, RF_NOW },
                            { "a", "email", "", 5, 5, RF_NOW } }, 4);
    rf_decide(&R, "{'explain':true,'attributes':{'tier':'gold'}}");
    cr_expect_str_eq(learned("a")->segment, "gold");
    cr_expect_float_eq(learned("a")->positives, 80, 1e-9);
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "gold");
    cr_expect_float_eq(rf_decision(&R)->actions[0].propensity, (1 + 80) / (2 + 100.0), 1e-12);

    rf_decide(&R, "{'explain':true,'attributes':{'tier':'silver'}}");
    cr_expect_str_eq(learned("a")->segment, "", "no evidence for silver: pooled");
    cr_expect_float_eq(learned("a")->positives, 100, 1e-9);
    cr_expect_float_eq(learned("a")->trials, 400, 1e-9);
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "silver", "its offer teaches silver");

    rf_decide(&R, "{'explain':true,'attributes':{'tier':3}}");
    cr_expect_str_eq(learned("a")->segment, "3", "an integer as %%lld");
    rf_decide(&R, "{'attributes':{'tier':-3}}");
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "-3");
    rf_decide(&R, "{'attributes':{'tier':true}}");
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "true");
    rf_decide(&R, "{'attributes':{'tier':1.5}}");
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "", "a float: no segment");
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_decision(&R)->actions[0].segment, "", "missing: pooled");
    cr_expect_str_eq(learned("a")->segment, "");
    rf_decide(&R, "{'attributes':{'tier':'%s'}}",
              "0123456789012345678901234567890123456789012345678901234567890123456789");
    cr_expect_eq(strlen(rf_decision(&R)->actions[0].segment), 64, "cut to 64 bytes");
    rf_decide(&R, "{'channel':'email','touchpoint':'email_home','explain':true}");
    cr_expect_float_eq(learned("a")->positives, 5, 1e-9, "per channel");
}

Test(adaptive, a_long_segment_is_cut_at_a_character)
{
    load("action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { segment = 'tier' } }\n");
    /* 63 ASCII bytes then a 2-byte character: 65 bytes, cut to 63. */
    rf_decide(&R, "{'attributes':{'tier':'%s\xc3\xa9'}}",
              "012345678901234567890123456789012345678901234567890123456789012");
    cr_expect_eq(strlen(rf_decision(&R)->actions[0].segment), 63);
}

Test(adaptive, prior_model_score_is_the_prior_when_sent)
{
    load("models { 'acc' }\n"
         "action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { prior = 0.2, "
         "strength = 10, prior_model = 'acc', settle = 0 } }\n");
    rf_decide(&R, "{'explain':true,'scores':{'acc':0.7}}");
    cr_expect_float_eq(learned("a")->prior, 0.7, 1e-12);
    cr_expect_float_eq(rf_decision(&R)->actions[0].propensity, 0.7, 1e-12, "no evidence: the prior");
    rf_decide(&R, "{'explain':true}");
    cr_expect_float_eq(learned("a")->prior, 0.2, 1e-12, "not sent: the action's prior");
    rf_decide(&R, "{'explain':true,'scores':{'acc':1}}");
    cr_expect(learned("a")->prior < 1 && learned("a")->prior > 0.99, "kept inside (0, 1)");
}

Test(adaptive, without_arms_the_prior_alone)
{
    load("action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { prior = 0.3, "
         "settle = 0 } }\n");
    rf_decide(&R, "{'explain':true}");
    const arb_learned_t *l = learned("a");
    cr_expect(l->positives == 0 && l->trials == 0);
    cr_expect_float_eq(l->mean, 0.3, 1e-12);
    cr_expect_float_eq(rf_decision(&R)->actions[0].propensity, 0.3, 1e-12);
}

Test(adaptive, old_evidence_counts_less_with_a_half_life)
{
    load("action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { half_life = days(30), "
         "settle = 0 } }\n"
         "action 'k' { channels = { 'web' }, value = 1, propensity = adaptive { settle = 0 } }\n");
    use_arms((arb_arm_t[]){ { "a", "web", "", 100, 200, RF_NOW - 30 * RF_DAY },
                            { "k", "web", "", 100, 200, RF_NOW - 30 * RF_DAY } }, 2);
    rf_decide(&R, "{'explain':true}");
    cr_expect_float_eq(learned("a")->positives, 50, 1e-6, "one half-life later: half");
    cr_expect_float_eq(learned("a")->trials, 100, 1e-6);
    cr_expect_float_eq(learned("k")->trials, 200, 1e-9, "no half-life: never fades");
    rf_decide(&R, "{'explain':true,'now':%lld}", RF_NOW + 30 * RF_DAY);
    cr_expect_float_eq(learned("a")->trials, 50, 1e-6, "later still: a quarter");
}

Test(adaptive, non_adaptive_actions_have_no_evidence_nor_segment)
{
    load("action 'f' { channels = { 'web' }, value = 1, propensity = 0.5 }\n"
         "action 'g' { channels = { 'web' }, value = 1, propensity = adaptive { settle = 0 }, "
         "when = raining() }\n");
    rf_decide(&R, "{'explain':true,'limit':3}");
    cr_expect_null(explained("f")->learned);
    cr_expect_null(explained("g")->learned, "not eligible: no evidence shown");
    cr_expect_null(rf_decision(&R)->actions[0].segment);
}

/* The candidate loop passes over actions whose bound is below what it
 * holds: an adaptive action's bound must stay above its propensity. */
Test(adaptive, pruning_never_passes_over_a_learned_winner)
{
    load("action 'a' { channels = { 'web' }, value = 5, propensity = 1 }\n"
         "action 'z' { channels = { 'web' }, value = 10, propensity = adaptive { prior = 0.01, "
         "strength = 1000, settle = 0 } }\n");
    use_arms((arb_arm_t[]){ { "z", "web", "", 99000, 100000, RF_NOW } }, 1);
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(first(), "z", "0.9 x 10 beats 1 x 5");
}

/* ---- what decisions and feedback hand on */

Test(adaptive, offers_link_to_their_contact_request)
{
    load("action 'a' { channels = { 'web' }, value = 3, propensity = adaptive { segment = 'tier', "
         "trial = 'decision', half_life = days(7) } }\n"
         "action 'b' { channels = { 'web' }, value = 2, propensity = adaptive {} }\n"
         "action 'c' { channels = { 'web' }, value = 1 }\n");
    arb_decider_seed(R.d, 3);
    rf_decide(&R, "{'limit':3,'attributes':{'tier':'gold'}}");
    const arb_decision_t *dec = rf_decision(&R);
    cr_assert_eq(dec->n_actions, 3);
    arb_contact_t ca = { dec->now, "a", "web", "decision" }, cc = { dec->now, "c", "web", "decision" };
    arb_contact_req_t reqs[2] = { { cc, NULL, 0 }, { ca, NULL, 0 } };
    arb_offer_req_t *offers;
    int n = arb_adaptive_offers(R.rs, dec, reqs, 2, &R.arena, &offers);
    cr_assert_eq(n, 2, "one per chosen adaptive action");
    for (int i = 0; i < n; i++) {
        const arb_offer_t *o = &offers[i].offer;
        cr_expect_str_eq(o->decision_id, dec->decision_id);
        cr_expect_str_eq(o->channel, "web");
        cr_expect_eq(o->ts, dec->now);
        if (strcmp(o->action, "a") == 0) {
            cr_expect_eq(offers[i].contact, 1);
            cr_expect_str_eq(o->segment, "gold");
        } else {
            cr_expect_str_eq(o->action, "b");
            cr_expect_eq(offers[i].contact, -1);
            cr_expect_str_eq(o->segment, "");
        }
    }
    bool stored[2] = { true, true };
    arb_arm_delta_t *d;
    int nd = arb_adaptive_decision_deltas(R.rs, offers, 2, stored, &R.arena, &d);
    cr_assert_eq(nd, 2, "a's trials count at decision: its arm and the pooled one; b's do not");
    cr_expect(strcmp(d[0].action, "a") == 0 && strcmp(d[0].segment, "gold") == 0);
    cr_expect(strcmp(d[1].action, "a") == 0 && strcmp(d[1].segment, "") == 0);
    cr_expect(d[0].trials == 1 && d[0].positives == 0 && d[0].half_life == 7 * RF_DAY);
    stored[0] = stored[1] = false;
    cr_expect_eq(arb_adaptive_decision_deltas(R.rs, offers, 2, stored, &R.arena, &d), 0,
                 "an offer not stored counts no trial");

    rf_decide(&R, "{'limit':3,'preview':true}");
    cr_expect_eq(arb_adaptive_offers(R.rs, rf_decision(&R), NULL, 0, &R.arena, &offers), 0,
                 "a preview offers nothing");
}

Test(adaptive, learn_rules_and_feedback_deltas)
{
    load("outcomes { 'wishlist' }\n"
         "action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { segment = 'tier', "
         "positive = 'wishlist', trial = 'decision', half_life = days(2) } }\n"
         "action 'b' { channels = { 'web' }, value = 1, propensity = adaptive {} }\n"
         "action 'c' { channels = { 'web' }, value = 1 }\n");
    const arb_learn_rule_t *r = arb_adaptive_rule(R.rs, "a", &R.arena);
    cr_assert_not_null(r);
    cr_expect_str_eq(r->positive, "wishlist");
    cr_expect(!r->trials_on_impression);
    r = arb_adaptive_rule(R.rs, "b", &R.arena);
    cr_assert_not_null(r);
    cr_expect(strcmp(r->positive, "click") == 0 && r->trials_on_impression);
    cr_expect_null(arb_adaptive_rule(R.rs, "c", &R.arena), "not adaptive");
    cr_expect_null(arb_adaptive_rule(R.rs, "zz", &R.arena), "unknown");

    arb_commit_result_t res = { .learn_known = false };
    arb_arm_delta_t *d;
    cr_expect_eq(arb_adaptive_feedback_deltas(R.rs, "a", 100, &res, &R.arena, &d), 0,
                 "an unknown decision teaches nothing");
    res = (arb_commit_result_t){ .learn_known = true, .learn_positives = 1, .learn_trials = 0,
                                 .learn_channel = "web", .learn_segment = "gold",
                                 .learn_decision_id = "x-1" };
    int n = arb_adaptive_feedback_deltas(R.rs, "a", 100, &res, &R.arena, &d);
    cr_assert_eq(n, 2);
    cr_expect(strcmp(d[0].segment, "gold") == 0 && strcmp(d[1].segment, "") == 0);
    for (int i = 0; i < 2; i++)
        cr_expect(strcmp(d[i].action, "a") == 0 && strcmp(d[i].channel, "web") == 0 &&
                  d[i].positives == 1 && d[i].trials == 0 && d[i].ts == 100 &&
                  d[i].half_life == 2 * RF_DAY);
    res.learn_segment = "";
    cr_expect_eq(arb_adaptive_feedback_deltas(R.rs, "a", 100, &res, &R.arena, &d), 1, "pooled only");
    res.learn_positives = 0;
    cr_expect_eq(arb_adaptive_feedback_deltas(R.rs, "a", 100, &res, &R.arena, &d), 0, "a repeat");
    res.learn_trials = 1;
    cr_expect_eq(arb_adaptive_feedback_deltas(R.rs, "c", 100, &res, &R.arena, &d), 0, "not adaptive");

    const char *const *names;
    cr_assert_eq(arb_adaptive_actions(R.rs, &R.arena, &names), 2);
    cr_expect(strcmp(names[0], "a") == 0 && strcmp(names[1], "b") == 0);
}

Test(adaptive, views_decay_to_now_with_the_prior_mean)
{
    load("action 'a' { channels = { 'web' }, value = 1, propensity = adaptive { prior = 0.1, "
         "strength = 10, half_life = days(1) } }\n"
         "action 'b' { channels = { 'web' }, value = 1, propensity = adaptive {} }\n");
    use_arms((arb_arm_t[]){ { "a", "web", "", 40, 100, RF_NOW - RF_DAY },
                            { "a", "web", "gold", 5, 2, RF_NOW },
                            { "b", "web", "", 3, 4, RF_NOW },
                            { "gone", "web", "", 1, 1, RF_NOW } }, 4);
    arb_arm_view_t *v;
    int n = arb_adaptive_views(R.rs, snap, NULL, RF_NOW, &R.arena, &v);
    cr_assert_eq(n, 3, "an action no longer adaptive is not listed");
    cr_expect(strcmp(v[0].action, "a") == 0 && strcmp(v[0].segment, "") == 0);
    cr_expect_float_eq(v[0].positives, 20, 1e-6);
    cr_expect_float_eq(v[0].trials, 50, 1e-6);
    cr_expect_float_eq(v[0].negatives, 30, 1e-6);
    cr_expect_float_eq(v[0].mean, (1 + 20) / (10 + 50.0), 1e-9);
    cr_expect_float_eq(v[1].negatives, 0, 0, "more positives than trials: no negatives");
    cr_expect_float_eq(v[2].mean, (1 + 3) / (2 + 4.0), 1e-9, "b: prior 0.5, strength 2");
    cr_expect_eq(arb_adaptive_views(R.rs, snap, "b", RF_NOW, &R.arena, &v), 1);
    cr_expect_eq(arb_adaptive_views(R.rs, NULL, NULL, RF_NOW, &R.arena, &v), 0);
}

/* `arbiter test` decides adaptive actions on their prior with a fixed
 * seed: the same tests pass and fail on every run. */
Test(adaptive, rule_tests_draw_from_a_fixed_seed)
{
    load(TWO_ACTIONS(""));
    char tests[4096] = "";
    for (int i = 0; i < 30; i++)
        snprintf(tests + strlen(tests), sizeof tests - strlen(tests),
                 "test 't%02d' { context = { channel = 'web', touchpoint = 'web_home', limit = 1 },"
                 " expect = { 'a' } }\n", i);
    rf_write(&R, "a_test.lua", tests);
    char runs[2][4096];
    for (int r = 0; r < 2; r++) {
        arb_problems_t failures = { 0 };
        cr_assert_eq(arb_ruleset_run_tests(R.rs, R.dir, &failures, 0), 30);
        runs[r][0] = '\0';
        for (size_t i = 0; i < failures.n; i++)
            snprintf(runs[r] + strlen(runs[r]), sizeof runs[r] - strlen(runs[r]), "%.12s ",
                     strstr(failures.items[i], "t") ? strstr(failures.items[i], "'t") : "?");
        cr_expect(failures.n > 0 && failures.n < 30, "a coin toss: %zu of 30 failed", failures.n);
        arb_problems_free(&failures);
    }
    cr_expect_str_eq(runs[0], runs[1]);
}
