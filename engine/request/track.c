/* Checking the state methods' parameters (see track.h). Keeps request/'s
 * rule (values only, no I/O) and its promise that a context-shaped value
 * is refused for the same reasons, in the same words, wherever it comes
 * in: the typed walk and every check are context.c's and context_keys.c's
 * (through context_int.h); what is new here is the copying, since these
 * values outlive the request's frame, and the fields a stored event keeps
 * (channel, price, the extra fields as msgpack bytes).
 */
#include "engine/request/track.h"

#include <math.h>

#include "engine/base/utf8.h"
#include "engine/request/context_int.h"

static __attribute__((cold)) int oom(arb_err_t *err)
{
    return arb_err_set(err, ARB_INTERNAL, "out of memory");
}

static __attribute__((cold)) int at_fault(arb_err_t *err, const path_t *path, const char *what)
{
    char where[160];
    return arb_err_set(err, ARB_INVALID_PARAMS, "%s: %s",
                       arb__ctx_path_text(path, where, sizeof where), what);
}

/* s as a NUL-terminated copy in arena: the frame it points into goes away
 * before the store copies it (a server may wait for a fetch). */
static int copy_str(arb_str_t s, const path_t *path, arb_arena_t *arena, const char **out,
                    arb_err_t *err)
{
    if (s.len && !arb_utf8_valid(s.ptr, s.len)) return at_fault(err, path, "not valid UTF-8");
    /* A C string ends at NUL: "c\0x" would be stored as customer "c". */
    if (s.len && memchr(s.ptr, '\0', s.len)) return at_fault(err, path, "must not contain a NUL byte");
    char *p = arb_arena_alloc(arena, (size_t)s.len + 1);
    if (!p) return oom(err);
    if (s.len) memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    *out = p;
    return 0;
}

/* The msgpack bytes of a map of the n entries of o that keep(key) selects,
 * copied into arena. */
static int pack_map(const msgpack_object *o, bool (*keep)(arb_str_t), uint32_t n,
                    arb_arena_t *arena, const uint8_t **out, size_t *len, arb_err_t *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < o->via.map.size && !bad; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (keep && !keep((arb_str_t){ kv->key.via.str.ptr, kv->key.via.str.size })) continue;
        bad = msgpack_pack_object(&pk, kv->key) || msgpack_pack_object(&pk, kv->val);
    }
    uint8_t *p = bad ? NULL : arb_arena_alloc(arena, sb.size ? sb.size : 1);
    if (p) memcpy(p, sb.data, sb.size);
    *out = p;
    *len = p ? sb.size : 0;
    msgpack_sbuffer_destroy(&sb);
    return p ? 0 : oom(err);
}

/* The customer_id: a non-empty UTF-8 string of at most ARB_CUSTOMER_ID_MAX
 * bytes, the bound of a store key. */
static int get_id(arb_str_t s, bool given, arb_arena_t *arena, const char **out, arb_err_t *err)
{
    if (!given) return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: required");
    if (s.len == 0) return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: must not be empty");
    if (s.len > ARB_CUSTOMER_ID_MAX)
        return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: at most %d bytes, got %u",
                           ARB_CUSTOMER_ID_MAX, s.len);
    path_t path = { "customer_id", -1, { NULL, 0 } };
    return copy_str(s, &path, arena, out, err);
}

/* An event or a purchase as read, before copying; seen: the bits read. */
typedef struct rec {
    uint32_t seen;
    arb_str_t type, sku, category, channel;
    double price;
    int64_t ts;
} rec_t;

enum { R_TYPE, R_SKU, R_CATEGORY, R_CHANNEL, R_TS, R_PRICE };

/* FIELD (context_int.h) that also notes the bit read, so that a field
 * sent (even empty) is told from one absent. */
#define REC_FIELD(bit, call) FIELD(bit, (call) < 0 ? -1 : (int)(r->seen |= 1u << (bit), 0))

