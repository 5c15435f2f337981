/* Unit tests for a worker taking a catalog-only reload
 * (engine/server/catalog_reload.c: arb__catalog_take / _reset / _free),
 * with a real ruleset declaring a real catalog: a catalog published for
 * the ruleset answering is decided with from the next request; one
 * published for another ruleset version is dropped, never applied; a full
 * swap goes back to the ruleset's own.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "engine/server/catalog_reload.h"
#include "engine/server/worker.h"
#include "tests/support/rulefix.h"

TestSuite(catalog_swap, .init = rf_setup, .fini = rf_teardown);

static const char IN_STOCK[] = "{\"sku\": \"MS-100\", \"category\": \"mouse\", \"in_stock\": true}\n";
static const char SOLD_OUT[] = "{\"sku\": \"MS-100\", \"category\": \"mouse\", \"in_stock\": false}\n";

static arb_worker_t W;

static void load(void)
{
    cr_assert(rf_load(&R, "rules.lua",
                      "action 'stocked' { channels = { 'web' }, value = 2, when = bought { in_stock = true } }\n"
                      "action 'any' { channels = { 'web' }, value = 1 }\n",
                      "catalog.lua", "catalog 'products.jsonl'\n", "products.jsonl", IN_STOCK, NULL),
              "%s", rf_problems(&R));
    memset(&W, 0, sizeof W);
    W.ruleset = R.rs;
    W.decider = R.d;
    atomic_init(&W.next_catalog, NULL);
}

/* Publish the catalog of text for version, as the main loop does. */
static arb_catalog_t *publish(const char *text, const char *version)
{
    arb_problems_t p = { 0 };
    arb_catalog_t *c = arb_catalog_parse(text, strlen(text), "products.jsonl", &p);
    cr_assert(c, "%s", p.n ? p.items[0] : "?");
    arb_catalog_pub_t *pub = malloc(sizeof *pub);
    pub->catalog = c;
    snprintf(pub->version, sizeof pub->version, "%s", version);
    atomic_store(&W.next_catalog, pub);
    return c;
}

static const char *decide(void)
{
    rf_decide(&R, "{'purchases':[{'sku':'MS-100','ts':%lld}]}", AGO_DAYS(1));
    return rf_ids(&R);
}

Test(catalog_swap, a_catalog_for_the_answering_ruleset_is_decided_with)
{
    load();
    cr_expect_str_eq(decide(), "stocked,any");
    arb_catalog_t *c = publish(SOLD_OUT, arb_ruleset_version(R.rs));
    arb__catalog_take(&W);
    cr_expect(W.catalog == c);
    cr_expect_null(atomic_load(&W.next_catalog));
    cr_expect_str_eq(decide(), "any");
    cr_expect(rf_decision(&R)->catalog == c, "the decision names the catalog it read");
    arb__catalog_reset(&W);   /* a full swap: the ruleset's own again */
    cr_expect_null(W.catalog);
    cr_expect_str_eq(decide(), "stocked,any");
    arb__catalog_free(&W);
}

Test(catalog_swap, a_catalog_read_for_another_version_is_never_applied)
{
    load();
    publish(SOLD_OUT, "0-000000000000");
    arb__catalog_take(&W);
    cr_expect_null(W.catalog);
    cr_expect_null(atomic_load(&W.next_catalog), "dropped, not left waiting");
    cr_expect_str_eq(decide(), "stocked,any");
    arb__catalog_free(&W);
}

Test(catalog_swap, a_newer_publication_replaces_the_one_taken)
{
    load();
    publish(SOLD_OUT, arb_ruleset_version(R.rs));
    arb__catalog_take(&W);
    cr_expect_str_eq(decide(), "any");
    arb_catalog_t *c = publish(IN_STOCK, arb_ruleset_version(R.rs));
    arb__catalog_take(&W);
    cr_expect(W.catalog == c);
    cr_expect_str_eq(decide(), "stocked,any");
    arb__catalog_free(&W);
}
