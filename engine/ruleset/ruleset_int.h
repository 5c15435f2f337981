/* Internals of the ruleset loader, shared by its files alone: ruleset.c
 * (lifecycle), load_state.c (the load state), compile_decl.c, compile_cond.c,
 * compile_control.c and compile_index.c (the compiler), fileio.c (reading the folder) and
 * ruletest.c (the rule tests, which run in the loader's state). No file
 * outside the loader includes this header: what others may use is in
 * ruleset.h.
 */
#ifndef ARB_RULESET_INT_H
#define ARB_RULESET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#include "engine/ruleset/compiled.h"
#include "engine/ruleset/ruleset.h"
#include "engine/ruleset/specread.h"

/* ---- the load state (load_state.c) and the folder's files (fileio.c) */

/* The budgets of a whole load: the prelude, every rule file and the compile
 * together (arb_sandbox_total_begin in arb_ruleset_load). */
#define LOAD_INSTRUCTIONS 50000000
#define LOAD_MEMORY (256u * 1024 * 1024)
#define LOAD_WALL_NS (5000000000ull)

typedef struct arb_rule_file {
    char *name;     /* file name within the folder */
    char *path;     /* dir/name, as shown in messages */
    char *text;     /* contents, NULL when unreadable */
    size_t len;
} arb_rule_file_t;

/* The *.lua files of dir in name order: the *_test.lua ones when tests,
 * else the others. Free with arb__rule_files_free. */
int arb__rule_files_list(const char *dir, bool tests, arb_rule_file_t **out, size_t *count,
                         arb_problems_t *problems);
void arb__rule_files_free(arb_rule_file_t *files, size_t n);

/* An experiment's challenger: the rule files of dir (its folder) and those
 * of base (the champion's) that dir has no file of the same name for, in
 * name order: a challenger folder holds only what differs. */
int arb__rule_files_overlay(const char *base, const char *dir, arb_rule_file_t **out, size_t *count,
                            arb_problems_t *problems);

/* Run file f of a ruleset state in a fresh environment from the prelude's
 * factory env_name ("rules_env" or "tests_env"). Stack: unchanged. */
int arb__rule_file_run(lua_State *L, const arb_rule_file_t *f, const char *env_name,
                       arb_problems_t *problems);

/* Scan rule file f's source for Lua's and/or/not applied to a condition
 * (lexcheck.c), adding a problem at its line for each. Needs the prelude
 * run on L; raises only when memory runs out. Stack: unchanged. */
void arb__rule_file_lexcheck(lua_State *L, const arb_rule_file_t *f, arb_problems_t *problems);

/* Open (begin) or close the budget of a whole load on L: the prelude, every
 * rule file and the compile, or every test file and the reading of the tests,
 * draw from one total of instructions, memory and wall time. */
void arb__load_budget(lua_State *L, bool begin);

/* Push field name of the prelude's result table. Stack: +1. */
void arb__prelude_push(lua_State *L, const char *name);

/* Run the prelude in L; its result table goes to the registry. Returns -1
 * with a problem when it fails. */
int arb__prelude_run(lua_State *L, arb_problems_t *problems);

/* ---- compiling (compile_decl.c, compile_cond.c, compile_index.c) */

/* Running out of C memory while compiling: raised as a Lua error, which
 * unwinds to ruleset_compile like one of Lua's own (every caller runs
 * inside compile_protected). Whatever was built so far is reachable from
 * rs or cc, each array consistent with its count, so freeing the ruleset
 * frees it; the load fails with this problem and the old ruleset serves on. */
#define COMPILE_OOM "out of memory compiling the ruleset"

/* Raise COMPILE_OOM in L (inside compile_protected only). */
void arb__compile_oom(lua_State *L);

/* p, or raise COMPILE_OOM when it is NULL. */
void *arb__compile_check(lua_State *L, void *p);

/* The symbol of s (len bytes, or up to its NUL); raises when out of memory. */
int32_t arb__intern(compiler_t *cc, const char *s, size_t len);
int32_t arb__intern_z(compiler_t *cc, const char *s);

