/* Unit tests for the learner and its snapshots (engine/learn/learner.c,
 * snap.c): deltas combined per arm until a take; a take hands them over
 * once; absorb publishes the store's totals plus whatever was added since
 * the take; the bounds drop and count what would pass them (never the
 * pooled arm for the segment bound, and counting arms in flight between a
 * take and an absorb); find by a segment given with its length; arms
 * listed in bytewise order; four threads adding at once lose nothing; a
 * snapshot outlives its replacement while a reader holds it (run under
 * ASan: build/asan/test_learner).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/learn/learner.h"

#define T0 1700000000
#define DAY 86400.0

static arb_learner_t *L;

static void teardown(void)
{
    arb_learner_free(L);
    L = NULL;
}

TestSuite(learner, .fini = teardown);

static arb_learner_t *make(size_t max_arms, size_t max_segments)
{
    arb_learner_options_t o = {.max_arms = max_arms, .max_segments = max_segments};
    L = arb_learner_new(&o);
    cr_assert(L);
    return L;
}

static arb_arm_delta_t d_of(const char *action, const char *channel, const char *segment,
                            double pos, double trials, int64_t ts, double h)
{
    return (arb_arm_delta_t){action, channel, segment, pos, trials, ts, h};
}

static size_t add1(arb_arm_delta_t d) { return arb_learner_add(L, &d, 1); }

static const arb_arm_delta_t *batch_find(const arb_learn_batch_t *b, const char *action,
                                         const char *channel, const char *segment)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->deltas[i].action, action) && !strcmp(b->deltas[i].channel, channel) &&
            !strcmp(b->deltas[i].segment, segment))
            return &b->deltas[i];
    return NULL;
}

static const arb_arm_t *find(const arb_arms_snap_t *s, const char *a, const char *c, const char *seg)
{
    return arb_arms_snap_find(s, a, c, seg, strlen(seg));
}

static void expect_close(double got, double want)
{
    cr_expect(fabs(got - want) <= 1e-9 * fmax(1, fabs(want)), "got %.17g, want %.17g", got, want);
}

Test(learner, a_new_learner_has_an_empty_snapshot)
{
    make(0, 0);
    arb_arms_snap_t *s = arb_learner_snapshot(L);
    cr_assert(s);
    cr_expect_eq(arb_arms_snap_count(s), 0);
    cr_expect_null(find(s, "a", "web", ""));
    cr_expect_null(arb_arms_snap_at(s, 0));
    arb_arms_snap_release(s);
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_expect_eq(b.n, 0);
    arb_learn_batch_free(&b);
}

Test(learner, a_null_snapshot_finds_nothing)
{
    cr_expect_null(arb_arms_snap_find(NULL, "a", "web", "", 0));
    cr_expect_eq(arb_arms_snap_count(NULL), 0);
    cr_expect_null(arb_arms_snap_at(NULL, 0));
    arb_arms_snap_retain(NULL);
    arb_arms_snap_release(NULL);
}

Test(learner, deltas_combine_per_arm_and_a_take_hands_them_over_once)
{
    make(0, 0);
    cr_expect_eq(add1(d_of("a", "web", "", 1, 1, T0, DAY)), 0);
    cr_expect_eq(add1(d_of("a", "web", "", 0, 1, T0 + (int64_t)DAY, 2 * DAY)), 0);
    cr_expect_eq(add1(d_of("a", "web", "gold", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("b", "web", "", 0, 1, T0, 0)), 0);
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_assert_eq(b.n, 3);
    const arb_arm_delta_t *d = batch_find(&b, "a", "web", "");
    cr_assert(d);
    /* The first delta decayed by one day at the second's half-life (2
     * days): 2^-0.5; the batch delta is as of the newer time, with the
     * latest half-life. */
    expect_close(d->positives, pow(2, -0.5));
    expect_close(d->trials, pow(2, -0.5) + 1);
    cr_expect_eq(d->ts, T0 + (int64_t)DAY);
    cr_expect_eq(d->half_life, 2 * DAY);
    cr_expect(batch_find(&b, "a", "web", "gold"));
    cr_expect(batch_find(&b, "b", "web", ""));
    arb_learn_batch_free(&b);
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_expect_eq(b.n, 0);
    arb_learn_batch_free(&b);
}

