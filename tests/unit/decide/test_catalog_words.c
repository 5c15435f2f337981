/* Unit tests for catalog words (engine/decide/eval_catalog.c through
 * arb_decide): a purchase or an event joined to a real catalog (made by
 * arb_catalog_parse) by its sku, so a field the record lacks is its
 * product's; lists (tags, relations) hold a string; a record's own field
 * wins; bought(category) and the candidate index see a product's category;
 * weights and explain read the same; no catalog keeps the old answers.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "tests/support/rulefix.h"

TestSuite(catalog_words, .init = rf_setup, .fini = rf_teardown);

static const char PRODUCTS[] =
    "{\"sku\": \"LT-100\", \"name\": \"Ultrabook 14\", \"category\": \"laptop\", \"brand\": \"acme\","
    " \"color\": \"silver\", \"price\": 999, \"tags\": [\"premium\", \"travel\"],"
    " \"relations\": {\"complements\": [\"MS-100\"]}, \"material\": \"aluminium\"}\n"
    "{\"sku\": \"MS-100\", \"name\": \"Mouse\", \"category\": \"mouse\", \"brand\": \"logi\","
    " \"color\": \"red\", \"price\": 25, \"in_stock\": false}\n"
    "{\"sku\": \"TS-1\", \"name\": \"Shirt\", \"category\": \"shirt\", \"brand\": \"zed\","
    " \"color\": \"red\", \"price\": 20}\n";

static arb_catalog_t *CAT;

/* Decide with the test catalog (arb_decider_set_catalog, as a catalog-only
 * reload does); the ruleset declares none. */
static void use_catalog(void)
{
    arb_problems_t p = { 0 };
    CAT = arb_catalog_parse(PRODUCTS, strlen(PRODUCTS), "products.jsonl", &p);
    cr_assert(CAT, "%s", p.n ? p.items[0] : "?");
    arb_problems_free(&p);
    arb_decider_set_catalog(R.d, R.rs, CAT);
}

static void load(const char *rules)
{
    cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s", rf_problems(&R));
}

#define WEB "channels = { 'web' }"

Test(catalog_words, bought_something_red_with_a_purchase_sent_by_sku_only)
{
    load("action 'red' { " WEB ", value = 2, when = bought { color = 'red' } }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    const char *ctx = "{'purchases':[{'sku':'TS-1','ts':%lld}]}";
    rf_decide(&R, ctx, AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "any", "no catalog: the purchase has no color");
    use_catalog();
    rf_decide(&R, ctx, AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "red,any");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "any", "a silver laptop is not red");
    rf_decide(&R, "{'purchases':[{'sku':'NOPE','ts':%lld}]}", AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "any", "a sku the catalog lacks has no color");
}

Test(catalog_words, browsed_a_brand_with_a_view_sent_by_sku_only)
{
    load("action 'acme_fan' { " WEB ", value = 2, when = viewed { brand = 'acme', within = days(7) } }\n"
         "action 'laptops' { " WEB ", value = 1.5, when = viewed('laptop') }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    use_catalog();
    rf_decide(&R, "{'events':[{'type':'view','sku':'LT-100','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "acme_fan,laptops,any");
    rf_decide(&R, "{'events':[{'type':'view','sku':'MS-100','ts':%lld}]}", AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "any");
    rf_decide(&R, "{'events':[{'type':'view','sku':'LT-100','ts':%lld}]}", AGO_DAYS(9));
    cr_expect_str_eq(rf_ids(&R), "laptops,any", "the window still holds");
}

Test(catalog_words, owns_a_product_whose_complements_include_a_sku)
{
    load("action 'has_mouse_slot' { " WEB ", value = 3, when = bought { complements = 'MS-100' } }\n"
         "action 'premium' { " WEB ", value = 2, when = bought { tags = one_of { 'gift', 'premium' } } }\n"
         "action 'tagged' { " WEB ", value = 1.5, when = bought { tags = 'travel', material = 'aluminium' } }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    use_catalog();
    rf_decide(&R, "{'limit':10,'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "has_mouse_slot,premium,tagged,any");
    rf_decide(&R, "{'purchases':[{'sku':'MS-100','ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "any", "the mouse has no complements and no tags");
}

Test(catalog_words, numbers_and_booleans_of_the_product)
{
    load("action 'sold_out' { " WEB ", value = 3, when = bought { in_stock = false } }\n"
         "action 'dear' { " WEB ", value = 2, when = bought { price = at_least(500) } }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    use_catalog();
    rf_decide(&R, "{'purchases':[{'sku':'MS-100','ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "sold_out,any");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "dear,any");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','price':100,'ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "any", "the price paid, sent, wins over the list price");
}

Test(catalog_words, the_records_own_field_wins)
{
    load("action 'red' { " WEB ", value = 2, when = bought { color = 'red' } }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    use_catalog();
    rf_decide(&R, "{'purchases':[{'sku':'TS-1','color':'blue','ts':%lld}]}", AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "any", "sent blue: the catalog's red does not count");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','color':'red','ts':%lld}]}", AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "red,any", "sent red: the catalog's silver does not count");
}

Test(catalog_words, a_category_comes_from_the_product_for_the_indexed_words)
{
    load("action 'laptop_bag' { " WEB ", value = 3, when = bought('laptop', within(days(30))) }\n"
         "action 'mice' { " WEB ", value = 2, when = purchases(at_least(1), 'mouse') }\n"
         "action 'one_kind' { " WEB ", value = 1.5, when = one_category() }\n"
         "action 'any' { " WEB ", value = 1 }\n");
    const char *ctx = "{'purchases':[{'sku':'LT-100','ts':%lld}]}";
    rf_decide(&R, ctx, AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "any", "no catalog: no category");
    use_catalog();
    rf_decide(&R, ctx, AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "laptop_bag,one_kind,any");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld},{'sku':'MS-100','ts':%lld}]}",
              AGO_DAYS(3), AGO_DAYS(2));
    cr_expect_str_eq(rf_ids(&R), "laptop_bag,mice,any", "two categories");
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','category':'tablet','ts':%lld}]}", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "one_kind,any", "the sent category wins");
}

Test(catalog_words, weights_read_the_product_too)
{
    load("action 'acme' { " WEB ", value = 1, weight = recency(bought { brand = 'acme' }, days(7)) }\n");
    use_catalog();
    rf_decide(&R, "{'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(7));
    cr_expect(fabs(rf_priority(&R, "acme") - 0.5) < 1e-9, "%s", rf_dump(&R));
    rf_decide(&R, "{'purchases':[{'sku':'MS-100','ts':%lld}]}", AGO_DAYS(7));
    cr_expect(rf_priority(&R, "acme") == 0, "%s", rf_dump(&R));
}

Test(catalog_words, explain_names_the_failed_catalog_word)
{
    load("action 'red_laptop' { " WEB ", value = 1,\n"
         "  when = all { bought('laptop'), bought { color = 'red' } } }\n");
    use_catalog();
    rf_decide(&R, "{'explain':true,'purchases':[{'sku':'LT-100','ts':%lld}]}", AGO_DAYS(2));
    const msgpack_object *x = rf_explained(&R, "red_laptop");
    cr_assert(x, "%s", rf_dump(&R));
    const msgpack_object *f = rf_get(x, "failed");
    cr_assert(f && f->type == MSGPACK_OBJECT_STR, "%s", rf_dump(&R));
    cr_expect(strstr(rf_json(&R, f), "color"), "%s", rf_dump(&R));
}
