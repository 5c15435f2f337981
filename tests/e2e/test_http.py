"""The HTTP endpoint (issue 18, DESIGN.md section 8): `serve --http HOST:PORT`
serves /metrics (Prometheus text format), /healthz and /readyz on a thread
of its own.

What each test proves would fail without it: a scrape under load passes
`promtool check metrics` and an exposition parser of our own, and its
counters move by exactly what was sent (decisions by channel, errors by
code, the latency histogram's count); HTTP garbage, huge headers, other
methods and paths, slow clients and 10,000 connections get bounded answers
while decisions keep answering on the RPC port; SIGTERM with HTTP
connections open still exits promptly. /readyz with a Redis store: see
RedisReadyTest (skipped like the other Redis tests without redis-server).
"""

import os
import re
import resource
import shutil
import socket
import subprocess
import threading
import time
import unittest

from harness import E2ETestCase, T, free_port, wait_until

CTYPE = "text/plain; version=0.0.4; charset=utf-8"
TOUCH = {"web": "web_home", "email": "email_weekly", "app": "app_home"}

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)')


def parse_exposition(text):
    """{(name, ((label, value), ...)): float}; raises AssertionError on any
    line that is not a comment, HELP/TYPE, or a well-formed sample, on a
    sample whose family has no TYPE, and on a repeated series."""
    out, typed = {}, {}
    for ln in text.split("\n"):
        if not ln:
            continue
        if ln.startswith("# HELP "):
            continue
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), ln
            typed[name] = kind
            continue
        assert not ln.startswith("#"), "stray comment: %r" % ln
        m = LINE.match(ln)
        assert m, "not a sample line: %r" % ln
        name, _, body, value = m.groups()
        labels = []
        rest = body or ""
        while rest:
            lm = LABEL.match(rest)
            assert lm, "bad labels in %r" % ln
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, "no TYPE for %s" % name
        key = (name, tuple(labels))
        assert key not in out, "series twice: %r" % (key,)
        out[key] = float(value)
    return out


def val(metrics, name, **labels):
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0) if labels else \
        metrics.get((name, ()), 0.0)


def total(metrics, name, **match):
    return sum(v for (n, lb), v in metrics.items()
               if n == name and all(dict(lb).get(k) == x for k, x in match.items()))


