/* Loading a ruleset: a folder of rule files becomes a compiled, validated
 * ruleset, or nothing, with every problem reported as file:line.
 *
 * Steps: read the folder's *.lua files (tests aside) in name order and hash
 * them; make a sandboxed lua_State and run the prelude in it; run each rule
 * file in its own environment under a budget; then compile what the files
 * declared. Compiling checks every field of every declaration (unknown field,
 * wrong type, duplicate id, unknown channel, touchpoint or model...) and
 * turns conditions and weights into the flat node arrays of compiled.h. One
 * problem does not stop the others from being found.
 */
#include "engine/ruleset.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings/lua/context.h"
#include "bindings/lua/sandbox.h"
#include "engine/compiled.h"
#include "engine/fileio.h"
#include "engine/log.h"
#include "engine/rawread.h"
#include "engine/specread.h"
#include "engine/rpc.h"
#include "engine/utf8.h"

extern const char arb_prelude_lua[];
extern const uint64_t arb_prelude_lua_len;

/* Registry key of the table the prelude returned. */
static const char prelude_key = 0;

/* The budgets of a whole load: the prelude, every rule file and the compile
 * together (arb_sandbox_total_begin in arb_ruleset_load). */
#define LOAD_INSTRUCTIONS 50000000
#define LOAD_MEMORY (256u * 1024 * 1024)
#define LOAD_WALL_NS (5000000000ull)

void arb__load_budget(lua_State *L, bool begin)
{
    if (begin) arb_sandbox_total_begin(L, LOAD_INSTRUCTIONS, LOAD_MEMORY, LOAD_WALL_NS);
    else arb_sandbox_total_end(L);
}

static const char *const default_channels[] = { "web", "email", "app", "store",
                                                "call_center", "sms", NULL };

/* ------------------------------------------------------------ files */

/* Listing and reading the folder's files: engine/fileio.c. */

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
static int prelude_run(lua_State *L, arb_problems_t *problems)
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

/* ------------------------------------------------------------ compiling */

/* Running out of C memory while compiling: raised as a Lua error, which
 * unwinds to ruleset_compile like one of Lua's own (every caller runs
 * inside compile_protected). Whatever was built so far is reachable from
 * rs or cc, each array consistent with its count, so freeing the ruleset
 * frees it; the load fails with this problem and the old ruleset serves on. */
#define COMPILE_OOM "out of memory compiling the ruleset"

static void compile_oom(lua_State *L) { luaL_error(L, COMPILE_OOM); }

static void *compile_check(lua_State *L, void *p)
{
    if (!p) compile_oom(L);
    return p;
}

static int32_t intern(compiler_t *cc, const char *s, size_t len)
{
    int32_t sym = arb_symtab_intern(&cc->rs->syms, s, (uint32_t)len);
    if (sym < 0) compile_oom(cc->L);
    return sym;
}

static int32_t intern_z(compiler_t *cc, const char *s) { return intern(cc, s, strlen(s)); }

/* ---- growable arrays of the ruleset */

/* Room for n + extra elements in an array that only ever grows through
 * here: its capacity is the power of two at or above its count, so it is
 * reallocated O(log n) times, not once per element. */
static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap < n) cap *= 2;
    return cap;
}

static void *grow(lua_State *L, void *arr, size_t elem, size_t n, size_t extra)
{
    if (arr && n + extra <= capacity_for(n)) return arr;
    return compile_check(L, realloc(arr, elem * capacity_for(n + extra)));
}

/* rs is the ruleset being compiled; a failure raises (compile_oom). */
#define GROW(rs, arr, n, extra) \
    ((arr) = grow((rs)->L, (arr), sizeof *(arr), (size_t)(n), (size_t)(extra)))

static int32_t node_append(arb_ruleset_t *rs, const arb_node_t *n)
{
    GROW(rs, rs->nodes, rs->n_nodes, 1);
    rs->nodes[rs->n_nodes] = *n;
    return (int32_t)rs->n_nodes++;
}

static int32_t wexpr_append(arb_ruleset_t *rs, const arb_wexpr_t *w)
{
    GROW(rs, rs->wexprs, rs->n_wexprs, 1);
    rs->wexprs[rs->n_wexprs] = *w;
    return (int32_t)rs->n_wexprs++;
}

/* ---- sharing identical conditions
 *
 * Catalogs repeat conditions: every offer for laptop buyers says
 * bought("laptop", within(days(30))). Identical nodes are compiled once,
 * so a decision evaluates each distinct condition at most once (the
 * evaluator remembers the answers of shared nodes per request). */

/* Append the bytes of x to the identity key buf. */
static void key_put(lua_State *L, msgpack_sbuffer *buf, const void *x, size_t n)
{
    if (n && msgpack_sbuffer_write(buf, x, n) != 0) compile_oom(L);
}

/* In node_key and wexpr_key, whose rs is the ruleset being compiled. */
#define KEY_FIELD(key, field) key_put(rs->L, (key), &(field), sizeof(field))

/* What makes two condition nodes the same condition, as bytes: every field
 * by value, strings by content, children by (already shared) index. */
static void node_key(const arb_ruleset_t *rs, const arb_node_t *n, msgpack_sbuffer *key)
{
    key->size = 0;
    KEY_FIELD(key, n->op);
    KEY_FIELD(key, n->sym);
    KEY_FIELD(key, n->sym2);
    KEY_FIELD(key, n->window);
    KEY_FIELD(key, n->count);
    if (n->count) key_put(rs->L, key, rs->kids + n->first, sizeof *rs->kids * n->count);
    KEY_FIELD(key, n->cmp.op);
    KEY_FIELD(key, n->cmp.a);
    KEY_FIELD(key, n->cmp.b);
    KEY_FIELD(key, n->cmp.str_len);
    if (n->cmp.str) key_put(rs->L, key, n->cmp.str, n->cmp.str_len);
    KEY_FIELD(key, n->cmp.list_n);
    for (uint32_t i = 0; i < n->cmp.list_n; i++) {
        key_put(rs->L, key, &rs->str_lens[n->cmp.list + i], sizeof *rs->str_lens);
        key_put(rs->L, key, rs->strs[n->cmp.list + i], rs->str_lens[n->cmp.list + i]);
    }
    KEY_FIELD(key, n->name_len);
    if (n->name) key_put(rs->L, key, n->name, n->name_len);
    KEY_FIELD(key, n->num);
    KEY_FIELD(key, n->a);
    KEY_FIELD(key, n->b);
}

/* What makes two weight expressions the same: as for nodes. */
static void wexpr_key(const arb_ruleset_t *rs, const arb_wexpr_t *w, msgpack_sbuffer *key)
{
    key->size = 0;
    KEY_FIELD(key, w->op);
    KEY_FIELD(key, w->num);
    KEY_FIELD(key, w->sym);
    KEY_FIELD(key, w->node);
    KEY_FIELD(key, w->left);
    KEY_FIELD(key, w->right);
    KEY_FIELD(key, w->name_len);
    if (w->name) key_put(rs->L, key, w->name, w->name_len);
}

/* The key of entry i of the kind the table holds. */
typedef void (*key_at_fn)(const arb_ruleset_t *rs, uint32_t i, msgpack_sbuffer *key);

static void node_key_at(const arb_ruleset_t *rs, uint32_t i, msgpack_sbuffer *key)
{
    node_key(rs, &rs->nodes[i], key);
}

static void wexpr_key_at(const arb_ruleset_t *rs, uint32_t i, msgpack_sbuffer *key)
{
    wexpr_key(rs, &rs->wexprs[i], key);
}

static uint32_t key_hash(const msgpack_sbuffer *key)
{
    return (uint32_t)arb_symtab_hash(key->data, (uint32_t)key->size);
}

static void shared_grow(shared_table_t *t, const arb_ruleset_t *rs, key_at_fn key_at,
                        msgpack_sbuffer *scratch)
{
    uint32_t cap = t->cap ? t->cap * 2 : 256;
    uint32_t *slots = compile_check(rs->L, calloc(cap, sizeof *slots));
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i]) continue;
        key_at(rs, t->slots[i] - 1, scratch);
        uint32_t k = key_hash(scratch) & (cap - 1);
        while (slots[k]) k = (k + 1) & (cap - 1);
        slots[k] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

/* The index of the entry whose key is `key`, or -1 with *slot set to where
 * a new entry of that key goes. `other` is scratch for the keys compared. */