Test(learner, strings_are_copied)
{
    make(0, 0);
    char a[8], c[8], s[8];
    strcpy(a, "act");
    strcpy(c, "web");
    strcpy(s, "gold");
    cr_assert_eq(add1(d_of(a, c, s, 1, 1, T0, 0)), 0);
    strcpy(a, "XXX");
    strcpy(c, "YYY");
    strcpy(s, "ZZZZ");
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_assert_eq(b.n, 1);
    cr_expect_str_eq(b.deltas[0].action, "act");
    cr_expect_str_eq(b.deltas[0].channel, "web");
    cr_expect_str_eq(b.deltas[0].segment, "gold");
    arb_learn_batch_free(&b);
}

Test(learner, absorb_publishes_stored_plus_pending)
{
    make(0, 0);
    cr_assert_eq(add1(d_of("a", "web", "", 1, 1, T0 + (int64_t)DAY, DAY)), 0);
    cr_assert_eq(add1(d_of("c", "email", "", 0, 2, T0, 0)), 0);
    arb_arm_t stored[] = {
        {"a", "web", "", 8, 40, T0},
        {"b", "web", "silver", 3, 9, T0},
    };
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, 2);
    cr_assert(s);
    cr_expect_eq(arb_arms_snap_count(s), 3);
    const arb_arm_t *a = find(s, "a", "web", "");
    cr_assert(a);
    /* Stored 8/40 at T0 decayed one half-life to the pending arm's time. */
    expect_close(a->positives, 5);
    expect_close(a->trials, 21);
    cr_expect_eq(a->at, T0 + (int64_t)DAY);
    const arb_arm_t *b = find(s, "b", "web", "silver");
    cr_assert(b);
    cr_expect_eq(b->positives, 3);
    cr_expect_eq(b->trials, 9);
    const arb_arm_t *c = find(s, "c", "email", "");
    cr_assert(c, "a pending arm the store does not have yet is in the snapshot");
    cr_expect_eq(c->trials, 2);
    /* The learner publishes the same snapshot. */
    arb_arms_snap_t *pub = arb_learner_snapshot(L);
    cr_expect_eq(pub, s);
    arb_arms_snap_release(pub);
    arb_arms_snap_release(s);
    /* Pending stays pending: the next take still hands it to the store. */
    arb_learn_batch_t bt;
    cr_assert_eq(arb_learner_take(L, &bt), 0);
    cr_expect_eq(bt.n, 2);
    arb_learn_batch_free(&bt);
}

Test(learner, absorb_includes_deltas_added_after_the_take)
{
    make(0, 0);
    cr_assert_eq(add1(d_of("a", "web", "", 1, 1, T0, 0)), 0);
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_assert_eq(b.n, 1);
    /* While the sync runs: more evidence. */
    cr_assert_eq(add1(d_of("a", "web", "", 0, 1, T0 + 5, 0)), 0);
    cr_assert_eq(add1(d_of("a", "web", "", 0, 1, T0 + 6, 0)), 0);
    /* The store now holds the batch. */
    arb_arm_t stored = {"a", "web", "", b.deltas[0].positives, b.deltas[0].trials, b.deltas[0].ts};
    arb_learn_batch_free(&b);
    arb_arms_snap_t *s = arb_learner_absorb(L, &stored, 1);
    cr_assert(s);
    const arb_arm_t *a = find(s, "a", "web", "");
    cr_assert(a);
    cr_expect_eq(a->positives, 1);
    cr_expect_eq(a->trials, 3);
    cr_expect_eq(a->at, T0 + 6);
    arb_arms_snap_release(s);
    cr_assert_eq(arb_learner_take(L, &b), 0);
    cr_assert_eq(b.n, 1);
    cr_expect_eq(b.deltas[0].positives, 0);
    cr_expect_eq(b.deltas[0].trials, 2, "only what came after the take");
    arb_learn_batch_free(&b);
}

