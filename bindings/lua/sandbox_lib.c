/* Library functions whose work the count hook cannot see.
 *
 * A C function of the standard library runs without executing Lua
 * instructions, so the instruction budget and the wall-clock check of the
 * hook never reach it while it loops. Each function below either loops over
 * a range a rule chooses (table.move over 2^62 indices, table.insert with a
 * lying __len), or walks a subject, or backtracks (patterns). Its wrapper
 * computes the work before any of it is done and charges it to the running
 * call's instruction budget (arb__sandbox_charge), so the call stops within
 * its budget whatever the arguments; functions that only copy bytes into
 * new strings are charged by the allocator instead. string.rep, which turns
 * once per repetition even when it copies nothing, is replaced by our own,
 * and xpcall by one whose handler runs under the hook (Lua runs a message
 * handler with hooks off when the error came from the hook).
 *
 * Patterns: a sound upper bound of the matcher's steps is computed from the
 * pattern's shape and the subject's length, numbers coerced first (see
 * pattern_work); a pattern whose bound exceeds what is left of the budget is
 * refused with "pattern too costly", any other is charged its bound.
 *
 * insert, remove and sort read the length once: the library versions read
 * __len again after the wrapper has charged for it, and a lying __len could
 * answer differently the second time.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bindings/lua/sandbox.h"

/* Matcher steps charged as one instruction. */
#define PATTERN_STEPS_PER_INSTRUCTION 4

/* ------------------------------------------------------------ helpers */

/* Call the wrapped library function (upvalue 1) with this call's arguments. */
static int call_original(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static double range_count(lua_Integer from, lua_Integer to)
{
    return to < from ? 0.0 : (double)to - (double)from + 1.0;
}

/* The table argument of the table functions: a table, or anything with a
 * metatable (the library accepts objects with __index/__len). */
static void check_list(lua_State *L, int arg)
{
    if (lua_type(L, arg) == LUA_TTABLE) return;
    if (lua_getmetatable(L, arg)) {
        lua_pop(L, 1);
        return;
    }
    luaL_checktype(L, arg, LUA_TTABLE);
}

/* ------------------------------------------------------------ string */

/* rep(s, n, sep), our own: the library's loop turns n times even when
 * nothing is copied (string.rep("", 2^50) never returns) and copies a
 * piece per turn. Here the result is sized first (the allocator refuses it
 * past the memory budget, or charges its bytes), one piece is written, and
 * the written part is copied onto the rest, doubling: a few dozen copies
 * whatever n is. */
static int l_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    double total_d = (double)n * (double)l + ((double)n - 1.0) * (double)lsep;
    if (total_d >= (double)(SIZE_MAX / 2) || total_d >= 9e18)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * l + ((size_t)n - 1u) * lsep;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, total);
    memcpy(out, s, l);
    size_t done = l;
    if (done < total) {                     /* one "sep s" piece after s */
        memcpy(out + done, sep, lsep);
        memcpy(out + done + lsep, s, l);
        done += lsep + l;
    }
    /* The part after the first s repeats with period lsep + l: copying its
     * own prefix onto its end keeps it so. */
    while (done < total) {
        size_t chunk = done - l;
        if (chunk > total - done) chunk = total - done;
        memcpy(out + done, out + l, chunk);
        done += chunk;
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

/* byte, utf8.len, utf8.codepoint, utf8.offset, tonumber: a walk over the
 * subject, and as many results as it asks for. */
static int l_walk(lua_State *L)
{
    size_t l = 0;
    if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &l);
    arb__sandbox_charge(L, (double)l / 16.0);
    int n = call_original(L);
    arb__sandbox_charge(L, (double)n);
    return n;
}

/* ------------------------------------------------------------ patterns */

/* Binomial coefficient C(n + k, k) as a double (huge rather than exact). */
static double choose(double n, int k)
{
    double r = 1.0;
    for (int i = 1; i <= k && r < 1e300; i++) r = r * (n + i) / i;
    return r;
}