static int32_t shared_find(shared_table_t *t, const arb_ruleset_t *rs, key_at_fn key_at,
                           const msgpack_sbuffer *key, msgpack_sbuffer *other, uint32_t *slot)
{
    if ((t->n + 1) * 2 > t->cap) shared_grow(t, rs, key_at, other);
    uint32_t mask = t->cap - 1, k = key_hash(key) & mask;
    for (; t->slots[k]; k = (k + 1) & mask) {
        key_at(rs, t->slots[k] - 1, other);
        if (other->size == key->size && memcmp(other->data, key->data, key->size) == 0)
            return (int32_t)t->slots[k] - 1;
    }
    *slot = k;
    return -1;
}

static void shared_put(shared_table_t *t, uint32_t slot, uint32_t index)
{
    t->slots[slot] = index + 1;
    t->n++;
}

/* The index of the node equal to n, adding n when it is new. Children of n
 * were appended to kids last; a shared node gives them back. */
static int32_t node_add(compiler_t *cc, const arb_node_t *n)
{
    arb_ruleset_t *rs = cc->rs;
    node_key(rs, n, &cc->key);
    uint32_t slot;
    int32_t found = shared_find(&cc->shared_nodes, rs, node_key_at, &cc->key, &cc->other, &slot);
    if (found >= 0) {
        if (n->count && n->first + n->count == rs->n_kids) rs->n_kids = n->first;
    } else {
        found = node_append(rs, n);
        shared_put(&cc->shared_nodes, slot, (uint32_t)found);
    }
    return found;
}

/* The index of the weight expression equal to w, adding w when it is new. */
static int32_t wexpr_add(compiler_t *cc, const arb_wexpr_t *w)
{
    arb_ruleset_t *rs = cc->rs;
    if (w->op == ARB_W_LUA) return wexpr_append(rs, w);   /* each function is its own */
    wexpr_key(rs, w, &cc->key);
    uint32_t slot;
    int32_t found = shared_find(&cc->shared_wexprs, rs, wexpr_key_at, &cc->key, &cc->other, &slot);
    if (found < 0) {
        found = wexpr_append(rs, w);
        shared_put(&cc->shared_wexprs, slot, (uint32_t)found);
    }
    return found;
}

/* Mark the nodes and weights worth remembering per request: those reached
 * from more than one place whose answer is computed in C (a plain Lua
 * function may answer differently each call, and its faults belong to each
 * action). */
static int ruleset_mark_shared(arb_ruleset_t *rs)
{
    uint32_t *refs = calloc(rs->n_nodes + 1, sizeof *refs);
    if (!refs) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++)
        if (rs->actions[i].when >= 0) refs[rs->actions[i].when]++;
    for (uint32_t i = 0; i < rs->n_wexprs; i++)
        if (rs->wexprs[i].node >= 0) refs[rs->wexprs[i].node]++;
    /* Children come before their parents: one pass in index order. */
    for (uint32_t i = 0; i < rs->n_nodes; i++) {
        arb_node_t *n = &rs->nodes[i];
        n->pure = n->op != ARB_OP_LUA;
        for (uint32_t k = 0; k < n->count; k++) {
            refs[rs->kids[n->first + k]]++;
            n->pure = n->pure && rs->nodes[rs->kids[n->first + k]].pure;
        }
    }
    for (uint32_t i = 0; i < rs->n_nodes; i++) {
        arb_node_t *n = &rs->nodes[i];
        bool costly = n->count || n->op == ARB_OP_PURCHASES || n->op == ARB_OP_SPENT ||
                      n->op == ARB_OP_EVENT || n->op == ARB_OP_SEGMENT || n->op == ARB_OP_ATTR;
        n->memo = n->pure && costly && refs[i] > 1;
    }
    free(refs);
    refs = calloc(rs->n_wexprs + 1, sizeof *refs);
    if (!refs) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++)
        if (rs->actions[i].weight >= 0) refs[rs->actions[i].weight]++;
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        arb_wexpr_t *w = &rs->wexprs[i];
        w->pure = w->op != ARB_W_LUA && (w->node < 0 || rs->nodes[w->node].pure);
        if (w->left >= 0) {
            refs[w->left]++;
            w->pure = w->pure && rs->wexprs[w->left].pure;
        }
        if (w->right >= 0) {
            refs[w->right]++;
            w->pure = w->pure && rs->wexprs[w->right].pure;
        }
    }
    rs->shareable = true;
    for (uint32_t i = 0; i < rs->n_nodes; i++) rs->shareable &= rs->nodes[i].op != ARB_OP_LUA;
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        arb_wexpr_t *w = &rs->wexprs[i];
        w->memo = w->pure && w->op != ARB_W_CONST && refs[i] > 1;
        rs->shareable &= w->op != ARB_W_LUA;
    }
    free(refs);
    return 0;
}

static char *ruleset_strdup(arb_ruleset_t *rs, const char *s, size_t len, uint32_t *id)
{
    GROW(rs, rs->strs, rs->n_strs, 1);
    GROW(rs, rs->str_lens, rs->n_strs, 1);
    char *c = compile_check(rs->L, malloc(len + 1));
    memcpy(c, s, len);
    c[len] = '\0';
    rs->strs[rs->n_strs] = c;
    rs->str_lens[rs->n_strs] = (uint32_t)len;
    if (id) *id = rs->n_strs;
    rs->n_strs++;
    return c;
}

/* ---- models */

static bool model_declared(const arb_ruleset_t *rs, int32_t sym)
{
    for (uint32_t i = 0; i < rs->n_models; i++)
        if (rs->models[i] == sym) return true;
    return false;
}

static int32_t model_ref(compiler_t *cc, const char *name)
{
    int32_t sym = intern_z(cc, name);
    if (!model_declared(cc->rs, sym))
        spec_problem(cc, "unknown model '%s': declare the scores upstream supplies in models { ... }", name);
    return sym;
}

/* Optional string field as a symbol; -1 when absent. */
static int32_t sym_field(compiler_t *cc, int idx, const char *name)
{
    int32_t sym = -1;
    int t = arb_raw_field(cc->L, idx, name);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(cc->L, -1, &len);
        sym = intern(cc, s, len);
    } else if (t != LUA_TNIL) {
        spec_problem(cc, "a condition's '%s' must be a string%s", name, SPEC_CHANGED);
    }
    lua_pop(cc->L, 1);
    return sym;
}

/* Seconds back from now; -1 for ever. A year 30,000 years long is none. */
#define ARB_MAX_SECONDS 1e12

/* ---- comparisons */

