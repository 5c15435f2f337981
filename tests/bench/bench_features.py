"""The benchmark's rows of the engine's features, each a section of the
report: customer state (issue 12), Redis Cluster (13), learning (14), the
decision log (15), the product catalog and recommending actions (17),
/metrics (18). Each returns its lines and leaves the figures its targets
need in bench_lib.FIGS. Run from tests/bench/run.
"""
import os
import random
import re
import shutil
import socket
import subprocess
import sys

from bench_lib import (BENCH, CONTEXTS, OUT, ROOT, ARBITER, CATALOG, FIGS, PIN, Server,
                       fresh_state, generate, in_process, free_port, kv, load, mdb_entries,
                       median_load, num, pinned, table)


def decide_runs(rules, state):
    """On one server with that store (1 worker on core 0, load on core 1):
    ping+context, decide with customer ids from 100,000, decide with the
    workload's own 999; medians of 3."""
    server = Server(rules, workers=1, core=0, state=state)
    try:
        p = median_load(server, 16, 16, "ping+context", 3)
        many = median_load(server, 16, 16, "decide", 3, customers=100000)
        few = median_load(server, 16, 16, "decide", 3)
    finally:
        server.stop()
    return p, many, few


def state_section(rules, res100):
    """Issue 12's rows: decide with customer state against without, in process
    and over loopback; track and feedback against ping+context; bytes per
    customer. Returns the report's lines and the figures the targets use."""
    st = in_process(rules, state=fresh_state("state-inproc"))[0]
    ratio = num(st, "us_per_decision") / num(res100, "us_per_decision")
    lines = ["## Customer state, in process, one core, 100 actions", "",
             table(["decide", "decisions/s", "us/decision", "time vs without state",
                    "actions considered/decision", "allocations/decision"],
                   [["without state (the row above)", "%.0f" % num(res100, "decisions_per_s"),
                     "%.2f" % num(res100, "us_per_decision"), "1.0x",
                     res100["considered_per_decision"], res100["allocs_per_decision"]],
                    ["with state, LMDB: fetch + decide + pack", "%.0f" % num(st, "decisions_per_s"),
                     "%.2f" % num(st, "us_per_decision"), "%.2fx" % ratio,
                     st["considered_per_decision"], st["allocs_per_decision"]]]),
             "", "Each of the 1,000 contexts' customers has a stored record (20 events, 5 "
             "purchases, 10 contacts, 5 outcomes, 3 consents, in the workload's categories "
             "and the 60 days before the context's `now`: %s bytes encoded), written to a fresh "
             "LMDB folder before timing; each decision fetches it into the decider's arena, "
             "decides on it (history merged with the context's purchases, contact policy "
             "checked) and packs the answer. The contacts' commit is not in this loop (it is "
             "in the loopback rows). Target: at most 1.5x the time without state." % st["record_bytes"], ""]

    # Over loopback, 1 worker on core 0, load on core 1, 16x16, median of 3.
    # decide first with customers drawn from 100,000 (each decided a few
    # times a run), then with the workload's own 999 (each decided hundreds
    # of times a second: contacts pile up to the retention, 200 each).
    pm, dm, dm999 = decide_runs(rules, "memory")
    pl, dl, dl999 = decide_runs(rules, fresh_state("state-decide"))
    lmdb_track = fresh_state("state-track")
    server = Server(rules, workers=1, core=0, state=lmdb_track)
    try:
        pt = median_load(server, 16, 16, "ping+context", 3)
        tr = median_load(server, 16, 16, "track", 3)
        data = os.stat(os.path.join(lmdb_track, "data.mdb"))
        customers, pages = mdb_entries(lmdb_track)
        fb = median_load(server, 16, 16, "feedback", 3)
    finally:
        server.stop()

    def row(label, state, r, base, mem=None):
        return [label, state, r["rps"], base["rps"], "%.2f" % (num(r, "rps") / num(base, "rps")),
                "%.2f" % (num(r, "rps") / num(mem, "rps")) if mem else "",
                "%s / %s" % (r["p50_us"], r["p99_us"]), r["server_cpu"], r["errors"]]
    rows = [row("decide, 100,000 customers", "memory", dm, pm),
            row("decide, 100,000 customers", "LMDB", dl, pl, dm),
            row("decide, the workload's 999", "memory", dm999, pm),
            row("decide, the workload's 999", "LMDB", dl999, pl, dm999),
            row("track, 10,000 customers", "LMDB", tr, pt), row("feedback, 10,000 customers", "LMDB", fb, pt)]
    lines += ["## Customer state over loopback, 16x16, 1 worker, 100 actions", "",
              table(["method", "--state", "req/s", "ping+context/s, same server", "vs ping+context",
                     "LMDB vs memory", "p50 / p99 us", "server CPU (cores)", "error answers"], rows),
              "", "Medians of 3 runs. Each store has its own server (1 worker pinned to core 0, "
              "load generator on core 1) and its own ping+context baseline; LMDB runs start "
              "from an empty folder (sync every second, the default). decide with a store "
              "fetches the customer, decides on it, stores the contacts the decision makes "
              "(email, sms and call_center count at decision: 41% of the workload's contexts) "
              "and answers after the commit. `100,000 customers`: each request's customer_id "
              "drawn from 100,000 (loadgen --customers), so a customer is decided a few times "
              "a run, as a real one is; `the workload's 999`: the contexts' own ids, run "
              "after, each decided hundreds of times a second, so its stored contacts pile up "
              "to the retention (200): records of several KB, decoded at each fetch and "
              "re-encoded at each commit. `track`: 2 events (view, cart_add) per request; "
              "`feedback`: one impression with a new decision_id. Target: track and feedback "
              "at least 50% of ping+context.", ""]

    # Bytes per customer, after the track runs only (feedback comes after).
    bpc = []
    if customers:
        bpc = [["after track, data.mdb file size", "%d" % data.st_size, customers,
                "%.0f" % (data.st_size / customers)],
               ["after track, data.mdb blocks on disk", "%d" % (data.st_blocks * 512), customers,
                "%.0f" % (data.st_blocks * 512 / customers)],
               ["after track, pages in the tree (x 4096)", "%d" % (pages * 4096), customers,
                "%.0f" % (pages * 4096 / customers)]]
    bpc.append(["one realistic record, encoded (the in-process one)", st["record_bytes"], 1,
                st["record_bytes"]])
    lines += ["## Bytes per customer, LMDB", "",
              table(["measure", "bytes", "customers", "bytes/customer"], bpc),
              "", "Customers counted by `mdb_stat` (the store's entries). A tracked customer "
              "holds the loadgen's events only (2 per track, up to the retention); each "
              "record is padded to whole pages of its own (engine/state/lmdb.c), so the file "
              "costs at least a 4 KiB page per customer whatever the record's size.", ""]
    FIGS["state_inproc"] = (num(res100, "us_per_decision"), num(st, "us_per_decision"))
    FIGS["track"] = (num(tr, "rps"), num(pt, "rps"))
    FIGS["feedback"] = (num(fb, "rps"), num(pt, "rps"))
    return lines, (ratio, st, dm, dl, pm, pl, tr, fb, pt, dl999)


