"""`.tiktoken` rank files: loading (plain, gzip), saving, and clear errors on bad files."""

import base64
import gzip
import os

import pytest

import toksmith
from toksmith import patterns

from realtext import samples
from toolkit import peers

BYTES = [bytes([b]) for b in range(256)]


def _write(path, lines):
    path.write_bytes("".join(f"{line}\n" for line in lines).encode())
    return str(path)


def _lines(tokens):
    return [f"{base64.b64encode(t).decode()} {r}" for t, r in tokens]


def _load(path):
    return toksmith.Encoding.from_tiktoken_file(path, pat_str=patterns.GPT2, special_tokens={"<|end|>": 300})


def test_plain_and_gzip_files_load_alike(tmp_path):
    tokens = [(t, i) for i, t in enumerate(BYTES)] + [(b"he", 256), (b"ll", 257), (b"hell", 258), (b"hello", 259)]
    plain = _write(tmp_path / "v.tiktoken", _lines(tokens))
    zipped = tmp_path / "v.tiktoken.gz"
    zipped.write_bytes(gzip.compress(open(plain, "rb").read()))
    a, b = _load(plain), _load(str(zipped))
    assert a.encode("hello hell<|end|>", allowed_special="all") == [259, 32, 258, 300]
    assert b.encode("hello hell<|end|>", allowed_special="all") == [259, 32, 258, 300]


def test_saved_rank_file_loads_identically_here_and_in_tiktoken(tmp_path):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    enc = toksmith.get_encoding("cl100k_base")
    path = str(tmp_path / "cl100k.tiktoken")
    enc.save_tiktoken(path)
    again = toksmith.Encoding.from_tiktoken_file(path, pat_str=enc.pattern, special_tokens=enc._special_tokens)
    theirs = tiktoken.Encoding("x", pat_str=enc.pattern, mergeable_ranks=load_tiktoken_bpe(path),
                               special_tokens=enc._special_tokens)
    text = "Saved rank files round-trip: 12345 héllo <|endoftext|>"
    want = enc.encode(text, allowed_special="all")
    assert again.encode(text, allowed_special="all") == want == theirs.encode(text, allowed_special="all")
    assert again.mergeable_ranks == enc.mergeable_ranks
    # The bundled file is exactly what tiktoken ships (checked by SHA-256 at load).
    assert peers.tiktoken_encoding("cl100k_base").encode(text, allowed_special="all") == want


@pytest.mark.parametrize(
    "lines, message",
    [
        (["aGVsbG8= 0", "!!notbase64 1"], "line 2: invalid base64"),
        (["aGVsbG8= 0", "aGk= x"], "line 2: invalid rank"),
        (["aGVsbG8= 0", "aGk= 0"], "rank 0 is given to two tokens"),
        (["aGVsbG8= 0", "aGk="], "line 2: expected `<base64 token> <rank>`"),
        ([], "empty rank file"),
        (_lines([(t, i) for i, t in enumerate(BYTES[:200])]), "no token for the single byte 0xc8"),
        (_lines([(t, i) for i, t in enumerate(BYTES)] + [(b"a", 300)]), "appears twice"),
    ],
)
def test_broken_rank_files_name_the_problem(tmp_path, lines, message):
    path = _write(tmp_path / "broken.tiktoken", lines)
    with pytest.raises(ValueError, match=message) as info:
        _load(path)
    assert "broken.tiktoken" in str(info.value)


def test_truncated_or_corrupt_gzip(tmp_path):
    data = gzip.compress(b"\n".join(f"{base64.b64encode(t).decode()} {i}".encode() for i, t in enumerate(BYTES)))
    path = tmp_path / "cut.tiktoken.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.tiktoken.gz: corrupt gzip"):
        _load(str(path))


def test_checksum_mismatch_and_missing_file(tmp_path):
    path = _write(tmp_path / "v.tiktoken", _lines([(t, i) for i, t in enumerate(BYTES)]))
    with pytest.raises(ValueError, match="SHA-256"):
        toksmith.Encoding.from_tiktoken_file(path, pat_str=patterns.GPT2, expected_sha256="00" * 32)
    with pytest.raises(FileNotFoundError):
        _load(str(tmp_path / "missing.tiktoken"))


def test_bad_pattern_is_a_value_error():
    with pytest.raises(ValueError, match="invalid pattern"):
        toksmith.Encoding(
            "x", pat_str="(unclosed", mergeable_ranks={t: i for i, t in enumerate(BYTES)}, special_tokens={}
        )


def test_explicit_n_vocab_is_checked():
    ranks = {t: i for i, t in enumerate(BYTES)}
    toksmith.Encoding(
        "x", pat_str=patterns.GPT2, mergeable_ranks=ranks, special_tokens={"<|e|>": 256}, explicit_n_vocab=257
    )
    with pytest.raises(ValueError, match="expected 300 tokens"):
        toksmith.Encoding("x", pat_str=patterns.GPT2, mergeable_ranks=ranks, special_tokens={}, explicit_n_vocab=300)


def test_whispers_rank_file_with_a_lone_padding_line_loads_as_tiktoken_reads_it():
    """Whisper's multilingual.tiktoken gives rank 50256 to `=`, the empty token to tiktoken."""
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    path = os.path.join(os.path.dirname(__file__), "data", "whisper_multilingual_cut.tiktoken")
    enc = toksmith.Encoding.from_tiktoken_file(path, pat_str=patterns.GPT2)
    ranks = load_tiktoken_bpe(path)
    assert enc.mergeable_ranks == ranks
    assert enc.decode_single_token_bytes(50256) == b""
    theirs = tiktoken.Encoding("whisper", pat_str=patterns.GPT2, mergeable_ranks=ranks, special_tokens={})
    text = samples()["multilingual"] + "Hello, world! The tokens of Whisper's vocabulary."
    assert enc.encode_ordinary(text) == theirs.encode_ordinary(text)
    assert enc.decode(enc.encode_ordinary(text)) == text


@pytest.mark.parametrize("token", ["QUI=", "QUJ=", "QUI==", "QUI===", "QUJ=="])
def test_base64_is_read_as_leniently_as_tiktoken_reads_it(tmp_path, token):
    # Unused trailing bits and excess padding, as Python's base64.b64decode accepts them.
    expected = base64.b64decode(token)
    lines = _lines([(t, i) for i, t in enumerate(BYTES)]) + [f"{token} 256"]
    enc = toksmith.Encoding.from_tiktoken_file(_write(tmp_path / "v.tiktoken", lines), pat_str=patterns.GPT2)
    assert enc.decode_single_token_bytes(256) == expected == b"AB"
