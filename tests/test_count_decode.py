"""Token counts without ids (``count``, ``count_batch``) and streaming decoding (``decoder``)."""

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith
from toksmith.errors import InvalidInputError, ToksmithKeyError, ToksmithTypeError

from realtext import documents, samples
from strategies import texts
from toolkit import peers

NAMES = ["cl100k_base", "o200k_base"]


@pytest.mark.parametrize("name", NAMES)
@given(text=texts)
def test_count_equals_tiktoken_length(name, text):
    ours, theirs = toksmith.get_encoding(name), peers.tiktoken_encoding(name)
    assert ours.count_ordinary(text) == len(theirs.encode_ordinary(text))
    assert ours.count(text, allowed_special="all") == len(theirs.encode(text, allowed_special="all"))
    assert ours.count(text, disallowed_special=()) == len(theirs.encode(text, disallowed_special=()))
    some = {"<|endoftext|>"}
    want = len(theirs.encode(text, allowed_special=some, disallowed_special=()))
    assert ours.count(text, allowed_special=some, disallowed_special=()) == want
    assert ours.count_batch([text, text + "x"], disallowed_special=()) == [
        len(theirs.encode(t, disallowed_special=())) for t in [text, text + "x"]
    ]


@pytest.mark.parametrize("name", NAMES)
def test_count_of_real_text_single_and_multi_threaded(name):
    enc = toksmith.get_encoding(name)
    docs = [d for text in samples().values() for d in documents(text)]
    want = [len(ids) for ids in peers.tiktoken_encoding(name).encode_ordinary_batch(docs)]
    for threads in (1, 2, None):
        assert enc.count_batch(docs, num_threads=threads) == want
    whole = "".join(samples().values())  # long enough for the engine's parallel chunks
    assert enc.count_ordinary(whole) == len(enc.encode_ordinary(whole))


def test_count_keeps_the_special_token_rules():
    enc = toksmith.get_encoding("o200k_base")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.count("a <|endoftext|>")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.count_batch(["fine", "a <|endoftext|>"])
    with pytest.raises(InvalidInputError, match="disallowed special token"):
        enc.count("x <|endofprompt|>", allowed_special={"<|endoftext|>"}, disallowed_special={"<|endofprompt|>"})
    assert enc.count("a \ud800 b") == len(enc.encode("a \ud800 b"))  # lone surrogates, as encode


def test_count_refuses_bad_arguments():
    enc = toksmith.get_encoding("o200k_base")
    with pytest.raises(ToksmithTypeError, match="single str"):
        enc.count_batch("hello")  # type: ignore[arg-type]
    with pytest.raises(ToksmithTypeError):
        enc.count(b"hello")  # type: ignore[arg-type]
    with pytest.raises(ToksmithTypeError):
        enc.count_ordinary(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        enc.count("x", allowed_special="<|endoftext|>")  # type: ignore[arg-type]
    with pytest.raises(ToksmithTypeError, match="single str"):
        enc.to_tokenizer().count_batch("hello")


@given(text=texts, add=st.booleans())
def test_tokenizer_count_equals_encode_length(text, add):
    tok = _tokenizer_with_template()
    assert tok.count(text, add_special_tokens=add) == len(tok.encode(text, add_special_tokens=add).ids)
    assert tok.count_batch([text, "ab"], add_special_tokens=add) == [
        len(tok.encode(t, add_special_tokens=add).ids) for t in [text, "ab"]
    ]


@functools.cache
def _tokenizer_with_template() -> toksmith.Tokenizer:
    import json

    doc = json.loads(toksmith.get_encoding("cl100k_base").to_tokenizer().to_str())
    bos = {"id": "<|endoftext|>", "type_id": 0}
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [100257], "tokens": ["<|endoftext|>"]}},
    }
    tok = toksmith.Tokenizer.from_str(json.dumps(doc))
    assert tok.encode("hi").ids[0] == 100257
    return tok