def learning_section(rules, res100):
    """Issue 14's rows: the 100-action catalog with every action adaptive
    against the same catalog with fixed model scores, in process and over
    loopback, and feedback teaching an adaptive action."""
    adaptive = generate(1, adaptive=True)
    ad = in_process(adaptive, extra=["--arms", "300"])[0]
    ratio = num(ad, "us_per_decision") / num(res100, "us_per_decision")
    lines = ["## Learning, in process, one core, 100 actions", "",
             table(["propensity", "decisions/s", "us/decision", "time vs fixed scores",
                    "allocations/decision"],
                   [["model scores (the first in-process row)", "%.0f" % num(res100, "decisions_per_s"),
                     "%.2f" % num(res100, "us_per_decision"), "1.0x", res100["allocs_per_decision"]],
                    ["adaptive, a Thompson draw per candidate", "%.0f" % num(ad, "decisions_per_s"),
                     "%.2f" % num(ad, "us_per_decision"), "%.2fx" % ratio, ad["allocs_per_decision"]]]),
             "", "The same catalog, each action's `model` replaced by `propensity = adaptive { "
             "prior_model = <that model>, strength = 10 }` (gen_rules --adaptive). Every action "
             "has a learned arm on every channel (300 trials, 30 positive: below `settle`, so "
             "each candidate looks its arm up in the snapshot and draws from Beta).", ""]
    first = re.search(r'action "([^"]+)"', open(os.path.join(adaptive, "actions.lua")).read()).group(1)

    def runs(rules_dir, fb):
        server = Server(rules_dir, workers=1, core=0)
        try:
            p = median_load(server, 16, 16, "ping+context", 3)
            d = median_load(server, 16, 16, "decide", 3, customers=100000)
            f = median_load(server, 16, 16, "feedback", 3, extra=["--action", first]) if fb else None
        finally:
            server.stop()
        return p, d, f
    pf, df, _ = runs(rules, False)
    pa, da, fa = runs(adaptive, True)

    def row(label, r, base, fixed=None):
        return [label, r["rps"], base["rps"], "%.2f" % (num(r, "rps") / num(base, "rps")),
                "%.2f" % (num(r, "rps") / num(fixed, "rps")) if fixed else "",
                "%s / %s" % (r["p50_us"], r["p99_us"]), r["server_cpu"], r["errors"]]
    lines += ["## Learning over loopback, 16x16, 1 worker, --state memory, 100 actions", "",
              table(["method", "req/s", "ping+context/s, same server", "vs ping+context",
                     "vs fixed scores", "p50 / p99 us", "server CPU (cores)", "error answers"],
                    [row("decide, model scores", df, pf), row("decide, adaptive", da, pa, df),
                     row("feedback, adaptive action", fa, pa)]),
              "", "Medians of 3 runs, one server per ruleset (1 worker pinned to core 0, load "
              "generator on core 1). decide, adaptive: the draws, plus an offer stored in the "
              "customer's record for each adaptive action shown (every action here), and "
              "the learning sync every 250 ms. feedback: an impression of `%s` with a new "
              "decision_id per request: the merge looks for the offer (none: such feedback "
              "teaches nothing and is counted in stats.learning.feedback_unknown), the "
              "outcome is stored." % first, ""]
    return lines


