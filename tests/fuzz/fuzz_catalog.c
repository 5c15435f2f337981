/* Fuzz target: the product catalog's loader (engine/ruleset/catalog.c) on
 * any bytes a products file can hold, then every reader on what it loads.
 *
 * Input: the bytes of one catalog file (JSON lines, maybe cut anywhere,
 * maybe not UTF-8).
 *
 * Properties checked:
 *   - a refusal has at least one problem, each "catalog.jsonl:..." and valid
 *     UTF-8 (past the cap, the last one counts the rest); an accepted
 *     catalog has none;
 *   - every product has a sku of 1 to ARB_CATALOG_MAX_SKU bytes that finds
 *     that product again, a name of name_len bytes, in_stock a boolean,
 *     popularity in [0, 1], a price NaN or finite and >= 0, at most
 *     ARB_CATALOG_MAX_LIST tags and skus a relation;
 *   - arb_catalog_get reads every named field, every relation name and
 *     every extra field name of the catalog on every product, each result
 *     of its kind (strings valid UTF-8 of their length);
 *   - every related index is a product other than itself, and
 *     arb_catalog_list_has finds every tag and related sku in its list;
 *   - each related index's brief (catalog_pack.c) copies its product, and
 *     the popular list holds min(ARB_CATALOG_POPULAR, products in stock)
 *     products in stock, by popularity then sku, none twice;
 *   - retain/release balance (ASan reports a leak or a double free).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "tests/fuzz/fuzz_util.h"

static const char *const NAMED[] = { "sku", "name", "category", "brand", "color", "price",
                                     "popularity", "in_stock", "tags", "nothing" };

static void check_value(const arb_catalog_t *c, const arb_pvalue_t *v)
{
    switch (v->kind) {
    case ARB_PV_STR:
        FUZZ_CHECK(v->str && strlen(v->str) == v->len && fuzz_utf8_valid(v->str, v->len), "string value");
        break;
    case ARB_PV_NUM:
        FUZZ_CHECK(isfinite(v->num), "number value %g", v->num);
        break;
    case ARB_PV_BOOL:
        FUZZ_CHECK(v->num == 0 || v->num == 1, "boolean value %g", v->num);
        break;
    case ARB_PV_LIST:
        FUZZ_CHECK(v->n <= ARB_CATALOG_MAX_LIST, "list of %u", v->n);
        for (uint32_t i = 0; i < v->n; i++) {
            int32_t id = v->ids[i];
            if (v->is_products) {
                FUZZ_CHECK(id >= 0 && (uint32_t)id < c->n_products, "product index %d", id);
                const arb_product_t *q = &c->products[id];
                FUZZ_CHECK(arb_catalog_list_has(c, v, q->sku, q->sku_len), "related sku not found");
            } else {
                FUZZ_CHECK(id >= 0 && (uint32_t)id < c->values.n, "value id %d", id);
                const char *s = arb_catalog_value(c, id);
                FUZZ_CHECK(arb_catalog_list_has(c, v, s, (uint32_t)strlen(s)), "tag not found");
            }
        }
        break;
    case ARB_PV_NONE:
        break;
    }
}

static void check_product(const arb_catalog_t *c, uint32_t i)
{
    const arb_product_t *p = &c->products[i];
    FUZZ_CHECK(p->sku_len >= 1 && p->sku_len <= ARB_CATALOG_MAX_SKU, "sku of %u bytes", p->sku_len);
    FUZZ_CHECK(arb_catalog_find(c, p->sku, p->sku_len) == p, "sku does not find its product");
    FUZZ_CHECK(strlen(p->name) == p->name_len && p->name_len <= ARB_CATALOG_MAX_TEXT, "name length");
    FUZZ_CHECK(p->popularity >= 0 && p->popularity <= 1, "popularity %g", p->popularity);
    FUZZ_CHECK(isnan(p->price) || (isfinite(p->price) && p->price >= 0), "price %g", p->price);
    FUZZ_CHECK(p->n_tags <= ARB_CATALOG_MAX_LIST, "%u tags", p->n_tags);
    arb_pvalue_t v;
    for (size_t k = 0; k < sizeof NAMED / sizeof *NAMED; k++) {
        bool got = arb_catalog_get(c, p, NAMED[k], (uint32_t)strlen(NAMED[k]), &v);
        FUZZ_CHECK(got == (v.kind != ARB_PV_NONE), "get's result and kind disagree");
        check_value(c, &v);
    }
    for (uint32_t r = 0; r < c->relations.n; r++) {
        arb_catalog_get(c, p, c->relations.names[r], c->relations.lens[r], &v);
        check_value(c, &v);
        const uint32_t *ids;
        uint32_t n = arb_catalog_related(c, p, (int32_t)r, &ids);
        FUZZ_CHECK(n == (v.kind == ARB_PV_LIST ? v.n : 0), "related and get disagree");
        for (uint32_t k = 0; k < n; k++) {
            FUZZ_CHECK(ids[k] < c->n_products && ids[k] != i, "related index");
            const arb_product_brief_t *b = &arb_catalog_briefs(c, ids)[k];
            const arb_product_t *q = &c->products[ids[k]];
            FUZZ_CHECK(b->product == ids[k] && b->category == q->category && b->brand == q->brand &&
                       b->in_stock == q->in_stock &&
                       b->popularity == q->popularity && (b->price == q->price || (isnan(b->price) && isnan(q->price))),
                       "brief of a related product");
        }
    }
    for (uint32_t f = 0; f < c->fields.n; f++) {
        arb_catalog_get(c, p, c->fields.names[f], c->fields.lens[f], &v);
        check_value(c, &v);
    }
}

static void check_popular(const arb_catalog_t *c)
{
    uint32_t in_stock = 0;
    for (uint32_t i = 0; i < c->n_products; i++) in_stock += c->products[i].in_stock;
    FUZZ_CHECK(c->n_popular == (in_stock < ARB_CATALOG_POPULAR ? in_stock : ARB_CATALOG_POPULAR),
               "%u popular of %u in stock", c->n_popular, in_stock);
    for (uint32_t k = 0; k < c->n_popular; k++) {
        const arb_product_t *p = &c->products[c->popular[k].product];
        FUZZ_CHECK(p->in_stock && c->popular[k].popularity == p->popularity, "popular %u", k);
        if (k == 0) continue;
        const arb_product_t *q = &c->products[c->popular[k - 1].product];
        FUZZ_CHECK(q->popularity > p->popularity || (q->popularity == p->popularity && strcmp(q->sku, p->sku) < 0),
                   "popular order at %u", k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arb_problems_t problems = { 0 };
    arb_catalog_t *c = arb_catalog_parse((const char *)data, size, "catalog.jsonl", &problems);
    for (size_t i = 0; i < problems.n; i++)
        FUZZ_CHECK(fuzz_problem_is_cap_summary(&problems, i) || strncmp(problems.items[i], "catalog.jsonl:", 14) == 0 &&
                   fuzz_utf8_valid(problems.items[i], strlen(problems.items[i])), "problem '%s'",
                   problems.items[i]);
    if (!c) {
        FUZZ_CHECK(problems.total > 0, "refused without a problem");
    } else {
        FUZZ_CHECK(problems.total == 0, "loaded with %zu problems", problems.total);
        arb_catalog_retain(c);
        for (uint32_t i = 0; i < c->n_products; i++) check_product(c, i);
        check_popular(c);
        arb_catalog_release(c);
        arb_catalog_release(c);
    }
    arb_problems_free(&problems);
    return 0;
}
