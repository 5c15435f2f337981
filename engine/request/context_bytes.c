/* A decide context checked straight from its MessagePack bytes (see
 * context.h, arb_context_parse_bytes), without msgpack-c's object tree.
 * Keeps request/'s rule: values only, no I/O, only base/ included besides
 * the folder's own headers.
 *
 * It accepts and refuses exactly what arb_context_parse does on msgpack-c's
 * unpacking of the same bytes, with the same words: every check is
 * context_walk.h's or context.c's, called with one msgpack_object per
 * scalar (item() below reads each as msgpack-c would, ext included) and a
 * header for a container, whose elements this walk reads itself. Only
 * what is read as a whole takes a tree, unpacked by msgpack-c from just its
 * bytes into the caller's zone: attributes (rules look them up), a record,
 * location or weather with keys the typed walk does not know (checked at
 * every depth by arb__ctx_check_value), and the whole context when the
 * caller asks for it (whole: plain Lua rules read ctx->raw).
 */
#include "engine/request/context_walk.h"

#include "engine/base/mpread.h"

/* msgpack-c's own nesting limit (MSGPACK_EMBED_STACK_SIZE), which the
 * frame scanner (wire/frame.h, ARB_FRAME_DEPTH_MAX) applies to a frame:
 * a context map is level 1, containers may nest to level 32. */
#define CTX_DEPTH 32

typedef struct bwalk {
    arb_mpread_t r;
    arb_context_t *ctx;
    arb_arena_t *arena;
    msgpack_zone *zone;
    arb_err_t *err;
} bwalk_t;

static __attribute__((noinline, cold)) int not_msgpack(arb_err_t *err)
{
    return arb_err_set(err, ARB_INVALID_PARAMS, "context: not MessagePack");
}

static __attribute__((noinline, cold)) int out_of_memory(arb_err_t *err)
{
    return arb_err_set(err, ARB_INTERNAL, "out of memory");
}

static inline bool is_container(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_MAP || o->type == MSGPACK_OBJECT_ARRAY;
}

/* A sized body (str, bin, ext data) of n bytes at q, or false past the end. */
static inline __attribute__((always_inline)) bool body(arb_mpread_t *r, const uint8_t *q,
                                                       uint64_t n, const char **ptr, uint32_t *size)
{
    if (n > (size_t)(r->end - q)) return false;
    *ptr = (const char *)q;
    *size = (uint32_t)n;
    r->p = q + n;
    return true;
}

/* A count of a map (pairs: twice the items) or array, each item at least
 * one byte of those left after q. */
static inline __attribute__((always_inline)) bool count(arb_mpread_t *r, const uint8_t *q,
                                                        uint64_t n, uint64_t items, uint32_t *size)
{
    if (items > (size_t)(r->end - q)) return false;
    *size = (uint32_t)n;
    r->p = q;
    return true;
}

/* The next item as msgpack-c's unpacker makes it: a scalar whole (strings
 * pointing into the bytes; signed formats holding a value >= 0 as
 * POSITIVE_INTEGER; float32 widened; ext as EXT), a map or an array as its
 * header (size set, ptr NULL), each count at most the bytes left. False,
 * with the cursor where it was, for bytes that are not one. One jump on
 * the first byte: this runs for every key and value of the context. */
