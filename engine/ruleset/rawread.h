/* Reading what a rule file owns, safely (DESIGN.md section 10: a rule file
 * that changes its own tables, metatables included, is read once, safely,
 * never a crash).
 *
 * A rule keeps every table it declared and may give it, after declaring
 * it, a metatable whose __index throws, answers differently each time or
 * allocates without end, a __len that lies, or make it contain itself. So
 * the compiler and the rule-test runner read rule-owned values only
 * through these helpers: raw (no metamethod ever runs, so no rule code runs
 * while a declaration is read and nothing can change between two reads),
 * bounded (depth, bytes) and inside one protected call (anything that
 * still raises, such as running out of memory, becomes a problem, never a
 * panic).
 */
#ifndef ARB_RAWREAD_H
#define ARB_RAWREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <msgpack.h>

/* Nesting of conditions and weights a declaration may have. */
#define ARB_RAW_MAX_DEPTH 100
/* Bytes one action's payload may pack to, and all payloads of a ruleset. */
#define ARB_PAYLOAD_MAX (64u * 1024)
#define ARB_PAYLOADS_MAX (128u * 1024 * 1024)

/* Push t[name] of the table at idx, read raw. Returns its type. May raise
 * (allocating the key): call inside arb_raw_protected only. */
int arb_raw_field(lua_State *L, int idx, const char *name);

/* Whether the value at idx is a table with a metatable. Never raises. */
bool arb_raw_has_mt(lua_State *L, int idx);

/* Pack the value at idx (nil, boolean, number, string, table) into pk,
 * which writes into sb, reading tables raw (a
 * sequence 1..n is an array, any other table a map). Refuses a table with
 * a metatable, nesting deeper than 32 levels (so a table that contains
 * itself), more than max_bytes added to sb, and, when utf8, a string or
 * key that is not valid UTF-8. Returns 0, or -1 with err filled (what is
 * packed then is garbage). May raise when out of memory: call inside
 * arb_raw_protected only. */
int arb_raw_pack(lua_State *L, int idx, msgpack_packer *pk, msgpack_sbuffer *sb,
                 size_t max_bytes, bool utf8, char *err, size_t errlen);

/* Run fn(L, ud) in one protected call under the sandbox's budgets (instr
 * Lua instructions, mem bytes of Lua memory). Returns 0, or -1 with why
 * it stopped (a Lua error message, cleaned to UTF-8) in err. The stack is
 * left as it was. fn must leave C resources it allocates reachable from
 * ud, so that the caller frees them whether it returned or raised. */
int arb_raw_protected(lua_State *L, int (*fn)(lua_State *L, void *ud), void *ud, int64_t instr,
                      size_t mem, char *err, size_t errlen);

#endif
