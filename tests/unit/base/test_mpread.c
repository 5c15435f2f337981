/* Unit tests for engine/base/mpread.h and mpwrite.h: the bounded cursor
 * reads every MessagePack form it knows, refuses whatever runs past the
 * end (at every cut) without moving, refuses counts larger than the bytes
 * left and nesting deeper than asked; the writer writes byte for byte what
 * msgpack-c's packer writes for the same values, at every boundary of its
 * forms, and the cursor reads it back.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/mpread.h"
#include "engine/base/mpwrite.h"

static const int64_t ints[] = {0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                               INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769,
                               -2147483647LL, -2147483648LL, -2147483649LL, INT64_MIN};
static const size_t lens[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536};

/* Both writers, the same values: the bytes must match. */
static void write_all(msgpack_packer *pk, arb_mpwrite_t *w, const char *big)
{
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        msgpack_pack_int64(pk, ints[i]);
        arb_mpwrite_int(w, ints[i]);
    }
    for (unsigned u = 0; u < 70000; u = u * 2 + 1) {
        msgpack_pack_unsigned_int(pk, u);
        arb_mpwrite_uint32(w, u);
    }
    msgpack_pack_unsigned_int(pk, UINT32_MAX);
    arb_mpwrite_uint32(w, UINT32_MAX);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        msgpack_pack_str(pk, lens[i]);
        msgpack_pack_str_body(pk, big, lens[i]);
        arb_mpwrite_str(w, big, lens[i]);
        msgpack_pack_bin(pk, lens[i]);
        msgpack_pack_bin_body(pk, big, lens[i]);
        arb_mpwrite_bin(w, (const uint8_t *)big, lens[i]);
        msgpack_pack_array(pk, lens[i]);
        arb_mpwrite_array(w, lens[i]);
    }
    const double ds[] = {0.0, -0.0, 0.1, -12.5, 1e300, 1.0 / 0.0};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        msgpack_pack_double(pk, ds[i]);
        arb_mpwrite_double(w, ds[i]);
    }
    msgpack_pack_nil(pk);
    arb_mpwrite_nil(w);
    msgpack_pack_true(pk);
    arb_mpwrite_bool(w, true);
    msgpack_pack_false(pk);
    arb_mpwrite_bool(w, false);
}

Test(mpwrite, writes_what_msgpack_c_writes)
{
    char *big = malloc(65536);
    memset(big, 'x', 65536);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_mpwrite_t w = {0};
    write_all(&pk, &w, big);
    cr_assert_not(w.failed);
    cr_assert_eq(w.size, sb.size);
    for (size_t i = 0; i < w.size; i++)
        cr_assert_eq(w.data[i], (uint8_t)sb.data[i], "byte %zu: 0x%02x, msgpack-c wrote 0x%02x", i, w.data[i],
                     (uint8_t)sb.data[i]);
    msgpack_sbuffer_destroy(&sb);
    free(w.data);
    free(big);
}

Test(mpread, reads_back_every_form)
{
    char *big = malloc(65536);
    memset(big, 'x', 65536);
    arb_mpwrite_t w = {0};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) arb_mpwrite_int(&w, ints[i]);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        arb_mpwrite_str(&w, big, lens[i]);
        arb_mpwrite_bin(&w, (const uint8_t *)big, lens[i]);
    }
    arb_mpwrite_double(&w, -12.5);
    arb_mpwrite_nil(&w);
    arb_mpwrite_bool(&w, true);
    arb_mpwrite_array(&w, 2);
    arb_mpwrite_int(&w, 1);
    arb_mpwrite_int(&w, 2);
    const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};  /* 1.5 as a float32 */
    arb_mpwrite_reserve(&w, sizeof f32);
    memcpy(w.data + w.size, f32, sizeof f32);
    w.size += sizeof f32;
    arb_mpread_t r;
    arb_mpread_init(&r, w.data, w.size);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v;
        cr_assert(arb_mpread_int(&r, &v), "int %zu", i);
        cr_assert_eq(v, ints[i]);
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        const char *s;
        const uint8_t *b;
        uint32_t n;
        int64_t v;
        cr_assert_not(arb_mpread_int(&r, &v), "a str read as an int");
        cr_assert_not(arb_mpread_bin(&r, &b, &n), "a str read as a bin");
        cr_assert(arb_mpread_str(&r, &s, &n));
        cr_assert_eq(n, lens[i]);
        /* points into the input */
        cr_assert((const uint8_t *)s >= w.data && (const uint8_t *)s + n <= w.data + w.size);
        cr_assert(arb_mpread_bin(&r, &b, &n));
        cr_assert_eq(n, lens[i]);
    }
    double d;
    bool t;
    uint32_t n;
    cr_assert(arb_mpread_float(&r, &d));
    cr_assert_eq(d, -12.5);
    cr_assert_not(arb_mpread_bool(&r, &t));
    cr_assert(arb_mpread_nil(&r));
    cr_assert(arb_mpread_bool(&r, &t) && t);
    cr_assert(arb_mpread_array(&r, &n) && n == 2);
    cr_assert(arb_mpread_skip(&r, 1) && arb_mpread_skip(&r, 1));
    cr_assert(arb_mpread_float(&r, &d));
    cr_assert_eq(d, 1.5);
    cr_assert_eq(r.p, r.end);
    cr_assert_not(arb_mpread_nil(&r));
    free(w.data);
    free(big);
}

