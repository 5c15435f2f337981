/* Checking a decide context (see context.h). Every rejection names the field
 * as a path a caller can find in their own payload: "purchases[3].ts". */
#include "engine/request/context.h"

#include <math.h>
#include <stdlib.h>

const msgpack_object *arb_msgpack_map_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

bool arb_context_consent(const arb_context_t *ctx, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ctx->n_consent; i++)
        if (ctx->consent[i].name.len == len &&
            (len == 0 || memcmp(ctx->consent[i].name.ptr, name, len) == 0))
            return ctx->consent[i].given;
    return false;
}

static const char *type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary";
    default: return "an extension";
    }
}

/* Where a value sits in the context, formatted only when it is wrong:
 * base, then [index] when index >= 0, then .key when key is set. */
typedef struct path {
    const char *base;    /* "purchases", "scores", ... or "" at the top */
    int64_t index;       /* array position, -1 none */
    arb_str_t key;       /* map key, ptr NULL none */
} path_t;

static const char *path_text(const path_t *p, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", p->base);
    if (p->index >= 0 && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, "[%lld]", (long long)p->index);
    if (p->key.ptr && len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, "%s%.*s", *buf ? "." : "",
                 (int)(p->key.len > 64 ? 64 : p->key.len), p->key.ptr);
    return buf;
}

static __attribute__((noinline, cold)) int
wrong(arb_err_t *err, const path_t *path, const char *want, const msgpack_object *o)
{
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: expected %s, got %s",
                       path_text(path, where, sizeof where), want, type_name(o));
}

static inline __attribute__((always_inline)) int
get_str(const msgpack_object *o, const path_t *path, arb_str_t *out, arb_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR) return wrong(err, path, "a string", o);
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

/* Unix times from year 1 to year 9999: far enough for any calendar, near
 * enough that differences of two never overflow. */
#define ARB_TIME_MIN (-62135596800LL)
#define ARB_TIME_MAX 253402300799LL

static inline __attribute__((always_inline)) int
get_int(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err);

static inline __attribute__((always_inline)) int
get_time(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err)
{
    if (get_int(o, path, out, err) < 0) return -1;
    if (*out >= ARB_TIME_MIN && *out <= ARB_TIME_MAX) return 0;
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: a unix time between years 1 and 9999",
                       path_text(path, where, sizeof where));
}

static inline __attribute__((always_inline)) int
get_int(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) { *out = o->via.i64; return 0; }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: integer out of range",
                               path_text(path, where, sizeof where));
        }
        *out = (int64_t)o->via.u64;
        return 0;
    }
    return wrong(err, path, "an integer", o);
}

static inline __attribute__((always_inline)) int
get_num(const msgpack_object *o, const path_t *path, double *out, arb_err_t *err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: expected a finite number",
                               path_text(path, where, sizeof where));
        }
        *out = o->via.f64;
        return 0;
    default: return wrong(err, path, "a number", o);
    }
}

static inline __attribute__((always_inline)) int
get_bool(const msgpack_object *o, const path_t *path, bool *out, arb_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN) return wrong(err, path, "a boolean", o);
    *out = o->via.boolean;
    return 0;
}

/* Walk the str-keyed map o, calling field(key, value) for each entry. A
 * field function returns the bit of the known key it read (0 to 31),
 * FIELD_UNKNOWN for a key it does not know, or -1 with *err set. Each
 * known key seen twice is a duplicate, caught here for the price of an
 * AND; unknown keys are rare, and *unknown tells the caller to check the
 * whole map the slow way (see check_rest). */
typedef int (*field_fn)(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                        arb_err_t *err);
#define FIELD_UNKNOWN 32
#define FIELD(bit, call) return (call) < 0 ? -1 : (bit)

static __attribute__((noinline, cold)) int dup_error(const path_t *path, arb_err_t *err)
{
    char where[160];
    path_text(path, where, sizeof where);
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: duplicate key: a map may hold each key once",
                       *where ? where : "context");   /* the empty key at the top */
}

/* Inlined into each caller, so field() is a direct call the compiler can
 * inline too: this walk runs for every key of every context. */
