/* The rule sandbox (see sandbox.h).
 *
 * Built from nothing rather than by removing from luaL_openlibs: only base,
 * string, table, math and utf8 are opened, and the dangerous parts of base
 * and string are removed. Rule files are loaded elsewhere with mode "t" only,
 * so bytecode never reaches the VM.
 */
#include "bindings/lua/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

arb_sandbox_t *arb_sandbox_of(lua_State *L) { return *(arb_sandbox_t **)lua_getextraspace(L); }

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    arb_sandbox_t *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && sb->used - old + nsize > sb->limit) {
        sb->stopped = true;
        sb->why = "memory";
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - old + nsize;
    return p;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    lua_Debug frame;
    sb->instr_left -= ARB_SANDBOX_HOOK_EVERY;
    if (sb->instr_left >= 0 && !lua_getstack(L, ARB_SANDBOX_MAX_DEPTH, &frame)) return;
    sb->stopped = true;
    sb->why = sb->instr_left >= 0 ? "call depth" : "instructions";
    /* Fire on every instruction from now on, so that a pcall inside the rule
     * that catches this error is stopped again at its next instruction. */
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
    sb->instr_left = -1;   /* stays stopped at every instruction from now on */
    luaL_error(L, "%s budget exceeded", sb->why);
}

static void remove_fields(lua_State *L, const char *table, const char *const *names)
{
    if (table) lua_getglobal(L, table); else lua_pushglobaltable(L);       /* +1 */
    for (; *names; names++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *names);
    }
    lua_pop(L, 1);
}

lua_State *arb_sandbox_new(arb_sandbox_t *sb)
{
    memset(sb, 0, sizeof *sb);
    sb->limit = SIZE_MAX;
    sb->cap = SIZE_MAX;
    lua_State *L = lua_newstate(sandbox_alloc, sb);
    if (!L) return NULL;
    *(arb_sandbox_t **)lua_getextraspace(L) = sb;
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base },     { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL },
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    static const char *const base_out[] = { "dofile", "loadfile", "load", "require",
                                            "collectgarbage", "rawset", "print", NULL };
    static const char *const string_out[] = { "dump", NULL };
    remove_fields(L, NULL, base_out);
    remove_fields(L, LUA_STRLIBNAME, string_out);
    /* Lock the metatable shared by every string: getmetatable("") gives
     * false, so no rule can reach the real string table through it. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);                       /* "" mt */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, ARB_SANDBOX_HOOK_EVERY);
    return L;
}

int arb_sandbox_pcall(lua_State *L, int nargs, int nresults, int64_t instr, size_t mem_bytes)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    size_t saved_limit = sb->limit;
    sb->stopped = false;
    sb->why = NULL;
    sb->instr_left = instr;
    /* A call may grow the state by mem_bytes, but what rules keep across
     * calls (tables in upvalues) may never take it past the cap. */
    sb->limit = mem_bytes == SIZE_MAX ? SIZE_MAX : sb->used + mem_bytes;
    if (sb->limit > sb->cap) sb->limit = sb->cap;
    int rc = lua_pcall(L, nargs, nresults, 0);
    sb->limit = saved_limit;
    if (sb->stopped) lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, ARB_SANDBOX_HOOK_EVERY);
    if (rc == LUA_OK) {
        /* A refused allocation the emergency collector then satisfied. */
        sb->stopped = false;
        sb->why = NULL;
    } else if (rc == LUA_ERRMEM) {
        sb->stopped = true;
        sb->why = "memory";
        lua_pushliteral(L, "memory budget exceeded");
        lua_replace(L, -2);
    }
    return rc;
}
