"""The asyncio client: pipelined calls over one or a few connections.

Any number of calls may be in flight on one connection: each request gets a
msgid and its answer is matched by it, whatever order answers come in.
Requests written in the same turn of the event loop leave in one write, so
``asyncio.gather`` of many calls costs few system calls. A call that times
out gives up its msgid (a late answer is dropped), and the connection stays
usable; a connection that fails fails every call in flight on it with
:class:`~arbiter_client.errors.ConnectionError` (``sent=True``) and is
opened again by the next call.
"""

import asyncio
import socket

from . import errors
from ._core import (DEFAULT_ADDRESS, MAX_MSGID, backoff_delay, check_response, may_retry,
                    new_unpacker, pack_notification, pack_request, parse_address)
from ._methods import Methods

# Bytes waiting in the transport beyond which callers wait for the socket:
# a producer faster than the server cannot grow the buffer without bound.
_HIGH_WATER = 1 << 20


class _Connection:
    def __init__(self, reader, writer):
        self.loop = asyncio.get_running_loop()
        self.reader = reader
        self.writer = writer
        self.unpacker = new_unpacker()
        self.pending = {}
        self.msgid = 0
        self.out = []
        self.out_bytes = 0
        self.flush_scheduled = False
        self.closed = False
        self.room_waiters = set()
        self.drainer = None
        self.task = self.loop.create_task(self._read_loop())

    @classmethod
    async def open(cls, kind, target, connect_timeout):
        where = "unix:%s" % target if kind == "unix" else "%s:%d" % target
        try:
            if kind == "unix":
                coro = asyncio.open_unix_connection(target)
            else:
                coro = asyncio.open_connection(target[0], target[1])
            reader, writer = await asyncio.wait_for(coro, connect_timeout)
        except asyncio.TimeoutError:
            raise errors.Timeout("connecting to %s: no answer within %gs"
                                 % (where, connect_timeout), sent=False) from None
        except OSError as e:
            raise errors.ConnectionError("connecting to %s: %s" % (where, e.strerror or e),
                                         sent=False) from None
        sock = writer.get_extra_info("socket")
        if kind == "tcp" and sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    def _next_msgid(self):
        while True:
            self.msgid = self.msgid + 1 if self.msgid < MAX_MSGID else 1
            if self.msgid not in self.pending:
                return self.msgid

    def send(self, data):
        if self.closed:
            raise errors.ConnectionError("the connection is closed", sent=False)
        self.out.append(data)
        self.out_bytes += len(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self):
        self.flush_scheduled = False
        if self.out and not self.closed:
            data = b"".join(self.out)
            self.out.clear()
            self.out_bytes = 0
            self.writer.write(data)

    def _over_high_water(self):
        return self.writer.transport.get_write_buffer_size() + self.out_bytes >= _HIGH_WATER

    async def wait_room(self, deadline, method, timeout):
        """Wait, until deadline, for the socket to take the bytes queued.

        A caller waits here before its request is queued, so a call that
        times out here was never sent (and may be retried whatever it is).
        All waiters share one drain; each has its own timer, so thousands
        of them cost linear time.
        """
        if not self._over_high_water():
            return
        w = self.loop.create_future()
        self.room_waiters.add(w)
        if self.drainer is None:
            self.drainer = self.loop.create_task(self._drain())
        h = self.loop.call_at(deadline, _expire, w, method, timeout, False)
        try:
            await w
        finally:
            h.cancel()
            self.room_waiters.discard(w)

    async def _drain(self):
        error = None
        try:
            self._flush()
            await self.writer.drain()
        except asyncio.CancelledError:
            error = errors.ConnectionError("the client was closed", sent=False)
        except OSError as e:
            error = errors.ConnectionError("sending: %s" % (e.strerror or e), sent=False)
        finally:
            self.drainer = None
            for w in self.room_waiters:
                if not w.done():
                    if error is None:
                        w.set_result(None)
                    else:
                        w.set_exception(error)
            self.room_waiters.clear()

    async def call(self, method, arg, timeout):
        deadline = self.loop.time() + timeout
        await self.wait_room(deadline, method, timeout)
        if self.closed:
            raise errors.ConnectionError("the connection is closed", sent=False)
        msgid = self._next_msgid()
        fut = self.loop.create_future()
        self.send(pack_request(msgid, method, arg))
        self.pending[msgid] = fut
        expire = self.loop.call_at(deadline, _expire, fut, method, timeout, True)
        try:
            return await fut
        finally:
            expire.cancel()
            self.pending.pop(msgid, None)

    async def _read_loop(self):
        why = "the server closed the connection"
        try:
            while True:
                data = await self.reader.read(1 << 16)
                if not data:
                    break
                self.unpacker.feed(data)
                for frame in self.unpacker:
                    msgid, error, result = check_response(frame)
                    fut = self.pending.pop(msgid, None)
                    if fut is not None and not fut.done():
                        fut.set_result((error, result))
        except asyncio.CancelledError:
            why = "the client was closed"
        except errors.ProtocolError as e:
            why = str(e)
        except Exception as e:   # OSError, msgpack errors
            why = "reading: %s" % e
        finally:
            self.closed = True
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(errors.ConnectionError(why, sent=True))
            self.pending.clear()
            self.writer.close()

    async def close(self):
        self.closed = True
        if self.drainer is not None:
            self.drainer.cancel()
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def _expire(fut, method, timeout, sent):
    if not fut.done():
        what = "no answer" if sent else "the socket took nothing"
        fut.set_exception(errors.Timeout("%s: %s within %gs" % (method, what, timeout), sent=sent))


