"""Hugging Face pre-tokenizers (Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation,
CharDelimiterSplit, Split with every behavior, Digits, Sequence) against `tokenizers` itself:
one byte-level BPE trained once, each pre-tokenizer put before its ByteLevel step."""

import pytest
from hypothesis import given

import toksmith

from realtext import documents, samples
from strategies import FRAGMENTS, texts

tokenizers = pytest.importorskip("tokenizers")
from hypothesis import strategies as st  # noqa: E402
from tokenizers import Regex, decoders, models, trainers  # noqa: E402
from tokenizers import pre_tokenizers as pt  # noqa: E402

BEHAVIORS = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]


def _variants():
    out = {
        "whitespace": pt.Whitespace(),
        "whitespace_split": pt.WhitespaceSplit(),
        "bert": pt.BertPreTokenizer(),
        "char_delimiter": pt.CharDelimiterSplit("e"),
        "digits": pt.Digits(individual_digits=True),
        "sequence": pt.Sequence([pt.WhitespaceSplit(), pt.Punctuation("contiguous"), pt.Digits(False)]),
        "nested": pt.Sequence([pt.Sequence([pt.Whitespace()]), pt.CharDelimiterSplit("a")]),
    }
    for b in BEHAVIORS:
        out[f"punctuation_{b}"] = pt.Punctuation(b)
        for invert in (False, True):
            out[f"split_string_{b}_{invert}"] = pt.Split("e ", b, invert=invert)
            out[f"split_regex_{b}_{invert}"] = pt.Split(Regex(r"\s+|\d|[.,]"), b, invert=invert)
    return out


NAMES = list(_variants())


@pytest.fixture(scope="module")
def pairs():
    base = tokenizers.Tokenizer(models.BPE())
    base.pre_tokenizer = pt.ByteLevel(add_prefix_space=False)
    base.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, initial_alphabet=pt.ByteLevel.alphabet(), show_progress=False)
    text = samples(60_000)
    base.train_from_iterator(documents(text["english"][:40_000]) + documents(text["multilingual"]), trainer)
    doc = base.to_str()
    out = {}
    for name, pre in _variants().items():
        theirs = tokenizers.Tokenizer.from_str(doc)
        theirs.pre_tokenizer = pt.Sequence([pre, pt.ByteLevel(add_prefix_space=False, use_regex=False)])
        out[name] = (toksmith.Tokenizer.from_str(theirs.to_str()), theirs)
    return out


def _same(ours, theirs, text):
    a, b = ours.encode(text), theirs.encode(text)
    assert (a.ids, a.tokens, a.offsets) == (b.ids, b.tokens, b.offsets), text
    assert ours.decode(a.ids) == theirs.decode(b.ids)


# Characters each pre-tokenizer treats specially: word joiners (Whitespace's \w has them),
# Unicode punctuation and spaces, numerals of other scripts.
tricky = st.lists(
    st.sampled_from([*FRAGMENTS, "\u200d", "\u200c", "_", "e", "e ", "¿", "«»", "‐", "、", "。", "٫", "²", "Ⅷ", "a_b"]),
    max_size=20,
).map("".join)


@pytest.mark.parametrize("name", NAMES)
@given(text=st.one_of(texts, tricky))
def test_random_text_equals_tokenizers(pairs, name, text):
    _same(*pairs[name], text)


@pytest.mark.parametrize("name", NAMES)
def test_real_text_equals_tokenizers(pairs, name):
    ours, theirs = pairs[name]
    for label, text in samples(20_000).items():
        docs = documents(text, 1000)
        got, want = ours.encode_batch(docs), theirs.encode_batch(docs)
        assert [e.ids for e in got] == [e.ids for e in want], label
        assert [e.offsets for e in got] == [e.offsets for e in want], label


def test_whitespace_word_characters_follow_tokenizers():
    # tokenizers runs Whitespace with the `regex` crate, whose \w has U+200D and not "½"
    # (Oniguruma's differs on both). WordLevel makes each piece one token.
    theirs = tokenizers.Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    theirs.pre_tokenizer = pt.Whitespace()
    ours = toksmith.Tokenizer.from_str(theirs.to_str())
    text = "a👨\u200d👩b ½x"
    expected = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8)]
    assert ours.encode(text).offsets == theirs.encode(text).offsets == expected