/* An upper bound of the steps Lua's backtracking matcher can take for
 * pattern p (anchor removed) on a subject of n bytes, tried from `starts`
 * positions.
 *
 * Only single-character items followed by *, +, - or ? branch: each tries
 * every count its repetition can take, and the counts along one path
 * consume disjoint stretches of the subject, so the paths from one start
 * are at most the ways to choose k counts whose sum is at most n,
 * C(n + k, k), times 2 for each ? (count 0 or 1). An inner node of the
 * search scans the subject at most once (the greedy expansion); any node
 * also walks the rest of the pattern and its %b balances and back
 * references (a scan of the subject each). Captures, anchors and %f do not
 * branch. Whatever is not understood is counted as branching: the bound
 * only errs upwards. */
static double pattern_work(const char *p, size_t m, double n, double starts)
{
    int k = 0, q = 0, scans = 0;
    size_t i = 0;
    while (i < m) {
        char c = p[i];
        if (c == '(' || c == ')') {
            i++;
            continue;
        }
        if (c == '%' && i + 1 < m) {
            char d = p[i + 1];
            i += 2;
            if (d == 'b') {                    /* %bxy */
                scans++;
                i += 2;
                continue;
            }
            if (d >= '0' && d <= '9') {        /* back reference */
                scans++;
                continue;
            }
            if (d != 'f' || i >= m || p[i] != '[') goto quantifier;
            c = '[';                           /* %f[set]: the set follows */
        }
        if (c == '[') {
            i++;
            if (i < m && p[i] == '^') i++;
            do {                               /* a ']' first is a member */
                if (i < m && p[i] == '%') i++;
                i++;
            } while (i < m && p[i] != ']');
            i++;
        } else {
            i++;
        }
    quantifier:
        if (i < m && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
            k++;
            i++;
        } else if (i < m && p[i] == '?') {
            q++;
            i++;
        }
    }
    double branch = pow(2.0, q);
    double leaves = choose(n, k) * branch;
    double inner = k ? (double)k * choose(n, k - 1) * branch : 0.0;
    double node = (double)m + 1.0 + n * (double)scans;
    return starts * (inner * (node + n) + leaves * node);
}

/* find/match/gmatch/gsub with the bound checked and charged first. Numbers
 * are made strings here, as the library would, so their length counts. */
static int l_pattern(lua_State *L)
{
    static const char *const names[] = { "find", "match", "gmatch", "gsub" };
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    size_t n, m;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &m);
    bool plain = kind == 0 && lua_toboolean(L, 4);
    /* find without special characters is a plain search in the library */
    if (kind == 0 && strlen(p) == m && strpbrk(p, "^$*+?.([%-") == NULL) plain = true;
    double work;
    if (plain) {
        work = ((double)n + 1.0) * ((double)m + 1.0);
    } else {
        size_t anchored = kind != 2 && m > 0 && p[0] == '^';
        work = pattern_work(p + anchored, m - anchored, (double)n,
                            anchored ? 1.0 : (double)n + 1.0);
    }
    double units = work / PATTERN_STEPS_PER_INSTRUCTION;
    arb_sandbox_t *sb = arb_sandbox_of(L);
    /* What is left: instructions, and wall time counted in instructions
     * (the match cannot be interrupted once it runs). */
    double left = (double)sb->instr_left;
    uint64_t now = arb_sandbox_clock_ns(L);
    double wall = sb->deadline_ns > now ? (double)(sb->deadline_ns - now) / ARB_SANDBOX_NS_PER_INSTRUCTION : 0.0;
    if (wall < left) left = wall;
    if (sb->in_call && !sb->halt && !(units < left))
        luaL_error(L, "string.%s: pattern too costly for a subject of %d bytes", names[kind],
                   n > INT32_MAX ? INT32_MAX : (int)n);
    arb__sandbox_charge(L, units);
    return call_original(L);
}

/* ------------------------------------------------------------ table */

static int l_concat(lua_State *L)
{
    check_list(L, 1);
    luaL_optlstring(L, 2, "", NULL);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    lua_Integer j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
    arb__sandbox_charge(L, range_count(i, j));
    lua_settop(L, 2);
    lua_pushinteger(L, i);
    lua_pushinteger(L, j);
    return call_original(L);
}

