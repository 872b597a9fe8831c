"""toksmith.report / `toksmith report`: metrics on tiny inputs with answers worked out by hand,
the JSON schema, the HTML page with and without matplotlib, the CLI end to end, digit grouping
of the bundled encodings, and bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import toksmith
from toksmith import report as report_fn
from toksmith.cli import main
from toksmith.report import default_corpora, digit_grouping

# "hello", "hell" and "he" are merged tokens; everything else is single bytes.
TINY_RANKS = {bytes([i]): i for i in range(256)} | {b"he": 256, b"ll": 257, b"hell": 258, b"hello": 259}


@pytest.fixture(scope="module")
def tiny() -> toksmith.Encoding:
    return toksmith.Encoding("tiny", pat_str=r"\S+|\s+", mergeable_ranks=TINY_RANKS, special_tokens={})


def test_metrics_worked_out_by_hand(tiny):
    # "hello hellx\n" -> hello | ' ' | hell | x | '\n': 5 tokens, 12 bytes, 2 words
    r = report_fn([tiny], {"t": ["hello hellx\n"]})
    m = r.metric("tiny", "t")
    assert (m.tokens, m.bytes, m.chars, m.words) == (5, 12, 12, 2)
    assert m.bytes_per_token == pytest.approx(12 / 5) and m.chars_per_token == pytest.approx(12 / 5)
    assert m.tokens_per_word == pytest.approx(1.5)  # hello: 1 token, hellx: 2
    assert m.words_whole_share == pytest.approx(0.5)  # hello kept whole, hellx split
    assert m.whole_word_token_share == pytest.approx(1 / 5)  # only "hello"
    assert m.valid_utf8_token_share == 1.0 and m.pure_token_share == 1.0
    assert m.script_shares == pytest.approx({"LATIN": 3 / 5, "none": 2 / 5})
    assert m.vocab_used == 5 and m.vocab_utilisation == pytest.approx(5 / 260)
    assert m.aligned_bytes_share == 1.0
    assert [t["token"] for t in m.longest_used[:2]] == ["hello", "hell"]
    summary = r.tokenizers[0]
    assert summary.vocab_size == 260 and summary.unused_tokens == 255
    assert [t["token"] for t in summary.longest_unused[:2]] == ["he", "ll"]  # merged, never used
    assert summary.digit_grouping.direction == "ambiguous"  # one digit per token: 1|1|1...


def test_bytes_utf8_and_cjk_words(tiny):
    # é is two byte tokens, neither valid UTF-8 alone; each CJK character is a word
    m = report_fn([tiny], {"t": ["é 日本\n"]}).metric("tiny", "t")
    assert (m.tokens, m.bytes, m.chars, m.words) == (2 + 1 + 6 + 1, 10, 5, 3)
    assert m.valid_utf8_token_share == pytest.approx(2 / 10)  # ' ' and '\n'
    assert m.tokens_per_word == pytest.approx((2 + 3 + 3) / 3)
    assert m.words_whole_share == 0.0 and m.whole_word_token_share == 0.0
    assert m.script_shares["invalid"] == pytest.approx(8 / 10)


def test_words_never_run_across_texts_or_files(tiny, tmp_path):
    m = report_fn([tiny], {"t": ["hello", "hell", "x"]}).metric("tiny", "t")
    assert (m.tokens, m.words, m.words_whole_share) == (3, 3, 1.0)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.txt").write_text("hello")
    (tmp_path / "d" / "2.txt").write_text("hell")
    m = report_fn([tiny], {"d": tmp_path / "d"}).metric("tiny", "d")
    assert (m.tokens, m.words, m.whole_word_token_share) == (2, 2, 1.0)


def test_trained_tokenizer_json(tmp_path):
    lines = ["the cat sat on the mat\n", "the dog sat on the log\n"] * 20
    tok = toksmith.train_bpe(iterator=lines, vocab_size=280, progress=False)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    text = "the cat sat on the log 12345\n"
    r = report_fn([str(path)], {"s": [text]})
    m = r.metric(str(path), "s")
    n = len(tok.encode(text, add_special_tokens=False).ids)
    assert m.tokens == n and m.bytes_per_token == pytest.approx(len(text.encode()) / n)
    assert m.words == 7 and r.tokenizers[0].kind == "tokenizer.json" and m.aligned_bytes_share == 1.0
    assert r.corpora[0].source == "1 texts"


def test_streaming_in_small_blocks_gives_the_same_metrics(tmp_path, monkeypatch):
    text = "".join(f"line {i}: the quick brown fox jumps over {i * 7919} lazy dogs\n" for i in range(300))
    corpus = tmp_path / "c.txt"
    corpus.write_text(text)
    whole = report_fn(["o200k_base"], {"c": corpus}).metrics[0]
    monkeypatch.setattr(sys.modules["toksmith.report"], "GROUP_CHARS", 1000)
    monkeypatch.setattr(sys.modules["toksmith.report"], "PIECE_CHARS", 300)
    small = report_fn(["o200k_base"], {"c": corpus}).metrics[0]
    for key in ("tokens", "bytes", "chars", "words", "tokens_per_word", "words_whole_share",
                "whole_word_token_share", "vocab_used", "zipf_slope"):
        assert getattr(small, key) == pytest.approx(getattr(whole, key)), key
    # a directory is all its files; max_bytes caps what is read
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text(text)
    (tmp_path / "d" / "b.txt").write_text(text)
    r = report_fn(["o200k_base"], {"d": tmp_path / "d"}, max_bytes=len(text) + 100)
    assert r.corpora[0].truncated and len(text) < r.corpora[0].bytes <= len(text) + 100


def test_digit_grouping_of_bundled_encodings():
    for name in ("cl100k_base", "o200k_base"):
        enc = toksmith.get_encoding(name)
        g = digit_grouping(enc)
        assert g.direction == "left-to-right" and g.max_group == 3
        assert [b["pattern"] for b in g.by_length[3:7]] == [[3, 1], [3, 2], [3, 3], [3, 3, 1]]
        # the same on a known example: 1234567 -> 123|456|7
        assert [enc.decode([i]) for i in enc.encode("1234567")] == ["123", "456", "7"]


def test_json_schema_and_table(tiny):
    r = report_fn([tiny, "o200k_base"], {"a": ["hello world 2024\n"], "b": ["привет мир\n"]})
    doc = json.loads(r.to_json())
    assert set(doc) == {"schema_version", "toksmith_version", "seconds", "tokenizers", "corpora", "metrics"}
    assert doc["schema_version"] == 1 and len(doc["metrics"]) == 4
    assert set(doc["tokenizers"][0]) == {"name", "kind", "vocab_size", "special_tokens", "digit_grouping",
                                         "vocab_used", "vocab_utilisation", "unused_tokens", "longest_used",
                                         "longest_unused"}
    assert set(doc["corpora"][0]) == {"name", "source", "bytes", "chars", "words", "truncated"}
    assert set(doc["metrics"][0]) == {
        "tokenizer", "corpus", "tokens", "bytes", "chars", "words", "bytes_per_token", "chars_per_token",
        "tokens_per_word", "words_whole_share", "whole_word_token_share", "valid_utf8_token_share",
        "pure_token_share", "script_shares", "vocab_used", "vocab_utilisation", "zipf_slope", "longest_used",
        "encode_seconds", "mb_per_s", "aligned_bytes_share", "zipf_curve"}
    table = r.table()
    assert table.count("\n") == 1 + 4 + 2 - 1 and "o200k_base" in table and "left-to-right" in table


def test_html_with_and_without_matplotlib(tiny, monkeypatch):
    r = report_fn([tiny, "cl100k_base"], {"a": ["hello <b>world</b> 12\n"]})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = r.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<svg" not in page and "tables only" in page
    assert "Bytes per token" in page and "&lt;b&gt;" not in page.split("<h2>Vocabulary")[0]
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    page = r.to_html()
    assert page.count("<svg") == 2 and "tables only" not in page


def test_default_corpora_are_the_bundled_samples():
    corpora = default_corpora()
    assert list(corpora)[:2] == ["en", "python"] and {"de", "fr", "ru", "ja", "zh"} <= set(corpora)


def test_cli_end_to_end(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Tokenizers split text into tokens. Numbers: 1234567.\n" * 50)
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "toksmith.cli", "report", "o200k_base", "cl100k_base",
                           "--corpus", f"text={corpus}", "--json", str(out_json), "--html", str(out_html),
                           "--threads", "1", "--max-bytes", "100000"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "cl100k_base  text" in proc.stdout
    doc = json.loads(out_json.read_text())
    assert [m["corpus"] for m in doc["metrics"]] == ["text", "text"]
    assert out_html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv, message", [
    (["report", "o300k"], "unknown tokenizer 'o300k'"),
    (["report", "o200k_base", "--corpus", "x=/no/such/file"], "/no/such/file: no such corpus"),
    (["report", "o200k_base", "--corpus", "nameonly"], "give NAME=FILE_OR_DIR"),
    (["report", "/no/such.json"], "/no/such.json: no such tokenizer file"),
])
def test_cli_bad_inputs_are_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("toksmith report: ") and message in err


def test_api_bad_inputs_are_typed_errors(tmp_path):
    with pytest.raises(toksmith.InvalidInputError, match="unknown tokenizer"):
        report_fn(["o300k"], {"a": ["x"]})
    with pytest.raises(toksmith.ToksmithFileNotFoundError):
        report_fn(["o200k_base"], {"a": tmp_path / "missing.txt"})
    with pytest.raises(toksmith.ToksmithTypeError):
        report_fn(["o200k_base"], {"a": [b"bytes"]})  # type: ignore[list-item]
    with pytest.raises(toksmith.InvalidInputError):
        report_fn([], {"a": ["x"]})
    with pytest.raises(toksmith.InvalidInputError):
        report_fn(["o200k_base"], {"a": ["x"]}, max_bytes=0)


def _reference_words(text: str, cuts: set[int]) -> list[tuple[int, int]]:
    """Word byte spans the slow way (docs/report.md: whitespace runs, CJK characters alone)."""
    from toksmith.report import _CJK_RANGES

    def cjk(ch: str) -> bool:
        return any(lo <= ord(ch) <= hi for lo, hi in _CJK_RANGES)

    spans, start, pos = [], None, 0
    for i, ch in enumerate(text):
        if start is not None and (ch.isspace() or cjk(ch) or i in cuts or cjk(text[i - 1])):
            spans.append((start, pos))
            start = None
        if start is None and not ch.isspace():
            start = pos
        pos += len(ch.encode("utf-8"))
    if start is not None:
        spans.append((start, pos))
    return spans


def test_word_spans_match_the_slow_definition():
    import numpy as np

    from toksmith.report import _Words

    rng = np.random.default_rng(7)
    alphabet = list("ab cd\n\t.,1") + ["é", "ж", "日", "本", "の", "カ", "\u3000", "\xa0", "。", "한", "😀", "\u2003"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 40))))
        cuts = sorted({int(c) for c in rng.integers(1, max(len(text), 2), size=3)} & set(range(1, len(text))))
        w = _Words(text, np.array(cuts, dtype=np.int64))
        assert list(zip(w.start.tolist(), w.end.tolist())) == _reference_words(text, set(cuts)), (text, cuts)
        assert w.n_bytes == len(text.encode("utf-8"))


def test_cli_tiktoken_file_with_a_pattern(tiny, tmp_path, capsys):
    ranks = tmp_path / "tiny.tiktoken"
    tiny.save_tiktoken(str(ranks))
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello hellx\n")
    out = tmp_path / "r.json"
    assert main(["report", str(ranks), "--pattern", r"regex:\S+|\s+", "--corpus", f"c={corpus}",
                 "--json", str(out)]) == 0
    assert "a rank file holds no pattern" in capsys.readouterr().err
    m = json.loads(out.read_text())["metrics"][0]
    assert (m["tokenizer"], m["tokens"], m["words_whole_share"]) == (str(ranks), 5, 0.5)


# ----------------------------------------------------------------- the engine's pass vs numpy

DEEPSEEK = Path(__file__).parent / "data" / "deepseek_v4_small.tokenizer.json"
# Every character str.isspace() accepts, CJK, emoji, digits, special-token text: what the word
# rule and the tokenizers treat apart.
ALPHABET = (list("abc xyz\n\n\t.,1234") + [chr(c) for c in range(0x3001) if chr(c).isspace()]
            + ["é", "ж", "日", "本", "の", "カ", "。", "한", "😀", "ﬁ", "<|endoftext|>", "<｜end▁of▁sentence｜>"])


def _reference_measure(subjects, spec, max_bytes, threads, truncated):
    """report's counting pass done the numpy way (toksmith.reference.report)."""
    from toksmith.reference import report as reference
    from toksmith.report import _Acc, _groups, _pieces

    counters = reference.measure([(s.lengths, reference.encoder(s.tok)) for s in subjects],
                                 _groups(_pieces(spec, max_bytes, truncated)))
    return [_Acc(**vars(c)) for c in counters]


