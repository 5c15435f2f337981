/* Unit tests for rule files that turn on the loader (DESIGN.md section 10:
 * a rule file that changes its own tables, metatables included, is read
 * once, safely, never a crash; every string Arbiter sends is UTF-8; the
 * problems of a load are bounded).
 *
 * Each trick gives its table a metatable, a cycle or a depth after
 * declaring it. The load (or the test run) must then either succeed from
 * what was declared or fail with a file:line problem: an abort, a hang or
 * a sanitizer report fails the test (run these under build/asan too).
 */
#include <criterion/criterion.h>

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bindings/lua/sandbox.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/rawread.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"
#include "engine/base/utf8.h"
#include "tests/support/rulefix.h"

TestSuite(hostile, .init = rf_setup, .fini = rf_teardown, .timeout = 60);

/* "<dir>/a.lua:<line>: " */
static const char *at_line(int line)
{
    static char buf[2][256];
    static int i;
    char *b = buf[i++ % 2];
    snprintf(b, sizeof buf[0], "%s/a.lua:%d: ", R.dir, line);
    return b;
}

/* The load of a.lua fails with a problem starting at line and containing needle. */
static void expect_refused(const char *text, int line, const char *needle)
{
    cr_assert_not(rf_load(&R, "a.lua", text, NULL), "loaded although hostile:\n%s", text);
    for (size_t i = 0; i < R.problems.n; i++)
        if (rf_starts(R.problems.items[i], at_line(line)) && strstr(R.problems.items[i], needle))
            return;
    cr_assert_fail("expected a problem at %s containing '%s', got:\n%s", at_line(line), needle,
                   rf_problems(&R));
}

/* Every problem is valid UTF-8 without control bytes, and short. */
static void expect_clean_problems(void)
{
    for (size_t i = 0; i < R.problems.n; i++) {
        const char *p = R.problems.items[i];
        cr_expect(arb_utf8_valid(p, strlen(p)), "not UTF-8: %s", p);
        cr_expect_leq(strlen(p), ARB_PROBLEM_MAX_LEN);
        for (const char *c = p; *c; c++) cr_expect((unsigned char)*c >= 0x20, "control byte in %s", p);
    }
}

#define THROWING "{ __index = function() error('boom') end }"

/* ---- declarations given a metatable after declaring them ---------------- */

Test(hostile, a_spec_with_a_throwing_index_is_refused)
{
    expect_refused("local s = { channels = { 'web' }, value = 1 }\n"
                   "action 'a' (s)\n"
                   "setmetatable(s, " THROWING ")\n",
                   2, "metatable");
}

Test(hostile, a_touchpoint_spec_with_a_throwing_index_is_refused)
{
    expect_refused("local s = { limit = 2 }\n"
                   "touchpoint 'home' (s)\n"
                   "setmetatable(s, " THROWING ")\n",
                   2, "metatable");
}

Test(hostile, a_settings_table_with_a_throwing_index_is_refused)
{
    expect_refused("local s = { default_limit = 2 }\n"
                   "settings(s)\n"
                   "setmetatable(s, " THROWING ")\n"
                   "action 'a' { channels = { 'web' }, value = 1 }\n",
                   2, "metatable");
}

Test(hostile, an_allocating_index_is_refused_without_running)
{
    expect_refused("local s = { channels = { 'web' }, value = 1 }\n"
                   "action 'a' (s)\n"
                   "setmetatable(s, { __index = function()\n"
                   "  local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end return t end })\n",
                   2, "metatable");
}

Test(hostile, pairs_and_len_metamethods_are_refused)
{
    expect_refused("local s = { channels = { 'web' }, value = 1 }\n"
                   "action 'a' (s)\n"
                   "setmetatable(s, { __pairs = function() error('boom') end,\n"
                   "                  __len = function() return 1e9 end })\n",
                   2, "metatable");
}

/* The length that sizes the touchpoints array and the list that fills it
 * came from two reads of an __index that answered differently each time. */
Test(hostile, an_index_answering_differently_on_each_read_cannot_overflow)
{
    expect_refused("local n = 0\n"
                   "local s = { channels = { 'web' }, value = 1 }\n"
                   "action 'a' (s)\n"
                   "setmetatable(s, { __index = function(_, k)\n"
                   "  if k ~= 'touchpoints' and k ~= 'requires' then return nil end\n"
                   "  n = n + 1\n"
                   "  local l = {} for i = 1, n * 1000 do l[i] = 'tp' .. i end return l end })\n",
                   3, "metatable");
}

