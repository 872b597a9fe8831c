"""Hypothesis state machines on the Python surface: long random sequences of calls (good and bad)
on loaders, encode/decode, merge_batch and ByteLM states. A bad call must raise a typed
``toksmith.ToksmithError`` and leave every object working and exact afterwards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

import toksmith
from toksmith import patterns
from toksmith.lms import NGramLM
from toksmith.reference import dynamic as reference_dynamic

from strategies import texts
from toolkit import peers

SPECIAL = "<|endoftext|>"
TRAINING_TEXT = ["the cat sat on the mat\n", "def f(x):\n    return x + 1\n", "naïve café über 12345\n"] * 10


def _forms() -> list[toksmith.Encoding]:
    """cl100k_base as bundled, saved and reloaded as ``.tiktoken`` and as ``tokenizer.json``, and
    converted through a ``Tokenizer`` (loaded once: each takes a fraction of a second)."""
    import tempfile
    from pathlib import Path

    enc = toksmith.get_encoding("cl100k_base")
    with tempfile.TemporaryDirectory() as tmp:
        ranks, doc = Path(tmp) / "v.tiktoken", Path(tmp) / "v.json"
        enc.save_tiktoken(str(ranks))
        enc.save(str(doc))
        return [
            enc,
            toksmith.Encoding.from_tiktoken_file(ranks, pat_str=enc.pattern, special_tokens=enc._special_tokens,
                                                 name="from_tiktoken"),
            toksmith.Tokenizer.from_file(doc).to_encoding("from_json"),
            enc.to_tokenizer().to_encoding("converted"),
        ]


# Built once: every machine run shares them (they are immutable; the machines test that).
FORMS = _forms()
TIKTOKEN = peers.tiktoken_encoding("cl100k_base")
TINY = toksmith.train_bpe(iterator=iter(TRAINING_TEXT), vocab_size=300, special_tokens=[SPECIAL], progress=False)
bad_ids = st.one_of(st.integers(min_value=-(2**70), max_value=-1), st.integers(min_value=300_000, max_value=2**70))
bad_values = st.one_of(st.none(), st.floats(allow_nan=True), st.binary(max_size=4), st.just([b"x"]), st.just({"a": 1}))


class EncodingMachine(RuleBasedStateMachine):
    """Interleaves encodes, decodes and bad calls on cl100k_base in each of its loaded forms and
    on a trained tokenizer (round-tripped through ``tokenizer.json`` text): every form gives
    tiktoken's ids, and no error breaks an object."""

    encodings = Bundle("encodings")
    tokenizers = Bundle("tokenizers")

    @initialize(target=encodings, enc=st.sampled_from(FORMS))
    def loaded(self, enc: toksmith.Encoding) -> toksmith.Encoding:
        return enc

    @initialize(target=tokenizers)
    def trained(self) -> toksmith.Tokenizer:
        return TINY

    @rule(target=encodings, enc=st.sampled_from(FORMS))
    def another_form(self, enc: toksmith.Encoding) -> toksmith.Encoding:
        return enc

    @rule(target=tokenizers, tok=tokenizers)
    def tokenizer_round_trip(self, tok: toksmith.Tokenizer) -> toksmith.Tokenizer:
        return toksmith.Tokenizer.from_str(tok.to_str())

    @rule(enc=encodings, text=texts)
    def encode_is_tiktokens(self, enc: toksmith.Encoding, text: str) -> None:
        ids = enc.encode(text, disallowed_special=())
        assert ids == TIKTOKEN.encode(text, disallowed_special=())
        assert enc.decode(ids) == text

    @rule(enc=encodings, batch=st.lists(texts, max_size=6), threads=st.sampled_from([None, 1, 2, 3, 64]))
    def batch_is_tiktokens(self, enc: toksmith.Encoding, batch: list[str], threads: int | None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # more threads than cores: clamped
            got = enc.encode_ordinary_batch(batch, num_threads=threads)
        assert got == [TIKTOKEN.encode_ordinary(t) for t in batch]

    @rule(tok=tokenizers, text=texts)
    def tokenizer_round_trips(self, tok: toksmith.Tokenizer, text: str) -> None:
        out = tok.encode(text)
        assert tok.decode(out.ids, skip_special_tokens=False) == text
        assert out.offsets == sorted(out.offsets)

    @rule(enc=encodings, ids=st.lists(bad_ids, min_size=1, max_size=3))
    def decode_out_of_range_is_refused(self, enc: toksmith.Encoding, ids: list[int]) -> None:
        with pytest.raises(toksmith.ToksmithError):
            enc.decode(ids)

    @rule(enc=encodings, value=bad_values)
    def wrong_types_are_refused(self, enc: toksmith.Encoding, value: object) -> None:
        with pytest.raises(toksmith.ToksmithError):
            enc.encode_ordinary_batch(value)  # type: ignore[arg-type]
        if not isinstance(value, (list, bytes)):
            with pytest.raises(toksmith.ToksmithError):
                enc.decode(value)  # type: ignore[arg-type]

    @rule(enc=encodings, text=st.text(max_size=10))
    def special_text_is_refused_unless_allowed(self, enc: toksmith.Encoding, text: str) -> None:
        with pytest.raises(toksmith.ToksmithError):
            enc.encode(text + SPECIAL)
        ids = enc.encode(text + SPECIAL, allowed_special="all")
        assert ids[-1] == TIKTOKEN.encode(SPECIAL, allowed_special="all")[0]


# merge_batch: bytes, "ab", "ba" and a special token, so that many pairs tie.
RANKS = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"ba": 257}
TIES = toksmith.Encoding("ties", pat_str=patterns.GPT2, mergeable_ranks=RANKS, special_tokens={"<s>": 258})
TIE_BYTES = {v: k for k, v in RANKS.items()} | {258: b"<s>"}
tie_ids = st.sampled_from([ord("a"), ord("b"), ord(" "), 256, 257, 258])