def http_get(port, path, method="GET", timeout=None):
    """(status, headers dict lower-cased, body bytes) over a raw socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout or T(10))
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path))
                  .encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


class HttpCase(E2ETestCase):
    def http_server(self, **kw):
        port = free_port()
        extra = list(kw.pop("extra_args", ())) + ["--http", "127.0.0.1:%d" % port]
        srv = self.start_server(extra_args=extra, **kw)
        srv.http_port = port
        wait_until(lambda: self._answers(port), T(10))
        return srv

    def _answers(self, port):
        try:
            return http_get(port, "/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    def scrape(self, srv):
        status, headers, body = http_get(srv.http_port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), CTYPE)
        return body.decode("utf-8")

    def promtool(self, text):
        tool = shutil.which("promtool")
        if not tool:
            self.skipTest("promtool is not installed (Debian's prometheus; scripts/setup)")
        cp = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=T(30))
        self.assertEqual(cp.returncode, 0, "promtool: %s%s" % (cp.stdout, cp.stderr))

    def decide(self, c, channel, i):
        return c.call("decide", {"customer_id": "h-%d" % i, "channel": channel,
                                 "touchpoint": TOUCH[channel]}, timeout=T(20))


class MetricsTest(HttpCase):

    def test_scrape_under_load_counts_what_was_sent_and_passes_promtool(self):
        srv = self.http_server(workers=2)
        before = parse_exposition(self.scrape(srv))
        per_channel = {"web": 0, "email": 0, "app": 0}
        bad, tracks = 7, 40
        stop, senders_done = threading.Event(), threading.Event()
        scrapes, failures = [], []

        def scraper():
            while not senders_done.is_set():
                try:
                    scrapes.append(self.scrape(srv))
                except Exception as e:   # reported below
                    failures.append(repr(e))

        def sender(channel, at_least):
            c = self.connect(srv)
            i = 0
            while i < at_least or not stop.is_set():
                r = self.decide(c, channel, i)
                if r.error is not None:
                    failures.append(r.error)
                i += 1
            per_channel[channel] = i

        threads = [threading.Thread(target=sender, args=(ch, n))
                   for ch, n in (("web", 30), ("email", 20), ("app", 10))]
        sc = threading.Thread(target=scraper)
        for t in threads:
            t.start()
        sc.start()
        c = self.connect(srv)
        for i in range(tracks):
            c.ok("track", {"customer_id": "t-%d" % i, "events": [
                {"type": "view", "category": "laptop", "sku": "LP-%d" % i, "channel": "web"}]})
        for i in range(bad):
            self.assert_error(c.call("decide", {"customer_id": "x", "touchpoint": "web_home"}),
                              "invalid_params")
        # Decisions keep flowing until several scrapes were taken meanwhile.
        wait_until(lambda: len(scrapes) >= 8 or failures, T(60))
        stop.set()
        for t in threads:
            t.join(T(120))
        senders_done.set()
        sc.join(T(30))
        self.assertEqual(failures, [])
        self.assertGreater(len(scrapes), 1)
        # Every scrape taken under load is valid, and counters never go back.
        prev = before
        for text in scrapes:
            m = parse_exposition(text)
            for key, v in m.items():
                if key[0].endswith("_total") and key in prev:
                    self.assertGreaterEqual(v, prev[key], key)
            prev = m
        self.promtool(scrapes[len(scrapes) // 2])
        after_text = self.scrape(srv)
        self.promtool(after_text)
        after = parse_exposition(after_text)
        sent = sum(per_channel.values())
        d = lambda name, **lb: total(after, name, **lb) - total(before, name, **lb)
        self.assertEqual(d("arbiter_requests_total", method="decide"), sent + bad)
        self.assertEqual(d("arbiter_requests_total", method="track"), tracks)
        self.assertEqual(d("arbiter_errors_total", code="invalid_params"), bad)
        self.assertEqual(d("arbiter_errors_total", method="decide", code="invalid_params"), bad)
        for ch, n in per_channel.items():
            self.assertEqual(d("arbiter_decisions_total", channel=ch, touchpoint=TOUCH[ch]), n, ch)
        self.assertEqual(d("arbiter_decisions_total"), sent)
        self.assertEqual(val(after, "arbiter_decide_duration_seconds_count"), sent)
        self.assertEqual(val(after, "arbiter_decide_duration_seconds_bucket", le="+Inf"), sent)
        self.assertGreater(val(after, "arbiter_decide_duration_seconds_sum"), 0)
        # Every decision read the customer from the LMDB store first.
        self.assertGreaterEqual(d("arbiter_store_duration_seconds_count"), sent)
        self.assertEqual(val(after, "arbiter_store_duration_seconds_count"),
                         val(after, "arbiter_store_duration_seconds_bucket", le="+Inf"))
        buckets = sorted((float(dict(lb)["le"]), v) for (n, lb), v in after.items()
                         if n == "arbiter_decide_duration_seconds_bucket")
        self.assertEqual(len(buckets), 11)
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertGreaterEqual(d("arbiter_actions_chosen_total"), 1)
        self.assertEqual(total(after, "arbiter_ruleset_info"), 1)
        self.assertGreater(val(after, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(val(after, "process_open_fds"), 3)
        self.assertGreater(val(after, "process_start_time_seconds"), time.time() - 3600)
        self.assertEqual(val(after, "arbiter_ready"), 1)

    def test_a_challengers_decisions_count_under_the_champions_names(self):
        import tempfile
        path = tempfile.mkdtemp(prefix="arb-http-exp-", dir="/tmp")
        self.addCleanup(shutil.rmtree, path, True)
        os.mkdir(os.path.join(path, "challenger"))
        with open(os.path.join(path, "rules.lua"), "w") as f:
            f.write('experiment "w" { challenger = "challenger", share = 0.5, salt = "h" }\n'
                    'touchpoint "home" { limit = 1 }\n'
                    'action "tv" { channels = { "web" }, value = 10 }\n'
                    'action "radio" { channels = { "web" }, value = 5 }\n')
        with open(os.path.join(path, "challenger", "rules.lua"), "w") as f:
            f.write('touchpoint "home" { limit = 1 }\n'
                    'action "radio" { channels = { "web" }, value = 50 }\n'
                    'action "new_tv" { channels = { "web" }, value = 20 }\n')
        srv = self.http_server(rules=path, workers=1, state="memory")
        c = self.connect(srv)
        arms, chosen = {}, {}
        for i in range(200):
            r = c.ok("decide", {"customer_id": "e-%d" % i, "channel": "web", "touchpoint": "home"})
            arms[r.get("arm")] = arms.get(r.get("arm"), 0) + 1
            for a in r["actions"]:
                chosen[a["id"]] = chosen.get(a["id"], 0) + 1
        self.assertGreater(arms.get("challenger", 0), 0, arms)
        self.assertGreater(arms.get("champion", 0), 0, arms)
        m = parse_exposition(self.scrape(srv))
        self.assertEqual(val(m, "arbiter_decisions_total", channel="web", touchpoint="home"), 200)
        self.assertEqual(total(m, "arbiter_decisions_total", channel="(other)"), 0)
        # radio is the champion's and the challenger's choice; new_tv is
        # the challenger's alone, not the champion's: "(other)".
        self.assertEqual(val(m, "arbiter_actions_chosen_total", action="radio"),
                         chosen.get("radio", 0))
        self.assertEqual(val(m, "arbiter_actions_chosen_total", action="tv"), chosen.get("tv", 0))
        self.assertEqual(val(m, "arbiter_actions_chosen_total", action="(other)"),
                         chosen.get("new_tv", 0))

    def test_ruleset_info_follows_a_reload(self):
        srv = self.http_server(workers=2)
        c = self.connect(srv)
        for i in range(5):
            self.assertIsNone(self.decide(c, "web", i).error)
        v1 = [dict(lb)["version"] for (n, lb) in parse_exposition(self.scrape(srv))
              if n == "arbiter_ruleset_info"]
        srv.reload()
        for i in range(3):
            self.assertIsNone(self.decide(c, "web", i).error)
        m = parse_exposition(self.scrape(srv))
        # The per-ruleset series start again with the new ruleset; the
        # histogram counts since the start.
        self.assertEqual(total(m, "arbiter_decisions_total"), 3)
        self.assertEqual(val(m, "arbiter_decide_duration_seconds_count"), 8)
        v2 = [dict(lb)["version"] for (n, lb) in m if n == "arbiter_ruleset_info"]
        self.assertEqual(len(v1), 1)
        self.assertEqual(len(v2), 1)
        self.assertNotEqual(v1, v2)
        self.assertEqual(val(m, "arbiter_reloads_total", outcome="ok"), 1)

    def test_a_bad_or_taken_http_address_is_a_start_up_error(self):
        from harness import run_cli, RULES_DIR
        for addr in ("nonsense", "127.0.0.1:99999", "example.com:80"):
            cp = run_cli(["serve", "--rules", str(RULES_DIR), "--state", "memory",
                          "--listen", "127.0.0.1:%d" % free_port(), "--http", addr])
            self.assertEqual(cp.returncode, 2, addr)
            self.assertIn("--http", cp.stderr, addr)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        cp = run_cli(["serve", "--rules", str(RULES_DIR), "--state", "memory",
                      "--listen", "127.0.0.1:%d" % free_port(),
                      "--http", "127.0.0.1:%d" % busy.getsockname()[1]])
        self.assertEqual(cp.returncode, 2)
        self.assertIn("cannot serve http", cp.stderr)
        self.assertIn("--http HOST:PORT", run_cli(["serve", "--help"]).stdout)

    def test_health_ready_and_what_else_is_refused(self):
        srv = self.http_server(workers=1)
        self.assertEqual(http_get(srv.http_port, "/healthz")[::2], (200, b"ok\n"))
        self.assertEqual(http_get(srv.http_port, "/readyz")[::2], (200, b"ready\n"))
        status, headers, body = http_get(srv.http_port, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        for method in ("POST", "PUT", "DELETE"):
            status, headers, _ = http_get(srv.http_port, "/metrics", method=method)
            self.assertEqual(status, 405, method)
            self.assertIn("GET", headers.get("allow", ""))
        for path in ("/", "/metrics/x", "/../etc/passwd", "/metricsx", "/%00"):
            self.assertEqual(http_get(srv.http_port, path)[0], 404, path)


class HostileHttpTest(HttpCase):

    def assert_decides(self, srv):
        c = self.connect(srv)
        r = self.decide(c, "web", 1)
        self.assertIsNone(r.error, r.error)

    def raw(self, port, data, timeout=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout or T(15))
        try:
            s.sendall(data)
            got = b""
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    break
                if not b:
                    break
                got += b
            return got
        finally:
            s.close()

    def test_garbage_huge_headers_and_bad_requests_get_bounded_answers(self):
        srv = self.http_server(workers=1)
        port = srv.http_port
        self.assertIn(b" 400 ", self.raw(port, b"\x00\xff garbage \r\n\r\n")[:20] or b" 400 ")
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"
        got = self.raw(port, big)
        self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:60])
        many = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 20000 + b"\r\n"
        self.assertFalse(self.raw(port, many).startswith(b"HTTP/1.1 200"))
        post = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        self.assertTrue(self.raw(port, post).startswith(b"HTTP/1.1 405"))
        for junk in (b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\r\n" * 1000,
                     os.urandom(4096)):
            self.raw(port, junk)
        self.assert_decides(srv)
        self.assertEqual(http_get(port, "/healthz")[0], 200)
        self.assertTrue(srv.alive())

    def test_a_slow_client_does_not_stop_scrapes_or_decisions(self):
        srv = self.http_server(workers=1)
        slow = socket.create_connection(("127.0.0.1", srv.http_port), timeout=T(30))
        self.addCleanup(slow.close)
        req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        for i in range(4):   # a byte a second
            slow.sendall(req[i:i + 1])
            self.assertEqual(http_get(srv.http_port, "/healthz", timeout=T(5))[0], 200)
            self.assert_decides(srv)
            time.sleep(1)
        # The library's connection timeout (10 s) closes it in the end.
        slow.settimeout(T(30))
        try:
            tail = slow.recv(100)
        except OSError:
            tail = b""
        self.assertFalse(tail.startswith(b"HTTP/1.1 200"), tail)

    def test_ten_thousand_connections_do_not_stop_decisions(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 10000 + 200
        if hard != resource.RLIM_INFINITY and hard < want:
            self.skipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        srv = self.http_server(workers=1)
        c = self.connect(srv)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        decided = 0
        for i in range(10000):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", srv.http_port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            socks.append(s)
            if i % 1000 == 999:
                r = self.decide(c, "web", i)
                self.assertIsNone(r.error, r.error)
                decided += 1
        self.assertEqual(decided, 10)
        self.assertGreaterEqual(len(socks), 9000)
        t0 = time.monotonic()
        for i in range(50):
            self.assertIsNone(self.decide(c, "email", i).error)
        self.assertTrue(srv.alive())
        # The endpoint holds at most its limit: the server's descriptors stay
        # far below the 10,000 connections.
        self.assertLess(srv.fd_count(), 2000)
        for s in socks:
            s.close()
        socks.clear()
        wait_until(lambda: self._answers(srv.http_port), T(30))
        del t0
        # The library's complaint about each refused connection is logged
        # at most once a second, not 10,000 times.
        http_lines = [l for l in srv.stderr().splitlines() if "msg=http " in l]
        self.assertLess(len(http_lines), 200, "\n".join(http_lines[:5]))

    def test_sigterm_with_http_connections_open_exits_promptly(self):
        srv = self.http_server(workers=1)
        idle = [socket.create_connection(("127.0.0.1", srv.http_port)) for _ in range(20)]
        self.addCleanup(lambda: [s.close() for s in idle])
        half = idle[0]
        half.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        rc = srv.stop(timeout=T(5))
        self.assertEqual(rc, 0, "exit %s after SIGTERM\n%s" % (rc, srv.stderr_tail()))


try:
    from test_redis_nodes import RedisClusterCase
except ImportError:   # keeps this file importable alone; the class then skips
    RedisClusterCase = None


if RedisClusterCase is not None:
    class RedisReadyTest(RedisClusterCase, HttpCase):
        """/readyz follows the Redis store: the cluster stopped, 503 once a
        store call failed; started again, 200 once one succeeded."""

        def test_readyz_flips_when_the_store_goes_away_and_back(self):
            from test_state import ctx, offer_rules
            folder = self.rules_dir = __import__("harness").rules_folder(
                self, offer_rules(), "arb-http-redis-")
            srv = self.http_server(rules=folder, workers=2, state="redis://" + self.seeds,
                                   extra_args=["--state-timeout-ms", "200"])
            c = self.connect(srv)
            who = [self.cid("R%d" % i) for i in range(12)]   # over every master
            for w in who:
                self.assertIsNone(c.call("decide", ctx(w), timeout=T(10)).error)
            self.assertEqual(http_get(srv.http_port, "/readyz")[0], 200)
            self.stop_nodes(self.ports)
            for w in who:
                self.assertEqual(c.call("decide", ctx(w), timeout=T(10)).error["code"],
                                 "unavailable")
            status, _, body = http_get(srv.http_port, "/readyz")
            self.assertEqual(status, 503, body)
            self.assertIn(b"store", body)
            self.assertEqual(http_get(srv.http_port, "/healthz")[0], 200)
            self.assertEqual(val(parse_exposition(self.scrape(srv)), "arbiter_ready"), 0)
            self.start_nodes(self.ports)

            def decided():
                return all(c.call("decide", ctx(w), timeout=T(10)).error is None for w in who)
            wait_until(decided, T(60), interval=0.5)
            self.assertEqual(http_get(srv.http_port, "/readyz")[0], 200)
            rc = srv.stop(timeout=T(15))
            self.assertEqual(rc, 0, srv.stderr_tail())


if __name__ == "__main__":
    unittest.main()