Test(hostile, a_list_with_a_metatable_is_refused)
{
    expect_refused("action 'a' {\n"
                   "  channels = setmetatable({ 'web' }, { __len = function() return 1e6 end }),\n"
                   "  value = 1 }\n",
                   1, "'channels' must be a list of strings");
}

Test(hostile, a_payload_with_a_throwing_index_is_refused)
{
    expect_refused("local p = { a = 1 }\n"
                   "action 'a' { channels = { 'web' }, value = 1, payload = { nested = p } }\n"
                   "setmetatable(p, " THROWING ")\n",
                   2, "'payload': a table with a metatable");
}

Test(hostile, a_one_of_list_changed_after_it_was_made_is_read_raw_or_refused)
{
    expect_refused("local l = { 'gold' }\n"
                   "action 'a' { channels = { 'web' }, value = 1,\n"
                   "  when = attribute('tier', one_of(l)) }\n"
                   "setmetatable(l, " THROWING ")\n",
                   2, "one_of");
}

Test(hostile, a_condition_list_that_changes_is_read_once)
{
    /* A condition's children read raw: adding non-conditions after making
     * it is reported, never run. */
    expect_refused("local c = all { raining() }\n"
                   "action 'a' { channels = { 'web' }, value = 1, when = c }\n"
                   "setmetatable(c, nil)\n",
                   2, "must be a condition");
}

/* ---- cycles, depth, sharing --------------------------------------------- */

Test(hostile, a_condition_that_contains_itself_is_refused)
{
    expect_refused("local c = all { raining() }\n"
                   "c[2] = c c[3] = c\n"
                   "action 'a' { channels = { 'web' }, value = 1, when = c }\n",
                   3, "a condition contains itself");
}

Test(hostile, a_weight_that_contains_itself_is_refused)
{
    expect_refused("models { 'm' }\n"
                   "local w = score('m') * 2\n"
                   "w.l = w\n"
                   "action 'a' { channels = { 'web' }, value = 1, weight = w }\n",
                   4, "a weight contains itself");
}

Test(hostile, a_payload_that_contains_itself_is_refused)
{
    expect_refused("local p = { a = 1 }\n"
                   "p.self = p\n"
                   "action 'a' { channels = { 'web' }, value = 1, payload = p }\n",
                   3, "'payload'");
}

Test(hostile, very_deep_conditions_are_refused)
{
    expect_refused("local c = raining()\n"
                   "for i = 1, 200000 do c = no(c) end\n"
                   "action 'a' { channels = { 'web' }, value = 1, when = c }\n",
                   3, "nested deeper than");
}

Test(hostile, very_deep_weights_are_refused)
{
    expect_refused("local w = attribute('x')\n"
                   "for i = 1, 200000 do w = w * 1 end\n"
                   "action 'a' { channels = { 'web' }, value = 1, weight = w }\n",
                   3, "nested deeper than");
}

/* 2^60 paths through 60 shared tables: each table is compiled once. */
Test(hostile, a_condition_shared_along_2_to_the_60_paths_compiles_once)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local c = raining()\n"
                      "for i = 1, 60 do c = any { c, no(c) } end\n"
                      "local w = attribute('x')\n"
                      "for i = 1, 60 do w = w * w end\n"
                      "action 'a' { channels = { 'web' }, value = 1, when = c, weight = w }\n",
                      NULL),
              "%s", rf_problems(&R));
    cr_expect_lt(R.rs->n_nodes, 200u, "one node per distinct condition");
    cr_expect_lt(R.rs->n_wexprs, 200u);
}

/* 2^30 leaves built from 30 tables: the packed size is bounded. */
Test(hostile, a_payload_shared_along_2_to_the_30_paths_is_bounded)
{
    expect_refused("local p = { 'leaf' }\n"
                   "for i = 1, 30 do p = { p, p } end\n"
                   "action 'a' { channels = { 'web' }, value = 1, payload = { p } }\n",
                   3, "larger than");
}

Test(hostile, the_payloads_of_a_whole_ruleset_are_bounded)
{
    expect_refused("local p = ('x'):rep(60000)\n"
                   "for i = 1, 3000 do\n"
                   "  action ('a' .. i) { channels = { 'web' }, value = 1, payload = { p } }\n"
                   "end\n",
                   3, "payloads of all actions together");
}

