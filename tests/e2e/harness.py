"""Shared helpers for Arbiter's end-to-end tests.

Everything here drives the real ``build/arbiter`` binary (or ``$ARBITER_BIN``)
over real sockets, using only the Python standard library plus Debian's
python3-msgpack.

Main pieces:

* :class:`Server` starts ``arbiter serve`` on a free TCP port with a private
  temporary admin socket, waits until it accepts, and stops/kills it; it also
  reads the server's RSS and open file descriptors from /proc and scans its
  stderr for sanitizer reports.
* :class:`RpcClient` is a raw MessagePack-RPC client (msgpack.Packer /
  msgpack.Unpacker) with pipelining, raw byte access and close detection.
* :class:`E2ETestCase` is a unittest base class that cleans up every server
  and client it created and checks that no zombie is left behind.

Environment:

* ``ARBITER_BIN``        path to the binary (default: <repo>/build/arbiter)
* ``ARBITER_E2E_SLOW``   multiply every timeout by this factor (default 1;
                         e.g. 3 for sanitizer builds)
* ``ARBITER_E2E_KEEP``   keep the temporary directories (logs) when set
* ``ARBITER_E2E_RULES``  ruleset directory (default: <repo>/rules/retail)
* ``ARBITER_E2E_RSS_LIMIT_MB`` / ``ARBITER_E2E_RSS_GROWTH_MB``
                         memory bounds (default 200 / 100; raise them for
                         sanitizer builds, whose RSS includes shadow memory)
"""

import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import msgpack

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_BIN = REPO_ROOT / "build" / "arbiter"
FIXTURES = HERE / "fixtures"
# ARBITER_E2E_RULES may point the suite at another ruleset (e.g. the tiny
# fixture while rules/retail is being edited); the default is rules/retail.
RULES_DIR = Path(os.environ.get("ARBITER_E2E_RULES") or (REPO_ROOT / "rules" / "retail")).resolve()

SLOW = float(os.environ.get("ARBITER_E2E_SLOW", "1") or "1")

ERROR_CODES = frozenset({
    "invalid_request", "method_not_found", "invalid_params", "overloaded",
    "deadline_exceeded", "forbidden", "internal", "too_large", "unavailable",
})
CHANNELS = ("web", "email", "app", "store", "call_center", "sms")

# Patterns that mean a sanitizer (or glibc) found a bug in the server.
SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: ThreadSanitizer",
    "ERROR: ThreadSanitizer",
    "ERROR: MemorySanitizer",
    "runtime error:",            # UBSan
    "*** stack smashing detected",
    "double free or corruption",
    "malloc(): ",
    "free(): invalid",
)


def T(seconds):
    """Scale a timeout by ARBITER_E2E_SLOW."""
    return seconds * SLOW


def arbiter_bin():
    """Absolute path of the binary under test."""
    p = os.environ.get("ARBITER_BIN")
    if p:
        path = Path(p)
        if not path.is_absolute():
            path = (Path.cwd() / path)
        return path.resolve()
    return DEFAULT_BIN


def require_binary():
    """Fail (not skip) loudly when the binary is missing: a missing binary in
    CI is a build problem, not a reason to pass."""
    b = arbiter_bin()
    if not (b.is_file() and os.access(b, os.X_OK)):
        raise AssertionError(
            "arbiter binary not found or not executable at %s "
            "(build it, or set ARBITER_BIN)" % b)
    return b


_help_cache = {}


