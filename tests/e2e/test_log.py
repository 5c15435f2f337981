"""The decision log end to end (issue 15, DESIGN.md section 7): the real
server with --log, over real sockets, on a real LMDB folder.

What each test proves would fail without the server's part: decisions,
feedback and purchases are logged after their commit, each customer named
by the same pseudonym and never by id; rotation under load keeps every
line whole and the counts add up; a full disk drops and counts while
decisions are still answered; kill -9 tears at most the last line of the
last file; `forget` erases the pseudonym, and the customer's next decision
is logged under a new one.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import E2ETestCase, T, rules_folder, run_cli

RULES = ('action "offer" { channels = { "web", "email" }, value = 10, counts = "decision" }\n'
         'action "other" { channels = { "web", "email" }, value = 1 }\n'
         'action "quiet" { channels = { "app" }, value = 1 }\n')

DECISION_KEYS = ["v", "type", "ts", "decision_id", "customer", "channel", "touchpoint",
                 "ruleset", "group", "experiment", "arm", "actions", "held", "context"]
FEEDBACK_KEYS = ["v", "type", "ts", "customer", "decision_id", "action", "outcome", "channel",
                 "value"]
PURCHASE_KEYS = ["v", "type", "ts", "customer", "sku", "category", "price", "channel"]


def ctx(customer, channel="web", **over):
    c = {"customer_id": customer, "channel": channel, "touchpoint": "home"}
    c.update(over)
    return c


def log_files(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".jsonl"))


def read_log(d, allow_torn_last=False):
    """Every record of the log folder d, in file order. A line without its
    newline is allowed only as the last line of the last file (then
    skipped); any other is a failure."""
    files = log_files(d)
    records = []
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        tail = lines.pop()   # b"" when the file ends with a newline
        if tail:
            if not (allow_torn_last and i == len(files) - 1):
                raise AssertionError("%s: a torn line %r" % (path, tail[:80]))
        for no, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line.decode("utf-8")))
            except ValueError as e:
                raise AssertionError("%s:%d: not JSON (%s): %r" % (path, no, e, line[:200]))
    # a dict keeps the order of the line's keys
    return [(r, list(r)) for r in records]


class LogTestCase(E2ETestCase):

    def log_dir(self, parent=None):
        d = tempfile.mkdtemp(prefix="arb-log-", dir=parent or "/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, "log")

    def serve(self, logdir, *extra, **kw):
        folder = rules_folder(self, RULES, "arb-log-rules-")
        return self.start_server(rules=folder, extra_args=("--log", logdir) + tuple(extra), **kw)

    def customer(self, srv, cid):
        a = self.connect_unix(srv.admin_path)
        r = a.call("customer", {"customer_id": cid}, timeout=T(10))
        self.assertIsNone(r.error, r.error)
        return r.result

    def stop(self, srv):
        srv.stop()

    def decide_load(self, srv, n_threads, per_thread, stop=None, answered=None):
        """Decisions from n_threads clients; returns how many were answered."""
        counts = [0] * n_threads
        errors = []

        def run(t):
            try:
                c = srv.client(timeout=T(10))
            except OSError as e:
                errors.append(e)
                return
            try:
                for i in range(per_thread):
                    if stop is not None and stop.is_set():
                        return
                    r = c.call("decide", ctx("load-%d-%d" % (t, i % 50)), timeout=T(10))
                    if r.error is None:
                        counts[t] += 1
                        if answered is not None:
                            answered.append(r.result["decision_id"])
            except Exception as e:   # the server was killed under it
                if stop is None:
                    errors.append(e)
            finally:
                c.close()

        threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        return threads, counts, errors


class TestDecisionLog(LogTestCase):

    def test_records_name_customers_by_one_pseudonym_never_by_id(self):
        d = self.log_dir()
        srv = self.serve(d, "--log-contexts")
        c = self.connect(srv)
        alice, bob = "cust-alice-7f3e91", "cust-bob-22c0d4"
        d1 = c.ok("decide", ctx(alice))
        d2 = c.ok("decide", ctx(bob, "email"))
        c.ok("decide", ctx(alice, preview=True))
        self.assertEqual(c.ok("feedback", {"customer_id": alice, "action": "offer",
                                           "outcome": "convert", "decision_id": d1["decision_id"],
                                           "value": 12.5}), {"ok": True})
        self.assertEqual(c.ok("track", {"customer_id": alice, "purchases": [
            {"ts": 1764460000, "sku": "sku-1", "price": 30.0, "channel": "web"},
            {"ts": 1764460001, "category": "shoes"}]}), {"stored": 2})
        c.ok("track", {"customer_id": bob, "events": [{"type": "view", "ts": 1764460000}]})
        pa = self.customer(srv, alice).get("pseudonym")
        pb = self.customer(srv, bob).get("pseudonym")
        self.assertRegex(pa or "", "^[0-9a-f]{32}$")
        self.assertRegex(pb or "", "^[0-9a-f]{32}$")
        self.assertNotEqual(pa, pb)
        # The writer lets records gather for up to 5 ms before it writes.
        deadline = time.monotonic() + T(10)
        while True:
            stats = c.ok("stats")["log"]
            if stats["written"] >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.stop(srv)

        recs = read_log(d)
        by_type = {}
        for r, keys in recs:
            by_type.setdefault(r["type"], []).append(r)
            want = {"decision": DECISION_KEYS + ["ctx"], "feedback": FEEDBACK_KEYS,
                    "purchase": PURCHASE_KEYS}[r["type"]]
            self.assertEqual(keys, want, r)
            self.assertEqual(r["v"], 1)
        decisions = by_type["decision"]
        self.assertEqual(len(decisions), 2, "the preview is not logged: %r" % decisions)
        self.assertEqual([x["decision_id"] for x in decisions], [d1["decision_id"], d2["decision_id"]])
        self.assertEqual([x["customer"] for x in decisions], [pa, pb])
        self.assertEqual(decisions[0]["group"], "treatment")
        self.assertEqual([a["id"] for a in decisions[0]["actions"]],
                         [a["id"] for a in d1["actions"]])
        self.assertEqual(decisions[0]["ctx"]["customer_id"], pa)
        self.assertRegex(decisions[0]["context"], "^[0-9a-f]{32}$")
        fb, = by_type["feedback"]
        self.assertEqual((fb["customer"], fb["action"], fb["outcome"], fb["value"]),
                         (pa, "offer", "convert", 12.5))
        buys = by_type["purchase"]
        self.assertEqual([(p["customer"], p["sku"], p["price"]) for p in buys],
                         [(pa, "sku-1", 30.0), (pa, None, None)])
        self.assertEqual(buys[1]["category"], "shoes")
        for path in log_files(d):
            with open(path, "rb") as f:
                data = f.read()
            for cid in (alice, bob):
                self.assertNotIn(cid.encode(), data, "%s names %s" % (path, cid))
        self.assertEqual(stats["written"], 5)
        self.assertEqual((stats["dropped"], stats["failed"], stats["files"]), (0, 0, 1))

    def test_a_decision_that_stores_nothing_still_names_its_customer(self):
        # "quiet" counts on impression: its decision makes no contact, so
        # only the pseudonym makes it commit.
        d = self.log_dir()
        srv = self.serve(d)
        c = self.connect(srv)
        who = "cust-quiet-5521"
        got = c.ok("decide", ctx(who, "app"))
        self.assertEqual([a["id"] for a in got["actions"]], ["quiet"])
        cust = self.customer(srv, who)
        self.assertEqual(cust.get("contacts") or [], [])
        p = cust.get("pseudonym")
        self.assertRegex(p or "", "^[0-9a-f]{32}$")
        c.ok("decide", ctx(who, "app"))
        self.stop(srv)
        self.assertEqual([(r["customer"], r["decision_id"] is not None) for r, _ in read_log(d)],
                         [(p, True), (p, True)])

    def test_a_retried_feedback_is_logged_and_reported_once(self):
        # A client retries a feedback whose answer it lost: the store keeps
        # one outcome per (decision_id, action, outcome), and so must the
        # log, or `arbiter report` counts the outcome and its value twice.
        d = self.log_dir()
        srv = self.serve(d)
        c = self.connect(srv)
        who = "cust-retry-8812"
        dec = c.ok("decide", ctx(who))
        self.assertEqual(dec["actions"][0]["id"], "offer")
        fb = {"customer_id": who, "action": "offer", "outcome": "convert",
              "decision_id": dec["decision_id"], "value": 12.5}
        for _ in range(3):
            self.assertEqual(c.ok("feedback", fb), {"ok": True})
        # Another outcome of the same decision is an outcome of its own.
        click = dict(fb, outcome="click")
        del click["value"]
        c.ok("feedback", click)
        outcomes = [(o["action"], o["outcome"]) for o in self.customer(srv, who).get("outcomes") or []]
        self.assertEqual(sorted(outcomes), [("offer", "click"), ("offer", "convert")])
        self.stop(srv)

        feedback = [(r["decision_id"], r["outcome"], r["value"]) for r, _ in read_log(d)
                    if r["type"] == "feedback"]
        self.assertEqual(feedback, [(dec["decision_id"], "convert", 12.5),
                                    (dec["decision_id"], "click", None)])
        out = run_cli(["report", d, "--json"])
        self.assertEqual(out.returncode, 0, out.stderr)
        offer = next(r for r in json.loads(out.stdout)["rows"] if r["action"] == "offer")
        self.assertEqual((offer["contacts"], offer["outcomes"]), (1, {"convert": 1, "click": 1}), offer)

    def test_a_folder_that_cannot_be_written_stops_the_start(self):
        d = self.log_dir()
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d, "w") as f:
            f.write("a file, not a folder\n")
        folder = rules_folder(self, RULES, "arb-log-rules-")
        from harness import Server, ServerStartError
        s = Server(rules=folder, extra_args=("--log", d))
        self.addCleanup(s.cleanup)
        with self.assertRaises(ServerStartError):
            s.start()
        self.assertIn(d, s.stderr())

    def test_rotation_under_load_keeps_every_line_and_the_counts(self):
        d = self.log_dir()
        srv = self.serve(d, "--log-max-bytes", "4096", "--workers", "2")
        answered = []
        threads, counts, errors = self.decide_load(srv, 4, 150, answered=answered)
        for th in threads:
            th.join(T(120))
        self.assertEqual(errors, [])
        c = self.connect(srv)
        n = sum(counts)
        self.assertEqual(n, 600)
        stats = None
        deadline = time.monotonic() + T(20)
        while time.monotonic() < deadline:
            stats = c.ok("stats")["log"]
            if stats["written"] >= n:
                break
            time.sleep(0.05)
        self.assertEqual(stats["written"], n, stats)
        self.stop(srv)
        files = log_files(d)
        self.assertGreater(len(files), 10)
        self.assertEqual(stats["files"], len(files))
        for path in files:
            self.assertLessEqual(os.path.getsize(path), 4096, path)
        recs = read_log(d)
        self.assertEqual(len(recs), n)
        self.assertEqual(sorted(r["decision_id"] for r, _ in recs), sorted(answered))
        # the same customer, the same pseudonym, in every file
        by_pseudonym = {}
        for r, _ in recs:
            by_pseudonym.setdefault(r["customer"], 0)
            by_pseudonym[r["customer"]] += 1
        self.assertEqual(len(by_pseudonym), 4 * 50)

    def test_kill9_under_load_tears_at_most_the_last_line(self):
        d = self.log_dir()
        srv = self.serve(d, "--log-max-bytes", "8192", "--log-contexts", "--workers", "2")
        stop = threading.Event()
        threads, counts, _ = self.decide_load(srv, 4, 100000, stop=stop)
        deadline = time.monotonic() + T(30)
        while sum(counts) < 2000 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreaterEqual(sum(counts), 2000)
        self.assertEqual(srv.stop(signal.SIGKILL, T(10)), -signal.SIGKILL)
        stop.set()
        for th in threads:
            th.join(T(30))
        recs = read_log(d, allow_torn_last=True)
        self.assertGreater(len(log_files(d)), 10)
        self.assertGreater(len(recs), 0)
        for r, keys in recs:
            self.assertEqual(keys, DECISION_KEYS + ["ctx"])

    def test_forget_erases_the_pseudonym_and_the_next_decision_takes_a_new_one(self):
        d = self.log_dir()
        srv = self.serve(d)
        c = self.connect(srv)
        who = "cust-forget-me-81"
        c.ok("decide", ctx(who))
        p1 = self.customer(srv, who).get("pseudonym")
        self.assertRegex(p1 or "", "^[0-9a-f]{32}$")
        a = self.connect_unix(srv.admin_path)
        self.assertEqual(a.ok("forget", {"customer_id": who}), {"forgotten": True})
        self.assertIsNone(self.customer(srv, who).get("pseudonym"))
        c.ok("decide", ctx(who))
        p2 = self.customer(srv, who).get("pseudonym")
        self.assertRegex(p2 or "", "^[0-9a-f]{32}$")
        self.assertNotEqual(p1, p2)
        self.stop(srv)
        recs = read_log(d)
        self.assertEqual([r["customer"] for r, _ in recs], [p1, p2])
        for path in log_files(d):
            with open(path, "rb") as f:
                self.assertNotIn(who.encode(), f.read())


class TestDecisionLogFullDisk(LogTestCase):

    def mount_small_tmpfs(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a 1 MiB tmpfs to fill needs root")
        m = tempfile.mkdtemp(prefix="arb-log-tmpfs-", dir="/tmp")
        self.addCleanup(shutil.rmtree, m, True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", m],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here (%s)" % r.stdout.decode().strip())
        self.addCleanup(subprocess.run, ["umount", "-l", m])
        return m

    def test_a_full_disk_drops_and_counts_and_decisions_go_on(self):
        m = self.mount_small_tmpfs()
        d = os.path.join(m, "log")
        srv = self.serve(d, "--log-contexts")
        c = self.connect(srv)
        pad = "x" * 2000   # ~2 KiB a record: 1 MiB fills within a few hundred
        failed = total = 0
        for i in range(3000):
            total += 1
            r = c.call("decide", ctx("full-%d" % (i % 20), pad=pad), timeout=T(10))
            self.assertIsNone(r.error, r.error)
            if i % 50 == 49:
                failed = c.ok("stats")["log"]["failed"]
                if failed:
                    break
        self.assertGreater(failed, 0, "1 MiB never filled")
        # decisions are still answered, and the failures keep being counted
        for i in range(100):
            total += 1
            r = c.call("decide", ctx("full-after-%d" % i, pad=pad), timeout=T(10))
            self.assertIsNone(r.error, r.error)
        # every answered decision is accounted for: written, or failed
        deadline = time.monotonic() + T(10)
        while time.monotonic() < deadline:
            stats = c.ok("stats")["log"]
            if stats["written"] + stats["failed"] + stats["dropped"] >= total:
                break
            time.sleep(0.05)
        self.assertEqual(stats["written"] + stats["failed"] + stats["dropped"], total, stats)
        self.assertGreater(stats["failed"], failed, stats)
        self.stop(srv)
        recs = read_log(d)   # whole lines only: a refused write was cut back
        self.assertEqual(len(recs), stats["written"])
