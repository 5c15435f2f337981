"""Budgets Lua's count hook cannot see, end to end: rules whose work happens
inside C library functions (string.rep 2^50 times, table.move over
2^50 indices, table.insert/remove/concat/sort with a lying __len), an xpcall
handler that loops (Lua runs it with hooks off), costly patterns of shapes
and subjects the old guard let through, wall time spent inside single
instructions, error objects that are not strings, and recursion through
metamethods, each against a real server.

Every decision must answer at once with each faulty action skipped for a
budget or error reason naming the rule's line, the counters must agree, and
afterwards a clean client is answered correctly with RSS and descriptors
bounded (FaultsBase of test_faults.py). The load side: a ruleset whose files
together pass the load budgets is refused, by `arbiter check` and by a
reload of the running server, which keeps answering with the old ruleset.
"""

import os
import shutil
import unittest

import harness
from harness import T, RssSampler, run_cli
from test_faults import FaultsBase, CleanLoad, ctx, ids_of, reasons_of

BUDGET_RULES = r'''
touchpoint "faults" { limit = 20 }
touchpoint "clean" { limit = 20 }

local liar = setmetatable({}, { __len = function() return 1 << 50 end, __index = rawlen })
local loop = function() while true do end end
local big_a, big_b = ("x"):rep(2 << 20), ("x"):rep(2 << 20)
local deep = setmetatable({}, { __index = function(t, k) return t[k] end })

action "healthy" { channels = { "web" }, value = 100 }

action "healthy_lua" { channels = { "web" }, value = 50,
  when = function(c) return c.channel == "web" and ("gold-1"):match("^(%a+)%-") == "gold" end }

action "c_rep" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return #string.rep("", 1 << 50, ",") > 0 end }

action "c_move" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) table.move({}, 1, 1 << 50, 2) return true end }

action "c_insert" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) table.insert(liar, 1, "x") return true end }

action "c_remove" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) table.remove(liar, 1) return true end }

action "c_concat" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return #table.concat(liar) > 0 end }

action "c_sort" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c)
    table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end, __index = rawlen }))
    return true end }

action "c_xpcall" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return xpcall(loop, loop) end }

action "c_pattern_number" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return string.find(12345678901234567890, ("."):rep(1) .. ("-."):rep(12) .. "x") ~= nil end }

action "c_pattern_optional" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return (("a"):rep(40)):match(("a?"):rep(40) .. ("a"):rep(40) .. "b") ~= nil end }

action "c_wall" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) for i = 1, 1e6 do if big_a ~= big_b then return false end end return true end }

action "c_error_table" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) error({ code = 1 }) end }

action "c_metamethod_recursion" { channels = { "web" }, touchpoints = { "faults" }, value = 10,
  when = function(c) return deep.x end }
'''

CLEAN_IDS = ["healthy", "healthy_lua"]

# action -> (reason prefix, text the reason must contain)
FAULTS = {
    "c_rep": ("budget: memory", "rules.lua:"),
    "c_move": ("budget: instructions", "rules.lua:"),
    "c_insert": ("budget: instructions", "rules.lua:"),
    "c_remove": ("budget: instructions", "rules.lua:"),
    "c_concat": ("budget: instructions", "rules.lua:"),
    "c_sort": ("budget: instructions", "rules.lua:"),
    "c_xpcall": ("budget: instructions", "rules.lua:"),
    "c_pattern_number": ("error:", "pattern too costly"),
    "c_pattern_optional": ("error:", "pattern too costly"),
    "c_wall": ("budget: wall time", "rules.lua:"),
    "c_error_table": ("error:", "error object is a table"),
    "c_metamethod_recursion": ("budget: call depth", "rules.lua:"),
}

# Four files each keeping 70 MB: each is within the load's 256 MB, all
# four are not.
KEEPER = ("local keep = {} for i = 1, 70 do keep[i] = ('x'):rep(1024):rep(1024) .. i end\n"
          "action '%s' { channels = { 'web' }, value = 1, when = function(c) return #keep > 0 end }\n")


