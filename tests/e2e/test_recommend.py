"""Recommending actions end to end (issue 17): the real build/arbiter over
real sockets, on a real LMDB store, deciding with the fixture folder
tests/e2e/fixtures/recommend (rules.lua and its own products.jsonl).

What each test proves would fail without the recommending action: the
complements after a laptop are never a laptop, never what the customer
owns, never out of stock; after a red dress the clutch and the lipstick;
similar designers from the catalog's relations, one per brand; explain's
products; the products a stored customer was shown are recorded as
"recommended" events and excluded on the next decision on any channel,
until shown_within passes; a preview records nothing; recommended events
never evict the customer's view; a ruleset without a catalog decides as
before; `arbiter decide --explain` lists the products.
"""

import os

from harness import FIXTURES, run_cli
from test_state import StateTestCase

DAY = 86400
T0 = 1767225600   # 2026-01-01
FOLDER = str(FIXTURES / "recommend")


def ctx(customer, channel="web", now=T0, **over):
    c = {"customer_id": customer, "channel": channel, "touchpoint": "home", "now": now,
         "explain": True}
    c.update(over)
    return c


def laptop(days_ago=2):
    return {"sku": "LT-100", "category": "laptop", "price": 999, "ts": T0 - days_ago * DAY}


def sleeve():
    """An Acme sleeve bought before: owned, never recommended again. (Within
    the store's retention of the server's clock, which track keeps by.)"""
    return {"sku": "SL-100", "category": "sleeve", "price": 25, "ts": T0 - 20 * DAY}


class RecommendTest(StateTestCase):

    def setUp(self):
        self.srv = self.start_server(rules=FOLDER)
        self.c = self.connect(self.srv)

    def decide(self, c):
        d = self.c.ok("decide", c)
        return d, {e["id"]: e for e in d["explain"]}

    def chosen(self, entry):
        return [p["sku"] for p in entry.get("products", []) if p["chosen"]]

    def reasons(self, entry):
        return {p["sku"]: p["reason"] for p in entry.get("products", [])}

    def test_complements_after_a_laptop_are_never_a_laptop_nor_owned_nor_out_of_stock(self):
        d, x = self.decide(ctx("L1", purchases=[laptop(), sleeve()]))
        acc = x["laptop_accessories"]
        self.assertTrue(acc["chosen"], acc)
        self.assertEqual(self.chosen(acc), ["MS-100", "BG-100"], acc)
        why = self.reasons(acc)
        self.assertEqual(why["LT-200"], "seed_category")
        self.assertEqual(why["SL-100"], "owned")
        self.assertEqual(why["CH-100"], "out_of_stock")
        # priority = value x the best product's score: (affinity 0.5, the
        # customer's brand, + popularity 0.5) / 2
        self.assertAlmostEqual(acc["priority"], 20 * 0.5)
        self.assertEqual(d["actions"][0]["id"], "laptop_accessories")

    def test_after_a_red_dress_the_clutch_and_the_lipstick(self):
        dress = {"sku": "DR-RED", "category": "dress", "price": 180, "ts": T0 - 3 * DAY}
        _, x = self.decide(ctx("D1", purchases=[dress]))
        look = x["complete_the_look"]
        self.assertTrue(look["chosen"], look)
        self.assertEqual(sorted(self.chosen(look)), ["CL-1", "LS-1"], look)
        why = self.reasons(look)
        self.assertEqual(why["SH-1"], "where", "150 is not below 100")
        self.assertEqual(why["CL-2"], "out_of_stock")

    def test_similar_designers_from_the_catalog_relations_one_per_brand(self):
        view = {"type": "view", "sku": "DS-A", "ts": T0 - DAY}
        _, x = self.decide(ctx("V1", events=[view]))
        des = x["similar_designers"]
        self.assertEqual(self.chosen(des), ["DS-B", "DS-C"], des)
        self.assertEqual(self.reasons(des)["DS-E"], "diversity")
        # no view, no seed: nothing is found, and the action is not eligible
        _, x = self.decide(ctx("V2"))
        self.assertEqual(x["similar_designers"]["reason"], "no products")

    def test_shown_products_are_recorded_and_excluded_on_the_next_channel(self):
        self.c.ok("track", {"customer_id": "S1", "purchases": [laptop(), sleeve()]})
        d, x = self.decide(ctx("S1"))
        first = self.chosen(x["laptop_accessories"])
        self.assertEqual(first, ["MS-100", "BG-100"], x["laptop_accessories"])
        cust = self.customer(self.srv, "S1")
        shown = [(e.get("sku"), e.get("channel"), e.get("ts")) for e in cust.get("events", [])
                 if e.get("type") == "recommended"]
        self.assertEqual(sorted(shown), [("BG-100", "web", T0), ("MS-100", "web", T0)], cust)
        # The next decision, on email: both were shown, nothing else is in stock and allowed.
        _, x = self.decide(ctx("S1", channel="email", now=T0 + 3600))
        acc = x["laptop_accessories"]
        self.assertEqual(acc["reason"], "no products", acc)
        self.assertEqual(self.reasons(acc)["MS-100"], "shown")
        self.assertEqual(self.reasons(acc)["BG-100"], "shown")
        # Past shown_within (7 days): shown again.
        _, x = self.decide(ctx("S1", now=T0 + 8 * DAY))
        self.assertEqual(self.chosen(x["laptop_accessories"]), ["MS-100", "BG-100"])

    def test_a_preview_records_nothing(self):
        self.c.ok("track", {"customer_id": "P1", "purchases": [laptop(), sleeve()]})
        _, x = self.decide(ctx("P1", preview=True))
        self.assertEqual(self.chosen(x["laptop_accessories"]), ["MS-100", "BG-100"])
        cust = self.customer(self.srv, "P1")
        self.assertEqual([e for e in cust.get("events", []) if e.get("type") == "recommended"], [])
        _, x = self.decide(ctx("P1"))
        self.assertEqual(self.chosen(x["laptop_accessories"]), ["MS-100", "BG-100"])


