/* Unit tests for the product catalog's loader (engine/ruleset/catalog.c):
 * every mistake a catalog file can hold is a problem naming its line, a
 * catalog loads whole or not at all, and every field, list and relation
 * reads back as written; a catalog of 100,000 products loads. The
 * declaration in a ruleset is tested in test_catalog_decl.c.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ruleset/catalog.h"

static arb_problems_t P;

static void fini(void) { arb_problems_free(&P); }

TestSuite(catalog, .fini = fini);

static arb_catalog_t *parse(const char *text)
{
    arb_problems_free(&P);
    return arb_catalog_parse(text, strlen(text), "products.jsonl", &P);
}

static const char *all_problems(void)
{
    static char buf[16384];
    buf[0] = '\0';
    for (size_t i = 0; i < P.n; i++) {
        strncat(buf, P.items[i], sizeof buf - strlen(buf) - 2);
        strcat(buf, "\n");
    }
    return buf;
}

/* The text must fail to load with a problem holding want. */
static void expect_problem(const char *text, const char *want)
{
    arb_catalog_t *c = parse(text);
    cr_expect_null(c, "loaded, but should fail with '%s'", want);
    arb_catalog_release(c);
    cr_expect(strstr(all_problems(), want) != NULL, "want '%s' in:\n%s", want, all_problems());
}

#define GOOD1 "{\"sku\": \"A-1\", \"name\": \"One\"}\n"

/* ---- every mistake, with its line */

Test(catalog, bad_json_names_line_and_column)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"name\": }\n", "products.jsonl:2: bad JSON at column");
}

Test(catalog, a_line_that_is_not_an_object)
{
    expect_problem(GOOD1 "[1, 2]\n", "products.jsonl:2: a product must be a JSON object");
}

Test(catalog, duplicate_keys_are_refused)
{
    expect_problem("{\"sku\": \"A-1\", \"price\": 1, \"price\": 2}\n", "products.jsonl:1: bad JSON");
}

Test(catalog, missing_empty_and_mistyped_sku)
{
    expect_problem(GOOD1 "\n{\"name\": \"x\"}\n", "products.jsonl:3: missing sku");
    expect_problem(GOOD1 "{\"sku\": \"\"}\n", "products.jsonl:2: empty sku");
    expect_problem(GOOD1 "{\"sku\": 12}\n", "products.jsonl:2: sku must be a string, not a number");
    char line[200];
    snprintf(line, sizeof line, "{\"sku\": \"%0*d\"}\n", ARB_CATALOG_MAX_SKU + 1, 7);
    expect_problem(line, "products.jsonl:1: sku '");
    cr_expect(strstr(all_problems(), "is over 64 bytes"), "%s", all_problems());
}

Test(catalog, duplicate_sku_names_the_first_line)
{
    expect_problem(GOOD1 "# comment\n{\"sku\": \"A-2\"}\n{\"sku\": \"A-1\"}\n",
                   "products.jsonl:4: duplicate sku 'A-1' (first on line 1)");
}

Test(catalog, wrong_types_of_named_fields)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"name\": 3}\n", "products.jsonl:2: name must be a string");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"category\": true}\n",
                   "products.jsonl:2: category must be a string, not a boolean");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"brand\": null}\n", "products.jsonl:2: brand must be a string, not null");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"color\": [\"red\"]}\n", "products.jsonl:2: color must be a string, not a list");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"price\": \"9.99\"}\n",
                   "products.jsonl:2: price must be a number, not a string");
}

Test(catalog, price_negative_or_not_finite)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"price\": -0.5}\n", "products.jsonl:2: price must be a finite number >= 0");
    /* jansson refuses a number that overflows a double: bad JSON, at its line */
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"price\": 1e999}\n", "products.jsonl:2:");
}

Test(catalog, popularity_outside_0_1)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"popularity\": 1.5}\n",
                   "products.jsonl:2: popularity must be between 0 and 1, not 1.5");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"popularity\": -0.1}\n", "products.jsonl:2: popularity must be between");
}

Test(catalog, in_stock_not_bool_or_number)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"in_stock\": \"yes\"}\n",
                   "products.jsonl:2: in_stock must be true, false or a count, not a string");
}

Test(catalog, tags_not_a_list_of_strings)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"tags\": \"sale\"}\n", "products.jsonl:2: tags must be a list of strings");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"tags\": [\"a\", 2]}\n",
                   "products.jsonl:2: tags item 2 must be a string, not a number");
}

