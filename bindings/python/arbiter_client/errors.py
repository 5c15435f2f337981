"""Exceptions of the Arbiter client: one class per wire error code.

The server answers an error as a map ``{code, message}`` (DESIGN.md section
3); :func:`from_wire` turns it into the class of its code, so callers catch
what they can act on (``except Overloaded``) rather than compare strings.
Failures that never produced an answer (connection refused or lost, no answer
in time) are :class:`ConnectionError` and :class:`Timeout`; both say whether
the request may have reached the server (``sent``), which is what decides
whether retrying it could do something twice.
"""

import builtins

__all__ = [
    "ArbiterError", "InvalidRequest", "MethodNotFound", "InvalidParams", "Overloaded",
    "DeadlineExceeded", "Forbidden", "Unavailable", "TooLarge", "Internal",
    "ConnectionError", "Timeout", "ProtocolError", "from_wire",
]


class ArbiterError(Exception):
    """Base of every error this package raises.

    ``code`` is the wire code (``"overloaded"``...), or a client-side name
    (``"connection"``, ``"timeout"``, ``"protocol"``); ``message`` the
    server's text; ``details`` the whole error map (``reload`` adds
    ``errors``, the problems as file:line).
    """

    code = "error"

    def __init__(self, message, code=None, details=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details if details is not None else {}

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


class InvalidRequest(ArbiterError):
    """The frame was not an RPC request; the server closes the connection."""
    code = "invalid_request"


class MethodNotFound(ArbiterError):
    code = "method_not_found"


class InvalidParams(ArbiterError):
    """A field is wrong or missing; the message names it."""
    code = "invalid_params"


class Overloaded(ArbiterError):
    """Refused before any work: safe to retry after a pause (the client does)."""
    code = "overloaded"


class DeadlineExceeded(ArbiterError):
    code = "deadline_exceeded"


class Forbidden(ArbiterError):
    """An admin method (reload, customer, forget) called on the public listener."""
    code = "forbidden"


class Unavailable(ArbiterError):
    """The customer store failed and ``--state-fail`` is ``closed``."""
    code = "unavailable"


class TooLarge(ArbiterError):
    """The answer would pass the server's ``--max-answer``; nothing was sent."""
    code = "too_large"


class Internal(ArbiterError):
    code = "internal"


class ConnectionError(ArbiterError, builtins.ConnectionError):
    """No answer because the connection failed.

    ``sent`` is False when the request never left this process (connecting
    failed), True when it may have reached the server.
    """
    code = "connection"

    def __init__(self, message, sent=False):
        super().__init__(message)
        self.sent = sent


class Timeout(ArbiterError, builtins.TimeoutError):
    """No answer within the call's timeout. The server may still do the work."""
    code = "timeout"

    def __init__(self, message, sent=True):
        super().__init__(message)
        self.sent = sent


class ProtocolError(ArbiterError):
    """The peer sent something that is not a MessagePack-RPC response."""
    code = "protocol"


_BY_CODE = {cls.code: cls for cls in (
    InvalidRequest, MethodNotFound, InvalidParams, Overloaded, DeadlineExceeded,
    Forbidden, Unavailable, TooLarge, Internal)}


def from_wire(error):
    """The exception for an ``error`` field of a response (a map, or anything)."""
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        code = code if isinstance(code, str) else "unknown"
        message = message if isinstance(message, str) else repr(error)
        cls = _BY_CODE.get(code, ArbiterError)
        return cls(message, code=code, details=error)
    return ArbiterError(str(error), code="unknown", details={"error": error})
