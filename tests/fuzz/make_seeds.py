#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/*).

Run from the repository root: python3 tests/fuzz/make_seeds.py
Standard library only (a small MessagePack encoder and decoder below), so it
runs wherever the fuzzers build. The seeds it writes are committed; run it
again only to change them. Seeds it does not know about are left alone.

  corpus/frame/    [chunking byte][limits byte] + bytes a client sends
                   (see fuzz_frame.c): RPC requests, pipelines, limits.
  corpus/context/  one MessagePack context map each: contexts from
                   tests/bench/contexts.msgpack and hand-made edge cases.
  corpus/context_many/  one MessagePack array of contexts each (the batch of
                   a decide_many): runs of the context seeds, duplicate keys.
  corpus/ruleset/  rule files: edge cases of the language and the sandbox
                   (tests/fuzz/run adds each rules/retail theme, followed by
                   "--@test" and its tests, at run time).
  *.dict           the libFuzzer dictionaries (ruleset: the vocabulary of
                   dsl/prelude.lua; frame and context: MessagePack keys).
"""

import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "fuzz" / "corpus"
NOW = 1767225600
DAY = 86400


# ---------------------------------------------------------------- msgpack

class Raw:
    """Bytes inserted as they are (for malformed or hand-made encodings)."""

    def __init__(self, data):
        self.data = data


class F32:
    def __init__(self, v):
        self.v = v


def pack(o):
    if isinstance(o, Raw):
        return o.data
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o <= 0x7F:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o <= 0xFF:
            return b"\xcc" + struct.pack(">B", o)
        if 0 <= o <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", o)
        if 0 <= o <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o:
            return b"\xcf" + struct.pack(">Q", o)
        if o >= -0x80:
            return b"\xd0" + struct.pack(">b", o)
        if o >= -0x8000:
            return b"\xd1" + struct.pack(">h", o)
        if o >= -0x80000000:
            return b"\xd2" + struct.pack(">i", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, F32):
        return b"\xca" + struct.pack(">f", o.v)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        o = o.encode("utf-8", "surrogateescape")
        n = len(o)
        if n <= 31:
            return bytes([0xA0 | n]) + o
        if n <= 0xFF:
            return b"\xd9" + bytes([n]) + o
        if n <= 0xFFFF:
            return b"\xda" + struct.pack(">H", n) + o
        return b"\xdb" + struct.pack(">I", n) + o
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + bytes(o)
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        head = bytes([0x90 | n]) if n <= 15 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        head = bytes([0x80 | n]) if n <= 15 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(type(o))


def unpack(b, i=0):
    """(object, next offset); strings decoded with surrogateescape."""
    t = b[i]
    i += 1
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 256, i
    if 0x80 <= t <= 0x8F or t in (0xDE, 0xDF):
        if t <= 0x8F:
            n = t & 15
        else:
            k = 2 if t == 0xDE else 4
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        d = {}
        for _ in range(n):
            key, i = unpack(b, i)
            val, i = unpack(b, i)
            d[key if not isinstance(key, (list, dict)) else repr(key)] = val
        return d, i
    if 0x90 <= t <= 0x9F or t in (0xDC, 0xDD):
        if t <= 0x9F:
            n = t & 15
        else:
            k = 2 if t == 0xDC else 4
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        out = []
        for _ in range(n):
            v, i = unpack(b, i)
            out.append(v)
        return out, i
    if 0xA0 <= t <= 0xBF or t in (0xD9, 0xDA, 0xDB):
        if t <= 0xBF:
            n = t & 31
        else:
            k = {0xD9: 1, 0xDA: 2, 0xDB: 4}[t]
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        return b[i:i + n].decode("utf-8", "surrogateescape"), i + n
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if t in (0xC4, 0xC5, 0xC6):
        k = {0xC4: 1, 0xC5: 2, 0xC6: 4}[t]
        n = int.from_bytes(b[i:i + k], "big")
        return bytes(b[i + k:i + k + n]), i + k + n
    if t == 0xCA:
        return struct.unpack(">f", b[i:i + 4])[0], i + 4
    if t == 0xCB:
        return struct.unpack(">d", b[i:i + 8])[0], i + 8
    fmt = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
           0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if t in fmt:
        size = struct.calcsize(fmt[t])
        return struct.unpack(fmt[t], b[i:i + size])[0], i + size
    raise ValueError("unsupported type byte 0x%02x" % t)


def split_concatenated(path):
    data = Path(path).read_bytes()
    i, out = 0, []
    while i < len(data):
        obj, j = unpack(data, i)
        out.append((obj, data[i:j]))
        i = j
    return out


def write(kind, name, data):
    d = OUT / kind
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (d / name).write_bytes(data)


# ---------------------------------------------------------------- dictionaries

def dict_line(name, data):
    """One libFuzzer dictionary entry (only \\, \\" and \\xNN escapes exist)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    body = "".join(chr(c) if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else "\\x%02x" % c
                   for c in data)
    return '%s="%s"' % (name, body)


def ident(s):
    return re.sub(r"\W", "_", s)


