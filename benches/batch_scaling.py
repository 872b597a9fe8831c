"""2-thread scaling of ``encode_ordinary_batch``, with where the time goes.

    python benches/batch_scaling.py [CORPUS ...] [--encoding o200k_base] [--rounds 7]

Cuts ~4 KB documents at newlines from the first 8 MB of each corpus and alternates 1- and
2-thread batch calls, so that both see the same background load. Per corpus it prints the
medians over rounds of: the speed-up (wall time T=1 / T=2), the process CPU time of T=2 over
that of T=1 (1.0: two threads do no extra work), and the busy share of T=2 (CPU time / (2 x
wall time): 1.0 when both threads work all along). On a shared machine the wall-clock ratio is
noisy; the CPU ratio and the busy share tell whether a low ratio comes from the code (extra
work, idle threads) or from the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import toksmith


def documents(path: str, limit: int = 8_000_000, size: int = 4096) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read(limit)
    docs, current, n = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        n += len(line)
        if n >= size:
            docs.append("".join(current))
            current, n = [], 0
    return docs


def main() -> None:
    corpora = os.environ.get("TOKSMITH_CORPORA", "corpora")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "corpus", nargs="*", default=[os.path.join(corpora, f"{c}.txt") for c in ("en_pydoc", "code_100m", "multi_man")]
    )
    ap.add_argument("--encoding", default="o200k_base")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    enc = toksmith.get_encoding(args.encoding)
    print(f"{args.encoding}, {args.rounds} rounds, load {os.getloadavg()[0]:.2f}")
    print("| corpus | speed-up T=2 / T=1 | CPU time T=2 / T=1 | busy share T=2 |\n|---|---:|---:|---:|")
    for path in args.corpus:
        docs = documents(path)

        def run(threads: int, docs: list[str] = docs) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            enc.encode_ordinary_batch(docs, num_threads=threads)
            return time.perf_counter() - wall, time.process_time() - cpu

        run(1), run(2)  # warm the per-thread caches
        speedup, cpu_ratio, busy = [], [], []
        for _ in range(args.rounds):
            (w1, c1), (w2, c2) = run(1), run(2)
            speedup.append(w1 / w2)
            cpu_ratio.append(c2 / c1)
            busy.append(c2 / (2 * w2))
        med = statistics.median
        print(f"| {os.path.basename(path)} | {med(speedup):.2f} | {med(cpu_ratio):.2f} | {med(busy):.2f} |")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
