/* Unit tests for the offers and the learning of engine/state/merge.c
 * (issue 14), through arb_commit_merge: an offer is stored with its granted
 * contact only, once per (decision_id, action), oldest first, within
 * retention; a feedback with a learn rule finds its offer and teaches at
 * most one trial and one positive per offer (commit.h, arb_learn_rule_t):
 * impression then click, click before impression, duplicates, no
 * decision_id (the latest offer, whose id the stored outcome takes), trials
 * counted at decision time, an unknown decision. Then arb_commit_copy, and
 * one feedback through each real store to see the result reach its
 * callback.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/request/commit.h"
#include "engine/state/record.h"
#include "engine/state/store.h"

static arb_arena_t A;
static bool granted[8];
static arb_commit_result_t res;

static void setup(void) { arb_arena_init(&A); }
static void teardown(void) { arb_arena_free(&A); }

TestSuite(merge_learn, .init = setup, .fini = teardown);

static arb_customer_t merge(const arb_customer_t *old, const arb_commit_t *cm, const arb_retention_t *rt)
{
    arb_customer_t out;
    arb_err_t err = {0};
    cr_assert_eq(arb_commit_merge(old, cm, rt, &A, &out, granted, &res, &err), 0, "%s", err.message);
    return out;
}

static const int64_t T = 1790000000;

/* A decision that showed `action` on web in segment "gold", its contact
 * counted at decision time (no cap). */
static arb_customer_t decide(const arb_customer_t *old, const char *decision_id, const char *action, int64_t ts)
{
    arb_contact_req_t k = {{ts, action, "web", "decision"}, NULL, 0};
    arb_offer_req_t f = {{ts, decision_id, action, "web", "gold", 0}, 0};
    return merge(old, &(arb_commit_t){.now = ts, .contacts = &k, .n_contacts = 1, .offers = &f, .n_offers = 1},
                 NULL);
}

static const arb_learn_rule_t CLICK = {"click", true};

/* One feedback outcome with the learn rule. */
static arb_customer_t feedback(const arb_customer_t *old, const char *decision_id, const char *action,
                               const char *outcome, int64_t ts, const arb_learn_rule_t *rule)
{
    arb_outcome_t o = {ts, action, outcome, decision_id, "web", NAN};
    return merge(old, &(arb_commit_t){.now = ts, .outcomes = &o, .n_outcomes = 1, .learn = rule}, NULL);
}

static void expect_learned(bool known, double positives, double trials, const char *what)
{
    cr_assert_eq(res.learn_known, known, "%s: known", what);
    cr_assert_float_eq(res.learn_positives, positives, 1e-12, "%s: positives", what);
    cr_assert_float_eq(res.learn_trials, trials, 1e-12, "%s: trials", what);
}

static arb_customer_t empty(void)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    return c;
}

Test(merge_learn, an_offer_is_stored_only_with_its_granted_contact)
{
    arb_customer_t c = empty();
    arb_cap_t none = {"b", NULL, 0, 86400, NULL, 0};   /* max 0: always refused */
    arb_contact_req_t ks[2] = {{{T, "a", "web", "decision"}, NULL, 0}, {{T, "b", "web", "decision"}, &none, 1}};
    arb_offer_req_t fs[4] = {{{T, "d1", "a", "web", "", 0}, 0},    /* granted */
                             {{T, "d1", "b", "web", "", 0}, 1},    /* refused by the cap */
                             {{T, "d1", "c", "web", "", 0}, -1},   /* counted on impression: always */
                             {{T, "d1", "e", "web", "", 0}, 7}};   /* no such contact: never */
    c = merge(&c, &(arb_commit_t){.now = T, .contacts = ks, .n_contacts = 2, .offers = fs, .n_offers = 4}, NULL);
    cr_assert(granted[0] && !granted[1]);
    cr_assert_eq(c.n_offers, 2);
    cr_assert_str_eq(c.offers[0].action, "a");
    cr_assert_str_eq(c.offers[1].action, "c");
}

