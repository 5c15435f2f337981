/* The sampler (see sample.h): xoshiro256** seeded through splitmix64, and
 * Gamma and Beta draws for Thompson sampling. Keeps learn/'s rule: plain
 * values, no lock (one generator per thread), nothing but base/ and the C
 * library. It runs once per adaptive candidate per decision, so it calls
 * libm only where the method needs it (log, sqrt, exp).
 *
 * Tiny shapes: a Gamma(a) draw for a well below 1 is often smaller than the
 * smallest double (U^(1/a) with a = 1e-3 underflows for half the U), so a
 * Beta made of two such draws would be 0/0. Beta therefore works with the
 * logarithms of its Gamma draws when a shape is below 1: X/(X+Y) is
 * 1/(1 + e^(log Y - log X)), exact where the draws themselves are not
 * representable, always in [0, 1] and never NaN.
 */
#include "engine/learn/sample.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void arb_rng_seed(arb_rng_t *r, uint64_t seed)
{
    /* splitmix64 never yields four zero words, xoshiro's one bad state. */
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next(arb_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double arb_rng_uniform(arb_rng_t *r)
{
    return (double)(next(r) >> 11) * 0x1.0p-53;
}

/* In (0, 1]: where a logarithm is taken, 0 must not come up. */
static inline double uniform_pos(arb_rng_t *r)
{
    return (double)((next(r) >> 11) + 1) * 0x1.0p-53;
}

/* Marsaglia's polar method. The second normal of each pair is thrown away:
 * arb_rng_t is only the generator's state, and a draw is cheap. */
double arb_rng_normal(arb_rng_t *r)
{
    for (;;) {
        double u = 2.0 * arb_rng_uniform(r) - 1.0;
        double v = 2.0 * arb_rng_uniform(r) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0) return u * sqrt(-2.0 * log(s) / s);
    }
}

/* log of a Gamma(a) draw for a >= 1, by Marsaglia and Tsang (2000): d*v
 * with v = (1 + c x)^3 for a normal x, accepted by a cheap squeeze first
 * and the exact test only when the squeeze fails. Returned as the draw
 * itself when `as_log` is false, to spare a log on the common path. */
static double mt_gamma(arb_rng_t *r, double a, int as_log)
{
    double d = a - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = arb_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = uniform_pos(r);
        double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2) return as_log ? log(d * v) : d * v;
        if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return as_log ? log(d * v) : d * v;
    }
}

/* log of a Gamma(a) draw, any a > 0: for a < 1, Gamma(a) is
 * Gamma(a + 1) * U^(1/a), whose log is representable even when it is not. */
static double log_gamma_draw(arb_rng_t *r, double a)
{
    if (a >= 1.0) return mt_gamma(r, a, 1);
    return mt_gamma(r, a + 1.0, 1) + log(uniform_pos(r)) / a;
}

double arb_rng_gamma(arb_rng_t *r, double a)
{
    if (a >= 1.0) return mt_gamma(r, a, 0);
    return mt_gamma(r, a + 1.0, 0) * exp(log(uniform_pos(r)) / a);
}

double arb_rng_beta(arb_rng_t *r, double a, double b)
{
    if (a >= 1.0 && b >= 1.0) {
        /* Both draws are at least d * v > 0 here: no 0/0. */
        double x = mt_gamma(r, a, 0);
        double y = mt_gamma(r, b, 0);
        return x / (x + y);
    }
    double lx = log_gamma_draw(r, a);
    double ly = log_gamma_draw(r, b);
    /* Both logs are finite (U in (0, 1]); exp may overflow to inf: 0. */
    return 1.0 / (1.0 + exp(ly - lx));
}
