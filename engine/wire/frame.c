/* Frame checking before unpacking (see frame.h). This walks MessagePack
 * headers only: it never builds objects, that is msgpack-c's job. */
#include "engine/wire/frame.h"

#include <string.h>

void arb_frame_scan_reset(arb_frame_scan_t *s)
{
    s->pos = 0;
    s->depth = 1;
    s->left[0] = 1;
}

/* Big-endian unsigned of n bytes at p. */
static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* What one header announces. */
typedef struct {
    int hlen;        /* header bytes, type byte included */
    int lenbytes;    /* bytes of the big-endian length/count after the type byte */
    uint64_t body;   /* fixed body bytes after the header (str/bin/ext payload, numbers) */
    int kind;        /* 0 scalar, 1 array, 2 map, -1 invalid */
    uint64_t count;  /* elements of an array or pairs of a map, when known */
} header_t;

/* Decode the fixed part of the header at byte b. Counts and lengths carried
 * in extra bytes are filled in later, once those bytes are present. */
static header_t header_shape(unsigned char b)
{
    header_t h = { 1, 0, 0, 0, 0 };
    if (b <= 0x7f || b >= 0xe0) return h;
    if (b <= 0x8f) { h.kind = 2; h.count = b & 0x0f; return h; }
    if (b <= 0x9f) { h.kind = 1; h.count = b & 0x0f; return h; }
    if (b <= 0xbf) { h.body = b & 0x1f; return h; }
    switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return h;
    case 0xc4: case 0xd9: h.lenbytes = 1; break;           /* bin8, str8 */
    case 0xc5: case 0xda: h.lenbytes = 2; break;           /* bin16, str16 */
    case 0xc6: case 0xdb: h.lenbytes = 4; break;           /* bin32, str32 */
    case 0xc7: h.lenbytes = 1; h.body = 1; break;          /* ext8: + type */
    case 0xc8: h.lenbytes = 2; h.body = 1; break;
    case 0xc9: h.lenbytes = 4; h.body = 1; break;
    case 0xca: h.body = 4; break;
    case 0xcb: h.body = 8; break;
    case 0xcc: case 0xd0: h.body = 1; break;
    case 0xcd: case 0xd1: h.body = 2; break;
    case 0xce: case 0xd2: h.body = 4; break;
    case 0xcf: case 0xd3: h.body = 8; break;
    case 0xd4: h.body = 2; break;                          /* fixext1: type + 1 */
    case 0xd5: h.body = 3; break;
    case 0xd6: h.body = 5; break;
    case 0xd7: h.body = 9; break;
    case 0xd8: h.body = 17; break;
    case 0xdc: h.kind = 1; h.lenbytes = 2; break;
    case 0xdd: h.kind = 1; h.lenbytes = 4; break;
    case 0xde: h.kind = 2; h.lenbytes = 2; break;
    case 0xdf: h.kind = 2; h.lenbytes = 4; break;
    default: h.kind = -1; break;                           /* 0xc1 */
    }
    h.hlen = 1 + h.lenbytes;
    return h;
}

/* Bytes taken by a scalar whose size its first byte tells (fixint, fixstr,
 * nil, booleans, numbers); 0 for everything else. A table: a frame is
 * mostly such scalars, and one load beats a chain of compares. */
#define FIXSTR4(n) [0xa0 + (n)] = 1 + (n), [0xa1 + (n)] = 2 + (n), [0xa2 + (n)] = 3 + (n), \
                   [0xa3 + (n)] = 4 + (n)
static const uint8_t scalar_bytes[256] = {
    [0x00 ... 0x7f] = 1, [0xe0 ... 0xff] = 1,
    FIXSTR4(0), FIXSTR4(4), FIXSTR4(8), FIXSTR4(12),
    FIXSTR4(16), FIXSTR4(20), FIXSTR4(24), FIXSTR4(28),
    [0xc0] = 1, [0xc2] = 1, [0xc3] = 1,
    [0xcc] = 2, [0xd0] = 2, [0xcd] = 3, [0xd1] = 3,
    [0xca] = 5, [0xce] = 5, [0xd2] = 5, [0xcb] = 9, [0xcf] = 9, [0xd3] = 9,
};
#undef FIXSTR4

