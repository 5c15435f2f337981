/* Checking a decide context (see context.h). Every rejection names the field
 * as a path a caller can find in their own payload: "purchases[3].ts". */
#include "engine/request/context.h"

#include "engine/base/civil.h"
#include "engine/request/context_walk.h"

#include <math.h>
#include <stdlib.h>

bool arb_context_consent(const arb_context_t *ctx, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ctx->n_consent; i++)
        if (ctx->consent[i].name.len == len &&
            (len == 0 || memcmp(ctx->consent[i].name.ptr, name, len) == 0))
            return ctx->consent[i].given;
    return false;
}

const char *arb__ctx_type_name(const msgpack_object *o)
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

const char *arb__ctx_path_text(const path_t *p, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", p->base);
    if (p->index >= 0 && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, "[%lld]", (long long)p->index);
    if (p->key.ptr && len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, "%s%.*s", *buf ? "." : "",
                 (int)(p->key.len > 64 ? 64 : p->key.len), p->key.ptr);
    return buf;
}

/* "<path>: expected <want>, got <what o is>" (context_int.h). */
__attribute__((noinline, cold)) int
arb__ctx_wrong(arb_err_t *err, const path_t *path, const char *want, const msgpack_object *o)
{
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: expected %s, got %s",
                       arb__ctx_path_text(path, where, sizeof where), want, arb__ctx_type_name(o));
}

/* "<path>: duplicate key: a map may hold each key once" (context_int.h). */
__attribute__((noinline, cold)) int arb__ctx_dup_error(const path_t *path, arb_err_t *err)
{
    char where[160];
    arb__ctx_path_text(path, where, sizeof where);
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: duplicate key: a map may hold each key once",
                       *where ? where : "context");   /* the empty key at the top */
}

__attribute__((noinline, cold)) int arb__ctx_keys_error(const path_t *path, arb_err_t *err)
{
    char where[160];
    const char *at = *path->base ? arb__ctx_path_text(path, where, sizeof where) : "context";
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: keys must be strings", at);
}

#define wrong arb__ctx_wrong
#define dup_error arb__ctx_dup_error

/* Walk the str-keyed map o, calling field(key, value) for each entry and
 * folding its answer in (field_seen). field_fn: context_int.h.
 * Inlined into each caller, so field() is a direct call the compiler can
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
        if (key_str(&o->via.map.ptr[i].key, path, &sub.key, err) < 0) return -1;
        int bit = field(out, sub.key, &o->via.map.ptr[i].val, &sub, err);
        if (field_seen(bit, &seen, unknown, &sub, err) < 0) return -1;
    }
    return 0;
}

/* A part of the context the typed walk read (location, weather, a purchase,
 * an event) that has keys it does not know: those keys may repeat, and their
 * values are read by Lua, so the map is checked whole. Rare: clean contexts
 * never come here. */
static __attribute__((noinline)) int check_rest(const msgpack_object *o, const path_t *path,
                                                arb_arena_t *arena, arb_err_t *err)
{
    return arb__ctx_check_value(o, path, arena, err);
}

/* Parse an array of maps into n records of `size` bytes, each starting
 * zeroed with ts = INT64_MIN so a missing ts is caught. */
static inline __attribute__((always_inline)) int
get_records(const msgpack_object *o, const char *name, size_t size, field_fn field,
            const msgpack_object **raw, void **out, uint32_t *n, arb_arena_t *arena, arb_err_t *err)
{
    *raw = o;   /* recfield.c reads the fields the walk does not know from here */
    path_t path = { name, -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_ARRAY) return wrong(err, &path, "an array", o);
    uint32_t count = o->via.array.size;
    char *recs = count ? arb_arena_alloc(arena, size * count) : NULL;
    if (count && !recs) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        path_t sub = { name, i, { NULL, 0 } };
        void *rec = recs + i * size;
        int64_t *ts = record_start(rec, size, field == purchase_field);
        bool unknown = false;
        if (each_field(&o->via.array.ptr[i], &sub, rec, field, &unknown, err) < 0) return -1;
        if (record_done(*ts, &sub, err) < 0) return -1;
        if (unknown && check_rest(&o->via.array.ptr[i], &sub, arena, err) < 0) return -1;
    }
    *out = recs;
    *n = count;
    return 0;
}

/* The keys of scores or consent (all strings, checked by the caller) each
 * once. */
