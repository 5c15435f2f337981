/* Unit tests for the decide context check (engine/context.c):
 * arb_context_parse, arb_context_consent and arb_msgpack_map_get.
 *
 * Contexts are written as JSON with jansson (readable), packed to
 * MessagePack with msgpack-c's packer, unpacked with msgpack_unpack_next and
 * parsed; what JSON cannot express (non-string keys, NaN, float32, huge
 * unsigned integers) is packed by hand.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/base/error.h"

#define NOW_DEFAULT 1700000000

/* ---- fixture -------------------------------------------------------------- */

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static msgpack_unpacked g_up;
static arb_arena_t g_arena;
static arb_context_t g_ctx;
static arb_err_t g_err;

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
    arb_arena_init(&g_arena);
    memset(&g_ctx, 0, sizeof g_ctx);
    memset(&g_err, 0, sizeof g_err);
}

static void teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
    arb_arena_free(&g_arena);
}

TestSuite(context, .init = setup, .fini = teardown);

/* ---- helpers -------------------------------------------------------------- */

static void pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* JSON value -> MessagePack, integers as integers, reals as float64. */
static void pack_json(msgpack_packer *pk, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            pk_cstr(pk, k);
            pack_json(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) pack_json(pk, v);
        break;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
    }
}

static json_t *json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(j, "bad test JSON at %d: %s in %s", e.position, e.text, text);
    return j;
}

/* Unpack whatever g_sb holds (one whole value) and parse it. */
static int parse_packed(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_unpacked_init(&g_up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, g_sb.size);
    memset(&g_err, 0, sizeof g_err);
    g_err.code = ARB_INTERNAL; /* so a success cannot pass for an error */
    arb_arena_reset(&g_arena);
    return arb_context_parse(&g_up.data, NOW_DEFAULT, &g_ctx, &g_arena, &g_err);
}

/* Pack JSON text and parse it. */
static int parse_text(const char *text)
{
    msgpack_sbuffer_clear(&g_sb);
    json_t *j = json(text);
    pack_json(&g_pk, j);
    json_decref(j);
    return parse_packed();
}

/* The three required fields plus `extra` (a JSON object's members, without
 * braces, or ""). */
static int parse_with(const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"customer_id\": \"c1\", \"channel\": \"web\", \"touchpoint\": \"web_home\"%s%s}",
             *extra ? ", " : "", extra);
    return parse_text(text);
}

static void expect_ok(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "%s: rejected: %s", what, g_err.message);
}

static void expect_error(int rc, const char *want, const char *what)
{
    cr_assert_eq(rc, -1, "%s: accepted, want \"%s\"", what, want);
    cr_assert_eq(g_err.code, ARB_INVALID_PARAMS, "%s: code %d", what, g_err.code);
    cr_assert(strstr(g_err.message, want) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
              g_err.message, want);
}

/* The string lies inside the packed frame (no copy was made). */
static bool in_frame(arb_str_t s)
{
    return s.ptr >= g_sb.data && s.ptr + s.len <= g_sb.data + g_sb.size;
}

static void expect_str(arb_str_t s, const char *want, const char *what)
{
    cr_assert(arb_str_eq(s, want), "%s: got \"%.*s\", want \"%s\"", what, (int)s.len,
              s.ptr ? s.ptr : "", want);
    if (*want) cr_assert(in_frame(s), "%s: not a pointer into the frame", what);
}

static void expect_absent_str(arb_str_t s, const char *what)
{
    cr_assert_eq(s.len, 0, "%s: len %u", what, s.len);
    cr_assert_null(s.ptr, "%s: not NULL", what);
}

/* Hand packing: a map of 3 + extra pairs whose first three are the required
 * fields; the caller packs the `extra` pairs next. */
static void pack_required(size_t extra)
{
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_map(&g_pk, 3 + extra);
    pk_cstr(&g_pk, "customer_id");
    pk_cstr(&g_pk, "c1");
    pk_cstr(&g_pk, "channel");
    pk_cstr(&g_pk, "web");
    pk_cstr(&g_pk, "touchpoint");
    pk_cstr(&g_pk, "web_home");
}

/* ---- a full context ------------------------------------------------------ */

static const char *FULL =
    "{"
    "\"customer_id\": \"cust-42\","
    "\"channel\": \"web\","
    "\"touchpoint\": \"web_home\","
    "\"now\": 1767225600,"
    "\"consent\": {\"location\": true, \"email\": false, \"sms\": true},"
    "\"location\": {\"lat\": 48.8566, \"lon\": 2.3522, \"store_id\": \"S-001\", \"country\": \"FR\","
    "               \"accuracy_m\": 30},"
    "\"purchases\": ["
    "  {\"sku\": \"SKU-1\", \"category\": \"shoes\", \"price\": 59.9, \"ts\": 1767000000,"
    "   \"channel\": \"store\", \"qty\": 2},"
    "  {\"ts\": 1767100000, \"price\": 12}"
    "],"
    "\"events\": ["
    "  {\"type\": \"view\", \"sku\": \"SKU-9\", \"category\": \"bags\", \"ts\": 1767200000},"
    "  {\"type\": \"search\", \"ts\": -5}"
    "],"
    "\"weather\": {\"temp_c\": -3.5, \"condition\": \"snow\", \"wind\": 12},"
    "\"scores\": {\"m01\": 0.25, \"m02\": 1, \"m03\": 0},"
    "\"attributes\": {\"loyalty_tier\": \"gold\", \"segments\": [\"a\", \"b\"], \"ltv\": 1234.5},"
    "\"limit\": 5,"
    "\"deadline_ms\": 40,"
    "\"explain\": true,"
    "\"unknown_extra\": [1, {\"x\": null}]"
    "}";

