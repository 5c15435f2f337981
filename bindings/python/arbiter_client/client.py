"""The synchronous client: a thread-safe pool of blocking connections.

A connection carries one request at a time, so a thread holds it from send
to answer and other threads take other connections; at most ``pool_size``
are open, a thread beyond that waits for one (within its timeout). A
connection whose request timed out is closed rather than reused: its late
answer would otherwise be read as the answer to the next request.
"""

import select
import socket
import threading
import time

from . import errors
from ._core import (DEFAULT_ADDRESS, MAX_MSGID, backoff_delay, check_response, may_retry,
                    new_unpacker, pack_notification, pack_request, parse_address)
from ._methods import Methods


class _Connection:
    def __init__(self, kind, target, connect_timeout):
        try:
            if kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(connect_timeout)
                    sock.connect(target)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(target, timeout=connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except socket.timeout:
            raise errors.Timeout("connecting to %s: no answer within %gs"
                                 % (_where(kind, target), connect_timeout), sent=False) from None
        except OSError as e:
            raise errors.ConnectionError("connecting to %s: %s" % (_where(kind, target),
                                         e.strerror or e), sent=False) from None
        self.sock = sock
        self.unpacker = new_unpacker()
        self.msgid = 0

    def alive(self):
        """False when the server closed this idle connection (or sent junk)."""
        # poll, not select: select fails on descriptors past 1023.
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        try:
            return not p.poll(0)   # an idle connection has nothing to read but EOF
        except OSError:
            return False

    def send(self, data, timeout):
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise errors.Timeout("sending: the server did not read within %gs" % timeout) from None
        except OSError as e:
            raise errors.ConnectionError("sending: %s" % (e.strerror or e), sent=True) from None

    def call(self, method, arg, timeout):
        """(error, result) of one request; raises Timeout / ConnectionError."""
        self.msgid = self.msgid + 1 if self.msgid < MAX_MSGID else 1
        msgid = self.msgid
        deadline = time.monotonic() + timeout
        self.send(pack_request(msgid, method, arg), timeout)
        while True:
            for frame in self.unpacker:
                got, error, result = check_response(frame)
                if got == msgid:
                    return error, result
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.Timeout("%s: no answer within %gs" % (method, timeout))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                raise errors.Timeout("%s: no answer within %gs" % (method, timeout)) from None
            except OSError as e:
                raise errors.ConnectionError("%s: %s" % (method, e.strerror or e),
                                             sent=True) from None
            if not data:
                raise errors.ConnectionError("%s: the server closed the connection" % method,
                                             sent=True)
            try:
                self.unpacker.feed(data)
            except Exception as e:   # msgpack.BufferFull and the like
                raise errors.ProtocolError("%s: %s" % (method, e)) from None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _where(kind, target):
    return "unix:%s" % target if kind == "unix" else "%s:%d" % target


class _Pool:
    def __init__(self, factory, size):
        self._factory = factory
        self._size = size
        self._idle = []          # most recently used last: warm connections first
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise errors.ConnectionError("the client is closed", sent=False)
                while self._idle:
                    conn = self._idle.pop()
                    if conn.alive():
                        return conn
                    conn.close()
                    self._open -= 1
                if self._open < self._size:
                    self._open += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise errors.Timeout("all %d connections of the pool stayed busy for %gs"
                                         % (self._size, timeout), sent=False)
                self._cond.wait(left)
        try:
            return self._factory()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def release(self, conn, reuse):
        with self._cond:
            if reuse and not self._closed:
                self._idle.append(conn)
            else:
                conn.close()
                self._open -= 1
            self._cond.notify()

    def close(self):
        with self._cond:
            self._closed = True
            for conn in self._idle:
                conn.close()
                self._open -= 1
            self._idle.clear()
            self._cond.notify_all()

    @property
    def open_connections(self):
        with self._cond:
            return self._open


class Client(Methods):
    """A blocking client, safe to share between threads.

    ``address``: ``"host:port"`` (default ``127.0.0.1:7878``), ``"[::1]:7878"``
    or ``"unix:/path/to.sock"`` (the admin socket for reload, customer,
    forget). ``pool_size``: connections opened at most, one per concurrent
    call. ``timeout``: seconds one attempt waits for its answer (and for a
    free connection), overridable per call. ``retries``: further attempts
    where the module ``arbiter_client._core`` says a retry is safe, after a
    pause of up to ``backoff * 2**n`` seconds (at most ``max_backoff``).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, address=DEFAULT_ADDRESS, *, pool_size=8, timeout=5.0,
                 connect_timeout=None, retries=3, backoff=0.05, max_backoff=2.0):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        kind, target = parse_address(address)
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._pool = _Pool(lambda: _Connection(kind, target, connect_timeout), pool_size)

    def call(self, method, arg=None, *, timeout=None, retries=None):
        """Send ``method`` with ``arg`` as params[0] (no params when None) and
        return the result, or raise the error's class (errors module)."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return self._attempt(method, arg, timeout)
            except errors.ArbiterError as e:
                if attempt >= retries or not may_retry(e, method, arg):
                    raise
                time.sleep(backoff_delay(attempt, self.backoff, self.max_backoff))
                attempt += 1

    def _attempt(self, method, arg, timeout):
        conn = self._pool.acquire(timeout)
        reuse = False
        try:
            error, result = conn.call(method, arg, timeout)
            # invalid_request closes the connection on the server's side.
            reuse = not (isinstance(error, dict) and error.get("code") == "invalid_request")
        finally:
            self._pool.release(conn, reuse)
        if error is not None:
            raise errors.from_wire(error)
        return result

    def notify(self, method, arg):
        """Send a notification (``track``, ``feedback``): applied, never
        answered, never retried; errors in it are not reported."""
        conn = self._pool.acquire(self.timeout)
        reuse = False
        try:
            conn.send(pack_notification(method, arg), self.timeout)
            reuse = True
        finally:
            self._pool.release(conn, reuse)

    @property
    def open_connections(self):
        """Connections the pool holds open now (busy or idle)."""
        return self._pool.open_connections

    def close(self):
        """Close idle connections now and busy ones when their call ends."""
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