def ruleset_dict():
    prelude = "".join(p.read_text() for p in sorted((ROOT / "dsl").glob("prelude*.lua")))
    vocab = sorted(set(re.findall(r"\bV\.([a-z_]+)\s*=", prelude)
                       + re.findall(r"function V\.([a-z_]+)", prelude) + ["not_"]))
    out = ["# libFuzzer dictionary for fuzz_ruleset: the rule language.",
           "# Written by tests/fuzz/make_seeds.py: the vocabulary of dsl/prelude.lua,",
           "# declaration, test and context fields, Lua keywords, the library functions",
           "# the sandbox leaves, and the \"--@test\" separator.", ""]
    out += [dict_line("v_" + v, v) for v in vocab]
    calls = {
        "bought": 'bought("laptop", within(days(30)))', "action": 'action "a" {',
        "where": 'bought { category = "laptop", channel = "store", within = days(14) }',
        "before": 'before(viewed { channel = "web" }, bought { channel = "store" })',
        "fallback": 'fallback "f" {', "touchpoint": 'touchpoint "t" { limit = 2 }',
        "store": 'store "s" { lat = 52.5, lon = 13.4 }', "models": 'models { "m" }',
        "channels": 'channels { "c" }', "settings": "settings { default_limit = 2 }",
        "adaptive": "propensity = adaptive { ",
        "all": "all { ", "any": "any { ", "fn": "function(c) return ", "test": 'test "t" {',
    }
    out += [""] + [dict_line("call_" + k, v) for k, v in calls.items()]
    fields = ["channels", "touchpoints", "requires", "value", "lever", "model", "propensity",
              "category", "payload", "start", "stop", "when", "weight", "description", "limit",
              "diverse", "lat", "lon", "name", "default_limit", "utc_offset_hours", "context",
              "expect", "includes", "excludes", "reasons", "priorities", "cap", "per", "cooldown", "group",
              "counts", "suppress", "times", "within", "pause", "customer", "contacts",
              "outcomes", "outcome", "action", "positive", "trial", "prior", "strength",
              "prior_model", "segment", "half_life", "explore", "settle", "escape"]
    out += [""] + [dict_line("f_" + f, f + " = ") for f in fields]
    ctx = ["customer_id", "channel", "touchpoint", "now", "location", "purchases", "events",
           "weather", "scores", "attributes", "consent", "explain", "deadline_ms", "sku", "ts",
           "price", "type", "temp_c", "condition", "store_id", "country", "segments", "ago", "NOW"]
    out += [""] + [dict_line("c_" + c, c) for c in ctx]
    strings = ["web", "email", "app", "store", "call_center", "sms", "kiosk", "web_home", "app_home",
               "email_post_purchase", "laptop", "rain", "gold", "location", "marketing", "view",
               "cart_abandon", "2026-01-15", "2026-02-30T00:00:00Z", "impression", "decision",
               "thin", "always", "click", "convert", "loyalty_tier"]
    out += [""] + [dict_line("s_" + ident(x), '"%s"' % x) for x in strings]
    # payload templates: the fields, a default, doubled and lone braces
    tpl = ["{attributes.first_name}", "{attributes.", "{years_since.", "{days_since.",
           "{customer_id}", "{channel}", "{touchpoint}", "{product.", "|default}", "{{", "}}", "{", "}",
           "\"none\"", "\"html\""]
    out += [""] + [dict_line("t_%d" % i, x) for i, x in enumerate(tpl)]
    keywords = ["and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
                "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
                "until", "while"]
    out += [""] + [dict_line("k_" + k, k) for k in keywords]
    punct = ["==", "~=", "<=", ">=", "..", "...", "::", "//", "<<", ">>", "[[", "]]", "--", "{}",
             "()", "#", "%"]
    out += [dict_line("p_%d" % i, p) for i, p in enumerate(punct)]
    lib = ["pcall", "error", "pairs", "ipairs", "select", "tostring", "tonumber", "type", "next",
           "rawget", "rawequal", "rawlen", "setmetatable", "getmetatable", "xpcall", "assert",
           "print", "string.rep", "string.format", "string.find", "string.gsub", "string.match",
           "string.byte", "string.char", "table.concat", "table.insert", "table.sort",
           "table.unpack", "math.huge", "math.maxinteger", "math.mininteger", "utf8.char",
           "__index", "__gc", "__eq", "__lt", "__tostring", "__len", "__call", "__name",
           "__close", "1e308", "-0.0", "0/0", "0x7fffffffffffffff",
           # the C loops and message handlers the sandbox charges (sandbox_lib.c)
           "table.move", "table.remove", "table.pack", "string.gmatch", "string.upper",
           "string.sub", "utf8.len", "utf8.codepoint", "utf8.offset", "1 << 50", "2^31 - 2",
           "__pairs", "__newindex", "__concat", "__mul", "__unm", "__metatable",
           "setmetatable({}, { __index = ", "setmetatable({}, { __len = function() return 1 << 50 end })",
           "function() while true do end end", "error({})", "error(nil)", "error(12)",
           "xpcall(", "('a'):rep(10000)", "('a?'):rep(30)", ".-.-.-", "(.-)*", "%b()",
           "%f[%w]", "%1", "[^%s]*", "rawlen", "string.rep('', 1 << 50)"]
    out += [""] + [dict_line("l_" + ident(x), x) for x in lib]
    out.append(dict_line("sep_test", "\n--@test\n"))
    return "\n".join(out) + "\n"