static inline __attribute__((always_inline)) int
each_field(const msgpack_object *o, const path_t *path, void *out, field_fn field, bool *unknown,
           arb_err_t *err)
{
    *unknown = false;
    if (o->type != MSGPACK_OBJECT_MAP) return wrong(err, path, "a map", o);
    path_t sub = *path;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: keys must be strings",
                               *path->base ? path_text(path, where, sizeof where) : "context");
        }
        sub.key = (arb_str_t){ k->via.str.ptr, k->via.str.size };
        int bit = field(out, sub.key, &o->via.map.ptr[i].val, &sub, err);
        if (bit < 0) return -1;
        if (bit == FIELD_UNKNOWN) {
            *unknown = true;
            continue;
        }
        if (seen & (1u << bit)) return dup_error(&sub, err);
        seen |= 1u << bit;
    }
    return 0;
}

static int purchase_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                          arb_err_t *err)
{
    arb_purchase_t *p = out;
    if (ARB_STR_IS(key, "sku")) FIELD(0, get_str(v, path, &p->sku, err));
    if (ARB_STR_IS(key, "category")) FIELD(1, get_str(v, path, &p->category, err));
    if (ARB_STR_IS(key, "channel")) FIELD(2, get_str(v, path, &p->channel, err));
    if (ARB_STR_IS(key, "price")) FIELD(3, get_num(v, path, &p->price, err));
    if (ARB_STR_IS(key, "ts")) FIELD(4, get_time(v, path, &p->ts, err));
    return FIELD_UNKNOWN;
}

static int event_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                       arb_err_t *err)
{
    arb_event_t *e = out;
    if (ARB_STR_IS(key, "type")) FIELD(0, get_str(v, path, &e->type, err));
    if (ARB_STR_IS(key, "sku")) FIELD(1, get_str(v, path, &e->sku, err));
    if (ARB_STR_IS(key, "category")) FIELD(2, get_str(v, path, &e->category, err));
    if (ARB_STR_IS(key, "ts")) FIELD(3, get_time(v, path, &e->ts, err));
    return FIELD_UNKNOWN;
}

/* ------------------------------------------------------------ one context for C and Lua
 *
 * C reads a context through this file's view and cond.c's lookups; plain
 * Lua rules read it converted to tables (bindings/lua/context.c). Both must
 * see the same thing, so what they would read differently is refused here,
 * at every depth, with the path of the offending value:
 *
 * - a map with two keys that Lua would take as one table key (the same
 *   string, str or bin; numbers of equal value, 1 and 1.0): C's walk keeps
 *   the last, its lookups the first, Lua's table the last (the top-level
 *   map included, whatever its keys);
 * - a NaN map key: Lua cannot store it;
 * - bin and extension values: C compares them as opaque (an attribute of
 *   type bin never equals "gold"), Lua as strings or nil.
 *
 * Values under unknown top-level keys are read by neither and not walked.
 *
 * The check rides on the typed walk, so a clean context's bytes are read
 * once: the keys a part knows are counted in a bitmask as they are read
 * (each_field); score names are known distinct when they rise (sorted,
 * short_key_rank), consent names are compared pair by pair; only parts with
 * keys the walk does not know (rare), unsorted or long score names, and
 * attributes go through map_dup and walk_value. A repeated key is reported
 * where the walk meets it, so of several faults in one context the first
 * in walk order is named.
 */

/* A map key as Lua would see it: class, then value. */
typedef struct lkey {
    int cls;              /* 0 integer, 1 float, 2 string, 3 boolean, 4 never equal */
    __int128 i;           /* cls 0 (floats with an integer value become integers, as in Lua) */
    double f;             /* cls 1 */
    const char *p;        /* cls 2 */
    uint32_t n;
    const void *self;     /* cls 4: only equal to itself */
} lkey_t;

static lkey_t lkey_of(const msgpack_object *k)
{
    lkey_t x = { .cls = 4, .self = k };
    switch (k->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: x.cls = 0; x.i = (__int128)k->via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: x.cls = 0; x.i = (__int128)k->via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double f = k->via.f64;
        if (f == floor(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0) {
            x.cls = 0;
            x.i = (__int128)(int64_t)f;
        } else {
            x.cls = 1;
            x.f = f;
        }
        break;
    }
    case MSGPACK_OBJECT_STR: x.cls = 2; x.p = k->via.str.ptr; x.n = k->via.str.size; break;
    case MSGPACK_OBJECT_BIN: x.cls = 2; x.p = k->via.bin.ptr; x.n = k->via.bin.size; break;
    case MSGPACK_OBJECT_BOOLEAN: x.cls = 3; x.i = k->via.boolean; break;
    default: break;
    }
    return x;
}