def run_cli(args, timeout=None, input=None):
    """Run ``arbiter ARGS`` to completion. Returns CompletedProcess (text)."""
    return subprocess.run(
        [str(require_binary())] + list(args),
        input=input, capture_output=True, text=True,
        timeout=timeout or T(30), cwd=str(REPO_ROOT),
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def serve_help():
    """stdout+stderr of ``arbiter serve --help`` (cached)."""
    b = str(require_binary())
    if b not in _help_cache:
        try:
            cp = run_cli(["serve", "--help"], timeout=T(10))
            _help_cache[b] = (cp.stdout or "") + (cp.stderr or "")
        except subprocess.TimeoutExpired:
            _help_cache[b] = ""
    return _help_cache[b]


def serve_supports(flag):
    return flag in serve_help()


def free_port():
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --------------------------------------------------------------------------
# /proc readers


def proc_rss_kb(pid):
    """Resident memory of pid in KiB that the process holds: VmRSS less the
    pages of mapped files (RssFile), which are the page cache of the LMDB
    state file and the binary, not memory the server grew; None if it is
    gone."""
    rss = file = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("RssFile:"):
                    file = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (rss or 0) - (file or 0)


def proc_fd_count(pid):
    """Number of open file descriptors of pid, or None if it is gone."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_state(pid):
    """One-letter process state (R, S, Z, ...) or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces/parens: state is right after the last ')'.
    return data[data.rfind(")") + 2:].split()[0]


def our_zombies():
    """PIDs of zombie processes whose parent is this test process."""
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(")") + 2:].split()
        if len(rest) >= 2 and rest[0] == "Z" and int(rest[1]) == me:
            out.append(int(name))
    return out


# --------------------------------------------------------------------------
# Server process


class ServerStartError(AssertionError):
    pass