def log_section(rules):
    """Issue 15's rows: decide with the decision log on against off, same
    ruleset, same store (memory), 1 worker on core 0, load on core 1. The
    log's writer thread ("arb-log") runs either on core 0 beside the worker
    (what a server whose every core decides pays: the writer's CPU comes
    out of deciding) or moved to core 1, which the load generator leaves
    mostly idle (a server with a core to spare for it: what the deciding
    thread itself pays)."""
    def log_thread_to(server, core):
        for tid in os.listdir("/proc/%d/task" % server.proc.pid):
            with open("/proc/%d/task/%s/comm" % (server.proc.pid, tid)) as f:
                if f.read().strip() == "arb-log":
                    subprocess.run(["taskset", "-p", "-c", str(core), tid], check=True,
                                   stdout=subprocess.DEVNULL)
                    return
        raise SystemExit("bench: no arb-log thread in the server")

    def runs(extra, writer_core=None):
        server = Server(rules, workers=1, core=0, extra=extra)
        try:
            if writer_core is not None and PIN:
                log_thread_to(server, writer_core)
            return [load(server, 16, 16, "decide", customers=100000) for _ in range(3)]
        finally:
            server.stop()
    logdir = fresh_state("decision-log")
    off, shared, spare = [], [], []
    for _ in range(2):   # alternated, so that drift hits all three
        off += runs([])
        shared += runs(["--log", logdir])
        spare += runs(["--log", logdir], writer_core=1)
    med = lambda rs: sorted(rs, key=lambda r: num(r, "rps"))[len(rs) // 2]
    o, n, m = med(off), med(shared), med(spare)
    files = [f for f in os.listdir(logdir) if f.endswith(".jsonl")]
    size = sum(os.path.getsize(os.path.join(logdir, f)) for f in files)
    lines = sum(1 for f in files for _ in open(os.path.join(logdir, f), "rb"))
    r_shared, r_spare = num(n, "rps") / num(o, "rps"), num(m, "rps") / num(o, "rps")
    FIGS["log"] = (r_spare, r_shared)
    row = lambda name, r, ratio: [name, r["rps"], "%s / %s" % (r["p50_us"], r["p99_us"]),
                                  r["server_cpu"], ratio]
    return ["## Decision log, 16x16, 1 worker, --state memory, 100 actions", "",
            table(["decide", "decisions/s", "p50 / p99 us", "server CPU (cores)", "vs log off"],
                  [row("--log off", o, "1.00"),
                   row("--log DIR, writer beside the worker (core 0)", n, "%.2f" % r_shared),
                   row("--log DIR, writer on core 1", m, "%.2f" % r_spare)]),
            "", "Medians of 6 runs each, the three alternated (one server per run of 3). "
            "With the log on, every answered decision is packed flat (one malloc, its context "
            "copied for the digest) and queued; the writer thread renders each as a JSON line "
            "and writes a batch at a time. Beside the worker its CPU (rendering, XXH3 of a "
            "1 KB context, the kernel's page-cache writes) comes out of deciding; on core 1 "
            "it shares the load generator's core. %d files, %.1f MB, %d lines (%.0f bytes a "
            "record). Target (DESIGN.md section 11): at least 95%% of the throughput without it."
            % (len(files), size / 1e6, lines, size / max(lines, 1)), ""], r_shared, r_spare


RECO_ACTION = """action "reco" {
  channels = { "web", "email", "app", "store", "call_center" }, value = 1000,%s
}
"""
RECO_SPEC = """
  recommend = {
    from = { "complements", "similar" }, seeds = "both", within = days(90), count = 3,
    exclude = { "owned", "shown", "seed_category" }, diverse = "category",
    score = { affinity = 1, popularity = 1, price_band = 1 },
  },"""
RECO_LIGHT = """
  recommend = { from = "complements", within = days(30), count = 3 },"""
# rules/retail's bestsellers: no seeds, the catalog's 100 most popular.
RECO_POPULAR = """
  recommend = { from = "popular", count = 4, diverse = "category" },"""


def recommend_section(rules, products=100000):
    """Issue 17's rows: the 100-action ruleset plus one recommending action
    on a 100,000-product catalog, against the same ruleset whose extra
    action does not recommend (the same catalog declared and loaded), in
    process, one core, the same run. The golden answers do not hold with
    the extra action: they are checked by the first in-process row."""
    # Written afresh each run (a few seconds): its skus are the contexts'
    # purchases, which a catalog from elsewhere would not hold (the catalog
    # rows' gen_catalog file once stood at this path and left `reco` without
    # products).
    catalog = os.path.join(OUT, "products-%d.jsonl" % products)
    subprocess.run([sys.executable, os.path.join(BENCH, "gen_products"), CONTEXTS, catalog,
                    "--products", str(products)], check=True)
    dirs = {}
    for name, spec in (("base", ""), ("reco", RECO_SPEC), ("light", RECO_LIGHT),
                       ("popular", RECO_POPULAR)):
        d = os.path.join(OUT, "rules-100-reco-%s" % name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(rules, d)
        os.symlink(catalog, os.path.join(d, "products.jsonl"))
        with open(os.path.join(d, "reco.lua"), "w") as f:
            f.write('catalog "products.jsonl"\n' + RECO_ACTION % spec)
        dirs[name] = d
    # Alternated, 3 each: the median of each is compared.
    runs = {"base": [], "reco": [], "light": [], "popular": []}
    loadavg = open("/proc/loadavg").read().split()[0]
    for _ in range(3):
        for name in runs:
            runs[name].append(in_process(dirs[name])[0])
    med = {k: sorted(v, key=lambda r: num(r, "us_per_decision"))[1] for k, v in runs.items()}
    base, reco = num(med["base"], "us_per_decision"), num(med["reco"], "us_per_decision")
    light = num(med["light"], "us_per_decision")
    popular = num(med["popular"], "us_per_decision")
    found = subprocess.run([ARBITER, "decide", "--rules", dirs["reco"], "-", "--json"],
                           input=first_context_json(), capture_output=True, text=True)
    shown = re.findall(r'"id":\s*"reco"', found.stdout)
    rows = [["without recommend (the same action, the same catalog)", "%.0f" % num(med["base"], "decisions_per_s"),
             "%.2f" % base, "", med["base"]["allocs_per_decision"]],
            ["recommend: complements + similar of both seeds", "%.0f" % num(med["reco"], "decisions_per_s"),
             "%.2f" % reco, "%+.2f" % (reco - base), med["reco"]["allocs_per_decision"]],
            ["recommend: complements of the purchases of the last 30 days",
             "%.0f" % num(med["light"], "decisions_per_s"), "%.2f" % light, "%+.2f" % (light - base),
             med["light"]["allocs_per_decision"]],
            ["recommend: the catalog's 100 most popular (no seeds: rules/retail's bestsellers)",
             "%.0f" % num(med["popular"], "decisions_per_s"), "%.2f" % popular,
             "%+.2f" % (popular - base), med["popular"]["allocs_per_decision"]]]
    return ["## Recommending actions, in process, one core, %s products" % format(products, ","), "",
            table(["ruleset (100 actions + 1)", "decisions/s", "us/decision", "us added",
                   "allocations/decision"], rows),
            "", "Medians of 3 alternated runs; load average %s while they ran (the "
            "machine is shared: with other processes a cache miss costs several times an idle "
            "machine's, and this work is mostly cache misses). The extra action is eligible for every "
            "context (value 1000, no condition), so its products are chosen on every "
            "decision. The first recommend row: each context's 10 purchases are seeds (within 90 days of its `now`), "
            "each with 5 complements and 5 similar products: up to 100 candidates, each "
            "checked against what the customer owns and was shown, its stock and the "
            "seeds' categories, then scored (affinity over the history, popularity, price "
            "band), the best 3 kept one per category. The second: the purchases of the last "
            "30 days (about a third), their 5 complements each, the default exclude and "
            "score. The third: no seeds, the catalog's 100 most popular products in stock (a list "
            "made at load), each filtered and scored the same way, 4 kept one per category. "
            "No pass over the catalog: the cost follows the candidates, not the "
            "catalog's size. The first context chose `reco`: %s." % (
                loadavg, "yes" if shown else "NO (check the rules)"), ""]


def first_context_json():
    import json
    import msgpack
    unpacker = msgpack.Unpacker(raw=False)
    with open(CONTEXTS, "rb") as f:
        unpacker.feed(f.read())
    return json.dumps(next(iter(unpacker)))


def http_section(rules):
    """Issue 18's rows: decide at 16x16 on one server started with --http,
    1 worker on core 0, load on core 1, with a GET /metrics every second
    (what a Prometheus scraping every second costs: the HTTP thread sums
    every worker's counters and renders the text) against without,
    alternated on the same server so that drift hits both."""
    import threading
    hport = free_port()
    server = Server(rules, workers=1, core=0, extra=["--http", "127.0.0.1:%d" % hport])
    scrapes, sizes = [0], [0]

    def scraper(stop):
        while not stop.wait(1.0):
            s = socket.create_connection(("127.0.0.1", hport), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            n = 0
            while True:
                b = s.recv(65536)
                if not b:
                    break
                n += len(b)
            s.close()
            scrapes[0] += 1
            sizes[0] = n

    def scraped_load():
        stop = threading.Event()
        t = threading.Thread(target=scraper, args=(stop,))
        t.start()
        try:
            return load(server, 16, 16, "decide", customers=100000)
        finally:
            stop.set()
            t.join()
    quiet, scraped = [], []
    try:
        for _ in range(3):   # alternated
            quiet.append(load(server, 16, 16, "decide", customers=100000))
            scraped.append(scraped_load())
    finally:
        server.stop()
    med = lambda rs: sorted(rs, key=lambda r: num(r, "rps"))[len(rs) // 2]
    q, w = med(quiet), med(scraped)
    ratio = num(w, "rps") / num(q, "rps")
    row = lambda name, r, x: [name, r["rps"], "%s / %s" % (r["p50_us"], r["p99_us"]),
                              r["server_cpu"], x]
    return ["## /metrics scraped every second, 16x16, 1 worker, --state memory, 100 actions", "",
            table(["decide", "decisions/s", "p50 / p99 us", "server CPU (cores)", "vs no scrape"],
                  [row("no scrape", q, "1.00"), row("GET /metrics every second", w,
                                                    "%.2f" % ratio)]),
            "", "Medians of 3 runs each, alternated on one server (--http on in both). "
            "%d scrapes of %d bytes each. The HTTP thread (libmicrohttpd's) is not pinned: "
            "it reads the worker's counters with relaxed loads and never takes a lock the "
            "worker takes." % (scrapes[0], sizes[0]), ""], ratio


def redis_cluster(cmd, folder, base=None):
    env = dict(os.environ)
    if base:
        env["REDIS_CLUSTER_PORT"] = str(base)
    return subprocess.run([os.path.join(ROOT, "scripts", "redis-cluster"), cmd, folder],
                          env=env, capture_output=True, text=True, timeout=120)


def redis_section(rules, state_figs):
    """Issue 13's row: decide per node with the customers on a loopback Redis
    Cluster, against the LMDB decide of the same run (state_section's)."""
    _, _, _, dl, _, pl, _, _, _, dl999 = state_figs
    if not shutil.which("redis-server"):
        return ["## Customer state on a Redis Cluster", "", "Not run: redis-server is not "
                "installed (scripts/setup).", ""]
    folder = os.path.join(OUT, "redis-cluster")
    shutil.rmtree(folder, True)
    seeds = None
    for _ in range(10):
        # Three ports in a row, and their cluster bus ports (+10000), below
        # the ephemeral range; start refuses ports already taken.
        base = random.randrange(20000, 30000, 10)
        cp = redis_cluster("start", folder, base)
        if cp.returncode == 0:
            seeds = cp.stdout.strip()
            break
        redis_cluster("stop", folder, base)
    if not seeds:
        raise SystemExit("bench: could not start a Redis Cluster: %s" % cp.stderr)
    try:
        pr, dr, dr999 = decide_runs(rules, "redis://" + seeds)
    finally:
        redis_cluster("stop", folder, base)
    FIGS["redis"] = (num(dr999, "rps"), num(dr, "rps"))

    def row(label, state, r, base, lmdb=None):
        return [label, state, r["rps"], base["rps"], "%.2f" % (num(r, "rps") / num(base, "rps")),
                "%.2f" % (num(r, "rps") / num(lmdb, "rps")) if lmdb else "",
                "%s / %s" % (r["p50_us"], r["p99_us"]), r["server_cpu"], r["errors"]]
    rows = [row("decide, 100,000 customers", "LMDB (above)", dl, pl),
            row("decide, 100,000 customers", "Redis Cluster", dr, pr, dl)]
    if dl999:
        rows += [row("decide, the workload's 999", "LMDB (above)", dl999, pl),
                 row("decide, the workload's 999", "Redis Cluster", dr999, pr, dl999)]
    else:
        rows.append(row("decide, the workload's 999", "Redis Cluster", dr999, pr))
    return ["## Customer state on a Redis Cluster, per node, 16x16, 1 worker, 100 actions", "",
            table(["method", "--state", "decisions/s", "ping+context/s, same server",
                   "vs ping+context", "Redis vs LMDB", "p50 / p99 us", "server CPU (cores)",
                   "error answers"], rows),
            "", "Medians of 3 runs. One node: 1 worker pinned to core 0, load generator on "
            "core 1, --state redis:// on a 3-master Redis Cluster on loopback "
            "(scripts/redis-cluster, started for this row, no persistence), default "
            "--state-timeout-ms (50) and --state-fail closed: an answer past the deadline "
            "is an `unavailable` error, counted in the last column. The Redis servers run "
            "unpinned, sharing the machine with the node and the load. Each decision is a "
            "fetch and, when it makes contacts, a compare-and-set commit: two round trips to "
            "the master holding the customer's slot, against LMDB's in-process read and "
            "write.", ""]


def catalog_section():
    """The product catalog (issue 17): load time and memory a product of a
    100,000-product catalog written by scripts/gen_catalog, against the
    3,000 products of rules/retail, both loaded by bench_catalog (5 loads,
    best and median)."""
    big = os.path.join(OUT, "catalog-100000.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_catalog"), "--products",
                    "100000", "--seed", "1", "--out", big], check=True)
    rows, base = [], None
    for label, path in (("3,000 (rules/retail)", os.path.join(ROOT, "rules", "retail", "products.jsonl")),
                        ("100,000 (gen_catalog --seed 1)", big)):
        out = subprocess.run(pinned(1, [CATALOG, path, "5"]), check=True, capture_output=True,
                             text=True).stdout
        r = kv(out)
        n = num(r, "products")
        us = num(r, "load_ms_median") * 1000 / n
        base = base or us
        rows.append([label, "%.1f" % (os.path.getsize(path) / 1048576), "%s / %s" % (
            r["load_ms_best"], r["load_ms_median"]), "%.1f" % us, "%.2fx" % (us / base),
            r["bytes_per_product"], "%.1f" % (num(r, "bytes") / 1048576)])
    return ["## Catalog", "", table(["products", "file MiB", "load ms best / median",
                                     "us/product", "us/product vs 3,000", "bytes/product",
                                     "catalog MiB"], rows),
            "", "Loading parses every line with jansson, checks every field and resolves "
            "every relation (arb_catalog_load, one core). bytes/product is everything the "
            "loaded catalog holds (arb_catalog_t.bytes: text, interned values, lists, "
            "relations and the sku table) over its products.", ""]