Test(hostile, a_spec_read_raw_still_loads_when_plain)
{
    /* The raw reads change nothing for a plain ruleset. */
    cr_assert(rf_load(&R, "a.lua",
                      "local c = bought('tv', within(days(3)))\n"
                      "touchpoint 'web_home' { limit = 2 }\n"
                      "action 'a' { channels = { 'web' }, touchpoints = { 'web_home' },\n"
                      "  requires = { 'location' }, value = 2, when = c, payload = { k = { 1, 2 } } }\n"
                      "action 'b' { channels = 'web', value = 1, when = c, weight = recency(c, days(1)) }\n",
                      NULL),
              "%s", rf_problems(&R));
    cr_expect_eq(R.rs->n_actions, 2);
    cr_expect_eq(R.rs->actions[0].n_touchpoints, 1);
    cr_expect_eq(R.rs->actions[0].n_requires, 1);
}

/* ---- test specs --------------------------------------------------------- */

static const char *const PLAIN_RULES = "action 'a' { channels = { 'web' }, value = 1 }\n";

/* Run a_test.lua against PLAIN_RULES: returns the number run; failures kept. */
static int run_test_file(const char *text, arb_problems_t *failures)
{
    cr_assert(rf_load(&R, "rules.lua", PLAIN_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "a_test.lua", text);
    return arb_ruleset_run_tests(R.rs, R.dir, failures, 0);
}

static void expect_failure(const arb_problems_t *f, int line, const char *needle)
{
    char want[300];
    snprintf(want, sizeof want, "%s/a_test.lua:%d: test", R.dir, line);
    for (size_t i = 0; i < f->n; i++)
        if (rf_starts(f->items[i], want) && strstr(f->items[i], needle)) return;
    cr_assert_fail("no failure at %s containing '%s' (%zu failures%s%s)", want, needle, f->n,
                   f->n ? ", first: " : "", f->n ? f->items[0] : "");
}

Test(hostile, a_test_spec_with_a_throwing_index_fails_that_test)
{
    arb_problems_t f = { 0 };
    int n = run_test_file("local s = { context = { channel = 'web' }, expect = { 'a' } }\n"
                          "test 'x' (s)\n"
                          "setmetatable(s, " THROWING ")\n"
                          "test 'plain' { context = { channel = 'web', touchpoint = 't' }, expect = { 'a' } }\n",
                          &f);
    cr_expect_eq(n, 2);
    expect_failure(&f, 2, "metatable");
    cr_expect_eq(f.n, 1, "the plain test passes: %s", f.n > 1 ? f.items[1] : "");
    arb_problems_free(&f);
}

Test(hostile, a_test_context_with_a_throwing_newindex_is_never_written)
{
    arb_problems_t f = { 0 };
    run_test_file("local c = setmetatable({ channel = 'web' }, { __newindex = function() error('boom') end,\n"
                  "                                         __index = function() error('boom') end })\n"
                  "test 'x' { context = c, expect = { 'a' } }\n",
                  &f);
    expect_failure(&f, 3, "context");
    arb_problems_free(&f);
}

Test(hostile, a_test_context_that_contains_itself_fails_that_test)
{
    arb_problems_t f = { 0 };
    run_test_file("local c = { channel = 'web' }\n"
                  "c.attributes = { me = c }\n"
                  "test 'x' { context = c, expect = { 'a' } }\n",
                  &f);
    expect_failure(&f, 3, "context");
    arb_problems_free(&f);
}

Test(hostile, expectations_that_are_not_strings_fail_without_crashing)
{
    arb_problems_t f = { 0 };
    int n = run_test_file("test 'x' { context = { channel = 'web', touchpoint = 't' },\n"
                          "  expect = { {}, print }, includes = { {} }, reasons = { [{}] = 1 } }\n"
                          "test 'y' { context = { channel = 'web', touchpoint = 't' },\n"
                          "  expect = setmetatable({ 'a' }, " THROWING ") }\n",
                          &f);
    cr_expect_eq(n, 2);
    expect_failure(&f, 1, "expected ?, ?");
    expect_failure(&f, 3, "'expect' must be a plain list");
    arb_problems_free(&f);
}

/* ---- bounded problems --------------------------------------------------- */

Test(hostile, a_loop_of_600000_mistakes_keeps_100_problems_and_a_summary)
{
    /* Three mistakes an action: an unknown channel, no value, an unknown field. */
    cr_assert_not(rf_load(&R, "a.lua",
                          "for i = 1, 200000 do action ('a' .. i) { channels = 'nowhere', x = 1 } end\n",
                          NULL));
    cr_expect_eq(R.problems.n, ARB_PROBLEMS_MAX + 1);
    cr_expect_eq(R.problems.total, 600000, "%s", R.problems.items[0]);
    cr_expect_str_eq(R.problems.items[ARB_PROBLEMS_MAX], "... and 599900 more problems");
    size_t bytes = 0;
    for (size_t i = 0; i < R.problems.n; i++) bytes += strlen(R.problems.items[i]);
    cr_expect_lt(bytes, 64 * 1024, "the whole report stays small");
}

Test(hostile, a_long_rule_string_is_cut_in_its_problem)
{
    cr_assert_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 1, [('y'):rep(50000)] = 1 }\n",
                          NULL));
    expect_clean_problems();
    cr_expect(rf_problem_with(&R, "unknown field 'yyy", "...", NULL), "%s", rf_problems(&R));
}