class Server:
    """One ``arbiter serve`` process with its own temp dir and admin socket."""

    def __init__(self, rules=None, workers=None, max_frame=None, max_depth=None,
                 max_connections=None, max_queued=None, frame_timeout=None,
                 unix_socket=False, extra_args=(), env=None, no_watch=True, state=None):
        self.tmpdir = tempfile.mkdtemp(prefix="arb-e2e-", dir="/tmp")
        # Every server runs on a real LMDB store in its temp dir unless the
        # test asks otherwise: state="memory", or a folder of its own.
        self.state = state or os.path.join(self.tmpdir, "state")
        self.admin_path = os.path.join(self.tmpdir, "admin.sock")
        self.socket_path = os.path.join(self.tmpdir, "public.sock") if unix_socket else None
        self.rules = str(rules or RULES_DIR)
        self.opts = []
        for flag, val in (("--workers", workers), ("--max-frame", max_frame),
                          ("--max-depth", max_depth),
                          ("--max-connections", max_connections),
                          ("--max-queued", max_queued),
                          ("--frame-timeout", frame_timeout)):
            if val is not None:
                self.opts += [flag, str(val)]
        if self.socket_path:
            self.opts += ["--socket", self.socket_path]
        self.opts += list(extra_args)
        self.no_watch = no_watch
        self.env = dict(os.environ)
        # Keep sanitizer builds' memory use reasonable and their reports in
        # stderr; harmless for normal builds. Respect an explicit setting.
        self.env.setdefault("ASAN_OPTIONS",
                            "quarantine_size_mb=16:malloc_context_size=10:"
                            "detect_leaks=1:abort_on_error=0")
        if env:
            self.env.update(env)
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        self.stdout_path = os.path.join(self.tmpdir, "stdout.log")
        self._stopped_by_test = False
        self._cleaned = False
        # Set by a test that already failed on (and reported) a crash, so
        # cleanup does not report it a second time.
        self.crash_reported = False

    # -- lifecycle -------------------------------------------------------

    def argv(self):
        args = [str(require_binary()), "serve", "--rules", self.rules,
                "--listen", "127.0.0.1:%d" % self.port,
                "--admin", self.admin_path] + self.opts
        if self.no_watch and serve_supports("--no-watch"):
            args.append("--no-watch")
        if "--state" not in self.opts and serve_supports("--state"):
            args += ["--state", self.state]
        return args

    def start(self, timeout=None):
        last_err = None
        for _attempt in range(3):
            self.port = free_port()
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(
                    self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    cwd=str(REPO_ROOT), env=self.env)
            try:
                self.wait_ready(timeout)
                return self
            except ServerStartError as e:
                last_err = e
                self._reap()
                # Retry only for the free-port race.
                if "in use" not in self.stderr().lower():
                    self.crash_reported = True   # the start error says it all
                    raise
        self.crash_reported = True
        raise last_err

    def wait_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or T(10))
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerStartError(
                    "server exited with %s before accepting connections\n"
                    "argv: %s\nstderr:\n%s" % (rc, " ".join(self.argv()), self.stderr_tail()))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerStartError("server did not accept on port %d within %ss\nstderr:\n%s"
                               % (self.port, timeout or T(10), self.stderr_tail()))

    def wait_for_path(self, path, timeout=None):
        deadline = time.monotonic() + (timeout or T(10))
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return True
            time.sleep(0.05)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def died(self, grace=0.3):
        """Exit status if the server has died (waiting up to grace seconds for
        a dying process to be reaped), else None."""
        deadline = time.monotonic() + grace
        while True:
            rc = self.proc.poll()
            if rc is not None or time.monotonic() >= deadline:
                return rc
            time.sleep(0.02)

    def describe_exit(self, rc):
        if rc is None:
            desc = "running"
        elif rc < 0:
            try:
                desc = "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                desc = "killed by signal %d" % -rc
        else:
            desc = "exited with status %d" % rc
        summary = self.sanitizer_summary()
        return desc + (" [%s]" % summary if summary else "")

    def sanitizer_summary(self, frames=4):
        """Short excerpt of the first sanitizer report in stderr: the ERROR
        line and the top stack frames; '' when there is none."""
        lines = self.stderr().splitlines()
        for i, line in enumerate(lines):
            if any(p in line for p in SANITIZER_PATTERNS):
                out = [line.strip()]
                for l2 in lines[i + 1:]:
                    l2 = l2.strip()
                    if re.match(r"#\d+ ", l2):
                        out.append(l2)
                        if len(out) > frames:
                            break
                return " | ".join(out)
        return ""

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def pause(self, timeout=None):
        """SIGSTOP the server and return once every thread has stopped. A
        stop is not instant: until the thread that takes the signal runs
        (late, on a busy machine), the other threads go on answering."""
        self.proc.send_signal(signal.SIGSTOP)
        end = time.monotonic() + (timeout or T(10))
        tasks = Path("/proc/%d/task" % self.proc.pid)
        while True:
            states = []
            for t in tasks.iterdir():
                try:
                    stat = (t / "stat").read_text()
                except OSError:
                    continue          # a thread that just ended
                states.append(stat[stat.rindex(")") + 2])
            if states and all(s in "tT" for s in states):
                return
            if time.monotonic() > end:
                raise AssertionError("the server's threads did not stop: %s" % states)
            time.sleep(0.002)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Send sig and wait for exit; returns the exit code (None on timeout,
        in which case the process is still running)."""
        self._stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout or T(5))
        except subprocess.TimeoutExpired:
            return None

    def _reap(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(T(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(T(10))

    def cleanup(self):
        """Stop the server (SIGTERM, then SIGKILL), check it died normally,
        left no zombie and printed no sanitizer report."""
        if self._cleaned:
            return
        self._cleaned = True
        problems = []
        if self.proc is not None:
            died_early = self.proc.poll()
            if died_early is not None and not self._stopped_by_test and not self.crash_reported:
                problems.append("server died during the test with exit status %s"
                                % died_early)
            self._reap()
            rc = self.proc.returncode
            if (rc is not None and rc < 0 and rc not in (-signal.SIGTERM, -signal.SIGKILL)
                    and not self.crash_reported):
                problems.append("server terminated by signal %d" % -rc)
            if proc_state(self.proc.pid) == "Z":
                problems.append("server pid %d is a zombie" % self.proc.pid)
            z = our_zombies()
            if z:
                problems.append("zombie children of the test runner: %s" % z)
        err = self.stderr()
        for pat in SANITIZER_PATTERNS:
            # A crash the test already reported (with this excerpt) is not
            # reported again.
            if pat in err and not self.crash_reported:
                problems.append("sanitizer/libc report in server stderr (%r)" % pat)
                break
        if problems:
            tail = self.stderr_tail(80)
            keep = self.tmpdir
            raise AssertionError("; ".join(problems) + "\nlogs kept in %s\nstderr tail:\n%s"
                                 % (keep, tail))
        if not os.environ.get("ARBITER_E2E_KEEP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- observation -----------------------------------------------------

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines=40):
        return "\n".join(self.stderr().splitlines()[-lines:])

    def rss_kb(self):
        return proc_rss_kb(self.proc.pid)

    def fd_count(self):
        return proc_fd_count(self.proc.pid)

    # -- clients ---------------------------------------------------------

    def client(self, timeout=None, nodelay=True):
        return RpcClient.tcp(self.port, timeout=timeout, nodelay=nodelay)

    def unix_client(self, path=None, timeout=None):
        return RpcClient.unix(path or self.socket_path, timeout=timeout)

    def admin_client(self, timeout=None):
        return RpcClient.unix(self.admin_path, timeout=timeout)

    def reload(self, timeout=None):
        """Ask for a reload on a fresh admin connection; returns its
        Response (the answer waits for the load: timeout covers it)."""
        admin = self.admin_client(timeout=timeout or T(30))
        try:
            return admin.call("reload", timeout=timeout or T(30))
        finally:
            admin.close()

    def raw_socket(self, timeout=None, nodelay=True, rcvbuf=None):
        return open_socket(self.port, timeout=timeout, nodelay=nodelay, rcvbuf=rcvbuf)


def start_shared_server(**kw):
    """A Server for a whole test class (setUpClass): started, or cleaned up
    when its start fails; the class's tearDownClass calls cleanup()."""
    s = Server(**kw)
    try:
        s.start()
    except BaseException:
        s.cleanup()
        raise
    return s


