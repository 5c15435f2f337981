/* Unit tests for the pre-unpack frame scanner (engine/wire/frame.c):
 * statuses, exact frame lengths, resumability across arbitrary splits,
 * several frames in a buffer, every type, invalid bytes and the msgid peek.
 * Size and depth limits are in test_frame_limits.c, agreement with
 * msgpack-c in test_frame_msgpack.c.
 *
 * Prefixes are copied into exactly-sized heap buffers before scanning, so
 * the sanitizer build catches any read past `len` (tests/support/framefix.c).
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire/frame.h"
#include "tests/support/framefix.h"

/* ---- whole frames -------------------------------------------------------- */

Test(frame, whole_request_is_done_with_exact_length)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 42);
    expect_done(b.sb.data, b.sb.size, &LIM, "request");
    pb_free(&b);
}

Test(frame, single_scalars_are_one_byte_frames)
{
    const unsigned char bytes[] = { 0x00, 0x7f, 0xe0, 0xff, 0xc0, 0xc2, 0xc3, 0xa0, 0x80, 0x90 };
    for (size_t i = 0; i < sizeof bytes; i++) {
        char what[32];
        snprintf(what, sizeof what, "byte 0x%02x", bytes[i]);
        expect_done((const char *)&bytes[i], 1, &LIM, what);
    }
}

Test(frame, empty_buffer_is_more)
{
    expect_status("", 0, &LIM, ARB_FRAME_MORE, "empty");
}

Test(frame, trailing_bytes_are_not_part_of_the_frame)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 7);
    size_t n = b.sb.size;
    msgpack_sbuffer_write(&b.sb, "\xc1\xc1\xc1", 3); /* garbage after the frame */
    size_t flen = 0;
    cr_assert_eq(scan_fresh(b.sb.data, b.sb.size, &LIM, &flen), ARB_FRAME_DONE);
    cr_assert_eq(flen, n);
    pb_free(&b);
}

/* ---- resumability --------------------------------------------------------- */

Test(frame, request_split_at_every_byte_boundary)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 1000);
    expect_resumable(b.sb.data, b.sb.size, &LIM, "request");
    pb_free(&b);
}

Test(frame, every_type_split_at_every_byte_boundary)
{
    /* One array holding the small samples (the large ones are covered by the
     * per-sample test; splitting them at every byte would be quadratic). */
    packbuf_t b;
    pb_init(&b);
    size_t small = 0;
    for (size_t i = 0; i < N_SAMPLES; i++)
        if (SAMPLES[i].first != 0xdb && SAMPLES[i].first != 0xc6 && SAMPLES[i].first != 0xc9 &&
            SAMPLES[i].first != 0xdd && SAMPLES[i].first != 0xdf)
            small++;
    msgpack_pack_array(&b.pk, small);
    for (size_t i = 0; i < N_SAMPLES; i++)
        if (SAMPLES[i].first != 0xdb && SAMPLES[i].first != 0xc6 && SAMPLES[i].first != 0xc9 &&
            SAMPLES[i].first != 0xdd && SAMPLES[i].first != 0xdf)
            SAMPLES[i].pack(&b.pk);
    expect_resumable(b.sb.data, b.sb.size, &LIM, "all small types");
    pb_free(&b);
}

Test(frame, nested_maps_split_at_every_byte_boundary)
{
    packbuf_t b;
    pb_init(&b);
    /* {"a": {"b": [1, {"c": "x"}], "d": {}}, "e": [[[]]]} */
    msgpack_pack_map(&b.pk, 2);
    pk_cstr(&b.pk, "a");
    msgpack_pack_map(&b.pk, 2);
    pk_cstr(&b.pk, "b");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_int(&b.pk, 1);
    msgpack_pack_map(&b.pk, 1);
    pk_cstr(&b.pk, "c");
    pk_cstr(&b.pk, "x");
    pk_cstr(&b.pk, "d");
    msgpack_pack_map(&b.pk, 0);
    pk_cstr(&b.pk, "e");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_array(&b.pk, 0);
    expect_resumable(b.sb.data, b.sb.size, &LIM, "nested maps");
    pb_free(&b);
}

