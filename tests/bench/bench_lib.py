"""What every part of the benchmark shares (tests/bench/run and
bench_features.py): where the programs are, how a measurement runs (in
process, a server, the load generator) and how a table prints. It measures
nothing itself; FIGS collects the figures the Targets table judges
(bench_targets.py names them).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
BENCH = os.path.join(ROOT, "tests", "bench")
OUT = os.path.join(BUILD, "bench")
ARBITER = os.path.join(BUILD, "arbiter")
DECIDE = os.path.join(OUT, "bench_decide")
LOADGEN = os.path.join(OUT, "loadgen")
CATALOG = os.path.join(OUT, "bench_catalog")
CONTEXTS = os.path.join(BENCH, "contexts.msgpack")
GOLDEN = os.path.join(BENCH, "golden.jsonl")
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
# The figures the Targets table judges, left here by each section that ran
# (bench_targets.py names them).
FIGS = {}
CORES = os.cpu_count() or 1
PIN = CORES >= 2


def pinned(core, argv):
    return (["taskset", "-c", str(core)] + argv) if PIN and shutil.which("taskset") else argv


def kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def num(d, k):
    return float(d[k])


def generate(copies, vary=False, adaptive=False):
    out = os.path.join(OUT, "rules-%d%s%s" % (100 * copies, "-varied" if vary else "",
                                              "-adaptive" if adaptive else ""))
    subprocess.run([sys.executable, os.path.join(BENCH, "gen_rules"),
                    os.path.join(BENCH, "catalog.json"), out, "--copies", str(copies)] +
                   (["--vary"] if vary else []) + (["--adaptive"] if adaptive else []), check=True)
    return out


def fresh_state(name):
    """An empty folder for an LMDB customer store."""
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def in_process(rules, golden=False, state=None, extra=()):
    argv = [DECIDE, rules, CONTEXTS] + ([GOLDEN] if golden else []) + ["--seconds", str(SECONDS)]
    argv += (["--state", state] if state else []) + list(extra)
    p = subprocess.run(pinned(1, argv), capture_output=True, text=True)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        print(p.stdout)
        raise SystemExit("bench: decisions differ from golden.jsonl (see above)")
    lines = p.stdout.strip().splitlines()
    return kv(lines[-1]), lines[0] if golden else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, rules, workers=None, core=None, state="memory", extra=()):
        """state: "memory" (what every row but the state rows uses), an LMDB
        folder or redis://SEEDS."""
        self.port = free_port()
        self.admin = os.path.join(OUT, "admin-%d.sock" % self.port)
        argv = [ARBITER, "serve", "--rules", rules, "--listen", "127.0.0.1:%d" % self.port,
                "--admin", self.admin, "--no-watch", "--max-connections", "20000",
                "--log-level", "warn", "--state", state] + list(extra)
        if workers:
            argv += ["--workers", str(workers)]
        if core is not None:
            argv = pinned(core, argv)
        self.proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench: server did not start")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def load(server, conns, depth, method, seconds=None, core=1, customers=None, extra=()):
    """method: "decide", "ping", or "ping+context" (ping carrying the context as
    its params: the same bytes on the wire and the same decoding as decide),
    "track", "feedback". customers: decide's customer_id drawn from that many
    (loadgen --customers) instead of the workload's 999."""
    argv = [LOADGEN, "--connect", "127.0.0.1:%d" % server.port, "--conns", str(conns),
            "--depth", str(depth), "--seconds", str(seconds or SECONDS), "--warmup", "1",
            "--method", method.split("+")[0], "--contexts", CONTEXTS,
            "--server-pid", str(server.proc.pid)] + (["--payload"] if "+" in method else []) + \
        (["--customers", str(customers)] if customers else []) + list(extra)
    p = subprocess.run(pinned(core, argv) if core is not None else argv,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("bench: loadgen failed: %s %s" % (p.stdout, p.stderr))
    r = kv(p.stdout)
    # loadgen prints the first error answer of a run: what the count was.
    first = re.search(r"first error answer: (.*)", p.stderr)
    if first:
        r["first_error"] = first.group(1).strip()
    return r


def reloads_ok(server):
    stats = subprocess.run([ARBITER, "call", "--connect", "127.0.0.1:%d" % server.port, "stats"],
                           capture_output=True, text=True).stdout
    return int(re.search(r'"ok": (\d+)', stats).group(1))


def median_load(server, conns, depth, method, runs, customers=None, extra=()):
    results = []
    for i in range(runs):
        # The requests a finished run left waiting on the store (an LMDB
        # commit) still count against --max-pending: a run started at once
        # would be refused `overloaded` for what the last one left.
        if i:
            time.sleep(1)
        results.append(load(server, conns, depth, method, customers=customers, extra=extra))
    results.sort(key=lambda r: num(r, "rps"))
    return results[len(results) // 2]


def mdb_entries(folder):
    """Records in the store's LMDB file and the pages its tree uses (mdb_stat)."""
    if not shutil.which("mdb_stat"):
        return None, None
    out = subprocess.run(["mdb_stat", folder], capture_output=True, text=True).stdout
    get = lambda k: int(re.search(r"%s: (\d+)" % k, out).group(1))
    try:
        return get("Entries"), get("Branch pages") + get("Leaf pages") + get("Overflow pages")
    except AttributeError:
        return None, None


def table(header, rows, align="---:"):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d cores (%s), Linux %s" % (CORES, model, os.uname().release)


def loadavg():
    """The 1, 5 and 15-minute load averages: on a shared machine, how far
    the run's microseconds are to be trusted."""
    try:
        with open("/proc/loadavg") as f:
            return " / ".join(f.read().split()[:3])
    except OSError:
        return "?"
