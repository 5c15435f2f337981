/* Unit tests for recommend's seedless source, `from = "popular"`, and for
 * what a decision reads of a catalog swapped in by a catalog-only reload
 * (ruleset/compile_recommend.c, ruleset/catalog_pack.c,
 * decide/recommend.c): the catalog's most popular products in stock reach
 * a customer with no history, filtered (owned, shown, where) and ranked
 * like any candidate, with diversity; a relation and the popular list
 * together; a catalog with its relations numbered differently is followed
 * by name; a stock-only catalog changes the popular list; every misuse is
 * a load problem at the action's file:line. Real catalogs, real decisions.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "engine/decide/decide.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(recommend_popular, .init = rf_setup, .fini = rf_teardown);

#define P(line) line "\n"
/* Popularity: HS-1 0.9 (out of stock), TV-1 0.8, TV-2 0.8, PH-1 0.7,
 * LT-1 0.6 (with complements), MS-1 0.3, BG-1 0.2, none for NP-1. */
static const char *const PRODUCTS =
    P("{'sku':'HS-1','category':'headset','brand':'Sono','price':90,'popularity':0.9,'in_stock':false}")
    P("{'sku':'TV-2','category':'tv','brand':'Vizo','price':500,'popularity':0.8}")
    P("{'sku':'TV-1','category':'tv','brand':'Vizo','price':700,'popularity':0.8}")
    P("{'sku':'PH-1','category':'phone','brand':'Acme','price':400,'popularity':0.7}")
    P("{'sku':'LT-1','category':'laptop','brand':'Acme','price':1000,'popularity':0.6,"
      "'relations':{'complements':['MS-1','BG-1']}}")
    P("{'sku':'MS-1','category':'mouse','brand':'Acme','price':30,'popularity':0.3}")
    P("{'sku':'BG-1','category':'bag','brand':'Zed','price':60,'popularity':0.2,"
      "'relations':{'similar':['MS-1']}}")
    P("{'sku':'NP-1','category':'cable','brand':'Zed','price':5}");

static char *quoted(const char *s)
{
    char *t = strdup(s);
    for (char *c = t; *c; c++)
        if (*c == '\'') *c = '"';
    return t;
}

static bool load(const char *rules)
{
    char *cat = quoted(PRODUCTS), *text = NULL;
    cr_assert(asprintf(&text, "catalog 'products.jsonl'\n%s", rules) > 0);
    bool ok = rf_load(&R, "products.jsonl", cat, "a.lua", text, NULL);
    free(cat);
    free(text);
    return ok;
}

static const char *skus(const char *id)
{
    static char buf[512];
    const arb_decided_action_t *a = rf_chosen_action(&R, id);
    if (!a) return "-";
    const arb_catalog_t *cat = rf_decision(&R)->catalog;
    buf[0] = 0;
    for (uint32_t i = 0; i < a->n_products; i++) {
        if (i) strcat(buf, ",");
        strcat(buf, cat->products[a->products[i]].sku);
    }
    return buf;
}

#define BEST(body) "fallback 'best' { channels = { 'web' }, value = 1, recommend = { " body " } }\n"

