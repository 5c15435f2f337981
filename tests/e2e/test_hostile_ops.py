"""Hostile operations end to end: what an operator's tools, a crowded
machine or bad timing do to a running server (issue 10, rules folder,
reload and signals, sockets and descriptors).

Every test drives the real binary and ends by proving that a clean client is
still answered correctly and that the server's RSS and open descriptors
stayed bounded (HealthCheck).
"""

import ctypes
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time


from harness import (E2ETestCase, RpcClient, Server, T, free_port, open_socket, request_bytes,
                     require_binary, run_cli, wait_until)

TP = """touchpoint "web_home" { limit = 2 }
"""
GOOD = TP + """action "always_on" { channels = { "web" }, value = 1 }
"""
GOOD_TEST = """test "always_on shows on the web" {
  context = { channel = "web", touchpoint = "web_home" },
  includes = { "always_on" },
}
"""
# One rule file of a load that takes about 0.2 s but few instructions: each
# comparison of two 1 MB strings is one instruction and a memcmp. A load has
# one budget for all its files (50M instructions, 256 MB, 5 s of wall time),
# so slowness made of instructions would fail the load instead of being slow.
SLOW = """local a = string.rep("a", 1000000) .. "x"
local b = string.rep("a", 1000000) .. "y"
local n = 0
for i = 1, 2400 do if a == b then n = n + 1 end end
"""
CONTEXT = {"customer_id": "C1", "channel": "web", "touchpoint": "web_home"}
FD_GROWTH = 16
RSS_GROWTH_KB = 64 * 1024