static inline size_t scalar_size(unsigned char b) { return scalar_bytes[b]; }

/* Mark one element of the innermost open level as seen, closing every level
 * that this completes. */
static void element_done(arb_frame_scan_t *s)
{
    s->left[s->depth - 1]--;
    while (s->depth > 0 && s->left[s->depth - 1] == 0) s->depth--;
}

arb_frame_status_t arb_frame_scan(arb_frame_scan_t *s, const char *buf, size_t len,
                                  const arb_frame_limits_t *lim, size_t *frame_len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t end = len < lim->max_frame ? len : lim->max_frame;
    while (s->depth > 0) {
        /* Most of a frame is runs of small scalars wholly inside the
         * buffer and the limit: step over a run without the checks below. */
        size_t pos = s->pos;
        uint32_t left = s->left[s->depth - 1];
        for (size_t step; left && pos < end && (step = scalar_size(p[pos])) && pos + step <= end;
             left--)
            pos += step;
        s->pos = pos;
        s->left[s->depth - 1] = left;
        if (!left) {
            while (s->depth > 0 && s->left[s->depth - 1] == 0) s->depth--;
            continue;
        }
        if (s->pos >= lim->max_frame) return ARB_FRAME_TOO_BIG;
        if (s->pos >= len) return ARB_FRAME_MORE;
        header_t h = header_shape(p[s->pos]);
        if (h.kind < 0) return ARB_FRAME_INVALID;
        if (s->pos + (size_t)h.hlen > len) return ARB_FRAME_MORE;
        if (h.lenbytes) {
            uint64_t n = be(p + s->pos + 1, h.lenbytes);
            if (h.kind) h.count = n; else h.body += n;
        }
        /* A header that itself crosses the limit leaves no room to compute. */
        if ((uint64_t)s->pos + (uint64_t)h.hlen > lim->max_frame) return ARB_FRAME_TOO_BIG;
        uint64_t room = lim->max_frame - s->pos - (uint64_t)h.hlen;
        if (h.body > room) return ARB_FRAME_TOO_BIG;
        if (h.kind) {
            /* Every element takes at least one byte: a count the frame
             * cannot hold is a lie, refused before anything reserves it. */
            uint64_t elems = h.kind == 2 ? h.count * 2 : h.count;
            if (elems > room) return ARB_FRAME_TOO_BIG;
            if (s->depth > lim->max_depth) return ARB_FRAME_TOO_DEEP;
            s->pos += (size_t)h.hlen;
            if (elems == 0) {
                element_done(s);
            } else {
                /* The parent keeps its level open until this child closes:
                 * the stack depth is the true nesting msgpack-c will see. */
                s->left[s->depth - 1]--;
                s->left[s->depth++] = (uint32_t)elems;
            }
            continue;
        }
        if (s->pos + h.hlen + h.body > len) return ARB_FRAME_MORE;
        s->pos += (size_t)(h.hlen + h.body);
        element_done(s);
    }
    *frame_len = s->pos;
    return ARB_FRAME_DONE;
}

bool arb_frame_peek_msgid(const char *buf, size_t len, uint32_t *msgid)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (len < 3 || p[0] != 0x94 || p[1] != 0x00) return false;
    int n = p[2] <= 0x7f ? 0 : p[2] == 0xcc ? 1 : p[2] == 0xcd ? 2 : p[2] == 0xce ? 4 : -1;
    if (n < 0 || len < 3 + (size_t)n) return false;
    *msgid = n == 0 ? p[2] : (uint32_t)be(p + 3, n);
    return true;
}

const char *arb_frame_status_message(arb_frame_status_t st)
{
    switch (st) {
    case ARB_FRAME_TOO_BIG: return "frame exceeds the size limit";
    case ARB_FRAME_TOO_DEEP: return "frame exceeds the nesting depth limit";
    case ARB_FRAME_INVALID: return "bytes are not MessagePack";
    default: return "incomplete frame";
    }
}