static int lkey_cmp(const lkey_t *a, const lkey_t *b)
{
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    switch (a->cls) {
    case 0:
    case 3: return a->i < b->i ? -1 : a->i > b->i;
    case 1: return a->f < b->f ? -1 : a->f > b->f;
    case 2: {
        if (a->n != b->n) return a->n < b->n ? -1 : 1;
        return a->n ? memcmp(a->p, b->p, a->n) : 0;
    }
    default: return a->self == b->self ? 0 : (uintptr_t)a->self < (uintptr_t)b->self ? -1 : 1;
    }
}

static uint64_t lkey_hash(const lkey_t *k)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)k->cls;
    const unsigned char *p;
    size_t n;
    switch (k->cls) {
    case 0: case 3: p = (const unsigned char *)&k->i; n = sizeof k->i; break;
    case 1: p = (const unsigned char *)&k->f; n = sizeof k->f; break;
    default: p = (const unsigned char *)k->p; n = k->n; break;
    }
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The index of a key of the n that repeats an earlier one, -1 when none,
 * -2 out of memory: open addressing in the arena, linear in n. */
static int dup_by_hash(const msgpack_object_kv *kv, uint32_t n, arb_arena_t *arena)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    uint32_t *slot = arb_arena_alloc(arena, sizeof *slot * cap);
    lkey_t *keys = arb_arena_alloc(arena, sizeof *keys * n);
    if (!slot || !keys) return -2;
    memset(slot, 0xff, sizeof *slot * cap);
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = lkey_of(&kv[i].key);
        if (keys[i].cls == 4) continue;   /* tables, nil: never one key in Lua */
        for (size_t h = lkey_hash(&keys[i]) & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (slot[h] == UINT32_MAX) { slot[h] = i; break; }
            if (lkey_cmp(&keys[slot[h]], &keys[i]) == 0) return (int)i;
        }
    }
    return -1;
}

static inline bool same_bytes(const msgpack_object *a, const msgpack_object *b)
{
    return a->via.str.size == b->via.str.size &&
           (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
}

/* The index of a key of the map that repeats an earlier one, -1 when none,
 * -2 out of memory, -3 a NaN key. Maps of string keys (nearly all of a
 * context) compare small ones pair by pair, length first; up to 64 keys by
 * a fingerprint (length and three bytes) in a table sized to the map.
 * Others go through a hash of each key's Lua form. */
static int map_dup(const msgpack_object_kv *kv, uint32_t n, arb_arena_t *arena)
{
    if (n < 2) {
        if (n == 1 && (kv[0].key.type == MSGPACK_OBJECT_FLOAT32 ||
                       kv[0].key.type == MSGPACK_OBJECT_FLOAT64) && isnan(kv[0].key.via.f64))
            return -3;
        return -1;
    }
    uint64_t fp[64];
    bool strings = n <= 64;
    for (uint32_t i = 0; i < n && strings; i++) {
        const msgpack_object *k = &kv[i].key;
        if (k->type != MSGPACK_OBJECT_STR && k->type != MSGPACK_OBJECT_BIN) {
            strings = false;
            break;
        }
        const unsigned char *p = (const unsigned char *)k->via.str.ptr;
        uint32_t len = k->via.str.size;
        if (n <= 8) fp[i] = len;
        else fp[i] = len ? (uint64_t)len << 24 ^ (uint64_t)p[0] << 16 ^ (uint64_t)p[len / 2] << 8 ^
                               p[len - 1]
                         : 0;
    }
    if (strings && n <= 8) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (fp[i] == fp[j] && same_bytes(&kv[i].key, &kv[j].key)) return (int)i;
        return -1;
    }
    if (strings) {
        uint8_t slot[128];   /* open addressing over fingerprints, at most half full */
        unsigned bits = n <= 16 ? 5 : n <= 32 ? 6 : 7, mask = (1u << bits) - 1;
        memset(slot, 0xff, (size_t)mask + 1);
        for (uint32_t i = 0; i < n; i++) {
            unsigned h = (unsigned)((fp[i] * 0x9e3779b97f4a7c15ull) >> (64 - bits));
            for (; slot[h] != 0xff; h = (h + 1) & mask)
                if (fp[slot[h]] == fp[i] && same_bytes(&kv[i].key, &kv[slot[h]].key))
                    return (int)i;
            slot[h] = (uint8_t)i;
        }
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &kv[i].key;
        if ((k->type == MSGPACK_OBJECT_FLOAT32 || k->type == MSGPACK_OBJECT_FLOAT64) &&
            isnan(k->via.f64))
            return -3;
    }
    return dup_by_hash(kv, n, arena);
}

