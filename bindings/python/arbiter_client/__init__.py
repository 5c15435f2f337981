"""Arbiter's Python client: ``Client`` (threads, a connection pool) and
``AsyncClient`` (asyncio, pipelined), on Debian's python3-msgpack.

    from arbiter_client import Client
    with Client("127.0.0.1:7878") as arb:
        decision = arb.decide({"customer_id": "C1", "channel": "web", "touchpoint": "web_home"})

Errors are raised as one class per wire code (``arbiter_client.errors``).
"""

from .aio import AsyncClient
from .client import Client
from .errors import (ArbiterError, ConnectionError, DeadlineExceeded, Forbidden, Internal,
                     InvalidParams, InvalidRequest, MethodNotFound, Overloaded, ProtocolError,
                     Timeout, TooLarge, Unavailable)

__version__ = "0.1.0"

__all__ = [
    "Client", "AsyncClient", "ArbiterError", "InvalidRequest", "MethodNotFound",
    "InvalidParams", "Overloaded", "DeadlineExceeded", "Forbidden", "Unavailable", "TooLarge",
    "Internal", "ConnectionError", "Timeout", "ProtocolError",
]
