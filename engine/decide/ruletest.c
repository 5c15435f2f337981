/* Rule tests (see ruletest.h).
 *
 * A test file declares tests with the prelude's test vocabulary:
 *
 *   test "laptop buyer gets a mouse" {
 *     context  = { channel = "email", touchpoint = "email_post_purchase",
 *                  purchases = { { category = "laptop", ts = ago(days(2)) } } },
 *     expect   = { "wireless_mouse" },       -- exactly these ids, in order
 *     includes = { ... }, excludes = { ... },-- or looser checks
 *     reasons  = { umbrella = "consent:location" },  -- explain reasons (prefix)
 *   }
 *
 * Each context is packed to MessagePack and decided through arb_decide, the
 * same path the server takes, with `now` fixed to the prelude's test clock
 * unless the test gives one.
 *
 * A test file keeps its specs and may give them metatables after
 * declaring them (see rawread.h), so the tests are first read, in one
 * protected call and raw, into C (test_case_t): strings copied, the
 * context packed. Deciding and checking then use only that copy.
 */
#include "engine/decide/ruletest.h"
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/lua/sandbox.h"
#include "engine/ruleset/compiled.h"
#include "engine/request/context.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/rawread.h"

/* Budgets for reading the tests (as for running a file at load time). */
#define READ_INSTRUCTIONS 50000000
#define READ_MEMORY (256u * 1024 * 1024)
/* Wall time all the tests' decisions may take together: each Lua call has
 * its own budgets, but 3,000 tests of a rule that stops on its 100 ms
 * wall budget held a server's reload job for 5 minutes. */
#define RUN_WALL_NS (5000000000ull)
/* Bytes a test's context may pack to. */
#define CONTEXT_MAX (8u * 1024 * 1024)

/* A list of ids read from a test: an item that is not a string is NULL. */
typedef struct id_list {
    char **items;   /* owned, as are the strings */
    size_t n;
    bool given;     /* the field was there */
} id_list_t;

/* One test as read from its file. */
typedef struct test_case {
    char where[600];            /* "file:line: test 'name'" */
    char err[600];              /* why it cannot run; "" when it can */
    msgpack_sbuffer context;    /* the packed context */
    id_list_t expect, includes, excludes;
    id_list_t reason_ids, reason_wants;   /* pairs, same length */
} test_case_t;

/* Every test one run reads, owned here so that an error unwinding the
 * protected read leaks nothing. */
typedef struct test_read {
    int first;                  /* tests from this index on are new */
    int64_t now;
    test_case_t *cases;
    size_t n;
} test_read_t;

/* The decision's parts a test looks at. */
typedef struct outcome {
    const arb_decision_t *dec;       /* the decider's view, read before the next test */
} outcome_t;

/* Append the chosen ids as "a, b, c" to buf. */
static void ids_text(const outcome_t *out, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < out->dec->n_actions; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", i ? ", " : "", out->dec->actions[i].id);
    }
    if (!buf[0]) snprintf(buf, n, "nothing");
}

/* Position of id among the chosen actions, or -1. */
static int chosen_at(const outcome_t *out, const char *id)
{
    for (uint32_t i = 0; i < out->dec->n_actions; i++)
        if (strcmp(out->dec->actions[i].id, id) == 0) return (int)i;
    return -1;
}

static const char *reason_of(const outcome_t *out, const char *id, size_t *len)
{
    for (uint32_t i = 0; i < out->dec->n_explain; i++) {
        const arb_explained_t *e = &out->dec->explain[i];
        if (strcmp(e->id, id) == 0) {
            *len = strlen(e->reason);
            return e->reason;
        }
    }
    return NULL;
}