static void compile_cmp(compiler_t *cc, int idx, arb_cmp_t *out)
{
    lua_State *L = cc->L;
    memset(out, 0, sizeof *out);
    out->op = ARB_CMP_EXISTS;
    if (!spec_has_mt(L, idx, cc->cmp_mt)) {
        spec_problem(cc, "expected a comparison such as at_least(3)");
        return;
    }
    size_t len;
    const char *op = spec_piece_string(cc, idx, "op", &len);
    if (!op) return;
    out->a = spec_piece_number(cc, idx, "a", 0, -1e300, 1e300);
    out->b = spec_piece_number(cc, idx, "b", 0, -1e300, 1e300);
    static const struct { const char *name; arb_cmp_op_t op; } ops[] = {
        { "ge", ARB_CMP_GE }, { "gt", ARB_CMP_GT }, { "le", ARB_CMP_LE }, { "lt", ARB_CMP_LT },
        { "between", ARB_CMP_BETWEEN }, { "exists", ARB_CMP_EXISTS }, { "eq", ARB_CMP_EQ_NUM },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i].name) == 0) out->op = ops[i].op;
    if (strcmp(op, "eq") == 0 && arb_raw_field(L, idx, "s") == LUA_TSTRING) {
        const char *str = lua_tolstring(L, -1, &len);
        out->op = ARB_CMP_EQ_STR;
        out->str = ruleset_strdup(cc->rs, str, len, NULL);
        out->str_len = (uint32_t)len;
    }
    if (strcmp(op, "eq") == 0) lua_pop(L, 1);
    if (strcmp(op, "one_of") == 0) {
        out->op = ARB_CMP_ONE_OF;
        if (arb_raw_field(L, idx, "list") != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
            spec_problem(cc, "one_of: the list is missing or has a metatable%s", SPEC_CHANGED);
            lua_pop(L, 1);
            return;
        }
        lua_Unsigned un = lua_rawlen(L, -1);
        int n = un > INT32_MAX ? INT32_MAX : (int)un;
        out->list = cc->rs->n_strs;
        for (int i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING) {
                const char *str = lua_tolstring(L, -1, &len);
                ruleset_strdup(cc->rs, str, len, NULL);
                out->list_n++;
            } else {
                spec_problem(cc, "one_of: item %d is not a string%s", i, SPEC_CHANGED);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* ---- conditions */

static int32_t compile_cond(compiler_t *cc, int idx);
static int32_t compile_wexpr(compiler_t *cc, int idx);

/* A vocabulary function given uncalled (`when = raining`) would otherwise
 * run as a plain function whose result, a condition table, is always true. */
static bool uncalled_vocabulary(compiler_t *cc, int idx, const char *field)
{
    lua_pushvalue(cc->L, idx);
    bool is_vocab = lua_rawget(cc->L, cc->vocab) == LUA_TSTRING;
    if (is_vocab) {
        const char *name = lua_tostring(cc->L, -1);
        spec_problem(cc, "'%s': '%s' must be called: write %s(...)", field, name, name);
    }
    lua_pop(cc->L, 1);
    return is_vocab;
}

static int32_t compile_lua_fn(compiler_t *cc, int idx, arb_op_t op)
{
    if (uncalled_vocabulary(cc, idx, "when")) return -1;
    lua_pushvalue(cc->L, idx);
    arb_node_t n = { .op = op, .sym = -1, .sym2 = -1, .window = -1 };
    n.ref = luaL_ref(cc->L, LUA_REGISTRYINDEX);
    return node_append(cc->rs, &n);   /* each function is its own condition */
}


/* The children are compiled onto cc->scratch (children of children go
 * above them), then moved to kids together, so that a node's kids stay
 * contiguous. Nothing here is freed if an error unwinds: cc owns it. */
static int32_t compile_children(compiler_t *cc, int idx, arb_node_t *n)
{
    lua_State *L = cc->L;
    lua_Unsigned un = lua_rawlen(L, idx);   /* read once: no rule code runs while compiling */
    uint32_t count = un > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)un;
    if (n->op == ARB_OP_NOT && count != 1) {
        spec_problem(cc, "no(...) takes exactly one condition, this one has %u%s", count, SPEC_CHANGED);
        return -1;
    }
    size_t base = cc->n_scratch;
    for (uint32_t i = 1; i <= count; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        int32_t k = compile_cond(cc, lua_gettop(L));
        lua_pop(L, 1);
        GROW(cc->rs, cc->scratch, cc->n_scratch, 1);
        cc->scratch[cc->n_scratch++] = k < 0 ? 0 : (uint32_t)k;
    }
    GROW(cc->rs, cc->rs->kids, cc->rs->n_kids, count);
    n->first = cc->rs->n_kids;
    n->count = count;
    if (count) memcpy(cc->rs->kids + cc->rs->n_kids, cc->scratch + base, sizeof *cc->scratch * count);
    cc->rs->n_kids += count;
    cc->n_scratch = base;
    return node_add(cc, n);
}

/* Compile the condition or weight (compile) at idx once per table: a
 * table reached again, as catalogs share conditions, gives the index it
 * compiled to (2^32 paths through 32 shared tables cost 32 compiles), and
 * one reached again while it is being compiled contains itself. Nesting
 * is bounded, so that neither the C stack nor the Lua stack runs out. */
static int32_t compile_once(compiler_t *cc, int idx, int memo, const char *what,
                            int32_t (*compile)(compiler_t *, int))
{
    lua_State *L = cc->L;
    if (cc->depth >= ARB_RAW_MAX_DEPTH) {
        spec_problem(cc, "%s nested deeper than %d levels", what, ARB_RAW_MAX_DEPTH);
        return -1;
    }
    bool table = lua_type(L, idx) == LUA_TTABLE;
    if (table) {
        lua_pushvalue(L, idx);
        int t = lua_rawget(L, memo);
        int32_t known = t == LUA_TNUMBER ? (int32_t)lua_tointeger(L, -1) : -1;
        lua_pop(L, 1);
        if (t == LUA_TNUMBER) return known;
        if (t == LUA_TBOOLEAN) {
            spec_problem(cc, "%s contains itself", what);
            return -1;
        }
        lua_pushvalue(L, idx);
        lua_pushboolean(L, 0);
        lua_rawset(L, memo);
    }
    cc->depth++;
    int32_t r = compile(cc, idx);
    cc->depth--;
    if (table) {
        lua_pushvalue(L, idx);
        lua_pushinteger(L, r);
        lua_rawset(L, memo);
    }
    return r;
}

static int32_t compile_cond_table(compiler_t *cc, int idx);

static int32_t compile_cond(compiler_t *cc, int idx)
{
    return compile_once(cc, idx, cc->memo_cond, "a condition", compile_cond_table);
}

static int32_t compile_cond_table(compiler_t *cc, int idx)
{
    lua_State *L = cc->L;
    luaL_checkstack(L, 8, "condition too deep");
    if (lua_type(L, idx) == LUA_TFUNCTION) return compile_lua_fn(cc, idx, ARB_OP_LUA);
    if (!spec_has_mt(L, idx, cc->cond_mt)) {
        spec_problem(cc, "'when' must be a condition such as all { ... } or a function(c), not %s",
                spec_lua_type_article(L, idx));
        return -1;
    }
    size_t len;
    const char *op = spec_piece_string(cc, idx, "op", &len);
    if (!op) return -1;
    arb_node_t n = { .op = ARB_OP_TRUE, .sym = -1, .sym2 = -1, .window = -1 };
    double w = spec_piece_number(cc, idx, "window", -1, -1, ARB_MAX_SECONDS);
    n.window = w < 0 ? -1 : (int64_t)w;
    if (strcmp(op, "all") == 0 || strcmp(op, "any") == 0 || strcmp(op, "not") == 0) {
        n.op = op[0] == 'a' ? (op[1] == 'l' ? ARB_OP_ALL : ARB_OP_ANY) : ARB_OP_NOT;
        return compile_children(cc, idx, &n);
    }
    if (strcmp(op, "bought") == 0) { n.op = ARB_OP_BOUGHT; n.sym = sym_field(cc, idx, "what"); }
    else if (strcmp(op, "purchases") == 0 || strcmp(op, "spent") == 0) {
        n.op = op[0] == 'p' ? ARB_OP_PURCHASES : ARB_OP_SPENT;
        n.sym = sym_field(cc, idx, "what");
        arb_raw_field(L, idx, "cmp");
        compile_cmp(cc, lua_gettop(L), &n.cmp);
        lua_pop(L, 1);
    } else if (strcmp(op, "event") == 0) {
        n.op = ARB_OP_EVENT;
        n.sym = sym_field(cc, idx, "what");
        n.sym2 = sym_field(cc, idx, "type");
    } else if (strcmp(op, "weather") == 0) { n.op = ARB_OP_WEATHER; n.sym = sym_field(cc, idx, "is"); }
    else if (strcmp(op, "temp") == 0 || strcmp(op, "attr") == 0 || strcmp(op, "score") == 0) {
        n.op = op[0] == 't' ? ARB_OP_TEMP : op[0] == 'a' ? ARB_OP_ATTR : ARB_OP_SCORE;
        if (n.op == ARB_OP_ATTR) {
            const char *name = spec_piece_string(cc, idx, "name", &len);
            if (!name) return -1;
            n.name = ruleset_strdup(cc->rs, name, len, NULL);
            n.name_len = (uint32_t)len;
        }
        if (n.op == ARB_OP_SCORE) {
            const char *model = spec_piece_string(cc, idx, "model", &len);
            if (!model) return -1;
            n.sym = model_ref(cc, model);
        }
        arb_raw_field(L, idx, "cmp");
        compile_cmp(cc, lua_gettop(L), &n.cmp);
        lua_pop(L, 1);
    } else if (strcmp(op, "near_store") == 0) {
        n.op = ARB_OP_NEAR_STORE;
        n.num = spec_piece_number(cc, idx, "km", 0, 0, 40075);
        if (cc->rs->n_stores == 0)
            spec_problem(cc, "near_store needs the stores' coordinates: declare them with store \"id\" { lat = ..., lon = ... }");
    } else if (strcmp(op, "in_store") == 0) { n.op = ARB_OP_IN_STORE; n.sym = sym_field(cc, idx, "store"); }
    else if (strcmp(op, "country") == 0) { n.op = ARB_OP_COUNTRY; n.sym = sym_field(cc, idx, "is"); }
    else if (strcmp(op, "consent") == 0) { n.op = ARB_OP_CONSENT; n.sym = sym_field(cc, idx, "name"); }
    else if (strcmp(op, "segment") == 0) { n.op = ARB_OP_SEGMENT; n.sym = sym_field(cc, idx, "name"); }
    else if (strcmp(op, "hour") == 0) {
        n.op = ARB_OP_HOUR;
        n.a = (int)spec_piece_number(cc, idx, "from", 0, 0, 24);
        n.b = (int)spec_piece_number(cc, idx, "to", 24, 0, 24);
    } else if (strcmp(op, "weekday") == 0) {
        n.op = ARB_OP_WEEKDAY;
        n.a = (int)spec_piece_number(cc, idx, "mask", 0, 0, 127);
    }
    else if (strcmp(op, "channel") == 0) { n.op = ARB_OP_CHANNEL; n.sym = sym_field(cc, idx, "is"); }
    else if (strcmp(op, "touchpoint") == 0) { n.op = ARB_OP_TOUCHPOINT; n.sym = sym_field(cc, idx, "is"); }
    else {
        spec_problem(cc, "internal: unknown condition '%s'", op);
        return -1;
    }
    return node_add(cc, &n);
}

/* ---- weights */

static int32_t compile_wexpr_value(compiler_t *cc, int idx);

static int32_t compile_wexpr(compiler_t *cc, int idx)
{
    return compile_once(cc, idx, cc->memo_wexpr, "a weight", compile_wexpr_value);
}

static int32_t compile_wexpr_value(compiler_t *cc, int idx)
{
    lua_State *L = cc->L;
    luaL_checkstack(L, 8, "weight too deep");
    arb_wexpr_t w = { .op = ARB_W_CONST, .sym = -1, .node = -1, .left = -1, .right = -1 };
    if (lua_type(L, idx) == LUA_TNUMBER) {
        w.num = lua_tonumber(L, idx);
        if (!isfinite(w.num)) {
            spec_problem(cc, "'weight' must be a finite number, not %g", w.num);
            return -1;
        }
        return wexpr_add(cc, &w);
    }
    if (lua_type(L, idx) == LUA_TFUNCTION) {
        if (uncalled_vocabulary(cc, idx, "weight")) return -1;
        w.op = ARB_W_LUA;
        lua_pushvalue(L, idx);
        w.ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return wexpr_add(cc, &w);
    }
    if (!spec_has_mt(L, idx, cc->expr_mt)) {
        spec_problem(cc, "'weight' must be a number, an expression such as recency(\"laptop\", days(14)), or a function(c), not %s",
                spec_lua_type_article(L, idx));
        return -1;
    }
    size_t len;
    const char *op = spec_piece_string(cc, idx, "op", &len);
    if (!op) return -1;
    static const struct { const char *name; arb_wop_t op; } bin[] = {
        { "mul", ARB_W_MUL }, { "add", ARB_W_ADD }, { "sub", ARB_W_SUB }, { "div", ARB_W_DIV },
        { "min", ARB_W_MIN }, { "max", ARB_W_MAX }, { "if", ARB_W_IF },
    };
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
        if (strcmp(op, bin[i].name) != 0) continue;
        w.op = bin[i].op;
        arb_raw_field(L, idx, "l");
        w.left = compile_wexpr(cc, lua_gettop(L));
        arb_raw_field(L, idx, "r");
        w.right = compile_wexpr(cc, lua_gettop(L));
        lua_pop(L, 2);
        if (w.op == ARB_W_IF) {
            arb_raw_field(L, idx, "cond");
            w.node = compile_cond(cc, lua_gettop(L));
            lua_pop(L, 1);
        }
        return wexpr_add(cc, &w);
    }
    if (strcmp(op, "const") == 0) {
        w.num = spec_piece_number(cc, idx, "n", 1, -1e300, 1e300);
    } else if (strcmp(op, "recency") == 0) {
        w.op = ARB_W_RECENCY;
        w.num = spec_piece_number(cc, idx, "half_life", 1, 1e-9, ARB_MAX_SECONDS);
        arb_raw_field(L, idx, "cond");
        w.node = compile_cond(cc, lua_gettop(L));
        lua_pop(L, 1);
        arb_op_t of = w.node >= 0 ? cc->rs->nodes[w.node].op : ARB_OP_BOUGHT;
        if (of != ARB_OP_BOUGHT && of != ARB_OP_EVENT) {
            spec_problem(cc, "recency: needs a purchase or an event%s", SPEC_CHANGED);
            return -1;
        }
    } else if (strcmp(op, "score") == 0) {
        w.op = ARB_W_SCORE;
        const char *model = spec_piece_string(cc, idx, "model", &len);
        if (!model) return -1;
        w.sym = model_ref(cc, model);
    } else if (strcmp(op, "attr") == 0) {
        w.op = ARB_W_ATTR;
        const char *name = spec_piece_string(cc, idx, "name", &len);
        if (!name) return -1;
        w.name = ruleset_strdup(cc->rs, name, len, NULL);
        w.name_len = (uint32_t)len;
    } else {
        spec_problem(cc, "internal: unknown weight '%s'", op);
        return -1;
    }
    return wexpr_add(cc, &w);
}

