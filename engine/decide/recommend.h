/* Choosing a recommending action's products for one decision (decide.c's
 * helper; dsl/README.md, "Recommending actions"). Internal to decide/.
 * Keeps decide/'s rule: values in, values out; it reads the ruleset's
 * compiled `recommend` (ruleset/recommend.h), the catalog the decision
 * reads and the merged context, and writes only the request's arena.
 *
 * Cost: the seeds' relations and the customer's history, never a pass over
 * the catalog: a 100,000-product catalog costs what 10 products do.
 *
 * Ownership: a run borrows the ruleset, the catalog and the context for
 * one decision; what it finds lives in the arena given to arb__reco_begin
 * and is valid until that arena is reset.
 */
#ifndef ARB_DECIDE_RECOMMEND_H
#define ARB_DECIDE_RECOMMEND_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/request/decision.h"
#include "engine/ruleset/compiled.h"

struct arb_catalog;
struct arb_reco_found;

typedef struct arb_reco_run {
    const arb_ruleset_t *rs;
    const struct arb_catalog *cat;  /* NULL: no catalog, nothing is ever found */
    const arb_context_t *ctx;
    arb_arena_t *arena;
    bool explain;                   /* keep what was considered, for explain */
    struct arb_reco_found *found;   /* per rs->recommends entry, made on first use; arena */
    /* Per purchase and per event: its product in cat, as arb_eval_begin
     * already found them (arb_eval_t.p_prod / e_prod, the same catalog);
     * NULL: looked up here. Set by the caller after arb__reco_begin. */
    const struct arb_product *const *p_prod, *const *e_prod;
} arb_reco_run_t;

/* Start a decision's run (no work until a recommending action is eligible). */
void arb__reco_begin(arb_reco_run_t *r, const arb_ruleset_t *rs, const struct arb_catalog *cat,
                     const arb_context_t *ctx, bool explain, arb_arena_t *arena);

/* Action `action` (ARB_HOT_RECOMMEND) passed its rules: choose its
 * products. Returns 1 when at least its `min` were found (*priority is
 * multiplied by the best one's score, in [0, 1]), 0 when not (*why "no
 * products"), -1 when out of memory (*why says so). */
int arb__reco_apply(arb_reco_run_t *r, uint32_t action, double *priority, const char **why);

/* The products chosen for action (best first, indices into the catalog),
 * NULL and 0 when it found none or never ran. */
void arb__reco_products(const arb_reco_run_t *r, uint32_t action, const uint32_t **products,
                        uint32_t *n);

/* With explain: set x->products / n_products to what action considered
 * (NULL, 0 when it never looked). */
void arb__reco_explain(const arb_reco_run_t *r, uint32_t action, arb_explained_t *x);

#endif