def write_folder(path, files):
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        p = os.path.join(path, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    for name, text in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


def good_files(extra=None):
    files = {"rules.lua": GOOD, "rules_test.lua": GOOD_TEST}
    files.update(extra or {})
    return files


def slow_files(n):
    return good_files({"slow%02d.lua" % i: SLOW for i in range(n)})


def make_sparse(path, size=4 << 30):
    with open(path, "w") as f:
        f.truncate(size)


def flip_link(link, target):
    """Point link at target atomically (a new link renamed over the old)."""
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a, b):
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE)."""
    if _libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class HostileOpsBase(E2ETestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="arb-ops-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.rules = os.path.join(self.tmp, "rules")
        write_folder(self.rules, good_files())

    def serve(self, rules=None, **kw):
        kw.setdefault("workers", 2)
        srv = self.start_server(rules=rules or self.rules, **kw)
        # TCP accepts first; the admin socket is bound just after.
        self.assertTrue(wait_until(lambda: "kind=admin" in srv.stderr(), T(10)))
        self.base_fds = srv.fd_count()
        self.base_rss = srv.rss_kb()
        return srv

    def reload(self, srv, timeout=None):
        return srv.reload(timeout or T(60))

    def stats(self, srv):
        admin = RpcClient.unix(srv.admin_path, timeout=T(10))
        try:
            r = admin.call("stats", timeout=T(10))
        finally:
            admin.close()
        self.assertIsNone(r.error, r.error)
        return r.result

    def version(self, srv):
        c = srv.client(timeout=T(10))
        try:
            return c.ok("ruleset")["version"]
        finally:
            c.close()

    def assert_healthy(self, srv, what=""):
        """A clean client is answered correctly; RSS and descriptors stayed
        bounded since the server started."""
        self.assertTrue(srv.alive(), "server died %s: %s\n%s"
                        % (what, srv.describe_exit(srv.proc.poll()), srv.stderr_tail()))
        c = self.connect(srv, timeout=T(10))
        self.assert_ping_works(c, "clean client after %s" % what)
        d = c.ok("decide", CONTEXT)
        self.assertIn("actions", d)
        self.assertGreaterEqual(len(d["actions"]), 1, "no action decided after %s" % what)
        c.close()
        fds = wait_until(lambda: (srv.fd_count() or 0) <= self.base_fds + FD_GROWTH, T(5))
        self.assertTrue(fds, "descriptors grew after %s: %s -> %s"
                        % (what, self.base_fds, srv.fd_count()))
        self.assertLess(srv.rss_kb() - self.base_rss, RSS_GROWTH_KB,
                        "RSS grew by more than %d KiB after %s" % (RSS_GROWTH_KB // 1024, what))


# ------------------------------------------------------------------ the rules folder

class RulesFolderTest(HostileOpsBase):

    def assert_refused(self, srv, name, make, needle):
        path = os.path.join(self.rules, name)
        make(path)
        t0 = time.monotonic()
        r = self.reload(srv, timeout=T(20))
        self.assertLess(time.monotonic() - t0, T(20))
        self.assertIsNotNone(r.error, "%s was loaded" % name)
        self.assertIn(name, r.error["message"])
        self.assertIn(needle, r.error["message"])
        os.remove(path)
        self.assert_healthy(srv, "a reload refusing %s" % name)

    def test_fifo_device_zero_link_and_huge_file_are_refused(self):
        srv = self.serve()
        before = self.version(srv)
        self.assert_refused(srv, "fifo.lua", os.mkfifo, "FIFO")
        self.assert_refused(srv, "zero.lua", lambda p: os.symlink("/dev/zero", p),
                            "link leaving the ruleset folder")
        self.assert_refused(srv, "escape.lua",
                            lambda p: os.symlink("../../etc/passwd", p),
                            "link leaving the ruleset folder")
        self.assert_refused(srv, "huge.lua", make_sparse, "larger than the limit")
        try:
            os.mknod(os.path.join(self.tmp, "probe"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
            os.remove(os.path.join(self.tmp, "probe"))
            can_mknod = True
        except OSError:
            can_mknod = False
        if can_mknod:
            self.assert_refused(srv, "null.lua",
                                lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3)),
                                "character device")
        self.assertEqual(self.version(srv), before, "a refused reload changed the ruleset")
        self.assertEqual(self.stats(srv)["reloads"]["ok"], 0)

    def test_directory_named_lua_and_links_inside_are_fine(self):
        srv = self.serve()
        os.mkdir(os.path.join(self.rules, "x.lua"))
        with open(os.path.join(self.rules, "x.lua", "inner.lua"), "w") as f:
            f.write("this is not lua and is never read")
        os.mkdir(os.path.join(self.rules, "lib"))
        with open(os.path.join(self.rules, "lib", "more"), "w") as f:
            f.write('action "more" { channels = { "web" }, value = 0.5 }\n')
        os.symlink("lib/more", os.path.join(self.rules, "more.lua"))
        r = self.reload(srv)
        self.assertIsNone(r.error, r.error)
        self.assertEqual(r.result["actions"], 2)
        self.assert_healthy(srv, "a folder with a directory x.lua and a link inside")

    def test_start_with_a_fifo_fails_fast(self):
        os.mkfifo(os.path.join(self.rules, "fifo.lua"))
        srv = Server(rules=self.rules)
        self.addCleanup(srv.cleanup)
        srv.port = 1
        with open(srv.stderr_path, "wb") as err:
            srv.proc = subprocess.Popen(srv.argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err)
        try:
            rc = srv.proc.wait(T(15))
        except subprocess.TimeoutExpired:
            self.fail("the server hangs on a FIFO named fifo.lua")
        srv._stopped_by_test = True
        self.assertEqual(rc, 2)
        self.assertIn("FIFO", srv.stderr())
        cp = run_cli(["check", self.rules], timeout=T(15))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("FIFO", cp.stdout + cp.stderr)


class ConsistentVersionTest(HostileOpsBase):
    """A reload while the folder is swapped reads all of one version: A has
    40 files of one action each, B the same file names with two actions each,
    so a mix shows in the action count and in the checksum."""

    N = 40

    def version_files(self, per_file):
        files = {"tp.lua": TP}
        for i in range(self.N):
            files["f%02d.lua" % i] = "".join(
                'action "a%02d_%d" { channels = { "web" }, value = 1 }\n' % (i, k)
                for k in range(per_file))
        return files

    def check_swaps(self, swap):
        va, vb = os.path.join(self.tmp, "va"), os.path.join(self.tmp, "vb")
        write_folder(va, self.version_files(1))
        write_folder(vb, self.version_files(2))
        link = os.path.join(self.tmp, "current")
        os.symlink("va", link)
        srv = self.serve(rules=link)
        sums = {}
        for target, n in (("vb", 2 * self.N), ("va", self.N)):
            flip_link(link, target)
            r = self.reload(srv)
            self.assertIsNone(r.error, r.error)
            sums[r.result["version"].split("-", 1)[1]] = r.result["actions"]
        self.assertEqual(sorted(sums.values()), [self.N, 2 * self.N])
        stop = threading.Event()

        def swapper():
            while not stop.is_set():
                swap(link, va, vb)
        t = threading.Thread(target=swapper, daemon=True)
        t.start()
        try:
            seen = []
            for _ in range(25):
                r = self.reload(srv)
                if r.error is not None:   # a window without the folder is an honest failure
                    self.assertNotIn("duplicate", r.error["message"])
                    continue
                cks = r.result["version"].split("-", 1)[1]
                seen.append((r.result["actions"], cks))
                self.assertIn(r.result["actions"], (self.N, 2 * self.N),
                              "a reload mixed two versions: %r" % (r.result,))
                self.assertEqual(sums.get(cks), r.result["actions"],
                                 "the checksum does not describe what was loaded: %r" % (r.result,))
        finally:
            stop.set()
            t.join(T(5))
        self.assertTrue(seen, "no reload succeeded while swapping")
        self.assert_healthy(srv, "reloads during swaps")

    def test_link_flip_during_reloads(self):
        def swap(link, va, vb):
            flip_link(link, "vb" if os.readlink(link) == "va" else "va")
        self.check_swaps(swap)

    def test_rename_exchange_during_reloads(self):
        def swap(link, va, vb):
            exchange(va, vb)
        self.check_swaps(swap)


class WatchTest(HostileOpsBase):

    def serve_watching(self, rules):
        return self.serve(rules=rules, no_watch=False)

    def wait_reloads(self, srv, n, timeout=T(10)):
        ok = wait_until(lambda: self.stats(srv)["reloads"]["ok"] >= n, timeout, 0.1)
        self.assertTrue(ok, "no automatic reload #%d: stats %r\n%s"
                        % (n, self.stats(srv)["reloads"], srv.stderr_tail()))

    def test_watch_survives_link_flip_rename_and_sighup(self):
        v1, v2 = os.path.join(self.tmp, "v1"), os.path.join(self.tmp, "v2")
        write_folder(v1, good_files())
        write_folder(v2, good_files({"extra.lua": 'action "extra" { channels = { "web" }, value = 1 }\n'}))
        link = os.path.join(self.tmp, "current")
        os.symlink("v1", link)
        srv = self.serve_watching(link)
        flip_link(link, "v2")                     # the link flips: reload v2
        self.wait_reloads(srv, 1)
        with open(os.path.join(v2, "more.lua"), "w") as f:   # an edit in v2 is seen
            f.write('action "more" { channels = { "web" }, value = 1 }\n')
        self.wait_reloads(srv, 2)
        # A real folder replaced by rename: the new one is watched.
        v3 = os.path.join(self.tmp, "v3")
        write_folder(v3, good_files())
        os.remove(link)
        os.rename(v3, link)
        self.wait_reloads(srv, 3)
        srv.send_signal(signal.SIGHUP)            # reloads and re-arms
        self.wait_reloads(srv, 4)
        with open(os.path.join(link, "late.lua"), "w") as f:
            f.write('action "late" { channels = { "web" }, value = 1 }\n')
        self.wait_reloads(srv, 5)
        self.assert_healthy(srv, "folder replacements under watch")

    def test_continuous_edits_do_not_postpone_reload(self):
        srv = self.serve_watching(self.rules)
        stop = threading.Event()

        def editor():
            i = 0
            while not stop.is_set():
                tmp = os.path.join(self.rules, ".rules.tmp")   # as editors save
                with open(tmp, "w") as f:
                    f.write(GOOD + "-- edit %d\n" % i)
                os.replace(tmp, os.path.join(self.rules, "rules.lua"))
                i += 1
                time.sleep(0.05)
        t = threading.Thread(target=editor, daemon=True)
        t.start()
        try:
            ok = wait_until(lambda: self.stats(srv)["reloads"]["ok"] >= 1, T(6), 0.1)
            self.assertTrue(ok, "edits every 50 ms postponed the reload for 6 s")
        finally:
            stop.set()
            t.join(T(5))
        self.assert_healthy(srv, "continuous edits")


# ------------------------------------------------------------------ reload and signals

class ReloadTimeoutTest(HostileOpsBase):

    def test_slow_reload_is_abandoned_and_later_reloads_work(self):
        srv = self.serve(extra_args=["--reload-timeout", "0.3"])
        before = self.version(srv)
        write_folder(self.rules, slow_files(15))     # seconds of legal work
        t0 = time.monotonic()
        r = self.reload(srv)
        self.assertLess(time.monotonic() - t0, T(10))
        self.assert_error(r, "deadline_exceeded", "--reload-timeout")
        self.assertEqual(self.version(srv), before, "the old ruleset must keep serving")
        st = self.stats(srv)["reloads"]
        self.assertEqual(st["abandoned"], 1)
        write_folder(self.rules, good_files({"extra.lua": 'action "x" { channels = { "web" }, value = 1 }\n'}))
        r = self.reload(srv)                            # the stuck thread still runs
        self.assertIsNone(r.error, r.error)
        self.assertEqual(r.result["actions"], 2)
        self.assert_healthy(srv, "an abandoned reload")

    def test_stuck_reloads_are_bounded_and_shutdown_exits(self):
        srv = self.serve(extra_args=["--reload-timeout", "0.05"])
        write_folder(self.rules, slow_files(40))
        codes = [self.reload(srv).error["code"] for _ in range(6)]
        self.assertEqual(codes[:4], ["deadline_exceeded"] * 4, codes)
        self.assertIn("overloaded", codes[4:], codes)
        self.assertEqual(self.stats(srv)["reloads"]["abandoned"], 4)
        self.assert_healthy(srv, "four stuck reloads")
        t0 = time.monotonic()
        self.assertEqual(srv.stop(timeout=T(10)), 0, srv.stderr_tail())
        self.assertLess(time.monotonic() - t0, T(10))

    def test_reload_command_times_out(self):
        path = os.path.join(self.tmp, "mute.sock")
        mute = socket.socket(socket.AF_UNIX)
        mute.bind(path)
        mute.listen(4)
        self.addCleanup(mute.close)
        t0 = time.monotonic()
        cp = run_cli(["reload", "--admin", path, "--timeout", "0.5"], timeout=T(20))
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("no answer within", cp.stderr)
        self.assertLess(time.monotonic() - t0, T(10))
        srv = self.serve()
        cp = run_cli(["reload", "--admin", srv.admin_path, "--timeout", "30"], timeout=T(40))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assert_healthy(srv, "reload --timeout")


class SignalTimingTest(HostileOpsBase):

    def start_raw(self, rules, extra=()):
        srv = Server(rules=rules, workers=2, extra_args=list(extra))
        self.addCleanup(srv.cleanup)
        srv.port = free_port()
        with open(srv.stderr_path, "wb") as err:
            srv.proc = subprocess.Popen(srv.argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err)
        ok = wait_until(lambda: "loading ruleset" in srv.stderr() or srv.proc.poll() is not None,
                        T(10), 0.01)
        self.assertTrue(ok and srv.alive(), srv.stderr_tail())
        return srv

    def test_sighup_and_sigterm_during_startup_load(self):
        write_folder(self.rules, slow_files(8))
        srv = self.start_raw(self.rules)
        srv.send_signal(signal.SIGHUP)
        srv.wait_ready(T(30))
        self.base_fds, self.base_rss = srv.fd_count(), srv.rss_kb()
        ok = wait_until(lambda: self.stats(srv)["reloads"]["ok"] >= 1, T(30), 0.1)
        self.assertTrue(ok, "SIGHUP during the start-up load was not acted on\n%s"
                        % srv.stderr_tail())
        self.assert_healthy(srv, "SIGHUP during start-up")
        srv2 = self.start_raw(self.rules)
        srv2.send_signal(signal.SIGTERM)
        try:
            rc = srv2.proc.wait(T(30))
        except subprocess.TimeoutExpired:
            self.fail("SIGTERM during start-up did not stop the server")
        srv2._stopped_by_test = True
        self.assertEqual(rc, 0, srv2.stderr_tail())

    def test_signals_during_drain_are_ignored_and_nothing_is_lost(self):
        # The memory store: this test is about signals during a drain, and
        # needs the server to have read the 20,000 pipelined requests before
        # SIGTERM: requests still unread when the drain starts are not
        # answered (the connection closes).
        srv = self.serve(extra_args=["--drain-timeout", "30"], state="memory")
        # A client that does not read, behind a small receive window: its
        # answers stay queued in the server, so the drain lasts until it reads.
        c = RpcClient.tcp(srv.port, nodelay=False, rcvbuf=4096)
        self.addCleanup(c.close)
        n = 20000
        data = b"".join(request_bytes(i + 1, "decide", [CONTEXT]) for i in range(n))
        sender = threading.Thread(target=c.send_raw, args=(data,), daemon=True)
        sender.start()
        # Every request read before the drain starts (the server's count,
        # not a sleep: a busy machine reads them late).
        admin = self.connect_unix(srv.admin_path, timeout=T(30))
        self.assertTrue(wait_until(lambda: admin.ok("stats")["requests"]["decide"] >= n, T(30), 0.02),
                        "the server did not read the %d requests" % n)
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(wait_until(lambda: "shutting down" in srv.stderr(), T(10), 0.01))
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            srv.send_signal(sig)
            time.sleep(0.05)
        time.sleep(0.3)
        self.assertTrue(srv.alive(), "a signal during the drain killed the server: %s"
                        % srv.describe_exit(srv.proc.poll()))
        c.sock.settimeout(T(30))
        got = 0
        while c.read_some():
            for f in c.take_frames():
                self.assertIsInstance(f, list)
                got += 1
        sender.join(T(10))
        self.assertEqual(got, n, "answers lost during the drain")
        self.assertEqual(srv.stop(timeout=T(20)), 0, srv.stderr_tail())

    def test_sigterm_during_reload_answers_the_waiter(self):
        srv = self.serve()
        write_folder(self.rules, slow_files(20))
        admin = self.connect_unix(srv.admin_path, timeout=T(30))
        msgid = admin.send_request("reload")
        c = self.connect(srv, timeout=T(30))
        n = 500
        c.send_raw(b"".join(request_bytes(i + 1, "decide", [CONTEXT]) for i in range(n)))
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        r = admin.recv(timeout=T(20))
        self.assertEqual(r.msgid, msgid)
        self.assert_error(r, "internal", "stopping")
        got = 0
        while c.read_some():
            got += len(c.take_frames())
        self.assertEqual(got, n, "in-flight answers lost at SIGTERM during a reload")
        self.assertEqual(srv.stop(timeout=T(20)), 0, srv.stderr_tail())
        self.assertLess(time.monotonic() - t0, T(20))


# ------------------------------------------------------------------ sockets and descriptors

class SocketPathTest(HostileOpsBase):

    def start_expect_fail(self, extra, socket_path=None):
        cmd = [str(require_binary()), "serve", "--rules", self.rules,
               "--listen", "none"] + extra
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=T(20),
                            stdin=subprocess.DEVNULL)
        return cp

    def test_live_socket_is_not_stolen(self):
        srv = self.serve(unix_socket=True)
        self.assertTrue(wait_until(lambda: "kind=admin" in srv.stderr(), T(10)))
        for path, flag in ((srv.socket_path, "--socket"), (srv.admin_path, "--admin")):
            extra = ["--socket", path] if flag == "--socket" else \
                ["--socket", os.path.join(self.tmp, "p.sock"), "--admin", path]
            cp = self.start_expect_fail(extra)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertIn("listens on this socket path", cp.stderr)
            self.assertTrue(os.path.exists(path), "the live socket was deleted")
        self.assert_ping_works(self.connect_unix(srv.socket_path), "the first server's socket")
        # Another program's socket, and a plain file, are left alone too.
        other = os.path.join(self.tmp, "other.sock")
        o = socket.socket(socket.AF_UNIX)
        o.bind(other)
        o.listen(4)
        self.addCleanup(o.close)
        cp = self.start_expect_fail(["--socket", other])
        self.assertEqual(cp.returncode, 2, cp.stderr)
        open_socket(other).close()                    # still theirs, still listening
        plain = os.path.join(self.tmp, "plain")
        open(plain, "w").write("keep me")
        cp = self.start_expect_fail(["--socket", plain])
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("not a socket", cp.stderr)
        self.assertEqual(open(plain).read(), "keep me")
        self.assert_healthy(srv, "second servers on its paths")

    def test_stale_socket_is_reused_and_only_ours_is_removed(self):
        stale = os.path.join(self.tmp, "pub.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()                                     # a socket file nobody listens on
        srv = Server(rules=self.rules, workers=2, extra_args=["--socket", stale])
        self.addCleanup(srv.cleanup)
        srv.start()
        # TCP accepts first: wait for the Unix listener too.
        self.assertTrue(wait_until(lambda: "kind=unix" in srv.stderr(), T(10)))
        self.base_fds, self.base_rss = srv.fd_count(), srv.rss_kb()
        self.assert_ping_works(self.connect_unix(stale), "a reused stale socket path")
        self.assert_healthy(srv, "a stale socket")
        # Someone else takes the path while we run: our shutdown leaves it.
        os.remove(stale)
        o = socket.socket(socket.AF_UNIX)
        o.bind(stale)
        o.listen(4)
        self.addCleanup(o.close)
        self.assertEqual(srv.stop(), 0)
        self.assertTrue(os.path.exists(stale), "shutdown removed another program's socket")
        self.assertFalse(os.path.exists(srv.admin_path), "our own admin socket stays behind")

    def test_too_long_socket_path_is_a_startup_error(self):
        deep = os.path.join(self.tmp, "d" * 60, "e" * 60)
        os.makedirs(deep)
        for flag in ("--socket", "--admin"):
            path = os.path.join(deep, "s.sock")
            extra = [flag, path] if flag == "--socket" else \
                ["--socket", os.path.join(self.tmp, "ok.sock"), "--admin", path]
            cp = self.start_expect_fail(extra)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertIn("bytes long", cp.stderr)
            self.assertEqual(os.listdir(deep), [])
        self.assertEqual([n for n in os.listdir(os.path.join(self.tmp, "d" * 60))
                          if n != "e" * 60], [], "a truncated socket was created")


class ServeOptionsTest(HostileOpsBase):

    def test_bad_reload_timeout_and_shared_socket_path_are_usage_errors(self):
        sock = os.path.join(self.tmp, "same.sock")
        for extra in (["--reload-timeout", "0"], ["--reload-timeout", "soon"],
                      ["--socket", sock, "--admin", sock]):
            cp = subprocess.run([str(require_binary()), "serve", "--rules", self.rules,
                                 "--listen", "none", "--socket", os.path.join(self.tmp, "p.sock")]
                                + extra, capture_output=True, text=True, timeout=T(20),
                                stdin=subprocess.DEVNULL)
            self.assertEqual(cp.returncode, 2, (extra, cp.stderr))
            self.assertFalse(os.path.exists(sock))
        self.assertIn("--reload-timeout", run_cli(["serve", "--help"]).stdout)


class FdExhaustionTest(HostileOpsBase):

    LIMIT = 96

    def test_admin_works_when_public_clients_take_every_descriptor(self):
        lim = self.LIMIT

        def low_nofile():
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
        srv = Server(rules=self.rules, workers=2)
        self.addCleanup(srv.cleanup)
        popen = subprocess.Popen

        def popen_low(*a, **kw):
            kw["preexec_fn"] = low_nofile
            return popen(*a, **kw)
        subprocess.Popen = popen_low
        try:
            srv.start()
        finally:
            subprocess.Popen = popen
        self.base_fds, self.base_rss = srv.fd_count(), srv.rss_kb()
        held = []
        self.addCleanup(lambda: [h.close() for h in held])
        for _ in range(2 * lim):
            try:
                held.append(open_socket(srv.port, timeout=T(5), nodelay=False))
            except OSError:
                break
        time.sleep(0.3)
        st = self.stats(srv)                           # the admin socket answers
        self.assertGreater(st["connections_refused"], 0)
        self.assertLessEqual(srv.fd_count(), lim)
        r = self.reload(srv)                           # and can still read the folder
        self.assertIsNone(r.error, r.error)
        for h in held:
            h.close()
        held.clear()
        wait_until(lambda: self.stats(srv)["connections"] <= 1, T(10))
        self.assert_healthy(srv, "descriptor exhaustion")