/* ---- declarations: channels, models, settings, stores, touchpoints */

static int channel_index(const arb_ruleset_t *rs, const char *name, size_t len)
{
    for (int i = 0; i < rs->n_channels; i++)
        if (strlen(rs->channels[i]) == len && memcmp(rs->channels[i], name, len) == 0) return i;
    return -1;
}

static void add_channel(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_ruleset_t *rs = cc->rs;
    if (channel_index(rs, s, len) >= 0) return;
    if (rs->n_channels == ARB_MAX_CHANNELS) {
        spec_problem(cc, "too many channels (at most %d)", ARB_MAX_CHANNELS);
        return;
    }
    rs->channels[rs->n_channels] = compile_check(cc->L, strndup(s, len));
    rs->channel_sym[rs->n_channels] = intern(cc, s, len);
    rs->n_channels++;
}

static void add_model(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    int32_t sym = intern(cc, s, len);
    if (model_declared(cc->rs, sym)) return;
    GROW(cc->rs, cc->rs->models, cc->rs->n_models, 1);
    cc->rs->models[cc->rs->n_models++] = sym;
}

static void compile_list_decl(compiler_t *cc, int spec)
{
    lua_State *L = cc->L;
    const char *kind = cc->d->kind;
    if (strcmp(kind, "settings") == 0) {
        static const char *const fields[] = { "default_limit", "utc_offset_hours", NULL };
        spec_check_fields(cc, spec, fields);
        /* Each settings block changes only the fields it names. */
        cc->rs->default_limit = (int)spec_field_number(cc, spec, "default_limit",
                                                  cc->rs->default_limit, false, 1, 100);
        cc->rs->utc_offset_minutes = (int)lround(
            spec_field_number(cc, spec, "utc_offset_hours", cc->rs->utc_offset_minutes / 60.0, false,
                         -14, 14) * 60);
        return;
    }
    lua_Unsigned un = lua_rawlen(L, spec);
    int n = un > INT32_MAX ? INT32_MAX : (int)un;
    for (int i = 1; i <= n; i++) {
        if (lua_rawgeti(L, spec, i) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            char what[40];
            snprintf(what, sizeof what, "item %d", i);
            if (spec_utf8_ok(cc, what, s, len))
                (strcmp(kind, "models") == 0 ? add_model : add_channel)(cc, s, len, i, NULL);
        } else {
            spec_problem(cc, "item %d must be a string, not %s", i, spec_lua_type_article(L, -1));
        }
        lua_pop(L, 1);
    }
}

static void compile_store(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "lat", "lon", "name", NULL };
    spec_check_fields(cc, spec, fields);
    arb_ruleset_t *rs = cc->rs;
    int32_t sym = intern_z(cc, cc->d->id);
    for (uint32_t i = 0; i < rs->n_stores; i++)
        if (rs->stores[i].sym == sym) {
            spec_problem(cc, "duplicate store id");
            return;
        }
    GROW(rs, rs->stores, rs->n_stores, 1);
    arb_store_t *st = &rs->stores[rs->n_stores++];
    st->sym = sym;
    st->lat = spec_field_number(cc, spec, "lat", 0, true, -90, 90);
    st->lon = spec_field_number(cc, spec, "lon", 0, true, -180, 180);
}