class AsyncClient(Methods):
    """An asyncio client; every helper returns an awaitable.

    ``connections``: how many connections calls are spread over (round
    robin); one carries thousands of pipelined calls, more help when the
    server runs several workers (each connection is served by one).
    ``timeout``, ``retries``, ``backoff``, ``max_backoff`` and the address
    forms are those of :class:`~arbiter_client.Client`, and so are the rules
    for which calls are retried. Use ``async with``, or await :meth:`close`.
    """

    def __init__(self, address=DEFAULT_ADDRESS, *, connections=1, timeout=5.0,
                 connect_timeout=None, retries=3, backoff=0.05, max_backoff=2.0):
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self._kind, self._target = parse_address(address)
        self.address = address
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._slots = [None] * connections
        self._opening = [None] * connections
        self._next = 0
        self._closed = False

    async def _connection(self):
        if self._closed:
            raise errors.ConnectionError("the client is closed", sent=False)
        i = self._next
        self._next = (i + 1) % len(self._slots)
        conn = self._slots[i]
        if conn is not None and not conn.closed:
            return conn
        # One opening per slot: concurrent callers wait for the same one.
        if self._opening[i] is None:
            self._opening[i] = asyncio.ensure_future(
                _Connection.open(self._kind, self._target, self.connect_timeout))
        opening = self._opening[i]
        try:
            conn = await asyncio.shield(opening)
        finally:
            if self._opening[i] is opening and opening.done():
                self._opening[i] = None
        self._slots[i] = conn
        return conn

    async def call(self, method, arg=None, *, timeout=None, retries=None):
        """Send ``method`` with ``arg`` as params[0] and return the result, or
        raise the error's class; retried as :class:`Client.call` is."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                conn = await self._connection()
                error, result = await conn.call(method, arg, timeout)
                if error is None:
                    return result
                raise errors.from_wire(error)
            except errors.ArbiterError as e:
                if attempt >= retries or not may_retry(e, method, arg):
                    raise
            await asyncio.sleep(backoff_delay(attempt, self.backoff, self.max_backoff))
            attempt += 1

    async def notify(self, method, arg):
        """Send a notification (``track``, ``feedback``): never answered or retried."""
        conn = await self._connection()
        await conn.wait_room(conn.loop.time() + self.timeout, method, self.timeout)
        conn.send(pack_notification(method, arg))

    async def close(self):
        self._closed = True
        for i, conn in enumerate(self._slots):
            if conn is not None:
                await conn.close()
            self._slots[i] = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
