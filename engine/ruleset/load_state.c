/* The sandboxed state a load runs in: the prelude, and each rule file in
 * its own environment under the budget of the whole load.
 *
 * The prelude (dsl/prelude.lua, compiled in) defines the rule language:
 * its result table, kept in the registry, holds the environments' factories
 * ("rules_env", "tests_env"), the declarations the files made and the
 * marker metatables the compiler recognises. A file runs in a fresh
 * environment from a factory, so files see each other only through what
 * they declare; a failure becomes a problem at the file's own file:line.
 * The rule tests (testread.c) run their files the same way, in a state of
 * their own.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/lua/sandbox.h"
#include "engine/base/log.h"

extern const char arb_prelude_lua[];
extern const uint64_t arb_prelude_lua_len;
extern const char arb_checks_lua[];
extern const uint64_t arb_checks_lua_len;
extern const char arb_prelude_dates_lua[];
extern const uint64_t arb_prelude_dates_lua_len;
extern const char arb_prelude_history_lua[];
extern const uint64_t arb_prelude_history_lua_len;
extern const char arb_prelude_place_lua[];
extern const uint64_t arb_prelude_place_lua_len;

/* Registry key of the table the prelude returned. */
static const char prelude_key = 0;

void arb__load_budget(lua_State *L, bool begin)
{
    if (begin) arb_sandbox_total_begin(L, LOAD_INSTRUCTIONS, LOAD_MEMORY, LOAD_WALL_NS);
    else arb_sandbox_total_end(L);
}

/* ------------------------------------------------------------ prelude helpers */

/* C.where(level) -> file, line of the function `level` levels up. */
static int l_prelude_where(lua_State *L)
{
    lua_Debug ar;
    if (!lua_getstack(L, (int)luaL_checkinteger(L, 1), &ar) || !lua_getinfo(L, "Sl", &ar)) {
        lua_pushliteral(L, "?");
        lua_pushinteger(L, 0);
        return 2;
    }
    lua_pushstring(L, ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
    lua_pushinteger(L, ar.currentline);
    return 2;
}

/* C.part(name) -> the chunk of the prelude's part dsl/prelude_<name>.lua
 * (compiled in beside it), for the prelude to run with its helpers. */
static int l_prelude_part(lua_State *L)
{
    static const struct { const char *name; const char *text; const uint64_t *len; } parts[] = {
        { "dates", arb_prelude_dates_lua, &arb_prelude_dates_lua_len },
        { "history", arb_prelude_history_lua, &arb_prelude_history_lua_len },
        { "place", arb_prelude_place_lua, &arb_prelude_place_lua_len },
    };
    const char *name = luaL_checkstring(L, 1);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (strcmp(name, parts[i].name) != 0) continue;
        char chunk[64];
        snprintf(chunk, sizeof chunk, "=prelude_%s", name);
        if (luaL_loadbufferx(L, parts[i].text, (size_t)*parts[i].len, chunk, "t") != LUA_OK)
            return lua_error(L);
        return 1;
    }
    return luaL_error(L, "no prelude part '%s'", name);
}

/* print(...) from a rule: one log line. */
static int l_prelude_print(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    /* The rule's bytes need not be UTF-8 nor one line: cleaned and cut. */
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    char clean[512], q[1024];
    arb_text_clean(text, len, clean, sizeof clean);
    arb_log_info("rule print", "text=%s", arb_log_quote(clean, q, sizeof q));
    return 0;
}

