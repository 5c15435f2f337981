/* Unit tests for learned evidence's arithmetic (engine/request/arm.c):
 * counts halve per half-life, never fade with a half-life of 0, are not
 * grown by reading them at an earlier time, and the same deltas added in
 * any order give the same arm, an older delta being decayed to the arm's
 * newer time.
 */
#include <criterion/criterion.h>

#include <math.h>

#include "engine/request/arm.h"

#define T0 1700000000
#define DAY 86400.0

static void expect_close(double got, double want)
{
    double tol = 1e-9 * fmax(1.0, fabs(want));
    cr_expect(fabs(got - want) <= tol, "got %.17g, want %.17g", got, want);
}

static arb_arm_t arm_of(double pos, double trials, int64_t at)
{
    return (arb_arm_t){.action = "a", .channel = "web", .segment = "",
                       .positives = pos, .trials = trials, .at = at};
}

static arb_arm_delta_t delta_of(double pos, double trials, int64_t ts, double h)
{
    return (arb_arm_delta_t){.action = "a", .channel = "web", .segment = "",
                             .positives = pos, .trials = trials, .ts = ts, .half_life = h};
}

Test(arm, decay_halves_per_half_life)
{
    arb_arm_t a = arm_of(8, 40, T0);
    double p, t;
    arb_arm_decayed(&a, T0 + (int64_t)DAY, DAY, &p, &t);
    expect_close(p, 4);
    expect_close(t, 20);
    arb_arm_decayed(&a, T0 + 3 * (int64_t)DAY, DAY, &p, &t);
    expect_close(p, 1);
    expect_close(t, 5);
    /* Half a half-life: 1/sqrt(2). */
    arb_arm_decayed(&a, T0 + (int64_t)DAY / 2, DAY, &p, &t);
    expect_close(t, 40 / sqrt(2.0));
}

Test(arm, half_life_zero_never_fades)
{
    arb_arm_t a = arm_of(8, 40, T0);
    double p, t;
    arb_arm_decayed(&a, T0 + 1000 * (int64_t)DAY, 0, &p, &t);
    cr_expect_eq(p, 8);
    cr_expect_eq(t, 40);
}

Test(arm, reading_at_or_before_at_leaves_the_counts)
{
    arb_arm_t a = arm_of(8, 40, T0);
    double p, t;
    arb_arm_decayed(&a, T0, DAY, &p, &t);
    cr_expect_eq(p, 8);
    cr_expect_eq(t, 40);
    arb_arm_decayed(&a, T0 - 10 * (int64_t)DAY, DAY, &p, &t);
    cr_expect_eq(p, 8);
    cr_expect_eq(t, 40);
}

Test(arm, a_newer_delta_decays_the_arm_to_its_time)
{
    arb_arm_t a = arm_of(8, 40, T0);
    arb_arm_delta_t d = delta_of(1, 1, T0 + (int64_t)DAY, DAY);
    arb_arm_add(&a, &d);
    expect_close(a.positives, 4 + 1);
    expect_close(a.trials, 20 + 1);
    cr_expect_eq(a.at, T0 + (int64_t)DAY);
}

Test(arm, an_older_delta_is_decayed_to_the_arm_time)
{
    arb_arm_t a = arm_of(8, 40, T0 + 2 * (int64_t)DAY);
    arb_arm_delta_t d = delta_of(4, 4, T0, DAY);
    arb_arm_add(&a, &d);
    expect_close(a.positives, 8 + 1);
    expect_close(a.trials, 40 + 1);
    cr_expect_eq(a.at, T0 + 2 * (int64_t)DAY);
}

Test(arm, the_order_of_deltas_does_not_matter)
{
    arb_arm_delta_t ds[] = {
        delta_of(1, 1, T0 + 5000, DAY),
        delta_of(0, 1, T0 + 100, DAY),
        delta_of(1, 0, T0 + 90000, DAY),
        delta_of(0, 1, T0 + 3 * 86400 + 7, DAY),
        delta_of(1, 1, T0, DAY),
        delta_of(0, 1, T0 + 40000, DAY),
    };
    size_t n = sizeof ds / sizeof ds[0];
    arb_arm_t fwd = arm_of(0, 0, T0), rev = arm_of(0, 0, T0);
    for (size_t i = 0; i < n; i++) arb_arm_add(&fwd, &ds[i]);
    for (size_t i = n; i-- > 0;) arb_arm_add(&rev, &ds[i]);
    cr_expect_eq(fwd.at, T0 + 3 * 86400 + 7);
    cr_expect_eq(rev.at, fwd.at);
    expect_close(rev.positives, fwd.positives);
    expect_close(rev.trials, fwd.trials);
    /* And both equal each delta decayed straight to the last time. */
    double want_p = 0, want_t = 0;
    for (size_t i = 0; i < n; i++) {
        double f = exp2(-(double)(fwd.at - ds[i].ts) / DAY);
        want_p += ds[i].positives * f;
        want_t += ds[i].trials * f;
    }
    expect_close(fwd.positives, want_p);
    expect_close(fwd.trials, want_t);
}

Test(arm, without_a_half_life_deltas_just_sum)
{
    arb_arm_t a = arm_of(0, 0, T0 + 100);
    arb_arm_delta_t d1 = delta_of(1, 1, T0 + 50, 0), d2 = delta_of(0, 1, T0 + 900, 0);
    arb_arm_add(&a, &d1);
    arb_arm_add(&a, &d2);
    cr_expect_eq(a.positives, 1);
    cr_expect_eq(a.trials, 2);
    cr_expect_eq(a.at, T0 + 900);
}
