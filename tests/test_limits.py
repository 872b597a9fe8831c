"""Inputs that the engine refuses before they can cost memory or abort the process: each gives a
short, typed error (a ``toksmith.ToksmithError`` that is also the builtin a caller expects)."""

from __future__ import annotations

import base64
import json
import os

import pytest

import toksmith
from toksmith.errors import FormatError, InvalidInputError, UnsupportedError

PATTERN = r"\S+|\s+"


def byte_ranks() -> dict[bytes, int]:
    return {bytes([b]): b for b in range(256)}


def rank_file(tmp_path, lines: list[str]) -> str:
    path = tmp_path / "x.tiktoken"
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return str(path)


def ranks_lines(extra: list[str]) -> list[str]:
    return [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)] + extra


@pytest.mark.parametrize("rank", [2**31, 2**32 - 2, 50_000_000])
def test_huge_or_sparse_ids_in_a_rank_file_are_format_errors(tmp_path, rank):
    path = rank_file(tmp_path, ranks_lines([f"{base64.b64encode(b'ab').decode()} {rank}"]))
    with pytest.raises(FormatError, match=str(rank)) as e:
        toksmith.Encoding.from_tiktoken_file(path, pat_str=PATTERN)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("rank", [2**31, 50_000_000])
def test_huge_or_sparse_ids_in_ranks_and_specials_are_refused(rank):
    ranks = byte_ranks() | {b"ab": rank}
    with pytest.raises(FormatError):
        toksmith.Encoding("x", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens={})
    with pytest.raises(FormatError):
        toksmith.Encoding("x", pat_str=PATTERN, mergeable_ranks=byte_ranks(), special_tokens={"<s>": rank})


def test_a_special_token_may_not_take_an_ordinary_tokens_id():
    with pytest.raises(FormatError, match="ordinary token"):
        toksmith.Encoding("x", pat_str=PATTERN, mergeable_ranks=byte_ranks(), special_tokens={"<s>": 97})
    enc = toksmith.Encoding("x", pat_str=PATTERN, mergeable_ranks=byte_ranks(), special_tokens={"<s>": 256})
    assert enc.decode([256, 97]) == "<s>a"


def test_a_malformed_line_is_quoted_briefly(tmp_path):
    path = rank_file(tmp_path, ranks_lines(["x" * 1_000_000]))
    with pytest.raises(FormatError) as e:
        toksmith.Encoding.from_tiktoken_file(path, pat_str=PATTERN)
    message = str(e.value)
    assert "line 257" in message and "1000000 bytes" in message
    assert len(message) < 400


def gpt2_like_document() -> dict:
    return json.loads(toksmith.get_encoding("cl100k_base").to_tokenizer().to_str())


def test_tokenizer_json_errors_are_typed_and_name_the_field():
    doc = gpt2_like_document()
    doc["model"]["merges"][3] = 12
    with pytest.raises(FormatError, match=r"model\.merges\[3\]"):
        toksmith.Tokenizer.from_str(json.dumps(doc))
    doc = gpt2_like_document()
    doc["decoder"] = {"type": "WordPiece" + "x" * 10_000}
    with pytest.raises(UnsupportedError, match="decoder") as e:
        toksmith.Tokenizer.from_str(json.dumps(doc))
    assert len(str(e.value)) < 400


def test_a_tokenizer_json_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(b'{"model": "\xff\xfe"}')
    with pytest.raises(toksmith.ToksmithError, match="tokenizer.json"):
        toksmith.Tokenizer.from_file(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_endless_files_are_refused_after_a_bounded_read(monkeypatch):
    # A rank file: the engine's limit (1 GiB) is read, then refused; gzip output is bounded too.
    with pytest.raises(FormatError, match="/dev/zero: more than 1024 MiB"):
        toksmith.Encoding.from_tiktoken_file("/dev/zero", pat_str=PATTERN)
    monkeypatch.setattr(toksmith.encoding, "MAX_JSON_BYTES", 1 << 20)
    with pytest.raises(FormatError, match="/dev/zero: more than 1 MiB; not a tokenizer.json"):
        toksmith.Tokenizer.from_file("/dev/zero")


def test_a_gzip_bomb_rank_file_is_refused(tmp_path):
    import gzip

    path = tmp_path / "bomb.tiktoken.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        zeros = bytes(1 << 24)
        for _ in range(65):  # 1040 MiB of zeros, about 1 MB on disk
            f.write(zeros)
    with pytest.raises(FormatError, match="more than 1024 MiB"):
        toksmith.Encoding.from_tiktoken_file(path, pat_str=PATTERN)


def test_a_regex_oniguruma_gives_up_on_is_an_error_not_a_crash():
    doc = gpt2_like_document()
    doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?:a|a)+b"
    tok = toksmith.Tokenizer.from_str(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="retry-limit"):
        tok.encode("a" * 5000 + "!")
    assert tok.encode("ab").ids  # still usable


def test_cycling_thread_counts_keeps_the_process_threads_bounded():
    """Each distinct ``num_threads`` used to start a pool that was never freed; now counts are
    clamped to the cores (with a warning) and at most four pools stay alive."""
    import os
    import subprocess
    import sys

    child = r"""
import os, warnings, toksmith
warnings.simplefilter("ignore")
enc = toksmith.get_encoding("o200k_base")
texts = ["hello world, " * 50] * 64
peak = 0
for n in [1, 2, 3, 5, 8, 13, 64, 1000, 10**6] * 5:
    enc.encode_ordinary_batch(texts, num_threads=n)
    toksmith.count_pieces(iterator=texts, progress=False, num_threads=n)
    peak = max(peak, len(os.listdir("/proc/self/task")))
print(peak)
"""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
    cores = os.cpu_count() or 1
    assert int(out) <= 4 * cores + 8, f"{out.strip()} threads with {cores} cores"
