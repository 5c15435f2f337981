/* Unit tests for the decide context check (engine/request/context.c): a
 * value of the wrong type is refused naming its path, for every field; keys
 * that are not strings; contexts that are not maps; arb_context_consent.
 * The fixture is tests/support/ctxfix.c.
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

TestSuite(context_types, .init = ctx_setup, .fini = ctx_teardown);

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

Test(context_types, wrong_types_name_the_path)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int rc = parse_with(BAD[i].extra);
        cr_expect_eq(rc, -1, "{%s}: accepted", BAD[i].extra);
        if (rc != -1) continue;
        cr_expect_eq(g_err.code, ARB_INVALID_PARAMS, "{%s}: code %d", BAD[i].extra, g_err.code);
        cr_expect_str_eq(g_err.message, BAD[i].want, "{%s}", BAD[i].extra);
    }
}

Test(context_types, limit_bounds)
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

Test(context_types, deadline_ms)
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

Test(context_types, unsigned_beyond_int64_is_out_of_range)
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

Test(context_types, non_finite_numbers_are_rejected)
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

Test(context_types, other_msgpack_types_are_named)
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

Test(context_types, long_keys_are_cut_in_paths)
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

Test(context_types, deep_record_index_in_path)
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

Test(context_types, non_string_keys_are_rejected)
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

Test(context_types, non_string_key_at_top_level_is_rejected)
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

Test(context_types, non_string_key_at_top_level_names_the_context)
{
    /* The top level is "context" (as in "context: expected a map"), not an
     * empty path. */
    pack_required(1);
    msgpack_pack_int(&g_pk, 1);
    pk_cstr(&g_pk, "x");
    expect_error(parse_packed(), "context", "int key at top level");
    cr_expect_str_eq(g_err.message, "context: keys must be strings");
}

Test(context_types, context_not_a_map)
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

Test(context_types, null_err_is_allowed)
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

Test(context_types, a_failed_parse_leaves_no_stale_fields)
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

Test(context_types, consent_lookup)
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

Test(context_types, consent_absent_means_false)
{
    expect_ok(parse_with(""), "no consent");
    cr_assert_not(arb_context_consent(&g_ctx, "location", 8));
    expect_ok(parse_with("\"consent\": {}"), "empty consent");
    cr_assert_not(arb_context_consent(&g_ctx, "location", 8));
}
