"""The catalog-only reload end to end (issue 17: "reloadable on its own
when only stock or prices change"; README.md "Reloading the catalog"):
clients decide in a loop while the test rewrites products.jsonl (a
product goes out of stock, its price rises) and calls the admin
`reload` with {only = "catalog"}: the ruleset version stays, the answers
change, no request fails during the swap; a bad file is refused with
file:line and the old catalog keeps answering; the folder watch does the
same without a call; a ruleset with plain Lua functions (one copy per
worker) swaps too.

What would fail without the slice: nothing but a full reload re-reads
the catalog (server/catalog_reload.c), and the watch ignores every file
but *.lua (server/watch.c).
"""

import json
import os
import threading
import time

from harness import E2ETestCase, RpcClient, T, rules_folder, run_cli, wait_until

RULES = (
    'action "stocked" { channels = { "web" }, value = 3, when = bought { in_stock = true } }\n'
    'action "cheap" { channels = { "web" }, value = 2, when = bought { price = at_most(50) } }\n'
    'action "browse" { channels = { "web" }, value = 1 }\n')
LUA_RULE = 'action "lua" { channels = { "web" }, value = 0.5, when = function(c) return true end }\n'

BEFORE = {"sku": "MS-100", "name": "Mouse", "category": "mouse", "price": 25.0, "in_stock": True}
AFTER = dict(BEFORE, price=80.0, in_stock=False)
OTHER = {"sku": "KB-1", "name": "Keyboard", "category": "keyboard", "price": 45.0}


def lines(*products):
    return "".join(json.dumps(p) + "\n" for p in products)


def ctx():
    # deadline_ms: a plain Lua rule under ASan on a busy machine may pass
    # the default 10 ms; what is tested is the swap, not the speed.
    return {"customer_id": "R1", "channel": "web", "touchpoint": "web_home", "limit": 10,
            "deadline_ms": 1000,
            "purchases": [{"sku": "MS-100", "ts": int(time.time()) - 3600}]}


