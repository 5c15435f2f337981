/* What the compiler derives once every declaration is compiled: the nodes
 * and weights worth remembering per request, each action's bound on its
 * weight, the hot fields the decider reads first, and the index of the
 * actions by channel and by the purchase that guards them.
 *
 * These run after the protected compile, in C alone: each returns -1 when
 * memory runs out, leaving what it allocated to the ruleset to free.
 */
#include "engine/ruleset/ruleset_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Mark the nodes and weights worth remembering per request: those reached
 * from more than one place whose answer is computed in C (a plain Lua
 * function may answer differently each call, and its faults belong to each
 * action). */
int arb__ruleset_mark_shared(arb_ruleset_t *rs)
{
    uint32_t *refs = calloc(rs->n_nodes + 1, sizeof *refs);
    if (!refs) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++)
        if (rs->actions[i].when >= 0) refs[rs->actions[i].when]++;
    for (uint32_t i = 0; i < rs->n_wexprs; i++)
        if (rs->wexprs[i].node >= 0) refs[rs->wexprs[i].node]++;
    /* Children come before their parents: one pass in index order. */
    for (uint32_t i = 0; i < rs->n_nodes; i++) {
        arb_node_t *n = &rs->nodes[i];
        n->pure = n->op != ARB_OP_LUA;
        for (uint32_t k = 0; k < n->count; k++) {
            refs[rs->kids[n->first + k]]++;
            n->pure = n->pure && rs->nodes[rs->kids[n->first + k]].pure;
        }
    }
    for (uint32_t i = 0; i < rs->n_nodes; i++) {
        arb_node_t *n = &rs->nodes[i];
        bool costly = n->count || n->op == ARB_OP_PURCHASES || n->op == ARB_OP_SPENT ||
                      n->op == ARB_OP_EVENT || n->op == ARB_OP_SEGMENT || n->op == ARB_OP_ATTR ||
                      n->op == ARB_OP_SINCE || n->op == ARB_OP_UNTIL || n->op == ARB_OP_ANNIVERSARY;
        n->memo = n->pure && costly && refs[i] > 1;
    }
    free(refs);
    refs = calloc(rs->n_wexprs + 1, sizeof *refs);
    if (!refs) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++)
        if (rs->actions[i].weight >= 0) refs[rs->actions[i].weight]++;
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        arb_wexpr_t *w = &rs->wexprs[i];
        w->pure = w->op != ARB_W_LUA && (w->node < 0 || rs->nodes[w->node].pure);
        if (w->left >= 0) {
            refs[w->left]++;
            w->pure = w->pure && rs->wexprs[w->left].pure;
        }
        if (w->right >= 0) {
            refs[w->right]++;
            w->pure = w->pure && rs->wexprs[w->right].pure;
        }
    }
    rs->shareable = true;
    for (uint32_t i = 0; i < rs->n_nodes; i++) rs->shareable &= rs->nodes[i].op != ARB_OP_LUA;
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        arb_wexpr_t *w = &rs->wexprs[i];
        w->memo = w->pure && w->op != ARB_W_CONST && refs[i] > 1;
        rs->shareable &= w->op != ARB_W_LUA;
    }
    free(refs);
    return 0;
}

/* The purchase action a cannot do without: its `when` is bought(x, w) or
 * an `all` holding one (the narrowest window wins). Returns false when it
 * has none, e.g. fallbacks, plain Lua conditions, `any`. */
static bool action_guard(const arb_ruleset_t *rs, const arb_action_t *a, int32_t *sym,
                         int64_t *window)
{
    if (a->fallback || a->when < 0) return false;
    const arb_node_t *n = &rs->nodes[a->when];
    uint32_t first = 0, count = 1;
    const uint32_t self = (uint32_t)a->when;
    const uint32_t *kids = &self;
    if (n->op == ARB_OP_ALL) {
        kids = rs->kids;
        first = n->first;
        count = n->count;
    }
    bool found = false;
    for (uint32_t k = first; k < first + count; k++) {
        const arb_node_t *g = &rs->nodes[kids[k]];
        if (g->op != ARB_OP_BOUGHT || g->sym < 0) continue;
        bool narrower = !found || (g->window >= 0 && (*window < 0 || g->window < *window));
        if (narrower) {
            *sym = g->sym;
            *window = g->window;
            found = true;
        }
    }
    return found;
}

