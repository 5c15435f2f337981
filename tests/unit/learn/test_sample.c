/* Unit tests for the sampler (engine/learn/sample.c), checked against what
 * the distributions are known to be, with fixed seeds (so a pass is a pass
 * on every machine): Beta's mean and variance for shapes from tiny to
 * large, each within 5 standard errors computed from the distribution's own
 * moments (the variance's from the fourth central moment), never outside
 * [0, 1] and never NaN; Gamma's and the normal's mean and variance; the
 * uniform by a Kolmogorov-Smirnov test; the same seed gives the same draws
 * and different seeds different ones.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "engine/learn/sample.h"

#define N 200000
#define SE_TOL 5.0

typedef struct moments {
    double mean, var;
} moments_t;

/* Mean and variance of x[0..n), two-pass (the variance of a tight Beta is
 * small next to its mean squared). */
static moments_t moments(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    double m = s / (double)n, v = 0;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return (moments_t){m, v / (double)(n - 1)};
}

/* got within SE_TOL standard errors of want; se from the distribution. */
static void expect_within(const char *what, double a, double b, double got, double want, double se)
{
    cr_expect(fabs(got - want) <= SE_TOL * se,
              "Beta(%g, %g) %s: got %.9g, want %.9g, %.2f standard errors off (se %.3g)", a, b,
              what, got, want, fabs(got - want) / se, se);
}

static void check_beta(double a, double b, uint64_t seed)
{
    static double x[N];
    arb_rng_t r;
    arb_rng_seed(&r, seed);
    for (size_t i = 0; i < N; i++) {
        x[i] = arb_rng_beta(&r, a, b);
        if (!(x[i] >= 0.0 && x[i] <= 1.0)) {
            cr_expect_fail("Beta(%g, %g) draw %zu is %g, outside [0, 1]", a, b, i, x[i]);
            return;
        }
    }
    double s = a + b;
    double mean = a / s;
    double var = a * b / (s * s * (s + 1));
    /* Excess kurtosis of Beta(a, b); mu4 = (kurt + 3) var^2. */
    double kurt = 6 * ((a - b) * (a - b) * (s + 1) - a * b * (s + 2)) / (a * b * (s + 2) * (s + 3));
    double mu4 = (kurt + 3) * var * var;
    moments_t m = moments(x, N);
    expect_within("mean", a, b, m.mean, mean, sqrt(var / N));
    expect_within("variance", a, b, m.var, var, sqrt((mu4 - var * var) / N));
}

Test(sample, beta_uniform) { check_beta(1, 1, 1); }
Test(sample, beta_arcsine) { check_beta(0.5, 0.5, 2); }
Test(sample, beta_2_5) { check_beta(2, 5, 3); }
Test(sample, beta_30_70) { check_beta(30, 70, 4); }
Test(sample, beta_small_a) { check_beta(0.1, 3, 5); }
Test(sample, beta_large) { check_beta(500, 1500, 6); }
Test(sample, beta_tiny_shapes) { check_beta(1e-3, 1e-3, 7); }

Test(sample, beta_extreme_shapes_stay_in_range)
{
    const double shapes[][2] = {{1e-6, 1e-6}, {1e-300, 1}, {1, 1e-300}, {1e-9, 1e6}, {1e7, 1e-9}};
    arb_rng_t r;
    arb_rng_seed(&r, 8);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int i = 0; i < 10000; i++) {
            double x = arb_rng_beta(&r, shapes[k][0], shapes[k][1]);
            cr_assert(x >= 0.0 && x <= 1.0, "Beta(%g, %g) gave %g", shapes[k][0], shapes[k][1], x);
        }
}

