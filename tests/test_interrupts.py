"""Long engine calls stop on Ctrl-C: a KeyboardInterrupt within a fraction of a second, with the
process alive (the GIL is released during the work, and the engine checks for signals)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

CHILD = r"""
import random, signal, sys, time, toksmith
# Python's handler even where the test runner was started with SIGINT ignored (a background job).
signal.signal(signal.SIGINT, signal.default_int_handler)
what = sys.argv[1]
enc = toksmith.get_encoding("o200k_base")
rng = random.Random(0)
if what == "batch":
    texts = ["The quick brown fox jumps over the lazy dog. " * 400 + str(i) for i in range(60_000)]
elif what == "count_batch":  # counting repeated text is a cache hit: distinct long words instead
    texts = ["".join(rng.choices("abcdefghij", k=3000)) for _ in range(8000)]
elif what == "mixture":  # many distinct words per category: replaying 100k merges takes seconds
    def words(k):
        return " ".join("".join(rng.choice("abcdefghijklmnop"[k:k + 8]) for _ in range(rng.randint(3, 9)))
                        for _ in range(12))
    categories = {f"c{k}": ["\n".join(words(k) for _ in range(20_000))] for k in range(4)}
else:  # long words of random letters: merging them to saturation takes a while
    texts = ["".join(rng.choice("abcdefghij") for _ in range(3000)) for _ in range(600)]
print("ready", flush=True)
start = time.perf_counter()
try:
    if what == "batch":
        enc.encode_ordinary_batch(texts, num_threads=2)
    elif what == "count_batch":
        enc.count_batch(texts, num_threads=2)
    elif what == "mixture":
        from toksmith import mixture
        mixture.replay(enc, categories, merges=100_000)
    else:
        toksmith.merge_batch(texts, enc)
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.perf_counter() - start:.2f}", flush=True)
"""


@pytest.mark.parametrize("what", ["batch", "count_batch", "merge_batch", "mixture"])
def test_long_calls_stop_on_ctrl_c(what):
    child = subprocess.Popen([sys.executable, "-c", CHILD, what], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.perf_counter()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    waited = time.perf_counter() - sent
    assert child.returncode == 0
    assert out.startswith("interrupted"), out
    assert waited < 5, f"took {waited:.1f} s to stop"
