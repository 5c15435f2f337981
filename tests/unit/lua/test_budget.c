/* Unit tests for the budgets Lua's count hook cannot see
 * (bindings/lua/sandbox.c, sandbox_lib.c): C library functions that loop
 * without running Lua instructions (string.rep, table.move/insert/remove/
 * concat/sort, patterns), a message handler that runs with hooks off, wall
 * time spent inside single instructions, the load's budgets taken for the
 * whole ruleset, and error objects that are not strings. Each case is run
 * at load time (a rule file's top level) and at decide time (a function(c)
 * condition), and must end with a budget stop or an error naming the rule's
 * line, never a hang or a crash.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(budget, .init = rf_setup, .fini = rf_teardown);

/* ---- helpers ------------------------------------------------------------ */

/* Line 2 of a.lua runs `code` at load: the load fails with a problem at
 * a.lua:2 mentioning needle. */
static void expect_load_problem(const char *code, const char *needle)
{
    char text[4096];
    snprintf(text, sizeof text, "action 'ok' { channels = { 'web' }, value = 1 }\n%s\n", code);
    cr_assert_not(rf_load(&R, "a.lua", text, NULL), "loaded although it runs: %s", code);
    cr_expect(rf_problem_with(&R, "a.lua:2:", needle, NULL) != NULL,
              "for `%s` expected a problem at a.lua:2 mentioning '%s', got:\n%s", code, needle,
              rf_problems(&R));
    cr_expect(rf_problem_with(&R, "(null)", NULL) == NULL, "%s", rf_problems(&R));
}

/* A function(c) condition of 'a_bad' runs `code` (line 2): the action is
 * skipped with a reason starting `prefix` and mentioning needle, and the
 * decision still answers with 'b_fine'. */
