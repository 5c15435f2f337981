"""Spec conformance, checked by a MessagePack-RPC client that is not ours.

The client below is written from the MessagePack-RPC spec alone
(https://github.com/msgpack-rpc/msgpack-rpc/blob/master/spec.md) in a few
lines, on a plain socket with msgpack.packb / msgpack.Unpacker. It shares no
code with Arbiter's C client or with harness.RpcClient; harness is used only
to start and stop the server. Several tests hand-encode frames the way other
msgpack implementations do (non-minimal integer and string encodings, the old
raw-only string format, float32), which a conforming server must accept.
"""

import socket
import unittest

import msgpack

import harness

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2


class MiniRpc:
    """A minimal, independent msgpack-rpc client."""

    def __init__(self, port, timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.u = msgpack.Unpacker(raw=False, strict_map_key=False)

    def send_bytes(self, b):
        self.s.sendall(b)

    def send(self, obj, **opts):
        self.s.sendall(msgpack.packb(obj, **opts))

    def recv(self):
        while True:
            for obj in self.u:
                return obj
            data = self.s.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.u.feed(data)

    def request(self, msgid, method, params):
        self.send([REQUEST, msgid, method, params], use_bin_type=True)
        return self.recv()

    def notify(self, method, params):
        self.send([NOTIFICATION, method, params], use_bin_type=True)

    def close(self):
        self.s.close()


def fixstr(s):
    b = s.encode()
    assert len(b) < 32
    return bytes([0xa0 | len(b)]) + b


class ConformanceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_shared_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.c = MiniRpc(self.server.port, timeout=harness.T(10))
        self.addCleanup(self.c.close)

    def assert_response(self, frame, msgid):
        self.assertIsInstance(frame, list, "response must be an array")
        self.assertEqual(len(frame), 4, "response must have 4 elements")
        self.assertEqual(frame[0], RESPONSE, "response type must be 1")
        self.assertEqual(frame[1], msgid, "msgid must be echoed")
        err, res = frame[2], frame[3]
        self.assertTrue(err is None or res is None, "error and result both set: %r" % (frame,))
        return err, res

    def assert_pong(self, frame, msgid):
        err, res = self.assert_response(frame, msgid)
        self.assertIsNone(err, err)
        self.assertIsInstance(res, dict)
        self.assertIs(res.get("pong"), True)

    def test_request_response_shape(self):
        self.assert_pong(self.c.request(1, "ping", []), 1)

    def test_error_response_shape(self):
        err, res = self.assert_response(self.c.request(2, "no.such.method", []), 2)
        self.assertIsNone(res)
        self.assertIsInstance(err, dict)
        self.assertEqual(err.get("code"), "method_not_found")
        self.assertIsInstance(err.get("message"), str)
        self.assert_pong(self.c.request(3, "ping", []), 3)

    def test_notification_has_no_response(self):
        self.c.notify("ping", [])
        self.c.notify("no.such.method", [])
        self.assert_pong(self.c.request(4, "ping", []), 4)

    def test_msgid_echo_all_int_widths(self):
        for mid in (0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0xffffffff):
            with self.subTest(msgid=mid):
                self.assert_pong(self.c.request(mid, "ping", []), mid)

    def test_non_minimal_integer_encodings(self):
        # Other encoders may use wider-than-needed or signed int formats.
        for name, enc in (("uint8", b"\xcc\x05"), ("uint16", b"\xcd\x00\x05"),
                          ("uint32", b"\xce\x00\x00\x00\x05"),
                          ("uint64", b"\xcf\x00\x00\x00\x00\x00\x00\x00\x05"),
                          ("int8", b"\xd0\x05"), ("int16", b"\xd1\x00\x05"),
                          ("int32", b"\xd2\x00\x00\x00\x05"),
                          ("int64", b"\xd3\x00\x00\x00\x00\x00\x00\x00\x05")):
            with self.subTest(msgid_encoding=name):
                # type 0 also encoded the same way
                typ = enc[:-1] + b"\x00"
                self.c.send_bytes(b"\x94" + typ + enc + fixstr("ping") + b"\x90")
                self.assert_pong(self.c.recv(), 5)

    def test_method_name_string_encodings(self):
        encs = {
            "fixstr": fixstr("ping"),
            "str8": b"\xd9\x04ping",
            "str16": b"\xda\x00\x04ping",
            "str32": b"\xdb\x00\x00\x00\x04ping",
        }
        for i, (name, enc) in enumerate(encs.items()):
            with self.subTest(encoding=name):
                self.c.send_bytes(b"\x94\x00" + bytes([10 + i]) + enc + b"\x90")
                self.assert_pong(self.c.recv(), 10 + i)

    def test_old_spec_raw_strings(self):
        # msgpack before 2013 had no bin/str8: packers write every string as
        # raw (fixstr/str16/str32). use_bin_type=False reproduces that.
        ctx = {"customer_id": "old-1", "channel": "web", "touchpoint": self._tp()}
        self.c.send([REQUEST, 20, "decide", [ctx]], use_bin_type=False)
        err, res = self.assert_response(self.c.recv(), 20)
        self.assertIsNone(err, err)
        self.assertIsInstance(res.get("decision_id"), str)

    def test_method_name_as_bin(self):
        # The spec says the method is a string. A bin method name may be
        # accepted as its bytes, or refused as invalid_request; never
        # anything else.
        self.c.send_bytes(b"\x94\x00\x15\xc4\x04ping\x90")
        try:
            frame = self.c.recv()
        except EOFError:
            self.fail("closed without answering though the msgid was readable")
        err, res = self.assert_response(frame, 21)
        if err is not None:
            self.assertEqual(err.get("code"), "invalid_request", err)

    def test_response_strings_are_str_not_bin(self):
        # MiniRpc unpacks with raw=False: str -> str, bin -> bytes.
        self.c.send([REQUEST, 30, "ping", []], use_bin_type=True)
        frame = self.c.recv()
        self.assert_pong(frame, 30)
        for k, v in frame[3].items():
            self.assertIsInstance(k, str, "map key %r is not a str" % (k,))
        self.assertIsInstance(frame[3]["version"], str)
        err, _ = self.assert_response(self.c.request(31, "nosuch", []), 31)
        for k in err:
            self.assertIsInstance(k, str)
        self.assertIsInstance(err["code"], str)
        self.assertIsInstance(err["message"], str)

    def test_params_array_encodings(self):
        for i, enc in enumerate((b"\x90", b"\xdc\x00\x00", b"\xdd\x00\x00\x00\x00")):
            with self.subTest(params=enc.hex()):
                self.c.send_bytes(b"\x94\x00" + bytes([40 + i]) + fixstr("ping") + enc)
                self.assert_pong(self.c.recv(), 40 + i)

    def test_frame_array_encodings(self):
        for i, hdr in enumerate((b"\xdc\x00\x04", b"\xdd\x00\x00\x00\x04")):
            with self.subTest(header=hdr.hex()):
                self.c.send_bytes(hdr + b"\x00" + bytes([50 + i]) + fixstr("ping") + b"\x90")
                self.assert_pong(self.c.recv(), 50 + i)

    def test_float32_and_float64(self):
        tp = self._tp()
        for i, single in enumerate((True, False)):
            with self.subTest(float32=single):
                ctx = {"customer_id": "f-1", "channel": "app", "touchpoint": tp,
                       "scores": {"churn": 0.25}, "weather": {"temp_c": 21.5, "condition": "sun"},
                       "location": {"lat": 48.85, "lon": 2.35}}
                self.c.send([REQUEST, 60 + i, "decide", [ctx]], use_bin_type=True,
                            use_single_float=single)
                err, res = self.assert_response(self.c.recv(), 60 + i)
                self.assertIsNone(err, err)

    def test_map_key_order_irrelevant(self):
        tp = self._tp()
        a = {"customer_id": "o-1", "channel": "web", "touchpoint": tp}
        b = {"touchpoint": tp, "channel": "web", "customer_id": "o-1"}
        for i, ctx in enumerate((a, b)):
            err, res = self.assert_response(self.c.request(70 + i, "decide", [ctx]), 70 + i)
            self.assertIsNone(err, err)

    def test_interleaved_requests_and_notifications(self):
        out = b""
        for i in range(20):
            out += msgpack.packb([REQUEST, 100 + i, "ping", []])
            out += msgpack.packb([NOTIFICATION, "ping", []])
        self.c.send_bytes(out)
        got = sorted(self.c.recv()[1] for _ in range(20))
        self.assertEqual(got, list(range(100, 120)))
        self.assert_pong(self.c.request(200, "ping", []), 200)

    def _tp(self):
        frame = self.c.request(900, "ruleset", [])
        return harness.pick_touchpoint(frame[3] if frame[2] is None else None)


if __name__ == "__main__":
    unittest.main()