def rules_folder(testcase, files, prefix="arb-rules-"):
    """A temporary rule folder removed when testcase ends. files is
    {name: text}, or the text of a single rules.lua."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    testcase.addCleanup(shutil.rmtree, path, True)
    if isinstance(files, str):
        files = {"rules.lua": files}
    for name, text in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)
    return path


# --------------------------------------------------------------------------
# Connections: every end-to-end test opens its sockets here


def open_socket(target, timeout=None, nodelay=True, rcvbuf=None):
    """The one way a test connects to a server: target is a TCP port on
    127.0.0.1 or a Unix socket path. rcvbuf is set before connecting (set
    after, Linux shrinks an open window and the sender backs off for
    seconds, which would look like a stalled server). Returns the plain
    socket, for tests that send raw or broken bytes; wrap it in RpcClient
    for ordinary calls."""
    unix = isinstance(target, (str, Path))
    s = socket.socket(socket.AF_UNIX if unix else socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout or T(10))
        s.connect(str(target) if unix else ("127.0.0.1", target))
        if nodelay and not unix:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(timeout or T(10))
    except BaseException:
        s.close()
        raise
    return s


# --------------------------------------------------------------------------
# MessagePack-RPC client


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset)."""

    def __init__(self, msg, trailing=0):
        super().__init__(msg)
        self.trailing = trailing   # bytes of an incomplete frame before EOF


class MalformedFrame(AssertionError):
    pass


Response = collections.namedtuple("Response", "msgid error result")


def check_response(frame):
    """Validate one frame as a MessagePack-RPC response; return Response.
    Raises MalformedFrame describing the problem."""
    if not isinstance(frame, (list, tuple)) or len(frame) != 4:
        raise MalformedFrame("not a 4-element array: %r" % (frame,))
    typ, msgid, error, result = frame
    if typ != 1 or isinstance(typ, bool):
        raise MalformedFrame("type is not 1: %r" % (frame,))
    if not isinstance(msgid, int) or isinstance(msgid, bool) or not 0 <= msgid < 2 ** 32:
        raise MalformedFrame("bad msgid: %r" % (frame,))
    if error is not None:
        if not isinstance(error, dict):
            raise MalformedFrame("error is not a map: %r" % (frame,))
        if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
            raise MalformedFrame("error lacks str code/message: %r" % (frame,))
        if error["code"] not in ERROR_CODES:
            raise MalformedFrame("unknown error code %r" % (error["code"],))
        if result is not None:
            raise MalformedFrame("both error and result set: %r" % (frame,))
    return Response(msgid, error, result)


def pack(obj, **kw):
    kw.setdefault("use_bin_type", True)
    return msgpack.packb(obj, **kw)


def request_bytes(msgid, method, params=()):
    return pack([0, msgid, method, list(params)])