/* Every cut of every value is refused, and leaves the cursor in place. */
Test(mpread, refuses_every_truncation_without_moving)
{
    const uint8_t vals[][12] = {
        {0xcd, 0x01, 0x00}, {0xce, 0, 1, 0, 0}, {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, {0xd3, 0xff, 0, 0, 0, 0, 0, 0, 0},
        {0xd9, 2, 'a', 'b'}, {0xda, 0, 2, 'a', 'b'}, {0xdb, 0, 0, 0, 2, 'a', 'b'}, {0xc4, 2, 1, 2},
        {0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0}, {0xca, 0x3f, 0xc0, 0, 0}, {0xdc, 0, 1, 0xc0}, {0xa2, 'a', 'b'},
    };
    const size_t size[] = {3, 5, 9, 9, 4, 5, 7, 4, 9, 5, 4, 3};
    for (size_t v = 0; v < sizeof size / sizeof size[0]; v++)
        for (size_t cut = 0; cut < size[v]; cut++) {
            arb_mpread_t r;
            arb_mpread_init(&r, vals[v], cut);
            int64_t i;
            double d;
            const char *s;
            const uint8_t *b;
            uint32_t n;
            bool ok = arb_mpread_int(&r, &i) || arb_mpread_float(&r, &d) || arb_mpread_str(&r, &s, &n) ||
                      arb_mpread_bin(&r, &b, &n) || arb_mpread_skip(&r, 32);
            cr_assert_not(ok, "value %zu cut at %zu was read", v, cut);
            cr_assert_eq(r.p, vals[v], "value %zu cut at %zu moved the cursor", v, cut);
        }
}

Test(mpread, refuses_counts_beyond_the_bytes_and_depth_beyond_the_limit)
{
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    const uint8_t huge_map[] = {0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0};  /* one entry needs two bytes */
    const uint8_t big_uint[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};       /* over INT64_MAX */
    const uint8_t nested[] = {0x91, 0x91, 0x91, 0xc0};
    arb_mpread_t r;
    uint32_t n;
    int64_t v;
    arb_mpread_init(&r, huge_array, sizeof huge_array);
    cr_assert_not(arb_mpread_array(&r, &n));
    cr_assert_not(arb_mpread_skip(&r, 32));
    arb_mpread_init(&r, huge_map, sizeof huge_map);
    cr_assert_not(arb_mpread_map(&r, &n));
    arb_mpread_init(&r, big_uint, sizeof big_uint);
    cr_assert_not(arb_mpread_int(&r, &v));
    cr_assert(arb_mpread_skip(&r, 0), "a uint64 is still one whole value");
    arb_mpread_init(&r, nested, sizeof nested);
    cr_assert_not(arb_mpread_skip(&r, 2));
    cr_assert_eq(r.p, nested);
    cr_assert(arb_mpread_skip(&r, 3));
    cr_assert_eq(r.p, r.end);
    const uint8_t never_used[] = {0xc1};
    arb_mpread_init(&r, never_used, 1);
    cr_assert_not(arb_mpread_skip(&r, 32));
}

/* arb_mpread_shortest: what msgpack-c packs, at every boundary of its
 * forms, is in shortest forms; each longer form of the same value is not,
 * and msgpack-c's packing of its unpacking differs from it indeed. */
Test(mpread, shortest_is_what_msgpack_c_packs)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char *big = calloc(1, 70000);
    cr_assert(big);
    size_t n = sizeof ints / sizeof ints[0], m = sizeof lens / sizeof lens[0];
    msgpack_pack_array(&pk, (uint32_t)(n + 6 * m + 3));
    for (size_t i = 0; i < n; i++) msgpack_pack_int64(&pk, ints[i]);
    for (size_t i = 0; i < m; i++) {
        msgpack_pack_str(&pk, lens[i]);
        msgpack_pack_str_body(&pk, big, lens[i]);
        msgpack_pack_bin(&pk, lens[i]);
        msgpack_pack_bin_body(&pk, big, lens[i]);
        msgpack_pack_ext(&pk, lens[i], 7);
        msgpack_pack_ext_body(&pk, big, lens[i]);
        msgpack_pack_array(&pk, (uint32_t)lens[i]);
        for (size_t k = 0; k < lens[i]; k++) msgpack_pack_nil(&pk);
        msgpack_pack_map(&pk, (uint32_t)lens[i]);
        for (size_t k = 0; k < 2 * lens[i]; k++) msgpack_pack_true(&pk);
        msgpack_pack_ext(&pk, lens[i] % 17, -1);
        msgpack_pack_ext_body(&pk, big, lens[i] % 17);
    }
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, -0.1);
    msgpack_pack_float(&pk, __builtin_nanf(""));
    cr_assert(arb_mpread_shortest(sb.data, sb.size));
    cr_assert(!arb_mpread_shortest(sb.data, sb.size - 1), "cut short");
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    cr_assert(!arb_mpread_shortest(sb.data, sb.size), "a second value after the first");
    msgpack_sbuffer_destroy(&sb);
    free(big);
}

