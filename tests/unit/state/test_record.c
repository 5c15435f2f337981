/* Unit tests for engine/state/record.c: a customer survives encode and
 * decode unchanged, and any bytes that are not a record (truncated, flipped,
 * another version, a valid checksum over the wrong shape) give an error
 * naming what is wrong. Also prints the bytes a realistic customer takes.
 * Offers (issue 14) and a pseudonym (issue 15) make a version 2 record; a
 * customer with neither is still written as version 1, and bytes written
 * before offers existed, and version 2 bytes written before pseudonyms
 * (both kept below as they were), still decode. A pseudonym that is not 32
 * hex digits is refused as corrupt, and never written.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/state/record.h"

static arb_event_t events[20], purchases[5];
static arb_contact_t contacts[10];
static arb_outcome_t outcomes[5];
static arb_consent_t consents[3];
static arb_suppression_t supp[1];
static uint8_t attrs[] = {0x82, 0xa4, 't', 'i', 'e', 'r', 0xa4, 'g', 'o', 'l', 'd', 0xa3, 'l', 't', 'v', 0xcd, 0x04, 0xd2};
static const char *cats[] = {"shoes", "outdoor", "kitchen", "toys"};
static const char *chans[] = {"web", "email", "app", "store"};

/* 20 events, 5 purchases, 10 contacts, 5 outcomes, 3 consents. */
static void realistic(arb_customer_t *c)
{
    static char skus[25][16];
    int64_t t0 = 1790000000;
    for (int i = 0; i < 20; i++) {
        snprintf(skus[i], sizeof skus[i], "SKU-%06d", 100000 + i * 37);
        events[i] = (arb_event_t){t0 + i * 3600, i % 3 ? "view" : "cart", chans[i % 4], skus[i],
                                  cats[i % 4], NAN, NULL, 0};
    }
    for (int i = 0; i < 5; i++) {
        snprintf(skus[20 + i], sizeof skus[0], "SKU-%06d", 200000 + i);
        purchases[i] = (arb_event_t){t0 + i * 86400, NULL, chans[i % 4], skus[20 + i], cats[i % 4],
                                     19.99 + i * 10, NULL, 0};
    }
    for (int i = 0; i < 10; i++)
        contacts[i] = (arb_contact_t){t0 + i * 7200, i % 2 ? "winback_email" : "hiking_boots_banner",
                                      chans[i % 4], "decision"};
    for (int i = 0; i < 5; i++)
        outcomes[i] = (arb_outcome_t){t0 + i * 7300, "hiking_boots_banner", i % 2 ? "click" : "impression",
                                      "d-7f3a9c21-0001", "web", i == 4 ? 120.0 : NAN};
    consents[0] = (arb_consent_t){t0, "email", true};
    consents[1] = (arb_consent_t){t0 + 5, "sms", false};
    consents[2] = (arb_consent_t){t0 + 9, "location", true};
    supp[0] = (arb_suppression_t){t0 + 999999, "winback_email", "complained"};
    *c = (arb_customer_t){"cust-000123456", events, 20, purchases, 5, contacts, 10, outcomes, 5,
                          consents, 3, attrs, sizeof attrs, supp, 1, NULL, 0, NULL};
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

Test(record, round_trip_keeps_every_field)
{
    arb_customer_t c, d;
    realistic(&c);
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0);
    fprintf(stderr, "record: a realistic customer (20 events, 5 purchases, 10 contacts, 5 outcomes, "
                    "3 consents, 2 attributes, 1 suppression) takes %zu bytes\n", len);
    cr_assert_eq(arb_record_size(buf, len), len);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_record_decode(buf, len, &d, &a, &err), 0, "%s", err.message);
    cr_assert_str_eq(d.id, c.id);
    cr_assert_eq(d.n_events, 20);
    for (size_t i = 0; i < 20; i++) {
        cr_assert_eq(d.events[i].ts, c.events[i].ts);
        cr_assert(same(d.events[i].type, c.events[i].type));
        cr_assert(same(d.events[i].sku, c.events[i].sku));
        cr_assert(same(d.events[i].category, c.events[i].category));
        cr_assert(same(d.events[i].channel, c.events[i].channel));
        cr_assert(isnan(d.events[i].price));
    }
    cr_assert_eq(d.n_purchases, 5);
    cr_assert_null(d.purchases[2].type);
    cr_assert_float_eq(d.purchases[2].price, 39.99, 1e-9);
    cr_assert_eq(d.n_contacts, 10);
    cr_assert_str_eq(d.contacts[3].action, "winback_email");
    cr_assert_str_eq(d.contacts[3].counted, "decision");
    cr_assert_eq(d.contacts[3].ts, c.contacts[3].ts);
    cr_assert_eq(d.n_outcomes, 5);
    cr_assert_str_eq(d.outcomes[1].outcome, "click");
    cr_assert_str_eq(d.outcomes[1].decision_id, "d-7f3a9c21-0001");
    cr_assert_float_eq(d.outcomes[4].value, 120.0, 1e-9);
    cr_assert_eq(d.n_consents, 3);
    cr_assert_eq(arb_customer_consent(&d, "sms"), 0);
    cr_assert_eq(arb_customer_consent(&d, "email"), 1);
    cr_assert_eq(arb_customer_consent(&d, "push"), -1);
    cr_assert_eq(d.attributes_len, sizeof attrs);
    cr_assert_arr_eq(d.attributes, attrs, sizeof attrs);
    cr_assert(arb_customer_suppressed(&d, "winback_email", 1790000000));
    cr_assert_not(arb_customer_suppressed(&d, "winback_email", 1790000000 + 999999));
    cr_assert_eq(arb_customer_contacts_since(&d, "winback_email", NULL, 0), 5);
    cr_assert_eq(arb_customer_contacts_since(&d, NULL, "web", 0), 3);
    arb_arena_free(&a);
    free(buf);
}

