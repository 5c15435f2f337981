/* Unit tests for the frame scanner's agreement with msgpack-c
 * (engine/wire/frame.c): every frame the scanner accepts, generated,
 * sampled or random, unpacks with msgpack-c to the same length, and the
 * depth it refuses is the depth msgpack-c refuses.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire/frame.h"
#include "tests/support/framefix.h"

/* ---- agreement with msgpack-c --------------------------------------------- */

/* A small deterministic PRNG (xorshift64*). */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void pack_random(msgpack_packer *pk, int depth)
{
    int pick = (int)(rnd() % (depth <= 1 ? 12 : 16));
    switch (pick) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: rnd() & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, rnd() >> (rnd() % 64)); break;
    case 3: msgpack_pack_int64(pk, -(int64_t)(rnd() >> (1 + rnd() % 63))); break;
    case 4: msgpack_pack_float(pk, (float)(rnd() % 1000) / 7.0f); break;
    case 5: msgpack_pack_double(pk, (double)(rnd() % 100000) / 3.0); break;
    case 6: {
        static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 300, 65535, 65536 };
        pack_str_n(pk, lens[rnd() % 9]);
        break;
    }
    case 7: {
        static const size_t lens[] = { 0, 1, 255, 256, 65536 };
        pack_bin_n(pk, lens[rnd() % 5]);
        break;
    }
    case 8: {
        static const size_t lens[] = { 0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65536 };
        pack_ext_n(pk, lens[rnd() % 11]);
        break;
    }
    case 9: msgpack_pack_fix_uint16(pk, (uint16_t)rnd()); break;
    case 10: msgpack_pack_fix_int32(pk, (int32_t)rnd()); break;
    case 11: pack_str_n(pk, rnd() % 40); break;
    case 12: case 13: {
        static const size_t ns[] = { 0, 1, 2, 5, 15, 16, 20 };
        size_t n = ns[rnd() % 7];
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) pack_random(pk, depth - 1);
        break;
    }
    default: {
        static const size_t ns[] = { 0, 1, 3, 15, 16 };
        size_t n = ns[rnd() % 5];
        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n; i++) {
            pack_random(pk, depth - 1);
            pack_random(pk, depth - 1);
        }
        break;
    }
    }
}

/* The scanner accepts and msgpack-c agrees on the length; a chain of
 * single-element arrays is wrapped to reach a chosen depth. */
static void cross_check(const char *buf, size_t len, const arb_frame_limits_t *lim,
                        const char *what)
{
    size_t flen = 0;
    arb_frame_status_t st = scan_fresh(buf, len, lim, &flen);
    if (st != ARB_FRAME_DONE) return;
    size_t used = 0;
    msgpack_unpack_return r = unpack_len(buf, flen, &used);
    cr_assert_eq(r, MSGPACK_UNPACK_SUCCESS, "%s: scanner accepted %zu bytes, msgpack-c says %d",
                 what, flen, r);
    cr_assert_eq(used, flen, "%s: scanner %zu bytes, msgpack-c %zu", what, flen, used);
}

Test(frame, accepted_generated_frames_unpack_with_same_length, .timeout = 120)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    int accepted = 0;
    for (int i = 0; i < 400; i++) {
        packbuf_t b;
        pb_init(&b);
        int wrap = (int)(rnd() % 30); /* extra depth around the random value */
        for (int w = 0; w < wrap; w++) msgpack_pack_array(&b.pk, 1);
        pack_random(&b.pk, 1 + (int)(rnd() % 6));
        char what[48];
        snprintf(what, sizeof what, "generated frame %d", i);
        size_t flen = 0;
        arb_frame_status_t st = scan_fresh(b.sb.data, b.sb.size, &LIM, &flen);
        if (st == ARB_FRAME_DONE) {
            accepted++;
            cr_assert_eq(flen, b.sb.size, "%s", what);
            cross_check(b.sb.data, b.sb.size, &LIM, what);
        } else {
            /* Only limits may refuse a packer's output. */
            cr_assert(st == ARB_FRAME_TOO_BIG || st == ARB_FRAME_TOO_DEEP, "%s: %d", what, st);
        }
        pb_free(&b);
    }
    cr_assert_gt(accepted, 300, "only %d of 400 accepted", accepted);
}

Test(frame, accepted_samples_and_requests_unpack_with_same_length)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        packbuf_t b;
        pb_init(&b);
        SAMPLES[i].pack(&b.pk);
        cross_check(b.sb.data, b.sb.size, &LIM, SAMPLES[i].name);
        pb_free(&b);
    }
    packbuf_t b;
    pb_init(&b);
    pack_request(&b.pk, 77);
    pack_request(&b.pk, 78); /* a second frame after it: lengths must agree */
    cross_check(b.sb.data, b.sb.size, &LIM, "two requests");
    pb_free(&b);
}

Test(frame, accepted_random_bytes_unpack_with_same_length, .timeout = 120)
{
    /* Random byte strings, biased towards headers: whatever the scanner
     * accepts, msgpack-c must parse to the same length. Small limits keep
     * declared lengths honest. */
    rng_state = 0x0123456789abcdefULL;
    arb_frame_limits_t lim = { 256, 8 };
    static const unsigned char hot[] = { 0x90, 0x91, 0x92, 0x9f, 0x80, 0x81, 0x8f, 0xdc, 0xdd,
                                         0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0xc7,
                                         0xc8, 0xc9, 0xd4, 0xd8, 0xca, 0xcb, 0xcf, 0xa3, 0x00 };
    int done = 0;
    for (int i = 0; i < 200000; i++) {
        unsigned char buf[96];
        size_t len = 1 + rnd() % sizeof buf;
        for (size_t j = 0; j < len; j++) {
            uint64_t r = rnd();
            switch (r % 4) {
            case 0: buf[j] = hot[(r >> 8) % sizeof hot]; break;
            case 1: buf[j] = (unsigned char)((r >> 8) % 4); break; /* small lengths */
            default: buf[j] = (unsigned char)(r >> 16); break;
            }
        }
        size_t flen = 0;
        arb_frame_status_t st = scan_fresh((const char *)buf, len, &lim, &flen);
        if (st == ARB_FRAME_DONE) {
            done++;
            cr_assert_leq(flen, len);
            cr_assert_leq(flen, lim.max_frame, "random frame %d: %zu bytes over the limit", i,
                          flen);
            char what[48];
            snprintf(what, sizeof what, "random frame %d", i);
            cross_check((const char *)buf, len, &lim, what);
        }
    }
    cr_assert_gt(done, 1000, "only %d random frames accepted", done);
}

Test(frame, refused_depth_is_what_msgpack_c_refuses)
{
    /* For every depth from 1 to 40, the scanner at max_depth 32 and msgpack-c
     * agree on whether the frame can be unpacked. */
    char buf[128];
    for (int d = 1; d <= 40; d++) {
        for (int empty = 0; empty <= 1; empty++) {
            size_t n = nested_arrays(buf, d, empty);
            size_t flen = 0, used = 0;
            arb_frame_status_t st = scan_fresh(buf, n, &LIM, &flen);
            msgpack_unpack_return r = unpack_len(buf, n, &used);
            cr_expect_eq(st == ARB_FRAME_DONE, r == MSGPACK_UNPACK_SUCCESS,
                         "depth %d (empty %d): scanner %d, msgpack-c %d", d, empty, st, r);
        }
    }
}