/* guarded[] of one channel is sorted by symbol, then widest window first. */
typedef struct guard_entry {
    int32_t sym;
    int64_t window;
    uint32_t action;
} guard_entry_t;

static int by_guard(const void *x, const void *y)
{
    const guard_entry_t *a = x, *b = y;
    if (a->sym != b->sym) return a->sym < b->sym ? -1 : 1;
    int64_t wa = a->window < 0 ? INT64_MAX : a->window, wb = b->window < 0 ? INT64_MAX : b->window;
    if (wa != wb) return wa > wb ? -1 : 1;
    return a->action < b->action ? -1 : a->action > b->action;
}

/* Action i as a candidate whose guard has this window. */
static arb_cand_t cand_of(const arb_ruleset_t *rs, uint32_t i, int64_t window)
{
    const arb_action_t *a = &rs->actions[i];
    return (arb_cand_t){ .action = i, .model = a->model, .window = window,
                         .propensity = a->propensity, .value = a->value,
                         .weight_max = a->weight_max, .lever = a->lever };
}

/* The largest priority candidate c can have, computed as decide.c bounds
 * it (propensity x value x weight_max x lever, in that order): a model's
 * score is anywhere in [0, 1] (the context's check), and the rounding of
 * x is monotone, so the bound at 0 or at 1 is the largest. INFINITY when
 * there is none (NAN, a negative fixed propensity, which decide.c never
 * passes over, or a model past the 64 places of *model). */
static double cand_ub(const arb_ruleset_t *rs, const arb_cand_t *c, uint64_t *model)
{
    *model = 0;
    double ub;
    if (c->model < 0) {
        if (!(c->propensity >= 0)) return INFINITY;
        ub = c->propensity * c->value * c->weight_max * c->lever;
    } else {
        uint32_t k = 0;
        while (k < rs->n_models && rs->models[k] != c->model) k++;
        if (k >= 64 || k >= rs->n_models) return INFINITY;
        *model = 1ull << k;
        double zero = 0.0 * c->value * c->weight_max * c->lever;
        double one = 1.0 * c->value * c->weight_max * c->lever;
        ub = zero > one ? zero : one;
        if (isnan(zero)) return INFINITY;
    }
    return isnan(ub) ? INFINITY : ub;
}

/* The runs of the n candidates c (a list or one symbol's group; see
 * arb_channel_index_t.always_runs), into runs[0..). */
static void cut_runs(const arb_ruleset_t *rs, const arb_cand_t *c, uint32_t n, arb_cand_run_t *runs)
{
    for (uint32_t k = 0, r = 0; k < n; k += ARB_CAND_RUN, r++) {
        arb_cand_run_t run = { -INFINITY, 0, -1 };
        for (uint32_t j = k; j < n && j < k + ARB_CAND_RUN; j++) {
            uint64_t m;
            double one = cand_ub(rs, &c[j], &m);
            if (!(one <= run.ub)) run.ub = one;
            run.models |= m;
            run.window = c[j].window;   /* widest first: the last is the narrowest */
        }
        runs[r] = run;
    }
}

#define RUNS(n) (((n) + ARB_CAND_RUN - 1) / ARB_CAND_RUN)

/* A candidate with its bound (never NAN: cand_ub), while it is sorted. */
typedef struct ranked {
    arb_cand_t c;
    double ub;
    uint64_t model;
} ranked_t;

/* Highest bound first, then id order. */
static int by_bound(const void *x, const void *y)
{
    const ranked_t *a = x, *b = y;
    int ub = (a->ub < b->ub) - (a->ub > b->ub);
    return ub ? ub : (a->c.action > b->c.action) - (a->c.action < b->c.action);
}

