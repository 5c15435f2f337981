/* A decision's recommended products in the state methods (state_reco.h).
 * Keeps server/'s rule for state: what the store writes is built here as
 * values (arb_event_t, the same path as track's events) and copied into the
 * round's arena, never borrowed from a decider, a ruleset or a catalog that
 * a reload may free before the commit completes.
 */
#include "engine/server/state_reco.h"

#include <math.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "engine/server/state_int.h"

int arb__state_copy_products(arb_arena_t *a, arb_decided_action_t *act)
{
    if (!act->products || !act->n_products) return 0;
    uint32_t *copy = arb_arena_alloc(a, sizeof *copy * act->n_products);
    if (!copy) return -1;
    memcpy(copy, act->products, sizeof *copy * act->n_products);
    act->products = copy;
    return 0;
}

int arb__state_copy_explained_products(arb_arena_t *a, arb_explained_t *x)
{
    if (!x->products) return 0;
    arb_explained_product_t *copy = arb_arena_alloc(a, sizeof *copy * (x->n_products + 1));
    if (!copy) return -1;
    for (uint32_t i = 0; i < x->n_products; i++) {
        copy[i] = x->products[i];   /* reasons are static strings */
        copy[i].sku = arb__state_copy_str(a, x->products[i].sku);
        if (!copy[i].sku) return -1;
    }
    x->products = copy;
    return 0;
}

int arb__state_recommended(arb_pending_t *p, arb_event_t **out)
{
    const arb_decision_t *d = &p->dec;
    const arb_catalog_t *cat = d->catalog;
    size_t n = 0;
    for (uint32_t i = 0; cat && i < d->n_actions; i++) n += d->actions[i].n_products;
    *out = NULL;
    if (!n) return 0;
    arb_event_t *ev = arb_arena_alloc(&p->arena, sizeof *ev * n);
    if (!ev) return -1;
    size_t k = 0;
    for (uint32_t i = 0; i < d->n_actions; i++)
        for (uint32_t j = 0; j < d->actions[i].n_products; j++) {
            uint32_t idx = d->actions[i].products[j];
            if (idx >= cat->n_products) continue;
            const arb_product_t *prod = &cat->products[idx];
            ev[k] = (arb_event_t){ .ts = d->now, .type = "recommended", .channel = d->channel,
                                   .sku = arb__state_copy_bytes(&p->arena, prod->sku, prod->sku_len),
                                   .price = NAN };
            if (!ev[k].sku) return -1;
            k++;
        }
    *out = ev;
    return (int)k;
}