Test(mpread, longer_forms_are_not_shortest)
{
    static const struct { const char *bytes; size_t len; } longer[] = {
        { "\xcc\x05", 2 },                 /* uint8 5: a fixint */
        { "\xcd\x00\xff", 3 },             /* uint16 255: a uint8 */
        { "\xce\x00\x00\xff\xff", 5 },     /* uint32 65535 */
        { "\xcf\x00\x00\x00\x00\xff\xff\xff\xff", 9 },
        { "\xd0\x05", 2 },                 /* int8 5: unsigned, a fixint */
        { "\xd0\xe0", 2 },                 /* int8 -32: a negative fixint */
        { "\xd1\xff\x80", 3 },             /* int16 -128: an int8 */
        { "\xd2\xff\xff\x80\x00", 5 },
        { "\xd3\xff\xff\xff\xff\x80\x00\x00\x00", 9 },
        { "\xd9\x01x", 3 },                /* str8 of 1: a fixstr */
        { "\xda\x00\x01x", 4 },
        { "\xc5\x00\x01x", 4 },            /* bin16 of 1: a bin8 */
        { "\xc7\x04\x01xxxx", 7 },         /* ext8 of 4: a fixext4 */
        { "\xdc\x00\x01\xc0", 4 },         /* array16 of 1: a fixarray */
        { "\xde\x00\x00", 3 },             /* map16 of 0: a fixmap */
        { "\xca\x7f\x80\x00\x01", 5 },     /* a signalling NaN a double quiets */
    };
    for (size_t i = 0; i < sizeof longer / sizeof longer[0]; i++) {
        cr_assert(!arb_mpread_shortest(longer[i].bytes, longer[i].len), "sample %zu", i);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        cr_assert_eq(msgpack_unpack_next(&up, longer[i].bytes, longer[i].len, NULL),
                     MSGPACK_UNPACK_SUCCESS, "sample %zu", i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, up.data);
        cr_assert(sb.size != longer[i].len || memcmp(sb.data, longer[i].bytes, sb.size) != 0,
                  "sample %zu: msgpack-c packs it the same", i);
        msgpack_sbuffer_destroy(&sb);
        msgpack_unpacked_destroy(&up);
    }
}
