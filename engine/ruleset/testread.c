/* Reading rule tests (see testread.h).
 *
 * The test files run in a state made for them and closed after the read,
 * so nothing a test file makes stays in a published ruleset's state, and a
 * test file cannot change what the rules see. A test file keeps its specs
 * and may give them metatables after declaring them (see rawread.h), so the
 * tests are read, in one protected call and raw, into C (arb_rule_test_t):
 * strings copied, the context packed with `now` fixed to the prelude's test
 * clock unless the test gives one. Deciding and checking then use only that
 * copy (decide/ruletest.c).
 */
#include "engine/ruleset/testread.h"
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/lua/context.h"
#include "bindings/lua/sandbox.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/rawread.h"

/* Budgets for reading the tests (as for running a file at load time). */
#define READ_INSTRUCTIONS 50000000
#define READ_MEMORY (256u * 1024 * 1024)
/* Bytes a test's context may pack to. */
#define CONTEXT_MAX (8u * 1024 * 1024)

typedef arb_id_list_t id_list_t;
typedef arb_rule_test_t test_case_t;

/* Every test one run reads, owned here so that an error unwinding the
 * protected read leaks nothing. */
typedef struct test_read {
    int64_t now;
    test_case_t *cases;
    size_t n;
} test_read_t;

static void id_list_free(id_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

static void test_case_free(test_case_t *t)
{
    msgpack_sbuffer_destroy(&t->context);
    msgpack_sbuffer_destroy(&t->customer);
    id_list_free(&t->expect);
    id_list_free(&t->includes);
    id_list_free(&t->excludes);
    id_list_free(&t->reason_ids);
    for (size_t i = 0; i < t->product_ids.n; i++) id_list_free(&t->product_wants[i]);
    free(t->product_wants);
    id_list_free(&t->product_ids);
    id_list_free(&t->reason_wants);
    for (size_t i = 0; i < t->n_priorities; i++) free(t->priorities[i].id);
    free(t->priorities);
}

/* Running out of memory while reading the tests raises, inside read_tests'
 * protected call: what was read so far belongs to the test_read_t, which
 * frees it, and the run fails with "reading the tests stopped". */
static void *read_check(lua_State *L, void *p)
{
    if (!p) luaL_error(L, "out of memory reading the tests");
    return p;
}

/* What reading the tests keeps in C (copied ids, packed contexts) is
 * charged to the read's instruction budget (raising its error when spent):
 * one Lua table shared by every test, an 8 MB context or a 100,000-id
 * list, is copied once per test, and 400 tests sharing one context took a
 * server's reload job gigabytes and minutes. About 40 instructions an item
 * and one per 2 bytes: the read's 50 million keep at most some 100 MB. */
#define TEST_ITEM_COST 40
#define TEST_BYTES_PER_INSTRUCTION 2

static void charge(lua_State *L, size_t bytes)
{
    arb__sandbox_charge(L, TEST_ITEM_COST + (double)bytes / TEST_BYTES_PER_INSTRUCTION);
}


static void *calloc_or_raise(lua_State *L, size_t n, size_t size)
{
    return read_check(L, calloc(n ? n : 1, size));
}

/* A copy of the string at idx, or NULL when it is not a string; charged. */
static char *string_copy(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING) {
        charge(L, 0);
        return NULL;
    }
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    charge(L, len);
    char *c = read_check(L, malloc(len + 1));
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

/* Field `name` of the spec at spec as a list of ids, its length read once.
 * Returns -1 with t->err when it is there but not a plain table. */
static int read_ids(lua_State *L, int spec, const char *name, id_list_t *out, test_case_t *t)
{
    int type = arb_raw_field(L, spec, name);
    int r = 0;
    if (type == LUA_TTABLE && !arb_raw_has_mt(L, -1)) {
        lua_Unsigned n = lua_rawlen(L, -1);
        if (n > 100000) n = 100000;
        out->given = true;
        out->items = calloc_or_raise(L, (size_t)n, sizeof *out->items);
        for (lua_Unsigned i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            out->items[out->n++] = string_copy(L, -1);
            lua_pop(L, 1);
        }
    } else if (type != LUA_TNIL) {
        snprintf(t->err, sizeof t->err, "'%s' must be a plain list of action ids", name);
        r = -1;
    }
    lua_pop(L, 1);
    return r;
}

/* reasons = { id = "prefix", ... }: string pairs; others are kept as NULL
 * and fail. */
static int read_reasons(lua_State *L, int spec, test_case_t *t)
{
    int type = arb_raw_field(L, spec, "reasons");
    int r = 0;
    if (type == LUA_TTABLE && !arb_raw_has_mt(L, -1)) {
        int tbl = lua_gettop(L);
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            lua_pop(L, 1);
            n++;
        }
        t->reason_ids.items = calloc_or_raise(L, n, sizeof (char *));
        t->reason_wants.items = calloc_or_raise(L, n, sizeof (char *));
        lua_pushnil(L);
        while (lua_next(L, tbl) && t->reason_ids.n < n) {
            bool strings = lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING;
            t->reason_ids.items[t->reason_ids.n++] = strings ? string_copy(L, -2) : NULL;
            t->reason_wants.items[t->reason_wants.n++] = strings ? string_copy(L, -1) : NULL;
            lua_pop(L, 1);
        }
    } else if (type != LUA_TNIL) {
        snprintf(t->err, sizeof t->err, "'reasons' must be a plain table of id = reason");
        r = -1;
    }
    lua_settop(L, spec);
    return r;
}