Test(frame, one_byte_per_call_is_linear, .timeout = 120)
{
    /* 100,000 fixints in an array32, fed one more byte per call to one
     * scanner. Not a timing test: after each call the bytes the scanner has
     * already checked are overwritten with 0xc1, so a scanner that went back
     * over them (O(n^2) in all) would report INVALID. */
    enum { N = 100000 };
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, N);
    for (int i = 0; i < N; i++) msgpack_pack_int(&b.pk, i & 0x7f);
    size_t n = b.sb.size;
    cr_assert_eq(n, (size_t)N + 5);
    char *buf = dup_exact(b.sb.data, n);

    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen = 0, last_pos = 0;
    for (size_t k = 0; k < n; k++) {
        arb_frame_status_t st = arb_frame_scan(&s, buf, k, &LIM, &flen);
        cr_assert_eq(st, ARB_FRAME_MORE, "prefix %zu: status %d", k, st);
        /* It never goes back, and is never more than one header behind. */
        cr_assert_geq(s.pos, last_pos);
        cr_assert_leq(s.pos, k);
        cr_assert_geq(s.pos + 5, k, "prefix %zu: scanner stuck at %zu", k, s.pos);
        memset(buf + last_pos, 0xc1, s.pos - last_pos);
        last_pos = s.pos;
    }
    cr_assert_eq(arb_frame_scan(&s, buf, n, &LIM, &flen), ARB_FRAME_DONE);
    cr_assert_eq(flen, n);
    free(buf);
    pb_free(&b);
}

/* ---- several frames in one buffer ---------------------------------------- */

Test(frame, several_frames_in_one_buffer)
{
    packbuf_t b;
    pb_init(&b);
    size_t ends[5];
    pack_request(&b.pk, 1);
    ends[0] = b.sb.size;
    msgpack_pack_int(&b.pk, 5); /* a lone scalar is a frame too */
    ends[1] = b.sb.size;
    pack_request(&b.pk, 300);
    ends[2] = b.sb.size;
    msgpack_pack_array(&b.pk, 0);
    ends[3] = b.sb.size;
    pack_request(&b.pk, 70000);
    ends[4] = b.sb.size;

    char *buf = dup_exact(b.sb.data, b.sb.size);
    arb_frame_scan_t s;
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        arb_frame_scan_reset(&s);
        size_t flen = 0;
        arb_frame_status_t st = arb_frame_scan(&s, buf + off, b.sb.size - off, &LIM, &flen);
        cr_assert_eq(st, ARB_FRAME_DONE, "frame %d: status %d", i, st);
        cr_assert_eq(off + flen, ends[i], "frame %d: ends at %zu, want %zu", i, off + flen,
                     ends[i]);
        off += flen;
    }
    cr_assert_eq(off, b.sb.size);
    /* After the last frame: nothing buffered, so MORE. */
    arb_frame_scan_reset(&s);
    size_t flen = 0;
    cr_assert_eq(arb_frame_scan(&s, buf + off, 0, &LIM, &flen), ARB_FRAME_MORE);
    free(buf);
    pb_free(&b);
}

Test(frame, second_frame_partial_after_first)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 1);
    size_t first = b.sb.size;
    pack_request(&b.pk, 2);
    size_t cut = b.sb.size - 3; /* the second frame misses its last 3 bytes */

    char *buf = dup_exact(b.sb.data, cut);
    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen = 0;
    cr_assert_eq(arb_frame_scan(&s, buf, cut, &LIM, &flen), ARB_FRAME_DONE);
    cr_assert_eq(flen, first);
    arb_frame_scan_reset(&s);
    cr_assert_eq(arb_frame_scan(&s, buf + first, cut - first, &LIM, &flen), ARB_FRAME_MORE);
    free(buf);
    /* The rest arrives: the same scanner finishes the second frame. */
    cr_assert_eq(arb_frame_scan(&s, b.sb.data + first, b.sb.size - first, &LIM, &flen),
                 ARB_FRAME_DONE);
    cr_assert_eq(flen, b.sb.size - first);
    pb_free(&b);
}

/* ---- every type ----------------------------------------------------------- */