/* ---- strings out: UTF-8 ------------------------------------------------- */

Test(hostile, an_action_id_that_is_not_utf8_is_a_load_error)
{
    expect_refused("action 'caf\xe9' { channels = { 'web' }, value = 1 }\n", 1,
                   "the id is not valid UTF-8");
    expect_clean_problems();
    cr_expect(rf_problem_with(&R, "caf\\xE9", NULL), "the id is quoted escaped: %s", rf_problems(&R));
}

Test(hostile, a_payload_string_or_key_that_is_not_utf8_is_a_load_error)
{
    cr_assert_not(rf_load(&R, "a.lua",
                          "action 'a' { channels = { 'web' }, value = 1,\n"
                          "  payload = { text = 'bad \xff' } }\n"
                          "action 'b' { channels = { 'web' }, value = 1,\n"
                          "  payload = { deep = { { ['k\xc3'] = 1 } } } }\n",
                          NULL));
    cr_expect(rf_problem_with(&R, at_line(1), "'payload'", "not valid UTF-8", NULL), "%s",
              rf_problems(&R));
    cr_expect(rf_problem_with(&R, at_line(3), "'payload'", "not valid UTF-8", NULL), "%s",
              rf_problems(&R));
    expect_clean_problems();
}

Test(hostile, identifiers_in_lists_must_be_utf8)
{
    cr_assert_not(rf_load(&R, "a.lua",
                          "channels { 'kiosk\xff' }\n"
                          "models { 'm\xff' }\n"
                          "action 'a' { channels = { 'web' }, value = 1, requires = { 'x\xff' },\n"
                          "  category = 'c\xff' }\n",
                          NULL));
    cr_expect(rf_problem_with(&R, at_line(1), "item 1 is not valid UTF-8", NULL), "%s", rf_problems(&R));
    cr_expect(rf_problem_with(&R, at_line(2), "item 1 is not valid UTF-8", NULL), "%s", rf_problems(&R));
    cr_expect(rf_problem_with(&R, at_line(3), "'requires' item 1 is not valid UTF-8", NULL), "%s",
              rf_problems(&R));
    cr_expect(rf_problem_with(&R, at_line(3), "'category' is not valid UTF-8", NULL), "%s",
              rf_problems(&R));
    expect_clean_problems();
}

Test(hostile, a_rule_file_name_that_is_not_utf8_is_escaped)
{
    cr_assert_not(rf_load(&R, "b\xff.lua", "action 'a' {\n", NULL));
    expect_clean_problems();
    cr_expect(rf_problem_with(&R, "b\\xFF.lua:", NULL), "%s", rf_problems(&R));
}

Test(hostile, a_rule_error_message_that_is_not_utf8_is_escaped)
{
    cr_assert_not(rf_load(&R, "a.lua", "error('bad \xff\\n\xc3 news')\n", NULL));
    expect_clean_problems();
    cr_expect(rf_problem_with(&R, "bad \\xFF\\x0A\\xC3 news", NULL), "%s", rf_problems(&R));
}