static int event_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                       arb_err_t *err)
{
    rec_t *r = out;
    if (ARB_STR_IS(key, "type")) REC_FIELD(R_TYPE, arb__ctx_get_str(v, path, &r->type, err));
    if (ARB_STR_IS(key, "sku")) REC_FIELD(R_SKU, arb__ctx_get_str(v, path, &r->sku, err));
    if (ARB_STR_IS(key, "category"))
        REC_FIELD(R_CATEGORY, arb__ctx_get_str(v, path, &r->category, err));
    if (ARB_STR_IS(key, "channel"))
        REC_FIELD(R_CHANNEL, arb__ctx_get_str(v, path, &r->channel, err));
    if (ARB_STR_IS(key, "ts")) REC_FIELD(R_TS, arb__ctx_get_time(v, path, &r->ts, err));
    return FIELD_UNKNOWN;
}

static int purchase_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                          arb_err_t *err)
{
    rec_t *r = out;
    if (ARB_STR_IS(key, "sku")) REC_FIELD(R_SKU, arb__ctx_get_str(v, path, &r->sku, err));
    if (ARB_STR_IS(key, "category"))
        REC_FIELD(R_CATEGORY, arb__ctx_get_str(v, path, &r->category, err));
    if (ARB_STR_IS(key, "channel"))
        REC_FIELD(R_CHANNEL, arb__ctx_get_str(v, path, &r->channel, err));
    if (ARB_STR_IS(key, "ts")) REC_FIELD(R_TS, arb__ctx_get_time(v, path, &r->ts, err));
    if (ARB_STR_IS(key, "price")) REC_FIELD(R_PRICE, arb__ctx_get_num(v, path, &r->price, err));
    return FIELD_UNKNOWN;
}

static bool event_extra(arb_str_t k)
{
    return !(ARB_STR_IS(k, "type") || ARB_STR_IS(k, "sku") || ARB_STR_IS(k, "category") ||
             ARB_STR_IS(k, "channel") || ARB_STR_IS(k, "ts"));
}

static bool purchase_extra(arb_str_t k)
{
    return !(ARB_STR_IS(k, "price") || ARB_STR_IS(k, "sku") || ARB_STR_IS(k, "category") ||
             ARB_STR_IS(k, "channel") || ARB_STR_IS(k, "ts"));
}

/* An optional string field into a copy, NULL when absent. */
static int copy_opt(const rec_t *r, int bit, arb_str_t s, const path_t *at, const char *key,
                    arb_arena_t *arena, const char **out, arb_err_t *err)
{
    *out = NULL;
    if (!(r->seen & (1u << bit))) return 0;
    path_t sub = *at;
    sub.key = (arb_str_t){ key, (uint32_t)strlen(key) };
    return copy_str(s, &sub, arena, out, err);
}

/* events or purchases (name): an array of maps into arb_event_t copies. */
static int get_records(const msgpack_object *o, const char *name, bool purchase,
                       arb_arena_t *arena, const arb_event_t **out, size_t *n, arb_err_t *err)
{
    path_t path = { name, -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_ARRAY) return arb__ctx_wrong(err, &path, "an array", o);
    uint32_t count = o->via.array.size;
    arb_event_t *evs = arb_arena_alloc(arena, sizeof *evs * (count ? count : 1));
    if (!evs) return oom(err);
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *m = &o->via.array.ptr[i];
        path_t at = { name, i, { NULL, 0 } };
        rec_t r = { 0 };
        bool unknown = false;
        if (arb__ctx_each_field(m, &at, &r, purchase ? purchase_field : event_field, &unknown,
                                err) < 0)
            return -1;
        /* A channel tracking what happens now may leave ts out: the
         * request's now fills it (arb_track_parse), unlike in a context. */
        if (!(r.seen & (1u << R_TS))) r.ts = INT64_MIN;
        if (!purchase && !(r.seen & (1u << R_TYPE)))
            return at_fault(err, &(path_t){ name, i, { "type", 4 } }, "required");
        if (!purchase && r.type.len == 0)
            return at_fault(err, &(path_t){ name, i, { "type", 4 } }, "must not be empty");
        arb_event_t *e = &evs[i];
        memset(e, 0, sizeof *e);
        e->ts = r.ts;
        e->price = (r.seen & (1u << R_PRICE)) ? r.price : NAN;
        if (copy_opt(&r, R_TYPE, r.type, &at, "type", arena, &e->type, err) < 0 ||
            copy_opt(&r, R_SKU, r.sku, &at, "sku", arena, &e->sku, err) < 0 ||
            copy_opt(&r, R_CATEGORY, r.category, &at, "category", arena, &e->category, err) < 0 ||
            copy_opt(&r, R_CHANNEL, r.channel, &at, "channel", arena, &e->channel, err) < 0)
            return -1;
        if (unknown) {
            /* The extra fields are kept whole: checked at every depth as a
             * context's unknown keys are (repeats, NaN keys, bin, ext). */
            if (arb__ctx_check_value(m, &at, arena, err) < 0) return -1;
            uint32_t n_extra = m->via.map.size - (uint32_t)__builtin_popcount(r.seen);
            if (pack_map(m, purchase ? purchase_extra : event_extra, n_extra, arena, &e->extra,
                         &e->extra_len, err) < 0)
                return -1;
        }
    }
    *out = evs;
    *n = count;
    return 0;
}

