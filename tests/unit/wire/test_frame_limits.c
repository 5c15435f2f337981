/* Unit tests for the frame scanner's limits (engine/wire/frame.c): a frame
 * over max_frame is refused from its header, before anything is allocated,
 * and nesting beyond max_depth is refused however the bytes arrive.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire/frame.h"
#include "tests/support/framefix.h"

/* ---- size limit ----------------------------------------------------------- */

Test(frame, str32_declaring_2gib_is_too_big_from_its_header)
{
    expect_status("\xdb\x80\x00\x00\x00", 5, &LIM, ARB_FRAME_TOO_BIG, "str32 2GiB");
    expect_status("\xc6\x80\x00\x00\x00", 5, &LIM, ARB_FRAME_TOO_BIG, "bin32 2GiB");
    expect_status("\xc9\x80\x00\x00\x00\x01", 6, &LIM, ARB_FRAME_TOO_BIG, "ext32 2GiB");
    expect_status("\xdb\xff\xff\xff\xff", 5, &LIM, ARB_FRAME_TOO_BIG, "str32 4GiB");
    /* Inside a request, too. */
    expect_status("\x94\x00\x01\xdb\x80\x00\x00\x00", 8, &LIM, ARB_FRAME_TOO_BIG,
                  "str32 2GiB as method");
    /* Before the length bytes are all there, nothing is known yet. */
    expect_status("\xdb\x80\x00", 3, &LIM, ARB_FRAME_MORE, "str32 header cut");
}

Test(frame, array32_and_map32_declaring_2_28_are_too_big_from_their_header)
{
    expect_status("\xdd\x10\x00\x00\x00", 5, &LIM, ARB_FRAME_TOO_BIG, "array32 2^28");
    expect_status("\xdf\x10\x00\x00\x00", 5, &LIM, ARB_FRAME_TOO_BIG, "map32 2^28");
    expect_status("\xdd\xff\xff\xff\xff", 5, &LIM, ARB_FRAME_TOO_BIG, "array32 max");
    expect_status("\xdf\xff\xff\xff\xff", 5, &LIM, ARB_FRAME_TOO_BIG, "map32 max");
    expect_status("\x91\xdd\x10\x00\x00\x00", 6, &LIM, ARB_FRAME_TOO_BIG, "nested array32");
}

Test(frame, map_count_is_two_elements_per_pair)
{
    /* 60 pairs need at least 120 bytes: more than a 100-byte frame can hold,
     * although 60 alone would fit. */
    arb_frame_limits_t lim = { 100, 32 };
    expect_status("\xde\x00\x3c", 3, &lim, ARB_FRAME_TOO_BIG, "map16 of 60 pairs");
    expect_status("\xdc\x00\x3c", 3, &lim, ARB_FRAME_MORE, "array16 of 60");
}

Test(frame, count_at_the_exact_room_is_accepted)
{
    /* array16 of 97 nils is 100 bytes: exactly the limit. */
    arb_frame_limits_t lim = { 100, 32 };
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, 97);
    for (int i = 0; i < 97; i++) msgpack_pack_nil(&b.pk);
    cr_assert_eq(b.sb.size, 100);
    expect_done(b.sb.data, b.sb.size, &lim, "100 bytes at limit 100");
    lim.max_frame = 99;
    expect_status(b.sb.data, 3, &lim, ARB_FRAME_TOO_BIG, "97 elements in 96 bytes of room");
    pb_free(&b);
}

Test(frame, many_small_elements_over_max_frame_are_too_big)
{
    /* Every count fits on its own; the elements together do not. */
    arb_frame_limits_t lim = { 100, 32 };
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, 15);
    for (int i = 0; i < 15; i++) {
        msgpack_pack_array(&b.pk, 15);
        for (int j = 0; j < 15; j++) msgpack_pack_int(&b.pk, j);
    }
    cr_assert_gt(b.sb.size, 100);
    expect_status(b.sb.data, b.sb.size, &lim, ARB_FRAME_TOO_BIG, "15x15 at limit 100");
    /* Fed byte by byte, it is MORE until the limit is reached, then TOO_BIG. */
    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen;
    arb_frame_status_t st = ARB_FRAME_MORE;
    size_t k = 0;
    while (st == ARB_FRAME_MORE && k <= b.sb.size) st = arb_frame_scan(&s, b.sb.data, k++, &lim, &flen);
    cr_assert_eq(st, ARB_FRAME_TOO_BIG);
    cr_assert_leq(k - 1, 101, "refused only after %zu bytes", k - 1);
    pb_free(&b);
}

