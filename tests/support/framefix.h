/* Fixture of the frame scanner's tests (code in framefix.c). Prefixes are
 * copied into exactly-sized heap buffers before scanning, so the sanitizer
 * build catches any read past `len`.
 */
#ifndef TESTS_FRAMEFIX_H
#define TESTS_FRAMEFIX_H

#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/wire/frame.h"

/* 1 MiB frames, depth 32: the server's defaults. */
extern const arb_frame_limits_t LIM;

/* A packer writing into a fresh sbuffer. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packbuf_t;

/* One sample of every MessagePack type and width, each packed on its own.
 * `first` is the type byte the sample must start with. */
typedef struct {
    const char *name;
    unsigned char first;
    void (*pack)(msgpack_packer *);
} sample_t;

extern const sample_t SAMPLES[];
extern const size_t n_samples;
#define N_SAMPLES n_samples

void pb_init(packbuf_t *b);

void pb_free(packbuf_t *b);

void pk_cstr(msgpack_packer *pk, const char *s);

/* A heap copy of exactly n bytes (at least one byte allocated); the
 * caller frees it. */
char *dup_exact(const char *p, size_t n);

/* Scan buf[0..len) from a fresh scanner; the copy is exactly len bytes. */
arb_frame_status_t scan_fresh(const char *buf, size_t len, const arb_frame_limits_t *lim,
                              size_t *flen);

/* Assert that the whole of buf is exactly one frame accepted under lim. */
void expect_done(const char *buf, size_t len, const arb_frame_limits_t *lim,
                 const char *what);

void expect_status(const char *buf, size_t len, const arb_frame_limits_t *lim,
                   arb_frame_status_t want, const char *what);

/* msgpack-c's verdict on buf[0..len): status, and the bytes it consumed. */
msgpack_unpack_return unpack_len(const char *buf, size_t len, size_t *used);

/* Every prefix shorter than the frame is MORE; each prefix is fed to a
 * fresh scanner which then gets the full buffer without a reset. Also feed
 * all prefixes in order to one scanner. */
void expect_resumable(const char *buf, size_t n, const arb_frame_limits_t *lim,
                      const char *what);

/* A typical decide request: [0, msgid, "decide", [context]]. */
void pack_request(msgpack_packer *pk, uint32_t msgid);

void pack_str_n(msgpack_packer *pk, size_t n);

void pack_bin_n(msgpack_packer *pk, size_t n);

void pack_ext_n(msgpack_packer *pk, size_t n);

/* n nested arrays around `inner` (a packed scalar, or nothing for []). */
size_t nested_arrays(char *out, int n, bool empty_innermost);

#endif
