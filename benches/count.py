"""Token counting: ``count`` against ``len(encode())`` (issue #22), in MB/s.

    python benches/count.py [FILE...] [--encoding o200k_base] [--rounds 5] [--max-mb 20] [--cpu-time]

Files (default: the bundled samples and tests/data/multilingual.txt) are cut into documents of
about 4 KB at line ends. Each round times, in turn: one call per document (``count`` vs
``len(encode())``), then batches on one thread and on all cores (``count_batch`` vs
``encode_batch``), and ``toktok.batch_count`` if that package is installed. The report gives
the range over rounds (the machine is shared: ranges, not single numbers). Every count is first
checked against tiktoken's ``len(encode())``. ``--cpu-time`` divides by the process's CPU time
instead of wall time (MB per CPU-second, all threads together): on a machine shared with other
work it shows the cost of each call rather than the share of the cores it got.
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from collections.abc import Callable

import toksmith

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILES = sorted(glob.glob(os.path.join(ROOT, "python", "toksmith", "samples", "*.txt"))) + [
    os.path.join(ROOT, "tests", "data", "multilingual.txt")
]


def documents(paths: list[str], max_bytes: int, size: int = 4096) -> list[str]:
    docs: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            text = f.read(max_bytes)
        start = 0
        while start < len(text):
            end = text.find("\n", start + size)
            end = len(text) if end < 0 else end + 1
            docs.append(text[start:end])
            start = end
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES)
    parser.add_argument("--encoding", default="o200k_base")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-mb", type=float, default=20, help="read at most this much of each file")
    parser.add_argument("--cpu-time", action="store_true", help="MB per CPU-second instead of per second")
    args = parser.parse_args()

    docs = documents(args.files, int(args.max_mb * 1e6))
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    enc = toksmith.get_encoding(args.encoding)
    free = {"disallowed_special": ()}  # corpora may hold special-token strings: count them as text

    try:
        from toolkit import peers  # tiktoken with the same ranks (no download)

        want = [len(ids) for ids in peers.tiktoken_encoding(args.encoding).encode_batch(docs, **free)]
    except ImportError:
        want = [len(enc.encode(d, **free)) for d in docs]
        print("tiktoken is not installed: checking against toksmith's own encode")

    cases: dict[str, Callable[[], list[int]]] = {
        "count, per document": lambda: [enc.count(d, **free) for d in docs],
        "len(encode), per document": lambda: [len(enc.encode(d, **free)) for d in docs],
        "count_batch, 1 thread": lambda: enc.count_batch(docs, num_threads=1, **free),
        "len(encode_batch), 1 thread": lambda: [len(i) for i in enc.encode_batch(docs, num_threads=1, **free)],
        "count_batch, all cores": lambda: enc.count_batch(docs, **free),
        "len(encode_batch), all cores": lambda: [len(i) for i in enc.encode_batch(docs, **free)],
    }
    try:
        import toktok

        cases["toktok.batch_count, 1 thread"] = lambda: toktok.batch_count(docs, args.encoding, threads=1)
        cases["toktok.batch_count, all cores"] = lambda: toktok.batch_count(docs, args.encoding)
    except ImportError:
        print("toktok is not installed (pip install toktok-rs): left out")

    for name, case in cases.items():
        if case() != want:
            raise SystemExit(f"{name}: counts differ from tiktoken's len(encode())")
    clock = time.process_time if args.cpu_time else time.perf_counter
    speeds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():  # alternating, so that load changes hit every case alike
            start = clock()
            case()
            speeds[name].append(mb / max(clock() - start, 1e-9))

    unit = "MB per CPU-second" if args.cpu_time else "MB/s"
    print(f"{args.encoding}, {len(docs)} documents, {mb:.1f} MB, {os.cpu_count()} cores, {args.rounds} rounds, "
          f"{unit}: median (range); every count equals tiktoken's len(encode())")
    width = max(map(len, cases))
    for name, s in speeds.items():
        s.sort()
        print(f"  {name:<{width}}  {s[len(s) // 2]:7.1f}  ({s[0]:.1f}-{s[-1]:.1f})")


if __name__ == "__main__":
    main()
