/* Fuzz target: the RPC frame decoder (engine/frame.c) as a connection uses
 * it (engine/conn.c), fed in random-sized pieces.
 *
 * Input: [chunking byte] [limits byte] [the byte stream a client sends]
 *
 *   chunking: 0 = the whole stream in one read; otherwise reads of
 *             1..{1,2,3,7,16,64,512,4096}[b & 7] bytes, sizes drawn from a
 *             generator seeded with b.
 *   limits:   max_depth = 1 + (b & 31); max_frame = {4096, 1024, 100, 16}[(b >> 5) & 3].
 *             0x1f is the server's shape: depth 32, frame 4096.
 *
 * Each read lands in a msgpack_unpacker's buffer exactly as libuv's does;
 * then, as conn_process does, every whole frame is checked by the resumable
 * scanner and only an accepted one is unpacked. Properties checked:
 *
 *   - the scanner never reads past the bytes it is given (it runs on an
 *     exactly-sized heap copy, so ASan sees any over-read);
 *   - on DONE the frame is at most max_frame bytes, nests at most max_depth
 *     deep, and msgpack_unpacker_execute parses exactly those bytes;
 *   - an independent reference parser agrees: DONE only on a whole valid
 *     object of that length, and no refusal (TOO_BIG/TOO_DEEP/INVALID) of a
 *     frame that is whole, valid and within both limits;
 *   - an accepted request [0, msgid, method, [context, ...]] has its context
 *     checked by arb_context_parse, and a rejection's message packs as an
 *     RPC error answer that is valid UTF-8;
 *   - arb_rpc_peek_one reads exactly the requests with a string method and
 *     one param, as arb_rpc_decode does on the tree; decide's are checked
 *     from their bytes (arb_context_parse_bytes) and the unpacker only
 *     steps past them, as conn.c does;
 *   - the unpacker's zone and buffer are released per frame as conn.c does
 *     (LeakSanitizer checks nothing is left).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/mpread.h"
#include "engine/request/context.h"
#include "engine/wire/frame.h"
#include "engine/wire/rpc.h"
#include "tests/fuzz/fuzz_util.h"

/* What libuv is offered per read in conn.c. */
#define READ_CHUNK 65536

/* ---- a reference parser, written from the MessagePack spec */

typedef enum { REF_OK, REF_SHORT, REF_INVALID, REF_DEEP } ref_status_t;

#define REF_MAX_NEST 200

/* Skip one object at p[*pos..n). *maxnest is the deepest container nesting
 * seen (1 for a top-level array). */
static ref_status_t ref_skip(const unsigned char *p, size_t n, size_t *pos, int nest, int *maxnest)
{
    if (*pos >= n) return REF_SHORT;
    unsigned b = p[(*pos)++];
    uint64_t count = 0, body = 0;
    int lenbytes = 0, kind = 0; /* kind: 0 scalar, 1 array, 2 map */
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return REF_OK;
    if (b >= 0x80 && b <= 0x8f) { kind = 2; count = b & 0x0f; }
    else if (b >= 0x90 && b <= 0x9f) { kind = 1; count = b & 0x0f; }
    else if (b >= 0xa0 && b <= 0xbf) body = b & 0x1f;
    else switch (b) {
        case 0xc1: return REF_INVALID;
        case 0xc4: case 0xd9: lenbytes = 1; break;
        case 0xc5: case 0xda: lenbytes = 2; break;
        case 0xc6: case 0xdb: lenbytes = 4; break;
        case 0xc7: lenbytes = 1; body = 1; break;
        case 0xc8: lenbytes = 2; body = 1; break;
        case 0xc9: lenbytes = 4; body = 1; break;
        case 0xca: case 0xce: case 0xd2: body = 4; break;
        case 0xcb: case 0xcf: case 0xd3: body = 8; break;
        case 0xcc: case 0xd0: body = 1; break;
        case 0xcd: case 0xd1: body = 2; break;
        case 0xd4: body = 2; break;
        case 0xd5: body = 3; break;
        case 0xd6: body = 5; break;
        case 0xd7: body = 9; break;
        case 0xd8: body = 17; break;
        case 0xdc: kind = 1; lenbytes = 2; break;
        case 0xdd: kind = 1; lenbytes = 4; break;
        case 0xde: kind = 2; lenbytes = 2; break;
        case 0xdf: kind = 2; lenbytes = 4; break;
        default: return REF_INVALID;
        }
    if (lenbytes) {
        if (n - *pos < (size_t)lenbytes) return REF_SHORT;
        uint64_t v = 0;
        for (int i = 0; i < lenbytes; i++) v = (v << 8) | p[(*pos)++];
        if (kind) count = v; else body += v;
    }
    if (!kind) {
        if (n - *pos < body) return REF_SHORT;
        *pos += (size_t)body;
        return REF_OK;
    }
    if (nest + 1 > REF_MAX_NEST) return REF_DEEP;
    if (nest + 1 > *maxnest) *maxnest = nest + 1;
    uint64_t elems = kind == 2 ? count * 2 : count;
    for (uint64_t i = 0; i < elems; i++) {
        ref_status_t r = ref_skip(p, n, pos, nest + 1, maxnest);
        if (r != REF_OK) return r;
    }
    return REF_OK;
}

