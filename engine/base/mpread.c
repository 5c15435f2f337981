/* The part of the bounded MessagePack cursor (mpread.h) too large to
 * inline: skipping one whole value of any type. Base layer: includes
 * nothing of ours but its header.
 *
 * A walk over bytes only, with an explicit stack instead of recursion, so
 * that the depth limit, not the input, bounds the work and the stack; the
 * same walk checks a msgpack value before msgpack-c may unpack it (msgpack-c
 * allocates a container's elements before reading them, so a corrupt count
 * must be refused first).
 */
#include "engine/base/mpread.h"

bool arb_mpread_skip(arb_mpread_t *r, int max_depth)
{
    uint64_t left[34];
    int d = 0;
    const uint8_t *p = r->p;
    left[0] = 1;
    if (max_depth > 32) max_depth = 32;
    while (d >= 0) {
        if (left[d] == 0) {
            d--;
            continue;
        }
        left[d]--;
        if (p == r->end) return false;
        uint8_t b = *p++;
        uint64_t skip = 0, count = 0;
        bool container = false;
        arb_mpread_t at = {p, r->end};
        const uint8_t **q = &at.p;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if ((b & 0xe0) == 0xa0) {
            skip = b & 0x1f;
        } else if ((b & 0xf0) == 0x90) {
            container = true;
            count = b & 0x0f;
        } else if ((b & 0xf0) == 0x80) {
            container = true;
            count = (uint64_t)(b & 0x0f) * 2;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: if (!arb_mpread_len(&at, q, 1, &skip)) return false; break;
            case 0xc5: case 0xda: if (!arb_mpread_len(&at, q, 2, &skip)) return false; break;
            case 0xc6: case 0xdb: if (!arb_mpread_len(&at, q, 4, &skip)) return false; break;
            case 0xc7: if (!arb_mpread_len(&at, q, 1, &skip)) return false; skip++; break;
            case 0xc8: if (!arb_mpread_len(&at, q, 2, &skip)) return false; skip++; break;
            case 0xc9: if (!arb_mpread_len(&at, q, 4, &skip)) return false; skip++; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: if (!arb_mpread_len(&at, q, 2, &count)) return false; container = true; break;
            case 0xdd: if (!arb_mpread_len(&at, q, 4, &count)) return false; container = true; break;
            case 0xde: if (!arb_mpread_len(&at, q, 2, &count)) return false; container = true; count *= 2; break;
            case 0xdf: if (!arb_mpread_len(&at, q, 4, &count)) return false; container = true; count *= 2; break;
            default: return false;  /* 0xc1, never used */
            }
        }
        p = at.p;
        if (skip > (uint64_t)(r->end - p)) return false;
        p += skip;
        if (container) {
            if (count > (uint64_t)(r->end - p) || d + 1 > max_depth) return false;
            left[++d] = count;
        }
    }
    r->p = p;
    return true;
}

/* A length, count or integer of k bytes at p that a shorter form could not
 * hold: at least min. */
static bool at_least(const uint8_t *p, int k, uint64_t min) { return arb_mpread_be(p, k) >= min; }

/* A negative integer of k bytes at p below max (the least a shorter form
 * holds); a non-negative one is packed unsigned. */
static bool below(const uint8_t *p, int k, int64_t max)
{
    uint64_t u = arb_mpread_be(p, k);
    int64_t v = k == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * k)) >> (64 - 8 * k);
    return v < max;
}

/* Every float32 is a double exactly, and back, but a signalling NaN,
 * which the conversion quiets (told by its bits: a compiler may fold the
 * two conversions away). */
static bool float32_kept(const uint8_t *p)
{
    uint32_t u = (uint32_t)arb_mpread_be(p, 4);
    bool nan = (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu);
    return !nan || (u & 0x00400000u);
}

bool arb_mpread_shortest(const void *bytes, size_t n)
{
    const uint8_t *p = bytes, *end = p + n;
    uint64_t left[34];
    int d = 0;
    left[0] = 1;
    while (d >= 0) {
        if (left[d] == 0) {
            d--;
            continue;
        }
        left[d]--;
        if (p == end) return false;
        uint8_t b = *p++;
        uint64_t body = 0, count = 0;
        int k = 0;                      /* bytes of length or count after b */
        bool ok = true, container = false;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        } else if ((b & 0xe0) == 0xa0) {
            body = b & 0x1f;
        } else if ((b & 0xe0) == 0x80) {   /* fixmap, fixarray */
            container = true;
            count = (uint64_t)(b & 0x0f) << ((b & 0xf0) == 0x80);
        } else {
            static const uint8_t width[] = {
                [0xc4 - 0xc4] = 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
                [0xd4 - 0xc4] = 1, 2, 4, 8, 16, 1, 2, 4, 2, 4, 2, 4,
            };
            if (b == 0xc1) return false;
            int w = width[b - 0xc4];
            bool number = (b >= 0xca && b <= 0xd3);
            bool fixext = (b >= 0xd4 && b <= 0xd8);
            if (number || fixext) {
                body = fixext ? 1 + (uint64_t)w : (uint64_t)w;
                if ((uint64_t)(end - p) < body) return false;
                switch (b) {
                case 0xca: ok = float32_kept(p); break;
                case 0xcc: ok = at_least(p, 1, 128); break;
                case 0xcd: ok = at_least(p, 2, 256); break;
                case 0xce: ok = at_least(p, 4, 65536); break;
                case 0xcf: ok = at_least(p, 8, 1ull << 32); break;
                case 0xd0: ok = below(p, 1, -32); break;
                case 0xd1: ok = below(p, 2, -128); break;
                case 0xd2: ok = below(p, 4, -32768); break;
                case 0xd3: ok = below(p, 8, -2147483648LL); break;
                default: break;
                }
            } else {
                k = w;
                if ((uint64_t)(end - p) < (uint64_t)k) return false;
                uint64_t v = arb_mpread_be(p, k);
                p += k;
                /* The least each form holds that the one before it cannot. */
                static const uint64_t least[3] = { 0, 256, 65536 };
                int form = k == 1 ? 0 : k == 2 ? 1 : 2;
                switch (b) {
                case 0xd9: ok = v >= 32; body = v; break;                 /* str8 */
                case 0xda: case 0xdb: case 0xc5: case 0xc6:
                    ok = v >= least[form]; body = v; break;               /* str, bin */
                case 0xc4: body = v; break;                               /* bin8 */
                case 0xc7: ok = v != 1 && v != 2 && v != 4 && v != 8 && v != 16;
                    body = v + 1; break;                                  /* ext8 */
                case 0xc8: case 0xc9: ok = v >= least[form]; body = v + 1; break;
                case 0xdc: case 0xdd: case 0xde: case 0xdf:
                    ok = v >= (form == 1 ? 16 : 65536);
                    container = true;
                    count = v << (b >= 0xde);
                    break;
                default: return false;
                }
            }
        }
        if (!ok) return false;
        if (container) {
            if (count > (uint64_t)(end - p) || d + 1 > 32) return false;
            left[++d] = count;
            continue;
        }
        if (body > (uint64_t)(end - p)) return false;
        p += body;
    }
    return p == end;
}