static void expect_bad(const uint8_t *buf, size_t len, const char *want)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t d;
    arb_err_t err = {0};
    cr_assert_eq(arb_record_decode(buf, len, &d, &a, &err), -1, "accepted %zu bytes", len);
    cr_assert_eq(err.code, ARB_INTERNAL);
    cr_assert_not_null(strstr(err.message, want), "message: %s", err.message);
    cr_assert_str_eq(d.id, "");
    cr_assert_eq(d.n_events, 0);
    arb_arena_free(&a);
}

Test(record, every_truncation_and_every_flipped_byte_is_refused)
{
    arb_customer_t c;
    realistic(&c);
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0);
    for (size_t n = 0; n < len; n++) expect_bad(buf, n, "corrupt customer record");
    for (size_t i = 0; i < len; i++) {
        if (i == 4) continue;  /* the version byte has its own message */
        buf[i] ^= 0x41;
        expect_bad(buf, len, "corrupt customer record");
        buf[i] ^= 0x41;
    }
    buf[4] = 3;
    expect_bad(buf, len, "version 3 is not known");
    /* A version 1 payload under a version 2 header: the shapes differ. */
    buf[4] = 2;
    expect_bad(buf, len, "not a 9-field array");
    free(buf);
}

/* Bytes arb_record_encode wrote before offers existed (commit 4953c3e):
 * customer "c-old" with one of each entry. Kept as they were, never
 * regenerated: the records on disk and in Redis are these. */