Test(catalog, relations_not_an_object_of_lists_of_skus)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": [\"A-1\"]}\n",
                   "products.jsonl:2: relations must be an object of lists of skus");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"similar\": \"A-1\"}}\n",
                   "products.jsonl:2: relation 'similar' must be a list of skus, not a string");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"similar\": [1]}}\n",
                   "products.jsonl:2: relation 'similar' item 1 must be a sku");
}

Test(catalog, a_relation_naming_an_unknown_sku_or_itself)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"complements\": [\"A-1\", \"ZZ-9\"]}}\n",
                   "products.jsonl:2: relation 'complements' names sku 'ZZ-9', which no line of the catalog has");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"similar\": [\"A-2\"]}}\n",
                   "products.jsonl:2: relation 'similar' of 'A-2' names the product itself");
}

/* A rule reads product.<name> and `where` alike for a relation and a
 * field: a name that is both would read one of them by luck. */
Test(catalog, a_relation_named_like_a_field_is_a_mistake)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"popularity\": [\"A-1\"]}}\n",
                   "products.jsonl:2: relation 'popularity' has the name of a product field: name it otherwise");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"tags\": [\"A-1\"]}}\n",
                   "products.jsonl:2: relation 'tags' has the name of a product field");
    expect_problem("{\"sku\": \"A-1\", \"fit\": \"slim\"}\n"
                   "{\"sku\": \"A-2\", \"relations\": {\"fit\": [\"A-1\"]}}\n",
                   "products.jsonl:2: 'fit' is a field of another product and a relation here: name one otherwise");
    expect_problem("{\"sku\": \"A-1\", \"relations\": {\"fit\": [\"A-2\"]}}\n"
                   "{\"sku\": \"A-2\", \"fit\": true}\n",
                   "products.jsonl:2: 'fit' is a relation of another product and a field here: name one otherwise");
}

/* A list of n strings "X-0", "X-1"... as JSON. */
static char *json_list(unsigned n)
{
    char *s = malloc(n * 12 + 4), *p = s;
    *p++ = '[';
    for (unsigned i = 0; i < n; i++) p += sprintf(p, "%s\"X-%u\"", i ? "," : "", i);
    strcpy(p, "]");
    return s;
}

Test(catalog, lists_over_the_bound)
{
    char *list = json_list(ARB_CATALOG_MAX_LIST + 1), *line = malloc(strlen(list) + 200);
    sprintf(line, GOOD1 "{\"sku\": \"A-2\", \"tags\": %s}\n", list);
    expect_problem(line, "products.jsonl:2: tags has 101 items (at most 100)");
    sprintf(line, GOOD1 "{\"sku\": \"A-2\", \"relations\": {\"similar\": %s}}\n", list);
    expect_problem(line, "products.jsonl:2: relation 'similar' has 101 skus (at most 100)");
    free(list);
    free(line);
}

Test(catalog, texts_over_the_bound)
{
    char *big = malloc(ARB_CATALOG_MAX_TEXT + 2), *line = malloc(ARB_CATALOG_MAX_TEXT + 200);
    memset(big, 'x', ARB_CATALOG_MAX_TEXT + 1);
    big[ARB_CATALOG_MAX_TEXT + 1] = '\0';
    sprintf(line, GOOD1 "{\"sku\": \"A-2\", \"name\": \"%s\"}\n", big);
    expect_problem(line, "products.jsonl:2: name is over 512 bytes");
    sprintf(line, GOOD1 "{\"sku\": \"A-2\", \"brand\": \"%s\"}\n", big);
    expect_problem(line, "products.jsonl:2: brand is over 512 bytes");
    sprintf(line, GOOD1 "{\"sku\": \"A-2\", \"material\": \"%s\"}\n", big);
    expect_problem(line, "products.jsonl:2: field 'material' is over 512 bytes");
    free(big);
    free(line);
}

Test(catalog, a_line_over_the_bound)
{
    size_t n = ARB_CATALOG_MAX_LINE + 100;
    char *text = malloc(n + 100);
    int k = sprintf(text, GOOD1 "{\"sku\": \"A-2\", \"name\": \"");
    memset(text + k, 'y', n);
    strcpy(text + k + n, "\"}\n");
    expect_problem(text, "products.jsonl:2: line is");
    cr_expect(strstr(all_problems(), "(at most 65536)"), "%s", all_problems());
    free(text);
}