int arb__ctx_check_keys(const msgpack_object *o, const char *name, arb_arena_t *arena,
                        arb_err_t *err)
{
    int dup = arb__ctx_map_dup(o->via.map.ptr, o->via.map.size, arena);
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
        if (score_entry(&kv->key, &kv->val, &path, &s[i], &rising, &prev, err) < 0) return -1;
    }
    ctx->scores = s;
    ctx->n_scores = n;
    return rising ? 0 : arb__ctx_check_keys(o, "scores", arena, err);
}

static int get_consent(const msgpack_object *o, arb_context_t *ctx, arb_arena_t *arena,
                       arb_err_t *err)
{
    path_t path = { "consent", -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_MAP) return wrong(err, &path, "a map", o);
    uint32_t n = o->via.map.size;
    arb_ctx_consent_t *c = n ? arb_arena_alloc(arena, sizeof *c * n) : NULL;
    if (n && !c) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (consent_entry(&kv->key, &kv->val, c, i, n, &path, err) < 0) return -1;
    }
    ctx->consent = c;
    ctx->n_consent = n;
    return n <= 8 ? 0 : arb__ctx_check_keys(o, "consent", arena, err);
}

/* A fixed UTC offset. IANA names ("Europe/Paris") would need the tz
 * database read on the deciding thread: refused, with what to send. */
static int get_timezone(const msgpack_object *v, const path_t *path, arb_context_t *ctx,
                        arb_err_t *err)
{
    if (get_str(v, path, &ctx->timezone, err) < 0) return -1;
    if (arb_civil_offset_parse(ctx->timezone.ptr, ctx->timezone.len, &ctx->tz_offset_minutes) < 0)
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "timezone: expected an offset such as +02:00, -05:30 or Z");
    ctx->has_timezone = true;
    return 0;
}

/* A part of the context whose known keys fill ctx (location, weather),
 * checked whole when it holds others. */
static inline __attribute__((always_inline)) int
get_part(const msgpack_object *v, const char *name, arb_context_t *ctx, field_fn field,
         arb_arena_t *arena, arb_err_t *err)
{
    path_t sub = { name, -1, { NULL, 0 } };
    bool unknown = false;
    if (each_field(v, &sub, ctx, field, &unknown, err) < 0) return -1;
    return unknown ? check_rest(v, &sub, arena, err) : 0;
}

/* A top-level key by its length first: a context sends about ten of them,
 * and the length leaves at most five names to compare, each a compare of
 * a few words (ARB_STR_IS). */
static int context_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                         arb_err_t *err)
{
    parse_state_t *st = out;
    arb_context_t *ctx = st->ctx;
    switch (key.len) {
    case 3:
        if (ARB_STR_IS(key, "now")) {
            ctx->now_given = true;
            FIELD(3, get_time(v, path, &ctx->now, err));
        }
        break;
    case 5:
        if (ARB_STR_IS(key, "limit")) {
            if (get_int(v, path, &ctx->limit, err) < 0) return -1;
            if (ctx->limit < 1 || ctx->limit > 1000)
                return arb_err_set(err, ARB_INVALID_PARAMS, "limit: must be between 1 and 1000");
            return 4;
        }
        break;
    case 6:
        if (ARB_STR_IS(key, "scores")) FIELD(11, get_scores(v, ctx, st->arena, err));
        if (ARB_STR_IS(key, "events"))
            FIELD(13, get_records(v, "events", sizeof(arb_ctx_event_t), event_field, &ctx->raw_events,
                                  (void **)&ctx->events, &ctx->n_events, st->arena, err));
        break;
    case 7:
        if (ARB_STR_IS(key, "channel")) FIELD(1, get_str(v, path, &ctx->channel, err));
        if (ARB_STR_IS(key, "consent")) FIELD(10, get_consent(v, ctx, st->arena, err));
        if (ARB_STR_IS(key, "weather")) {
            ctx->has_weather = true;
            ctx->weather = v;
            FIELD(8, get_part(v, "weather", ctx, weather_field, st->arena, err));
        }
        if (ARB_STR_IS(key, "explain")) FIELD(5, get_bool(v, path, &ctx->explain, err));
        if (ARB_STR_IS(key, "preview")) FIELD(14, get_bool(v, path, &ctx->preview, err));
        break;
    case 8:
        if (ARB_STR_IS(key, "location")) {
            ctx->has_location = true;
            ctx->location = v;
            FIELD(7, get_part(v, "location", ctx, location_field, st->arena, err));
        }
        if (ARB_STR_IS(key, "timezone")) FIELD(15, get_timezone(v, path, ctx, err));
        break;
    case 9:
        if (ARB_STR_IS(key, "purchases"))
            FIELD(12, get_records(v, "purchases", sizeof(arb_purchase_t), purchase_field,
                                  &ctx->raw_purchases, (void **)&ctx->purchases, &ctx->n_purchases,
                                  st->arena, err));
        break;
    case 10:
        if (ARB_STR_IS(key, "touchpoint")) FIELD(2, get_str(v, path, &ctx->touchpoint, err));
        if (ARB_STR_IS(key, "attributes")) {
            if (v->type != MSGPACK_OBJECT_MAP) return wrong(err, path, "a map", v);
            ctx->attributes = v;
            path_t sub = { "attributes", -1, { NULL, 0 } };
            FIELD(9, arb__ctx_check_value(v, &sub, st->arena, err));
        }
        break;
    case 11:
        if (ARB_STR_IS(key, "customer_id")) FIELD(0, get_str(v, path, &ctx->customer_id, err));
        if (ARB_STR_IS(key, "deadline_ms")) {
            if (get_int(v, path, &ctx->deadline_ms, err) < 0) return -1;
            if (ctx->deadline_ms < 1)
                return arb_err_set(err, ARB_INVALID_PARAMS, "deadline_ms: must be at least 1");
            return 6;
        }
        break;
    default: break;
    }
    return FIELD_UNKNOWN; /* unknown keys are ignored, their values read by no one */
}