/* Container nesting of an unpacked object (1 for a top-level array). */
static int obj_nesting(const msgpack_object *o)
{
    int best = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            int d = obj_nesting(&o->via.array.ptr[i]);
            if (d > best) best = d;
        }
        return best + 1;
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            int d = obj_nesting(&o->via.map.ptr[i].key);
            if (d > best) best = d;
            d = obj_nesting(&o->via.map.ptr[i].val);
            if (d > best) best = d;
        }
        return best + 1;
    }
    return 0;
}

/* ---- what the server does with an accepted frame, minus the worker */

static void check_frame_object(const msgpack_object *f, arb_arena_t *arena)
{
    if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size != 4) return;
    const msgpack_object *a = f->via.array.ptr;
    uint32_t msgid = 0;
    if (a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[1].via.u64 <= UINT32_MAX)
        msgid = (uint32_t)a[1].via.u64;
    if (a[3].type != MSGPACK_OBJECT_ARRAY || a[3].via.array.size == 0) return;
    const msgpack_object *ctxobj = &a[3].via.array.ptr[0];
    arb_context_t ctx;
    arb_err_t err;
    memset(&err, 0, sizeof err);
    int rc = arb_context_parse(ctxobj, 1767225600, &ctx, arena, &err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (rc == 0) {
        FUZZ_CHECK(ctx.customer_id.len && ctx.channel.len && ctx.touchpoint.len,
                   "an accepted context lacks a required string");
        FUZZ_CHECK(ctx.raw == ctxobj, "ctx.raw is not the context map");
        for (uint32_t i = 0; i < ctx.n_purchases; i++)
            FUZZ_CHECK(ctx.purchases[i].ts != INT64_MIN, "purchase %u accepted without ts", i);
        for (uint32_t i = 0; i < ctx.n_events; i++)
            FUZZ_CHECK(ctx.events[i].ts != INT64_MIN, "event %u accepted without ts", i);
        FUZZ_CHECK(ctx.limit == 0 || (ctx.limit >= 1 && ctx.limit <= 1000), "limit out of range");
        FUZZ_CHECK(ctx.deadline_ms >= 0, "negative deadline accepted");
    } else {
        FUZZ_CHECK(rc == -1, "arb_context_parse returned %d", rc);
        FUZZ_CHECK(err.code == ARB_INVALID_PARAMS || err.code == ARB_INTERNAL,
                   "context error code %d", (int)err.code);
        FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) && err.message[0],
                   "context error without a message");
        arb_rpc_pack_error(&pk, msgid, err.code, err.message);
        fuzz_check_error_answer(sb.data, sb.size, msgid);
    }
    msgpack_sbuffer_destroy(&sb);
    arb_arena_reset(arena);
}

