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
 */
#include "engine/ruletest.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bindings/lua/context.h"
#include "engine/compiled.h"
#include "engine/decide.h"

/* The decision's parts a test looks at. */
typedef struct outcome {
    msgpack_sbuffer bytes;           /* the packed decision; decision points into it */
    msgpack_unpacked decision;
    const msgpack_object *actions;   /* array of action maps */
    const msgpack_object *explain;   /* array of {id, chosen, reason} */
} outcome_t;

static const char *obj_str(const msgpack_object *o, size_t *len)
{
    if (!o || o->type != MSGPACK_OBJECT_STR) return NULL;
    *len = o->via.str.size;
    return o->via.str.ptr;
}

/* Append the chosen ids as "a, b, c" to buf. */
static void ids_text(const outcome_t *out, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; out->actions && i < out->actions->via.array.size; i++) {
        size_t len;
        const char *id = obj_str(arb_msgpack_map_get(&out->actions->via.array.ptr[i], "id"), &len);
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%.*s", i ? ", " : "", id ? (int)len : 0, id ? id : "");
    }
    if (!buf[0]) snprintf(buf, n, "nothing");
}

/* Position of id among the chosen actions, or -1. */
static int chosen_at(const outcome_t *out, const char *id)
{
    for (uint32_t i = 0; out->actions && i < out->actions->via.array.size; i++) {
        size_t len;
        const char *s = obj_str(arb_msgpack_map_get(&out->actions->via.array.ptr[i], "id"), &len);
        if (s && len == strlen(id) && memcmp(s, id, len) == 0) return (int)i;
    }
    return -1;
}

static const char *reason_of(const outcome_t *out, const char *id, size_t *len)
{
    for (uint32_t i = 0; out->explain && i < out->explain->via.array.size; i++) {
        const msgpack_object *e = &out->explain->via.array.ptr[i];
        size_t l;
        const char *s = obj_str(arb_msgpack_map_get(e, "id"), &l);
        if (s && l == strlen(id) && memcmp(s, id, l) == 0)
            return obj_str(arb_msgpack_map_get(e, "reason"), len);
    }
    return NULL;
}

/* Check the test's expectations (spec at idx) against out. Adds one failure
 * per broken expectation. */