static void expect_decide_reason(const char *code, const char *prefix, const char *needle)
{
    char text[4096];
    snprintf(text, sizeof text,
             "action 'a_bad' { channels = { 'web' }, value = 100, when = function(c)\n"
             "  %s\n"
             "  return true end }\n"
             "action 'b_fine' { channels = { 'web' }, value = 1 }\n",
             code);
    cr_assert(rf_load(&R, "a.lua", text, NULL), "did not load:\n%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "b_fine", "for `%s`: %s", code, rf_dump(&R));
    const char *why = rf_reason(&R, "a_bad");
    cr_expect(rf_starts(why, prefix) && strstr(why, needle) != NULL,
              "for `%s` expected a reason '%s...%s', got: %s", code, prefix, needle, why);
}

/* A lying length: 2^50, and an __index that is a C function (no Lua
 * instruction runs per element). */
#define LIAR "setmetatable({}, { __len = function() return 1 << 50 end, __index = rawlen })"

/* ---- C loops ------------------------------------------------------------ */

Test(budget, string_rep_does_no_work_per_repetition, .timeout = 30)
{
    /* The library's rep turns 2^50 times copying nothing. */
    cr_assert(rf_load(&R, "a.lua",
                      "assert(string.rep('', 1 << 50) == '' and ('x'):rep(0):rep(1 << 50, '') == '')\n"
                      "assert(string.rep('', 3, ',') == ',,' and string.rep('ab', 5, '-') == 'ab-ab-ab-ab-ab')\n"
                      "assert(string.rep('abc', 1) == 'abc' and string.rep('abc', -1) == '')\n"
                      "local s = string.rep('abc', 1e6, ',')\n"
                      "assert(#s == 4e6 - 1 and s:sub(1, 8) == 'abc,abc,' and s:sub(-4) == ',abc')\n"
                      "assert(not s:find('cc') and select(2, s:gsub(',', '')) == 1e6 - 1)\n"
                      "action 'ok' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    expect_load_problem("local s = string.rep('x', 1 << 50)", "memory budget exceeded");
    expect_load_problem("local s = string.rep('x', 20 << 20)", "memory budget exceeded");
    expect_decide_reason("local s = string.rep('', 1 << 50, ',')", "budget: memory", "a.lua:2");
}

Test(budget, table_move_over_a_huge_range_is_charged, .timeout = 30)
{
    expect_load_problem("table.move({}, 1, 1 << 50, 2)", "instructions budget exceeded");
    expect_decide_reason("table.move({}, 1, 1 << 50, 2)", "budget: instructions", "a.lua:2");
}

Test(budget, insert_and_remove_with_a_lying_len_are_charged, .timeout = 30)
{
    expect_load_problem("table.insert(" LIAR ", 1, 'x')", "instructions budget exceeded");
    expect_load_problem("table.remove(" LIAR ", 1)", "instructions budget exceeded");
    expect_decide_reason("table.insert(" LIAR ", 1, 'x')", "budget: instructions", "a.lua:2");
    expect_decide_reason("table.remove(" LIAR ", 1)", "budget: instructions", "a.lua:2");
}

Test(budget, concat_and_sort_with_a_lying_len_are_charged, .timeout = 30)
{
    /* Without the charge, concat appends "0" 2^50 times until the memory
     * budget, and sort compares zeros for hours. */
    expect_load_problem("local s = table.concat(" LIAR ")", "instructions budget exceeded");
    expect_load_problem("table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end,"
                        " __index = rawlen }))",
                        "instructions budget exceeded");
    expect_decide_reason("local s = table.concat(" LIAR ")", "budget: instructions", "a.lua:2");
}

Test(budget, table_functions_still_work)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local t = { 3, 1, 2 }\n"
                      "table.insert(t, 4) table.insert(t, 1, 0) table.sort(t)\n"
                      "assert(table.concat(t, ',') == '0,1,2,3,4')\n"
                      "assert(table.remove(t, 1) == 0 and table.remove(t) == 4)\n"
                      "assert(table.concat(t, ',') == '1,2,3' and select('#', table.unpack(t)) == 3)\n"
                      "local proxy = setmetatable({}, { __index = t, __len = function() return #t end })\n"
                      "table.sort(t, function(a, b) return a > b end)\n"
                      "assert(table.concat(t, ',') == '3,2,1')\n"
                      "local m = setmetatable({ 5, 4 }, {}) table.sort(m) assert(m[1] == 4 and m[2] == 5)\n"
                      "assert(table.concat(table.move({ 1, 2 }, 1, 2, 2, {}), ',', 2, 3) == '1,2')\n"
                      "assert(#proxy == 3 and string.rep('ab', 3, '-') == 'ab-ab-ab')\n"
                      "assert(select(2, xpcall(error, function(e) return 'h:' .. e end, 'x')) == 'h:x')\n"
                      "assert(select('#', xpcall(function(a, b) return a, b end, print, 1, 2)) == 3)\n"
                      "action 'ok' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
}

/* ---- a message handler runs with hooks off ------------------------------ */

Test(budget, an_endless_xpcall_handler_is_stopped, .timeout = 30)
{
    /* Lua calls the handler of an error raised by the hook with hooks
     * disabled: without the sandbox's own xpcall this never returns. */
    const char *code = "xpcall(function() while true do end end, function() while true do end end)";
    expect_load_problem(code, "instructions budget exceeded");
    expect_decide_reason(code, "budget: instructions", "a.lua:2");
}

Test(budget, a_budget_stop_caught_by_a_tail_called_pcall_still_stops, .timeout = 30)
{
    /* `return pcall(f)`: no instruction of the rule runs after the pcall
     * has caught the stop, so nothing would stop it again. */
    expect_decide_reason("do return pcall(function() while true do end end) end",
                         "budget: instructions", "a.lua:2");
    expect_decide_reason("do return xpcall(function() while true do end end, tostring) end",
                         "budget: instructions", "a.lua:2");
    expect_load_problem("return pcall(function() while true do end end)",
                        "stopped: instructions budget exceeded while loading");
}

/* ---- patterns ----------------------------------------------------------- */

Test(budget, costly_patterns_of_every_shape_are_refused, .timeout = 30)
{
    static const char *const cases[] = {
        /* '?' was not counted */
        "local s = ('a'):rep(40) local r = s:match(('a?'):rep(40) .. ('a'):rep(40) .. 'b')",
        /* a number subject was not checked */
        "local r = string.find(12345678901234567890, ('.-'):rep(12) .. 'x')",
        "local r = string.gsub(12345678901234567890, ('.-'):rep(12) .. 'x', '')",
        /* many lazy repetitions on a 10 KB subject */
        "local r = string.find(('a'):rep(10000), '.-.-.-.-x')",
        "local r = string.gsub(('a'):rep(10000), '(.-)(.-)(.-)x', function(a) return a end)",
        "for a in string.gmatch(('a'):rep(10000), '(.-)*(.-)*x') do end",
        /* a back reference compares the subject at every try */
        "local r = string.find(('a'):rep(10000), '(a*)%1%1b')",
        "local r = string.find(('a'):rep(10000), '[a]*[^b]*[%a]*x')",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_load_problem(cases[i], "pattern too costly");
        expect_decide_reason(cases[i], "error:", "pattern too costly");
    }
}

Test(budget, ordinary_patterns_still_work)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local k, v = ('key=value'):match('^(%w+)=(%w+)$')\n"
                      "assert(k == 'key' and v == 'value')\n"
                      "assert(('  x  '):match('^%s*(.-)%s*$') == 'x')\n"
                      "assert(select(2, ('a,b,c'):gsub(',', ';')) == 2)\n"
                      "assert(string.find(12345, '34', 1, true) == 3 and string.match(2024, '%d%d$') == '24')\n"
                      "local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + 1 end assert(n == 3)\n"
                      "assert(('THE (quick) fox'):find('%((%a+)%)') == 5)\n"
                      "action 'ok' { channels = { 'web' }, value = 1, when = function(c)\n"
                      "  return (('gold-tier'):match('^(%a+)%-')) == 'gold' end }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "ok", "%s", rf_dump(&R));
}

/* ---- wall time ---------------------------------------------------------- */

Test(budget, wall_time_inside_single_instructions_is_bounded_at_decide_time, .timeout = 60)
{
    /* Comparing two equal 15 MB strings is one instruction and a
     * millisecond of memcmp: the instruction budget would allow minutes. */
    cr_assert(rf_load(&R, "a.lua",
                      "local a, b = ('x'):rep(15 << 20), ('x'):rep(15 << 20)\n"
                      "action 'a_bad' { channels = { 'web' }, value = 100, when = function(c)\n"
                      "  for i = 1, 1e5 do if a ~= b then return false end end\n"
                      "  return true end }\n"
                      "action 'b_fine' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "b_fine", "%s", rf_dump(&R));
    const char *why = rf_reason(&R, "a_bad");
    cr_expect(rf_starts(why, "budget: wall time exceeded at") && strstr(why, "a.lua:3"),
              "reason: %s", why);
}

Test(budget, very_slow_instructions_are_stopped_near_the_deadline, .timeout = 8)
{
    /* Each comparison of two 15 MB strings takes a millisecond or more: a
     * hook every 1000 instructions would first look at the clock half a
     * second into the call (its wall budget is 100 ms), and twenty such
     * actions would hold the decision for ten seconds (past this test's
     * timeout); stopped in time, they take two. */
    char text[16384];
    int n = snprintf(text, sizeof text, "local a, b = ('x'):rep(15 << 20), ('x'):rep(15 << 20)\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "action 'slow_%d' { channels = { 'web' }, value = 10, when = function(c)\n"
                      "  for i = 1, 1e6 do if a ~= b then return false end end return true end }\n",
                      i);
    snprintf(text + n, sizeof text - (size_t)n, "action 'b_fine' { channels = { 'web' }, value = 1 }\n");
    cr_assert(rf_load(&R, "a.lua", text, NULL), "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "b_fine", "%s", rf_dump(&R));
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "slow_%d", i);
        cr_expect(rf_starts(rf_reason(&R, id), "budget: wall time exceeded at"), "%s: %s", id,
                  rf_reason(&R, id));
    }
}

Test(budget, wall_time_inside_single_instructions_is_bounded_at_load_time, .timeout = 60)
{
    expect_load_problem("local a, b = ('x'):rep(15 << 20), ('x'):rep(15 << 20) "
                        "for i = 1, 1e7 do if a ~= b then break end end",
                        "stopped: wall time budget exceeded while loading");
}

/* ---- one load budget for the whole ruleset ------------------------------ */

#define KEEPER(id, mb)                                                                   \
    "local keep = {} for i = 1, " #mb " do keep[i] = ('x'):rep(1024):rep(1024) .. i end\n"       \
    "action '" id "' { channels = { 'web' }, value = 1, when = function(c) return #keep > 0 end }\n"

Test(budget, memory_kept_by_each_file_counts_against_the_whole_load, .timeout = 60)
{
    /* 4 x 70 MB (in 1 MB strings): each file is within 256 MB, the
     * ruleset is not. */
    cr_expect_not(rf_load(&R, "a.lua", KEEPER("a", 70), "b.lua", KEEPER("b", 70), "c.lua",
                          KEEPER("c", 70), "d.lua", KEEPER("d", 70), NULL));
    cr_expect(rf_problem_with(&R, "d.lua:1: stopped: memory budget exceeded while loading", NULL),
              "%s", rf_problems(&R));
    /* and three of them fit */
    rf_unlink(&R, "d.lua");
    cr_expect(rf_reload(&R), "%s", rf_problems(&R));
}

Test(budget, instructions_of_all_files_count_against_the_whole_load, .timeout = 60)
{
    /* 4 x 16 million instructions (two a turn): each file is within 50
     * million, the ruleset is not. */
    const char *spin = "local n = 0\nfor i = 1, 8e6 do n = n + 1 end\n";
    cr_expect_not(rf_load(&R, "a.lua", spin, "b.lua", spin, "c.lua", spin, "d.lua", spin, NULL));
    cr_expect(rf_problem_with(&R, "d.lua:2: stopped: instructions budget exceeded while loading",
                              NULL),
              "%s", rf_problems(&R));
}

Test(budget, test_files_share_one_budget_too, .timeout = 60)
{
    /* The rule tests are loaded like the rules: 4 x 16 million instructions
     * pass each file's share but not the whole. */
    const char *spin = "local n = 0\nfor i = 1, 8e6 do n = n + 1 end\n";
    cr_assert(rf_load(&R, "a.lua", "action 'x' { channels = { 'web' }, value = 1 }\n", "a_test.lua",
                      spin, "b_test.lua", spin, "c_test.lua", spin, "d_test.lua", spin, NULL),
              "%s", rf_problems(&R));
    arb_problems_t f = { 0 };
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &f, 0), -1);
    bool found = false;
    for (size_t i = 0; i < f.n; i++)
        found |= strstr(f.items[i], "d_test.lua:2: stopped: instructions budget exceeded") != NULL;
    cr_expect(found, "the fourth test file was not stopped by the whole budget");
    arb_problems_free(&f);
}

/* ---- errors that are not strings ---------------------------------------- */

Test(budget, load_errors_of_any_object_name_the_line, .timeout = 30)
{
    expect_load_problem("error({})", "error object is a table");
    expect_load_problem("error(setmetatable({}, { __tostring = function() error('x') end }))",
                        "error object is a table");
    expect_load_problem("error(nil)", "error object is nil");
    expect_load_problem("error()", "error object is nil");
    expect_load_problem("error(12)", "error object is a number (12)");
    expect_load_problem("error(true)", "error object is a boolean");
    expect_load_problem("error(print)", "error object is a function");
    expect_load_problem("error('plain', 0)", "plain");
}

Test(budget, runaway_recursion_at_load_is_a_call_depth_stop, .timeout = 30)
{
    expect_load_problem("local function f() return 1 + f() end f()", "call depth budget exceeded");
    /* through a metamethod and through gsub: Lua's "C stack overflow" */
    expect_load_problem("local t = setmetatable({}, { __index = function(t, k) return t[k] end })"
                        " local x = t.x",
                        "call depth budget exceeded");
    expect_load_problem("local function f(s) return (s:gsub('.', f)) end f('x')",
                        "call depth budget exceeded");
    expect_load_problem("local t = {} while true do t[#t + 1] = { t } end", "memory budget exceeded");
}

Test(budget, decide_errors_of_any_object_name_the_line, .timeout = 30)
{
    expect_decide_reason("error({})", "error:", "a.lua:2: error object is a table");
    expect_decide_reason("error(nil)", "error:", "a.lua:2: error object is nil");
    expect_decide_reason("error(12)", "error:", "a.lua:2: error object is a number (12)");
    expect_decide_reason("local t = setmetatable({}, { __index = function(t, k) return t[k] end })"
                         " local x = t.x",
                         "budget: call depth", "a.lua:2");
}