def msgpack_dict(target):
    out = ["# libFuzzer dictionary for fuzz_%s: MessagePack-encoded context keys," % target,
           "# known values and type headers. Written by tests/fuzz/make_seeds.py.", ""]
    words = ["customer_id", "channel", "touchpoint", "now", "limit", "explain", "preview", "deadline_ms",
             "location", "lat", "lon", "store_id", "country", "weather", "temp_c", "condition",
             "attributes", "consent", "scores", "purchases", "events", "sku", "category", "price",
             "ts", "type", "segments", "loyalty_tier", "lifetime_value", "vip", "web", "email",
             "app", "store", "call_center", "sms", "kiosk", "web_home", "app_home",
             "email_post_purchase", "email_weekly", "web_product", "web_cart", "kiosk_welcome",
             "laptop", "mouse", "rain", "snow", "gold", "view", "cart_add", "cart_abandon",
             "email_open", "email_click", "search", "berlin_alexanderplatz", "DE", "accessories",
             "engagement", "reactivation", "decide", "decide_many", "ping", "stats", "ruleset",
             "reload", "timezone", "member_since", "engaged_at", "+02:00", "-05:30", "Z",
             "2024-02-29", "2026-03-01T10:00:00+02:00", "2025-12-31T23:59:60.5Z"]
    out += [dict_line("k_" + ident(w), pack(w)) for w in dict.fromkeys(words)]
    raw = [("req4", b"\x94\x00"), ("notif", b"\x93\x02"), ("ts_now", pack(NOW)),
           ("i64min", b"\xd3\x80" + b"\x00" * 7), ("u64max", b"\xcf" + b"\xff" * 8),
           ("f64nan", b"\xcb\x7f\xf8" + b"\x00" * 6), ("f64inf", b"\xcb\x7f\xf0" + b"\x00" * 6),
           ("f32", b"\xca\x3f\xc0\x00\x00"), ("true", b"\xc3"), ("false", b"\xc2"),
           ("nil", b"\xc0"), ("map16", b"\xde\x00"), ("arr16", b"\xdc\x00"), ("str8", b"\xd9"),
           ("bin8", b"\xc4"), ("ext8", b"\xc7"), ("fixext", b"\xd4\x01"),
           ("utf8_4", b"\xf0\x9f\x98\x80"), ("utf8_3", b"\xe2\x82\xac"),
           ("bad_utf8", b"\xed\xa0\x80"), ("lead_f8", b"\xf8\x80\x80")]
    out += [dict_line("t_" + k, v) for k, v in raw]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- contexts

def minimal(**kw):
    c = {"customer_id": "c-1", "channel": "web", "touchpoint": "web_home", "now": NOW}
    c.update(kw)
    return c


def bench_contexts():
    """A spread of reference contexts: the first two per channel and touchpoint."""
    seen, picked = {}, []
    for obj, raw in split_concatenated(ROOT / "tests" / "bench" / "contexts.msgpack"):
        key = (obj.get("channel"), obj.get("touchpoint"))
        if seen.get(key, 0) >= 2:
            continue
        seen[key] = seen.get(key, 0) + 1
        picked.append((key, obj, raw))
    return picked


def deep(n, leaf):
    for _ in range(n):
        leaf = {"x": leaf}
    return leaf


