/* Unit tests for the state methods' parameters (engine/request/track.c):
 * track, feedback, customer and forget. Every field's refusal with its
 * exact message, the defaults, the extra fields of events and purchases
 * kept as msgpack, and copies that outlive the request's frame (the frame
 * is overwritten and freed before the values are read).
 *
 * Arguments are written as JSON (jansson), packed to MessagePack and
 * unpacked as a frame would be; what JSON cannot say (binary, duplicate
 * keys, bad UTF-8) is packed by hand into g_pk. ctxfix.h is not used: it
 * includes context.h, whose arb_event_t is not customer.h's.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "engine/base/pack.h"
#include "engine/request/track.h"
#include "engine/state/store.h"

/* request/ checks the bound the store keys by. */
_Static_assert(ARB_CUSTOMER_ID_MAX == ARB_STORE_ID_MAX, "customer_id bounds differ");

#define NOW 1700000000

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static msgpack_unpacked g_up;
static arb_arena_t g_arena;
static arb_err_t g_err;
static arb_commit_t g_c;
static const char *g_id;
static arb_feedback_t g_fb;

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
    arb_arena_init(&g_arena);
    memset(&g_err, 0, sizeof g_err);
}

static void teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
    arb_arena_free(&g_arena);
}

TestSuite(track, .init = setup, .fini = teardown);

static void pk_str(const char *s)
{
    msgpack_pack_str(&g_pk, strlen(s));
    msgpack_pack_str_body(&g_pk, s, strlen(s));
}

static void pack_json(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(&g_pk, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            pk_str(k);
            pack_json(v);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(&g_pk, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) pack_json(v);
        break;
    }
    case JSON_STRING:
        msgpack_pack_str(&g_pk, json_string_length(j));
        msgpack_pack_str_body(&g_pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER: msgpack_pack_int64(&g_pk, json_integer_value(j)); break;
    case JSON_REAL: msgpack_pack_double(&g_pk, json_real_value(j)); break;
    case JSON_TRUE: msgpack_pack_true(&g_pk); break;
    case JSON_FALSE: msgpack_pack_false(&g_pk); break;
    case JSON_NULL: msgpack_pack_nil(&g_pk); break;
    }
}

/* g_sb unpacked into g_up: the argument as a frame holds it. */
static const msgpack_object *arg_packed(void)
{
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    return &g_up.data;
}

static const msgpack_object *arg_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert(j, "bad test JSON: %s: %s", text, e.text);
    msgpack_sbuffer_clear(&g_sb);   /* a new frame; the last one's values were copied */
    pack_json(j);
    json_decref(j);
    return arg_packed();
}

static int track(const char *text) { return arb_track_parse(arg_json(text), NOW, &g_arena, &g_id, &g_c, &g_err); }
static int track_packed(void) { return arb_track_parse(arg_packed(), NOW, &g_arena, &g_id, &g_c, &g_err); }
static int feedback(const char *text) { return arb_feedback_parse(arg_json(text), NOW, &g_arena, &g_fb, &g_err); }
static int ref(const char *text) { return arb_customer_ref_parse(arg_json(text), &g_arena, &g_id, &g_err); }

static void expect_refused(int rc, const char *want, const char *what)
{
    cr_assert_eq(rc, -1, "%s: accepted", what);
    cr_assert_eq(g_err.code, ARB_INVALID_PARAMS, "%s: code %d", what, g_err.code);
    cr_assert_str_eq(g_err.message, want, "%s", what);
}

/* Nothing left of the frame: its bytes overwritten, then freed. */
static void drop_frame(void)
{
    memset(g_sb.data, 0xAA, g_sb.size);
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
    msgpack_sbuffer_init(&g_sb);
    msgpack_unpacked_init(&g_up);
}

/* ---- track: what is kept ---------------------------------------------------------- */