static int require_str(arb_str_t s, const char *name, arb_err_t *err)
{
    if (s.ptr == NULL) return arb_err_set(err, ARB_INVALID_PARAMS, "%s: required", name);
    if (s.len == 0) return arb_err_set(err, ARB_INVALID_PARAMS, "%s: must not be empty", name);
    return 0;
}

int arb__ctx_top_dup(const msgpack_object *o, arb_arena_t *arena, arb_err_t *err)
{
    int dup = arb__ctx_map_dup(o->via.map.ptr, o->via.map.size, arena);
    if (dup == -2) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    if (dup < 0) return 0;
    const msgpack_object *k = &o->via.map.ptr[dup].key;
    path_t top = { "", -1, { k->via.str.ptr, k->via.str.size } };
    return dup_error(&top, err);
}

static inline __attribute__((always_inline)) int required(arb_context_t *ctx, int64_t now_default,
                                                          arb_err_t *err)
{
    if (require_str(ctx->customer_id, "customer_id", err) < 0 ||
        require_str(ctx->channel, "channel", err) < 0 ||
        require_str(ctx->touchpoint, "touchpoint", err) < 0)
        return -1;
    if (!ctx->now_given) ctx->now = now_default;
    return 0;
}

int arb__ctx_required(arb_context_t *ctx, int64_t now_default, arb_err_t *err)
{
    return required(ctx, now_default, err);
}

int arb__ctx_top_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                       arb_err_t *err)
{
    return context_field(out, key, v, path, err);
}

int arb_context_parse(const msgpack_object *o, int64_t now_default, arb_context_t *ctx,
                      arb_arena_t *arena, arb_err_t *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (o->type != MSGPACK_OBJECT_MAP)
        return arb_err_set(err, ARB_INVALID_PARAMS, "context: expected a map, got %s",
                           arb__ctx_type_name(o));
    parse_state_t st = { ctx, arena };
    path_t top = { "", -1, { NULL, 0 } };
    bool unknown = false;
    if (each_field(o, &top, &st, context_field, &unknown, err) < 0) return -1;
    /* known keys were counted; an unknown one may repeat too */
    if (unknown && arb__ctx_top_dup(o, arena, err) < 0) return -1;
    if (required(ctx, now_default, err) < 0) return -1;
    ctx->has_coords = ctx->location && arb_msgpack_map_get(ctx->location, "lat") &&
                      arb_msgpack_map_get(ctx->location, "lon");
    ctx->raw = o;
    return 0;
}

/* track.c's entries to the checks above (context_int.h): calls, so the
 * inlined copies of the decide path stay as they were. */
int arb__ctx_get_str(const msgpack_object *o, const path_t *path, arb_str_t *out, arb_err_t *err)
{
    return get_str(o, path, out, err);
}

int arb__ctx_get_time(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err)
{
    return get_time(o, path, out, err);
}

int arb__ctx_get_num(const msgpack_object *o, const path_t *path, double *out, arb_err_t *err)
{
    return get_num(o, path, out, err);
}

int arb__ctx_get_bool(const msgpack_object *o, const path_t *path, bool *out, arb_err_t *err)
{
    return get_bool(o, path, out, err);
}

int arb__ctx_each_field(const msgpack_object *o, const path_t *path, void *out, field_fn field,
                        bool *unknown, arb_err_t *err)
{
    return each_field(o, path, out, field, unknown, err);
}
