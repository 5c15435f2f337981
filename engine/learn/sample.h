/* engine/learn/: learned propensities (DESIGN.md section 6). Its rule:
 * values, one lock and atomics; no I/O, no thread of its own, no uv.h and
 * no ruleset: it knows actions, channels and segments by name only, so a
 * reload keeps what was learned for every action that still exists. It
 * includes only base/ and request/. (ARCHITECTURE.md; scripts/layers
 * checks the includes.)
 *
 * The sampler: a small, fast generator (xoshiro256**, seeded through
 * splitmix64) and draws from Beta(a, b) for Thompson sampling, by two Gamma
 * draws (Marsaglia and Tsang's method, with the U^(1/a) boost for a < 1).
 * One generator per thread: it is plain state, no lock. The same seed gives
 * the same draws on every machine (the tests rely on it).
 */
#ifndef ARB_LEARN_SAMPLE_H
#define ARB_LEARN_SAMPLE_H

#include <stdint.h>

typedef struct arb_rng {
    uint64_t s[4];
} arb_rng_t;

void arb_rng_seed(arb_rng_t *r, uint64_t seed);

/* Uniform in [0, 1), 53 bits. */
double arb_rng_uniform(arb_rng_t *r);

/* Standard normal. */
double arb_rng_normal(arb_rng_t *r);

/* Gamma(shape a, scale 1), a > 0. */
double arb_rng_gamma(arb_rng_t *r, double a);

/* Beta(a, b), a > 0 and b > 0; in [0, 1]. */
double arb_rng_beta(arb_rng_t *r, double a, double b);

#endif
