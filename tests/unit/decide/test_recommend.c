/* Unit tests for recommending actions (ruleset/compile_recommend.c,
 * decide/recommend.c): a real catalog file loaded with the ruleset, real
 * decisions. Complements after a laptop are never a laptop nor what the
 * customer owns; after a red dress the clutch and the lipstick (where);
 * similar designers from the catalog's relations; out of stock never
 * chosen; diversity, min, score order, the priority times the best score,
 * explain's products, "shown" from recommended events; every load problem
 * at its file:line, and arb_recommend_check against a catalog parsed alone.
 * The seedless source `from = "popular"` and a catalog swapped in by a
 * catalog-only reload (its relations numbered otherwise) at the end.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/decide/decide.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/recommend.h"
#include "tests/support/rulefix.h"

TestSuite(recommend, .init = rf_setup, .fini = rf_teardown);

#define P(line) line "\n"
static const char *const PRODUCTS =
    P("{'sku':'LT-100','name':'Ultrabook 14','category':'laptop','brand':'Acme','price':1000,'popularity':0.9,"
      "'relations':{'complements':['MS-100','BG-100','LT-200','CH-100','SL-100','MS-200']}}")
    P("{'sku':'LT-200','category':'laptop','brand':'Acme','price':1200,'popularity':1.0}")
    P("{'sku':'MS-100','category':'mouse','brand':'Acme','price':30,'popularity':0.5}")
    P("{'sku':'MS-200','category':'mouse','brand':'Zed','price':40,'popularity':0.6}")
    P("{'sku':'BG-100','category':'bag','brand':'Zed','price':60,'popularity':0.4}")
    P("{'sku':'CH-100','category':'charger','brand':'Acme','price':50,'popularity':0.99,'in_stock':false}")
    P("{'sku':'SL-100','category':'sleeve','brand':'Acme','price':25,'popularity':0.95}")
    P("{'sku':'DR-RED','category':'dress','color':'red','brand':'Rossa','price':180,'popularity':0.7,"
      "'relations':{'complements':['CL-1','LS-1','SH-1','CL-2']}}")
    P("{'sku':'CL-1','category':'clutch','color':'red','brand':'Rossa','price':80,'popularity':0.5,'tags':['evening']}")
    P("{'sku':'LS-1','category':'lipstick','color':'red','brand':'Glow','price':25,'popularity':0.6,'tags':['evening']}")
    P("{'sku':'SH-1','category':'shoes','color':'red','brand':'Rossa','price':150,'popularity':0.9}")
    P("{'sku':'CL-2','category':'clutch','color':'black','brand':'Rossa','price':90,'popularity':0.95,'in_stock':0}")
    P("{'sku':'DS-A','category':'handbag','brand':'Chloe','price':900,'popularity':0.5,"
      "'relations':{'similar':['DS-B','DS-E','DS-C']}}")
    P("{'sku':'DS-B','category':'handbag','brand':'Celine','price':950,'popularity':0.9}")
    P("{'sku':'DS-E','category':'handbag','brand':'Celine','price':700,'popularity':0.8}")
    P("{'sku':'DS-C','category':'handbag','brand':'Fendi','price':800,'popularity':0.5}");

/* A catalog as its file holds it: JSON with double quotes. */
static char *quoted(const char *products)
{
    char *s = strdup(products);
    for (char *c = s; *c; c++)
        if (*c == '\'') *c = '"';
    return s;
}

static char *catalog_text(void) { return quoted(PRODUCTS); }

static bool load_with(const char *products, const char *rules)
{
    char *cat = quoted(products);
    char *text = NULL;
    cr_assert(asprintf(&text, "catalog 'products.jsonl'\n%s", rules) > 0);
    bool ok = rf_load(&R, "products.jsonl", cat, "a.lua", text, NULL);
    free(cat);
    free(text);
    return ok;
}

static bool load(const char *rules) { return load_with(PRODUCTS, rules); }

/* The chosen products of action id, as "sku,sku"; "-" when not chosen. */
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

#define LAPTOP_ACTION(extra)                                                           \
    "action 'accessories' { channels = { 'web' }, value = 10,\n"                       \
    "  recommend = { from = 'complements', exclude = { 'owned', 'shown', 'seed_category' }" extra " } }\n"