Test(frame, every_type_alone_is_done_with_exact_length)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        packbuf_t b;
        pb_init(&b);
        SAMPLES[i].pack(&b.pk);
        cr_assert_eq((unsigned char)b.sb.data[0], SAMPLES[i].first,
                     "%s: packed as 0x%02x, want 0x%02x", SAMPLES[i].name,
                     (unsigned char)b.sb.data[0], SAMPLES[i].first);
        expect_done(b.sb.data, b.sb.size, &LIM, SAMPLES[i].name);
        /* One byte short is never a frame. */
        expect_status(b.sb.data, b.sb.size - 1, &LIM, ARB_FRAME_MORE, SAMPLES[i].name);
        pb_free(&b);
    }
}

Test(frame, every_type_inside_array_and_map)
{
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_array(&b.pk, N_SAMPLES);
    for (size_t i = 0; i < N_SAMPLES; i++) SAMPLES[i].pack(&b.pk);
    msgpack_pack_map(&b.pk, N_SAMPLES);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        SAMPLES[i].pack(&b.pk); /* as key */
        SAMPLES[N_SAMPLES - 1 - i].pack(&b.pk);
    }
    arb_frame_limits_t big = { 4 * 1024 * 1024, 32 };
    expect_done(b.sb.data, b.sb.size, &big, "all types in containers");
    pb_free(&b);
}

Test(frame, empty_wide_containers)
{
    /* Packers choose fix forms for empty containers; wide empty headers are
     * legal MessagePack all the same. */
    static const struct { const char *bytes; size_t len; } cases[] = {
        { "\xdc\x00\x00", 3 },         { "\xdd\x00\x00\x00\x00", 5 },
        { "\xde\x00\x00", 3 },         { "\xdf\x00\x00\x00\x00", 5 },
        { "\xd9\x00", 2 },             { "\xda\x00\x00", 3 },
        { "\xdb\x00\x00\x00\x00", 5 }, { "\xc5\x00\x00", 3 },
        { "\xc6\x00\x00\x00\x00", 5 }, { "\xc8\x00\x00\x01", 4 },
        { "\xc9\x00\x00\x00\x00\x01", 6 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "case %zu (0x%02x)", i, (unsigned char)cases[i].bytes[0]);
        expect_done(cases[i].bytes, cases[i].len, &LIM, what);
        size_t used = 0;
        cr_expect_eq(unpack_len(cases[i].bytes, cases[i].len, &used), MSGPACK_UNPACK_SUCCESS,
                     "%s", what);
        cr_expect_eq(used, cases[i].len, "%s", what);
    }
}

Test(frame, partial_headers_are_more)
{
    /* Every header cut inside its length bytes or body. */
    static const struct { const char *bytes; size_t len; } cases[] = {
        { "\xdd\x00\x00", 3 },   { "\xdf\x00", 2 },     { "\xdb\x00\x00\x00", 4 },
        { "\xcb\x00\x00\x00", 4 }, { "\xd8\x01", 2 },    { "\xc9\x00\x00\x00\x01", 5 },
        { "\x92\x01", 2 },       { "\x81\xa1" "a", 2 }, { "\x81\xa1" "a", 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "case %zu", i);
        expect_status(cases[i].bytes, cases[i].len, &LIM, ARB_FRAME_MORE, what);
    }
}

/* ---- invalid bytes -------------------------------------------------------- */

Test(frame, c1_is_invalid)
{
    expect_status("\xc1", 1, &LIM, ARB_FRAME_INVALID, "c1 alone");
    expect_status("\x92\x01\xc1", 3, &LIM, ARB_FRAME_INVALID, "c1 in an array");
    expect_status("\x81\xc1\x01", 3, &LIM, ARB_FRAME_INVALID, "c1 as a map key");
    expect_status("\x81\x01\xc1", 3, &LIM, ARB_FRAME_INVALID, "c1 as a map value");
    /* The bytes inside a str body are data, not headers. */
    expect_done("\xa1\xc1", 2, &LIM, "c1 inside a string");
    expect_done("\xc4\x01\xc1", 3, &LIM, "c1 inside a bin");
}

Test(frame, c1_after_more_is_invalid_when_it_arrives)
{
    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen;
    cr_assert_eq(arb_frame_scan(&s, "\x93\x01", 2, &LIM, &flen), ARB_FRAME_MORE);
    cr_assert_eq(arb_frame_scan(&s, "\x93\x01\xc1", 3, &LIM, &flen), ARB_FRAME_INVALID);
}

