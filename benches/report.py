"""`toksmith report` at encode speed? Times the report on one corpus against encoding alone.

    python benches/report.py [--file FILE | --size-mb 50] [--tokenizer o200k_base] [--threads N]

Without --file, builds a corpus of --size-mb MB in a temporary file from real text on the machine
(the Python standard library's .py sources, its pydoc topics, tests/data/multilingual.txt),
repeated as needed. Prints, for the same bytes: the time of encoding alone (the same blocks and
pieces, `encode_batch_to_numpy`, nothing else), the time of `toksmith.report` (reading, encoding,
all metrics, the digit probe and the vocabulary tables) and both rates in MB/s.
"""

from __future__ import annotations

import argparse
import os
import sysconfig
import tempfile
import time
from pathlib import Path

import toksmith
from toksmith.report import _groups, _pieces

ROOT = Path(__file__).resolve().parent.parent


def build_corpus(path: str, size: int) -> None:
    import pydoc_data.topics as topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = ["\n\n".join(topics.topics.values()),
             (ROOT / "tests" / "data" / "multilingual.txt").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py"))]
    text = "\n".join(parts).encode("utf-8")
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = text[: size - written]
            f.write(chunk)
            written += len(chunk)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help="a corpus file (default: one built in a temporary directory)")
    ap.add_argument("--size-mb", type=float, default=50.0, help="size of the built corpus (default 50)")
    ap.add_argument("--tokenizer", default="o200k_base")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = os.path.join(tmp, "corpus.txt")
            build_corpus(path, int(args.size_mb * 1e6))
        size = os.path.getsize(path)
        enc = toksmith.get_encoding(args.tokenizer)
        max_bytes = max(size, 1)
        start = time.perf_counter()
        tokens = 0
        for pieces in _groups(_pieces(path, max_bytes, [False])):
            ids, _ = enc.encode_batch_to_numpy(pieces, num_threads=args.threads, disallowed_special=())
            tokens += len(ids)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        r = toksmith.report([args.tokenizer], {"corpus": path}, num_threads=args.threads, max_bytes=max_bytes)
        report_s = time.perf_counter() - start
    m = r.metrics[0]
    assert m.tokens == tokens, (m.tokens, tokens)
    print(f"corpus: {size / 1e6:.1f} MB, {tokens} {args.tokenizer} tokens, {os.cpu_count()} cores, "
          f"threads={args.threads or 'all'}")
    print(f"encode only: {encode_s:6.2f} s  {size / 1e6 / encode_s:6.1f} MB/s")
    print(f"report:      {report_s:6.2f} s  {size / 1e6 / report_s:6.1f} MB/s  ({report_s / encode_s:.2f}x encode)")


if __name__ == "__main__":
    main()
