/* Unit tests for the pre-unpack frame scanner (engine/frame.c): statuses,
 * exact frame lengths, resumability across arbitrary splits, size and depth
 * limits, the msgid peek, and agreement with msgpack-c on every frame the
 * scanner accepts.
 *
 * Prefixes are copied into exactly-sized heap buffers before scanning, so
 * the sanitizer build catches any read past `len`.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire/frame.h"

/* ---- helpers ------------------------------------------------------------ */

static const arb_frame_limits_t LIM = { 1024 * 1024, 32 };

/* A packer writing into a fresh sbuffer. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packbuf_t;

static void pb_init(packbuf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void pb_free(packbuf_t *b) { msgpack_sbuffer_destroy(&b->sb); }

static void pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* A heap copy of exactly n bytes (at least one byte allocated). */
static char *dup_exact(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    cr_assert_not_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

/* Scan buf[0..len) from a fresh scanner; the copy is exactly len bytes. */
static arb_frame_status_t scan_fresh(const char *buf, size_t len, const arb_frame_limits_t *lim,
                                     size_t *flen)
{
    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    char *copy = dup_exact(buf, len);
    size_t dummy = (size_t)-1;
    arb_frame_status_t st = arb_frame_scan(&s, copy, len, lim, flen ? flen : &dummy);
    free(copy);
    return st;
}

/* Assert that the whole of buf is exactly one frame accepted under lim. */
static void expect_done(const char *buf, size_t len, const arb_frame_limits_t *lim,
                        const char *what)
{
    size_t flen = 0;
    arb_frame_status_t st = scan_fresh(buf, len, lim, &flen);
    cr_expect_eq(st, ARB_FRAME_DONE, "%s: status %d, want DONE", what, st);
    if (st == ARB_FRAME_DONE)
        cr_expect_eq(flen, len, "%s: frame_len %zu, want %zu", what, flen, len);
}

static void expect_status(const char *buf, size_t len, const arb_frame_limits_t *lim,
                          arb_frame_status_t want, const char *what)
{
    arb_frame_status_t st = scan_fresh(buf, len, lim, NULL);
    cr_expect_eq(st, want, "%s: status %d, want %d", what, st, want);
}

/* msgpack-c's verdict on buf[0..len): status, and the bytes it consumed. */
static msgpack_unpack_return unpack_len(const char *buf, size_t len, size_t *used)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    char *copy = dup_exact(buf, len);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&up, copy, len, &off);
    free(copy);
    msgpack_unpacked_destroy(&up);
    *used = off;
    return r;
}

/* Every prefix shorter than the frame is MORE; each prefix is fed to a
 * fresh scanner which then gets the full buffer without a reset. Also feed
 * all prefixes in order to one scanner. */
static void expect_resumable(const char *buf, size_t n, const arb_frame_limits_t *lim,
                             const char *what)
{
    char *full = dup_exact(buf, n);
    for (size_t k = 0; k < n; k++) {
        arb_frame_scan_t s;
        arb_frame_scan_reset(&s);
        char *pre = dup_exact(buf, k);
        size_t flen = 0;
        arb_frame_status_t st = arb_frame_scan(&s, pre, k, lim, &flen);
        free(pre);
        cr_assert_eq(st, ARB_FRAME_MORE, "%s: prefix %zu of %zu: status %d, want MORE", what, k,
                     n, st);
        st = arb_frame_scan(&s, full, n, lim, &flen);
        cr_assert_eq(st, ARB_FRAME_DONE, "%s: split at %zu of %zu: status %d, want DONE", what,
                     k, n, st);
        cr_assert_eq(flen, n, "%s: split at %zu: frame_len %zu, want %zu", what, k, flen, n);
    }

    arb_frame_scan_t s;
    arb_frame_scan_reset(&s);
    size_t flen = 0;
    for (size_t k = 0; k < n; k++) {
        char *pre = dup_exact(buf, k);
        arb_frame_status_t st = arb_frame_scan(&s, pre, k, lim, &flen);
        free(pre);
        cr_assert_eq(st, ARB_FRAME_MORE, "%s: growing prefix %zu: status %d", what, k, st);
    }
    cr_assert_eq(arb_frame_scan(&s, full, n, lim, &flen), ARB_FRAME_DONE, "%s: growing", what);
    cr_assert_eq(flen, n);
    free(full);
}

