"""The words on any field of a purchase or an event, end to end (issue 16,
dsl/README.md "Any field of a purchase or an event"): a purchase `track`
stored with a brand and a size, read back from the real LMDB store and
matched by `bought { brand = ..., size = ... }` and by a plain Lua rule
reading the same fields; an online view stored earlier ordered with a
purchase in the context by `before(...)`.

What would fail without the slice: the stored record's extra fields are
dropped when history joins the context (decide/history.c), never read by
the C words (request/recfield.c), or invisible to plain Lua
(bindings/lua/context.c).
"""

import time

from harness import E2ETestCase, rules_folder

RULES = (
    'action "acme_c" { channels = { "web", "email" }, value = 3,\n'
    '  when = bought { brand = "acme", size = 42, channel = "store" } }\n'
    'action "acme_lua" { channels = { "web", "email" }, value = 2, when = function(c)\n'
    '  for _, p in ipairs(c.purchases) do\n'
    '    if p.brand == "acme" and p.size == 42 and p.channel == "store" then return true end\n'
    '  end\n'
    '  return false end }\n'
    'action "after_browsing" { channels = { "web", "email" }, value = 1,\n'
    '  when = before(viewed { category = "laptop", channel = "web", designer = "ito" },\n'
    '                bought { category = "laptop", channel = "store" }) }\n'
    'action "browse" { channels = { "web", "email" }, value = 0.1 }\n')


def ctx(customer, **over):
    c = {"customer_id": customer, "channel": "email", "touchpoint": "email_weekly"}
    c.update(over)
    return c


class StoredFieldsTest(E2ETestCase):

    def ids(self, c, customer, **over):
        return [a["id"] for a in c.ok("decide", ctx(customer, **over))["actions"]]

    def test_a_tracked_purchases_fields_are_matched_in_c_and_in_lua(self):
        srv = self.start_server(rules=rules_folder(self, RULES, "arb-words-"))
        c = self.connect(srv)
        self.assertEqual(self.ids(c, "W1"), ["browse"])
        c.ok("track", {"customer_id": "W1", "purchases": [
            {"sku": "SH-1", "category": "shoes", "channel": "store", "price": 80,
             "brand": "acme", "size": 42, "color": "red"}]})
        self.assertEqual(self.ids(c, "W1"), ["acme_c", "acme_lua", "browse"])
        # Another size: neither the word nor the plain rule.
        c.ok("track", {"customer_id": "W2", "purchases": [
            {"sku": "SH-1", "category": "shoes", "channel": "store", "brand": "acme", "size": 41}]})
        self.assertEqual(self.ids(c, "W2"), ["browse"])

    def test_a_stored_view_orders_with_a_purchase_in_the_context(self):
        srv = self.start_server(rules=rules_folder(self, RULES, "arb-words-"))
        c = self.connect(srv)
        now = int(time.time())
        c.ok("track", {"customer_id": "V1", "events": [
            {"type": "view", "category": "laptop", "channel": "web", "designer": "ito",
             "ts": now - 3 * 86400}]})
        bought = {"category": "laptop", "channel": "store", "ts": now - 86400}
        self.assertIn("after_browsing", self.ids(c, "V1", purchases=[bought]))
        early = dict(bought, ts=now - 5 * 86400)
        self.assertNotIn("after_browsing", self.ids(c, "V1", purchases=[early]))
        # The view's extra field counts: another customer's view by another designer.
        c.ok("track", {"customer_id": "V2", "events": [
            {"type": "view", "category": "laptop", "channel": "web", "designer": "kim",
             "ts": now - 3 * 86400}]})
        self.assertNotIn("after_browsing", self.ids(c, "V2", purchases=[bought]))


if __name__ == "__main__":
    import unittest
    unittest.main()