static const uint8_t OLD_RECORD[] = {
    0x41, 0x52, 0x42, 0x43, 0x01, 0xd2, 0x00, 0x00, 0x00, 0x32, 0x63, 0xd0,
    0xf9, 0x98, 0xa5, 0x63, 0x2d, 0x6f, 0x6c, 0x64, 0x91, 0x97, 0xce, 0x6a,
    0xb1, 0x3b, 0x80, 0xa4, 0x76, 0x69, 0x65, 0x77, 0xa3, 0x77, 0x65, 0x62,
    0xa5, 0x53, 0x4b, 0x55, 0x2d, 0x31, 0xa5, 0x73, 0x68, 0x6f, 0x65, 0x73,
    0xc0, 0xc0, 0x91, 0x97, 0xce, 0x6a, 0xb1, 0x3b, 0xe4, 0xc0, 0xa3, 0x77,
    0x65, 0x62, 0xa5, 0x53, 0x4b, 0x55, 0x2d, 0x32, 0xa5, 0x73, 0x68, 0x6f,
    0x65, 0x73, 0xcb, 0x40, 0x48, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
    0x91, 0x94, 0xce, 0x6a, 0xb1, 0x3c, 0x48, 0xa5, 0x62, 0x6f, 0x6f, 0x74,
    0x73, 0xa3, 0x77, 0x65, 0x62, 0xa8, 0x64, 0x65, 0x63, 0x69, 0x73, 0x69,
    0x6f, 0x6e, 0x92, 0x96, 0xce, 0x6a, 0xb1, 0x3c, 0xac, 0xa5, 0x62, 0x6f,
    0x6f, 0x74, 0x73, 0xaa, 0x69, 0x6d, 0x70, 0x72, 0x65, 0x73, 0x73, 0x69,
    0x6f, 0x6e, 0xa3, 0x64, 0x2d, 0x31, 0xa3, 0x77, 0x65, 0x62, 0xc0, 0x96,
    0xce, 0x6a, 0xb1, 0x3d, 0x10, 0xa5, 0x62, 0x6f, 0x6f, 0x74, 0x73, 0xa5,
    0x63, 0x6c, 0x69, 0x63, 0x6b, 0xa3, 0x64, 0x2d, 0x31, 0xa3, 0x77, 0x65,
    0x62, 0xc0, 0x91, 0x93, 0xce, 0x6a, 0xb1, 0x3b, 0x80, 0xa5, 0x65, 0x6d,
    0x61, 0x69, 0x6c, 0xc3, 0xc4, 0x0b, 0x81, 0xa4, 0x74, 0x69, 0x65, 0x72,
    0xa4, 0x67, 0x6f, 0x6c, 0x64, 0x91, 0x93, 0xce, 0x6a, 0xc0, 0x7d, 0xbf,
    0xa7, 0x77, 0x69, 0x6e, 0x62, 0x61, 0x63, 0x6b, 0xaa, 0x63, 0x6f, 0x6d,
    0x70, 0x6c, 0x61, 0x69, 0x6e, 0x65, 0x64,
};

Test(record, a_record_from_before_offers_still_decodes)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t d;
    arb_err_t err = {0};
    cr_assert_eq(arb_record_size(OLD_RECORD, sizeof OLD_RECORD), sizeof OLD_RECORD);
    cr_assert_eq(arb_record_decode(OLD_RECORD, sizeof OLD_RECORD, &d, &a, &err), 0, "%s", err.message);
    cr_assert_str_eq(d.id, "c-old");
    cr_assert_eq(d.n_events, 1);
    cr_assert_str_eq(d.events[0].sku, "SKU-1");
    cr_assert_eq(d.n_purchases, 1);
    cr_assert_float_eq(d.purchases[0].price, 49.5, 1e-12);
    cr_assert_eq(d.n_contacts, 1);
    cr_assert_str_eq(d.contacts[0].counted, "decision");
    cr_assert_eq(d.n_outcomes, 2);
    cr_assert_str_eq(d.outcomes[1].outcome, "click");
    cr_assert_str_eq(d.outcomes[1].decision_id, "d-1");
    cr_assert_eq(arb_customer_consent(&d, "email"), 1);
    cr_assert_eq(d.attributes_len, 11);
    cr_assert_eq(d.n_suppressions, 1);
    cr_assert_str_eq(d.suppressions[0].reason, "complained");
    cr_assert_eq(d.n_offers, 0);
    cr_assert_null(d.offers);
    /* Without offers it encodes to the very same bytes: version 1 still. */
    uint8_t *buf;
    size_t len;
    cr_assert_eq(arb_record_encode(&d, &buf, &len, &err), 0);
    cr_assert_eq(len, sizeof OLD_RECORD);
    cr_assert_arr_eq(buf, OLD_RECORD, len);
    free(buf);
    arb_arena_free(&a);
}

static arb_offer_t offers[3] = {
    {1790000100, "d-1", "boots_banner", "web", "", 0},
    {1790000200, "d-2", "boots_banner", "app", "gold", ARB_OFFER_TRIAL},
    {1790000300, "d-2", "socks_banner", NULL, NULL, 0},
};

