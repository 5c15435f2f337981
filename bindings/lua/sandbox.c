/* The rule sandbox (see sandbox.h).
 *
 * Built from nothing rather than by removing from luaL_openlibs: only base,
 * string, table, math and utf8 are opened, and the dangerous parts of base
 * and string are removed. Rule files are loaded elsewhere with mode "t" only,
 * so bytecode never reaches the VM.
 *
 * Budgets: the count hook charges instructions, stops runaway recursion and
 * checks the wall clock; the allocator refuses memory past the limit and
 * charges what it grants; the library wrappers of sandbox_lib.c charge the
 * work of C loops. A message handler turns whatever a call raised into a
 * string with the rule's file:line, so callers never see a table or nil.
 */
#include "bindings/lua/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/clock.h"

arb_sandbox_t *arb_sandbox_of(lua_State *L) { return *(arb_sandbox_t **)lua_getextraspace(L); }

/* The clock of L's time budgets. While a load's total budget is open, the
 * time of the loading thread's own CPU: a reload compiles at the lowest
 * priority beside busy workers, and the waiting a starved thread does is
 * not work a rule made (the reload watchdog bounds the wall time). Else
 * the monotonic clock, which decisions' deadlines are made of. */
uint64_t arb_sandbox_clock_ns(lua_State *L)
{
    if (!arb_sandbox_of(L)->total_on) return arb_clock_mono_ns();
    return arb_clock_thread_cpu_ns();
}

static void sandbox_hook(lua_State *L, lua_Debug *ar);

/* Run the hook at the next instruction: a charge made outside the VM (an
 * allocation, a library wrapper) is then enforced at once. lua_sethook is
 * safe to call from anywhere, the allocator included. */
static void hook_soon(arb_sandbox_t *sb)
{
    if (sb->L && sb->tick != 1) {
        sb->tick = 1;
        lua_sethook(sb->L, sandbox_hook, LUA_MASKCOUNT, 1);
    }
}

/* "file:line" of the innermost rule function at or above level (a chunk
 * named "@file"), else of the innermost Lua function, else "". */
static void lua_position(lua_State *L, int level, char *out, size_t size)
{
    lua_Debug ar;
    out[0] = '\0';
    for (; level < 60 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
        if (ar.source[0] != '@' && out[0]) continue;
        snprintf(out, size, "%s:%d", ar.source[0] == '@' ? ar.source + 1 : ar.short_src,
                 ar.currentline);
        if (ar.source[0] == '@') return;
    }
}

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    arb_sandbox_t *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    /* One string at most ARB_SANDBOX_MAX_STRING: comparing two strings is
     * one instruction, and its cost must stay small next to a deadline. */
    bool too_long = !ptr && osize == LUA_TSTRING && nsize > ARB_SANDBOX_MAX_STRING;
    if (too_long || (nsize > old && sb->used - old + nsize > sb->limit)) {
        sb->stopped = true;
        sb->why = "memory";
        /* Reading the call stack allocates nothing; the position is gone
         * once the memory error has unwound it. */
        if (sb->in_call && sb->L) lua_position(sb->L, 0, sb->where, sizeof sb->where);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    sb->used = sb->used - old + nsize;
    if (sb->in_call && nsize > old) {
        sb->instr_left -= (int64_t)((nsize - old) / ARB_SANDBOX_BYTES_PER_INSTRUCTION);
        if (sb->instr_left < 0) hook_soon(sb);
    }
    return p;
}

/* Stop the running call: from now on the hook raises at every instruction,
 * so a pcall inside the rule that catches this error is stopped again at
 * its next instruction. */
static void sandbox_stop(lua_State *L, arb_sandbox_t *sb, const char *why)
{
    if (!sb->halt) {
        sb->halt = why;
        lua_position(L, 0, sb->where, sizeof sb->where);   /* where it first ran out */
    }
    sb->stopped = true;
    sb->why = sb->halt;
    sb->instr_left = -1;
    sb->tick = 1;
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "%s budget exceeded", sb->halt);
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    arb_sandbox_t *sb = arb_sandbox_of(L);
    lua_Debug frame;
    sb->instr_left -= sb->tick;
    /* Rule code run outside arb_sandbox_pcall (the engine reading a rule's
     * table through its metamethods) still spends what the last call left
     * of its budget: the error then ends the engine's own protected call
     * rather than nothing ever stopping it. */
    if (sb->halt) sandbox_stop(L, sb, sb->halt);
    if (sb->instr_left < 0) sandbox_stop(L, sb, "instructions");
    if (lua_getstack(L, ARB_SANDBOX_MAX_DEPTH, &frame)) sandbox_stop(L, sb, "call depth");
    int next = ARB_SANDBOX_HOOK_EVERY;
    if (sb->in_call) {
        uint64_t now = arb_sandbox_clock_ns(L);
        if (now > sb->deadline_ns) sandbox_stop(L, sb, "wall time");
        /* One instruction can cost milliseconds (comparing two long
         * strings, `next` over a large emptied table): when the last
         * instructions were that slow, come back sooner, so that the
         * deadline is not overshot by a whole tick of them. */
        double per = (double)(now - sb->tick_ns) / sb->tick;
        double room = (double)(sb->deadline_ns - now) / 2.0;
        if (per * ARB_SANDBOX_HOOK_EVERY > room) next = per > room ? 1 : (int)(room / per);
        /* A call's ticks start short and grow fourfold while its
         * instructions stay fast: slow ones cannot hide behind a long
         * first tick of fast set-up. */
        if (next > sb->tick * 4) next = sb->tick * 4;
        if (next < 1) next = 1;
        sb->tick_ns = now;
    }
    if (sb->tick != next) {
        sb->tick = next;
        lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, next);
    }
}

