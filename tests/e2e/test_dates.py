"""The customer's timezone and the date words through the real server
(issue 16): a context's `timezone` is checked like every other field, and
a date word, a local-time word and a helper shared across files decide
over real sockets as the unit tests decide in process."""

import os
import shutil
import tempfile
import unittest

import harness
from harness import E2ETestCase

NOW = 1767225600  # 2026-01-01T00:00:00Z, a Thursday

SHARED = """
share("anniversary_week", anniversary("member_since", { within = days(7) }))
"""

RULES = """
touchpoint "home" { limit = 5 }

action "anniversary_gift" {
  channels = { "web" },
  value    = 10,
  when     = shared.anniversary_week,
}

action "breakfast" {
  channels = { "web" },
  value    = 5,
  when     = hour_between(6, 10),
}

fallback "nothing" { channels = { "web" }, value = 0.1 }
"""


class DatesTest(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rules = tempfile.mkdtemp(prefix="arb-dates-", dir="/tmp")
        with open(os.path.join(cls.rules, "_shared.lua"), "w") as f:
            f.write(SHARED)
        with open(os.path.join(cls.rules, "rules.lua"), "w") as f:
            f.write(RULES)
        try:
            cls.server = harness.start_shared_server(rules=cls.rules)
        except BaseException:
            shutil.rmtree(cls.rules, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.rules, ignore_errors=True)

    def setUp(self):
        self.c = self.connect(self.server)

    def decide(self, **over):
        ctx = {"customer_id": "c-1", "channel": "web", "touchpoint": "home", "now": NOW}
        ctx.update(over)
        return self.c.call("decide", ctx)

    def ids(self, **over):
        r = self.decide(**over)
        self.assertIsNone(r.error, r.error)
        return [a["id"] for a in r.result["actions"]]

    def test_a_timezone_name_or_a_wrong_type_is_invalid_params(self):
        for tz in ("Europe/Paris", "+2", "UTC", 120, None, ["+02:00"]):
            with self.subTest(timezone=tz):
                self.assert_error(self.decide(timezone=tz), "invalid_params", "timezone")
        self.assert_error(self.decide(timezone="Europe/Paris"), "invalid_params",
                          "timezone: expected an offset such as +02:00")

    def test_the_customer_timezone_moves_the_local_hour(self):
        # 07:00 UTC: breakfast in UTC, not at -05:00 (02:00) nor at +04:00 (11:00).
        self.assertIn("breakfast", self.ids(now=NOW + 7 * 3600))
        self.assertNotIn("breakfast", self.ids(now=NOW + 7 * 3600, timezone="-05:00"))
        self.assertNotIn("breakfast", self.ids(now=NOW + 7 * 3600, timezone="+04:00"))
        self.assertIn("breakfast", self.ids(now=NOW + 2 * 3600, timezone="+05:30"))

    def test_a_shared_anniversary_word_reads_a_date_attribute(self):
        self.assertIn("anniversary_gift", self.ids(attributes={"member_since": "2023-01-05"}))
        self.assertIn("anniversary_gift", self.ids(attributes={"member_since": NOW - 365 * 86400}))
        self.assertNotIn("anniversary_gift", self.ids(attributes={"member_since": "2022-12-31"}))
        self.assertNotIn("anniversary_gift", self.ids(attributes={"member_since": "soon"}))
        self.assertNotIn("anniversary_gift", self.ids())
        # Jan 7 at 23:30 UTC is already Jan 8 at +01:00: an anniversary on
        # Jan 7 is today in UTC, yesterday for the customer.
        late = NOW + 6 * 86400 + 23 * 3600 + 1800
        self.assertIn("anniversary_gift", self.ids(now=late, attributes={"member_since": "2020-01-07"}))
        self.assertNotIn("anniversary_gift",
                         self.ids(now=late, timezone="+01:00", attributes={"member_since": "2020-01-07"}))

if __name__ == "__main__":
    unittest.main()
