/* A bounded MessagePack cursor: read one value at a time straight from the
 * bytes, without building msgpack-c's object tree (msgpack-c has no cursor
 * reader). Base layer: includes nothing of ours, not even msgpack-c.
 *
 * Why: a decoder that knows the shape it expects (the customer record,
 * later the request context) can check each value as it reads it, in one
 * pass, instead of a validating walk followed by msgpack-c's unpacker and
 * a second walk over its tree. Every read is bounded by the end given to
 * arb_mpread_init: whatever the bytes, a read either returns the value and
 * moves past it, or returns false and leaves the cursor where it was, so a
 * caller may try another type (nil, then str) at the same place. Containers
 * give only their count, checked against the bytes left (each element takes
 * at least one byte, a map entry two), so a corrupt count can never size a
 * huge allocation; the caller reads the elements itself.
 *
 * Ownership: str and bin reads return pointers into the caller's bytes,
 * valid as long as those are; strings are not NUL-terminated.
 */
#ifndef ARB_MPREAD_H
#define ARB_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct arb_mpread {
    const uint8_t *p;    /* the next byte */
    const uint8_t *end;  /* one past the last readable byte */
} arb_mpread_t;

static inline void arb_mpread_init(arb_mpread_t *r, const void *p, size_t n)
{
    r->p = p;
    r->end = r->p + n;
}

static inline size_t arb_mpread_left(const arb_mpread_t *r)
{
    return (size_t)(r->end - r->p);
}

/* The big-endian unsigned of k (1, 2, 4 or 8) bytes at p. */
static inline uint64_t arb_mpread_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t arb_mpread_be(const uint8_t *p, int k)
{
    /* Spelled out: a loop over a k known only at run time costs a branch a
     * byte. Reads exactly k bytes. */
    switch (k) {
    case 1: return p[0];
    case 2: return (uint32_t)p[0] << 8 | p[1];
    case 4: return arb_mpread_be32(p);
    default: return arb_mpread_be32(p) << 32 | arb_mpread_be32(p + 4);
    }
}

/* A length or count of k (1, 2 or 4) bytes after the type byte: false
 * when the bytes end first. *q is moved past it. */
static inline bool arb_mpread_len(const arb_mpread_t *r, const uint8_t **q, int k, uint64_t *n)
{
    if ((size_t)(r->end - *q) < (size_t)k) return false;
    const uint8_t *p = *q;
    *n = k == 1 ? p[0] : k == 2 ? (uint32_t)p[0] << 8 | p[1] : arb_mpread_be32(p);
    *q += k;
    return true;
}

/* True (and past it) when the next value is nil. */
static inline bool arb_mpread_nil(arb_mpread_t *r)
{
    if (r->p == r->end || *r->p != 0xc0) return false;
    r->p++;
    return true;
}

static inline bool arb_mpread_bool(arb_mpread_t *r, bool *v)
{
    if (r->p == r->end || (*r->p != 0xc2 && *r->p != 0xc3)) return false;
    *v = *r->p++ == 0xc3;
    return true;
}

/* The header of a sized value: a short form (b & fix_mask == fix, the
 * size in the other bits; fix_mask 0: none), or the type `first` and the
 * ones after it, with a size of first_width bytes, then twice that, up to
 * 4. *q is left after the header. */
static inline bool arb_mpread_head(const arb_mpread_t *r, uint8_t fix_mask, uint8_t fix, uint8_t first,
                                   int first_width, const uint8_t **q, uint64_t *n)
{
    if (r->p == r->end) return false;
    uint8_t b = *r->p;
    *q = r->p + 1;
    if (fix_mask && (b & fix_mask) == fix) {
        *n = b & (uint8_t)~fix_mask;
        return true;
    }
    if (b < first || b - first > 2 || (first_width << (b - first)) > 4) return false;
    return arb_mpread_len(r, q, first_width << (b - first), n);
}

/* An array header: *n elements, at most one per byte left. */
static inline bool arb_mpread_array(arb_mpread_t *r, uint32_t *n)
{
    const uint8_t *q;
    uint64_t count;
    if (!arb_mpread_head(r, 0xf0, 0x90, 0xdc, 2, &q, &count) || count > (size_t)(r->end - q)) return false;
    r->p = q;
    *n = (uint32_t)count;
    return true;
}

