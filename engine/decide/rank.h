/* Ranking a decision's eligible actions (decide.c's helpers): priority
 * order, the best `limit` kept as they are found, the touchpoint's limit
 * and diversity. Internal to decide/. The comparison and the insertion are
 * inline: decide.c's loop inserts each eligible action as it goes.
 */
#ifndef ARB_DECIDE_RANK_H
#define ARB_DECIDE_RANK_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/ruleset/compiled.h"

/* One eligible action. */
typedef struct arb_candidate {
    uint32_t action;      /* index in rs->actions (id order) */
    double priority;
    double propensity;
} arb_candidate_t;

static inline int arb__by_priority(const void *x, const void *y)
{
    const arb_candidate_t *a = x, *b = y;
    if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
    return a->action < b->action ? -1 : a->action > b->action;   /* id order */
}

/* Insert x into the best k held sorted in c[0..*m), dropping the last
 * when all k are taken and x comes before it. */
static inline void arb__top_insert(arb_candidate_t *c, uint32_t *m, uint32_t k, arb_candidate_t x)
{
    if (*m == k && arb__by_priority(&x, &c[k - 1]) >= 0) return;
    uint32_t j = *m < k ? (*m)++ : k - 1;
    while (j > 0 && arb__by_priority(&x, &c[j - 1]) < 0) {
        c[j] = c[j - 1];
        j--;
    }
    c[j] = x;
}

/* Order the candidates for arb__choose(): with diversity every one may be
 * needed (a category already shown skips to the next), without it only the
 * best `limit`. Sets reasons (when not NULL) to "outranked" for each.
 * Returns how many arb__choose() should look at. */
uint32_t arb__rank(arb_candidate_t *c, uint32_t n, int limit, bool diverse, const char **reasons);

/* Choose up to limit of the n candidates (sorted), honouring diversity.
 * Writes the chosen indices (into cands) to out and returns how many;
 * with explain (reasons, chosen not NULL) marks each. */
uint32_t arb__choose(const arb_ruleset_t *rs, arb_candidate_t *cands, uint32_t n, int limit,
                     bool diverse, uint32_t *out, const char **reasons, uint8_t *chosen);

#endif