class MergeBatchMachine(RuleBasedStateMachine):
    """Grows a batch one id sequence at a time (with its words) and merges it with random
    budgets: equal to the pure-Python reference, lossless, each merge log a prefix of the next,
    and a refused call changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.seqs: list[list[int]] = []
        self.words: list[list[int]] = []

    @rule(seq=st.lists(tie_ids, max_size=20), data=st.data())
    def add(self, seq: list[int], data: st.DataObject) -> None:
        steps = data.draw(st.lists(st.sampled_from([0, 0, 1]), min_size=len(seq), max_size=len(seq)))
        self.seqs.append(seq)
        self.words.append(np.cumsum(steps).tolist())

    @rule(value=bad_values)
    def bad_batch_is_refused(self, value: object) -> None:
        with pytest.raises(toksmith.ToksmithError):
            toksmith.merge_batch(value, TIES, merges=1)  # type: ignore[arg-type]

    @precondition(lambda self: len(self.seqs) > 0)
    @rule(extra=st.integers(min_value=1, max_value=3))
    def ragged_word_ids_are_refused(self, extra: int) -> None:
        words = [w + [0] * extra for w in self.words]
        with pytest.raises(toksmith.ToksmithError):
            toksmith.merge_batch(self.seqs, TIES, word_ids=words)

    @rule(merges=st.integers(min_value=0, max_value=12))
    def merge(self, merges: int) -> None:
        got = toksmith.merge_batch(self.seqs, TIES, word_ids=self.words, merges=merges)
        _, log, lengths = reference_dynamic.merge_batch(
            [[TIE_BYTES[t] for t in s] for s in self.seqs], self.words,
            [[t == 258 for t in s] for s in self.seqs], max_merges=merges,
        )
        assert got.log == log
        assert got.curve().tolist() == lengths
        for i, seq in enumerate(self.seqs):
            assert got.decode(i) == b"".join(TIE_BYTES[t] for t in seq)
        more = toksmith.merge_batch(self.seqs, TIES, word_ids=self.words, merges=merges + 1)
        assert more.log[: len(got.log)] == got.log


ALPHABET = b"the cat\ndf(x):1\xc3\xa9\xff"


class ByteLMMachine(RuleBasedStateMachine):
    """Pushes random bytes (valid or not) into a ByteLM state and pops some: after every step its
    next-byte distribution equals a fresh state's for the same bytes and sums to 1; a refused
    push (a byte of probability 0) leaves the state as it was."""

    def __init__(self) -> None:
        super().__init__()
        eot = TINY.token_to_id(SPECIAL)
        lm = NGramLM(TINY.get_vocab_size(), 2, bos=eot, eos=eot).fit(
            [TINY.encode(t, add_special_tokens=False).ids for t in TRAINING_TEXT]
        )
        self.blm = toksmith.ByteLM(TINY, lm, eos_token_id=eot, context_tokens=[eot])
        self.state = self.blm.state(b"")
        self.data = b""

    @rule(value=st.integers(min_value=-3, max_value=-1))
    def bad_pop_is_refused(self, value: int) -> None:
        with pytest.raises(toksmith.ToksmithError):
            self.state.pop(value)
        with pytest.raises(toksmith.ToksmithError):
            self.state.pop(len(self.data) + 1)

    @rule(data=st.binary(min_size=1, max_size=3).filter(lambda d: set(d) <= set(ALPHABET)))
    def push(self, data: bytes) -> None:
        before = self.state.logprobs()
        try:
            self.state.push(data)
        except toksmith.InvalidInputError:
            assert self.state.data == self.data  # all or none
            assert np.array_equal(self.state.logprobs(), before)
            assert len(data) > 1 or before[data[0]] == -np.inf
        else:
            assert before[data[0]] > -np.inf
            self.data += data

    @precondition(lambda self: len(self.data) > 0)
    @rule(n=st.integers(min_value=1, max_value=4))
    def pop(self, n: int) -> None:
        n = min(n, len(self.data))
        self.state.pop(n)
        self.data = self.data[:-n]
        assert self.state.data == self.data

    @rule(value=bad_values)
    def bad_push_is_refused(self, value: object) -> None:
        if isinstance(value, bytes):
            return
        with pytest.raises(toksmith.ToksmithError):
            self.state.push(value)  # type: ignore[arg-type]

    @precondition(lambda self: len(self.data) > 0)
    @invariant()
    def equals_a_fresh_state(self) -> None:
        incremental = self.state.logprobs()
        assert abs(np.logaddexp.reduce(incremental)) < 1e-9
        fresh = self.blm.state(self.data).logprobs()
        np.testing.assert_allclose(np.exp(incremental), np.exp(fresh), atol=1e-12)


# Examples as the profile of tests/conftest.py says; steps per example bounded.
_bounded = settings(stateful_step_count=20)
TestEncodingMachine = EncodingMachine.TestCase
TestEncodingMachine.settings = _bounded
TestMergeBatchMachine = MergeBatchMachine.TestCase
TestMergeBatchMachine.settings = _bounded
TestByteLMMachine = ByteLMMachine.TestCase
TestByteLMMachine.settings = _bounded
