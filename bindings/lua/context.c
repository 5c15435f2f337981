/* The context as plain Lua rules see it, MessagePack -> Lua (see
 * context.h). Lua -> MessagePack is engine/rawread.c's, which reads a
 * rule's tables raw, once, under the load budget. */
#include "bindings/lua/context.h"

#include <lauxlib.h>
#include <string.h>

#include "engine/base/utf8.h"
#include "engine/request/recfield.h"

/* Registry keys: addresses of statics, so they cannot collide. */
static const char ctx_udata_key = 0;
static const char ctx_mt_name[] = "arbiter.context";

typedef struct lua_ctx {
    const arb_context_t *ctx;   /* NULL outside a decision */
    /* A part of a context read without a tree (ctx->raw_bytes), unpacked
     * here to be pushed as from the tree; cleared for each rule, freed with
     * the state (__gc): a Lua error thrown while pushing leaks nothing. */
    msgpack_zone zone;
    bool zone_ready;
} lua_ctx_t;

void arb_lua_push_msgpack(lua_State *L, const msgpack_object *o)
{
    luaL_checkstack(L, 4, "context too deep");
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o->via.boolean); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 <= (uint64_t)LUA_MAXINTEGER) lua_pushinteger(L, (lua_Integer)o->via.u64);
        else lua_pushnumber(L, (lua_Number)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: lua_pushinteger(L, (lua_Integer)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: lua_pushnumber(L, o->via.f64); break;
    case MSGPACK_OBJECT_STR: lua_pushlstring(L, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        lua_createtable(L, (int)o->via.array.size, 0);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            arb_lua_push_msgpack(L, &o->via.array.ptr[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case MSGPACK_OBJECT_MAP:
        lua_createtable(L, 0, (int)o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (o->via.map.ptr[i].key.type == MSGPACK_OBJECT_NIL) continue;
            arb_lua_push_msgpack(L, &o->via.map.ptr[i].key);
            arb_lua_push_msgpack(L, &o->via.map.ptr[i].val);
            lua_rawset(L, -3);
        }
        break;
    default: lua_pushnil(L); break;
    }
}

static void push_str(lua_State *L, arb_str_t s)
{
    if (s.ptr) lua_pushlstring(L, s.ptr, s.len); else lua_pushnil(L);
}

/* The value of `key` in the context map's bytes (its first entry, as
 * arb_msgpack_map_get finds it), unpacked into u's zone; NULL when absent. */
static const msgpack_object *bytes_field(lua_ctx_t *u, const arb_context_t *ctx, const char *key)
{
    arb_mpcursor_t c = { ctx->raw_bytes, ctx->raw_bytes + ctx->raw_len };
    msgpack_object m, k;
    size_t len = strlen(key);
    if (!u->zone_ready || !arb_mpcursor_next(&c, &m) || m.type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < m.via.map.size && arb_mpcursor_next(&c, &k); i++) {
        /* the keys of a context that was accepted are strings: only values nest */
        const uint8_t *at = c.p;
        if (!arb_mpcursor_skip(&c)) return NULL;
        if (k.type != MSGPACK_OBJECT_STR || k.via.str.size != len || memcmp(k.via.str.ptr, key, len))
            continue;
        msgpack_object *o = msgpack_zone_malloc(&u->zone, sizeof *o);
        size_t off = 0;
        if (!o || msgpack_unpack((const char *)at, (size_t)(c.p - at), &off, &u->zone, o) !=
                      MSGPACK_UNPACK_SUCCESS)
            return NULL;
        return o;
    }
    return NULL;
}

/* Push the field `key` of the request's context map, or nil. Stack: +1.
 * From the tree when there is one, else from the map's bytes (a context
 * read without a tree, arb_context_parse_bytes), the same values. */
static void push_raw_field(lua_State *L, lua_ctx_t *u, const arb_context_t *ctx, const char *key)
{
    const msgpack_object *v = ctx->raw || !ctx->raw_bytes ? arb_msgpack_map_get(ctx->raw, key)
                                                           : bytes_field(u, ctx, key);
    if (v) arb_lua_push_msgpack(L, v); else lua_pushnil(L);
}

static void set_str(lua_State *L, const char *k, arb_str_t v)
{
    if (!v.len) return;   /* absent, as the context would leave it */
    lua_pushlstring(L, v.ptr, v.len);
    lua_setfield(L, -2, k);
}

/* Push the next item of c (a value of a stored record's extra fields) as
 * Lua. Returns false on bytes that are not msgpack (then nothing pushed). */
static bool push_mp_item(lua_State *L, arb_mpcursor_t *c, int depth)
{
    msgpack_object o;
    if (depth > 64 || !arb_mpcursor_next(c, &o)) return false;
    luaL_checkstack(L, 4, "context too deep");
    if (o.type == MSGPACK_OBJECT_ARRAY) {
        lua_createtable(L, (int)(o.via.array.size < 64 ? o.via.array.size : 64), 0);
        for (uint32_t i = 0; i < o.via.array.size; i++) {
            if (!push_mp_item(L, c, depth + 1)) { lua_pop(L, 1); return false; }
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return true;
    }
    if (o.type == MSGPACK_OBJECT_MAP) {
        lua_createtable(L, 0, (int)(o.via.map.size < 64 ? o.via.map.size : 64));
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            if (!push_mp_item(L, c, depth + 1)) { lua_pop(L, 1); return false; }
            if (!push_mp_item(L, c, depth + 1)) { lua_pop(L, 2); return false; }
            if (lua_isnil(L, -2)) lua_pop(L, 2); else lua_rawset(L, -3);
        }
        return true;
    }
    arb_lua_push_msgpack(L, &o);
    return true;
}

/* The extra fields of a stored record (a msgpack map) into the table on
 * top, beside its typed ones: read-only, as the rest of the context. */
static void set_extra(lua_State *L, const uint8_t *extra, uint32_t len)
{
    if (!extra) return;
    arb_mpcursor_t c = { extra, extra + len };
    msgpack_object m;
    if (!arb_mpcursor_next(&c, &m) || m.type != MSGPACK_OBJECT_MAP) return;
    for (uint32_t i = 0; i < m.via.map.size; i++) {
        if (!push_mp_item(L, &c, 0)) return;
        if (!push_mp_item(L, &c, 0)) { lua_pop(L, 1); return; }
        if (lua_isnil(L, -2)) lua_pop(L, 2); else lua_rawset(L, -3);
    }
}

/* With a stored customer merged in (ctx->merged), purchases and events past
 * the context's own are the stored ones: appended to the table just pushed
 * as plain records, so a plain rule reads one history as C conditions do,
 * their extra fields (brand, size...) included. */
static void append_stored(lua_State *L, const arb_context_t *ctx, bool purchases)
{
    lua_Integer at = (lua_Integer)lua_rawlen(L, -1);
    uint32_t from = purchases ? ctx->n_ctx_purchases : ctx->n_ctx_events;
    uint32_t n = purchases ? ctx->n_purchases : ctx->n_events;
    for (uint32_t i = from; i < n; i++) {
        lua_createtable(L, 0, 5);
        if (purchases) {
            const arb_purchase_t *p = &ctx->purchases[i];
            set_str(L, "sku", p->sku);
            set_str(L, "category", p->category);
            set_str(L, "channel", p->channel);
            lua_pushnumber(L, p->price);
            lua_setfield(L, -2, "price");
            set_extra(L, p->extra, p->extra_len);
            lua_pushinteger(L, p->ts);
        } else {
            const arb_ctx_event_t *e = &ctx->events[i];
            set_str(L, "type", e->type);
            set_str(L, "sku", e->sku);
            set_str(L, "category", e->category);
            set_str(L, "channel", e->channel);
            set_extra(L, e->extra, e->extra_len);
            lua_pushinteger(L, e->ts);
        }
        lua_setfield(L, -2, "ts");
        lua_rawseti(L, -2, ++at);
    }
}

/* c.field: stack in: (c, key); out: +1 value. Tables are cached in the
 * userdata's user value until the decision ends. */
static int l_context_index(lua_State *L)
{
    lua_ctx_t *u = luaL_checkudata(L, 1, ctx_mt_name);
    const char *key = luaL_checkstring(L, 2);
    const arb_context_t *ctx = u->ctx;
    if (!ctx) return luaL_error(L, "the context is only valid during its decision");
    if (strcmp(key, "customer_id") == 0) { push_str(L, ctx->customer_id); return 1; }
    if (strcmp(key, "channel") == 0) { push_str(L, ctx->channel); return 1; }
    if (strcmp(key, "touchpoint") == 0) { push_str(L, ctx->touchpoint); return 1; }
    if (strcmp(key, "now") == 0) { lua_pushinteger(L, ctx->now); return 1; }
    if (strcmp(key, "timezone") == 0) { push_str(L, ctx->timezone); return 1; }
    if (strcmp(key, "location") == 0 &&
        !arb_context_consent(ctx, "location", strlen("location"))) {
        lua_pushnil(L);    /* invisible without consent, whatever the rule does */
        return 1;
    }
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {     /* cache */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 1);
    }
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;        /* cache value */
    lua_pop(L, 1);
    if (strcmp(key, "consent") == 0) {
        lua_createtable(L, 0, (int)ctx->n_consent);
        for (uint32_t i = 0; i < ctx->n_consent; i++) {
            push_str(L, ctx->consent[i].name);
            lua_pushboolean(L, ctx->consent[i].given);
            lua_rawset(L, -3);
        }
    } else if (strcmp(key, "location") == 0 || strcmp(key, "purchases") == 0 ||
               strcmp(key, "events") == 0 || strcmp(key, "weather") == 0 ||
               strcmp(key, "scores") == 0 || strcmp(key, "attributes") == 0) {
        push_raw_field(L, u, ctx, key);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);   /* absent containers read as empty */
        }
        if (ctx->merged && (key[0] == 'p' || key[0] == 'e')) append_stored(L, ctx, key[0] == 'p');
    } else {
        lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);                                  /* cache[key] = value */
    return 1;
}

