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
