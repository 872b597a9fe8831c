"""SuperBPE vs BPE on one corpus: held-out tokens, training time and peak memory, over t.

    python benches/superbpe.py CORPUS --vocab 65536 --transitions 0.5 0.7 0.8 0.9 [--out FILE.md]

The first 90% of the corpus's lines train, the last 10% are held out. Every training runs in its
own process (peak memory = that process's maximum RSS). BPE uses SuperBPE's stage-1 pattern
(o200k without contractions), so t = 1.0 is exactly this BPE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
import toksmith
args = json.loads(sys.argv[1])
start = time.perf_counter()
if args["kind"] == "bpe":
    tok = toksmith.train_bpe(args["train"], vocab_size=args["vocab"], pattern=toksmith.patterns.O200K_NO_CONTRACTIONS,
                             progress=False)
else:
    tok = toksmith.train_superbpe(args["train"], vocab_size=args["vocab"], transition=args["t"], progress=False)
seconds = time.perf_counter() - start
tok.save(args["out"])
held = open(args["held"], encoding="utf-8").read()
docs = held.split("\n\n")
tokens = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tokens": tokens, "bytes": len(held.encode()), "merges": len(tok.merges)}))
"""


def run(kind, train, held, vocab, t=None):
    with tempfile.TemporaryDirectory() as d:
        args = {"kind": kind, "train": train, "held": held, "vocab": vocab, "t": t, "out": os.path.join(d, "t.json")}
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{kind} (t={t}) failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--vocab", type=int, default=65536)
    p.add_argument("--transitions", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9])
    p.add_argument("--out", default=None, help="also write the table as Markdown here")
    a = p.parse_args()
    with open(a.corpus, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines(keepends=True)
    cut = len(lines) * 9 // 10
    tmp = tempfile.mkdtemp()
    train, held = os.path.join(tmp, "train.txt"), os.path.join(tmp, "held.txt")
    with open(train, "w", encoding="utf-8") as f:
        f.writelines(lines[:cut])
    with open(held, "w", encoding="utf-8") as f:
        f.writelines(lines[cut:])
    bpe = run("bpe", train, held, a.vocab)
    rows = [("BPE", bpe)] + [(f"SuperBPE t={t:g}", run("superbpe", train, held, a.vocab, t)) for t in a.transitions]
    size_mb = os.path.getsize(train) / 1e6
    out = [f"{os.path.basename(a.corpus)}: {size_mb:.0f} MB train, {bpe['bytes'] / 1e6:.1f} MB held out, "
           f"vocabulary {a.vocab}", "",
           "| tokenizer | held-out tokens | bytes/token | vs BPE | train s | × BPE time | peak MB |",
           "|---|---|---|---|---|---|---|"]
    for name, r in rows:
        out.append(
            f"| {name} | {r['tokens']} | {r['bytes'] / r['tokens']:.3f} "
            f"| {(r['tokens'] / bpe['tokens'] - 1) * 100:+.1f}% | {r['seconds']:.1f} "
            f"| {r['seconds'] / bpe['seconds']:.2f} | {r['peak_mb']:.0f} |"
        )
    text = "\n".join(out)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
