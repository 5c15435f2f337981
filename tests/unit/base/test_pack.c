/* Unit tests for the one map lookup (engine/base/pack.c:
 * arb_msgpack_map_get), on hand-packed maps and on a parsed context, for
 * arb_str_eq (engine/request/context.h), and for the packbuf that gathers
 * items into few writes (arb_packbuf_t). The fixture is
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
#include "engine/base/pack.h"
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

/* ---- arb_packbuf_t -------------------------------------------------------- */

/* A callback that counts its writes into an sbuffer. */
typedef struct { msgpack_sbuffer sb; int writes; } counted_t;

static int counted_write(void *data, const char *buf, size_t len)
{
    counted_t *c = data;
    c->writes++;
    return msgpack_sbuffer_write(&c->sb, buf, len);
}

/* The same items through msgpack-c's packer and through a packbuf: the same
 * bytes, but one callback write per room filled (and one for an item
 * larger than the room), not one per item. */
Test(pack, a_packbuf_writes_msgpack_cs_bytes_a_room_at_a_time)
{
    counted_t per_item = { .writes = 0 }, gathered = { .writes = 0 };
    msgpack_sbuffer_init(&per_item.sb);
    msgpack_sbuffer_init(&gathered.sb);
    msgpack_packer pk, pk2;
    msgpack_packer_init(&pk, &per_item, counted_write);
    msgpack_packer_init(&pk2, &gathered, counted_write);
    arb_packbuf_t b;
    arb_packbuf_begin(&b, &pk2);
    char *big = malloc(10000);
    memset(big, 'x', 10000);
    enum { N = 2000 };
    msgpack_pack_array(&pk, N);
    arb_packbuf_pack_array(&b, N);
    for (int i = 0; i < N; i++) {
        double d = i * 0.37 - 100;
        uint64_t u = (uint64_t)i * 977 * (i % 3 ? 1 : 1000003);
        size_t len = i == 1500 ? 10000 : (size_t)(i % 300);
        msgpack_pack_map(&pk, 3);
        msgpack_pack_str_with_body(&pk, big, len);
        msgpack_pack_double(&pk, d);
        msgpack_pack_uint64(&pk, u);
        if (i % 2) msgpack_pack_nil(&pk); else msgpack_pack_true(&pk);
        msgpack_pack_str_with_body(&pk, "k\xc3\xa9y", 4);
        msgpack_pack_int64(&pk, -i);
        arb_packbuf_pack_map(&b, 3);
        arb_packbuf_strn(&b, big, len);
        arb_packbuf_pack_double(&b, d);
        arb_packbuf_pack_uint64(&b, u);
        if (i % 2) arb_packbuf_pack_nil(&b); else arb_packbuf_pack_true(&b);
        arb_packbuf_text(&b, "k\xc3\xa9y");
        arb_packbuf_pack_int64(&b, -i);
    }
    arb_packbuf_end(&b);
    arb_packbuf_end(&b);   /* nothing more gathered: no empty write */
    cr_assert_eq(gathered.sb.size, per_item.sb.size);
    cr_assert_eq(memcmp(gathered.sb.data, per_item.sb.data, per_item.sb.size), 0);
    int rooms = (int)(per_item.sb.size / sizeof b.room);
    cr_expect_gt(per_item.writes, 5 * N);
    cr_expect_leq(gathered.writes, 2 * rooms + 2, "%d writes for %d rooms", gathered.writes, rooms);
    free(big);
    msgpack_sbuffer_destroy(&per_item.sb);
    msgpack_sbuffer_destroy(&gathered.sb);
}

/* Room made for n bytes: the gathered bytes are written out when they would
 * not fit beside n; more than a whole room cannot be made. */
Test(pack, room_is_made_by_writing_out_what_is_gathered)
{
    counted_t c = { .writes = 0 };
    msgpack_sbuffer_init(&c.sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &c, counted_write);
    arb_packbuf_t b;
    arb_packbuf_begin(&b, &pk);
    cr_assert(arb_packbuf_room(&b, sizeof b.room));
    char *at = b.at;
    arb_packroom_lit(&at, "propensity");
    arb_packroom_put_double(&at, 0.5);
    b.at = at;
    cr_expect_eq(c.writes, 0);
    cr_assert(arb_packbuf_room(&b, sizeof b.room - 19));
    cr_expect_eq(c.writes, 1, "20 bytes gathered leave 19 too few");
    cr_assert_eq(c.sb.size, 20);
    cr_expect_eq((unsigned char)c.sb.data[0], 0xaa);
    cr_expect_eq((unsigned char)c.sb.data[11], 0xcb);
    cr_expect_not(arb_packbuf_room(&b, sizeof b.room + 1));
    msgpack_sbuffer_destroy(&c.sb);
}
