/* Compiling conditions and weights: the rule's condition and weight tables
 * become the flat node and expression arrays of compiled.h.
 *
 * Identical conditions (and weights) compile to one entry, found by
 * hash-consing: the bytes of an entry (node_key, wexpr_key) are its
 * identity, kept in an open-addressing table of indices. A table reached
 * twice compiles once (compile_once), and one that contains itself is a
 * problem. Everything runs inside compile_protected (compile_decl.c):
 * running out of memory raises and unwinds there.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"
#include "engine/ruleset/compile_hist.h"

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
    if (n && msgpack_sbuffer_write(buf, x, n) != 0) arb__compile_oom(L);
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
    uint32_t *slots = arb__compile_check(rs->L, calloc(cap, sizeof *slots));
    t->growing = slots;   /* the keys below may run out of memory and unwind */
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i]) continue;
        key_at(rs, t->slots[i] - 1, scratch);
        uint32_t k = key_hash(scratch) & (cap - 1);
        while (slots[k]) k = (k + 1) & (cap - 1);
        slots[k] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->growing = NULL;
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

static char *ruleset_strdup(arb_ruleset_t *rs, const char *s, size_t len, uint32_t *id)
{
    GROW(rs, rs->strs, rs->n_strs, 1);
    GROW(rs, rs->str_lens, rs->n_strs, 1);
    char *c = arb__compile_check(rs->L, malloc(len + 1));
    memcpy(c, s, len);
    c[len] = '\0';
    rs->strs[rs->n_strs] = c;
    rs->str_lens[rs->n_strs] = (uint32_t)len;
    if (id) *id = rs->n_strs;
    rs->n_strs++;
    return c;
}

/* Optional string field as a symbol; -1 when absent. */
static int32_t sym_field(compiler_t *cc, int idx, const char *name)
{
    int32_t sym = -1;
    int t = arb_raw_field(cc->L, idx, name);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(cc->L, -1, &len);
        sym = arb__intern(cc, s, len);
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
                spec_charge_item(cc, len);
                ruleset_strdup(cc->rs, str, len, NULL);
                out->list_n++;
            } else {
                spec_charge_item(cc, 0);
                spec_problem(cc, "one_of: item %d is not a string%s", i, SPEC_CHANGED);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

void arb__compile_cmp(compiler_t *cc, int idx, arb_cmp_t *out) { compile_cmp(cc, idx, out); }

/* ---- conditions */


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
        int32_t k = arb__compile_cond(cc, lua_gettop(L));
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

int32_t arb__compile_cond(compiler_t *cc, int idx)
{
    int32_t r = compile_once(cc, idx, cc->memo_cond, "a condition", compile_cond_table);
    arb__compile_words(cc, idx, r);
    return r;
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
    if (arb__compile_hist(cc, idx, op, &n))
        return arb__compile_hist_done(cc, compile_children(cc, idx, &n));
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
            n.sym = arb__model_ref(cc, model);
        }
        arb_raw_field(L, idx, "cmp");
        compile_cmp(cc, lua_gettop(L), &n.cmp);
        lua_pop(L, 1);
    } else if (strcmp(op, "near_store") == 0) {
        n.op = ARB_OP_NEAR_STORE;
        n.num = spec_piece_number(cc, idx, "km", 0, 0, 40075);
        if (cc->rs->n_stores == 0)
            spec_problem(cc, "near_store needs the stores' coordinates: declare them with store \"id\" { lat = ..., lon = ... }");
    } else if (strcmp(op, "in_store") == 0) {
        n.op = ARB_OP_IN_STORE;
        n.sym = sym_field(cc, idx, "store");
        arb__store_check(cc, n.sym);
    }
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
    else if (arb__date_op(op)) {
        if (arb__compile_date_cond(cc, idx, op, &n) < 0) return -1;
        if (n.op == ARB_OP_SINCE || n.op == ARB_OP_UNTIL) {
            arb_raw_field(L, idx, "cmp");
            compile_cmp(cc, lua_gettop(L), &n.cmp);
            lua_pop(L, 1);
        }
    } else {
        spec_problem(cc, "internal: unknown condition '%s'", op);
        return -1;
    }
    return node_add(cc, &n);
}

/* ---- weights */

static int32_t compile_wexpr_value(compiler_t *cc, int idx);

int32_t arb__compile_wexpr(compiler_t *cc, int idx)
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
        w.left = arb__compile_wexpr(cc, lua_gettop(L));
        arb_raw_field(L, idx, "r");
        w.right = arb__compile_wexpr(cc, lua_gettop(L));
        lua_pop(L, 2);
        if (w.op == ARB_W_IF) {
            arb_raw_field(L, idx, "cond");
            w.node = arb__compile_cond(cc, lua_gettop(L));
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
        w.node = arb__compile_cond(cc, lua_gettop(L));
        lua_pop(L, 1);
        arb_op_t of = w.node >= 0 ? cc->rs->nodes[w.node].op : ARB_OP_BOUGHT;
        if (!arb_op_is_match(of)) {
            spec_problem(cc, "recency: needs a purchase or an event%s", SPEC_CHANGED);
            return -1;
        }
    } else if (strcmp(op, "score") == 0) {
        w.op = ARB_W_SCORE;
        const char *model = spec_piece_string(cc, idx, "model", &len);
        if (!model) return -1;
        w.sym = arb__model_ref(cc, model);
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
