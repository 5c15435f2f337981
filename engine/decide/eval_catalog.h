/* Catalog words (dsl/README.md, "Catalog words"): a purchase or an event
 * joined to the decision's catalog by its sku, so `bought { color = "red" }`
 * holds for a purchase sent with only a sku whose product is red. For
 * eval.c (the index) and eval_hist.c (the field filters). decide/'s rule:
 * values only; each record's product is looked up once per decision, into
 * the request's arena.
 */
#ifndef ARB_EVAL_CATALOG_H
#define ARB_EVAL_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/decide/eval.h"
#include "engine/ruleset/catalog.h"

/* Find the product of every purchase and event of ev->ctx in ev->catalog,
 * into ev->p_prod and ev->e_prod (arena; NULL entries for no product).
 * Without a catalog both stay NULL and nothing is looked up. Returns 0,
 * or -1 when out of memory. */
int arb__eval_catalog_begin(arb_eval_t *ev, arb_arena_t *arena);

/* The product of purchase i (purchase true) or event i, or NULL. */
static inline const arb_product_t *arb__eval_product(const arb_eval_t *ev, bool purchase,
                                                     uint32_t i)
{
    const arb_product_t *const *a = purchase ? ev->p_prod : ev->e_prod;
    return a ? a[i] : NULL;
}

/* A record's category: own when it has one, else its product's (empty
 * when neither). */
arb_str_t arb__eval_category(const arb_eval_t *ev, bool purchase, uint32_t i, arb_str_t own);

/* Whether product p's field f->name compares true with f->cmp (the record
 * lacked the field). A list (tags, a relation) holds a string comparison
 * when it holds the string (one_of: any of them). False when p has no such
 * field. */
bool arb__eval_product_match(const arb_eval_t *ev, const arb_product_t *p, const arb_node_t *f);

#endif
