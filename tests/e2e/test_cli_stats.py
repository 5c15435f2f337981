"""`arbiter stats`: a running server's counters printed for a person.

Drives the real build/arbiter: the sections come in order with the counts
the server reports (the same as `arbiter call stats`), --json prints that
answer, --socket reaches a Unix socket, and a server that cannot be reached
or does not answer is exit 2 within --timeout.
"""

import json
import re
import signal
import socket
import threading
import time

import msgpack

import harness
from harness import E2ETestCase, T, run_cli

SECTIONS = ["requests", "errors", "decide latency", "decisions", "connections", "ruleset",
            "customer store", "learning", "decision log"]


def row(out, section, label):
    """The value printed for label under section (text after the label)."""
    lines = out.splitlines()
    start = lines.index(section)
    for line in lines[start + 1:]:
        if not line.strip():
            break
        m = re.match(r"  (.+?)\s{2,}(\S.*)$", line)
        if m and m.group(1) == label:
            return m.group(2)
    raise AssertionError("no %r under %r in:\n%s" % (label, section, out))


class CliStatsTest(E2ETestCase):

    def setUp(self):
        self.srv = self.start_server(unix_socket=True)
        self.addr = "127.0.0.1:%d" % self.srv.port
        c = self.connect(self.srv)
        for i in range(3):
            c.ok("decide", harness.sample_context("st-%d" % i, touchpoint=self.touchpoint(c)))
        r = c.call("no_such_method")
        self.assertEqual(r.error["code"], "method_not_found")

    def test_readable_sections(self):
        r = run_cli(["stats", "--connect", self.addr])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        lines = out.splitlines()
        self.assertEqual([s for s in lines if s in SECTIONS], SECTIONS)
        self.assertEqual(row(out, "requests", "decide"), "3")
        self.assertEqual(row(out, "errors", "method_not_found"), "1")
        self.assertEqual(row(out, "decisions", "decisions"), "3")
        self.assertRegex(row(out, "decide latency", "p99"), r"^\d+\.\d us$")
        self.assertEqual(row(out, "connections", "open"), "2")   # the test's and this one
        version = self.connect(self.srv).ok("ping")["version"]
        self.assertEqual(row(out, "ruleset", "version"), version)
        self.assertEqual(row(out, "decision log", "records written"), "0")
        self.assertNotIn("other", lines, "a counter this command does not place")
        # Labels and numbers line up: every number ends in the same column.
        ends = {len(l) for l in lines if re.match(r"  \S.*\s\d[\d,]*$", l)}
        self.assertEqual(len(ends), 1, out)

    def test_json_is_the_stats_answer(self):
        r = run_cli(["stats", "--json", "--socket", self.srv.socket_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(st["requests"]["decide"], 3)
        call = json.loads(run_cli(["call", "--connect", self.addr, "stats"]).stdout)
        self.assertEqual(set(st), set(call))

    def test_thousands_are_grouped(self):
        c = self.connect(self.srv)
        c.pipeline(b"".join(harness.request_bytes(i, "ping") for i in range(1200)), 1200)
        r = run_cli(["stats", "--socket", self.srv.admin_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(row(r.stdout, "requests", "ping"), "1,200")

    def test_unreachable_and_stalled_servers_exit_2(self):
        r = run_cli(["stats", "--connect", "127.0.0.1:%d" % harness.free_port()])
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot connect", r.stderr)
        self.srv.pause()
        self.addCleanup(self.srv.send_signal, signal.SIGCONT)
        t0 = time.monotonic()
        r = run_cli(["stats", "--connect", self.addr, "--timeout", "0.5"], timeout=T(20))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no answer within 0.5 s", r.stderr)
        self.assertLess(time.monotonic() - t0, T(10))

    def test_a_newer_servers_counters_are_shown_under_other(self):
        # A stand-in for a newer server: the real answer plus counters this
        # command has no section for.
        st = self.connect(self.srv).ok("stats")
        st["http"] = {"requests": 7}
        st["cache_hits"] = 12345
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        self.addCleanup(lsock.close)

        def answer():
            conn, _ = lsock.accept()
            with conn:
                u = msgpack.Unpacker(raw=False)
                while True:
                    u.feed(conn.recv(65536))
                    for _kind, msgid, _method, _params in u:
                        conn.sendall(msgpack.packb([1, msgid, None, st]))
                        return

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        r = run_cli(["stats", "--connect", "127.0.0.1:%d" % lsock.getsockname()[1]])
        t.join(T(10))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(row(r.stdout, "other", "cache_hits"), "12,345")
        self.assertEqual(row(r.stdout, "other", "http"), '{"requests":7}')
        self.assertEqual(row(r.stdout, "requests", "decide"), "3")

    def test_usage(self):
        r = run_cli(["stats", "--bogus"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("Try 'arbiter stats --help'", r.stderr)
        r = run_cli(["stats", "--connect", "a:1", "--socket", "/x"])
        self.assertEqual(r.returncode, 2)
        r = run_cli(["stats", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: arbiter stats", r.stdout)