Test(track, full_argument_kept_and_copies_outlive_the_frame)
{
    int rc = track("{\"customer_id\": \"c-42\", \"channel\": \"web\", \"now\": 1700000500,"
                   " \"events\": [{\"type\": \"view\", \"ts\": 1700000100, \"sku\": \"S1\","
                   "   \"category\": \"shoes\", \"channel\": \"app\", \"brand\": \"Acme\", \"n\": [1, 2]},"
                   "  {\"type\": \"cart_add\", \"ts\": 1700000200}],"
                   " \"purchases\": [{\"ts\": 1700000300, \"sku\": \"S2\", \"price\": 19.5,"
                   "   \"category\": \"bags\", \"channel\": \"store\", \"coupon\": \"X\"}, {\"ts\": 5}],"
                   " \"consent\": {\"email\": true, \"location\": false},"
                   " \"attributes\": {\"tier\": \"gold\", \"age\": 40}}");
    cr_assert_eq(rc, 0, "%s", g_err.message);
    drop_frame();
    cr_assert_str_eq(g_id, "c-42");
    cr_assert_eq(g_c.now, 1700000500);
    cr_assert_null(g_c.retention);
    cr_assert_eq(g_c.n_events, 2);
    const arb_event_t *e = g_c.events;
    cr_assert_eq(e[0].ts, 1700000100);
    cr_assert_str_eq(e[0].type, "view");
    cr_assert_str_eq(e[0].sku, "S1");
    cr_assert_str_eq(e[0].category, "shoes");
    cr_assert_str_eq(e[0].channel, "app");
    cr_assert(isnan(e[0].price));
    /* the extra fields, as a msgpack map of exactly them */
    cr_assert_not_null(e[0].extra);
    msgpack_unpacked x;
    msgpack_unpacked_init(&x);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&x, (const char *)e[0].extra, e[0].extra_len, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, e[0].extra_len);
    cr_assert_eq(x.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(x.data.via.map.size, 2);
    const msgpack_object *brand = arb_msgpack_map_get(&x.data, "brand");
    cr_assert(brand && brand->type == MSGPACK_OBJECT_STR && brand->via.str.size == 4 &&
              memcmp(brand->via.str.ptr, "Acme", 4) == 0);
    const msgpack_object *n = arb_msgpack_map_get(&x.data, "n");
    cr_assert(n && n->type == MSGPACK_OBJECT_ARRAY && n->via.array.size == 2);
    msgpack_unpacked_destroy(&x);
    /* absent fields: NULL, NAN, no extra */
    cr_assert_str_eq(e[1].type, "cart_add");
    cr_assert_null(e[1].sku);
    cr_assert_null(e[1].category);
    cr_assert_null(e[1].channel);
    cr_assert_null(e[1].extra);
    cr_assert_eq(e[1].extra_len, 0);
    cr_assert_eq(g_c.n_purchases, 2);
    const arb_event_t *p = g_c.purchases;
    cr_assert_null(p[0].type, "a purchase has no type");
    cr_assert_eq(p[0].ts, 1700000300);
    cr_assert_str_eq(p[0].sku, "S2");
    cr_assert_str_eq(p[0].category, "bags");
    cr_assert_str_eq(p[0].channel, "store");
    cr_assert_float_eq(p[0].price, 19.5, 1e-12);
    cr_assert_not_null(p[0].extra);
    cr_assert(isnan(p[1].price));
    cr_assert_null(p[1].extra);
    /* consent: one per key, at the commit's now */
    cr_assert_eq(g_c.n_consents, 2);
    cr_assert_str_eq(g_c.consents[0].key, "email");
    cr_assert(g_c.consents[0].granted);
    cr_assert_eq(g_c.consents[0].ts, 1700000500);
    cr_assert_str_eq(g_c.consents[1].key, "location");
    cr_assert_not(g_c.consents[1].granted);
    cr_assert_eq(g_c.consents[1].ts, 1700000500);
    /* attributes: the map's bytes */
    msgpack_unpacked a;
    msgpack_unpacked_init(&a);
    off = 0;
    cr_assert_eq(msgpack_unpack_next(&a, (const char *)g_c.attributes, g_c.attributes_len, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(a.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(a.data.via.map.size, 2);
    const msgpack_object *age = arb_msgpack_map_get(&a.data, "age");
    cr_assert(age && age->type == MSGPACK_OBJECT_POSITIVE_INTEGER && age->via.u64 == 40);
    msgpack_unpacked_destroy(&a);
    cr_assert_null(g_c.outcomes);
    cr_assert_null(g_c.contacts);
}

Test(track, defaults)
{
    cr_assert_eq(track("{\"customer_id\": \"c\", \"consent\": {\"email\": true}}"), 0, "%s", g_err.message);
    cr_assert_eq(g_c.now, NOW, "now defaults to the server's");
    cr_assert_eq(g_c.consents[0].ts, NOW);
    cr_assert_eq(g_c.n_events, 0);
    cr_assert_null(g_c.attributes);
    cr_assert_eq(track("{\"customer_id\": \"c\", \"events\": []}"), 0, "an empty list is something sent");
    cr_assert_eq(track("{\"customer_id\": \"c\", \"attributes\": {}}"), 0);
    cr_assert_not_null(g_c.attributes);
    cr_assert_eq(track("{\"customer_id\": \"c\", \"events\": [{\"type\": \"v\", \"ts\": 1,"
                       " \"sku\": \"\"}]}"), 0, "an empty sku is kept as sent");
    cr_assert_str_eq(g_c.events[0].sku, "");
    cr_assert_eq(track("{\"customer_id\": \"c\", \"now\": 77, \"events\": [{\"type\": \"v\"},"
                       " {\"type\": \"w\", \"ts\": 5}], \"purchases\": [{\"sku\": \"a\"}]}"), 0,
                 "%s", g_err.message);
    cr_assert_eq(g_c.events[0].ts, 77, "an event without ts happened at the request's now");
    cr_assert_eq(g_c.events[1].ts, 5, "a ts sent is kept");
    cr_assert_eq(g_c.purchases[0].ts, 77);
    cr_assert_eq(track("{\"customer_id\": \"c\", \"events\": [{\"type\": \"v\"}]}"), 0);
    cr_assert_eq(g_c.events[0].ts, NOW, "or at the server's clock");
}

Test(track, unknown_keys_ignored_as_in_a_context)
{
    cr_assert_eq(track("{\"customer_id\": \"c\", \"touchpoint\": \"home\", \"limit\": 3,"
                       " \"purchases\": [{\"ts\": 1}]}"), 0, "%s", g_err.message);
    cr_assert_eq(g_c.n_purchases, 1);
}

Test(track, customer_id_bounds)
{
    char body[700];
    memset(body, 'x', sizeof body);
    char text[800];
    snprintf(text, sizeof text, "{\"customer_id\": \"%.*s\", \"attributes\": {}}",
             ARB_CUSTOMER_ID_MAX, body);
    cr_assert_eq(track(text), 0, "%s", g_err.message);
    cr_assert_eq(strlen(g_id), ARB_CUSTOMER_ID_MAX);
    teardown();
    setup();
    snprintf(text, sizeof text, "{\"customer_id\": \"%.*s\", \"attributes\": {}}",
             ARB_CUSTOMER_ID_MAX + 1, body);
    expect_refused(track(text), "customer_id: at most 512 bytes, got 513", "513 bytes");
}

/* ---- track: refusals ------------------------------------------------------------- */

typedef struct { const char *arg, *want; } bad_t;

static const bad_t TRACK_BAD[] = {
    { "[1]", "track: expected a map, got an array" },
    { "{\"events\": []}", "customer_id: required" },
    { "{\"customer_id\": \"\", \"events\": []}", "customer_id: must not be empty" },
    { "{\"customer_id\": 7, \"events\": []}", "customer_id: expected a string, got an integer" },
    { "{\"customer_id\": \"c\"}", "track: nothing to store: send events, purchases, consent or attributes" },
    { "{\"customer_id\": \"c\", \"now\": \"x\"}", "now: expected an integer, got a string" },
    { "{\"customer_id\": \"c\", \"events\": [], \"now\": 1e300}", "now: expected an integer, got a float" },
    { "{\"customer_id\": \"c\", \"events\": [], \"now\": 999999999999}", "now: a unix time between years 1 and 9999" },
    { "{\"customer_id\": \"c\", \"events\": {}}", "events: expected an array, got a map" },
    { "{\"customer_id\": \"c\", \"events\": [3]}", "events[0]: expected a map, got an integer" },
    { "{\"customer_id\": \"c\", \"events\": [{\"type\": \"v\", \"ts\": 1}, {\"type\": \"v\", \"ts\": 1},"
      " {\"type\": \"v\", \"ts\": \"x\"}]}", "events[2].ts: expected an integer, got a string" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1}]}", "events[0].type: required" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1, \"type\": \"\"}]}", "events[0].type: must not be empty" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1, \"type\": 2}]}", "events[0].type: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1, \"type\": \"v\", \"sku\": 2}]}", "events[0].sku: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1, \"type\": \"v\", \"category\": []}]}", "events[0].category: expected a string, got an array" },
    { "{\"customer_id\": \"c\", \"events\": [{\"ts\": 1, \"type\": \"v\", \"channel\": null}]}", "events[0].channel: expected a string, got nil" },
    { "{\"customer_id\": \"c\", \"purchases\": \"x\"}", "purchases: expected an array, got a string" },
    { "{\"customer_id\": \"c\", \"purchases\": [{\"ts\": 1, \"price\": \"9\"}]}", "purchases[0].price: expected a number, got a string" },
    { "{\"customer_id\": \"c\", \"purchases\": [{\"ts\": 1, \"sku\": 1}]}", "purchases[0].sku: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"purchases\": [{\"ts\": 1, \"category\": 1}]}", "purchases[0].category: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"purchases\": [{\"ts\": 1, \"channel\": 1}]}", "purchases[0].channel: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"purchases\": [{\"ts\": true}]}", "purchases[0].ts: expected an integer, got a boolean" },
    { "{\"customer_id\": \"c\", \"consent\": [true]}", "consent: expected a map, got an array" },
    { "{\"customer_id\": \"c\", \"consent\": {\"email\": 1}}", "consent.email: expected a boolean, got an integer" },
    { "{\"customer_id\": \"c\", \"attributes\": 1}", "attributes: expected a map, got an integer" },
    { NULL, NULL }
};

