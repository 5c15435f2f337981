/* One context for C and Lua: the checks that make C's view of a context
 * (context.c, eval.c's lookups) and Lua's tables of it (bindings/lua/context.c)
 * see the same thing. Values only, no I/O (the request folder's rule); split
 * from context.c, which calls in here only for maps it cannot vouch for.
 */
#include "engine/request/context_int.h"

#include <math.h>

/* C reads a context through context.c's view and eval.c's lookups; plain
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
static inline int map_dup(const msgpack_object_kv *kv, uint32_t n, arb_arena_t *arena)
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
    arb__ctx_path_text(w->prefix, where, sizeof where);
    size_t n = strlen(where);
    for (int d = 0; d < w->depth && n < sizeof where - 1; d++) {
        const msgpack_object *k = w->key[d];
        int m;
        if (!k) m = snprintf(where + n, sizeof where - n, "[%u]", w->index[d]);
        else if (k->type == MSGPACK_OBJECT_STR || k->type == MSGPACK_OBJECT_BIN)
            m = snprintf(where + n, sizeof where - n, "%s%.*s", n ? "." : "",
                         (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr);
        else m = snprintf(where + n, sizeof where - n, "%s<%s key>", n ? "." : "",
                          arb__ctx_type_name(k));
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
int arb__ctx_check_value(const msgpack_object *o, const path_t *path, arb_arena_t *arena,
                             arb_err_t *err)
{
    walk_t w = { .prefix = path, .depth = 0, .arena = arena };
    return walk_value(&w, o, err);
}

/* context.c's entry to the same check, for the rare maps it cannot vouch
 * for; map_dup itself stays static so walk_map inlines it. */
int arb__ctx_map_dup(const msgpack_object_kv *kv, uint32_t n, arb_arena_t *arena)
{
    return map_dup(kv, n, arena);
}