Test(frame, frame_of_exactly_max_frame_is_done_one_less_is_too_big)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 9);
    size_t n = b.sb.size;
    arb_frame_limits_t lim = { n, 32 };
    expect_done(b.sb.data, n, &lim, "at limit");
    lim.max_frame = n - 1;
    expect_status(b.sb.data, n, &lim, ARB_FRAME_TOO_BIG, "one over the limit");
    pb_free(&b);
}

Test(frame, str_ending_exactly_at_limit)
{
    /* str8 of 62 bytes = 64 bytes in all. */
    arb_frame_limits_t lim = { 64, 32 };
    packbuf_t b;
    pb_init(&b);
    pack_str_n(&b.pk, 62);
    cr_assert_eq(b.sb.size, 64);
    expect_done(b.sb.data, 64, &lim, "str8 of 62 at 64");
    lim.max_frame = 63;
    expect_status(b.sb.data, 2, &lim, ARB_FRAME_TOO_BIG, "str8 of 62 at 63, header only");
    pb_free(&b);
}

Test(frame, elements_after_a_long_child_count_against_the_limit)
{
    /* [[1,1,1,1,1,1,1], 1, 1]: the outer count (3) fits when declared, but
     * the first child takes 8 bytes, so the third element would start at
     * byte 10 of a 10-byte limit. */
    const char *f = "\x93\x97\x01\x01\x01\x01\x01\x01\x01\x01\x01";
    arb_frame_limits_t lim = { 11, 32 };
    expect_done(f, 11, &lim, "11 bytes at 11");
    lim.max_frame = 10;
    expect_status(f, 11, &lim, ARB_FRAME_TOO_BIG, "11 bytes at 10");
    /* Refused once the limit is reached, without waiting for byte 11. */
    expect_status(f, 10, &lim, ARB_FRAME_TOO_BIG, "10 bytes given at 10");
}

Test(frame, fixed_width_scalar_over_limit)
{
    /* float64 is 9 bytes: too big for an 8-byte limit before its body comes. */
    arb_frame_limits_t lim = { 8, 32 };
    expect_status("\xcb", 1, &lim, ARB_FRAME_TOO_BIG, "float64 in 8 bytes");
    lim.max_frame = 9;
    expect_done("\xcb\x00\x00\x00\x00\x00\x00\x00\x00", 9, &lim, "float64 in 9 bytes");
}

/* A length header that straddles the frame limit: the bytes before it leave
 * room for the type byte but not for the whole header. Its declared length
 * must still be checked against the limit. */
static size_t pack_straddle(packbuf_t *b, size_t max_frame, const char *hdr, size_t hlen)
{
    /* [bin8 of k bytes, <hdr...>] with the header starting at max_frame - 1 */
    size_t k = max_frame - 1 - 1 - 2; /* fixarray, bin8 header */
    msgpack_pack_array(&b->pk, 2);
    pack_bin_n(&b->pk, k);
    cr_assert_eq(b->sb.size, max_frame - 1);
    msgpack_sbuffer_write(&b->sb, hdr, hlen);
    return b->sb.size;
}

Test(frame, header_straddling_the_limit_with_huge_length_is_too_big)
{
    /* max_frame 64; a str32 header at byte 63 declaring 2 GiB. */
    arb_frame_limits_t lim = { 64, 32 };
    packbuf_t b;
    pb_init(&b);
    size_t n = pack_straddle(&b, 64, "\xdb\x80\x00\x00\x00", 5);
    expect_status(b.sb.data, n, &lim, ARB_FRAME_TOO_BIG, "str32 2GiB header at 63 of 64");
    pb_free(&b);
}

Test(frame, header_straddling_the_limit_never_yields_a_longer_frame)
{
    /* max_frame 64; a str16 of 0 bytes at byte 63: the frame is 66 bytes. */
    arb_frame_limits_t lim = { 64, 32 };
    packbuf_t b;
    pb_init(&b);
    size_t n = pack_straddle(&b, 64, "\xda\x00\x00", 3);
    cr_assert_eq(n, 66);
    size_t flen = 0;
    arb_frame_status_t st = scan_fresh(b.sb.data, n, &lim, &flen);
    cr_expect_neq(st, ARB_FRAME_DONE, "accepted a %zu-byte frame at max_frame 64", flen);
    cr_expect_eq(st, ARB_FRAME_TOO_BIG);
    pb_free(&b);
}