static int get_consent(const msgpack_object *o, arb_arena_t *arena, arb_commit_t *c,
                       arb_consent_t **mine, arb_err_t *err)
{
    path_t path = { "consent", -1, { NULL, 0 } };
    if (o->type != MSGPACK_OBJECT_MAP) return arb__ctx_wrong(err, &path, "a map", o);
    uint32_t n = o->via.map.size;
    for (uint32_t i = 0; i < n; i++)
        if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return arb_err_set(err, ARB_INVALID_PARAMS, "consent: keys must be strings");
    int dup = arb__ctx_map_dup(o->via.map.ptr, n, arena);
    if (dup == -2) return oom(err);
    if (dup >= 0) {
        const msgpack_object *k = &o->via.map.ptr[dup].key;
        path.key = (arb_str_t){ k->via.str.ptr, k->via.str.size };
        return arb__ctx_dup_error(&path, err);
    }
    arb_consent_t *cs = arb_arena_alloc(arena, sizeof *cs * (n ? n : 1));
    if (!cs) return oom(err);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        path.key = (arb_str_t){ kv->key.via.str.ptr, kv->key.via.str.size };
        if (arb__ctx_get_bool(&kv->val, &path, &cs[i].granted, err) < 0 ||
            copy_str(path.key, &path, arena, &cs[i].key, err) < 0)
            return -1;
        cs[i].ts = 0;   /* the commit's now, once it is known */
    }
    c->consents = *mine = cs;
    c->n_consents = n;
    return 0;
}

/* The top-level map of any of the methods (name: for messages): a map of
 * string keys, each known one once (the field function's bits), unknown
 * ones ignored but not repeated, as in a context. */