static void compile_touchpoint(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "limit", "diverse", "description", NULL };
    spec_check_fields(cc, spec, fields);
    arb_ruleset_t *rs = cc->rs;
    for (uint32_t i = 0; i < rs->n_touchpoints; i++)
        if (strcmp(rs->touchpoints[i].id, cc->d->id) == 0) {
            spec_problem(cc, "duplicate touchpoint (first declared at %s:%d)", rs->touchpoints[i].file,
                    rs->touchpoints[i].line);
            return;
        }
    GROW(rs, rs->touchpoints, rs->n_touchpoints, 1);
    arb_touchpoint_t *tp = &rs->touchpoints[rs->n_touchpoints++];
    memset(tp, 0, sizeof *tp);
    tp->id = compile_check(cc->L, strdup(cc->d->id));
    tp->file = compile_check(cc->L, strdup(cc->d->file));
    tp->line = cc->d->line;
    tp->sym = intern_z(cc, tp->id);
    tp->limit = (int)spec_field_number(cc, spec, "limit", 0, false, 1, 100);
    tp->diverse = -1;
    const char *diverse = spec_field_string(cc, spec, "diverse", false, false);
    if (diverse && strcmp(diverse, "category") == 0) tp->diverse = 0;
    else if (diverse) spec_problem(cc, "'diverse' can only be \"category\"");
}

/* ---- actions */

typedef struct action_build {
    arb_action_t *a;
} action_build_t;

static void action_channel(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    int ch = channel_index(cc->rs, s, len);
    if (ch < 0) {
        char known[400] = "";
        for (int k = 0; k < cc->rs->n_channels; k++) {
            if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, cc->rs->channels[k], sizeof known - strlen(known) - 1);
        }
        spec_problem(cc, "unknown channel '%.*s' (channels are: %s; add others with channels { ... })",
                (int)len, s, known);
        return;
    }
    a->channels |= 1ull << ch;
}

/* The touchpoints and requires arrays hold one slot per item of their
 * list, sized from the one read of its length (list_open). */
static void action_touchpoint(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    int32_t sym = intern(cc, s, len);
    bool declared = false;
    for (uint32_t k = 0; k < cc->rs->n_touchpoints; k++) declared |= cc->rs->touchpoints[k].sym == sym;
    if (!declared)
        spec_problem(cc, "unknown touchpoint '%.*s': declare it with touchpoint \"%.*s\" { limit = ... }",
                (int)len, s, (int)len, s);
    a->touchpoints[a->n_touchpoints++] = sym;
}

static void action_require(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    a->requires[a->n_requires] = intern(cc, s, len);
    /* Counted first: a failure below leaves a NULL that freeing skips. */
    uint32_t k = a->n_requires++;
    a->requires_names[k] = compile_check(cc->L, strndup(s, len));
    /* Explain reasons are made here once, not per request. */
    if (asprintf(&a->requires_reasons[k], "consent:%.*s", (int)len, s) < 0) {
        a->requires_reasons[k] = NULL;
        compile_oom(cc->L);
    }
    if (len == 8 && memcmp(s, "location", 8) == 0) a->requires_location = true;
}

/* Call each for every item of the open list l, then close it. */
static void list_each(compiler_t *cc, const spec_list_t *l, arb_action_t *a,
                      void (*each)(compiler_t *, const char *, size_t, int, void *))
{
    for (int i = 0; i < l->n; i++) {
        size_t len;
        const char *s = spec_list_item(cc, l, i, &len);
        if (s) each(cc, s, len, i, a);
    }
    spec_list_close(cc, l);
}

/* The bytes packed into sb, in an allocation of exactly their size (an
 * sbuffer reserves 8 KiB: ten thousand actions would hold 80 MB of air);
 * sb is emptied. */
static char *sbuffer_take(lua_State *L, msgpack_sbuffer *sb, size_t *len)
{
    char *copy = compile_check(L, malloc(sb->size ? sb->size : 1));
    memcpy(copy, sb->data, sb->size);
    *len = sb->size;
    msgpack_sbuffer_clear(sb);
    return copy;
}

/* Pack what every decision that chooses action a says of it, but for the
 * priority and propensity (see pack_action in decide.c): the head
 * {"id": id, "priority": and the tail "value": value, "payload": payload},
 * the payload packed from the rule's table. */
/* The packer's writer: a write msgpack-c cannot make room for would
 * otherwise be dropped silently, leaving an answer with bytes missing. */
static int answer_write(void *data, const char *buf, size_t len)
{
    compiler_t *cc = data;
    if (msgpack_sbuffer_write(&cc->answer, buf, len) != 0) compile_oom(cc->L);
    return 0;
}

static void compile_answer(compiler_t *cc, int spec, arb_action_t *a)
{
    lua_State *L = cc->L;
    msgpack_sbuffer *sb = &cc->answer;   /* owned by cc: freed even if this unwinds */
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, cc, answer_write);
    msgpack_pack_map(&pk, 5);
    arb_pack_lit(&pk, "id");
    arb_pack_cstr(&pk, a->id);
    arb_pack_lit(&pk, "priority");
    a->answer_head = sbuffer_take(L, sb, &a->answer_head_len);
    arb_pack_lit(&pk, "value");
    msgpack_pack_double(&pk, a->value);
    arb_pack_lit(&pk, "payload");
    char err[200];
    size_t before = sb->size;
    if (arb_raw_field(L, spec, "payload") == LUA_TNIL) {
        msgpack_pack_nil(&pk);
    } else if (cc->payload_bytes >= ARB_PAYLOADS_MAX) {
        spec_problem(cc, "'payload': the payloads of all actions together pass %u bytes",
                ARB_PAYLOADS_MAX);
    } else if (arb_raw_pack(L, -1, &pk, sb, ARB_PAYLOAD_MAX, true, err, sizeof err) < 0) {
        spec_problem(cc, "'payload': %s", err);
        msgpack_sbuffer_clear(sb);   /* the load fails: what was packed is not kept */
    } else {
        cc->payload_bytes += sb->size - before;
    }
    lua_pop(L, 1);
    a->answer_tail = sbuffer_take(L, sb, &a->answer_tail_len);
}

static void compile_action(compiler_t *cc, int spec, bool fallback)
{
    static const char *const fields[] = {
        "channels", "touchpoints", "requires", "value", "lever", "model", "propensity",
        "category", "payload", "start", "stop", "when", "weight", "description", NULL,
    };
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    spec_check_fields(cc, spec, fields);
    GROW(rs, rs->actions, rs->n_actions, 1);
    arb_action_t *a = &rs->actions[rs->n_actions++];
    memset(a, 0, sizeof *a);
    a->id = compile_check(L, strdup(cc->d->id));
    a->file = compile_check(L, strdup(cc->d->file));
    a->line = cc->d->line;
    a->fallback = fallback;
    a->model = -1;
    a->category = -1;
    a->when = -1;
    a->weight = -1;
    spec_field_string_list(cc, spec, "channels", true, action_channel, a);
    /* Each list is read once: the length that sizes its array bounds its filling. */
    spec_list_t l = spec_list_open(cc, spec, "touchpoints", false);
    size_t n = l.n > 0 ? (size_t)l.n : 0;
    a->touchpoints = compile_check(L, calloc(n + 1, sizeof *a->touchpoints));
    list_each(cc, &l, a, action_touchpoint);
    l = spec_list_open(cc, spec, "requires", false);
    n = l.n > 0 ? (size_t)l.n : 0;
    a->requires = compile_check(L, calloc(n + 1, sizeof *a->requires));
    a->requires_names = compile_check(L, calloc(n + 1, sizeof *a->requires_names));
    a->requires_reasons = compile_check(L, calloc(n + 1, sizeof *a->requires_reasons));
    list_each(cc, &l, a, action_require);
    a->value = spec_field_number(cc, spec, "value", 0, true, 0, 1e15);
    a->lever = spec_field_number(cc, spec, "lever", 1, false, 0, 1e6);
    const char *model = spec_field_string(cc, spec, "model", false, true);
    if (model) {
        a->model = model_ref(cc, model);
        if (asprintf(&a->no_score_reason, "no score: %s", model) < 0) {
            a->no_score_reason = NULL;
            compile_oom(L);
        }
    }
    a->propensity = spec_field_number(cc, spec, "propensity", 1, false, 0, 1);
    if (model && arb_raw_field(L, spec, "propensity") != LUA_TNIL)
        spec_problem(cc, "give either 'model' (propensity from scores) or a fixed 'propensity', not both");
    if (model) lua_pop(L, 1);
    const char *category = spec_field_string(cc, spec, "category", false, true);
    if (category) {
        a->category_name = compile_check(L, strdup(category));
        a->category = intern_z(cc, a->category_name);
    }
    a->start = spec_field_date(cc, spec, "start");
    a->stop = spec_field_date(cc, spec, "stop");
    if (a->start && a->stop && a->stop <= a->start) spec_problem(cc, "'stop' must come after 'start'");
    if (arb_raw_field(L, spec, "when") != LUA_TNIL) a->when = compile_cond(cc, lua_gettop(L));
    lua_pop(L, 1);
    if (arb_raw_field(L, spec, "weight") != LUA_TNIL) a->weight = compile_wexpr(cc, lua_gettop(L));
    lua_pop(L, 1);
    compile_answer(cc, spec, a);
    spec_field_string(cc, spec, "description", false, false);
}