Test(recommend, complements_after_a_laptop_are_never_a_laptop_nor_owned_nor_out_of_stock)
{
    cr_assert(load(LAPTOP_ACTION(", count = 5")), "%s", rf_problems(&R));
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','category':'laptop','price':1000,'ts':%lld},"
                  "{'sku':'SL-100','category':'sleeve','price':25,'ts':%lld}]}",
              AGO_DAYS(2), AGO_DAYS(400));
    const char *got = skus("accessories");
    cr_assert_str_neq(got, "-", "%s", rf_dump(&R));
    cr_expect_null(strstr(got, "LT-"), "no second laptop: %s", got);
    cr_expect_null(strstr(got, "SL-100"), "owned: %s", got);
    cr_expect_null(strstr(got, "CH-100"), "out of stock: %s", got);
    /* affinity to Acme, the laptop's brand, puts the Acme mouse (0.5) above
     * the more popular Zed one (0.3), then the bag (0.2) */
    cr_expect_str_eq(got, "MS-100,MS-200,BG-100");
}

Test(recommend, without_seed_category_the_second_laptop_may_come_and_explain_says_why_each_lost)
{
    cr_assert(load("action 'acc' { channels = { 'web' }, value = 10,"
                   " recommend = { from = 'complements', count = 2, score = { popularity = 1 } } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'LT-100','ts':%lld},{'sku':'SL-100','ts':%lld}]}",
              AGO_DAYS(2), AGO_DAYS(3));
    cr_expect_str_eq(skus("acc"), "LT-200,MS-200");
    const msgpack_object *x = rf_get(rf_explained(&R, "acc"), "products");
    cr_assert(x && x->type == MSGPACK_OBJECT_ARRAY, "%s", rf_dump(&R));
    const char *json = rf_json(&R, x);
    cr_expect(strstr(json, "{\"sku\":\"LT-200\",\"score\":1.0,\"chosen\":true,\"reason\":\"chosen\"}"), "%s", json);
    cr_expect(strstr(json, "{\"sku\":\"MS-100\",\"score\":0.5,\"chosen\":false,\"reason\":\"outranked\"}"), "%s", json);
    cr_expect(strstr(json, "{\"sku\":\"SL-100\",\"chosen\":false,\"reason\":\"owned\"}"), "%s", json);
    cr_expect(strstr(json, "{\"sku\":\"CH-100\",\"chosen\":false,\"reason\":\"out_of_stock\"}"), "%s", json);
    cr_expect_eq(x->via.array.size, 6, "every related product once: %s", json);
}

Test(recommend, after_a_red_dress_the_clutch_and_the_lipstick)
{
    cr_assert(load("action 'complete_the_look' { channels = { 'web' }, value = 30,\n"
                   "  when = bought('dress', within(days(30))),\n"
                   "  recommend = { from = 'complements', within = days(30),\n"
                   "    where = { price = below(100), category = one_of { 'clutch', 'lipstick' } } },\n"
                   "  payload = { template = 'grid' } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'DR-RED','category':'dress','price':180,'ts':%lld}]}",
              AGO_DAYS(5));
    cr_expect_str_eq(skus("complete_the_look"), "CL-1,LS-1", "the dress's brand first");
    const char *json = rf_json(&R, rf_get(rf_explained(&R, "complete_the_look"), "products"));
    cr_expect(strstr(json, "{\"sku\":\"SH-1\",\"chosen\":false,\"reason\":\"where\"}"), "%s", json);
    cr_expect(strstr(json, "{\"sku\":\"CL-2\",\"chosen\":false,\"reason\":\"out_of_stock\"}"), "%s", json);
}

Test(recommend, where_reads_tags_by_membership_and_colors_by_value)
{
    cr_assert(load("action 'look' { channels = { 'web' }, value = 30,\n"
                   "  recommend = { from = 'complements', where = { tags = 'evening', color = 'red' } } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'purchases':[{'sku':'DR-RED','ts':%lld}]}", AGO_DAYS(5));
    cr_expect_str_eq(skus("look"), "CL-1,LS-1");
}

Test(recommend, similar_designers_from_views_with_one_per_brand)
{
    cr_assert(load("action 'designers' { channels = { 'web' }, value = 5,\n"
                   "  recommend = { from = 'similar', seeds = 'views', diverse = 'brand',\n"
                   "                score = { popularity = 1 } } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'events':[{'type':'view','sku':'DS-A','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(skus("designers"), "DS-B,DS-C", "DS-E is a second Celine");
    const char *json = rf_json(&R, rf_get(rf_explained(&R, "designers"), "products"));
    cr_expect(strstr(json, "\"sku\":\"DS-E\",\"score\":0.8,\"chosen\":false,\"reason\":\"diversity\""), "%s", json);
    /* Without explain the best are kept as they come, not sorted: the same choice. */
    rf_decide(&R, "{'events':[{'type':'view','sku':'DS-A','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(skus("designers"), "DS-B,DS-C");
    /* A purchase is not a view: seeds = 'views' finds nothing from it. */
    rf_decide(&R, "{'purchases':[{'sku':'DS-A','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "");
}

Test(recommend, fewer_than_min_is_not_eligible_with_reason_no_products)
{
    cr_assert(load("action 'trio' { channels = { 'web' }, value = 5,"
                   " recommend = { from = 'similar', seeds = 'both', count = 3, min = 3 } }\n"
                   "action 'duo' { channels = { 'web' }, value = 1,"
                   " recommend = { from = 'similar', seeds = 'both', count = 3, min = 2, diverse = 'brand' } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'DS-A','ts':%lld}],"
                  "'events':[{'type':'recommended','sku':'DS-B','ts':%lld}]}",
              AGO_DAYS(1), AGO_DAYS(2));
    cr_expect_str_eq(rf_reason(&R, "trio"), "no products", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_ids(&R), "duo");
    cr_expect_str_eq(skus("duo"), "DS-E,DS-C");
    const char *json = rf_json(&R, rf_get(rf_explained(&R, "trio"), "products"));
    cr_expect(strstr(json, "{\"sku\":\"DS-B\",\"chosen\":false,\"reason\":\"shown\"}"), "%s", json);
    /* Shown more than shown_within (7 days) ago: shown again. */
    rf_decide(&R, "{'purchases':[{'sku':'DS-A','ts':%lld}],"
                  "'events':[{'type':'impression','sku':'DS-B','ts':%lld}]}",
              AGO_DAYS(1), AGO_DAYS(8));
    cr_expect_str_eq(skus("trio"), "DS-B,DS-E,DS-C");
}

Test(recommend, no_seed_within_the_window_finds_nothing)
{
    cr_assert(load("action 'acc' { channels = { 'web' }, value = 5,"
                   " recommend = { from = 'complements', within = days(30) } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(31));
    cr_expect_str_eq(rf_reason(&R, "acc"), "no products");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(29));
    cr_expect_str_eq(rf_ids(&R), "acc");
}

Test(recommend, affinity_to_the_customers_brands_ranks_above_popularity)
{
    cr_assert(load("action 'acc' { channels = { 'web' }, value = 10, recommend = {\n"
                   "  from = 'complements', count = 2, exclude = { 'owned', 'seed_category' },\n"
                   "  score = { affinity = 3, popularity = 1 } } }\n"),
              "%s", rf_problems(&R));
    /* A Zed customer: the Zed bag and mouse pass the Acme mouse. */
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}],"
                  "'events':[{'type':'view','sku':'BG-100','ts':%lld},{'type':'view','sku':'MS-200','ts':%lld},"
                  "{'type':'view','sku':'BG-100','ts':%lld}]}",
              AGO_DAYS(1), AGO_DAYS(1), AGO_DAYS(1), AGO_DAYS(1));
    cr_expect_str_eq(skus("acc"), "BG-100,MS-200", "%s", rf_dump(&R));
}

Test(recommend, the_priority_is_the_usual_product_times_the_best_score)
{
    cr_assert(load("action 'acc' { channels = { 'web' }, value = 10, lever = 2,"
                   " recommend = { from = 'complements', exclude = { 'owned', 'seed_category' },"
                   " score = { popularity = 1 } } }\n"),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(skus("acc"), "SL-100,MS-200,MS-100");
    cr_expect_float_eq(rf_priority(&R, "acc"), 10 * 2 * 0.95, 1e-12);
}

Test(recommend, price_band_and_model_scores_rank_as_declared)
{
    cr_assert(load("models { 'reco' }\n"
                   "action 'pb' { channels = { 'web' }, value = 1, recommend = { from = 'complements',"
                   " count = 1, exclude = { 'owned', 'seed_category' }, score = { price_band = 1 } } }\n"
                   "action 'md' { channels = { 'web' }, value = 1, recommend = { from = 'complements',"
                   " count = 1, exclude = { 'owned', 'seed_category' }, score = { model = 1 }, model = 'reco' } }\n"),
              "%s", rf_problems(&R));
    /* The mean purchase price is 50: the charger is out, the bag (60) is nearest. */
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','price':40,'ts':%lld},{'sku':'SL-100','price':60,'ts':%lld}],"
                  "'scores':{'reco:MS-100':0.9,'reco:BG-100':0.3}}",
              AGO_DAYS(1), AGO_DAYS(1));
    cr_expect_str_eq(skus("pb"), "BG-100");
    cr_expect_str_eq(skus("md"), "MS-100");
    cr_expect_float_eq(rf_priority(&R, "md"), 0.9, 1e-12);
}

Test(recommend, a_ruleset_without_recommend_decides_as_before)
{
    cr_assert(load("action 'plain' { channels = { 'web' }, value = 3 }\n"), "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "plain");
    cr_expect_null(rf_chosen_action(&R, "plain")->products);
    cr_expect_null(rf_get(rf_explained(&R, "plain"), "products"), "no products key");
}

/* ---- load problems ---------------------------------------------------- */

static void expect_problem(const char *rules, const char *needle)
{
    cr_assert_not(load(rules), "loaded: %s", rules);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:", needle, NULL), "want '%s' in:\n%s", needle, rf_problems(&R));
}

#define A(body) "action 'x' { channels = { 'web' }, value = 1, recommend = { " body " } }\n"

Test(recommend, mistakes_are_problems_at_the_actions_line)
{
    expect_problem(A("from = 'complements', seeds = 'wishes'"), "'seeds' must be");
    expect_problem(A("from = 'complements', exclude = { 'old' }"), "'exclude': unknown 'old'");
    expect_problem(A("from = 'complements', diverse = 'color'"), "'diverse' must be");
    expect_problem(A("from = 'complements', count = 21"), "'count' must be between 1 and 20");
    expect_problem(A("from = 'complements', count = 2, min = 3"), "'min' (3) is above 'count' (2)");
    expect_problem(A("from = 'complements', score = { affinity = -1 }"), "'affinity' must be between 0");
    expect_problem(A("from = 'complements', score = { affinity = 0 }"), "every weight is 0");
    expect_problem(A("from = 'complements', colour = 'red'"), "unknown field 'colour'");
    expect_problem(A("seeds = 'views'"), "'from' is required");
    expect_problem(A("from = 'accessories'"), "no product of the catalog");
    expect_problem(A("from = 'complements', where = { price = {} }"), "field 'price' must be");
    expect_problem(A("from = 'complements', score = { model = 1 }"), "no 'model' is named");
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2: action 'x': recommend:", NULL), "%s", rf_problems(&R));
}

Test(recommend, recommend_without_a_catalog_says_to_declare_it)
{
    cr_assert_not(rf_load(&R, "a.lua", A("from = 'complements'"), NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:1: action 'x'", "declare the catalog: catalog \"products.jsonl\"", NULL),
                       "%s", rf_problems(&R));
}

Test(recommend, the_catalog_may_be_declared_in_another_file)
{
    char *cat = catalog_text();
    bool ok = rf_load(&R, "products.jsonl", cat, "a.lua", A("from = 'complements'"), "z.lua",
                      "catalog 'products.jsonl'\n", NULL);
    free(cat);
    cr_assert(ok, "%s", rf_problems(&R));
    cr_expect_not_null(R.rs->action_recommend);
    cr_expect(R.rs->hot[0].flags & ARB_HOT_RECOMMEND);
}

Test(recommend, recommend_check_runs_against_a_catalog_parsed_alone)
{
    char *text = catalog_text();
    cr_assert(load(A("from = { 'complements', 'similar' }")), "%s", rf_problems(&R));
    arb_problems_t p = { 0 };
    arb_catalog_t *cat = arb_catalog_parse(text, strlen(text), "products.jsonl", &p);
    cr_assert_not_null(cat, "%s", p.n ? p.items[0] : "");
    cr_expect_eq(arb_recommend_check(R.rs, cat, &p), 0);
    arb_catalog_release(cat);
    const char *only = "{\"sku\":\"A\",\"relations\":{\"similar\":[\"B\"]}}\n{\"sku\":\"B\"}\n";
    cat = arb_catalog_parse(only, strlen(only), "products.jsonl", &p);
    cr_assert_not_null(cat);
    cr_expect_eq(arb_recommend_check(R.rs, cat, &p), 1);
    cr_expect(p.n == 1 && strstr(p.items[0], "a.lua:2: action 'x': recommend: 'from': no product of the catalog") &&
                  strstr(p.items[0], "'complements' (its relations: similar)"),
              "%s", p.n ? p.items[0] : "");
    arb_catalog_release(cat);
    arb_problems_free(&p);
    free(text);
}

/* ---- the seedless source, from = "popular" ----------------------------
 *
 * The catalog's most popular products in stock reach a customer with no
 * history, filtered (owned, shown, where) and ranked like any candidate,
 * with diversity; a relation and the popular list together; a stock-only
 * catalog changes the list; every misuse is a problem at the action's line.
 */

/* Popularity: HS-1 0.9 (out of stock), TV-1 0.8, TV-2 0.8, PH-1 0.7,
 * LT-1 0.6 (with complements), MS-1 0.3, BG-1 0.2, none for NP-1. */
static const char *const POPULAR =
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

#define BEST(body) "fallback 'best' { channels = { 'web' }, value = 1, recommend = { " body " } }\n"

Test(recommend, a_customer_without_history_gets_the_most_popular_in_stock)
{
    cr_assert(load_with(POPULAR, BEST("from = 'popular', count = 4")), "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    /* HS-1 is more popular but out of stock; the two tvs tie, by sku. */
    cr_expect_str_eq(skus("best"), "TV-1,TV-2,PH-1,LT-1", "%s", rf_dump(&R));
    /* No history: the score is popularity x 1/2 (affinity weighs 1, gives 0). */
    cr_expect_float_eq(rf_priority(&R, "best"), 0.4, 1e-12);
}

Test(recommend, popular_products_are_filtered_and_ranked_like_any_candidate)
{
    cr_assert(load_with(POPULAR, BEST("from = 'popular', count = 3, diverse = 'category'")), "%s", rf_problems(&R));
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

Test(recommend, where_filters_the_popular_list)
{
    cr_assert(load_with(POPULAR, BEST("from = 'popular', where = { brand = 'Acme' }")), "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(skus("best"), "PH-1,LT-1,MS-1");
}

Test(recommend, a_relation_and_the_popular_list_together)
{
    cr_assert(load_with(POPULAR, BEST("from = { 'complements', 'popular' }, count = 20, score = { popularity = 1 }")),
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

Test(recommend, a_new_catalog_numbering_its_relations_otherwise_is_followed_by_name)
{
    cr_assert(load_with(POPULAR, "action 'acc' { channels = { 'web' }, value = 1, recommend = { from = 'complements' } }\n"),
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

Test(recommend, a_stock_only_catalog_changes_the_popular_list)
{
    cr_assert(load_with(POPULAR, BEST("from = 'popular', count = 2")), "%s", rf_problems(&R));
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

static void expect_problem_at_line(const char *rules, const char *needle)
{
    cr_assert_not(load_with(POPULAR, rules), "loaded: %s", rules);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2: action 'x': recommend: ", needle, NULL),
                       "want '%s' in:\n%s", needle, rf_problems(&R));
}

Test(recommend, seed_fields_with_popular_alone_are_mistakes)
{
    expect_problem_at_line(A("from = 'popular', seeds = 'views'"),
                   "'seeds' does nothing with from = \"popular\" alone");
    expect_problem_at_line(A("from = 'popular', within = days(3)"),
                   "'within' does nothing with from = \"popular\" alone");
    expect_problem_at_line(A("from = { 'popular' }, exclude = { 'seed_category' }"),
                   "'exclude': \"seed_category\" needs seeds");
    expect_problem_at_line(A("from = { 'popular', 'popular' }"), "'from' names \"popular\" twice");
    /* With a relation beside it, the seeds choose that relation's. */
    cr_expect(load_with(POPULAR, A("from = { 'complements', 'popular' }, seeds = 'views', within = days(3), "
                     "exclude = { 'seed_category' }")), "%s", rf_problems(&R));
}

Test(recommend, a_catalog_relation_named_popular_is_a_mistake_when_popular_is_asked_for)
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
