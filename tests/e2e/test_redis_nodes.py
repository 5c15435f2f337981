"""Several nodes, one memory (issue 13, DESIGN.md section 5): two real
build/arbiter processes on one real Redis Cluster (--state redis://...).

What each test proves would fail without the server's wiring of the Redis
store: what one node records, the other decides on (track, forget); a cap
is exact across nodes under concurrent load (compare-and-set commits, the
re-decision when a place was taken); a master that dies, or the whole
cluster, gives answers that follow --state-fail within the store's
deadline, counted in state_failures, and the nodes recover without a
restart when Redis comes back.

The cluster: the one tests/run starts (ARB_REDIS, ARB_REDIS_DIR,
REDIS_CLUSTER_PORT); without it, one started here with scripts/redis-cluster
on free ports; skipped only when redis-server is not installed. Nodes that
a test stops are started again in its cleanup, so later tests have them.
"""

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import E2ETestCase, T, rules_folder
from test_state import ACROSS, contacts_of, ctx, offer_rules, strings_in

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "redis-cluster")


def cluster_cmd(env, *args, timeout=60):
    return subprocess.run([SCRIPT] + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout)


class RedisClusterCase(E2ETestCase):
    """A test class on the shared Redis Cluster, with its node helpers; no
    tests of its own (test_redis_learning.py builds on it too)."""
    seeds = None
    own_dir = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("redis-server"):
            raise unittest.SkipTest("redis-server is not installed (scripts/setup)")
        env = dict(os.environ)
        if os.environ.get("ARB_REDIS") and os.environ.get("ARB_REDIS_DIR"):
            cls.seeds = os.environ["ARB_REDIS"]
            cls.dir = os.environ["ARB_REDIS_DIR"]
        else:
            cls.own_dir = tempfile.mkdtemp(prefix="arb-redis-e2e-", dir="/tmp")
            cls.dir = os.path.join(cls.own_dir, "cluster")
            for _ in range(10):
                base = random.randrange(20000, 40000, 10)
                env["REDIS_CLUSTER_PORT"] = str(base)
                cp = cluster_cmd(env, "start", cls.dir)
                if cp.returncode == 0:
                    cls.seeds = cp.stdout.strip()
                    break
                cluster_cmd(env, "stop", cls.dir)
            if not cls.seeds:
                shutil.rmtree(cls.own_dir, True)
                raise AssertionError("could not start a Redis Cluster: %s" % cp.stderr)
        cls.ports = [int(s.rsplit(":", 1)[1]) for s in cls.seeds.split(",")]
        env["REDIS_CLUSTER_PORT"] = str(min(cls.ports))
        cls.env = env

    @classmethod
    def tearDownClass(cls):
        if cls.own_dir:
            cluster_cmd(cls.env, "stop", cls.dir)
            shutil.rmtree(cls.own_dir, True)

    # -- helpers ---------------------------------------------------------

    def cid(self, name):
        """A customer id of this run only: the cluster outlives the test."""
        return "%s-%s" % (name, uuid.uuid4().hex[:12])

    def node(self, rules, fail="closed", workers=2, timeout_ms=200):
        folder = rules_folder(self, rules, "arb-redis-rules-")
        return self.start_server(rules=folder, workers=workers, state="redis://" + self.seeds,
                                 extra_args=["--state-fail", fail,
                                             "--state-timeout-ms", str(timeout_ms)])

    def customer(self, srv, cid):
        return self.connect_unix(srv.admin_path).ok("customer", {"customer_id": cid},
                                                    timeout=T(10))

    def stats(self, srv):
        return self.connect(srv).ok("stats", timeout=T(10))

    def stop_nodes(self, ports):
        """Stop masters now, start them again at cleanup (all together: a
        node waits for the cluster to be whole)."""
        self.addCleanup(self.start_nodes, ports)
        self.down = set(ports)
        for p in ports:
            cp = cluster_cmd(self.env, "node-stop", self.dir, str(p))
            self.assertEqual(cp.returncode, 0, cp.stderr)

    def start_nodes(self, ports):
        ports = [p for p in ports if p in getattr(self, "down", ())]
        self.down = set()
        procs = [subprocess.Popen([SCRIPT, "node-start", self.dir, str(p)], env=self.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for p in ports]
        for p in procs:
            _, err = p.communicate(timeout=90)
            self.assertEqual(p.returncode, 0, err)

    def assert_stops_cleanly(self, srv):
        """SIGTERM: the drain closes each worker's Redis connections and
        timers on its own loop; exit 0 (under ASan: nothing leaked)."""
        rc = srv.stop(timeout=T(15))
        self.assertEqual(rc, 0, "exit %s after SIGTERM\n%s" % (rc, srv.stderr_tail()))

    def timed_decide(self, c, cid, bound):
        t0 = time.monotonic()
        r = c.call("decide", ctx(cid), timeout=bound)
        return r, time.monotonic() - t0



class RedisNodesTest(RedisClusterCase):

    def test_track_on_one_node_is_seen_by_decide_on_the_other(self):
        a, b = self.node(ACROSS), self.node(ACROSS)
        ca, cb = self.connect(a), self.connect(b)
        v = self.cid("V")
        ids = lambda c, who: [x["id"] for x in c.ok("decide", ctx(who, "email"))["actions"]]
        self.assertNotIn("laptop_bag", ids(cb, v))
        self.assertEqual(ca.ok("track", {"customer_id": v, "events": [
            {"type": "view", "category": "laptop", "sku": "LP-7", "channel": "web"}]}),
            {"stored": 1})
        self.assertIn("laptop_bag", ids(cb, v), "node B did not see node A's track")
        self.assertIn("LP-7", set(strings_in(self.customer(b, v))))

    def test_a_cap_is_exact_across_two_nodes_under_load(self):
        a, b = self.node(offer_rules(cap=3)), self.node(offer_rules(cap=3))
        who = self.cid("CAP")
        clients = [self.connect(a) for _ in range(8)] + [self.connect(b) for _ in range(8)]
        barrier = threading.Barrier(len(clients))
        results = [None] * len(clients)

        def run(i):
            barrier.wait()
            results[i] = clients[i].call("decide", ctx(who), timeout=T(30))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(60))
        for r in results:
            self.assertIsNotNone(r)
            self.assertIsNone(r.error, r.error)
        granted = sum(1 for r in results if "offer" in [x["id"] for x in r.result["actions"]])
        self.assertEqual(granted, 3, "a cap of 3 across two nodes granted %d times" % granted)
        self.assertEqual(contacts_of(self.customer(a, who), "offer"), 3)
        self.assertEqual(contacts_of(self.customer(b, who), "offer"), 3)
        self.assert_stops_cleanly(a)
        self.assert_stops_cleanly(b)

    def test_forget_on_one_node_erases_for_the_other(self):
        a, b = self.node(ACROSS), self.node(ACROSS)
        g = self.cid("G")
        self.connect(a).ok("track", {"customer_id": g, "events": [
            {"type": "view", "category": "laptop", "sku": "LP-1", "channel": "web"}]})
        cb = self.connect(b)
        self.assertIn("laptop_bag", [x["id"] for x in cb.ok("decide", ctx(g, "email"))["actions"]])
        self.assertEqual(self.connect_unix(a.admin_path).ok("forget", {"customer_id": g}),
                         {"forgotten": True})
        self.assertNotIn("laptop_bag",
                         [x["id"] for x in cb.ok("decide", ctx(g, "email"))["actions"]])
        self.assertNotIn("LP-1", set(strings_in(self.customer(b, g))))

    def test_a_master_stopped_follows_state_fail_and_recovers(self):
        closed, opened = self.node(offer_rules()), self.node(offer_rules(), fail="open")
        cc, co = self.connect(closed), self.connect(opened)
        who = [self.cid("M%d" % i) for i in range(24)]   # spread over the three masters
        for w in who:
            self.assertIsNone(cc.call("decide", ctx(w), timeout=T(10)).error)
        self.stop_nodes([self.ports[1]])
        errors, bound = set(), T(5)
        for w in who:
            r, took = self.timed_decide(cc, w, bound)
            self.assertLess(took, bound)
            if r.error is not None:
                errors.add(r.error["code"])
            r, took = self.timed_decide(co, w, bound)
            self.assertIsNone(r.error, "--state-fail open answered an error: %r" % (r.error,))
            self.assertIn("offer", [x["id"] for x in r.result["actions"]])
        self.assertEqual(errors, {"unavailable"})
        self.assertGreater(self.stats(closed)["state_failures"], 0)
        self.assertGreater(self.stats(opened)["state_failures"], 0)
        self.start_nodes([self.ports[1]])
        # Both nodes recover without a restart: every customer decides again.
        deadline = time.monotonic() + T(30)
        while True:
            failed = [w for w in who if cc.call("decide", ctx(w), timeout=T(10)).error is not None]
            if not failed:
                break
            self.assertLess(time.monotonic(), deadline, "still failing: %d customers" % len(failed))
            time.sleep(0.5)
        before = self.stats(opened)["state_failures"]
        for w in who:
            self.assertIsNone(co.call("decide", ctx(w), timeout=T(10)).error)
        self.assertEqual(self.stats(opened)["state_failures"], before)

    def test_redis_stopped_entirely_follows_state_fail(self):
        closed, opened = self.node(offer_rules()), self.node(offer_rules(), fail="open")
        cc, co = self.connect(closed), self.connect(opened)
        w = self.cid("D")
        self.assertIsNone(cc.call("decide", ctx(w), timeout=T(10)).error)
        self.stop_nodes(self.ports)
        bound = T(5)
        r, took = self.timed_decide(cc, w, bound)
        self.assertIsNotNone(r.error)
        self.assertEqual(r.error["code"], "unavailable", r.error)
        self.assertLess(took, bound)
        r, took = self.timed_decide(co, w, bound)
        self.assertIsNone(r.error, r.error)
        self.assertIn("offer", [x["id"] for x in r.result["actions"]])
        r = cc.call("track", {"customer_id": w, "events": [{"type": "view", "sku": "S"}]},
                    timeout=bound)
        self.assertEqual(r.error["code"], "unavailable", r.error)
        self.assertGreaterEqual(self.stats(closed)["state_failures"], 2)
        self.assertGreaterEqual(self.stats(opened)["state_failures"], 1)
        # Requests waiting on a Redis that is gone do not hold the drain.
        for i in range(20):
            cc.send_request("decide", [ctx(w)])
        self.assert_stops_cleanly(closed)
        self.assert_stops_cleanly(opened)


if __name__ == "__main__":
    unittest.main()