/* arr with room for n + extra elements of elem bytes (see GROW). */
void *arb__grow(lua_State *L, void *arr, size_t elem, size_t n, size_t extra);

/* rs is the ruleset being compiled; a failure raises (arb__compile_oom). */
#define GROW(rs, arr, n, extra) \
    ((arr) = arb__grow((rs)->L, (arr), sizeof *(arr), (size_t)(n), (size_t)(extra)))

/* Whether model sym was declared; the symbol of a model a rule names, a
 * problem when it was not declared. */
bool arb__model_declared(compiler_t *cc, int32_t sym);
/* in_store(sym): a problem unless a store "sym" { ... } declares it
 * (sym -1, in any store, needs none). */
void arb__store_check(compiler_t *cc, int32_t sym);
/* A problem for each constant of action a's priority that is below 0, or
 * 0 (compile_numbers.c). After its value and weight are compiled. */
void arb__check_action_numbers(compiler_t *cc, int spec, const arb_action_t *a);
int32_t arb__model_ref(compiler_t *cc, const char *name);

/* catalog "file" (compile_catalog.c): check the declaration at spec; then,
 * after the protected compile, load the catalog it names into rs->catalog
 * (when load; its problems join the load's) and free what cc holds. */
void arb__compile_catalog(compiler_t *cc, int spec);
void arb__catalog_load(compiler_t *cc, bool load);

/* The index of the compiled condition or weight at idx (-1 on a problem). */
int32_t arb__compile_cond(compiler_t *cc, int idx);
int32_t arb__compile_wexpr(compiler_t *cc, int idx);

/* The date words (compile_date.c): whether op is one, and its fields into
 * n (the comparison of since/until is compile_cond.c's). -1 on a problem. */
bool arb__date_op(const char *op);
int arb__compile_date_cond(compiler_t *cc, int idx, const char *op, arb_node_t *n);
/* Explain: keep on node the words of the condition at idx (compile_words.c). */
void arb__compile_words(compiler_t *cc, int idx, int32_t node);

/* After the protected compile: each returns -1 when memory runs out,
 * leaving what it allocated to rs. */
int arb__ruleset_mark_shared(arb_ruleset_t *rs);
int arb__ruleset_weight_max(arb_ruleset_t *rs);
int arb__ruleset_hot_fields(arb_ruleset_t *rs);
int arb__ruleset_index_channels(arb_ruleset_t *rs);

/* Contact policy (compile_policy.c). */
arb_counts_t arb__channel_default_counts(const char *channel);
void arb__compile_channel_policy(compiler_t *cc, int spec, int ch);
void arb__compile_group(compiler_t *cc, int spec);
void arb__compile_action_policy(compiler_t *cc, int spec, arb_action_t *a);
void arb__add_outcome(compiler_t *cc, const char *s, size_t len);

/* An action's `propensity` (compile_adaptive.c): a fixed number into
 * a->propensity, or adaptive { ... } into rs->adaptives and a->adaptive
 * (-1 otherwise; a->propensity 1, the bound the candidate loop prunes by).
 * has_model: the action names a `model` too. */
void arb__compile_propensity(compiler_t *cc, int spec, arb_action_t *a, bool has_model);

/* Control groups and experiments (compile_control.c): the global
 * control { ... }, experiment "name" { ... }, and the `control` field of an
 * action or group owned by owner (its id) as an index in rs->controls, -1
 * none. After the compile (actions sorted, hot fields set): default salts,
 * explain reasons and rs->action_control; -1 when memory runs out. */
void arb__compile_global_control(compiler_t *cc, int spec);
void arb__compile_experiment(compiler_t *cc, int spec);
int32_t arb__compile_control_field(compiler_t *cc, int spec, const char *owner, bool of_group);
int arb__ruleset_controls_finish(arb_ruleset_t *rs);
void arb__ruleset_controls_free(arb_ruleset_t *rs);

/* Compile what the rule files declared into rs; problems added. */
void arb__ruleset_compile(arb_ruleset_t *rs, arb_problems_t *problems);

#endif
