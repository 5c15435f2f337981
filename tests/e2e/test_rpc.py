"""Protocol, methods, pipelining and framing tests against the real server."""

import random
import socket
import time
import unittest

import harness
from harness import (T, E2ETestCase, check_response, notification_bytes, pack,
                     request_bytes, sample_context, assert_decision, wait_until)


class MethodsTest(E2ETestCase):
    """One server for the whole class: these tests only read state."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = harness.start_shared_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.c = self.connect(self.server)
        self.tp = self.touchpoint(self.c)

    # -- ping / ruleset / stats -----------------------------------------

    def test_ping_shape(self):
        r = self.c.call("ping")
        self.assertIsNone(r.error)
        self.assertIsInstance(r.result, dict)
        self.assertIs(r.result.get("pong"), True)
        self.assertIsInstance(r.result.get("version"), str)
        self.assertTrue(r.result["version"])

    def test_ruleset_shape(self):
        rs = self.c.ok("ruleset")
        self.assertIsInstance(rs, dict)
        for k in ("version", "checksum", "loaded_at", "touchpoints", "actions"):
            self.assertIn(k, rs, "ruleset result lacks %r: %r" % (k, rs))
        self.assertIsInstance(rs["version"], str)
        self.assertIsInstance(rs["touchpoints"], list)
        self.assertIsInstance(rs["actions"], list)
        self.assertEqual(rs["version"], self.c.ok("ping")["version"],
                         "ping and ruleset disagree on the version")

    def test_stats_shape(self):
        for _ in range(3):
            self.c.ok("ping")
        self.c.ok("decide", sample_context(touchpoint=self.tp))
        st = self.c.ok("stats")
        self.assertIsInstance(st, dict)
        for k in ("requests", "errors", "connections", "decisions", "decide_us"):
            self.assertIn(k, st, "stats lacks %r: %r" % (k, st))
        self.assertIsInstance(st["requests"], dict)
        self.assertIsInstance(st["errors"], dict)
        for m, n in st["requests"].items():
            self.assertIsInstance(m, str)
            self.assertIsInstance(n, int)
        for code, n in st["errors"].items():
            self.assertIsInstance(code, str)
            self.assertIsInstance(n, int)
        self.assertGreaterEqual(st["requests"].get("ping", 0), 3, st["requests"])
        self.assertIsInstance(st["connections"], int)
        self.assertGreaterEqual(st["connections"], 1)
        self.assertIsInstance(st["decisions"], int)
        self.assertGreaterEqual(st["decisions"], 1)
        du = st["decide_us"]
        self.assertIsInstance(du, dict)
        for k in ("p50", "p99", "p999"):
            self.assertIn(k, du, "decide_us lacks %r: %r" % (k, du))
            self.assertIsInstance(du[k], (int, float))
            self.assertGreaterEqual(du[k], 0)
        self.assertLessEqual(du["p50"], du["p99"], du)
        self.assertLessEqual(du["p99"], du["p999"], du)

    def test_stats_counts_errors_and_decisions(self):
        before = self.c.ok("stats")
        for _ in range(3):
            self.assert_error(self.c.call("no_such_method_xyz"), "method_not_found")
        for i in range(5):
            self.c.ok("decide", sample_context(customer_id="cnt-%d" % i, touchpoint=self.tp))
        after = self.c.ok("stats")
        self.assertGreaterEqual(after["errors"].get("method_not_found", 0),
                                before["errors"].get("method_not_found", 0) + 3,
                                (before["errors"], after["errors"]))
        self.assertGreaterEqual(after["decisions"], before["decisions"] + 5)
        self.assertGreaterEqual(after["requests"].get("decide", 0),
                                before["requests"].get("decide", 0) + 5)

    def test_stats_connections_tracks_open_connections(self):
        base = self.c.ok("stats")["connections"]
        extra = [self.connect(self.server) for _ in range(4)]
        for e in extra:
            self.assert_ping_works(e)
        now = self.c.ok("stats")["connections"]
        self.assertGreaterEqual(now, base + 4, "stats.connections did not count 4 new connections")
        for e in extra:
            e.close()
        dropped = wait_until(lambda: self.c.ok("stats")["connections"] <= now - 4, T(5))
        self.assertTrue(dropped, "stats.connections did not drop after closing 4 connections "
                        "(was %d, now %d)" % (now, self.c.ok("stats")["connections"]))

    # -- decide ----------------------------------------------------------

    def test_decide_shape(self):
        d = self.c.ok("decide", sample_context(touchpoint=self.tp))
        assert_decision(self, d)

    def test_decide_minimal_context(self):
        d = self.c.ok("decide", {"customer_id": "min-1", "channel": "email",
                                 "touchpoint": self.tp})
        assert_decision(self, d)

    def test_decide_every_channel(self):
        for ch in harness.CHANNELS:
            with self.subTest(channel=ch):
                d = self.c.ok("decide", sample_context(channel=ch, touchpoint=self.tp))
                assert_decision(self, d)

    def test_decide_explain(self):
        d = self.c.ok("decide", sample_context(touchpoint=self.tp, explain=True))
        assert_decision(self, d, explain=True)

    def test_decide_unknown_keys_ignored(self):
        ctx = sample_context(touchpoint=self.tp)
        ctx["zz_unknown_key"] = [1, {"nested": None}, b"\x00bin"]
        ctx["another_one"] = {"deep": {"deeper": 1.5}}
        d = self.c.ok("decide", ctx)
        assert_decision(self, d)

    def test_decide_float32_and_float64(self):
        ctx = sample_context(touchpoint=self.tp)
        mid = 4242
        self.c.send_raw(pack([0, mid, "decide", [ctx]], use_single_float=True))
        r = self.c.recv()
        self.assertEqual(r.msgid, mid)
        self.assertIsNone(r.error, "float32 values rejected: %r" % (r.error,))
        assert_decision(self, r.result)

    def test_decision_ids_unique(self):
        n = 300
        payload = b"".join(request_bytes(10 + i, "decide",
                                         [sample_context(customer_id="u-%d" % (i % 7),
                                                         touchpoint=self.tp)])
                           for i in range(n))
        frames = self.c.pipeline(payload, n)
        ids = []
        for f in frames:
            r = check_response(f)
            self.assertIsNone(r.error, r.error)
            assert_decision(self, r.result)
            ids.append(r.result["decision_id"])
        many = self.c.ok("decide_many", [sample_context(customer_id="m-%d" % i, touchpoint=self.tp)
                                         for i in range(50)])
        ids += [d["decision_id"] for d in many]
        self.assertEqual(len(ids), len(set(ids)), "duplicate decision_id values")

    def test_decide_many_shape_and_order(self):
        n = 40
        ctxs = [sample_context(customer_id="dm-%d" % i, touchpoint=self.tp,
                               explain=(i % 3 == 0)) for i in range(n)]
        res = self.c.ok("decide_many", ctxs)
        self.assertIsInstance(res, list)
        self.assertEqual(len(res), n)
        for i, d in enumerate(res):
            # explain=true only on every third context: a decision with no
            # explain at such a position means the order was not kept.
            assert_decision(self, d, explain=(i % 3 == 0), where="decision[%d]" % i)
        ids = [d["decision_id"] for d in res]
        self.assertEqual(len(ids), len(set(ids)))

    def test_decide_many_empty(self):
        self.assertEqual(self.c.ok("decide_many", []), [])

    def test_decide_many_invalid(self):
        good = sample_context(touchpoint=self.tp)
        bad = dict(good)
        del bad["customer_id"]
        self.assert_error(self.c.call("decide_many", [good, bad, good]), "invalid_params",
                          "customer_id")
        self.assert_error(self.c.call("decide_many", good), "invalid_params")
        self.assert_error(self.c.call("decide_many", "nope"), "invalid_params")
        self.assert_error(self.c.call("decide_many"), "invalid_params")
        self.assert_ping_works(self.c)

    def test_decide_invalid_params(self):
        base = sample_context(touchpoint=self.tp)

        def without(k):
            c = dict(base)
            del c[k]
            return c

        def with_(**kw):
            c = dict(base)
            c.update(kw)
            return c

        cases = [
            ("missing customer_id", without("customer_id"), "customer_id"),
            ("int customer_id", with_(customer_id=123), "customer_id"),
            ("nil customer_id", with_(customer_id=None), "customer_id"),
            ("missing channel", without("channel"), "channel"),
            ("unknown channel", with_(channel="fax"), "channel"),
            ("int channel", with_(channel=5), "channel"),
            ("missing touchpoint", without("touchpoint"), "touchpoint"),
            ("array touchpoint", with_(touchpoint=[]), "touchpoint"),
            ("str now", with_(now="yesterday"), "now"),
            ("float now", with_(now=1.5), "now"),
            ("consent not map", with_(consent=[True]), "consent"),
            ("consent value not bool", with_(consent={"email": "yes"}), "consent"),
            ("location not map", with_(location="Berlin"), "location"),
            ("location.lat str", with_(location={"lat": "north", "lon": 1.0}), "location"),
            ("purchases not array", with_(purchases={"sku": "x"}), "purchases"),
            ("purchases element not map", with_(purchases=["x"]), "purchases"),
            ("purchases[0].ts str",
             with_(purchases=[{"sku": "a", "category": "b", "price": 1.0, "ts": "now",
                               "channel": "web"}]), "purchases"),
            ("purchases[0].price str",
             with_(purchases=[{"sku": "a", "category": "b", "price": "cheap", "ts": 1,
                               "channel": "web"}]), "purchases"),
            ("events not array", with_(events="click"), "events"),
            ("events[0].type int", with_(events=[{"type": 5, "ts": 1}]), "events"),
            ("weather not map", with_(weather=20), "weather"),
            ("weather.temp_c str", with_(weather={"temp_c": "hot", "condition": "sun"}),
             "weather"),
            ("scores not map", with_(scores=[0.5]), "scores"),
            ("scores value str", with_(scores={"churn": "high"}), "scores"),
            ("attributes not map", with_(attributes=[1, 2]), "attributes"),
            ("limit str", with_(limit="3"), "limit"),
            ("explain str", with_(explain="yes"), "explain"),
        ]
        for name, ctx, field in cases:
            with self.subTest(case=name):
                r = self.c.call("decide", ctx)
                self.assert_error(r, "invalid_params", field)
                self.assert_ping_works(self.c, "connection after %s" % name)
        # Whole-argument errors.
        for name, params in (("no params", []), ("context is a str", ["ctx"]),
                             ("context is an int", [5]), ("context is nil", [None]),
                             ("context is an array", [[base]])):
            with self.subTest(case=name):
                mid = self.c.send_request("decide", params)
                r = self.c.recv()
                self.assertEqual(r.msgid, mid)
                self.assert_error(r, "invalid_params")
                self.assert_ping_works(self.c, "connection after %s" % name)

    def test_invalid_utf8_from_client_is_not_echoed_raw(self):
        # Strings in responses must be valid UTF-8 (msgpack str), even when the
        # client sent invalid UTF-8 that ends up in an error message.
        bad = b"\xff\xfe\xfd\xfc\xfb\xfa"
        cases = {
            "consent key": ("consent", {"KEYKEY": "not-a-bool"}),
            "channel value": ("channel", "KEYKEY"),
            "touchpoint value": ("touchpoint", "KEYKEY"),
            "customer_id value": ("customer_id", "KEYKEY"),
            "scores key": ("scores", {"KEYKEY": "high"}),
        }
        for name, (field, val) in cases.items():
            with self.subTest(case=name):
                ctx = sample_context(touchpoint=self.tp)
                ctx[field] = val
                frame = pack([0, 4343, "decide", [ctx]])
                self.assertEqual(frame.count(b"\xa6KEYKEY"), 1)
                c = self.connect(self.server)   # a fresh stream per case
                c.send_raw(frame.replace(b"\xa6KEYKEY", b"\xa6" + bad))
                try:
                    r = c.recv()
                except harness.MalformedFrame as e:
                    self.fail("response is not valid msgpack/UTF-8: %s" % e)
                except harness.ConnectionClosed:
                    # Refusing invalid UTF-8 outright by closing is acceptable.
                    continue
                self.assertEqual(r.msgid, 4343)
                if r.error is not None:
                    self.assertIn(r.error["code"], ("invalid_params", "invalid_request"))
                self.assert_ping_works(c)

    # -- errors / notifications -----------------------------------------

    def test_unknown_method(self):
        for name in ("nosuchmethod", "", "PING", "ping ", "x" * 300):
            with self.subTest(method=name):
                self.assert_error(self.c.call(name), "method_not_found")
                self.assert_ping_works(self.c)

    def test_reload_forbidden_on_tcp(self):
        self.assert_error(self.c.call("reload"), "forbidden")
        self.assert_ping_works(self.c)

    def test_notification_gets_no_response(self):
        self.c.send_raw(notification_bytes("ping"))
        self.c.send_raw(notification_bytes("nosuchmethod"))
        self.c.send_raw(notification_bytes("decide", [sample_context(touchpoint=self.tp)]))
        self.c.send_raw(notification_bytes("decide", ["invalid"]))
        self.c.send_raw(notification_bytes("reload"))
        r = self.c.call("ping", msgid=777)
        self.assertEqual(r.msgid, 777, "a notification got a response")
        # And nothing else is pending.
        r = self.c.call("ping", msgid=778)
        self.assertEqual(r.msgid, 778)

    def test_msgid_echo_full_range(self):
        for mid in (0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1):
            with self.subTest(msgid=mid):
                r = self.c.call("ping", msgid=mid)
                self.assertEqual(r.msgid, mid)

    # -- framing -----------------------------------------------------------

    def test_several_requests_in_one_send(self):
        data = b"".join([request_bytes(1001, "ping"), request_bytes(1002, "ruleset"),
                         request_bytes(1003, "nosuchmethod"),
                         request_bytes(1004, "decide", [sample_context(touchpoint=self.tp)]),
                         request_bytes(1005, "stats")])
        self.c.send_raw(data)
        got = {}
        for _ in range(5):
            r = self.c.recv()
            self.assertNotIn(r.msgid, got, "msgid answered twice")
            got[r.msgid] = r
        self.assertEqual(set(got), {1001, 1002, 1003, 1004, 1005})
        self.assertIsNone(got[1001].error)
        self.assertIsNone(got[1002].error)
        self.assertEqual(got[1003].error["code"], "method_not_found")
        self.assertIsNone(got[1004].error)
        assert_decision(self, got[1004].result)
        self.assertIsNone(got[1005].error)

    def test_request_split_across_two_sends(self):
        data = request_bytes(2001, "decide", [sample_context(touchpoint=self.tp)])
        for cut in (1, 2, len(data) // 2, len(data) - 1):
            with self.subTest(cut=cut):
                self.c.send_raw(data[:cut])
                time.sleep(0.2)
                self.c.send_raw(data[cut:])
                r = self.c.recv()
                self.assertEqual(r.msgid, 2001)
                self.assertIsNone(r.error)
                assert_decision(self, r.result)

    def test_frames_straddling_sends(self):
        a = request_bytes(3001, "ping")
        b = request_bytes(3002, "decide", [sample_context(touchpoint=self.tp)])
        c = request_bytes(3003, "ping")
        cut = len(b) // 3
        self.c.send_raw(a + b[:cut])
        time.sleep(0.2)
        self.c.send_raw(b[cut:] + c)
        ids = sorted(self.c.recv().msgid for _ in range(3))
        self.assertEqual(ids, [3001, 3002, 3003])

    def test_byte_by_byte(self):
        data = request_bytes(4001, "decide", [sample_context(touchpoint=self.tp)])
        s = self.c.sock
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            if i % 4 == 0:
                time.sleep(0.002)
        r = self.c.recv()
        self.assertEqual(r.msgid, 4001)
        self.assertIsNone(r.error, r.error)
        assert_decision(self, r.result)
        # Also a ping, byte by byte without pauses.
        for b in request_bytes(4002, "ping"):
            s.sendall(bytes([b]))
        self.assertEqual(self.c.recv().msgid, 4002)


class PipeliningTest(E2ETestCase):

    def _pipeline_pings(self, server, n=10000, seed=1):
        c = self.connect(server)
        rng = random.Random(seed)
        msgids = rng.sample(range(2 ** 32), n)
        payload = b"".join(request_bytes(m, "ping") for m in msgids)
        frames = c.pipeline(payload, n, timeout=T(120))
        seen = {}
        for f in frames:
            r = check_response(f)
            self.assertIsNone(r.error, r.error)
            self.assertIs(r.result.get("pong"), True)
            seen[r.msgid] = seen.get(r.msgid, 0) + 1
        dup = [m for m, k in seen.items() if k > 1]
        self.assertEqual(dup, [], "msgids answered more than once")
        self.assertEqual(set(seen), set(msgids), "answered msgids differ from sent ones")
        # Nothing extra is queued behind them.
        r = c.call("ping", msgid=12345)
        self.assertEqual(r.msgid, 12345)

    def test_pipeline_10000_pings(self):
        self._pipeline_pings(self.start_server())

    def test_pipeline_10000_pings_one_worker(self):
        self._pipeline_pings(self.start_server(workers=1), seed=2)

    def test_pipeline_10000_pings_four_workers(self):
        self._pipeline_pings(self.start_server(workers=4), seed=3)

    def test_pipeline_mixed_decide(self):
        srv = self.start_server(workers=4)
        c = self.connect(srv)
        tp = self.touchpoint(c)
        n = 3000
        kinds = {}
        parts = []
        for i in range(n):
            mid = 100000 + i
            k = i % 5
            if k == 0:
                parts.append(request_bytes(mid, "ping"))
            elif k == 1:
                parts.append(request_bytes(mid, "nosuchmethod"))
            elif k == 2:
                parts.append(request_bytes(mid, "decide", ["bad"]))
            else:
                parts.append(request_bytes(mid, "decide",
                                           [sample_context(customer_id="p-%d" % i, touchpoint=tp)]))
            if i % 100 == 0:
                parts.append(notification_bytes("ping"))
            kinds[mid] = k
        frames = c.pipeline(b"".join(parts), n, timeout=T(120))
        seen = set()
        ids = set()
        for f in frames:
            r = check_response(f)
            self.assertIn(r.msgid, kinds)
            self.assertNotIn(r.msgid, seen)
            seen.add(r.msgid)
            k = kinds[r.msgid]
            if k == 0:
                self.assertIsNone(r.error)
            elif k == 1:
                self.assertEqual(r.error["code"], "method_not_found")
            elif k == 2:
                self.assertEqual(r.error["code"], "invalid_params")
            else:
                self.assertIsNone(r.error, r.error)
                assert_decision(self, r.result)
                ids.add(r.result["decision_id"])
        self.assertEqual(len(seen), n)
        self.assertEqual(len(ids), sum(1 for k in kinds.values() if k >= 3))
        self.assertEqual(c.call("ping", msgid=7).msgid, 7)

    def test_many_concurrent_connections(self):
        import threading
        srv = self.start_server()
        errors = []

        def worker(idx):
            try:
                c = srv.client()
                try:
                    n = 1000
                    payload = b"".join(request_bytes(idx * 100000 + i, "ping") for i in range(n))
                    frames = c.pipeline(payload, n, timeout=T(120))
                    got = sorted(check_response(f).msgid for f in frames)
                    if got != [idx * 100000 + i for i in range(n)]:
                        errors.append("conn %d: msgids mismatch" % idx)
                finally:
                    c.close()
            except Exception as e:
                errors.append("conn %d: %r" % (idx, e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(180))
        self.assertEqual(errors, [])
        self.assert_ping_works(self.connect(srv))


if __name__ == "__main__":
    unittest.main()
