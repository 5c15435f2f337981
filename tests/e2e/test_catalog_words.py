"""Catalog words end to end (issue 17, dsl/README.md "Catalog words"): a
ruleset folder declaring `catalog "products.jsonl"`, a real server, and
purchases and events sent (or tracked into the real LMDB store) with only a
sku: "bought something red", "browsed brand X", "owns a product whose
complements include Y" hold through the product; a field the record was
sent with wins; the same rules without the catalog answer as before.

What would fail without the slice: the field filters read only the record
(eval_hist.c), bought("laptop") and the candidate index read only a sent
category (eval.c).
"""

import json
import time

from harness import E2ETestCase, rules_folder

PRODUCTS = [
    {"sku": "LT-100", "name": "Ultrabook 14", "category": "laptop", "brand": "acme",
     "color": "silver", "price": 999.0, "tags": ["premium"],
     "relations": {"complements": ["MS-100"], "similar": ["LT-200"]}},
    {"sku": "LT-200", "name": "Notebook 15", "category": "laptop", "brand": "bolt",
     "color": "black", "price": 699.0, "relations": {"similar": ["LT-100"]}},
    {"sku": "MS-100", "name": "Mouse", "category": "mouse", "brand": "logi", "color": "red",
     "price": 25.0, "in_stock": False},
    {"sku": "TS-1", "name": "Shirt", "category": "shirt", "brand": "zed", "color": "red",
     "price": 20.0},
]

RULES = (
    'action "red" { channels = { "web" }, value = 6, when = bought { color = "red" } }\n'
    'action "acme_browser" { channels = { "web" }, value = 5,\n'
    '  when = viewed { brand = "acme", within = days(7) } }\n'
    'action "mouse_for_it" { channels = { "web" }, value = 4,\n'
    '  when = bought { complements = "MS-100" } }\n'
    'action "laptop_bag" { channels = { "web" }, value = 3, when = bought("laptop") }\n'
    'action "premium" { channels = { "web" }, value = 2, when = bought { tags = "premium" } }\n'
    'action "browse" { channels = { "web" }, value = 1 }\n')


def folder(tc, catalog=True):
    files = {"rules.lua": RULES}
    if catalog:
        files["catalog.lua"] = 'catalog "products.jsonl"\n'
        files["products.jsonl"] = "".join(json.dumps(p) + "\n" for p in PRODUCTS)
    return rules_folder(tc, files, "arb-catwords-")


class CatalogWordsTest(E2ETestCase):

    def ids(self, c, customer="K1", **over):
        ctx = {"customer_id": customer, "channel": "web", "touchpoint": "web_home", "limit": 10}
        ctx.update(over)
        return [a["id"] for a in c.ok("decide", ctx)["actions"]]

    def test_bought_something_red_by_sku_only(self):
        c = self.connect(self.start_server(rules=folder(self)))
        now = int(time.time())
        self.assertEqual(self.ids(c, purchases=[{"sku": "TS-1", "ts": now - 86400}]),
                         ["red", "browse"])
        # The laptop: its category routes bought("laptop"), its relation and tags hold.
        self.assertEqual(self.ids(c, purchases=[{"sku": "LT-100", "ts": now - 86400}]),
                         ["mouse_for_it", "laptop_bag", "premium", "browse"])
        self.assertEqual(self.ids(c, purchases=[{"sku": "LT-200", "ts": now - 86400}]),
                         ["laptop_bag", "browse"])

    def test_browsed_brand_x_by_sku_only(self):
        c = self.connect(self.start_server(rules=folder(self)))
        now = int(time.time())
        self.assertEqual(self.ids(c, events=[{"type": "view", "sku": "LT-100", "ts": now - 3600}]),
                         ["acme_browser", "browse"])
        self.assertEqual(self.ids(c, events=[{"type": "view", "sku": "LT-200", "ts": now - 3600}]),
                         ["browse"])

    def test_the_records_own_field_wins(self):
        c = self.connect(self.start_server(rules=folder(self)))
        now = int(time.time())
        self.assertEqual(self.ids(c, purchases=[{"sku": "TS-1", "color": "blue", "ts": now}]),
                         ["browse"])
        self.assertEqual(self.ids(c, purchases=[{"sku": "LT-200", "color": "red", "ts": now}]),
                         ["red", "laptop_bag", "browse"])

    def test_a_stored_purchase_tracked_by_sku_is_joined_too(self):
        c = self.connect(self.start_server(rules=folder(self)))
        c.ok("track", {"customer_id": "S1", "purchases": [{"sku": "MS-100", "price": 25}]})
        self.assertEqual(self.ids(c, "S1"), ["red", "browse"])

    def test_without_a_catalog_the_old_answers(self):
        c = self.connect(self.start_server(rules=folder(self, catalog=False)))
        now = int(time.time())
        self.assertEqual(self.ids(c, purchases=[{"sku": "LT-100", "ts": now}]), ["browse"])
        self.assertEqual(self.ids(c, purchases=[{"sku": "TS-1", "color": "red", "ts": now}]),
                         ["red", "browse"])


if __name__ == "__main__":
    import unittest
    unittest.main()
