/* Writing MessagePack straight into one growing buffer, byte for byte as
 * msgpack-c's packer writes it. Base layer: includes nothing of ours, not
 * even msgpack-c.
 *
 * Why: msgpack-c's packer hands every item to a write callback through a
 * function pointer, which the compiler cannot inline; for a stored record
 * of a thousand short strings that call (and the sbuffer's copy behind it)
 * was most of the encoder's time. Here each item is a bounds check and a
 * store into memory reserved once. The formats chosen are msgpack-c's
 * (the smallest int form, str8 for 32..255-byte strings, a float64 for
 * every double), so the bytes are identical to what msgpack_pack_* writes:
 * a record written by either can be compared, checksummed and read by the
 * other (test_mpwrite and test_record_bytes check it).
 *
 * Ownership: w->data is malloc'd, the caller's once written (free()).
 * After a failed allocation w->failed is set, nothing more is written, and
 * w->data still holds what was written before (to be freed).
 */
#ifndef ARB_MPWRITE_H
#define ARB_MPWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct arb_mpwrite {
    uint8_t *data;
    size_t size;   /* bytes written */
    size_t cap;    /* bytes allocated */
    bool failed;   /* out of memory */
} arb_mpwrite_t;

/* Make room for n more bytes (doubling): false when memory runs out. */
static inline bool arb_mpwrite_reserve(arb_mpwrite_t *w, size_t n)
{
    if (w->failed) return false;
    if (w->cap - w->size >= n) return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->size < n) cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (!p) {
        w->failed = true;
        return false;
    }
    w->data = p;
    w->cap = cap;
    return true;
}

static inline void arb_mpwrite_be(uint8_t *p, uint64_t v, int k)
{
    for (int i = k - 1; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

/* A type byte followed by a k-byte big-endian value (k may be 0). */
static inline void arb_mpwrite_head(arb_mpwrite_t *w, uint8_t type, uint64_t v, int k)
{
    if (!arb_mpwrite_reserve(w, 9)) return;
    uint8_t *p = w->data + w->size;
    p[0] = type;
    arb_mpwrite_be(p + 1, v, k);
    w->size += 1 + k;
}

static inline void arb_mpwrite_nil(arb_mpwrite_t *w)
{
    arb_mpwrite_head(w, 0xc0, 0, 0);
}

static inline void arb_mpwrite_bool(arb_mpwrite_t *w, bool v)
{
    arb_mpwrite_head(w, v ? 0xc3 : 0xc2, 0, 0);
}

static inline void arb_mpwrite_array(arb_mpwrite_t *w, size_t n)
{
    if (n < 16) arb_mpwrite_head(w, (uint8_t)(0x90 | n), 0, 0);
    else if (n < 65536) arb_mpwrite_head(w, 0xdc, n, 2);
    else arb_mpwrite_head(w, 0xdd, n, 4);
}

/* msgpack_pack_int64's choice: the smallest form, uint forms for v >= 128. */
static inline void arb_mpwrite_int(arb_mpwrite_t *w, int64_t v)
{
    if (v < -(1LL << 5)) {
        if (v < -(1LL << 31)) arb_mpwrite_head(w, 0xd3, (uint64_t)v, 8);
        else if (v < -(1LL << 15)) arb_mpwrite_head(w, 0xd2, (uint32_t)v, 4);
        else if (v < -(1LL << 7)) arb_mpwrite_head(w, 0xd1, (uint16_t)v, 2);
        else arb_mpwrite_head(w, 0xd0, (uint8_t)v, 1);
    } else if (v < (1LL << 7)) {
        arb_mpwrite_head(w, (uint8_t)v, 0, 0);
    } else if (v < (1LL << 8)) {
        arb_mpwrite_head(w, 0xcc, (uint64_t)v, 1);
    } else if (v < (1LL << 16)) {
        arb_mpwrite_head(w, 0xcd, (uint64_t)v, 2);
    } else if (v < (1LL << 32)) {
        arb_mpwrite_head(w, 0xce, (uint64_t)v, 4);
    } else {
        arb_mpwrite_head(w, 0xcf, (uint64_t)v, 8);
    }
}

/* msgpack_pack_unsigned_int's choice for a 32-bit unsigned. */
static inline void arb_mpwrite_uint32(arb_mpwrite_t *w, uint32_t v)
{
    if (v < (1u << 7)) arb_mpwrite_head(w, (uint8_t)v, 0, 0);
    else if (v < (1u << 8)) arb_mpwrite_head(w, 0xcc, v, 1);
    else if (v < (1u << 16)) arb_mpwrite_head(w, 0xcd, v, 2);
    else arb_mpwrite_head(w, 0xce, v, 4);
}

/* Always a float64, as msgpack_pack_double writes it. */
static inline void arb_mpwrite_double(arb_mpwrite_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    arb_mpwrite_head(w, 0xcb, u, 8);
}

/* A str or bin: its header (the short form, then forms of 1, 2 and 4
 * length bytes) and body, in one reservation. */
static inline void arb_mpwrite_sized(arb_mpwrite_t *w, uint8_t fix, uint8_t t8, const void *body, size_t n)
{
    if (!arb_mpwrite_reserve(w, n + 5)) return;
    uint8_t *p = w->data + w->size;
    if (fix && n < 32) {
        *p++ = (uint8_t)(fix | n);
    } else if (n < 256) {
        *p++ = t8;
        *p++ = (uint8_t)n;
    } else if (n < 65536) {
        *p++ = t8 + 1;
        arb_mpwrite_be(p, n, 2);
        p += 2;
    } else {
        *p++ = t8 + 2;
        arb_mpwrite_be(p, n, 4);
        p += 4;
    }
    if (n) memcpy(p, body, n);
    w->size = (size_t)(p - w->data) + n;
}

static inline void arb_mpwrite_str(arb_mpwrite_t *w, const char *s, size_t n)
{
    arb_mpwrite_sized(w, 0xa0, 0xd9, s, n);
}

/* bin has no short form. */
static inline void arb_mpwrite_bin(arb_mpwrite_t *w, const uint8_t *b, size_t n)
{
    arb_mpwrite_sized(w, 0, 0xc4, b, n);
}

#endif
