"""`toksmith report` at encode speed? Times the report on several corpora and tokenizers against
encoding alone.

    python benches/report.py [--corpus NAME=FILE ...] [--tokenizer NAME_OR_FILE ...]
                             [--max-mb 50] [--threads N] [--rounds 1]

Defaults: three tokenizers (o200k_base, cl100k_base, tests/data/deepseek_v4_small.tokenizer.json)
and, without --corpus, one corpus of --size-mb MB built in a temporary file from real text on the
machine (the Python standard library's .py sources, its pydoc topics, tests/data/multilingual.txt),
repeated as needed. At most --max-mb MB are read from each corpus. Prints, per round, for the
same bytes: the time of encoding alone (each tokenizer on each corpus, the same blocks and
pieces, the batch call the report used before it had its own pass: `encode_batch_to_numpy` for
encodings, `encode_batch` for tokenizer.json files; nothing else), the time of `toksmith.report`
(reading, the pass, every metric, the digit probe and the vocabulary tables) and the rates in MB
of corpus per second (corpus bytes / wall time: every tokenizer reads the same bytes) and in MB
encoded per second (corpus bytes x tokenizers / wall time). Tokenizers are loaded before timing.
"""

from __future__ import annotations

import argparse
import os
import sysconfig
import tempfile
import time
from pathlib import Path

import toksmith
from toksmith.report import _groups, _pieces, load_tokenizer

ROOT = Path(__file__).resolve().parent.parent
TOKENIZERS = ["o200k_base", "cl100k_base", str(ROOT / "tests" / "data" / "deepseek_v4_small.tokenizer.json")]


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


def encode_only(tok: toksmith.Encoding | toksmith.Tokenizer, path: str, max_bytes: int,
                threads: int | None) -> int:
    """Tokens of the corpus, encoded the way the report encoded before its own pass."""
    tokens = 0
    for pieces in _groups(_pieces(path, max_bytes, [False])):
        if isinstance(tok, toksmith.Encoding):
            ids, _ = tok.encode_batch_to_numpy(pieces, num_threads=threads, disallowed_special=())
            tokens += len(ids)
        else:
            tokens += sum(len(e.ids) for e in tok.encode_batch(pieces, add_special_tokens=False,
                                                                 num_threads=threads))
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", action="append", default=[], metavar="NAME=FILE",
                    help="a corpus file (repeatable; default: one built in a temporary directory)")
    ap.add_argument("--size-mb", type=float, default=50.0, help="size of the built corpus (default 50)")
    ap.add_argument("--max-mb", type=float, default=50.0, help="MB read from each corpus (default 50)")
    ap.add_argument("--tokenizer", action="append", default=[],
                    help="a bundled encoding or a tokenizer file (repeatable; default: three)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=1, help="times to run both measurements (default 1)")
    args = ap.parse_args()
    specs = args.tokenizer or TOKENIZERS
    max_bytes = int(args.max_mb * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        corpora = dict(c.split("=", 1) for c in args.corpus)
        if not corpora:
            corpora = {"built": os.path.join(tmp, "corpus.txt")}
            build_corpus(corpora["built"], int(args.size_mb * 1e6))
        size = sum(min(os.path.getsize(p), max_bytes) for p in corpora.values())
        toks = dict(load_tokenizer(s) for s in specs)
        print(f"corpora: {', '.join(corpora)} ({size / 1e6:.1f} MB read), tokenizers: "
              f"{', '.join(Path(n).name for n in toks)}; {os.cpu_count()} cores, threads={args.threads or 'all'}, "
              f"toksmith from {Path(toksmith.__file__).parent}")
        for _ in range(args.rounds):
            start = time.perf_counter()
            tokens = {(n, c): encode_only(t, p, max_bytes, args.threads) for n, t in toks.items()
                      for c, p in corpora.items()}
            encode_s = time.perf_counter() - start
            start = time.perf_counter()
            r = toksmith.report(toks, corpora, num_threads=args.threads, max_bytes=max_bytes)
            report_s = time.perf_counter() - start
            for (n, c), t in tokens.items():
                assert r.metric(n, c).tokens == t, (n, c, r.metric(n, c).tokens, t)
            k = len(toks)
            print(f"encode only: {encode_s:6.2f} s  {size / 1e6 / encode_s:6.1f} MB/s of corpus  "
                  f"{k * size / 1e6 / encode_s:6.1f} MB/s encoded")
            print(f"report:      {report_s:6.2f} s  {size / 1e6 / report_s:6.1f} MB/s of corpus  "
                  f"{k * size / 1e6 / report_s:6.1f} MB/s encoded  ({report_s / encode_s:.2f}x encode)")


if __name__ == "__main__":
    main()
