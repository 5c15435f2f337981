/* The per-decision side of adaptive propensities (adaptive.c), for
 * decide.c alone: what a decider keeps to read the learned arms, and the
 * one call its candidate loop makes for an action flagged
 * ARB_HOT_ADAPTIVE. Keeps decide/'s rule: values in, values out, no I/O,
 * no lock (the arms are an immutable snapshot; the sampler is the
 * decider's own).
 *
 * Ownership: the arms are borrowed (arb_decider_set_arms); every string
 * and arb_learned_t handed out lives in the decision's arena.
 */
#ifndef ARB_DECIDE_ADAPTIVE_INT_H
#define ARB_DECIDE_ADAPTIVE_INT_H

#include <stdbool.h>

#include "engine/base/arena.h"
#include "engine/decide/eval.h"
#include "engine/learn/sample.h"
#include "engine/request/decision.h"
#include "engine/ruleset/compiled.h"

struct arb_arms_snap;

typedef struct arb_adaptive_run {
    const struct arb_arms_snap *arms; /* borrowed; NULL: every adaptive action uses its prior */
    arb_rng_t rng;                    /* the decider's Thompson sampler */
    /* Set by decide.c for each decision: */
    const char *channel;              /* the decision's channel, as the ruleset names it */
    arb_arena_t *arena;
    bool explain;                     /* fill `learned` for each adaptive action evaluated */
    arb_learned_t *learned;           /* the evidence of the last action evaluated (explain),
                                         NULL without explain or when out of memory */
} arb_adaptive_run_t;

/* The propensity of adaptive action a (a->adaptive >= 0) for the request
 * ev indexes, with ev->adaptive's arms and sampler (dsl/README.md,
 * "Adaptive propensity"); in [0, 1]. With explain, ev->adaptive->learned
 * holds the evidence it was computed from. */
double arb__adaptive_propensity(arb_eval_t *ev, const arb_action_t *a);

/* The segment an offer of a stores for this request: the value of the
 * action's segment attribute as a string (at most 64 bytes, cut at a
 * character), or "" (the pooled arm); allocated in arena. NULL when out
 * of memory. */
const char *arb__adaptive_segment(const arb_eval_t *ev, const arb_action_t *a, arb_arena_t *arena);

#endif