static void id_list_free(id_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

static void test_case_free(test_case_t *t)
{
    msgpack_sbuffer_destroy(&t->context);
    id_list_free(&t->expect);
    id_list_free(&t->includes);
    id_list_free(&t->excludes);
    id_list_free(&t->reason_ids);
    id_list_free(&t->reason_wants);
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
    if (read_context(L, spec, now, t) == 0 && read_ids(L, spec, "expect", &t->expect, t) == 0 &&
        read_ids(L, spec, "includes", &t->includes, t) == 0 &&
        read_ids(L, spec, "excludes", &t->excludes, t) == 0)
        read_reasons(L, spec, t);
    lua_settop(L, spec - 1);
}

/* Protected: how many tests exist before this run's files are run. */
static int count_tests(lua_State *L, void *ud)
{
    test_read_t *r = ud;
    arb__prelude_push(L, "tests");
    r->first = (int)lua_rawlen(L, -1) + 1;   /* tests of earlier runs stay behind */
    return 0;
}

/* Protected: read every new test into r->cases. */
static int read_tests(lua_State *L, void *ud)
{
    test_read_t *r = ud;
    arb__prelude_push(L, "now");
    r->now = lua_tointeger(L, -1);
    arb__prelude_push(L, "tests");
    int tests = lua_gettop(L);
    int last = (int)lua_rawlen(L, tests);
    if (last < r->first) return 0;
    r->cases = calloc_or_raise(L, (size_t)(last - r->first + 1), sizeof *r->cases);
    for (int i = r->first; i <= last; i++) {
        test_case_t *t = &r->cases[r->n++];
        msgpack_sbuffer_init(&t->context);
        lua_rawgeti(L, tests, i);
        read_test(L, lua_gettop(L), r->now, t);
        lua_settop(L, tests);
    }
    return 0;
}

/* ---- checking */

static bool chosen_is(const outcome_t *out, const id_list_t *want)
{
    if (out->dec->n_actions != want->n) return false;
    for (size_t i = 0; i < want->n; i++)
        if (!want->items[i] || chosen_at(out, want->items[i]) != (int)i) return false;
    return true;
}

/* Check the test's expectations against out. Adds one failure per broken
 * expectation. */
static int check_expectations(const test_case_t *t, const outcome_t *out, arb_problems_t *failures)
{
    int failed = 0;
    char got[1024];
    ids_text(out, got, sizeof got);
    if (t->expect.given && !chosen_is(out, &t->expect)) {
        char want[1024] = "";
        for (size_t i = 0; i < t->expect.n; i++) {
            size_t used = strlen(want);
            snprintf(want + used, sizeof want - used, "%s%s", i ? ", " : "",
                     t->expect.items[i] ? t->expect.items[i] : "?");
        }
        arb_problems_add(failures, "%s: expected %s, got %s", t->where,
                         t->expect.n ? want : "nothing", got);
        failed++;
    }
    for (int pass = 0; pass < 2; pass++) {
        const id_list_t *l = pass ? &t->excludes : &t->includes;
        for (size_t i = 0; i < l->n; i++) {
            const char *id = l->items[i];
            if (id && (chosen_at(out, id) >= 0) == (pass == 1)) {
                arb_problems_add(failures, "%s: expected %s%s, got %s", t->where,
                                 pass ? "no " : "", id, got);
                failed++;
            }
        }
    }
    for (size_t i = 0; i < t->reason_ids.n; i++) {
        const char *id = t->reason_ids.items[i], *want = t->reason_wants.items[i];
        size_t len = 0;
        const char *have = id ? reason_of(out, id, &len) : NULL;
        if (!id || !want || !have || len < strlen(want) || memcmp(have, want, strlen(want)) != 0) {
            arb_problems_add(failures, "%s: expected the reason for %s to be '%s', got '%.*s'",
                             t->where, id ? id : "?", want ? want : "?", have ? (int)len : 4,
                             have ? have : "none");
            failed++;
        }
    }
    return failed;
}

static int run_one(arb_ruleset_t *rs, arb_decider_t *d, const test_case_t *t,
                   arb_problems_t *failures, int verbose)
{
    int failed = 0;
    if (t->err[0]) {
        arb_problems_add(failures, "%s: %s", t->where, t->err);
        failed = 1;
    } else {
        arb_decide_once_t once;
        arb_err_t e;
        outcome_t out = { arb_decide_bytes(d, rs, t->context.data, t->context.size, &once, &e) };
        if (!out.dec) {
            arb_problems_add(failures, "%s: the context is invalid: %.500s", t->where, e.message);
            failed = 1;
        } else {
            failed = check_expectations(t, &out, failures);
        }
        arb_decide_once_done(&once);
    }
    if (verbose) {
        char where[sizeof t->where];
        arb_text_clean(t->where, strlen(t->where), where, sizeof where);
        printf("%s %s\n", failed ? "FAIL" : "ok  ", where);
    }
    return failed;
}

int arb_ruleset_run_tests(arb_ruleset_t *rs, const char *dir, arb_problems_t *failures,
                          int verbose)
{
    lua_State *L = rs->L;
    test_read_t r = { 0 };
    char err[300];
    if (arb_raw_protected(L, count_tests, &r, READ_INSTRUCTIONS, READ_MEMORY, err, sizeof err) < 0) {
        arb_problems_add(failures, "%s: reading the tests stopped: %s", dir, err);
        return -1;
    }
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    size_t before = failures->total;
    arb__rule_files_list(dir, true, &files, &n, failures);
    /* The test files share one budget, as the rule files do. */
    arb__load_budget(L, true);
    for (size_t i = 0; i < n; i++)
        if (files[i].text) arb__rule_file_run(L, &files[i], "tests_env", failures);
    arb__rule_files_free(files, n);
    int rc = -1;
    arb_decider_t *d = NULL;
    if (failures->total == before)
        rc = arb_raw_protected(L, read_tests, &r, READ_INSTRUCTIONS, READ_MEMORY, err, sizeof err);
    arb__load_budget(L, false);
    if (failures->total != before) return -1;
    if (rc < 0) {
        arb_problems_add(failures, "%s: reading the tests stopped: %s", dir, err);
    } else if (!(d = arb_decider_new())) {
        arb_problems_add(failures, "%s: out of memory running the tests", dir);
        rc = -1;
    } else {
        arb_decider_force_explain(d, true);
        /* One wall budget for every Lua call of the run, so that no test
         * passes the run's deadline; the instructions stay per call. */
        arb_sandbox_total_begin(L, INT64_MAX / 4, READ_MEMORY, RUN_WALL_NS);
        uint64_t deadline = arb_sandbox_clock_ns(L) + RUN_WALL_NS;
        for (size_t i = 0; i < r.n; i++) {
            if (arb_sandbox_clock_ns(L) >= deadline) {
                arb_problems_add(failures, "%s: running the tests stopped after %zu of %zu: together "
                                 "they may take %llu s (do rules stop on their budgets in every test?)",
                                 dir, i, r.n, RUN_WALL_NS / 1000000000ull);
                rc = -1;
                break;
            }
            run_one(rs, d, &r.cases[i], failures, verbose);
        }
        arb_sandbox_total_end(L);
        arb_decider_free(d);
    }
    for (size_t i = 0; i < r.n; i++) test_case_free(&r.cases[i]);
    free(r.cases);
    return rc < 0 ? -1 : (int)r.n;
}
