/* Unit tests for the retention of a customer's events in
 * engine/state/merge.c: "recommended" events (one per product a decision
 * recommends) are counted apart from the customer's own, so however many
 * there are they never evict a view; they have their own bound and are
 * kept once per sku, the newest; both lists still lose what is older than
 * max_age, and the merged list stays sorted by ts.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "engine/request/commit.h"
#include "engine/state/record.h"

static arb_arena_t A;
static bool granted[1];
static arb_commit_result_t res;

static void setup(void) { arb_arena_init(&A); }
static void teardown(void) { arb_arena_free(&A); }

TestSuite(merge_retain, .init = setup, .fini = teardown);

static const int64_t T = 1790000000;
static const arb_retention_t RT = {.max_age = 86400, .max_events = 5, .max_recommended = 30};

static arb_customer_t merge(const arb_customer_t *old, const arb_event_t *e, size_t n, int64_t now)
{
    arb_commit_t cm = {.now = now, .events = e, .n_events = n, .retention = &RT};
    arb_customer_t out;
    arb_err_t err = {0};
    cr_assert_eq(arb_commit_merge(old, &cm, NULL, &A, &out, granted, &res, &err), 0, "%s", err.message);
    return out;
}

static size_t count(const arb_customer_t *c, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_events; i++) n += strcmp(c->events[i].type, type) == 0;
    return n;
}

/* One decision's recommended events: 20 products, the skus from sku0 on. */
static arb_customer_t recommend(const arb_customer_t *old, int sku0, int64_t ts)
{
    arb_event_t *e = arb_arena_alloc(&A, 20 * sizeof *e);
    for (int i = 0; i < 20; i++) {
        char *sku = arb_arena_alloc(&A, 16);
        snprintf(sku, 16, "P%03d", sku0 + i);
        e[i] = (arb_event_t){ts, "recommended", "web", sku, NULL, 0, NULL, 0};
    }
    return merge(old, e, 20, ts);
}

Test(merge_retain, many_recommended_events_never_evict_a_view)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    arb_event_t v = {T, "view", "web", "SEED", NULL, 0, NULL, 0};
    c = merge(&c, &v, 1, T);
    for (int d = 0; d < 12; d++) c = recommend(&c, d * 20, T + 1 + d);
    cr_expect_eq(count(&c, "view"), 1, "the view is kept whatever the recommended events");
    cr_expect_eq(count(&c, "recommended"), 30, "max_recommended bounds them");
    cr_expect_str_eq(c.events[c.n_events - 1].sku, "P239", "the newest are the ones kept");
    for (size_t i = 1; i < c.n_events; i++) cr_expect_leq(c.events[i - 1].ts, c.events[i].ts);
}

Test(merge_retain, the_customer_s_own_events_keep_their_own_bound)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    c = recommend(&c, 0, T);
    arb_event_t v[8];
    for (int i = 0; i < 8; i++) v[i] = (arb_event_t){T + 1 + i, "view", "web", "SEED", NULL, 0, NULL, 0};
    c = merge(&c, v, 8, T + 10);
    cr_expect_eq(count(&c, "view"), 5, "max_events bounds the others");
    cr_expect_eq(c.events[0].ts, T, "the recommended events are not evicted by views either");
    cr_expect_eq(count(&c, "recommended"), 20);
}

Test(merge_retain, one_recommended_event_per_sku_the_newest)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    for (int d = 0; d < 5; d++) c = recommend(&c, 0, T + d);
    cr_expect_eq(count(&c, "recommended"), 20, "the same 20 products five times: 20 kept");
    for (size_t i = 0; i < c.n_events; i++) cr_expect_eq(c.events[i].ts, T + 4, "the newest of each");
}

Test(merge_retain, old_events_of_both_kinds_go_past_max_age)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    arb_event_t v = {T, "view", "web", "SEED", NULL, 0, NULL, 0};
    c = merge(&c, &v, 1, T);
    c = recommend(&c, 0, T);
    arb_event_t w = {T + 2 * 86400, "view", "web", "OTHER", NULL, 0, NULL, 0};
    c = merge(&c, &w, 1, T + 2 * 86400);
    cr_assert_eq(c.n_events, 1);
    cr_expect_str_eq(c.events[0].sku, "OTHER");
}