Test(context, full_context_is_parsed_into_c_values)
{
    expect_ok(parse_text(FULL), "full");
    const arb_context_t *c = &g_ctx;

    expect_str(c->customer_id, "cust-42", "customer_id");
    expect_str(c->channel, "web", "channel");
    expect_str(c->touchpoint, "web_home", "touchpoint");
    cr_assert_eq(c->now, 1767225600);
    cr_assert(c->now_given);

    cr_assert_eq(c->n_consent, 3);
    expect_str(c->consent[0].name, "location", "consent[0]");
    cr_assert(c->consent[0].given);
    expect_str(c->consent[1].name, "email", "consent[1]");
    cr_assert_not(c->consent[1].given);
    expect_str(c->consent[2].name, "sms", "consent[2]");
    cr_assert(c->consent[2].given);

    cr_assert(c->has_location);
    cr_assert(c->has_coords);
    cr_assert_float_eq(c->lat, 48.8566, 1e-12);
    cr_assert_float_eq(c->lon, 2.3522, 1e-12);
    expect_str(c->store_id, "S-001", "store_id");
    expect_str(c->country, "FR", "country");
    cr_assert_not_null(c->location);
    cr_assert_eq(c->location->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(c->location->via.map.size, 5, "the raw location keeps unknown keys");

    cr_assert_eq(c->n_purchases, 2);
    const arb_purchase_t *p = c->purchases;
    expect_str(p[0].sku, "SKU-1", "purchases[0].sku");
    expect_str(p[0].category, "shoes", "purchases[0].category");
    expect_str(p[0].channel, "store", "purchases[0].channel");
    cr_assert_float_eq(p[0].price, 59.9, 1e-12);
    cr_assert_eq(p[0].ts, 1767000000);
    expect_absent_str(p[1].sku, "purchases[1].sku");
    expect_absent_str(p[1].category, "purchases[1].category");
    expect_absent_str(p[1].channel, "purchases[1].channel");
    cr_assert_float_eq(p[1].price, 12.0, 1e-12, "an integer price is a number");
    cr_assert_eq(p[1].ts, 1767100000);

    cr_assert_eq(c->n_events, 2);
    const arb_event_t *e = c->events;
    expect_str(e[0].type, "view", "events[0].type");
    expect_str(e[0].sku, "SKU-9", "events[0].sku");
    expect_str(e[0].category, "bags", "events[0].category");
    cr_assert_eq(e[0].ts, 1767200000);
    expect_str(e[1].type, "search", "events[1].type");
    expect_absent_str(e[1].sku, "events[1].sku");
    expect_absent_str(e[1].category, "events[1].category");
    cr_assert_eq(e[1].ts, -5);

    cr_assert(c->has_weather);
    cr_assert(c->has_temp);
    cr_assert_float_eq(c->temp_c, -3.5, 1e-12);
    expect_str(c->condition, "snow", "condition");
    cr_assert_not_null(c->weather);
    cr_assert_eq(c->weather->via.map.size, 3);

    cr_assert_eq(c->n_scores, 3);
    expect_str(c->scores[0].model, "m01", "scores[0]");
    cr_assert_float_eq(c->scores[0].value, 0.25, 1e-12);
    expect_str(c->scores[1].model, "m02", "scores[1]");
    cr_assert_float_eq(c->scores[1].value, 1.0, 1e-12);
    expect_str(c->scores[2].model, "m03", "scores[2]");
    cr_assert_float_eq(c->scores[2].value, 0.0, 1e-12);

    cr_assert_not_null(c->attributes);
    cr_assert_eq(c->attributes->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(c->attributes->via.map.size, 3);
    const msgpack_object *tier = arb_msgpack_map_get(c->attributes, "loyalty_tier");
    cr_assert_not_null(tier);
    cr_assert_eq(tier->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(tier->via.str.size, 4);
    cr_assert_eq(memcmp(tier->via.str.ptr, "gold", 4), 0);

    cr_assert_eq(c->limit, 5);
    cr_assert_eq(c->deadline_ms, 40);
    cr_assert(c->explain);
    cr_assert_eq(c->raw, &g_up.data);
}

Test(context, minimal_context_has_defaults)
{
    expect_ok(parse_with(""), "minimal");
    const arb_context_t *c = &g_ctx;
    expect_str(c->customer_id, "c1", "customer_id");
    cr_assert_eq(c->now, NOW_DEFAULT);
    cr_assert_not(c->now_given);
    cr_assert_eq(c->n_consent, 0);
    cr_assert_null(c->consent);
    cr_assert_not(c->has_location);
    cr_assert_not(c->has_coords);
    cr_assert_null(c->location);
    expect_absent_str(c->store_id, "store_id");
    expect_absent_str(c->country, "country");
    cr_assert_eq(c->n_purchases, 0);
    cr_assert_eq(c->n_events, 0);
    cr_assert_not(c->has_weather);
    cr_assert_not(c->has_temp);
    cr_assert_null(c->weather);
    expect_absent_str(c->condition, "condition");
    cr_assert_eq(c->n_scores, 0);
    cr_assert_null(c->attributes);
    cr_assert_eq(c->limit, 0);
    cr_assert_eq(c->deadline_ms, 0);
    cr_assert_not(c->explain);
    cr_assert_eq(c->raw, &g_up.data);
}

Test(context, now_defaults_only_when_absent)
{
    expect_ok(parse_with(""), "absent");
    cr_assert_eq(g_ctx.now, NOW_DEFAULT);
    cr_assert_not(g_ctx.now_given);

    expect_ok(parse_with("\"now\": 0"), "zero");
    cr_assert_eq(g_ctx.now, 0, "an explicit 0 is not the default");
    cr_assert(g_ctx.now_given);

    expect_ok(parse_with("\"now\": -86400"), "negative");
    cr_assert_eq(g_ctx.now, -86400);

    expect_ok(parse_with("\"now\": 1767225600"), "given");
    cr_assert_eq(g_ctx.now, 1767225600);
    cr_assert(g_ctx.now_given);
}

Test(context, empty_containers_are_fine)
{
    expect_ok(parse_with("\"consent\": {}, \"purchases\": [], \"events\": [], \"scores\": {},"
                         "\"location\": {}, \"weather\": {}, \"attributes\": {}"),
              "empty containers");
    cr_assert_eq(g_ctx.n_consent, 0);
    cr_assert_eq(g_ctx.n_purchases, 0);
    cr_assert_eq(g_ctx.n_events, 0);
    cr_assert_eq(g_ctx.n_scores, 0);
    cr_assert(g_ctx.has_location);
    cr_assert_not(g_ctx.has_coords);
    cr_assert(g_ctx.has_weather);
    cr_assert_not(g_ctx.has_temp);
    cr_assert_not_null(g_ctx.attributes);
}

Test(context, location_coords_need_both_lat_and_lon)
{
    expect_ok(parse_with("\"location\": {\"lat\": 1.5}"), "lat only");
    cr_assert(g_ctx.has_location);
    cr_assert_not(g_ctx.has_coords);
    cr_assert_float_eq(g_ctx.lat, 1.5, 1e-12);

    expect_ok(parse_with("\"location\": {\"lon\": 2}"), "lon only");
    cr_assert_not(g_ctx.has_coords);

    expect_ok(parse_with("\"location\": {\"store_id\": \"S-7\"}"), "store only");
    cr_assert(g_ctx.has_location);
    cr_assert_not(g_ctx.has_coords);
    expect_str(g_ctx.store_id, "S-7", "store_id");

    expect_ok(parse_with("\"location\": {\"lon\": -73, \"lat\": 40}"), "integer coords");
    cr_assert(g_ctx.has_coords);
    cr_assert_float_eq(g_ctx.lat, 40.0, 1e-12);
    cr_assert_float_eq(g_ctx.lon, -73.0, 1e-12);
}

Test(context, weather_without_temp)
{
    expect_ok(parse_with("\"weather\": {\"condition\": \"rain\"}"), "condition only");
    cr_assert(g_ctx.has_weather);
    cr_assert_not(g_ctx.has_temp);
    expect_str(g_ctx.condition, "rain", "condition");

    expect_ok(parse_with("\"weather\": {\"temp_c\": 21}"), "integer temp");
    cr_assert(g_ctx.has_temp);
    cr_assert_float_eq(g_ctx.temp_c, 21.0, 1e-12);
    expect_absent_str(g_ctx.condition, "condition");
}

Test(context, float32_numbers)
{
    pack_required(2);
    pk_cstr(&g_pk, "scores");
    msgpack_pack_map(&g_pk, 1);
    pk_cstr(&g_pk, "m01");
    msgpack_pack_float(&g_pk, 0.75f);
    pk_cstr(&g_pk, "weather");
    msgpack_pack_map(&g_pk, 1);
    pk_cstr(&g_pk, "temp_c");
    msgpack_pack_float(&g_pk, -1.25f);
    expect_ok(parse_packed(), "float32");
    cr_assert_float_eq(g_ctx.scores[0].value, 0.75, 1e-9);
    cr_assert_float_eq(g_ctx.temp_c, -1.25, 1e-9);
}

Test(context, every_integer_width_is_an_integer)
{
    /* uint8/16/32/64 and int8..64 encodings of ts all read as integers. */
    pack_required(1);
    pk_cstr(&g_pk, "purchases");
    msgpack_pack_array(&g_pk, 8);
    int64_t want[8] = { 200, 60000, 4000000000LL, 253402300799LL, -100, -30000, -2000000000LL,
                        -62135596800LL };
    for (int i = 0; i < 8; i++) {
        msgpack_pack_map(&g_pk, 1);
        pk_cstr(&g_pk, "ts");
        switch (i) {
        case 0: msgpack_pack_fix_uint8(&g_pk, 200); break;
        case 1: msgpack_pack_fix_uint16(&g_pk, 60000); break;
        case 2: msgpack_pack_fix_uint32(&g_pk, 4000000000u); break;
        case 3: msgpack_pack_fix_uint64(&g_pk, 253402300799ULL); break;
        case 4: msgpack_pack_fix_int8(&g_pk, -100); break;
        case 5: msgpack_pack_fix_int16(&g_pk, -30000); break;
        case 6: msgpack_pack_fix_int32(&g_pk, -2000000000); break;
        default: msgpack_pack_fix_int64(&g_pk, -62135596800LL); break;
        }
    }
    expect_ok(parse_packed(), "integer widths");
    cr_assert_eq(g_ctx.n_purchases, 8);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(g_ctx.purchases[i].ts, want[i], "purchases[%d].ts %lld", i,
                     (long long)g_ctx.purchases[i].ts);
}

Test(context, many_records_grow_the_arena)
{
    /* Enough records to need several arena chunks; all of it is freed by
     * the fixture (the sanitizer build checks for leaks). */
    enum { N = 3000 };
    pack_required(2);
    pk_cstr(&g_pk, "purchases");
    msgpack_pack_array(&g_pk, N);
    for (int i = 0; i < N; i++) {
        msgpack_pack_map(&g_pk, 2);
        pk_cstr(&g_pk, "ts");
        msgpack_pack_int64(&g_pk, 1000000 + i);
        pk_cstr(&g_pk, "price");
        msgpack_pack_double(&g_pk, i * 0.5);
    }
    pk_cstr(&g_pk, "events");
    msgpack_pack_array(&g_pk, N);
    for (int i = 0; i < N; i++) {
        msgpack_pack_map(&g_pk, 2);
        pk_cstr(&g_pk, "type");
        pk_cstr(&g_pk, "view");
        pk_cstr(&g_pk, "ts");
        msgpack_pack_int64(&g_pk, 2000000 + i);
    }
    expect_ok(parse_packed(), "many records");
    cr_assert_eq(g_ctx.n_purchases, N);
    cr_assert_eq(g_ctx.n_events, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(g_ctx.purchases[i].ts, 1000000 + i);
        cr_assert_float_eq(g_ctx.purchases[i].price, i * 0.5, 1e-9);
        cr_assert_eq(g_ctx.events[i].ts, 2000000 + i);
        cr_assert(arb_str_eq(g_ctx.events[i].type, "view"));
    }
    /* The arena is reused for the next request. */
    expect_ok(parse_with("\"purchases\": [{\"ts\": 1}]"), "after reset");
    cr_assert_eq(g_ctx.n_purchases, 1);
    cr_assert_eq(g_ctx.purchases[0].ts, 1);
}

Test(context, unknown_keys_are_ignored)
{
    expect_ok(parse_with("\"zzz\": 1, \"nested\": {\"a\": [1, 2, {\"b\": null}]},"
                         "\"purchases\": [{\"ts\": 1, \"qty\": \"many\", \"extra\": {}}],"
                         "\"events\": [{\"type\": \"view\", \"ts\": 2, \"page\": 7}],"
                         "\"location\": {\"lat\": 1, \"lon\": 2, \"alt\": \"high\"},"
                         "\"weather\": {\"humidity\": [1]},"
                         "\"Customer_ID\": 5, \"customer_id_\": false"),
              "unknown keys");
    cr_assert_eq(g_ctx.n_purchases, 1);
    cr_assert_eq(g_ctx.n_events, 1);
    cr_assert(g_ctx.has_coords);
}

Test(context, attributes_are_not_checked_inside)
{
    expect_ok(parse_with("\"attributes\": {\"a\": null, \"b\": [1, \"x\", 2.5, {\"c\": true}],"
                         "\"tier\": 3}"),
              "attributes");
    cr_assert_not_null(g_ctx.attributes);
    cr_assert_eq(g_ctx.attributes->via.map.size, 3);
}

/* ---- required fields ------------------------------------------------------- */

Test(context, each_required_field_missing)
{
    expect_error(parse_text("{\"channel\": \"web\", \"touchpoint\": \"t\"}"),
                 "customer_id: required", "no customer_id");
    cr_assert_str_eq(g_err.message, "customer_id: required");
    expect_error(parse_text("{\"customer_id\": \"c\", \"touchpoint\": \"t\"}"), "channel: required",
                 "no channel");
    cr_assert_str_eq(g_err.message, "channel: required");
    expect_error(parse_text("{\"customer_id\": \"c\", \"channel\": \"web\"}"),
                 "touchpoint: required", "no touchpoint");
    cr_assert_str_eq(g_err.message, "touchpoint: required");
    expect_error(parse_text("{}"), "customer_id", "empty map");
    expect_error(parse_text("{\"now\": 5, \"limit\": 3}"), "required", "only optional fields");
}

Test(context, required_field_names_must_match_exactly)
{
    expect_error(parse_text("{\"customer\": \"c\", \"channel\": \"web\", \"touchpoint\": \"t\"}"),
                 "customer_id: required", "customer");
    expect_error(parse_text("{\"customer_id\": \"c\", \"Channel\": \"web\", \"touchpoint\": \"t\"}"),
                 "channel: required", "Channel");
}

Test(context, empty_required_strings_are_rejected)
{
    expect_error(parse_text("{\"customer_id\": \"\", \"channel\": \"web\", \"touchpoint\": \"t\"}"),
                 "customer_id: must not be empty", "empty customer_id");
    expect_error(parse_text("{\"customer_id\": \"c\", \"channel\": \"\", \"touchpoint\": \"t\"}"),
                 "channel: must not be empty", "empty channel");
    expect_error(parse_text("{\"customer_id\": \"c\", \"channel\": \"web\", \"touchpoint\": \"\"}"),
                 "touchpoint: must not be empty", "empty touchpoint");
}

Test(context, null_required_field_is_a_type_error)
{
    expect_error(parse_text("{\"customer_id\": null, \"channel\": \"web\", \"touchpoint\": \"t\"}"),
                 "customer_id: expected a string, got nil", "nil customer_id");
}

/* ---- wrong types: one case per field ------------------------------------- */

typedef struct {
    const char *extra; /* members added to the required three */
    const char *want;  /* exact error message */
} bad_case_t;

static const bad_case_t BAD[] = {
    /* top-level scalars */
    { "\"customer_id\": 7", "customer_id: expected a string, got an integer" },
    { "\"channel\": [\"web\"]", "channel: expected a string, got an array" },
    { "\"touchpoint\": true", "touchpoint: expected a string, got a boolean" },
    { "\"now\": \"today\"", "now: expected an integer, got a string" },
    { "\"now\": 1.5", "now: expected an integer, got a float" },
    { "\"limit\": \"5\"", "limit: expected an integer, got a string" },
    { "\"limit\": 5.0", "limit: expected an integer, got a float" },
    { "\"explain\": 1", "explain: expected a boolean, got an integer" },
    { "\"explain\": \"yes\"", "explain: expected a boolean, got a string" },
    { "\"attributes\": [1]", "attributes: expected a map, got an array" },
    { "\"attributes\": null", "attributes: expected a map, got nil" },
    /* consent */
    { "\"consent\": [\"location\"]", "consent: expected a map, got an array" },
    { "\"consent\": {\"location\": 1}", "consent.location: expected a boolean, got an integer" },
    { "\"consent\": {\"email\": true, \"location\": \"yes\"}",
      "consent.location: expected a boolean, got a string" },
    /* location */
    { "\"location\": \"Paris\"", "location: expected a map, got a string" },
    { "\"location\": {\"lat\": \"48.8\"}", "location.lat: expected a number, got a string" },
    { "\"location\": {\"lat\": 1, \"lon\": null}", "location.lon: expected a number, got nil" },
    { "\"location\": {\"store_id\": 12}", "location.store_id: expected a string, got an integer" },
    { "\"location\": {\"country\": {}}", "location.country: expected a string, got a map" },
    /* purchases */
    { "\"purchases\": {}", "purchases: expected an array, got a map" },
    { "\"purchases\": [{\"ts\": 1}, 5]", "purchases[1]: expected a map, got an integer" },
    { "\"purchases\": [{\"ts\": 1}, {\"ts\": \"x\"}]",
      "purchases[1].ts: expected an integer, got a string" },
    { "\"purchases\": [{\"ts\": 1.0}]", "purchases[0].ts: expected an integer, got a float" },
    { "\"purchases\": [{\"ts\": 1, \"sku\": 5}]",
      "purchases[0].sku: expected a string, got an integer" },
    { "\"purchases\": [{\"ts\": 1, \"category\": []}]",
      "purchases[0].category: expected a string, got an array" },
    { "\"purchases\": [{\"ts\": 1, \"channel\": false}]",
      "purchases[0].channel: expected a string, got a boolean" },
    { "\"purchases\": [{\"ts\": 1, \"price\": \"9.99\"}]",
      "purchases[0].price: expected a number, got a string" },
    { "\"purchases\": [{\"sku\": \"A\"}]", "purchases[0].ts: required" },
    { "\"purchases\": [{\"ts\": 1}, {\"ts\": 2}, {\"price\": 3}]", "purchases[2].ts: required" },
    { "\"purchases\": [{}]", "purchases[0].ts: required" },
    /* events */
    { "\"events\": \"view\"", "events: expected an array, got a string" },
    { "\"events\": [[]]", "events[0]: expected a map, got an array" },
    { "\"events\": [{\"type\": 3, \"ts\": 1}]", "events[0].type: expected a string, got an integer" },
    { "\"events\": [{\"ts\": 1}, {\"type\": \"view\", \"ts\": 1, \"sku\": 1}]",
      "events[1].sku: expected a string, got an integer" },
    { "\"events\": [{\"ts\": 1, \"category\": 1}]",
      "events[0].category: expected a string, got an integer" },
    { "\"events\": [{\"type\": \"view\", \"ts\": true}]",
      "events[0].ts: expected an integer, got a boolean" },
    { "\"events\": [{\"type\": \"view\"}]", "events[0].ts: required" },
    /* weather */
    { "\"weather\": 20", "weather: expected a map, got an integer" },
    { "\"weather\": {\"temp_c\": \"20\"}", "weather.temp_c: expected a number, got a string" },
    { "\"weather\": {\"condition\": 1}", "weather.condition: expected a string, got an integer" },
    /* scores */
    { "\"scores\": [0.5]", "scores: expected a map, got an array" },
    { "\"scores\": {\"m01\": \"0.5\"}", "scores.m01: expected a number, got a string" },
    { "\"scores\": {\"m00\": 0.1, \"m01\": null}", "scores.m01: expected a number, got nil" },
    /* limit range */
    { "\"limit\": 0", "limit: must be between 1 and 1000" },
    { "\"limit\": 1001", "limit: must be between 1 and 1000" },
    { "\"limit\": -1", "limit: must be between 1 and 1000" },
    /* deadline_ms */
    { "\"deadline_ms\": \"50\"", "deadline_ms: expected an integer, got a string" },
    { "\"deadline_ms\": 2.5", "deadline_ms: expected an integer, got a float" },
    { "\"deadline_ms\": 0", "deadline_ms: must be at least 1" },
    { "\"deadline_ms\": -100", "deadline_ms: must be at least 1" },
};

Test(context, wrong_types_name_the_path)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int rc = parse_with(BAD[i].extra);
        cr_expect_eq(rc, -1, "{%s}: accepted", BAD[i].extra);
        if (rc != -1) continue;
        cr_expect_eq(g_err.code, ARB_INVALID_PARAMS, "{%s}: code %d", BAD[i].extra, g_err.code);
        cr_expect_str_eq(g_err.message, BAD[i].want, "{%s}", BAD[i].extra);
    }
}

Test(context, limit_bounds)
{
    expect_ok(parse_with("\"limit\": 1"), "limit 1");
    cr_assert_eq(g_ctx.limit, 1);
    expect_ok(parse_with("\"limit\": 1000"), "limit 1000");
    cr_assert_eq(g_ctx.limit, 1000);
    expect_error(parse_with("\"limit\": 0"), "limit", "limit 0");
    expect_error(parse_with("\"limit\": 1001"), "limit", "limit 1001");
    expect_error(parse_with("\"limit\": -1000"), "limit", "limit -1000");
    expect_error(parse_with("\"limit\": 9223372036854775807"), "limit", "limit INT64_MAX");
}

Test(context, deadline_ms)
{
    expect_ok(parse_with(""), "absent");
    cr_assert_eq(g_ctx.deadline_ms, 0, "0 means the server's default");
    expect_ok(parse_with("\"deadline_ms\": 1"), "1 ms");
    cr_assert_eq(g_ctx.deadline_ms, 1);
    expect_ok(parse_with("\"deadline_ms\": 250"), "250 ms");
    cr_assert_eq(g_ctx.deadline_ms, 250);
    expect_error(parse_with("\"deadline_ms\": 0"), "deadline_ms", "0 ms");
    expect_error(parse_with("\"deadline_ms\": null"), "deadline_ms: expected an integer, got nil",
                 "nil");
}

Test(context, unsigned_beyond_int64_is_out_of_range)
{
    pack_required(1);
    pk_cstr(&g_pk, "now");
    msgpack_pack_uint64(&g_pk, (uint64_t)INT64_MAX + 1);
    expect_error(parse_packed(), "now: integer out of range", "now 2^63");

    pack_required(1);
    pk_cstr(&g_pk, "limit");
    msgpack_pack_uint64(&g_pk, UINT64_MAX);
    expect_error(parse_packed(), "limit", "limit 2^64-1");

    /* Times are bounded to years 1..9999, so that now - ts never overflows. */
    pack_required(1);
    pk_cstr(&g_pk, "now");
    msgpack_pack_uint64(&g_pk, (uint64_t)INT64_MAX);
    expect_error(parse_packed(), "now: a unix time between years 1 and 9999", "now INT64_MAX");

    pack_required(1);
    pk_cstr(&g_pk, "now");
    msgpack_pack_uint64(&g_pk, 253402300799ULL);
    expect_ok(parse_packed(), "now 9999-12-31T23:59:59Z");
    cr_assert_eq(g_ctx.now, 253402300799LL);
}

Test(context, non_finite_numbers_are_rejected)
{
    static const struct { const char *field, *sub, *want; } cases[] = {
        { "scores", "m01", "scores.m01: expected a finite number" },
        { "location", "lat", "location.lat: expected a finite number" },
        { "location", "lon", "location.lon: expected a finite number" },
        { "weather", "temp_c", "weather.temp_c: expected a finite number" },
    };
    const double bad[] = { NAN, INFINITY, -INFINITY };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t j = 0; j < 3; j++) {
            for (int f32 = 0; f32 <= 1; f32++) {
                pack_required(1);
                pk_cstr(&g_pk, cases[i].field);
                msgpack_pack_map(&g_pk, 1);
                pk_cstr(&g_pk, cases[i].sub);
                if (f32) msgpack_pack_float(&g_pk, (float)bad[j]);
                else msgpack_pack_double(&g_pk, bad[j]);
                int rc = parse_packed();
                cr_expect_eq(rc, -1, "%s.%s = %g (f32 %d): accepted", cases[i].field,
                             cases[i].sub, bad[j], f32);
                if (rc == -1) cr_expect_str_eq(g_err.message, cases[i].want);
            }
        }
    }
    /* A price inside a purchase too. */
    pack_required(1);
    pk_cstr(&g_pk, "purchases");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    pk_cstr(&g_pk, "ts");
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "price");
    msgpack_pack_double(&g_pk, NAN);
    expect_error(parse_packed(), "purchases[0].price: expected a finite number", "NaN price");
}

