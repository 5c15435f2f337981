/* Unit tests for the one map lookup (engine/base/pack.c:
 * arb_msgpack_map_get), on hand-packed maps and on a parsed context, and
 * for arb_str_eq (engine/request/context.h). The fixture is
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

TestSuite(pack, .init = ctx_setup, .fini = ctx_teardown);

/* ---- arb_msgpack_map_get ------------------------------------------------ */

Test(pack, map_get)
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

Test(pack, map_get_on_parsed_context)
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

Test(pack, arb_str_eq_helper)
{
    arb_str_t s = { "abcdef", 3 };
    cr_assert(arb_str_eq(s, "abc"));
    cr_assert_not(arb_str_eq(s, "ab"));
    cr_assert_not(arb_str_eq(s, "abcd"));
    arb_str_t e = { "", 0 };
    cr_assert(arb_str_eq(e, ""));
    cr_assert_not(arb_str_eq(e, "a"));
}
