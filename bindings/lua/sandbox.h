/* The Lua sandbox rules run in: a lua_State with only the safe parts of the
 * standard library, an allocator with a memory cap, and budgets of
 * instructions, memory and wall time that a rule's own pcall cannot swallow.
 *
 * Every call is bounded whatever library function it calls: the count hook
 * charges Lua instructions and checks the wall clock; C library functions
 * that loop without running Lua instructions (string.rep, table.move,
 * patterns...) are wrapped so that their work is charged to the same
 * instruction budget before they start (sandbox_lib.c), and every byte
 * allocated is charged too.
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
    const char *why;      /* "instructions", "memory", "wall time" or "call depth" */
    /* private to sandbox.c */
    lua_State *L;         /* the state, for the allocator to bring the hook forward */
    bool in_call;         /* inside arb_sandbox_pcall: charges apply */
    int tick;             /* instructions between two runs of the hook now */
    uint64_t deadline_ns; /* the current call stops past this monotonic time */
    uint64_t tick_ns;     /* when the hook last ran (or the call began) */
    uint64_t until_ns;    /* arb_sandbox_set_deadline: absolute, 0 none */
    bool total_on;        /* arb_sandbox_total_begin .. _end */
    int64_t total_instr;  /* instructions left for the whole total */
    uint64_t total_deadline_ns;
    size_t total_saved_cap;
    const char *halt;     /* the budget that stopped the call first, or NULL */
    char where[160];      /* "file:line" where it stopped, "" unknown */
} arb_sandbox_t;

/* Hook granularity: the budget is charged this many instructions at a time
 * (at most; a call starts with ticks of ARB_SANDBOX_FIRST_TICK, and ticks
 * shrink when instructions are slow, so that wall time is checked in time). */
#define ARB_SANDBOX_HOOK_EVERY 1000
#define ARB_SANDBOX_FIRST_TICK 16

/* Calls nested deeper than this stop the rule: runaway recursion would
 * otherwise spend milliseconds growing the Lua stack before its
 * instruction budget runs out. */
#define ARB_SANDBOX_MAX_DEPTH 200

/* Wall time a call may take per instruction of its budget: a call given
 * 200,000 instructions (a decision's rule) stops after 100 ms of wall time,
 * whatever it does (or at the decision's deadline, when that comes first). */
#define ARB_SANDBOX_NS_PER_INSTRUCTION 500

/* The longest string a rule may make (longer is a memory budget stop). */
#define ARB_SANDBOX_MAX_STRING (16u * 1024 * 1024)

/* Bytes allocated that cost one instruction: copying and filling memory is
 * work the count hook does not see. */
#define ARB_SANDBOX_BYTES_PER_INSTRUCTION 256

/* A new state whose allocations are counted in sb, with base (minus load,
 * loadfile, dofile, require, collectgarbage, rawset, print), string (minus
 * dump, pack, packsize, unpack), table, math and utf8 opened, the looping C
 * functions wrapped (see sandbox_lib.c) and the string metatable locked.
 * Returns NULL when out of memory. */
lua_State *arb_sandbox_new(arb_sandbox_t *sb);

/* lua_pcall under budgets: at most instr instructions, mem_bytes of new
 * memory, and instr * ARB_SANDBOX_NS_PER_INSTRUCTION of wall time (or less:
 * see arb_sandbox_set_deadline and arb_sandbox_total_begin). On error the
 * message is on the stack, always a string, most often "file:line: ...";
 * when a budget stopped the call, sb->stopped is true and sb->why says
 * which. An error object that is not a string becomes "file:line: error
 * object is a table" (nil, a boolean...); runaway recursion of any kind
 * stops as "call depth". */
int arb_sandbox_pcall(lua_State *L, int nargs, int nresults, int64_t instr, size_t mem_bytes);

/* Calls from now on also stop at this CLOCK_MONOTONIC time (ns); 0: none. */
void arb_sandbox_set_deadline(lua_State *L, uint64_t deadline_ns);

/* Until arb_sandbox_total_end, the calls share one budget: together they
 * may run instr instructions, for wall_ns of wall time, and the state may
 * hold at most mem_bytes more than it holds now (memory kept by one call
 * counts against the next). Each call still has its own budgets too. */
void arb_sandbox_total_begin(lua_State *L, int64_t instr, size_t mem_bytes, uint64_t wall_ns);
void arb_sandbox_total_end(lua_State *L);

/* The sandbox of a state made by arb_sandbox_new. */
arb_sandbox_t *arb_sandbox_of(lua_State *L);

/* The clock L's time budgets read, in nanoseconds: the calling thread's
 * CPU time while a load's total budget is open (arb_sandbox_total_begin),
 * else CLOCK_MONOTONIC (both read through engine/base/clock.h). */
uint64_t arb_sandbox_clock_ns(lua_State *L);

/* For the library wrappers (sandbox_lib.c): charge units instructions of
 * work to the running call, raising the budget error when they are not
 * left. Call only from a C function called by Lua. */
void arb__sandbox_charge(lua_State *L, double units);

/* Wrap the looping C functions of the opened libraries (sandbox_lib.c). */
void arb__sandbox_wrap_libs(lua_State *L);

#endif
