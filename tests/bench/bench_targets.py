"""The benchmark's Targets table: DESIGN.md section 11, judged on one run.

Imported by tests/bench/run. Each section of the run leaves the figures a
target needs in a dict (keys below, plain numbers); this module turns that
dict into one table at the end of the report: the measure, the ratio the
target bounds, the bound, met or not. A target whose section did not run
(BENCH_ONLY) says "not run" rather than nothing, so that a partial run
cannot read as a pass.

Figures (all optional):
  inproc100     (decisions/s, us/decision), 100 actions, in process
  inproc10kv    us/decision, 10,000 varied actions, in process
  net_ref       (decide/s, ping+context/s), 16x16, 1 worker, 100 actions,
                the workload's own customer ids
  net_many      the same with customer ids drawn from 100,000
  net_varied    the same as net_ref on the 1,000-action varied catalog
  state_inproc  (us without state, us with LMDB), in process
  track, feedback  (req/s, ping+context/s), 16x16, 1 worker, LMDB
  redis         (decisions/s the workload's ids, decisions/s 100,000 ids), one node
  log           (ratio writer on its own core, ratio writer beside the worker)
  rss           MiB, 10,000 actions, 1,000 connections open
  reload        longest wait / quiet p99
"""


def _ratio_row(fig, bound, at_least, show):
    """measured, ratio (bound), met, for a target bounding a ratio: fig is
    (measured, base) or, for targets in absolute units, (measured, the
    target's figure)."""
    r = fig[0] / fig[1]
    ok = r >= bound if at_least else r <= bound
    return [show, "%.2f (%s %.2f)" % (r, ">=" if at_least else "<=", bound),
            "yes" if ok else "**no**"]


def _rows(f):
    """(target, figure keys, function of the figures -> row) for each target."""
    rps = lambda x: "{:,.0f}/s".format(x)

    def vs_pctx(key, bound, more=lambda: ""):
        return lambda: _ratio_row(f[key], bound, True, "%s against %s ping+context%s"
                                  % (rps(f[key][0]), rps(f[key][1]), more()))
    many = lambda: ("; customer ids from 100,000 (not judged): %.2f"
                    % (f["net_many"][0] / f["net_many"][1]) if "net_many" in f else "")
    return [
        ("decide, 16x16, 1 worker, reference workload: at least 60% of ping+context",
         ("net_ref",), vs_pctx("net_ref", 0.60, many)),
        ("decide, 16x16, 1 worker, 1,000-action varied catalog: at least 50% of ping+context",
         ("net_varied",), vs_pctx("net_varied", 0.50)),
        ("decide in process, one core, 100 actions: at least 1,000,000 decisions/s",
         ("inproc100",), lambda: _ratio_row(
             (f["inproc100"][0], 1e6), 1.0, True,
             "%s (%.3f us)" % (rps(f["inproc100"][0]), f["inproc100"][1]))),
        ("100 -> 10,000 actions (varied): decide time grows at most 3x",
         ("inproc100", "inproc10kv"), lambda: _ratio_row(
             (f["inproc10kv"], f["inproc100"][1]), 3.0, False,
             "%.3f -> %.3f us" % (f["inproc100"][1], f["inproc10kv"]))),
        ("decide with customer state (LMDB), in process: at most 1.5x the time without",
         ("state_inproc",), lambda: _ratio_row(
             (f["state_inproc"][1], f["state_inproc"][0]), 1.5, False,
             "%.3f -> %.3f us" % f["state_inproc"])),
        ("track, 1 worker, 16x16: at least 50% of ping+context", ("track",),
         vs_pctx("track", 0.50)),
        ("feedback, 1 worker, 16x16: at least 50% of ping+context", ("feedback",),
         vs_pctx("feedback", 0.50)),
        ("decide with state on a 3-master Redis Cluster, loopback: at least 50,000 decisions/s per node",
         ("redis",), lambda: _ratio_row(
             (f["redis"][0], 50000), 1.0, True,
             "%s the workload's customers; %s customer ids from 100,000 (not judged)"
             % (rps(f["redis"][0]), rps(f["redis"][1])))),
        ("decision log on: throughput at least 95% of the same run without it",
         ("log",), lambda: _ratio_row(
             (f["log"][0], 1.0), 0.95, True,
             "writer on its own core: %.2f of log off; beside the worker (not judged): %.2f" % f["log"])),
        ("memory: RSS at most 64 MiB, 10,000 actions, 1,000 connections",
         ("rss",), lambda: _ratio_row((f["rss"], 64.0), 1.0, False, "%.1f MiB" % f["rss"])),
        ("reload of 10,000 actions: no request waits more than 2x the quiet p99",
         ("reload",), lambda: _ratio_row(
             (f["reload"], 1.0), 2.0, False, "longest wait %.2fx the quiet p99" % f["reload"])),
    ]


def targets_section(f):
    """The report's lines for the figures f (see the module's docstring)."""
    rows = []
    for target, keys, make in _rows(f):
        if all(k in f for k in keys):
            rows.append([target] + make())
        else:
            rows.append([target, "not run", "", "not run"])
    table = ["| target (DESIGN.md section 11) | measured | ratio (bound) | met |",
             "|:---|:---|---:|:---|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    met = sum(r[3] == "yes" for r in rows)
    judged = sum(r[3] != "not run" for r in rows)
    return ["## Targets", "", "\n".join(table), "",
            "%d of %d judged targets met (%d not run). Ratios against a baseline of the same "
            "run; a target in absolute units (decisions/s, MiB) as the measure over the "
            "target's figure. Where a target names the reference workload, the row judges "
            "the contexts as they are (999 customers, each decided hundreds of times a "
            "second, their records grown to the retention) and shows customer ids drawn "
            "from 100,000 beside it. The decision log is judged with its writer on a core "
            "of its own (what the deciding thread pays) and shows the writer beside the "
            "worker (what a server whose every core decides pays)."
            % (met, judged, len(rows) - judged), ""]
