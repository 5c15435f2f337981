/* Fields of purchases and events by name (see recfield.h). Keeps
 * request/'s rule: values only, no I/O, no allocation: the stored fields
 * are read in place from their msgpack bytes. */
#include "engine/request/recfield.h"

#include <string.h>

static bool need(const arb_mpcursor_t *c, size_t n) { return (size_t)(c->end - c->p) >= n; }

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* A str or bin of n bytes after an n_len-byte length. */
static bool blob(arb_mpcursor_t *c, int n_len, msgpack_object_type t, msgpack_object *out)
{
    if (!need(c, (size_t)n_len)) return false;
    uint64_t n = be(c->p, n_len);
    c->p += n_len;
    if (!need(c, n)) return false;
    out->type = t;
    out->via.str.ptr = (const char *)c->p;   /* str and bin share the layout */
    out->via.str.size = (uint32_t)n;
    c->p += n;
    return true;
}

static bool container(arb_mpcursor_t *c, int n_len, msgpack_object_type t, msgpack_object *out)
{
    if (!need(c, (size_t)n_len)) return false;
    uint32_t n = (uint32_t)be(c->p, n_len);
    c->p += n_len;
    out->type = t;
    if (t == MSGPACK_OBJECT_ARRAY) out->via.array = (msgpack_object_array){ n, NULL };
    else out->via.map = (msgpack_object_map){ n, NULL };
    return true;
}

bool arb_mpcursor_next(arb_mpcursor_t *c, msgpack_object *out)
{
    memset(out, 0, sizeof *out);
    if (!need(c, 1)) return false;
    uint8_t b = *c->p++;
    if (b <= 0x7f) { out->type = MSGPACK_OBJECT_POSITIVE_INTEGER; out->via.u64 = b; return true; }
    if (b >= 0xe0) { out->type = MSGPACK_OBJECT_NEGATIVE_INTEGER; out->via.i64 = (int8_t)b; return true; }
    if ((b & 0xe0) == 0xa0) {
        uint8_t n = b & 0x1f;
        if (!need(c, n)) return false;
        out->type = MSGPACK_OBJECT_STR;
        out->via.str = (msgpack_object_str){ n, (const char *)c->p };
        c->p += n;
        return true;
    }
    if ((b & 0xf0) == 0x90) {
        out->type = MSGPACK_OBJECT_ARRAY;
        out->via.array = (msgpack_object_array){ b & 0x0fu, NULL };
        return true;
    }
    if ((b & 0xf0) == 0x80) {
        out->type = MSGPACK_OBJECT_MAP;
        out->via.map = (msgpack_object_map){ b & 0x0fu, NULL };
        return true;
    }
    switch (b) {
    case 0xc0: out->type = MSGPACK_OBJECT_NIL; return true;
    case 0xc2: case 0xc3: out->type = MSGPACK_OBJECT_BOOLEAN; out->via.boolean = b == 0xc3; return true;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        int n = 1 << (b - 0xcc);
        if (!need(c, (size_t)n)) return false;
        out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        out->via.u64 = be(c->p, n);
        c->p += n;
        return true;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int n = 1 << (b - 0xd0);
        if (!need(c, (size_t)n)) return false;
        uint64_t u = be(c->p, n);
        int64_t v = n == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * n)) >> (64 - 8 * n);
        c->p += n;
        out->type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (v < 0) out->via.i64 = v; else out->via.u64 = (uint64_t)v;
        return true;
    }
    case 0xca: {
        if (!need(c, 4)) return false;
        uint32_t u = (uint32_t)be(c->p, 4);
        float f;
        memcpy(&f, &u, 4);
        c->p += 4;
        out->type = MSGPACK_OBJECT_FLOAT32;
        out->via.f64 = f;
        return true;
    }
    case 0xcb: {
        if (!need(c, 8)) return false;
        uint64_t u = be(c->p, 8);
        memcpy(&out->via.f64, &u, 8);
        c->p += 8;
        out->type = MSGPACK_OBJECT_FLOAT64;
        return true;
    }
    case 0xd9: return blob(c, 1, MSGPACK_OBJECT_STR, out);
    case 0xda: return blob(c, 2, MSGPACK_OBJECT_STR, out);
    case 0xdb: return blob(c, 4, MSGPACK_OBJECT_STR, out);
    case 0xc4: return blob(c, 1, MSGPACK_OBJECT_BIN, out);
    case 0xc5: return blob(c, 2, MSGPACK_OBJECT_BIN, out);
    case 0xc6: return blob(c, 4, MSGPACK_OBJECT_BIN, out);
    case 0xdc: return container(c, 2, MSGPACK_OBJECT_ARRAY, out);
    case 0xdd: return container(c, 4, MSGPACK_OBJECT_ARRAY, out);
    case 0xde: return container(c, 2, MSGPACK_OBJECT_MAP, out);
    case 0xdf: return container(c, 4, MSGPACK_OBJECT_MAP, out);
    default: break;
    }
    /* ext: fixext 1-16 or ext 8/16/32, read as nil (track refuses them). */
    size_t skip;
    if (b >= 0xd4 && b <= 0xd8) skip = 1 + ((size_t)1 << (b - 0xd4));
    else if (b >= 0xc7 && b <= 0xc9) {
        int n = 1 << (b - 0xc7);
        if (!need(c, (size_t)n)) return false;
        skip = (size_t)n + 1 + be(c->p, n);
    } else return false;   /* 0xc1: never used */
    if (!need(c, skip)) return false;
    c->p += skip;
    out->type = MSGPACK_OBJECT_NIL;
    return true;
}