static inline __attribute__((always_inline)) bool item(arb_mpread_t *r, msgpack_object *o)
{
    if (r->p == r->end) return false;
    uint8_t b = *r->p;
    const uint8_t *q = r->p + 1;
    uint64_t n;
    int k;
    switch (b) {
    case 0x00 ... 0x7f:
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
        r->p = q;
        return true;
    case 0xe0 ... 0xff:
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t)b;
        r->p = q;
        return true;
    case 0xa0 ... 0xbf:
        o->type = MSGPACK_OBJECT_STR;
        return body(r, q, b & 0x1f, &o->via.str.ptr, &o->via.str.size);
    case 0xd9: case 0xda: case 0xdb:
        if (!arb_mpread_len(r, &q, 1 << (b - 0xd9), &n)) return false;
        o->type = MSGPACK_OBJECT_STR;
        return body(r, q, n, &o->via.str.ptr, &o->via.str.size);
    case 0xc4: case 0xc5: case 0xc6:
        if (!arb_mpread_len(r, &q, 1 << (b - 0xc4), &n)) return false;
        o->type = MSGPACK_OBJECT_BIN;
        return body(r, q, n, &o->via.bin.ptr, &o->via.bin.size);
    case 0x80 ... 0x8f:
        o->type = MSGPACK_OBJECT_MAP;
        o->via.map.ptr = NULL;
        return count(r, q, b & 0x0f, 2 * (uint64_t)(b & 0x0f), &o->via.map.size);
    case 0xde: case 0xdf:
        if (!arb_mpread_len(r, &q, b == 0xde ? 2 : 4, &n)) return false;
        o->type = MSGPACK_OBJECT_MAP;
        o->via.map.ptr = NULL;
        return count(r, q, n, 2 * n, &o->via.map.size);
    case 0x90 ... 0x9f:
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.ptr = NULL;
        return count(r, q, b & 0x0f, b & 0x0f, &o->via.array.size);
    case 0xdc: case 0xdd:
        if (!arb_mpread_len(r, &q, b == 0xdc ? 2 : 4, &n)) return false;
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.ptr = NULL;
        return count(r, q, n, n, &o->via.array.size);
    case 0xc0: o->type = MSGPACK_OBJECT_NIL; r->p = q; return true;
    case 0xc2: case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = b == 0xc3;
        r->p = q;
        return true;
    case 0xca: o->type = MSGPACK_OBJECT_FLOAT32; return arb_mpread_float(r, &o->via.f64);
    case 0xcb: {   /* prices, scores, coordinates: the commonest value after strings */
        if ((size_t)(r->end - q) < 8) return false;
        uint64_t u = arb_mpread_be(q, 8);
        o->type = MSGPACK_OBJECT_FLOAT64;
        memcpy(&o->via.f64, &u, sizeof u);
        r->p = q + 8;
        return true;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        k = 1 << (b - 0xcc);
        if ((size_t)(r->end - q) < (size_t)k) return false;
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = arb_mpread_be(q, k);
        r->p = q + k;
        return true;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int64_t v;
        if (!arb_mpread_int(r, &v)) return false;
        o->type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.i64 = v;   /* the same bits as u64 for v >= 0 */
        return true;
    }
    case 0xd4 ... 0xd8: n = 1u << (b - 0xd4); break;
    case 0xc7: case 0xc8: case 0xc9:
        if (!arb_mpread_len(r, &q, 1 << (b - 0xc7), &n)) return false;
        break;
    default: return false;   /* 0xc1: never used */
    }
    /* ext: a type byte, then n bytes */
    if (q == r->end) return false;
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t)*q;
    return body(r, q + 1, n, &o->via.ext.ptr, &o->via.ext.size);
}

/* A map key: nearly always a short string (fixstr), read without the
 * jump of item(). */
static inline __attribute__((always_inline)) bool key_item(arb_mpread_t *r, msgpack_object *o)
{
    if (r->p != r->end && (*r->p & 0xe0) == 0xa0) {
        o->type = MSGPACK_OBJECT_STR;
        return body(r, r->p + 1, *r->p & 0x1f, &o->via.str.ptr, &o->via.str.size);
    }
    return item(r, o);
}

/* [p, end) as a tree in the zone: for the values read as a whole. */
static const msgpack_object *unpack_span(bwalk_t *w, const uint8_t *p, const uint8_t *end)
{
    msgpack_object *o = msgpack_zone_malloc(w->zone, sizeof *o);
    if (!o) {
        out_of_memory(w->err);
        return NULL;
    }
    size_t off = 0;
    if (msgpack_unpack((const char *)p, (size_t)(end - p), &off, w->zone, o) !=
        MSGPACK_UNPACK_SUCCESS) {
        not_msgpack(w->err);
        return NULL;
    }
    return o;
}

/* A map of string keys with unknown ones among them, checked whole as
 * context.c's check_rest does. */
static __attribute__((noinline)) int check_span(bwalk_t *w, const uint8_t *p, const path_t *path)
{
    const msgpack_object *o = unpack_span(w, p, w->r.p);
    return o ? arb__ctx_check_value(o, path, w->arena, w->err) : -1;
}

/* The n entries of a str-keyed map whose header was just read, as
 * context.c's each_field walks them; a container under an unknown key is
 * skipped, `depth` levels deep at most. *seen: the known keys' bits. */
