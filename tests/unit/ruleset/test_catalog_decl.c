/* Unit tests for the `catalog "products.jsonl"` declaration
 * (engine/ruleset/compile_catalog.c): a ruleset loads its catalog with it,
 * a bad catalog line fails the whole load with "products.jsonl:N:", the
 * path is checked, at most one is declared, the catalog reloads on its own,
 * and the `ruleset` description lists it. Rule folders come from
 * tests/support/rulefix.c.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"
#include "engine/wire/answer.h"
#include "tests/support/rulefix.h"

TestSuite(catalog_decl, .init = rf_setup, .fini = rf_teardown);

#define ACTION "action 'a' { channels = { 'web' }, value = 1 }\n"
#define PRODUCTS \
    "{\"sku\": \"LT-1\", \"name\": \"Laptop\", \"relations\": {\"complements\": [\"MS-1\"]}}\n" \
    "{\"sku\": \"MS-1\", \"name\": \"Mouse\", \"price\": 20}\n"

static bool has_problem(const char *want)
{
    return strstr(rf_problems(&R), want) != NULL;
}

Test(catalog_decl, a_declared_catalog_loads_with_the_ruleset)
{
    cr_assert(rf_load(&R, "a.lua", ACTION, "catalog.lua", "catalog \"products.jsonl\"\n", "products.jsonl",
                      PRODUCTS, NULL), "%s", rf_problems(&R));
    arb_catalog_view_t v;
    cr_assert(arb_ruleset_catalog(R.rs, &v));
    cr_expect_str_eq(v.file, "products.jsonl");
    cr_expect_eq(v.products, 2);
    cr_expect_eq(strlen(v.checksum), 16);
    cr_expect_gt(v.bytes, 0);
}

Test(catalog_decl, the_table_form_and_a_sub_folder)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/data", R.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert(rf_load(&R, "a.lua", ACTION "catalog { file = \"data/items.jsonl\" }\n", "data/items.jsonl",
                      PRODUCTS, NULL), "%s", rf_problems(&R));
    arb_catalog_view_t v;
    cr_assert(arb_ruleset_catalog(R.rs, &v));
    cr_expect_str_eq(v.file, "data/items.jsonl");
    cr_expect_eq(v.products, 2);
}

Test(catalog_decl, a_ruleset_without_one_has_none)
{
    cr_assert(rf_load(&R, "a.lua", ACTION, NULL), "%s", rf_problems(&R));
    arb_catalog_view_t v;
    cr_expect(!arb_ruleset_catalog(R.rs, &v));
    arb_problems_t p = { 0 };
    cr_expect_null(arb_ruleset_catalog_reload(R.rs, &p));
    cr_expect(p.n == 1 && strstr(p.items[0], "this ruleset declares no catalog"));
    arb_problems_free(&p);
}

Test(catalog_decl, a_bad_catalog_line_fails_the_load_with_file_and_line)
{
    cr_assert(!rf_load(&R, "a.lua", ACTION, "catalog.lua", "catalog \"products.jsonl\"\n", "products.jsonl",
                       PRODUCTS "# a comment\n{\"sku\": \"MS-1\"}\n", NULL));
    char want[200];
    snprintf(want, sizeof want, "%s/products.jsonl:4: duplicate sku 'MS-1' (first on line 2)", R.dir);
    cr_expect(has_problem(want), "want '%s' in:\n%s", want, rf_problems(&R));
    cr_expect_null(R.rs);
}

Test(catalog_decl, a_second_catalog_names_both_places)
{
    cr_assert(!rf_load(&R, "a.lua", ACTION, "b.lua", "catalog \"products.jsonl\"\n", "c.lua",
                       "\n\ncatalog \"other.jsonl\"\n", "products.jsonl", PRODUCTS, NULL));
    char want[300];
    snprintf(want, sizeof want, "%s/c.lua:3: catalog: a second catalog (the first is declared at %s/b.lua:1)",
             R.dir, R.dir);
    cr_expect(has_problem(want), "want '%s' in:\n%s", want, rf_problems(&R));
}

Test(catalog_decl, the_path_stays_in_the_folder_and_must_exist)
{
    rf_write(&R, "products.jsonl", PRODUCTS);
    cr_assert(!rf_load(&R, "a.lua", ACTION "catalog \"/etc/passwd\"\n", NULL));
    cr_expect(has_problem("a.lua:2: catalog: '/etc/passwd': the catalog's path is relative to the ruleset folder"),
              "%s", rf_problems(&R));
    cr_assert(!rf_load(&R, "a.lua", ACTION "catalog \"x/../products.jsonl\"\n", NULL));
    cr_expect(has_problem("no '..'"), "%s", rf_problems(&R));
    cr_assert(!rf_load(&R, "a.lua", ACTION "catalog \"missing.jsonl\"\n", NULL));
    cr_expect(has_problem("a.lua:2: catalog: catalog file 'missing.jsonl' does not exist"), "%s", rf_problems(&R));
    cr_assert(!rf_load(&R, "a.lua", ACTION "catalog { name = \"products.jsonl\" }\n", NULL));
    cr_expect(has_problem("unknown field 'name'"), "%s", rf_problems(&R));
    cr_assert(!rf_load(&R, "a.lua", ACTION "catalog(3)\n", NULL));
    cr_expect(has_problem("catalog: expected a file name"), "%s", rf_problems(&R));
    cr_assert(rf_load(&R, "a.lua", ACTION "catalog \"products.jsonl\"\n", NULL), "%s", rf_problems(&R));
}

Test(catalog_decl, a_leading_dot_slash_names_the_file_in_the_folder)
{
    /* The folder watch knows the catalog by its name: "./x" is "x". */
    rf_write(&R, "products.jsonl", PRODUCTS);
    cr_assert(rf_load(&R, "a.lua", ACTION "catalog \"././products.jsonl\"\n", NULL), "%s", rf_problems(&R));
    arb_catalog_view_t v;
    cr_assert(arb_ruleset_catalog(R.rs, &v));
    cr_expect_str_eq(v.file, "products.jsonl");
}