def context_edge_cases():
    full = {
        "customer_id": "c-full", "channel": "web", "touchpoint": "web_home", "now": NOW,
        "explain": True, "limit": 5, "deadline_ms": 1000,
        "consent": {"location": True, "marketing": True},
        "location": {"lat": 52.52, "lon": 13.405, "store_id": "berlin_alexanderplatz",
                     "country": "DE"},
        "purchases": [
            {"sku": "LP-1400-AIR", "category": "laptop", "price": 1299.0, "ts": NOW - 2 * DAY,
             "channel": "web"},
            {"category": "vitamins", "price": 12, "ts": NOW - 40 * DAY},
        ],
        "events": [
            {"type": "view", "sku": "TV-1", "category": "tv", "ts": NOW - 3600},
            {"type": "cart_abandon", "category": "shoes", "ts": NOW - 600},
            {"type": "wishlist_add", "ts": NOW - 60},
        ],
        "weather": {"temp_c": 3.5, "condition": "snow"},
        "scores": {"accessories": 0.4, "engagement": 0.9, "reactivation": 0.7, "weather": 0.5},
        "attributes": {"loyalty_tier": "gold", "segments": ["vip", "fashion_lover"],
                       "lifetime_value": 2500.5, "vip": True},
    }
    return {
        "minimal.msgpack": minimal(),
        "full_explain.msgpack": full,
        "no_customer.msgpack": {"channel": "web", "touchpoint": "web_home"},
        "empty_strings.msgpack": minimal(customer_id="", channel=""),
        "unknown_channel.msgpack": minimal(channel="carrier_pigeon"),
        "undeclared_touchpoint.msgpack": minimal(touchpoint="nowhere"),
        "kiosk.msgpack": minimal(channel="kiosk", touchpoint="kiosk_welcome"),
        "missing_ts.msgpack": minimal(purchases=[{"sku": "x"}]),
        "negative_ts.msgpack": minimal(purchases=[{"category": "laptop", "ts": -5}],
                                       events=[{"type": "view", "ts": -(2 ** 63)}]),
        "huge_ints.msgpack": minimal(now=2 ** 64 - 1, limit=2 ** 63),
        "now_far.msgpack": minimal(now=2 ** 40, purchases=[{"category": "laptop", "ts": -(2 ** 40)}]),
        "limit_zero.msgpack": minimal(limit=0),
        "limit_max.msgpack": minimal(limit=1000, explain=True),
        "deadline_one.msgpack": minimal(deadline_ms=1),
        "nan_inf.msgpack": minimal(weather={"temp_c": float("nan")},
                                   scores={"engagement": float("inf")}),
        "float32.msgpack": minimal(weather={"temp_c": F32(-40.5)},
                                   location={"lat": F32(48.1), "lon": F32(11.5)},
                                   consent={"location": True}),
        "location_no_consent.msgpack": minimal(location={"lat": 52.52, "lon": 13.4,
                                                         "store_id": "s", "country": "DE"}),
        "location_half.msgpack": minimal(location={"lat": 1}, consent={"location": True}),
        "non_string_keys.msgpack": Raw(b"\x84" + pack("customer_id") + pack("c") + pack("channel")
                                       + pack("web") + pack("touchpoint") + pack("web_home")
                                       + pack(1) + pack(2)),
        "non_string_attr_keys.msgpack": minimal(attributes=Raw(b"\x82\x01\x02\xc0\xc3")),
        "bin_strings.msgpack": Raw(b"\x83" + pack("customer_id") + pack(b"c-bin") + pack("channel")
                                   + pack("web") + pack("touchpoint") + pack("web_home")),
        "dates.msgpack": minimal(timezone="+05:45",
                                 attributes={"member_since": "2024-02-29", "engaged_at": 1759000000,
                                             "loyalty_tier": "2025-10-01T08:00:00-03:00"}),
        "deep_attributes.msgpack": minimal(attributes={"segments": ["vip"], "x": deep(27, [1])}),
        "segments_mixed.msgpack": minimal(attributes={"segments": [1, None, "vip", ["a"], {"b": 2}],
                                                      "loyalty_tier": 7, "lifetime_value": "many"}),
        "wrong_types.msgpack": minimal(purchases={"a": 1}, events="none", scores=[1, 2],
                                       consent={"location": 1}),
        "ext_values.msgpack": minimal(attributes={"e": Raw(b"\xd4\x01\x02"),
                                                  "e2": Raw(b"\xc7\x03\x05abc")}),
        "utf8_multibyte.msgpack": minimal(customer_id="kunde-ä€😀" * 20,
                                          attributes={"loyalty_tier": None}),
        "not_a_map.msgpack": ["customer_id", "c", "channel", "web"],
        "duplicate_keys.msgpack": Raw(b"\x84" + pack("customer_id") + pack("a") + pack("channel")
                                      + pack("web") + pack("touchpoint") + pack("web_home")
                                      + pack("channel") + pack("email")),
        # arb_context_parse_bytes: encodings msgpack-c accepts but does not
        # write (a str8 key, a uint32 of 3, map16 and array16 heads), the
        # maps it unpacks alone (records with unknown keys, attributes),
        # long and unsorted score names, many consent names, an ext and a
        # bin where a scalar is expected, and bytes after the context.
        "bytes_long_forms.msgpack": Raw(b"\xde\x00\x05" + b"\xd9\x0bcustomer_id" + pack("c")
                                        + pack("channel") + pack("web") + pack("touchpoint")
                                        + pack("web_home") + pack("limit") + b"\xce\x00\x00\x00\x03"
                                        + pack("purchases") + b"\xdc\x00\x01\xde\x00\x02"
                                        + pack("ts") + b"\xd3" + struct.pack(">q", NOW)
                                        + pack("price") + b"\xd0\x05"),
        "bytes_record_fields.msgpack": minimal(
            purchases=[{"ts": NOW - DAY, "sku": "A", "brand": "acme", "tags": ["x", {"y": 1}]},
                       {"ts": NOW - 2 * DAY, "price": F32(9.5), "size": 42}],
            events=[{"type": "view", "ts": NOW - 60, "channel": "app", "meta": {"k": [1, 2]}}],
            location={"lat": 1.5, "lon": 2, "floor": {"n": 2}},
            weather={"temp_c": -3, "condition": "rain", "wind": [1]},
            session={"deep": deep(20, [1])}),
        "bytes_names.msgpack": minimal(
            scores={"zeta_propensity_model": 0.5, "alpha": 1, "b": 0, "a": 0.25},
            consent={c: True for c in "abcdefghij"}),
        "bytes_ext_scalars.msgpack": minimal(limit=b"\x01", now=Raw(b"\xd6\x01abcd"),
                                             purchases=[{"ts": 1, "x": Raw(b"\xd4\x01\x02")}]),
        "bytes_after.msgpack": Raw(pack(minimal()) + b"\xc0"),
        "many_events.msgpack": minimal(events=[{"type": t, "category": "laptop", "sku": "s%d" % i,
                                                "ts": NOW - i * 3600}
                                               for i, t in enumerate(
                                                   ["view", "cart_add", "cart_abandon", "email_open",
                                                    "email_click", "search", "wishlist_add"] * 3)]),
    }


