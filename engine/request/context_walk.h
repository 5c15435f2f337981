/* Inside request/ only: the checks of one context field, shared by the two
 * context parsers, context.c (over msgpack-c's object tree) and
 * context_bytes.c (straight from the bytes), so both accept and refuse the
 * same contexts with the same words. Values only, no I/O (the folder's
 * rule). Each check takes one msgpack_object: a scalar whole, or a
 * container as its header (type and size; context_bytes.c gives no
 * elements, so a check only ever looks at a container's type to refuse
 * it). Everything is static inline: the decide path inlines it into each
 * walk, as the one walk of context.c did before.
 */
#ifndef ARB_CONTEXT_WALK_H
#define ARB_CONTEXT_WALK_H

#include <math.h>
#include <stddef.h>

#include "engine/request/context.h"
#include "engine/request/context_int.h"

/* Unix times from year 1 to year 9999: far enough for any calendar, near
 * enough that differences of two never overflow. */
#define ARB_TIME_MIN (-62135596800LL)
#define ARB_TIME_MAX 253402300799LL

static inline __attribute__((always_inline)) int
get_str(const msgpack_object *o, const path_t *path, arb_str_t *out, arb_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR) return arb__ctx_wrong(err, path, "a string", o);
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

static inline __attribute__((always_inline)) int
get_int(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) { *out = o->via.i64; return 0; }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX) {
            char where[160];
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: integer out of range",
                               arb__ctx_path_text(path, where, sizeof where));
        }
        *out = (int64_t)o->via.u64;
        return 0;
    }
    return arb__ctx_wrong(err, path, "an integer", o);
}

static inline __attribute__((always_inline)) int
get_time(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err)
{
    if (get_int(o, path, out, err) < 0) return -1;
    if (*out >= ARB_TIME_MIN && *out <= ARB_TIME_MAX) return 0;
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: a unix time between years 1 and 9999",
                       arb__ctx_path_text(path, where, sizeof where));
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
                               arb__ctx_path_text(path, where, sizeof where));
        }
        *out = o->via.f64;
        return 0;
    default: return arb__ctx_wrong(err, path, "a number", o);
    }
}

static inline __attribute__((always_inline)) int
get_bool(const msgpack_object *o, const path_t *path, bool *out, arb_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN) return arb__ctx_wrong(err, path, "a boolean", o);
    *out = o->via.boolean;
    return 0;
}

/* The bit of each top-level key a context_field call reports, for the
 * parts context_bytes.c reads itself. */
enum { CTX_BIT_LOCATION = 7, CTX_BIT_WEATHER = 8, CTX_BIT_ATTRIBUTES = 9, CTX_BIT_CONSENT = 10,
       CTX_BIT_SCORES = 11, CTX_BIT_PURCHASES = 12, CTX_BIT_EVENTS = 13 };

/* "<path>: keys must be strings" ("context" at the top). */
__attribute__((cold)) int arb__ctx_keys_error(const path_t *path, arb_err_t *err);

/* A map key the walk met: it must be a string. */
static inline __attribute__((always_inline)) int
key_str(const msgpack_object *k, const path_t *path, arb_str_t *key, arb_err_t *err)
{
    if (k->type != MSGPACK_OBJECT_STR) return arb__ctx_keys_error(path, err);
    *key = (arb_str_t){ k->via.str.ptr, k->via.str.size };
    return 0;
}

/* A field function's answer for key sub.key folded into *seen: a known
 * key seen twice is a duplicate, caught for the price of an AND; unknown
 * keys are rare, and *unknown tells the caller to check the whole map the
 * slow way (arb__ctx_check_value). */
static inline __attribute__((always_inline)) int
field_seen(int bit, uint32_t *seen, bool *unknown, const path_t *sub, arb_err_t *err)
{
    if (bit < 0) return -1;
    if (bit == FIELD_UNKNOWN) {
        *unknown = true;
        return 0;
    }
    if (*seen & (1u << bit)) return arb__ctx_dup_error(sub, err);
    *seen |= 1u << bit;
    return 0;
}

static inline __attribute__((always_inline)) int purchase_field(void *out, arb_str_t key, const msgpack_object *v,
                                 const path_t *path, arb_err_t *err)
{
    arb_purchase_t *p = out;
    /* The length picks the one key it can be (see context_field). */
    switch (key.len) {
    case 3: if (ARB_STR_IS(key, "sku")) FIELD(0, get_str(v, path, &p->sku, err)); break;
    case 8: if (ARB_STR_IS(key, "category")) FIELD(1, get_str(v, path, &p->category, err)); break;
    case 7: if (ARB_STR_IS(key, "channel")) FIELD(2, get_str(v, path, &p->channel, err)); break;
    case 5: if (ARB_STR_IS(key, "price")) FIELD(3, get_num(v, path, &p->price, err)); break;
    case 2: if (ARB_STR_IS(key, "ts")) FIELD(4, get_time(v, path, &p->ts, err)); break;
    default: break;
    }
    return FIELD_UNKNOWN;
}

static inline __attribute__((always_inline)) int event_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                              arb_err_t *err)
{
    arb_ctx_event_t *e = out;
    switch (key.len) {
    case 4: if (ARB_STR_IS(key, "type")) FIELD(0, get_str(v, path, &e->type, err)); break;
    case 3: if (ARB_STR_IS(key, "sku")) FIELD(1, get_str(v, path, &e->sku, err)); break;
    case 8: if (ARB_STR_IS(key, "category")) FIELD(2, get_str(v, path, &e->category, err)); break;
    case 2: if (ARB_STR_IS(key, "ts")) FIELD(3, get_time(v, path, &e->ts, err)); break;
    default: break;
    }
    return FIELD_UNKNOWN;
}

