/* Showing a decide context to plain Lua rules, and MessagePack values as
 * Lua values.
 *
 * A rule's function(c) receives one userdata per lua_State. Its fields are
 * converted from the request only when read, and cached for the rest of the
 * decision. `c.location` is nil unless consent.location is true, whatever
 * the rule does: the engine, not the rule author, enforces consent.
 */
#ifndef ARB_LUA_CONTEXT_H
#define ARB_LUA_CONTEXT_H

#include <stddef.h>
#include <lua.h>
#include <msgpack.h>

#include "engine/request/context.h"

/* Create the context userdata and its metatable in L's registry. Call once
 * per state. Stack: unchanged. */
void arb_lua_context_init(lua_State *L);

/* Point the userdata at ctx before each rule call (ctx NULL when the
 * decision ends: a rule that kept `c` then gets an error, not stale data).
 * Tables read from `c` are converted afresh for every call, so no rule can
 * change what another rule sees. Stack: unchanged. */
void arb_lua_context_set(lua_State *L, const arb_context_t *ctx);

/* Push the context userdata. Stack: +1. */
void arb_lua_context_push(lua_State *L);

/* Push o as a Lua value (maps -> tables, arrays -> sequences, nil -> nil).
 * Stack: +1. */
void arb_lua_push_msgpack(lua_State *L, const msgpack_object *o);

#endif