Test(track, every_field_refused_with_its_message)
{
    for (const bad_t *b = TRACK_BAD; b->arg; b++) {
        teardown();
        setup();
        expect_refused(track(b->arg), b->want, b->arg);
    }
}

/* {customer_id: "c", <key>: <what the caller packs next>}: 2 pairs. */
static void pack_head(const char *key)
{
    msgpack_pack_map(&g_pk, 2);
    pk_str("customer_id");
    pk_str("c");
    pk_str(key);
}

Test(track, what_json_cannot_say)
{
    /* a repeated top-level key */
    msgpack_pack_map(&g_pk, 3);
    pk_str("customer_id"); pk_str("c");
    pk_str("attributes"); msgpack_pack_map(&g_pk, 0);
    pk_str("customer_id"); pk_str("d");
    expect_refused(track_packed(), "customer_id: duplicate key: a map may hold each key once", "dup top");
    teardown(); setup();
    /* a repeated unknown top-level key */
    msgpack_pack_map(&g_pk, 4);
    pk_str("customer_id"); pk_str("c");
    pk_str("attributes"); msgpack_pack_map(&g_pk, 0);
    pk_str("zz"); msgpack_pack_nil(&g_pk);
    pk_str("zz"); msgpack_pack_nil(&g_pk);
    expect_refused(track_packed(), "zz: duplicate key: a map may hold each key once", "dup unknown");
    teardown(); setup();
    /* a key that is not a string */
    msgpack_pack_map(&g_pk, 2);
    pk_str("customer_id"); pk_str("c");
    msgpack_pack_int(&g_pk, 1); msgpack_pack_nil(&g_pk);
    expect_refused(track_packed(), "track: keys must be strings", "int key");
    teardown(); setup();
    /* consent names repeated */
    pack_head("consent");
    msgpack_pack_map(&g_pk, 2);
    pk_str("email"); msgpack_pack_true(&g_pk);
    pk_str("email"); msgpack_pack_false(&g_pk);
    expect_refused(track_packed(), "consent.email: duplicate key: a map may hold each key once", "consent dup");
    teardown(); setup();
    pack_head("consent");
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_int(&g_pk, 1); msgpack_pack_true(&g_pk);
    expect_refused(track_packed(), "consent: keys must be strings", "consent int key");
    teardown(); setup();
    /* an event's known key twice, an extra key twice, binary in an extra */
    pack_head("events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 3);
    pk_str("type"); pk_str("v"); pk_str("ts"); msgpack_pack_int(&g_pk, 1);
    pk_str("ts"); msgpack_pack_int(&g_pk, 2);
    expect_refused(track_packed(), "events[0].ts: duplicate key: a map may hold each key once", "event dup");
    teardown(); setup();
    pack_head("events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 4);
    pk_str("type"); pk_str("v"); pk_str("ts"); msgpack_pack_int(&g_pk, 1);
    pk_str("brand"); pk_str("a"); pk_str("brand"); pk_str("b");
    expect_refused(track_packed(), "events[0].brand: duplicate key: a map may hold each key once", "extra dup");
    teardown(); setup();
    pack_head("purchases");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    pk_str("ts"); msgpack_pack_int(&g_pk, 1);
    pk_str("blob"); msgpack_pack_bin(&g_pk, 1); msgpack_pack_bin_body(&g_pk, "x", 1);
    expect_refused(track_packed(), "purchases[0].blob: binary is not allowed in a context: send a string", "extra bin");
    teardown(); setup();
    /* attributes: binary deep down, a NaN key, a repeat */
    pack_head("attributes");
    msgpack_pack_map(&g_pk, 1);
    pk_str("a"); msgpack_pack_array(&g_pk, 1); msgpack_pack_ext(&g_pk, 1, 1); msgpack_pack_ext_body(&g_pk, "x", 1);
    expect_refused(track_packed(), "attributes.a[0]: extension types are not allowed in a context", "attr ext");
    teardown(); setup();
    pack_head("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_double(&g_pk, NAN); msgpack_pack_nil(&g_pk);
    pk_str("b"); msgpack_pack_nil(&g_pk);
    expect_refused(track_packed(), "attributes: a map key must not be NaN", "attr nan key");
    teardown(); setup();
    pack_head("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_int(&g_pk, 1); msgpack_pack_nil(&g_pk);
    msgpack_pack_double(&g_pk, 1.0); msgpack_pack_nil(&g_pk);
    expect_refused(track_packed(), "attributes.<a float key>: duplicate key: a map may hold each key once", "attr 1 and 1.0");
    teardown(); setup();
    /* a price that is not finite */
    pack_head("purchases");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    pk_str("ts"); msgpack_pack_int(&g_pk, 1);
    pk_str("price"); msgpack_pack_double(&g_pk, INFINITY);
    expect_refused(track_packed(), "purchases[0].price: expected a finite number", "inf price");
    teardown(); setup();
    /* bytes that are not UTF-8 */
    msgpack_pack_map(&g_pk, 2);
    pk_str("customer_id"); msgpack_pack_str(&g_pk, 2); msgpack_pack_str_body(&g_pk, "\xc3(", 2);
    pk_str("attributes"); msgpack_pack_map(&g_pk, 0);
    expect_refused(track_packed(), "customer_id: not valid UTF-8", "bad id");
    teardown(); setup();
    pack_head("events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 3);
    pk_str("type"); pk_str("v"); pk_str("ts"); msgpack_pack_int(&g_pk, 1);
    pk_str("sku"); msgpack_pack_str(&g_pk, 1); msgpack_pack_str_body(&g_pk, "\xff", 1);
    expect_refused(track_packed(), "events[0].sku: not valid UTF-8", "bad sku");
    teardown(); setup();
    msgpack_pack_map(&g_pk, 2);
    pk_str("customer_id"); msgpack_pack_str(&g_pk, 3); msgpack_pack_str_body(&g_pk, "c\0x", 3);
    pk_str("attributes"); msgpack_pack_map(&g_pk, 0);
    expect_refused(track_packed(), "customer_id: must not contain a NUL byte", "NUL in id");
    teardown(); setup();
    pack_head("consent");
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_str(&g_pk, 1); msgpack_pack_str_body(&g_pk, "\xff", 1); msgpack_pack_true(&g_pk);
    cr_assert_eq(track_packed(), -1);
    cr_assert_eq(strncmp(g_err.message, "consent.", 8), 0, "%s", g_err.message);
    cr_assert_not_null(strstr(g_err.message, ": not valid UTF-8"), "%s", g_err.message);
}

/* ---- feedback ------------------------------------------------------------------- */

Test(track, feedback_full_and_copied)
{
    int rc = feedback("{\"customer_id\": \"c-1\", \"action\": \"promo\", \"outcome\": \"click\","
                      " \"decision_id\": \"d-9\", \"channel\": \"email\", \"value\": 12.5, \"ts\": 1700000900}");
    cr_assert_eq(rc, 0, "%s", g_err.message);
    drop_frame();
    cr_assert_str_eq(g_fb.customer_id, "c-1");
    cr_assert_str_eq(g_fb.action, "promo");
    cr_assert_str_eq(g_fb.outcome, "click");
    cr_assert_str_eq(g_fb.decision_id, "d-9");
    cr_assert_str_eq(g_fb.channel, "email");
    cr_assert_float_eq(g_fb.value, 12.5, 1e-12);
    cr_assert_eq(g_fb.ts, 1700000900);
}

Test(track, feedback_defaults)
{
    cr_assert_eq(feedback("{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"impression\","
                          " \"other\": 1}"), 0, "%s", g_err.message);
    cr_assert_null(g_fb.decision_id);
    cr_assert_null(g_fb.channel);
    cr_assert(isnan(g_fb.value));
    cr_assert_eq(g_fb.ts, NOW);
    cr_assert_eq(feedback("{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"any_name\", \"value\": 3}"), 0);
    cr_assert_float_eq(g_fb.value, 3.0, 1e-12);
}

static const bad_t FEEDBACK_BAD[] = {
    { "\"x\"", "feedback: expected a map, got a string" },
    { "{\"action\": \"a\", \"outcome\": \"o\"}", "customer_id: required" },
    { "{\"customer_id\": \"\", \"action\": \"a\", \"outcome\": \"o\"}", "customer_id: must not be empty" },
    { "{\"customer_id\": [], \"action\": \"a\", \"outcome\": \"o\"}", "customer_id: expected a string, got an array" },
    { "{\"customer_id\": \"c\", \"outcome\": \"o\"}", "action: required" },
    { "{\"customer_id\": \"c\", \"action\": \"\", \"outcome\": \"o\"}", "action: must not be empty" },
    { "{\"customer_id\": \"c\", \"action\": 1, \"outcome\": \"o\"}", "action: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"action\": \"a\"}", "outcome: required" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"\"}", "outcome: must not be empty" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": true}", "outcome: expected a string, got a boolean" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"decision_id\": \"\"}", "decision_id: must not be empty" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"decision_id\": 5}", "decision_id: expected a string, got an integer" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"channel\": \"\"}", "channel: must not be empty" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"channel\": {}}", "channel: expected a string, got a map" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"value\": \"1\"}", "value: expected a number, got a string" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"ts\": 1.5}", "ts: expected an integer, got a float" },
    { "{\"customer_id\": \"c\", \"action\": \"a\", \"outcome\": \"o\", \"ts\": -99999999999999}", "ts: a unix time between years 1 and 9999" },
    { NULL, NULL }
};

Test(track, feedback_every_field_refused_with_its_message)
{
    for (const bad_t *b = FEEDBACK_BAD; b->arg; b++) {
        teardown();
        setup();
        expect_refused(feedback(b->arg), b->want, b->arg);
    }
    teardown(); setup();
    msgpack_pack_map(&g_pk, 4);
    pk_str("customer_id"); pk_str("c");
    pk_str("action"); pk_str("a");
    pk_str("outcome"); pk_str("o");
    pk_str("outcome"); pk_str("p");
    expect_refused(arb_feedback_parse(arg_packed(), NOW, &g_arena, &g_fb, &g_err),
                   "outcome: duplicate key: a map may hold each key once", "dup outcome");
    teardown(); setup();
    msgpack_pack_map(&g_pk, 4);
    pk_str("customer_id"); pk_str("c");
    pk_str("action"); pk_str("a");
    pk_str("outcome"); pk_str("o");
    pk_str("value"); msgpack_pack_double(&g_pk, NAN);
    expect_refused(arb_feedback_parse(arg_packed(), NOW, &g_arena, &g_fb, &g_err),
                   "value: expected a finite number", "NaN value");
}

/* ---- customer and forget --------------------------------------------------------- */

Test(track, customer_ref)
{
    cr_assert_eq(ref("{\"customer_id\": \"c-7\", \"verbose\": true}"), 0, "%s", g_err.message);
    drop_frame();
    cr_assert_str_eq(g_id, "c-7");
    teardown(); setup();
    expect_refused(ref("{}"), "customer_id: required", "missing");
    teardown(); setup();
    expect_refused(ref("{\"customer_id\": \"\"}"), "customer_id: must not be empty", "empty");
    teardown(); setup();
    expect_refused(ref("{\"customer_id\": 1}"), "customer_id: expected a string, got an integer", "int");
    teardown(); setup();
    expect_refused(ref("null"), "params: expected a map, got nil", "nil");
}