Test(context, other_msgpack_types_are_named)
{
    /* bin and ext where a string is expected. */
    pack_required(1);
    pk_cstr(&g_pk, "location");
    msgpack_pack_map(&g_pk, 1);
    pk_cstr(&g_pk, "country");
    msgpack_pack_bin(&g_pk, 2);
    msgpack_pack_bin_body(&g_pk, "FR", 2);
    expect_error(parse_packed(), "location.country: expected a string, got binary", "bin country");

    pack_required(1);
    pk_cstr(&g_pk, "explain");
    msgpack_pack_ext(&g_pk, 1, 5);
    msgpack_pack_ext_body(&g_pk, "x", 1);
    expect_error(parse_packed(), "explain: expected a boolean, got an extension", "ext explain");

    /* A str customer_id given as bin is not a string. */
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_map(&g_pk, 3);
    pk_cstr(&g_pk, "customer_id");
    msgpack_pack_bin(&g_pk, 2);
    msgpack_pack_bin_body(&g_pk, "c1", 2);
    pk_cstr(&g_pk, "channel");
    pk_cstr(&g_pk, "web");
    pk_cstr(&g_pk, "touchpoint");
    pk_cstr(&g_pk, "t");
    expect_error(parse_packed(), "customer_id: expected a string, got binary", "bin customer_id");
}

