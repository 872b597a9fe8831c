"""toksmith.Tokenizer against Hugging Face tokenizers: same ids, tokens and offsets."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith
from toksmith import patterns

from realtext import documents, samples
from strategies import texts
from toolkit import peers

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import decoders, models, pre_tokenizers, processors, trainers  # noqa: E402


def _train(pre_tokenizer, vocab_size=1500, specials=("<|endoftext|>",), post=None, added=()):
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(specials),
        show_progress=False,
    )
    text = samples()
    tok.train_from_iterator(documents(text["english"][:150_000]) + documents(text["multilingual"]), trainer)
    if post is not None:
        tok.post_processor = post
    if added:
        tok.add_tokens(list(added))
    return tok


def _variants():
    """Tokenizers covering the supported pipeline components, built by `tokenizers` itself."""
    byte_level = pre_tokenizers.ByteLevel
    llama = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(tokenizers.Regex(patterns.LLAMA3), behavior="isolated"),
            byte_level(False, use_regex=False),
        ]
    )
    template = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)]
    )
    return {
        "gpt2": _train(byte_level(add_prefix_space=False), post=processors.ByteLevel(trim_offsets=True)),
        "gpt2_prefix": _train(byte_level(add_prefix_space=True), post=processors.ByteLevel(trim_offsets=True)),
        "llama3": _train(
            llama,
            specials=("<|endoftext|>", "<s>"),
            post=processors.Sequence([processors.ByteLevel(trim_offsets=False), template]),
            added=("hello world", "ünï"),
        ),
        "roberta": _train(
            pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), byte_level(add_prefix_space=True)]),
            specials=("<s>", "</s>"),
            post=processors.RobertaProcessing(("</s>", 1), ("<s>", 0), trim_offsets=True, add_prefix_space=True),
            # As RoBERTa files have it: <mask> takes in the spaces before it.
            added=(tokenizers.AddedToken("<mask>", lstrip=True, special=True, normalized=False),),
        ),
        "digits_split": _train(
            pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Digits(individual_digits=True),
                    pre_tokenizers.Split(" ", behavior="merged_with_next"),
                    pre_tokenizers.Split(tokenizers.Regex(r"[.,;]"), behavior="merged_with_previous"),
                    pre_tokenizers.Split(tokenizers.Regex(r"\p{L}+"), behavior="removed", invert=True),
                    byte_level(add_prefix_space=False, use_regex=False),
                ]
            )
        ),
        "contiguous_digits": _train(
            pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Digits(individual_digits=False),
                    pre_tokenizers.Split(tokenizers.Regex(r"\s"), behavior="contiguous"),
                    byte_level(add_prefix_space=True, use_regex=True),
                ]
            )
        ),
    }


@pytest.fixture(scope="module")
def variants():
    out = {name: (toksmith.Tokenizer.from_str(t.to_str()), t) for name, t in _variants().items()}
    for name in ["cl100k_base", "o200k_base"]:
        out[name] = (toksmith.Tokenizer.from_str(peers.hf_json(name)), peers.hf_tokenizer(name))
    return out


VARIANTS = [
    "gpt2", "gpt2_prefix", "llama3", "roberta", "digits_split", "contiguous_digits", "cl100k_base", "o200k_base"
]


def _same(ours, theirs, text, pair=None, add_special_tokens=True):
    a = ours.encode(text, pair, add_special_tokens=add_special_tokens)
    b = theirs.encode(text, pair, add_special_tokens=add_special_tokens)
    assert a.ids == b.ids
    assert a.tokens == b.tokens
    assert a.offsets == b.offsets
    assert a.type_ids == b.type_ids
    assert a.special_tokens_mask == b.special_tokens_mask
    assert a.attention_mask == b.attention_mask
    for skip in (True, False):
        assert ours.decode(a.ids, skip_special_tokens=skip) == theirs.decode(b.ids, skip_special_tokens=skip)


@pytest.mark.parametrize("name", VARIANTS)
@given(text=texts)
def test_encode_equals_tokenizers(variants, name, text):
    ours, theirs = variants[name]
    _same(ours, theirs, text)
    _same(ours, theirs, text, add_special_tokens=False)


@given(text=texts, pair=texts)
def test_pairs_equal_tokenizers(variants, text, pair):
    for name in ["llama3", "roberta"]:
        ours, theirs = variants[name]
        _same(ours, theirs, text, pair)


@pytest.mark.parametrize("name", VARIANTS)
def test_real_text_equals_tokenizers(variants, name):
    ours, theirs = variants[name]
    for label, text in samples(60_000).items():
        docs = documents(text)
        got = ours.encode_batch(docs)
        want = theirs.encode_batch(docs)
        assert [e.ids for e in got] == [e.ids for e in want], label
        assert [e.offsets for e in got] == [e.offsets for e in want], label
        assert ours.decode_batch([e.ids for e in got]) == theirs.decode_batch([e.ids for e in want])


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "gpt2"])
@pytest.mark.parametrize("text", ["1" * 20_000, " " * 20_000, "😀" * 5000, "a" * 20_000, "\n \n" * 3000])
def test_adversarial_equals_tokenizers(variants, name, text):
    ours, theirs = variants[name]
    assert ours.encode(text).ids == theirs.encode(text).ids


def test_cl100k_digits_follow_oniguruma():
    # In tokenizer.json, `\p{N}{1,3}+` repeats the group (Oniguruma), unlike tiktoken's possessive.
    ours = toksmith.Tokenizer.from_str(peers.hf_json("cl100k_base"))
    theirs = peers.hf_tokenizer("cl100k_base")
    text = "1234567 and 12"
    assert ours.encode(text).ids == theirs.encode(text).ids
    assert ours.encode(text).ids == toksmith.get_encoding("cl100k_base").encode(text)  # rewritten to match


def test_vocab_api(variants):
    ours, theirs = variants["llama3"]
    assert ours.get_vocab() == theirs.get_vocab()
    assert ours.get_vocab(with_added_tokens=False) == theirs.get_vocab(with_added_tokens=False)
    assert ours.get_vocab_size() == theirs.get_vocab_size()
    for token in ["<s>", "hello world", "Ġthe", "nope-not-a-token"]:
        assert ours.token_to_id(token) == theirs.token_to_id(token)
    for i in [0, 1, 5, 300, 10**6]:
        assert ours.id_to_token(i) == theirs.id_to_token(i)


def test_save_and_load_round_trip(variants, tmp_path):
    for name in ["llama3", "gpt2_prefix"]:
        ours, theirs = variants[name]
        path = tmp_path / f"{name}.json"
        ours.save(path)
        again = toksmith.Tokenizer.from_file(path)
        reloaded = tokenizers.Tokenizer.from_file(str(path))
        text = "Hello wörld 123 <s> hello world ünï!"
        assert again.encode(text).ids == ours.encode(text).ids == reloaded.encode(text).ids


def test_tiktoken_encoding_saved_as_tokenizer_json(tmp_path):
    enc = toksmith.get_encoding("o200k_base")
    path = tmp_path / "o200k.json"
    enc.save(str(path))
    hf = tokenizers.Tokenizer.from_file(str(path))
    text = "Saved files load in tokenizers: 12345 <|endoftext|> done"
    assert hf.encode(text).ids == enc.encode(text, allowed_special="all")
    assert toksmith.Tokenizer.from_file(path).encode(text).ids == hf.encode(text).ids


@given(st.data())
def test_tiktoken_ranks_saved_as_tokenizer_json_keep_tiktoken_ids(data):
    """Single bytes, then words over a small alphabet in random rank order, so that tokens often
    rank below their parts (tiktoken still reaches them: `u r` -> `ur`, then `ur n` -> `urn`);
    texts are runs of those words and letters."""
    tiktoken = pytest.importorskip("tiktoken")
    letters = st.text("urnab", min_size=1, max_size=4)
    words = data.draw(st.lists(letters.filter(lambda w: len(w) > 1), min_size=1, max_size=25, unique=True))
    ranks = {bytes([b]): b for b in range(256)}
    for word in data.draw(st.permutations(words)):
        ranks[word.encode()] = len(ranks)
    pieces = st.one_of(st.sampled_from(words), letters, st.just(" "))
    texts = data.draw(st.lists(st.lists(pieces, max_size=8).map("".join), min_size=1, max_size=5))
    pattern = r" ?[^ ]+| +"
    reference = tiktoken.Encoding("r", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    enc = toksmith.Encoding("r", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    theirs = tokenizers.Tokenizer.from_str(enc.to_tokenizer().to_str())
    for text in texts:
        expected = reference.encode_ordinary(text)
        assert enc.encode_ordinary(text) == expected
        assert theirs.encode(text).ids == expected
        assert enc.to_tokenizer().encode(text).ids == expected


def test_conversion_between_tokenizer_and_encoding(variants):
    enc = toksmith.get_encoding("cl100k_base")
    tok = toksmith.Tokenizer.from_encoding(enc)
    back = tok.to_encoding("cl100k_again")
    text = "Round trips keep ids: 1234567 <|endoftext|> ok"
    assert back.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    ours, theirs = variants["llama3"]
    as_encoding = ours.to_encoding()
    for text in ["plain text, no specials", "Ünïcode 123456 digits", samples()["english"][:5000]]:
        assert as_encoding.encode(text, disallowed_special=()) == theirs.encode(text, add_special_tokens=False).ids
    with pytest.raises(ValueError, match="cannot convert"):
        variants["gpt2_prefix"][0].to_encoding()


# --------------------------------------------------------------------- errors


def _doc(**changes):
    doc = json.loads(peers.hf_json("o200k_base"))
    for path, value in changes.items():
        target = doc
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        target[keys[-1]] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"normalizer": {"type": "Precompiled"}}, "normalizer: unsupported normalizer Precompiled"),
        ({"model__type": "WordPiece"}, "pre_tokenizer: ByteLevel is supported only with a BPE model, not WordPiece"),
        ({"model__dropout": 0.1}, "model.dropout"),
        (
            {"pre_tokenizer": {"type": "UnicodeScripts"}},
            "pre_tokenizer: unsupported pre-tokenizer type UnicodeScripts",
        ),
        (
            {"pre_tokenizer__pretokenizers__0__type": "UnicodeScripts"},
            r"pre_tokenizer.pretokenizers\[0\]: unsupported",
        ),
        (
            {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Metaspace", "replacement": "▁"}, {"type": "ByteLevel"}]}},
            r"pre_tokenizer.pretokenizers\[1\]: steps after ByteLevel or Metaspace",
        ),
        ({"added_tokens__0__lstrip": "yes"}, r"added_tokens\[0\].lstrip: expected true or false"),
        ({"truncation": {"max_length": 5}}, "truncation"),
        (
            {"post_processor": {"type": "BertProcessing", "sep": ["[SEP]"], "cls": ["[CLS]", 2]}},
            r"post_processor.sep: expected \[token, id\]",
        ),
        ({"decoder": {"type": "CTC"}}, "decoder: unsupported decoder CTC"),
        ({"model__merges": [["Ġ", "nope-token"]]}, r"model.merges\[0\]"),
        ({"model__vocab": []}, "model.vocab"),
    ],
)
def test_unsupported_or_broken_files_name_the_component(changes, message):
    with pytest.raises(ValueError, match=message):
        toksmith.Tokenizer.from_str(_doc(**changes))


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        toksmith.Tokenizer.from_str('{"model": ')
    path = tmp_path / "broken.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="broken.json"):
        toksmith.Tokenizer.from_file(path)
    with pytest.raises(FileNotFoundError):
        toksmith.Tokenizer.from_file(tmp_path / "missing.json")
    with pytest.raises(TypeError):
        toksmith.Tokenizer.from_str(peers.hf_json("o200k_base")).encode(b"bytes")


def test_batch_threads(variants):
    ours, theirs = variants["gpt2"]
    docs = documents(samples()["english"][:50_000], 500)
    for threads in [1, 2, None]:
        assert [e.ids for e in ours.encode_batch(docs, num_threads=threads)] == [
            e.ids for e in theirs.encode_batch(docs)
        ]


def test_from_pretrained_reads_a_local_model_directory_and_never_downloads(tmp_path):
    enc = toksmith.get_encoding("cl100k_base")
    enc.to_tokenizer().save(tmp_path / "tokenizer.json")
    tok = toksmith.Tokenizer.from_pretrained(tmp_path)
    assert tok.encode("hello world").ids == enc.encode("hello world")
    assert toksmith.Tokenizer.from_pretrained(str(tmp_path / "tokenizer.json")).to_str() == tok.to_str()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no tokenizer.json in this directory"):
        toksmith.Tokenizer.from_pretrained(tmp_path / "empty")
    with pytest.raises(toksmith.ToksmithError, match="never downloads"):
        toksmith.Tokenizer.from_pretrained("some-org/some-model-that-is-not-cached")


@pytest.mark.parametrize("text", ["The <mask> sat.", "a  <mask><mask> b", "<mask>", " \n <mask>x", "x<mask>"])
def test_roberta_mask_takes_in_spaces_like_tokenizers(variants, text):
    ours, theirs = variants["roberta"]
    _same(ours, theirs, text)
    _same(ours, theirs, text, "and <mask>")
    assert ours.encode(text).tokens == theirs.encode(text).tokens
