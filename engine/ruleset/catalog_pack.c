/* What the loader adds to a catalog for recommending actions (catalog.h):
 * a packed copy, per relation edge, of what a candidate is judged by, and
 * the most popular products in stock. It keeps the ruleset folder's rule:
 * built once at load (a catalog-only reload loads a whole new catalog, so
 * it is built again then), read-only after, so the decide path reads
 * without a lock and allocates nothing.
 *
 * Why a copy: a recommending action judges every product its seeds'
 * relations name (stock, category, brand, price, popularity). Read from
 * the products, each is a cache miss in a large catalog (88 bytes a
 * product, 8.8 MB for 100,000); copied beside catalog->related, a seed's
 * relation brings its candidates in a few consecutive lines, their product
 * indices with them (the decision reads neither catalog->related nor the
 * products for them: only the chosen ones' products, for the payload).
 */
#include "engine/ruleset/catalog.h"

#include <stdlib.h>
#include <string.h>

/* Two briefs a cache line: a seed's 5 or 10 related products in 3 or 5. */
_Static_assert(sizeof(arb_product_brief_t) == 32, "a brief is 32 bytes");

typedef struct sku_at {
    const char *sku;
    uint32_t product;
} sku_at_t;

/* Sku byte order: skus hold no NUL (jansson refuses \u0000 in strings). */
static int by_sku(const void *x, const void *y)
{
    return strcmp(((const sku_at_t *)x)->sku, ((const sku_at_t *)y)->sku);
}

static arb_product_brief_t brief_of(const arb_catalog_t *c, uint32_t i, const uint32_t *rank)
{
    const arb_product_t *p = &c->products[i];
    return (arb_product_brief_t){ .price = p->price, .popularity = p->popularity,
                                  .category = p->category, .brand = p->brand, .product = i,
                                  .sku_rank = rank[i] & 0x7fffffffu, .in_stock = p->in_stock };
}

/* Most popular first, then by sku: the order the popular source lists. */
static int by_popularity(const void *x, const void *y)
{
    const arb_product_brief_t *a = x, *b = y;
    if (a->popularity != b->popularity) return a->popularity > b->popularity ? -1 : 1;
    return (a->sku_rank > b->sku_rank) - (a->sku_rank < b->sku_rank);
}

/* The ARB_CATALOG_POPULAR best of the products in stock into c->popular.
 * Kept as a bounded sorted insert: one pass over the catalog. */
static void keep_popular(arb_catalog_t *c, const uint32_t *rank)
{
    arb_product_brief_t *top = c->popular;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_products; i++) {
        if (!c->products[i].in_stock) continue;
        arb_product_brief_t b = brief_of(c, i, rank);
        if (n == ARB_CATALOG_POPULAR && by_popularity(&b, &top[n - 1]) >= 0) continue;
        uint32_t j = n < ARB_CATALOG_POPULAR ? n++ : n - 1;
        while (j > 0 && by_popularity(&b, &top[j - 1]) < 0) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = b;
    }
    c->n_popular = n;
}

int arb__catalog_pack(arb_catalog_t *c, uint32_t n_related)
{
    sku_at_t *order = malloc(sizeof *order * (c->n_products + 1));
    uint32_t *rank = malloc(sizeof *rank * (c->n_products + 1));
    c->briefs = malloc(sizeof *c->briefs * (n_related + 1));
    c->popular = malloc(sizeof *c->popular * ARB_CATALOG_POPULAR);
    if (!order || !rank || !c->briefs || !c->popular) {
        free(order);
        free(rank);
        return -1;
    }
    /* A sku's rank breaks score ties the way comparing skus does, without
     * reading the product. */
    for (uint32_t i = 0; i < c->n_products; i++) order[i] = (sku_at_t){ c->products[i].sku, i };
    qsort(order, c->n_products, sizeof *order, by_sku);
    for (uint32_t i = 0; i < c->n_products; i++) rank[order[i].product] = i;
    for (uint32_t e = 0; e < n_related; e++) c->briefs[e] = brief_of(c, c->related[e], rank);
    keep_popular(c, rank);
    free(order);
    free(rank);
    c->bytes += sizeof *c->briefs * n_related + ARB_CATALOG_POPULAR * sizeof *c->popular;
    return 0;
}