Test(context, long_keys_are_cut_in_paths)
{
    /* A 100-byte score name: the path shows at most 64 bytes of it. */
    char key[101];
    memset(key, 'k', 100);
    key[100] = 0;
    char extra[300];
    snprintf(extra, sizeof extra, "\"scores\": {\"%s\": \"x\"}", key);
    expect_error(parse_with(extra), "expected a number, got a string", "long score key");
    char want[80];
    snprintf(want, sizeof want, "scores.%.64s: ", key);
    cr_assert(strncmp(g_err.message, want, strlen(want)) == 0, "message \"%s\"", g_err.message);

    snprintf(extra, sizeof extra, "\"consent\": {\"%s\": 1}", key);
    expect_error(parse_with(extra), "expected a boolean", "long consent key");
    snprintf(want, sizeof want, "consent.%.64s: ", key);
    cr_assert(strncmp(g_err.message, want, strlen(want)) == 0, "message \"%s\"", g_err.message);
}

Test(context, deep_record_index_in_path)
{
    /* purchases[1000].ts */
    char *text = malloc(64 * 1024);
    size_t n = (size_t)snprintf(text, 64 * 1024, "\"purchases\": [");
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(text + n, 64 * 1024 - n, "{\"ts\": %d},", i);
    snprintf(text + n, 64 * 1024 - n, "{\"ts\": \"late\"}]");
    msgpack_sbuffer_clear(&g_sb);
    char *full = malloc(70 * 1024);
    snprintf(full, 70 * 1024,
             "{\"customer_id\": \"c1\", \"channel\": \"web\", \"touchpoint\": \"t\", %s}", text);
    int rc = parse_text(full);
    free(text);
    free(full);
    expect_error(rc, "purchases[1000].ts: expected an integer, got a string", "index 1000");
}

