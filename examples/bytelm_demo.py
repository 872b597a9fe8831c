"""ByteLM demonstrations on Python source code (the running interpreter's standard library).

    python examples/bytelm_demo.py fim       # prompts cut at random byte positions
    python examples/bytelm_demo.py ensemble  # two vocabularies, one byte-level mixture

Both train toksmith BPE vocabularies and token n-gram LMs (``toksmith.lms.NGramLM``) on the
first files of the standard library (sorted by name) and evaluate on the remaining ones.

``fim``: each held-out line is cut at a random byte offset (often inside a token) and the next
bytes are predicted greedily from the previous line plus the cut line by
  * naive prompting: encode the prompt canonically, decode tokens greedily;
  * token healing: drop the prompt's last token, force the first generated token to start with
    its bytes, then decode greedily;
  * ByteLM: greedy byte-by-byte decoding with exact next-byte probabilities.
The score is the share of cuts whose next k bytes are predicted exactly.

``ensemble``: byte-level log-likelihood (bits per byte) of held-out lines under each model and
under their per-byte mixture.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sysconfig
import time

import numpy as np

import toksmith
from toksmith.lms import NGramLM

EOT = "<|endoftext|>"


def corpus(train_files: int):
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    read = lambda f: open(f, encoding="utf-8", errors="replace").read()  # noqa: E731
    return [read(f) for f in files[:train_files]], [read(f) for f in files[train_files:]]


def build(train_docs, vocab_size: int, pattern: str, order: int):
    tok = toksmith.train_bpe(iterator=iter(train_docs), vocab_size=vocab_size, pattern=pattern,
                             special_tokens=[EOT], progress=False)
    enc = tok.to_encoding()
    eot = enc.encode_single_token(EOT)
    seqs = enc.encode_ordinary_batch(train_docs)
    lm = NGramLM(enc.n_vocab, order, bos=eot, eos=eot).fit(seqs)
    return enc, lm, eot


def cuts(test_docs, n: int, k: int, seed: int):
    """(prompt, truth) pairs: previous line + a held-out line cut at a random byte offset."""
    rng = np.random.default_rng(seed)
    pairs = []
    for doc in test_docs:
        lines = doc.encode("utf-8").split(b"\n")
        pairs.extend((lines[i - 1] + b"\n", lines[i]) for i in range(1, len(lines)) if len(lines[i].strip()) >= k + 4)
    out = []
    for j in rng.choice(len(pairs), size=min(n, len(pairs)), replace=False):
        prev, line = pairs[j]
        cut = int(rng.integers(1, len(line) - k + 1))
        while cut < len(line) and (line[cut] & 0xC0) == 0x80:  # keep the demo's prompts UTF-8
            cut += 1
        out.append((prev + line[:cut], line[cut:cut + k]))
    return out


def greedy_tokens(tb, lm, ids: list[int], first_allowed=None, n_bytes: int = 8) -> bytes:
    """Greedy token decoding until n_bytes bytes (tb: bytes of each id, b"" for specials)."""
    out = b""
    ids = list(ids)
    while len(out) < n_bytes:
        row = lm([ids])[0]
        if first_allowed is not None:
            row = np.where(first_allowed, row, -np.inf)
            first_allowed = None
        t = int(np.argmax(row))
        if not tb[t]:
            break
        ids.append(t)
        out += tb[t]
    return out


def fim_scores(enc, lm, eot, examples, ks=(1, 2, 4, 8)):
    """Exact-match counts of the next k bytes for each method, and ByteLM's LM calls."""
    tb = [enc.decode_single_token_bytes(i) if i != eot else b"" for i in range(enc.n_vocab)]
    blm = toksmith.ByteLM(enc, lm, eos_token_id=eot)
    hits = {m: np.zeros(len(ks), dtype=int) for m in ("naive", "healing", "bytelm")}
    mid_token = 0
    for prompt, truth in examples:
        ids = enc.encode_ordinary(prompt.decode("utf-8"))
        full = enc.encode_ordinary((prompt + truth).decode("utf-8", errors="ignore"))
        mid_token += ids != full[: len(ids)]
        preds = {"naive": greedy_tokens(tb, lm, ids, n_bytes=max(ks))}
        last = tb[ids[-1]]
        allowed = np.array([t.startswith(last) for t in tb])
        preds["healing"] = greedy_tokens(tb, lm, ids[:-1], allowed, n_bytes=max(ks) + len(last))[len(last):]
        preds["bytelm"] = blm.generate(prompt, max(ks), temperature=0)
        for m, p in preds.items():
            hits[m] += [p[:k] == truth[:k] for k in ks]
    return hits, mid_token, blm.lm_calls


def fim(args):
    train, test = corpus(args.train_files)
    t0 = time.time()
    enc, lm, eot = build(train, args.vocab_size, "o200k", args.order)
    print(f"vocab {enc.n_vocab}, {args.order}-gram LM, built in {time.time() - t0:.0f} s")
    ks = (1, 2, 4, 8)
    examples = cuts(test, args.examples, max(ks), args.seed)
    t0 = time.time()
    hits, mid_token, calls = fim_scores(enc, lm, eot, examples, ks)
    n = len(examples)
    print(f"{n} cuts ({mid_token} inside a token of the full line's encoding), ByteLM: "
          f"{calls / n:.1f} LM calls per cut, {time.time() - t0:.0f} s in all")
    print()
    print("| method | " + " | ".join(f"next {k} byte{'s' * (k > 1)} exact" for k in ks) + " |")
    print("|---|" + "---:|" * len(ks))
    for m, name in (("naive", "naive prompting"), ("healing", "token healing"), ("bytelm", "ByteLM (exact)")):
        print(f"| {name} | " + " | ".join(f"{100 * h / n:.1f} %" for h in hits[m]) + " |")


def ensemble(args):
    train, test = corpus(args.train_files)
    models = []
    for vocab_size, pattern in ((args.vocab_size, "o200k"), (args.vocab_size * 2, "gpt2")):
        enc, lm, eot = build(train, vocab_size, pattern, args.order)
        models.append(
            (
                f"{pattern} pattern, {enc.n_vocab} tokens",
                toksmith.ByteLM(enc, lm, eos_token_id=eot, context_tokens=[eot]),
            )
        )
    lines = [p + t for p, t in cuts(test, args.examples, 8, args.seed)]
    nbytes = sum(len(s) for s in lines)
    rows = [(name, [m]) for name, m in models]
    ens_mix = toksmith.ByteEnsemble([m for _, m in models])
    ens_prod = toksmith.ByteEnsemble([m for _, m in models], mode="product")
    results = []
    t0 = time.time()
    for name, blm in [(n, ms[0]) for n, ms in rows] + [
        ("mixture (equal weights)", ens_mix),
        ("product (geometric mean)", ens_prod),
    ]:
        ll = sum(blm.logprob(s) for s in lines)
        results.append((name, ll))
    print(f"{len(lines)} held-out lines, {nbytes} bytes, {time.time() - t0:.0f} s")
    print()
    print("| model | log-likelihood (nats) | bits per byte |")
    print("|---|---:|---:|")
    for name, ll in results:
        print(f"| {name} | {ll:.1f} | {-ll / nbytes / math.log(2):.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("demo", choices=["fim", "ensemble"])
    ap.add_argument("--train-files", type=int, default=120)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--order", type=int, default=4)
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    {"fim": fim, "ensemble": ensemble}[args.demo](args)


if __name__ == "__main__":
    main()