Test(learner, the_segment_bound_drops_and_counts_but_never_the_pooled_arm)
{
    make(0, 2);
    cr_expect_eq(add1(d_of("a", "web", "gold", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("a", "web", "silver", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("a", "web", "bronze", 1, 1, T0, 0)), 1);
    cr_expect_eq(arb_learner_dropped(L), 1);
    /* The pooled arm and known segments still learn; other channels and
     * actions have their own counts. */
    cr_expect_eq(add1(d_of("a", "web", "", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("a", "web", "gold", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("a", "email", "bronze", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("b", "web", "bronze", 1, 1, T0, 0)), 0);
    cr_expect_eq(arb_learner_dropped(L), 1);
    /* After a sync the snapshot's segments count. */
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    arb_arm_t stored[] = {{"a", "web", "gold", 2, 2, T0}, {"a", "web", "silver", 1, 1, T0},
                          {"a", "web", "", 1, 1, T0}};
    arb_learn_batch_free(&b);
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, 3);
    cr_assert(s);
    arb_arms_snap_release(s);
    arb_arm_delta_t ds[] = {d_of("a", "web", "bronze", 1, 1, T0, 0), d_of("a", "web", "tin", 1, 1, T0, 0),
                            d_of("a", "web", "silver", 1, 1, T0, 0), d_of("a", "web", "", 1, 1, T0, 0)};
    cr_expect_eq(arb_learner_add(L, ds, 4), 2);
    cr_expect_eq(arb_learner_dropped(L), 3);
}

Test(learner, the_arm_bound_counts_snapshot_pending_and_in_flight_arms)
{
    make(3, 0);
    cr_expect_eq(add1(d_of("a", "web", "", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("b", "web", "", 1, 1, T0, 0)), 0);
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    arb_learn_batch_free(&b);
    /* a and b are in flight: still known. */
    cr_expect_eq(add1(d_of("c", "web", "", 1, 1, T0, 0)), 0);
    cr_expect_eq(add1(d_of("d", "web", "", 1, 1, T0, 0)), 1);
    cr_expect_eq(add1(d_of("a", "web", "", 1, 1, T0, 0)), 0, "a known arm still learns");
    cr_expect_eq(arb_learner_dropped(L), 1);
    /* The store kept a and b; c is pending: three arms, still full. */
    arb_arm_t stored[] = {{"a", "web", "", 1, 1, T0}, {"b", "web", "", 1, 1, T0}};
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, 2);
    cr_assert(s);
    cr_expect_eq(arb_arms_snap_count(s), 3);
    arb_arms_snap_release(s);
    cr_expect_eq(add1(d_of("d", "web", "", 1, 1, T0, 0)), 1);
    cr_expect_eq(add1(d_of("b", "web", "", 1, 1, T0, 0)), 0);
    cr_expect_eq(arb_learner_dropped(L), 2);
    /* A store that no longer has them (the actions went away in a reload)
     * frees their places. */
    cr_assert_eq(arb_learner_take(L, &b), 0);
    arb_learn_batch_free(&b);
    s = arb_learner_absorb(L, NULL, 0);
    cr_assert(s);
    cr_expect_eq(arb_arms_snap_count(s), 0);
    arb_arms_snap_release(s);
    cr_expect_eq(add1(d_of("d", "web", "", 1, 1, T0, 0)), 0);
}

Test(learner, find_takes_the_segment_with_its_length)
{
    make(0, 0);
    arb_arm_t stored[] = {{"a", "web", "gold", 1, 2, T0}, {"a", "web", "", 3, 4, T0},
                          {"a", "web", "go", 5, 6, T0}};
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, 3);
    cr_assert(s);
    const char buf[] = "goldfish";
    const arb_arm_t *a = arb_arms_snap_find(s, "a", "web", buf, 4);
    cr_assert(a);
    cr_expect_str_eq(a->segment, "gold");
    a = arb_arms_snap_find(s, "a", "web", buf, 2);
    cr_assert(a);
    cr_expect_str_eq(a->segment, "go");
    a = arb_arms_snap_find(s, "a", "web", buf, 0);
    cr_assert(a);
    cr_expect_eq(a->trials, 4, "length 0 is the pooled arm");
    cr_expect_null(arb_arms_snap_find(s, "a", "web", buf, 3));
    cr_expect_null(arb_arms_snap_find(s, "a", "web", buf, 8));
    cr_expect_null(arb_arms_snap_find(s, "a", "email", buf, 4));
    cr_expect_null(arb_arms_snap_find(s, "b", "web", buf, 4));
    arb_arms_snap_release(s);
}

Test(learner, arms_are_listed_sorted_bytewise)
{
    make(0, 0);
    arb_arm_t stored[] = {
        {"b", "web", "", 1, 1, T0},       {"a", "web", "\xc3\xa9t\xc3\xa9", 1, 1, T0},
        {"a", "web", "Z", 1, 1, T0},      {"a", "email", "z", 1, 1, T0},
        {"a", "web", "", 1, 1, T0},       {"a", "web", "z", 1, 1, T0},
        {"B", "web", "", 1, 1, T0},
    };
    cr_assert_eq(add1(d_of("a", "sms", "", 1, 1, T0, 0)), 0);
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, 7);
    cr_assert(s);
    const char *want[][3] = {{"B", "web", ""}, {"a", "email", "z"}, {"a", "sms", ""}, {"a", "web", ""},
                             {"a", "web", "Z"}, {"a", "web", "z"}, {"a", "web", "\xc3\xa9t\xc3\xa9"},
                             {"b", "web", ""}};
    cr_assert_eq(arb_arms_snap_count(s), 8);
    for (size_t i = 0; i < 8; i++) {
        const arb_arm_t *a = arb_arms_snap_at(s, i);
        cr_expect_str_eq(a->action, want[i][0], "arm %zu", i);
        cr_expect_str_eq(a->channel, want[i][1], "arm %zu", i);
        cr_expect_str_eq(a->segment, want[i][2], "arm %zu", i);
    }
    cr_expect_null(arb_arms_snap_at(s, 8));
    arb_arms_snap_release(s);
}

Test(learner, many_arms_are_all_found)
{
    make(0, 0);
    enum { ACTIONS = 200, SEGS = 40 };
    static arb_arm_t stored[ACTIONS * SEGS];
    static char names[ACTIONS * SEGS][2][16];
    for (int i = 0; i < ACTIONS; i++)
        for (int j = 0; j < SEGS; j++) {
            int k = i * SEGS + j;
            snprintf(names[k][0], 16, "act%d", i);
            snprintf(names[k][1], 16, j ? "s%d" : "", j);
            stored[k] = (arb_arm_t){names[k][0], "web", names[k][1], k, k + 1, T0};
        }
    arb_arms_snap_t *s = arb_learner_absorb(L, stored, ACTIONS * SEGS);
    cr_assert(s);
    cr_assert_eq(arb_arms_snap_count(s), ACTIONS * SEGS);
    for (int k = 0; k < ACTIONS * SEGS; k++) {
        const arb_arm_t *a = find(s, names[k][0], "web", names[k][1]);
        cr_assert(a, "arm %d", k);
        cr_assert_eq(a->positives, k);
    }
    cr_expect_null(find(s, "act0", "web", "s40"));
    cr_expect_null(find(s, "act200", "web", ""));
    arb_arms_snap_release(s);
}

typedef struct worker_arg {
    int id;
    size_t dropped;
} worker_arg_t;

static void *adder(void *p)
{
    worker_arg_t *w = p;
    static const char *segs[] = {"", "gold", "silver", "bronze"};
    char action[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(action, sizeof action, "act%d", i % 7);
        arb_arm_delta_t d = d_of(action, i % 2 ? "web" : "email", segs[(i + w->id) % 4], i % 3 == 0, 1,
                                 T0 + i, 0);
        w->dropped += arb_learner_add(L, &d, 1);
    }
    return NULL;
}

Test(learner, four_threads_adding_at_once_lose_nothing)
{
    make(0, 0);
    pthread_t t[4];
    worker_arg_t w[4] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}};
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, adder, &w[i]), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) cr_expect_eq(w[i].dropped, 0);
    arb_learn_batch_t b;
    cr_assert_eq(arb_learner_take(L, &b), 0);
    double trials = 0, pos = 0;
    for (size_t i = 0; i < b.n; i++) {
        trials += b.deltas[i].trials;
        pos += b.deltas[i].positives;
    }
    cr_expect_eq(b.n, 7 * 2 * 4);
    cr_expect_eq(trials, 40000);
    cr_expect_eq(pos, 4 * 3334);
    cr_expect_eq(arb_learner_dropped(L), 0);
    arb_learn_batch_free(&b);
}