# ---------------------------------------------------------------- frames

def frame_seeds(contexts):
    ctx = contexts[0][2]                  # a real ~1 KiB context, as packed upstream
    ctx2 = contexts[1][2]
    decide = pack([0, 7, "decide", [Raw(ctx)]])
    many = pack([0, 8, "decide_many", [[Raw(ctx), Raw(ctx2)]]])
    ping = pack([0, 1, "ping", []])
    stats = pack([0, 2, "stats", []])
    ruleset = pack([0, 3, "ruleset", []])
    notif = pack([2, "reload", []])
    depth32 = b"\x91" * 31 + b"\x90"
    depth33 = b"\x91" * 32 + b"\x90"
    all_types = pack([0, 4294967295, "decide", [
        {"customer_id": "c", "channel": "web", "touchpoint": "web_home",
         "attributes": {"i8": -100, "i16": -30000, "i32": -2 ** 31, "i64": -2 ** 63,
                        "u8": 200, "u16": 60000, "u32": 2 ** 32 - 1, "u64": 2 ** 64 - 1,
                        "f32": F32(1.5), "f64": 2.25, "bin": b"\x00\x01", "nil": None,
                        "ext1": Raw(b"\xd4\x01\x00"), "ext2": Raw(b"\xd5\x01\x00\x00"),
                        "ext4": Raw(b"\xd6\x01" + b"\x00" * 4),
                        "ext8": Raw(b"\xd7\x01" + b"\x00" * 8),
                        "ext16": Raw(b"\xd8\x01" + b"\x00" * 16),
                        "ext_8": Raw(b"\xc7\x02\x01ab"), "ext_16": Raw(b"\xc8\x00\x01\x01z"),
                        "ext_32": Raw(b"\xc9\x00\x00\x00\x00\x01"),
                        "str8": "s" * 40, "str16": Raw(b"\xda\x00\x03abc"),
                        "str32": Raw(b"\xdb\x00\x00\x00\x01z"),
                        "arr16": Raw(b"\xdc\x00\x01\x01"), "arr32": Raw(b"\xdd\x00\x00\x00\x00"),
                        "map16": Raw(b"\xde\x00\x00"), "map32": Raw(b"\xdf\x00\x00\x00\x01\x01\x02"),
                        "bin16": Raw(b"\xc5\x00\x01x"), "bin32": Raw(b"\xc6\x00\x00\x00\x00")}}]])
    return {
        # [chunking, limits] + stream; limits 0x1f = depth 32, frame 4096.
        "ping_whole": bytes([0x00, 0x1F]) + ping,
        "decide_whole": bytes([0x00, 0x1F]) + decide,
        "decide_byte_by_byte": bytes([0x08, 0x1F]) + decide,
        "decide_many_chunks": bytes([0x35, 0x1F]) + many,
        "pipeline_random_chunks": bytes([0x2D, 0x1F]) + ping + decide + notif + stats + ruleset,
        "pipeline_then_garbage": bytes([0x13, 0x1F]) + ping + b"\xc1" + ping,
        "bare_scalars": bytes([0x00, 0x1F]) + b"\x01\xc0\xa1x" + ping,
        "all_types": bytes([0x16, 0x1F]) + all_types,
        "depth_32_ok": bytes([0x00, 0x1F]) + depth32,
        "depth_33_refused": bytes([0x00, 0x1F]) + depth33,
        "depth_limit_4": bytes([0x09, 0x03]) + b"\x91\x91\x91\x91\x90" + ping,
        "frame_limit_100": bytes([0x00, 0x5F]) + ping + decide,
        "frame_limit_16": bytes([0x0A, 0x7F]) + ping + b"\x94\x00\x05\xa4ping\x91" + b"\xa5hello",
        "str32_lie": bytes([0x00, 0x1F]) + b"\x94\x00\x09\xa6decide\x91\xdb\x7f\xff\xff\xff",
        "array32_lie": bytes([0x00, 0x1F]) + b"\x94\x00\xcd\x01\x00\xa4ping\xdd\xff\xff\xff\xff",
        "map32_lie": bytes([0x03, 0x1F]) + b"\xdf\x80\x00\x00\x00\x01",
        "header_split": bytes([0x08, 0x1F]) + b"\x94\x00\xce\x00\x01\x00\x00\xa4ping\x90",
        "notification_bad": bytes([0x00, 0x1F]) + pack([2, 5, "x"]) + pack([1, 2, 3]),
        "empty_containers": bytes([0x00, 0x1F]) + b"\x90\x80\x91\x80\x94\x00\x01\xa0\x90",
    }


# ---------------------------------------------------------------- rule files


