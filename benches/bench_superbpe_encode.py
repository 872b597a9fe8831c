"""Encoding with a SuperBPE vocabulary stays linear on long stage-2 chunks (a chunk can be a
whole paragraph): one line of prose without digits, 100 KB to 1 MB, toksmith vs tokenizers.

    pytest benches/bench_superbpe_encode.py --benchmark-only   # pytest-benchmark table
    python benches/bench_superbpe_encode.py                    # seconds per size, both engines
"""

from __future__ import annotations

import functools
import random
import time

import pytest

import toksmith


@functools.lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    import pydoc_data.topics

    text = "".join(pydoc_data.topics.topics.values())
    units = text.splitlines(keepends=True)
    return toksmith.train_superbpe(iterator=units, vocab_size=8192, transition=0.7, progress=False).to_str()


def _one_line(n: int) -> str:
    import pydoc_data.topics

    words = [w for w in " ".join(pydoc_data.topics.topics.values()).split() if not any(c.isdigit() for c in w)]
    rng = random.Random(0)
    out, size = [], 0
    while size < n:
        w = rng.choice(words)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


SIZES = {"100KB": 100_000, "1MB": 1_000_000}


@pytest.mark.parametrize("size", list(SIZES))
def test_toksmith(benchmark, size):
    tok = toksmith.Tokenizer.from_str(_tokenizer_json())
    text = _one_line(SIZES[size])
    benchmark(lambda: tok.encode(text))


@pytest.mark.parametrize("size", list(SIZES))
def test_tokenizers(benchmark, size):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_str(_tokenizer_json())
    text = _one_line(SIZES[size])
    benchmark(lambda: tok.encode(text))


if __name__ == "__main__":
    import tokenizers

    ours = toksmith.Tokenizer.from_str(_tokenizer_json())
    theirs = tokenizers.Tokenizer.from_str(_tokenizer_json())
    for n in [100_000, 200_000, 400_000, 1_000_000]:
        text = _one_line(n)
        row = []
        for name, tok in [("toksmith", ours), ("tokenizers", theirs)]:
            start = time.perf_counter()
            ids = tok.encode(text).ids
            row.append(f"{name} {time.perf_counter() - start:.3f} s")
        assert ours.encode(text).ids == ids
        print(f"{n / 1e6:.1f} MB, one chunk of {len(ids)} tokens: " + ", ".join(row))