/* Sort the n candidates c (a list in its order on entry: always[] in id
 * order, or one symbol's guarded group, widest window first) into
 * stretches, highest bound first, and fill rest[0..n) (see
 * arb_channel_index_t.always_rest), its ends counted from base. A
 * decision's floor then rises on the first candidates of a stretch and
 * passes over the rest of it on one comparison. A stretch holds one
 * window, so that a group stays widest window first (decide.c stops at
 * the first that does not reach the purchase). An adaptive action is a
 * stretch of its own: the floor it meets, and so whether it draws, stays
 * what it was in the list's order. The candidates with no bound (INFINITY:
 * controls, plain Lua functions, fallbacks) come first in each stretch, in
 * id order, so that they are considered in the same order as before.
 * Returns -1 when out of memory. */
static int order_stretches(const arb_ruleset_t *rs, arb_cand_t *c, uint32_t n, uint32_t base,
                           arb_cand_rest_t *rest)
{
    ranked_t *r = calloc(n + 1, sizeof *r);
    if (!r) return -1;
    for (uint32_t j = 0; j < n; j++) {
        r[j].c = c[j];
        r[j].ub = cand_ub(rs, &r[j].c, &r[j].model);
    }
    for (uint32_t from = 0, to; from < n; from = to) {
        to = from + 1;
        if (rs->actions[r[from].c.action].adaptive < 0)
            while (to < n && rs->actions[r[to].c.action].adaptive < 0 && r[to].c.window == r[from].c.window)
                to++;
        qsort(&r[from], to - from, sizeof *r, by_bound);
        uint64_t models = 0;
        for (uint32_t j = to; j-- > from;) {
            models |= r[j].model;
            c[j] = r[j].c;
            rest[j] = (arb_cand_rest_t){ r[j].ub, models, base + to };
        }
    }
    free(r);
    return 0;
}

/* Returns -1 when out of memory: what was allocated is rs's to free. */
int arb__ruleset_index_channels(arb_ruleset_t *rs)
{
    guard_entry_t *g = calloc(rs->n_actions + 1, sizeof *g);
    if (!g) return -1;
    for (int ch = 0; ch < rs->n_channels; ch++) {
        arb_channel_index_t *x = &rs->by_channel[ch];
        uint32_t ng = 0;
        x->always = calloc(rs->n_actions + 1, sizeof *x->always);
        x->first = calloc(rs->syms.n + 1, sizeof *x->first);
        x->count = calloc(rs->syms.n + 1, sizeof *x->count);
        if (!x->always || !x->first || !x->count) {
            free(g);
            return -1;
        }
        for (uint32_t i = 0; i < rs->n_actions; i++) {
            if (!(rs->actions[i].channels & (1ull << ch))) continue;
            if (action_guard(rs, &rs->actions[i], &g[ng].sym, &g[ng].window)) g[ng++].action = i;
            else x->always[x->n_always++] = cand_of(rs, i, -1);
        }
        qsort(g, ng, sizeof *g, by_guard);
        x->guarded = calloc(ng + 1, sizeof *x->guarded);
        if (!x->guarded) {
            free(g);
            return -1;
        }
        x->run_first = calloc(rs->syms.n + 1, sizeof *x->run_first);
        x->always_runs = calloc(RUNS(x->n_always) + 1, sizeof *x->always_runs);
        uint32_t nr = 0;
        for (uint32_t k = 0; k < ng; k++) {
            x->guarded[k] = cand_of(rs, g[k].action, g[k].window);
            if (!x->count[g[k].sym]++) x->first[g[k].sym] = k;
        }
        for (uint32_t sym = 0; sym < rs->syms.n; sym++) nr += RUNS(x->count[sym]);
        x->guarded_runs = calloc(nr + 1, sizeof *x->guarded_runs);
        if (!x->run_first || !x->always_runs || !x->guarded_runs) {
            free(g);
            return -1;
        }
        x->always_rest = calloc(x->n_always + 1, sizeof *x->always_rest);
        x->guarded_rest = calloc(ng + 1, sizeof *x->guarded_rest);
        if (!x->always_rest || !x->guarded_rest ||
            order_stretches(rs, x->always, x->n_always, 0, x->always_rest) < 0) {
            free(g);
            return -1;
        }
        cut_runs(rs, x->always, x->n_always, x->always_runs);
        nr = 0;
        for (uint32_t sym = 0; sym < rs->syms.n; sym++) {
            uint32_t at = x->first[sym];
            if (order_stretches(rs, &x->guarded[at], x->count[sym], at, &x->guarded_rest[at]) < 0) {
                free(g);
                return -1;
            }
            x->run_first[sym] = nr;
            cut_runs(rs, &x->guarded[x->first[sym]], x->count[sym], &x->guarded_runs[nr]);
            nr += RUNS(x->count[sym]);
        }
    }
    free(g);
    return 0;
}

