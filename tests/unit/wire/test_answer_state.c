/* Unit tests for the state methods' answers (engine/wire/answer_state.c):
 * track, feedback, forget, customer (with its offers and pseudonym) and learning, packed
 * from plain values, unpacked and every field checked in order with its
 * type. The customer's stored
 * msgpack (attributes, an event's extra fields) comes back inside the
 * answer, every string of it valid UTF-8.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "tests/support/answerfix.h"
#include "engine/base/utf8.h"
#include "engine/request/arm.h"
#include "engine/request/customer.h"
#include "engine/wire/answer.h"

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static msgpack_unpacked g_up;

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
}

static void teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
}

TestSuite(answer_state, .init = setup, .fini = teardown);

static const msgpack_object *val(const msgpack_object *map, uint32_t i) { return &map->via.map.ptr[i].val; }

static void expect_int(const msgpack_object *o, int64_t want, const char *what)
{
    int64_t got = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)o->via.u64
                  : o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 : INT64_MIN;
    cr_assert_eq(got, want, "%s", what);
}

static void expect_true(const msgpack_object *o, const char *what)
{
    cr_assert(o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean, "%s", what);
}

Test(answer_state, track_feedback_forget)
{
    arb_answer_pack_track(&g_pk, 3);
    const msgpack_object *a = af_unpacked(&g_up, &g_sb);
    af_expect_keys(a, (const char *const[]){ "stored", NULL }, "track");
    expect_int(val(a, 0), 3, "stored");
    teardown(); setup();
    arb_answer_pack_feedback(&g_pk);
    a = af_unpacked(&g_up, &g_sb);
    af_expect_keys(a, (const char *const[]){ "ok", NULL }, "feedback");
    expect_true(val(a, 0), "ok");
    teardown(); setup();
    arb_answer_pack_forget(&g_pk);
    a = af_unpacked(&g_up, &g_sb);
    af_expect_keys(a, (const char *const[]){ "forgotten", NULL }, "forget");
    expect_true(val(a, 0), "forgotten");
}

static const char *const TOP[] = { "customer_id", "events", "purchases", "contacts", "outcomes",
                                   "consent", "attributes", "suppressions", "offers", "pseudonym",
                                   NULL };

Test(answer_state, customer_never_stored)
{
    arb_customer_t c = { .id = "" };
    arb_answer_pack_customer(&g_pk, &c);
    const msgpack_object *a = af_unpacked(&g_up, &g_sb);
    af_expect_keys(a, TOP, "empty customer");
    cr_assert(af_str_is(val(a, 0), ""));
    for (uint32_t i = 1; i <= 4; i++)
        cr_assert(val(a, i)->type == MSGPACK_OBJECT_ARRAY && val(a, i)->via.array.size == 0, "%u", i);
    cr_assert(val(a, 5)->type == MSGPACK_OBJECT_MAP && val(a, 5)->via.map.size == 0);
    cr_assert(val(a, 6)->type == MSGPACK_OBJECT_MAP && val(a, 6)->via.map.size == 0);
    cr_assert(val(a, 7)->type == MSGPACK_OBJECT_ARRAY && val(a, 7)->via.array.size == 0);
    cr_assert(val(a, 8)->type == MSGPACK_OBJECT_ARRAY && val(a, 8)->via.array.size == 0, "no offers");
    cr_assert_eq(val(a, 9)->type, MSGPACK_OBJECT_NIL, "no pseudonym: nil");
}

/* A msgpack map {"brand": "Ac\xff", "n": [1, "\xc3"]} (bytes not UTF-8). */
static size_t pack_extra(char *buf, size_t cap)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 5); msgpack_pack_str_body(&pk, "brand", 5);
    msgpack_pack_str(&pk, 3); msgpack_pack_str_body(&pk, "Ac\xff", 3);
    msgpack_pack_str(&pk, 1); msgpack_pack_str_body(&pk, "n", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str(&pk, 1); msgpack_pack_str_body(&pk, "\xc3", 1);
    cr_assert(sb.size <= cap);
    memcpy(buf, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

Test(answer_state, customer_every_field)
{
    char extra[64], attrs[64];
    size_t extra_len = pack_extra(extra, sizeof extra);
    /* attributes {"tier": "gold"} */
    const char attr_bytes[] = "\x81\xa4tier\xa4gold";
    memcpy(attrs, attr_bytes, sizeof attr_bytes - 1);
    arb_event_t events[] = {
        { .ts = 100, .type = "view", .channel = "web", .sku = "S1", .category = "shoes",
          .price = NAN, .extra = (const uint8_t *)extra, .extra_len = extra_len },
        { .ts = 101, .type = "cart\xfe", .price = 2.5 },
    };
    arb_event_t purchases[] = { { .ts = 200, .sku = "S2", .price = 19.5, .channel = "store" } };
    arb_contact_t contacts[] = { { .ts = 300, .action = "promo", .channel = "email", .counted = "decision" },
                                 { .ts = 301, .action = "promo", .channel = NULL, .counted = "impression" } };
    arb_outcome_t outcomes[] = { { .ts = 400, .action = "promo", .outcome = "click", .decision_id = "d1",
                                   .channel = "email", .value = 3.5 },
                                 { .ts = 401, .action = "promo", .outcome = "impression", .value = NAN } };
    arb_consent_t consents[] = { { .ts = 500, .key = "email", .granted = true },
                                 { .ts = 501, .key = "location", .granted = false } };
    arb_suppression_t sup[] = { { .until = 600, .action = "promo", .reason = "complaint" },
                                { .until = 601, .action = "other" } };
    arb_offer_t offers[] = { { .ts = 700, .decision_id = "d1", .action = "promo", .channel = "email",
                               .segment = "gold" },
                             { .ts = 701, .decision_id = "d2", .action = "promo\xff", .channel = NULL,
                               .segment = "" } };
    arb_customer_t c = { .id = "c-42", .events = events, .n_events = 2, .purchases = purchases,
                         .n_purchases = 1, .contacts = contacts, .n_contacts = 2, .outcomes = outcomes,
                         .n_outcomes = 2, .consents = consents, .n_consents = 2,
                         .attributes = (const uint8_t *)attrs, .attributes_len = sizeof attr_bytes - 1,
                         .suppressions = sup, .n_suppressions = 2, .offers = offers, .n_offers = 2,
                         .pseudonym = "0123456789abcdef0123456789abcdef" };
    arb_answer_pack_customer(&g_pk, &c);
    const msgpack_object *a = af_unpacked(&g_up, &g_sb);
    af_expect_keys(a, TOP, "customer");
    cr_assert(af_str_is(val(a, 0), "c-42"));

    const msgpack_object *ev = val(a, 1);
    cr_assert_eq(ev->via.array.size, 2);
    const msgpack_object *e0 = &ev->via.array.ptr[0];
    af_expect_keys(e0, (const char *const[]){ "type", "ts", "sku", "category", "channel", "brand", "n", NULL }, "event 0");
    cr_assert(af_str_is(val(e0, 0), "view"));
    expect_int(val(e0, 1), 100, "ts");
    cr_assert(af_str_is(val(e0, 2), "S1"));
    cr_assert(af_str_is(val(e0, 3), "shoes"));
    cr_assert(af_str_is(val(e0, 4), "web"));
    cr_assert(af_str_is(val(e0, 5), "Ac\\xFF"), "bad bytes of an extra come back escaped");
    cr_assert_eq(val(e0, 6)->type, MSGPACK_OBJECT_ARRAY);
    expect_int(&val(e0, 6)->via.array.ptr[0], 1, "n[0]");
    cr_assert(af_str_is(&val(e0, 6)->via.array.ptr[1], "\\xC3"));
    const msgpack_object *e1 = &ev->via.array.ptr[1];
    af_expect_keys(e1, (const char *const[]){ "type", "ts", "price", NULL }, "event 1");
    cr_assert(af_str_is(val(e1, 0), "cart\\xFE"));
    cr_assert_float_eq(val(e1, 2)->via.f64, 2.5, 1e-12);

    const msgpack_object *p0 = &val(a, 2)->via.array.ptr[0];
    cr_assert_eq(val(a, 2)->via.array.size, 1);
    af_expect_keys(p0, (const char *const[]){ "ts", "sku", "channel", "price", NULL }, "purchase");
    expect_int(val(p0, 0), 200, "purchase ts");
    cr_assert(af_str_is(val(p0, 1), "S2"));
    cr_assert(af_str_is(val(p0, 2), "store"));
    cr_assert_eq(val(p0, 3)->type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_float_eq(val(p0, 3)->via.f64, 19.5, 1e-12);

    const msgpack_object *ct = val(a, 3);
    cr_assert_eq(ct->via.array.size, 2);
    static const char *const CK[] = { "action", "channel", "ts", "counted", NULL };
    af_expect_keys(&ct->via.array.ptr[0], CK, "contact 0");
    cr_assert(af_str_is(val(&ct->via.array.ptr[0], 0), "promo"));
    cr_assert(af_str_is(val(&ct->via.array.ptr[0], 1), "email"));
    expect_int(val(&ct->via.array.ptr[0], 2), 300, "contact ts");
    cr_assert(af_str_is(val(&ct->via.array.ptr[0], 3), "decision"));
    af_expect_keys(&ct->via.array.ptr[1], CK, "contact 1");
    cr_assert_eq(val(&ct->via.array.ptr[1], 1)->type, MSGPACK_OBJECT_NIL, "any channel: nil");
    cr_assert(af_str_is(val(&ct->via.array.ptr[1], 3), "impression"));

    const msgpack_object *oc = val(a, 4);
    cr_assert_eq(oc->via.array.size, 2);
    const msgpack_object *o0 = &oc->via.array.ptr[0];
    af_expect_keys(o0, (const char *const[]){ "action", "outcome", "ts", "decision_id", "channel", "value", NULL }, "outcome 0");
    cr_assert(af_str_is(val(o0, 0), "promo"));
    cr_assert(af_str_is(val(o0, 1), "click"));
    expect_int(val(o0, 2), 400, "outcome ts");
    cr_assert(af_str_is(val(o0, 3), "d1"));
    cr_assert(af_str_is(val(o0, 4), "email"));
    cr_assert_float_eq(val(o0, 5)->via.f64, 3.5, 1e-12);
    af_expect_keys(&oc->via.array.ptr[1], (const char *const[]){ "action", "outcome", "ts", NULL }, "outcome 1");

    const msgpack_object *cs = val(a, 5);
    af_expect_keys(cs, (const char *const[]){ "email", "location", NULL }, "consent");
    static const char *const GK[] = { "granted", "ts", NULL };
    af_expect_keys(val(cs, 0), GK, "consent.email");
    expect_true(val(val(cs, 0), 0), "email granted");
    expect_int(val(val(cs, 0), 1), 500, "email ts");
    af_expect_keys(val(cs, 1), GK, "consent.location");
    cr_assert(val(val(cs, 1), 0)->type == MSGPACK_OBJECT_BOOLEAN && !val(val(cs, 1), 0)->via.boolean);
    expect_int(val(val(cs, 1), 1), 501, "location ts");

    const msgpack_object *at = val(a, 6);
    af_expect_keys(at, (const char *const[]){ "tier", NULL }, "attributes");
    cr_assert(af_str_is(val(at, 0), "gold"));

    const msgpack_object *su = val(a, 7);
    cr_assert_eq(su->via.array.size, 2);
    af_expect_keys(&su->via.array.ptr[0], (const char *const[]){ "action", "until", "reason", NULL }, "sup 0");
    cr_assert(af_str_is(val(&su->via.array.ptr[0], 0), "promo"));
    expect_int(val(&su->via.array.ptr[0], 1), 600, "until");
    cr_assert(af_str_is(val(&su->via.array.ptr[0], 2), "complaint"));
    af_expect_keys(&su->via.array.ptr[1], (const char *const[]){ "action", "until", NULL }, "sup 1");

    const msgpack_object *of = val(a, 8);
    cr_assert_eq(of->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(of->via.array.size, 2);
    static const char *const OK[] = { "ts", "decision_id", "action", "channel", "segment", NULL };
    const msgpack_object *f0 = &of->via.array.ptr[0];
    af_expect_keys(f0, OK, "offer 0");
    expect_int(val(f0, 0), 700, "offer ts");
    cr_assert(af_str_is(val(f0, 1), "d1"));
    cr_assert(af_str_is(val(f0, 2), "promo"));
    cr_assert(af_str_is(val(f0, 3), "email"));
    cr_assert(af_str_is(val(f0, 4), "gold"));
    const msgpack_object *f1 = &of->via.array.ptr[1];
    af_expect_keys(f1, OK, "offer 1");
    cr_assert(af_str_is(val(f1, 2), "promo\\xFF"), "bad bytes come back escaped");
    cr_assert_eq(val(f1, 3)->type, MSGPACK_OBJECT_NIL, "no channel: nil");
    cr_assert_eq(val(f1, 4)->type, MSGPACK_OBJECT_NIL, "the pooled arm's segment: nil");

    cr_assert(af_str_is(val(a, 9), "0123456789abcdef0123456789abcdef"), "the pseudonym the log names");
}

static void expect_f64(const msgpack_object *o, double want, const char *what)
{
    cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64, "%s: a float", what);
    cr_assert_float_eq(o->via.f64, want, 1e-12, "%s", what);
}

Test(answer_state, learning_lists_every_arm_in_order)
{
    arb_arm_view_t rows[] = {
        { .action = "boots", .channel = "web", .segment = "", .positives = 3, .negatives = 7,
          .trials = 10, .mean = 0.25 },
        { .action = "boots", .channel = "web", .segment = "gold\xfe", .positives = 1.5, .negatives = 0,
          .trials = 1.5, .mean = 0.6 },
    };
    arb_answer_pack_learning(&g_pk, rows, 2);
    const msgpack_object *a = af_unpacked(&g_up, &g_sb);
    cr_assert_eq(a->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(a->via.array.size, 2);
    static const char *const K[] = { "action", "channel", "segment", "positives", "negatives", "trials",
                                     "mean", NULL };
    const msgpack_object *r0 = &a->via.array.ptr[0];
    af_expect_keys(r0, K, "pooled arm");
    cr_assert(af_str_is(val(r0, 0), "boots"));
    cr_assert(af_str_is(val(r0, 1), "web"));
    cr_assert_eq(val(r0, 2)->type, MSGPACK_OBJECT_NIL, "the pooled arm's segment: nil");
    expect_f64(val(r0, 3), 3, "positives");
    expect_f64(val(r0, 4), 7, "negatives");
    expect_f64(val(r0, 5), 10, "trials");
    expect_f64(val(r0, 6), 0.25, "mean");
    const msgpack_object *r1 = &a->via.array.ptr[1];
    af_expect_keys(r1, K, "segment arm");
    cr_assert(af_str_is(val(r1, 2), "gold\\xFE"), "a segment's bad bytes come back escaped");
    expect_f64(val(r1, 3), 1.5, "decayed positives keep their fraction");
    expect_f64(val(r1, 6), 0.6, "mean");
    teardown(); setup();
    arb_answer_pack_learning(&g_pk, NULL, 0);
    a = af_unpacked(&g_up, &g_sb);
    cr_assert(a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size == 0, "no arms: []");
}

Test(answer_state, customer_bad_utf8_escaped)
{
    arb_consent_t consents[] = { { .ts = 1, .key = "e\xffmail", .granted = true } };
    arb_customer_t c = { .id = "c\xc3", .consents = consents, .n_consents = 1 };
    arb_answer_pack_customer(&g_pk, &c);
    const msgpack_object *a = af_unpacked(&g_up, &g_sb);
    cr_assert(af_str_is(val(a, 0), "c\\xC3"));
    cr_assert(af_str_is(&val(a, 5)->via.map.ptr[0].key, "e\\xFFmail"));
}
