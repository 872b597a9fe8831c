"""Encode throughput of toksmith against its peers, on ~4 KB documents of real text.

    python benches/compare.py [--encodings o200k_base cl100k_base] [--corpora DIR]
                              [--repeat 3] [--threads 1 2] --out DIR

For every encoding x corpus it first checks that toksmith's ids equal the peer's for every
document (toksmith Encoding vs tiktoken, toksmith Tokenizer vs tokenizers), then times encoding
all documents one at a time on one thread, and toksmith's batch call with 1, 2, ... threads.
Writes a Markdown table and a bar chart to --out. Exits 1 if toksmith's ids differ anywhere.

MB/s is 10^6 UTF-8 bytes of input per second, median of --repeat runs.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import tiktoken
import tokenizers

import toksmith

from toolkit import corpus, peers

BASELINE = "tiktoken"
OPTIONAL_PEERS = ("riptoken", "bpe-openai", "quicktok")


@dataclass
class Engine:
    name: str
    encode_all: Callable[[list[str]], list[list[int]]]  # ids of every document
    reference: str | None = None  # engine whose ids this one must equal
    must_match: bool = True  # a mismatch fails the run (toksmith) or is only reported (peers)


@dataclass
class Mismatch:
    encoding: str
    corpus: str
    engine: str
    reference: str
    count: int
    total: int
    first_doc: int
    first_pos: int


@dataclass
class Results:
    mbps: dict = field(default_factory=dict)  # (encoding, corpus, engine) -> MB/s
    engines: dict = field(default_factory=dict)  # encoding -> engine names, in table order
    corpora: list = field(default_factory=list)  # labels, in column order
    sources: dict = field(default_factory=dict)  # label -> file
    sizes: dict = field(default_factory=dict)  # label -> (documents, bytes)
    mismatches: list = field(default_factory=list)  # (Mismatch, fails the run)
    notes: list = field(default_factory=list)
    load_start: str = ""  # a busy machine makes timings meaningless; say so in the report


def one_at_a_time(encode_one: Callable[[str], list[int]]) -> Callable[[list[str]], list[list[int]]]:
    return lambda docs: [encode_one(d) for d in docs]


def optional_peer_engines(name: str, ours, notes: list[str]) -> list[Engine]:
    """Engines for the optional tiktoken-compatible peers that are installed."""
    engines = []
    try:
        import riptoken

        # built from toksmith's bundled ranks: riptoken would otherwise download them
        rip = riptoken.CoreBPE(ours.mergeable_ranks, ours._special_tokens, ours.pattern)
        engines.append(Engine("riptoken", one_at_a_time(rip.encode_ordinary), BASELINE, False))
    except ImportError:
        notes.append("riptoken: not installed")
    try:
        import bpe_openai

        bpe = bpe_openai.get_encoding(name)  # its wheel bundles the vocabularies
        engines.append(Engine("bpe-openai", one_at_a_time(bpe.encode_ordinary), BASELINE, False))
    except ImportError:
        notes.append("bpe-openai: not installed")
    except Exception as e:  # e.g. an encoding it does not ship
        notes.append(f"bpe-openai: no {name} ({type(e).__name__}: {e})")
    return engines


def engines_for(name: str, threads: list[int], notes: list[str]) -> list[Engine]:
    ours = toksmith.get_encoding(name)
    tik = peers.tiktoken_encoding(name)
    ours_hf = toksmith.Tokenizer.from_str(peers.hf_json(name))
    hf = peers.hf_tokenizer(name)

    def hf_ids(tok):
        return one_at_a_time(lambda d: tok.encode(d, add_special_tokens=False).ids)

    def batch(t):
        return lambda docs: ours.encode_ordinary_batch(docs, num_threads=t)

    engines = [
        Engine("toksmith Encoding", one_at_a_time(ours.encode_ordinary), BASELINE),
        Engine("tiktoken", one_at_a_time(tik.encode_ordinary)),
        Engine("toksmith Tokenizer (HF semantics)", hf_ids(ours_hf), "tokenizers"),
        Engine("tokenizers", hf_ids(hf)),
    ]
    engines += optional_peer_engines(name, ours, notes)
    engines += [Engine(f"toksmith encode_ordinary_batch, T={t}", batch(t), BASELINE) for t in threads]
    return engines


def first_difference(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def compare_ids(ids: list[list[int]], ref: list[list[int]]) -> tuple[int, int, int]:
    """(mismatching documents, first such document, first differing token position there)."""
    bad = [i for i, (a, b) in enumerate(zip(ids, ref)) if a != b]
    if not bad:
        return 0, -1, -1
    return len(bad), bad[0], first_difference(ids[bad[0]], ref[bad[0]])


def time_once(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()  # collector pauses on the id lists would be charged to whoever runs next
    try:
        t0 = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t0
        del out  # freeing the ids is not part of encoding
    finally:
        gc.enable()
    return secs


def run(args: argparse.Namespace) -> Results:
    res = Results(load_start=load_average())
    if args.corpora:
        sources, fell_back = corpus.default_corpora(args.corpora), False
        if not sources:
            sys.exit(f"no corpora in {args.corpora} (expected {', '.join(corpus.DEFAULT_FILES.values())})")
    else:
        sources, fell_back = corpus.available_corpora()
    if fell_back:
        res.notes.append(f"corpora not found in {corpus.corpora_dir()}: using the builtin samples "
                         "(Python's own sources and headers), not the issue's corpora")
    docs = {label: corpus.documents(p, args.doc_bytes, args.limit_bytes) for label, p in sources.items()}
    res.sizes = {label: (len(d), sum(len(x.encode("utf-8")) for x in d)) for label, d in docs.items()}
    res.sources, res.corpora = sources, list(docs)

    for name in args.encodings:
        engines = engines_for(name, args.threads, res.notes)
        res.engines[name] = [e.name for e in engines]
        for label, ds in docs.items():
            # the check run doubles as warm-up (lazy regex compilation, caches, page faults);
            # only the references' ids are kept, to bound memory
            ids = {e.name: e.encode_all(ds) for e in engines if e.reference is None}
            for e in engines:
                if e.reference is None:
                    continue
                count, first, pos = compare_ids(e.encode_all(ds), ids[e.reference])
                if count:
                    m = Mismatch(name, label, e.name, e.reference, count, len(ds), first, pos)
                    res.mismatches.append((m, e.must_match))
                    print(f"{'!!! ID MISMATCH' if e.must_match else 'peer mismatch'}: {name} / {label}: "
                          f"{e.name} != {e.reference} on {count}/{len(ds)} documents; "
                          f"first at document {first}, token {pos}", file=sys.stderr)
            # informational: tokenizers' regex dialect differs from tiktoken's (cl100k digit runs)
            count, first, _ = compare_ids(ids["tokenizers"], ids[BASELINE])
            if count:
                res.notes.append(f"{name} / {label}: tokenizers' ids differ from tiktoken's on {count}/"
                                 f"{len(ds)} documents (first: {first}); expected where the regex dialects differ")
            del ids
            nbytes = res.sizes[label][1]
            # engines take turns within each round, so a burst of background load hits them all
            times = {e.name: [] for e in engines}
            for _ in range(args.repeat):
                for e in engines:
                    times[e.name].append(time_once(functools.partial(e.encode_all, ds)))
            for e in engines:
                res.mbps[name, label, e.name] = nbytes / statistics.median(times[e.name]) / 1e6
                print(f"{name:12} {label:28} {e.name:42} {res.mbps[name, label, e.name]:8.2f} MB/s",
                      file=sys.stderr, flush=True)
    return res


def markdown_table(res: Results, name: str, threads: list[int]) -> str:
    lines = ["| engine | " + " | ".join(res.corpora) + " |", "|---|" + "---:|" * len(res.corpora)]
    batch_1 = f"toksmith encode_ordinary_batch, T={threads[0]}"
    for engine in res.engines[name]:
        cells = []
        for label in res.corpora:
            v = res.mbps[name, label, engine]
            cell = f"{v:.1f} (×{v / res.mbps[name, label, BASELINE]:.2f})"
            if engine.startswith("toksmith encode_ordinary_batch") and engine != batch_1:
                cell += f"; ×{v / res.mbps[name, label, batch_1]:.2f} vs T={threads[0]}"
            if any(m.engine == engine and m.encoding == name and m.corpus == label for m, _ in res.mismatches):
                cell += " **ids differ**"
            cells.append(cell)
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "?"


def environment(load_start: str) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=corpus.REPO_ROOT).stdout.strip()
    except OSError:
        commit = "?"
    peers_v = ", ".join(f"{p} {version(p)}" for p in OPTIONAL_PEERS)
    return [
        f"- command: `{shlex.join([Path(sys.executable).name] + sys.argv)}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu}, nproc {os.cpu_count()}, load average (1/5/15 min) at the start {load_start}, "
        f"at the end {load_average()}",
        f"- python {platform.python_version()}, toksmith {toksmith.__version__} ({commit}), "
        f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}; {peers_v}",
    ]


def report(res: Results, args: argparse.Namespace) -> str:
    out = ["# Encode throughput", ""]
    out += environment(res.load_start)
    out += [
        "",
        f"Cells: MB/s (10^6 input bytes per second, median of {args.repeat} runs) and, in brackets, the ratio "
        "to tiktoken on the same corpus. Single-thread rows encode one document per call; the batch "
        "rows pass all documents in one call with num_threads=T; the last ones also give the scaling over the "
        "first T.",
        "",
        f"Corpora (~{args.doc_bytes}-byte documents cut at newlines from the first {args.limit_bytes} bytes):",
    ]
    out += [f"- {label}: `{res.sources[label]}`, {n} documents, {b:,} bytes" for label, (n, b) in res.sizes.items()]
    bad = [m for m, must in res.mismatches if must]
    if bad:
        out += ["", "## ID MISMATCHES", ""]
        out += [f"- {m.encoding} / {m.corpus}: {m.engine} != {m.reference} on {m.count}/{m.total} documents, "
                f"first at document {m.first_doc}, token {m.first_pos}" for m in bad]
    for name in args.encodings:
        out += ["", f"## {name}", "", markdown_table(res, name, args.threads)]
    peer_bad = [m for m, must in res.mismatches if not must]
    notes = res.notes + [f"{m.engine} differs from {m.reference} on {m.encoding} / {m.corpus}: {m.count}/{m.total} "
                         f"documents, first at document {m.first_doc}" for m in peer_bad]
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(out) + "\n"


def chart(res: Results, args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.encodings), figsize=(7 * len(args.encodings), 5), squeeze=False)
    for ax, name in zip(axes[0], args.encodings):
        engines = res.engines[name]
        width = 0.8 / len(engines)
        for i, engine in enumerate(engines):
            xs = [c + (i - (len(engines) - 1) / 2) * width for c in range(len(res.corpora))]
            ax.bar(xs, [res.mbps[name, label, engine] for label in res.corpora], width, label=engine)
        ax.set_xticks(range(len(res.corpora)), res.corpora)
        ax.set_title(name)
        ax.set_ylabel("MB/s (higher is better)")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")  # below, clear of the bars
    fig.suptitle(f"Encode throughput, ~{args.doc_bytes // 1024} KB documents, median of {args.repeat} runs")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encodings", nargs="+", default=["o200k_base", "cl100k_base"])
    p.add_argument("--corpora", help="directory of en_pydoc.txt, code_100m.txt, multi_man.txt "
                   "(default: $TOKSMITH_CORPORA, else <repo>/corpora, else builtin samples)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per cell; the median is reported")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts for the batch rows")
    p.add_argument("--doc-bytes", type=int, default=4096)
    p.add_argument("--limit-bytes", type=int, default=8_000_000)
    p.add_argument("--out", type=Path, required=True,
                   help="folder for encode.md and encode.png (benches/results to update the committed table)")
    args = p.parse_args(argv)

    for peer in OPTIONAL_PEERS:
        if version(peer) == "not installed":
            print(f"note: {peer} not installed; skipped", file=sys.stderr)
    res = run(args)
    if version("quicktok") != "not installed":
        # its only class is a minbpe-style BasicTokenizer: no regex split, no tiktoken vocabularies
        res.notes.append("quicktok: installed, but it has no tiktoken-compatible encoder (only a "
                         "BasicTokenizer without regex pre-splitting), so it cannot produce these ids; skipped")
    text = report(res, args)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encode.md").write_text(text, encoding="utf-8")
    try:
        chart(res, args, args.out / "encode.png")
    except ImportError:
        print("note: matplotlib not installed; no encode.png (pip install matplotlib)", file=sys.stderr)
    if any(must for _, must in res.mismatches):
        print("FAILED: toksmith's ids differ from its peer's; see ID MISMATCHES above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
