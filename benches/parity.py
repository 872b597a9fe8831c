"""Id parity on large real text: toksmith vs tiktoken (Encoding) and vs tokenizers (Tokenizer).

    python benches/parity.py [--corpora DIR] [--mb 8] [--encodings cl100k_base o200k_base]

Cuts ~4 KB documents at newlines from the first --mb MB of each corpus (English, C code,
multilingual) and counts documents whose ids differ. Exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import toksmith

from toolkit import peers
from toolkit.corpus import documents

CORPORA = {"english": "en_50m.txt", "code": "code_100m.txt", "multilingual": "multi_man.txt"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=os.environ.get("TOKSMITH_CORPORA", "corpora"))
    parser.add_argument("--mb", type=float, default=8.0, help="MB taken from each corpus")
    parser.add_argument("--encodings", nargs="+", default=["cl100k_base", "o200k_base"])
    args = parser.parse_args()
    failures = 0
    for name in args.encodings:
        ours, tiktoken_enc = toksmith.get_encoding(name), peers.tiktoken_encoding(name)
        ours_hf, hf = toksmith.Tokenizer.from_str(peers.hf_json(name)), peers.hf_tokenizer(name)
        total = 0
        for label, file in CORPORA.items():
            docs = documents(Path(args.corpora) / file, limit_bytes=int(args.mb * 1e6))
            size = sum(len(d.encode()) for d in docs)
            total += size
            t = time.perf_counter()
            a = ours.encode_ordinary_batch(docs)
            b = tiktoken_enc.encode_ordinary_batch(docs)
            bad_tt = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
            c = [e.ids for e in ours_hf.encode_batch(docs, add_special_tokens=False)]
            d = [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)]
            bad_hf = [i for i, (x, y) in enumerate(zip(c, d)) if x != y]
            failures += len(bad_tt) + len(bad_hf)
            print(
                f"{name} {label:13s} {size / 1e6:6.1f} MB {len(docs):6d} docs  "
                f"vs tiktoken: {len(bad_tt)} mismatches  vs tokenizers: {len(bad_hf)} mismatches  "
                f"({time.perf_counter() - t:.0f} s)" + (f"  first: {(bad_tt + bad_hf)[0]}" if bad_tt or bad_hf else "")
            )
        print(f"{name}: {total / 1e6:.1f} MB compared")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
