"""The offline commands a marketer runs on a ruleset folder: check, test,
decide and replay, driven as processes, with their exit codes and output."""

import json
import os
import unittest

from harness import RULES_DIR, require_binary, rules_folder, run_cli

OFFER = """
action "umbrella" {
  channels = { "app", "web" },
  value    = 8,
  when     = raining(),
}
fallback "newsletter" { channels = { "app", "web" }, value = 1 }
"""
PASSING = """
test "rain brings the umbrella" {
  context = { channel = "app", touchpoint = "app_home", weather = { condition = "rain" } },
  expect  = { "umbrella" },
}
"""
FAILING = """
test "rain brings the umbrella" {
  context = { channel = "app", touchpoint = "app_home", weather = { condition = "rain" } },
  expect  = { "umbrella" },
}

test "sun brings the umbrella too" {
  context = { channel = "app", touchpoint = "app_home", weather = { condition = "clear" } },
  expect  = { "umbrella" },
}
"""


class CliRulesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_binary()

    def folder(self, files):
        return rules_folder(self, files, "arb-cli-")

    def test_check_accepts_the_reference_ruleset(self):
        out = run_cli(["check", str(RULES_DIR)])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ok", out.stdout)

    def test_check_reports_every_problem_with_file_and_line(self):
        d = self.folder({"a.lua": 'action "x" { chanels = { "web" }, value = 1 }\n',
                         "b.lua": '\n\naction "y" { channels = { "fax" }, value = 1 }\n'})
        out = run_cli(["check", d])
        self.assertEqual(out.returncode, 1)
        self.assertIn("a.lua:1: action 'x': unknown field 'chanels' (did you mean 'channels'?)",
                      out.stderr)
        self.assertIn("b.lua:3: action 'y': unknown channel 'fax'", out.stderr)

    def test_test_passes_and_exits_zero(self):
        d = self.folder({"offers.lua": OFFER, "offers_test.lua": PASSING})
        out = run_cli(["test", d])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 test, 0 failures", out.stdout)

    def test_a_failing_rule_test_prints_its_file_and_line(self):
        d = self.folder({"offers.lua": OFFER, "offers_test.lua": FAILING})
        out = run_cli(["test", d])
        self.assertEqual(out.returncode, 1)
        self.assertIn("offers_test.lua:7: test 'sun brings the umbrella too': "
                      "expected umbrella, got newsletter", out.stderr)
        self.assertIn("2 tests, 1 failure", out.stdout)

    def test_the_reference_ruleset_tests_pass(self):
        out = run_cli(["test", str(RULES_DIR)])
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertIn(" 0 failures", out.stdout)

    def test_decide_offline_with_reasons(self):
        d = self.folder({"offers.lua": OFFER})
        ctx = self.folder({"ctx.json": json.dumps({
            "customer_id": "C1", "channel": "app", "touchpoint": "app_home",
            "weather": {"condition": "rain"}})})
        out = run_cli(["decide", "--rules", d, os.path.join(ctx, "ctx.json"), "--explain"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1. umbrella", out.stdout)
        self.assertRegex(out.stdout, r"newsletter\s+fallback: not needed")
        js = run_cli(["decide", "--rules", d, os.path.join(ctx, "ctx.json"), "--json"])
        decision = json.loads(js.stdout)
        self.assertEqual([a["id"] for a in decision["actions"]], ["umbrella"])

    def test_decide_names_the_wrong_field(self):
        d = self.folder({"offers.lua": OFFER})
        out = run_cli(["decide", "--rules", d, "-"],
                      input=json.dumps({"customer_id": "C1", "channel": "app",
                                        "touchpoint": "t", "weather": {"temp_c": "hot"}}))
        self.assertEqual(out.returncode, 1)
        self.assertIn("weather.temp_c: expected a number", out.stderr)

    def test_replay_lists_what_a_change_would_do(self):
        before = self.folder({"offers.lua": OFFER})
        after = self.folder({"offers.lua": OFFER.replace("raining()", "snowing()")})
        lines = [{"customer_id": "C%d" % i, "channel": "app", "touchpoint": "app_home",
                  "weather": {"condition": "rain" if i % 2 else "clear"}} for i in range(10)]
        ctxs = self.folder({"day.jsonl": "\n".join(json.dumps(c) for c in lines) + "\n"})
        out = run_cli(["replay", "--rules", before, os.path.join(ctxs, "day.jsonl"),
                       "--against", after])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("10 contexts, 0 invalid, 0 with no action, 5 changed", out.stdout)
        self.assertIn("[umbrella] -> [newsletter]", out.stdout)

    def test_a_context_path_that_is_not_a_regular_file_is_refused(self):
        # The one file reader: a FIFO nobody writes is refused, not waited
        # on (before, decide blocked in open until the timeout).
        d = self.folder({"offers.lua": OFFER})
        tmp = self.folder({})
        fifo = os.path.join(tmp, "ctx.json")
        os.mkfifo(fifo)
        for cmd in (["decide", "--rules", d, fifo], ["replay", "--rules", d, fifo],
                    ["decide", "--rules", d, tmp]):
            out = run_cli(cmd, timeout=10)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn("arbiter %s: cannot read " % cmd[0], out.stderr)
        self.assertIn("is a FIFO, not a regular file (refused)", run_cli(
            ["decide", "--rules", d, fifo], timeout=10).stderr)
        self.assertIn("is a folder", run_cli(["decide", "--rules", d, tmp], timeout=10).stderr)

    def test_usage_errors_exit_two(self):
        self.assertEqual(run_cli(["check"]).returncode, 2)
        self.assertEqual(run_cli(["decide", "--rules"]).returncode, 2)
        self.assertEqual(run_cli(["nonsense"]).returncode, 2)


if __name__ == "__main__":
    unittest.main()