def notification_bytes(method, params=()):
    return pack([2, method, list(params)])


class RpcClient:
    """Raw MessagePack-RPC client over one stream socket."""

    def __init__(self, sock, timeout=None):
        self.sock = sock
        self.timeout = timeout or T(10)
        self.sock.settimeout(self.timeout)
        self.packer = msgpack.Packer(use_bin_type=True)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                         max_buffer_size=256 * 1024 * 1024)
        self._next_msgid = 1
        self._frames = collections.deque()
        self._bytes_in = 0        # total bytes received
        self._complete_at = 0     # stream offset after the last complete frame
        self.closed_by_peer = False

    @classmethod
    def tcp(cls, port, timeout=None, nodelay=True, rcvbuf=None):
        return cls(open_socket(port, nodelay=nodelay, rcvbuf=rcvbuf), timeout)

    @classmethod
    def unix(cls, path, timeout=None):
        return cls(open_socket(str(path)), timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def fileno(self):
        return self.sock.fileno()

    # -- sending ---------------------------------------------------------

    def next_msgid(self):
        m = self._next_msgid
        self._next_msgid = (self._next_msgid + 1) % (2 ** 32)
        return m

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_request(self, method, params=(), msgid=None):
        if msgid is None:
            msgid = self.next_msgid()
        self.sock.sendall(self.packer.pack([0, msgid, method, list(params)]))
        return msgid

    def notify(self, method, params=()):
        self.sock.sendall(self.packer.pack([2, method, list(params)]))

    # -- receiving -------------------------------------------------------

    def _drain_unpacker(self):
        for obj in self.unpacker:
            self._complete_at = self.unpacker.tell()
            self._frames.append(obj)

    def _feed(self, data):
        self._bytes_in += len(data)
        self.unpacker.feed(data)
        try:
            self._drain_unpacker()
        except (ValueError, msgpack.ExtraData, msgpack.FormatError,
                msgpack.StackError, UnicodeDecodeError) as e:
            raise MalformedFrame("server sent bytes that are not msgpack: %r" % e)

    def recv_obj(self, timeout=None):
        """Next raw msgpack object from the server. Raises ConnectionClosed
        on EOF/reset and socket.timeout when nothing arrives in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no frame within timeout")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError) as e:
                self.closed_by_peer = True
                raise ConnectionClosed("connection reset: %s" % e,
                                       self._bytes_in - self._complete_at)
            if not data:
                self.closed_by_peer = True
                raise ConnectionClosed("EOF", self._bytes_in - self._complete_at)
            self._feed(data)
        return self._frames.popleft()

    def recv(self, timeout=None):
        """Next frame, validated as a response."""
        return check_response(self.recv_obj(timeout))

    def read_some(self, size=1 << 16):
        """One read of at most size bytes, fed to the unpacker (for tests
        that read slowly on purpose). Returns how many bytes came; 0 means
        the server closed."""
        try:
            data = self.sock.recv(size)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed_by_peer = True
        self._feed(data)
        return len(data)

    def take_frames(self):
        """Every whole frame received and not yet taken, raw, in order."""
        out = list(self._frames)
        self._frames.clear()
        return out

    def recv_objs(self, n, timeout=None):
        """The next n raw frames. Raises ConnectionClosed when the server
        closes first and socket.timeout when they do not all come in time
        (timeout for all of them; default the client's)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        return [self.recv_obj(max(0.001, deadline - time.monotonic())) for _ in range(n)]

    def call(self, method, *params, timeout=None, msgid=None):
        """Send one request and return its Response (the next frame must be
        that response: we never have other requests outstanding)."""
        mid = self.send_request(method, params, msgid=msgid)
        r = self.recv(timeout)
        if r.msgid != mid:
            raise MalformedFrame("expected response to msgid %d, got %r" % (mid, r))
        return r

    def ok(self, method, *params, timeout=None):
        """call() that asserts success and returns the result."""
        r = self.call(method, *params, timeout=timeout)
        if r.error is not None:
            raise AssertionError("%s failed: %r" % (method, r.error))
        return r.result

    def wait_closed(self, timeout):
        """Read until the server closes the connection or timeout passes.
        Returns (closed, frames, trailing_bytes)."""
        frames = list(self._frames)
        self._frames.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, frames, 0
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                return False, frames, 0
            except (ConnectionResetError, BrokenPipeError):
                self.closed_by_peer = True
                return True, frames, self._bytes_in - self._complete_at
            if not data:
                self.closed_by_peer = True
                return True, frames, self._bytes_in - self._complete_at
            self._feed(data)
            frames.extend(self._frames)
            self._frames.clear()

    def pipeline(self, payload, expected, timeout=None):
        """Write payload (many frames) from a thread while reading `expected`
        frames here, so neither side can deadlock on full buffers.
        Returns the list of raw frames, in arrival order."""
        timeout = timeout or T(60)
        deadline = time.monotonic() + timeout
        errors = []
        self.sock.settimeout(timeout)

        def writer():
            try:
                self.sock.sendall(payload)
            except Exception as e:  # reported below
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        out = []
        try:
            while len(out) < expected:
                while not self._frames:
                    if time.monotonic() > deadline:
                        raise socket.timeout("pipeline: got %d of %d frames" % (len(out), expected))
                    try:
                        data = self.sock.recv(1 << 18)
                    except (ConnectionResetError, BrokenPipeError) as e:
                        raise ConnectionClosed("reset after %d of %d frames: %s"
                                               % (len(out), expected, e))
                    if not data:
                        raise ConnectionClosed("EOF after %d of %d frames" % (len(out), expected),
                                               self._bytes_in - self._complete_at)
                    self._feed(data)
                out.append(self._frames.popleft())
        finally:
            t.join(max(0.1, deadline - time.monotonic()))
            self.sock.settimeout(self.timeout)
        if errors:
            raise errors[0]
        return out


# --------------------------------------------------------------------------
# Contexts


def sample_context(customer_id="c-1001", touchpoint="home", channel="web", **over):
    """A fully populated, valid decide context."""
    now = int(time.time())
    ctx = {
        "customer_id": customer_id,
        "channel": channel,
        "touchpoint": touchpoint,
        "now": now,
        "consent": {"email": True, "sms": False, "push": True},
        "location": {"lat": 52.5200, "lon": 13.4050, "store_id": "s-017", "country": "DE"},
        "purchases": [
            {"sku": "SKU-100", "category": "shoes", "price": 59.90, "ts": now - 86400 * 3,
             "channel": "web"},
            {"sku": "SKU-200", "category": "socks", "price": 4.50, "ts": now - 86400,
             "channel": "store"},
        ],
        "events": [
            {"type": "view", "sku": "SKU-300", "category": "shoes", "ts": now - 600},
            {"type": "add_to_cart", "sku": "SKU-300", "category": "shoes", "ts": now - 300},
        ],
        "weather": {"temp_c": 17.5, "condition": "rain"},
        "scores": {"churn": 0.12, "clv": 0.83},
        "attributes": {"tier": "gold", "newsletter": True, "age_band": "25-34"},
        "limit": 3,
        "explain": False,
    }
    ctx.update(over)
    return ctx


def pick_touchpoint(ruleset_result, default="home"):
    """A touchpoint name from a `ruleset` result (elements may be strings or
    maps with a name/id)."""
    tps = (ruleset_result or {}).get("touchpoints") if isinstance(ruleset_result, dict) else None
    if isinstance(tps, list):
        for tp in tps:
            if isinstance(tp, str) and tp:
                return tp
            if isinstance(tp, dict):
                for k in ("name", "id", "touchpoint"):
                    if isinstance(tp.get(k), str) and tp[k]:
                        return tp[k]
    return default


def assert_decision(tc, d, explain=False, where="decision"):
    tc.assertIsInstance(d, dict, "%s is not a map: %r" % (where, d))
    for k in ("decision_id", "ruleset", "actions", "elapsed_us"):
        tc.assertIn(k, d, "%s lacks %r: %r" % (where, k, d))
    tc.assertIsInstance(d["decision_id"], str, where)
    tc.assertTrue(d["decision_id"], "%s has empty decision_id" % where)
    tc.assertIsInstance(d["ruleset"], str, where)
    tc.assertIsInstance(d["actions"], list, where)
    tc.assertIsInstance(d["elapsed_us"], int, where)
    tc.assertNotIsInstance(d["elapsed_us"], bool, where)
    tc.assertGreaterEqual(d["elapsed_us"], 0, where)
    if explain:
        tc.assertIn("explain", d, "%s asked explain=true but has no explain: %r" % (where, d))
        tc.assertIsInstance(d["explain"], list, where)


# --------------------------------------------------------------------------
# logfmt

_LOGFMT_TOKEN = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?\s*')


def parse_logfmt(line):
    """Parse one logfmt line into a dict; None if the line is not logfmt."""
    pos, out = 0, {}
    line = line.rstrip("\r\n")
    while pos < len(line):
        m = _LOGFMT_TOKEN.match(line, pos)
        if not m or m.end() == pos:
            return None
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


# --------------------------------------------------------------------------
# unittest base


class E2ETestCase(unittest.TestCase):
    """Base class: start servers/clients that are cleaned up automatically."""

    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        require_binary()

    def start_server(self, **kw):
        s = Server(**kw)
        # Registered before start so a failing start still cleans up.
        self.addCleanup(s.cleanup)
        s.start()
        return s

    def connect(self, server, timeout=None, nodelay=True):
        c = server.client(timeout=timeout, nodelay=nodelay)
        self.addCleanup(c.close)
        return c

    def connect_unix(self, path, timeout=None):
        c = RpcClient.unix(path, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def raw(self, server, timeout=None, nodelay=True):
        s = server.raw_socket(timeout=timeout, nodelay=nodelay)
        self.addCleanup(s.close)
        return s

    def touchpoint(self, client):
        r = client.call("ruleset")
        return pick_touchpoint(r.result if r.error is None else None)

    def assert_ping_works(self, client, what="connection"):
        try:
            r = client.call("ping", timeout=T(10))
        except (ConnectionClosed, socket.timeout, OSError) as e:
            self.fail("%s no longer served: ping failed with %r" % (what, e))
        self.assertIsNone(r.error, "%s: ping answered an error %r" % (what, r.error))
        self.assertIsInstance(r.result, dict)
        self.assertIs(r.result.get("pong"), True)

    def assert_error(self, resp, code, contains=None):
        self.assertIsNotNone(resp.error, "expected error %s, got result %r" % (code, resp.result))
        self.assertEqual(resp.error["code"], code, "wrong error code: %r" % (resp.error,))
        self.assertIsNone(resp.result)
        if contains is not None:
            self.assertIn(contains, resp.error["message"],
                          "error message does not name %r: %r" % (contains, resp.error))

    def assert_closed(self, client, timeout=None, allow_error_answer=True, msg=""):
        """The server must close the connection within timeout. Any frames
        that arrive before must be well-formed error responses. Returns them."""
        closed, frames, trailing = client.wait_closed(timeout or T(5))
        self.assertTrue(closed, "server did not close the connection within %ss %s"
                        % (timeout or T(5), msg))
        self.assertEqual(trailing, 0, "server sent a truncated frame before closing %s" % msg)
        resps = [check_response(f) for f in frames]
        if not allow_error_answer:
            self.assertEqual(resps, [], "expected a bare close, got answers %s" % msg)
        for r in resps:
            self.assertIsNotNone(r.error, "expected only error answers before close, got %r %s"
                                 % (r, msg))
        return resps


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# --------------------------------------------------------------------------
# memory sampling

RSS_LIMIT_MB = float(os.environ.get("ARBITER_E2E_RSS_LIMIT_MB", "200"))
RSS_GROWTH_MB = float(os.environ.get("ARBITER_E2E_RSS_GROWTH_MB", "100"))


class RssSampler:
    """Sample a process's RSS in a background thread; .max_kb is the peak."""

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.interval = interval
        self.max_kb = proc_rss_kb(pid) or 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = proc_rss_kb(self.pid)
            if v is None:
                return
            if v > self.max_kb:
                self.max_kb = v
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(5)
        v = proc_rss_kb(self.pid)
        if v is not None and v > self.max_kb:
            self.max_kb = v
        return False