static int walk_top(const msgpack_object *arg, const char *name, field_fn field, void *st,
                    arb_arena_t *arena, arb_err_t *err)
{
    if (arg->type != MSGPACK_OBJECT_MAP)
        return arb_err_set(err, ARB_INVALID_PARAMS, "%s: expected a map, got %s", name,
                           arb__ctx_type_name(arg));
    for (uint32_t i = 0; i < arg->via.map.size; i++)
        if (arg->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s: keys must be strings", name);
    path_t top = { "", -1, { NULL, 0 } };
    bool unknown = false;
    if (arb__ctx_each_field(arg, &top, st, field, &unknown, err) < 0) return -1;
    if (!unknown) return 0;
    int dup = arb__ctx_map_dup(arg->via.map.ptr, arg->via.map.size, arena);
    if (dup == -2) return oom(err);
    if (dup < 0) return 0;
    const msgpack_object *k = &arg->via.map.ptr[dup].key;
    top.key = (arb_str_t){ k->via.str.ptr, k->via.str.size };
    return arb__ctx_dup_error(&top, err);
}

typedef struct track_state {
    arb_arena_t *arena;
    arb_commit_t *c;
    arb_consent_t *consents;   /* c->consents, written once now is known */
    uint32_t seen;
    arb_str_t id;
} track_state_t;

enum { T_ID, T_EVENTS, T_PURCHASES, T_CONSENT, T_ATTRIBUTES, T_NOW };

#define TOP_FIELD(bit, call) FIELD(bit, (call) < 0 ? -1 : (int)(st->seen |= 1u << (bit), 0))

static int track_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                       arb_err_t *err)
{
    track_state_t *st = out;
    arb_commit_t *c = st->c;
    if (ARB_STR_IS(key, "customer_id")) TOP_FIELD(T_ID, arb__ctx_get_str(v, path, &st->id, err));
    if (ARB_STR_IS(key, "events"))
        TOP_FIELD(T_EVENTS, get_records(v, "events", false, st->arena, &c->events, &c->n_events, err));
    if (ARB_STR_IS(key, "purchases"))
        TOP_FIELD(T_PURCHASES, get_records(v, "purchases", true, st->arena, &c->purchases,
                                           &c->n_purchases, err));
    if (ARB_STR_IS(key, "consent")) TOP_FIELD(T_CONSENT, get_consent(v, st->arena, c, &st->consents, err));
    if (ARB_STR_IS(key, "attributes")) {
        if (v->type != MSGPACK_OBJECT_MAP) return arb__ctx_wrong(err, path, "a map", v);
        path_t sub = { "attributes", -1, { NULL, 0 } };
        if (arb__ctx_check_value(v, &sub, st->arena, err) < 0) return -1;
        TOP_FIELD(T_ATTRIBUTES, pack_map(v, NULL, v->via.map.size, st->arena, &c->attributes,
                                         &c->attributes_len, err));
    }
    if (ARB_STR_IS(key, "now")) TOP_FIELD(T_NOW, arb__ctx_get_time(v, path, &c->now, err));
    return FIELD_UNKNOWN;
}

int arb_track_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                    const char **customer_id, arb_commit_t *out, arb_err_t *err)
{
    memset(out, 0, sizeof *out);
    *customer_id = NULL;
    track_state_t st = { arena, out, NULL, 0, { NULL, 0 } };
    if (walk_top(arg, "track", track_field, &st, arena, err) < 0) return -1;
    if (get_id(st.id, st.seen & (1u << T_ID), arena, customer_id, err) < 0) return -1;
    if (!(st.seen & (1u << T_EVENTS | 1u << T_PURCHASES | 1u << T_CONSENT | 1u << T_ATTRIBUTES)))
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "track: nothing to store: send events, purchases, consent or attributes");
    if (!(st.seen & (1u << T_NOW))) out->now = now;
    for (size_t i = 0; i < out->n_consents; i++) st.consents[i].ts = out->now;
    for (size_t i = 0; i < out->n_events; i++)
        if (out->events[i].ts == INT64_MIN) ((arb_event_t *)out->events)[i].ts = out->now;
    for (size_t i = 0; i < out->n_purchases; i++)
        if (out->purchases[i].ts == INT64_MIN) ((arb_event_t *)out->purchases)[i].ts = out->now;
    return 0;
}

typedef struct feedback_state {
    uint32_t seen;
    arb_str_t id, action, outcome, decision_id, channel;
    arb_feedback_t *fb;
} feedback_state_t;

enum { F_ID, F_ACTION, F_OUTCOME, F_DECISION, F_CHANNEL, F_VALUE, F_TS };

