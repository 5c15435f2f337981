"""Issue 10 tried again with other inputs (red team), end to end.

Faults found against the merged fixes of issue 10, each with the input that
showed it and the class it belongs to:

* Compile work in C that no load budget sees. The Lua part of a load is
  bounded (instructions, memory, wall time), but the compiler then walks
  what the rules declared in C. Checks that scanned every declaration so
  far made 200,000 touchpoints (or stores, or models: a loop of three
  lines) take minutes; and one list shared by many actions (`requires`,
  `channels`, `touchpoints`, `one_of`) is copied into C once per action, so
  a 50,000-item list in 1,000 actions took 4 GB and 47 s. Both must now be
  refused or loaded within the load's budgets, by `arbiter check` and by a
  running server, which keeps serving.

* The same class in the rule tests, which a server's reload runs: every
  test's context is packed into C and its id lists copied, once per test,
  outside every budget. 400 tests sharing one 150,000-purchase context
  took more than 2 GB and 2 minutes; 2,000 tests sharing one 100,000-id
  `expect` list, likewise. Both are now charged to the test read's budget.

* No wall budget for the run of the tests as a whole: each Lua call has
  its own, but 3,000 tests of a rule that stops on its 100 ms wall budget
  held `arbiter test`, and a server's reload job, for 5 minutes.

After each fault a clean client is answered, and RSS and open fds stayed
bounded.
"""

import os

from harness import E2ETestCase, T, rules_folder, run_cli

GOOD = 'action "offer" { channels = { "web" }, value = 10 }\n'

# Many declarations of one kind: linear work to compile.
MANY = {
    "touchpoints": 'for i = 1, 200000 do touchpoint ("t" .. i) { limit = 1 } end\n' + GOOD,
    "stores": 'for i = 1, 200000 do store ("s" .. i) { lat = 1, lon = 1 } end\n' + GOOD,
    "models": 'local m = {} for i = 1, 200000 do m[i] = "m" .. i end models(m)\n'
              'for i = 1, 20000 do action ("a" .. i) { channels = { "web" }, model = "m" .. i, value = 1 } end\n',
    "listed touchpoints": 'local l = {} for i = 1, 20000 do touchpoint ("t" .. i) { limit = 1 } l[i] = "t" .. i end\n'
                          'for i = 1, 20 do action ("a" .. i) { channels = { "web" }, touchpoints = l, value = 1 } end\n',
}

# One Lua list, shared by 1,000 actions: 50 million items for the compiler.
SHARED_LISTS = {
    "requires": 'local l = {} for i = 1, 50000 do l[i] = "email" end\n'
                'for i = 1, 1000 do action ("a" .. i) { channels = { "web" }, requires = l, value = 1 } end\n',
    "channels": 'local l = {} for i = 1, 50000 do l[i] = "web" end\n'
                'for i = 1, 1000 do action ("a" .. i) { channels = l, value = 1 } end\n',
    "long items": 'local s = ("x"):rep(1 << 20) local l = {} for i = 1, 1000 do l[i] = s end\n'
                  'for i = 1, 1000 do action ("a" .. i) { channels = { "web" }, requires = l, value = 1 } end\n',
}

# Tables shared by many tests: each is copied into C once per test.
SHARED_TESTS = {
    "context": 'local p = {} for i = 1, 150000 do p[i] = { sku = "abcdefgh", category = "yyyyyyyy", ts = 1, price = 1 } end\n'
               'for i = 1, 400 do test ("t" .. i) { context = { channel = "web", touchpoint = "x", purchases = p }, '
               'expect = { "offer" } } end\n',
    "expect": 'local e = {} for i = 1, 100000 do e[i] = ("a"):rep(100) end\n'
              'for i = 1, 2000 do test ("t" .. i) { context = { channel = "web", touchpoint = "x" }, expect = e } end\n',
}

# Every test runs a rule that stops on its wall budget (100 ms).
SLOW_RULE = ('local a, b = ("x"):rep(4 << 20), ("x"):rep(4 << 20)\n'
             'action "slow" { channels = { "web" }, value = 1, when = function(c)\n'
             '  for i = 1, 1e6 do if a ~= b then return false end end return true end }\n')
SLOW_TESTS = ('for i = 1, 3000 do test ("t" .. i) { context = { channel = "web", touchpoint = "x", '
              'deadline_ms = 1000 }, includes = { "offer" } } end\n')

CONTEXT = {"customer_id": "C1", "channel": "web", "touchpoint": "web_home"}


