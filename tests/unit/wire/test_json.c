/* Unit tests for the JSON <-> MessagePack conversion of the command line
 * and HTTP (engine/wire/json.c). The client that carries it is tested in
 * tests/unit/client/test_client.c.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire/json.h"

/* ---- helpers: JSON ---------------------------------------------------- */

/* JSON text -> msgpack -> JSON text; returns the malloc'd rendering. */
static char *roundtrip(const char *text, int pretty)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256] = "";
    cr_assert_eq(arb_json_to_msgpack(text, &sb, err, sizeof(err)), 0, "parse failed: %s", err);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size, "trailing bytes after the value");
    char *out = arb_msgpack_to_json(&up.data, pretty);
    cr_assert_not_null(out);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return out;
}

static void expect_roundtrip(const char *text, const char *want)
{
    char *got = roundtrip(text, 0);
    cr_expect_str_eq(got, want);
    free(got);
}

/* Render a msgpack value packed by fill() as compact JSON. */
static char *render_packed(void (*fill)(msgpack_packer *))
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fill(&pk);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    char *out = arb_msgpack_to_json(&up.data, 0);
    cr_assert_not_null(out);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return out;
}

/* ---- JSON tests -------------------------------------------------------- */

Test(json, nested_object_roundtrip)
{
    expect_roundtrip("{\"a\": {\"b\": [1, 2, {\"c\": null}], \"d\": true}, \"e\": \"x\", \"f\": false}",
                     "{\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":true},\"e\":\"x\",\"f\":false}");
    expect_roundtrip("[]", "[]");
    expect_roundtrip("{}", "{}");
    expect_roundtrip("[[[[]]]]", "[[[[]]]]");
}

Test(json, scalars_at_top_level)
{
    expect_roundtrip("42", "42");
    expect_roundtrip("\"s\"", "\"s\"");
    expect_roundtrip("null", "null");
    expect_roundtrip("true", "true");
}

Test(json, integers_stay_ints_reals_stay_reals)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256];
    cr_assert_eq(arb_json_to_msgpack("[1, 1.0, -5, 0.5, 9223372036854775807, -9223372036854775808]",
                                     &sb, err, sizeof(err)), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *a = up.data.via.array.ptr;
    cr_expect_eq(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_expect_eq(a[1].type, MSGPACK_OBJECT_FLOAT64);
    cr_expect_eq(a[2].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_expect_eq(a[2].via.i64, -5);
    cr_expect_eq(a[3].type, MSGPACK_OBJECT_FLOAT64);
    cr_expect_eq(a[4].via.u64, (uint64_t)INT64_MAX);
    cr_expect_eq(a[5].via.i64, INT64_MIN);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    expect_roundtrip("[1, 1.0, -5, -0.25, 0.1, 2.5e-3, 1e300, 9223372036854775807, -9223372036854775808]",
                     "[1,1.0,-5,-0.25,0.1,0.0025,1e300,9223372036854775807,-9223372036854775808]");
}

Test(json, unicode_strings)
{
    const char *utf8 = "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80";
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256];
    cr_assert_eq(arb_json_to_msgpack("\"h\\u00e9llo \\u2603 \\ud83d\\ude00\"", &sb, err, sizeof(err)), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(up.data.type, MSGPACK_OBJECT_STR);
    cr_assert_eq(up.data.via.str.size, strlen(utf8));
    cr_expect_eq(memcmp(up.data.via.str.ptr, utf8, strlen(utf8)), 0);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    char *in = NULL;
    cr_assert_gt(asprintf(&in, "{\"%s\": \"%s\"}", utf8, utf8), 0);
    char *want = NULL;
    cr_assert_gt(asprintf(&want, "{\"%s\":\"%s\"}", utf8, utf8), 0);
    expect_roundtrip(in, want);
    free(in);
    free(want);
    /* Embedded NUL survives both directions. */
    expect_roundtrip("\"a\\u0000b\"", "\"a\\u0000b\"");
}

Test(json, invalid_json_names_line_and_column)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\x91", 1); /* existing content must be kept */
    char err[256] = "";
    cr_assert_eq(arb_json_to_msgpack("{\n  \"a\": 1,\n  \"b\": }", &sb, err, sizeof(err)), -1);
    cr_expect(strncmp(err, "line 3 column ", 14) == 0, "got: %s", err);
    cr_expect_eq(sb.size, 1);

    cr_assert_eq(arb_json_to_msgpack("[1, 2", &sb, err, sizeof(err)), -1);
    cr_expect(strstr(err, "line 1 column") != NULL, "got: %s", err);
    cr_assert_eq(arb_json_to_msgpack("", &sb, err, sizeof(err)), -1);
    cr_expect(strstr(err, "line ") != NULL, "got: %s", err);
    cr_assert_eq(arb_json_to_msgpack("{\"a\": 1} x", &sb, err, sizeof(err)), -1);
    cr_assert_eq(arb_json_to_msgpack("{\"a\": 1, \"a\": 2}", &sb, err, sizeof(err)), -1);
    cr_expect(strstr(err, "duplicate") != NULL, "got: %s", err);
    cr_assert_eq(arb_json_to_msgpack("18446744073709551616", &sb, err, sizeof(err)), -1);
    cr_expect_eq(sb.size, 1);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, appends_to_existing_buffer)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    char err[256];
    cr_assert_eq(arb_json_to_msgpack("{\"k\": 1}", &sb, err, sizeof(err)), 0);
    cr_assert_eq(arb_json_to_msgpack("[true]", &sb, err, sizeof(err)), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    char *s = arb_msgpack_to_json(&up.data, 0);
    cr_expect_str_eq(s, "[{\"k\":1},[true]]");
    free(s);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(json, pretty_uses_two_space_indent)
{
    char *s = roundtrip("{\"a\": [1, 2], \"b\": {}}", 1);
    cr_expect_str_eq(s, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
    free(s);
}

static void fill_odd_values(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_bin(pk, 4);
    msgpack_pack_bin_body(pk, "a\xff" "b\xc3", 4); /* invalid UTF-8 */
    msgpack_pack_ext(pk, 1, 1);
    msgpack_pack_ext_body(pk, "x", 1);
    msgpack_pack_double(pk, 0.0 / 0.0);
    msgpack_pack_str(pk, 2);
    msgpack_pack_str_body(pk, "\xe2\x98", 2); /* truncated sequence */
    msgpack_pack_map(pk, 3);
    msgpack_pack_int(pk, 7);
    msgpack_pack_true(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, -2);
    msgpack_pack_str(pk, 1);
    msgpack_pack_str_body(pk, "z", 1);
}

Test(json, msgpack_only_types_map_to_json)
{
    char *s = render_packed(fill_odd_values);
    cr_expect_str_eq(s, "[\"a\xef\xbf\xbd" "b\xef\xbf\xbd\",null,null,"
                        "\"\xef\xbf\xbd\xef\xbf\xbd\",{\"7\":true,\"null\":1,\"[-2]\":\"z\"}]");
    free(s);
}

static void fill_float32(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_float(pk, 0.1f);
    msgpack_pack_float(pk, 3.0f);
    msgpack_pack_float(pk, -1.5e-7f);
}

static void fill_big_uint(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, UINT64_MAX);
}

Test(json, reals_print_short)
{
    char *s = render_packed(fill_float32);
    cr_expect_str_eq(s, "[0.1,3.0,-1.5e-7]");
    free(s);
    s = render_packed(fill_big_uint);
    cr_expect_str_eq(s, "1.8446744073709552e19");
    free(s);
}
