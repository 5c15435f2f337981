"""The Python client (bindings/python) against the real build/arbiter.

Proves what issue 18 asks of it: the sync client's pool shared by 16
threads, 10,000 calls pipelined by the asyncio client on one connection,
per-call timeouts (a server stopped with SIGSTOP), which calls are retried
and which are not (overloaded with backoff; timeouts retried only for calls
the server makes safe to repeat), every wire error code raised as its own
class, Unix sockets, and that the package installs with pip into a venv
without a network. Runs from the source tree (bindings/python on sys.path).
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

import harness
from harness import E2ETestCase, T, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bindings" / "python"))
import arbiter_client as ac  # noqa: E402
from arbiter_client import _core  # noqa: E402

# Rules whose decisions cost ~0.4 ms per spinning action (tests/e2e/test_faults.py):
# bursts of them make a worker shed with --overload-ms, and a decide_many of
# them passes a small --batch-ms.
SLOW_RULES = r'''
touchpoint "slow" { limit = 3 }
touchpoint "clean" { limit = 3 }
local function spin(c)
  for i = 1, 150000 do end
  return true
end
action "healthy" { channels = { "web" }, value = 1000 }
for i = 1, 10 do
  action ("slow_" .. i) { channels = { "web" }, touchpoints = { "slow" }, value = i, when = spin }
end
'''

# A rule file whose load takes a while: a reload of it is still running
# when SIGTERM comes.
# A load of some 2 s made of few instructions (each comparison of two 1 MB
# strings is one instruction and a memcmp): a spin of instructions would end
# within the load's 50M-instruction budget before the SIGTERM at 0.3 s on a
# fast machine, and the reload would answer invalid_params, not internal.
SLOW_LOAD = """local a = string.rep("a", 1000000) .. "x"
local b = string.rep("a", 1000000) .. "y"
local n = 0
for i = 1, 2400 do if a == b then n = n + 1 end end
"""
SLOW_LOAD_FILES = 10


def ctx(customer_id="py-1", touchpoint="web_home", **over):
    c = {"customer_id": customer_id, "channel": "web", "touchpoint": touchpoint}
    c.update(over)
    return c


def events(k):
    return [{"type": "view", "sku": "sku-%d" % i, "ts": 1767225600 + i} for i in range(k)]


class PyClientBase(E2ETestCase):

    def serve(self, **kw):
        self.srv = self.start_server(**kw)
        self.addr = "127.0.0.1:%d" % self.srv.port
        return self.srv

    def client(self, **kw):
        kw.setdefault("timeout", T(10))
        c = ac.Client(kw.pop("address", self.addr), **kw)
        self.addCleanup(c.close)
        return c

    def raw_stats(self):
        """stats over one harness connection kept for the test (counted in
        stats.connections once)."""
        if getattr(self, "_stats_conn", None) is None:
            self._stats_conn = self.connect(self.srv)
        return self._stats_conn.ok("stats")

    def stopped(self):
        """SIGSTOP the server until the test ends (SIGCONT in cleanup)."""
        self.srv.pause()
        self.addCleanup(self.srv.send_signal, signal.SIGCONT)

    def resume_after(self, seconds):
        t = threading.Timer(seconds, self.srv.send_signal, (signal.SIGCONT,))
        t.start()
        self.addCleanup(t.cancel)
        return t

    def resume_after_reconnects(self, n):
        """SIGCONT the stopped server once the client has opened n new
        connections, i.e. retried n times (or after T(30)). A timer would make
        the proof of a retry depend on the machine's speed: a client starved
        for the whole stop sends once and is answered after SIGCONT."""
        real = socket.create_connection
        opened = []
        enough = threading.Event()

        def counting(*args, **kwargs):
            opened.append(1)
            if len(opened) >= n:
                enough.set()
            return real(*args, **kwargs)

        patch = mock.patch("socket.create_connection", counting)
        patch.start()
        self.addCleanup(patch.stop)

        def wake():
            enough.wait(T(30))
            self.srv.send_signal(signal.SIGCONT)
        t = threading.Thread(target=wake, daemon=True)
        t.start()
        return t

    def until(self, what, check, timeout):
        """Poll check() until it is true; fail naming what was awaited."""
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                self.fail("%s: not within %gs" % (what, timeout))
            time.sleep(0.05)


class SyncClientTest(PyClientBase):

    def test_calls_and_context_manager(self):
        self.serve()
        with ac.Client(self.addr, timeout=T(10)) as c:
            self.assertIs(c.ping()["pong"], True)
            d = c.decide(ctx(explain=True))
            self.assertTrue(d["decision_id"])
            self.assertIn("explain", d)
            self.assertEqual(c.track("py-1", events=events(3)), {"stored": 3})
            self.assertEqual(c.feedback("py-1", "bestsellers", "click",
                                        decision_id=d["decision_id"]), {"ok": True})
            self.assertEqual(len(c.decide_many([ctx("a"), ctx("b")])), 2)
            self.assertIn("actions", c.ruleset())
            self.assertIn("requests", c.stats())
            self.assertIsNone(c.track("py-2", events=events(1), notify=True))
        with self.assertRaises(ac.ConnectionError) as cm:
            c.ping()
        self.assertFalse(cm.exception.sent)

    def test_pool_under_16_threads(self):
        self.serve(workers=2)
        c = self.client(pool_size=4)
        before = self.raw_stats()["requests"]
        per_thread, failures, seen_open = 60, [], []

        def work(t):
            try:
                for i in range(per_thread):
                    k = (t + i) % 5 + 1
                    # Each answer must be this thread's: stored == events sent.
                    got = c.track("pool-%d-%d" % (t, i), events=events(k))
                    if got != {"stored": k}:
                        failures.append((t, i, k, got))
                    d = c.decide(ctx("pool-%d-%d" % (t, i)))
                    if not d.get("decision_id"):
                        failures.append((t, i, d))
                    seen_open.append(c.open_connections)
            except Exception as e:   # reported below, with the thread
                failures.append((t, repr(e)))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(T(120))
        self.assertFalse(any(th.is_alive() for th in threads), "a thread never finished")
        self.assertEqual(failures, [])
        self.assertLessEqual(max(seen_open), 4, "the pool opened more than pool_size")
        after = self.raw_stats()
        self.assertEqual(after["requests"]["track"] - before["track"], 16 * per_thread)
        self.assertEqual(after["requests"]["decide"] - before["decide"], 16 * per_thread)
        # The pool's 4 connections and this test's stats connection.
        self.assertLessEqual(after["connections"], 5)

    def test_connection_refused_is_retried_then_raised(self):
        port = harness.free_port()
        c = ac.Client("127.0.0.1:%d" % port, retries=2, backoff=0.01)
        t0 = time.monotonic()
        with self.assertRaises(ac.ConnectionError) as cm:
            c.decide(ctx())
        self.assertFalse(cm.exception.sent)
        self.assertIn("127.0.0.1:%d" % port, str(cm.exception))
        self.assertLess(time.monotonic() - t0, T(10))


class AsyncClientTest(PyClientBase):

    def test_10000_calls_pipelined_on_one_connection(self):
        self.serve(workers=1)
        before = self.raw_stats()["requests"]
        n = 10000

        async def main():
            async with ac.AsyncClient(self.addr, timeout=T(60)) as a:
                await a.ping()
                conn = a._slots[0]
                in_flight = []

                async def sample():
                    while True:
                        in_flight.append(len(conn.pending))
                        await asyncio.sleep(0)

                sampler = asyncio.ensure_future(sample())
                calls = [a.track("async-%d" % i, events=events(i % 5 + 1)) for i in range(n)]
                results = await asyncio.gather(*calls)
                sampler.cancel()
                stats = await a.stats()
                return results, max(in_flight), stats, a._slots[0] is conn

        results, most, stats, same = asyncio.run(main())
        # Matched by msgid: every answer is its own call's.
        self.assertEqual(results, [{"stored": i % 5 + 1} for i in range(n)])
        self.assertGreater(most, 1000, "the calls were not pipelined")
        self.assertTrue(same, "the connection was replaced")
        self.assertEqual(stats["requests"]["track"] - before["track"], n)
        # This client's one connection and raw_stats' own.
        self.assertEqual(stats["connections"], 2)

    def test_several_connections_round_robin(self):
        self.serve(workers=2)

        async def main():
            async with ac.AsyncClient(self.addr, connections=3, timeout=T(30)) as a:
                got = await asyncio.gather(*[a.ping() for _ in range(3000)])
                return got, await a.stats()

        got, stats = asyncio.run(main())
        self.assertTrue(all(g["pong"] is True for g in got))
        self.assertEqual(stats["connections"], 3)


class TimeoutTest(PyClientBase):

    def test_sync_timeout_on_a_stopped_server(self):
        self.serve()
        c = self.client(timeout=0.3, retries=0)
        c.ping()
        self.stopped()
        for call in (c.ping, lambda: c.decide(ctx())):
            t0 = time.monotonic()
            with self.assertRaises(ac.Timeout) as cm:
                call()
            self.assertTrue(cm.exception.sent)
            self.assertLess(time.monotonic() - t0, T(5))
        self.srv.send_signal(signal.SIGCONT)
        # The timed-out connections were dropped; a fresh one serves.
        self.assertIs(c.ping(timeout=T(10))["pong"], True)

    def test_async_timeout_keeps_the_connection(self):
        self.serve()

        async def main():
            async with ac.AsyncClient(self.addr, timeout=0.3, retries=0) as a:
                await a.ping()
                conn = a._slots[0]
                self.stopped()
                t0 = time.monotonic()
                with self.assertRaises(ac.Timeout):
                    await a.decide(ctx())
                elapsed = time.monotonic() - t0
                self.srv.send_signal(signal.SIGCONT)
                pong = await a.ping(timeout=T(10))
                return elapsed, pong, a._slots[0] is conn, await a.stats(timeout=T(10))

        elapsed, pong, same, stats = asyncio.run(main())
        self.assertLess(elapsed, T(5))
        self.assertIs(pong["pong"], True)
        self.assertTrue(same, "a timeout closed a pipelined connection")
        self.assertEqual(stats["connections"], 1)

    def test_async_timeout_while_the_socket_is_full(self):
        # 10 MB of requests to a stopped server fill the socket buffers: the
        # calls waiting to write still end at their timeout.
        self.serve()
        pad = "p" * 1000

        async def main():
            async with ac.AsyncClient(self.addr, timeout=0.5, retries=0) as a:
                await a.ping()
                self.stopped()
                self.resume_after(T(40))   # a hung client would wait for this
                t0 = time.monotonic()
                got = await asyncio.gather(
                    *[a.decide(ctx("full-%d" % i, attributes={"pad": pad})) for i in range(10000)],
                    return_exceptions=True)
                return time.monotonic() - t0, got

        elapsed, got = asyncio.run(main())
        self.assertTrue(all(isinstance(g, ac.Timeout) for g in got),
                        {type(g).__name__ for g in got})
        self.assertLess(elapsed, T(20))


class RetryTest(PyClientBase):

    def test_safe_calls_are_retried_after_timeouts_decide_is_not(self):
        self.serve()
        c = self.client(timeout=0.25, retries=20, backoff=0.01, max_backoff=0.05)
        before = c.stats()["requests"]
        self.stopped()
        waker = self.resume_after_reconnects(2)
        self.assertIs(c.ping()["pong"], True)      # retried until the server woke
        waker.join()
        self.srv.pause()
        with self.assertRaises(ac.Timeout):
            c.decide(ctx("once"))
        self.srv.send_signal(signal.SIGCONT)
        # The decide that timed out was still done by the server, once: a
        # retry would have decided (and counted contacts) twice.
        self.until("the timed-out decide done", lambda:
                   c.stats(timeout=T(10))["requests"]["decide"] > before["decide"], T(10))
        time.sleep(0.5)                           # room for a wrong second one
        after = c.stats(timeout=T(10))["requests"]
        # Three pings were sent (two retries); each reached the server.
        self.assertGreaterEqual(after["ping"] - before["ping"], 3, "ping was not retried")
        self.assertEqual(after["decide"] - before["decide"], 1)

    def test_feedback_is_retried_only_with_a_decision_id(self):
        self.serve()
        c = self.client(timeout=0.25, retries=20, backoff=0.01, max_backoff=0.05)
        d = c.decide(ctx("fb-1"))
        action = d["actions"][0]["id"]
        self.stopped()
        waker = self.resume_after_reconnects(2)
        self.assertEqual(c.feedback("fb-1", action, "click", decision_id=d["decision_id"]),
                         {"ok": True})
        waker.join()
        self.srv.pause()
        with self.assertRaises(ac.Timeout):
            c.feedback("fb-1", action, "dismiss")
        self.srv.send_signal(signal.SIGCONT)
        with ac.Client("unix:" + self.srv.admin_path, timeout=T(10)) as admin:
            def outcomes():
                return admin.customer("fb-1")["outcomes"]
            self.until("the timed-out dismiss recorded",
                       lambda: any(o["outcome"] == "dismiss" for o in outcomes()), T(10))
            time.sleep(0.5)                       # room for a wrong second one
            outcomes = outcomes()
        clicks = [o for o in outcomes if o["outcome"] == "click"]
        dismisses = [o for o in outcomes if o["outcome"] == "dismiss"]
        # Several attempts reached the server; it kept one click.
        self.assertEqual(len(clicks), 1, outcomes)
        self.assertEqual(len(dismisses), 1, outcomes)

    def test_overloaded_is_retried_with_backoff_async(self):
        rules = harness.rules_folder(self, SLOW_RULES)
        self.serve(rules=rules, workers=1,
                   extra_args=["--deadline-ms", "1000", "--overload-ms", "5"])
        n = 40

        async def burst(retries):
            async with ac.AsyncClient(self.addr, timeout=T(30), retries=retries,
                                      backoff=0.02, max_backoff=0.3) as a:
                return await asyncio.gather(
                    *[a.decide(ctx("ov-%d" % i, "slow")) for i in range(n)],
                    return_exceptions=True)

        got = asyncio.run(burst(0))
        shed = [g for g in got if isinstance(g, BaseException)]
        for e in shed:
            self.assertIsInstance(e, ac.Overloaded)
        self.assertGreater(len(shed), 0, "40 slow decides in one write were never shed")
        before = self.raw_stats()
        got = asyncio.run(burst(50))
        for g in got:
            self.assertIsInstance(g, dict, "a call was not retried to success: %r" % (g,))
        after = self.raw_stats()
        over = after["errors"]["overloaded"] - before["errors"]["overloaded"]
        self.assertGreater(over, 0, "nothing was shed, so nothing was retried")
        self.assertEqual(after["requests"]["decide"] - before["requests"]["decide"], n + over)

    def test_overloaded_is_retried_with_backoff_sync(self):
        rules = harness.rules_folder(self, SLOW_RULES)
        self.serve(rules=rules, workers=1,
                   extra_args=["--deadline-ms", "1000", "--overload-ms", "2"])
        c = self.client(pool_size=16, retries=50, backoff=0.02, max_backoff=0.3)
        c0 = self.client(pool_size=16, retries=0)
        for round_ in range(10):
            before = self.raw_stats()
            failures, shed_plain = [], []
            barrier = threading.Barrier(16)

            def work(t):
                try:
                    barrier.wait(T(10))
                    c.decide(ctx("sync-ov-%d" % t, "slow"))
                    barrier.wait(T(10))
                    try:
                        c0.decide(ctx("sync-ov0-%d" % t, "slow"))
                    except ac.Overloaded:
                        shed_plain.append(t)
                except Exception as e:
                    failures.append(repr(e))

            threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(T(60))
            self.assertEqual(failures, [], "round %d" % round_)
            after = self.raw_stats()
            over = after["errors"]["overloaded"] - before["errors"]["overloaded"]
            if over > len(shed_plain):
                return   # the retrying client was shed, and recovered
        self.fail("16 threads of slow decides were never shed in 10 rounds")


class ErrorMappingTest(PyClientBase):

    def assert_raises_code(self, cls, call, contains=None):
        with self.assertRaises(cls) as cm:
            call()
        e = cm.exception
        self.assertIsInstance(e, ac.ArbiterError)
        self.assertEqual(e.code, cls.code)
        self.assertEqual(e.details.get("code"), cls.code)
        if contains:
            self.assertIn(contains, e.message)
        return e

    def test_request_errors(self):
        self.serve()
        c = self.client(retries=3)
        before = self.raw_stats()["requests"]
        self.assert_raises_code(ac.MethodNotFound, lambda: c.call("no_such_method"))
        self.assert_raises_code(ac.InvalidParams, lambda: c.decide({"channel": "web"}),
                                "customer_id")
        self.assert_raises_code(ac.Forbidden, lambda: c.forget("x"), "admin")
        self.assert_raises_code(ac.Forbidden, c.reload)
        # A method that is not a string is not an RPC: the server answers and
        # closes; the pool drops that connection and the next call works.
        self.assert_raises_code(ac.InvalidRequest, lambda: c.call(7))
        self.assertIs(c.ping()["pong"], True)
        after = self.raw_stats()["requests"]
        self.assertEqual(after["decide"] - before["decide"], 1, "an invalid_params was retried")

    def test_too_large(self):
        self.serve(extra_args=["--max-answer", "1024"])
        self.assert_raises_code(ac.TooLarge, self.client().ruleset)

    def test_deadline_exceeded(self):
        rules = harness.rules_folder(self, SLOW_RULES)
        self.serve(rules=rules, extra_args=["--batch-ms", "1"])
        c = self.client()
        self.assert_raises_code(ac.DeadlineExceeded,
                                lambda: c.decide_many([ctx("dl-%d" % i, "slow")
                                                       for i in range(50)]))

    def test_unavailable(self):
        self.serve(extra_args=["--state-map-size", "256K", "--state-fail", "closed"])
        c = self.client(retries=0)
        big = "x" * 3000
        with self.assertRaises(ac.Unavailable) as cm:
            for i in range(5000):
                c.track("full-%d" % i, events=[{"type": "view", "sku": big, "ts": 1767225600}])
        self.assertEqual(cm.exception.code, "unavailable")
        self.assertEqual(cm.exception.details.get("code"), "unavailable")

    def test_internal_for_a_reload_cut_by_sigterm(self):
        rules = harness.rules_folder(self, SLOW_RULES)
        srv = self.serve(rules=rules)
        for i in range(SLOW_LOAD_FILES):
            with open(os.path.join(rules, "slow_load%02d.lua" % i), "w") as f:
                f.write(SLOW_LOAD)
        admin = ac.Client("unix:" + srv.admin_path, timeout=T(30), retries=5)
        self.addCleanup(admin.close)
        threading.Timer(0.3, srv.send_signal, (signal.SIGTERM,)).start()
        e = self.assert_raises_code(ac.Internal, admin.reload, "stopping")
        self.assertEqual(srv.stop(timeout=T(20)), 0)
        self.assertIsInstance(e, ac.ArbiterError)

    def test_unknown_code_and_mapping_table(self):
        e = ac.errors.from_wire({"code": "brand_new", "message": "m"})
        self.assertIs(type(e), ac.ArbiterError)
        self.assertEqual(e.code, "brand_new")
        for code in harness.ERROR_CODES:
            e = ac.errors.from_wire({"code": code, "message": "m"})
            self.assertEqual(e.code, code)
            self.assertIsNot(type(e), ac.ArbiterError, code)


class UnixSocketTest(PyClientBase):

    def test_public_and_admin_unix_sockets(self):
        srv = self.serve(unix_socket=True)
        with ac.Client("unix:" + srv.socket_path, timeout=T(10)) as c:
            d = c.decide(ctx("unix-1"))
            self.assertTrue(d["decision_id"])
            self.assertEqual(c.track("unix-1", events=events(2)), {"stored": 2})
            with self.assertRaises(ac.Forbidden):
                c.customer("unix-1")
        with ac.Client(srv.admin_path, timeout=T(30)) as admin:   # a bare path is Unix too
            self.assertEqual(admin.customer("unix-1")["customer_id"], "unix-1")
            self.assertIn("version", admin.reload())
            self.assertEqual(admin.forget("unix-1"), {"forgotten": True})

        async def main():
            async with ac.AsyncClient("unix:" + srv.socket_path, timeout=T(30)) as a:
                return await asyncio.gather(*[a.ping() for _ in range(500)])

        self.assertEqual(len(asyncio.run(main())), 500)

    def test_address_forms(self):
        self.assertEqual(_core.parse_address("unix:/run/a.sock"), ("unix", "/run/a.sock"))
        self.assertEqual(_core.parse_address("10.0.0.1:7878"), ("tcp", ("10.0.0.1", 7878)))
        self.assertEqual(_core.parse_address("[::1]:7878"), ("tcp", ("::1", 7878)))
        for bad in ("", "host", "host:0", "host:x", "unix:"):
            with self.assertRaises(ValueError, msg=bad):
                _core.parse_address(bad)

    def test_retry_table(self):
        safe = _core.retry_safe
        self.assertTrue(safe("ping", None) and safe("stats", None) and safe("ruleset", None))
        self.assertTrue(safe("decide_many", []))
        self.assertTrue(safe("decide", {"preview": True}))
        self.assertFalse(safe("decide", {}))
        self.assertTrue(safe("feedback", {"decision_id": "d", "outcome": "click"}))
        self.assertFalse(safe("feedback", {"decision_id": "d", "outcome": "impression"}))
        self.assertFalse(safe("feedback", {"outcome": "click"}))
        for m in ("track", "reload", "customer", "forget"):
            self.assertFalse(safe(m, {"customer_id": "c"}), m)


class InstallTest(unittest.TestCase):

    def test_pip_installs_offline_into_a_venv(self):
        srv = harness.Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        d = tempfile.mkdtemp(prefix="arb-venv-", dir="/tmp")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        venv = os.path.join(d, "venv")
        # --system-site-packages: msgpack and setuptools come from Debian.
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                       check=True, timeout=T(120))
        py = os.path.join(venv, "bin", "python")
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH", None)
        # From a copy: setuptools writes its egg-info beside the sources.
        src = os.path.join(d, "src")
        shutil.copytree(REPO_ROOT / "bindings" / "python", src,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", src],
                           cwd=d, env=env, capture_output=True, text=True, timeout=T(300))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        code = ("import arbiter_client, sys; c = arbiter_client.Client('127.0.0.1:%d'); "
                "print(arbiter_client.__file__); print(c.ping()['pong'])" % srv.port)
        r = subprocess.run([py, "-c", code], cwd=d, env=env, capture_output=True, text=True,
                           timeout=T(60))
        self.assertEqual(r.returncode, 0, r.stderr)
        where, pong = r.stdout.split()
        self.assertTrue(where.startswith(venv), "imported from %s, not the venv" % where)
        self.assertEqual(pong, "True")


if __name__ == "__main__":
    unittest.main()