/* arb_rpc_peek_one (the server's read of decide's common request) agrees
 * with arb_rpc_decode on msgpack-c's tree of the same frame: it reads a
 * frame exactly when the frame is a request with a string method and one
 * param, and then the same msgid, method and param. */
static void check_peek(const char *p, size_t flen, bool peeked, const arb_rpc_peek_t *rq)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    FUZZ_REQUIRE(msgpack_unpack_next(&up, p, flen, &off) == MSGPACK_UNPACK_SUCCESS && off == flen,
                 "msgpack-c refused a frame the scanner accepted");
    arb_rpc_call_t call;
    bool answerable;
    arb_err_t err;
    bool common = arb_rpc_decode(&up.data, &call, &answerable, &err) == 0 && !call.notification &&
                  up.data.via.array.ptr[2].type == MSGPACK_OBJECT_STR &&
                  call.params->via.array.size == 1;
    FUZZ_CHECK(peeked == common, "peek says %d, the tree says %d", peeked, common);
    /* arb_mpread_shortest (the decision log takes a context's bytes as
     * sent when it holds): msgpack-c's packing always passes it, and bytes
     * that pass it are what msgpack-c's packing gives back. */
    msgpack_sbuffer re;
    msgpack_sbuffer_init(&re);
    msgpack_packer pre;
    msgpack_packer_init(&pre, &re, msgpack_sbuffer_write);
    msgpack_pack_object(&pre, up.data);
    FUZZ_CHECK(arb_mpread_shortest(re.data, re.size), "msgpack-c's packing is not in shortest forms");
    if (arb_mpread_shortest(p, flen))
        FUZZ_CHECK(re.size == flen && memcmp(re.data, p, flen) == 0,
                   "bytes in shortest forms that msgpack-c packs otherwise");
    msgpack_sbuffer_destroy(&re);
    if (peeked) {
        FUZZ_CHECK(rq->msgid == call.msgid, "peek msgid %u, tree %u", rq->msgid, call.msgid);
        FUZZ_CHECK(rq->method_len == call.method_len &&
                       memcmp(rq->method, call.method, rq->method_len) == 0,
                   "peek and tree read different methods");
        msgpack_unpacked arg;
        msgpack_unpacked_init(&arg);
        size_t aoff = 0;
        FUZZ_CHECK(msgpack_unpack_next(&arg, rq->arg, rq->arg_len, &aoff) == MSGPACK_UNPACK_SUCCESS &&
                       aoff == rq->arg_len,
                   "peek's param is not one whole value");
        /* Compared packed: msgpack_object_equal says a NaN differs from itself. */
        msgpack_sbuffer a, b;
        msgpack_sbuffer_init(&a);
        msgpack_sbuffer_init(&b);
        msgpack_packer pa, pb;
        msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
        msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
        msgpack_pack_object(&pa, arg.data);
        msgpack_pack_object(&pb, call.params->via.array.ptr[0]);
        FUZZ_CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0,
                   "peek's param differs from the tree's");
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
        msgpack_unpacked_destroy(&arg);
    }
    msgpack_unpacked_destroy(&up);
}

/* decide's common request as the server answers it: the context checked
 * from its bytes, with the same verdict as the tree's check. */
static void check_decide_bytes(const arb_rpc_peek_t *rq, arb_arena_t *arena, msgpack_zone *zone)
{
    arb_context_t ctx;
    arb_err_t err;
    memset(&err, 0, sizeof err);
    int rc = arb_context_parse_bytes(rq->arg, rq->arg_len, 1767225600, false, &ctx, arena, zone,
                                     &err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err.message[0]), "arb_context_parse_bytes returned %d", rc);
    if (rc == 0)
        FUZZ_CHECK(ctx.customer_id.len && ctx.channel.len && ctx.touchpoint.len,
                   "an accepted context lacks a required string");
    arb_arena_reset(arena);
    msgpack_zone_clear(zone);
}

