/* The counts /metrics shows of each decision (see count.h). Keeps the
 * decide folder's rule: it reads the compiled ruleset and writes the
 * worker's own counters (base/stats.h), nothing else.
 */
#include "engine/decide/count.h"

#include <string.h>

#include "engine/decide/policy.h"

void arb__count_decision(arb_stats_t *st, const arb_ruleset_t *top, const arb_ruleset_t *by,
                         int ch, const arb_touchpoint_t *tp, const arb_candidate_t *from,
                         const uint32_t *pick, uint32_t k)
{
    if (!top || by == top) {
        arb_stats_record_choice(st, by, ch, tp ? (int)(tp - by->touchpoints) : -1);
        for (uint32_t i = 0; i < k; i++) arb_stats_record_action(st, by, from[pick[i]].action);
        return;
    }
    /* A challenger: rare enough (its share of an experiment) for lookups by
     * name; what the champion does not declare counts in "other" (-1). */
    int c = -1, t = -1;
    for (int i = 0; i < top->n_channels; i++)
        if (strcmp(top->channels[i], by->channels[ch]) == 0) c = i;
    for (uint32_t i = 0; tp && i < top->n_touchpoints; i++)
        if (strcmp(top->touchpoints[i].id, tp->id) == 0) t = (int)i;
    arb_stats_record_choice(st, top, c, t);
    for (uint32_t i = 0; i < k; i++) {
        const arb_action_t *a = arb_policy_action(top, by->actions[from[pick[i]].action].id);
        arb_stats_record_action(st, top, a ? (uint32_t)(a - top->actions) : UINT32_MAX);
    }
}