/* A map header: *n entries, at most one per two bytes left. */
static inline bool arb_mpread_map(arb_mpread_t *r, uint32_t *n)
{
    const uint8_t *q;
    uint64_t count;
    if (!arb_mpread_head(r, 0xf0, 0x80, 0xde, 2, &q, &count) || count * 2 > (size_t)(r->end - q)) return false;
    r->p = q;
    *n = (uint32_t)count;
    return true;
}

/* A str or bin of n bytes: its body, when it does not run past the end. */
static inline bool arb_mpread_body(arb_mpread_t *r, uint8_t fix_mask, uint8_t fix, uint8_t first,
                                   const uint8_t **body, uint32_t *len)
{
    const uint8_t *q;
    uint64_t n;
    if (!arb_mpread_head(r, fix_mask, fix, first, 1, &q, &n) || n > (size_t)(r->end - q)) return false;
    *body = q;
    *len = (uint32_t)n;
    r->p = q + n;
    return true;
}

/* A str: *s points at its n bytes in the input (not NUL-terminated). */
static inline bool arb_mpread_str(arb_mpread_t *r, const char **s, uint32_t *n)
{
    return arb_mpread_body(r, 0xe0, 0xa0, 0xd9, (const uint8_t **)s, n);
}

/* A bin: *b points at its n bytes in the input. */
static inline bool arb_mpread_bin(arb_mpread_t *r, const uint8_t **b, uint32_t *n)
{
    return arb_mpread_body(r, 0, 0, 0xc4, b, n);
}

/* An integer in any of MessagePack's int formats whose value fits int64_t
 * (a uint64 above INT64_MAX does not). */
static inline __attribute__((always_inline)) bool arb_mpread_int(arb_mpread_t *r, int64_t *v)
{
    if (r->p == r->end) return false;
    uint8_t b = *r->p;
    if (b <= 0x7f || b >= 0xe0) {
        *v = (int8_t)b;
        r->p++;
        return true;
    }
    /* Each width spelled out, so that every read is a fixed-size load. */
    static const uint8_t width[16] = {1, 2, 4, 8, 1, 2, 4, 8};
    if (b < 0xcc || b > 0xd3) return false;
    size_t k = width[b - 0xcc];
    if (arb_mpread_left(r) < k + 1) return false;
    const uint8_t *q = r->p + 1;
    switch (b) {
    case 0xcc: *v = q[0]; break;
    case 0xcd: *v = (int64_t)arb_mpread_be(q, 2); break;
    case 0xce: *v = (int64_t)arb_mpread_be(q, 4); break;
    case 0xcf: {
        uint64_t u = arb_mpread_be(q, 8);
        if (u > INT64_MAX) return false;
        *v = (int64_t)u;
        break;
    }
    case 0xd0: *v = (int8_t)q[0]; break;
    case 0xd1: *v = (int16_t)arb_mpread_be(q, 2); break;
    case 0xd2: *v = (int32_t)arb_mpread_be(q, 4); break;
    default: *v = (int64_t)arb_mpread_be(q, 8); break;
    }
    r->p = q + k;
    return true;
}

/* A float32 or float64, as a double. */
static inline bool arb_mpread_float(arb_mpread_t *r, double *v)
{
    if (r->p == r->end) return false;
    if (*r->p == 0xcb) {
        if (arb_mpread_left(r) < 9) return false;
        uint64_t u = arb_mpread_be(r->p + 1, 8);
        memcpy(v, &u, sizeof *v);
        r->p += 9;
        return true;
    }
    if (*r->p == 0xca) {
        if (arb_mpread_left(r) < 5) return false;
        uint32_t u = (uint32_t)arb_mpread_be(r->p + 1, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        *v = f;
        r->p += 5;
        return true;
    }
    return false;
}

/* Whether [p, p + n) is exactly one value, nesting at most 32 deep, in
 * the forms msgpack-c packs: the shortest header for every length and
 * count, the shortest integer (unsigned when not negative), and a float32
 * that its trip through a double keeps. msgpack-c's packing of its
 * unpacking then gives back these very bytes, so a caller that needs the
 * canonical bytes (a digest) can take them as they are. */
bool arb_mpread_shortest(const void *p, size_t n);

/* Move past one value of any type, containers nesting at most max_depth
 * (<= 32) deep, each claiming no more elements than bytes remain. False,
 * with the cursor unmoved, for anything that is not one whole value. */
bool arb_mpread_skip(arb_mpread_t *r, int max_depth);

#endif
