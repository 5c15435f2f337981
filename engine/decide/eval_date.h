/* The date conditions of the evaluator (code in eval_date.c): dates held in
 * attributes, seasons and anniversaries, in the customer's local time.
 * Keeps the decide folder's rule: reads the context and the ruleset, writes
 * nothing, no I/O.
 */
#ifndef ARB_EVAL_DATE_H
#define ARB_EVAL_DATE_H

#include <stdint.h>

#include "engine/decide/eval.h"

/* Seconds east of UTC of the customer's local time: the context's
 * timezone when sent, else the ruleset's utc_offset_hours. */
static inline int64_t arb_eval_local_offset(const arb_ruleset_t *rs, const arb_context_t *ctx)
{
    return (int64_t)(ctx->has_timezone ? ctx->tz_offset_minutes : rs->utc_offset_minutes) * 60;
}

/* Node n (ARB_OP_SINCE ... ARB_OP_DAY_OF_YEAR) for the request of ev: 1 or
 * 0 (an absent or unreadable date is 0). */
int arb_eval_date(const arb_eval_t *ev, const arb_node_t *n);

#endif