Test(frame, done_frames_never_exceed_max_frame)
{
    /* Sweep: a bin8 filler then one length-headed item of every kind, at
     * every offset around the limit. Whatever the verdict, DONE must mean a
     * frame within max_frame. */
    static const struct { const char *bytes; size_t len; } tails[] = {
        { "\xd9\x00", 2 },          { "\xda\x00\x00", 3 },        { "\xdb\x00\x00\x00\x00", 5 },
        { "\xc4\x00", 2 },          { "\xc5\x00\x00", 3 },        { "\xc6\x00\x00\x00\x00", 5 },
        { "\xc7\x00\x01", 3 },      { "\xc8\x00\x00\x01", 4 },    { "\xc9\x00\x00\x00\x00\x01", 6 },
        { "\xdc\x00\x00", 3 },      { "\xdd\x00\x00\x00\x00", 5 }, { "\xde\x00\x00", 3 },
        { "\xdf\x00\x00\x00\x00", 5 },
    };
    arb_frame_limits_t lim = { 64, 32 };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (size_t k = 50; k <= 62; k++) {
            packbuf_t b;
            pb_init(&b);
            msgpack_pack_array(&b.pk, 2);
            pack_bin_n(&b.pk, k);
            msgpack_sbuffer_write(&b.sb, tails[t].bytes, tails[t].len);
            size_t flen = 0;
            arb_frame_status_t st = scan_fresh(b.sb.data, b.sb.size, &lim, &flen);
            if (b.sb.size <= lim.max_frame) {
                cr_expect_eq(st, ARB_FRAME_DONE, "tail 0x%02x after %zu: %d",
                             (unsigned char)tails[t].bytes[0], k, st);
            } else {
                cr_expect_eq(st, ARB_FRAME_TOO_BIG,
                             "tail 0x%02x after bin8 of %zu: %zu-byte frame at limit 64: %d",
                             (unsigned char)tails[t].bytes[0], k, b.sb.size, st);
            }
            pb_free(&b);
        }
    }
}

/* ---- nesting ------------------------------------------------------------- */

static void expect_depth_limit(int max_depth)
{
    arb_frame_limits_t lim = { 4096, max_depth };
    char buf[128];
    size_t n = nested_arrays(buf, max_depth, false);
    expect_done(buf, n, &lim, "max_depth nested arrays");
    n = nested_arrays(buf, max_depth + 1, false);
    expect_status(buf, n, &lim, ARB_FRAME_TOO_DEEP, "max_depth+1 nested arrays");
    /* With an empty innermost array as well: msgpack-c counts it. */
    n = nested_arrays(buf, max_depth, true);
    expect_done(buf, n, &lim, "max_depth nested, innermost empty");
    n = nested_arrays(buf, max_depth + 1, true);
    expect_status(buf, n, &lim, ARB_FRAME_TOO_DEEP, "max_depth+1 nested, innermost empty");
}

Test(frame, nesting_limit_32) { expect_depth_limit(32); }

Test(frame, nesting_limit_4) { expect_depth_limit(4); }

Test(frame, nesting_limit_2) { expect_depth_limit(2); }

Test(frame, nesting_32_matches_msgpack_c)
{
    /* The scanner's limit of 32 is the depth msgpack-c itself can unpack. */
    char buf[128];
    size_t used;
    size_t n = nested_arrays(buf, 32, false);
    cr_assert_eq(unpack_len(buf, n, &used), MSGPACK_UNPACK_SUCCESS);
    n = nested_arrays(buf, 33, false);
    cr_assert_neq(unpack_len(buf, n, &used), MSGPACK_UNPACK_SUCCESS);
    n = nested_arrays(buf, 33, true);
    cr_assert_neq(unpack_len(buf, n, &used), MSGPACK_UNPACK_SUCCESS);
}

Test(frame, nesting_when_child_is_last_element)
{
    /* [[[[1]]]]: each array's only element is the next array. */
    arb_frame_limits_t lim = { 4096, 4 };
    expect_done("\x91\x91\x91\x91\x01", 5, &lim, "[[[[1]]]] at 4");
    lim.max_depth = 3;
    expect_status("\x91\x91\x91\x91\x01", 5, &lim, ARB_FRAME_TOO_DEEP, "[[[[1]]]] at 3");
    /* [0, [0, [0, [1]]]]: the child is the last of two. */
    lim.max_depth = 4;
    expect_done("\x92\x00\x92\x00\x92\x00\x91\x01", 8, &lim, "last of two at 4");
    lim.max_depth = 3;
    expect_status("\x92\x00\x92\x00\x92\x00\x91\x01", 8, &lim, ARB_FRAME_TOO_DEEP,
                  "last of two at 3");
}

Test(frame, nesting_when_child_is_not_last_element)
{
    /* [[[[1], 2], 3], 4] */
    arb_frame_limits_t lim = { 4096, 4 };
    const char *f = "\x92\x92\x92\x91\x01\x02\x03\x04";
    expect_done(f, 8, &lim, "first of two at 4");
    lim.max_depth = 3;
    expect_status(f, 8, &lim, ARB_FRAME_TOO_DEEP, "first of two at 3");
}