/* A typical decide request: [0, msgid, "decide", [context]]. */
static void pack_request(msgpack_packer *pk, uint32_t msgid)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 0);
    msgpack_pack_uint32(pk, msgid);
    pk_cstr(pk, "decide");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 6);
    pk_cstr(pk, "customer_id");
    pk_cstr(pk, "c-000123");
    pk_cstr(pk, "channel");
    pk_cstr(pk, "web");
    pk_cstr(pk, "touchpoint");
    pk_cstr(pk, "web_home");
    pk_cstr(pk, "now");
    msgpack_pack_int64(pk, 1767225600);
    pk_cstr(pk, "scores");
    msgpack_pack_map(pk, 2);
    pk_cstr(pk, "m01");
    msgpack_pack_double(pk, 0.25);
    pk_cstr(pk, "m02");
    msgpack_pack_float(pk, 0.5f);
    pk_cstr(pk, "purchases");
    msgpack_pack_array(pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(pk, 3);
        pk_cstr(pk, "sku");
        pk_cstr(pk, i ? "SKU-2" : "SKU-1");
        pk_cstr(pk, "price");
        msgpack_pack_double(pk, 19.99 + i);
        pk_cstr(pk, "ts");
        msgpack_pack_int64(pk, 1767000000 + i);
    }
}

/* One sample of every MessagePack type and width, each packed on its own.
 * `first` is the type byte the sample must start with. */
typedef struct {
    const char *name;
    unsigned char first;
    void (*pack)(msgpack_packer *);
} sample_t;

static void s_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void s_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void s_false(msgpack_packer *pk) { msgpack_pack_false(pk); }
static void s_pfix(msgpack_packer *pk) { msgpack_pack_int(pk, 127); }
static void s_nfix(msgpack_packer *pk) { msgpack_pack_int(pk, -32); }
static void s_u8(msgpack_packer *pk) { msgpack_pack_fix_uint8(pk, 200); }
static void s_u16(msgpack_packer *pk) { msgpack_pack_fix_uint16(pk, 60000); }
static void s_u32(msgpack_packer *pk) { msgpack_pack_fix_uint32(pk, 4000000000u); }
static void s_u64(msgpack_packer *pk) { msgpack_pack_fix_uint64(pk, UINT64_MAX); }
static void s_i8(msgpack_packer *pk) { msgpack_pack_fix_int8(pk, -100); }
static void s_i16(msgpack_packer *pk) { msgpack_pack_fix_int16(pk, -30000); }
static void s_i32(msgpack_packer *pk) { msgpack_pack_fix_int32(pk, -2000000000); }
static void s_i64(msgpack_packer *pk) { msgpack_pack_fix_int64(pk, INT64_MIN); }
static void s_f32(msgpack_packer *pk) { msgpack_pack_float(pk, 1.5f); }
static void s_f64(msgpack_packer *pk) { msgpack_pack_double(pk, -2.25); }

