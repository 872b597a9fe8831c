"""Data-mixture inference, measured: train BPE tokenizers on known mixtures of categories, infer
the mixtures back from their merge lists (on samples disjoint from the training text), and
report the errors; or estimate the mixture of an existing tokenizer.

    python benches/mixture.py recover --category en=/data/en.txt --category code=/data/code.txt ... \\
        [--trials 5] [--train-mb 20] [--sample-mb 4] [--vocab-size 8192] [--merges 3000] [--json OUT]
    python benches/mixture.py estimate cl100k_base --category en=/data/en_sample.txt ... [--json OUT]

Each category file is cut in two: the training pool (its first part) and the estimation sample
(the last ``--sample-mb`` MB), so samples never overlap the training text. Mixtures are drawn
from a Dirichlet(1, ..., 1) with ``--seed``; a category gets ``share * train-mb`` MB of its pool
(lines from the start). Needs scipy (``pip install 'toksmith[mixture]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import toksmith
from toksmith.mixture import infer_mixture

MB = 1 << 20


def read_head(path: str, n_bytes: int, skip: int = 0) -> str:
    """About ``n_bytes`` of whole lines of ``path`` starting at byte ``skip`` (at a line start)."""
    with open(path, "rb") as f:
        f.seek(skip)
        if skip:
            f.readline()  # to the next line start
        data = f.read(n_bytes)
        rest = f.readline()
    return (data + rest).decode("utf-8", errors="replace")


def split_category(path: str, sample_bytes: int) -> tuple[int, int]:
    """(training pool bytes, where the sample starts): the sample is the file's last
    ``sample_bytes``; the pool is everything before it."""
    size = os.path.getsize(path)
    if size < 2 * sample_bytes:
        raise SystemExit(f"{path}: {size} bytes; need at least twice --sample-mb")
    return size - sample_bytes, size - sample_bytes


def parse_categories(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not os.path.isfile(path):
            raise SystemExit(f"--category {v}: give NAME=FILE with an existing file")
        out[name] = path
    return out


def recover(args: argparse.Namespace) -> dict[str, object]:
    cats = parse_categories(args.category)
    names = list(cats)
    sample_bytes = int(args.sample_mb * MB)
    train_bytes = int(args.train_mb * MB)
    rng = np.random.default_rng(args.seed)
    trials = []
    with tempfile.TemporaryDirectory() as tmp:
        samples = {}
        pools = {}
        for name, path in cats.items():
            pools[name], start = split_category(path, sample_bytes)
            sample = Path(tmp) / f"sample-{name}.txt"
            sample.write_text(read_head(path, sample_bytes, skip=start), encoding="utf-8")
            samples[name] = [sample]
        for trial in range(args.trials):
            truth = rng.dirichlet(np.ones(len(names)))
            train = Path(tmp) / f"train-{trial}.txt"
            with open(train, "w", encoding="utf-8") as f:
                for name, share in zip(names, truth):
                    want = int(share * train_bytes)
                    if want > pools[name]:
                        raise SystemExit(f"{cats[name]}: the pool holds {pools[name]} bytes; "
                                         f"{name} needs {want} (lower --train-mb)")
                    f.write(read_head(cats[name], want))
            t0 = time.perf_counter()
            tok = toksmith.train_bpe([str(train)], vocab_size=args.vocab_size, progress=False)
            t1 = time.perf_counter()
            res = infer_mixture(tok, samples, merges=args.merges, top_k=args.top_k)
            t2 = time.perf_counter()
            errors = {n: abs(res[n] - float(s)) for n, s in zip(names, truth)}
            row = {
                "truth": {n: round(float(s), 4) for n, s in zip(names, truth)},
                "estimate": {n: round(res[n], 4) for n in names},
                "max_error_pp": round(100 * max(errors.values()), 2),
                "mean_error_pp": round(100 * float(np.mean(list(errors.values()))), 2),
                "train_s": round(t1 - t0, 1),
                "infer_s": round(t2 - t1, 2),
                **{k: v for k, v in res.to_dict().items() if k not in ("proportions", "sample_bytes")},
            }
            trials.append(row)
            print(json.dumps(row), flush=True)
    worst = max(t["max_error_pp"] for t in trials)  # type: ignore[type-var]
    mean = float(np.mean([t["mean_error_pp"] for t in trials]))  # type: ignore[misc]
    print(f"{len(trials)} trials, {len(names)} categories: worst error {worst:.2f} pp, mean {mean:.2f} pp")
    return {"command": " ".join(sys.argv), "trials": trials, "worst_error_pp": worst, "mean_error_pp": mean}


def estimate(args: argparse.Namespace) -> dict[str, object]:
    cats = parse_categories(args.category)
    t0 = time.perf_counter()
    res = infer_mixture(args.tokenizer, {n: [p] for n, p in cats.items()}, merges=args.merges, top_k=args.top_k)
    elapsed = time.perf_counter() - t0
    for name, share in sorted(res.items(), key=lambda kv: -kv[1]):
        print(f"{name:<12} {100 * share:6.2f}%")
    print(f"total slack {res.total_slack:.4g}, {res.constraints} constraints, {res.rounds} rounds, "
          f"{res.merges} merges, {res.uncertified_steps} uncertified steps, {elapsed:.1f} s; {res.status}")
    return {"command": " ".join(sys.argv), "tokenizer": args.tokenizer, "seconds": round(elapsed, 2), **res.to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("recover", "estimate"):
        p = sub.add_parser(mode)
        if mode == "estimate":
            p.add_argument("tokenizer")
        p.add_argument("--category", action="append", required=True, metavar="NAME=FILE")
        p.add_argument("--merges", type=int, default=3000)
        p.add_argument("--top-k", type=int, default=32)
        p.add_argument("--json", metavar="OUT")
        if mode == "recover":
            p.add_argument("--trials", type=int, default=5)
            p.add_argument("--train-mb", type=float, default=20.0)
            p.add_argument("--sample-mb", type=float, default=4.0)
            p.add_argument("--vocab-size", type=int, default=8192)
            p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = recover(args) if args.mode == "recover" else estimate(args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
