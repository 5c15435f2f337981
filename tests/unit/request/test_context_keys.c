/* Unit tests for the decide context check (engine/request/context.c): each
 * key once, checked during the typed walk, at the top, in each part, in
 * scores and consent, and for attribute keys Lua would take as one; and the
 * keys and values hostile clients send (from issue 10: NaN keys, bin and
 * extension values, scores outside [0, 1]). The fixture is
 * tests/support/ctxfix.c.
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

TestSuite(context_keys, .init = ctx_setup, .fini = ctx_teardown);

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

Test(context_keys, each_known_top_level_key_twice_is_refused)
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
        pack_required(1);
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

Test(context_keys, each_known_field_of_a_part_twice_is_refused)
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

Test(context_keys, unknown_fields_of_a_part_are_checked_whole)
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

Test(context_keys, score_names_once_sorted_or_not_short_or_long)
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

Test(context_keys, consent_names_once)
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

Test(context_keys, attribute_keys_lua_takes_as_one_in_large_maps)
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

/* ---- what hostile clients send (issue 10) ----------------------------------- *
 * Keys C and Lua could read differently: duplicates at any depth, keys Lua
 * takes as one, large maps, bin and extension values, scores outside
 * [0, 1]. Written with the packer of tests/support/ctxfix.c. */

static void str(const char *s) { pk_cstr(&g_pk, s); }

/* A context map of 3 + extra entries with the required strings. */
static void begin(uint32_t extra) { pack_required(extra); }

static int parse(void) { return parse_packed(); }

static void refused(const char *want, const char *what) { expect_error(parse_packed(), want, what); }

Test(context_keys, duplicates_at_the_top_and_in_each_part)
{
    begin(1);
    str("channel");
    str("email");
    refused("channel: duplicate key", "top level");

    begin(1);
    str("scores");
    msgpack_pack_map(&g_pk, 2);
    str("m");
    msgpack_pack_double(&g_pk, 0.5);
    str("m");
    msgpack_pack_double(&g_pk, 0.2);
    refused("scores.m: duplicate key", "scores");

    begin(1);
    str("purchases");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_map(&g_pk, 1);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_map(&g_pk, 3);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    str("brand");
    str("a");
    str("brand");
    str("b");
    refused("purchases[1].brand: duplicate key", "extra field of a purchase");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    str("segments");
    msgpack_pack_array(&g_pk, 2);
    str("x");
    msgpack_pack_map(&g_pk, 2);
    str("k");
    msgpack_pack_nil(&g_pk);
    str("k");
    msgpack_pack_nil(&g_pk);
    refused("attributes.segments[1].k: duplicate key", "deep in attributes");
}

Test(context_keys, keys_lua_takes_as_one)
{
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    str("tier");
    str("gold");
    msgpack_pack_bin(&g_pk, 4);
    msgpack_pack_bin_body(&g_pk, "tier", 4);
    str("x");
    refused("duplicate key", "str and bin of the same bytes");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_int(&g_pk, 3);
    str("a");
    msgpack_pack_double(&g_pk, 3.0);
    str("b");
    refused("duplicate key", "3 and 3.0");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_int(&g_pk, 3);
    str("a");
    msgpack_pack_double(&g_pk, 3.5);
    str("b");
    cr_assert_eq(parse(), 0, "3 and 3.5 are two keys: %s", g_err.message);

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_double(&g_pk, NAN);
    str("a");
    refused("NaN", "a NaN key");

    /* Maps (as keys) are never one key in Lua: two empty ones are fine. */
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_map(&g_pk, 0);
    str("a");
    msgpack_pack_map(&g_pk, 0);
    str("b");
    cr_assert_eq(parse(), 0, "two map keys: %s", g_err.message);
}

/* Maps of 9..64 string keys (fingerprints) and of more (hash), with the
 * duplicate at either end. */
Test(context_keys, large_maps)
{
    static const uint32_t sizes[] = { 9, 20, 64, 65, 300 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        for (int dup = 0; dup < 3; dup++) {
            begin(1);
            str("attributes");
            msgpack_pack_map(&g_pk, n);
            for (uint32_t i = 0; i < n; i++) {
                char k[16];
                uint32_t j = i;
                if (dup == 1 && i == n - 1) j = 0;          /* last repeats the first */
                if (dup == 2 && i == n / 2) j = n / 2 - 1;  /* neighbours */
                snprintf(k, sizeof k, "k%u", j);
                str(k);
                msgpack_pack_int(&g_pk, (int)i);
            }
            if (dup) refused("duplicate key", "large map");
            else cr_assert_eq(parse(), 0, "%u distinct keys refused: %s", n, g_err.message);
        }
    }
}

Test(context_keys, bin_and_ext_values)
{
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    str("tier");
    msgpack_pack_bin(&g_pk, 4);
    msgpack_pack_bin_body(&g_pk, "gold", 4);
    refused("attributes.tier: binary", "bin attribute");

    begin(1);
    str("events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    str("extra");
    msgpack_pack_ext(&g_pk, 1, 3);
    msgpack_pack_ext_body(&g_pk, "x", 1);
    refused("events[0].extra: extension", "ext in an event");
}

Test(context_keys, scores_are_propensities)
{
    static const double bad[] = { -0.0001, 1.0001, 2, -1, 1e300 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        begin(1);
        str("scores");
        msgpack_pack_map(&g_pk, 1);
        str("churn");
        msgpack_pack_double(&g_pk, bad[i]);
        refused("scores.churn: a score is a propensity, between 0 and 1", "score");
    }
    static const double good[] = { 0, 1, 0.5, -0.0 };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        begin(1);
        str("scores");
        msgpack_pack_map(&g_pk, 1);
        str("churn");
        msgpack_pack_double(&g_pk, good[i]);
        cr_assert_eq(parse(), 0, "%g refused: %s", good[i], g_err.message);
    }
}

Test(context_keys, unknown_top_level_keys_stay_free)
{
    /* Read by neither C nor Lua: what they hold is not checked... */
    begin(1);
    str("zz_unknown");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_bin(&g_pk, 2);
    msgpack_pack_bin_body(&g_pk, "\x00\x01", 2);
    msgpack_pack_map(&g_pk, 2);
    str("k");
    msgpack_pack_nil(&g_pk);
    str("k");
    msgpack_pack_nil(&g_pk);
    cr_assert_eq(parse(), 0, "an unknown key's value refused: %s", g_err.message);
    /* ...but the context map itself holds each key once. */
    begin(2);
    str("zz_unknown");
    msgpack_pack_nil(&g_pk);
    str("zz_unknown");
    msgpack_pack_nil(&g_pk);
    refused("zz_unknown: duplicate key", "an unknown key twice");
}