/* products = { id = { "SKU", ... } }: each value read as read_ids reads a
 * list; an entry that is not id = plain list keeps a NULL id, and fails. */
static int read_products(lua_State *L, int spec, test_case_t *t)
{
    int type = arb_raw_field(L, spec, "products");
    if (type == LUA_TNIL) return lua_settop(L, spec), 0;
    if (type != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
        snprintf(t->err, sizeof t->err, "'products' must be a plain table of id = { \"SKU\", ... }");
        return lua_settop(L, spec), -1;
    }
    int tbl = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) lua_pop(L, 1), n++;
    t->product_ids.items = calloc_or_raise(L, n, sizeof (char *));
    t->product_wants = calloc_or_raise(L, n, sizeof *t->product_wants);
    lua_pushnil(L);
    while (lua_next(L, tbl) && t->product_ids.n < n) {
        size_t i = t->product_ids.n++;
        bool ok = lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE && !arb_raw_has_mt(L, -1);
        t->product_ids.items[i] = ok ? string_copy(L, -2) : NULL;
        if (ok) {
            lua_Unsigned m = lua_rawlen(L, -1);
            if (m > 100) m = 100;
            arb_id_list_t *w = &t->product_wants[i];
            w->given = true;
            w->items = calloc_or_raise(L, (size_t)m, sizeof *w->items);
            for (lua_Unsigned k = 1; k <= m; k++) {
                lua_rawgeti(L, -1, (lua_Integer)k);
                w->items[w->n++] = string_copy(L, -1);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, spec);
    return 0;
}

/* One priorities entry's value at -1 into w: a plain number (equals) or a
 * comparison of the vocabulary (at_least, at_most, above, below, between),
 * read raw. false when it is neither. */
static bool priority_want(lua_State *L, arb_priority_want_t *w)
{
    if (lua_type(L, -1) == LUA_TNUMBER) {
        snprintf(w->op, sizeof w->op, "eq");
        w->a = w->b = lua_tonumber(L, -1);
        return true;
    }
    if (lua_type(L, -1) != LUA_TTABLE) return false;
    int v = lua_gettop(L);
    bool ok = arb_raw_field(L, v, "op") == LUA_TSTRING;
    const char *op = ok ? lua_tostring(L, -1) : "";
    static const char *const known[] = { "ge", "le", "gt", "lt", "between", NULL };
    bool named = false;
    for (const char *const *k = known; *k && !named; k++) named = strcmp(op, *k) == 0;
    ok = ok && named && arb_raw_field(L, v, "a") == LUA_TNUMBER;
    if (ok) {
        snprintf(w->op, sizeof w->op, "%s", op);
        w->a = w->b = lua_tonumber(L, -1);
        if (strcmp(op, "between") == 0) {
            ok = arb_raw_field(L, v, "b") == LUA_TNUMBER;
            if (ok) w->b = lua_tonumber(L, -1);
        }
    }
    lua_settop(L, v);
    return ok;
}

/* priorities = { id = at_least(2.5), ... }: an entry that is not id =
 * number or comparison is kept with a NULL id, and fails. */
static int read_priorities(lua_State *L, int spec, test_case_t *t)
{
    int type = arb_raw_field(L, spec, "priorities");
    int r = 0;
    if (type == LUA_TTABLE && !arb_raw_has_mt(L, -1)) {
        int tbl = lua_gettop(L);
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            lua_pop(L, 1);
            n++;
        }
        t->priorities = calloc_or_raise(L, n, sizeof *t->priorities);
        lua_pushnil(L);
        while (lua_next(L, tbl) && t->n_priorities < n) {
            arb_priority_want_t *w = &t->priorities[t->n_priorities++];
            bool ok = lua_type(L, -2) == LUA_TSTRING && priority_want(L, w);
            w->id = ok ? string_copy(L, -2) : NULL;
            lua_pop(L, 1);
        }
    } else if (type != LUA_TNIL) {
        snprintf(t->err, sizeof t->err, "'priorities' must be a plain table of id = at_least(x), "
                 "at_most(x), above(x), below(x), between(a, b) or a number");
        r = -1;
    }
    lua_settop(L, spec);
    return r;
}