static inline __attribute__((always_inline)) int
fields(bwalk_t *w, uint32_t n, const path_t *path, void *out, field_fn field, int depth,
       uint32_t *seen, bool *unknown)
{
    *unknown = false;
    *seen = 0;
    path_t sub = *path;
    for (uint32_t i = 0; i < n; i++) {
        msgpack_object k, v;
        if (!key_item(&w->r, &k)) return not_msgpack(w->err);
        if (key_str(&k, path, &sub.key, w->err) < 0) return -1;
        const uint8_t *at = w->r.p;
        if (!item(&w->r, &v)) return not_msgpack(w->err);
        int bit = field(out, sub.key, &v, &sub, w->err);
        if (bit == FIELD_UNKNOWN && is_container(&v)) {
            w->r.p = at;
            if (!arb_mpread_skip(&w->r, depth)) return not_msgpack(w->err);
        }
        if (field_seen(bit, seen, unknown, &sub, w->err) < 0) return -1;
    }
    return 0;
}

/* purchases or events (the array header just read, count records), as
 * context.c's get_records; each record keeps its bytes in extra. */
static inline __attribute__((always_inline)) int
records(bwalk_t *w, uint32_t count, const char *name, bool purchase, void **out, uint32_t *n)
{
    size_t size = purchase ? sizeof(arb_purchase_t) : sizeof(arb_ctx_event_t);
    char *recs = count ? arb_arena_alloc(w->arena, size * count) : NULL;
    if (count && !recs) return out_of_memory(w->err);
    for (uint32_t i = 0; i < count; i++) {
        path_t sub = { name, i, { NULL, 0 } };
        void *rec = recs + i * size;
        int64_t *ts = record_start(rec, size, purchase);
        const uint8_t *start = w->r.p;
        msgpack_object m;
        if (!item(&w->r, &m)) return not_msgpack(w->err);
        if (m.type != MSGPACK_OBJECT_MAP) return arb__ctx_wrong(w->err, &sub, "a map", &m);
        uint32_t seen;
        bool unknown;
        /* each call with its own field function, inlined */
        if ((purchase ? fields(w, m.via.map.size, &sub, rec, purchase_field, CTX_DEPTH - 3, &seen,
                               &unknown)
                      : fields(w, m.via.map.size, &sub, rec, event_field, CTX_DEPTH - 3, &seen,
                               &unknown)) < 0 ||
            record_done(*ts, &sub, w->err) < 0)
            return -1;
        uint32_t len = (uint32_t)(w->r.p - start);
        if (purchase) {
            ((arb_purchase_t *)rec)->extra = start;
            ((arb_purchase_t *)rec)->extra_len = len;
        } else {
            ((arb_ctx_event_t *)rec)->extra = start;
            ((arb_ctx_event_t *)rec)->extra_len = len;
        }
        if (unknown && check_span(w, start, &sub) < 0) return -1;
    }
    *out = recs;
    *n = count;
    return 0;
}

/* keys of scores or consent, known to be strings, as a map of them with
 * nil values: what arb__ctx_check_keys reads. */
static __attribute__((noinline)) int check_names(bwalk_t *w, const char *name, const void *items,
                                                 size_t stride, uint32_t n)
{
    msgpack_object_kv *kv = arb_arena_alloc(w->arena, sizeof *kv * n);
    if (!kv) return out_of_memory(w->err);
    for (uint32_t i = 0; i < n; i++) {
        const arb_str_t *s = (const arb_str_t *)((const char *)items + i * stride);
        kv[i].key.type = MSGPACK_OBJECT_STR;
        kv[i].key.via.str = (msgpack_object_str){ s->len, s->ptr };
        kv[i].val.type = MSGPACK_OBJECT_NIL;
    }
    msgpack_object m = { .type = MSGPACK_OBJECT_MAP, .via.map = { n, kv } };
    return arb__ctx_check_keys(&m, name, w->arena, w->err);
}

/* A key, and its value when the key is a string: a key of another type is
 * refused before its value is read (it would be the key's first element),
 * and *v is then a copy of it. */
static inline __attribute__((always_inline)) bool key_then_value(bwalk_t *w, msgpack_object *k,
                                                                 msgpack_object *v)
{
    if (!key_item(&w->r, k)) return false;
    if (k->type == MSGPACK_OBJECT_STR) return item(&w->r, v);
    *v = *k;
    return true;
}

static int scores(bwalk_t *w, uint32_t n)
{
    path_t path = { "scores", -1, { NULL, 0 } };
    arb_score_t *s = n ? arb_arena_alloc(w->arena, sizeof *s * n) : NULL;
    if (n && !s) return out_of_memory(w->err);
    bool rising = true;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        msgpack_object k, v;   /* score_entry refuses a container key or value */
        if (!key_then_value(w, &k, &v)) return not_msgpack(w->err);
        if (score_entry(&k, &v, &path, &s[i], &rising, &prev, w->err) < 0) return -1;
    }
    w->ctx->scores = s;
    w->ctx->n_scores = n;
    return rising ? 0 : check_names(w, "scores", &s->model, sizeof *s, n);
}

