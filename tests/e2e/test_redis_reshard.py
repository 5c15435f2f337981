"""A slot migrated under load (issue 13, DESIGN.md section 5): two real
build/arbiter nodes on one real Redis Cluster keep deciding and tracking
while `redis-cli --cluster reshard` moves slots holding their customers
from one master to another and back.

What it proves would fail without the store's handling of a cluster that
changes under it (engine/state/redis.c: MOVED refreshes the slot map, ASK
follows a slot half-moved, commits are compare-and-set): no wrong answer
(every decision answered is well formed; a cap of 3 is never exceeded:
the grants answered per customer are at most what `customer` records,
which is at most the cap); errors only as --state-fail closed allows
(`unavailable`); and recovery without restarting either node (after the
migration every customer decides and tracks without error).

The cluster and its helpers come from test_redis_nodes (the one tests/run
starts, or one of our own); skipped only when redis-server is absent. The
slots go back to their master at cleanup and the cluster must be ok, so
later tests see the layout they expect.
"""

import binascii
import subprocess
import threading
import time
import unittest

import test_redis_nodes
from harness import T
from test_state import contacts_of, ctx, offer_rules

SLOTS = 256     # moved by each reshard: enough to hold a dozen customers
CAP = 3
# A cap to count, and an event the rules read, so track stores it.
RULES = offer_rules(cap=CAP) + (
    'action "laptop_bag" { channels = { "web", "email", "app" }, value = 5,\n'
    '  when = viewed("laptop", within(days(14))) }\n')
VIEW = {"type": "view", "category": "laptop", "channel": "web"}


def slot_of(cid):
    """The key's cluster slot: CRC16 (XMODEM, which crc_hqx is) of the hash
    tag engine/state/redis.c puts in every key of a customer, {c:ID}."""
    return binascii.crc_hqx(("c:%s" % cid).encode(), 0) % 16384


