"""A process forked after the engine has used its threads (multiprocessing's default start method
on Linux, PyTorch DataLoader workers) gets working thread pools of its own: every parallel job
finishes in the child, with the same answers."""

from __future__ import annotations

import multiprocessing as mp
import sys

import pytest

import toksmith
from toksmith.lms import NGramLM

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork")

DOCS = ["hello world, the cat sat on the mat. " * 40, "def f(x):\n    return x + 1\n" * 40] * 200
TEXT = ["the cat sat on the mat\n", "the dog sat on the log\n"] * 30


def _work() -> tuple[object, ...]:
    """Each job that runs in parallel threads: batch encode, loading a vocabulary (pair table and
    merges), training, dynamic merging, ByteLM's cover search."""
    enc = toksmith.get_encoding("cl100k_base")
    ids = enc.encode_ordinary_batch(DOCS, num_threads=2)
    tok = toksmith.train_bpe(iterator=iter(TEXT), vocab_size=280, special_tokens=["<e>"], progress=False)
    merged = toksmith.merge_batch(DOCS[:50], enc, merges=5).log
    eos = tok.token_to_id("<e>")
    lm = NGramLM(tok.get_vocab_size(), 2, bos=eos, eos=eos).fit([tok.encode(t).ids for t in TEXT])
    probs = toksmith.ByteLM(tok, lm, eos_token_id=eos, context_tokens=[eos]).next_byte_logprobs(b"the c")
    return ids, tok.to_str(), merged, probs.round(12).tolist()


def _child(queue: mp.Queue) -> None:  # type: ignore[type-arg]
    queue.put(_work())


def test_a_forked_child_runs_every_parallel_job_after_the_parent_did():
    expected = _work()  # the parent's pools now have threads
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=120)  # before join: a child exits only once its result is read
    except Exception:
        child.kill()
        pytest.fail("the forked child hung or failed")
    child.join(30)
    assert child.exitcode == 0
    assert got == expected


def test_tokenizers_and_encodings_pickle_with_their_ids():
    import pickle

    tok = toksmith.Tokenizer.from_file("tests/data/deepseek_v4_small.tokenizer.json")
    enc = toksmith.get_encoding("cl100k_base")
    for obj in (tok, enc, toksmith.train_superbpe(iterator=iter(TEXT), vocab_size=300, transition=280, progress=False)):
        again = pickle.loads(pickle.dumps(obj))
        assert type(again) is type(obj)
        if isinstance(obj, toksmith.Tokenizer):
            assert again.to_str() == obj.to_str()
            assert again.training_report == obj.training_report
            assert again.encode("Hello wörld 123").ids == obj.encode("Hello wörld 123").ids
        else:
            assert again.encode("Hello wörld 123") == obj.encode("Hello wörld 123")
