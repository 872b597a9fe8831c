"""SuperBPE vs BPE training time on one corpus (the issue's "at most 2x BPE" criterion).

    python benches/superbpe_vs_bpe.py CORPUS [--vocab 65536] [--transition 0.8] [--repeat 3]

Each round trains BPE (default o200k pattern) and then SuperBPE (2025 preset) on the whole file,
each in its own process, so that both see the same machine load; prints every round, the
median times and the median of the per-round ratios, and the load average before and after.
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


def train(kind: str, corpus: str, vocab: int, t: float) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, corpus, str(vocab), str(t)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--vocab", type=int, default=65536)
    p.add_argument("--transition", type=float, default=0.8)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.path.basename(a.corpus)}, vocabulary {a.vocab}, t = {a.transition}, load {load:.2f}")
    print("| round | BPE s | SuperBPE s | ratio |\n|---|---|---|---|")
    bpe, sup, ratios = [], [], []
    for r in range(a.repeat):
        bpe.append(train("bpe", a.corpus, a.vocab, a.transition))
        sup.append(train("superbpe", a.corpus, a.vocab, a.transition))
        ratios.append(sup[-1] / bpe[-1])
        print(f"| {r + 1} | {bpe[-1]:.2f} | {sup[-1]:.2f} | {ratios[-1]:.2f} |", flush=True)
    print(f"| median | {statistics.median(bpe):.2f} | {statistics.median(sup):.2f} | "
          f"{statistics.median(ratios):.2f} |")
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
