"""Data-mixture inference, measured: train BPE tokenizers on known mixtures of categories, infer
the mixtures back from their merge lists (on samples disjoint from the training text), and
report the errors; or estimate the mixture of an existing tokenizer.

    python benches/mixture.py recover --category en=/data/en.txt --category code=/data/code.txt ... \\
        [--trials 5] [--train-mb 20] [--sample-mb 4] [--vocab-size 8192] [--merges 3000] [--json OUT]
    python benches/mixture.py estimate cl100k_base --category en=/data/en_sample.txt ... [--json OUT]
    python benches/mixture.py split-man man_pages.txt OUTDIR   (one file per language: de fr ja zh ru)

Each category file (its first ``--max-mb``) is cut into ~4 KB documents, shuffled and dealt
into two halves: the training pool and the estimation sample (``--sample-mb`` of the other
half), so samples never share a line with the training text. Mixtures are drawn
from a Dirichlet(1, ..., 1) with ``--seed``; a category gets ``share * train-mb`` MB of its pool
(lines from the start). Needs scipy (``pip install 'toksmith[mixture]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import toksmith
from toksmith.mixture import infer_mixture

MB = 1 << 20


def halves(path: str, max_bytes: int, seed: int, doc_bytes: int = 4096) -> tuple[str, str]:
    """The first ``max_bytes`` of ``path`` cut into documents of about ``doc_bytes`` (at line
    ends), shuffled with ``seed`` and dealt alternately into two disjoint halves: the training
    pool and the estimation sample (same distribution, no shared line)."""
    with open(path, "rb") as f:
        text = f.read(max_bytes).decode("utf-8", errors="ignore")
    docs, start = [], 0
    while start < len(text):
        end = text.find("\n", start + doc_bytes)
        end = len(text) if end < 0 else end + 1
        docs.append(text[start:end])
        start = end
    random.Random(seed).shuffle(docs)
    return "".join(docs[0::2]), "".join(docs[1::2])


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
        samples: dict[str, list[Path]] = {}
        pools: dict[str, bytes] = {}
        for name, path in cats.items():
            pool, sample = halves(path, int(args.max_mb * MB), args.seed)
            pools[name] = pool.encode("utf-8")
            sample_path = Path(tmp) / f"sample-{name}.txt"
            sample_path.write_bytes(sample.encode("utf-8")[:sample_bytes])
            samples[name] = [sample_path]
        for trial in range(args.trials):
            truth = rng.dirichlet(np.ones(len(names)))
            # As much training text as asked for, or as the smallest pool allows at its share.
            total = min(train_bytes, *(len(pools[n]) / s for n, s in zip(names, truth)))
            train = Path(tmp) / f"train-{trial}.txt"
            with open(train, "wb") as f:
                for name, share in zip(names, truth):
                    part = pools[name][: int(share * total)]
                    f.write(part[: part.rfind(b"\n") + 1])
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
                "train_mb": round(total / MB, 1),
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


def split_man(args: argparse.Namespace) -> dict[str, object]:
    """Splits a corpus of translated man pages (groff sources, pages starting at ``.TH``) into
    one file per language, by script (Japanese kana, Chinese Han, Cyrillic) and, for Latin
    script, by German and French function words."""
    import re

    with open(args.corpus, encoding="utf-8", errors="replace") as f:
        text = f.read()
    out: dict[str, list[str]] = {}
    for page in re.split(r"(?m)^(?=\.TH )", text):
        if len(re.findall("[\u3040-\u30ff]", page)) > 20:
            lang = "ja"
        elif re.search("[\u4e00-\u9fff]", page):
            lang = "zh"
        elif len(re.findall("[\u0400-\u04ff]", page)) > 20:
            lang = "ru"
        else:
            de = sum(page.count(w) for w in (" und ", " der ", " die ", " nicht "))
            fr = sum(page.count(w) for w in (" les ", " des ", " est ", " pour "))
            lang = "de" if de > fr else "fr"
        out.setdefault(lang, []).append(page)
    sizes = {}
    for lang, pages in out.items():
        path = Path(args.outdir) / f"{lang}.txt"
        path.write_text("".join(pages), encoding="utf-8")
        sizes[lang] = path.stat().st_size
        print(f"{path}: {sizes[lang]} bytes, {len(pages)} pages")
    return {"command": " ".join(sys.argv), "bytes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("split-man")
    p.add_argument("corpus")
    p.add_argument("outdir")
    p.add_argument("--json", metavar="OUT")
    for mode in ("recover", "estimate"):
        p = sub.add_parser(mode)
        if mode == "estimate":
            p.add_argument("tokenizer")
        p.add_argument("--category", action="append", required=True, metavar="NAME=FILE")
        p.add_argument("--merges", type=int, default=1000)
        p.add_argument("--top-k", type=int, default=32)
        p.add_argument("--json", metavar="OUT")
        if mode == "recover":
            p.add_argument("--trials", type=int, default=5)
            p.add_argument("--train-mb", type=float, default=20.0)
            p.add_argument("--sample-mb", type=float, default=4.0)
            p.add_argument("--vocab-size", type=int, default=8192)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--max-mb", type=float, default=40.0, help="read at most this much of each file")
    args = parser.parse_args()
    out = {"recover": recover, "estimate": estimate, "split-man": split_man}[args.mode](args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