static int consent(bwalk_t *w, uint32_t n)
{
    path_t path = { "consent", -1, { NULL, 0 } };
    arb_ctx_consent_t *c = n ? arb_arena_alloc(w->arena, sizeof *c * n) : NULL;
    if (n && !c) return out_of_memory(w->err);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_object k, v;
        if (!key_then_value(w, &k, &v)) return not_msgpack(w->err);
        if (consent_entry(&k, &v, c, i, n, &path, w->err) < 0) return -1;
    }
    w->ctx->consent = c;
    w->ctx->n_consent = n;
    return n <= 8 ? 0 : check_names(w, "consent", &c->name, sizeof *c, n);
}

/* location or weather (a map of n entries), as context.c's get_part; the
 * raw map stays unread (ctx->location, ctx->weather: NULL, see context.h). */
static int part(bwalk_t *w, uint32_t n, const char *name, field_fn field, const uint8_t *start,
                uint32_t *seen)
{
    path_t sub = { name, -1, { NULL, 0 } };
    bool unknown;
    if (fields(w, n, &sub, w->ctx, field, CTX_DEPTH - 2, seen, &unknown) < 0) return -1;
    return unknown ? check_span(w, start, &sub) : 0;
}

/* A top-level key whose value is a container (header v, bytes from at):
 * the parts this walk reads itself, the rest through context.c's
 * context_field (a part handed whole, or a refusal of the type). */
static int top_container(bwalk_t *w, parse_state_t *st, arb_str_t key, const msgpack_object *v,
                         const uint8_t *at, const path_t *path, uint32_t *coords)
{
    arb_context_t *ctx = w->ctx;
    if (v->type == MSGPACK_OBJECT_MAP) {
        uint32_t n = v->via.map.size;
        if (ARB_STR_IS(key, "scores")) return scores(w, n) < 0 ? -1 : CTX_BIT_SCORES;
        if (ARB_STR_IS(key, "consent")) return consent(w, n) < 0 ? -1 : CTX_BIT_CONSENT;
        if (ARB_STR_IS(key, "location")) {
            ctx->has_location = true;
            return part(w, n, "location", location_field, at, coords) < 0 ? -1 : CTX_BIT_LOCATION;
        }
        if (ARB_STR_IS(key, "weather")) {
            ctx->has_weather = true;
            uint32_t seen;
            return part(w, n, "weather", weather_field, at, &seen) < 0 ? -1 : CTX_BIT_WEATHER;
        }
        if (ARB_STR_IS(key, "attributes")) {   /* rules look its keys up: a tree */
            w->r.p = at;
            if (!arb_mpread_skip(&w->r, CTX_DEPTH - 1)) return not_msgpack(w->err);
            const msgpack_object *o = unpack_span(w, at, w->r.p);
            return o ? arb__ctx_top_field(st, key, o, path, w->err) : -1;
        }
    } else if (ARB_STR_IS(key, "purchases")) {
        return records(w, v->via.array.size, "purchases", true, (void **)&ctx->purchases,
                       &ctx->n_purchases) < 0 ? -1 : CTX_BIT_PURCHASES;
    } else if (ARB_STR_IS(key, "events")) {
        return records(w, v->via.array.size, "events", false, (void **)&ctx->events,
                       &ctx->n_events) < 0 ? -1 : CTX_BIT_EVENTS;
    }
    /* A known key refuses the container by its type alone; an unknown
     * one's value is read by no one: skipped. */
    int bit = arb__ctx_top_field(st, key, v, path, w->err);
    if (bit != FIELD_UNKNOWN) return bit;
    w->r.p = at;
    return arb_mpread_skip(&w->r, CTX_DEPTH - 1) ? FIELD_UNKNOWN : not_msgpack(w->err);
}

/* The top-level map held keys the walk does not know: its keys, read
 * again (values skipped), each once, as arb_context_parse checks. */