def write_folder(testcase, files):
    return harness.rules_folder(testcase, files, "arb-budget-rules-")


class BudgetFaultTest(FaultsBase):

    def setUp(self):
        # Shedding has its own tests; here it would only hide the faults.
        self.serve(BUDGET_RULES, extra_args=["--overload-ms", "1000"])

    def test_c_library_faults_are_contained(self):
        before = self.stats()
        c = self.connect(self.srv)
        n = 5
        budget_seen = error_seen = 0
        with CleanLoad(self.srv, "clean", CLEAN_IDS) as load, RssSampler(self.srv.pid) as rs:
            for i in range(n):
                r = c.call("decide", ctx("faults", customer_id="f-%d" % i, explain=True,
                                         deadline_ms=1000), timeout=T(20))
                self.assertIsNone(r.error, "decision %d answered an error %r" % (i, r.error))
                d = r.result
                harness.assert_decision(self, d, explain=True, where="fault decision %d" % i)
                self.assertEqual(ids_of(d), CLEAN_IDS, "decision %d chose %r" % (i, ids_of(d)))
                reasons = reasons_of(d)
                for action, (prefix, needle) in FAULTS.items():
                    why = reasons.get(action) or ""
                    self.assertTrue(why.startswith(prefix) and needle in why,
                                    "decision %d: %s's reason is %r, expected %r ... %r"
                                    % (i, action, why, prefix, needle))
                    if why.startswith("budget:"):
                        budget_seen += 1
                    else:
                        error_seen += 1
        self.assertEqual(load.problems, [], "clean decisions on other connections were affected")
        after = self.stats()
        self.assertEqual(after["rule_errors"] - before["rule_errors"], budget_seen + error_seen)
        self.assertEqual(after["budget_stops"] - before["budget_stops"], budget_seen)
        self.assertEqual(after["errors"]["internal"], 0)
        self.assert_clean("%d decisions with %d C-library faults each" % (n, len(FAULTS)),
                          sampler=rs)
        self.clean_decide(c, "the faults' own connection")

    def test_a_reload_past_the_whole_load_budget_is_refused(self):
        bad = write_folder(self, {"%s.lua" % x: KEEPER % x for x in "abcd"})
        cp = run_cli(["check", bad], timeout=T(60))
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        self.assertIn("d.lua:1: stopped: memory budget exceeded while loading", out)
        # The running server is asked to load the same files: refused, and it
        # keeps deciding with its ruleset.
        for name in "abcd":
            shutil.copy(os.path.join(bad, "%s.lua" % name), os.path.join(self.srv.rules, "%s.lua" % name))
        r = self.srv.reload(T(60))
        self.assertIsNotNone(r.error, "a reload past the load budget was accepted: %r" % (r.result,))
        self.assertIn("memory budget exceeded while loading", str(r.error))
        self.assert_clean("a refused reload", rss_allow_mb=300)

    def test_load_time_c_library_faults_name_their_line(self):
        cases = {
            "string.rep('', 1 << 50, ',')": "memory budget exceeded",
            "table.insert(setmetatable({}, { __len = function() return 1 << 50 end }), 1, 0)":
                "instructions budget exceeded",
            "table.move({}, 1, 1 << 50, 2)": "instructions budget exceeded",
            "xpcall(function() while true do end end, function() while true do end end)":
                "instructions budget exceeded",
            "string.find(('a'):rep(10000), '.-.-.-.-x')": "pattern too costly",
            "error(setmetatable({}, { __tostring = function() error('x') end }))":
                "error object is a table",
        }
        for code, needle in cases.items():
            folder = write_folder(self, {"a.lua": "action 'a' { channels = { 'web' }, value = 1 }\n"
                                                  + code + "\n"})
            cp = run_cli(["check", folder], timeout=T(60))
            out = cp.stdout + cp.stderr
            self.assertEqual(cp.returncode, 1, "%s: %s" % (code, out))
            self.assertIn("a.lua:2:", out, code)
            self.assertIn(needle, out, code)


if __name__ == "__main__":
    unittest.main()
