"""toksmith.Encoding against tiktoken: same ids on every input, tiktoken's API and errors."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith

from realtext import documents, samples
from strategies import texts
from toolkit import peers

NAMES = ["cl100k_base", "o200k_base"]


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    return toksmith.get_encoding(request.param), peers.tiktoken_encoding(request.param)


@pytest.mark.parametrize("name", NAMES)
@given(text=texts)
def test_encode_ordinary_equals_tiktoken(name, text):
    ours, theirs = toksmith.get_encoding(name), peers.tiktoken_encoding(name)
    ids = ours.encode_ordinary(text)
    assert ids == theirs.encode_ordinary(text)
    assert ours.decode_bytes(ids) == text.encode("utf-8")


@pytest.mark.parametrize("name", NAMES)
@given(text=texts)
def test_encode_with_specials_equals_tiktoken(name, text):
    ours, theirs = toksmith.get_encoding(name), peers.tiktoken_encoding(name)
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
    some = {"<|endoftext|>"}
    assert ours.encode(text, allowed_special=some, disallowed_special=()) == theirs.encode(
        text, allowed_special=some, disallowed_special=()
    )


def test_real_text_equals_tiktoken(pair):
    ours, theirs = pair
    for label, text in samples().items():
        docs = documents(text)
        assert ours.encode_ordinary_batch(docs) == theirs.encode_ordinary_batch(docs), label
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), label


ADVERSARIAL = [
    "a" * 100_000,
    " " * 100_000,
    "\n" * 50_000,
    "😀" * 30_000,
    "1" * 100_000,
    "A" * 100_000,
    "aA" * 50_000,
    " a" * 50_000,
    "\u0301" * 50_000,
    "'s" * 30_000,
    " \n" * 30_000,
    "ab" * 50_000 + " " * 1000 + "x",
    "".join(chr(c) for c in range(0x20, 0x3000)) * 3,
]


@pytest.mark.parametrize("index", range(len(ADVERSARIAL)))
def test_adversarial_equals_tiktoken(pair, index):
    ours, theirs = pair
    text = ADVERSARIAL[index]
    ids = ours.encode_ordinary(text)
    assert ids == theirs.encode_ordinary(text)
    assert ours.decode(ids) == text


@given(parts=st.lists(st.sampled_from(["-", "=", "*", "/", "#", "~", "€", "«", "..", "_", "|", "©", "¶", "§§"]),
                      min_size=130, max_size=400),
       word=st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèñß", min_size=130, max_size=400))
def test_long_pieces_merge_in_segments_like_tiktoken(pair, parts, word):
    # Pieces over 128 bytes are cut where no token holds the two bytes side by side and merged
    # segment by segment: the ids must not change.
    ours, theirs = pair
    for text in ["".join(parts), " " + word, word.upper() + "x", "".join(parts) + " " + word]:
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


def test_random_code_points_equal_tiktoken(pair):
    ours, theirs = pair
    rng = np.random.default_rng(0)
    points = rng.integers(0, 0x10FFFF, 60_000)
    text = "".join(chr(p) for p in points if not 0xD800 <= p < 0xE000)
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


def test_known_pattern_families_use_the_fast_pretokenizer(pair):
    ours, _ = pair
    assert ours._core.uses_fast_pretokenizer


# --------------------------------------------------------------------- special tokens


def test_disallowed_special_raises_like_tiktoken(pair):
    ours, theirs = pair
    text = "hello <|endoftext|> world"
    with pytest.raises(ValueError, match="disallowed special token '<\\|endoftext\\|>'"):
        ours.encode(text)
    with pytest.raises(ValueError):
        theirs.encode(text)
    with pytest.raises(ValueError):
        ours.encode_batch(["fine", text])
    with pytest.raises(ValueError):
        ours.encode_to_numpy(text)
    # Disallowing only some tokens, or arbitrary strings, as tiktoken allows.
    with pytest.raises(ValueError, match="world"):
        ours.encode("hello world", disallowed_special={"world"})
    assert ours.encode(text, allowed_special={"<|endoftext|>"}) == theirs.encode(
        text, allowed_special={"<|endoftext|>"}
    )
    assert ours.encode(text, disallowed_special={"<|endofprompt|>"}) == theirs.encode(
        text, disallowed_special={"<|endofprompt|>"}
    )


def test_special_token_api(pair):
    ours, theirs = pair
    assert ours.eot_token == theirs.eot_token
    assert ours.special_tokens_set == theirs.special_tokens_set
    assert ours.n_vocab == theirs.n_vocab
    assert ours.max_token_value == theirs.max_token_value
    assert ours.name == theirs.name
    for token in theirs.special_tokens_set:
        assert ours.encode_single_token(token) == theirs.encode_single_token(token)
        assert ours.is_special_token(ours.encode_single_token(token))
    assert ours.encode_single_token(b"hello") == theirs.encode_single_token(b"hello")
    with pytest.raises(KeyError):
        ours.encode_single_token("not one token at all")


# --------------------------------------------------------------------- decoding


def test_decode_api(pair):
    ours, theirs = pair
    text = "héllo wörld 😀 日本"
    ids = ours.encode(text)
    assert ours.decode(ids) == text
    assert ours.decode_bytes(ids) == theirs.decode_bytes(ids)
    assert ours.decode_tokens_bytes(ids) == theirs.decode_tokens_bytes(ids)
    assert ours.decode_with_offsets(ids) == theirs.decode_with_offsets(ids)
    emoji = ours.encode("😀")
    partial = emoji[:1] if len(emoji) > 1 else emoji
    assert ours.decode(partial) == theirs.decode(partial)
    assert ours.decode(partial, errors="ignore") == theirs.decode(partial, errors="ignore")
    assert ours.decode_single_token_bytes(ids[0]) == theirs.decode_single_token_bytes(ids[0])
    assert ours.decode_batch([ids, ids[:2]]) == theirs.decode_batch([ids, ids[:2]])
    with pytest.raises(KeyError):
        ours.decode([ours.n_vocab + 5])
    with pytest.raises(KeyError):
        ours.decode_single_token_bytes(ours.n_vocab + 5)


def test_surrogates_are_replaced_like_tiktoken(pair):
    ours, theirs = pair
    text = "a\ud800b \udfff"
    assert ours.encode(text) == theirs.encode(text)
    assert ours.encode_ordinary_batch([text]) == [theirs.encode_ordinary(text)]


def test_non_str_input_is_a_type_error(pair):
    ours, _ = pair
    for bad in [b"bytes", 3, None, ["list"]]:
        with pytest.raises(TypeError):
            ours.encode(bad)
        with pytest.raises(TypeError):
            ours.encode_ordinary(bad)
    with pytest.raises(TypeError):
        ours.encode_ordinary_batch(["ok", b"bad"])


# --------------------------------------------------------------------- batches and numpy


@given(batch=st.lists(texts, max_size=8), threads=st.sampled_from([None, 1, 2, 3]))
def test_batches_equal_single_calls(batch, threads):
    ours = toksmith.get_encoding("o200k_base")
    singles = [ours.encode(t, allowed_special="all") for t in batch]
    assert ours.encode_batch(batch, allowed_special="all", num_threads=threads) == singles
    assert ours.encode_ordinary_batch(batch, num_threads=threads) == [ours.encode_ordinary(t) for t in batch]
    ids, offsets = ours.encode_batch_to_numpy(batch, allowed_special="all", num_threads=threads)
    assert ids.dtype == np.uint32 and offsets.dtype == np.int64 and len(offsets) == len(batch) + 1
    assert [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(batch))] == singles


def test_encode_to_numpy(pair):
    ours, theirs = pair
    arr = ours.encode_to_numpy("hello world <|endoftext|>", allowed_special="all")
    assert arr.dtype == np.uint32
    assert arr.tolist() == theirs.encode("hello world <|endoftext|>", allowed_special="all")


def test_many_python_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    ours, theirs = toksmith.get_encoding("cl100k_base"), peers.tiktoken_encoding("cl100k_base")
    docs = documents(samples()["english"], 500)[:200]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ours.encode_ordinary, docs))
    assert got == [theirs.encode_ordinary(d) for d in docs]


def test_pickle_round_trip():
    ours = toksmith.get_encoding("cl100k_base")
    again = pickle.loads(pickle.dumps(ours))
    assert again.encode("hello <|endoftext|>", allowed_special="all") == ours.encode(
        "hello <|endoftext|>", allowed_special="all"
    )


def test_registry():
    assert toksmith.list_encoding_names() == ["cl100k_base", "o200k_base"]
    assert toksmith.get_encoding("o200k_base") is toksmith.get_encoding("o200k_base")
    with pytest.raises(ValueError, match="Unknown encoding 'nope'"):
        toksmith.get_encoding("nope")


TRICKY_JOINS = "x\nA  \nB\r\nC.\nD'\nE\n\nF 12\nG\u3000\nH\t\nI//\nJ\u00e9\nK\n"


@pytest.mark.parametrize("pattern", ["own", "r50k", "cl100k", "llama3"])
def test_long_documents_encode_in_parallel_chunks_exactly(pattern):
    """Texts over 512 KB are cut after newlines followed by letters and encoded in parallel."""
    import tiktoken

    from toksmith import patterns

    ours = toksmith.get_encoding("o200k_base")
    if pattern != "own":
        pat = {"r50k": patterns.R50K, "cl100k": patterns.CL100K, "llama3": patterns.LLAMA3}[pattern]
        ours = toksmith.Encoding("x", pat_str=pat, mergeable_ranks=ours.mergeable_ranks, special_tokens={})
    theirs = tiktoken.Encoding("x", pat_str=ours.pattern, mergeable_ranks=ours.mergeable_ranks, special_tokens={})
    parts = [samples()[k] for k in ("python", "multilingual", "c", "english")]
    text = TRICKY_JOINS.join(parts) * 2
    assert len(text.encode()) > 1_000_000
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