RULE_EDGE_CASES = {
    "empty.lua": "",
    "syntax_error.lua": "action 'a' {\n  channels = { 'web' },\n  value = 1\n  when = raining(),\n}\n",
    "unknown_name.lua": "action 'a' { channels = { 'web' }, value = 1, when = bouhgt('laptop') }\n",
    # Personal payloads (compile_payload.c, decide/payload.c): every field
    # kind, defaults, doubled braces, escape = "none", and mistakes.
    "payload_templates.lua": """\
action "tpl" {
  channels = { "web", "app", "email" }, value = 3,
  payload = { t = "Hi {attributes.first_name|there}, {years_since.member_since|0} years",
              d = "{days_since.last_order} days {{literal}} {customer_id}/{channel}/{touchpoint}",
              deep = { { "{attributes.loyalty_tier}" }, { k = "{attributes.lifetime_value|}" } } },
}
action "raw" { channels = { "web" }, value = 2, escape = "none", payload = "<{attributes.first_name}>" }
""",
    "payload_mistakes.lua": """\
action "bad" { channels = { "web" }, value = 1, escape = "js",
  payload = { "{nope}", "{attributes.x", "{channel} }", "{product.name}", "{}", "{attributes.}" } }
""",
    "all_fields.lua": """\
models { "churn" }
channels { "kiosk2", "voice" }
settings { default_limit = 2, utc_offset_hours = -5.5 }
touchpoint "t_local" { limit = 2, diverse = "category", description = "x" }
store "s_local" { lat = -33.86, lon = 151.2, name = "Sydney" }
action "every_field" {
  channels    = { "web", "app", "voice" },
  touchpoints = { "t_local", "web_home" },
  requires    = { "marketing", "location" },
  value       = 10, lever = 1.5, model = "churn",
  category    = "all", description = "every field at once",
  start = "2025-12-01", stop = "2026-02-01T08:00:00Z",
  when   = all { near_store(km(5)), in_store(), bought({ "laptop", "tablet" }, within(days(30))) },
  weight = score("churn") * 2 + attribute("lifetime_value") / 1000 - 0.5,
  payload = { list = { 1, 2.5, "three", true }, map = { a = { b = { c = {} } } } },
}
fallback "fb" { channels = "web", value = 0.1, propensity = 0.5 }
--@test
test "every field" {
  context = { channel = "web", touchpoint = "web_home", consent = { marketing = true, location = true },
              location = { lat = -33.8, lon = 151.2, store_id = "s_local" },
              purchases = { { category = "laptop", ts = ago(days(3)) } }, scores = { churn = 0.5 } },
  includes = { "every_field" }, excludes = { "fb" },
  reasons = { fb = "fallback" }, priorities = { every_field = above(0), fb = between(0, 1) },
}
test "no consent" { context = { channel = "voice", touchpoint = "t_local" }, expect = { "fb" } }
""",
    "plain_lua.lua": """\
local function spent_on(c, cat)
  local total = 0
  for _, p in ipairs(c.purchases) do
    if p.category == cat then total = total + (p.price or 0) end
  end
  return total
end
action "big_spender" {
  channels = { "web", "email" }, value = 5,
  when = function(c) return spent_on(c, "laptop") > 500 and c.consent.marketing end,
  weight = function(c) return math.min(3, spent_on(c, "laptop") / 1000) end,
}
action "errors" { channels = { "web" }, value = 1, when = function(c) error("boom " .. c.customer_id) end }
action "loops" { channels = { "web" }, value = 1, when = function(c) while true do end end }
action "grows" { channels = { "web" }, value = 1,
  when = function(c) local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(100) end end }
action "bad_weight" { channels = { "web" }, value = 1, weight = function(c) return "heavy" end }
action "catches" { channels = { "web" }, value = 1,
  when = function(c) for i = 1, 100 do pcall(function() while true do end end) end return true end }
--@test
test "spender" {
  context = { channel = "web", touchpoint = "web_home",
              purchases = { { category = "laptop", price = 900, ts = ago(days(1)) } },
              consent = { marketing = true } },
  includes = { "big_spender" },
  reasons = { errors = "error:", loops = "budget:", grows = "budget:", bad_weight = "error:" },
}
""",
    "load_time_loop.lua": "while true do end\n",
    "load_time_memory.lua": "local t = {} for i = 1, 1e9 do t[i] = {} end\n",
    "load_time_pcall_budget.lua": "for i = 1, 1e6 do pcall(function() while true do end end) end\n",
    "sandbox_escapes.lua": """\
local ok = pcall(function() return io.open("/etc/passwd") end)
local s = getmetatable("")
local mt = getmetatable(raining())
setmetatable({}, { __gc = function() end })
string.rep = nil
action "a" { channels = { "web" }, value = 1 }
""",
    "patterns.lua": """\
local s = ("a"):rep(5000)
local ok = pcall(string.find, s, "(a*)*b")
local n = select(2, s:gsub("a", "%0%0"))
action "p" { channels = { "web" }, value = n % 7 + 1,
  when = function(c) return (c.customer_id or ""):match("^(%w+)-(%d+)$") ~= nil end }
""",
    "mutated_vocabulary.lua": """\
local c = bought("laptop", within(days(30)))
c.window = 12
local w = recency("laptop", days(14))
action "m" { channels = { "web" }, value = 1, when = all { c, raining() }, weight = w * 2 }
""",
    "vocabulary_mistakes.lua": """\
action "a" { channels = { "web" }, value = 1, when = raining }
action "b" { channels = { "nope" }, value = -1, when = all {} }
action "c" { channels = { "web" }, value = 1, model = "unknown", propensity = 2 }
action "d" { channels = { "web" }, value = 1, touchpoints = { "nowhere" }, stop = "2026-02-30" }
action "a" { channels = { "web" }, value = 1, colour = "red" }
touchpoint "web_home" { limit = 500 }
""",
    "many_declarations.lua": """\
for i = 1, 300 do
  action ("gen_" .. i) { channels = { "web", "app" }, value = i,
    when = any { bought("c" .. i), viewed("c" .. (i + 1), within(days(i))) },
    weight = recency("c" .. i, days(1 + i % 30)) }
end
""",
    "payload_deep.lua": """\
local p = {} local q = p
for i = 1, 40 do q.next = {} q = q.next end
action "deep" { channels = { "web" }, value = 1, payload = p }
action "cyclic" { channels = { "web" }, value = 1, payload = { f = function() end } }
""",
    "metatables_on_specs.lua": """\
local loop = function() while true do end end
local liar = { __len = function() return 1 << 50 end, __index = rawlen, __pairs = loop }
pcall(function() action "m1" (setmetatable({ channels = { "web" }, value = 1 }, { __index = loop })) end)
pcall(function() action "m0" { channels = setmetatable({ "web" }, liar), value = 1 } end)
action "m2" { channels = { "web" }, value = 1,
  payload = setmetatable({ a = setmetatable({}, liar), b = { 1, 2 } }, { __index = loop, __len = loop }) }
pcall(touchpoint "mt", setmetatable({ limit = 2 }, { __index = function() error({}) end }))
action "m3" (setmetatable({}, { __index = function(t, k)
  if k == "channels" then return { "web" } elseif k == "value" then return 1 end end }))
action "m4" { channels = { "web" }, value = 1, when = setmetatable({}, { __call = loop }),
  weight = setmetatable({}, { __index = loop, __mul = loop }) }
--@test
test "mt" (setmetatable({ context = setmetatable({ channel = "web" }, liar) }, { __index = loop }))
test "mt2" { context = { channel = "web", touchpoint = "web_home" },
             expect = setmetatable({ "m2" }, liar), reasons = setmetatable({}, { __pairs = loop }) }
""",
    "metatables_loading.lua": """\
local loop = function() while true do end end
local liar = { __len = function() return 1 << 50 end, __index = rawlen, __pairs = loop,
               __newindex = loop, __tostring = loop, __eq = loop, __lt = loop, __concat = loop }
local kept = setmetatable({ 1, 2, 3 }, liar)
action "p1" { channels = { "web" }, value = 1,
  payload = { a = setmetatable({ x = 1 }, liar), b = setmetatable({ 1, 2 }, { __index = loop }) } }
action "p2" { channels = { "web" }, value = 1, when = function(c) return #kept > 0 end,
  weight = function(c) return setmetatable({}, { __index = function() return 2 end }).w end }
action "p3" { channels = { "web" }, value = 1, when = function(c) return tostring(kept) end }
--@test
test "mt" { context = { channel = "web", touchpoint = "web_home" },
            includes = { "p1" }, reasons = { p3 = "budget:" } }
""",
    "c_loops.lua": """\
local liar = setmetatable({}, { __len = function() return 1000 end, __index = rawlen })
local r = {
  pcall(string.rep, "", 1e5), pcall(string.rep, "", 1e5, ""), pcall(table.move, {}, 1, 1e5, 2),
  pcall(table.insert, liar, 1, "x"), pcall(table.remove, liar, 1), pcall(table.concat, liar),
  pcall(table.sort, liar), pcall(table.unpack, liar), pcall(table.unpack, {}, 1, 1e7),
  pcall(utf8.len, ("x"):rep(1e6)), pcall(string.byte, ("x"):rep(1e5), 1, -1),
  pcall(tonumber, ("9"):rep(1e6)), pcall(table.sort, { 3, 1, 2 }, function(a, b) return a > b end),
}
local huge = setmetatable({}, { __len = function() return 1 << 50 end, __index = rawlen })
action "rep" { channels = { "web" }, value = 1, when = function(c) return #string.rep("", 1 << 50) end }
action "move" { channels = { "web" }, value = 1, when = function(c) table.move({}, 1, 1 << 50, 2) end }
action "insert" { channels = { "web" }, value = 1, when = function(c) table.insert(huge, 1, 1) end }
action "concat" { channels = { "web" }, value = 1, when = function(c) return #table.concat(huge) > 0 end }
action "sort" { channels = { "web" }, value = 1, when = function(c)
  table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end, __index = rawlen })) end }
--@test
test "loops" { context = { channel = "web", touchpoint = "web_home" },
               reasons = { rep = "budget:", move = "budget:", insert = "budget:", sort = "budget:" } }
""",
    "xpcall_handlers.lua": """\
local loop = function() while true do end end
local ok, e = xpcall(error, loop)
xpcall(error, function(m) return xpcall(error, error, m) end, {})
action "x" { channels = { "web" }, value = 1, when = function(c)
  return xpcall(loop, function(m) for i = 1, 1e9 do end return m end) end }
action "y" { channels = { "web" }, value = 1,
  weight = function(c) return select(2, xpcall(error, function(m) return #m end, "abc")) end }
""",
    "error_objects.lua": """\
pcall(error, setmetatable({}, { __tostring = function() error("x") end }))
pcall(error) pcall(error, nil) pcall(error, 12) pcall(error, print)
action "e1" { channels = { "web" }, value = 1, when = function(c) error({}) end }
action "e2" { channels = { "web" }, value = 1, when = function(c) error(nil) end }
action "e3" { channels = { "web" }, value = 1, when = function(c) error(12.5) end }
action "e4" { channels = { "web" }, value = 1,
  weight = function(c) error(setmetatable({}, { __tostring = function() while true do end end })) end }
action "e5" { channels = { "web" }, value = 1, when = function(c)
  local t = setmetatable({}, { __index = function(t, k) return t[k] end }) return t.x end }
action "e6" { channels = { "web" }, value = 1, when = function(c)
  local function f(s) return (s:gsub(".", f)) end return f("x") end }
--@test
test "errors" { context = { channel = "web", touchpoint = "web_home" },
                reasons = { e1 = "error:", e5 = "budget:", e6 = "budget:" } }
""",
    "load_error_object.lua": """\
action "a" { channels = { "web" }, value = 1 }
error(setmetatable({}, { __tostring = function() error("x") end }))
""",
    "pattern_shapes.lua": """\
local s = ("a"):rep(10000)
local shapes = { ("a?"):rep(40) .. ("a"):rep(40), ".-.-.-.-x", "(.-)*(.-)*x", "(a*)%1%1b",
                 "%b()%b()%b()", "%f[%w]%w+", "[%a]*[^b]*x", "^(a-)(a-)$" }
for _, p in ipairs(shapes) do
  pcall(string.find, s, p) pcall(string.match, s, p) pcall(string.gsub, s, p, function(x) return x end)
  pcall(function() for w in s:gmatch(p) do end end)
  pcall(string.find, 12345678901234567890, p)
end
action "pat" { channels = { "web" }, value = 1, when = function(c)
  return string.find(c.customer_id:rep(500), ("a?"):rep(30) .. ("a"):rep(30)) ~= nil end }
""",
    "recursion.lua": """\
local function f() return 1 + f() end
pcall(f)
local t = setmetatable({}, { __index = function(t, k) return t[k] end })
pcall(function() return t.x end)
local function g(s) return (s:gsub(".", g)) end
pcall(g, "x")
local u = {} u = setmetatable(u, { __concat = function(a, b) return a .. b end })
pcall(function() return u .. u end)
action "r" { channels = { "web" }, value = 1, when = function(c) return f() > 0 end }
""",
    "tests_only_mistakes.lua": """\
action "a" { channels = { "web" }, value = 1 }
--@test
test "no context" { expect = { "a" } }
test "bad context" { context = { channel = 5 }, expect = { "a" } }
test "fn in context" { context = { channel = "web", touchpoint = "web_home", f = print } }
test "wrong" { context = { channel = "web", touchpoint = "web_home" }, expect = { "b" },
               includes = { "zz" }, excludes = { "a" }, reasons = { a = "nope" } }
""",
}