/* ---- keys that are not strings ------------------------------------------- */

Test(context, non_string_keys_are_rejected)
{
    static const char *const fields[] = { "location", "weather", "scores", "consent" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        pack_required(1);
        pk_cstr(&g_pk, fields[i]);
        msgpack_pack_map(&g_pk, 1);
        msgpack_pack_int(&g_pk, 1);
        msgpack_pack_true(&g_pk);
        char want[64];
        snprintf(want, sizeof want, "%s: keys must be strings", fields[i]);
        int rc = parse_packed();
        cr_expect_eq(rc, -1, "%s: accepted", fields[i]);
        if (rc == -1) {
            cr_expect_eq(g_err.code, ARB_INVALID_PARAMS);
            cr_expect_str_eq(g_err.message, want);
        }
    }

    /* In records. */
    pack_required(1);
    pk_cstr(&g_pk, "purchases");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_map(&g_pk, 1);
    pk_cstr(&g_pk, "ts");
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    pk_cstr(&g_pk, "ts");
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_nil(&g_pk);
    msgpack_pack_int(&g_pk, 1);
    expect_error(parse_packed(), "purchases[1]: keys must be strings", "purchase key");

    pack_required(1);
    pk_cstr(&g_pk, "events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_bin(&g_pk, 2);
    msgpack_pack_bin_body(&g_pk, "ts", 2);
    msgpack_pack_int(&g_pk, 1);
    expect_error(parse_packed(), "events[0]: keys must be strings", "event bin key");
}

Test(context, non_string_key_at_top_level_is_rejected)
{
    pack_required(1);
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "x");
    expect_error(parse_packed(), "keys must be strings", "int key at top level");

    /* Even before the required fields. */
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_array(&g_pk, 0);
    pk_cstr(&g_pk, "x");
    expect_error(parse_packed(), "keys must be strings", "array key at top level");
}

