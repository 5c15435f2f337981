"""Hostile input and resource limits: bad frames, oversized frames, nesting,
connection limit, backpressure, half-open clients, disconnects."""

import random
import socket
import struct
import threading
import time
import unittest

import msgpack

import harness
from harness import (T, E2ETestCase, RssSampler, check_response, pack, request_bytes,
                     sample_context, assert_decision, wait_until, ConnectionClosed)

MiB = 1024 * 1024


def nested_array(depth, leaf=0):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def nested_map(depth, leaf="x"):
    v = leaf
    for _ in range(depth):
        v = {"k": v}
    return v


class LimitsBase(E2ETestCase):

    def send_in_thread(self, sock, data, timeout=None):
        """sendall from a thread (the server may stop reading or close
        mid-way); errors are swallowed. Returns the thread."""
        def run():
            try:
                sock.settimeout(timeout or T(20))
                sock.sendall(data)
            except OSError:
                pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # -- crash-isolating helpers: a case that kills the server is reported
    # with its exact bytes, and a fresh server takes over for later cases.

    def fresh(self, **server_kw):
        self._server_kw = server_kw
        self.srv = self.start_server(**server_kw)
        self.witness = self.connect(self.srv)
        self.assert_ping_works(self.witness, "witness")
        return self.srv

    def survived(self, what, data=b""):
        try:
            r = self.witness.call("ping", timeout=T(10))
            if r.error is None:
                return
            problem = "witness ping answered %r" % (r.error,)
        except (ConnectionClosed, socket.timeout, OSError) as e:
            problem = "witness ping failed: %r" % (e,)
        rc = self.srv.died(grace=T(2))
        sent = data[:64].hex() + ("..." if len(data) > 64 else "")
        if rc is not None:
            self.srv.crash_reported = True
            desc = self.srv.describe_exit(rc)
            self.fresh(**self._server_kw)
            self.fail("server %s after %s (sent %d bytes: %s)" % (desc, what, len(data), sent))
        self.fail("%s after %s (sent %s)" % (problem, what, sent))

    def assert_rss_bounded(self, sampler, base_kb, what):
        peak_mb = sampler.max_kb / 1024.0
        growth_mb = (sampler.max_kb - base_kb) / 1024.0
        self.assertLess(peak_mb, harness.RSS_LIMIT_MB,
                        "%s: server RSS peaked at %.1f MB" % (what, peak_mb))
        self.assertLess(growth_mb, harness.RSS_GROWTH_MB,
                        "%s: server RSS grew by %.1f MB" % (what, growth_mb))