/* Skip what follows the header o just read: its items, or nothing. */
static bool skip_items(arb_mpcursor_t *c, const msgpack_object *o)
{
    /* Items still to skip, counted without recursion: a hostile nesting
     * cannot run the stack out. */
    uint64_t left = o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size
                  : o->type == MSGPACK_OBJECT_MAP ? 2 * (uint64_t)o->via.map.size : 0;
    while (left) {
        msgpack_object x;
        if (!arb_mpcursor_next(c, &x)) return false;
        left--;
        if (x.type == MSGPACK_OBJECT_ARRAY) left += x.via.array.size;
        else if (x.type == MSGPACK_OBJECT_MAP) left += 2 * (uint64_t)x.via.map.size;
    }
    return true;
}

bool arb_mpcursor_skip(arb_mpcursor_t *c)
{
    msgpack_object o;
    return arb_mpcursor_next(c, &o) && skip_items(c, &o);
}

/* Field name of the msgpack map in bytes [b, b + n). */
static bool bytes_field(const uint8_t *b, uint32_t n, const char *name, uint32_t len,
                        msgpack_object *out)
{
    if (!b) return false;
    arb_mpcursor_t c = { b, b + n };
    msgpack_object m, k;
    if (!arb_mpcursor_next(&c, &m) || m.type != MSGPACK_OBJECT_MAP) return false;
    for (uint32_t i = 0; i < m.via.map.size; i++) {
        if (!arb_mpcursor_next(&c, &k)) return false;
        if (k.type == MSGPACK_OBJECT_STR && k.via.str.size == len &&
            memcmp(k.via.str.ptr, name, len) == 0)
            return arb_mpcursor_next(&c, out);
        if (!skip_items(&c, &k) || !arb_mpcursor_skip(&c)) return false;   /* the key, its value */
    }
    return false;
}

static bool typed(arb_str_t s, msgpack_object *out)
{
    if (!s.len) return false;
    out->type = MSGPACK_OBJECT_STR;
    out->via.str = (msgpack_object_str){ s.len, s.ptr };
    return true;
}

static uint32_t own_records(const arb_context_t *ctx, bool purchase)
{
    return ctx->merged ? (purchase ? ctx->n_ctx_purchases : ctx->n_ctx_events)
                       : (purchase ? ctx->n_purchases : ctx->n_events);
}

/* The context's own record i as the channel sent it, or NULL. */
static const msgpack_object *raw_record(const arb_context_t *ctx, bool purchase, uint32_t i)
{
    if (i >= own_records(ctx, purchase)) return NULL;
    const msgpack_object *a = purchase ? ctx->raw_purchases : ctx->raw_events;
    /* A context not made by arb_context_parse (a test's) has only raw. */
    if (!a && ctx->raw) a = arb_msgpack_map_get(ctx->raw, purchase ? "purchases" : "events");
    if (!a || a->type != MSGPACK_OBJECT_ARRAY || i >= a->via.array.size) return NULL;
    return &a->via.array.ptr[i];
}

/* Record i is the context's own, its map as sent in extra
 * (arb_context_parse_bytes): every field is read there, price and an
 * event's channel included, present only when sent, as from raw. */
static bool sent_record(const arb_context_t *ctx, bool purchase, uint32_t i)
{
    return ctx->records_sent && i < own_records(ctx, purchase);
}

bool arb_record_field(const arb_context_t *ctx, bool purchase, uint32_t i, const char *name,
                      uint32_t len, msgpack_object *out)
{
    memset(out, 0, sizeof *out);
    arb_str_t key = { name, len };
    if (purchase) {
        const arb_purchase_t *p = &ctx->purchases[i];
        if (ARB_STR_IS(key, "category")) return typed(p->category, out);
        if (ARB_STR_IS(key, "sku")) return typed(p->sku, out);
        if (ARB_STR_IS(key, "channel")) return typed(p->channel, out);
        if (ARB_STR_IS(key, "ts")) {
            out->type = MSGPACK_OBJECT_FLOAT64;
            out->via.f64 = (double)p->ts;
            return true;
        }
        if (ARB_STR_IS(key, "price")) {
            const msgpack_object *r = raw_record(ctx, true, i);
            if (r) {   /* the context's own: present only when sent */
                const msgpack_object *v = arb_msgpack_map_getn(r, name, len);
                if (!v) return false;
                *out = *v;
                return true;
            }
            if (sent_record(ctx, true, i)) return bytes_field(p->extra, p->extra_len, name, len, out);
            out->type = MSGPACK_OBJECT_FLOAT64;
            out->via.f64 = p->price;
            return true;
        }
        const msgpack_object *r = raw_record(ctx, true, i);
        if (r) {
            const msgpack_object *v = arb_msgpack_map_getn(r, name, len);
            if (v) *out = *v;
            return v != NULL;
        }
        return bytes_field(p->extra, p->extra_len, name, len, out);
    }
    const arb_ctx_event_t *e = &ctx->events[i];
    if (ARB_STR_IS(key, "type")) return typed(e->type, out);
    if (ARB_STR_IS(key, "category")) return typed(e->category, out);
    if (ARB_STR_IS(key, "sku")) return typed(e->sku, out);
    if (ARB_STR_IS(key, "ts")) {
        out->type = MSGPACK_OBJECT_FLOAT64;
        out->via.f64 = (double)e->ts;
        return true;
    }
    const msgpack_object *r = raw_record(ctx, false, i);
    if (r) {
        const msgpack_object *v = arb_msgpack_map_getn(r, name, len);
        if (v) *out = *v;
        return v != NULL;
    }
    if (ARB_STR_IS(key, "channel") && !sent_record(ctx, false, i)) return typed(e->channel, out);
    return bytes_field(e->extra, e->extra_len, name, len, out);
}
