"""SuperBPE vs BPE training time on one corpus (the issue's "at most 2x BPE" criterion).

    python benches/superbpe_vs_bpe.py CORPUS [--vocab 65536] [--transition 0.8] [--repeat 3]
                                      [--build NAME=PYTHONPATH ...]

Each round trains BPE (default o200k pattern) and then SuperBPE (2025 preset) on the whole file,
each in its own process, so that both see the same machine load; prints every round, the
median times, the median of the per-round ratios and of the CPU-time ratios (user + system time
of each child, steadier than wall time on a busy machine), and the load average before and
after. With ``--build`` (repeatable) every round runs each build in turn, the package imported
from that ``PYTHONPATH`` (e.g. a worktree of an older commit with its extension built in place),
so that builds are compared on the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import toksmith
kind, corpus, vocab, t = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
start = time.perf_counter()
if kind == "bpe":
    tok = toksmith.train_bpe(files=[corpus], vocab_size=vocab, progress=False)
else:
    tok = toksmith.train_superbpe(files=[corpus], vocab_size=vocab, transition=t, progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "merges": len(tok.merges)}))
"""


def train(kind: str, corpus: str, vocab: int, t: float, pythonpath: str | None) -> tuple[float, float]:
    """Wall seconds of the training call, and the child's CPU seconds."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, corpus, str(vocab), str(t)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = child.stdout.read(), child.stderr.read()  # (progress is off: stderr stays small)
    _, status, usage = os.wait4(child.pid, 0)  # reaped here, with its resource usage
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{err}")
    seconds = json.loads(out.strip().splitlines()[-1])["seconds"]
    return seconds, usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--vocab", type=int, default=65536)
    p.add_argument("--transition", type=float, default=0.8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--build", action="append", default=[], metavar="NAME=PYTHONPATH",
                   help="a build to compare (repeatable); default: the installed package")
    a = p.parse_args()
    builds = [tuple(b.split("=", 1)) for b in a.build] or [("installed", None)]
    load = os.getloadavg()[0]
    print(f"{os.path.basename(a.corpus)}, vocabulary {a.vocab}, t = {a.transition}, load {load:.2f}")
    print("| round | build | BPE s | SuperBPE s | ratio | CPU ratio |\n|---|---|---|---|---|---|")
    runs = {name: [] for name, _ in builds}
    for r in range(a.repeat):
        for name, path in builds:
            bpe, bpe_cpu = train("bpe", a.corpus, a.vocab, a.transition, path)
            sup, sup_cpu = train("superbpe", a.corpus, a.vocab, a.transition, path)
            runs[name].append((bpe, sup, sup / bpe, sup_cpu / bpe_cpu))
            print(f"| {r + 1} | {name} | {bpe:.2f} | {sup:.2f} | {sup / bpe:.2f} | {sup_cpu / bpe_cpu:.2f} |",
                  flush=True)
    for name, rows in runs.items():
        med = [statistics.median(col) for col in zip(*rows)]
        ratios = [row[2] for row in rows]
        print(f"| median | {name} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} "
              f"(rounds {min(ratios):.2f}–{max(ratios):.2f}) | {med[3]:.2f} |")
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
