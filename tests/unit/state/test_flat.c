/* Unit tests for engine/state/flat.h, the memory store's form of a
 * customer: a flattened block copied into an arena and relocated is the
 * customer it was made from, field for field (every list, NULL strings,
 * NaN prices and values, extra and attribute byte ranges, 200 contacts,
 * offers, a pseudonym; and the empty customer), for the customer as the
 * record decodes it too; and the copy owns all its memory: nothing of it
 * points into the block, which can be freed before the copy is read (run
 * under ASan: build/asan/test_flat).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/state/flat.h"
#include "engine/state/record.h"
#include "tests/unit/state/custfix.h"

static arb_event_t events[20], purchases[5];
static arb_contact_t contacts[200];
static arb_outcome_t outcomes[5];
static arb_consent_t consents[3];
static arb_suppression_t supp[2];
static arb_offer_t offers[3];
static uint8_t attrs[] = {0x82, 0xa4, 't', 'i', 'e', 'r', 0xa4, 'g', 'o', 'l', 'd', 0xa3, 'l', 't', 'v', 0xcd, 0x04, 0xd2};
static uint8_t brand[] = {0x81, 0xa5, 'b', 'r', 'a', 'n', 'd', 0xa4, 'A', 'c', 'm', 'e'};
static const char *cats[] = {"shoes", "outdoor", "kitchen", "toys"};
static const char *chans[] = {"web", "email", "app", "store"};
static char skus[25][16], acts[200][8];

/* test_record's realistic customer, with the retention's 200 contacts,
 * offers, suppressions and a pseudonym, and the odd values a record holds:
 * NULL strings, NaN prices and values, an extra map on some events. */
static void realistic(arb_customer_t *c)
{
    int64_t t0 = 1700000000;
    for (int k = 0; k < 20; k++) {
        snprintf(skus[k], sizeof skus[k], "SKU-%04d", k * 37);
        events[k] = (arb_event_t){t0 + k * 3600, k % 3 ? "view" : "cart", k % 5 ? chans[k % 4] : NULL,
                                  k % 7 ? skus[k] : NULL, cats[k % 4], k % 2 ? 9.5 * k : NAN,
                                  k % 4 ? NULL : brand, k % 4 ? 0 : sizeof brand};
    }
    for (int k = 0; k < 5; k++) {
        snprintf(skus[20 + k], sizeof skus[0], "SKU-%04d", 900 + k);
        purchases[k] = (arb_event_t){t0 + k * 86400, NULL, chans[k % 4], skus[20 + k], k ? cats[k % 4] : NULL,
                                     k == 2 ? NAN : 19.99 + k, k == 1 ? brand : NULL, k == 1 ? sizeof brand : 0};
    }
    for (int k = 0; k < 200; k++) {
        snprintf(acts[k], sizeof acts[k], "A%03d", k % 37);
        contacts[k] = (arb_contact_t){t0 + k * 600, acts[k], chans[k % 4], k % 3 ? "decision" : "impression"};
    }
    for (int k = 0; k < 5; k++)
        outcomes[k] = (arb_outcome_t){t0 + k * 60, acts[k], k % 2 ? "click" : "impression",
                                      k == 3 ? NULL : "d-1", k == 4 ? NULL : "web", k == 2 ? 120.0 : NAN};
    consents[0] = (arb_consent_t){t0, "email", true};
    consents[1] = (arb_consent_t){t0 + 5, "sms", false};
    consents[2] = (arb_consent_t){t0 + 9, "push", true};
    supp[0] = (arb_suppression_t){t0 + 86400, "A001", "complained"};
    supp[1] = (arb_suppression_t){t0 + 2 * 86400, "A002", NULL};
    offers[0] = (arb_offer_t){t0, "d-1", "A001", "web", "", ARB_OFFER_TRIAL};
    offers[1] = (arb_offer_t){t0 + 1, "d-2", "A002", "email", "gold", 0};
    offers[2] = (arb_offer_t){t0 + 2, "d-3", "A003", "app", "silver", ARB_OFFER_TRIAL | ARB_OFFER_POSITIVE};
    *c = (arb_customer_t){"cust-1", events, 20, purchases, 5, contacts, 200, outcomes, 5, consents, 3,
                          attrs, sizeof attrs, supp, 2, offers, 3, "9f86d081884c7d659a2feaa0c55ad015"};
}

/* Flatten c, copy the block into a fresh arena, free the block, and check
 * the copy against c: what a fetch from the memory store hands out. */
static void expect_round_trip(const arb_customer_t *c)
{
    arb_flat_t *f;
    arb_err_t err;
    cr_assert_eq(arb_flat_make(c, NULL, &f, &err), 0, "%s", err.message);
    const char *why = custfix_diff(arb_flat_customer(f), c);
    cr_assert_null(why, "the block differs from the customer in %s", why);
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t copy;
    cr_assert_eq(arb_flat_copy(f, &a, &copy), 0);
    arb_flat_free(f);  /* a copy still pointing into the block reads freed memory (ASan) */
    why = custfix_diff(&copy, c);
    cr_assert_null(why, "the relocated copy differs from the customer in %s", why);
    arb_arena_free(&a);
}

Test(flat, a_realistic_customer_round_trips)
{
    arb_customer_t c;
    realistic(&c);
    expect_round_trip(&c);
}

Test(flat, the_empty_customer_round_trips)
{
    arb_customer_t c;
    arb_customer_empty(&c, "");
    expect_round_trip(&c);
    arb_customer_empty(&c, "someone");
    c.pseudonym = NULL;
    expect_round_trip(&c);
}