Test(merge_learn, offers_are_unique_by_decision_and_action_and_oldest_first)
{
    arb_customer_t c = empty();
    c = decide(&c, "d2", "a", T + 20);
    c = decide(&c, "d1", "a", T + 10);      /* older, arriving later */
    c = decide(&c, "d2", "a", T + 30);      /* a retried decision: nothing new */
    c = decide(&c, "d2", "b", T + 25);      /* the same decision, another action */
    arb_offer_req_t nameless[2] = {{{T, NULL, "a", "web", "", 0}, -1}, {{T, "d9", NULL, "web", "", 0}, -1}};
    c = merge(&c, &(arb_commit_t){.now = T + 30, .offers = nameless, .n_offers = 2}, NULL);
    cr_assert_eq(c.n_offers, 3);
    cr_assert_str_eq(c.offers[0].decision_id, "d1");
    cr_assert_eq(c.offers[1].ts, T + 20, "the first of a retried decision stays");
    cr_assert_str_eq(c.offers[2].action, "b");
    cr_assert_str_eq(c.offers[2].segment, "gold");
}

Test(merge_learn, offers_are_retained_by_age_and_by_count)
{
    arb_customer_t c = empty();
    char ids[10][16];
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "d%d", i);
        c = decide(&c, ids[i], "a", T + i * 100);
    }
    arb_retention_t rt = {.max_age = 450, .max_offers = 3};
    c = merge(&c, &(arb_commit_t){.now = T + 900}, &rt);
    cr_assert_eq(c.n_offers, 3, "the count bounds what the age keeps (5)");
    cr_assert_str_eq(c.offers[0].decision_id, "d7");
    rt = (arb_retention_t){.max_age = 150};
    c = merge(&c, &(arb_commit_t){.now = T + 900}, &rt);
    cr_assert_eq(c.n_offers, 2, "older than 150 s before now goes");
    cr_assert_str_eq(c.offers[0].decision_id, "d8");
}

Test(merge_learn, impression_then_click_is_one_trial_and_one_positive)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d1", "a", "impression", T + 1, &CLICK);
    expect_learned(true, 0, 1, "impression");
    cr_assert_str_eq(res.learn_channel, "web");
    cr_assert_str_eq(res.learn_segment, "gold");
    cr_assert_str_eq(res.learn_decision_id, "d1");
    cr_assert_eq(res.outcomes_counted, 1);
    c = feedback(&c, "d1", "a", "click", T + 2, &CLICK);
    expect_learned(true, 1, 0, "click after its impression");
    c = feedback(&c, "d1", "a", "dismiss", T + 3, &CLICK);
    expect_learned(true, 0, 0, "an outcome that is neither");
    cr_assert_eq(c.n_outcomes, 3);
}

Test(merge_learn, a_click_before_its_impression_counts_the_trial_once)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d1", "a", "click", T + 1, &CLICK);
    expect_learned(true, 1, 1, "click first implies the impression");
    c = feedback(&c, "d1", "a", "impression", T + 2, &CLICK);
    expect_learned(true, 0, 0, "the late impression adds nothing");
    cr_assert_eq(res.outcomes_counted, 1, "but is stored, as today");
}

Test(merge_learn, duplicates_and_floods_learn_nothing_twice)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d1", "a", "impression", T + 1, &CLICK);
    c = feedback(&c, "d1", "a", "click", T + 2, &CLICK);
    expect_learned(true, 1, 0, "click");
    for (int i = 0; i < 5; i++) {
        c = feedback(&c, "d1", "a", i % 2 ? "click" : "impression", T + 3 + i, &CLICK);
        expect_learned(true, 0, 0, "a repeat");
        cr_assert_eq(res.outcomes_counted, 0);
    }
    cr_assert_eq(c.n_outcomes, 2);
}

Test(merge_learn, an_outcome_dropped_by_retention_does_not_teach_again)
{
    /* A click sent with a timestamp older than the retention is stored and
     * dropped at once; what it taught stays on the offer, so resending it
     * teaches nothing more. The same holds when 200 later outcomes push it
     * out of the list. */
    arb_retention_t rt = {.max_age = 86400, .max_outcomes = 200, .max_offers = 100};
    arb_customer_t c0 = empty();
    arb_customer_t c = decide(&c0, "d1", "a", T);
    arb_outcome_t o = {T - 5 * 86400, "a", "click", "d1", "web", NAN};
    arb_commit_t fb = {.now = T + 1, .outcomes = &o, .n_outcomes = 1, .learn = &CLICK, .retention = &rt};
    c = merge(&c, &fb, NULL);
    expect_learned(true, 1, 1, "the first click");
    cr_assert_eq(c.n_outcomes, 0, "the old click is not kept");
    cr_assert_eq(c.offers[0].learned, ARB_OFFER_TRIAL | ARB_OFFER_POSITIVE);
    for (int i = 0; i < 3; i++) {
        c = merge(&c, &fb, NULL);
        expect_learned(true, 0, 0, "the same click again");
    }
}

