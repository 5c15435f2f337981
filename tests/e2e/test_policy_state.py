"""Contact policy end to end (issue 12): caps, cooldowns, suppressions,
channel limits and both counting modes, decided by the real build/arbiter
over real sockets on a real LMDB folder, with time moved by the context's
`now` (contacts and outcomes are recorded at the decision's or the
feedback's time)."""

import time
import unittest

from test_state import StateTestCase

DAY = 86400
T0 = 1767225600   # 2026-01-01


def ctx(customer, channel, now, **over):
    c = {"customer_id": customer, "channel": channel, "touchpoint": "home", "now": now,
         "limit": 1, "explain": True}
    c.update(over)
    return c


class PolicyTest(StateTestCase):

    def decide(self, c, customer, channel, now, **over):
        d = c.ok("decide", ctx(customer, channel, now, **over))
        reasons = {e["id"]: e["reason"] for e in d.get("explain", [])}
        return [a["id"] for a in d["actions"]], reasons, d

    def feedback(self, c, customer, action, outcome, ts, **over):
        fb = {"customer_id": customer, "action": action, "outcome": outcome, "ts": ts}
        fb.update(over)
        c.ok("feedback", fb)

    def test_a_cooldown_pauses_an_action_after_each_contact(self):
        srv = self.serve('action "cool" { channels = { "email" }, value = 30, cooldown = days(3) }\n'
                         'action "filler" { channels = { "email" }, value = 1 }\n')
        c = self.connect(srv)
        self.assertEqual(self.decide(c, "K1", "email", T0)[0], ["cool"])
        ids, why, _ = self.decide(c, "K1", "email", T0 + DAY)
        self.assertEqual(ids, ["filler"], why)
        self.assertTrue(why["cool"].startswith("cooldown: 3 days, last contact 2026-01-01"), why["cool"])
        self.assertEqual(self.decide(c, "K1", "email", T0 + 3 * DAY + 1)[0], ["cool"],
                         "the cooldown ends 3 days after the contact")
        self.assertEqual(self.decide(c, "K2", "email", T0 + DAY)[0], ["cool"],
                         "another customer's contacts are not this one's")

    def test_a_channel_cap_holds_across_actions(self):
        srv = self.serve('channel "email" { cap = { 2, per = days(7) } }\n'
                         'action "a" { channels = { "email", "web" }, value = 3 }\n'
                         'action "b" { channels = { "email", "web" }, value = 2 }\n')
        c = self.connect(srv)
        self.assertEqual(self.decide(c, "E1", "email", T0)[0], ["a"])
        self.assertEqual(self.decide(c, "E1", "email", T0 + 1)[0], ["a"])
        ids, why, _ = self.decide(c, "E1", "email", T0 + 2)
        self.assertEqual(ids, [], "a third email within 7 days: %r" % why)
        self.assertEqual(why["a"], "cap: channel email 2 per 7 days, 2 used")
        self.assertEqual(why["b"], "cap: channel email 2 per 7 days, 2 used")
        self.assertEqual(self.decide(c, "E1", "web", T0 + 3)[0], ["a"], "the web is not email")
        self.assertEqual(self.decide(c, "E1", "email", T0 + 7 * DAY + 1)[0], ["a"],
                         "the first contact left the window")
        cust = self.customer(srv, "E1")
        self.assertEqual(sum(1 for k in cust["contacts"] if k["channel"] == "email"), 3)

    def test_an_action_cap_and_a_group_cap(self):
        srv = self.serve('group "promo" { cap = { 2, per = days(7) } }\n'
                         'action "p1" { channels = { "email" }, value = 5, group = "promo", cap = { 1, per = days(7) } }\n'
                         'action "p2" { channels = { "email" }, value = 4, group = "promo" }\n'
                         'action "p3" { channels = { "email" }, value = 3, group = "promo" }\n'
                         'action "other" { channels = { "email" }, value = 1 }\n')
        c = self.connect(srv)
        self.assertEqual(self.decide(c, "G1", "email", T0)[0], ["p1"])
        ids, why, _ = self.decide(c, "G1", "email", T0 + 1)
        self.assertEqual(ids, ["p2"])
        self.assertEqual(why["p1"], "cap: 1 per 7 days, 1 used")
        ids, why, _ = self.decide(c, "G1", "email", T0 + 2)
        self.assertEqual(ids, ["other"], why)
        self.assertEqual(why["p3"], "cap: group promo 2 per 7 days, 2 used")

    def test_two_dismissals_pause_an_action_and_a_conversion_ends_it(self):
        srv = self.serve('action "promo" { channels = { "web" }, value = 10,\n'
                         '  suppress = { dismiss = { times = 2, within = days(30), pause = days(14) },\n'
                         '               convert = "forever" } }\n'
                         'action "filler" { channels = { "web" }, value = 1 }\n')
        c = self.connect(srv)
        self.feedback(c, "S1", "promo", "dismiss", T0)
        self.assertEqual(self.decide(c, "S1", "web", T0 + 10)[0], ["promo"], "one dismissal is not two")
        self.feedback(c, "S1", "promo", "dismiss", T0 + DAY)
        ids, why, _ = self.decide(c, "S1", "web", T0 + DAY + 10)
        self.assertEqual(ids, ["filler"])
        self.assertEqual(why["promo"], "suppressed: dismiss, until 2026-01-16")
        self.assertEqual(self.decide(c, "S1", "web", T0 + 16 * DAY)[0], ["promo"],
                         "the pause is over 14 days after the second dismissal")
        self.feedback(c, "S1", "promo", "convert", T0 + 17 * DAY)
        ids, why, _ = self.decide(c, "S1", "web", T0 + 400 * DAY)
        self.assertEqual(ids, ["filler"])
        self.assertEqual(why["promo"], "suppressed: convert, forever")

    def test_the_web_counts_on_impression_and_email_on_decision(self):
        srv = self.serve('action "w" { channels = { "web", "email" }, value = 10, cap = { 1, per = days(7) } }\n'
                         'action "d" { channels = { "web" }, value = 5, counts = "decision", cap = { 1, per = days(7) } }\n'
                         'action "filler" { channels = { "web", "email" }, value = 1 }\n')
        c = self.connect(srv)
        # On the web a decision is not a contact: only the reported impression is.
        self.assertEqual(self.decide(c, "I1", "web", T0)[0], ["w"])
        self.assertEqual(self.decide(c, "I1", "web", T0 + 1)[0], ["w"], "nothing counted yet")
        self.feedback(c, "I1", "w", "impression", T0 + 2, channel="web")
        ids, why, _ = self.decide(c, "I1", "web", T0 + 3)
        self.assertEqual(ids, ["d"])
        self.assertEqual(why["w"], "cap: 1 per 7 days, 1 used")
        # d counts at decision although it is on the web.
        ids, why, _ = self.decide(c, "I1", "web", T0 + 4)
        self.assertEqual(ids, ["filler"], why)
        self.assertEqual(why["d"], "cap: 1 per 7 days, 1 used")
        # Email counts at decision.
        self.assertEqual(self.decide(c, "I2", "email", T0)[0], ["w"])
        self.assertEqual(self.decide(c, "I2", "email", T0 + 1)[0], ["filler"])

    def test_a_preview_counts_nothing(self):
        srv = self.serve('action "once" { channels = { "email" }, value = 10, cap = { 1, per = days(7) } }\n'
                         'action "filler" { channels = { "email" }, value = 1 }\n')
        c = self.connect(srv)
        for i in range(3):
            self.assertEqual(self.decide(c, "P1", "email", T0 + i, preview=True)[0], ["once"])
        self.assertEqual(self.customer(srv, "P1").get("contacts") or [], [])
        self.assertEqual(self.decide(c, "P1", "email", T0 + 5)[0], ["once"])
        self.assertEqual(self.decide(c, "P1", "email", T0 + 6)[0], ["filler"])


if __name__ == "__main__":
    unittest.main()