Test(record, offers_round_trip_as_version_2)
{
    arb_customer_t c, d;
    realistic(&c);
    c.offers = offers;
    c.n_offers = 3;
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0);
    cr_assert_eq(buf[4], 2, "a record with offers is version 2");
    cr_assert_eq(arb_record_size(buf, len), len);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_record_decode(buf, len, &d, &a, &err), 0, "%s", err.message);
    cr_assert_eq(d.n_events, 20);
    cr_assert_eq(d.n_suppressions, 1);
    cr_assert_eq(d.n_offers, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(d.offers[i].ts, offers[i].ts);
        cr_assert(same(d.offers[i].decision_id, offers[i].decision_id));
        cr_assert(same(d.offers[i].action, offers[i].action));
        cr_assert(same(d.offers[i].channel, offers[i].channel));
        cr_assert(same(d.offers[i].segment, offers[i].segment), "offer %zu", i);
        cr_assert_eq(d.offers[i].learned, offers[i].learned, "offer %zu", i);
    }
    /* Every truncation and every flipped byte of it is refused too. */
    for (size_t n = 0; n < len; n++) expect_bad(buf, n, "corrupt customer record");
    for (size_t i = 0; i < len; i++) {
        if (i == 4) continue;
        buf[i] ^= 0x41;
        expect_bad(buf, len, "corrupt customer record");
        buf[i] ^= 0x41;
    }
    buf[4] = 1;
    expect_bad(buf, len, "not an 8-field array");
    arb_arena_free(&a);
    free(buf);
}

/* A valid version 2 header and checksum over payload p. */
static void expect_v2_bad(const uint8_t *p, size_t n, const char *want)
{
    uint8_t buf[256] = {'A', 'R', 'B', 'C', 2};
    buf[5] = n & 0xff;
    uLong crc = crc32(0, p, n);
    for (int i = 0; i < 4; i++) buf[9 + i] = (crc >> (8 * i)) & 0xff;
    memcpy(buf + 13, p, n);
    expect_bad(buf, 13 + n, want);
}

Test(record, offers_of_the_wrong_shape_are_refused)
{
    /* ["x", [], [], [], [], [], nil, [], OFFERS] */
#define V2(want, ...)                                                                         \
    do {                                                                                      \
        const uint8_t p_[] = {0x99, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, __VA_ARGS__}; \
        expect_v2_bad(p_, sizeof p_, want);                                                   \
    } while (0)
    /* offers not an array */
    V2("offers", 0x01);
    /* an offer with 5 fields (no learned bits) */
    V2("offers", 0x91, 0x95, 0x01, 0xa1, 'd', 0xa1, 'a', 0xc0, 0xa0);
    /* an offer without a decision_id: it could never be found */
    V2("offers", 0x91, 0x96, 0x01, 0xc0, 0xa1, 'a', 0xc0, 0xc0, 0x00);
    /* an offer whose ts is a string */
    V2("offers", 0x91, 0x96, 0xa1, 't', 0xa1, 'd', 0xa1, 'a', 0xc0, 0xc0, 0x00);
    /* an offer whose segment is a number */
    V2("offers", 0x91, 0x96, 0x01, 0xa1, 'd', 0xa1, 'a', 0xc0, 0x07, 0x00);
    /* learned bits beyond the two there are, or not a number */
    V2("offers", 0x91, 0x96, 0x01, 0xa1, 'd', 0xa1, 'a', 0xc0, 0xa0, 0x04);
    V2("offers", 0x91, 0x96, 0x01, 0xa1, 'd', 0xa1, 'a', 0xc0, 0xa0, 0xc0);
    /* a well-formed offer decodes (the case above, checked to be near) */
    const uint8_t ok[] = {0x99, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90,
                          0x91, 0x96, 0x01, 0xa1, 'd', 0xa1, 'a', 0xc0, 0xa0, 0x03};
    uint8_t buf[64] = {'A', 'R', 'B', 'C', 2, sizeof ok};
    uLong crc = crc32(0, ok, sizeof ok);
    for (int i = 0; i < 4; i++) buf[9 + i] = (crc >> (8 * i)) & 0xff;
    memcpy(buf + 13, ok, sizeof ok);
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t d;
    arb_err_t err = {0};
    cr_assert_eq(arb_record_decode(buf, 13 + sizeof ok, &d, &a, &err), 0, "%s", err.message);
    cr_assert_eq(d.n_offers, 1);
    cr_assert_str_eq(d.offers[0].decision_id, "d");
    cr_assert_null(d.offers[0].channel);
    cr_assert_str_eq(d.offers[0].segment, "");
    cr_assert_eq(d.offers[0].learned, ARB_OFFER_TRIAL | ARB_OFFER_POSITIVE);
    arb_arena_free(&a);
#undef V2
}