static int l_unpack(lua_State *L)
{
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer j = lua_isnoneornil(L, 3) ? luaL_len(L, 1) : luaL_checkinteger(L, 3);
    arb__sandbox_charge(L, range_count(i, j));
    lua_settop(L, 1);
    lua_pushinteger(L, i);
    lua_pushinteger(L, j);
    return call_original(L);
}

static int l_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    arb__sandbox_charge(L, range_count(f, e));
    return call_original(L);
}

/* table.insert(t, [pos,] v): shifts t[pos..#t] up by one. */
static int l_insert(lua_State *L)
{
    check_list(L, 1);
    lua_Integer e = (lua_Integer)((lua_Unsigned)luaL_len(L, 1) + 1u);   /* first empty */
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        arb__sandbox_charge(L, (double)e - (double)pos);
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(t, [pos]): returns t[pos] and shifts t[pos+1..#t] down. */
static int l_remove(lua_State *L)
{
    check_list(L, 1);
    lua_Integer size = luaL_len(L, 1);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    if (pos < size) arb__sandbox_charge(L, (double)size - (double)pos);
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

/* table.sort: charged n log n comparisons. A table with a metatable is
 * sorted as a plain copy of its n elements, written back after, so that
 * the library's own reading of # cannot be told a larger n. */
static int l_sort(lua_State *L)
{
    check_list(L, 1);
    lua_Integer n = luaL_len(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    if (n < 2) return 0;
    luaL_argcheck(L, n < INT32_MAX, 1, "array too big");
    arb__sandbox_charge(L, 2.0 * (double)n * (log2((double)n) + 1.0));
    if (!lua_getmetatable(L, 1)) return call_original(L);
    lua_pop(L, 1);
    lua_createtable(L, (int)n, 0);                       /* t comp copy */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, 3, i);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        lua_seti(L, 1, i);
    }
    return 0;
}

/* ------------------------------------------------------------ base */

/* xpcall(f, h, ...): Lua runs a message handler with hooks off when the
 * error came from a hook, so `xpcall(loop, loop)` would never be stopped.
 * Here h runs after f has unwound, as ordinary rule code under every
 * budget; rules cannot tell the difference (no debug library). */
static int l_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) return lua_gettop(L) - n;
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_pcall(L, 1, 1, 0);                  /* its result, or its own error */
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* ------------------------------------------------------------ wrapping */

static void wrap(lua_State *L, const char *lib, const char *name, lua_CFunction f, int kind)
{
    if (lib) lua_getglobal(L, lib); else lua_pushglobaltable(L);
    lua_getfield(L, -1, name);                          /* lib original */
    if (kind >= 0) lua_pushinteger(L, kind);
    lua_pushcclosure(L, f, kind >= 0 ? 2 : 1);          /* lib wrapper */
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void arb__sandbox_wrap_libs(lua_State *L)
{
    wrap(L, "string", "rep", l_rep, -1);
    wrap(L, "string", "byte", l_walk, -1);
    wrap(L, "utf8", "len", l_walk, -1);
    wrap(L, "utf8", "codepoint", l_walk, -1);
    wrap(L, "utf8", "offset", l_walk, -1);
    wrap(L, NULL, "tonumber", l_walk, -1);
    wrap(L, "string", "find", l_pattern, 0);
    wrap(L, "string", "match", l_pattern, 1);
    wrap(L, "string", "gmatch", l_pattern, 2);
    wrap(L, "string", "gsub", l_pattern, 3);
    wrap(L, "table", "concat", l_concat, -1);
    wrap(L, "table", "unpack", l_unpack, -1);
    wrap(L, "table", "move", l_move, -1);
    wrap(L, "table", "insert", l_insert, -1);
    wrap(L, "table", "remove", l_remove, -1);
    wrap(L, "table", "sort", l_sort, -1);
    wrap(L, NULL, "xpcall", l_xpcall, -1);
}