static int l_context_newindex(lua_State *L)
{
    return luaL_error(L, "the context is read-only");
}

static int l_context_gc(lua_State *L)
{
    lua_ctx_t *u = lua_touserdata(L, 1);
    if (u && u->zone_ready) msgpack_zone_destroy(&u->zone);
    if (u) u->zone_ready = false;
    return 0;
}

void arb_lua_context_init(lua_State *L)
{
    luaL_newmetatable(L, ctx_mt_name);                  /* mt */
    lua_pushcfunction(L, l_context_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_context_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, l_context_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_ctx_t *u = lua_newuserdatauv(L, sizeof *u, 1);  /* u */
    u->ctx = NULL;
    u->zone_ready = msgpack_zone_init(&u->zone, 2048);  /* else parts read without a tree are nil */
    luaL_setmetatable(L, ctx_mt_name);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_udata_key);
}

void arb_lua_context_push(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_udata_key); }

void arb_lua_context_set(lua_State *L, const arb_context_t *ctx)
{
    arb_lua_context_push(L);                            /* u */
    lua_ctx_t *u = lua_touserdata(L, -1);
    u->ctx = ctx;
    if (u->zone_ready) msgpack_zone_clear(&u->zone);
    lua_pushnil(L);                                     /* u nil */
    lua_setiuservalue(L, -2, 1);     /* cache dropped: the next read converts afresh */
    lua_pop(L, 1);
}