Test(flat, empty_lists_and_empty_byte_ranges_round_trip)
{
    arb_customer_t c;
    realistic(&c);
    static const uint8_t none[1];
    arb_event_t e = events[1];
    e.extra = none;  /* an empty extra map is not a missing one */
    e.extra_len = 0;
    c.events = &e;
    c.n_events = 1;
    c.n_purchases = 0;
    c.n_outcomes = 0;
    c.n_suppressions = 0;
    c.attributes = none;
    c.attributes_len = 0;
    expect_round_trip(&c);
    c.attributes = NULL;
    c.pseudonym = NULL;
    c.n_contacts = 0;
    c.n_offers = 0;
    expect_round_trip(&c);
}

Test(flat, the_decoded_record_round_trips)
{
    arb_customer_t c, d;
    realistic(&c);
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0, "%s", err.message);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_record_decode(buf, len, &d, &a, &err), 0, "%s", err.message);
    expect_round_trip(&d);
    arb_flat_t *f;
    cr_assert_eq(arb_flat_make(&d, NULL, &f, &err), 0, "%s", err.message);
    /* What memory.c relies on to refuse what the record form refuses. */
    cr_assert_geq(arb_flat_record_max(f), len - ARB_RECORD_HEADER);
    arb_flat_free(f);
    free(buf);
    arb_arena_free(&a);
}

static bool inside(const void *p, const void *lo, size_t n)
{
    return p && (uintptr_t)p >= (uintptr_t)lo && (uintptr_t)p < (uintptr_t)lo + n;
}

Test(flat, the_copy_points_only_into_its_own_memory)
{
    arb_customer_t c, copy;
    realistic(&c);
    arb_flat_t *f;
    arb_err_t err;
    cr_assert_eq(arb_flat_make(&c, NULL, &f, &err), 0, "%s", err.message);
    const void *block = arb_flat_customer(f);
    size_t n = arb_flat_size(f);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_flat_copy(f, &a, &copy), 0);
    const void *ptrs[] = {copy.id, copy.events, copy.purchases, copy.contacts, copy.outcomes, copy.consents,
                          copy.attributes, copy.suppressions, copy.offers, copy.pseudonym,
                          copy.events[0].type, copy.events[0].extra, copy.purchases[1].extra,
                          copy.contacts[199].action, copy.contacts[199].counted, copy.outcomes[0].decision_id,
                          copy.consents[2].key, copy.suppressions[0].reason, copy.offers[2].segment};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) {
        cr_assert_not_null(ptrs[i], "pointer %zu", i);
        cr_assert(!inside(ptrs[i], block, n), "pointer %zu of the copy points into the block", i);
        cr_assert(!inside(ptrs[i], &c, sizeof c) && ptrs[i] != c.id, "pointer %zu is the source's", i);
    }
    /* And the block owns its own: the source's strings are not shared. */
    cr_assert(arb_flat_customer(f)->contacts[0].action != c.contacts[0].action);
    cr_assert(inside(arb_flat_customer(f)->contacts[0].action, block, n));
    arb_flat_free(f);
    cr_assert_str_eq(copy.contacts[199].action, c.contacts[199].action);
    arb_arena_free(&a);
}

/* More distinct strings than the table of names holds, and more bytes of
 * them than the first guess: copied on their own, after a second pass. */
Test(flat, many_long_distinct_strings_round_trip)
{
    arb_customer_t c;
    realistic(&c);
    static arb_contact_t many[300];
    static char names[300][48];
    for (int k = 0; k < 300; k++) {
        snprintf(names[k], sizeof names[k], "an-action-with-a-long-name-number-%04d", k);
        many[k] = (arb_contact_t){1700000000 + k, names[k], chans[k % 4], k % 2 ? "decision" : names[k]};
    }
    c.contacts = many;
    c.n_contacts = 300;
    expect_round_trip(&c);
    /* And a previous block far smaller than this one: its guess is short. */
    arb_customer_t small;
    arb_customer_empty(&small, "cust-1");
    arb_flat_t *like, *f;
    arb_err_t err;
    cr_assert_eq(arb_flat_make(&small, NULL, &like, &err), 0, "%s", err.message);
    cr_assert_eq(arb_flat_make(&c, like, &f, &err), 0, "%s", err.message);
    const char *why = custfix_diff(arb_flat_customer(f), &c);
    cr_assert_null(why, "the block differs from the customer in %s", why);
    cr_assert_gt(arb_flat_size(f), 300 * 38, "every distinct string is in the block");
    arb_flat_free(like);
    arb_flat_free(f);
}

Test(flat, a_string_named_by_many_entries_is_kept_once)
{
    arb_customer_t c;
    realistic(&c);
    static char a1[] = "A001", a2[] = "A001";  /* equal, at two addresses */
    static arb_contact_t two[2];
    two[0] = (arb_contact_t){1, a1, "web", "decision"};
    two[1] = (arb_contact_t){2, a2, "web", "decision"};
    c.contacts = two;
    c.n_contacts = 2;
    arb_flat_t *f;
    arb_err_t err;
    cr_assert_eq(arb_flat_make(&c, NULL, &f, &err), 0, "%s", err.message);
    const arb_customer_t *b = arb_flat_customer(f);
    cr_assert_eq(b->contacts[0].action, b->contacts[1].action);
    cr_assert_str_eq(b->contacts[1].action, "A001");
    arb_flat_free(f);
}