def main():
    contexts = bench_contexts()
    for i, ((channel, touchpoint), obj, raw) in enumerate(contexts[:12]):
        write("context", "bench_%02d_%s_%s.msgpack" % (i, channel, touchpoint), raw)
    for name, obj in context_edge_cases().items():
        write("context", name, pack(obj))
    # decide_many batches: runs of reference contexts, then an invalid
    # element at each position, duplicate keys, an empty batch.
    raws = [raw for _, _, raw in contexts[:8]]
    edges = list(context_edge_cases().values())
    batches = {
        "empty": [],
        "one": raws[:1],
        "four": raws[:4],
        "eight": raws[:8],
        "bad_first": [pack(edges[0])] + raws[:2],
        "bad_last": raws[:2] + [pack(edges[1])],
        "not_maps": raws[:1] + [pack(5), pack("x")],
        "dup_key": raws[:1] + [pack(Raw(b"\x84" + pack("customer_id") + pack("c") +
                                         pack("channel") + pack("web") + pack("touchpoint") +
                                         pack("web_home") + pack("channel") + pack("email")))],
    }
    # The first byte picks the answer limit in KiB (0: none; fuzz_context_many.c).
    for name, elems in batches.items():
        n = len(elems)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        write("context_many", name + ".bin", b"\x00" + head + b"".join(elems))
        write("context_many", name + "_1k.bin", b"\x01" + head + b"".join(elems))
    for name, data in frame_seeds(contexts).items():
        write("frame", name + ".bin", data)
    # rules/retail seeds the ruleset fuzzer too: tests/fuzz/run adds it to the
    # working corpus at run time, so no copy is kept here.
    for name, text in RULE_EDGE_CASES.items():
        write("ruleset", name, text)
    here = ROOT / "tests" / "fuzz"
    (here / "ruleset.dict").write_text(ruleset_dict())
    (here / "context.dict").write_text(msgpack_dict("context"))
    (here / "frame.dict").write_text(msgpack_dict("frame"))
    for kind in ("frame", "context", "context_many", "ruleset"):
        print("%s: %d seeds" % (kind, len(list((OUT / kind).iterdir()))))


if __name__ == "__main__":
    sys.exit(main())
