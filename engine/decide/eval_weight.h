/* The weight an action's priority multiplies, checked as it is computed
 * at decide time. Keeps the decide folder's rule: a rule's mistake is a
 * fault of that action in that decision (explain names it), never an
 * abort, and never a wrong order.
 *
 * A weight below 0 would give a negative priority, which today was shown,
 * below every action whose priority is 0 or more: it is a rule fault
 * instead ("error: the weight is -5, below 0"). A weight that is not a
 * number is left to the priority's check in decide.c (not shown,
 * "priority: not a number"); one from a plain function is a fault in
 * eval.c already. Constant weights are checked at load
 * (engine/ruleset/compile_numbers.c).
 */
#ifndef ARB_EVAL_WEIGHT_H
#define ARB_EVAL_WEIGHT_H

#include <stdio.h>

#include "engine/decide/eval.h"

/* The weight expression w into *out, a fault when it is below 0. 0, or -1
 * fault (ev->fault, ev->fault_msg). */
static inline int arb_weight_eval_priority(arb_eval_t *ev, int32_t w, double *out)
{
    if (arb_weight_eval(ev, w, out) < 0) return -1;
    if (!(*out < 0)) return 0;
    ev->fault = ARB_FAULT_ERROR;
    snprintf(ev->fault_msg, sizeof ev->fault_msg, "error: the weight is %g, below 0", *out);
    return -1;
}

#endif