static void pack_str_n(msgpack_packer *pk, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 'x', n);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, body, n);
    free(body);
}
static void pack_bin_n(msgpack_packer *pk, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 0xab, n);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, body, n);
    free(body);
}
static void pack_ext_n(msgpack_packer *pk, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 0x5a, n);
    msgpack_pack_ext(pk, n, 7);
    msgpack_pack_ext_body(pk, body, n);
    free(body);
}
static void s_fixstr0(msgpack_packer *pk) { pack_str_n(pk, 0); }
static void s_fixstr(msgpack_packer *pk) { pack_str_n(pk, 31); }
static void s_str8(msgpack_packer *pk) { pack_str_n(pk, 200); }
static void s_str16(msgpack_packer *pk) { pack_str_n(pk, 1000); }
static void s_str32(msgpack_packer *pk) { pack_str_n(pk, 70000); }
static void s_bin8_0(msgpack_packer *pk) { pack_bin_n(pk, 0); }
static void s_bin8(msgpack_packer *pk) { pack_bin_n(pk, 100); }
static void s_bin16(msgpack_packer *pk) { pack_bin_n(pk, 300); }
static void s_bin32(msgpack_packer *pk) { pack_bin_n(pk, 66000); }
static void s_fixext1(msgpack_packer *pk) { pack_ext_n(pk, 1); }
static void s_fixext2(msgpack_packer *pk) { pack_ext_n(pk, 2); }
static void s_fixext4(msgpack_packer *pk) { pack_ext_n(pk, 4); }
static void s_fixext8(msgpack_packer *pk) { pack_ext_n(pk, 8); }
static void s_fixext16(msgpack_packer *pk) { pack_ext_n(pk, 16); }
static void s_ext8_0(msgpack_packer *pk) { pack_ext_n(pk, 0); }
static void s_ext8(msgpack_packer *pk) { pack_ext_n(pk, 3); }
static void s_ext16(msgpack_packer *pk) { pack_ext_n(pk, 400); }
static void s_ext32(msgpack_packer *pk) { pack_ext_n(pk, 70000); }
static void s_fixarray0(msgpack_packer *pk) { msgpack_pack_array(pk, 0); }
static void s_fixmap0(msgpack_packer *pk) { msgpack_pack_map(pk, 0); }
static void s_fixarray(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 15);
    for (int i = 0; i < 15; i++) msgpack_pack_int(pk, i);
}
static void s_fixmap(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 15);
    for (int i = 0; i < 15; i++) {
        msgpack_pack_int(pk, i);
        msgpack_pack_nil(pk);
    }
}
static void s_array16(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 16);
    for (int i = 0; i < 16; i++) pk_cstr(pk, "e");
}
static void s_array32(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 65536);
    for (int i = 0; i < 65536; i++) msgpack_pack_int(pk, i & 0x7f);
}
static void s_map16(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 16);
    for (int i = 0; i < 16; i++) {
        msgpack_pack_int(pk, i);
        msgpack_pack_true(pk);
    }
}
static void s_map32(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 65536);
    for (int i = 0; i < 65536; i++) {
        msgpack_pack_int(pk, i & 0x7f);
        msgpack_pack_nil(pk);
    }
}

static const sample_t SAMPLES[] = {
    { "nil", 0xc0, s_nil },           { "true", 0xc3, s_true },
    { "false", 0xc2, s_false },       { "positive fixint", 0x7f, s_pfix },
    { "negative fixint", 0xe0, s_nfix }, { "uint8", 0xcc, s_u8 },
    { "uint16", 0xcd, s_u16 },        { "uint32", 0xce, s_u32 },
    { "uint64", 0xcf, s_u64 },        { "int8", 0xd0, s_i8 },
    { "int16", 0xd1, s_i16 },         { "int32", 0xd2, s_i32 },
    { "int64", 0xd3, s_i64 },         { "float32", 0xca, s_f32 },
    { "float64", 0xcb, s_f64 },       { "fixstr empty", 0xa0, s_fixstr0 },
    { "fixstr", 0xbf, s_fixstr },     { "str8", 0xd9, s_str8 },
    { "str16", 0xda, s_str16 },       { "str32", 0xdb, s_str32 },
    { "bin8 empty", 0xc4, s_bin8_0 }, { "bin8", 0xc4, s_bin8 },
    { "bin16", 0xc5, s_bin16 },       { "bin32", 0xc6, s_bin32 },
    { "fixext1", 0xd4, s_fixext1 },   { "fixext2", 0xd5, s_fixext2 },
    { "fixext4", 0xd6, s_fixext4 },   { "fixext8", 0xd7, s_fixext8 },
    { "fixext16", 0xd8, s_fixext16 }, { "ext8 empty", 0xc7, s_ext8_0 },
    { "ext8", 0xc7, s_ext8 },         { "ext16", 0xc8, s_ext16 },
    { "ext32", 0xc9, s_ext32 },       { "fixarray empty", 0x90, s_fixarray0 },
    { "fixmap empty", 0x80, s_fixmap0 }, { "fixarray", 0x9f, s_fixarray },
    { "fixmap", 0x8f, s_fixmap },     { "array16", 0xdc, s_array16 },
    { "array32", 0xdd, s_array32 },   { "map16", 0xde, s_map16 },
    { "map32", 0xdf, s_map32 },
};
#define N_SAMPLES (sizeof SAMPLES / sizeof SAMPLES[0])

/* n nested arrays around `inner` (a packed scalar, or nothing for []). */
static size_t nested_arrays(char *out, int n, bool empty_innermost)
{
    size_t k = 0;
    for (int i = 0; i < n - 1; i++) out[k++] = (char)0x91;
    out[k++] = empty_innermost ? (char)0x90 : (char)0x91;
    if (!empty_innermost) out[k++] = 0x01;
    return k;
}

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
