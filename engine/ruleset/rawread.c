/* Reading what a rule file owns, safely (see rawread.h).
 *
 * Only lua_rawget, lua_rawgeti, lua_rawlen, lua_next and lua_getmetatable
 * touch a rule's tables here: none of them calls a metamethod. The packer
 * walks a table once to learn its shape and once to pack it; nothing runs
 * in between that could change it, and its size is checked against the
 * bytes it may add after every value, so a table shared many times over
 * (a payload of 2^32 leaves built from 32 tables) stops at the bound
 * instead of filling the memory.
 */
#include "engine/ruleset/rawread.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bindings/lua/sandbox.h"
#include "engine/ruleset/ruleset.h"
#include "engine/base/utf8.h"

#define PACK_MAX_DEPTH 32

int arb_raw_field(lua_State *L, int idx, const char *name)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, name);
    return lua_rawget(L, idx);
}

bool arb_raw_has_mt(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return false;
    lua_pop(L, 1);
    return true;
}

typedef struct packing {
    lua_State *L;
    msgpack_packer *pk;
    msgpack_sbuffer *sb;
    size_t limit;           /* sb->size may not pass it */
    size_t max_bytes;       /* the bound, for messages */
    bool utf8;
    char *err;
    size_t errlen;
} packing_t;

static int pack_value(packing_t *p, int idx, int depth);

/* n when the table at idx is a sequence 1..n with no other keys, else -1. */
static lua_Integer sequence_length(lua_State *L, int idx)
{
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return -1; }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || k > len) { lua_pop(L, 1); return -1; }
        count++;
    }
    return count == len ? len : -1;
}

static int pack_table(packing_t *p, int idx, int depth)
{
    lua_State *L = p->L;
    if (arb_raw_has_mt(L, idx)) {
        snprintf(p->err, p->errlen,
                 "a table with a metatable cannot be sent (remove the metatable: values are "
                 "read as plain tables)");
        return -1;
    }
    lua_Integer len = sequence_length(L, idx);
    if (len > 0) {   /* an empty table packs as an empty map */
        msgpack_pack_array(p->pk, (size_t)len);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, idx, i);
            int r = pack_value(p, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            if (r < 0) return -1;
        }
        return 0;
    }
    size_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        pairs++;
    }
    msgpack_pack_map(p->pk, pairs);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        int kt = lua_type(L, top - 1);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
            lua_pop(L, 2);
            snprintf(p->err, p->errlen, "table keys must be strings or numbers, not %s",
                     lua_typename(L, kt));
            return -1;
        }
        if (pack_value(p, top - 1, depth + 1) < 0 || pack_value(p, top, depth + 1) < 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int pack_value(packing_t *p, int idx, int depth)
{
    lua_State *L = p->L;
    if (depth > PACK_MAX_DEPTH) {
        snprintf(p->err, p->errlen, "value nested deeper than %d levels (does a table contain itself?)",
                 PACK_MAX_DEPTH);
        return -1;
    }
    luaL_checkstack(L, 4, "value too deep");
    switch (lua_type(L, idx)) {
    case LUA_TNIL: msgpack_pack_nil(p->pk); break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) msgpack_pack_true(p->pk); else msgpack_pack_false(p->pk);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) msgpack_pack_int64(p->pk, lua_tointeger(L, idx));
        else msgpack_pack_double(p->pk, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (p->utf8 && !arb_utf8_valid(s, len)) {
            size_t at = arb_utf8_first_invalid(s, len);
            snprintf(p->err, p->errlen, "the string \"%.*s...\" is not valid UTF-8 (byte %zu)",
                     (int)(at < 40 ? at : 40), s, at + 1);
            return -1;
        }
        if (len > p->max_bytes) {   /* refused without copying it */
            snprintf(p->err, p->errlen, "larger than %zu bytes once packed", p->max_bytes);
            return -1;
        }
        msgpack_pack_str(p->pk, len);
        msgpack_pack_str_body(p->pk, s, len);
        break;
    }
    case LUA_TTABLE:
        if (pack_table(p, idx, depth) < 0) return -1;
        break;
    default:
        snprintf(p->err, p->errlen, "cannot send a %s", luaL_typename(L, idx));
        return -1;
    }
    if (p->sb->size > p->limit) {
        snprintf(p->err, p->errlen, "larger than %zu bytes once packed", p->max_bytes);
        return -1;
    }
    return 0;
}

int arb_raw_pack(lua_State *L, int idx, msgpack_packer *pk, msgpack_sbuffer *sb,
                 size_t max_bytes, bool utf8, char *err, size_t errlen)
{
    int top = lua_gettop(L);
    packing_t p = { .L = L, .pk = pk, .sb = sb, .utf8 = utf8, .err = err, .errlen = errlen,
                    .limit = sb->size + max_bytes, .max_bytes = max_bytes };
    int r = pack_value(&p, lua_absindex(L, idx), 0);
    lua_settop(L, top);
    return r;
}

/* ---- one protected call */

typedef struct protected_call {
    int (*fn)(lua_State *L, void *ud);
    void *ud;
} protected_call_t;

static int protected_trampoline(lua_State *L)
{
    protected_call_t *call = lua_touserdata(L, 1);
    lua_settop(L, 0);
    call->fn(L, call->ud);
    return 0;
}

int arb_raw_protected(lua_State *L, int (*fn)(lua_State *L, void *ud), void *ud, int64_t instr,
                      size_t mem, char *err, size_t errlen)
{
    int top = lua_gettop(L);
    protected_call_t call = { fn, ud };
    /* Pushing a C function and a light userdata does not allocate: the
     * stack always has LUA_MINSTACK free slots for C code. */
    lua_pushcfunction(L, protected_trampoline);
    lua_pushlightuserdata(L, &call);
    int rc = arb_sandbox_pcall(L, 1, 0, instr, mem);
    if (rc != LUA_OK) {
        size_t len = 0;
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (msg) arb_text_clean(msg, len, err, errlen);
        else snprintf(err, errlen, "error without a message");
    }
    lua_settop(L, top);
    return rc == LUA_OK ? 0 : -1;
}
