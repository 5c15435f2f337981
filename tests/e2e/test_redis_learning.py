"""Two nodes learn together (issue 14, DESIGN.md section 6): two real
build/arbiter processes on one real Redis Cluster, each adding its evidence
to the arms stored there and reading back the other's.

Would fail without the Redis backend's arms sync (each node would see only
its own evidence) or without offers in the shared customer record (feedback
reaching the node that did not decide would teach nothing).
"""

import time
import uuid

from harness import T, rules_folder, wait_until
from test_redis_nodes import RedisClusterCase

T0 = int(time.time()) - 86400


class RedisLearningTest(RedisClusterCase):

    def learner_node(self, rules):
        folder = rules_folder(self, rules, "arb-redis-learn-")
        return self.start_server(rules=folder, workers=2, state="redis://" + self.seeds,
                                 extra_args=["--learn-ms", "20", "--state-timeout-ms", "500"])

    def test_two_nodes_learn_together(self):
        # The cluster outlives the test: an action name of this run only.
        action = "promo_%s" % uuid.uuid4().hex[:10]
        rules = ('touchpoint "home" { limit = 1 }\n'
                 'action "%s" { channels = { "web" }, value = 1, '
                 'propensity = adaptive { prior = 0.1, strength = 2 } }\n' % action)
        a, b = self.learner_node(rules), self.learner_node(rules)
        ca, cb = self.connect(a, timeout=T(10)), self.connect(b, timeout=T(10))

        def show(c, cid, click, answer_on=None):
            d = c.ok("decide", {"customer_id": cid, "channel": "web", "touchpoint": "home",
                                "now": T0})
            self.assertEqual([x["id"] for x in d["actions"]], [action])
            on = answer_on or c
            fb = {"customer_id": cid, "action": action, "decision_id": d["decision_id"],
                  "ts": T0 + 5}
            on.ok("feedback", dict(fb, outcome="impression"))
            if click:
                on.ok("feedback", dict(fb, outcome="click"))

        for i in range(5):
            show(ca, self.cid("a%d" % i), click=i < 2)
        for i in range(3):
            show(cb, self.cid("b%d" % i), click=i < 1)
        # Decided on A, reported to B: the offer is in the shared record.
        show(ca, self.cid("x"), click=True, answer_on=cb)

        def arm(c):
            got = c.ok("learning", {"action": action})
            return (got[0]["positives"], got[0]["trials"]) if got else None

        for c, name in ((ca, "A"), (cb, "B")):
            self.assertTrue(wait_until(lambda: arm(c) == (4, 9), T(10)),
                            "node %s sees %r, not both nodes' evidence (4, 9)" % (name, arm(c)))
        self.assert_stops_cleanly(a)
        self.assert_stops_cleanly(b)