Test(context, non_string_key_at_top_level_names_the_context)
{
    /* The top level is "context" (as in "context: expected a map"), not an
     * empty path. */
    pack_required(1);
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "x");
    expect_error(parse_packed(), "context", "int key at top level");
    cr_expect_str_eq(g_err.message, "context: keys must be strings");
}

Test(context, context_not_a_map)
{
    static const char *const texts[] = { "[1, 2]", "\"ctx\"", "null", "7", "true", "2.5" };
    static const char *const wants[] = {
        "context: expected a map, got an array", "context: expected a map, got a string",
        "context: expected a map, got nil",      "context: expected a map, got an integer",
        "context: expected a map, got a boolean", "context: expected a map, got a float",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        expect_error(parse_text(texts[i]), "context", texts[i]);
        cr_expect_str_eq(g_err.message, wants[i]);
    }
}

Test(context, null_err_is_allowed)
{
    msgpack_sbuffer_clear(&g_sb);
    json_t *j = json("{\"customer_id\": 1}");
    pack_json(&g_pk, j);
    json_decref(j);
    msgpack_unpacked_destroy(&g_up);
    msgpack_unpacked_init(&g_up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(arb_context_parse(&g_up.data, NOW_DEFAULT, &g_ctx, &g_arena, NULL), -1);
}

Test(context, a_failed_parse_leaves_no_stale_fields)
{
    expect_ok(parse_text(FULL), "full");
    expect_error(parse_with("\"limit\": 0"), "limit", "bad limit");
    /* A following good parse starts from scratch. */
    expect_ok(parse_with(""), "minimal");
    cr_assert_eq(g_ctx.n_purchases, 0);
    cr_assert_eq(g_ctx.n_scores, 0);
    cr_assert_not(g_ctx.has_location);
    cr_assert_not(g_ctx.explain);
    cr_assert_eq(g_ctx.now, NOW_DEFAULT);
}

/* ---- consent ---------------------------------------------------------------- */

Test(context, consent_lookup)
{
    expect_ok(parse_with("\"consent\": {\"location\": true, \"email\": false, \"sms\": true}"),
              "consent");
    cr_assert(arb_context_consent(&g_ctx, "location", 8));
    cr_assert_not(arb_context_consent(&g_ctx, "email", 5));
    cr_assert(arb_context_consent(&g_ctx, "sms", 3));
    cr_assert_not(arb_context_consent(&g_ctx, "push", 4), "a missing key is false");
    cr_assert_not(arb_context_consent(&g_ctx, "loc", 3), "a prefix is not the key");
    cr_assert_not(arb_context_consent(&g_ctx, "locations", 9), "a longer name is not the key");
    cr_assert_not(arb_context_consent(&g_ctx, "Location", 8), "names are case-sensitive");
    cr_assert_not(arb_context_consent(&g_ctx, "", 0));
    /* len bounds the name: "smsx" with len 3 is "sms". */
    cr_assert(arb_context_consent(&g_ctx, "smsx", 3));
}

Test(context, consent_absent_means_false)
{
    expect_ok(parse_with(""), "no consent");
    cr_assert_not(arb_context_consent(&g_ctx, "location", 8));
    expect_ok(parse_with("\"consent\": {}"), "empty consent");
    cr_assert_not(arb_context_consent(&g_ctx, "location", 8));
}

/* ---- arb_msgpack_map_get ------------------------------------------------ */

Test(context, map_get)
{
    msgpack_sbuffer_clear(&g_sb);
    /* {"a": 1, 2: "int key", "ab": 3, "a": 4, "": 5, "b": nil} */
    msgpack_pack_map(&g_pk, 6);
    pk_cstr(&g_pk, "a");
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_int(&g_pk, 2);
    pk_cstr(&g_pk, "int key");
    pk_cstr(&g_pk, "ab");
    msgpack_pack_int(&g_pk, 3);
    pk_cstr(&g_pk, "a");
    msgpack_pack_int(&g_pk, 4);
    pk_cstr(&g_pk, "");
    msgpack_pack_int(&g_pk, 5);
    pk_cstr(&g_pk, "b");
    msgpack_pack_nil(&g_pk);
    msgpack_unpacked_destroy(&g_up);
    msgpack_unpacked_init(&g_up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *m = &g_up.data;

    const msgpack_object *v = arb_msgpack_map_get(m, "a");
    cr_assert_not_null(v);
    cr_assert_eq(v->via.u64, 1, "the first of duplicate keys wins");
    v = arb_msgpack_map_get(m, "ab");
    cr_assert_not_null(v);
    cr_assert_eq(v->via.u64, 3);
    v = arb_msgpack_map_get(m, "");
    cr_assert_not_null(v);
    cr_assert_eq(v->via.u64, 5);
    v = arb_msgpack_map_get(m, "b");
    cr_assert_not_null(v, "a nil value is still found");
    cr_assert_eq(v->type, MSGPACK_OBJECT_NIL);
    cr_assert_null(arb_msgpack_map_get(m, "c"));
    cr_assert_null(arb_msgpack_map_get(m, "abc"));
    cr_assert_null(arb_msgpack_map_get(m, "A"));
    cr_assert_null(arb_msgpack_map_get(m, "2"), "an integer key is not the string \"2\"");
    cr_assert_null(arb_msgpack_map_get(m, "int key"), "values are not keys");
    v = arb_msgpack_map_getn(m, "abc", 2);
    cr_assert(v && v->via.u64 == 3, "getn reads n bytes of a key that need not end in NUL");
    v = arb_msgpack_map_getn(m, "abc", 0);
    cr_assert(v && v->via.u64 == 5, "n = 0 finds the empty key");

    cr_assert_null(arb_msgpack_map_get(NULL, "a"));
    msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
    cr_assert_null(arb_msgpack_map_get(&nil, "a"));
    msgpack_object arr = { .type = MSGPACK_OBJECT_ARRAY };
    arr.via.array.size = 0;
    arr.via.array.ptr = NULL;
    cr_assert_null(arb_msgpack_map_get(&arr, "a"));
    msgpack_object empty = { .type = MSGPACK_OBJECT_MAP };
    empty.via.map.size = 0;
    empty.via.map.ptr = NULL;
    cr_assert_null(arb_msgpack_map_get(&empty, "a"));
}

Test(context, map_get_on_parsed_context)
{
    expect_ok(parse_text(FULL), "full");
    const msgpack_object *lat = arb_msgpack_map_get(g_ctx.location, "lat");
    cr_assert_not_null(lat);
    cr_assert_float_eq(lat->via.f64, 48.8566, 1e-12);
    const msgpack_object *tp = arb_msgpack_map_get(g_ctx.raw, "touchpoint");
    cr_assert_not_null(tp);
    cr_assert_eq(tp->via.str.ptr, g_ctx.touchpoint.ptr, "the view and the raw map share bytes");
    cr_assert_null(arb_msgpack_map_get(g_ctx.weather, "lat"));
}

Test(context, arb_str_eq_helper)
{
    arb_str_t s = { "abcdef", 3 };
    cr_assert(arb_str_eq(s, "abc"));
    cr_assert_not(arb_str_eq(s, "ab"));
    cr_assert_not(arb_str_eq(s, "abcd"));
    arb_str_t e = { "", 0 };
    cr_assert(arb_str_eq(e, ""));
    cr_assert_not(arb_str_eq(e, "a"));
}

/* ---- each key once, checked during the typed walk ----------------------- *
 * engine/context.c counts the keys each part knows in a bitmask, checks the
 * rest of a part only when it has keys it does not know, and knows sorted
 * short score names distinct without a table: every one of those paths
 * must still refuse a repeated key, and accept distinct ones. */

/* The context with `key` given twice at the top, as value `json` both times. */
static int parse_top_twice(const char *key, const char *value)
{
    char text[512];
    snprintf(text, sizeof text, "{\"%s\": %s}", key, value);
    json_t *one = json(text);
    json_t *v = json_object_get(one, key);
    pack_required(2);
    for (int i = 0; i < 2; i++) {
        pk_cstr(&g_pk, key);
        pack_json(&g_pk, v);
    }
    json_decref(one);
    return parse_packed();
}

Test(context, each_known_top_level_key_twice_is_refused)
{
    static const struct { const char *key, *value; } known[] = {
        { "now", "1700000000" }, { "limit", "3" }, { "explain", "true" },
        { "deadline_ms", "50" }, { "location", "{\"lat\": 1.5, \"lon\": 2.5}" },
        { "weather", "{\"condition\": \"rain\"}" }, { "attributes", "{\"tier\": \"gold\"}" },
        { "consent", "{\"email\": true}" }, { "scores", "{\"m\": 0.5}" },
        { "purchases", "[{\"ts\": 1}]" }, { "events", "[{\"type\": \"view\", \"ts\": 1}]" },
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s: duplicate key", known[i].key);
        expect_error(parse_top_twice(known[i].key, known[i].value), want, known[i].key);
    }
    /* The required ones, given twice in the same map. */
    static const char *required[] = { "customer_id", "channel", "touchpoint" };
    for (size_t i = 0; i < 3; i++) {
        msgpack_sbuffer_clear(&g_sb);
        msgpack_pack_map(&g_pk, 4);
        pk_cstr(&g_pk, "customer_id");
        pk_cstr(&g_pk, "c1");
        pk_cstr(&g_pk, "channel");
        pk_cstr(&g_pk, "web");
        pk_cstr(&g_pk, "touchpoint");
        pk_cstr(&g_pk, "web_home");
        pk_cstr(&g_pk, required[i]);
        pk_cstr(&g_pk, "x");
        char want[64];
        snprintf(want, sizeof want, "%s: duplicate key", required[i]);
        expect_error(parse_packed(), want, required[i]);
    }
    /* A known key twice among unknown ones, and an unknown key twice after
     * known ones. */
    pack_required(4);
    pk_cstr(&g_pk, "zz");
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "now");
    msgpack_pack_int(&g_pk, 5);
    pk_cstr(&g_pk, "yy");
    msgpack_pack_int(&g_pk, 2);
    pk_cstr(&g_pk, "now");
    msgpack_pack_int(&g_pk, 6);
    expect_error(parse_packed(), "now: duplicate key", "known twice among unknown");
    pack_required(3);
    pk_cstr(&g_pk, "zz");
    msgpack_pack_nil(&g_pk);
    pk_cstr(&g_pk, "now");
    msgpack_pack_int(&g_pk, 5);
    pk_cstr(&g_pk, "zz");
    msgpack_pack_nil(&g_pk);
    expect_error(parse_packed(), "zz: duplicate key", "unknown twice");
    /* The empty key twice: the message names the context, not "". */
    pack_required(2);
    pk_cstr(&g_pk, "");
    msgpack_pack_nil(&g_pk);
    pk_cstr(&g_pk, "");
    msgpack_pack_nil(&g_pk);
    cr_assert_eq(parse_packed(), -1, "the empty key twice: accepted");
    cr_assert_str_eq(g_err.message, "context: duplicate key: a map may hold each key once");
}

/* parse_with() but the part's JSON object text may repeat a key: jansson
 * keeps the last of two, so the part is packed from "k": v pairs by hand. */
static int parse_part(const char *part, bool array, const char *const *pairs, size_t n)
{
    pack_required(1);
    pk_cstr(&g_pk, part);
    if (array) msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, n);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json(pairs[i]);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            pk_cstr(&g_pk, k);
            pack_json(&g_pk, v);
        }
        json_decref(j);
    }
    return parse_packed();
}

