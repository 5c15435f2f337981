/* Differential test of decide/recommend.c's two ways to choose: with
 * explain every candidate is scored and sorted; without, the best `count`
 * are kept as they come (top_add: a held list, one per diversity key, that
 * turns a candidate away on one comparison once full). Both must choose the
 * same products in the same order, for any catalog and history: random
 * catalogs with many ties in popularity and price (ties are broken by sku),
 * relations that name a product twice, products out of stock; random
 * purchases, views and recommended events; each source (relations of both
 * seeds, the popular list, both) with and without diversity and exclusions.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "tests/support/rulefix.h"

TestSuite(recommend_same, .init = rf_setup, .fini = rf_teardown);

enum { PRODUCTS = 240, CONTEXTS = 60 };

/* A small deterministic generator: the same catalog on every run. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        cr_assert(n >= 0);
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = (*cap + (size_t)n) * 2;
        *buf = realloc(*buf, *cap);
        cr_assert(*buf);
    }
}

static void append_list(char **buf, size_t *len, size_t *cap, const char *name, uint32_t self)
{
    uint32_t n = 1 + rnd(12);
    append(buf, len, cap, "\"%s\": [", name);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t to = rnd(PRODUCTS);
        if (to == self) to = (to + 1) % PRODUCTS;   /* a relation may not name its product */
        append(buf, len, cap, "%s\"P-%03u\"", k ? ", " : "", to);
    }
    append(buf, len, cap, "]");
}

static char *catalog(void)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    cr_assert(buf);
    for (uint32_t i = 0; i < PRODUCTS; i++) {
        append(&buf, &len, &cap,
               "{\"sku\": \"P-%03u\", \"category\": \"c%u\", \"brand\": \"b%u\", \"price\": %u, "
               "\"popularity\": %.1f, \"in_stock\": %s, \"relations\": {",
               i, rnd(9), rnd(7), 10 * (1 + rnd(8)), rnd(11) / 10.0, rnd(10) ? "true" : "false");
        append_list(&buf, &len, &cap, "complements", i);
        append(&buf, &len, &cap, ", ");
        append_list(&buf, &len, &cap, "similar", i);
        append(&buf, &len, &cap, "}}\n");
    }
    return buf;
}

/* A random history, as the context's purchases and events. */
static char *context(bool explain)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    cr_assert(buf);
    append(&buf, &len, &cap, "{\"explain\": %s, \"purchases\": [", explain ? "true" : "false");
    uint32_t n = rnd(6);
    for (uint32_t k = 0; k < n; k++)
        append(&buf, &len, &cap, "%s{\"sku\": \"P-%03u\", \"ts\": %lld}", k ? ", " : "", rnd(PRODUCTS),
               AGO_DAYS(rnd(120)));
    append(&buf, &len, &cap, "], \"events\": [");
    n = rnd(10);
    for (uint32_t k = 0; k < n; k++)
        append(&buf, &len, &cap, "%s{\"type\": \"%s\", \"sku\": \"P-%03u\", \"ts\": %lld}", k ? ", " : "",
               rnd(3) ? "view" : "recommended", rnd(PRODUCTS), AGO_DAYS(rnd(60)));
    append(&buf, &len, &cap, "]}");
    return buf;
}

/* The chosen products of action "reco", as "sku,sku"; "-" when not chosen. */
static void chosen(char *out, size_t cap)
{
    const arb_decided_action_t *a = rf_chosen_action(&R, "reco");
    if (!a) {
        snprintf(out, cap, "-");
        return;
    }
    const arb_catalog_t *cat = rf_decision(&R)->catalog;
    out[0] = 0;
    for (uint32_t i = 0; i < a->n_products; i++) {
        strncat(out, cat->products[a->products[i]].sku, cap - strlen(out) - 2);
        strcat(out, ",");
    }
}

static const char *const SPECS[] = {
    "from = 'popular', count = 4, diverse = 'category'",
    "from = 'popular', count = 6, score = { popularity = 1 }",
    "from = 'popular', count = 3, diverse = 'brand', score = { affinity = 1, price_band = 1 }",
    "from = { 'complements', 'similar' }, seeds = 'both', within = days(90), count = 3,"
    " exclude = { 'owned', 'shown', 'seed_category' }, diverse = 'category',"
    " score = { affinity = 1, popularity = 1, price_band = 1 }",
    "from = 'complements', within = days(30), count = 5",
    "from = { 'similar', 'popular' }, seeds = 'views', count = 8, diverse = 'brand', exclude = { 'shown' }",
    "from = 'complements', count = 1, score = { popularity = 1 }",
};

Test(recommend_same, explain_and_plain_choose_the_same_products_in_the_same_order)
{
    char *cat = catalog();
    uint32_t compared = 0, with_products = 0;
    for (size_t s = 0; s < sizeof SPECS / sizeof *SPECS; s++) {
        char *rules = NULL;
        cr_assert(asprintf(&rules, "catalog \"products.jsonl\"\n"
                                   "action \"reco\" { channels = { \"web\" }, value = 10,\n"
                                   "  recommend = { %s } }\n", SPECS[s]) > 0);
        for (char *c = rules; *c; c++)
            if (*c == '\'') *c = '"';
        cr_assert(rf_load(&R, "products.jsonl", cat, "a.lua", rules, NULL), "%s", rf_problems(&R));
        free(rules);
        for (uint32_t k = 0; k < CONTEXTS; k++) {
            uint32_t seed = rnd_state;
            char *plain = context(false);
            rnd_state = seed;   /* the same history, with explain */
            char *explained = context(true);
            char a[4096], b[4096];
            rf_decide(&R, "%s", explained);
            chosen(a, sizeof a);
            rf_decide(&R, "%s", plain);
            chosen(b, sizeof b);
            cr_expect_str_eq(b, a, "spec %zu, context %s", s, plain);
            compared++;
            with_products += strcmp(a, "-") != 0;
            free(plain);
            free(explained);
        }
    }
    free(cat);
    /* The comparison means something only when products were chosen. */
    cr_expect_gt(with_products, compared / 2, "%u of %u decisions chose products", with_products, compared);
}