static int feedback_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                          arb_err_t *err)
{
    feedback_state_t *st = out;
    if (ARB_STR_IS(key, "customer_id")) TOP_FIELD(F_ID, arb__ctx_get_str(v, path, &st->id, err));
    if (ARB_STR_IS(key, "action")) TOP_FIELD(F_ACTION, arb__ctx_get_str(v, path, &st->action, err));
    if (ARB_STR_IS(key, "outcome"))
        TOP_FIELD(F_OUTCOME, arb__ctx_get_str(v, path, &st->outcome, err));
    if (ARB_STR_IS(key, "decision_id"))
        TOP_FIELD(F_DECISION, arb__ctx_get_str(v, path, &st->decision_id, err));
    if (ARB_STR_IS(key, "channel"))
        TOP_FIELD(F_CHANNEL, arb__ctx_get_str(v, path, &st->channel, err));
    if (ARB_STR_IS(key, "value")) TOP_FIELD(F_VALUE, arb__ctx_get_num(v, path, &st->fb->value, err));
    if (ARB_STR_IS(key, "ts")) TOP_FIELD(F_TS, arb__ctx_get_time(v, path, &st->fb->ts, err));
    return FIELD_UNKNOWN;
}

/* A string feedback names: required (or NULL when absent and optional),
 * never empty. */
static int feedback_str(const feedback_state_t *st, int bit, arb_str_t s, const char *name,
                        bool required, arb_arena_t *arena, const char **out, arb_err_t *err)
{
    *out = NULL;
    path_t path = { "", -1, { name, (uint32_t)strlen(name) } };
    if (!(st->seen & (1u << bit))) return required ? at_fault(err, &path, "required") : 0;
    if (s.len == 0) return at_fault(err, &path, "must not be empty");
    return copy_str(s, &path, arena, out, err);
}

int arb_feedback_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                       arb_feedback_t *out, arb_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->value = NAN;
    feedback_state_t st = { .fb = out };
    if (walk_top(arg, "feedback", feedback_field, &st, arena, err) < 0) return -1;
    if (get_id(st.id, st.seen & (1u << F_ID), arena, &out->customer_id, err) < 0 ||
        feedback_str(&st, F_ACTION, st.action, "action", true, arena, &out->action, err) < 0 ||
        feedback_str(&st, F_OUTCOME, st.outcome, "outcome", true, arena, &out->outcome, err) < 0 ||
        feedback_str(&st, F_DECISION, st.decision_id, "decision_id", false, arena,
                     &out->decision_id, err) < 0 ||
        feedback_str(&st, F_CHANNEL, st.channel, "channel", false, arena, &out->channel, err) < 0)
        return -1;
    if (!(st.seen & (1u << F_TS))) out->ts = now;
    return 0;
}

typedef struct ref_state {
    uint32_t seen;
    arb_str_t id;
} ref_state_t;

static int ref_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                     arb_err_t *err)
{
    ref_state_t *st = out;
    if (ARB_STR_IS(key, "customer_id")) TOP_FIELD(0, arb__ctx_get_str(v, path, &st->id, err));
    return FIELD_UNKNOWN;
}

int arb_customer_ref_parse(const msgpack_object *arg, arb_arena_t *arena,
                           const char **customer_id, arb_err_t *err)
{
    *customer_id = NULL;
    ref_state_t st = { 0, { NULL, 0 } };
    if (walk_top(arg, "params", ref_field, &st, arena, err) < 0) return -1;
    return get_id(st.id, st.seen & 1u, arena, customer_id, err);
}

static int learning_field(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                          arb_err_t *err)
{
    ref_state_t *st = out;
    if (ARB_STR_IS(key, "action")) TOP_FIELD(0, arb__ctx_get_str(v, path, &st->id, err));
    return FIELD_UNKNOWN;
}

int arb_learning_parse(const msgpack_object *arg, arb_arena_t *arena, const char **action,
                       arb_err_t *err)
{
    *action = NULL;
    if (!arg || arg->type == MSGPACK_OBJECT_NIL) return 0;
    ref_state_t st = { 0, { NULL, 0 } };
    if (walk_top(arg, "params", learning_field, &st, arena, err) < 0) return -1;
    if (!(st.seen & 1u)) return 0;
    path_t path = { "", -1, { "action", 6 } };
    if (st.id.len == 0) return at_fault(err, &path, "must not be empty");
    return copy_str(st.id, &path, arena, action, err);
}