class BadFramesTest(LimitsBase):

    def setUp(self):
        self.fresh()

    def _send_bad(self, data):
        c = self.connect(self.srv)
        c.send_raw(data)
        return c

    def _expect_each_just_closes(self, cases):
        """Each case's bytes, sent alone on a fresh connection, are closed
        without an answer, and the server survives them."""
        for name, data in cases.items():
            with self.subTest(case=name):
                try:
                    c = self._send_bad(data)
                    self.assert_closed(c, T(5), allow_error_answer=False, msg="after %s" % name)
                finally:
                    self.survived(name, data)

    def test_invalid_msgpack_byte_just_closes(self):
        c = self._send_bad(b"\xc1")
        self.assert_closed(c, T(5), allow_error_answer=False, msg="after b'\\xc1'")
        self.survived("b'\\xc1'", b"\xc1")

    def test_invalid_byte_after_valid_request(self):
        # The valid request before the garbage may be answered; then close.
        c = self._send_bad(request_bytes(9, "ping") + b"\xc1")
        closed, frames, trailing = c.wait_closed(T(5))
        self.assertTrue(closed, "no close after garbage following a request")
        self.assertEqual(trailing, 0)
        for f in frames:
            r = check_response(f)
            self.assertEqual(r.msgid, 9, "unexpected answer %r" % (r,))
        self.survived("garbage after a request")

    def test_non_array_values_just_close(self):
        cases = {
            "positive int": pack(5),
            "negative int": pack(-5),
            "nil": pack(None),
            "true": pack(True),
            "float": pack(1.5),
            "str": pack("ping"),
            "bin": pack(b"ping"),
            "map": pack({"type": 0, "msgid": 7, "method": "ping"}),
            "ext": pack(msgpack.ExtType(5, b"abc")),
            "empty array": pack([]),
            "one-element array": pack([0]),
            "msgid is a str": pack([0, "7", "ping", []]),
            "msgid is nil": pack([0, None, "ping", []]),
            "two-element notification": pack([2, "ping"]),
            "notification with int method": pack([2, 5, []]),
        }
        self._expect_each_just_closes(cases)

    def test_top_level_scalar_frames(self):
        # Every one-value frame that is not a container: must just close.
        cases = {"fixint 0x00": b"\x00", "fixint 0x7f": b"\x7f", "negative fixint": b"\xe0",
                 "nil": b"\xc0", "false": b"\xc2", "true": b"\xc3",
                 "uint8": b"\xcc\x01", "uint64": b"\xcf" + b"\x00" * 8,
                 "int32": b"\xd2\x00\x00\x00\x01", "float32": b"\xca\x00\x00\x00\x00",
                 "float64": b"\xcb" + b"\x00" * 8, "fixext1": b"\xd4\x01\x00",
                 "scalar then request": b"\x05" + request_bytes(1, "ping")}
        self._expect_each_just_closes(cases)

    def test_readable_msgid_gets_invalid_request_then_close(self):
        cases = {
            "method is an int": pack([0, 7, 123, []]),
            "type is 5": pack([5, 7, "ping", []]),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                try:
                    c = self._send_bad(data)
                    resps = self.assert_closed(c, T(5), msg="after %s" % name)
                    self.assertEqual(len(resps), 1,
                                     "expected exactly one invalid_request answer, got %r"
                                     % (resps,))
                    self.assertEqual(resps[0].msgid, 7)
                    self.assertEqual(resps[0].error["code"], "invalid_request")
                finally:
                    self.survived(name, data)

    def test_other_malformed_requests_close(self):
        # msgid may or may not count as readable here: an invalid_request
        # answer is optional, closing is not.
        cases = {
            "three-element request": (pack([0, 7, "ping"]), 7),
            "five-element request": (pack([0, 7, "ping", [], "extra"]), 7),
            "method is nil": (pack([0, 7, None, []]), 7),
            "type is a str": (pack(["0", 7, "ping", []]), 7),
            "negative msgid": (pack([0, -1, "ping", []]), None),
            "msgid above uint32": (pack([0, 2 ** 40, "ping", []]), None),
        }
        for name, (data, mid) in cases.items():
            with self.subTest(case=name):
                try:
                    c = self._send_bad(data)
                    resps = self.assert_closed(c, T(5), msg="after %s" % name)
                    self.assertLessEqual(len(resps), 1, resps)
                    for r in resps:
                        self.assertEqual(r.error["code"], "invalid_request", r)
                        if mid is not None:
                            self.assertEqual(r.msgid, mid, r)
                finally:
                    self.survived(name, data)

    def test_params_not_an_array(self):
        # Either invalid_request + close, or an error answer on a live
        # connection. Never a crash, never a success.
        for name, params in (("map", {"customer_id": "x"}), ("nil", None), ("str", "x")):
            data = pack([0, 7, "decide", params])
            with self.subTest(params=name):
                try:
                    c = self._send_bad(data)
                    try:
                        r = c.recv(T(5))
                    except ConnectionClosed:
                        continue
                    self.assertEqual(r.msgid, 7)
                    self.assertIsNotNone(r.error, "params=%s was accepted: %r" % (name, r))
                    self.assertIn(r.error["code"], ("invalid_request", "invalid_params"))
                    if r.error["code"] == "invalid_request":
                        self.assert_closed(c, T(5))
                    else:
                        self.assert_ping_works(c)
                finally:
                    self.survived("params " + name, data)


class FrameSizeTest(LimitsBase):

    def test_oversized_str_frame_default_limit(self):
        srv = self.start_server()
        witness = self.connect(srv)
        self.assert_ping_works(witness, "witness")
        base = srv.rss_kb()
        c = self.connect(srv)
        data = request_bytes(1, "ping", ["x" * (2 * MiB)])
        with RssSampler(srv.pid) as rs:
            t = self.send_in_thread(c.sock, data)
            self.assert_closed(c, T(10), msg="after a 2 MiB frame")
            t.join(T(20))
        self.assert_rss_bounded(rs, base, "2 MiB frame")
        self.assert_ping_works(witness, "witness opened before")
        self.assert_ping_works(self.connect(srv), "new connection")

    def test_huge_declared_lengths(self):
        # Headers that announce far more than --max-frame must be refused
        # without waiting for (or allocating) the data. --frame-timeout is
        # set high so a close can only come from the size check.
        srv = self.start_server(frame_timeout=60)
        witness = self.connect(srv)
        self.assert_ping_works(witness, "witness")
        base = srv.rss_kb()
        prefix = b"\x94\x00\x01\xa6decide\x91"   # [0, 1, "decide", [ ...
        cases = {
            "array32 2^28": b"\xdd\x10\x00\x00\x00" + b"\x00" * 8,
            "array32 2^32-1": b"\xdd\xff\xff\xff\xff" + b"\x00" * 8,
            "map32 2^28": b"\xdf\x10\x00\x00\x00" + b"\x00" * 8,
            "str32 256MiB": b"\xdb\x10\x00\x00\x00" + b"a" * 8,
            "bin32 256MiB": b"\xc6\x10\x00\x00\x00" + b"a" * 8,
            "ext32 256MiB": b"\xc9\x10\x00\x00\x00\x05" + b"a" * 8,
            "array32 inside params": prefix + b"\xdd\x10\x00\x00\x00" + b"\x00" * 8,
            "str32 inside params": prefix + b"\xdb\xff\xff\xff\xf0abc",
            "map32 inside context": prefix + b"\x81\xa1k\xdf\x10\x00\x00\x00\x00",
        }
        with RssSampler(srv.pid) as rs:
            for name, data in cases.items():
                with self.subTest(case=name):
                    c = self.connect(srv)
                    c.send_raw(data)
                    self.assert_closed(c, T(10), msg="after header %s" % name)
                    self.assert_ping_works(witness, "witness after %s" % name)
        self.assert_rss_bounded(rs, base, "huge declared lengths")

    def test_many_huge_headers_at_once(self):
        # 30 connections each announcing a 2^28-element array at the same time.
        srv = self.start_server(frame_timeout=60)
        witness = self.connect(srv)
        self.assert_ping_works(witness, "witness")
        base = srv.rss_kb()
        with RssSampler(srv.pid) as rs:
            conns = [self.connect(srv) for _ in range(30)]
            for c in conns:
                c.send_raw(b"\x94\x00\x01\xa4ping\xdd\x10\x00\x00\x00\x00\x00\x00")
            for c in conns:
                self.assert_closed(c, T(10))
        self.assert_rss_bounded(rs, base, "30 huge headers")
        self.assert_ping_works(witness, "witness")

    def test_custom_max_frame(self):
        srv = self.start_server(max_frame=4096)
        witness = self.connect(srv)
        tp = self.touchpoint(witness)
        small = sample_context(touchpoint=tp, attributes={"blob": "s" * 1024})
        big = sample_context(touchpoint=tp, attributes={"blob": "b" * 8192})
        self.assertLess(len(request_bytes(1, "decide", [small])), 4096)
        c = self.connect(srv)
        assert_decision(self, c.ok("decide", small))
        c.send_raw(request_bytes(2, "decide", [big]))
        self.assert_closed(c, T(10), msg="after an 8 KiB frame with --max-frame 4096")
        self.assert_ping_works(witness, "witness")

    def test_large_frame_under_default_limit(self):
        srv = self.start_server()
        c = self.connect(srv)
        tp = self.touchpoint(c)
        ctx = sample_context(touchpoint=tp, attributes={"blob": "z" * (512 * 1024)})
        assert_decision(self, c.ok("decide", ctx, timeout=T(20)))
        self.assert_ping_works(c)


class NestingTest(LimitsBase):

    def _expect_refused(self, c, data, what):
        """The frame must be refused: an error answer, or a close."""
        c.send_raw(data)
        try:
            r = c.recv(T(10))
        except ConnectionClosed as e:
            self.assertEqual(e.trailing, 0, "%s: truncated frame before close" % what)
            return
        self.assertIsNotNone(r.error, "%s was accepted: %r" % (what, r))

    def test_deep_nesting_default_limit(self):
        self.fresh()
        tp = self.touchpoint(self.witness)
        cases = {
            "40 nested arrays in params of ping": pack([0, 1, "ping", [nested_array(40)]]),
            "40 nested arrays in params of decide": pack([0, 1, "decide", [nested_array(40)]]),
            "40 nested maps in context attributes":
                pack([0, 1, "decide", [sample_context(touchpoint=tp,
                                                      attributes=nested_map(40))]]),
            "40 nested arrays in unknown key":
                pack([0, 1, "decide", [sample_context(touchpoint=tp, zz=nested_array(40))]]),
            "100000 nested arrays (stack bomb)":
                b"\x94\x00\x01\xa4ping\x91" + b"\x91" * 100000 + b"\xc0",
            "100000 nested maps (stack bomb)":
                b"\x94\x00\x01\xa4ping\x91" + b"\x81\xa1k" * 100000 + b"\xc0",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                try:
                    c = self.connect(self.srv)
                    self._expect_refused(c, data, name)
                finally:
                    self.survived(name, data)

    def test_moderate_nesting_is_fine(self):
        srv = self.start_server()
        c = self.connect(srv)
        tp = self.touchpoint(c)
        # frame(1) > params(2) > context(3) > attributes(4) > 20 more = 24 < 32
        ctx = sample_context(touchpoint=tp, attributes={"deep": nested_map(20)})
        assert_decision(self, c.ok("decide", ctx))

    def test_custom_max_depth(self):
        srv = self.start_server(max_depth=8)
        witness = self.connect(srv)
        tp = self.touchpoint(witness)
        ok_ctx = sample_context(touchpoint=tp, attributes={"tier": "gold"})
        assert_decision(self, witness.ok("decide", ok_ctx))
        c = self.connect(srv)
        deep = sample_context(touchpoint=tp, attributes=nested_map(12))
        self._expect_refused(c, pack([0, 2, "decide", [deep]]), "12 nested maps with --max-depth 8")
        self.assert_ping_works(witness, "witness")


class ConnectionLimitTest(LimitsBase):

    def _open_served(self, srv, deadline_s):
        """Open a connection that gets served, retrying while the server may
        still count recently closed ones."""
        deadline = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < deadline:
            c = srv.client()
            try:
                r = c.call("ping", timeout=T(5))
                if r.error is None:
                    self.addCleanup(c.close)
                    return c
                last = r.error
            except (ConnectionClosed, OSError) as e:
                last = e
            c.close()
            time.sleep(0.2)
        self.fail("could not open a served connection: %r" % (last,))

    def test_max_connections(self):
        n = 4
        srv = self.start_server(max_connections=n)
        conns = [self._open_served(srv, T(10)) for _ in range(n)]
        # One more: must be closed promptly by the server.
        extra = srv.client()
        self.addCleanup(extra.close)
        try:
            extra.send_request("ping", msgid=99)
        except OSError:
            pass
        closed, frames, _ = extra.wait_closed(T(5))
        self.assertTrue(closed, "connection %d (over --max-connections %d) was not closed"
                        % (n + 1, n))
        for f in frames:
            r = check_response(f)
            self.assertIsNotNone(r.error, "connection over the limit was served: %r" % (r,))
        # Existing ones keep working.
        for i, c in enumerate(conns):
            self.assert_ping_works(c, "existing connection %d" % i)
        # Free a slot: a new connection is served again.
        conns[0].close()
        self._open_served(srv, T(10))
        for i, c in enumerate(conns[1:], 1):
            self.assert_ping_works(c, "existing connection %d" % i)

    def test_connection_flood_over_limit(self):
        n = 8
        srv = self.start_server(max_connections=n)
        keep = [self._open_served(srv, T(10)) for _ in range(n)]
        flood = []
        for _ in range(100):
            try:
                s = srv.raw_socket(timeout=T(5))
                flood.append(s)
                self.addCleanup(s.close)
            except OSError:
                pass
        deadline = time.monotonic() + T(10)
        open_left = 0
        for s in flood:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                if s.recv(1) == b"":
                    continue
                open_left += 1
            except (ConnectionResetError, BrokenPipeError):
                continue
            except socket.timeout:
                open_left += 1
        self.assertEqual(open_left, 0, "%d connections over the limit stayed open" % open_left)
        for c in keep:
            self.assert_ping_works(c, "kept connection")
        self.assertTrue(srv.alive())


class BackpressureTest(LimitsBase):

    def test_non_reading_client_is_throttled(self):
        srv = self.start_server(max_queued=MiB)
        witness = self.connect(srv)
        self.assert_ping_works(witness, "witness")
        base = srv.rss_kb()

        frame = b"\x94\x00\xce" + struct.pack(">I", 65536) + b"\xa4ping\x90"
        self.assertEqual(frame, request_bytes(65536, "ping"))
        flen = len(frame)
        batch = frame * 10000
        limit = 200 * MiB
        spam = self.raw(srv)
        spam.settimeout(T(5))      # a send blocked this long = server stopped reading
        state = {"sent": 0}

        def spammer():
            view = memoryview(batch)
            off = 0
            while state["sent"] < limit:
                try:
                    k = spam.send(view[off:])
                except socket.timeout:
                    state["blocked"] = True
                    return
                except OSError as e:
                    state["error"] = e
                    return
                state["sent"] += k
                off = (off + k) % len(batch)

        t = threading.Thread(target=spammer, daemon=True)
        deadline = time.monotonic() + T(180)
        with RssSampler(srv.pid, interval=0.05) as rs:
            t.start()
            while t.is_alive() and time.monotonic() < deadline:
                self.assert_ping_works(witness, "witness during the flood")
                t.join(0.5)
            t.join(1)
            self.assertFalse(t.is_alive(), "flood thread still running after %ss" % T(180))
            # A fresh client is served while the flooder is blocked.
            self.assert_ping_works(self.connect(srv), "new connection during the flood")
        sent = state["sent"]
        self.assertNotIn("error", state,
                         "server closed/reset the non-reading client after %.1f MB: %r"
                         % (sent / MiB, state.get("error")))
        self.assertTrue(state.get("blocked"),
                        "server never stopped reading: it accepted all %.0f MB" % (sent / MiB))
        self.assert_rss_bounded(rs, base, "non-reading client (%.1f MB sent)" % (sent / MiB))

        # Now read: the server resumes and answers every request we sent.
        rem = (-sent) % flen
        expected = (sent + rem) // flen
        finisher = self.send_in_thread(spam, frame[flen - rem:] if rem else b"", timeout=T(60))
        answers = harness.RpcClient(spam, T(30))
        got = 0
        bad = 0
        deadline = time.monotonic() + T(180)
        while got < expected and time.monotonic() < deadline:
            try:
                if not answers.read_some(1 << 20):
                    break
            except socket.timeout:
                break
            for f in answers.take_frames():
                got += 1
                if not (isinstance(f, list) and len(f) == 4 and f[0] == 1 and f[1] == 65536
                        and f[2] is None):
                    bad += 1
        finisher.join(T(10))
        self.assertEqual(bad, 0, "%d malformed/error answers after backpressure" % bad)
        self.assertEqual(got, expected, "after backpressure got %d of %d answers" % (got, expected))
        self.assert_ping_works(witness, "witness after the flood")


class TimeoutTest(LimitsBase):

    def test_half_open_frame_is_closed(self):
        srv = self.start_server(frame_timeout=1)
        idle = self.connect(srv)
        self.assert_ping_works(idle, "idle connection")
        tp = self.touchpoint(idle)
        data = request_bytes(1, "decide", [sample_context(touchpoint=tp)])
        half = self.connect(srv)
        half.send_raw(data[:len(data) // 2])
        self.assert_closed(half, T(10), msg="half a frame, stalled, --frame-timeout 1")
        head = self.connect(srv)
        head.send_raw(b"\x94")
        self.assert_closed(head, T(10), msg="one header byte, stalled, --frame-timeout 1")
        # A connection with no partial frame is not a half-open one.
        time.sleep(2.5)
        self.assert_ping_works(idle, "idle connection with no partial frame")

    def test_trickling_frame_is_closed(self):
        # One byte every 0.3 s never completes a 300-byte frame within 1 s:
        # the timeout is per frame, not per read.
        srv = self.start_server(frame_timeout=1)
        witness = self.connect(srv)
        tp = self.touchpoint(witness)
        data = request_bytes(1, "decide", [sample_context(touchpoint=tp)])
        c = self.connect(srv)
        deadline = time.monotonic() + T(15)
        closed = False
        i = 0
        while time.monotonic() < deadline and i < len(data):
            try:
                c.send_raw(data[i:i + 1])
            except OSError:
                closed = True
                break
            i += 1
            closed, frames, _ = c.wait_closed(0.3)
            self.assertEqual(frames, [], "trickled frame answered before it was complete?")
            if closed:
                break
        self.assertTrue(closed, "trickling client was not closed (%d bytes sent over %.0fs)"
                        % (i, T(15)))
        self.assert_ping_works(witness, "witness")


class RobustnessTest(LimitsBase):

    def test_mutated_frames(self):
        srv = self.start_server()
        witness = self.connect(srv)
        tp = self.touchpoint(witness)
        base_fd = srv.fd_count()
        seeds = [
            request_bytes(1, "ping"),
            request_bytes(2, "stats"),
            request_bytes(3, "ruleset"),
            request_bytes(4, "decide", [sample_context(touchpoint=tp)]),
            request_bytes(5, "decide_many", [[sample_context(touchpoint=tp)] * 2]),
            harness.notification_bytes("decide", [sample_context(touchpoint=tp, explain=True)]),
        ]
        rng = random.Random(20240611)

        def mutate(b):
            b = bytearray(b)
            for _ in range(rng.randint(1, 4)):
                op = rng.randrange(5)
                if op == 0 and b:
                    b[rng.randrange(len(b))] = rng.randrange(256)
                elif op == 1 and b:
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                elif op == 2:
                    pos = rng.randrange(len(b) + 1)
                    b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
                elif op == 3 and len(b) > 1:
                    pos = rng.randrange(len(b))
                    del b[pos:pos + rng.randint(1, 8)]
                else:
                    b = b[:rng.randrange(len(b) + 1)] + b
            return bytes(b)

        total = 300
        batch = 25
        crashes = []
        malformed = []
        for start in range(0, total, batch):
            conns = []
            inputs = [mutate(rng.choice(seeds)) for _ in range(batch)]
            for data in inputs:
                try:
                    c = srv.client(timeout=T(5))
                except OSError:
                    break       # server gone (checked below)
                conns.append(c)
                try:
                    c.send_raw(data)
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            for c, data in zip(conns, inputs):
                try:
                    _closed, frames, _ = c.wait_closed(T(3))
                    for f in frames:
                        check_response(f)
                except harness.MalformedFrame as e:
                    if len(malformed) < 5:
                        malformed.append("input %s -> %s" % (data.hex(), e))
                except (OSError, ConnectionClosed):
                    pass
                finally:
                    c.close()
            rc = srv.died(grace=0.2)
            if rc is not None:
                srv.crash_reported = True
                crashes.append("batch %d: server %s; crashing inputs: %s"
                               % (start, srv.describe_exit(rc),
                                  self._culprits(inputs[:len(conns)])))
                srv = self.start_server()
                witness = self.connect(srv)
                base_fd = srv.fd_count()
        self.assertEqual(crashes, [], "server crashed on mutated frames")
        self.assertEqual(malformed, [], "server sent malformed frames")
        self.assert_ping_works(witness, "witness after mutated frames")
        self.assertTrue(wait_until(lambda: srv.fd_count() <= base_fd, T(10)),
                        "server fds did not return to baseline (%d -> %d)"
                        % (base_fd, srv.fd_count()))

    def _culprits(self, inputs):
        """Replay inputs one at a time against fresh servers; return the hex
        of those that kill the server (at most 3)."""
        found = []
        srv = self.start_server()
        for data in inputs:
            if len(found) >= 3:
                break
            try:
                c = srv.client(timeout=T(5))
                c.send_raw(data)
                c.sock.shutdown(socket.SHUT_WR)
                c.wait_closed(T(2))
                c.close()
            except (OSError, ConnectionClosed):
                pass
            if srv.died(grace=0.3) is not None:
                srv.crash_reported = True
                found.append(data.hex())
                srv = self.start_server()
        return found or ["(none reproduced alone)"]

    def test_abrupt_disconnects(self):
        srv = self.start_server()
        witness = self.connect(srv)
        tp = self.touchpoint(witness)
        base_fd = srv.fd_count()
        pings = b"".join(request_bytes(i, "ping") for i in range(20000))
        decides = b"".join(request_bytes(i, "decide", [sample_context(touchpoint=tp)])
                           for i in range(2000))
        for round_ in range(10):
            # Send lots, close without reading (server's writes hit EPIPE).
            s = srv.raw_socket()
            try:
                s.sendall(pings if round_ % 2 else decides)
            except OSError:
                pass
            s.close()
            # Same, but close with RST.
            s = srv.raw_socket()
            try:
                s.sendall(pings)
            except OSError:
                pass
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            # Connect and vanish immediately.
            s = srv.raw_socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        time.sleep(0.5)
        self.assertTrue(srv.alive(), "server died after abrupt disconnects (SIGPIPE?)")
        self.assert_ping_works(witness, "witness after abrupt disconnects")
        self.assertTrue(wait_until(lambda: srv.fd_count() <= base_fd, T(10)),
                        "server fds did not return to baseline (%d -> %d)"
                        % (base_fd, srv.fd_count()))

    def test_no_fd_or_memory_leak_over_many_connections(self):
        srv = self.start_server()
        witness = self.connect(srv)
        self.assert_ping_works(witness)
        base_fd = srv.fd_count()
        for i in range(300):
            c = srv.client()
            if i % 3 == 0:
                c.ok("ping")
            elif i % 3 == 1:
                c.send_raw(b"\xc1")
            c.close()
        self.assertTrue(wait_until(lambda: srv.fd_count() <= base_fd, T(10)),
                        "server fds did not return to baseline (%d -> %d)"
                        % (base_fd, srv.fd_count()))
        self.assert_ping_works(witness)


if __name__ == "__main__":
    unittest.main()
