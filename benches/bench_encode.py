"""pytest-benchmark micro-benchmarks: toksmith against tiktoken and tokenizers.

    pytest benches/bench_encode.py --benchmark-only
    TOKSMITH_CORPORA=/path/to/corpora pytest benches/bench_encode.py --benchmark-only

Each group (one test x encoding x corpus) lists the engines side by side. ``extra_info`` holds
the input size, so MB/s = extra_info["bytes"] / mean / 1e6 (e.g. from --benchmark-json).
Without the corpora (see README.md) the builtin samples from Python's own sources are used, so
this runs anywhere. Every engine's ids are checked against its reference before timing.
"""

from __future__ import annotations

import functools
import os

import pytest

import toksmith

from toolkit import corpus, peers

ENCODINGS = ["o200k_base", "cl100k_base"]
BATCH = 256
THREADS = os.cpu_count() or 1  # every batch engine gets all cores

CORPORA, FELL_BACK = corpus.available_corpora()


@functools.cache
def docs(label: str) -> list[str]:
    return corpus.documents(CORPORA[label])


def single_doc(label: str) -> str:
    ds = docs(label)
    return ds[len(ds) // 2]  # a full-size ~4 KB document from the middle of the file


def batch_docs(label: str) -> list[str]:
    return docs(label)[:BATCH]


# engine -> (reference engine whose ids it must equal, None for a reference)
ENGINES = {"toksmith": "tiktoken", "tiktoken": None, "toksmith-hf": "tokenizers", "tokenizers": None}


@functools.cache
def encoder(engine: str, name: str):
    """(encode one text -> ids, encode a list of texts -> list of ids) for an engine."""
    if engine == "toksmith":
        enc = toksmith.get_encoding(name)
        return enc.encode_ordinary, lambda ts: enc.encode_ordinary_batch(ts, num_threads=THREADS)
    if engine == "tiktoken":
        enc = peers.tiktoken_encoding(name)
        return enc.encode_ordinary, lambda ts: enc.encode_ordinary_batch(ts, num_threads=THREADS)
    # tokenizers' batch uses its rayon pool, which defaults to all cores
    tok = toksmith.Tokenizer.from_str(peers.hf_json(name)) if engine == "toksmith-hf" else peers.hf_tokenizer(name)
    return (lambda t: tok.encode(t, add_special_tokens=False).ids,
            lambda ts: [e.ids for e in tok.encode_batch(ts, add_special_tokens=False)])


def check(engine: str, name: str, got, encode_ref) -> None:
    ref = ENGINES[engine]
    if ref is not None:
        assert got == encode_ref(ref), f"{engine} ids differ from {ref}'s ({name})"


engine_param = pytest.mark.parametrize("engine", list(ENGINES))
encoding_param = pytest.mark.parametrize("name", ENCODINGS)
corpus_param = pytest.mark.parametrize("label", list(CORPORA))


def describe(benchmark, test: str, name: str, label: str, texts: list[str]) -> None:
    benchmark.group = f"{test} | {name} | {label}" + (" (builtin sample)" if FELL_BACK else "")
    benchmark.extra_info.update(bytes=sum(len(t.encode("utf-8")) for t in texts), documents=len(texts),
                                corpus=str(CORPORA[label]))


@corpus_param
@encoding_param
@engine_param
def test_encode_one_doc(benchmark, engine, name, label):
    text = single_doc(label)
    describe(benchmark, "one ~4 KB document", name, label, [text])
    ids = benchmark(encoder(engine, name)[0], text)
    check(engine, name, ids, lambda ref: encoder(ref, name)[0](text))


@corpus_param
@encoding_param
@engine_param
def test_encode_batch(benchmark, engine, name, label):
    texts = batch_docs(label)
    describe(benchmark, f"batch of {len(texts)} documents, {THREADS} thread(s)", name, label, texts)
    ids = benchmark(encoder(engine, name)[1], texts)
    check(engine, name, ids, lambda ref: encoder(ref, name)[1](texts))
