"""Hot reload end to end: a real server reloading its ruleset under load.

Two small valid rulesets, A and B, each with one action that names it, are
copied in turn into the folder the server serves. Every decision names the
ruleset version that produced it; the version's checksum part tells A from B,
so each answer can be checked against the ruleset it claims.
"""

import os
import shutil
import signal
import tempfile
import threading
import time

from harness import E2ETestCase, RpcClient, T, arbiter_bin, wait_until

# ASan keeps freed memory in quarantine (16 MiB in the harness's options).
RELOAD_GROWTH_KB = (16 + (16 if "asan" in str(arbiter_bin()) else 0)) * 1024

RULES_A = """
action "offer_a" { channels = { "web", "email", "app" }, value = 10 }
action "shared" { channels = { "web" }, value = 1 }
"""
RULES_B = """
action "offer_b" { channels = { "web", "email", "app" }, value = 10 }
action "shared" { channels = { "web" }, value = 1 }
"""
TEST_OK = """
test "the named offer wins" {
  context = { channel = "web", touchpoint = "web_home" },
  includes = { "shared" },
}
"""
CONTEXT = {"customer_id": "C1", "channel": "web", "touchpoint": "web_home"}


class RulesFolder:
    """A temporary ruleset folder whose content the test switches."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="arb-rules-", dir="/tmp")

    def write(self, rules, test=TEST_OK, extra=None):
        for name in os.listdir(self.path):
            os.remove(os.path.join(self.path, name))
        files = {"offers.lua": rules, "offers_test.lua": test}
        files.update(extra or {})
        for name, text in files.items():
            if text is not None:
                with open(os.path.join(self.path, name), "w") as f:
                    f.write(text)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def checksum_of(version):
    return version.split("-", 1)[1]


class ReloadTest(E2ETestCase):

    def setUp(self):
        self.rules = RulesFolder()
        self.addCleanup(self.rules.remove)
        self.rules.write(RULES_A)

    def serve(self, **kw):
        kw.setdefault("workers", 2)
        return self.start_server(rules=self.rules.path, **kw)

    def reload(self, server):
        return server.reload(T(30))

    def test_reloads_under_pipelined_load_lose_nothing(self):
        server = self.serve()
        c = self.connect(server)
        version_a = c.ok("ping")["version"]
        expected = {checksum_of(version_a): "offer_a"}
        stop = threading.Event()
        results = []   # per worker thread: (sent, answers, problems)

        def load():
            client = RpcClient.tcp(server.port, timeout=T(30))
            sent = answered = 0
            problems = []
            outstanding = {}
            try:
                while not stop.is_set() or outstanding:
                    while not stop.is_set() and len(outstanding) < 16:
                        mid = client.send_request("decide", [CONTEXT])
                        outstanding[mid] = True
                        sent += 1
                    r = client.recv(timeout=T(30))
                    if r.msgid not in outstanding:
                        problems.append("unexpected msgid %r" % r.msgid)
                        continue
                    del outstanding[r.msgid]
                    answered += 1
                    if r.error is not None:
                        problems.append("error %r" % (r.error,))
                        continue
                    ids = [a["id"] for a in r.result["actions"]]
                    problems.append((r.result["ruleset"], ids[0] if ids else None))
            finally:
                client.close()
            results.append((sent, answered, problems))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(50):
                rules, action = (RULES_B, "offer_b") if i % 2 == 0 else (RULES_A, "offer_a")
                self.rules.write(rules)
                r = self.reload(server)
                self.assertIsNone(r.error, "reload %d failed: %r" % (i, r.error))
                expected.setdefault(checksum_of(r.result["version"]), action)
                self.assertEqual(expected[checksum_of(r.result["version"])], action)
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join(T(60))
        self.assertEqual(len(results), 4, "a load thread died")
        seen_versions = set()
        for sent, answered, answers in results:
            self.assertGreater(sent, 0)
            self.assertEqual(sent, answered, "requests lost across reloads")
            for item in answers:
                self.assertIsInstance(item, tuple, item)   # strings are problems
                version, first = item
                seen_versions.add(version)
                self.assertIn(checksum_of(version), expected, "unknown version %s" % version)
                self.assertEqual(first, expected[checksum_of(version)],
                                 "version %s answered with %s" % (version, first))
        self.assertGreater(len(seen_versions), 5, "load did not span the reloads")
        stats = c.ok("stats")
        self.assertEqual(stats["reloads"]["ok"], 50)
        self.assertEqual(stats["reloads"]["failed"], 0)
        self.assertEqual(stats["errors"]["internal"], 0)

    def test_broken_ruleset_is_rejected_and_old_keeps_serving(self):
        server = self.serve()
        c = self.connect(server)
        before = c.ok("ping")["version"]
        self.rules.write(RULES_A + "\naction \"oops\" { channels = { \"web\" }, value = }\n")
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        self.assertIn("offers.lua:5", r.error["message"])
        self.assertTrue(any("offers.lua:5" in e for e in r.error.get("errors", [])))
        self.assertEqual(c.ok("ping")["version"], before)
        d = c.ok("decide", CONTEXT)
        self.assertEqual(d["ruleset"], before)
        self.assertEqual(d["actions"][0]["id"], "offer_a")
        stats = c.ok("stats")
        self.assertEqual(stats["reloads"]["failed"], 1)
        self.assertIn("reload rejected", server.stderr())

    def test_a_failed_reload_answers_every_problem_and_is_counted_under_its_code(self):
        # The reload's error leaves through the one error exit (wire/rpc.c):
        # {code, message, errors}, one item per problem, and stats.errors
        # counts it under its code like any other error answer.
        server = self.serve()
        c = self.connect(server)
        before = c.ok("stats")
        self.rules.write(RULES_A + "\naction \"oops\" { channels = { \"web\" }, value = }\n",
                         extra={"more.lua": 'action "typo" { channels = { "web" }, valeu = 3 }\n'})
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        self.assertEqual(list(r.error), ["code", "message", "errors"], r.error)
        self.assertEqual(r.error["code"], "invalid_params")
        errors = r.error["errors"]
        # Every problem of every file, each naming its file:line.
        at = lambda name: os.path.join(self.rules.path, name)
        self.assertEqual(len(errors), 3, errors)
        self.assertTrue(errors[0].startswith(at("offers.lua:5:")), errors)
        self.assertTrue(errors[1].startswith(at("more.lua:1:")) and "'valeu'" in errors[1], errors)
        self.assertTrue(errors[2].startswith(at("more.lua:1:")) and "'value' is required" in errors[2],
                        errors)
        self.assertEqual(r.error["message"], "\n".join(errors))
        stats = c.ok("stats")
        self.assertEqual(stats["reloads"]["failed"], before["reloads"]["failed"] + 1)
        for code, n in stats["errors"].items():
            want = before["errors"][code] + (1 if code == "invalid_params" else 0)
            self.assertEqual(n, want, "stats.errors.%s after a failed reload" % code)
        # A second failed reload is counted again; a good one adds no error.
        self.assertIsNotNone(self.reload(server).error)
        self.assertEqual(c.ok("stats")["errors"]["invalid_params"],
                         before["errors"]["invalid_params"] + 2)
        self.rules.write(RULES_B)
        self.assertIsNone(self.reload(server).error)
        stats = c.ok("stats")
        self.assertEqual(stats["errors"]["invalid_params"], before["errors"]["invalid_params"] + 2)
        self.assertEqual(stats["reloads"]["ok"], before["reloads"]["ok"] + 1)
        self.assertEqual(stats["reloads"]["failed"], before["reloads"]["failed"] + 2)

    def test_a_failed_reload_nobody_asked_for_is_no_error_answer(self):
        # SIGHUP has no caller to answer: the failure is counted in
        # reloads.failed, not in errors, which count error answers.
        server = self.serve()
        c = self.connect(server)
        before = c.ok("stats")
        self.rules.write(RULES_A + "\naction \"oops\" { channels = { \"web\" }, value = }\n")
        server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: c.ok("stats")["reloads"]["failed"] == before["reloads"]["failed"] + 1, T(30)),
            "the SIGHUP reload did not fail")
        self.assertEqual(server.stderr().count("reload rejected"), 1)
        self.assertEqual(c.ok("stats")["errors"], before["errors"])

    def test_ruleset_whose_tests_fail_is_rejected(self):
        server = self.serve()
        c = self.connect(server)
        before = c.ok("ping")["version"]
        failing = 'test "expects the impossible" {\n  context = { channel = "web", touchpoint = "web_home" },\n  expect = { "nope" },\n}\n'
        self.rules.write(RULES_B, test=failing)
        r = self.reload(server)
        self.assertIsNotNone(r.error)
        self.assertIn("offers_test.lua:1", r.error["message"])
        self.assertIn("expects the impossible", r.error["message"])
        self.assertEqual(c.ok("ping")["version"], before)
        self.assertEqual(c.ok("stats")["reloads"]["failed"], 1)
        # The CLI shows the same problems and exits 1.
        from harness import run_cli
        out = run_cli(["reload", "--admin", server.admin_path])
        self.assertEqual(out.returncode, 1)
        self.assertIn("offers_test.lua:1", out.stdout + out.stderr)

    def test_sighup_reloads(self):
        server = self.serve()
        c = self.connect(server)
        self.assertTrue(c.ok("ping")["version"].startswith("1-"))
        self.rules.write(RULES_B)
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + T(10)
        while time.monotonic() < deadline:
            if c.ok("ping")["version"].startswith("2-"):
                break
            time.sleep(0.05)
        self.assertTrue(c.ok("ping")["version"].startswith("2-"))
        self.assertEqual(c.ok("decide", CONTEXT)["actions"][0]["id"], "offer_b")

    def test_file_change_reloads_when_watching(self):
        server = self.serve(no_watch=False)
        c = self.connect(server)
        first = c.ok("ping")["version"]
        self.rules.write(RULES_B)
        deadline = time.monotonic() + T(10)
        while time.monotonic() < deadline and c.ok("ping")["version"] == first:
            time.sleep(0.05)
        now = c.ok("ping")["version"]
        self.assertNotEqual(now, first, "a file change did not reload the ruleset")
        self.assertEqual(c.ok("decide", CONTEXT)["actions"][0]["id"], "offer_b")
        self.assertEqual(c.ok("ruleset")["version"], now)

    def test_thousand_reloads_keep_memory_bounded(self):
        server = self.serve()
        admin = RpcClient.unix(server.admin_path, timeout=T(30))
        self.addCleanup(admin.close)
        for _ in range(50):
            self.assertIsNone(admin.call("reload").error)
        time.sleep(0.3)
        warm = server.rss_kb()
        for _ in range(950):
            self.assertIsNone(admin.call("reload").error)
        time.sleep(0.3)
        grown = server.rss_kb() - warm
        self.assertLess(grown, RELOAD_GROWTH_KB, "RSS grew %d KiB over 950 reloads" % grown)
        c = self.connect(server)
        self.assertTrue(c.ok("ping")["version"].startswith("1001-"))