/* A valid header and checksum over a payload of the wrong shape. */
static void expect_payload_bad(const char *hex_note, const uint8_t *p, size_t n, const char *want)
{
    uint8_t buf[256] = {'A', 'R', 'B', 'C', 1};
    buf[5] = n & 0xff;
    uLong crc = crc32(0, p, n);
    for (int i = 0; i < 4; i++) buf[9 + i] = (crc >> (8 * i)) & 0xff;
    memcpy(buf + 13, p, n);
    expect_bad(buf, 13 + n, want);
    (void)hex_note;
}

Test(record, a_checksummed_payload_of_the_wrong_shape_is_refused)
{
    /* not an array */
    expect_payload_bad("1", (const uint8_t[]){0x01}, 1, "8-field array");
    /* [] */
    expect_payload_bad("[]", (const uint8_t[]){0x90}, 1, "8-field array");
    /* ["x", 1, [], [], [], [], nil, []]: events not an array */
    expect_payload_bad("events", (const uint8_t[]){0x98, 0xa1, 'x', 0x01, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90}, 10,
                       "events");
    /* ["x", [], [], [[1]], ...]: a contact with one field */
    expect_payload_bad("contacts", (const uint8_t[]){0x98, 0xa1, 'x', 0x90, 0x90, 0x91, 0x91, 0x01, 0x90, 0x90, 0xc0, 0x90},
                       12, "contacts");
    /* a consent whose granted is not a boolean */
    expect_payload_bad("consents", (const uint8_t[]){0x98, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x91, 0x93, 0x01, 0xa1, 'k', 0x01, 0xc0, 0x90},
                       15, "consents");
    /* an id with a NUL inside */
    expect_payload_bad("id", (const uint8_t[]){0x98, 0xa2, 'x', 0, 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90}, 11, "id");
    /* an array claiming 4 billion elements: refused before msgpack-c allocates them */
    expect_payload_bad("huge", (const uint8_t[]){0xdd, 0xff, 0xff, 0xff, 0xff, 0x90}, 6, "record's shape");
    /* attributes (a bin) holding a map that claims 4 billion entries */
    expect_payload_bad("attrs", (const uint8_t[]){0x98, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90,
                                                  0xc4, 0x05, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x90}, 16, "attributes");
    /* trailing bytes inside the payload */
    expect_payload_bad("trail", (const uint8_t[]){0x98, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, 0xc0}, 11,
                       "not msgpack of the record");
}

Test(record, padding_after_the_payload_is_ignored)
{
    arb_customer_t c, d;
    realistic(&c);
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0);
    uint8_t *pad = calloc(1, len + 4000);
    memcpy(pad, buf, len);
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_record_decode(pad, len + 4000, &d, &a, &err), 0, "%s", err.message);
    cr_assert_eq(d.n_events, 20);
    arb_arena_free(&a);
    free(pad);
    free(buf);
}

/* Bytes arb_record_encode wrote as version 2 before pseudonyms (commit
 * dc62937, 9 fields): customer "c-v2", one event, one contact, two offers.
 * Kept as they were: records on disk and in Redis are these. */
static const uint8_t V2_NO_PSEUDONYM[] = {
    0x41, 0x52, 0x42, 0x43, 0x02, 0x71, 0x00, 0x00, 0x00, 0x17, 0x8e, 0xca,
    0xcb, 0x99, 0xa4, 0x63, 0x2d, 0x76, 0x32, 0x91, 0x97, 0xce, 0x6a, 0xb1,
    0x3b, 0x80, 0xa4, 0x76, 0x69, 0x65, 0x77, 0xa3, 0x77, 0x65, 0x62, 0xa5,
    0x53, 0x4b, 0x55, 0x2d, 0x31, 0xa5, 0x73, 0x68, 0x6f, 0x65, 0x73, 0xc0,
    0xc0, 0x90, 0x91, 0x94, 0xce, 0x6a, 0xb1, 0x3b, 0xe4, 0xa5, 0x62, 0x6f,
    0x6f, 0x74, 0x73, 0xa3, 0x77, 0x65, 0x62, 0xa8, 0x64, 0x65, 0x63, 0x69,
    0x73, 0x69, 0x6f, 0x6e, 0x90, 0x90, 0xc0, 0x90, 0x92, 0x96, 0xce, 0x6a,
    0xb1, 0x3b, 0xe4, 0xa3, 0x64, 0x2d, 0x31, 0xa5, 0x62, 0x6f, 0x6f, 0x74,
    0x73, 0xa3, 0x77, 0x65, 0x62, 0xa0, 0x01, 0x96, 0xce, 0x6a, 0xb1, 0x3c,
    0x48, 0xa3, 0x64, 0x2d, 0x32, 0xa5, 0x73, 0x6f, 0x63, 0x6b, 0x73, 0xc0,
    0xa4, 0x67, 0x6f, 0x6c, 0x64, 0x00,
};