static inline int location_field(void *out, arb_str_t key, const msgpack_object *v,
                                 const path_t *path, arb_err_t *err)
{
    arb_context_t *ctx = out;
    if (ARB_STR_IS(key, "lat")) FIELD(0, get_num(v, path, &ctx->lat, err));
    if (ARB_STR_IS(key, "lon")) FIELD(1, get_num(v, path, &ctx->lon, err));
    if (ARB_STR_IS(key, "store_id")) FIELD(2, get_str(v, path, &ctx->store_id, err));
    if (ARB_STR_IS(key, "country")) FIELD(3, get_str(v, path, &ctx->country, err));
    return FIELD_UNKNOWN;
}

static inline int weather_field(void *out, arb_str_t key, const msgpack_object *v,
                                const path_t *path, arb_err_t *err)
{
    arb_context_t *ctx = out;
    if (ARB_STR_IS(key, "temp_c")) {
        ctx->has_temp = true;
        FIELD(0, get_num(v, path, &ctx->temp_c, err));
    }
    if (ARB_STR_IS(key, "condition")) FIELD(1, get_str(v, path, &ctx->condition, err));
    return FIELD_UNKNOWN;
}

/* Record rec of `size` bytes starts zeroed with ts = INT64_MIN, so a
 * missing ts is caught (record_done); returns where its ts is. */
static inline __attribute__((always_inline)) int64_t *
record_start(void *rec, size_t size, bool purchase)
{
    memset(rec, 0, size);
    int64_t *ts = (int64_t *)((char *)rec + (purchase ? offsetof(arb_purchase_t, ts)
                                                      : offsetof(arb_ctx_event_t, ts)));
    *ts = INT64_MIN;
    return ts;
}

static inline __attribute__((always_inline)) int record_done(int64_t ts, const path_t *sub,
                                                             arb_err_t *err)
{
    if (ts != INT64_MIN) return 0;
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s.ts: required",
                       arb__ctx_path_text(sub, where, sizeof where));
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

/* Score entry (key, val) into *s; *rising stays true while every key is
 * short and above the one before (short_key_rank, *prev), else the caller
 * checks the keys whole (arb__ctx_check_keys). path: "scores". */
static inline __attribute__((always_inline)) int
score_entry(const msgpack_object *key, const msgpack_object *val, path_t *path, arb_score_t *s,
            bool *rising, uint64_t *prev, arb_err_t *err)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return arb_err_set(err, ARB_INVALID_PARAMS, "scores: keys must be strings");
    s->model = (arb_str_t){ key->via.str.ptr, key->via.str.size };
    if (*rising) {
        uint32_t len = s->model.len;
        uint64_t rank = len <= 7 ? short_key_rank((const unsigned char *)s->model.ptr, len) : 0;
        *rising = rank > *prev;   /* 0 for long keys: not rising */
        *prev = rank;
    }
    path->key = s->model;
    if (get_num(val, path, &s->value, err) < 0) return -1;
    if (s->value < 0 || s->value > 1) {
        char where[160];
        return arb_err_set(err, ARB_INVALID_PARAMS, "%s: a score is a propensity, between 0 and 1",
                           arb__ctx_path_text(path, where, sizeof where));
    }
    return 0;
}

/* Consent entry i of n (key, val) into c[i]: a handful of names are
 * compared pair by pair, more are checked whole by the caller
 * (arb__ctx_check_keys when n > 8). path: "consent". */
static inline __attribute__((always_inline)) int
consent_entry(const msgpack_object *key, const msgpack_object *val, arb_ctx_consent_t *c,
              uint32_t i, uint32_t n, path_t *path, arb_err_t *err)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return arb_err_set(err, ARB_INVALID_PARAMS, "consent: keys must be strings");
    c[i].name = (arb_str_t){ key->via.str.ptr, key->via.str.size };
    for (uint32_t j = 0; j < i && n <= 8; j++)
        if (c[j].name.len == c[i].name.len &&
            (c[i].name.len == 0 || memcmp(c[j].name.ptr, c[i].name.ptr, c[i].name.len) == 0)) {
            path->key = c[i].name;
            return arb__ctx_dup_error(path, err);
        }
    path->key = c[i].name;
    return get_bool(val, path, &c[i].given, err);
}

/* context.c's entries for context_bytes.c: */

/* One top-level key of the context with its value v (a scalar, or a part
 * the caller hands over whole as an object): the bit of the key, or
 * FIELD_UNKNOWN, or -1 with *err. out is a parse_state_t. */
typedef struct parse_state {
    arb_context_t *ctx;
    arb_arena_t *arena;
} parse_state_t;
int arb__ctx_top_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                       arb_err_t *err);

/* The keys of map o (scores or consent, all strings) each once. */
int arb__ctx_check_keys(const msgpack_object *o, const char *name, arb_arena_t *arena,
                        arb_err_t *err);

/* The top-level map o, which held keys the walk does not know: no key
 * twice. */
int arb__ctx_top_dup(const msgpack_object *o, arb_arena_t *arena, arb_err_t *err);

/* After the walk: the required strings, and now_default when no now. */
int arb__ctx_required(arb_context_t *ctx, int64_t now_default, arb_err_t *err);

#endif