/* Run the prelude; its result table goes to the registry. */
int arb__prelude_run(lua_State *L, arb_problems_t *problems)
{
    if (luaL_loadbufferx(L, arb_prelude_lua, (size_t)arb_prelude_lua_len, "=prelude", "t") != LUA_OK) {
        arb_problems_add(problems, "internal: prelude: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_prelude_where);
    lua_setfield(L, -2, "where");
    lua_pushcfunction(L, l_prelude_print);
    lua_setfield(L, -2, "print");
    /* dsl/checks.lua: the prelude runs it to check its words. */
    if (luaL_loadbufferx(L, arb_checks_lua, (size_t)arb_checks_lua_len, "=checks", "t") != LUA_OK) {
        arb_problems_add(problems, "internal: checks: %s", lua_tostring(L, -1));
        lua_pop(L, 3);
        return -1;
    }
    lua_setfield(L, -2, "checks");
    lua_pushcfunction(L, l_prelude_part);
    lua_setfield(L, -2, "part");
    if (arb_sandbox_pcall(L, 1, 1, LOAD_INSTRUCTIONS, LOAD_MEMORY) != LUA_OK) {
        arb_problems_add(problems, "internal: prelude: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &prelude_key);
    return 0;
}

/* Push field `name` of the prelude's result table. Stack: +1. */
void arb__prelude_push(lua_State *L, const char *name)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &prelude_key);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* The problem of a file whose run stopped on a budget: at the line the
 * sandbox named when it is in this file. */
static void load_stop_problem(arb_problems_t *problems, const arb_rule_file_t *f,
                              const char *why, const char *msg)
{
    size_t plen = strlen(f->path);
    int line = 0;
    if (msg && strncmp(msg, f->path, plen) == 0 && msg[plen] == ':') line = atoi(msg + plen + 1);
    char at[1100];
    if (line > 0) snprintf(at, sizeof at, "%s:%d", f->path, line);
    else snprintf(at, sizeof at, "%s", f->path);
    arb_problems_add(problems,
                     "%s: stopped: %s budget exceeded while loading (the budgets are for all "
                     "the files of the ruleset together: %d million instructions, %u MB, %d s)",
                     at, why, LOAD_INSTRUCTIONS / 1000000, LOAD_MEMORY >> 20,
                     (int)(LOAD_WALL_NS / 1000000000u));
}

/* Load and run one file in a fresh environment made by the prelude's
 * env_name factory. Problems are reported as the file's own file:line.
 * Between arb_sandbox_total_begin and _end (a whole load), the budgets
 * left are shared with the other files. */
static int rule_file_run(lua_State *L, const arb_rule_file_t *f, const char *env_name,
                         arb_problems_t *problems)
{
    char chunk[1100];
    snprintf(chunk, sizeof chunk, "@%s", f->path);
    if (luaL_loadbufferx(L, f->text, f->len, chunk, "t") != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg) msg = "out of memory reading the file";
        if (strncmp(msg, f->path, strlen(f->path)) == 0) arb_problems_add(problems, "%s", msg);
        else arb_problems_add(problems, "%s: %s", f->path, msg);   /* e.g. bytecode refused */
        lua_pop(L, 1);
        return -1;
    }
    arb__prelude_push(L, env_name);                     /* chunk factory */
    lua_call(L, 0, 1);                                  /* chunk env */
    lua_setupvalue(L, -2, 1);                           /* chunk, _ENV = env */
    if (arb_sandbox_pcall(L, 0, 0, LOAD_INSTRUCTIONS, LOAD_MEMORY) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg) msg = "out of memory";   /* even for the message */
        arb_sandbox_t *sb = arb_sandbox_of(L);
        if (sb->stopped)
            load_stop_problem(problems, f, sb->why ? sb->why : "instructions", msg);
        else if (strncmp(msg, f->path, strlen(f->path)) == 0)
            arb_problems_add(problems, "%s", msg);
        else
            arb_problems_add(problems, "%s: %s", f->path, msg);   /* error("x", 0) */
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* One rule_file_run, protected: between its own protected calls the Lua
 * API can still run out of memory (making the environment), and that must
 * end as a problem of the load, never in Lua's panic. */
typedef struct file_run {
    const arb_rule_file_t *f;
    const char *env_name;
    arb_problems_t *problems;
    int rc;
} file_run_t;

static int file_run_protected(lua_State *L)
{
    file_run_t *r = lua_touserdata(L, 1);
    lua_settop(L, 0);
    r->rc = rule_file_run(L, r->f, r->env_name, r->problems);
    return 0;
}

int arb__rule_file_run(lua_State *L, const arb_rule_file_t *f, const char *env_name,
                       arb_problems_t *problems)
{
    int top = lua_gettop(L);
    file_run_t r = { .f = f, .env_name = env_name, .problems = problems, .rc = -1 };
    /* Pushing a C function and a light userdata does not allocate. */
    lua_pushcfunction(L, file_run_protected);
    lua_pushlightuserdata(L, &r);
    int rc = lua_pcall(L, 1, 0, 0);
    if (rc == LUA_ERRMEM)
        arb_problems_add(problems, "%s: out of memory running the file", f->path);
    else if (rc != LUA_OK)
        arb_problems_add(problems, "%s: %s", f->path,
                         lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
    lua_settop(L, top);
    return rc == LUA_OK ? r.rc : -1;
}
