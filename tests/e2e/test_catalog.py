"""The product catalog (issue 17) through the real build/arbiter: a ruleset
declaring `catalog "products.jsonl"` loads it, the `ruleset` method lists
it, and a bad catalog line fails `arbiter check` and a server's reload with
"products.jsonl:N:" while the old ruleset serves on."""

import os
import unittest

from harness import E2ETestCase, rules_folder, run_cli

RULES = """
catalog "products.jsonl"
action "mouse" { channels = { "web" }, value = 5 }
"""
PRODUCTS = (
    '{"sku": "LT-1001", "name": "Ultrabook 14", "category": "laptop", "price": 999,'
    ' "relations": {"complements": ["MS-1001"]}}\n'
    '# mice\n'
    '{"sku": "MS-1001", "name": "Mouse", "category": "mouse", "price": 19.5}\n'
)
BAD_LINE = '{"sku": "LT-1001", "price": 5}\n'    # line 4: a duplicate sku


class CatalogTest(E2ETestCase):

    def folder(self, products):
        return rules_folder(self, {"rules.lua": RULES, "products.jsonl": products}, "arb-catalog-")

    def test_check_reports_a_bad_catalog_line_with_file_and_line(self):
        d = self.folder(PRODUCTS + BAD_LINE)
        out = run_cli(["check", d])
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn(os.path.join(d, "products.jsonl") + ":4: duplicate sku 'LT-1001' (first on line 1)",
                      out.stderr)

    def test_check_accepts_a_good_catalog(self):
        out = run_cli(["check", self.folder(PRODUCTS)])
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_the_ruleset_lists_its_catalog_and_a_bad_reload_keeps_it(self):
        d = self.folder(PRODUCTS)
        srv = self.start_server(rules=d)
        c = self.connect(srv)
        cat = c.ok("ruleset")["catalog"]
        self.assertEqual(cat["file"], "products.jsonl")
        self.assertEqual(cat["products"], 2)
        self.assertRegex(cat["checksum"], "^[0-9a-f]{16}$")
        version = c.ok("ruleset")["version"]
        with open(os.path.join(d, "products.jsonl"), "a") as f:
            f.write(BAD_LINE)
        r = srv.reload()
        self.assertIsNotNone(r.error)
        self.assertTrue(any("products.jsonl:4: duplicate sku" in e for e in r.error.get("errors", [])),
                        r.error)
        after = c.ok("ruleset")
        self.assertEqual(after["version"], version, "the old ruleset serves on")
        self.assertEqual(after["catalog"], cat)


if __name__ == "__main__":
    unittest.main()
