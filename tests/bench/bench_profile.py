"""The benchmark's profile (issue 19): where a decision's instructions go.

Imported by tests/bench/run. bench_decide runs under callgrind with
collection on inside arb_decide and arb_answer_pack_decision only (what the
in-process rows time: decide, then pack the answer), over one warm-up pass
and one timed pass of the 1,000 contexts (--seconds 0). callgrind_annotate
prints each function's instructions, inclusive and self; the decisions are
arb_decide's calls, counted from its callers' tree, so a change to
bench_decide's loops cannot skew the division. Instruction counts do not
depend on the machine's load, unlike every timed row: this is the table
to compare from run to run.
"""
import os
import re
import shutil
import subprocess

TOGGLES = ("arb_decide", "arb_answer_pack_decision")
TOP = 12
# Frames that hold the whole run, not a part of the decision.
OUTER = re.compile(r"^(main|\(below main\)|__libc_start_\S*|0x[0-9a-f]+|decide_and_answer)$")
LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(<|\*)?\s*(.*?)(?: \(([\d,]+)x\))?(?: \[(.*)\])?$")


def _split(where):
    """"file:function" as callgrind_annotate prints it -> (file, function)."""
    file, _, fn = where.rpartition(":")
    return file, fn


def _annotate(out, inclusive, root):
    """Per function name (inlined pieces, attributed to their header files,
    folded in): {fn: (instructions, file)} and, from the caller tree,
    arb_decide's calls. Inclusive: the largest entry (the function as
    called); self: the sum of its pieces."""
    argv = ["callgrind_annotate", "--threshold=100", "--auto=no"]
    argv += ["--inclusive=yes", "--tree=caller"] if inclusive else []
    text = subprocess.run(argv + [out], capture_output=True, text=True, check=True).stdout
    funcs, calls, block = {}, 0, []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(3) == "PROGRAM TOTALS":
            block = [] if not line.strip() else block
            continue
        ir, mark, where, ncalls = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)
        file, fn = _split(where)
        if mark == "<":
            block.append(int(ncalls.replace(",", "")) if ncalls else 0)
            continue
        if fn == TOGGLES[0]:
            calls += sum(block)
        block = []
        if OUTER.match(fn) or file.endswith("bench_decide.c"):
            continue
        file = os.path.relpath(file, root) if file.startswith(root) else file.lstrip("./")
        file = os.path.basename(file) if ".." in file or file.startswith("usr/") else file
        old = funcs.get(fn)
        if inclusive:
            if not old or ir > old[0]:
                funcs[fn] = (ir, file if file.endswith(".c") or not old else old[1])
        else:
            funcs[fn] = ((old[0] if old else 0) + ir,
                         old[1] if old and old[1].endswith(".c") else file)
    return funcs, calls


def _total(out):
    text = subprocess.run(["callgrind_annotate", "--auto=no", out], capture_output=True, text=True,
                          check=True).stdout
    m = re.search(r"^\s*([\d,]+) \S+\s+PROGRAM TOTALS", text, re.M)
    return int(m.group(1).replace(",", "")) if m else 0


def profile(decide, rules, contexts, out, root):
    """One ruleset: {"total": instructions per decision, "decisions": n,
    "incl": {fn: (per decision, file)}, "self": {fn: per decision}}, or a
    string saying why there is none."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    argv += ["--toggle-collect=" + fn for fn in TOGGLES]
    p = subprocess.run(argv + [decide, rules, contexts, "--seconds", "0"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return "bench_decide under callgrind failed: %s" % p.stderr.strip().splitlines()[-1:]
    incl, calls = _annotate(out, True, root)
    self_, _ = _annotate(out, False, root)
    if not calls:
        return "no call of %s was counted (renamed?)" % TOGGLES[0]
    return {"total": _total(out) / calls, "decisions": calls,
            "incl": {fn: (ir / calls, f) for fn, (ir, f) in incl.items()},
            "self": {fn: ir / calls for fn, (ir, _) in self_.items()}}


def profile_section(decide, contexts, outdir, root, rulesets):
    """The report's lines. rulesets: [(label, rules folder, in-process
    us/decision of the same run or None)]."""
    head = ["## Profile: instructions per decision (callgrind)", ""]
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return head + ["Not run: valgrind is not installed (scripts/setup installs it).", ""]
    runs = []
    for label, rules, us in rulesets:
        name = "callgrind-%s.out" % os.path.basename(rules)
        r = profile(decide, rules, contexts, os.path.join(outdir, name), root)
        if isinstance(r, str):
            return head + ["Not run for %s: %s." % (label, r), ""]
        runs.append((label, us, r, name))
    # The union of each ruleset's top functions by inclusive instructions,
    # in the first ruleset's order, then the others'.
    order = []
    for _, _, r, _ in runs:
        top = sorted(r["incl"], key=lambda fn: -r["incl"][fn][0])[:TOP]
        order += [fn for fn in top if fn not in order]
    first = runs[0][2]["incl"]
    order.sort(key=lambda fn: -first[fn][0] if fn in first else 0)
    header = ["function", "file"]
    for label, _, _, _ in runs:
        header += ["%s: inclusive" % label, "share", "self"]
    rows = [["**all collected**", ""]]
    for _, _, r, _ in runs:
        rows[0] += ["**{:,.0f}**".format(r["total"]), "100%", ""]
    for fn in order:
        f = next((r["incl"][fn][1] for _, _, r, _ in runs if fn in r["incl"]), "")
        row = ["`%s`" % fn, f]
        for _, _, r, _ in runs:
            if fn in r["incl"]:
                row += ["{:,.0f}".format(r["incl"][fn][0]),
                        "%.0f%%" % (100 * r["incl"][fn][0] / r["total"]),
                        "{:,.0f}".format(r["self"].get(fn, 0))]
            else:
                row += ["", "", ""]
        rows.append(row)
    pace = "; ".join("%s: {:,.0f} instructions a decision in %.3f us in process, {:,.0f} a us"
                     .format(r["total"], r["total"] / us) % (label, us)
                     for label, us, r, _ in runs if us)
    return head + [_table(header, rows), "",
                   "Counted by `valgrind --tool=callgrind --toggle-collect=arb_decide "
                   "--toggle-collect=arb_answer_pack_decision build/bench/bench_decide RULES "
                   "tests/bench/contexts.msgpack --seconds 0` (a warm-up pass and a timed pass: "
                   "%s decisions a ruleset), then `callgrind_annotate --inclusive=yes`; instructions per "
                   "decision. Inclusive: the function and everything it calls; self: its own "
                   "instructions, with the inlined code attributed to headers folded back in. A "
                   "static function the compiler inlined is counted in its caller. Top %d of each "
                   "ruleset by inclusive instructions. Instructions do not depend on the "
                   "machine's load; microseconds do, and a cache miss costs time without "
                   "instructions: %s. The raw files: build/bench/%s."
                   % (" and ".join("{:,}".format(r["decisions"]) for _, _, r, _ in runs), TOP,
                      pace or "no in-process time to compare", ", ".join(n for *_, n in runs)), ""]


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])