class CatalogReloadTest(E2ETestCase):

    def folder(self, extra=""):
        return rules_folder(self, {"rules.lua": RULES + extra,
                                   "catalog.lua": 'catalog "products.jsonl"\n',
                                   "products.jsonl": lines(BEFORE, OTHER)}, "arb-catreload-")

    def write(self, path, text):
        tmp = os.path.join(path, ".products.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(path, "products.jsonl"))   # whole, never half written

    def ids(self, c):
        return [a["id"] for a in c.ok("decide", ctx())["actions"]]

    def reload_catalog(self, server):
        self.assertTrue(server.wait_for_path(server.admin_path), "no admin socket")
        admin = server.admin_client(timeout=T(30))
        try:
            return admin.call("reload", {"only": "catalog"}, timeout=T(30))
        finally:
            admin.close()

    def swap_under_load(self, extra, old, new):
        path = self.folder(extra)
        server = self.start_server(rules=path, workers=2)
        c = self.connect(server)
        version = c.ok("ping")["version"]
        first = c.ok("ruleset")["catalog"]
        self.assertEqual(self.ids(c), old)
        stop = threading.Event()
        seen, failures = [], []

        def client():
            cl = RpcClient.tcp(server.port, timeout=T(10))
            try:
                while not stop.is_set():
                    r = cl.call("decide", ctx())
                    if r.error is not None:
                        failures.append(r.error)
                    else:
                        seen.append([a["id"] for a in r.result["actions"]])
            except Exception as e:   # a closed connection is a failure too
                failures.append(repr(e))
            finally:
                cl.close()

        threads = [threading.Thread(target=client) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(seen) > 20 or failures, T(10))
            self.write(path, lines(AFTER, OTHER))
            r = self.reload_catalog(server)
            self.assertIsNone(r.error, r.error)
            self.assertEqual(r.result["version"], version, "a catalog reload keeps the version")
            self.assertEqual(r.result["catalog"]["products"], 2)
            self.assertNotEqual(r.result["catalog"]["checksum"], first["checksum"])
            # `ruleset` names the catalog deciding, on every worker.
            for _ in range(4):
                shown = self.connect(server).ok("ruleset")["catalog"]
                self.assertEqual(shown["checksum"], r.result["catalog"]["checksum"])
                self.assertEqual(shown["file"], "products.jsonl")
            # Every request after the answer reads the new catalog.
            self.assertEqual(self.ids(c), new)
            n = len(seen)
            wait_until(lambda: len(seen) > n + 20 or failures, T(10))
        finally:
            stop.set()
            for t in threads:
                t.join(T(10))
        self.assertEqual(failures, [])
        self.assertIn(old, seen)
        self.assertIn(new, seen)
        self.assertEqual([s for s in seen if s not in (old, new)], [])
        self.assertEqual(c.ok("ping")["version"], version)
        return server, path, c

    def test_a_stock_and_price_change_swaps_under_load_without_a_ruleset_reload(self):
        self.swap_under_load("", ["stocked", "cheap", "browse"], ["browse"])

    def test_rulesets_with_plain_lua_functions_swap_in_every_worker(self):
        server, path, c = self.swap_under_load(LUA_RULE, ["stocked", "cheap", "browse", "lua"],
                                               ["browse", "lua"])
        # Each worker's copy answers with the new catalog: many connections.
        for _ in range(6):
            cl = self.connect(server)
            self.assertEqual(self.ids(cl), ["browse", "lua"])

    def test_a_bad_catalog_is_refused_with_file_line_and_the_old_one_keeps_answering(self):
        path = self.folder()
        server = self.start_server(rules=path, workers=2)
        c = self.connect(server)
        self.write(path, lines(AFTER) + "{not json\n")
        r = self.reload_catalog(server)
        self.assert_error(r, "invalid_params", "products.jsonl:2:")
        self.assertEqual(self.ids(c), ["stocked", "cheap", "browse"])
        self.assertTrue(c.ok("ping")["version"].startswith("1-"))

    def test_a_catalog_the_rules_no_longer_fit_is_refused(self):
        # The file is fine on its own, but a recommending action follows
        # "complements" and a payload fills {product.material}: a catalog
        # without either would answer products it cannot describe.
        reco = ('action "look" { channels = { "web" }, value = 5,\n'
                '  recommend = { from = "complements", within = days(30) },\n'
                '  payload = { headline = "In {product.material}" } }\n')
        with_rel = dict(BEFORE, relations={"complements": ["KB-1"]})
        path = rules_folder(self, {"rules.lua": RULES + reco,
                                   "catalog.lua": 'catalog "products.jsonl"\n',
                                   "products.jsonl": lines(with_rel, dict(OTHER, material="oak"))},
                            "arb-catreload-")
        server = self.start_server(rules=path, workers=1)
        c = self.connect(server)
        # preview: the products shown are not remembered (exclude "shown")
        look = lambda: [a for a in c.ok("decide", dict(ctx(), preview=True))["actions"] if a["id"] == "look"]
        before = look()
        self.assertEqual(before[0]["payload"]["headline"], "In oak")
        self.write(path, lines(BEFORE, dict(OTHER, material="oak")))
        self.assert_error(self.reload_catalog(server), "invalid_params", "complements")
        self.write(path, lines(with_rel, OTHER))
        self.assert_error(self.reload_catalog(server), "invalid_params", "material")
        self.assertEqual(look(), before, "the old catalog answers")

    def test_reload_params(self):
        path = self.folder()
        server = self.start_server(rules=path, workers=1)
        self.assertTrue(server.wait_for_path(server.admin_path), "no admin socket")
        admin = server.admin_client(timeout=T(30))
        self.addCleanup(admin.close)
        self.assert_error(admin.call("reload", {"only": "rules"}), "invalid_params", "only")
        self.assert_error(admin.call("reload", {"other": 1}), "invalid_params", "only")
        self.assert_error(admin.call("reload", 5), "invalid_params")
        r = admin.call("reload", {})
        self.assertIsNone(r.error, r.error)
        self.assertTrue(r.result["version"].startswith("2-"), "{} is a full reload")
        c = self.connect(server)
        public = c.call("reload", {"only": "catalog"})
        self.assertIsNotNone(public.error)
        self.assertEqual(public.error["code"], "forbidden")

    def test_the_cli_reload_catalog_reloads_the_catalog_alone(self):
        # `arbiter reload --admin PATH --catalog` sends {only = "catalog"}:
        # a rule file broken on disk meanwhile is not read (a full reload,
        # without --catalog, is refused for it), the version stays.
        path = self.folder()
        server = self.start_server(rules=path, workers=1)
        self.assertTrue(server.wait_for_path(server.admin_path), "no admin socket")
        c = self.connect(server)
        version = c.ok("ping")["version"]
        first = c.ok("ruleset")["catalog"]
        self.write(path, lines(AFTER, OTHER))
        with open(os.path.join(path, "rules.lua"), "a") as f:
            f.write("action {\n")
        full = run_cli(["reload", "--admin", server.admin_path], timeout=T(40))
        self.assertEqual(full.returncode, 1, full.stdout + full.stderr)
        self.assertIn("rules.lua", full.stderr)
        cp = run_cli(["reload", "--admin", server.admin_path, "--catalog"], timeout=T(40))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = json.loads(cp.stdout)
        self.assertEqual(out["version"], version)
        self.assertEqual(out["catalog"]["products"], 2)
        self.assertNotEqual(out["catalog"]["checksum"], first["checksum"])
        self.assertEqual(self.ids(c), ["browse"])
        self.assertEqual(c.ok("ping")["version"], version)
        # --catalog against a ruleset that declares none: refused, exit 1.
        bare = self.start_server(rules=rules_folder(self, {"rules.lua": RULES}, "arb-catreload-"),
                                 workers=1)
        self.assertTrue(bare.wait_for_path(bare.admin_path), "no admin socket")
        cp = run_cli(["reload", "--admin", bare.admin_path, "--catalog"], timeout=T(40))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("declares no catalog", cp.stderr)
        cp = run_cli(["reload", "--help"])
        self.assertEqual(cp.returncode, 0)
        self.assertIn("--catalog", cp.stdout)

    def test_a_ruleset_without_a_catalog_says_so(self):
        path = rules_folder(self, {"rules.lua": RULES}, "arb-catreload-")
        server = self.start_server(rules=path, workers=1)
        self.assert_error(self.reload_catalog(server), "invalid_params", "declares no catalog")

    def test_the_watch_reloads_the_catalog_alone(self):
        path = self.folder()
        server = self.start_server(rules=path, workers=2, no_watch=False)
        c = self.connect(server)
        version = c.ok("ping")["version"]
        self.assertEqual(self.ids(c), ["stocked", "cheap", "browse"])
        self.write(path, lines(AFTER, OTHER))
        self.assertTrue(wait_until(lambda: self.ids(c) == ["browse"], T(10)),
                        "the catalog file changed, the answers did not")
        self.assertEqual(c.ok("ping")["version"], version, "no ruleset reload")
        self.assertTrue(wait_until(lambda: "catalog reloaded" in server.stderr(), T(5)),
                        server.stderr_tail())
        # A bad file through the watch: logged, the good one keeps answering.
        self.write(path, "{oops\n")
        self.assertTrue(wait_until(lambda: "catalog reload rejected" in server.stderr(), T(10)),
                        server.stderr_tail())
        self.assertIn("products.jsonl:1:", server.stderr())
        self.assertEqual(self.ids(c), ["browse"])
        # A rule file changing still reloads everything.
        with open(os.path.join(path, "more.lua"), "w") as f:
            f.write('action "more" { channels = { "web" }, value = 0.1 }\n')
        self.write(path, lines(BEFORE, OTHER))
        self.assertTrue(wait_until(lambda: c.ok("ping")["version"] != version, T(10)))
        self.assertEqual(self.ids(c), ["stocked", "cheap", "browse", "more"])

    def test_the_watch_sees_a_catalog_named_with_a_path(self):
        # "./products.jsonl" and "data/products.jsonl": the watch once
        # compared bare names only, and never looked into a subfolder.
        for name in ("./products.jsonl", "data/products.jsonl"):
            with self.subTest(name=name):
                path = rules_folder(self, {"rules.lua": RULES,
                                           "catalog.lua": 'catalog "%s"\n' % name}, "arb-catreload-")
                os.makedirs(os.path.join(path, "data"))
                folder = os.path.join(path, os.path.dirname(name))
                self.write(folder, lines(BEFORE, OTHER))
                server = self.start_server(rules=path, workers=1, no_watch=False)
                c = self.connect(server)
                version = c.ok("ping")["version"]
                self.assertEqual(self.ids(c), ["stocked", "cheap", "browse"])
                self.write(folder, lines(AFTER, OTHER))
                self.assertTrue(wait_until(lambda: self.ids(c) == ["browse"], T(10)),
                                "the catalog file changed, the answers did not")
                self.assertEqual(c.ok("ping")["version"], version, "a catalog-only reload")
                server.stop()

    def test_a_catalog_reload_racing_a_full_reload_leaves_the_newest_file_serving(self):
        # Many actions and a plain Lua rule (one copy per worker): a full
        # reload takes a while, and a catalog-only reload of a changed file
        # lands before or after it. Either way the file's content serves in
        # the end, and a success answer names the catalog that serves.
        many = "".join('action "a%d" { channels = { "web" }, value = 0.01, when = bought { price = at_most(%d) } }\n'
                       % (i, i) for i in range(1500))
        path = self.folder(LUA_RULE + many)
        server = self.start_server(rules=path, workers=2)
        self.assertTrue(server.wait_for_path(server.admin_path), "no admin socket")

        def serving():
            return {self.connect(server).ok("ruleset")["catalog"]["checksum"] for _ in range(6)}

        (sum_a,) = serving()
        self.write(path, lines(AFTER, OTHER))
        sum_b = self.reload_catalog(server).result["catalog"]["checksum"]
        self.write(path, lines(BEFORE, OTHER))
        self.assertEqual(self.reload_catalog(server).result["catalog"]["checksum"], sum_a)
        began = time.monotonic()
        self.assertIsNone(server.reload().error)
        full = time.monotonic() - began
        contents = [(lines(BEFORE, OTHER), sum_a), (lines(AFTER, OTHER), sum_b)]
        for k in range(1, 9):
            text, want = contents[k % 2]
            box = {}
            t = threading.Thread(target=lambda: box.update(r=server.reload()))
            t.start()
            time.sleep(full * k / 9)
            self.write(path, text)
            r = self.reload_catalog(server)
            t.join(T(60))
            self.assertIsNone(box["r"].error, box["r"].error)
            self.assertIsNone(r.error, r.error)
            self.assertEqual(r.result["catalog"]["checksum"], want,
                             "round %d: a success answer names the file's catalog" % k)
            self.assertTrue(wait_until(lambda: serving() == {want}, T(10)),
                            "round %d: %s serves, the file's is %s" % (k, serving(), want))


if __name__ == "__main__":
    import unittest
    unittest.main()
