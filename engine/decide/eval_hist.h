/* Answering the nodes on purchases and events by any field, their order in
 * time and the single-category shopper (eval_hist.c), for eval.c. decide/'s
 * rule: values only, nothing allocated, no I/O.
 */
#ifndef ARB_EVAL_HIST_H
#define ARB_EVAL_HIST_H

#include <stdint.h>

#include "engine/decide/eval.h"

/* Node n (an ARB_OP_*_WHERE, BEFORE, SINCE_LAST, FIRST_PURCHASE,
 * LAST_PURCHASE, ONLY_BOUGHT or ONE_CATEGORY node): 1 true, 0 false. Never
 * a fault: no plain Lua runs. */
int arb__hist_eval(const arb_eval_t *ev, const arb_node_t *n);

/* The newest ts of a match of n (a match node, compiled.h's
 * arb_op_is_match, or an ANY of them); INT64_MIN when none. */
int64_t arb__hist_newest(const arb_eval_t *ev, const arb_node_t *n);

#endif