static void check_gamma(double a, uint64_t seed)
{
    static double x[N];
    arb_rng_t r;
    arb_rng_seed(&r, seed);
    for (size_t i = 0; i < N; i++) {
        x[i] = arb_rng_gamma(&r, a);
        cr_assert(x[i] >= 0.0 && isfinite(x[i]), "Gamma(%g) gave %g", a, x[i]);
    }
    /* Gamma(a): mean a, variance a, fourth central moment 3a^2 + 6a. */
    moments_t m = moments(x, N);
    cr_expect(fabs(m.mean - a) <= SE_TOL * sqrt(a / N), "Gamma(%g) mean %g", a, m.mean);
    double se_var = sqrt((3 * a * a + 6 * a - a * a) / N);
    cr_expect(fabs(m.var - a) <= SE_TOL * se_var, "Gamma(%g) variance %g", a, m.var);
}

Test(sample, gamma_moments)
{
    check_gamma(0.3, 11);
    check_gamma(1, 12);
    check_gamma(7.5, 13);
}

Test(sample, normal_moments)
{
    static double x[N];
    arb_rng_t r;
    arb_rng_seed(&r, 21);
    for (size_t i = 0; i < N; i++) x[i] = arb_rng_normal(&r);
    moments_t m = moments(x, N);
    cr_expect(fabs(m.mean) <= SE_TOL * sqrt(1.0 / N), "normal mean %g", m.mean);
    /* Fourth central moment 3: the variance's se is sqrt(2 / N). */
    cr_expect(fabs(m.var - 1) <= SE_TOL * sqrt(2.0 / N), "normal variance %g", m.var);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(sample, uniform_passes_kolmogorov_smirnov)
{
    static double x[N];
    arb_rng_t r;
    arb_rng_seed(&r, 31);
    for (size_t i = 0; i < N; i++) {
        x[i] = arb_rng_uniform(&r);
        cr_assert(x[i] >= 0.0 && x[i] < 1.0, "uniform gave %g", x[i]);
    }
    qsort(x, N, sizeof x[0], cmp_double);
    double d = 0;
    for (size_t i = 0; i < N; i++) {
        d = fmax(d, (double)(i + 1) / N - x[i]);
        d = fmax(d, x[i] - (double)i / N);
    }
    /* The asymptotic critical value at the 0.1% level: 1.949 / sqrt(n). */
    double crit = 1.949 / sqrt((double)N);
    cr_expect(d < crit, "KS distance %g, critical %g", d, crit);
}

Test(sample, the_same_seed_gives_the_same_draws)
{
    arb_rng_t r1, r2;
    arb_rng_seed(&r1, 42);
    arb_rng_seed(&r2, 42);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(arb_rng_uniform(&r1), arb_rng_uniform(&r2));
        cr_assert_eq(arb_rng_beta(&r1, 0.7, 3), arb_rng_beta(&r2, 0.7, 3));
        cr_assert_eq(arb_rng_beta(&r1, 20, 30), arb_rng_beta(&r2, 20, 30));
    }
}

Test(sample, the_first_draws_are_fixed)
{
    /* xoshiro256** seeded by splitmix64 from 0: the words are the
     * reference implementations', so the draws are the same everywhere. */
    arb_rng_t r;
    arb_rng_seed(&r, 0);
    cr_expect_eq(r.s[0], 0xe220a8397b1dcdafULL);
    cr_expect_eq(r.s[1], 0x6e789e6aa1b965f4ULL);
    cr_expect_eq(r.s[2], 0x06c45d188009454fULL);
    cr_expect_eq(r.s[3], 0xf88bb8a8724c81ecULL);
    /* xoshiro256**'s first outputs from there (computed independently),
     * top 53 bits over 2^53. */
    cr_expect_eq(arb_rng_uniform(&r), (double)(0x99ec5f36cb75f2b4ULL >> 11) * 0x1.0p-53);
    cr_expect_eq(arb_rng_uniform(&r), (double)(0xbf6e1f784956452aULL >> 11) * 0x1.0p-53);
    cr_expect_eq(arb_rng_uniform(&r), (double)(0x1a5f849d4933e6e0ULL >> 11) * 0x1.0p-53);
}

Test(sample, different_seeds_give_different_draws)
{
    arb_rng_t r1, r2;
    arb_rng_seed(&r1, 42);
    arb_rng_seed(&r2, 43);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += arb_rng_uniform(&r1) == arb_rng_uniform(&r2);
    cr_expect_eq(same, 0);
}
