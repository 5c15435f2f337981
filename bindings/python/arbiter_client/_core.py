"""What the sync and asyncio clients share: addresses, frames, the retry rule.

The retry rule lives here once so both clients retry exactly the same calls.
What is safe to repeat comes from what the server promises (README.md,
"The protocol"; engine/state/merge.c):

* ``overloaded`` is answered before any work is done (the worker sheds the
  request, or ``--max-pending`` refuses it before it reaches the store), so
  every method may be sent again, after a pause that grows (backoff).
* A request whose connection failed or timed out after it was written may
  have been done. It is sent again only when doing it twice changes nothing:
  ``ping``, ``ruleset``, ``stats``, ``learning`` (reads); ``decide_many``
  (reads no customer state and stores nothing); ``decide`` with
  ``preview: true`` (records nothing); ``feedback`` carrying a
  ``decision_id`` whose outcome is not ``impression`` (the store keeps one
  outcome per (decision_id, action, outcome); an impression may also count a
  contact, which is not deduplicated). The decision log still records each
  delivery, so `arbiter report` may count such a repeat twice.
* Never retried after it may have been sent: ``decide`` (a second decision
  counts a second contact against caps), ``track`` (events are merged by
  content, but purchases logged and consent times would repeat),
  ``feedback`` without a ``decision_id`` or with ``impression``, and the
  admin methods ``reload``, ``customer``, ``forget``.
* A request that never left (the connection could not be opened) is
  retried whatever its method.
"""

import random

import msgpack

from . import errors

DEFAULT_ADDRESS = "127.0.0.1:7878"
MAX_MSGID = 0xFFFFFFFF

SAFE_METHODS = frozenset({"ping", "ruleset", "stats", "learning", "decide_many"})


def parse_address(address):
    """("unix", path) or ("tcp", (host, port)) for an address string.

    Accepted: ``"unix:/run/arbiter.sock"``, a path starting with ``/`` or
    ``./``, ``"host:port"``, ``"[::1]:7878"``; a (host, port) tuple too.
    """
    if isinstance(address, tuple) and len(address) == 2:
        return "tcp", (address[0], int(address[1]))
    if not isinstance(address, str) or not address:
        raise ValueError("address must be 'host:port' or 'unix:/path', got %r" % (address,))
    if address.startswith("unix:"):
        path = address[5:]
        if not path:
            raise ValueError("address 'unix:' needs a path")
        return "unix", path
    if address.startswith(("/", "./")):
        return "unix", address
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
    else:
        host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("address must be 'host:port' or 'unix:/path', got %r" % (address,))
    return "tcp", (host, int(port))


def retry_safe(method, arg):
    """True when sending ``method(arg)`` twice does what sending it once does."""
    if method in SAFE_METHODS:
        return True
    if not isinstance(arg, dict):
        return False
    if method == "decide":
        return arg.get("preview") is True
    if method == "feedback":
        return bool(arg.get("decision_id")) and arg.get("outcome") != "impression"
    return False


def may_retry(exc, method, arg):
    """Whether a failed attempt may be sent again (see the module's text)."""
    if isinstance(exc, errors.Overloaded):
        return True
    if isinstance(exc, (errors.ConnectionError, errors.Timeout)):
        return not exc.sent or retry_safe(method, arg)
    return False


def backoff_delay(attempt, base, cap):
    """Full-jitter exponential backoff: spreads the retries of many clients."""
    return random.uniform(0, min(cap, base * (2 ** attempt)))


def pack_request(msgid, method, arg):
    params = [] if arg is None else [arg]
    return msgpack.packb([0, msgid, method, params], use_bin_type=True)


def pack_notification(method, arg):
    return msgpack.packb([2, method, [arg]], use_bin_type=True)


def new_unpacker():
    # Answers are bounded by the server's --max-answer (4 MiB by default);
    # the unpacker's own bound keeps a wrong peer from costing more.
    return msgpack.Unpacker(raw=False, max_buffer_size=256 << 20, strict_map_key=False)


def check_response(frame):
    """(msgid, error, result) of a response frame, or ProtocolError."""
    if (not isinstance(frame, (list, tuple)) or len(frame) != 4 or frame[0] != 1
            or not isinstance(frame[1], int)):
        raise errors.ProtocolError("not a MessagePack-RPC response: %.200r" % (frame,))
    return frame[1], frame[2], frame[3]


def clean(d):
    """The map without its None values: absent fields stay absent on the wire."""
    return {k: v for k, v in d.items() if v is not None}