static int check_expectations(lua_State *L, int spec, const outcome_t *out, const char *where,
                              arb_problems_t *failures)
{
    int failed = 0;
    char got[1024];
    ids_text(out, got, sizeof got);
    if (lua_getfield(L, spec, "expect") == LUA_TTABLE) {
        int n = (int)lua_rawlen(L, -1);
        bool ok = out->actions && (int)out->actions->via.array.size == n;
        for (int i = 1; ok && i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *id = lua_tostring(L, -1);
            ok = id && chosen_at(out, id) == i - 1;
            lua_pop(L, 1);
        }
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 1; i <= n; i++) {
                if (i > 1) luaL_addstring(&b, ", ");
                lua_rawgeti(L, -2, i);
                luaL_addvalue(&b);
            }
            luaL_pushresult(&b);
            arb_problems_add(failures, "%s: expected %s, got %s", where,
                             n ? lua_tostring(L, -1) : "nothing", got);
            lua_pop(L, 1);
            failed++;
        }
    }
    lua_pop(L, 1);
    for (int pass = 0; pass < 2; pass++) {
        const char *field = pass ? "excludes" : "includes";
        if (lua_getfield(L, spec, field) == LUA_TTABLE) {
            int n = (int)lua_rawlen(L, -1);
            for (int i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                const char *id = lua_tostring(L, -1);
                if (id && (chosen_at(out, id) >= 0) == (pass == 1)) {
                    arb_problems_add(failures, "%s: expected %s%s, got %s", where,
                                     pass ? "no " : "", id, got);
                    failed++;
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    if (lua_getfield(L, spec, "reasons") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            /* lua_tostring would turn a number key into a string in place
             * and confuse lua_next: only string pairs are read. */
            bool strings = lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING;
            const char *id = strings ? lua_tostring(L, -2) : NULL;
            const char *want = strings ? lua_tostring(L, -1) : NULL;
            size_t len = 0;
            const char *have = id ? reason_of(out, id, &len) : NULL;
            if (!id || !want || !have || len < strlen(want) || memcmp(have, want, strlen(want)) != 0) {
                arb_problems_add(failures, "%s: expected the reason for %s to be '%s', got '%.*s'",
                                 where, id ? id : "?", want ? want : "?", have ? (int)len : 4,
                                 have ? have : "none");
                failed++;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return failed;
}

/* Pack the test's context (filling customer_id and now) and decide it. */
static int run_decision(arb_ruleset_t *rs, arb_decider_t *d, int spec, int64_t now,
                        outcome_t *out, char *err, size_t errlen)
{
    lua_State *L = rs->L;
    if (lua_getfield(L, spec, "context") != LUA_TTABLE) {
        lua_pop(L, 1);
        snprintf(err, errlen, "has no context = { ... }");
        return -1;
    }
    int ctx = lua_gettop(L);
    if (lua_getfield(L, ctx, "customer_id") == LUA_TNIL) {
        lua_pushliteral(L, "test-customer");
        lua_setfield(L, ctx, "customer_id");
    }
    if (lua_getfield(L, ctx, "now") == LUA_TNIL) {
        lua_pushinteger(L, now);
        lua_setfield(L, ctx, "now");
    }
    lua_pop(L, 2);
    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
    int rc = arb_lua_pack(L, ctx, &pk, err, errlen);
    lua_pop(L, 1);
    arb_err_t e;
    if (rc == 0 && arb_decide_packed(d, rs, in.data, in.size, &out->bytes, &out->decision, &e) < 0) {
        snprintf(err, errlen, "the context is invalid: %.500s", e.message);
        rc = -1;
    }
    if (rc == 0) {
        out->actions = arb_msgpack_map_get(&out->decision.data, "actions");
        out->explain = arb_msgpack_map_get(&out->decision.data, "explain");
    }
    msgpack_sbuffer_destroy(&in);
    return rc;
}

static int run_one(arb_ruleset_t *rs, arb_decider_t *d, int test, int64_t now,
                   arb_problems_t *failures, int verbose)
{
    lua_State *L = rs->L;
    lua_getfield(L, test, "name");
    lua_getfield(L, test, "file");
    lua_getfield(L, test, "line");
    lua_getfield(L, test, "spec");
    char where[600];
    snprintf(where, sizeof where, "%s:%d: test '%s'", lua_tostring(L, -3),
             (int)lua_tointeger(L, -2), lua_tostring(L, -4));
    int spec = lua_gettop(L);
    outcome_t out = { 0 };
    msgpack_sbuffer_init(&out.bytes);
    msgpack_unpacked_init(&out.decision);
    char err[600];
    int failed;
    if (run_decision(rs, d, spec, now, &out, err, sizeof err) < 0) {
        arb_problems_add(failures, "%s: %s", where, err);
        failed = 1;
    } else {
        failed = check_expectations(L, spec, &out, where, failures);
    }
    msgpack_unpacked_destroy(&out.decision);
    msgpack_sbuffer_destroy(&out.bytes);
    if (verbose) printf("%s %s\n", failed ? "FAIL" : "ok  ", where);
    lua_pop(L, 4);
    return failed;
}

int arb_ruleset_run_tests(arb_ruleset_t *rs, const char *dir, arb_problems_t *failures,
                          int verbose)
{
    lua_State *L = rs->L;
    int top = lua_gettop(L);
    arb__prelude_push(L, "tests");
    int tests = lua_gettop(L);
    int first = (int)lua_rawlen(L, tests) + 1;     /* tests of earlier runs stay behind */
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    size_t before = failures->n;
    arb__rule_files_list(dir, true, &files, &n, failures);
    for (size_t i = 0; i < n; i++)
        if (files[i].text) arb__rule_file_run(L, &files[i], "tests_env", failures);
    arb__rule_files_free(files, n);
    if (failures->n != before) {
        lua_settop(L, top);
        return -1;
    }
    arb__prelude_push(L, "now");
    int64_t now = lua_tointeger(L, -1);
    lua_pop(L, 1);
    arb_decider_t *d = arb_decider_new();
    arb_decider_force_explain(d, true);
    int last = (int)lua_rawlen(L, tests), run = 0;
    for (int t = first; t <= last; t++, run++) {
        lua_rawgeti(L, tests, t);
        run_one(rs, d, lua_gettop(L), now, failures, verbose);
        lua_pop(L, 1);
    }
    arb_decider_free(d);
    lua_settop(L, top);
    return run;
}
