/* Reading a record's missing fields from its product (see
 * eval_catalog.h). Keeps decide/'s rule: it only reads the context, the
 * ruleset and the catalog; what it keeps (a product pointer per record)
 * lives in the request's arena.
 */
#include "engine/decide/eval_catalog.h"

#include <string.h>

#include "engine/decide/eval_hist.h"

static const arb_product_t *product_of(const arb_catalog_t *cat, arb_str_t sku)
{
    return sku.len ? arb_catalog_find(cat, sku.ptr, sku.len) : NULL;
}

int arb__eval_catalog_begin(arb_eval_t *ev, arb_arena_t *arena)
{
    ev->p_prod = ev->e_prod = NULL;
    const arb_catalog_t *cat = ev->catalog;
    const arb_context_t *ctx = ev->ctx;
    if (!cat || (!ctx->n_purchases && !ctx->n_events)) return 0;
    const arb_product_t **a = arb_arena_alloc(arena, sizeof *a * ((size_t)ctx->n_purchases +
                                                                  ctx->n_events + 1));
    if (!a) return -1;
    for (uint32_t i = 0; i < ctx->n_purchases; i++) a[i] = product_of(cat, ctx->purchases[i].sku);
    for (uint32_t i = 0; i < ctx->n_events; i++)
        a[ctx->n_purchases + i] = product_of(cat, ctx->events[i].sku);
    ev->p_prod = a;
    ev->e_prod = a + ctx->n_purchases;
    return 0;
}

arb_str_t arb__eval_category(const arb_eval_t *ev, bool purchase, uint32_t i, arb_str_t own)
{
    if (own.len) return own;
    const arb_product_t *p = arb__eval_product(ev, purchase, i);
    if (!p || p->category < 0) return own;
    const char *c = arb_catalog_value(ev->catalog, p->category);
    return (arb_str_t){ c, ev->catalog->values.lens[p->category] };
}

/* Whether list v holds what c compares with: a string, or one of a list. */
static bool list_match(const arb_eval_t *ev, const arb_cmp_t *c, const arb_pvalue_t *v)
{
    const arb_ruleset_t *rs = ev->rs;
    switch (c->op) {
    case ARB_CMP_EXISTS: return v->n > 0;
    case ARB_CMP_EQ_STR: return arb_catalog_list_has(ev->catalog, v, c->str, c->str_len);
    case ARB_CMP_ONE_OF:
        for (uint32_t k = 0; k < c->list_n; k++)
            if (arb_catalog_list_has(ev->catalog, v, rs->strs[c->list + k], rs->str_lens[c->list + k]))
                return true;
        return false;
    default: return false;   /* a list is no number */
    }
}

bool arb__eval_product_match(const arb_eval_t *ev, const arb_product_t *p, const arb_node_t *f)
{
    arb_pvalue_t v;
    if (!arb_catalog_get(ev->catalog, p, f->name, f->name_len, &v)) return false;
    /* The same comparison a record's own field gets, through the same
     * msgpack shape: "in_stock = true" reads a boolean as a sent one would. */
    msgpack_object o;
    memset(&o, 0, sizeof o);
    switch (v.kind) {
    case ARB_PV_STR:
        o.type = MSGPACK_OBJECT_STR;
        o.via.str = (msgpack_object_str){ v.len, v.str };
        break;
    case ARB_PV_NUM:
        o.type = MSGPACK_OBJECT_FLOAT64;
        o.via.f64 = v.num;
        break;
    case ARB_PV_BOOL:
        o.type = MSGPACK_OBJECT_BOOLEAN;
        o.via.boolean = v.num != 0;
        break;
    case ARB_PV_LIST: return list_match(ev, &f->cmp, &v);
    default: return false;
    }
    return arb__eval_cmp_object(ev->rs, &f->cmp, &o);
}
