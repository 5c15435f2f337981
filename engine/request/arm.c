/* The arithmetic of learned evidence (see arm.h). Keeps request/'s rule:
 * values only, no I/O. One definition of decay for the learner, every
 * store backend and the decide path, so that the same evidence is worth
 * the same wherever and in whatever order it is combined.
 *
 * Decay is multiplicative (2^(-dt/h) composes: decaying by dt1 then dt2 is
 * decaying by dt1 + dt2), which is what makes arb_arm_add order-independent:
 * whichever side is older is brought to the newer time, and the sum is the
 * same as if each delta had been decayed straight to the final time.
 */
#include "engine/request/arm.h"

#include <math.h>

/* The factor counts lose from `from` to `to`: 1 when evidence never fades
 * (h is 0, negative or NaN: nothing sensible to fade by) or when `to` is not
 * later. */
static double factor(int64_t from, int64_t to, double half_life)
{
    if (!(half_life > 0) || to <= from) return 1.0;
    return exp2(-(double)(to - from) / half_life);
}

void arb_arm_decayed(const arb_arm_t *arm, int64_t now, double half_life,
                     double *positives, double *trials)
{
    double f = factor(arm->at, now, half_life);
    *positives = arm->positives * f;
    *trials = arm->trials * f;
}

void arb_arm_add(arb_arm_t *arm, const arb_arm_delta_t *d)
{
    if (d->ts >= arm->at) {
        double f = factor(arm->at, d->ts, d->half_life);
        arm->positives = arm->positives * f + d->positives;
        arm->trials = arm->trials * f + d->trials;
        arm->at = d->ts;
    } else {
        double f = factor(d->ts, arm->at, d->half_life);
        arm->positives += d->positives * f;
        arm->trials += d->trials * f;
    }
}