Test(catalog, invalid_utf8)
{
    expect_problem(GOOD1 "{\"sku\": \"A-\xff\"}\n", "products.jsonl:2: not valid UTF-8 (byte 12 of the line)");
    /* an overlong form inside a string, and a stray byte between fields */
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"name\": \"\xc0\xaf\"}\n",
                   "products.jsonl:2: not valid UTF-8 (byte 25 of the line)");
    expect_problem(GOOD1 "{\"sku\": \"A-2\",\xe9 \"name\": \"x\"}\n", "products.jsonl:2: not valid UTF-8 (byte 15 of the line)");
}

Test(catalog, an_extra_field_that_is_an_object_or_list)
{
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"sizes\": [\"S\", \"M\"]}\n",
                   "products.jsonl:2: field 'sizes' is a list: only strings, numbers and booleans; lists go in "
                   "tags or relations");
    expect_problem(GOOD1 "{\"sku\": \"A-2\", \"dims\": {\"w\": 1}}\n", "products.jsonl:2: field 'dims' is an object");
}

Test(catalog, every_problem_is_reported_at_once)
{
    arb_catalog_t *c = parse("{\"sku\": \"A-1\", \"price\": -1}\nnot json\n{\"sku\": \"A-1\"}\n");
    cr_assert_null(c);
    cr_expect_eq(P.total, 3, "%s", all_problems());
}

Test(catalog, more_products_than_the_bound)
{
    /* Short lines: a million and one of them is about 20 MB. */
    size_t n = ARB_CATALOG_MAX_PRODUCTS + 1;
    char *text = malloc(n * 20), *p = text;
    for (size_t i = 0; i < n; i++) p += sprintf(p, "{\"sku\":\"%zu\"}\n", i);
    arb_problems_free(&P);
    arb_catalog_t *c = arb_catalog_parse(text, (size_t)(p - text), "products.jsonl", &P);
    free(text);
    cr_expect_null(c);
    cr_expect(strstr(all_problems(), "products.jsonl:1000001: more than 1000000 products"), "%s", all_problems());
}

/* ---- reading back */

#define FULL \
    "# the catalog of a test\n" \
    "{\"sku\": \"LT-100\", \"name\": \"Ultrabook 14\", \"category\": \"laptop\", \"brand\": \"Acme\", " \
    "\"color\": \"silver\", \"price\": 999.5, \"tags\": [\"premium\", \"thin\"], \"in_stock\": true, " \
    "\"popularity\": 0.8, \"relations\": {\"complements\": [\"MS-100\", \"HS-100\"], \"similar\": [\"LT-200\"]}, " \
    "\"material\": \"aluminium\", \"weight_kg\": 1.2, \"refurbished\": false}\n" \
    "\n" \
    "{\"sku\": \"MS-100\", \"category\": \"mouse\", \"in_stock\": 0}\r\n" \
    "   \n" \
    "{\"sku\": \"HS-100\", \"name\": \"Headset\", \"in_stock\": 3, \"tags\": [\"premium\"]}\n" \
    "{\"sku\": \"LT-200\", \"relations\": {\"similar\": [\"LT-100\"]}}"

