"""Honest measurement end to end (issue 15, DESIGN.md section 7): a
simulated population through the real server, with a global control group,
the decision log on, and `arbiter report` on what the server logged.

The treatment truly lifts conversion by a known amount: the report's 95%
interval for the uplift contains it; with no true lift, it contains zero.
Would fail without any of: the control group (no control customers), the
log (no records), the pseudonyms joining decisions and purchases, or the
report's arithmetic. Fixed seeds: the same population every run (control
membership is a keyed hash of the customer id, not a draw).
"""

import json
import os
import random
import shutil
import tempfile
import time

from harness import E2ETestCase, T, rules_folder, run_cli

RULES = ('control { share = 0.2, salt = "uplift-e2e", gets = "nothing" }\n'
         'touchpoint "home" { limit = 1 }\n'
         'action "promo" { channels = { "web" }, value = 10 }\n')


class MeasurementTest(E2ETestCase):

    def population(self, p_treatment, p_control, n=5000, seed=1):
        """Decide once for each of n customers, then track a purchase for
        those who convert (by their group's true rate). Returns the report."""
        log = tempfile.mkdtemp(prefix="arb-log-", dir="/tmp")
        self.addCleanup(shutil.rmtree, log, True)
        srv = self.start_server(rules=rules_folder(self, RULES), workers=2, state="memory",
                                extra_args=["--log", log])
        c = self.connect(srv, timeout=T(10))
        rng = random.Random(seed)
        t0 = int(time.time()) - 3600
        groups = {"treatment": 0, "control": 0}
        for i in range(n):
            cid = "pop-%d" % i
            d = c.ok("decide", {"customer_id": cid, "channel": "web", "touchpoint": "home",
                                "now": t0})
            groups[d["group"]] += 1
            shown = [a["id"] for a in d["actions"]]
            self.assertEqual(shown, ["promo"] if d["group"] == "treatment" else [], d)
            p = p_treatment if d["group"] == "treatment" else p_control
            if rng.random() < p:
                c.ok("track", {"customer_id": cid, "now": t0 + 600, "purchases": [
                    {"ts": t0 + 600, "sku": "SKU-1", "category": "shoes", "price": 20.0}]})
        # About a fifth in control, by the keyed hash.
        self.assertAlmostEqual(groups["control"] / n, 0.2, delta=0.03, msg=groups)
        self.assertEqual(srv.stop(timeout=T(30)), 0)   # SIGTERM: the log is flushed
        r = run_cli(["report", log, "--json"], timeout=T(60))
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["malformed"], 0)
        return report

    def row(self, report, action):
        rows = [x for x in report["rows"] if x.get("action") == action]
        self.assertEqual(len(rows), 1, report["rows"])
        return rows[0]

    def test_a_true_lift_is_inside_the_interval(self):
        report = self.population(0.12, 0.07)
        for action in (None, "promo"):
            u = self.row(report, action)["uplift"]
            self.assertIsNotNone(u, action)
            self.assertLessEqual(u["low"], 0.05, (action, u))
            self.assertGreaterEqual(u["high"], 0.05, (action, u))
            self.assertGreater(u["low"], 0, "a 5-point lift on 5,000 customers is significant: %r" % u)
        all_row = self.row(report, None)
        self.assertEqual(all_row["treatment"]["customers"] + all_row["control"]["customers"], 5000)
        # Value per customer: 20 per purchase.
        t = all_row["treatment"]
        self.assertAlmostEqual(t["value_per_customer"], 20 * t["rate"], places=6)

    def test_no_lift_has_zero_inside_the_interval(self):
        report = self.population(0.08, 0.08, seed=2)
        u = self.row(report, None)["uplift"]
        self.assertLessEqual(u["low"], 0, u)
        self.assertGreaterEqual(u["high"], 0, u)