/* The path of a value below a part of the context (prefix, formatted with
 * path_text), one step per level (the frame scanner bounds depth). */
#define WALK_DEPTH 40
typedef struct walk {
    const path_t *prefix;
    const msgpack_object *key[WALK_DEPTH];   /* the map key, or NULL for an array index */
    uint32_t index[WALK_DEPTH];
    int depth;
    arb_arena_t *arena;
} walk_t;

static __attribute__((noinline, cold)) int
walk_error(const walk_t *w, const char *what, arb_err_t *err)
{
    char where[200];
    path_text(w->prefix, where, sizeof where);
    size_t n = strlen(where);
    for (int d = 0; d < w->depth && n < sizeof where - 1; d++) {
        const msgpack_object *k = w->key[d];
        int m;
        if (!k) m = snprintf(where + n, sizeof where - n, "[%u]", w->index[d]);
        else if (k->type == MSGPACK_OBJECT_STR || k->type == MSGPACK_OBJECT_BIN)
            m = snprintf(where + n, sizeof where - n, "%s%.*s", n ? "." : "",
                         (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr);
        else m = snprintf(where + n, sizeof where - n, "%s<%s key>", n ? "." : "", type_name(k));
        if (m < 0) break;
        n += (size_t)m;
        if (n >= sizeof where) n = sizeof where - 1;
    }
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: %s", n ? where : "context", what);
}

static inline bool nested(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_MAP || v->type == MSGPACK_OBJECT_ARRAY ||
           v->type == MSGPACK_OBJECT_BIN || v->type == MSGPACK_OBJECT_EXT;
}

static int walk_value(walk_t *w, const msgpack_object *o, arb_err_t *err);

static int walk_map(walk_t *w, const msgpack_object *o, arb_err_t *err)
{
    uint32_t n = o->via.map.size;
    const msgpack_object_kv *kv = o->via.map.ptr;
    int dup = map_dup(kv, n, w->arena);
    if (dup == -2) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    if (dup == -3) return walk_error(w, "a map key must not be NaN", err);
    if (dup >= 0) {
        w->key[w->depth] = &kv[dup].key;
        w->depth++;
        return walk_error(w, "duplicate key: a map may hold each key once", err);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!nested(&kv[i].val)) continue;
        w->key[w->depth] = &kv[i].key;
        w->depth++;
        if (walk_value(w, &kv[i].val, err) < 0) return -1;
        w->depth--;
    }
    return 0;
}

static int walk_value(walk_t *w, const msgpack_object *o, arb_err_t *err)
{
    if (w->depth >= WALK_DEPTH) return walk_error(w, "nested too deeply", err);
    switch (o->type) {
    case MSGPACK_OBJECT_MAP: return walk_map(w, o, err);
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *v = &o->via.array.ptr[i];
            if (!nested(v)) continue;
            w->key[w->depth] = NULL;
            w->index[w->depth] = i;
            w->depth++;
            if (walk_value(w, v, err) < 0) return -1;
            w->depth--;
        }
        return 0;
    case MSGPACK_OBJECT_BIN:
        return walk_error(w, "binary is not allowed in a context: send a string", err);
    case MSGPACK_OBJECT_EXT:
        return walk_error(w, "extension types are not allowed in a context", err);
    default: return 0;
    }
}

