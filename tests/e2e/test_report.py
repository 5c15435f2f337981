"""`arbiter report LOGDIR` and `arbiter replay --log LOGDIR`, driven as
processes on decision logs written here by hand in the schema of README.md
("Decision log"), so that the report is tested apart from the server's
writer: a simulated population with a known true uplift must have it inside
the report's 95% interval, and one without lift must have zero inside."""

import json
import os
import random
import shutil
import tempfile
import unittest

from harness import require_binary, rules_folder, run_cli

DAY = 1764460800    # 2025-11-30 00:00 UTC


def pseudonym(rng):
    return "%032x" % rng.getrandbits(128)


class Log:
    """A LOGDIR being written: records appended to one file, in order."""

    def __init__(self, testcase):
        self.dir = tempfile.mkdtemp(prefix="arb-report-", dir="/tmp")
        testcase.addCleanup(shutil.rmtree, self.dir, True)
        self.lines = []
        self.seq = 0

    def decision(self, ts, customer, shown, held=(), group="treatment", channel="app",
                 experiment=None, arm=None, control="action", ctx=None):
        self.seq += 1
        rec = {"v": 1, "type": "decision", "ts": ts, "decision_id": "d%d" % self.seq,
               "customer": customer, "channel": channel, "touchpoint": "home",
               "ruleset": "r1", "group": group, "experiment": experiment, "arm": arm,
               "actions": [{"id": a, "priority": 1.0, "propensity": 0.1, "value": 1.0}
                           for a in shown],
               "held": [{"id": a, "control": control} for a in held],
               "context": "0" * 32}
        if ctx is not None:
            rec["ctx"] = ctx
        self.lines.append(json.dumps(rec, separators=(",", ":")))
        return rec["decision_id"]

    def feedback(self, ts, customer, action, outcome, value=None, decision_id=None):
        self.lines.append(json.dumps(
            {"v": 1, "type": "feedback", "ts": ts, "customer": customer,
             "decision_id": decision_id, "action": action, "outcome": outcome,
             "channel": None, "value": value}, separators=(",", ":")))

    def purchase(self, ts, customer, price):
        self.lines.append(json.dumps(
            {"v": 1, "type": "purchase", "ts": ts, "customer": customer, "sku": "s",
             "category": None, "price": price, "channel": "web"}, separators=(",", ":")))

    def write(self, name="arbiter-20251130T000000-1-1.jsonl", tail=""):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("\n".join(self.lines) + "\n" + tail)
        self.lines = []
        return self.dir


def simulate(testcase, seed, rate_t, rate_c, n=20000, control=0.10):
    """n customers, a share `control` of them in the global control group
    (held: "boots", shown: the fallback), converting at rate_t or rate_c
    after their decision, with a purchase of 20 each."""
    rng = random.Random(seed)
    log = Log(testcase)
    for i in range(n):
        c = pseudonym(rng)
        ts = DAY + rng.randrange(3600)
        if rng.random() < control:
            log.decision(ts, c, ["newsletter"], ["boots"], group="control", control="global")
            rate = rate_c
        else:
            d = log.decision(ts, c, ["boots"])
            rate = rate_t
            if rng.random() < 0.3:
                log.feedback(ts + 10, c, "boots", "click", decision_id=d)
        if rng.random() < rate:
            log.purchase(ts + 60 + rng.randrange(600), c, 20.0)
    return log.write()


def report(args):
    out = run_cli(["report"] + args)
    return out


class ReportTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_binary()

    def json_report(self, args):
        out = report(args + ["--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    @staticmethod
    def row(rep, action):
        return next(r for r in rep["rows"] if r["action"] == action)

    def test_a_true_uplift_is_inside_the_interval(self):
        rep = self.json_report([simulate(self, 15, 0.10, 0.07)])
        self.assertEqual(rep["customers"], 20000)
        for action in (None, "boots"):      # all actions, and the held action
            r = self.row(rep, action)
            u = r["uplift"]
            self.assertLess(u["low"], 0.03, r)
            self.assertGreater(u["high"], 0.03, r)
            self.assertGreater(u["low"], 0.0, "20,000 customers see a 3 point lift: %r" % r)
            self.assertAlmostEqual(u["estimate"], r["treatment"]["rate"] - r["control"]["rate"])
            self.assertAlmostEqual(r["treatment"]["value_per_customer"],
                                   20 * r["treatment"]["rate"])
            self.assertGreater(r["control"]["customers"], 1800)
            self.assertLess(r["control"]["customers"], 2200)
        boots = self.row(rep, "boots")
        self.assertEqual(boots["contacts"], boots["treatment"]["customers"])
        self.assertAlmostEqual(boots["outcome_rates"]["click"],
                               boots["outcomes"]["click"] / boots["contacts"])
        self.assertEqual(self.row(rep, "newsletter")["control"]["customers"], 0)
        self.assertIsNone(self.row(rep, "newsletter")["uplift"])

    def test_no_true_lift_puts_zero_inside_the_interval(self):
        for seed in (1, 2):
            rep = self.json_report([simulate(self, seed, 0.10, 0.10)])
            for action in (None, "boots"):
                u = self.row(rep, action)["uplift"]
                self.assertLess(u["low"], 0.0, u)
                self.assertGreater(u["high"], 0.0, u)

    def test_the_table_is_aligned_and_says_what_it_skipped(self):
        log = Log(self)
        log.decision(DAY, "a" * 32, ["boots"])
        log.decision(DAY, "b" * 32, [], ["boots"])
        log.purchase(DAY + 5, "a" * 32, 10)
        log.lines.append("this is no record")
        d = log.write(tail='{"v":1,"type":"purch')
        out = report([d])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 malformed line skipped (the first: "
                      "arbiter-20251130T000000-1-1.jsonl:4: not JSON", out.stderr)
        lines = out.stdout.splitlines()
        self.assertIn("3 records (2 decisions, 2 customers) from 1 file; "
                      "1 malformed line, 1 torn tail skipped", lines[0])
        head, rows = lines[1], lines[2:]
        self.assertTrue(head.startswith("action"), head)
        self.assertEqual([r.split("  ")[0].strip() for r in rows], ["all actions", "boots"])
        # every column starts where its heading does (right-aligned: ends)
        end = head.index("contacts") + len("contacts")
        for r in rows:
            self.assertEqual(r[end - 1], "1", r)
        self.assertIn("+100.00 pp", rows[1])
        self.assertIn("10.00", rows[1])

    def test_since_and_until_bound_the_period(self):
        log = Log(self)
        log.decision(DAY - 10, "a" * 32, ["boots"])          # the day before
        log.decision(DAY + 10, "b" * 32, ["boots"])
        log.purchase(DAY + 20, "b" * 32, 5)
        log.decision(DAY + 86400, "c" * 32, ["boots"])       # the next day: outside
        d = log.write()
        rep = self.json_report([d, "--since", "2025-11-30", "--until", "2025-12-01"])
        self.assertEqual((rep["since"], rep["until"]), (DAY, DAY + 86400))
        self.assertEqual(rep["customers"], 1)
        self.assertEqual(self.row(rep, "boots")["treatment"]["converted"], 1)
        rep = self.json_report([d, "--since", str(DAY + 15)])
        self.assertEqual(self.row(rep, "boots")["treatment"]["customers"], 1)
        self.assertEqual(self.row(rep, "boots")["treatment"]["converted"], 0,
                         "b's exposure is before the period")

    def test_by_arm_and_by_channel(self):
        rng = random.Random(7)
        log = Log(self)
        for i in range(4000):
            c = pseudonym(rng)
            arm = "challenger" if i % 2 else "champion"
            log.decision(DAY + i, c, ["boots"], experiment="spring", arm=arm,
                         channel="web" if i % 4 < 2 else "app")
            if rng.random() < (0.2 if arm == "challenger" else 0.1):
                log.feedback(DAY + i + 1, c, "boots", "convert", value=3.0)
        d = log.write()
        rep = self.json_report([d, "--by", "arm"])
        self.assertEqual(rep["by"], "arm")
        (r,) = rep["rows"]
        self.assertEqual(r["experiment"], "spring")
        self.assertEqual(r["challenger"]["customers"], 2000)
        self.assertEqual(r["champion"]["customers"], 2000)
        self.assertLess(r["uplift"]["low"], 0.1)
        self.assertGreater(r["uplift"]["high"], 0.1)
        rep = self.json_report([d, "--by", "channel"])
        chans = {(x["action"], x["channel"]): x for x in rep["rows"]}
        self.assertEqual(chans[("boots", "web")]["contacts"], 2000)
        self.assertEqual(chans[("boots", "app")]["contacts"], 2000)
        self.assertIn((None, "app"), chans)
        out = report([d, "--by", "arm"])
        self.assertIn("spring", out.stdout)
        self.assertIn("challenger", out.stdout.splitlines()[1])

    def test_usage_and_an_unreadable_logdir_exit_two(self):
        self.assertEqual(report([]).returncode, 2)
        self.assertEqual(report(["/tmp", "--by", "weekday"]).returncode, 2)
        self.assertEqual(report(["/tmp", "--since", "yesterday"]).returncode, 2)
        out = report(["/nonexistent/arb-log"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("/nonexistent/arb-log: cannot read the log folder", out.stderr)
        empty = Log(self).dir
        out = report([empty])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("0 records", out.stdout)


OFFER = """
action "umbrella" {
  channels = { "app", "web" },
  value    = 8,
  when     = raining(),
}
fallback "newsletter" { channels = { "app", "web" }, value = 1 }
"""


class ReplayLogTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_binary()

    def test_replay_takes_the_logged_contexts(self):
        before = rules_folder(self, {"offers.lua": OFFER}, "arb-replay-")
        after = rules_folder(self, {"offers.lua": OFFER.replace("raining()", "snowing()")},
                             "arb-replay-")
        log = Log(self)
        for i in range(10):
            ctx = {"customer_id": "%032x" % i, "channel": "app", "touchpoint": "app_home",
                   "weather": {"condition": "rain" if i % 2 else "clear"}}
            log.decision(DAY + i, "%032x" % (i % 6), ["umbrella"], ctx=ctx)
        log.decision(DAY + 20, "f" * 32, ["newsletter"])     # logged without its context
        log.purchase(DAY + 30, "f" * 32, 3)
        d = log.write()
        out = run_cli(["replay", "--rules", before, "--log", d, "--against", after])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 logged decision without a context skipped", out.stdout)
        # the rainy ones, 1 3 5 7 9, are 3 customers (i % 6: 1 3 5 1 3)
        self.assertIn("10 contexts, 0 invalid, 0 with no action, 5 changed by %s (3 customers)"
                      % after, out.stdout)
        self.assertIn("%s: decision d2: [umbrella] -> [newsletter]" % d, out.stdout)
        wins = {l.split()[0]: l.split()[1:] for l in out.stdout.splitlines()[-3:]}
        self.assertEqual(wins["umbrella"], ["5", "0"])
        self.assertEqual(wins["newsletter"], ["5", "10"])

    def test_replay_wants_a_file_or_a_log_and_a_readable_log(self):
        d = rules_folder(self, {"offers.lua": OFFER}, "arb-replay-")
        self.assertEqual(run_cli(["replay", "--rules", d]).returncode, 2)
        self.assertEqual(run_cli(["replay", "--rules", d, "x.jsonl", "--log", "/tmp"]).returncode, 2)
        out = run_cli(["replay", "--rules", d, "--log", "/nonexistent/arb-log"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("cannot read the log folder", out.stderr)


if __name__ == "__main__":
    unittest.main()
