"""Rule files that turn on the loader, end to end (DESIGN.md section 10).

A rule file that gives its declarations metatables after declaring them,
makes them contain themselves, or declares mistakes in a loop of 200,000
must leave the server serving its old ruleset, with a small reload answer
and a small log, and `arbiter check` with a small report. Every string the
server sends stays UTF-8 when rule files, their names or their errors are
not. After each fault a clean client is answered, and RSS and open fds
stayed bounded.
"""

import os
import shutil
import tempfile
import time

from harness import E2ETestCase, T, run_cli

GOOD = b'action "offer" { channels = { "web" }, value = 10 }\n'

HOSTILE = b"""
local s = { channels = { "web" }, value = 1 }
action "a" (s)
setmetatable(s, { __index = function() error("boom") end })
local n = 0
local t = { channels = { "web" }, value = 1 }
action "b" (t)
setmetatable(t, { __index = function(_, k)
  n = n + 1
  local l = {} for i = 1, n * 1000 do l[i] = "tp" .. i end return l end })
local c = all { raining() }
c[2] = c
action "c" { channels = { "web" }, value = 1, when = c }
local d = raining()
for i = 1, 100000 do d = no(d) end
action "d" { channels = { "web" }, value = 1, when = d }
"""

# Three mistakes an action: 600,000 problems in all (150,000 for a server,
# whose RSS is measured: the load's Lua memory, freed, may stay mapped).
MISTAKES = b"""
for i = 1, 200000 do action ("a" .. i) { channels = "nowhere", x = 1 } end
"""
SERVER_MISTAKES = MISTAKES.replace(b"200000", b"50000")

CONTEXT = {"customer_id": "C1", "channel": "web", "touchpoint": "web_home"}

RSS_GROWTH_KB = 256 * 1024


class HostileRulesTest(E2ETestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="arb-hostile-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.write({b"offers.lua": GOOD})

    def write(self, files):
        for name in os.listdir(self.dir.encode()):
            os.remove(os.path.join(self.dir.encode(), name))
        for name, text in files.items():
            with open(os.path.join(self.dir.encode(), name), "wb") as f:
                f.write(text)

    def reload(self, server):
        return server.reload(T(60))

    def assert_still_serving(self, server, c, before, rss0, fds0):
        self.assertTrue(server.alive(), server.stderr_tail())
        self.assertEqual(c.ok("ping")["version"], before)
        fresh = self.connect(server)
        d = fresh.ok("decide", CONTEXT)
        self.assertEqual(d["actions"][0]["id"], "offer")
        self.assertLess(server.rss_kb() - rss0, RSS_GROWTH_KB)
        # The fresh client, once the watch's own reload of the written file
        # and the closed admin connection have let go of their descriptors.
        deadline = time.monotonic() + T(5)
        while server.fd_count() > fds0 + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(server.fd_count(), fds0 + 1)

    def test_metatable_tricks_are_rejected_and_the_old_ruleset_serves(self):
        server = self.start_server(rules=self.dir, workers=2)
        c = self.connect(server)
        before = c.ok("ping")["version"]
        rss0, fds0 = server.rss_kb(), server.fd_count()
        self.write({b"offers.lua": HOSTILE})
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        errors = "\n".join(r.error.get("errors", []))
        self.assertIn("offers.lua:3: action 'a': the { ... } body has a metatable", errors)
        self.assertIn("offers.lua:7: action 'b': the { ... } body has a metatable", errors)
        self.assertIn("offers.lua:13: action 'c': a condition contains itself", errors)
        self.assertIn("offers.lua:16: action 'd': a condition nested deeper than", errors)
        self.assert_still_serving(server, c, before, rss0, fds0)

    def test_150000_mistakes_give_a_small_answer_and_a_small_log(self):
        server = self.start_server(rules=self.dir, workers=1)
        c = self.connect(server)
        before = c.ok("ping")["version"]
        rss0, fds0 = server.rss_kb(), server.fd_count()
        log0 = len(server.stderr().splitlines())
        self.write({b"offers.lua": SERVER_MISTAKES})
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        errors = r.error.get("errors", [])
        self.assertEqual(len(errors), 101, "%d problems in the answer" % len(errors))
        self.assertEqual(errors[-1], "... and 149900 more problems")
        self.assertLess(len(r.error["message"]) + sum(len(e) for e in errors), 256 * 1024)
        self.assertLess(len(server.stderr().splitlines()) - log0, 200)
        self.assert_still_serving(server, c, before, rss0, fds0)

    def test_check_reports_600000_mistakes_in_a_small_report(self):
        self.write({b"offers.lua": MISTAKES})
        out = run_cli(["check", self.dir], timeout=T(120))
        self.assertEqual(out.returncode, 1)
        size = len(out.stdout) + len(out.stderr)
        self.assertLess(size, 256 * 1024, "the report is %d bytes" % size)
        self.assertIn("... and 599900 more problems", out.stderr)

    def test_strings_out_stay_utf8(self):
        # A file name that is not UTF-8 is escaped; a rule's decide-time
        # error that is not UTF-8 reaches the client escaped (raw=False in
        # the client's unpacker refuses any str that is not UTF-8).
        self.write({b"offers.lua": GOOD,
                    b"b\xff.lua": b'action "z" { channels = { "web" }, value = 1,\n'
                                  b'  when = function(c) error("bad \xff\xfe") end }\n'})
        server = self.start_server(rules=self.dir, workers=1)
        c = self.connect(server)
        info = c.ok("ruleset")
        files = [a["file"] for a in info["actions"]]
        self.assertTrue(any("b\\xFF.lua" in f for f in files), files)
        d = c.ok("decide", dict(CONTEXT, explain=True))
        reasons = {e["id"]: e["reason"] for e in d["explain"]}
        self.assertIn("bad \\xFF\\xFE", reasons["z"])
        # An id that is not UTF-8 is a load error naming its line, and the
        # answer stays UTF-8 too.
        self.write({b"offers.lua": GOOD + b'action "caf\xe9" { channels = { "web" }, value = 1 }\n'})
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        self.assertIn("offers.lua:2: action 'caf\\xE9': the id is not valid UTF-8",
                      "\n".join(r.error.get("errors", [])))
        out = run_cli(["check", self.dir])
        self.assertEqual(out.returncode, 1)
        self.assertIn("not valid UTF-8", out.stderr)
