/* Ranking a decision's eligible actions (rank.h): moved out of decide.c,
 * which holds the pipeline. Keeps decide/'s rule: values in, values out.
 */
#include "engine/decide/rank.h"

#include <stdlib.h>

/* Move the best k of the n candidates, sorted, to the front; returns how
 * many that is. One pass with insertion into the front: a decision needs
 * its top few, not an order for the hundreds that may be eligible. */
static uint32_t select_top(arb_candidate_t *c, uint32_t n, uint32_t k)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) arb__top_insert(c, &m, k, c[i]);   /* writes stay at <= m <= i */
    return m;
}

/* Order the candidates for arb__choose(): with diversity every one may be needed
 * (a category already shown skips to the next), without it only the best
 * `limit`. Returns how many arb__choose() should look at. */
uint32_t arb__rank(arb_candidate_t *c, uint32_t n, int limit, bool diverse, const char **reasons)
{
    if (reasons)
        for (uint32_t i = 0; i < n; i++) reasons[c[i].action] = "outranked";
    if (diverse) {
        qsort(c, n, sizeof *c, arb__by_priority);
        return n;
    }
    return select_top(c, n, (uint32_t)limit);
}

/* Choose up to limit of the n candidates (sorted), honouring diversity.
 * Writes the chosen indices (into cands) to out and returns how many. */
uint32_t arb__choose(const arb_ruleset_t *rs, arb_candidate_t *cands, uint32_t n, int limit,
                       bool diverse, uint32_t *out, const char **reasons, uint8_t *chosen)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const arb_action_t *a = &rs->actions[cands[i].action];
        if ((int)k >= limit) {
            if (reasons) reasons[cands[i].action] = "outranked";
            continue;
        }
        bool clash = false;
        for (uint32_t j = 0; diverse && a->category >= 0 && j < k && !clash; j++)
            clash = rs->actions[cands[out[j]].action].category == a->category;
        if (clash) {
            if (reasons) reasons[cands[i].action] = "diversity";
            continue;
        }
        out[k++] = i;
        if (chosen) chosen[cands[i].action] = 1;
        if (reasons) reasons[cands[i].action] = "chosen";
    }
    return k;
}