class RetentionTest(StateTestCase):
    """Recommended events are kept apart from the customer's own: twelve
    decisions of 20 products each (240 "recommended" events) used to push
    the one view out of the 200 events a record keeps, and the view-seeded
    action stopped being chosen."""

    def test_many_recommendations_never_evict_the_view_that_seeds_them(self):
        products = [{"sku": "SEED", "category": "seed", "popularity": 0.5,
                     "relations": {"similar": ["P%03d" % i for i in range(100)]}}]
        products += [{"sku": "P%03d" % i, "category": "c%d" % i, "popularity": 0.5}
                     for i in range(100)]
        import json
        from harness import rules_folder
        folder = rules_folder(self, {
            "products.jsonl": "".join(json.dumps(p) + "\n" for p in products),
            "rules.lua": 'catalog "products.jsonl"\n'
                         'action "more" { channels = { "web" }, value = 1,\n'
                         '  recommend = { from = "similar", seeds = "views", count = 20,\n'
                         '                exclude = { "owned" } } }\n'})
        srv = self.start_server(rules=folder)
        c = self.connect(srv)
        c.ok("track", {"customer_id": "R1", "events": [
            {"type": "view", "sku": "SEED", "channel": "web", "ts": T0 - DAY}]})
        for i in range(12):
            d = c.ok("decide", ctx("R1", now=T0 + i * 60))
            self.assertEqual([a["id"] for a in d["actions"]], ["more"], (i, d["explain"]))
        events = self.customer(srv, "R1").get("events", [])
        views = [e for e in events if e.get("type") == "view"]
        self.assertEqual([e.get("sku") for e in views], ["SEED"], len(events))
        recos = [e for e in events if e.get("type") == "recommended"]
        self.assertTrue(0 < len(recos) <= 200, len(recos))
        self.assertEqual(len(recos), len({e.get("sku") for e in recos}), "one per sku")


class NoCatalogTest(StateTestCase):

    def test_a_ruleset_without_a_catalog_decides_as_before(self):
        srv = self.serve('action "offer" { channels = { "web" }, value = 10 }\n')
        c = self.connect(srv)
        d = c.ok("decide", ctx("N1", purchases=[laptop()]))
        self.assertEqual([a["id"] for a in d["actions"]], ["offer"])
        self.assertNotIn("products", d["explain"][0])
        self.assertEqual(sorted(d["explain"][0]), ["chosen", "id", "lever", "priority", "propensity",
                                                   "propensity_from", "reason", "value", "weight"])
        cust = self.customer(srv, "N1")
        self.assertEqual([e for e in cust.get("events", []) if e.get("type") == "recommended"], [])

    def test_recommend_without_a_catalog_is_refused_at_its_line(self):
        d = self.folder_with('action "x" { channels = { "web" }, value = 1,\n'
                             '  recommend = { from = "complements" } }\n')
        out = run_cli(["check", d])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('rules.lua:1: action \'x\': recommend needs the product catalog: declare the '
                      'catalog: catalog "products.jsonl"', out.stdout + out.stderr)

    def folder_with(self, text):
        from harness import rules_folder
        return rules_folder(self, text)


class CliTest(StateTestCase):

    def test_decide_explain_lists_the_products(self):
        import json
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False) as f:
            json.dump(ctx("C1", purchases=[laptop(), sleeve()]), f)
        self.addCleanup(os.unlink, f.name)
        out = run_cli(["decide", "--rules", FOLDER, f.name, "--explain"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("products: MS-100 chosen 0.5, BG-100 chosen 0.2, LT-200 seed_category, "
                      "CH-100 out_of_stock, SL-100 owned", out.stdout)