Test(frame, depth_returns_after_a_deep_branch_closes)
{
    /* [[[1]], [[[1]]]]: depths 3 then 4; and many siblings at depth 3 do not
     * add up. */
    arb_frame_limits_t lim = { 4096, 4 };
    const char *f = "\x92\x91\x91\x01\x91\x91\x91\x01";
    expect_done(f, 8, &lim, "3 then 4 at 4");
    lim.max_depth = 3;
    expect_status(f, 8, &lim, ARB_FRAME_TOO_DEEP, "3 then 4 at 3");

    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, 200);
    for (int i = 0; i < 200; i++) {
        msgpack_pack_array(&b.pk, 2);
        msgpack_pack_array(&b.pk, 1);
        msgpack_pack_int(&b.pk, i & 0x7f);
        msgpack_pack_array(&b.pk, 0);
    }
    expect_done(b.sb.data, b.sb.size, &lim, "200 siblings of depth 3 at 3");
    lim.max_depth = 2;
    expect_status(b.sb.data, b.sb.size, &lim, ARB_FRAME_TOO_DEEP, "200 siblings at 2");
    pb_free(&b);

    /* Siblings whose last element closes several levels at once:
     * [[[[1]]], [[[[1]]]]] — 4, then 5 */
    lim.max_depth = 5;
    const char *g = "\x92\x91\x91\x91\x01\x91\x91\x91\x91\x01";
    expect_done(g, 10, &lim, "4 then 5 at 5");
    lim.max_depth = 4;
    expect_status(g, 10, &lim, ARB_FRAME_TOO_DEEP, "4 then 5 at 4");
}

Test(frame, depth_of_maps)
{
    arb_frame_limits_t lim = { 4096, 4 };
    /* {"a": {"a": {"a": {"a": 1}}}} is 4 deep. */
    const char *m4 = "\x81\xa1" "a" "\x81\xa1" "a" "\x81\xa1" "a" "\x81\xa1" "a" "\x01";
    size_t n4 = 13;
    expect_done(m4, n4, &lim, "4 nested maps at 4");
    lim.max_depth = 3;
    expect_status(m4, n4, &lim, ARB_FRAME_TOO_DEEP, "4 nested maps at 3");

    /* The container as a key: {{{[1]: 0}: 0}: 0} is 4 deep. */
    lim.max_depth = 4;
    const char *k4 = "\x81\x81\x81\x91\x01\x00\x00\x00";
    expect_done(k4, 8, &lim, "containers as keys at 4");
    lim.max_depth = 3;
    expect_status(k4, 8, &lim, ARB_FRAME_TOO_DEEP, "containers as keys at 3");

    /* A map whose first value is deep and whose second pair is flat:
     * {"a": [[1]], "b": 2} is 3 deep; then a fourth level in the second
     * pair's value: {"a": [[1]], "b": [[[2]]]} is 4 deep. */
    const char *v3 = "\x82\xa1" "a" "\x91\x91\x01" "\xa1" "b" "\x02";
    expect_done(v3, 9, &lim, "deep first value at 3");
    const char *v4 = "\x82\xa1" "a" "\x91\x91\x01" "\xa1" "b" "\x91\x91\x91\x02";
    expect_status(v4, 12, &lim, ARB_FRAME_TOO_DEEP, "deeper second value at 3");
    lim.max_depth = 4;
    expect_done(v4, 12, &lim, "deeper second value at 4");

    /* Mixed map/array at 32. */
    packbuf_t b;
    pb_init(&b);
    for (int i = 0; i < 32; i++) {
        if (i % 2) {
            msgpack_pack_map(&b.pk, 1);
            pk_cstr(&b.pk, "k");
        } else {
            msgpack_pack_array(&b.pk, 1);
        }
    }
    msgpack_pack_nil(&b.pk);
    expect_done(b.sb.data, b.sb.size, &LIM, "32 mixed levels at 32");
    pb_free(&b);
    pb_init(&b);
    for (int i = 0; i < 33; i++) {
        msgpack_pack_map(&b.pk, 1);
        pk_cstr(&b.pk, "k");
    }
    msgpack_pack_nil(&b.pk);
    expect_status(b.sb.data, b.sb.size, &LIM, ARB_FRAME_TOO_DEEP, "33 maps at 32");
    pb_free(&b);
}

Test(frame, too_deep_arrives_in_pieces)
{
    arb_frame_limits_t lim = { 4096, 4 };
    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen;
    const char *f = "\x91\x91\x91\x91\x91\x01";
    for (size_t k = 0; k < 5; k++)
        cr_assert_eq(arb_frame_scan(&s, f, k, &lim, &flen), ARB_FRAME_MORE, "prefix %zu", k);
    cr_assert_eq(arb_frame_scan(&s, f, 5, &lim, &flen), ARB_FRAME_TOO_DEEP);
}
