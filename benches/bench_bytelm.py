"""ByteLM's tokenizer-side cost per byte, with a trivial LM (so the LM's own time is excluded).

    python benches/bench_bytelm.py [--encoding o200k_base] [--bytes 64] [--threads N]

Feeds a fixed English/code text byte by byte to ``ByteLM`` (teacher forcing: ``logprobs()``
then ``push(byte)``), with an LM that returns one precomputed normalised row per prefix. Reports
per byte: the time outside the LM call (cover bookkeeping, candidate-token checks, reading the
LM's distribution), LM calls and LM rows (token prefixes) per byte, and the prompt's one-time cost.
For scale it also times numpy's (vectorised) ``exp`` over one row: every byte brings a new path
whose next token can be any of the vocabulary's tokens, so an exact next-byte distribution
exponentiates (at least) every entry of one row per byte.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

TEXT = ("The quick brown fox jumps over the lazy dog. def tokenize(text):\n    return [t for t in text.split()]\n"
        "Ünïcödé and 中文 too.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoding", default="o200k_base")
    ap.add_argument("--bytes", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="RAYON_NUM_THREADS for the engine")
    args = ap.parse_args()
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    import toksmith

    enc = toksmith.get_encoding(args.encoding)
    n = enc.n_vocab
    row = np.random.default_rng(0).normal(size=n)
    row = row - np.logaddexp.reduce(row)
    lm_time = [0.0]

    def lm(prefixes):
        t = time.perf_counter()
        out = np.broadcast_to(row, (len(prefixes), n))
        lm_time[0] += time.perf_counter() - t
        return out

    blm = toksmith.ByteLM(enc, lm, eos_token_id=enc.eot_token, context_tokens=[enc.eot_token])
    data = TEXT.encode()[: args.bytes + 8]
    prompt, rest = data[:8], data[8:]
    t0 = time.perf_counter()
    st = blm.state(prompt)
    st.logprobs()
    t_prompt = time.perf_counter() - t0
    calls0, rows0, lm0 = blm.lm_calls, blm.lm_rows, lm_time[0]
    t0 = time.perf_counter()
    for b in rest:
        st.push(bytes([b]))
        st.logprobs()
    total = time.perf_counter() - t0
    k = len(rest)
    overhead = total - (lm_time[0] - lm0)
    print(f"{args.encoding} ({n} ids), {k} bytes after an {len(prompt)}-byte prompt, "
          f"{os.cpu_count()} CPUs, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'all')}")
    print(f"prompt: {t_prompt * 1e3:.0f} ms")
    print(f"per byte: {overhead / k * 1e6:.0f} µs outside the LM call, "
          f"{(blm.lm_calls - calls0) / k:.2f} LM calls, {(blm.lm_rows - rows0) / k:.2f} LM rows")
    out = np.empty_like(row)
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        np.exp(row, out=out)
    print(f"for scale: numpy exp over one row of {n} log-probabilities: "
          f"{(time.perf_counter() - t0) / reps * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