/* ---- the whole ruleset */

static int by_action_id(const void *x, const void *y)
{
    return strcmp(((const arb_action_t *)x)->id, ((const arb_action_t *)y)->id);
}

/* The purchase action a cannot do without: its `when` is bought(x, w) or
 * an `all` holding one (the narrowest window wins). Returns false when it
 * has none, e.g. fallbacks, plain Lua conditions, `any`. */
static bool action_guard(const arb_ruleset_t *rs, const arb_action_t *a, int32_t *sym,
                         int64_t *window)
{
    if (a->fallback || a->when < 0) return false;
    const arb_node_t *n = &rs->nodes[a->when];
    uint32_t first = 0, count = 1;
    const uint32_t self = (uint32_t)a->when;
    const uint32_t *kids = &self;
    if (n->op == ARB_OP_ALL) {
        kids = rs->kids;
        first = n->first;
        count = n->count;
    }
    bool found = false;
    for (uint32_t k = first; k < first + count; k++) {
        const arb_node_t *g = &rs->nodes[kids[k]];
        if (g->op != ARB_OP_BOUGHT || g->sym < 0) continue;
        bool narrower = !found || (g->window >= 0 && (*window < 0 || g->window < *window));
        if (narrower) {
            *sym = g->sym;
            *window = g->window;
            found = true;
        }
    }
    return found;
}

/* guarded[] of one channel is sorted by symbol, then widest window first. */
typedef struct guard_entry {
    int32_t sym;
    int64_t window;
    uint32_t action;
} guard_entry_t;

static int by_guard(const void *x, const void *y)
{
    const guard_entry_t *a = x, *b = y;
    if (a->sym != b->sym) return a->sym < b->sym ? -1 : 1;
    int64_t wa = a->window < 0 ? INT64_MAX : a->window, wb = b->window < 0 ? INT64_MAX : b->window;
    if (wa != wb) return wa > wb ? -1 : 1;
    return a->action < b->action ? -1 : a->action > b->action;
}

/* Action i as a candidate whose guard has this window. */
static arb_cand_t cand_of(const arb_ruleset_t *rs, uint32_t i, int64_t window)
{
    const arb_action_t *a = &rs->actions[i];
    return (arb_cand_t){ .action = i, .model = a->model, .window = window,
                         .propensity = a->propensity, .value = a->value,
                         .weight_max = a->weight_max, .lever = a->lever };
}

/* Returns -1 when out of memory: what was allocated is rs's to free. */
static int ruleset_index_channels(arb_ruleset_t *rs)
{
    guard_entry_t *g = calloc(rs->n_actions + 1, sizeof *g);
    if (!g) return -1;
    for (int ch = 0; ch < rs->n_channels; ch++) {
        arb_channel_index_t *x = &rs->by_channel[ch];
        uint32_t ng = 0;
        x->always = calloc(rs->n_actions + 1, sizeof *x->always);
        x->first = calloc(rs->syms.n + 1, sizeof *x->first);
        x->count = calloc(rs->syms.n + 1, sizeof *x->count);
        if (!x->always || !x->first || !x->count) {
            free(g);
            return -1;
        }
        for (uint32_t i = 0; i < rs->n_actions; i++) {
            if (!(rs->actions[i].channels & (1ull << ch))) continue;
            if (action_guard(rs, &rs->actions[i], &g[ng].sym, &g[ng].window)) g[ng++].action = i;
            else x->always[x->n_always++] = cand_of(rs, i, -1);
        }
        qsort(g, ng, sizeof *g, by_guard);
        x->guarded = calloc(ng + 1, sizeof *x->guarded);
        if (!x->guarded) {
            free(g);
            return -1;
        }
        for (uint32_t k = 0; k < ng; k++) {
            x->guarded[k] = cand_of(rs, g[k].action, g[k].window);
            if (!x->count[g[k].sym]++) x->first[g[k].sym] = k;
        }
    }
    free(g);
    return 0;
}

/* Read the declaration at the top of the stack into d (strings stay owned by
 * the Lua table, which stays referenced by the prelude's decls list). */
static void decl_read(lua_State *L, decl_t *d)
{
    int idx = lua_gettop(L);
    /* The record is the prelude's, but read raw all the same: only strings
     * and an integer are taken from it, never converted. */
    d->kind = arb_raw_field(L, idx, "kind") == LUA_TSTRING ? lua_tostring(L, -1) : "declaration";
    d->id = arb_raw_field(L, idx, "id") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    d->file = arb_raw_field(L, idx, "file") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    d->line = arb_raw_field(L, idx, "line") == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : 0;
    lua_pop(L, 4);
}

/* Compile every declaration of one of the given kinds. */
static void compile_pass(compiler_t *cc, int decls, bool actions)
{
    lua_State *L = cc->L;
    int n = (int)lua_rawlen(L, decls);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, decls, i);                       /* decl */
        decl_t d;
        decl_read(L, &d);
        cc->d = &d;
        bool is_action = strcmp(d.kind, "action") == 0 || strcmp(d.kind, "fallback") == 0;
        if (is_action == actions) {
            if (arb_raw_field(L, -1, "spec") != LUA_TTABLE) {
                spec_problem(cc, "has no { ... } body");
            } else if (arb_raw_has_mt(L, -1)) {
                /* Given after declaring: its fields are not what they seem. */
                spec_problem(cc, "the { ... } body has a metatable: declarations are plain tables");
            } else if (d.id && !arb_utf8_valid(d.id, strlen(d.id))) {
                spec_problem(cc, "the id is not valid UTF-8 (byte %zu)",
                        arb_utf8_first_invalid(d.id, strlen(d.id)) + 1);
            } else {
                int spec = lua_gettop(L);
                if (is_action) compile_action(cc, spec, d.kind[0] == 'f');
                else if (strcmp(d.kind, "touchpoint") == 0) compile_touchpoint(cc, spec);
                else if (strcmp(d.kind, "store") == 0) compile_store(cc, spec);
                else compile_list_decl(cc, spec);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static void check_duplicates(compiler_t *cc)
{
    arb_ruleset_t *rs = cc->rs;
    for (uint32_t i = 1; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i - 1], *b = &rs->actions[i];
        if (strcmp(a->id, b->id) != 0) continue;
        const arb_action_t *later = (strcmp(a->file, b->file) > 0 ||
                                     (strcmp(a->file, b->file) == 0 && a->line > b->line)) ? a : b;
        const arb_action_t *first = later == a ? b : a;
        arb_problems_add(cc->problems, "%s:%d: %s '%s': duplicate id (first declared at %s:%d)",
                         later->file, later->line, later->fallback ? "fallback" : "action",
                         later->id, first->file, first->line);
    }
}


/* The largest value each weight expression can take, into hi (INFINITY
 * when unknown), by interval arithmetic over its operands (which come
 * first): recency is within [0, 1], a constant is itself, and products,
 * sums, min, max and if of bounded operands are bounded; scores,
 * attributes, plain functions, differences and quotients are not. The
 * rounding of + and x is monotone, so each bound is computed with the same
 * operation as the value it bounds. */
static void weight_bounds(const arb_ruleset_t *rs, double *lo, double *hi)
{
    for (uint32_t i = 0; i < rs->n_wexprs; i++) {
        const arb_wexpr_t *w = &rs->wexprs[i];
        double ll = w->left >= 0 ? lo[w->left] : 0, lh = w->left >= 0 ? hi[w->left] : 0;
        double rl = w->right >= 0 ? lo[w->right] : 0, rh = w->right >= 0 ? hi[w->right] : 0;
        lo[i] = -INFINITY;
        hi[i] = INFINITY;
        switch (w->op) {
        case ARB_W_CONST: lo[i] = hi[i] = w->num; break;
        case ARB_W_RECENCY: lo[i] = 0; hi[i] = 1; break;
        case ARB_W_MUL:
            if (ll >= 0 && rl >= 0) { lo[i] = ll * rl; hi[i] = lh * rh; }
            break;
        case ARB_W_ADD: lo[i] = ll + rl; hi[i] = lh + rh; break;
        case ARB_W_MIN: lo[i] = fmin(ll, rl); hi[i] = fmin(lh, rh); break;
        case ARB_W_MAX: lo[i] = fmax(ll, rl); hi[i] = fmax(lh, rh); break;
        case ARB_W_IF: lo[i] = fmin(ll, rl); hi[i] = fmax(lh, rh); break;
        default: break;
        }
        if (isnan(lo[i]) || isnan(hi[i])) {
            lo[i] = -INFINITY;
            hi[i] = INFINITY;
        }
    }
}

/* Each action's weight_max (see arb_action_t). */
static int ruleset_weight_max(arb_ruleset_t *rs)
{
    double *lo = calloc(rs->n_wexprs + 1, sizeof *lo), *hi = calloc(rs->n_wexprs + 1, sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return -1;
    }
    weight_bounds(rs, lo, hi);
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i];
        a->weight_max = a->weight >= 0 ? hi[a->weight] : 1;
        if (!isfinite(a->weight_max) || a->fallback || !(a->value >= 0) || !(a->lever >= 0) ||
            !isfinite(a->value) || !isfinite(a->lever) ||
            (a->when >= 0 && !rs->nodes[a->when].pure) ||
            (a->weight >= 0 && !rs->wexprs[a->weight].pure))
            a->weight_max = NAN;
    }
    free(lo);
    free(hi);
    return 0;
}

