"""``Encoding.encode_file`` / ``count_file``: a file in blocks cut where no piece can cross
gives the ids of the whole text (docs/encoding.md, "Huge inputs")."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toksmith
from toksmith import patterns
from toksmith.errors import InvalidInputError, ToksmithFileNotFoundError, ToksmithTypeError

from strategies import FRAGMENTS, any_char

# Joins that put newlines next to every kind of character: cuttable ones (`x;\nfoo`) and the
# near misses (a space or `/` on one side, \r\n, non-ASCII neighbours).
JOINS = ["a\nb", "x;\nfoo", ";\n/", "\n/", "/\n", ".\n'", "1\n2", " \nb", "a\n ", "\n\n", "é\nb", "a\né",
         "a\r\nb", "!\n\u3000", "'s\n'S", "\n<|endoftext|>\n"]
BYTES = [b"\xf0\x9f", b"\xff", b"\x80a", b"\xe4\xb8\n"]  # invalid UTF-8, also next to a newline
chunks = st.lists(
    st.one_of(st.sampled_from(JOINS + FRAGMENTS), st.text(any_char, max_size=3)).map(str.encode)
    | st.sampled_from(BYTES),
    max_size=40,
).map(b"".join)


@functools.cache
def encoding(name: str) -> toksmith.Encoding:
    if name == "gpt2-pattern":
        ranks = toksmith.get_encoding("cl100k_base").mergeable_ranks
        return toksmith.Encoding("gpt2-pattern", pat_str=patterns.GPT2, mergeable_ranks=ranks, special_tokens={})
    return toksmith.get_encoding(name)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "gpt2-pattern"])
@settings(max_examples=150, deadline=None)
@given(data=chunks, block_size=st.integers(1, 40), threads=st.sampled_from([1, 2]))
def test_blocks_encode_like_the_whole_text(tmp_path_factory, name, data, block_size, threads):
    enc = encoding(name)
    assert enc._core.file_blocks[0], "a known pattern family: files are cut"
    path = tmp_path_factory.mktemp("f") / "t.txt"
    path.write_bytes(data)
    want = enc.encode_ordinary(data.decode("utf-8", errors="replace"))
    ids = enc.encode_file(path, block_size=block_size, num_threads=threads)
    assert ids.dtype == np.uint32 and ids.tolist() == want
    assert enc.count_file(str(path), block_size=block_size, num_threads=threads) == len(want)


def test_real_text_in_small_blocks(tmp_path):
    from realtext import samples

    text = "".join(samples().values())
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8", newline="")
    for name in ["o200k_base", "gpt2-pattern"]:
        enc = encoding(name)
        want = enc.encode_ordinary(text)
        for block_size in (1000, 1 << 16, None):
            assert enc.encode_file(path, block_size=block_size).tolist() == want


def test_other_patterns_read_the_file_whole(tmp_path):
    enc = toksmith.Encoding("own", pat_str=r"\S+\n?|\s", mergeable_ranks={bytes([b]): b for b in range(256)},
                            special_tokens={})
    assert not enc._core.file_blocks[0]
    path = tmp_path / "t.txt"
    path.write_text("ab;\ncd;\nef")
    assert enc.encode_file(path, block_size=2).tolist() == enc.encode_ordinary("ab;\ncd;\nef")


def test_encode_file_refuses_bad_arguments(tmp_path):
    enc = toksmith.get_encoding("o200k_base")
    with pytest.raises(ToksmithFileNotFoundError, match="missing"):
        enc.encode_file(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="block_size"):
        enc.encode_file(tmp_path, block_size=0)
    with pytest.raises(ToksmithTypeError):
        enc.count_file(3)  # type: ignore[arg-type]
