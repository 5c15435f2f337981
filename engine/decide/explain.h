/* Explain on the decide side (decide.c's helpers; dsl/README.md section
 * 11): what each action's entry says beyond its reason. Internal to
 * decide/. Called only for a decision that asked for explain, so a decision
 * without it does no more work than before.
 */
#ifndef ARB_DECIDE_EXPLAIN_H
#define ARB_DECIDE_EXPLAIN_H

#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/decide/eval.h"
#include "engine/request/decision.h"
#include "engine/ruleset/compiled.h"

/* The outcome of considering one action, for its entry. */
typedef struct arb_considered {
    int r;                      /* 1 eligible, 0 not, -1 faulted (evaluate() in decide.c) */
    const char *why;            /* its reason so far; "when" when its condition was false */
    double priority, propensity, weight;   /* set when eligible */
    const arb_learned_t *learned;
} arb_considered_t;

/* Fill x (all but id, chosen and reason) for action a. With reason "when",
 * evaluates a's condition again under ev (still begun) to find the first
 * false part; its words are the ruleset's, or arena's. */
void arb__explain_one(arb_explained_t *x, arb_eval_t *ev, const arb_action_t *a,
                      const arb_considered_t *c, arb_arena_t *arena);

/* The words of the first false part of condition node (false in ev): the
 * first false child of an all, recursively; an any or a no(...) as a
 * whole. NULL when evaluating faults. */
const char *arb__explain_failed(arb_eval_t *ev, int32_t node);

/* Finish the entries x[0..rs->n_actions) of a decision: ids, chosen,
 * reasons (NULL: "channel"), and for each eligible action that was not
 * chosen, whom it lost to among the chosen picked[0..k). */
void arb__explain_finish(arb_explained_t *x, const arb_ruleset_t *rs, const uint8_t *chosen,
                         const char *const *reasons, const arb_decided_action_t *picked, uint32_t k);

#endif