Test(catalog, every_field_reads_back)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c, "%s", all_problems());
    cr_expect_eq(c->n_products, 4);
    const arb_product_t *p = arb_catalog_find(c, "LT-100", 6);
    cr_assert_not_null(p);
    cr_expect_str_eq(p->sku, "LT-100");
    cr_expect_str_eq(p->name, "Ultrabook 14");
    cr_expect_eq(p->line, 2);
    arb_pvalue_t v;
    cr_expect(arb_catalog_get(c, p, "sku", 3, &v) && v.kind == ARB_PV_STR && strcmp(v.str, "LT-100") == 0);
    cr_expect(arb_catalog_get(c, p, "name", 4, &v) && v.len == 12 && strcmp(v.str, "Ultrabook 14") == 0);
    cr_expect(arb_catalog_get(c, p, "category", 8, &v) && strcmp(v.str, "laptop") == 0);
    cr_expect(arb_catalog_get(c, p, "brand", 5, &v) && strcmp(v.str, "Acme") == 0);
    cr_expect(arb_catalog_get(c, p, "color", 5, &v) && strcmp(v.str, "silver") == 0);
    cr_expect_str_eq(arb_catalog_value(c, p->color), "silver");
    cr_expect(arb_catalog_get(c, p, "price", 5, &v) && v.kind == ARB_PV_NUM && v.num == 999.5);
    cr_expect(arb_catalog_get(c, p, "popularity", 10, &v) && v.kind == ARB_PV_NUM && v.num == 0.8);
    cr_expect(arb_catalog_get(c, p, "in_stock", 8, &v) && v.kind == ARB_PV_BOOL && v.num == 1);
    cr_expect(arb_catalog_get(c, p, "tags", 4, &v) && v.kind == ARB_PV_LIST && v.n == 2 && !v.is_products);
    cr_expect(arb_catalog_get(c, p, "complements", 11, &v) && v.kind == ARB_PV_LIST && v.n == 2 && v.is_products);
    cr_expect(arb_catalog_get(c, p, "material", 8, &v) && v.kind == ARB_PV_STR && strcmp(v.str, "aluminium") == 0);
    cr_expect(arb_catalog_get(c, p, "weight_kg", 9, &v) && v.kind == ARB_PV_NUM && v.num == 1.2);
    cr_expect(arb_catalog_get(c, p, "refurbished", 11, &v) && v.kind == ARB_PV_BOOL && v.num == 0);
    cr_expect(!arb_catalog_get(c, p, "nothing", 7, &v) && v.kind == ARB_PV_NONE);
    arb_catalog_release(c);
}

Test(catalog, absent_fields_have_their_defaults)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c, "%s", all_problems());
    const arb_product_t *p = arb_catalog_find(c, "MS-100", 6);
    cr_assert_not_null(p);
    arb_pvalue_t v;
    cr_expect_str_eq(p->name, "");
    cr_expect(!arb_catalog_get(c, p, "name", 4, &v));
    cr_expect(!arb_catalog_get(c, p, "brand", 5, &v));
    cr_expect(!arb_catalog_get(c, p, "price", 5, &v) && isnan(p->price));
    cr_expect_eq(p->popularity, 0);
    cr_expect(!p->in_stock, "in_stock 0: out of stock");
    cr_expect(!arb_catalog_get(c, p, "material", 8, &v), "a field another product has");
    cr_expect(!arb_catalog_get(c, p, "complements", 11, &v), "a relation another product has");
    cr_expect(arb_catalog_find(c, "HS-100", 6)->in_stock, "a count above 0: in stock");
    cr_expect(arb_catalog_find(c, "LT-200", 6)->in_stock, "absent: in stock");
    cr_expect_null(arb_catalog_find(c, "LT-1", 4));
    arb_catalog_release(c);
}

Test(catalog, list_has_reads_tags_by_value_and_relations_by_sku)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c, "%s", all_problems());
    const arb_product_t *p = arb_catalog_find(c, "LT-100", 6);
    arb_pvalue_t tags, comp;
    cr_assert(arb_catalog_get(c, p, "tags", 4, &tags));
    cr_expect(arb_catalog_list_has(c, &tags, "premium", 7));
    cr_expect(arb_catalog_list_has(c, &tags, "thin", 4));
    cr_expect(!arb_catalog_list_has(c, &tags, "laptop", 6), "a value of the catalog, not a tag of p");
    cr_expect(!arb_catalog_list_has(c, &tags, "nope", 4));
    cr_assert(arb_catalog_get(c, p, "complements", 11, &comp));
    cr_expect(arb_catalog_list_has(c, &comp, "MS-100", 6));
    cr_expect(arb_catalog_list_has(c, &comp, "HS-100", 6));
    cr_expect(!arb_catalog_list_has(c, &comp, "LT-200", 6), "similar, not a complement");
    cr_expect(!arb_catalog_list_has(c, &comp, "ZZ", 2));
    arb_catalog_release(c);
}

/* A catalog whose only relation is empty has no edge at all: its list
 * was once read as NULL + 0, which clang's UBSan in fuzz_catalog flags
 * (tests/fuzz/regressions/catalog/empty-relation-no-edges.jsonl). */
