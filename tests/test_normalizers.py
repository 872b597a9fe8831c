"""tokenizer.json normalizers against Hugging Face tokenizers: same ids, tokens, offsets (in the
original string) and decoding, with normalized and non-normalized added tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith

from realtext import documents, samples
from strategies import FRAGMENTS, any_char

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

# Text that normalizers change: combining marks, compatibility characters, full-width forms,
# Hangul (syllables and conjoining jamo), cased letters with odd lowercase forms, emoji, spaces.
NORMALIZER_FRAGMENTS = [
    "e\u0301", "a\u0308\u0304", "\u0301", "o\u0323\u0302", "\u1e69", "Å", "Å", "Ω", "Ω",
    "ﬁ", "ﬀ", "①", "⑳", "㎏", "™", "½", "ｈｅｌｌｏ", "ＡＢＣ", "１２３", "　", "ｶﾀｶﾅ",
    "한국어", "\u1112\u1161\u11ab", "\u1100\u1161", "\u11a8", "가\u11a8",
    "ΣΑΣ", "İstanbul", "ǅ", "ẞ", "ΐ", "Ⅻ", "HELLO", "Hello World", "hello world",
    "😀", "👍🏽", "🇫🇷", "  ", " ", "\t", "\n", "▁", "x", "Straße",
    # Compatibility forms added after Unicode 9 (tokenizers normalizes with 9.0 tables): unchanged.
    "\U0001fbf1", "\ua7f2", "\U0001e030",
    # For BertNormalizer: controls, format and private-use characters, CJK ideographs.
    "\x00", "\ufffd", "\u200b", "\x07", "\ue000", "\r\n", "中文字", "\U00020001",
]
normalizer_text = st.lists(
    st.one_of(st.sampled_from(NORMALIZER_FRAGMENTS), st.sampled_from(FRAGMENTS), st.text(any_char, max_size=3)),
    max_size=20,
).map("".join)

SPECIALS = ["<|endoftext|>"]
# Added with normalized=True (tokenizers' default for add_tokens): matched in the normalized text.
NORMALIZED_ADDED = ["Hello World", "ﬁ", "café"]


@pytest.fixture(scope="module")
def base():
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=SPECIALS,
        show_progress=False,
    )
    text = samples()
    tok.train_from_iterator(documents(text["english"][:40_000]) + documents(text["multilingual"]), trainer)
    return tok.to_str()


NORMALIZERS = {
    "nfc": lambda: normalizers.NFC(),
    "nfd": lambda: normalizers.NFD(),
    "nfkc": lambda: normalizers.NFKC(),
    "nfkd": lambda: normalizers.NFKD(),
    "lowercase": lambda: normalizers.Lowercase(),
    "strip": lambda: normalizers.Strip(),
    "lstrip": lambda: normalizers.Strip(left=True, right=False),
    "rstrip": lambda: normalizers.Strip(left=False, right=True),
    "strip_accents": lambda: normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
    "sentencepiece": lambda: normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]),
    "replace_regex": lambda: normalizers.Replace(Regex(r"\s+"), " "),
    "replace_delete": lambda: normalizers.Replace(Regex(r"[aeiou]"), ""),
    # tokenizers 0.23 keeps "$1" literally.
    "replace_dollar": lambda: normalizers.Replace(Regex(r"(o)"), "$1$1"),
    "bert_like": lambda: normalizers.Sequence(
        [normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(), normalizers.Strip()]
    ),
    "empty_sequence": lambda: normalizers.Sequence([]),
    "bert": lambda: normalizers.BertNormalizer(),
    "bert_cased": lambda: normalizers.BertNormalizer(lowercase=False),
    "bert_accents_only": lambda: normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False
    ),
}


def _pair(base_json, name, prefix_space=False):
    theirs = tokenizers.Tokenizer.from_str(base_json)
    theirs.normalizer = NORMALIZERS[name]()
    if prefix_space:
        theirs.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    theirs.add_tokens(NORMALIZED_ADDED + [AddedToken("RAW ﬁ", normalized=False)])
    return toksmith.Tokenizer.from_str(theirs.to_str()), theirs


@pytest.fixture(scope="module")
def pairs(base):
    out = {name: _pair(base, name) for name in NORMALIZERS}
    out["nfkc_prefix"] = _pair(base, "nfkc", prefix_space=True)
    return out


def _same(ours, theirs, text):
    a = ours.encode(text)
    b = theirs.encode(text)
    assert a.ids == b.ids, text
    assert a.tokens == b.tokens, text
    assert a.offsets == b.offsets, text
    for skip in (True, False):
        assert ours.decode(a.ids, skip_special_tokens=skip) == theirs.decode(b.ids, skip_special_tokens=skip)


ALL = [*NORMALIZERS, "nfkc_prefix"]


@pytest.mark.parametrize("name", ALL)
def test_examples_equal_tokenizers(pairs, name):
    ours, theirs = pairs[name]
    for text in [
        *NORMALIZER_FRAGMENTS,
        "",
        " Hello World, HELLO WORLD and hello world ",
        "ﬁne ①②③ ｆｕｌｌ ｗｉｄｔｈ<|endoftext|>Café café cafe\u0301 RAW ﬁ raw ﬁ",
        "  leading and trailing  ",
        "  <|endoftext|>  é  <|endoftext|>",
        "é  ",
        "Σ ΣΑΣ σας İİ ǅ ǆ ẞ",
    ]:
        _same(ours, theirs, text)


@pytest.mark.parametrize("name", ALL)
@given(text=normalizer_text)
def test_random_text_equals_tokenizers(pairs, name, text):
    ours, theirs = pairs[name]
    _same(ours, theirs, text)


@pytest.mark.parametrize("name", ["nfc", "nfkc", "lowercase", "sentencepiece", "bert_like", "bert"])
def test_multilingual_sample_equals_tokenizers(pairs, name):
    ours, theirs = pairs[name]
    docs = documents(samples()["multilingual"], size=500)
    got, want = ours.encode_batch(docs), theirs.encode_batch(docs)
    assert [e.ids for e in got] == [e.ids for e in want]
    assert [e.offsets for e in got] == [e.offsets for e in want]
    assert ours.decode_batch([e.ids for e in got]) == theirs.decode_batch([e.ids for e in want])


def test_round_trip_and_no_tiktoken_conversion(pairs, tmp_path):
    ours, _ = pairs["nfkc"]
    again = toksmith.Tokenizer.from_str(ours.to_str())
    assert json.loads(again.to_str())["normalizer"] == {"type": "NFKC"}
    path = tmp_path / "tokenizer.json"
    ours.save(path)
    assert toksmith.Tokenizer.from_file(path).encode("ﬁ①").ids == ours.encode("ﬁ①").ids
    with pytest.raises(ValueError, match="normalizer"):
        ours.to_encoding()
    with pytest.raises(ValueError, match="normalizer"):
        toksmith.ByteLM(ours, lambda prefixes: None)

@pytest.mark.parametrize(
    "normalizer, message",
    [
        ({"type": "Precompiled", "precompiled_charsmap": ""}, "normalizer: unsupported normalizer Precompiled"),
        (
            {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "ByteLevel"}]},
            r"normalizer.normalizers\[1\]: unsupported normalizer ByteLevel",
        ),
        ({"type": "Replace", "pattern": {}, "content": "x"}, r"normalizer.pattern"),
    ],
)
def test_unsupported_normalizers_name_their_path(base, normalizer, message):
    doc = json.loads(base)
    doc["normalizer"] = normalizer
    with pytest.raises(ValueError, match=message):
        toksmith.Tokenizer.from_str(json.dumps(doc))


REAL = Path(__file__).parent / "data" / "deepseek_v4_small.tokenizer.json"


@pytest.mark.parametrize("normalizer", [None, {"type": "NFC"}, {"type": "Sequence", "normalizers": [{"type": "NFKC"}]}])
def test_real_deepseek_file_equals_tokenizers(normalizer):
    """A real released file (cut down): an empty Sequence normalizer and normalized added
    tokens; then with Qwen2's NFC and a NFKC Sequence in its place."""
    doc = json.loads(REAL.read_text(encoding="utf-8"))
    assert doc["normalizer"] == {"type": "Sequence", "normalizers": []}
    if normalizer is not None:
        doc["normalizer"] = normalizer
    text = json.dumps(doc, ensure_ascii=False)
    ours, theirs = toksmith.Tokenizer.from_str(text), tokenizers.Tokenizer.from_str(text)
    fim = "<｜fim▁hole｜>"
    extra = [f"def f():{fim}\n    return 1<｜end▁of▁sentence｜>", "ﬁ①ｈｅｌｌｏ cafe\u0301 한국어 \u1112\u1161\u11ab"]
    docs = documents(samples(30_000)["multilingual"], size=500) + documents(samples(30_000)["python"]) + extra
    got, want = ours.encode_batch(docs), theirs.encode_batch(docs)
    assert [e.ids for e in got] == [e.ids for e in want]
    assert [e.tokens for e in got] == [e.tokens for e in want]
    assert [e.offsets for e in got] == [e.offsets for e in want]
    assert ours.decode_batch([e.ids for e in got]) == theirs.decode_batch([e.ids for e in want])


@given(text=normalizer_text)
def test_real_file_with_nfc_random_text(text):
    doc = json.loads(REAL.read_text(encoding="utf-8"))
    doc["normalizer"] = {"type": "NFC"}
    _same(*_real_pair(json.dumps(doc, ensure_ascii=False)), text)


_REAL_PAIRS: dict[str, tuple[toksmith.Tokenizer, tokenizers.Tokenizer]] = {}


def _real_pair(text):
    if text not in _REAL_PAIRS:
        _REAL_PAIRS[text] = (toksmith.Tokenizer.from_str(text), tokenizers.Tokenizer.from_str(text))
    return _REAL_PAIRS[text]