/* ---- the connection */

typedef struct rng {
    uint32_t s;
} rng_t;

static uint32_t rng_next(rng_t *r)
{
    uint32_t x = r->s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->s = x;
}

/* Scan buf[0..len) through an exactly-sized heap copy. */
static arb_frame_status_t scan_exact(arb_frame_scan_t *s, const char *buf, size_t len,
                                     const arb_frame_limits_t *lim, size_t *flen)
{
    char *copy = malloc(len ? len : 1);
    FUZZ_REQUIRE(copy, "out of memory");
    if (len) memcpy(copy, buf, len);
    arb_frame_status_t st = arb_frame_scan(s, copy, len, lim, flen);
    free(copy);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    static const size_t piece_max[8] = { 1, 2, 3, 7, 16, 64, 512, 4096 };
    static const size_t frame_max[4] = { 4096, 1024, 100, 16 };
    const uint8_t chunking = data[0], limits = data[1];
    const arb_frame_limits_t lim = { frame_max[(limits >> 5) & 3], 1 + (limits & 31) };
    const char *stream = (const char *)data + 2;
    const size_t n = size - 2;
    rng_t rng = { 0x9e3779b9u ^ ((uint32_t)chunking * 0x01000193u) };

    msgpack_unpacker unp;
    FUZZ_REQUIRE(msgpack_unpacker_init(&unp, READ_CHUNK), "msgpack_unpacker_init");
    arb_frame_scan_t scan;
    arb_frame_scan_reset(&scan);
    arb_arena_t arena;
    arb_arena_init(&arena);
    msgpack_zone zone;
    FUZZ_REQUIRE(msgpack_zone_init(&zone, 4096), "msgpack_zone_init");

    size_t fed = 0;          /* stream bytes handed to the unpacker */
    size_t frame_start = 0;  /* stream offset of the frame being scanned */
    bool closed = false;
    while (fed < n && !closed) {
        /* One read. */
        size_t piece = chunking == 0 ? n - fed : 1 + rng_next(&rng) % piece_max[chunking & 7];
        if (piece > n - fed) piece = n - fed;
        FUZZ_REQUIRE(msgpack_unpacker_reserve_buffer(&unp, READ_CHUNK), "reserve_buffer");
        if (piece > msgpack_unpacker_buffer_capacity(&unp))
            piece = msgpack_unpacker_buffer_capacity(&unp);
        memcpy(msgpack_unpacker_buffer(&unp), stream + fed, piece);
        msgpack_unpacker_buffer_consumed(&unp, piece);
        fed += piece;

        /* conn_process. */
        for (;;) {
            const char *p = unp.buffer + unp.off;
            size_t len = unp.used - unp.off, flen = (size_t)-1;
            FUZZ_CHECK(frame_start + len == fed, "unpacker buffer out of step with the stream");
            if (len == 0) break;
            FUZZ_CHECK(memcmp(p, stream + frame_start, len) == 0, "unpacker buffer corrupted");
            arb_frame_status_t st = scan_exact(&scan, p, len, &lim, &flen);
            if (st == ARB_FRAME_MORE) {
                FUZZ_CHECK(scan.pos <= len, "scanner position %zu past the %zu bytes given",
                           scan.pos, len);
                break;
            }
            /* What the reference parser makes of the rest of the stream
             * from this frame's first byte (the bytes the client will send). */
            size_t rpos = 0;
            int rnest = 0;
            ref_status_t ref = ref_skip((const unsigned char *)stream + frame_start,
                                        n - frame_start, &rpos, 0, &rnest);
            bool ref_acceptable = ref == REF_OK && rpos <= lim.max_frame && rnest <= lim.max_depth;
            if (st != ARB_FRAME_DONE) {
                FUZZ_CHECK(st == ARB_FRAME_TOO_BIG || st == ARB_FRAME_TOO_DEEP ||
                               st == ARB_FRAME_INVALID,
                           "unknown scanner status %d", (int)st);
                FUZZ_CHECK(!ref_acceptable,
                           "scanner refused (%s) a valid %zu-byte frame nesting %d deep "
                           "(limits %zu bytes, depth %d)",
                           arb_frame_status_message(st), rpos, rnest, lim.max_frame, lim.max_depth);
                /* Each refusal has its cause in the bytes the scanner had. */
                if (st == ARB_FRAME_TOO_DEEP)
                    FUZZ_CHECK(rnest > lim.max_depth, "TOO_DEEP for a frame nesting %d deep (limit %d)",
                               rnest, lim.max_depth);
                if (st == ARB_FRAME_INVALID)
                    FUZZ_CHECK(ref == REF_INVALID, "INVALID for bytes the reference parser reads");
                if (st == ARB_FRAME_TOO_BIG)
                    FUZZ_CHECK(ref != REF_OK || rpos > lim.max_frame,
                               "TOO_BIG for a whole %zu-byte frame (limit %zu)", rpos, lim.max_frame);
                /* conn_protocol_error: peek the msgid, then close. */
                uint32_t msgid;
                if (arb_frame_peek_msgid(p, len, &msgid)) {
                    msgpack_sbuffer sb;
                    msgpack_sbuffer_init(&sb);
                    msgpack_packer pk;
                    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                    arb_rpc_pack_error(&pk, msgid, ARB_INVALID_REQUEST, arb_frame_status_message(st));
                    fuzz_check_error_answer(sb.data, sb.size, msgid);
                    msgpack_sbuffer_destroy(&sb);
                }
                closed = true;
                break;
            }
            /* DONE. */
            FUZZ_CHECK(flen > 0 && flen <= len, "frame length %zu of %zu buffered", flen, len);
            FUZZ_CHECK(flen <= lim.max_frame, "frame of %zu bytes over the %zu limit", flen,
                       lim.max_frame);
            FUZZ_CHECK(ref == REF_OK && rpos == flen,
                       "scanner says a %zu-byte frame, reference says status %d length %zu",
                       flen, (int)ref, rpos);
            FUZZ_CHECK(rnest <= lim.max_depth, "accepted a frame nesting %d deep (limit %d)",
                       rnest, lim.max_depth);
            arb_rpc_peek_t rq;
            bool peeked = arb_rpc_peek_one(p, flen, &rq);
            check_peek(p, flen, peeked, &rq);
            if (peeked && rq.method_len == 6 && memcmp(rq.method, "decide", 6) == 0) {
                /* conn.c for decide: answered from the bytes, the unpacker
                 * only stepped past them. */
                check_decide_bytes(&rq, &arena, &zone);
                unp.off += flen;
                msgpack_unpacker_reset(&unp);
                arb_frame_scan_reset(&scan);
                frame_start += flen;
                continue;
            }
            size_t off_before = unp.off;
            int rc = msgpack_unpacker_execute(&unp);
            FUZZ_CHECK(rc > 0, "msgpack-c refused (rc %d) a %zu-byte frame the scanner accepted",
                       rc, flen);
            FUZZ_CHECK(unp.off - off_before == flen,
                       "msgpack-c parsed %zu bytes of a %zu-byte frame", unp.off - off_before, flen);
            msgpack_object frame = msgpack_unpacker_data(&unp);
            FUZZ_CHECK(obj_nesting(&frame) <= lim.max_depth, "unpacked frame nests too deep");
            check_frame_object(&frame, &arena);
            /* Release the frame exactly as conn.c does. */
            msgpack_unpacker_flush_zone(&unp);
            if (unp.z) msgpack_unpacker_reset_zone(&unp);
            msgpack_unpacker_reset(&unp);
            arb_frame_scan_reset(&scan);
            frame_start += flen;
        }
    }
    msgpack_unpacker_destroy(&unp);
    arb_arena_free(&arena);
    msgpack_zone_destroy(&zone);
    return 0;
}