static void expect_c_v2(const arb_customer_t *d)
{
    cr_assert_str_eq(d->id, "c-v2");
    cr_assert_eq(d->n_events, 1);
    cr_assert_str_eq(d->events[0].sku, "SKU-1");
    cr_assert_eq(d->n_contacts, 1);
    cr_assert_str_eq(d->contacts[0].action, "boots");
    cr_assert_eq(d->n_offers, 2);
    cr_assert_str_eq(d->offers[0].decision_id, "d-1");
    cr_assert_eq(d->offers[0].learned, ARB_OFFER_TRIAL);
    cr_assert_str_eq(d->offers[1].segment, "gold");
    cr_assert_null(d->offers[1].channel);
}

Test(record, a_version_2_record_from_before_pseudonyms_still_decodes)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t d, e;
    arb_err_t err = {0};
    cr_assert_eq(arb_record_size(V2_NO_PSEUDONYM, sizeof V2_NO_PSEUDONYM), sizeof V2_NO_PSEUDONYM);
    cr_assert_eq(arb_record_decode(V2_NO_PSEUDONYM, sizeof V2_NO_PSEUDONYM, &d, &a, &err), 0, "%s",
                 err.message);
    expect_c_v2(&d);
    cr_assert_null(d.pseudonym, "a record from before pseudonyms names none");
    /* Written again it is still version 2, now with the 10th field nil. */
    uint8_t *buf;
    size_t len;
    cr_assert_eq(arb_record_encode(&d, &buf, &len, &err), 0, "%s", err.message);
    cr_assert_eq(buf[4], 2);
    cr_assert_eq(buf[ARB_RECORD_HEADER], 0x9a, "a 10-field array");
    cr_assert_eq(buf[len - 1], 0xc0, "the pseudonym: nil");
    cr_assert_eq(arb_record_decode(buf, len, &e, &a, &err), 0, "%s", err.message);
    expect_c_v2(&e);
    cr_assert_null(e.pseudonym);
    free(buf);
    arb_arena_free(&a);
}

static const char PSEUDO[] = "9f86d081884c7d659a2feaa0c55ad015";

Test(record, a_pseudonym_round_trips_as_a_10th_field_of_version_2)
{
    arb_customer_t c, d;
    realistic(&c);
    c.pseudonym = PSEUDO;
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0, "%s", err.message);
    cr_assert_eq(buf[4], 2, "a pseudonym without offers is version 2 too");
    cr_assert_eq(buf[ARB_RECORD_HEADER], 0x9a, "a 10-field array");
    arb_arena_t a;
    arb_arena_init(&a);
    cr_assert_eq(arb_record_decode(buf, len, &d, &a, &err), 0, "%s", err.message);
    cr_assert_str_eq(d.pseudonym, PSEUDO);
    cr_assert_eq(d.n_offers, 0);
    cr_assert_eq(d.n_events, 20);
    cr_assert_eq(d.n_suppressions, 1);
    /* With offers as well. */
    c.offers = offers;
    c.n_offers = 3;
    uint8_t *buf2;
    size_t len2;
    cr_assert_eq(arb_record_encode(&c, &buf2, &len2, &err), 0, "%s", err.message);
    cr_assert_eq(arb_record_decode(buf2, len2, &d, &a, &err), 0, "%s", err.message);
    cr_assert_str_eq(d.pseudonym, PSEUDO);
    cr_assert_eq(d.n_offers, 3);
    cr_assert_str_eq(d.offers[2].action, "socks_banner");
    /* Every truncation and every flipped byte of it is refused. */
    for (size_t n = 0; n < len; n++) expect_bad(buf, n, "corrupt customer record");
    for (size_t i = 0; i < len; i++) {
        if (i == 4) continue;
        buf[i] ^= 0x41;
        expect_bad(buf, len, "corrupt customer record");
        buf[i] ^= 0x41;
    }
    arb_arena_free(&a);
    free(buf2);
    free(buf);
}

