"""The layer check (scripts/layers) can fail, and names each breach.

tests/run runs scripts/layers on the real tree before any test; this file
proves the check itself works on small scratch trees, so it does not depend
on the state of the real engine: a file including a header from a later
folder, one including a peer folder's header, a 601-line engine file and C
files outside any layer folder must each be reported by name with a failing
exit, and a tree that keeps the rules must pass. Needs no server and no
Criterion: only python3.
"""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
LAYERS = REPO_ROOT / "scripts" / "layers"


def write(root, rel, text):
    p = Path(root) / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def good_tree(root):
    """A tree that keeps every rule: each file includes its own folder and
    folders before it, and main.c alone lives in engine/."""
    write(root, "engine/base/error.h", "#pragma once\n")
    write(root, "engine/base/log.c", '#include "engine/base/error.h"\n#include <stdio.h>\n')
    write(root, "engine/request/context.c", '#include "engine/base/error.h"\n')
    write(root, "engine/ruleset/ruleset.h", '#include "engine/request/context.h"\n')
    write(root, "engine/decide/decide.c", '#include "engine/ruleset/ruleset.h"\n')
    write(root, "engine/wire/rpc.h", '#include "engine/base/error.h"\n')
    write(root, "engine/server/service.c",
          '#include "engine/decide/decide.h"\n#include "engine/wire/rpc.h"\n')
    write(root, "engine/main.c", '#include "engine/server/server.h"\n#include "engine/cli/rules.h"\n')
    write(root, "bindings/lua/sandbox.c", '#include "engine/request/context.h"\n')
    write(root, "engine/wire/long.c", "int x;\n" * 600)   # exactly at the limit


def run_layers(root):
    return subprocess.run([sys.executable, str(LAYERS), str(root)],
                          capture_output=True, text=True, timeout=60)


class LayersCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="arb-layers-")
        self.addCleanup(self.tmp.cleanup)
        self.root = self.tmp.name
        good_tree(self.root)

    def test_a_tree_that_keeps_the_rules_passes(self):
        r = run_layers(self.root)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")

    def test_every_breach_fails_and_is_named(self):
        # A header from a later folder (request must not know decide).
        write(self.root, "engine/request/customer.c",
              '#include "engine/base/error.h"\n#include "engine/decide/decide.h"\n')
        # A header from a peer folder (decide and wire share a rank).
        write(self.root, "engine/decide/policy.c", '#include "engine/wire/rpc.h"\n')
        # One line over the limit.
        write(self.root, "engine/ruleset/huge.c", "int y;\n" * 601)
        # C files outside any layer folder.
        write(self.root, "engine/misc/stray.c", "int z;\n")
        write(self.root, "engine/loose.c", "int w;\n")
        r = run_layers(self.root)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stdout.splitlines()

        def breach(prefix, *words):
            hits = [l for l in lines if l.startswith(prefix)]
            self.assertEqual(len(hits), 1, f"{prefix} not reported once in:\n{r.stdout}")
            for w in words:
                self.assertIn(w, hits[0])

        breach("engine/request/customer.c:2:", "engine/decide/decide.h", "not before")
        breach("engine/decide/policy.c:1:", "engine/wire/rpc.h", "not before")
        breach("engine/ruleset/huge.c:601:", "601 lines", "over 600")
        breach("engine/misc/stray.c:1:", "not in a layer folder")
        breach("engine/loose.c:1:", "only main.c")
        # Nothing else: the good files are not blamed.
        self.assertEqual(len(lines), 5, r.stdout)
        self.assertIn("5 breach(es)", r.stderr)

    def test_each_breach_alone_fails(self):
        # Each kind of breach on its own is enough to fail the check.
        cases = {
            "later": ("engine/base/bad.c", '#include "engine/request/context.h"\n'),
            "peer": ("engine/wire/bad.c", '#include "engine/decide/decide.h"\n'),
            "long": ("bindings/lua/bad.c", "int v;\n" * 601),
            "outside": ("bindings/other/bad.c", "int u;\n"),
        }
        for what, (rel, text) in cases.items():
            with self.subTest(what), tempfile.TemporaryDirectory(prefix="arb-layers-") as root:
                good_tree(root)
                write(root, rel, text)
                r = run_layers(root)
                self.assertEqual(r.returncode, 1, f"{what}: {r.stdout}{r.stderr}")
                self.assertTrue(r.stdout.startswith(rel + ":"), f"{what}: {r.stdout}")


if __name__ == "__main__":
    unittest.main()