Test(catalog, an_empty_relation_without_any_edge_reads_as_an_empty_list)
{
    arb_catalog_t *c = parse("{\"sku\": \"A-1\", \"relations\": {\"complements\": []}}\n");
    cr_assert_not_null(c, "%s", all_problems());
    arb_pvalue_t v;
    cr_assert(arb_catalog_get(c, &c->products[0], "complements", 11, &v));
    cr_expect(v.kind == ARB_PV_LIST && v.n == 0 && v.is_products);
    const uint32_t *ids;
    cr_expect_eq(arb_catalog_related(c, &c->products[0], 0, &ids), 0);
    cr_expect(!arb_catalog_list_has(c, &v, "A-1", 3));
    arb_catalog_release(c);
}

Test(catalog, related_gives_indices_in_file_order)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c, "%s", all_problems());
    const arb_product_t *p = arb_catalog_find(c, "LT-100", 6), *q = arb_catalog_find(c, "LT-200", 6);
    int32_t comp = arb_symtab_find(&c->relations, "complements", 11);
    int32_t sim = arb_symtab_find(&c->relations, "similar", 7);
    cr_assert(comp >= 0 && sim >= 0);
    const uint32_t *ids;
    cr_assert_eq(arb_catalog_related(c, p, comp, &ids), 2);
    cr_expect_str_eq(c->products[ids[0]].sku, "MS-100");
    cr_expect_str_eq(c->products[ids[1]].sku, "HS-100");
    cr_assert_eq(arb_catalog_related(c, q, sim, &ids), 1, "a relation to an earlier line");
    cr_expect_str_eq(c->products[ids[0]].sku, "LT-100");
    cr_expect_eq(arb_catalog_related(c, q, comp, &ids), 0);
    cr_expect_null(ids);
    arb_catalog_release(c);
}

Test(catalog, every_relation_edge_has_a_brief_of_its_product)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c, "%s", all_problems());
    for (uint32_t i = 0; i < c->n_products; i++)
        for (uint32_t r = 0; r < c->products[i].n_rels; r++) {
            const arb_product_rel_t *rel = &c->rels[c->products[i].rels + r];
            for (uint32_t k = 0; k < rel->count; k++) {
                const arb_product_t *p = &c->products[c->related[rel->first + k]];
                const arb_product_brief_t *b = &arb_catalog_briefs(c, c->related + rel->first)[k];
                cr_expect(b->product == c->related[rel->first + k] && b->category == p->category &&
                              b->brand == p->brand && b->in_stock == p->in_stock &&
                              b->popularity == p->popularity &&
                              (b->price == p->price || (isnan(b->price) && isnan(p->price))),
                          "edge %u of %s", k, c->products[i].sku);
            }
        }
    arb_catalog_release(c);
}

/* 150 products, popularity (i % 50) / 50, every third out of stock, skus
 * "P-<i>" (whose byte order is not the numbers' order). */
static char *many_products(void)
{
    size_t cap = 150 * 80, n = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(text + n, cap - n, "{\"sku\": \"P-%d\", \"popularity\": %g, \"in_stock\": %s}\n", i,
                              (i % 50) / 50.0, i % 3 == 0 ? "false" : "true");
    return text;
}

Test(catalog, the_popular_list_holds_the_100_most_popular_in_stock_ties_by_sku)
{
    char *text = many_products();
    arb_catalog_t *c = parse(text);
    free(text);
    cr_assert_not_null(c, "%s", all_problems());
    cr_assert_eq(c->n_popular, ARB_CATALOG_POPULAR, "100 of the 100 in stock");
    for (uint32_t i = 0; i < c->n_popular; i++) {
        const arb_product_t *p = &c->products[c->popular[i].product];
        cr_expect(p->in_stock, "%s is out of stock", p->sku);
        cr_expect_eq(c->popular[i].popularity, p->popularity);
        if (i == 0) continue;
        const arb_product_t *q = &c->products[c->popular[i - 1].product];
        cr_expect(q->popularity > p->popularity || (q->popularity == p->popularity && strcmp(q->sku, p->sku) < 0),
                  "%s before %s", q->sku, p->sku);
        if (q->popularity == p->popularity)
            cr_expect_lt(c->popular[i - 1].sku_rank, c->popular[i].sku_rank, "ranks follow the skus");
    }
    /* 0.98: P-49 and P-149 (P-99 is out of stock), by sku. */
    cr_expect_str_eq(c->products[c->popular[0].product].sku, "P-149");
    cr_expect_str_eq(c->products[c->popular[1].product].sku, "P-49");
    arb_catalog_release(c);
    /* Fewer in stock than the bound: all of them. */
    c = parse(FULL);
    cr_assert_not_null(c);
    uint32_t in_stock = 0;
    for (uint32_t i = 0; i < c->n_products; i++) in_stock += c->products[i].in_stock;
    cr_expect_eq(c->n_popular, in_stock);
    arb_catalog_release(c);
}