Test(merge_learn, without_a_decision_id_the_latest_offer_of_the_action_learns)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = decide(&c, "d2", "a", T + 10);
    c = decide(&c, "d3", "b", T + 20);    /* later, but another action */
    c = feedback(&c, NULL, "a", "click", T + 30, &CLICK);
    expect_learned(true, 1, 1, "click");
    cr_assert_str_eq(res.learn_decision_id, "d2");
    cr_assert_eq(c.n_outcomes, 1);
    cr_assert_str_eq(c.outcomes[0].decision_id, "d2", "the stored outcome takes the offer's id");
    c = feedback(&c, NULL, "a", "click", T + 31, &CLICK);
    expect_learned(true, 0, 0, "the same click again is recognised");
    cr_assert_eq(c.n_outcomes, 1);
    c = feedback(&c, "d1", "a", "click", T + 32, &CLICK);
    expect_learned(true, 1, 1, "the older offer, named, still learns");
}

Test(merge_learn, trials_at_decision_time_are_never_counted_by_feedback)
{
    arb_learn_rule_t convert = {"convert", false};
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d1", "a", "impression", T + 1, &convert);
    expect_learned(true, 0, 0, "impression");
    c = feedback(&c, "d1", "a", "click", T + 2, &convert);
    expect_learned(true, 0, 0, "click is not this action's positive");
    c = feedback(&c, "d1", "a", "convert", T + 3, &convert);
    expect_learned(true, 1, 0, "convert");
}

Test(merge_learn, an_unknown_decision_learns_nothing_and_is_still_stored)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d9", "a", "click", T + 1, &CLICK);
    expect_learned(false, 0, 0, "unknown decision");
    cr_assert_null(res.learn_channel);
    cr_assert_null(res.learn_segment);
    cr_assert_null(res.learn_decision_id);
    cr_assert_eq(res.outcomes_counted, 1);
    cr_assert_str_eq(c.outcomes[0].decision_id, "d9");
    c = feedback(&c, "d1", "b", "click", T + 2, &CLICK);
    expect_learned(false, 0, 0, "a known decision that did not show this action");
    c = feedback(&c, NULL, "b", "click", T + 3, &CLICK);
    expect_learned(false, 0, 0, "no offer of the action at all");
    cr_assert_null(c.outcomes[2].decision_id, "no offer, no id to take");
}

Test(merge_learn, only_a_learn_rule_with_exactly_one_outcome_learns)
{
    arb_customer_t c = empty();
    c = decide(&c, "d1", "a", T);
    c = feedback(&c, "d1", "a", "click", T + 1, NULL);
    expect_learned(false, 0, 0, "no learn rule");
    arb_outcome_t two[2] = {{T + 2, "a", "impression", "d2", "web", NAN}, {T + 2, "a", "click", "d2", "web", NAN}};
    c = decide(&c, "d2", "a", T + 2);
    c = merge(&c, &(arb_commit_t){.now = T + 2, .outcomes = two, .n_outcomes = 2, .learn = &CLICK}, NULL);
    expect_learned(false, 0, 0, "two outcomes");
    cr_assert_eq(res.outcomes_counted, 2);
}