/* A value rules read as a whole (attributes), at path: every depth. */
static int check_value(const msgpack_object *o, const path_t *path, arb_arena_t *arena,
                       arb_err_t *err)
{
    walk_t w = { .prefix = path, .depth = 0, .arena = arena };
    return walk_value(&w, o, err);
}

/* A part of the context the typed walk read (location, weather, a purchase,
 * an event) that has keys it does not know: those keys may repeat, and their
 * values are read by Lua, so the map is checked whole. Rare: clean contexts
 * never come here. */
static __attribute__((noinline)) int check_rest(const msgpack_object *o, const path_t *path,
                                                arb_arena_t *arena, arb_err_t *err)
{
    return check_value(o, path, arena, err);
}

/* Parse an array of maps into n records of `size` bytes, each starting
 * zeroed with ts = INT64_MIN so a missing ts is caught. */
static inline __attribute__((always_inline)) int
get_records(const msgpack_object *o, const char *name, size_t size, field_fn field,
                       void **out, uint32_t *n, arb_arena_t *arena, arb_err_t *err)
{
    path_t path = { name, -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_ARRAY) return wrong(err, &path, "an array", o);
    uint32_t count = o->via.array.size;
    char *recs = count ? arb_arena_alloc(arena, size * count) : NULL;
    if (count && !recs) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        path_t sub = { name, i, { NULL, 0 } };
        void *rec = recs + i * size;
        memset(rec, 0, size);
        int64_t *ts = (int64_t *)((char *)rec + (field == purchase_field
                                                     ? offsetof(arb_purchase_t, ts)
                                                     : offsetof(arb_event_t, ts)));
        *ts = INT64_MIN;
        bool unknown = false;
        if (each_field(&o->via.array.ptr[i], &sub, rec, field, &unknown, err) < 0) return -1;
        if (*ts == INT64_MIN) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s.ts: required",
                               path_text(&sub, where, sizeof where));
        }
        if (unknown && check_rest(&o->via.array.ptr[i], &sub, arena, err) < 0) return -1;
    }
    *out = recs;
    *n = count;
    return 0;
}

/* A string key of at most 7 bytes as a number whose order is the keys'
 * byte order: the bytes from the top, the length in the low byte to break
 * ties ("ab" < "ab\0"). Different keys have different ranks, so a map whose
 * keys rise in it (a sorted map, as most senders build one) holds each key
 * once, known without a table. Keys of 4 to 7 bytes are read as two
 * overlapping words (their first and last 4 bytes), shorter ones byte by
 * byte. */
static inline __attribute__((always_inline)) uint64_t short_key_rank(const unsigned char *p,
                                                                     uint32_t len)
{
    if (len >= 4) {
        uint32_t a = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        const unsigned char *q = p + len - 4;
        uint32_t b = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        return ((uint64_t)a << 32 | (uint64_t)b << (8 * (8 - len))) | len;
    }
    uint64_t rank = len;
    switch (len) {
    case 3: rank |= (uint64_t)p[2] << 40; /* fall through */
    case 2: rank |= (uint64_t)p[1] << 48; /* fall through */
    case 1: rank |= (uint64_t)p[0] << 56; /* fall through */
    default: return rank;
    }
}

/* The keys of scores or consent (all strings, checked by the caller) each
 * once. */
static int check_keys(const msgpack_object *o, const char *name, arb_arena_t *arena,
                      arb_err_t *err)
{
    int dup = map_dup(o->via.map.ptr, o->via.map.size, arena);
    if (dup == -1) return 0;
    if (dup == -2) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    const msgpack_object *k = &o->via.map.ptr[dup].key;
    path_t path = { name, -1, { k->via.str.ptr, k->via.str.size } };
    return dup_error(&path, err);
}

