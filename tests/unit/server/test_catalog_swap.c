/* Unit tests for a worker taking a catalog-only reload
 * (engine/server/catalog_reload.c: arb__catalog_take / _reset / _free),
 * with a real ruleset declaring a real catalog: a catalog published for
 * the ruleset answering is decided with from the next request; one
 * published for another ruleset version is dropped, never applied; a full
 * swap goes back to the ruleset's own; one for a newer ruleset waits for
 * the swap; one reload's copies share one catalog.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"
#include "engine/server/catalog_reload.h"
#include "engine/server/reload.h"
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

Test(catalog_swap, a_catalog_for_a_newer_ruleset_waits_for_the_swap)
{
    /* The main loop publishes the new ruleset, then its catalog: a worker
     * taking the catalog between two requests, before its wakeup swapped the
     * ruleset, keeps it for after the swap instead of dropping it. */
    load();
    arb_catalog_t *c = publish(SOLD_OUT, "999999999-ffffffffffff");
    arb__catalog_take(&W);
    cr_expect_null(W.catalog, "not applied to the older ruleset");
    arb_catalog_pub_t *kept = atomic_load(&W.next_catalog);
    cr_assert_not_null(kept, "kept for the newer ruleset");
    cr_expect(kept->catalog == c);
    cr_expect_str_eq(decide(), "stocked,any");
    arb__catalog_free(&W);
}

Test(catalog_swap, one_reload_reads_the_catalog_once_for_every_worker)
{
    /* A plain Lua function: one copy per worker, all with one catalog, so a
     * file rewritten mid-reload cannot give workers different products. */
    cr_assert(rf_load(&R, "rules.lua",
                      "action 'lua' { channels = { 'web' }, value = 1, when = function(c) return true end }\n",
                      "catalog.lua", "catalog 'products.jsonl'\n", "products.jsonl", IN_STOCK, NULL),
              "%s", rf_problems(&R));
    cr_assert(!arb_ruleset_shareable(R.rs));
    arb_ruleset_t *copies[3] = { 0 };
    arb_problems_t p = { 0 };
    arb_reload_load(R.dir, 3, 7, copies, &p, NULL);
    cr_assert(p.n == 0, "%s", p.items[0]);
    cr_assert(copies[0] && copies[1] && copies[2]);
    cr_expect(copies[0] != copies[1], "one copy per worker");
    arb_catalog_view_t v0, v1;
    cr_assert(arb_ruleset_catalog(copies[0], &v0) && arb_ruleset_catalog(copies[1], &v1));
    cr_expect(copies[0]->catalog == copies[1]->catalog && copies[1]->catalog == copies[2]->catalog,
              "one catalog, retained by every copy");
    for (int i = 0; i < 3; i++) arb_ruleset_free(copies[i]);
    arb_problems_free(&p);
}
