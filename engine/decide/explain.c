/* Explain a marketer can act on (explain.h): each action's numbers, whom
 * an eligible action lost to and by how much, and which part of a false
 * `when` failed, by its words. Kept apart from decide.c, which holds the
 * pipeline; keeps decide/'s rule (values only: the entries point at the
 * ruleset's strings, nothing is packed here), and runs only for a decision
 * that asked for explain.
 */
#include "engine/decide/explain.h"

#include <math.h>
#include <string.h>

/* Where action a's propensity comes from. */
static const char *propensity_from(const arb_action_t *a)
{
    if (a->adaptive >= 0) return "adaptive";
    if (a->model >= 0 && a->no_score_reason) return a->no_score_reason + 3;   /* "score: <model>" */
    return a->propensity == 1 ? "default" : "fixed";
}

static const char *words_of(const arb_ruleset_t *rs, int32_t node)
{
    uint32_t w = rs->nodes[node].words;
    return w && w <= rs->n_strs ? rs->strs[w - 1] : "its condition";
}

const char *arb__explain_failed(arb_eval_t *ev, int32_t node)
{
    const arb_ruleset_t *rs = ev->rs;
    /* Each step goes to a child, compiled before its parent: the walk ends. */
    while (rs->nodes[node].op == ARB_OP_ALL) {
        const arb_node_t *n = &rs->nodes[node];
        int32_t next = -1;
        for (uint32_t k = 0; k < n->count && next < 0; k++) {
            int32_t kid = (int32_t)rs->kids[n->first + k];
            int r = arb_cond_eval(ev, kid);
            if (r < 0) return NULL;
            if (r == 0) next = kid;
        }
        if (next < 0) break;   /* every part held: say the whole */
        node = next;
    }
    return words_of(rs, node);
}

void arb__explain_one(arb_explained_t *x, arb_eval_t *ev, const arb_action_t *a,
                      const arb_considered_t *c, arb_arena_t *arena)
{
    (void)arena;
    bool ok = c->r > 0;
    x->eligible = ok;
    x->priority = ok ? c->priority : NAN;
    x->propensity = ok ? c->propensity : NAN;
    x->weight = ok ? c->weight : NAN;
    x->learned = ok ? c->learned : NULL;
    x->propensity_from = propensity_from(a);
    x->value = a->value;
    x->lever = a->lever;
    x->lost_to = NULL;
    x->lost_to_priority = NAN;
    x->lost_by = NAN;
    x->failed = NULL;
    x->products = NULL;   /* a recommending action's: decide/recommend.c sets them */
    x->n_products = 0;
    if (c->r == 0 && c->why && strcmp(c->why, "when") == 0 && a->when >= 0)
        x->failed = arb__explain_failed(ev, a->when);
}

/* The action chosen as picked (the same string as its action's id), found
 * by its id in the ruleset's id order: a scan per lookup made explain cost
 * chosen x actions per loser, seconds for a client asking for explain and a
 * limit of 1000 over 8,000 actions. */
static const arb_action_t *action_of(const arb_ruleset_t *rs, const arb_decided_action_t *picked)
{
    uint32_t lo = 0, hi = rs->n_actions;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rs->actions[mid].id, picked->id);
        if (c == 0) return &rs->actions[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The chosen action eligible action i lost to: for diversity the chosen
 * one of its category, else the lowest-ranked chosen of its own kind
 * (regular or fallback: a regular action outranked by actions a control
 * group then held back did not lose to the fallback shown instead). NULL
 * when there is none. pa[j]: picked[j]'s action. */
static const arb_decided_action_t *beaten_by(const arb_ruleset_t *rs, uint32_t i, bool diversity,
                                            const arb_decided_action_t *picked,
                                            const arb_action_t *const *pa, uint32_t k)
{
    const arb_action_t *a = &rs->actions[i];
    for (uint32_t j = k; j-- > 0;) {
        const arb_action_t *p = pa[j];
        if (!p || p->fallback != a->fallback) continue;
        if (!diversity || p->category == a->category) return &picked[j];
    }
    return NULL;
}

void arb__explain_finish(arb_explained_t *x, const arb_ruleset_t *rs, const uint8_t *chosen,
                         const char *const *reasons, const arb_decided_action_t *picked, uint32_t k)
{
    /* A context's limit is at most 1000; a touchpoint's larger one is
     * looked through its first PICKED_MAX. */
    enum { PICKED_MAX = 1024 };
    const arb_action_t *pa[PICKED_MAX];
    if (k > PICKED_MAX) k = PICKED_MAX;
    for (uint32_t j = 0; j < k; j++) pa[j] = action_of(rs, &picked[j]);
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        arb_explained_t *e = &x[i];
        e->id = rs->actions[i].id;
        e->chosen = chosen[i];
        e->reason = reasons[i] ? reasons[i] : "channel";
        if (!e->eligible || e->chosen) continue;
        bool outranked = strcmp(e->reason, "outranked") == 0;
        if (!outranked && strcmp(e->reason, "diversity") != 0) continue;
        const arb_decided_action_t *by = beaten_by(rs, i, !outranked, picked, pa, k);
        if (!by) {
            if (outranked) e->lost_to = "limit";
            continue;
        }
        e->lost_to = by->id;
        e->lost_to_priority = by->priority;
        e->lost_by = by->priority - e->priority;
    }
}