static int get_scores(const msgpack_object *o, arb_context_t *ctx, arb_arena_t *arena,
                      arb_err_t *err)
{
    path_t path = { "scores", -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_MAP) return wrong(err, &path, "a map", o);
    uint32_t n = o->via.map.size;
    arb_score_t *s = n ? arb_arena_alloc(arena, sizeof *s * n) : NULL;
    if (n && !s) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    bool rising = true;   /* every key short and above the one before (short_key_rank) */
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return arb_err_set(err, ARB_INVALID_PARAMS, "scores: keys must be strings");
        s[i].model = (arb_str_t){ kv->key.via.str.ptr, kv->key.via.str.size };
        if (rising) {
            uint32_t len = s[i].model.len;
            uint64_t rank = len <= 7 ? short_key_rank((const unsigned char *)s[i].model.ptr, len) : 0;
            rising = rank > prev;   /* 0 for long keys: not rising */
            prev = rank;
        }
        path.key = s[i].model;
        if (get_num(&kv->val, &path, &s[i].value, err) < 0) return -1;
        if (s[i].value < 0 || s[i].value > 1) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: a score is a propensity, between 0 and 1",
                               path_text(&path, where, sizeof where));
        }
    }
    ctx->scores = s;
    ctx->n_scores = n;
    return rising ? 0 : check_keys(o, "scores", arena, err);
}

static int get_consent(const msgpack_object *o, arb_context_t *ctx, arb_arena_t *arena,
                       arb_err_t *err)
{
    path_t path = { "consent", -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_MAP) return wrong(err, &path, "a map", o);
    uint32_t n = o->via.map.size;
    arb_consent_t *c = n ? arb_arena_alloc(arena, sizeof *c * n) : NULL;
    if (n && !c) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return arb_err_set(err, ARB_INVALID_PARAMS, "consent: keys must be strings");
        c[i].name = (arb_str_t){ kv->key.via.str.ptr, kv->key.via.str.size };
        for (uint32_t j = 0; j < i && n <= 8; j++)   /* a handful of names: pair by pair */
            if (c[j].name.len == c[i].name.len &&
                (c[i].name.len == 0 || memcmp(c[j].name.ptr, c[i].name.ptr, c[i].name.len) == 0)) {
                path.key = c[i].name;
                return dup_error(&path, err);
            }
        path.key = c[i].name;
        if (get_bool(&kv->val, &path, &c[i].given, err) < 0) return -1;
    }
    ctx->consent = c;
    ctx->n_consent = n;
    return n <= 8 ? 0 : check_keys(o, "consent", arena, err);
}

static int location_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                          arb_err_t *err)
{
    arb_context_t *ctx = out;
    if (ARB_STR_IS(key, "lat")) FIELD(0, get_num(v, path, &ctx->lat, err));
    if (ARB_STR_IS(key, "lon")) FIELD(1, get_num(v, path, &ctx->lon, err));
    if (ARB_STR_IS(key, "store_id")) FIELD(2, get_str(v, path, &ctx->store_id, err));
    if (ARB_STR_IS(key, "country")) FIELD(3, get_str(v, path, &ctx->country, err));
    return FIELD_UNKNOWN;
}

static int weather_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                         arb_err_t *err)
{
    arb_context_t *ctx = out;
    if (ARB_STR_IS(key, "temp_c")) {
        ctx->has_temp = true;
        FIELD(0, get_num(v, path, &ctx->temp_c, err));
    }
    if (ARB_STR_IS(key, "condition")) FIELD(1, get_str(v, path, &ctx->condition, err));
    return FIELD_UNKNOWN;
}

/* What the top-level walk needs besides the context being filled. */
typedef struct parse_state {
    arb_context_t *ctx;
    arb_arena_t *arena;
} parse_state_t;