/* The context's packer writes here: a write msgpack-c cannot make room for
 * would otherwise be dropped, and the test would decide another context. */
typedef struct context_writer {
    lua_State *L;
    msgpack_sbuffer *sb;
} context_writer_t;

static int context_write(void *data, const char *buf, size_t len)
{
    context_writer_t *w = data;
    if (msgpack_sbuffer_write(w->sb, buf, len) != 0) luaL_error(w->L, "out of memory reading the tests");
    return 0;
}

/* Pack the test's context with customer_id and now filled in when it has
 * none; the rule's table is read raw and never written. */
static int read_context(lua_State *L, int spec, int64_t now, test_case_t *t)
{
    if (arb_raw_field(L, spec, "context") != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
        snprintf(t->err, sizeof t->err, "has no context = { ... } (a plain table)");
        return -1;
    }
    int ctx = lua_gettop(L);
    bool has_id = arb_raw_field(L, ctx, "customer_id") != LUA_TNIL;
    bool has_now = arb_raw_field(L, ctx, "now") != LUA_TNIL;
    lua_pop(L, 2);
    size_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, ctx)) {
        lua_pop(L, 1);
        pairs++;
    }
    msgpack_packer pk;
    context_writer_t writer = { L, &t->context };
    msgpack_packer_init(&pk, &writer, context_write);
    msgpack_pack_map(&pk, pairs + !has_id + !has_now);
    if (!has_id) {
        msgpack_pack_str_with_body(&pk, "customer_id", 11);
        msgpack_pack_str_with_body(&pk, "test-customer", 13);
    }
    if (!has_now) {
        msgpack_pack_str_with_body(&pk, "now", 3);
        msgpack_pack_int64(&pk, now);
    }
    char err[400];
    lua_pushnil(L);
    while (lua_next(L, ctx)) {
        int top = lua_gettop(L);
        size_t room = CONTEXT_MAX > t->context.size ? CONTEXT_MAX - t->context.size : 0;
        if (arb_raw_pack(L, top - 1, &pk, &t->context, room, false, err, sizeof err) < 0 ||
            arb_raw_pack(L, top, &pk, &t->context, CONTEXT_MAX - t->context.size, false, err,
                         sizeof err) < 0) {
            snprintf(t->err, sizeof t->err, "context: %s", err);
            lua_settop(L, spec);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, spec);
    charge(L, t->context.size);
    return 0;
}