Test(hostile, the_ruleset_description_escapes_a_file_name_that_is_not_utf8)
{
    cr_assert(rf_load(&R, "b\xff.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_answer_pack_ruleset(&pk, R.rs);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *file = rf_get(&rf_get(&up.data, "actions")->via.array.ptr[0], "file");
    cr_assert(file && file->type == MSGPACK_OBJECT_STR);
    cr_expect(arb_utf8_valid(file->via.str.ptr, file->via.str.size), "%.*s",
              (int)file->via.str.size, file->via.str.ptr);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(hostile, a_decide_time_rule_error_that_is_not_utf8_reaches_the_client_as_utf8)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1,\n"
                      "  when = function(c) error('bad \xff\xfe') end }\n"
                      "action 'b' { channels = { 'web' }, value = 1,\n"
                      "  when = function(c) error(12345) end }\n",
                      NULL),
              "%s", rf_problems(&R));
    arb_decider_force_explain(R.d, true);
    rf_decide(&R, "{}");
    /* The reason as the client reads it: the answer's bytes (the decision
     * value keeps the rule's own bytes; answer.c makes them UTF-8). */
    const msgpack_object *why = rf_get(rf_explained(&R, "a"), "reason");
    cr_assert(why && why->type == MSGPACK_OBJECT_STR, "%s", rf_dump(&R));
    char reason[256];
    snprintf(reason, sizeof reason, "%.*s", (int)why->via.str.size, why->via.str.ptr);
    cr_expect(arb_utf8_valid(reason, strlen(reason)), "%s", reason);
    cr_expect(strstr(reason, "bad \\xFF\\xFE"), "%s", reason);
    cr_expect(strstr(rf_reason(&R, "b"), "12345"), "a number error still reads: %s", rf_reason(&R, "b"));
}

/* ---- metatables at declaration time ------------------------------------- */

Test(hostile, list_declarations_and_tests_refuse_a_metatable_when_declared)
{
    expect_refused("action 'a' { channels = { 'web' }, value = 1 }\n"
                   "settings(setmetatable({ default_limit = 2 }, {}))\n",
                   2, "settings: expected a { ... } table");
    arb_problems_t f = { 0 };
    cr_assert(rf_load(&R, "a.lua", PLAIN_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "a_test.lua", "test 'x' (setmetatable({ context = {} }, {}))\n");
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &f, 0), -1);
    cr_expect(f.n && strstr(f.items[0], "a_test.lua:1: test \"x\": expected a { ... } table"),
              "%s", f.n ? f.items[0] : "no failure");
    arb_problems_free(&f);
}

/* ---- the log --------------------------------------------------------------- */

Test(hostile, a_rule_print_that_is_not_utf8_logs_one_clean_line)
{
    char path[] = "/tmp/arbiter-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    bool loaded = rf_load(&R, "a.lua",
                          "print('bad \xff\\nline two')\n"
                          "action 'a' { channels = { 'web' }, value = 1 }\n",
                          NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    cr_assert(loaded, "%s", rf_problems(&R));
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_expect(arb_utf8_valid(buf, (size_t)n), "%s", buf);
    cr_expect(strstr(buf, "bad \\\\xFF\\\\x0Aline two") || strstr(buf, "bad \\xFF\\x0Aline two"), "%s", buf);
    cr_expect_eq(strchr(buf, '\n'), buf + n - 1, "one line: %s", buf);
}

/* ---- the protected call ------------------------------------------------- */

static int raise_bad_bytes(lua_State *L, void *ud)
{
    (*(int *)ud)++;
    lua_pushliteral(L, "left on the stack");
    return luaL_error(L, "bad \xff bytes");
}

static int allocate_forever(lua_State *L, void *ud)
{
    lua_newtable(L);
    for (lua_Integer i = 1;; i++) {
        lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
    }
    return 0;
}

Test(hostile, a_raise_inside_the_protected_call_comes_back_as_a_clean_message)
{
    arb_sandbox_t sb;
    lua_State *L = arb_sandbox_new(&sb);
    cr_assert_not_null(L);
    lua_pushliteral(L, "below");
    int calls = 0;
    char err[200];
    cr_expect_eq(arb_raw_protected(L, raise_bad_bytes, &calls, 1000, 1 << 20, err, sizeof err), -1);
    cr_expect_eq(calls, 1);
    cr_expect(arb_utf8_valid(err, strlen(err)) && strstr(err, "bad \\xFF bytes"), "%s", err);
    cr_expect_eq(lua_gettop(L), 1, "the stack is as it was");
    cr_expect_eq(arb_raw_protected(L, allocate_forever, NULL, 1000, 1 << 20, err, sizeof err), -1);
    cr_expect(strstr(err, "memory budget exceeded"), "%s", err);
    cr_expect_eq(lua_gettop(L), 1);
    lua_close(L);
}