static int ruleset_hot_fields(arb_ruleset_t *rs)
{
    rs->hot = calloc(rs->n_actions + 1, sizeof *rs->hot);
    if (!rs->hot) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        const arb_action_t *a = &rs->actions[i];
        arb_action_hot_t *h = &rs->hot[i];
        h->when = a->when;
        h->weight = a->weight;
        h->model = a->model;
        h->value = a->value;
        h->lever = a->lever;
        h->flags = (a->fallback ? ARB_HOT_FALLBACK : 0) |
                   (a->n_touchpoints || a->start || a->stop || a->n_requires || a->requires_location
                        ? ARB_HOT_CHECKS : 0);
    }
    return 0;
}

/* Everything that reads the Lua state, in one protected call: every read
 * of a rule's tables is raw, so what could still raise is only running out
 * of memory (interning a key, a registry reference), and that unwinds to
 * ruleset_compile. cc owns whatever C memory the unwinding would skip. */
static int compile_protected(lua_State *L, void *ud)
{
    compiler_t *cc = ud;
    for (const char *const *c = default_channels; *c; c++) add_channel(cc, *c, strlen(*c), 0, NULL);
    arb__prelude_push(L, "COND");
    cc->cond_mt = lua_gettop(L);
    arb__prelude_push(L, "CMP");
    cc->cmp_mt = lua_gettop(L);
    arb__prelude_push(L, "EXPR");
    cc->expr_mt = lua_gettop(L);
    arb__prelude_push(L, "vocab");
    cc->vocab = lua_gettop(L);
    lua_newtable(L);
    cc->memo_cond = lua_gettop(L);
    lua_newtable(L);
    cc->memo_wexpr = lua_gettop(L);
    arb__prelude_push(L, "decls");
    int decls = lua_gettop(L);
    compile_pass(cc, decls, false);
    compile_pass(cc, decls, true);
    /* Everything declared now lives in C (and plain functions in the
     * registry): empty the declarations so the collector frees them. The
     * prelude keeps the table itself as an upvalue. */
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, decls); i >= 1; i--) {
        lua_pushnil(L);
        lua_rawseti(L, decls, i);
    }
    return 0;
}

static void ruleset_compile(arb_ruleset_t *rs, arb_problems_t *problems)
{
    const decl_t whole = { .kind = "ruleset", .file = rs->dir };
    compiler_t cc = { .rs = rs, .L = rs->L, .problems = problems, .d = &whole };
    msgpack_sbuffer_init(&cc.key);
    msgpack_sbuffer_init(&cc.other);
    msgpack_sbuffer_init(&cc.answer);
    rs->default_limit = 3;
    char err[300];
    int rc = arb_raw_protected(rs->L, compile_protected, &cc, LOAD_INSTRUCTIONS, LOAD_MEMORY, err,
                               sizeof err);
    cc.d = &whole;
    free(cc.shared_nodes.slots);
    free(cc.shared_wexprs.slots);
    free(cc.scratch);
    msgpack_sbuffer_destroy(&cc.key);
    msgpack_sbuffer_destroy(&cc.other);
    msgpack_sbuffer_destroy(&cc.answer);
    if (rc < 0 && strcmp(err, COMPILE_OOM) == 0) {
        arb_problems_add(problems, "%s: %s", rs->dir, COMPILE_OOM);
        return;
    }
    if (rc < 0) {
        arb_problems_add(problems, "%s: compiling the declarations stopped: %s", rs->dir, err);
        return;
    }
    if (rs->n_actions) qsort(rs->actions, rs->n_actions, sizeof *rs->actions, by_action_id);
    check_duplicates(&cc);
    /* Every symbol exists before the channel index sizes its arrays by them. */
    rs->sym_segments = arb_symtab_intern(&rs->syms, "segments", 8);
    rs->sym_location = arb_symtab_intern(&rs->syms, "location", 8);
    if (ruleset_mark_shared(rs) < 0 || ruleset_weight_max(rs) < 0 || ruleset_hot_fields(rs) < 0 ||
        rs->sym_segments < 0 || rs->sym_location < 0 || ruleset_index_channels(rs) < 0)
        arb_problems_add(problems, "%s: %s", rs->dir, COMPILE_OOM);
}

/* Returns -1 when memory ran out reading the files again: the version
 * would then name other bytes than the folder's. Other problems of the
 * listing (a test file too large...) are the test run's to report. */
static int ruleset_checksum(arb_ruleset_t *rs, const char *dir, uint64_t seq)
{
    uint64_t h = ARB_HASH_SEED;
    arb_problems_t ignore = { 0 };
    for (int tests = 0; tests < 2; tests++) {
        arb_rule_file_t *files = NULL;
        size_t n = 0;
        arb__rule_files_list(dir, tests, &files, &n, &ignore);
        for (size_t i = 0; i < n; i++) {
            h = arb_hash(files[i].name, strlen(files[i].name) + 1, h);
            if (files[i].text) h = arb_hash(files[i].text, files[i].len, h);
        }
        arb__rule_files_free(files, n);
    }
    bool oom = ignore.n < ignore.total;   /* a problem lost to memory */
    for (size_t i = 0; i < ignore.n; i++) oom |= strstr(ignore.items[i], "out of memory") != NULL;
    arb_problems_free(&ignore);
    if (oom) return -1;
    snprintf(rs->checksum, sizeof rs->checksum, "%016llx", (unsigned long long)h);
    snprintf(rs->version, sizeof rs->version, "%llu-%.12s", (unsigned long long)seq, rs->checksum);
    return 0;
}

/* Never reached: every call that can raise runs protected (rawread.h).
 * Should one ever slip through, Lua aborts after this returns: the log
 * then says why instead of nothing. */
static int ruleset_panic(lua_State *L)
{
    size_t len = 0;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    char clean[512], q[1100];
    if (msg) arb_text_clean(msg, len, clean, sizeof clean);
    else snprintf(clean, sizeof clean, "an error object that is not a string");
    arb_log_error("lua panic: an error escaped every protected call", "error=%s",
                  arb_log_quote(clean, q, sizeof q));
    return 0;
}

/* The part of a load that touches the Lua state, run in one protected call
 * (load_protected): the Lua API raises when it runs out of memory, and an
 * error outside every protected call would end in Lua's panic, killing the
 * process. The C memory it makes is kept here, freed by the caller. */
typedef struct load_job {
    arb_ruleset_t *rs;
    const char *dir;
    arb_problems_t *problems;
    size_t before;              /* problems->total when the load began */
    arb_rule_file_t *files;
    size_t n;
} load_job_t;

static int load_protected(lua_State *L)
{
    load_job_t *job = lua_touserdata(L, 1);
    lua_settop(L, 0);
    arb_lua_context_init(L);
    if (prelude_run(L, job->problems) == 0 &&
        arb__rule_files_list(job->dir, false, &job->files, &job->n, job->problems) == 0) {
        if (job->n == 0 && job->problems->total == job->before)
            arb_problems_add(job->problems, "%s: no rule files (*.lua) in the folder", job->dir);
        for (size_t i = 0; i < job->n; i++)
            if (job->files[i].text)
                arb__rule_file_run(L, &job->files[i], "rules_env", job->problems);
        /* Compile what the other files declared even when one failed, so one
         * load reports every mistake; a reference to something the failed
         * file declared is then reported as unknown too. */
        if (job->n) ruleset_compile(job->rs, job->problems);
    }
    return 0;
}

