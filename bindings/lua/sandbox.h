/* The Lua sandbox rules run in: a lua_State with only the safe parts of the
 * standard library, an allocator with a memory cap, and an instruction
 * budget enforced by a count hook that a rule's own pcall cannot swallow.
 *
 * Ownership: the caller owns the arb_sandbox_t and must keep it alive (and at
 * the same address) for the life of the lua_State it created.
 */
#ifndef ARB_LUA_SANDBOX_H
#define ARB_LUA_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

typedef struct arb_sandbox {
    size_t used;          /* bytes the state holds now */
    size_t limit;         /* refuse growth past this; SIZE_MAX when unlimited */
    size_t cap;           /* no call may take the state past this; SIZE_MAX none */
    int64_t instr_left;   /* instructions left in the current call */
    bool stopped;         /* the current call ran out of a budget */
    const char *why;      /* "instructions" or "memory" when stopped */
} arb_sandbox_t;

/* Hook granularity: the budget is charged this many instructions at a time. */
#define ARB_SANDBOX_HOOK_EVERY 1000

/* Calls nested deeper than this stop the rule: runaway recursion would
 * otherwise spend milliseconds growing the Lua stack before its
 * instruction budget runs out. */
#define ARB_SANDBOX_MAX_DEPTH 200

/* A new state whose allocations are counted in sb, with base (minus load,
 * loadfile, dofile, require, collectgarbage, rawset, print), string (minus
 * dump), table, math and utf8 opened, and the string metatable locked.
 * Returns NULL when out of memory. */
lua_State *arb_sandbox_new(arb_sandbox_t *sb);

/* lua_pcall under budgets: at most instr instructions and mem_bytes of new
 * memory. On error the message ("file:line: ...") is on the stack; when a
 * budget stopped the call, sb->stopped is true and sb->why says which. */
int arb_sandbox_pcall(lua_State *L, int nargs, int nresults, int64_t instr, size_t mem_bytes);

/* The sandbox of a state made by arb_sandbox_new. */
arb_sandbox_t *arb_sandbox_of(lua_State *L);

#endif
