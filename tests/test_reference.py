"""The Rust engine against the pure-Python reference on random small vocabularies."""

import json

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import toksmith
from toksmith import patterns
from toksmith.reference import ReferenceEncoder, bpe_merge_list, bytelevel, onig_to_pcre, pcre_to_onig

ALPHABET = ["a", "b", "c", " ", "\n", "1", "2", "é", "'s", "A", "!"]
PATTERNS = [
    patterns.GPT2,
    patterns.CL100K,
    patterns.O200K,
    patterns.LLAMA3,
    patterns.QWEN2,
    r"\S+|\s+",
    r"[ab]+|(?s:.)",
]
SPECIAL = "<|x|>"


@st.composite
def vocabularies(draw):
    """256 byte tokens plus random concatenations of existing tokens, ranked by creation."""
    tokens = [bytes([b]) for b in range(256)]
    seen = set(tokens)
    letters = [c.encode() for c in "ab c\n1é'sA!"]
    for _ in range(draw(st.integers(0, 60))):
        pool = letters + tokens[256:]
        left, right = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        if left + right not in seen:
            seen.add(left + right)
            tokens.append(left + right)
    return {t: i for i, t in enumerate(tokens)}


text_strategy = st.lists(st.sampled_from(ALPHABET + [SPECIAL]), max_size=40).map("".join)
long_piece = st.integers(65, 400).flatmap(lambda n: st.text(st.sampled_from("ab"), min_size=n, max_size=n))


@given(ranks=vocabularies(), pattern=st.sampled_from(PATTERNS), text=st.one_of(text_strategy, long_piece))
def test_engine_equals_reference(ranks, pattern, text):
    specials = {SPECIAL: len(ranks)}
    ours = toksmith.Encoding("random", pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    ref = ReferenceEncoder(pattern, ranks, specials)
    assert ours.encode_ordinary(text) == ref.encode_ordinary(text)
    ids = ours.encode(text, allowed_special="all")
    assert ids == ref.encode(text, {SPECIAL})
    assert ours.decode_bytes(ids) == ref.decode_bytes(ids) == text.encode()


@given(ranks=vocabularies(), text=st.one_of(text_strategy, long_piece), ignore_merges=st.booleans(), data=st.data())
def test_merge_list_rule_equals_reference(ranks, text, ignore_merges, data):
    """tokenizer.json semantics: only listed merges apply, in list order (which may differ from ids)."""
    import tokenizers

    enc = toksmith.Encoding("random", pat_str=patterns.GPT2, mergeable_ranks=ranks, special_tokens={})
    as_json = json.loads(enc._core.to_hf_str())
    merges = as_json["model"]["merges"]
    order = data.draw(st.permutations(range(len(merges))))
    as_json["model"]["merges"] = [merges[i] for i in order]
    as_json["model"]["ignore_merges"] = ignore_merges
    doc = json.dumps(as_json)
    ours = toksmith.Tokenizer.from_str(doc)
    theirs = tokenizers.Tokenizer.from_str(doc)

    byte_of = {chr(bytelevel.byte_char(b)): b for b in range(256)}
    merge_rank = {}
    for rank, (a, b) in enumerate(as_json["model"]["merges"]):
        merge_rank[(bytes(byte_of[c] for c in a), bytes(byte_of[c] for c in b))] = rank
    vocab = {bytes(byte_of[c] for c in s): i for s, i in as_json["model"]["vocab"].items()}
    expected = []
    for piece in regex.findall(pcre_to_onig(patterns.GPT2), text):
        piece = piece.encode()
        if ignore_merges and piece in vocab:
            expected.append(vocab[piece])
        else:
            expected.extend(vocab[t] for t in bpe_merge_list(piece, merge_rank))
    assert ours.encode(text).ids == expected == theirs.encode(text).ids




@pytest.mark.parametrize(
    "onig, pcre",
    [(r"\p{N}{1,3}+", r"(?:\p{N}{1,3})+"), (r"(ab){2}+|[{]{2}", r"(?:(ab){2})+|[{]{2}"), (r"a{1,3}", r"a{1,3}")],
)
def test_dialect_rewrites(onig, pcre):
    assert onig_to_pcre(onig) == pcre
    assert pcre_to_onig(r"\p{N}{1,3}+") == r"(?>\p{N}{1,3})"