static __attribute__((noinline)) int top_dup(bwalk_t *w, const uint8_t *p, const uint8_t *end)
{
    arb_mpread_t r;
    arb_mpread_init(&r, p, (size_t)(end - p));
    uint32_t n;
    if (!arb_mpread_map(&r, &n)) return not_msgpack(w->err);
    msgpack_object_kv *kv = arb_arena_alloc(w->arena, sizeof *kv * (n ? n : 1));
    if (!kv) return out_of_memory(w->err);
    for (uint32_t i = 0; i < n; i++) {
        if (!item(&r, &kv[i].key) || !arb_mpread_skip(&r, CTX_DEPTH - 1))
            return not_msgpack(w->err);
        kv[i].val.type = MSGPACK_OBJECT_NIL;
    }
    msgpack_object m = { .type = MSGPACK_OBJECT_MAP, .via.map = { n, kv } };
    return arb__ctx_top_dup(&m, w->arena, w->err);
}

static int walk(bwalk_t *w, int64_t now_default)
{
    const uint8_t *start = w->r.p;
    msgpack_object top;
    if (!item(&w->r, &top)) return not_msgpack(w->err);
    if (top.type != MSGPACK_OBJECT_MAP)
        return arb_err_set(w->err, ARB_INVALID_PARAMS, "context: expected a map, got %s",
                           arb__ctx_type_name(&top));
    parse_state_t st = { w->ctx, w->arena };
    path_t path = { "", -1, { NULL, 0 } }, sub = path;
    uint32_t seen = 0, coords = 0;
    bool unknown = false;
    for (uint32_t i = 0; i < top.via.map.size; i++) {
        msgpack_object k, v;
        if (!key_item(&w->r, &k)) return not_msgpack(w->err);
        if (key_str(&k, &path, &sub.key, w->err) < 0) return -1;
        const uint8_t *at = w->r.p;
        if (!item(&w->r, &v)) return not_msgpack(w->err);
        int bit = is_container(&v) ? top_container(w, &st, sub.key, &v, at, &sub, &coords)
                                   : arb__ctx_top_field(&st, sub.key, &v, &sub, w->err);
        if (field_seen(bit, &seen, &unknown, &sub, w->err) < 0) return -1;
    }
    if (w->r.p != w->r.end) return not_msgpack(w->err);   /* bytes after the context */
    if (unknown && top_dup(w, start, w->r.p) < 0) return -1;
    if (arb__ctx_required(w->ctx, now_default, w->err) < 0) return -1;
    w->ctx->has_coords = (coords & 3) == 3;   /* location_field's bits: lat, lon */
    w->ctx->records_sent = true;
    return 0;
}

/* [p, p + len) is exactly one MessagePack value within the nesting limit. */
static bool one_value(const char *p, size_t len)
{
    arb_mpread_t r;
    arb_mpread_init(&r, p, len);
    return arb_mpread_skip(&r, CTX_DEPTH) && r.p == r.end;
}

/* whole: the tree of the context the walk accepted (so msgpack-c reads
 * only counts the bytes can hold), and the parts arb_context_parse points
 * into it. Keys are known unique once accepted: a lookup finds the one. */
static int add_tree(bwalk_t *w, const uint8_t *p, const uint8_t *end)
{
    const msgpack_object *o = unpack_span(w, p, end);
    if (!o) return -1;
    arb_context_t *ctx = w->ctx;
    ctx->raw = o;
    ctx->raw_purchases = arb_msgpack_map_get(o, "purchases");
    ctx->raw_events = arb_msgpack_map_get(o, "events");
    ctx->location = arb_msgpack_map_get(o, "location");
    ctx->weather = arb_msgpack_map_get(o, "weather");
    if (ctx->attributes) ctx->attributes = arb_msgpack_map_get(o, "attributes");
    return 0;
}

int arb_context_parse_bytes(const char *p, size_t len, int64_t now_default, bool whole,
                            arb_context_t *ctx, arb_arena_t *arena, msgpack_zone *zone,
                            arb_err_t *err)
{
    memset(ctx, 0, sizeof *ctx);
    bwalk_t w = { .ctx = ctx, .arena = arena, .zone = zone, .err = err };
    arb_mpread_init(&w.r, p, len);
    if (walk(&w, now_default) == 0) {
        ctx->raw_bytes = (const uint8_t *)p;
        ctx->raw_len = (uint32_t)len;
        return whole ? add_tree(&w, (const uint8_t *)p, (const uint8_t *)p + len) : 0;
    }
    /* A refusal of a value msgpack-c would not have unpacked at all is
     * about the bytes, whatever the walk met first. */
    if (err->code == ARB_INVALID_PARAMS && !one_value(p, len)) return not_msgpack(err);
    return -1;
}
