"""decide read from its bytes against decide read from msgpack-c's tree.

The server reads decide's common request, [0, msgid, "decide", [context]],
straight from the frame's bytes (request/context_bytes.c); any other frame,
such as a decide carrying a second param, is read from msgpack-c's tree.
Two real servers with the same ruleset (plain Lua functions that read the
context's parts among its actions) are sent the same contexts, one in the
common frame, the other with a second param: valid contexts of every shape
(purchases with their own fields, events, scores, consent, location,
weather, attributes, timezones, limits, caps reached along the way) and
invalid ones (every field of the wrong type, duplicates, values out of
range, a customer_id too long for the store, MessagePack forms a JSON
client never sends). Every answer must be the same: the same actions and
numbers, or the same error code and message; and the servers' counters
must agree.
"""

import random
import socket
import unittest

import msgpack

import harness
from harness import E2ETestCase, T

RULES = r'''
touchpoint "web_home" { limit = 3 }
touchpoint "app_home" { limit = 2 }
models { "m1", "m2" }
action "mouse" {
  channels = { "web", "app" }, value = 30, model = "m1",
  when = bought("laptop", within(days(30))), weight = recency("laptop", days(14)),
}
action "umbrella" {
  channels = { "web", "app" }, value = 12, requires = { "location" },
  when = raining(),
}
action "acme_case" {
  channels = { "web" }, value = 20, model = "m2",
  when = bought { brand = "acme", within = days(60) },
}
action "gold_offer" {
  channels = { "web", "app" }, value = 15,
  when = attribute("tier", one_of { "gold", "platinum" }),
  cap = { 2, per = days(1) },
}
action "always_on" { channels = { "web", "app" }, value = 1 }
'''

# Plain Lua functions reading the context's parts (from its bytes on the
# one path, from the tree on the other).
LUA = r'''
action "lua_reader" {
  channels = { "web", "app" }, value = 8,
  when = function(c)
    local n = 0
    for _, p in ipairs(c.purchases) do if p.brand == "acme" or p.size then n = n + 1 end end
    return n > 0 or (c.weather.condition == "rain" and c.attributes.tier == "gold")
  end,
  weight = function(c)
    local w = 1 + #c.events
    if c.location.lat then w = w + 1 end
    if c.scores.m1 then w = w + c.scores.m1 end
    if c.attributes.nested and c.attributes.nested.list then w = w + #c.attributes.nested.list end
    return w
  end,
}
'''

NOW = 1767225600


def valid_context(rng, i):
    ctx = {"customer_id": "c-%d" % rng.randrange(40), "channel": rng.choice(["web", "app"]),
           "touchpoint": rng.choice(["web_home", "app_home", "elsewhere"]), "now": NOW}
    if rng.random() < 0.8:
        ctx["purchases"] = [
            dict({"sku": "s-%d" % k, "category": rng.choice(["laptop", "phone", "case"]),
                  "ts": NOW - rng.randrange(90 * 86400), "price": rng.choice([19.5, 999, 5])},
                 **({"brand": rng.choice(["acme", "other"])} if rng.random() < 0.5 else {}),
                 **({"size": 42, "tags": ["a", {"b": 1}]} if rng.random() < 0.2 else {}))
            for k in range(rng.randrange(6))]
    if rng.random() < 0.5:
        ctx["events"] = [{"type": rng.choice(["view", "cart_add"]), "sku": "s-%d" % k,
                          "ts": NOW - rng.randrange(86400), "page": "p%d" % k}
                         for k in range(rng.randrange(4))]
    if rng.random() < 0.7:
        ctx["scores"] = {"m1": rng.random(), "m2": rng.random()}
    if rng.random() < 0.6:
        ctx["consent"] = {"location": rng.random() < 0.7, "marketing": True}
    if rng.random() < 0.6:
        loc = {"lat": 48.85, "lon": 2.35, "store_id": "st-1"}
        if rng.random() < 0.3:
            loc["floor"] = {"level": 2}
        ctx["location"] = loc
    if rng.random() < 0.6:
        ctx["weather"] = {"condition": rng.choice(["rain", "clear"]), "temp_c": 11.5}
    if rng.random() < 0.6:
        ctx["attributes"] = {"tier": rng.choice(["gold", "silver", "platinum"]), "age": 30,
                             "nested": {"list": [1, 2.5, None, True]}}
    if rng.random() < 0.2:
        ctx["timezone"] = rng.choice(["+02:00", "Z", "-05:30"])
    if rng.random() < 0.2:
        ctx["limit"] = rng.randrange(1, 4)
    if rng.random() < 0.1:
        ctx["preview"] = True
    if rng.random() < 0.1:
        ctx["unknown_key"] = [1, {"x": "y"}]
    return ctx