Test(learner, a_snapshot_outlives_its_replacement_while_held)
{
    make(0, 0);
    arb_arm_t first = {"a", "web", "gold", 1, 2, T0};
    arb_arms_snap_t *s1 = arb_learner_absorb(L, &first, 1);
    cr_assert(s1);
    arb_arms_snap_t *held = arb_learner_snapshot(L);
    cr_assert_eq(held, s1);
    arb_arms_snap_release(s1);
    arb_arm_t second = {"b", "web", "", 3, 4, T0};
    arb_arms_snap_t *s2 = arb_learner_absorb(L, &second, 1);
    cr_assert(s2);
    cr_expect_neq(s2, held);
    arb_arms_snap_release(s2);
    /* The learner replaced it and dropped its reference: the reader's is
     * the last, and everything it reads is still there. */
    const arb_arm_t *a = find(held, "a", "web", "gold");
    cr_assert(a);
    cr_expect_str_eq(a->action, "a");
    cr_expect_eq(a->trials, 2);
    cr_expect_null(find(held, "b", "web", ""));
    cr_expect_eq(arb_arms_snap_count(held), 1);
    arb_arms_snap_release(held);
    arb_arms_snap_t *now = arb_learner_snapshot(L);
    cr_expect(find(now, "b", "web", ""));
    arb_arms_snap_release(now);
}
