/* Whether the candidate loop (decide.c, consider) may pass candidates over
 * unread: their priority's bound cannot reach what the decision already
 * holds. Keeps the decide folder's rule that pruning never changes an
 * answer: a candidate is passed over only when its rules could not have
 * placed it among those shown, and one whose model is not scored is left
 * to the loop (it says "no score"). Internal to decide/; inline, as the
 * loop runs them once a candidate.
 */
#ifndef ARB_DECIDE_PASS_H
#define ARB_DECIDE_PASS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/decide/eval.h"
#include "engine/ruleset/compiled.h"

/* Whether candidate e's priority cannot reach floor, what this decision
 * already holds (prune_floor in decide.c): then it is passed over unread.
 * Its bound is the same products as the priority's with the weight at its
 * bound, and rounding is monotone; a NAN bound (none known, or a fallback)
 * never compares below, nor does anything below a floor of -INFINITY.
 * Stored first, so that no extra precision of the platform's arithmetic
 * takes part in the comparison. */
static inline bool cannot_be_shown(const arb_eval_t *ev, double floor, const arb_cand_t *e)
{
    double p;
    if (floor == -INFINITY) return false;
    if (e->model < 0) p = e->propensity;
    else if (!arb_eval_score(ev, e->model, &p)) return false;   /* "no score": the loop says */
    double bound = p * e->value * e->weight_max * e->lever;
    return p >= 0 && bound < floor;
}

/* Whether every model of the places in rs->models set in models is
 * scored (none of them goes to "no score"). *scored: of the places in
 * *known, those scored, each looked up the first time it is asked. */
static inline bool all_scored(const arb_ruleset_t *rs, const arb_eval_t *ev, uint64_t models,
                              uint64_t *scored, uint64_t *known)
{
    for (uint64_t m = models & ~*known; m; m &= m - 1) {
        int k = __builtin_ctzll(m);
        double p;
        if (arb_eval_score(ev, rs->models[k], &p)) *scored |= 1ull << k;
        *known |= 1ull << k;
    }
    return (models & ~*scored) == 0;
}

/* Whether each candidate of a run would be passed over alone
 * (cannot_be_shown): its bound is below floor and each model it reads is
 * scored. */
static inline bool run_below(const arb_ruleset_t *rs, const arb_eval_t *ev, double floor,
                             const arb_cand_run_t *run, uint64_t *scored, uint64_t *known)
{
    if (!(run->ub < floor)) return false;   /* floor -INFINITY, or ub INFINITY */
    return all_scored(rs, ev, run->models, scored, known);
}

#endif