def invalid_contexts():
    ok = {"customer_id": "bad-1", "channel": "web", "touchpoint": "web_home", "now": NOW}
    bad = [
        "not a map", 42, None, [],
        {"channel": "web", "touchpoint": "web_home"},
        dict(ok, customer_id=""), dict(ok, customer_id=7), dict(ok, customer_id="x" * 600),
        dict(ok, customer_id="x" * 600, channel=5), dict(ok, channel="fax"),
        dict(ok, touchpoint=None), dict(ok, now="today"), dict(ok, now=10 ** 15),
        dict(ok, limit=0), dict(ok, limit=5000), dict(ok, limit="3"), dict(ok, deadline_ms=0),
        dict(ok, explain="yes"), dict(ok, preview=1), dict(ok, timezone="Europe/Paris"),
        dict(ok, scores={"m1": 1.5}), dict(ok, scores={"m1": "high"}), dict(ok, scores=[0.5]),
        dict(ok, scores={"m1": float("nan")}), dict(ok, consent={"location": "yes"}),
        dict(ok, consent=["location"]), dict(ok, location={"lat": "north"}),
        dict(ok, location=[1, 2]), dict(ok, weather={"temp_c": "warm"}),
        dict(ok, attributes=[1]), dict(ok, purchases={"sku": "a"}),
        dict(ok, purchases=[{"sku": "a"}]), dict(ok, purchases=[{"sku": 5, "ts": NOW}]),
        dict(ok, purchases=[{"ts": NOW, "price": "cheap"}]), dict(ok, purchases=["x"]),
        dict(ok, events=[{"type": "view"}]), dict(ok, events=[{"type": 1, "ts": NOW}]),
        dict(ok, purchases=[{"ts": NOW, "x": float("inf")}]),
    ]
    return [msgpack.packb(b, use_bin_type=True) for b in bad]


def raw_contexts():
    """Hand-packed bytes: forms a JSON client never sends."""
    head = msgpack.packb({"customer_id": "raw-1", "channel": "web", "touchpoint": "web_home"})
    body = head[1:]
    n = head[0] & 0x0f
    return [
        bytes([0x80 | (n + 1)]) + body + b"\xa3now" + b"\xd3" + NOW.to_bytes(8, "big"),  # int64 form
        bytes([0x80 | (n + 1)]) + body + b"\xa5limit" + b"\xcc\x02",             # uint8 form
        bytes([0x80 | (n + 1)]) + body + b"\xd9\x07channel" + b"\xa3web",        # str8 key, repeated
        bytes([0x80 | (n + 1)]) + body + b"\xa5extra" + b"\xd4\x01\x02",         # fixext
        bytes([0x80 | (n + 1)]) + body + b"\xc4\x03bin" + b"\x01",               # bin key
        bytes([0x80 | (n + 1)]) + body + b"\xa6scores" + b"\x81\xa2m1\xca\x3f\x00\x00\x00",  # float32
        bytes([0xde, 0x00, n]) + body,                                           # map16 header
    ]


class Rpc:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T(20))
        self.unp = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.msgid = 0

    def call_raw(self, param_bytes, tree=False):
        """decide with the context's bytes as params[0]; tree: with a
        second param too, which only msgpack-c's tree reads."""
        self.msgid += 1
        frame = (b"\x94\x00" + msgpack.packb(self.msgid) + msgpack.packb("decide") +
                 (b"\x92" if tree else b"\x91") + param_bytes + (b"\xc0" if tree else b""))
        self.sock.sendall(frame)
        while True:
            for m in self.unp:
                return m
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("the server closed the connection")
            self.unp.feed(data)

    def close(self):
        self.sock.close()


def outcome(answer):
    _, _, error, result = answer
    if error is not None:
        return ("error", error["code"], error["message"])
    return ("decision", [(a["id"], round(a["priority"], 9), round(a["propensity"], 9), a["value"])
                         for a in result["actions"]], result.get("group"))


class DecideBytesTest(E2ETestCase):

    def test_the_bytes_and_the_tree_answer_alike(self):
        fast = self.start_server(rules=harness.rules_folder(self, RULES + LUA))
        tree = self.start_server(rules=harness.rules_folder(self, RULES + LUA))
        a, b = Rpc(fast.port), Rpc(tree.port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        rng = random.Random(20261130)
        requests = [msgpack.packb(valid_context(rng, i)) for i in range(600)]
        requests += invalid_contexts() + raw_contexts()
        kinds = {"decision": 0, "error": 0, "lua": 0}
        for i, req in enumerate(requests):
            got, want = outcome(a.call_raw(req)), outcome(b.call_raw(req, tree=True))
            self.assertEqual(got, want, "request %d: %r" % (i, msgpack.unpackb(req, raw=True,
                                                                               strict_map_key=False)))
            kinds[got[0]] += 1
            if got[0] == "decision" and any(x[0] == "lua_reader" for x in got[1]):
                kinds["lua"] += 1
        # Both paths were really taken: decisions of every kind and errors.
        self.assertGreater(kinds["decision"], 550)
        self.assertGreater(kinds["error"], 35)
        self.assertGreater(kinds["lua"], 100)   # the plain functions' reads decided
        stats = [self.connect(s).ok("stats") for s in (fast, tree)]
        for key in ("requests", "errors", "decisions", "fallbacks", "undeclared_touchpoints"):
            self.assertEqual(stats[0][key], stats[1][key], key)


if __name__ == "__main__":
    unittest.main()
