"""Personal payloads end to end (issue 17): an action's payload strings
with {fields} filled at decide time from the context and from what `track`
stored on a real LMDB folder, escaped by default, decided by the real
build/arbiter over real sockets; a payload without fields is sent byte for
byte as before; `arbiter check` names an unknown field with file:line."""

import json
import os
import socket
import unittest

import msgpack

from harness import FIXTURES, E2ETestCase, T, request_bytes, rules_folder, run_cli

RULES = FIXTURES / "payload"
RECO = FIXTURES / "payload_reco"
T0 = 1767225600   # 2026-01-01T00:00:00Z
DAY = 86400

BANNER_ONLY = ('touchpoint "home" { limit = 3 }\n'
               'action "banner" {\n'
               '  channels = { "web", "email" }, touchpoints = { "home" }, value = 1,\n'
               '  payload = { grid = { 3, "a", 9.5, true, { "x", "y" }, { k = "v" }, -7, "é" } },\n'
               '}\n')


def ctx(customer, **over):
    c = {"customer_id": customer, "channel": "web", "touchpoint": "home", "now": T0}
    c.update(over)
    return c


def payloads(decision):
    return {a["id"]: a["payload"] for a in decision["actions"]}


def raw_decide(srv, context):
    """The decide response's bytes, as the server sent them."""
    s = srv.raw_socket(timeout=T(10))
    try:
        s.sendall(request_bytes(1, "decide", [context]))
        data, unpacker = b"", msgpack.Unpacker(raw=False)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("closed before the answer")
            data += chunk
            unpacker.feed(chunk)
            for frame in unpacker:
                return data, frame
    finally:
        s.close()


def packed_payload(frame, action):
    """The payload of `action` in the response frame, packed again in its
    received key order (msgpack packs the shortest headers, as the engine)."""
    for a in frame[3]["actions"]:
        if a["id"] == action:
            return msgpack.packb(a["payload"], use_bin_type=True)
    raise AssertionError("%s not chosen: %r" % (action, frame))


def recommending_actions_built():
    """Whether this build has recommending actions (branch h-rec): the
    products tests run once it is merged."""
    r = run_cli(["check", str(RECO)])
    return "unknown field 'recommend'" not in r.stdout + r.stderr