class RedisReshardTest(test_redis_nodes.RedisNodesTest):

    # -- cluster ---------------------------------------------------------

    def redis(self, port, *args):
        cp = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                            text=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def masters(self):
        """{port: (node id, set of slots)} from CLUSTER NODES."""
        out = {}
        for line in self.redis(self.ports[0], "cluster", "nodes").splitlines():
            f = line.split()
            if "master" not in f[2] or "fail" in f[2]:
                continue
            slots = set()
            for r in f[8:]:
                if r.startswith("["):
                    continue        # a slot being migrated, listed twice
                lo, _, hi = r.partition("-")
                slots.update(range(int(lo), int(hi or lo) + 1))
            out[int(f[1].split("@")[0].rsplit(":", 1)[1])] = (f[0], slots)
        return out

    def reshard(self, src, dst):
        """Move SLOTS slots from master src to master dst; reshard takes the
        source's lowest slots."""
        m = self.masters()
        cp = subprocess.run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % src,
                             "--cluster-from", m[src][0], "--cluster-to", m[dst][0],
                             "--cluster-slots", str(SLOTS), "--cluster-yes"],
                            capture_output=True, text=True, timeout=T(60))
        self.assertEqual(cp.returncode, 0, cp.stdout[-2000:] + cp.stderr)

    def cluster_ok(self):
        deadline = time.monotonic() + T(30)
        for p in self.ports:
            while "cluster_state:ok" not in self.redis(p, "cluster", "info"):
                self.assertLess(time.monotonic(), deadline, "cluster not ok on %d" % p)
                time.sleep(0.1)

    def restore(self, src, dst, moved):
        """Cleanup: slots still on dst go back to src, whatever failed."""
        m = self.masters()
        if moved & m[dst][1]:
            self.reshard(dst, src)
        self.assertFalse(moved - self.masters()[src][1], "slots not back on their master")
        self.cluster_ok()

    # -- the test --------------------------------------------------------

    def test_a_slot_resharded_under_load_gives_no_wrong_answer_and_recovers(self):
        self.cluster_ok()
        src, dst = self.ports[0], self.ports[1]
        moved = set(sorted(self.masters()[src][1])[:SLOTS])
        self.assertEqual(len(moved), SLOTS)
        self.addCleanup(self.restore, src, dst, moved)
        # Customers in the slots that move, and a few elsewhere.
        inside, outside = [], []
        while len(inside) < 12 or len(outside) < 4:
            c = self.cid("R")
            (inside if slot_of(c) in moved else outside).append(c)
        who = inside[:12] + outside[:4]

        a, b = self.node(RULES), self.node(RULES)
        grants, ca = {}, self.connect(a)
        for w in who:    # every customer has keys in its slot before it moves
            r = ca.call("decide", ctx(w), timeout=T(10))
            self.assertIsNone(r.error, r.error)
            grants[w] = 1 if "offer" in [x["id"] for x in r.result["actions"]] else 0
        lock = threading.Lock()
        seen = {"decide": 0, "track": 0}
        bad, errors = [], {}
        stop = threading.Event()

        def load(client, k):
            i = k
            while not stop.is_set():
                w = who[i % len(who)]
                i += 1
                method = "track" if i % 3 == 0 else "decide"
                args = ({"customer_id": w, "events": [dict(VIEW, sku="S%d" % i)]}
                        if method == "track" else ctx(w))
                r = client.call(method, args, timeout=T(15))
                with lock:
                    seen[method] += 1
                    if r.error is not None:
                        code = r.error.get("code") if isinstance(r.error, dict) else r.error
                        errors[code] = errors.get(code, 0) + 1
                    elif method == "track":
                        # 0: the same view in the same second, kept once.
                        if r.result not in ({"stored": 0}, {"stored": 1}):
                            bad.append((method, w, r.result))
                    else:
                        acts = r.result.get("actions") if isinstance(r.result, dict) else None
                        if not isinstance(acts, list) or not all(
                                isinstance(x, dict) and isinstance(x.get("id"), str)
                                for x in acts):
                            bad.append((method, w, r.result))
                        elif "offer" in [x["id"] for x in acts]:
                            grants[w] += 1

        def under_load(move):
            """Load on both nodes from 6 connections while move() runs."""
            stop.clear()
            clients = [self.connect(a) for _ in range(3)] + [self.connect(b) for _ in range(3)]
            threads = [threading.Thread(target=load, args=(c, k * 5), daemon=True)
                       for k, c in enumerate(clients)]
            for t in threads:
                t.start()
            try:
                time.sleep(0.5)
                before = seen["decide"]
                move()
                time.sleep(0.5)
            finally:
                stop.set()
                for t in threads:
                    t.join(T(30))
            self.assertFalse(any(t.is_alive() for t in threads), "a load thread hung")
            self.assertGreater(seen["decide"], before, "no load during the migration")
            self.assertEqual(bad, [], "malformed answers")
            self.assertLessEqual(set(errors), {"unavailable"}, "errors %r" % errors)

        def recovered(when):
            """Without a restart, every customer decides and tracks on both
            nodes: the slot map followed the cluster."""
            for w in who:
                for c in (ca, cb):
                    r = c.call("decide", ctx(w), timeout=T(10))
                    self.assertIsNone(r.error, "%s %s: %r" % (w, when, r.error))
                    if "offer" in [x["id"] for x in r.result["actions"]]:
                        grants[w] += 1
                    r = c.call("track", {"customer_id": w, "events": [dict(VIEW, sku="X")]},
                               timeout=T(10))
                    self.assertIsNone(r.error, "%s track %s: %r" % (w, when, r.error))
                    self.assertIn(r.result, ({"stored": 0}, {"stored": 1}))

        def there():
            self.reshard(src, dst)
            on_dst = self.masters()[dst][1]
            self.assertTrue(all(slot_of(w) in on_dst for w in inside[:12]),
                            "reshard did not move the customers' slots")

        cb = self.connect(b)
        under_load(there)
        recovered("with its slot moved")
        under_load(lambda: self.reshard(dst, src))
        recovered("with its slot moved back")

        # The cap: grants answered never exceed what the store recorded,
        # nor the cap.
        for w in who:
            stored = contacts_of(self.customer(a, w), "offer")
            self.assertEqual(stored, contacts_of(self.customer(b, w), "offer"))
            self.assertLessEqual(stored, CAP, "%s: cap exceeded" % w)
            self.assertLessEqual(grants[w], stored, "%s: %d granted, %d recorded"
                                 % (w, grants[w], stored))
        print("\nreshard under load: %r answered, errors %r" % (seen, errors))
        self.assert_stops_cleanly(a)
        self.assert_stops_cleanly(b)


def load_tests(loader, tests, pattern):
    """Only this file's test: the imported class's own tests run from
    their own file."""
    names = [n for n in loader.getTestCaseNames(RedisReshardTest)
             if n in RedisReshardTest.__dict__]
    return unittest.TestSuite(RedisReshardTest(n) for n in names)


if __name__ == "__main__":
    unittest.main()
