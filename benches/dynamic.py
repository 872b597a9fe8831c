"""Batch dynamic merging: engine vs the pure-Python reference, and the merges -> length curve.

    python benches/dynamic.py [--corpora DIR] [--docs 256] [--tokens 512] [--boundaries words]

Builds batches of --docs documents of about --tokens o200k_base tokens each (English, C code,
multilingual), merges each to saturation (at pre-token or word boundaries), and prints the engine's time
(median of 5), the reference's time on the English batch, and the curve at a few merge counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import toksmith
from toksmith.reference import dynamic as reference

CORPORA = {"english": "en_pydoc.txt", "code": "code_100m.txt", "multilingual": "multi_man.txt"}


def batch(path: Path, enc, docs: int, tokens: int) -> list[str]:
    text = path.read_bytes()[: 8_000_000].decode("utf-8", errors="ignore")
    out, start = [], 0
    while len(out) < docs and start < len(text):
        end = start + tokens * 4
        while len(enc.encode_ordinary(text[start:end])) < tokens and end < len(text):
            end += 200
        end = text.find("\n", end) + 1 or len(text)
        out.append(text[start:end])
        start = end
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=os.environ.get("TOKSMITH_CORPORA", "corpora"))
    parser.add_argument("--docs", type=int, default=256)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--boundaries", choices=["pretokens", "words"], default="pretokens")
    args = parser.parse_args()
    enc = toksmith.get_encoding("o200k_base")
    for label, file in CORPORA.items():
        docs = batch(Path(args.corpora) / file, enc, args.docs, args.tokens)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            res = toksmith.merge_batch(docs, enc, boundaries=args.boundaries)
            times.append(time.perf_counter() - t)
        curve = res.curve()
        n = len(curve) - 1
        marks = sorted({0, 100, 1000, 10000, n} & set(range(n + 1)))
        points = ", ".join(f"{m}: {curve[m]} ({100 * (1 - curve[m] / curve[0]):.1f}% shorter)" for m in marks)
        print(f"{label}: {len(docs)} docs, {curve[0]} base tokens, saturation after {n} merges; "
              f"engine {1000 * statistics.median(times):.1f} ms (median of 5)\n  curve: {points}")
        if label == "english" and args.boundaries == "pretokens":
            # The reference on the same batch (its input: base tokens and pre-token ids per text).
            seqs, words, special = [], [], []
            for d in docs:
                ids, pieces, flags = enc._core.encode_with_pieces(d)
                seqs.append([enc.decode_single_token_bytes(t) for t in ids])
                words.append(pieces)
                special.append(flags)
            t = time.perf_counter()
            _, log, lengths = reference.merge_batch(seqs, words, special)
            ref = time.perf_counter() - t
            assert [(a, b, c) for a, b, c in log] == res.log and lengths == curve.tolist(), "engine != reference"
            print(
                f"  reference: {ref:.1f} s, same log and curve; engine is {ref / statistics.median(times):.0f}x faster"
            )


if __name__ == "__main__":
    main()
