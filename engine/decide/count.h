/* engine/decide/: choosing actions for a context. This header keeps the
 * folder's rule (it includes only base, ruleset and its own folder): the
 * counts /metrics shows of each decision, kept apart from decide.c.
 */
#ifndef ARB_DECIDE_COUNT_H
#define ARB_DECIDE_COUNT_H

#include <stdint.h>

#include "engine/base/stats.h"
#include "engine/decide/rank.h"
#include "engine/ruleset/compiled.h"

/* Count one decision of the ruleset top (the one the worker serves), decided
 * by `by` (top, or its experiment's challenger) at channel index ch and
 * touchpoint tp (NULL: undeclared), choosing from[pick[0..k-1]]. A
 * challenger's channel, touchpoint and actions are counted under top's
 * indices, by name. */
void arb__count_decision(arb_stats_t *st, const arb_ruleset_t *top, const arb_ruleset_t *by,
                         int ch, const arb_touchpoint_t *tp, const arb_candidate_t *from,
                         const uint32_t *pick, uint32_t k);

#endif