def _without_timing(r):
    doc = r.to_dict()
    doc.pop("seconds")
    for m in doc["metrics"]:
        m.pop("encode_seconds"), m.pop("mb_per_s")
    return doc


def _assert_engine_matches_reference(monkeypatch, tokenizers, corpora, **kwargs):
    fused = report_fn(tokenizers, corpora, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(sys.modules["toksmith.report"], "_measure", _reference_measure)
        reference = report_fn(tokenizers, corpora, **kwargs)
    assert _without_timing(fused) == _without_timing(reference)
    return fused


def _random_texts(rng, n, longest):
    return ["".join(rng.choice(ALPHABET, size=int(rng.integers(0, longest)))) for _ in range(n)]


@pytest.mark.parametrize("piece_chars, group_chars", [(1 << 16, 1 << 22), (7, 40), (1, 1)])
def test_engine_pass_equals_the_numpy_reference_on_random_text(tiny, tmp_path, monkeypatch, piece_chars,
                                                               group_chars):
    import numpy as np

    monkeypatch.setattr(sys.modules["toksmith.report"], "PIECE_CHARS", piece_chars)
    monkeypatch.setattr(sys.modules["toksmith.report"], "GROUP_CHARS", group_chars)
    rng = np.random.default_rng(piece_chars)
    (tmp_path / "d").mkdir()
    for i, text in enumerate(_random_texts(rng, 4, 400)):
        (tmp_path / "d" / f"{i}.txt").write_text(text, encoding="utf-8")
    corpora = {"list": _random_texts(rng, 30, 60), "dir": tmp_path / "d", "empty": [""]}
    tokenizers = [tiny, "o200k_base", "cl100k_base", str(DEEPSEEK)]
    r = _assert_engine_matches_reference(monkeypatch, tokenizers, corpora, num_threads=2)
    assert len(r.metrics) == 12 and r.metric("o200k_base", "list").tokens > 100
    # capped: the texts and file blocks read are the same
    _assert_engine_matches_reference(monkeypatch, ["o200k_base", str(DEEPSEEK)], corpora, max_bytes=500)


def test_engine_pass_equals_the_numpy_reference_on_real_text(monkeypatch):
    r = _assert_engine_matches_reference(monkeypatch, ["o200k_base", "cl100k_base", str(DEEPSEEK)], None)
    assert {c.name for c in r.corpora} >= {"en", "python", "de", "ja", "zh"}
    assert all(m.aligned_bytes_share == 1.0 and m.words_whole_share for m in r.metrics)


def test_engine_pass_equals_the_numpy_reference_with_a_normalizer(tmp_path, monkeypatch):
    # "x" -> "yy" and "zz" -> "z": the tokens of a line with one of them do not spell it. With a
    # piece per line, the first groups hold one line of each kind (off by nothing in all: their
    # word metrics count, tallied over the whole group), the last group one "x" (no word metrics).
    lines = ["the cat sat on the mat\n", "the dog sat on the log\n"] * 20
    tok = toksmith.train_bpe(iterator=lines, vocab_size=280, progress=False)
    doc = json.loads(tok.to_str())
    doc["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"String": "x"}, "content": "yy"},
        {"type": "Replace", "pattern": {"String": "zz"}, "content": "z"}]}
    path = tmp_path / "normalized.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(sys.modules["toksmith.report"], "PIECE_CHARS", 1)
    monkeypatch.setattr(sys.modules["toksmith.report"], "GROUP_CHARS", 12)
    texts = ["ax b\nczz d\n", "the cat\nsat x\n", "zz on\nthe mat\n", "plain words\nhere\n", "lone x\n"]
    r = _assert_engine_matches_reference(monkeypatch, [str(path), "o200k_base"], {"t": texts})
    m = r.metric(str(path), "t")
    assert 0 < m.aligned_bytes_share < 1 and m.tokens_per_word is not None


def test_token_classes_match_the_definition():
    # ASCII tokens are classified without decoding; the same answer as decoding them
    import numpy as np

    from toksmith.report import _SCRIPTS, _Subject, _token_script

    subject = _Subject("cl100k_base", "encoding", toksmith.get_encoding("cl100k_base"))
    ids = np.arange(0, subject.n_ids, 7, dtype=np.int64)
    subject.classify(ids)
    for i in ids.tolist():
        try:
            want = _token_script(subject.token_bytes(i).decode("utf-8"))
        except UnicodeDecodeError:
            want = "invalid"
        assert (_SCRIPTS[subject.script[i]], bool(subject.valid[i])) == (want, want != "invalid"), i
    assert subject.lengths[ids].sum() == sum(len(subject.token_bytes(i)) for i in ids.tolist())