/* Pack the test's customer = { ... } table as it is (decide/ruletest.c
 * reads it into a customer value); none leaves t->customer empty. */
static int read_customer(lua_State *L, int spec, test_case_t *t)
{
    int type = arb_raw_field(L, spec, "customer");
    int r = 0;
    if (type == LUA_TTABLE && !arb_raw_has_mt(L, -1)) {
        msgpack_packer pk;
        context_writer_t writer = { L, &t->customer };
        msgpack_packer_init(&pk, &writer, context_write);
        char err[400];
        if (arb_raw_pack(L, lua_gettop(L), &pk, &t->customer, CONTEXT_MAX, false, err, sizeof err) < 0) {
            snprintf(t->err, sizeof t->err, "customer: %s", err);
            r = -1;
        }
        charge(L, t->customer.size);
    } else if (type != LUA_TNIL) {
        snprintf(t->err, sizeof t->err, "'customer' must be a plain table of the stored history");
        r = -1;
    }
    lua_settop(L, spec);
    return r;
}

/* Read test record `rec` (the prelude's: name, file, line, spec) into t. */
static void read_test(lua_State *L, int rec, int64_t now, test_case_t *t)
{
    const char *name = arb_raw_field(L, rec, "name") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    const char *file = arb_raw_field(L, rec, "file") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    int line = arb_raw_field(L, rec, "line") == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : 0;
    snprintf(t->where, sizeof t->where, "%s:%d: test '%s'", file, line, name);
    lua_pop(L, 3);
    if (arb_raw_field(L, rec, "spec") != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
        snprintf(t->err, sizeof t->err, "the { ... } body must be a plain table, without a metatable");
        lua_pop(L, 1);
        return;
    }
    int spec = lua_gettop(L);
    if (read_context(L, spec, now, t) == 0 && read_customer(L, spec, t) == 0 && read_ids(L, spec, "expect", &t->expect, t) == 0 &&
        read_ids(L, spec, "includes", &t->includes, t) == 0 &&
        read_ids(L, spec, "excludes", &t->excludes, t) == 0)
        read_reasons(L, spec, t);
    if (!t->err[0]) read_priorities(L, spec, t);
    if (!t->err[0]) read_products(L, spec, t);
    lua_settop(L, spec - 1);
}

/* Protected: read every test into r->cases. */
static int read_tests(lua_State *L, void *ud)
{
    test_read_t *r = ud;
    arb__prelude_push(L, "now");
    r->now = lua_tointeger(L, -1);
    arb__prelude_push(L, "tests");
    int tests = lua_gettop(L);
    int last = (int)lua_rawlen(L, tests);
    if (last < 1) return 0;
    r->cases = calloc_or_raise(L, (size_t)last, sizeof *r->cases);
    for (int i = 1; i <= last; i++) {
        test_case_t *t = &r->cases[r->n++];
        msgpack_sbuffer_init(&t->context);
        msgpack_sbuffer_init(&t->customer);
        lua_rawgeti(L, tests, i);
        read_test(L, lua_gettop(L), r->now, t);
        lua_settop(L, tests);
    }
    return 0;
}

/* ---- ids the tests name */

static int by_id(const void *key, const void *elem)
{
    return strcmp(key, ((const arb_action_t *)elem)->id);
}

/* The ruleset's id nearest to id (for "did you mean"), or NULL. */
static const char *nearest_id(const arb_ruleset_t *rs, const char *id)
{
    const char *best = NULL;
    int best_d = 3;   /* at most two edits away */
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        int d = spec_distance(id, rs->actions[i].id);
        if (d < best_d) {
            best_d = d;
            best = rs->actions[i].id;
        }
    }
    return best;
}