class PayloadTest(E2ETestCase):

    def serve(self, rules=RULES):
        return self.start_server(rules=rules)

    def test_fields_from_the_context_are_filled_and_escaped(self):
        srv = self.serve()
        c = self.connect(srv)
        d = c.ok("decide", ctx("P1", attributes={"first_name": "<script>&\"'",
                                                 "member_since": "2023-01-05",
                                                 "last_order": T0 - 12 * DAY - 5}))
        p = payloads(d)
        self.assertEqual(p["welcome"], {
            "title": "Welcome back, &lt;script&gt;&amp;&quot;&#39;!",
            "loyalty": "2 years with us",
            "tier": "basic",
            "link": "/c/P1?ch=web&tp=home",
            "days": "12 days since your last order",
            "css": "{ color: red }",
        })
        self.assertEqual(p["note"], {"html": "<p>Hi <script>&\"'</p>"}, "escape = \"none\"")
        self.assertEqual(p["banner"], {"grid": [3, "a", 9.5, True, ["x", "y"], {"k": "v"}, -7, "é"]})

    def test_fields_from_attributes_stored_by_track(self):
        srv = self.serve()
        c = self.connect(srv)
        c.ok("track", {"customer_id": "P2", "now": T0 - DAY,
                       "attributes": {"first_name": "Zoë", "member_since": "2020-03-01", "tier": "gold"}})
        p = payloads(c.ok("decide", ctx("P2")))
        self.assertEqual(p["welcome"]["title"], "Welcome back, Zoë!")
        self.assertEqual(p["welcome"]["loyalty"], "5 years with us")
        self.assertEqual(p["welcome"]["tier"], "gold")
        self.assertEqual(p["note"], {"html": "<p>Hi Zoë</p>"})
        p = payloads(c.ok("decide", ctx("P2", attributes={"tier": "platinum"})))
        self.assertEqual(p["welcome"]["tier"], "platinum", "the context's value wins over the stored one")
        self.assertEqual(p["welcome"]["title"], "Welcome back, Zoë!")
        p = payloads(c.ok("decide", ctx("P3")))
        self.assertEqual(p["welcome"]["title"], "Welcome back, friend!", "another customer: the default")
        self.assertEqual(p["welcome"]["loyalty"], "0 years with us")

    def test_a_payload_without_fields_is_unchanged_byte_for_byte(self):
        with_templates = self.serve()
        plain = self.serve(rules_folder(self, BANNER_ONLY))
        context = ctx("P4", attributes={"first_name": "Ann"})
        data1, frame1 = raw_decide(with_templates, context)
        data2, frame2 = raw_decide(plain, context)
        b1, b2 = packed_payload(frame1, "banner"), packed_payload(frame2, "banner")
        self.assertIn(b1, data1, "the payload's bytes are in the answer as packed")
        self.assertIn(b2, data2)
        self.assertEqual(b1, b2, "the same bytes beside templated payloads as without them")
        data3, frame3 = raw_decide(with_templates, ctx("P6", attributes={"first_name": "Another"}))
        self.assertEqual(packed_payload(frame3, "banner"), b1)
        self.assertIn(b1, data3)

    def test_cli_decide_fills_the_fields(self):
        path = os.path.join(rules_folder(self, {"x.txt": ""}), "ctx.json")
        with open(path, "w") as f:
            json.dump(ctx("P5", attributes={"first_name": "Bo & Co"}), f)
        r = run_cli(["decide", "--rules", str(RULES), path, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        p = payloads(json.loads(r.stdout))
        self.assertEqual(p["welcome"]["title"], "Welcome back, Bo &amp; Co!")

    def test_check_names_an_unknown_field_with_file_and_line(self):
        bad = rules_folder(self, {"a.lua": '\naction "x" { channels = { "web" }, value = 1,\n'
                                           '  payload = { t = "Hello {first_name}" } }\n'})
        r = run_cli(["check", bad])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("a.lua:2: action 'x': payload \"Hello {first_name}\": unknown field {first_name}", out)
        self.assertIn("{attributes.KEY}", out)


    @unittest.skipUnless(recommending_actions_built(), "recommending actions (h-rec) not in this build")
    def test_a_recommending_action_fills_product_fields_and_lists_its_products(self):
        srv = self.serve(RECO)
        c = self.connect(srv)
        bought = [{"sku": "LT-1", "category": "laptop", "ts": T0 - DAY}]
        p = payloads(c.ok("decide", ctx("R1", purchases=bought, attributes={"first_name": "Ana"})))
        self.assertEqual(p["complete"]["headline"], "New from Acme &amp; Co: Mouse &lt;pro&gt; (plastic)")
        self.assertEqual(p["complete"]["hi"], "Hi Ana")
        self.assertEqual(p["complete"]["products"], [
            {"sku": "MS-1", "name": "Mouse <pro>", "brand": "Acme & Co", "category": "mouse",
             "color": "black", "price": 25.5},
            {"sku": "BG-1", "name": "Bag", "category": "bag", "price": 40.0}])
        # another customer: R1 was just shown these (a recommending action excludes them)
        p = payloads(c.ok("decide", ctx("R2", channel="email", purchases=bought)))
        self.assertEqual(p["listed"], {"products": [
            {"sku": "MS-1", "name": "Mouse <pro>", "brand": "Acme & Co", "category": "mouse",
             "color": "black", "price": 25.5}]}, "no payload: the products alone")

    @unittest.skipUnless(recommending_actions_built(), "recommending actions (h-rec) not in this build")
    def test_check_names_a_product_field_no_product_has(self):
        bad = rules_folder(self, {"products.jsonl": (RECO / "products.jsonl").read_text(),
                                  "a.lua": 'catalog "products.jsonl"\n'
                                           'action "x" { channels = { "web" }, value = 1,\n'
                                           '  recommend = { from = "complements" },\n'
                                           '  payload = { t = "{product.designer}" } }\n'})
        r = run_cli(["check", bad])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("a.lua:2: action 'x': payload: {product.designer}: no product of the catalog has "
                      "that field", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