Test(catalog, checksum_and_bytes)
{
    arb_catalog_t *a = parse(FULL), *b = parse(FULL "\n"), *c = parse(FULL);
    cr_assert(a && b && c, "%s", all_problems());
    cr_expect_eq(strlen(a->checksum), 16);
    cr_expect_str_eq(a->checksum, c->checksum);
    cr_expect_str_neq(a->checksum, b->checksum, "one more byte");
    cr_expect_gt(a->bytes, sizeof *a + 4 * sizeof(arb_product_t));
    cr_expect_gt(a->loaded_at, 1700000000);
    arb_catalog_release(a);
    arb_catalog_release(b);
    arb_catalog_release(c);
}

Test(catalog, retain_and_release)
{
    arb_catalog_t *c = parse(FULL);
    cr_assert_not_null(c);
    cr_expect_eq(atomic_load(&c->refs), 1);
    cr_expect_eq(arb_catalog_retain(c), c);
    cr_expect_eq(atomic_load(&c->refs), 2);
    arb_catalog_release(c);
    cr_expect_eq(atomic_load(&c->refs), 1, "still held");
    cr_expect_str_eq(arb_catalog_find(c, "LT-100", 6)->name, "Ultrabook 14");
    arb_catalog_release(c);     /* the last: freed (ASan sees a leak otherwise) */
    cr_expect_null(arb_catalog_retain(NULL));
    arb_catalog_release(NULL);
}

Test(catalog, an_empty_file_is_an_empty_catalog)
{
    arb_catalog_t *c = parse("# nothing yet\n\n");
    cr_assert_not_null(c, "%s", all_problems());
    cr_expect_eq(c->n_products, 0);
    arb_catalog_release(c);
}

Test(catalog, load_reads_a_file_and_names_it)
{
    char path[] = "/tmp/arb-catalog-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, FULL, strlen(FULL)), (ssize_t)strlen(FULL));
    close(fd);
    arb_catalog_t *c = arb_catalog_load(path, NULL, &P);
    cr_assert_not_null(c, "%s", all_problems());
    cr_expect_str_eq(c->path, path);
    cr_expect_eq(c->n_products, 4);
    arb_catalog_release(c);
    unlink(path);
    cr_expect_null(arb_catalog_load(path, "gone.jsonl", &P));
    cr_expect(strstr(all_problems(), "gone.jsonl: cannot read the catalog"), "%s", all_problems());
}

/* ---- size */

Test(catalog, a_catalog_of_100000_products_loads, .timeout = 60)
{
    const unsigned n = 100000;
    char *text = malloc((size_t)n * 400), *p = text;
    for (unsigned i = 0; i < n; i++)
        p += sprintf(p, "{\"sku\": \"SK-%u\", \"name\": \"Product %u\", \"category\": \"cat%u\", "
                     "\"brand\": \"brand%u\", \"price\": %u.99, \"tags\": [\"t%u\", \"sale\"], "
                     "\"relations\": {\"similar\": [\"SK-%u\", \"SK-%u\"]}}\n",
                     i, i, i % 40, i % 300, i % 500, i % 20, (i + 1) % n, (i + 7) % n);
    arb_problems_free(&P);
    arb_catalog_t *c = arb_catalog_parse(text, (size_t)(p - text), "big.jsonl", &P);
    free(text);
    cr_assert_not_null(c, "%s", all_problems());
    cr_expect_eq(c->n_products, n);
    const arb_product_t *x = arb_catalog_find(c, "SK-99999", 8);
    cr_assert_not_null(x);
    cr_expect_str_eq(x->name, "Product 99999");
    const uint32_t *ids;
    cr_assert_eq(arb_catalog_related(c, x, arb_symtab_find(&c->relations, "similar", 7), &ids), 2);
    cr_expect_str_eq(c->products[ids[0]].sku, "SK-0");
    cr_expect_str_eq(c->products[ids[1]].sku, "SK-6");
    cr_expect_lt(c->bytes / n, 1000, "compact: %zu bytes a product", c->bytes / n);
    arb_catalog_release(c);
}