static int context_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                         arb_err_t *err)
{
    parse_state_t *st = out;
    arb_context_t *ctx = st->ctx;
    bool unknown = false;
    if (ARB_STR_IS(key, "customer_id")) FIELD(0, get_str(v, path, &ctx->customer_id, err));
    if (ARB_STR_IS(key, "channel")) FIELD(1, get_str(v, path, &ctx->channel, err));
    if (ARB_STR_IS(key, "touchpoint")) FIELD(2, get_str(v, path, &ctx->touchpoint, err));
    if (ARB_STR_IS(key, "now")) {
        ctx->now_given = true;
        FIELD(3, get_time(v, path, &ctx->now, err));
    }
    if (ARB_STR_IS(key, "limit")) {
        if (get_int(v, path, &ctx->limit, err) < 0) return -1;
        if (ctx->limit < 1 || ctx->limit > 1000)
            return arb_err_set(err, ARB_INVALID_PARAMS, "limit: must be between 1 and 1000");
        return 4;
    }
    if (ARB_STR_IS(key, "explain")) FIELD(5, get_bool(v, path, &ctx->explain, err));
    if (ARB_STR_IS(key, "deadline_ms")) {
        if (get_int(v, path, &ctx->deadline_ms, err) < 0) return -1;
        if (ctx->deadline_ms < 1)
            return arb_err_set(err, ARB_INVALID_PARAMS, "deadline_ms: must be at least 1");
        return 6;
    }
    if (ARB_STR_IS(key, "location")) {
        ctx->has_location = true;
        ctx->location = v;
        path_t sub = { "location", -1, { NULL, 0 } };
        if (each_field(v, &sub, ctx, location_field, &unknown, err) < 0) return -1;
        FIELD(7, unknown ? check_rest(v, &sub, st->arena, err) : 0);
    }
    if (ARB_STR_IS(key, "weather")) {
        ctx->has_weather = true;
        ctx->weather = v;
        path_t sub = { "weather", -1, { NULL, 0 } };
        if (each_field(v, &sub, ctx, weather_field, &unknown, err) < 0) return -1;
        FIELD(8, unknown ? check_rest(v, &sub, st->arena, err) : 0);
    }
    if (ARB_STR_IS(key, "attributes")) {
        if (v->type != MSGPACK_OBJECT_MAP) return wrong(err, path, "a map", v);
        ctx->attributes = v;
        path_t sub = { "attributes", -1, { NULL, 0 } };
        FIELD(9, check_value(v, &sub, st->arena, err));
    }
    if (ARB_STR_IS(key, "consent")) FIELD(10, get_consent(v, ctx, st->arena, err));
    if (ARB_STR_IS(key, "scores")) FIELD(11, get_scores(v, ctx, st->arena, err));
    if (ARB_STR_IS(key, "purchases"))
        FIELD(12, get_records(v, "purchases", sizeof(arb_purchase_t), purchase_field,
                              (void **)&ctx->purchases, &ctx->n_purchases, st->arena, err));
    if (ARB_STR_IS(key, "events"))
        FIELD(13, get_records(v, "events", sizeof(arb_event_t), event_field,
                              (void **)&ctx->events, &ctx->n_events, st->arena, err));
    return FIELD_UNKNOWN; /* unknown keys are ignored, their values read by no one */
}

static int require_str(arb_str_t s, const char *name, arb_err_t *err)
{
    if (s.ptr == NULL) return arb_err_set(err, ARB_INVALID_PARAMS, "%s: required", name);
    if (s.len == 0) return arb_err_set(err, ARB_INVALID_PARAMS, "%s: must not be empty", name);
    return 0;
}

int arb_context_parse(const msgpack_object *o, int64_t now_default, arb_context_t *ctx,
                      arb_arena_t *arena, arb_err_t *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (o->type != MSGPACK_OBJECT_MAP)
        return arb_err_set(err, ARB_INVALID_PARAMS, "context: expected a map, got %s",
                           type_name(o));
    parse_state_t st = { ctx, arena };
    path_t top = { "", -1, { NULL, 0 } };
    bool unknown = false;
    if (each_field(o, &top, &st, context_field, &unknown, err) < 0) return -1;
    if (unknown) {   /* known keys were counted; an unknown one may repeat too */
        int dup = map_dup(o->via.map.ptr, o->via.map.size, arena);
        if (dup == -2) return arb_err_set(err, ARB_INTERNAL, "out of memory");
        if (dup >= 0) {
            const msgpack_object *k = &o->via.map.ptr[dup].key;
            top.key = (arb_str_t){ k->via.str.ptr, k->via.str.size };
            return dup_error(&top, err);
        }
    }
    if (require_str(ctx->customer_id, "customer_id", err) < 0 ||
        require_str(ctx->channel, "channel", err) < 0 ||
        require_str(ctx->touchpoint, "touchpoint", err) < 0)
        return -1;
    ctx->has_coords = ctx->location && arb_msgpack_map_get(ctx->location, "lat") &&
                      arb_msgpack_map_get(ctx->location, "lon");
    if (!ctx->now_given) ctx->now = now_default;
    ctx->raw = o;
    return 0;
}
