"""Batch dynamic merging: the engine against the naive reference, and its invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith
from toksmith import patterns
from toksmith.reference import dynamic as reference

from realtext import documents, samples

# A tiny vocabulary: bytes, "ab", "ba" and one special token, so many pairs tie.
RANKS = {bytes([b]): b for b in range(256)}
RANKS.update({b"ab": 256, b"ba": 257})
SPECIAL = 258
ENC = toksmith.Encoding("tiny", pat_str=patterns.GPT2, mergeable_ranks=RANKS, special_tokens={"<s>": SPECIAL})
ALPHABET = [ord("a"), ord("b"), ord("c"), ord(" "), 256, 257, SPECIAL]
BYTES = {v: k for k, v in RANKS.items()} | {SPECIAL: b"<s>"}


@st.composite
def batches(draw):
    """Sequences of ids over a tiny alphabet, with non-decreasing word ids."""
    n = draw(st.integers(1, 5))
    seqs, words = [], []
    for _ in range(n):
        seq = draw(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=30))
        steps = draw(st.lists(st.sampled_from([0, 0, 0, 1]), min_size=len(seq), max_size=len(seq)))
        seqs.append(seq)
        words.append(np.cumsum(steps).tolist())
    return seqs, words


def _reference(seqs, words, merges=None, target_length=None):
    return reference.merge_batch(
        [[BYTES[t] for t in s] for s in seqs], words, [[t == SPECIAL for t in s] for s in seqs],
        max_merges=merges, target_length=target_length,
    )


@given(data=batches(), merges=st.one_of(st.none(), st.integers(0, 8)))
def test_engine_equals_reference(data, merges):
    seqs, words = data
    got = toksmith.merge_batch(seqs, ENC, word_ids=words, merges=merges)
    want_seqs, want_log, want_lengths = _reference(seqs, words, merges)
    assert [[(got.vocab[t], s, e) for t, (s, e) in zip(ids.tolist(), spans.tolist())]
            for ids, spans in zip(got.ids, got.spans)] == want_seqs
    assert got.log == want_log
    assert got.curve().tolist() == want_lengths


@given(data=batches(), budget_seed=st.lists(st.integers(0, 12), min_size=5, max_size=5))
def test_replay_with_per_sequence_budgets_equals_reference(data, budget_seed):
    """Sequence i after the first b_i merges of the global log == the reference run for b_i merges."""
    seqs, words = data
    full = toksmith.merge_batch(seqs, ENC, word_ids=words)
    budgets = budget_seed[: len(seqs)]
    ids, spans = full.replay(budgets)
    for i, b in enumerate(budgets):
        want, _, _ = _reference(seqs, words, merges=b)
        got = [(full.vocab[t], s, e) for t, (s, e) in zip(ids[i].tolist(), spans[i].tolist())]
        assert got == want[i]
    same_ids, _ = full.replay(len(full.log))
    assert all((a == b).all() for a, b in zip(same_ids, full.ids))


@given(data=batches(), target=st.integers(1, 60))
def test_target_length_equals_reference(data, target):
    seqs, words = data
    got = toksmith.merge_batch(seqs, ENC, word_ids=words, target_length=target)
    _, want_log, want_lengths = _reference(seqs, words, target_length=target)
    assert got.log == want_log and got.curve().tolist() == want_lengths


@given(data=batches())
def test_invariants(data):
    seqs, words = data
    full = toksmith.merge_batch(seqs, ENC, word_ids=words)
    for i, (seq, ws) in enumerate(zip(seqs, words)):
        # Round trip, spans tile the base sequence, no boundary crossing, specials untouched.
        assert full.decode(i) == b"".join(BYTES[t] for t in seq)
        spans = full.spans[i]
        assert spans[0, 0] == 0 and spans[-1, 1] == len(seq) and (spans[1:, 0] == spans[:-1, 1]).all()
        for s, e in spans.tolist():
            assert len(set(ws[s:e])) == 1
            assert e - s == 1 or SPECIAL not in seq[s:e]
        # Saturation is word-level tokenization (specials stand alone).
        expected_words = []
        for w in sorted(set(ws)):
            members = [t for t, x in zip(seq, ws) if x == w]
            runs, run = [], []
            for t in members:
                if t == SPECIAL:
                    runs += [run, [t]] if run else [[t]]
                    run = []
                else:
                    run.append(t)
            expected_words += runs + ([run] if run else [])
        assert full.tokens(i) == [b"".join(BYTES[t] for t in r) for r in expected_words]
        unmerged = full.base_ids[i]
        assert all(b == (seq[s] if e - s == 1 else -1) for b, (s, e) in zip(unmerged.tolist(), spans.tolist()))
    curve = full.curve()
    assert (np.diff(curve) <= -1).all()
    identity = toksmith.merge_batch(seqs, ENC, word_ids=words, merges=0)
    assert [x.tolist() for x in identity.base_ids] == seqs and identity.log == []
    again = toksmith.merge_batch(seqs, ENC, word_ids=words)
    assert again.log == full.log and all((a == b).all() for a, b in zip(again.ids, full.ids))
    # The merge list for m merges is a prefix of the full one.
    half = toksmith.merge_batch(seqs, ENC, word_ids=words, merges=len(full.log) // 2)
    assert half.log == full.log[: len(half.log)]


def test_texts_with_a_real_tokenizer():
    enc = toksmith.get_encoding("o200k_base")
    docs = documents(samples()["multilingual"], 400)[:20] + ["x <|endoftext|> y", "naïve naïve naïve"]
    for boundaries in ["pretokens", "words"]:
        res = toksmith.merge_batch(docs, enc, boundaries=boundaries)
        for i, doc in enumerate(docs):
            assert res.decode(i) == doc.encode()
            base = enc.encode(doc, allowed_special="all")
            assert res.spans[i][-1, 1] == len(base)
            for b, (s, e) in zip(res.base_ids[i].tolist(), res.spans[i].tolist()):
                assert b == (base[s] if e - s == 1 else -1)
        assert res.curve()[-1] < res.curve()[0]
    # Pre-token boundaries: saturation gives one token per pre-token.
    res = toksmith.merge_batch(["naïve naïve"], enc)
    assert res.tokens(0) == [b"na\xc3\xafve", b" na\xc3\xafve"]
    matrix = res.surface_matrix(4, -1)
    assert matrix.shape == (len(res.vocab), 4)
    assert matrix[res.ids[0][0]].tolist()[:2] == enc.encode("naïve")[:2]
    hf = toksmith.Tokenizer.from_encoding(enc)
    assert toksmith.merge_batch(["naïve naïve"], hf).tokens(0) == res.tokens(0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"batch": [[97, 98]], "word_ids": [[0]]}, "ragged|2 tokens but 1 word ids"),
        ({"batch": [[97, 98]], "word_ids": [[0, 0], [0]]}, "1 sequences but 2 word-id lists"),
        ({"batch": [[97, 10**6]], "boundaries": "words"}, "out of range"),
        ({"batch": [[97, -1]], "boundaries": "words"}, r"\[0, 2\*\*32\)"),
        ({"batch": [[97, 98]], "word_ids": [[1, 0]]}, "must not decrease"),
        ({"batch": [[97, 98]]}, "word_ids"),
        ({"batch": ["text"], "boundaries": "sentences"}, "boundaries must be"),
        ({"batch": ["text"], "target_reduction": 1.5}, "target_reduction"),
    ],
)
def test_bad_input(kwargs, error):
    batch = kwargs.pop("batch")
    with pytest.raises(ValueError, match=error):
        toksmith.merge_batch(batch, ENC, **kwargs)
    with pytest.raises(TypeError):
        toksmith.merge_batch(["text", [1, 2]], ENC)