class RedTeamLoadTest(E2ETestCase):

    def folder(self, text):
        return rules_folder(self, text, "arb-redteam-")

    def clean_decide(self, srv, what):
        c = self.connect(srv)
        r = c.call("decide", CONTEXT, timeout=T(10))
        self.assertIsNone(r.error, "%s: a clean decide answered %r" % (what, r.error))
        self.assertEqual([a["id"] for a in r.result["actions"]], ["offer"], what)

    def reload(self, srv):
        return srv.reload(T(60))

    def test_many_declarations_compile_in_linear_time(self):
        # Before: 200,000 touchpoints took about 160 s (strcmp against every
        # touchpoint so far), stores and models likewise.
        for kind, text in MANY.items():
            cp = run_cli(["check", self.folder(text)], timeout=T(40))
            self.assertEqual(cp.returncode, 0, "%s: %s" % (kind, cp.stdout + cp.stderr))
        # Duplicates and unknown names are still found.
        dups = self.folder(
            'touchpoint "x" { limit = 1 } touchpoint "x" { limit = 1 }\n'
            'store "s" { lat = 1, lon = 1 } store "s" { lat = 1, lon = 1 }\n'
            'models { "m", "m" }\n'
            'action "a" { channels = { "web" }, touchpoints = { "x", "y" }, model = "n", value = 1 }\n')
        cp = run_cli(["check", dups], timeout=T(30))
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        for needle in ("rules.lua:1: touchpoint 'x': duplicate touchpoint (first declared at",
                       "rules.lua:2: store 's': duplicate store id",
                       "unknown touchpoint 'y'", "unknown model 'n'"):
            self.assertIn(needle, out)
        self.assertNotIn("unknown touchpoint 'x'", out)

    def test_lists_shared_by_actions_are_charged(self):
        for kind, text in SHARED_LISTS.items():
            cp = run_cli(["check", self.folder(text)], timeout=T(40))
            out = cp.stdout + cp.stderr
            self.assertEqual(cp.returncode, 1, "%s: %s" % (kind, out))
            self.assertIn("compiling the declarations stopped: instructions budget exceeded", out, kind)

        # A running server asked to load it: refused, with memory bounded
        # (before: 4 GB), and it keeps serving its ruleset.
        rules = self.folder(GOOD)
        srv = self.start_server(rules=rules)
        self.clean_decide(srv, "before")
        rss0, fds0 = srv.rss_kb(), srv.fd_count()
        with open(os.path.join(rules, "rules.lua"), "w") as f:
            f.write(GOOD + SHARED_LISTS["requires"].replace('"a" ..', '"b" ..'))
        r = self.reload(srv)
        self.assertIsNotNone(r.error, "the reload was accepted: %r" % (r.result,))
        self.assertIn("instructions budget exceeded", str(r.error))
        self.clean_decide(srv, "after the refused reload")
        self.assertLess(srv.rss_kb() - rss0, 512 * 1024, "RSS grew past 512 MB")
        self.assertLessEqual(srv.fd_count(), fds0 + 2)

    def test_tables_shared_by_tests_are_charged(self):
        for kind, text in SHARED_TESTS.items():
            d = self.folder(GOOD)
            with open(os.path.join(d, "rules_test.lua"), "w") as f:
                f.write(text)
            cp = run_cli(["test", d], timeout=T(40))
            out = cp.stdout + cp.stderr
            self.assertEqual(cp.returncode, 1, "%s: %s" % (kind, out))
            self.assertIn("reading the tests stopped: instructions budget exceeded", out, kind)

        # A server's reload runs the tests: refused, memory bounded.
        rules = self.folder(GOOD)
        srv = self.start_server(rules=rules)
        self.clean_decide(srv, "before")
        rss0, fds0 = srv.rss_kb(), srv.fd_count()
        with open(os.path.join(rules, "rules_test.lua"), "w") as f:
            f.write(SHARED_TESTS["context"])
        r = self.reload(srv)
        self.assertIsNotNone(r.error, "the reload was accepted: %r" % (r.result,))
        self.assertIn("instructions budget exceeded", str(r.error))
        self.clean_decide(srv, "after the refused reload")
        self.assertLess(srv.rss_kb() - rss0, 512 * 1024, "RSS grew past 512 MB")
        self.assertLessEqual(srv.fd_count(), fds0 + 2)

    def test_the_tests_together_have_a_wall_budget(self):
        d = self.folder(GOOD + SLOW_RULE)
        with open(os.path.join(d, "rules_test.lua"), "w") as f:
            f.write(SLOW_TESTS)
        cp = run_cli(["test", d], timeout=T(60))
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out[-2000:])
        self.assertIn("running the tests stopped after", out)

        # A server's reload runs them: refused by that budget, not abandoned
        # by the reload timeout (which would leave the job running).
        rules = self.folder(GOOD)
        srv = self.start_server(rules=rules)
        self.clean_decide(srv, "before")
        fds0 = srv.fd_count()
        with open(os.path.join(rules, "rules.lua"), "w") as f:
            f.write(GOOD + SLOW_RULE)
        with open(os.path.join(rules, "rules_test.lua"), "w") as f:
            f.write(SLOW_TESTS)
        r = self.reload(srv)
        self.assertIsNotNone(r.error, "the reload was accepted: %r" % (r.result,))
        self.assertIn("running the tests stopped after", str(r.error))
        self.clean_decide(srv, "after the refused reload")
        self.assertLessEqual(srv.fd_count(), fds0 + 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
