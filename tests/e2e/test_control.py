"""Control groups and experiments end to end (issue 15, DESIGN.md section 7).

Membership in a control group and in an experiment's arm is a keyed hash of
the customer id (HMAC-SHA-256 keyed by the salt): two nodes, each on an LMDB
folder of its own, and a node restarted on its folder place the same 500
customers alike, and alike with the hash computed here with python3's hmac.
The `ruleset` method lists the experiment and the control group; a reload
reloads the challenger.
"""

import hashlib
import hmac
import os
import shutil
import tempfile
import unittest

from harness import E2ETestCase, T

CHAMPION = """
control { share = 0.2, salt = "e2e-holdout", gets = "fallback" }
experiment "weights" { challenger = "challenger", share = 0.3, salt = "e2e-weights" }
action "tv" { channels = { "web" }, value = 10 }
action "radio" { channels = { "web" }, value = 5, control = { share = 0.25, salt = "e2e-radio" } }
fallback "newsletter" { channels = { "web" }, value = 1 }
"""

CHALLENGER = """
control { share = 0.2, salt = "e2e-holdout", gets = "fallback" }
action "new_tv" { channels = { "web" }, value = 20 }
fallback "newsletter" { channels = { "web" }, value = 1 }
"""

IDS = ["cust-%d" % i for i in range(500)]


def bucket(salt, cid):
    d = hmac.new(salt.encode(), cid.encode(), hashlib.sha256).digest()
    return (int.from_bytes(d[:8], "big") >> 11) / 2.0 ** 53


def expected(cid):
    """(group, arm, action ids) as the rules above decide for cid."""
    arm = "challenger" if bucket("e2e-weights", cid) < 0.3 else "champion"
    if bucket("e2e-holdout", cid) < 0.2:
        return "control", arm, ["newsletter"]
    if arm == "challenger":
        return "treatment", arm, ["new_tv"]
    held = bucket("e2e-radio", cid) < 0.25
    return "treatment", arm, ["tv"] if held else ["tv", "radio"]


class ControlTest(E2ETestCase):

    def rules(self, challenger=CHALLENGER):
        path = tempfile.mkdtemp(prefix="arb-control-rules-", dir="/tmp")
        self.addCleanup(shutil.rmtree, path, True)
        os.mkdir(os.path.join(path, "challenger"))
        self.write(path, CHAMPION, challenger)
        return path

    @staticmethod
    def write(path, champion, challenger):
        with open(os.path.join(path, "rules.lua"), "w") as f:
            f.write(champion)
        with open(os.path.join(path, "challenger", "rules.lua"), "w") as f:
            f.write(challenger)

    def state_dir(self):
        d = tempfile.mkdtemp(prefix="arb-control-state-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, "state")

    def placements(self, srv):
        c = self.connect(srv)
        out = {}
        for cid in IDS:
            r = c.ok("decide", {"customer_id": cid, "channel": "web", "touchpoint": "home"},
                     timeout=T(10))
            out[cid] = (r["group"], r.get("arm"), [a["id"] for a in r["actions"]])
            self.assertEqual(r.get("experiment"), "weights", r)
        c.close()
        return out

    def test_membership_is_the_same_on_two_nodes_and_after_a_restart(self):
        rules = self.rules()
        state_a = self.state_dir()
        a = self.start_server(rules=rules, state=state_a)
        b = self.start_server(rules=rules, state=self.state_dir())
        on_a, on_b = self.placements(a), self.placements(b)
        self.assertEqual(on_a, on_b)
        want = {cid: expected(cid) for cid in IDS}
        self.assertEqual(on_a, want)
        groups = [g for g, _, _ in want.values()]
        arms = [arm for _, arm, _ in want.values()]
        # Both groups and both arms are present, in about their shares.
        self.assertTrue(60 <= groups.count("control") <= 140, groups.count("control"))
        self.assertTrue(110 <= arms.count("challenger") <= 190, arms.count("challenger"))
        a.stop()
        again = self.start_server(rules=rules, state=state_a)
        self.assertEqual(self.placements(again), on_a)

    def test_ruleset_lists_the_experiment_and_the_control_group(self):
        srv = self.start_server(rules=self.rules())
        c = self.connect(srv)
        rs = c.ok("ruleset")
        self.assertEqual(rs["control"], {"share": 0.2, "salt": "e2e-holdout", "gets": "fallback"})
        self.assertEqual(len(rs["experiments"]), 1, rs["experiments"])
        e = rs["experiments"][0]
        self.assertEqual((e["name"], e["share"], e["salt"]), ("weights", 0.3, "e2e-weights"))
        challenger_id = next(cid for cid in IDS if expected(cid)[1] == "challenger")
        d = c.ok("decide", {"customer_id": challenger_id, "channel": "web", "touchpoint": "home"})
        self.assertEqual(d["arm"], "challenger")
        self.assertEqual(d["ruleset"], e["challenger"], "the decision names the challenger's version")
        self.assertNotEqual(e["challenger"], rs["version"])

    def test_a_ruleset_without_them_lists_none(self):
        path = tempfile.mkdtemp(prefix="arb-control-rules-", dir="/tmp")
        self.addCleanup(shutil.rmtree, path, True)
        with open(os.path.join(path, "rules.lua"), "w") as f:
            f.write('action "tv" { channels = { "web" }, value = 10 }\n')
        srv = self.start_server(rules=path)
        c = self.connect(srv)
        rs = c.ok("ruleset")
        self.assertEqual(rs["experiments"], [])
        self.assertIsNone(rs["control"])
        d = c.ok("decide", {"customer_id": "c1", "channel": "web", "touchpoint": "home"})
        self.assertEqual(d["group"], "treatment")
        self.assertNotIn("arm", d)
        self.assertNotIn("experiment", d)

    def test_a_reload_reloads_the_challenger(self):
        rules = self.rules()
        srv = self.start_server(rules=rules)
        c = self.connect(srv)
        before = c.ok("ruleset")["experiments"][0]["challenger"]
        cid = next(cid for cid in IDS if expected(cid)[:2] == ("treatment", "challenger"))
        ctx = {"customer_id": cid, "channel": "web", "touchpoint": "home"}
        self.assertEqual([a["id"] for a in c.ok("decide", ctx)["actions"]], ["new_tv"])
        self.write(rules, CHAMPION, CHALLENGER.replace("new_tv", "newer_tv"))
        r = srv.reload()
        self.assertIsNone(r.error, r.error)
        after = c.ok("ruleset")["experiments"][0]["challenger"]
        self.assertNotEqual(after.split("-", 1)[1], before.split("-", 1)[1])
        d = c.ok("decide", ctx)
        self.assertEqual([a["id"] for a in d["actions"]], ["newer_tv"])
        self.assertEqual(d["ruleset"], after)


if __name__ == "__main__":
    unittest.main()