Test(record, a_customer_with_neither_offers_nor_pseudonym_is_version_1)
{
    arb_customer_t c;
    realistic(&c);
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), 0, "%s", err.message);
    cr_assert_eq(buf[4], 1);
    cr_assert_eq(buf[ARB_RECORD_HEADER], 0x98, "the 8 fields of version 1");
    free(buf);
}

Test(record, a_pseudonym_that_is_not_32_hex_digits_is_refused)
{
    /* ["x", [], [], [], [], [], nil, [], [], PSEUDONYM] */
#define V2P(want, ...)                                                                        \
    do {                                                                                      \
        const uint8_t p_[] = {0x9a, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, 0x90, \
                              __VA_ARGS__};                                                   \
        expect_v2_bad(p_, sizeof p_, want);                                                   \
    } while (0)
#define H8 '0', '1', '2', '3', 'a', 'b', 'c', 'd'
    V2P("pseudonym", 0x07);                                        /* a number */
    V2P("pseudonym", 0xc4, 0x01, 'a');                             /* bytes, not a str */
    V2P("pseudonym", 0xa0);                                        /* empty */
    V2P("pseudonym", 0xbf, H8, H8, H8, '0', '1', '2', '3', 'a', 'b', 'c');     /* 31 digits */
    V2P("pseudonym", 0xd9, 33, H8, H8, H8, H8, 'e');               /* 33 digits */
    V2P("pseudonym", 0xd9, 32, H8, H8, H8, '0', '1', '2', '3', 'a', 'b', 'c', 'g'); /* not hex */
    V2P("pseudonym", 0xd9, 32, H8, H8, H8, '0', '1', '2', '3', 'a', 'b', 'c', 0);   /* a NUL inside */
    /* Eleven fields is no known shape. */
    const uint8_t eleven[] = {0x9b, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, 0x90, 0xc0, 0xc0};
    expect_v2_bad(eleven, sizeof eleven, "or 10, with the pseudonym");
    /* The near cases decode: 32 digits (either case), and nil. */
    const uint8_t ok[][45] = {
        {0x9a, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, 0x90,
         0xd9, 32, H8, H8, H8, '0', '1', '2', '3', 'A', 'B', 'C', 'F'},
        {0x9a, 0xa1, 'x', 0x90, 0x90, 0x90, 0x90, 0x90, 0xc0, 0x90, 0x90, 0xc0},
    };
    const size_t ok_len[] = {45, 12};
    for (int k = 0; k < 2; k++) {
        uint8_t buf[64] = {'A', 'R', 'B', 'C', 2, (uint8_t)ok_len[k]};
        uLong crc = crc32(0, ok[k], ok_len[k]);
        for (int i = 0; i < 4; i++) buf[9 + i] = (crc >> (8 * i)) & 0xff;
        memcpy(buf + 13, ok[k], ok_len[k]);
        arb_arena_t a;
        arb_arena_init(&a);
        arb_customer_t d;
        arb_err_t err = {0};
        cr_assert_eq(arb_record_decode(buf, 13 + ok_len[k], &d, &a, &err), 0, "case %d: %s", k, err.message);
        if (k == 0) cr_assert_str_eq(d.pseudonym, "0123abcd0123abcd0123abcd0123ABCF");
        else cr_assert_null(d.pseudonym);
        arb_arena_free(&a);
    }
#undef H8
#undef V2P
}

Test(record, a_pseudonym_that_is_not_32_hex_digits_is_never_written)
{
    arb_customer_t c;
    realistic(&c);
    const char *bad[] = {"", "9f86d081884c7d659a2feaa0c55ad01", "9f86d081884c7d659a2feaa0c55ad0155",
                         "9f86d081884c7d659a2feaa0c55ad01z", "9f86d081-84c7-d659-a2fe-aa0c55ad0155"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.pseudonym = bad[i];
        uint8_t *buf = NULL;
        size_t len;
        arb_err_t err = {0};
        cr_assert_eq(arb_record_encode(&c, &buf, &len, &err), -1, "wrote pseudonym \"%s\"", bad[i]);
        cr_assert_null(strstr(err.message, "corrupt"));
        cr_assert_not_null(strstr(err.message, "32 hex digits"), "%s", err.message);
        cr_assert_not(arb_record_pseudonym_ok(bad[i]));
    }
    cr_assert(arb_record_pseudonym_ok(PSEUDO));
    cr_assert_not(arb_record_pseudonym_ok(NULL));
}

