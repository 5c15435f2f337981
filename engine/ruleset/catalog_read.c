/* Reading a loaded product catalog (catalog.h): a product's fields by
 * name, membership in its tags and relations, its related products. It
 * keeps the ruleset folder's rule for what the decide path may do: read
 * only, no allocation, no lock (a catalog is immutable once loaded). The
 * loader is catalog.c.
 */
#include "engine/ruleset/catalog.h"

#include <math.h>
#include <string.h>

static bool is(const char *name, uint32_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

static bool value_str(const arb_catalog_t *c, int32_t v, arb_pvalue_t *out)
{
    if (v < 0) return false;
    *out = (arb_pvalue_t){ .kind = ARB_PV_STR, .str = c->values.names[v], .len = c->values.lens[v] };
    return true;
}

bool arb_catalog_get(const arb_catalog_t *c, const arb_product_t *p, const char *name,
                     uint32_t len, arb_pvalue_t *out)
{
    *out = (arb_pvalue_t){ .kind = ARB_PV_NONE };
    if (!c || !p) return false;
    if (is(name, len, "sku")) {
        *out = (arb_pvalue_t){ .kind = ARB_PV_STR, .str = p->sku, .len = p->sku_len };
        return true;
    }
    if (is(name, len, "name")) {
        if (!p->name_len) return false;
        *out = (arb_pvalue_t){ .kind = ARB_PV_STR, .str = p->name, .len = p->name_len };
        return true;
    }
    if (is(name, len, "category")) return value_str(c, p->category, out);
    if (is(name, len, "brand")) return value_str(c, p->brand, out);
    if (is(name, len, "color")) return value_str(c, p->color, out);
    if (is(name, len, "price")) {
        if (isnan(p->price)) return false;
        *out = (arb_pvalue_t){ .kind = ARB_PV_NUM, .num = p->price };
        return true;
    }
    if (is(name, len, "popularity")) {
        *out = (arb_pvalue_t){ .kind = ARB_PV_NUM, .num = p->popularity };
        return true;
    }
    if (is(name, len, "in_stock")) {
        *out = (arb_pvalue_t){ .kind = ARB_PV_BOOL, .num = p->in_stock };
        return true;
    }
    if (is(name, len, "tags")) {
        *out = (arb_pvalue_t){ .kind = ARB_PV_LIST, .ids = c->tag_ids ? c->tag_ids + p->tags : NULL,
                               .n = p->n_tags };
        return true;
    }
    int32_t rel = arb_symtab_find(&c->relations, name, len);
    for (uint32_t i = 0; rel >= 0 && i < p->n_rels; i++) {
        const arb_product_rel_t *r = &c->rels[p->rels + i];
        if (r->relation != rel) continue;
        /* Indices are below ARB_CATALOG_MAX_PRODUCTS: the same bits as int32. */
        *out = (arb_pvalue_t){ .kind = ARB_PV_LIST, .ids = (const int32_t *)(c->related + r->first),
                               .n = r->count, .is_products = true };
        return true;
    }
    int32_t f = arb_symtab_find(&c->fields, name, len);
    for (uint32_t i = 0; f >= 0 && i < p->n_fields; i++) {
        const arb_product_field_t *pf = &c->pfields[p->fields + i];
        if (pf->field != f) continue;
        if (pf->kind == ARB_PF_STR) return value_str(c, pf->str, out);
        *out = (arb_pvalue_t){ .kind = pf->kind == ARB_PF_NUM ? ARB_PV_NUM : ARB_PV_BOOL, .num = pf->num };
        return true;
    }
    return false;
}

bool arb_catalog_list_has(const arb_catalog_t *c, const arb_pvalue_t *v, const char *s, uint32_t len)
{
    if (!c || !v || v->kind != ARB_PV_LIST) return false;
    int32_t id = v->is_products ? arb_symtab_find(&c->skus, s, len) : arb_symtab_find(&c->values, s, len);
    if (id < 0) return false;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->ids[i] == id) return true;
    return false;
}

uint32_t arb_catalog_related(const arb_catalog_t *c, const arb_product_t *p, int32_t rel,
                             const uint32_t **out)
{
    *out = NULL;
    if (!c || !p || rel < 0) return 0;
    for (uint32_t i = 0; i < p->n_rels; i++) {
        const arb_product_rel_t *r = &c->rels[p->rels + i];
        if (r->relation == rel) {
            *out = c->related + r->first;
            return r->count;
        }
    }
    return 0;
}
