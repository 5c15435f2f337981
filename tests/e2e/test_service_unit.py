"""scripts/systemd/arbiter.service: the unit is valid, hardened, and its
command line runs the real build/arbiter, reloads on SIGHUP and drains on
SIGTERM within TimeoutStopSec.

`systemd-analyze verify` checks the unit where systemd-analyze exists
(skipped with the reason otherwise); the ExecStart line itself is run with
its folders moved to a temporary directory, since a test cannot become the
service's user.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import E2ETestCase, T, REPO_ROOT

UNIT = REPO_ROOT / "scripts" / "systemd" / "arbiter.service"
BINARY = "/usr/local/bin/arbiter"


def directives(text):
    """[(key, value)] of the unit, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if not line.strip() or line.lstrip().startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.append((key.strip(), value.strip()))
    return out


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def values(ds, key):
    return [v for k, v in ds if k == key]


class ServiceUnitTest(E2ETestCase):

    def setUp(self):
        self.text = UNIT.read_text()
        self.ds = directives(self.text)

    def test_systemd_analyze_verify(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed on this machine")
        d = tempfile.mkdtemp(prefix="arb-unit-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "arbiter.service")
        with open(path, "w") as f:
            f.write(self.text.replace(BINARY, str(harness.require_binary())))
        r = subprocess.run([tool, "verify", path], capture_output=True, text=True,
                           timeout=T(60))
        # verify exits 0 on directives it ignores; any line it prints is a finding.
        self.assertEqual((r.returncode, r.stderr.strip(), r.stdout.strip()), (0, "", ""))

    def test_hardened(self):
        one = lambda k: values(self.ds, k)[-1] if values(self.ds, k) else None
        self.assertEqual(one("DynamicUser"), "yes")
        self.assertEqual(one("User"), "arbiter")
        self.assertEqual(one("ProtectSystem"), "strict")
        for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
            self.assertEqual(one(key), "yes", key)
        self.assertEqual(one("CapabilityBoundingSet"), "")
        self.assertEqual(one("RestrictAddressFamilies"), "AF_UNIX AF_INET AF_INET6")
        self.assertIn("@system-service", values(self.ds, "SystemCallFilter"))
        self.assertEqual(one("ReadOnlyPaths"), "/etc/arbiter")
        self.assertEqual(set(one("ReadWritePaths").split()),
                         {"/var/lib/arbiter", "/var/log/arbiter", "/run/arbiter"})
        self.assertEqual(one("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(one("KillSignal"), "SIGTERM")
        drain = int(re.search(r"--drain-timeout (\d+)", one("ExecStart")).group(1))
        self.assertGreater(int(one("TimeoutStopSec")), drain,
                           "systemd would SIGKILL the server during its drain")

    def test_exec_start_runs_reloads_and_drains(self):
        d = tempfile.mkdtemp(prefix="arb-unit-run-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        port, http_port = harness.free_port(), harness.free_port()
        while http_port == port:
            http_port = harness.free_port()
        cmd = values(self.ds, "ExecStart")[-1]
        for old, new in ((BINARY, str(harness.require_binary())),
                         ("/etc/arbiter/rules", str(harness.RULES_DIR)),
                         ("/var/lib/arbiter", os.path.join(d, "state")),
                         ("/var/log/arbiter", os.path.join(d, "log")),
                         ("/run/arbiter", d),
                         ("127.0.0.1:7878", "127.0.0.1:%d" % port),
                         ("127.0.0.1:9464", "127.0.0.1:%d" % http_port)):
            self.assertIn(old, cmd)
            cmd = cmd.replace(old, new)
        err = open(os.path.join(d, "stderr"), "wb")
        self.addCleanup(err.close)
        proc = subprocess.Popen(cmd.split(), stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                cwd=d)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.monotonic() + T(10)
        while True:
            self.assertIsNone(proc.poll(), "ExecStart exited: %s" % read_text(err.name))
            try:
                c = harness.RpcClient.tcp(port, timeout=T(10))
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, "ExecStart never listened")
                time.sleep(0.05)
        self.addCleanup(c.close)
        c.ok("decide", harness.sample_context("unit-1", channel="email",
                                              touchpoint=self.touchpoint(c)))
        # --http: the unit's monitoring endpoints answer.
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http_port, timeout=T(10)) as r:
            self.assertEqual(r.status, 200)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=T(10)) as r:
            self.assertIn(b"arbiter_", r.read())
        proc.send_signal(signal.SIGHUP)      # ExecReload
        deadline = time.monotonic() + T(30)
        while c.ok("stats")["reloads"]["ok"] < 1:
            self.assertLess(time.monotonic(), deadline, "SIGHUP did not reload")
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)     # KillSignal
        timeout = int(values(self.ds, "TimeoutStopSec")[-1])
        self.assertEqual(proc.wait(timeout), 0, read_text(err.name))
        self.assertFalse(os.path.exists(os.path.join(d, "admin.sock")),
                         "the admin socket was left behind")
        self.assertIn("data.mdb", os.listdir(os.path.join(d, "state")))
        logs = [f for f in os.listdir(os.path.join(d, "log")) if f.endswith(".jsonl")]
        self.assertTrue(logs, "no decision log file")


class StateBackupTest(E2ETestCase):
    """README, "Running in production": `mdb_copy -c` of the live state
    folder is a consistent backup another server can start from."""

    def test_mdb_copy_of_a_live_store(self):
        tool = shutil.which("mdb_copy")
        if not tool:
            self.skipTest("mdb_copy (Debian's lmdb-utils) is not installed")
        srv = self.start_server()
        c = self.connect(srv)
        for i in range(50):
            c.ok("track", {"customer_id": "bk-%d" % i,
                           "events": [{"type": "view", "sku": "s-%d" % i, "ts": 1767225600}]})
        copy = tempfile.mkdtemp(prefix="arb-backup-", dir="/tmp")
        self.addCleanup(shutil.rmtree, copy, True)
        # While the server runs and writes.
        c.send_raw(b"".join(harness.request_bytes(1000 + i, "track",
                                                  [{"customer_id": "late-%d" % i,
                                                    "events": [{"type": "view", "ts": 1}]}])
                            for i in range(200)))
        r = subprocess.run([tool, "-c", srv.state, copy], capture_output=True, text=True,
                           timeout=T(60))
        self.assertEqual(r.returncode, 0, r.stderr)
        c.recv_objs(200, timeout=T(30))
        restored = self.start_server(state=copy)
        admin = self.connect_unix(restored.admin_path)
        for i in (0, 49):
            got = admin.ok("customer", {"customer_id": "bk-%d" % i})
            self.assertEqual([e["sku"] for e in got["events"]], ["s-%d" % i])


if __name__ == "__main__":
    unittest.main()
