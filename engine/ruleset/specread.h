/* Reading the fields of one declaration while a ruleset compiles: the
 * compiler's state, shared by ruleset.c (which compiles) and specread.c
 * (which reads a spec's fields, checks their types, ranges and UTF-8, and
 * reports what is wrong as a problem at the declaration's file:line).
 *
 * Every read is raw (engine/rawread.h): no metamethod of a rule's table
 * runs, so a field reads the same each time and a list's length, read
 * once, bounds every read of its items. These functions may raise only
 * when Lua runs out of memory: they run inside ruleset.c's one protected
 * call. Strings returned are owned by the Lua table they came from, which
 * the caller keeps on the stack.
 */
#ifndef ARB_SPECREAD_H
#define ARB_SPECREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <msgpack.h>

#include "engine/ruleset/compiled.h"
#include "engine/ruleset/ruleset.h"

/* One declaration being compiled, for messages. */
typedef struct decl {
    const char *kind;   /* action, fallback, touchpoint, store, models, ... */
    const char *id;     /* NULL for list declarations */
    const char *file;
    int line;
} decl_t;

/* Things compiled once by identity: nodes or weight expressions. */
typedef struct shared_table {
    uint32_t *slots;    /* index + 1, 0 empty */
    uint32_t cap;       /* a power of two, > 2 x entries */
    uint32_t n;
    uint32_t *growing;  /* the slots shared_grow is filling: freed with the table */
} shared_table_t;

/* What the ruleset declared under one symbol, so that a duplicate or an
 * unknown name is found in one read: scanning every declaration so far
 * made n touchpoints, stores or models cost n^2 in C, where no load budget
 * sees it (200,000 touchpoints took minutes). */
typedef struct sym_decl {
    uint32_t touchpoint;    /* index + 1 in rs->touchpoints; 0 none */
    bool store, model;
} sym_decl_t;

/* Owned by ruleset_compile, which frees what it holds (scratch, the
 * shared tables, the key and answer buffers) whether the protected call returned or
 * unwound; rs, L and problems are the caller's. */
typedef struct compiler {
    arb_ruleset_t *rs;              /* the ruleset being built */
    lua_State *L;
    arb_problems_t *problems;
    const decl_t *d;    /* the declaration being compiled */
    int cond_mt, cmp_mt, expr_mt;   /* stack slots of the marker metatables */
    int adapt_mt;                   /* ... and of adaptive { ... } */
    const char *within;             /* the part of the declaration being read, for messages
                                       ("adaptive"), or NULL */
    int vocab;                      /* stack slot of vocabulary function -> name */
    int memo_cond, memo_wexpr;      /* stack slots: rule table -> compiled index (false while
                                       it is being compiled: a table that contains itself) */
    int depth;                      /* nesting of the condition or weight being compiled */
    size_t payload_bytes;           /* packed by every action so far */
    uint32_t *scratch;              /* children being compiled, a stack shared by the levels */
    size_t n_scratch;
    shared_table_t shared_nodes;    /* identical conditions compile to one node */
    shared_table_t shared_wexprs;   /* ... and identical weights to one expression */
    msgpack_sbuffer key, other;     /* scratch for the keys the tables compare */
    sym_decl_t *sym_decls;          /* by symbol id: what was declared under it so far */
    uint32_t n_sym_decls;
    msgpack_sbuffer answer;         /* the action's answer being packed (compile_answer) */
    char *catalog_path;             /* the declared catalog, joined to its folder; owned */
    const char *catalog_file;       /* where it was declared (a Lua string), for a second one */
    int catalog_line;
} compiler_t;

/* Add "file:line: kind 'id': message" for the declaration being compiled
 * ("file:line: kind 'id': within: message" while cc->within is set). */
void spec_problem(compiler_t *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Levenshtein distance of a and b (99 past 30 bytes), for "did you mean". */
int spec_distance(const char *a, const char *b);

/* Whether the value at idx is a table whose metatable is the one at mt_slot. */
bool spec_has_mt(lua_State *L, int idx, int mt_slot);

/* A problem for every key of the table at idx that is not one of allowed
 * (NULL-terminated), with the nearest name as a suggestion. */
void spec_check_fields(compiler_t *cc, int idx, const char *const *allowed);

/* "a number", "a string", ... for messages. */
const char *spec_lua_type_article(lua_State *L, int idx);

/* Field `name` of the spec at idx as a number in [lo, hi]; def when absent
 * (a problem when required) or wrong. */
double spec_field_number(compiler_t *cc, int idx, const char *name, double def, bool required,
                         double lo, double hi);

/* Whether the len bytes at s are valid UTF-8; a problem naming `what` if not. */
bool spec_utf8_ok(compiler_t *cc, const char *what, const char *s, size_t len);

/* Field `name` as a string, or NULL when absent or wrong; id: it ends up
 * in answers, so it must be valid UTF-8 too. */
const char *spec_field_string(compiler_t *cc, int idx, const char *name, bool required, bool id);

/* A list of strings, read once: its length is read one time and sizes
 * whatever its items fill, and an item is read by raw index below it. */
typedef struct spec_list {
    int idx;         /* stack slot of the list (or of the single string) */
    int n;           /* items; -1 when the field is absent */
    bool single;     /* a single name is a list of one */
    const char *name;
} spec_list_t;

/* Push field `name` of the spec at idx as a list (close with spec_list_close). */
spec_list_t spec_list_open(compiler_t *cc, int idx, const char *name, bool required);

/* Charge the load's instruction budget for one list item of len bytes that
 * the compiler copies into C: lists are read in C, where the count hook
 * never runs, and one Lua list shared by every action (a 50,000-item
 * `requires`, 1,000 actions) would otherwise cost gigabytes and minutes
 * outside every budget. Raises the budget error when it is spent. */
void spec_charge_item(compiler_t *cc, size_t len);

/* Item i (0-based, below l->n) as a valid UTF-8 string, or NULL with a
 * problem; charged with spec_charge_item. */
const char *spec_list_item(compiler_t *cc, const spec_list_t *l, int i, size_t *len);

/* Pop the list and everything above it. */
void spec_list_close(compiler_t *cc, const spec_list_t *l);

/* Call each(cc, string, len, i, ud) for the list of strings in field
 * `name`. Returns the count, or -1 when the field is absent. */
int spec_field_string_list(compiler_t *cc, int idx, const char *name, bool required,
                           void (*each)(compiler_t *, const char *, size_t, int, void *),
                           void *ud);

/* "2026-11-01", "2026-11-01T08:00:00Z" or unix seconds; 0 when absent. */
int64_t spec_field_date(compiler_t *cc, int idx, const char *name);

/* Appended to problems about a vocabulary table a rule changed. */
extern const char *const SPEC_CHANGED;

/* Field `name` of a condition, comparison or weight as a string, or NULL
 * with a problem. */
const char *spec_piece_string(compiler_t *cc, int idx, const char *name, size_t *len);

/* Field `name` of a piece as a number in [lo, hi]; def when absent. */
double spec_piece_number(compiler_t *cc, int idx, const char *name, double def, double lo,
                         double hi);

#endif