Test(recommend_popular, a_customer_without_history_gets_the_most_popular_in_stock)
{
    cr_assert(load(BEST("from = 'popular', count = 4")), "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    /* HS-1 is more popular but out of stock; the two tvs tie, by sku. */
    cr_expect_str_eq(skus("best"), "TV-1,TV-2,PH-1,LT-1", "%s", rf_dump(&R));
    /* No history: the score is popularity x 1/2 (affinity weighs 1, gives 0). */
    cr_expect_float_eq(rf_priority(&R, "best"), 0.4, 1e-12);
}

Test(recommend_popular, popular_products_are_filtered_and_ranked_like_any_candidate)
{
    cr_assert(load(BEST("from = 'popular', count = 3, diverse = 'category'")), "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'TV-1','ts':%lld}],"
                  "'events':[{'type':'recommended','sku':'PH-1','ts':%lld}]}",
              AGO_DAYS(400), AGO_DAYS(1));
    /* TV-1 owned, PH-1 shown; TV-2 is a tv like TV-1 (the customer's
     * taste: affinity), then one per category: not a second tv. */
    cr_expect_str_eq(skus("best"), "TV-2,LT-1,MS-1", "%s", rf_dump(&R));
    const char *json = rf_json(&R, rf_get(rf_explained(&R, "best"), "products"));
    cr_expect(strstr(json, "{\"sku\":\"TV-1\",\"chosen\":false,\"reason\":\"owned\"}"), "%s", json);
    cr_expect(strstr(json, "{\"sku\":\"PH-1\",\"chosen\":false,\"reason\":\"shown\"}"), "%s", json);
    cr_expect_null(strstr(json, "HS-1"), "out of stock: never in the popular list: %s", json);
}

Test(recommend_popular, where_filters_the_popular_list)
{
    cr_assert(load(BEST("from = 'popular', where = { brand = 'Acme' }")), "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(skus("best"), "PH-1,LT-1,MS-1");
}

Test(recommend_popular, a_relation_and_the_popular_list_together)
{
    cr_assert(load(BEST("from = { 'complements', 'popular' }, count = 20, score = { popularity = 1 }")),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'purchases':[{'sku':'LT-1','ts':%lld}]}", AGO_DAYS(3));
    /* The laptop's complements are in the popular list too (every product
     * in stock is: 7 < 100): each product once, the owned laptop out. */
    cr_expect_str_eq(skus("best"), "TV-1,TV-2,PH-1,MS-1,BG-1,NP-1");
}

/* ---- a catalog swapped in (a catalog-only reload) --------------------- */

static arb_catalog_t *parse(const char *text)
{
    arb_problems_t p = { 0 };
    char *t = quoted(text);
    arb_catalog_t *c = arb_catalog_parse(t, strlen(t), "products.jsonl", &p);
    free(t);
    cr_assert(c, "%s", p.n ? p.items[0] : "?");
    arb_problems_free(&p);
    return c;
}

Test(recommend_popular, a_new_catalog_numbering_its_relations_otherwise_is_followed_by_name)
{
    cr_assert(load("action 'acc' { channels = { 'web' }, value = 1, recommend = { from = 'complements' } }\n"),
              "%s", rf_problems(&R));
    /* Here "similar" is the first relation read, "complements" the second. */
    arb_catalog_t *c = parse(P("{'sku':'BG-1','category':'bag','relations':{'similar':['MS-1']}}")
                             P("{'sku':'MS-1','category':'mouse'}")
                             P("{'sku':'SL-1','category':'sleeve'}")
                             P("{'sku':'LT-1','category':'laptop','relations':{'similar':['BG-1'],"
                               "'complements':['SL-1']}}"));
    cr_assert_neq(arb_symtab_find(&c->relations, "complements", 11), arb_symtab_find(&R.rs->catalog->relations, "complements", 11));
    const char *ctx = "{'purchases':[{'sku':'LT-1','ts':%lld}]}";
    rf_decide(&R, ctx, AGO_DAYS(3));
    cr_expect_str_eq(skus("acc"), "MS-1,BG-1", "the ruleset's own catalog");
    arb_decider_set_catalog(R.d, R.rs, c);
    rf_decide(&R, ctx, AGO_DAYS(3));
    cr_expect_str_eq(skus("acc"), "SL-1", "the new catalog's complements, not its similar");
    arb_decider_set_catalog(R.d, R.rs, NULL);
    arb_catalog_release(c);
}

Test(recommend_popular, a_stock_only_catalog_changes_the_popular_list)
{
    cr_assert(load(BEST("from = 'popular', count = 2")), "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(skus("best"), "TV-1,TV-2");
    /* The same products, the tvs sold out and the headset back. */
    arb_catalog_t *c = parse(P("{'sku':'HS-1','category':'headset','popularity':0.9,'in_stock':3}")
                             P("{'sku':'TV-2','category':'tv','popularity':0.8,'in_stock':0}")
                             P("{'sku':'TV-1','category':'tv','popularity':0.8,'in_stock':false}")
                             P("{'sku':'PH-1','category':'phone','popularity':0.7}"));
    arb_decider_set_catalog(R.d, R.rs, c);
    rf_decide(&R, "{}");
    cr_expect_str_eq(skus("best"), "HS-1,PH-1");
    arb_decider_set_catalog(R.d, R.rs, NULL);
    arb_catalog_release(c);
}

/* ---- misuse: load problems at the action's line ----------------------- */

#define A(body) "action 'x' { channels = { 'web' }, value = 1, recommend = { " body " } }\n"

static void expect_problem(const char *rules, const char *needle)
{
    cr_assert_not(load(rules), "loaded: %s", rules);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2: action 'x': recommend: ", needle, NULL),
                       "want '%s' in:\n%s", needle, rf_problems(&R));
}

Test(recommend_popular, seed_fields_with_popular_alone_are_mistakes)
{
    expect_problem(A("from = 'popular', seeds = 'views'"),
                   "'seeds' does nothing with from = \"popular\" alone");
    expect_problem(A("from = 'popular', within = days(3)"),
                   "'within' does nothing with from = \"popular\" alone");
    expect_problem(A("from = { 'popular' }, exclude = { 'seed_category' }"),
                   "'exclude': \"seed_category\" needs seeds");
    expect_problem(A("from = { 'popular', 'popular' }"), "'from' names \"popular\" twice");
    /* With a relation beside it, the seeds choose that relation's. */
    cr_expect(load(A("from = { 'complements', 'popular' }, seeds = 'views', within = days(3), "
                     "exclude = { 'seed_category' }")), "%s", rf_problems(&R));
}

Test(recommend_popular, a_catalog_relation_named_popular_is_a_mistake_when_popular_is_asked_for)
{
    const char *cat = "{\"sku\":\"A\",\"relations\":{\"popular\":[\"B\"]}}\n{\"sku\":\"B\"}\n";
    cr_assert_not(rf_load(&R, "products.jsonl", cat, "a.lua",
                          "catalog 'products.jsonl'\n" A("from = 'popular'"), NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2: action 'x': recommend: 'from': \"popular\" is the catalog's most "
                                       "popular products, but the catalog products.jsonl also has a relation named "
                                       "'popular'", NULL), "%s", rf_problems(&R));
    /* Not asked for: the relation is the catalog's business. */
    const char *both = "{\"sku\":\"A\",\"relations\":{\"popular\":[\"B\"],\"similar\":[\"B\"]}}\n{\"sku\":\"B\"}\n";
    cr_expect(rf_load(&R, "products.jsonl", both, "a.lua", "catalog 'products.jsonl'\n" A("from = 'similar'"), NULL),
              "%s", rf_problems(&R));
}
