/* The frame tests' fixture (declared in framefix.h): exact-size copies so
 * the sanitizer catches a read past `len`, the scan-and-expect checks, a
 * typical request, and one sample of every MessagePack type and width.
 * Shared by tests/unit/wire/test_frame*.c; compiled once per flavour
 * ($b/obj/support/framefix.o).
 */
#include "tests/support/framefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const arb_frame_limits_t LIM = { 1024 * 1024, 32 };

void pb_init(packbuf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

void pb_free(packbuf_t *b) { msgpack_sbuffer_destroy(&b->sb); }

void pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* A heap copy of exactly n bytes (at least one byte allocated). */
char *dup_exact(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    cr_assert_not_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

/* Scan buf[0..len) from a fresh scanner; the copy is exactly len bytes. */
arb_frame_status_t scan_fresh(const char *buf, size_t len, const arb_frame_limits_t *lim,
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
void expect_done(const char *buf, size_t len, const arb_frame_limits_t *lim,
                 const char *what)
{
    size_t flen = 0;
    arb_frame_status_t st = scan_fresh(buf, len, lim, &flen);
    cr_expect_eq(st, ARB_FRAME_DONE, "%s: status %d, want DONE", what, st);
    if (st == ARB_FRAME_DONE)
        cr_expect_eq(flen, len, "%s: frame_len %zu, want %zu", what, flen, len);
}

void expect_status(const char *buf, size_t len, const arb_frame_limits_t *lim,
                   arb_frame_status_t want, const char *what)
{
    arb_frame_status_t st = scan_fresh(buf, len, lim, NULL);
    cr_expect_eq(st, want, "%s: status %d, want %d", what, st, want);
}

/* msgpack-c's verdict on buf[0..len): status, and the bytes it consumed. */
msgpack_unpack_return unpack_len(const char *buf, size_t len, size_t *used)
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
void expect_resumable(const char *buf, size_t n, const arb_frame_limits_t *lim,
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
void pack_request(msgpack_packer *pk, uint32_t msgid)
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

void pack_str_n(msgpack_packer *pk, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 'x', n);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, body, n);
    free(body);
}
void pack_bin_n(msgpack_packer *pk, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 0xab, n);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, body, n);
    free(body);
}
void pack_ext_n(msgpack_packer *pk, size_t n)
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

const sample_t SAMPLES[] = {
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
const size_t n_samples = sizeof SAMPLES / sizeof SAMPLES[0];

/* n nested arrays around `inner` (a packed scalar, or nothing for []). */
size_t nested_arrays(char *out, int n, bool empty_innermost)
{
    size_t k = 0;
    for (int i = 0; i < n - 1; i++) out[k++] = (char)0x91;
    out[k++] = empty_innermost ? (char)0x90 : (char)0x91;
    if (!empty_innermost) out[k++] = 0x01;
    return k;
}