void arb__sandbox_charge(lua_State *L, double units)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    if (!sb->in_call) return;
    if (sb->halt) sandbox_stop(L, sb, sb->halt);
    if (!(units < (double)sb->instr_left)) {
        sb->instr_left = 0;
        sandbox_stop(L, sb, "instructions");
    }
    sb->instr_left -= (int64_t)units;
}

static bool ends_with(const char *s, size_t len, const char *tail)
{
    size_t n = strlen(tail);
    return len >= n && memcmp(s + len - n, tail, n) == 0;
}

/* The message handler of every sandboxed call: the error as a string that
 * names the rule's line. It runs with hooks off and must not loop. */
static int sandbox_msgh(lua_State *L)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    char where[200];
    int t = lua_type(L, 1);
    if (sb->halt) {
        /* A budget stop: name the rule's line where the budget first ran
         * out (a pcall in the rule may have caught it before), not the
         * prelude's. */
        if (sb->where[0]) snprintf(where, sizeof where, "%s", sb->where);
        else lua_position(L, 1, where, sizeof where);
        lua_pushfstring(L, "%s%s%s budget exceeded", where, where[0] ? ": " : "", sb->halt);
        return 1;
    }
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        /* Lua's own "stack overflow" and "C stack overflow": runaway
         * recursion that outran the hook's depth check. */
        if (ends_with(s, len, "stack overflow")) {
            sb->stopped = true;
            sb->why = "call depth";
            lua_position(L, 1, where, sizeof where);
            lua_pushfstring(L, "%s%scall depth budget exceeded", where, where[0] ? ": " : "");
            return 1;
        }
        /* error("x", 0) or a C function's message: give it the line. */
        lua_position(L, 1, where, sizeof where);
        const char *colon = strrchr(where, ':');
        if (colon && !(strncmp(s, where, (size_t)(colon - where)) == 0 && s[colon - where] == ':')) {
            lua_pushfstring(L, "%s: %s", where, s);
            return 1;
        }
        lua_settop(L, 1);
        return 1;
    }
    /* Level 1 is error() itself; the rule's line is above it. */
    lua_position(L, 1, where, sizeof where);
    const char *sep = where[0] ? ": " : "";
    if (t == LUA_TNUMBER) {
        lua_pushfstring(L, "%s%serror object is a number (%s)", where, sep, lua_tostring(L, 1));
    } else if (t == LUA_TNIL || t == LUA_TNONE) {
        lua_pushfstring(L, "%s%serror object is nil", where, sep);
    } else {
        /* Never its __tostring: that is rule code, and it could raise or loop. */
        lua_pushfstring(L, "%s%serror object is a %s", where, sep, lua_typename(L, t));
    }
    return 1;
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

static int sandbox_open(lua_State *L);

lua_State *arb_sandbox_new(arb_sandbox_t *sb)
{
    memset(sb, 0, sizeof *sb);
    sb->limit = SIZE_MAX;
    sb->cap = SIZE_MAX;
    sb->tick = ARB_SANDBOX_HOOK_EVERY;
    lua_State *L = lua_newstate(sandbox_alloc, sb);
    if (!L) return NULL;
    *(arb_sandbox_t **)lua_getextraspace(L) = sb;
    /* Protected: opening the libraries raises when memory runs out, and
     * outside a protected call that would end in Lua's panic (an abort). */
    lua_pushcfunction(L, sandbox_open);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lua_close(L);
        return NULL;
    }
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, ARB_SANDBOX_HOOK_EVERY);
    sb->L = L;
    return L;
}

/* The libraries rules may use, less what a rule must not reach. */
static int sandbox_open(lua_State *L)
{
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
    /* pack and unpack fill padding in C loops as long as a format asks;
     * rules have no binary data to pack. */
    static const char *const string_out[] = { "dump", "pack", "packsize", "unpack", NULL };
    remove_fields(L, NULL, base_out);
    remove_fields(L, LUA_STRLIBNAME, string_out);
    arb__sandbox_wrap_libs(L);
    /* Lock the metatable shared by every string: getmetatable("") gives
     * false, so no rule can reach the real string table through it. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);                       /* "" mt */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    return 0;
}

void arb_sandbox_set_deadline(lua_State *L, uint64_t deadline_ns)
{
    arb_sandbox_of(L)->until_ns = deadline_ns;
}