Test(context, each_known_field_of_a_part_twice_is_refused)
{
    static const struct { const char *part; bool array; const char *fields[6]; } parts[] = {
        { "location", false, { "{\"lat\": 1.5}", "{\"lon\": 2.5}", "{\"store_id\": \"s\"}",
                               "{\"country\": \"FR\"}" } },
        { "weather", false, { "{\"temp_c\": 3.5}", "{\"condition\": \"rain\"}" } },
        { "purchases", true, { "{\"sku\": \"a\"}", "{\"category\": \"c\"}", "{\"channel\": \"web\"}",
                               "{\"price\": 3}", "{\"ts\": 1}" } },
        { "events", true, { "{\"type\": \"view\"}", "{\"sku\": \"a\"}", "{\"category\": \"c\"}",
                            "{\"ts\": 1}" } },
    };
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
        const char *const *f = parts[p].fields;
        size_t n = 0;
        while (n < 6 && f[n]) n++;
        for (size_t d = 0; d < n; d++) {
            /* every field once, field d again at the end */
            const char *pairs[8];
            for (size_t i = 0; i < n; i++) pairs[i] = f[i];
            pairs[n] = f[d];
            json_t *j = json(f[d]);
            char want[96];
            snprintf(want, sizeof want, "%s%s.%s: duplicate key", parts[p].part,
                     parts[p].array ? "[0]" : "", json_object_iter_key(json_object_iter(j)));
            json_decref(j);
            expect_error(parse_part(parts[p].part, parts[p].array, pairs, n + 1), want, want);
        }
        /* each once: fine */
        expect_ok(parse_part(parts[p].part, parts[p].array, f, n), parts[p].part);
    }
}

