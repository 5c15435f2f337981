"""Explain a marketer can act on, end to end (dsl/README.md section 11):
over a real socket, each explain entry has its numbers, whom an eligible
action lost to and by how much, and the words of the part of a `when` that
failed; `arbiter decide --explain` prints them; `arbiter test` checks
priorities; `arbiter replay` without --against counts wins by channel and
touchpoint, as tables and as JSON.
"""

import json
import os

from harness import E2ETestCase, rules_folder, run_cli

RULES = """
models { "accessories" }
touchpoint "web_home" { limit = 1 }
action "mouse_offer" { channels = { "web", "app" }, value = 10, lever = 1.5, model = "accessories" }
action "promo" { channels = { "web", "app" }, value = 2 }
action "laptop_bag" { channels = { "web" }, value = 50,
  when = all { bought("laptop", within(days(30))), no(raining()) } }
"""

CONTEXT = {"customer_id": "C1", "channel": "web", "touchpoint": "web_home",
           "scores": {"accessories": 0.3}, "explain": True,
           "weather": {"condition": "rain", "temp_c": 9}}


class ExplainTest(E2ETestCase):

    def folder(self, files):
        return rules_folder(self, files, "arb-explain-")

    def test_the_answer_explains_numbers_losses_and_the_failed_words(self):
        server = self.start_server(rules=self.folder({"offers.lua": RULES}), workers=1)
        c = self.connect(server)
        d = c.ok("decide", CONTEXT)
        self.assertEqual([a["id"] for a in d["actions"]], ["mouse_offer"])
        ex = {e["id"]: e for e in d["explain"]}
        mouse = ex["mouse_offer"]
        self.assertEqual(mouse["propensity_from"], "score: accessories")
        self.assertAlmostEqual(mouse["propensity"], 0.3)
        self.assertEqual(mouse["value"], 10)
        self.assertEqual(mouse["lever"], 1.5)
        self.assertEqual(mouse["weight"], 1)
        self.assertAlmostEqual(mouse["priority"], 4.5)
        self.assertNotIn("lost_to", mouse)
        promo = ex["promo"]
        self.assertEqual(promo["reason"], "outranked")
        self.assertEqual(promo["propensity_from"], "default")
        self.assertEqual(promo["lost_to"], "mouse_offer")
        self.assertAlmostEqual(promo["lost_to_priority"], 4.5)
        self.assertAlmostEqual(promo["lost_by"], 2.5)
        bag = ex["laptop_bag"]
        self.assertEqual(bag["reason"], "when")
        self.assertEqual(bag["failed"], 'bought("laptop", within(days(30)))')
        self.assertNotIn("priority", bag)
        self.assertEqual(bag["value"], 50)
        # Bought the laptop, but it rains: the no(...) is the failed part.
        ctx = dict(CONTEXT, purchases=[{"category": "laptop", "ts": 1767052800}],
                   now=1767225600)
        bag = {e["id"]: e for e in c.ok("decide", ctx)["explain"]}["laptop_bag"]
        self.assertEqual(bag["failed"], 'no(weather("rain"))')
        # Without explain, no entries.
        self.assertNotIn("explain", c.ok("decide", dict(CONTEXT, explain=False)))

    def test_decide_explain_prints_the_numbers_and_the_failed_part(self):
        d = self.folder({"offers.lua": RULES})
        ctx = self.folder({"ctx.json": json.dumps(CONTEXT)})
        out = run_cli(["decide", "--rules", d, os.path.join(ctx, "ctx.json"), "--explain"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('when: bought("laptop", within(days(30))) is false', out.stdout)
        self.assertIn("outranked to mouse_offer (priority 4.5, 2.5 more)", out.stdout)
        self.assertIn("priority 4.5 = propensity 0.3 (score: accessories) x value 10 x weight 1"
                      " x lever 1.5", out.stdout)
        out = run_cli(["decide", "--rules", d, os.path.join(ctx, "ctx.json"), "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        ex = {e["id"]: e for e in json.loads(out.stdout)["explain"]}
        self.assertEqual(ex["promo"]["lost_to"], "mouse_offer")

    def test_arbiter_test_checks_priorities(self):
        tests = """
test "the mouse wins" {
  context = { channel = "web", touchpoint = "web_home", scores = { accessories = 0.3 } },
  expect = { "mouse_offer" },
  priorities = { mouse_offer = at_least(4), promo = 2 },
  reasons = { promo = "outranked to mouse_offer", laptop_bag = "when: bought" },
}
test "too low" {
  context = { channel = "web", touchpoint = "web_home", scores = { accessories = 0.1 } },
  priorities = { mouse_offer = at_least(4) },
}
"""
        d = self.folder({"offers.lua": RULES, "offers_test.lua": tests})
        out = run_cli(["test", d])
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("2 tests, 1 failure", out.stdout)
        self.assertIn("offers_test.lua:8: test 'too low': expected the priority of mouse_offer "
                      "to be at least 4, got 1.5", out.stdout + out.stderr)

    def test_replay_without_against_counts_wins_by_channel_and_touchpoint(self):
        d = self.folder({"offers.lua": RULES})
        lines = []
        for i in range(12):
            ch = "web" if i % 3 else "app"
            lines.append({"customer_id": "C%d" % i, "channel": ch, "touchpoint": ch + "_home",
                          "scores": {"accessories": 0.1 if i % 2 else 0.3}})
        lines.append({"customer_id": "bad"})   # no channel: invalid
        ctxs = self.folder({"day.jsonl": "\n".join(json.dumps(c) for c in lines) + "\n"})
        path = os.path.join(ctxs, "day.jsonl")
        out = run_cli(["replay", "--rules", d, path])
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout
        self.assertIn("13 contexts, 1 invalid, 0 with no action", text)
        self.assertIn("wins by channel:", text)
        self.assertIn("wins by touchpoint:", text)
        # web_home has limit 1: 8 decisions, the mouse (3 = 0.3 x 10) wins
        # at 0.3, the promo (2) at 0.1 (1.5); app_home shows both.
        self.assertRegex(text, r"web_home  \(8 decisions\)\n    mouse_offer\s+4\s+50\.0%\n"
                               r"    promo\s+4\s+50\.0%")
        self.assertRegex(text, r"app  \(4 decisions\)\n    mouse_offer\s+4\s+100\.0%\n"
                               r"    promo\s+4\s+100\.0%")
        out = run_cli(["replay", "--rules", d, path, "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        j = json.loads(out.stdout)
        self.assertEqual((j["contexts"], j["invalid"], j["no_action"]), (13, 1, 0))
        self.assertEqual({a["id"]: a["wins"] for a in j["actions"]},
                         {"mouse_offer": 8, "promo": 8})
        self.assertEqual(j["by_channel"]["web"]["decisions"], 8)
        self.assertEqual(j["by_touchpoint"]["web_home"]["actions"],
                         [{"id": "mouse_offer", "wins": 4, "share": 0.5},
                          {"id": "promo", "wins": 4, "share": 0.5}])
        self.assertEqual(run_cli(["replay", "--rules", d, path, "--json",
                                  "--against", d]).returncode, 2)