Test(merge_learn, commit_copy_copies_offers_and_the_learn_rule)
{
    char id[] = "d1", action[] = "a", channel[] = "web", segment[] = "gold", positive[] = "click";
    arb_offer_req_t f = {{T, id, action, channel, segment, 0}, -1};
    arb_learn_rule_t rule = {positive, true};
    arb_commit_t *cp = arb_commit_copy(&(arb_commit_t){.now = T, .offers = &f, .n_offers = 1, .learn = &rule}, &A);
    cr_assert_not_null(cp);
    /* The caller's buffers change after the copy: the copy must not. */
    id[0] = action[0] = channel[0] = segment[0] = positive[0] = 'X';
    cr_assert_eq(cp->n_offers, 1);
    cr_assert_str_eq(cp->offers[0].offer.decision_id, "d1");
    cr_assert_str_eq(cp->offers[0].offer.action, "a");
    cr_assert_str_eq(cp->offers[0].offer.channel, "web");
    cr_assert_str_eq(cp->offers[0].offer.segment, "gold");
    cr_assert_eq(cp->offers[0].contact, -1);
    cr_assert_not_null(cp->learn);
    cr_assert_str_eq(cp->learn->positive, "click");
    cr_assert(cp->learn->trials_on_impression);
    arb_commit_t *none = arb_commit_copy(&(arb_commit_t){.now = T}, &A);
    cr_assert_null(none->learn);
    cr_assert_eq(none->n_offers, 0);
}

/* ---- through a real store: the result reaches the commit's callback ---- */

typedef struct wait {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    arb_err_t err;
    bool ok, known;
    char arm[400];
    double positives, trials;
} wait_t;

/* The learn_* strings are read here, as the server reads them: the store
 * keeps them alive through the callback (store.c copies them out of its
 * merge's arena before freeing it). */
static void on_commit(void *arg, const arb_commit_result_t *r, const arb_err_t *err)
{
    wait_t *w = arg;
    pthread_mutex_lock(&w->m);
    w->ok = r != NULL;
    if (err) w->err = *err;
    if (r) {
        w->known = r->learn_known;
        w->positives = r->learn_positives;
        w->trials = r->learn_trials;
        /* The offer's arm, read in the callback as a server does: the
         * merge's memory is gone by now (ASan sees a read of it). */
        snprintf(w->arm, sizeof w->arm, "%s/%s/%s", r->learn_channel ? r->learn_channel : "-",
                 r->learn_segment ? r->learn_segment : "-",
                 r->learn_decision_id ? r->learn_decision_id : "-");
    }
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

static wait_t commit(arb_store_session_t *ss, const arb_commit_t *cm)
{
    wait_t w = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    arb_store_commit(ss, "cust-1", cm, on_commit, &w);
    pthread_mutex_lock(&w.m);
    while (!w.done) pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    cr_assert(w.ok, "%s", w.err.message);
    return w;
}

static void through_store(const char *spec)
{
    arb_store_t *store;
    arb_err_t err;
    cr_assert_eq(arb_store_open(&store, spec, NULL, &err), 0, "%s", err.message);
    arb_store_session_t *ss = arb_store_session_open(store, &err);
    cr_assert_not_null(ss, "%s", err.message);
    arb_contact_req_t k = {{T, "a", "web", "decision"}, NULL, 0};
    arb_offer_req_t f = {{T, "d1", "a", "web", "gold", 0}, 0};
    commit(ss, &(arb_commit_t){.now = T, .contacts = &k, .n_contacts = 1, .offers = &f, .n_offers = 1});
    arb_outcome_t o = {T + 1, "a", "click", "d1", "web", NAN};
    arb_commit_t fb = {.now = T + 1, .outcomes = &o, .n_outcomes = 1, .learn = &CLICK};
    wait_t w = commit(ss, &fb);
    cr_assert(w.known && w.positives == 1 && w.trials == 1, "known %d, %g/%g", w.known, w.positives, w.trials);
    cr_assert_str_eq(w.arm, "web/gold/d1");
    w = commit(ss, &fb);
    cr_assert(w.known && w.positives == 0 && w.trials == 0, "a repeat: known %d, %g/%g", w.known, w.positives,
              w.trials);
    o.decision_id = "d7";
    w = commit(ss, &fb);
    cr_assert(!w.known && w.positives == 0 && w.trials == 0, "unknown decision");
    arb_store_session_close(ss);
    arb_store_close(store);
}

Test(merge_learn, a_feedback_through_the_memory_store_reports_what_it_taught)
{
    through_store("memory");
}

Test(merge_learn, a_feedback_through_the_lmdb_store_reports_what_it_taught)
{
    /* The LMDB writer queues a copy of the commit: its learn rule must come. */
    char dir[] = "/tmp/arb-learn-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    through_store(dir);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