Test(context, unknown_fields_of_a_part_are_checked_whole)
{
    /* An unknown field's value is read by Lua: a repeated key or binary
     * under it is refused, with its path. */
    const char *nested[] = { "{\"ts\": 1}", "{\"extra\": {\"k\": 1}}" };
    expect_ok(parse_part("purchases", true, nested, 2), "a nested extra field");

    pack_required(1);
    pk_cstr(&g_pk, "purchases");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    pk_cstr(&g_pk, "ts");
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "extra");
    msgpack_pack_map(&g_pk, 2);
    pk_cstr(&g_pk, "k");
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "k");
    msgpack_pack_int(&g_pk, 2);
    expect_error(parse_packed(), "purchases[0].extra.k: duplicate key", "dup under an extra field");

    pack_required(1);
    pk_cstr(&g_pk, "location");
    msgpack_pack_map(&g_pk, 2);
    pk_cstr(&g_pk, "lat");
    msgpack_pack_double(&g_pk, 1.5);
    pk_cstr(&g_pk, "note");
    msgpack_pack_bin(&g_pk, 1);
    msgpack_pack_bin_body(&g_pk, "x", 1);
    expect_error(parse_packed(), "location.note: binary", "bin under an extra field");

    pack_required(1);
    pk_cstr(&g_pk, "weather");
    msgpack_pack_map(&g_pk, 3);
    pk_cstr(&g_pk, "wind");
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "condition");
    pk_cstr(&g_pk, "rain");
    pk_cstr(&g_pk, "wind");
    msgpack_pack_int(&g_pk, 2);
    expect_error(parse_packed(), "weather.wind: duplicate key", "an extra field twice");
}

/* A scores map of the n names given, all 0.5. */
static int parse_scores(const char *const *names, const size_t *lens, size_t n)
{
    pack_required(1);
    pk_cstr(&g_pk, "scores");
    msgpack_pack_map(&g_pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(names[i]);
        msgpack_pack_str(&g_pk, len);
        msgpack_pack_str_body(&g_pk, names[i], len);
        msgpack_pack_double(&g_pk, 0.5);
    }
    return parse_packed();
}

Test(context, score_names_once_sorted_or_not_short_or_long)
{
    const char *sorted[] = { "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "b" };
    expect_ok(parse_scores(sorted, NULL, 8), "sorted, 1 to 7 bytes");
    const char *twice_sorted[] = { "m01", "m02", "m02", "m03" };
    expect_error(parse_scores(twice_sorted, NULL, 4), "scores.m02: duplicate key", "sorted, twice");
    const char *twice_apart[] = { "m02", "m01", "m02" };
    expect_error(parse_scores(twice_apart, NULL, 3), "scores.m02: duplicate key", "unsorted");
    const char *twice_7[] = { "abcdefg", "abcdefg" };
    expect_error(parse_scores(twice_7, NULL, 2), "scores.abcdefg: duplicate key", "7 bytes");
    const char *twice_long[] = { "a", "propensity_1", "z", "propensity_1" };
    expect_error(parse_scores(twice_long, NULL, 4), "scores.propensity_1: duplicate key", "long");
    const char *empty[] = { "", "" };
    expect_error(parse_scores(empty, NULL, 2), "duplicate key", "the empty name twice");
    /* Names that differ only past their first and last 4 bytes, or by a
     * trailing NUL, are different names. */
    const char *middle[] = { "abcxdefg", "abcydefg", "abc\0", "abc" };
    size_t lens[] = { 8, 8, 4, 3 };
    expect_ok(parse_scores(middle, lens, 4), "differ in the middle or by a NUL");
    const char *nul[] = { "ab", "ab\0" };
    size_t nul_lens[] = { 2, 3 };
    expect_ok(parse_scores(nul, nul_lens, 2), "ab and ab NUL, rising");
    const char *nul_down[] = { "ab\0", "ab" };
    size_t down_lens[] = { 3, 2 };
    expect_ok(parse_scores(nul_down, down_lens, 2), "ab NUL and ab, falling");
    /* Many names: 9 to 64 (fingerprints) and more (hash of the Lua form),
     * sorted and not, the repeat at either end. */
    for (size_t n = 9; n <= 130; n += 121) {
        char names[131][24];
        const char *ptrs[132];
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "m%03zu", i);
            ptrs[i] = names[i];
        }
        expect_ok(parse_scores(ptrs, NULL, n), "many, once");
        ptrs[n] = names[0];
        expect_error(parse_scores(ptrs, NULL, n + 1), "scores.m000: duplicate key", "many, first again");
        ptrs[n] = names[n - 1];
        expect_error(parse_scores(ptrs, NULL, n + 1), "duplicate key", "many, last again");
    }
}

Test(context, consent_names_once)
{
    expect_ok(parse_with("\"consent\": {\"location\": true, \"email\": false}"), "two names");
    pack_required(1);
    pk_cstr(&g_pk, "consent");
    msgpack_pack_map(&g_pk, 3);
    pk_cstr(&g_pk, "location");
    msgpack_pack_true(&g_pk);
    pk_cstr(&g_pk, "email");
    msgpack_pack_true(&g_pk);
    pk_cstr(&g_pk, "location");
    msgpack_pack_false(&g_pk);
    expect_error(parse_packed(), "consent.location: duplicate key", "a handful");
    for (int dup = 0; dup < 2; dup++) {
        pack_required(1);
        pk_cstr(&g_pk, "consent");
        msgpack_pack_map(&g_pk, 12 + dup);
        for (int i = 0; i < 12; i++) {
            char name[24];
            snprintf(name, sizeof name, "c%d", i);
            pk_cstr(&g_pk, name);
            msgpack_pack_true(&g_pk);
        }
        if (dup) {
            pk_cstr(&g_pk, "c3");
            msgpack_pack_true(&g_pk);
            expect_error(parse_packed(), "consent.c3: duplicate key", "12 names, one again");
        } else {
            expect_ok(parse_packed(), "12 names");
        }
    }
}

Test(context, attribute_keys_lua_takes_as_one_in_large_maps)
{
    /* 1 and 1.0 among more than 8 keys of mixed types. */
    pack_required(1);
    pk_cstr(&g_pk, "attributes");
    msgpack_pack_map(&g_pk, 11);
    for (int i = 2; i < 12; i++) {
        msgpack_pack_int(&g_pk, i);
        msgpack_pack_nil(&g_pk);
    }
    msgpack_pack_double(&g_pk, 7.0);
    msgpack_pack_nil(&g_pk);
    expect_error(parse_packed(), "duplicate key", "7 and 7.0 among 11");
    /* 20 string keys, the last two the same, str and bin. */
    pack_required(1);
    pk_cstr(&g_pk, "attributes");
    msgpack_pack_map(&g_pk, 20);
    for (int i = 0; i < 19; i++) {
        char k[24];
        snprintf(k, sizeof k, "k%d", i);
        pk_cstr(&g_pk, k);
        msgpack_pack_nil(&g_pk);
    }
    msgpack_pack_bin(&g_pk, 3);
    msgpack_pack_bin_body(&g_pk, "k18", 3);
    msgpack_pack_nil(&g_pk);
    expect_error(parse_packed(), "attributes.k18: duplicate key", "str and bin among 20");
}
