"""Adversarial inputs stay linear: 1 MB of one character, of spaces, of digits, of one emoji, of
random code points, against 100 KB of the same.

    pytest benches/bench_adversarial.py --benchmark-only     # pytest-benchmark table
    python benches/bench_adversarial.py                      # time(1 MB) / time(100 KB) per input
"""

from __future__ import annotations

import random
import time

import pytest

import toksmith


def _random_code_points(n: int) -> str:
    rng = random.Random(0)
    out = []
    while len(out) < n:
        c = rng.randrange(0x20, 0x10FFFF)
        if not 0xD800 <= c < 0xE000:
            out.append(chr(c))
    return "".join(out)


KINDS = {
    "a": lambda n: "a" * n,
    "spaces": lambda n: " " * n,
    "digits": lambda n: "7" * n,
    "emoji": lambda n: "😀" * (n // 4),
    "newlines+spaces": lambda n: " \n" * (n // 2),
    "random code points": lambda n: _random_code_points(n // 3),
}
SIZES = {"100KB": 100_000, "1MB": 1_000_000}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_adversarial(benchmark, name, kind, size):
    enc = toksmith.get_encoding(name)
    text = KINDS[kind](SIZES[size])
    benchmark.group = f"{name} {kind}"
    benchmark.extra_info["bytes"] = len(text.encode())
    ids = benchmark(enc.encode_ordinary, text)
    assert enc.decode(ids) == text


def main() -> None:
    print("| encoding | input | 100 KB | 1 MB | ratio (10 = linear) |\n|---|---|---:|---:|---:|")
    for name in ["o200k_base", "cl100k_base"]:
        enc = toksmith.get_encoding(name)
        for kind, make in KINDS.items():
            times = {}
            for label, n in SIZES.items():
                text = make(n)
                best = float("inf")
                for _ in range(3):
                    t = time.perf_counter()
                    enc.encode_ordinary(text)
                    best = min(best, time.perf_counter() - t)
                times[label] = best
            ratio = times["1MB"] / times["100KB"]
            print(f"| {name} | {kind} | {1000 * times['100KB']:.1f} ms | {1000 * times['1MB']:.1f} ms | {ratio:.1f} |")


if __name__ == "__main__":
    main()