/* t->err for the first id of list that no action has; returns whether. */
static bool unknown_id(const arb_ruleset_t *rs, const arb_id_list_t *l, const char *field,
                       test_case_t *t)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *id = l->items[i];
        if (!id || bsearch(id, rs->actions, rs->n_actions, sizeof *rs->actions, by_id)) continue;
        const char *near = nearest_id(rs, id);
        snprintf(t->err, sizeof t->err,
                 "%s names '%.200s', an id no action or fallback of the ruleset has%s%.200s%s",
                 field, id, near ? " (did you mean '" : ": fix the id, or remove it",
                 near ? near : "", near ? "'?)" : "");
        return true;
    }
    return false;
}

void arb_rule_tests_check_ids(arb_rule_tests_t *tests, const arb_ruleset_t *rs)
{
    for (size_t i = 0; i < tests->n; i++) {
        test_case_t *t = &tests->cases[i];
        if (t->err[0]) continue;
        (void)(unknown_id(rs, &t->expect, "expect", t) || unknown_id(rs, &t->includes, "includes", t) ||
               unknown_id(rs, &t->excludes, "excludes", t) || unknown_id(rs, &t->reason_ids, "reasons", t) ||
               unknown_id(rs, &t->product_ids, "products", t));
    }
}

void arb_rule_tests_free(arb_rule_tests_t *t)
{
    for (size_t i = 0; i < t->n; i++) test_case_free(&t->cases[i]);
    free(t->cases);
    t->cases = NULL;
    t->n = 0;
}

/* The prelude, in a protected call: the Lua API raises when memory runs
 * out, and outside every protected call that would be Lua's panic. */
static int prelude_protected(lua_State *L)
{
    arb_problems_t *failures = lua_touserdata(L, 1);
    lua_settop(L, 0);
    arb_lua_context_init(L);
    lua_pushboolean(L, arb__prelude_run(L, failures) == 0);
    return 1;
}

int arb_rule_tests_read(const char *dir, arb_rule_tests_t *out, arb_problems_t *failures)
{
    *out = (arb_rule_tests_t){ 0 };
    size_t before = failures->total;
    arb_sandbox_t *sb = calloc(1, sizeof *sb);
    lua_State *L = sb ? arb_sandbox_new(sb) : NULL;
    if (!L) {
        arb_problems_add(failures, "%s: out of memory creating the state for the tests", dir);
        free(sb);
        return -1;
    }
    lua_pushcfunction(L, prelude_protected);
    lua_pushlightuserdata(L, failures);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_toboolean(L, -1)) {
        if (failures->total == before)
            arb_problems_add(failures, "%s: reading the tests stopped: out of memory", dir);
        lua_close(L);
        free(sb);
        return -1;
    }
    lua_settop(L, 0);
    /* The room a ruleset's state keeps past its load, as when the tests
     * ran in that state: what the test files may make beside the prelude. */
    sb->cap = sb->used + ARB_RULESET_HEADROOM;
    test_read_t r = { 0 };
    char err[300];
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    arb__rule_files_list(dir, true, &files, &n, failures);
    /* The test files share one budget, as the rule files do. */
    arb__load_budget(L, true);
    for (size_t i = 0; i < n; i++)
        if (files[i].text) arb__rule_file_run(L, &files[i], "tests_env", failures);
    arb__rule_files_free(files, n);
    int rc = -1;
    if (failures->total == before)
        rc = arb_raw_protected(L, read_tests, &r, READ_INSTRUCTIONS, READ_MEMORY, err, sizeof err);
    arb__load_budget(L, false);
    lua_close(L);
    free(sb);
    out->cases = r.cases;
    out->n = r.n;
    if (failures->total != before) {
        arb_rule_tests_free(out);
        return -1;
    }
    if (rc < 0) {
        arb_problems_add(failures, "%s: reading the tests stopped: %s", dir, err);
        arb_rule_tests_free(out);
        return -1;
    }
    return 0;
}
