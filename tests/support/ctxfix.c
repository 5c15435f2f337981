/* The context tests' fixture (declared in ctxfix.h): a packer and an
 * unpacked frame per test, JSON -> MessagePack packing, and the checks of
 * what arb_context_parse (engine/request/context.c) accepts or refuses.
 * Shared by every tests/unit/request/test_context*.c and base/test_pack.c;
 * compiled once per flavour ($b/obj/support/ctxfix.o).
 */
#include "tests/support/ctxfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

msgpack_sbuffer g_sb;
msgpack_packer g_pk;
msgpack_unpacked g_up;
arb_arena_t g_arena;
arb_context_t g_ctx;
arb_err_t g_err;

void ctx_setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
    arb_arena_init(&g_arena);
    memset(&g_ctx, 0, sizeof g_ctx);
    memset(&g_err, 0, sizeof g_err);
}

void ctx_teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
    arb_arena_free(&g_arena);
}


void pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* JSON value -> MessagePack, integers as integers, reals as float64. */
void pack_json(msgpack_packer *pk, json_t *j)
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

json_t *json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(j, "bad test JSON at %d: %s in %s", e.position, e.text, text);
    return j;
}

/* Unpack whatever g_sb holds (one whole value) and parse it. */
int parse_packed(void)
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
int parse_text(const char *text)
{
    msgpack_sbuffer_clear(&g_sb);
    json_t *j = json(text);
    pack_json(&g_pk, j);
    json_decref(j);
    return parse_packed();
}

/* The three required fields plus `extra` (a JSON object's members, without
 * braces, or ""). */
int parse_with(const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"customer_id\": \"c1\", \"channel\": \"web\", \"touchpoint\": \"web_home\"%s%s}",
             *extra ? ", " : "", extra);
    return parse_text(text);
}

void expect_ok(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "%s: rejected: %s", what, g_err.message);
}

void expect_error(int rc, const char *want, const char *what)
{
    cr_assert_eq(rc, -1, "%s: accepted, want \"%s\"", what, want);
    cr_assert_eq(g_err.code, ARB_INVALID_PARAMS, "%s: code %d", what, g_err.code);
    cr_assert(strstr(g_err.message, want) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
              g_err.message, want);
}

/* The string lies inside the packed frame (no copy was made). */
bool in_frame(arb_str_t s)
{
    return s.ptr >= g_sb.data && s.ptr + s.len <= g_sb.data + g_sb.size;
}

void expect_str(arb_str_t s, const char *want, const char *what)
{
    cr_assert(arb_str_eq(s, want), "%s: got \"%.*s\", want \"%s\"", what, (int)s.len,
              s.ptr ? s.ptr : "", want);
    if (*want) cr_assert(in_frame(s), "%s: not a pointer into the frame", what);
}

void expect_absent_str(arb_str_t s, const char *what)
{
    cr_assert_eq(s.len, 0, "%s: len %u", what, s.len);
    cr_assert_null(s.ptr, "%s: not NULL", what);
}

/* Hand packing: a map of 3 + extra pairs whose first three are the required
 * fields; the caller packs the `extra` pairs next. */
void pack_required(size_t extra)
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

const char *const FULL =
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
