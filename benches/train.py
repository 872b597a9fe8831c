"""BPE training side by side: toksmith vs tokenizers (BpeTrainer), rustbpe, bpeasy, sentencepiece.

    python benches/train.py CORPUS [--vocab 64000] [--pattern o200k] [--engines ...] [--timeout 1800]

Each engine trains in its own subprocess on the whole file (lines are the units), so wall time
and peak RSS are its own. Prints a Markdown table: wall time, peak RSS, and whether the merges
equal tokenizers' (toksmith's exactness claim). Engines that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r'''
import json, resource, sys, time
engine, corpus, vocab, pattern_name, out = sys.argv[1:6]
vocab = int(vocab)
from toksmith import patterns
pattern = patterns.resolve(pattern_name)

def lines():
    with open(corpus, encoding="utf-8", errors="replace") as f:
        yield from f

start = time.perf_counter()
merges = None
if engine == "toksmith":
    import toksmith
    tok = toksmith.train_bpe(corpus, vocab_size=vocab, pattern=pattern, progress=False)
elif engine == "tokenizers":
    import tokenizers
    from tokenizers import pre_tokenizers, trainers
    from toksmith.reference import pcre_to_onig
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(pcre_to_onig(pattern)), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False, min_frequency=0,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([corpus], trainer)
elif engine == "rustbpe":
    import rustbpe
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(lines(), vocab, pattern=pattern)
elif engine == "bpeasy":
    import bpeasy
    bpeasy.train_bpe(lines(), pattern, 128, vocab)
elif engine == "sentencepiece":
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(input=corpus, model_type="bpe", vocab_size=vocab, model_prefix=out + ".spm",
                                   byte_fallback=True, character_coverage=1.0, train_extremely_large_corpus=True,
                                   max_sentence_length=1 << 20, minloglevel=2)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the merge list is read back
if engine in ("toksmith", "tokenizers"):
    merges = [list(m) for m in json.loads(tok.to_str())["model"]["merges"]]
json.dump({"seconds": seconds, "rss_mb": rss, "merges": merges}, open(out, "w"))
'''

ENGINES = ["toksmith", "tokenizers", "rustbpe", "bpeasy", "sentencepiece"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--vocab", type=int, default=64000)
    parser.add_argument("--pattern", default="o200k")
    parser.add_argument("--engines", nargs="+", default=ENGINES)
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()
    size = os.path.getsize(args.corpus)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines:
            out = os.path.join(tmp, engine + ".json")
            t = time.perf_counter()
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, engine, args.corpus, str(args.vocab), args.pattern, out],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                )
            except subprocess.TimeoutExpired:
                results[engine] = f"timed out after {args.timeout} s"
                continue
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                results[engine] = "not installed" if "ModuleNotFoundError" in last else f"failed: {last}"
                continue
            results[engine] = json.load(open(out))
            print(
                f"{engine}: {results[engine]['seconds']:.1f} s ({time.perf_counter() - t:.0f} s with start-up)",
                file=sys.stderr,
            )
    ref = results.get("tokenizers")
    ref_merges = ref.get("merges") if isinstance(ref, dict) else None
    print(f"\n{os.path.basename(args.corpus)}: {size / 1e6:.0f} MB, vocab {args.vocab}, pattern {args.pattern}\n")
    print("| engine | wall time | peak RSS | merges equal tokenizers' |")
    print("|---|---:|---:|---|")
    for engine in args.engines:
        r = results.get(engine)
        if not isinstance(r, dict):
            print(f"| {engine} | {r} | | |")
            continue
        same = "" if r["merges"] is None or ref_merges is None else ("yes" if r["merges"] == ref_merges else "NO")
        if engine == "tokenizers":
            same = "(reference)"
        print(f"| {engine} | {r['seconds']:.1f} s | {r['rss_mb']:.0f} MB | {same} |")
    toks = results.get("toksmith")
    return 1 if isinstance(toks, dict) and ref_merges is not None and toks["merges"] != ref_merges else 0


if __name__ == "__main__":
    sys.exit(main())