arb_ruleset_t *arb_ruleset_load(const char *dir, uint64_t seq, arb_problems_t *problems)
{
    size_t before = problems->total;
    arb_ruleset_t *rs = calloc(1, sizeof *rs);
    if (!rs) {
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
        return NULL;
    }
    atomic_init(&rs->owners, 1);
    rs->sandbox = calloc(1, sizeof *rs->sandbox);
    rs->dir = strdup(dir);
    arb_symtab_init(&rs->syms);
    rs->loaded_at = (int64_t)time(NULL);
    if (!rs->sandbox || !rs->dir || !(rs->L = arb_sandbox_new(rs->sandbox))) {
        arb_problems_add(problems, "%s: out of memory creating the rule state", dir);
        arb_ruleset_free(rs);
        return NULL;
    }
    lua_atpanic(rs->L, ruleset_panic);
    load_job_t job = { .rs = rs, .dir = dir, .problems = problems, .before = before };
    /* One budget for the prelude, every rule file and the compile. */
    arb__load_budget(rs->L, true);
    lua_pushcfunction(rs->L, load_protected);
    lua_pushlightuserdata(rs->L, &job);
    int rc = lua_pcall(rs->L, 1, 0, 0);
    if (rc == LUA_ERRMEM)
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
    else if (rc != LUA_OK)
        arb_problems_add(problems, "%s: loading stopped: %s", dir,
                         lua_type(rs->L, -1) == LUA_TSTRING ? lua_tostring(rs->L, -1) : "error");
    lua_settop(rs->L, 0);
    arb__load_budget(rs->L, false);
    arb__rule_files_free(job.files, job.n);
    if (problems->total != before) {
        arb_ruleset_free(rs);
        return NULL;
    }
    if (ruleset_checksum(rs, dir, seq) < 0) {
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
        arb_ruleset_free(rs);
        return NULL;
    }
    lua_gc(rs->L, LUA_GCCOLLECT);
    rs->sandbox->cap = rs->sandbox->used + ARB_RULESET_HEADROOM;
    return rs;
}

bool arb_ruleset_shareable(const arb_ruleset_t *rs) { return rs->shareable; }

arb_ruleset_t *arb_ruleset_retain(arb_ruleset_t *rs)
{
    atomic_fetch_add_explicit(&rs->owners, 1, memory_order_relaxed);
    return rs;
}

void arb_ruleset_free(arb_ruleset_t *rs)
{
    /* acq_rel: every owner's reads happen before the last one frees. */
    if (!rs || atomic_fetch_sub_explicit(&rs->owners, 1, memory_order_acq_rel) != 1) return;
    if (rs->L) lua_close(rs->L);
    free(rs->sandbox);
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i];
        free(a->id);
        free(a->file);
        free(a->touchpoints);
        free(a->requires);
        for (uint32_t k = 0; k < a->n_requires; k++) {
            free(a->requires_names[k]);
            free(a->requires_reasons[k]);
        }
        free(a->requires_names);
        free(a->requires_reasons);
        free(a->no_score_reason);
        free(a->category_name);
        free(a->answer_head);
        free(a->answer_tail);
    }
    free(rs->actions);
    free(rs->hot);
    for (int ch = 0; ch < rs->n_channels; ch++) {
        free(rs->channels[ch]);
        free(rs->by_channel[ch].always);
        free(rs->by_channel[ch].guarded);
        free(rs->by_channel[ch].first);
        free(rs->by_channel[ch].count);
    }
    for (uint32_t i = 0; i < rs->n_touchpoints; i++) {
        free(rs->touchpoints[i].id);
        free(rs->touchpoints[i].file);
    }
    free(rs->touchpoints);
    for (uint32_t i = 0; i < rs->n_strs; i++) free(rs->strs[i]);
    free(rs->strs);
    free(rs->str_lens);
    free(rs->models);
    free(rs->stores);
    free(rs->nodes);
    free(rs->kids);
    free(rs->wexprs);
    free(rs->dir);
    arb_symtab_free(&rs->syms);
    free(rs);
}

const char *arb_ruleset_version(const arb_ruleset_t *rs) { return rs->version; }

size_t arb_ruleset_action_count(const arb_ruleset_t *rs) { return rs->n_actions; }

/* ------------------------------------------------------------ describing */

static void pack_channel_names(msgpack_packer *pk, const arb_ruleset_t *rs, uint64_t mask)
{
    msgpack_pack_array(pk, (size_t)__builtin_popcountll(mask));
    for (int ch = 0; ch < rs->n_channels; ch++)
        if (mask & (1ull << ch)) arb_pack_cstr(pk, rs->channels[ch]);
}

static void pack_action_info(msgpack_packer *pk, const arb_ruleset_t *rs, const arb_action_t *a)
{
    msgpack_pack_map(pk, 12);
    arb_pack_cstr(pk, "id");
    arb_pack_cstr(pk, a->id);
    arb_pack_cstr(pk, "channels");
    pack_channel_names(pk, rs, a->channels);
    arb_pack_cstr(pk, "touchpoints");
    msgpack_pack_array(pk, a->n_touchpoints);
    for (uint32_t k = 0; k < a->n_touchpoints; k++)
        arb_pack_cstr(pk, rs->syms.names[a->touchpoints[k]]);
    arb_pack_cstr(pk, "requires");
    msgpack_pack_array(pk, a->n_requires);
    for (uint32_t k = 0; k < a->n_requires; k++) arb_pack_cstr(pk, a->requires_names[k]);
    arb_pack_cstr(pk, "value");
    msgpack_pack_double(pk, a->value);
    arb_pack_cstr(pk, "lever");
    msgpack_pack_double(pk, a->lever);
    arb_pack_cstr(pk, "model");
    if (a->model >= 0) arb_pack_cstr(pk, rs->syms.names[a->model]); else msgpack_pack_nil(pk);
    arb_pack_cstr(pk, "category");
    if (a->category_name) arb_pack_cstr(pk, a->category_name); else msgpack_pack_nil(pk);
    arb_pack_cstr(pk, "fallback");
    if (a->fallback) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    arb_pack_cstr(pk, "dynamic");
    if (a->when >= 0) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    arb_pack_cstr(pk, "file");
    arb_pack_text(pk, a->file);   /* a file name need not be UTF-8: escaped */
    arb_pack_cstr(pk, "line");
    msgpack_pack_int(pk, a->line);
}

void arb_ruleset_pack_info(const arb_ruleset_t *rs, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 9);
    arb_pack_cstr(pk, "version");
    arb_pack_cstr(pk, rs->version);
    arb_pack_cstr(pk, "checksum");
    arb_pack_cstr(pk, rs->checksum);
    arb_pack_cstr(pk, "loaded_at");
    msgpack_pack_int64(pk, rs->loaded_at);
    arb_pack_cstr(pk, "dir");
    arb_pack_text(pk, rs->dir);
    arb_pack_cstr(pk, "default_limit");
    msgpack_pack_int(pk, rs->default_limit);
    arb_pack_cstr(pk, "channels");
    pack_channel_names(pk, rs, rs->n_channels == 64 ? ~0ull : (1ull << rs->n_channels) - 1);
    arb_pack_cstr(pk, "models");
    msgpack_pack_array(pk, rs->n_models);
    for (uint32_t i = 0; i < rs->n_models; i++) arb_pack_cstr(pk, rs->syms.names[rs->models[i]]);
    arb_pack_cstr(pk, "touchpoints");
    msgpack_pack_array(pk, rs->n_touchpoints);
    for (uint32_t i = 0; i < rs->n_touchpoints; i++) {
        const arb_touchpoint_t *tp = &rs->touchpoints[i];
        msgpack_pack_map(pk, 3);
        arb_pack_cstr(pk, "id");
        arb_pack_cstr(pk, tp->id);
        arb_pack_cstr(pk, "limit");
        msgpack_pack_int(pk, tp->limit ? tp->limit : rs->default_limit);
        arb_pack_cstr(pk, "diverse");
        if (tp->diverse == 0) arb_pack_cstr(pk, "category"); else msgpack_pack_nil(pk);
    }
    arb_pack_cstr(pk, "actions");
    msgpack_pack_array(pk, rs->n_actions);
    for (uint32_t i = 0; i < rs->n_actions; i++) pack_action_info(pk, rs, &rs->actions[i]);
}