Test(catalog_decl, the_catalog_reloads_on_its_own)
{
    cr_assert(rf_load(&R, "a.lua", ACTION "catalog \"products.jsonl\"\n", "products.jsonl", PRODUCTS, NULL),
              "%s", rf_problems(&R));
    rf_write(&R, "products.jsonl", PRODUCTS "{\"sku\": \"HS-1\", \"in_stock\": false}\n");
    arb_problems_t p = { 0 };
    arb_catalog_t *c = arb_ruleset_catalog_reload(R.rs, &p);
    cr_assert_not_null(c, "%s", p.n ? p.items[0] : "");
    cr_expect_eq(c->n_products, 3);
    cr_expect(!arb_catalog_find(c, "HS-1", 4)->in_stock);
    arb_catalog_view_t v;
    cr_assert(arb_ruleset_catalog(R.rs, &v));
    cr_expect_eq(v.products, 2, "the ruleset keeps its own catalog");
    cr_expect_str_neq(v.checksum, c->checksum);
    arb_catalog_release(c);

    rf_write(&R, "products.jsonl", PRODUCTS "{\"sku\": \"HS-1\", \"price\": -3}\n");
    cr_expect_null(arb_ruleset_catalog_reload(R.rs, &p));
    char want[200];
    snprintf(want, sizeof want, "%s/products.jsonl:3: price must be", R.dir);
    cr_expect(p.n == 1 && strstr(p.items[0], want), "%s", p.n ? p.items[0] : "");
    arb_problems_free(&p);
}

/* The `ruleset` answer, unpacked. */
static const msgpack_object *info(msgpack_sbuffer *buf, msgpack_unpacked *up)
{
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    arb_answer_pack_ruleset(&pk, R.rs);
    msgpack_unpacked_init(up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(up, buf->data, buf->size, &off), MSGPACK_UNPACK_SUCCESS);
    return &up->data;
}

Test(catalog_decl, the_ruleset_answer_lists_the_catalog)
{
    cr_assert(rf_load(&R, "a.lua", ACTION "catalog \"products.jsonl\"\n", "products.jsonl", PRODUCTS, NULL),
              "%s", rf_problems(&R));
    msgpack_sbuffer buf;
    msgpack_unpacked up;
    const msgpack_object *cat = rf_get(info(&buf, &up), "catalog");
    cr_assert(cat && cat->type == MSGPACK_OBJECT_MAP, "a map");
    cr_expect(rf_str_is(rf_get(cat, "file"), "products.jsonl"));
    const msgpack_object *n = rf_get(cat, "products");
    cr_expect(n && n->type == MSGPACK_OBJECT_POSITIVE_INTEGER && n->via.u64 == 2);
    const msgpack_object *sum = rf_get(cat, "checksum");
    cr_expect(sum && sum->type == MSGPACK_OBJECT_STR && sum->via.str.size == 16);
    const msgpack_object *at = rf_get(cat, "loaded_at");
    cr_expect(at && at->type == MSGPACK_OBJECT_POSITIVE_INTEGER && at->via.u64 > 1700000000);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&buf);

    rf_unlink(&R, "products.jsonl");
    cr_assert(rf_load(&R, "a.lua", ACTION, NULL), "%s", rf_problems(&R));
    cat = rf_get(info(&buf, &up), "catalog");
    cr_expect(cat && cat->type == MSGPACK_OBJECT_NIL, "nil without a catalog");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&buf);
}

/* An experiment's challenger reads the catalog its own folder declares. */
Test(catalog_decl, a_challenger_declares_its_own)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/b", R.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    rf_write(&R, "b/products.jsonl", "{\"sku\": \"ONLY-B\"}\n");
    rf_write(&R, "b/cat.lua", "catalog \"products.jsonl\"\n");
    cr_assert(rf_load(&R, "a.lua", ACTION "experiment 'e' { challenger = 'b', share = 0.5 }\n", "cat.lua",
                      "catalog \"products.jsonl\"\n", "products.jsonl", PRODUCTS, NULL), "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    arb_catalog_view_t a, b;
    cr_assert(arb_ruleset_catalog(R.rs, &a) && arb_ruleset_catalog(e.challenger, &b));
    cr_expect_eq(a.products, 2);
    cr_expect_eq(b.products, 1, "the challenger's own file");
    cr_expect_neq(e.challenger->catalog, R.rs->catalog);
}

/* A challenger folder without the declaring file keeps the champion's: the
 * path is relative to the folder of the file that declares it. */
Test(catalog_decl, a_challenger_keeping_the_declaring_file_keeps_the_catalog)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/b", R.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    rf_write(&R, "b/a.lua", ACTION);
    cr_assert(rf_load(&R, "a.lua", ACTION "experiment 'e' { challenger = 'b', share = 0.5 }\n", "cat.lua",
                      "catalog \"products.jsonl\"\n", "products.jsonl", PRODUCTS, NULL), "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    arb_catalog_view_t b;
    cr_assert(arb_ruleset_catalog(e.challenger, &b));
    cr_expect_eq(b.products, 2, "the champion's file");
    cr_expect_eq(e.challenger->catalog, R.rs->catalog, "shared, not read twice");
}
