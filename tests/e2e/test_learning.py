"""Learning from outcomes end to end (issue 14, DESIGN.md section 6): adaptive
propensities learned by the real server from `feedback`, over real sockets.

What each test proves would fail without the learning path (offers stored
with decisions, feedback turned into evidence by the store's merge, the one
sync that stores evidence and publishes snapshots, the decide path reading
them):
- a simulated customer stream (hidden conversion rates, feedback drawn from
  them) converges on the best action, with a cumulative regret well under a
  uniform-random baseline run in the same test and growing sub-linearly;
- when the hidden rates change, an action with a half-life follows and one
  without does not;
- an action added by a reload is explored and, being best, wins, while the
  others keep what they learned;
- the feedback rules: unknown decisions teach nothing, duplicates and floods
  count once, a click before its impression counts once, feedback without a
  decision_id is credited to the latest offer, previews teach nothing;
- evidence survives a restart on LMDB.
(Two nodes on one Redis Cluster learning together: test_redis_learning.py.)

Determinism: one worker, a --learn-seed, simulated time (each context's
`now`, each feedback's `ts`), and the simulation waits for the learning
sync after each batch, so that the snapshot a batch decides on does not
depend on the machine's speed.
"""

import random
import time

from harness import E2ETestCase, T, rules_folder, wait_until

STEP = 60            # simulated seconds between two decisions
# Simulated start: a week ago, so that the whole run stays in the past (evidence
# from the future is dated now) and within the records' retention.
T0 = int(time.time()) - 7 * 86400


def adaptive_rules(rates, extra="", settle=300):
    """One web action per hidden rate, value 1: priority = the learned propensity."""
    out = ['touchpoint "home" { limit = 1 }\n']
    for name in sorted(rates):
        out.append('action "%s" { channels = { "web" }, value = 1, '
                   'propensity = adaptive { prior = 0.1, strength = 2, settle = %d%s } }\n'
                   % (name, settle, extra))
    return "".join(out)


class Simulation:
    """A customer stream against one server: decide, then report an impression
    and, with the chosen action's hidden rate, a click."""

    def __init__(self, tc, srv, seed):
        self.tc = tc
        self.srv = srv
        self.c = tc.connect(srv, timeout=T(10))
        self.rng = random.Random(seed)
        self.t = T0
        self.n = 0

    def syncs(self):
        return self.c.ok("stats")["learning"]["syncs"]

    def wait_sync(self):
        """Two more syncs: one started after every delta so far was added."""
        start = self.syncs()
        self.tc.assertTrue(wait_until(lambda: self.syncs() >= start + 2, T(10)),
                           "the learning sync stopped")

    def run(self, rates, n, batch=25):
        """n decisions; returns the chosen action of each."""
        chosen = []
        while len(chosen) < n:
            for _ in range(min(batch, n - len(chosen))):
                self.n += 1
                self.t += STEP
                cid = "sim-%d" % self.n
                d = self.c.ok("decide", {"customer_id": cid, "channel": "web",
                                         "touchpoint": "home", "now": self.t})
                self.tc.assertEqual(len(d["actions"]), 1, d)
                a = d["actions"][0]["id"]
                chosen.append(a)
                fb = {"customer_id": cid, "action": a, "decision_id": d["decision_id"],
                      "ts": self.t + 5}
                self.c.ok("feedback", dict(fb, outcome="impression"))
                if self.rng.random() < rates[a]:
                    self.c.ok("feedback", dict(fb, outcome="click", ts=self.t + 9))
            self.wait_sync()
        return chosen


def regret(rates, chosen):
    best = max(rates.values())
    return sum(best - rates[a] for a in chosen)


def learning(c, action=None):
    arms = c.ok("learning", {"action": action} if action else {})
    return {(a["action"], a["channel"], a["segment"]): a for a in arms}


