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

/* A date as the date words read it (unix seconds, or ISO-8601 in local
 * time offset seconds east of UTC), years 1 to 9999, into *ts: 0, or -1
 * when o is no such date. */
int arb_eval_date_value(const msgpack_object *o, int64_t offset, int64_t *ts);

/* Node n (ARB_OP_SINCE ... ARB_OP_DAY_OF_YEAR) for the request of ev: 1 or
 * 0 (an absent or unreadable date is 0). */
int arb_eval_date(const arb_eval_t *ev, const arb_node_t *n);

#endif
