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


# ---------------------------------------------------------------------- streaming decoding


def _stream(decoder, ids, cuts):
    """The decoder's output for ``ids`` fed as runs cut at ``cuts`` (one id: ``step``)."""
    out, start = [], 0
    for end in [*sorted(set(cuts)), len(ids)]:
        run = ids[start:end]
        out.append(decoder.step(run[0]) if len(run) == 1 else decoder.steps(run))
        start = max(start, end)
    out.append(decoder.flush())
    return out


# Ids whose bytes are not UTF-8 on their own: halves of multi-byte characters, lone
# continuation bytes, bytes that never occur in UTF-8.
RAW_BYTES = [b"\xf0\x9f", b"\x80", b"\xa6", b"\xc3", b"\xff", b"\xe4\xb8", b"\x9f\x98"]


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_stream_decoding_adds_up_to_decode(name, data):
    enc = toksmith.get_encoding(name)
    text = data.draw(texts)
    raw = [enc.encode_single_token(b) for b in RAW_BYTES if _is_token(enc, b)]
    ids = enc.encode(text, allowed_special="all")
    ids = data.draw(st.lists(st.one_of(st.sampled_from(ids or [0]), st.sampled_from(raw)), max_size=8)) + ids
    ids = data.draw(st.permutations(ids)) if data.draw(st.booleans()) else ids
    cuts = data.draw(st.lists(st.integers(0, len(ids)), max_size=len(ids)))
    pieces = _stream(enc.decoder(), ids, cuts)
    assert "".join(pieces) == enc.decode(ids)
    for p in pieces:  # never half a character: each piece is whole UTF-8
        p.encode("utf-8")


def _is_token(enc, b):
    try:
        enc.encode_single_token(b)
    except KeyError:
        return False
    return True


def test_stream_decoding_emits_each_character_once_complete():
    enc = toksmith.get_encoding("o200k_base")
    ids = enc.encode("🦀é")
    d = enc.decoder()
    got = [d.step(t) for t in ids]
    assert "".join(got) == "🦀é" and got[0] == "" and got[-1].endswith("é")
    assert d.flush() == ""
    d.step(enc.encode_single_token(b"\xf0\x9f"))
    assert repr(d) == "<StreamDecoder, 2 bytes pending>"
    assert d.flush() == "\ufffd"  # an unfinished character at the end, as decode gives it
    assert d.step(enc.encode("x")[0]) == "x"  # and the decoder starts afresh


def test_stream_decoding_refuses_bad_ids():
    enc = toksmith.get_encoding("o200k_base")
    d = enc.decoder()
    with pytest.raises(ToksmithKeyError, match="out of range"):
        d.step(10**9)
    with pytest.raises(ToksmithTypeError):
        d.step("5")  # type: ignore[arg-type]
    tok = enc.to_tokenizer()
    with pytest.raises(ToksmithKeyError):
        tok.decoder().step(-1)
    with pytest.raises(ToksmithTypeError):
        tok.decoder().steps([1.5])  # type: ignore[list-item]


@given(data=st.data(), skip=st.booleans())
def test_tokenizer_stream_decoding_adds_up_to_decode(data, skip):
    tok = _tokenizer_with_template()
    enc = toksmith.get_encoding("cl100k_base")
    raw = [tok.token_to_id(tok.id_to_token(enc.encode_single_token(b)) or "") for b in RAW_BYTES if _is_token(enc, b)]
    ids = tok.encode(data.draw(texts)).ids + [i for i in raw if i is not None] + [100257, 10**7]
    ids = data.draw(st.permutations(ids))
    cuts = data.draw(st.lists(st.integers(0, len(ids)), max_size=len(ids)))
    pieces = _stream(tok.decoder(skip_special_tokens=skip), ids, cuts)
    assert "".join(pieces) == tok.decode(ids, skip_special_tokens=skip)


ODD_BYTES = [*RAW_BYTES, b"\xed\xa0\x80", b"\xf4\x90"]  # an encoded surrogate, a code point too large


@given(chunks=st.lists(st.binary(max_size=6) | st.sampled_from(ODD_BYTES), max_size=12))
def test_stream_decoder_matches_bytes_decode_on_any_bytes(chunks):
    from toksmith.streaming import StreamDecoder

    d = StreamDecoder(chunks.__getitem__)
    pieces = [d.step(i) for i in range(len(chunks))] + [d.flush()]
    assert "".join(pieces) == b"".join(chunks).decode("utf-8", errors="replace")
