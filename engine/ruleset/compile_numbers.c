/* Checking the numbers an action's priority multiplies (propensity x value
 * x weight x lever) where they are constants, at load.
 *
 * value and lever are read in range already (finite, at least 0: a
 * negative factor would order an action below every action that cannot
 * be shown). What is left is a constant weight below 0, and a constant
 * value or weight of exactly 0: such an action has priority 0 in every
 * decision, and would be shown only where no other action wants the place
 * — surely not what was meant. A weight computed at decide time is
 * checked there (engine/decide/eval_weight.c). Keeps the folder's rule:
 * problems of the load, at the action's line, never an abort.
 */
#include "engine/ruleset/ruleset_int.h"

#include <math.h>

#include "engine/ruleset/rawread.h"

#define ZERO_HINT "it would never be shown before any other action: remove it, or hold it out with a control " \
                  "(control = ..., dsl/README.md)"

void arb__check_action_numbers(compiler_t *cc, int spec, const arb_action_t *a)
{
    if (a->fallback) return;   /* a fallback fills places nothing else wants: 0 is its to choose */
    /* Given as 0, not left at 0 by a value refused (or missing) already. */
    bool zero = arb_raw_field(cc->L, spec, "value") == LUA_TNUMBER && lua_tonumber(cc->L, -1) == 0;
    lua_pop(cc->L, 1);
    if (zero) spec_problem(cc, "'value' is 0, so every priority of the action is 0: %s", ZERO_HINT);
    if (a->weight < 0) return;
    const arb_wexpr_t *w = &cc->rs->wexprs[a->weight];
    if (w->op != ARB_W_CONST) return;
    if (w->num < 0)
        spec_problem(cc, "'weight' is %g: a weight multiplies the priority and must be 0 or more "
                     "(to rank an action lower, give it a weight between 0 and 1)", w->num);
    else if (w->num == 0)
        spec_problem(cc, "'weight' is 0, so every priority of the action is 0: %s", ZERO_HINT);
}
