/* Answering the nodes on purchases and events by any field, their order in
 * time and the single-category shopper (eval_hist.c), for eval.c. decide/'s
 * rule: values only, nothing allocated, no I/O.
 */
#ifndef ARB_EVAL_HIST_H
#define ARB_EVAL_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/decide/eval.h"

/* Node n (an ARB_OP_*_WHERE, BEFORE, SINCE_LAST, FIRST_PURCHASE,
 * LAST_PURCHASE, ONLY_BOUGHT or ONE_CATEGORY node): 1 true, 0 false. Never
 * a fault: no plain Lua runs. */
int arb__hist_eval(const arb_eval_t *ev, const arb_node_t *n);

/* The newest ts of a match of n (a match node, compiled.h's
 * arb_op_is_match, or an ANY of them); INT64_MIN when none. */
int64_t arb__hist_newest(const arb_eval_t *ev, const arb_node_t *n);

/* eval.c's comparisons, one for attributes and fields alike: v, or a
 * msgpack value (a string with strings, a number or a boolean as 1 or 0
 * with numbers; nil or NULL never holds). */
bool arb__eval_cmp_num(const arb_cmp_t *c, double v);
bool arb__eval_cmp_object(const arb_ruleset_t *rs, const arb_cmp_t *c, const msgpack_object *o);

#endif