class LearningTest(E2ETestCase):

    def node(self, rules, state="memory", seed=7, extra=()):
        return self.start_server(rules=rules_folder(self, rules), workers=1, state=state,
                                 extra_args=["--learn-seed", str(seed), "--learn-ms", "10"]
                                 + list(extra))

    def test_converges_on_the_best_action_with_sublinear_regret(self):
        rates = {"a_low": 0.05, "b_mid": 0.10, "c_best": 0.25}
        sim = Simulation(self, self.node(adaptive_rules(rates)), seed=11)
        chosen = sim.run(rates, 1500)
        uniform = random.Random(12)
        baseline = [uniform.choice(sorted(rates)) for _ in range(1500)]

        late = chosen[-500:]
        share = late.count("c_best") / len(late)
        self.assertGreaterEqual(share, 0.8, "best action chosen in %.0f%% of the last 500" % (share * 100))
        r, r0 = regret(rates, chosen), regret(rates, baseline)
        self.assertLess(r, 0.35 * r0, "regret %.1f against the uniform baseline's %.1f" % (r, r0))
        # Sub-linear: the second half costs far less than the first, where the
        # uniform baseline's halves cost the same.
        first, second = regret(rates, chosen[:750]), regret(rates, chosen[750:])
        self.assertLess(second, 0.6 * first, "regret by half: %.1f then %.1f" % (first, second))
        b1, b2 = regret(rates, baseline[:750]), regret(rates, baseline[750:])
        self.assertGreater(b2, 0.7 * b1)

        arms = learning(sim.c)
        best = arms[("c_best", "web", None)]
        self.assertGreater(best["trials"], 1000)
        self.assertAlmostEqual(best["mean"], 0.25, delta=0.05)
        self.assertAlmostEqual(best["negatives"], best["trials"] - best["positives"], places=6)

    def test_with_a_half_life_the_choice_follows_a_change(self):
        # settle = 20: every arm soon uses its mean, so nothing explores any
        # more unless its evidence fades below 20 trials. Without a
        # half-life the old best keeps winning; with one, the others' old
        # evidence fades, they are tried again, and the new best wins.
        before = {"a_low": 0.05, "b_mid": 0.10, "c_best": 0.25}
        after = {"a_low": 0.30, "b_mid": 0.10, "c_best": 0.02}
        shares = {}
        for label, extra in (("fading", ", half_life = hours(4)"), ("forever", "")):
            sim = Simulation(self, self.node(adaptive_rules(before, extra, settle=20)), seed=21)
            first = sim.run(before, 1500)
            self.assertGreaterEqual(first[-300:].count("c_best") / 300, 0.6, label)
            second = sim.run(after, 600)
            shares[label] = second[300:].count("a_low") / 300
        self.assertGreaterEqual(shares["fading"], 0.6,
                                "with a half-life the new best won only %.0f%%" % (shares["fading"] * 100))
        self.assertLessEqual(shares["forever"], 0.1,
                             "without a half-life old evidence should hold (%.0f%%)" % (shares["forever"] * 100))

    def test_a_new_action_from_a_reload_is_explored_and_wins(self):
        rates = {"a_low": 0.05, "b_mid": 0.10, "c_new": 0.30}
        old = {k: v for k, v in rates.items() if k != "c_new"}
        folder = rules_folder(self, adaptive_rules(old))
        srv = self.start_server(rules=folder, workers=1, state="memory",
                                extra_args=["--learn-seed", "3", "--learn-ms", "10"])
        sim = Simulation(self, srv, seed=31)
        sim.run(old, 600)
        kept = learning(sim.c)
        with open(folder + "/rules.lua", "w") as f:
            f.write(adaptive_rules(rates))
        srv.reload()
        sim.wait_sync()
        after = learning(sim.c)
        for key in kept:
            self.assertGreaterEqual(after[key]["trials"], kept[key]["trials"],
                                    "the reload lost what %s learned" % (key,))
        chosen = sim.run(rates, 900)
        self.assertGreater(chosen.count("c_new"), 0, "the new action was never explored")
        share = chosen[-300:].count("c_new") / 300
        self.assertGreaterEqual(share, 0.7, "the new best action won only %.0f%%" % (share * 100))

    def test_feedback_rules(self):
        rules = ('touchpoint "home" { limit = 1 }\n'
                 'action "solo" { channels = { "web" }, value = 1, '
                 'propensity = adaptive { positive = "convert" } }\n'
                 'action "fixed" { channels = { "web" }, value = 0.01 }\n')
        srv = self.node(rules)
        c = self.connect(srv)

        def decide(cid, **kw):
            d = c.ok("decide", dict({"customer_id": cid, "channel": "web", "touchpoint": "home",
                                     "now": T0}, **kw))
            self.assertEqual([a["id"] for a in d["actions"]], ["solo"], d)
            return d["decision_id"]

        def fb(cid, outcome, did=None, ts=T0 + 10):
            m = {"customer_id": cid, "action": "solo", "outcome": outcome, "ts": ts}
            if did:
                m["decision_id"] = did
            self.assertEqual(c.ok("feedback", m), {"ok": True})

        def evidence():
            start = c.ok("stats")["learning"]["syncs"]
            self.assertTrue(wait_until(lambda: c.ok("stats")["learning"]["syncs"] >= start + 2, T(10)))
            arm = learning(c, "solo").get(("solo", "web", None))
            return (arm["positives"], arm["trials"]) if arm else (0, 0)

        d1 = decide("u1")
        fb("u1", "convert", d1)                # before its impression: a trial and a positive
        fb("u1", "impression", d1)             # implied already: nothing more
        for _ in range(50):                    # a flood of duplicates: once
            fb("u1", "convert", d1)
        self.assertEqual(evidence(), (1, 1))

        unknown0 = c.ok("stats")["learning"]["feedback_unknown"]
        fb("u1", "impression", "no-such-decision")
        fb("u-never", "convert")               # no offer at all
        self.assertEqual(evidence(), (1, 1))
        self.assertEqual(c.ok("stats")["learning"]["feedback_unknown"], unknown0 + 2)

        decide("u2")
        fb("u2", "impression")                 # no decision_id: the latest offer
        fb("u2", "impression")                 # ... again: recognised as the same
        self.assertEqual(evidence(), (1, 2))

        decide("u3", preview=True)             # a preview offers nothing
        fb("u3", "impression")
        self.assertEqual(evidence(), (1, 2))

        # Explain shows the evidence the decision read.
        d = c.ok("decide", {"customer_id": "u4", "channel": "web", "touchpoint": "home",
                            "now": T0 + 20, "explain": True})
        ex = {e["id"]: e for e in d["explain"]}
        learned = ex["solo"]["learned"]
        self.assertEqual((learned["positives"], learned["trials"]), (1, 2))
        self.assertAlmostEqual(learned["mean"], (0.5 * 2 + 1) / (2 + 2), places=6)
        self.assertIn("sample", learned)
        self.assertNotIn("learned", ex["fixed"])

        r = c.call("learning", {"action": "fixed"})
        self.assertEqual(r.error["code"], "invalid_params")
        self.assertIn("not an adaptive action", r.error["message"])

    def test_trials_counted_at_decision(self):
        rules = ('touchpoint "home" { limit = 1 }\n'
                 'action "solo" { channels = { "web" }, value = 1, '
                 'propensity = adaptive { trial = "decision" } }\n')
        srv = self.node(rules)
        c = self.connect(srv)
        for i in range(5):
            c.ok("decide", {"customer_id": "d%d" % i, "channel": "web", "touchpoint": "home",
                            "now": T0})
        c.ok("decide", {"customer_id": "dp", "channel": "web", "touchpoint": "home",
                        "now": T0, "preview": True})
        c.ok("feedback", {"customer_id": "d0", "action": "solo", "outcome": "click", "ts": T0 + 1})
        self.assertTrue(wait_until(lambda: learning(c).get(("solo", "web", None), {}).get("trials") == 5,
                                   T(10)), learning(c))
        self.assertEqual(learning(c)[("solo", "web", None)]["positives"], 1)

    def test_segments_learn_apart(self):
        rules = ('touchpoint "home" { limit = 1 }\n'
                 'action "solo" { channels = { "web" }, value = 1, '
                 'propensity = adaptive { segment = "tier" } }\n')
        srv = self.node(rules)
        c = self.connect(srv)
        for i, tier in enumerate(["gold", "gold", "silver"]):
            cid = "s%d" % i
            d = c.ok("decide", {"customer_id": cid, "channel": "web", "touchpoint": "home",
                                "now": T0, "attributes": {"tier": tier}})
            c.ok("feedback", {"customer_id": cid, "action": "solo", "outcome": "click",
                              "decision_id": d["decision_id"], "ts": T0 + 1})
        self.assertTrue(wait_until(lambda: len(learning(c)) == 3, T(10)), learning(c))
        arms = learning(c)
        self.assertEqual(arms[("solo", "web", "gold")]["positives"], 2)
        self.assertEqual(arms[("solo", "web", "silver")]["positives"], 1)
        self.assertEqual(arms[("solo", "web", None)]["positives"], 3)   # the pooled arm

    def test_evidence_survives_a_restart_on_lmdb(self):
        rates = {"a_low": 0.05, "c_best": 0.25}
        folder = rules_folder(self, adaptive_rules(rates))
        state = self.tmpdir_for_state()
        args = ["--learn-seed", "5", "--learn-ms", "10"]
        srv = self.start_server(rules=folder, workers=2, state=state, extra_args=args)
        sim = Simulation(self, srv, seed=41)
        sim.run(rates, 300)
        before = learning(sim.c)
        self.assertEqual(srv.stop(timeout=T(15)), 0)
        again = self.start_server(rules=folder, workers=2, state=state, extra_args=args)
        c = self.connect(again)
        self.assertTrue(wait_until(lambda: learning(c).keys() == before.keys(), T(10)), learning(c))
        after = learning(c)
        for key, arm in before.items():
            self.assertAlmostEqual(after[key]["trials"], arm["trials"], delta=1e-6)
            self.assertAlmostEqual(after[key]["positives"], arm["positives"], delta=1e-6)

    def tmpdir_for_state(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="arb-learn-state-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        return d + "/state"