/* ---- peek msgid ------------------------------------------------------------ */

static void expect_peek(uint32_t msgid, unsigned char want_byte)
{
    packbuf_t b;
    pb_init(&b);
    msgpack_pack_array(&b.pk, 4);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_uint32(&b.pk, msgid);
    cr_assert_eq((unsigned char)b.sb.data[2], want_byte, "msgid %u packed as 0x%02x", msgid,
                 (unsigned char)b.sb.data[2]);
    /* Just the header bytes, exactly sized: the peek reads no further. */
    char *copy = dup_exact(b.sb.data, b.sb.size);
    uint32_t got = 0xdeadbeef;
    cr_assert(arb_frame_peek_msgid(copy, b.sb.size, &got), "msgid %u not peeked", msgid);
    cr_assert_eq(got, msgid);
    /* One byte short of the msgid: false. */
    cr_assert_not(arb_frame_peek_msgid(copy, b.sb.size - 1, &got), "msgid %u cut", msgid);
    free(copy);
    pb_free(&b);
}

Test(frame, peek_msgid_of_requests)
{
    expect_peek(0, 0x00);
    expect_peek(5, 0x05);
    expect_peek(127, 0x7f);
    expect_peek(128, 0xcc);
    expect_peek(255, 0xcc);
    expect_peek(256, 0xcd);
    expect_peek(65535, 0xcd);
    expect_peek(65536, 0xce);
    expect_peek(UINT32_MAX, 0xce);
}

Test(frame, peek_msgid_of_a_whole_request_and_a_refused_one)
{
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 4242);
    uint32_t got = 0;
    cr_assert(arb_frame_peek_msgid(b.sb.data, b.sb.size, &got));
    cr_assert_eq(got, 4242);
    pb_free(&b);
    /* A request whose method is a 2 GiB string: refused, msgid still known. */
    cr_assert(arb_frame_peek_msgid("\x94\x00\xcd\x01\x00\xdb\x80\x00\x00\x00", 10, &got));
    cr_assert_eq(got, 256);
}

Test(frame, peek_msgid_refuses_non_requests)
{
    static const struct { const char *bytes; size_t len; const char *what; } cases[] = {
        { "", 0, "empty" },
        { "\x94", 1, "header only" },
        { "\x94\x00", 2, "no msgid yet" },
        { "\x94\x01\x05", 3, "response" },
        { "\x93\x02\xa1" "e", 4, "notification" },
        { "\x93\x00\x05", 3, "request of 3" },
        { "\x95\x00\x05", 3, "request of 5" },
        { "\xdc\x00\x04\x00\x05", 5, "array16 of 4" },
        { "\x94\x00\xff", 3, "negative fixint msgid" },
        { "\x94\x00\xd0\x05", 4, "int8 msgid" },
        { "\x94\x00\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 11, "uint64 msgid" },
        { "\x94\x00\xa1" "a", 4, "string msgid" },
        { "\x94\x00\xc0", 3, "nil msgid" },
        { "\x94\xcc\x00\x05", 4, "type as uint8 0" },
        { "\x84\x00\x05", 3, "map" },
        { "\x05", 1, "scalar" },
        { "\xc1\xc1\xc1\xc1", 4, "garbage" },
        { "\x94\x00\xcc", 3, "uint8 msgid cut" },
        { "\x94\x00\xcd\x01", 4, "uint16 msgid cut" },
        { "\x94\x00\xce\x01\x02\x03", 6, "uint32 msgid cut" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *copy = dup_exact(cases[i].bytes, cases[i].len);
        uint32_t got = 0;
        cr_expect_not(arb_frame_peek_msgid(copy, cases[i].len, &got), "%s: peeked %u",
                      cases[i].what, got);
        free(copy);
    }
}

Test(frame, status_messages)
{
    cr_expect_str_eq(arb_frame_status_message(ARB_FRAME_TOO_BIG), "frame exceeds the size limit");
    cr_expect_str_eq(arb_frame_status_message(ARB_FRAME_TOO_DEEP),
                     "frame exceeds the nesting depth limit");
    cr_expect_str_eq(arb_frame_status_message(ARB_FRAME_INVALID), "bytes are not MessagePack");
}