/* The largest value each weight expression can take, into hi (INFINITY
 * when unknown), by interval arithmetic over its operands (which come
 * first): recency is within [0, 1], a constant is itself, and products,
 * sums, min, max and if of bounded operands are bounded; scores,
 * attributes, plain functions, differences and quotients are not. The
 * rounding of + and x is monotone, so each bound is computed with the same
 * operation as the value it bounds. */
static void weight_bounds(const arb_ruleset_t *rs, double *lo, double *hi)
{
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        const arb_wexpr_t *w = &rs->wexprs[i];
        double ll = w->left >= 0 ? lo[w->left] : 0, lh = w->left >= 0 ? hi[w->left] : 0;
        double rl = w->right >= 0 ? lo[w->right] : 0, rh = w->right >= 0 ? hi[w->right] : 0;
        lo[i] = -INFINITY;
        hi[i] = INFINITY;
        switch (w->op) {
        case ARB_W_CONST: lo[i] = hi[i] = w->num; break;
        case ARB_W_RECENCY: lo[i] = 0; hi[i] = 1; break;
        case ARB_W_MUL:
            if (ll >= 0 && rl >= 0) { lo[i] = ll * rl; hi[i] = lh * rh; }
            break;
        case ARB_W_ADD: lo[i] = ll + rl; hi[i] = lh + rh; break;
        case ARB_W_MIN: lo[i] = fmin(ll, rl); hi[i] = fmin(lh, rh); break;
        case ARB_W_MAX: lo[i] = fmax(ll, rl); hi[i] = fmax(lh, rh); break;
        case ARB_W_IF: lo[i] = fmin(ll, rl); hi[i] = fmax(lh, rh); break;
        default: break;
        }
        if (isnan(lo[i]) || isnan(hi[i])) {
            lo[i] = -INFINITY;
            hi[i] = INFINITY;
        }
    }
}

/* Each action's weight_max (see arb_action_t). */
int arb__ruleset_weight_max(arb_ruleset_t *rs)
{
    double *lo = calloc(rs->n_wexprs + 1, sizeof *lo), *hi = calloc(rs->n_wexprs + 1, sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return -1;
    }
    weight_bounds(rs, lo, hi);
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i];
        a->weight_max = a->weight >= 0 ? hi[a->weight] : 1;
        if (!isfinite(a->weight_max) || a->fallback || !(a->value >= 0) || !(a->lever >= 0) ||
            !isfinite(a->value) || !isfinite(a->lever) ||
            (a->when >= 0 && !rs->nodes[a->when].pure) ||
            (a->weight >= 0 && !rs->wexprs[a->weight].pure))
            a->weight_max = NAN;
    }
    free(lo);
    free(hi);
    return 0;
}

int arb__ruleset_hot_fields(arb_ruleset_t *rs)
{
    rs->hot = calloc(rs->n_actions + 1, sizeof *rs->hot);
    if (!rs->hot) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        const arb_action_t *a = &rs->actions[i];
        arb_action_hot_t *h = &rs->hot[i];
        h->when = a->when;
        h->weight = a->weight;
        h->model = a->model;
        h->value = a->value;
        h->lever = a->lever;
        h->flags = ARB_HOT_ANY | (a->fallback ? ARB_HOT_FALLBACK : 0) |
                   (a->n_touchpoints || a->start || a->stop || a->n_requires || a->requires_location
                        ? ARB_HOT_CHECKS : 0) |
                   (a->policy >= 0 ? ARB_HOT_POLICY : 0) |
                   (a->adaptive >= 0 ? ARB_HOT_ADAPTIVE : 0);
    }
    return 0;
}
