"""Models other than byte-level BPE, with their decoders and post-processors, against `tokenizers`
itself: WordPiece (BERT-style files), WordLevel, BPE over characters as SentencePiece
conversions write it (Metaspace, byte_fallback, unk_token + fuse_unk), BPE with a
continuing-subword prefix and end-of-word suffix, and Unigram (with and without byte_fallback).
Tokenizers are trained by `tokenizers` on shipped text, saved to JSON and loaded by toksmith."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith

from realtext import documents, samples
from strategies import FRAGMENTS, texts

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import decoders, models, normalizers, processors, trainers  # noqa: E402
from tokenizers import pre_tokenizers as pt  # noqa: E402

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def _corpus():
    text = samples(80_000)
    return documents(text["english"][:50_000]) + documents(text["multilingual"][:50_000])


def _wordpiece(corpus):
    tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pt.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=1500, special_tokens=["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=200, show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1))
    return tok


def _wordlevel(corpus):
    tok = tokenizers.Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pt.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=1500, special_tokens=["[UNK]"], show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def _sentencepiece_bpe(corpus):
    """A Llama-2-style file: Metaspace, byte-fallback tokens in the vocabulary, fused unknowns."""
    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pt.Metaspace(prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>", *BYTE_TOKENS], limit_alphabet=150, show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)]
    )
    doc = json.loads(tok.to_str())
    # Byte tokens are ordinary vocabulary entries in converted files, not added tokens.
    doc["added_tokens"] = [a for a in doc["added_tokens"] if a["content"] not in BYTE_TOKENS]
    return doc


def _affixes(corpus):
    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pt.Whitespace()
    tok.decoder = decoders.BPEDecoder()
    trainer = trainers.BpeTrainer(
        vocab_size=1200, special_tokens=["<unk>"], continuing_subword_prefix="##", end_of_word_suffix="</w>",
        limit_alphabet=150, show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    return tok


def _bpe_affix(corpus, prefix, suffix, ignore_merges):
    affixes = {k: v for k, v in [("continuing_subword_prefix", prefix), ("end_of_word_suffix", suffix)] if v}
    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>", ignore_merges=ignore_merges, **affixes))
    tok.normalizer = normalizers.NFKD()
    tok.pre_tokenizer = pt.Sequence([pt.Punctuation("merged_with_next"), pt.WhitespaceSplit()])
    tok.decoder = decoders.BPEDecoder(suffix=suffix or "</w>")
    trainer = trainers.BpeTrainer(
        vocab_size=700, special_tokens=["<unk>"], limit_alphabet=120, show_progress=False, **affixes
    )
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens(["the", tokenizers.AddedToken("ing", normalized=False)])
    return tok.to_str()


def _wordlevel_decoders(corpus):
    tok = tokenizers.Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pt.Sequence([pt.CharDelimiterSplit(" "), pt.Digits(True), pt.Punctuation()])
    trainer = trainers.WordLevelTrainer(vocab_size=900, special_tokens=["[UNK]"], show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens(["hello", tokenizers.AddedToken("WORLD", normalized=False)])
    tok.decoder = decoders.Sequence(
        [decoders.Replace(tokenizers.Regex("a+"), "A"), decoders.Strip("A", 1, 0), decoders.Fuse()]
    )
    return tok.to_str()


def _stripped_added(doc):
    """Added tokens that take in the whitespace around them, or match only as whole words,
    matched in the raw text and in the normalized text."""
    tok = tokenizers.Tokenizer.from_str(doc)
    tok.normalizer = normalizers.Lowercase()
    added = tokenizers.AddedToken
    tok.add_special_tokens([added("<mask>", lstrip=True, normalized=False)])
    tok.add_tokens([
        added("[x]", rstrip=True, normalized=True),
        added("qqz", single_word=True),
        added("ab", lstrip=True, rstrip=True, single_word=True, normalized=False),
    ])
    return tok.to_str()


def _unigram(corpus, pre_tokenizer, byte_fallback):
    tok = tokenizers.Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.Sequence([decoders.Metaspace(), decoders.ByteFallback()])
    specials = ["<unk>", *(BYTE_TOKENS if byte_fallback else [])]
    trainer = trainers.UnigramTrainer(
        vocab_size=800, special_tokens=specials, unk_token="<unk>", max_piece_length=8, show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    doc = json.loads(tok.to_str())
    doc["model"]["byte_fallback"] = byte_fallback
    doc["added_tokens"] = [a for a in doc["added_tokens"] if a["content"] not in BYTE_TOKENS]
    if byte_fallback:
        # As in SentencePiece files: byte pieces score below every learned piece.
        low = min(score for _, score in doc["model"]["vocab"]) - 1
        doc["model"]["vocab"] = [[t, low if t in BYTE_TOKENS else s] for t, s in doc["model"]["vocab"]]
    return json.dumps(doc)


def _variants():
    corpus = _corpus()
    wordpiece = _wordpiece(corpus)
    out = {
        "wordpiece": wordpiece.to_str(),
        "wordlevel": _wordlevel(corpus).to_str(),
        "affixes": _affixes(corpus).to_str(),
    }
    wp = json.loads(out["wordpiece"])
    wp["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True}],
    }
    wp["decoder"] = {"type": "WordPiece", "prefix": "##", "cleanup": False}
    wp["model"]["continuing_subword_prefix"] = "##"
    out["wordpiece_no_cleanup"] = json.dumps(wp)
    sp = _sentencepiece_bpe(corpus)
    out["sp"] = json.dumps(sp)
    # `first` means the piece that starts the input: not after an added token, nor once a
    # normalizer has stripped the input's start.
    strip = tokenizers.Tokenizer.from_str(out["sp"])
    strip.normalizer = normalizers.Sequence([normalizers.Strip(right=False), normalizers.Lowercase()])
    strip.pre_tokenizer = pt.Metaspace(prepend_scheme="first", split=True)
    added = ["ab", tokenizers.AddedToken("Café", normalized=False), tokenizers.AddedToken(" x", normalized=True)]
    strip.add_tokens(added)
    out["sp_strip_first"] = strip.to_str()
    for scheme in ["first", "always", "never"]:
        for split in (True, False):
            sp["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
            sp["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
            out[f"metaspace_{scheme}_{split}"] = json.dumps(sp)
    # Older conversions: the normalizer adds the prefix and replaces spaces, no pre-tokenizer.
    sp["pre_tokenizer"] = None
    sp["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    sp["decoder"] = json.loads(out["sp"])["decoder"]
    out["sp_legacy"] = json.dumps(sp)
    sp["model"]["byte_fallback"] = False
    sp["model"]["fuse_unk"] = False
    sp["model"]["ignore_merges"] = True
    sp["decoder"] = None
    out["sp_unk_no_decoder"] = json.dumps(sp)
    out["prefix_only"] = _bpe_affix(corpus, "##", None, False)
    out["suffix_only"] = _bpe_affix(corpus, None, "</w>", False)
    out["affixes_ignore_merges"] = _bpe_affix(corpus, "##", "</w>", True)
    out["wordlevel_decoders"] = _wordlevel_decoders(corpus)
    out["stripped_added"] = _stripped_added(out["sp"])
    out["unigram"] = _unigram(corpus, pt.Metaspace(), byte_fallback=False)
    out["unigram_bytes"] = _unigram(
        corpus, pt.Sequence([pt.WhitespaceSplit(), pt.Metaspace(prepend_scheme="first")]), byte_fallback=True
    )
    return out


@pytest.fixture(scope="module")
def pairs():
    docs = _variants()
    return {name: (toksmith.Tokenizer.from_str(doc), tokenizers.Tokenizer.from_str(doc)) for name, doc in docs.items()}


NAMES = [
    "wordpiece", "wordpiece_no_cleanup", "wordlevel", "affixes", "sp", "sp_legacy", "sp_unk_no_decoder",
    "unigram", "unigram_bytes", "sp_strip_first",
    "prefix_only", "suffix_only", "affixes_ignore_merges", "wordlevel_decoders", "stripped_added",
    *[f"metaspace_{s}_{split}" for s in ["first", "always", "never"] for split in (True, False)],
]


def _same(ours, theirs, text, pair=None):
    for special in (True, False):
        a = ours.encode(text, pair, add_special_tokens=special)
        b = theirs.encode(text, pair, add_special_tokens=special)
        assert a.ids == b.ids, text
        assert a.tokens == b.tokens, text
        assert a.offsets == b.offsets, text
        assert a.type_ids == b.type_ids
        assert a.special_tokens_mask == b.special_tokens_mask
        for skip in (True, False):
            assert ours.decode(a.ids, skip_special_tokens=skip) == theirs.decode(b.ids, skip_special_tokens=skip)
        if pair is None:
            assert ours.count(text, add_special_tokens=special) == len(b.ids)


# Unknown characters next to known ones (fused or not), spaces and the metaspace character.
TRICKY = [
    *FRAGMENTS, "▁", " ▁", "▁▁", "☃", "☃☃", "𝔘", "x", " x", "ab", " ab ", "Café", "unaffable", "<s>", "[SEP]", "[UNK]",
    "<mask>", "  <mask>", "[X]  ", "qqz", "_qqz", "qqzs", "a qqz.",
]
tricky = st.lists(st.sampled_from(TRICKY), max_size=20).map("".join)


@pytest.mark.parametrize("name", NAMES)
@given(text=st.one_of(texts, tricky))
def test_random_text_equals_tokenizers(pairs, name, text):
    _same(*pairs[name], text)


@given(text=texts, pair=texts)
def test_pairs_equal_tokenizers(pairs, text, pair):
    _same(*pairs["wordpiece"], text, pair)
    _same(*pairs["sp"], text, pair)


@pytest.mark.parametrize("name", NAMES)
def test_real_text_equals_tokenizers(pairs, name):
    ours, theirs = pairs[name]
    for label, text in samples(20_000).items():
        docs = documents(text, 1000)
        got, want = ours.encode_batch(docs), theirs.encode_batch(docs)
        assert [e.ids for e in got] == [e.ids for e in want], label
        assert [e.offsets for e in got] == [e.offsets for e in want], label
        assert [e.tokens for e in got] == [e.tokens for e in want], label
        assert ours.decode_batch([e.ids for e in got]) == theirs.decode_batch([e.ids for e in want]), label


@pytest.mark.parametrize("name", ["wordpiece", "sp", "unigram"])
def test_streaming_decode_is_refused_where_the_decoder_looks_at_neighbours(pairs, name):
    with pytest.raises(toksmith.UnsupportedError, match="streaming decode needs the ByteLevel decoder"):
        pairs[name][0].decoder()


def test_byte_fallback_and_unknowns_are_exercised(pairs):
    # The vocabulary's alphabet is limited: rare characters go to <0xNN> tokens or to <unk>.
    ours, theirs = pairs["sp"]
    enc = ours.encode("snow ☃ and 𝔘")
    assert any(t.startswith("<0x") for t in enc.tokens)
    assert ours.decode(enc.ids) == theirs.decode(enc.ids) == "snow ☃ and 𝔘"
    ours, theirs = pairs["sp_unk_no_decoder"]
    assert "<unk>" in ours.encode("☃☃ x").tokens
    ours, theirs = pairs["unigram"]
    enc = ours.encode("x ☃☃ y")
    # A fused unknown run shows its own text, with the unknown id.
    assert list(zip(enc.tokens, enc.ids))[3] == ("☃☃", 0)
    assert enc.tokens == theirs.encode("x ☃☃ y").tokens
    ours, theirs = pairs["unigram_bytes"]
    assert ours.encode("☃").tokens == theirs.encode("☃").tokens == ["▁", "<0xE2>", "<0x98>", "<0x83>"]
    ours, theirs = pairs["wordpiece"]
    long_word = "a" * 13  # past max_input_chars_per_word
    ours_tokens = ours.encode(long_word, add_special_tokens=False).tokens
    assert ours_tokens == theirs.encode(long_word, add_special_tokens=False).tokens == ["[UNK]"]


def test_metaspace_first_prefixes_only_the_start_of_the_input(pairs):
    ours, theirs = pairs["sp_strip_first"]
    for text, first in [("hello", "▁"), ("  hello", "h"), ("ab hello", "ab"), ("Café hello", "Café")]:
        tokens = ours.encode(text, add_special_tokens=False).tokens
        assert tokens == theirs.encode(text, add_special_tokens=False).tokens
        assert tokens[0].startswith(first), (text, tokens)
    # After an added token the space is replaced, but no prefix is added.
    assert ours.encode("ab hello", add_special_tokens=False).tokens[1].startswith("▁")
    assert ours.encode("abhello", add_special_tokens=False).tokens[1] != "▁"


def test_added_tokens_take_in_whitespace_and_match_whole_words(pairs):
    ours, theirs = pairs["stripped_added"]
    for text, token, span in [
        ("a  <mask> b", "  <mask>", (1, 9)),  # lstrip: the spaces before, shown in the token
        ("a [X]  b", "[x]  ", (2, 7)),  # rstrip, matched in the lowercased text
        ("a qqz.", "qqz", (2, 5)),
    ]:
        enc = ours.encode(text, add_special_tokens=False)
        assert enc.tokens == theirs.encode(text, add_special_tokens=False).tokens
        assert enc.offsets == theirs.encode(text, add_special_tokens=False).offsets
        assert (token, span) in zip(enc.tokens, enc.offsets), enc.tokens
    # single_word: no match inside a word.
    qqz = ours.token_to_id("qqz")
    assert qqz in ours.encode("a qqz", add_special_tokens=False).ids
    assert qqz not in ours.encode("aqqz qqz_", add_special_tokens=False).ids


def test_missing_unk_token_is_an_error_like_tokenizers(pairs):
    doc = json.loads(pairs["wordlevel"][1].to_str())
    doc["model"]["unk_token"] = "<nope>"
    ours, theirs = toksmith.Tokenizer.from_str(json.dumps(doc)), tokenizers.Tokenizer.from_str(json.dumps(doc))
    assert ours.encode("the").ids == theirs.encode("the").ids
    with pytest.raises(Exception, match="Missing .* token"):  # noqa: B017 (tokenizers raises a bare Exception)
        theirs.encode("☃")
    with pytest.raises(ValueError, match="unk_token"):
        ours.encode("☃")


@pytest.mark.parametrize(
    "name, model", [("wordpiece", "WordPiece"), ("sp", "BPE over characters"), ("unigram", "Unigram")]
)
def test_no_tiktoken_conversion(pairs, name, model):
    ours, _ = pairs[name]
    with pytest.raises(ValueError, match=f"byte-level BPE only, and this tokenizer's model is {model}"):
        ours.to_encoding()


@pytest.mark.parametrize(
    "model, message",
    [
        ({"type": "Tiktoken", "vocab": {}}, "model: unsupported model type Tiktoken"),
        (
            {"type": "Unigram", "vocab": [["a", 0.0], ["a", -1.0]], "unk_id": 0},
            r"model.vocab\[1\]: token .a. appears twice",
        ),
        ({"type": "Unigram", "vocab": [["a", "high"]]}, r"model.vocab\[0\]: expected a score"),
        ({"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 1}, "model.unk_id"),
        (
            {
                "type": "BPE", "vocab": {"a": 0, "##b": 1}, "merges": [],
                "byte_fallback": True, "continuing_subword_prefix": "##",
            },
            "model.byte_fallback",
        ),
        ({"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}, "model.unk_token"),
        ({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}, r"model.merges\[0\]"),
    ],
)
def test_unsupported_or_broken_models_name_the_field(model, message):
    doc = {"model": model, "pre_tokenizer": {"type": "Whitespace"}}
    with pytest.raises(ValueError, match=message):
        toksmith.Tokenizer.from_str(json.dumps(doc))


REAL_WORDPIECE = __import__("pathlib").Path(__file__).parent / "data" / "all_minilm_l6_v2_small.tokenizer.json"


@pytest.fixture(scope="module")
def real_wordpiece():
    return toksmith.Tokenizer.from_file(REAL_WORDPIECE), tokenizers.Tokenizer.from_file(str(REAL_WORDPIECE))


def test_real_wordpiece_file_on_real_text(real_wordpiece):
    ours, theirs = real_wordpiece
    for label, text in samples(40_000).items():
        docs = documents(text, 800)
        got, want = ours.encode_batch(docs), theirs.encode_batch(docs)
        assert [e.ids for e in got] == [e.ids for e in want], label
        assert [e.tokens for e in got] == [e.tokens for e in want], label
        assert [e.offsets for e in got] == [e.offsets for e in want], label
        assert ours.decode_batch([e.ids for e in got]) == theirs.decode_batch([e.ids for e in want]), label
    # The cut vocabulary (5,000 of 30,522 tokens) splits even common words.
    assert ours.encode("Hello, unaffable World!").tokens == [
        "[CLS]", "hell", "##o", ",", "un", "##a", "##ff", "##able", "world", "!", "[SEP]"
    ]


@given(text=texts, pair=texts)
def test_real_wordpiece_file_on_random_text(real_wordpiece, text, pair):
    _same(*real_wordpiece, text)
    _same(*real_wordpiece, text, pair)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_decoding_any_ids_equals_tokenizers(pairs, name, data):
    # Arbitrary id sequences reach decoder cases that encodings do not: stray <0xNN> bytes
    # (invalid UTF-8), continuation pieces first, lone metaspaces, special tokens in between.
    ours, theirs = pairs[name]
    size = theirs.get_vocab_size()
    ids = data.draw(st.lists(st.integers(0, size - 1), max_size=12))
    for skip in (True, False):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip), ids


def test_merges_of_character_bpe_are_the_files(pairs):
    ours, theirs = pairs["sp"]
    listed = json.loads(theirs.to_str())["model"]["merges"]
    assert ours.merges == [(a.encode(), b.encode()) for a, b in listed]
    assert pairs["wordpiece"][0].merges == []


def test_dynamic_merging_refuses_models_over_text(pairs):
    ours, _ = pairs["wordpiece"]
    with pytest.raises(ValueError, match="dynamic merging needs a byte-level BPE tokenizer; .* WordPiece"):
        toksmith.merge_batch(["hello world"], ours, merges=1)
    with pytest.raises(ValueError, match="byte-level BPE"):
        toksmith.merge_batch([[5, 6]], pairs["unigram"][0], merges=1, word_ids=[[0, 1]])
