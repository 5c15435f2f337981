/* Unit tests for the decide context check (engine/request/context.c):
 * arb_context_parse on a full context, defaults, every integer width and
 * float32, and the required fields. Wrong types, non-string keys and
 * consent are in test_context_types.c; keys given twice in
 * test_context_keys.c; hostile clients' keys in test_context_hostile.c.
 *
 * Contexts are written as JSON with jansson (readable), packed to
 * MessagePack with msgpack-c's packer, unpacked with msgpack_unpack_next and
 * parsed; what JSON cannot express (non-string keys, NaN, float32, huge
 * unsigned integers) is packed by hand (tests/support/ctxfix.c).
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
#include "tests/support/ctxfix.h"

TestSuite(context, .init = ctx_setup, .fini = ctx_teardown);

/* ---- a full context ------------------------------------------------------ */

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
    const arb_ctx_event_t *e = c->events;
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

/* ---- the customer's timezone (issue 16) ---------------------------------- */

Test(context, timezone_is_an_optional_utc_offset)
{
    expect_ok(parse_with(""), "no timezone");
    cr_assert_not(g_ctx.has_timezone);
    cr_assert_eq(g_ctx.timezone.len, 0);
    expect_ok(parse_with("\"timezone\": \"+02:00\""), "+02:00");
    cr_assert(g_ctx.has_timezone);
    cr_assert_eq(g_ctx.tz_offset_minutes, 120);
    expect_str(g_ctx.timezone, "+02:00", "timezone as sent");
    expect_ok(parse_with("\"timezone\": \"-05:30\""), "-05:30");
    cr_assert_eq(g_ctx.tz_offset_minutes, -330);
    expect_ok(parse_with("\"timezone\": \"Z\""), "Z");
    cr_assert(g_ctx.has_timezone);
    cr_assert_eq(g_ctx.tz_offset_minutes, 0);
    expect_ok(parse_with("\"timezone\": \"+14:00\""), "+14:00 (Kiribati)");
    cr_assert_eq(g_ctx.tz_offset_minutes, 840);
}

Test(context, timezone_names_and_malformed_offsets_are_refused)
{
    static const char *const bad[] = {
        "Europe/Paris", "UTC", "+2", "+02", "+0200", "02:00", "+02:60", "+19:00", "+02:00 ", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", bad[i]);
        expect_error(parse_with(extra), "timezone: expected an offset such as +02:00", bad[i]);
    }
    expect_error(parse_with("\"timezone\": 2"), "timezone", "a number");
    expect_error(parse_with("\"timezone\": null"), "timezone", "null");
}