void arb_sandbox_total_begin(lua_State *L, int64_t instr, size_t mem_bytes, uint64_t wall_ns)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    sb->total_on = true;
    sb->total_instr = instr;
    sb->total_deadline_ns = arb_sandbox_clock_ns(L) + wall_ns;
    sb->total_saved_cap = sb->cap;
    if (mem_bytes < SIZE_MAX - sb->used && sb->used + mem_bytes < sb->cap)
        sb->cap = sb->used + mem_bytes;
}

void arb_sandbox_total_end(lua_State *L)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    if (!sb->total_on) return;
    sb->total_on = false;
    sb->cap = sb->total_saved_cap;
}

static int error_text(lua_State *L)
{
    const char *const *part = lua_touserdata(L, 1);
    lua_pushfstring(L, "%s%s%s%s", part[0], part[1], part[2], part[3]);
    return 1;
}

/* Push the error message a b c d, made in a protected call: making a
 * string can run out of memory, and outside every protected call that
 * ends in Lua's panic. Lua's own "not enough memory" then stands in. */
static void push_error(lua_State *L, const char *a, const char *b, const char *c, const char *d)
{
    const char *part[4] = { a, b, c, d };
    if (!lua_checkstack(L, 2)) {
        lua_pushnil(L);   /* no memory even to grow the stack: not a string */
        return;
    }
    lua_pushcfunction(L, error_text);
    lua_pushlightuserdata(L, part);
    lua_pcall(L, 1, 1, 0);   /* the message, or the memory error */
}

int arb_sandbox_pcall(lua_State *L, int nargs, int nresults, int64_t instr, size_t mem_bytes)
{
    arb_sandbox_t *sb = arb_sandbox_of(L);
    size_t saved_limit = sb->limit;
    if (instr < 0) instr = 0;
    if (sb->total_on && instr > sb->total_instr) instr = sb->total_instr > 0 ? sb->total_instr : 0;
    uint64_t now = arb_sandbox_clock_ns(L);
    uint64_t deadline = now + (uint64_t)instr * ARB_SANDBOX_NS_PER_INSTRUCTION;
    if (sb->until_ns && sb->until_ns < deadline) deadline = sb->until_ns;
    if (sb->total_on && sb->total_deadline_ns < deadline) deadline = sb->total_deadline_ns;
    sb->deadline_ns = deadline;
    sb->stopped = false;
    sb->why = NULL;
    sb->halt = NULL;
    sb->where[0] = '\0';
    sb->instr_left = instr;
    /* A call may grow the state by mem_bytes, but what rules keep across
     * calls (tables in upvalues) may never take it past the cap. */
    sb->limit = mem_bytes >= SIZE_MAX - sb->used ? SIZE_MAX : sb->used + mem_bytes;
    if (sb->limit > sb->cap) sb->limit = sb->cap;
    /* The first tick is short: the hook learns how slow this call's
     * instructions are before letting a thousand of them run. */
    sb->tick = ARB_SANDBOX_FIRST_TICK;
    sb->tick_ns = now;
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, ARB_SANDBOX_FIRST_TICK);
    int base = lua_gettop(L) - nargs;                   /* the function's slot */
    lua_pushcfunction(L, sandbox_msgh);
    lua_insert(L, base);
    sb->in_call = true;
    int rc = lua_pcall(L, nargs, nresults, base);
    sb->in_call = false;
    lua_remove(L, base);
    sb->limit = saved_limit;
    if (sb->total_on) {
        int64_t spent = instr - (sb->instr_left > 0 ? sb->instr_left : 0);
        sb->total_instr -= spent > 0 ? spent : 0;
        if (sb->total_instr < 0) sb->total_instr = 0;
    }
    if (sb->tick != ARB_SANDBOX_HOOK_EVERY) {
        sb->tick = ARB_SANDBOX_HOOK_EVERY;
        lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, ARB_SANDBOX_HOOK_EVERY);
    }
    if (rc == LUA_OK && sb->halt) {
        /* The rule caught its budget stop with a pcall and returned at once
         * (`return pcall(f)`, a tail call: no instruction of its own ran
         * after it to be stopped again). A budget stop cannot be caught. */
        lua_settop(L, base - 1);
        push_error(L, sb->where, sb->where[0] ? ": " : "", sb->halt, " budget exceeded");
        sb->stopped = true;
        sb->why = sb->halt;
        rc = LUA_ERRRUN;
    } else if (rc == LUA_OK) {
        /* A refused allocation the emergency collector then satisfied. */
        sb->stopped = false;
        sb->why = NULL;
    } else if (rc == LUA_ERRMEM || (rc == LUA_ERRERR && sb->stopped && sb->why &&
                                    strcmp(sb->why, "memory") == 0)) {
        sb->stopped = true;
        sb->why = "memory";
        push_error(L, sb->where, sb->where[0] ? ": " : "", "memory budget exceeded", "");
        lua_replace(L, -2);
    } else if (rc == LUA_ERRERR) {
        /* The handler itself failed: only a stack overflow while handling
         * one gets here (the handler does not raise otherwise). */
        sb->stopped = true;
        sb->why = "call depth";
        push_error(L, "call depth budget exceeded", "", "", "");
        lua_replace(L, -2);
    } else if (lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "error object is not a string", "", "", "");
        lua_replace(L, -2);
    }
    return rc;
}
