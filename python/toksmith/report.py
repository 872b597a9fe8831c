"""Tokenizer quality side by side: what a tokenizer reveals on real text (``toksmith report``).

:func:`report` encodes one or more corpora with one or more tokenizers and measures, per
tokenizer and corpus: bytes, characters and words per token, words kept whole, tokens that are
whole words, valid UTF-8 and single-script ("pure") tokens, vocabulary utilisation and the Zipf
slope of the token frequencies; per tokenizer: how digit runs are grouped and which tokens are
the longest used and never used. The result is a :class:`Report`: ``.table()`` (text),
``.to_json()`` and ``.to_html()`` (a self-contained page). docs/report.md defines every metric.

Text is read here in blocks; the engine (``CoreReportPass``) cuts them into pieces, encodes them
with every tokenizer on all cores with the GIL released and keeps every counter the metrics
need, so no id list reaches Python and memory stays bounded by the block size. The numpy
computation it replaced is kept as its reference in :mod:`toksmith.reference.report`.

>>> import toksmith
>>> r = toksmith.report(["o200k_base"], {"tiny": ["hello world, hello tokens\\n"]})
>>> m = r.metric("o200k_base", "tiny")
>>> m.tokens, m.bytes, m.words, m.words_whole_share
(6, 26, 4, 0.75)
>>> r.tokenizers[0].digit_grouping.direction
'left-to-right'
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import html
import io
import json
import os
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from toksmith import _checks, patterns
from toksmith._toksmith import CoreReportPass, __version__
from toksmith.encoding import Encoding, Tokenizer
from toksmith.errors import (
    InvalidInputError,
    ToksmithFileNotFoundError,
    ToksmithTypeError,
    os_error,
    shorten,
)
from toksmith.registry import get_encoding, list_encoding_names

__all__ = [
    "report", "Report", "TokenizerSummary", "CorpusSummary", "Metrics", "DigitGrouping", "load_tokenizer",
    "default_corpora", "SAMPLES", "SCHEMA_VERSION",
]

#: The bundled sample corpora (one file per language or domain; see samples/README.md).
SAMPLES = Path(__file__).parent / "samples"
#: Version of the JSON document written by :meth:`Report.to_json` (see docs/report.md).
SCHEMA_VERSION = 1
#: Default cap on the bytes read from each corpus.
DEFAULT_MAX_BYTES = 50_000_000
#: Texts are encoded in pieces cut at newlines after about this many characters...
PIECE_CHARS = 1 << 16
#: ...measured in groups of about this many characters (the engine's buffer, and the unit of
#: the "tokens spell the text" check), and files are read in blocks of this many bytes.
GROUP_CHARS = 1 << 22
#: How many of the longest used / unused tokens are listed.
TOP = 10
#: Digit runs probed for the digit grouping: lengths 1..MAX_DIGITS, SAMPLES_PER_LENGTH each.
MAX_DIGITS = 12
SAMPLES_PER_LENGTH = 20

TokenizerSpec = Union[str, "os.PathLike[str]", Encoding, Tokenizer]
CorpusSpec = Union[str, "os.PathLike[str]", Sequence[str]]
IntArray = npt.NDArray[np.int64]

# --------------------------------------------------------------------------- result types


@dataclass
class DigitGrouping:
    """How a tokenizer splits runs of digits (a property of the tokenizer, not of a corpus).

    ``by_length[n - 1]`` is ``{"digits": n, "pattern": [token lengths in digits], "share": f}``:
    the most common split of ``SAMPLES_PER_LENGTH`` random ``n``-digit numbers, and the share of
    them split that way. ``direction``: ``"left-to-right"`` (full groups first, the remainder
    last: 1234 -> 123|4), ``"right-to-left"`` (remainder first: 1234 -> 1|234), ``"whole"``
    (every run up to 12 digits is one token), ``"irregular"`` (neither, e.g. learned merges)
    or ``"ambiguous"`` (only evenly split runs). ``max_group``: the longest digit token seen.
    """

    direction: str
    max_group: int
    by_length: list[dict[str, Any]]


@dataclass
class TokenizerSummary:
    """Per tokenizer: its vocabulary, digit grouping, and the tokens used on no corpus."""

    name: str
    kind: str
    vocab_size: int
    special_tokens: int
    digit_grouping: DigitGrouping
    vocab_used: int
    vocab_utilisation: float
    unused_tokens: int
    longest_used: list[dict[str, Any]]
    longest_unused: list[dict[str, Any]]


@dataclass
class CorpusSummary:
    """One corpus: where it came from and its size as read (``truncated``: cut at max_bytes)."""

    name: str
    source: str
    bytes: int
    chars: int
    words: int
    truncated: bool


@dataclass
class Metrics:
    """The metrics of one tokenizer on one corpus (docs/report.md defines each)."""

    tokenizer: str
    corpus: str
    tokens: int
    bytes: int
    chars: int
    words: int
    bytes_per_token: float | None
    chars_per_token: float | None
    tokens_per_word: float | None
    words_whole_share: float | None
    whole_word_token_share: float | None
    valid_utf8_token_share: float | None
    pure_token_share: float | None
    script_shares: dict[str, float]
    vocab_used: int
    vocab_utilisation: float
    zipf_slope: float | None
    longest_used: list[dict[str, Any]]
    encode_seconds: float
    mb_per_s: float | None
    aligned_bytes_share: float
    zipf_curve: list[list[float]] = field(default_factory=list)


@dataclass
class Report:
    """The result of :func:`report`: per-tokenizer summaries, corpora, and one
    :class:`Metrics` per tokenizer and corpus (tokenizer-major order)."""

    tokenizers: list[TokenizerSummary]
    corpora: list[CorpusSummary]
    metrics: list[Metrics]
    seconds: float
    version: str = ""

    def metric(self, tokenizer: str, corpus: str) -> Metrics:
        """The metrics of ``tokenizer`` on ``corpus`` (by name)."""
        for m in self.metrics:
            if m.tokenizer == tokenizer and m.corpus == corpus:
                return m
        raise InvalidInputError(f"no metrics for tokenizer {shorten(tokenizer)} on corpus {shorten(corpus)}")

    def to_dict(self) -> dict[str, Any]:
        """All metrics as plain JSON values (the schema of docs/report.md)."""
        return {"schema_version": SCHEMA_VERSION, "toksmith_version": self.version,
                "seconds": self.seconds,
                "tokenizers": [dataclasses.asdict(t) for t in self.tokenizers],
                "corpora": [dataclasses.asdict(c) for c in self.corpora],
                "metrics": [dataclasses.asdict(m) for m in self.metrics]}

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def table(self) -> str:
        """The main metrics as a text table, one row per tokenizer and corpus, then one line per
        tokenizer (digit grouping, vocabulary used on all corpora together)."""
        header = ["tokenizer", "corpus", "KB", "tokens", "B/tok", "ch/tok", "tok/word", "whole%", "wordtok%",
                  "utf8%", "pure%", "vocab%", "zipf", "MB/s"]
        rows = [header]
        for m in self.metrics:
            rows.append([m.tokenizer, m.corpus, f"{m.bytes / 1e3:.0f}", str(m.tokens), _num(m.bytes_per_token, 2),
                         _num(m.chars_per_token, 2), _num(m.tokens_per_word, 2), _pct(m.words_whole_share),
                         _pct(m.whole_word_token_share), _pct(m.valid_utf8_token_share), _pct(m.pure_token_share),
                         _pct(m.vocab_utilisation), _num(m.zipf_slope, 2), _num(m.mb_per_s, 1)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        for t in self.tokenizers:
            d = t.digit_grouping
            lines.append(f"{t.name}: {t.vocab_size} tokens, {t.vocab_utilisation * 100:.1f}% used on all corpora "
                         f"({t.unused_tokens} never used); digits: {d.direction}, groups of up to {d.max_group}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A self-contained HTML page (inline CSS; plots as inline SVG when matplotlib is
        installed, tables only otherwise)."""
        return _html(self)


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}"


# --------------------------------------------------------------------------- tokenizers


class _Subject:
    """A tokenizer being measured: batch encoding to flat numpy ids, and per-id tables."""

    def __init__(self, name: str, kind: str, tok: Encoding | Tokenizer) -> None:
        self.name, self.kind, self.tok = name, kind, tok
        core = tok._core
        n = core.n_vocab
        added = {i for _, i, _ in core.added_tokens}
        if isinstance(tok, Encoding):
            added |= set(tok._special_tokens.values())
        self.n_ids = n
        self.special = len(added)
        found = CoreReportPass.token_lengths(core)  # -1: no token has the id
        is_added = np.zeros(n, dtype=bool)
        is_added[[i for i in added if i < n]] = True
        self.lengths: IntArray = np.maximum(found, 0)
        self.ordinary = (found >= 0) & ~is_added
        # Per id, filled on demand (only for ids that occur): valid UTF-8, script index (-1: not yet).
        self.valid = np.zeros(n, dtype=bool)
        self.script = np.full(n, -1, dtype=np.int64)
        self.vocab_size = int(self.ordinary.sum())

    def token_bytes(self, i: int) -> bytes:
        return self.tok._core.token_bytes(i) or b""

    def classify(self, ids: IntArray) -> None:
        """Fills :attr:`valid` and :attr:`script` for ``ids``."""
        latin, none, invalid = _script_index("LATIN"), _script_index("none"), _script_index("invalid")
        for i in ids[self.script[ids] < 0].tolist():
            b = self.token_bytes(i)
            if b.isascii():  # most tokens: valid, and their letters (those with a case) are Latin
                self.valid[i] = True
                self.script[i] = latin if b.lower() != b.upper() else none
                continue
            try:
                text = b.decode("utf-8")
            except UnicodeDecodeError:
                self.script[i] = invalid
                continue
            self.valid[i] = True
            self.script[i] = _script_index(_token_script(text))


def load_tokenizer(spec: TokenizerSpec, pattern: str = "o200k") -> tuple[str, Encoding | Tokenizer]:
    """``(label, tokenizer)`` for a bundled encoding name, a ``tokenizer.json`` file, a
    ``.tiktoken`` file (split with ``pattern``, a name of :mod:`toksmith.patterns` or a regex:
    the file holds none) or a toksmith :class:`Encoding` / :class:`Tokenizer` object."""
    if isinstance(spec, Encoding):
        return spec.name, spec
    if isinstance(spec, Tokenizer):
        return spec._core.name or "tokenizer", spec
    if not isinstance(spec, (str, os.PathLike)):
        raise ToksmithTypeError(f"a tokenizer must be a name, a path, an Encoding or a Tokenizer, "
                                f"not {type(spec).__name__}")
    text = os.fspath(spec)
    if isinstance(spec, str) and text in list_encoding_names():
        return text, get_encoding(text)
    if not os.path.exists(text):
        if isinstance(spec, str) and os.sep not in text and "." not in text:
            raise InvalidInputError(f"unknown tokenizer {shorten(text)}: neither a bundled encoding "
                                    f"({', '.join(list_encoding_names())}) nor a file")
        raise ToksmithFileNotFoundError(f"{text}: no such tokenizer file")
    if text.endswith(".json"):
        return text, Tokenizer.from_file(text)
    enc = Encoding.from_tiktoken_file(text, pat_str=patterns.resolve(pattern), name=Path(text).stem)
    return text, enc


# --------------------------------------------------------------------------- scripts


_SCRIPTS: list[str] = ["none", "mixed", "invalid"]
_CJK_WORDS = ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC", "BOPOMOFO")


_SCRIPT_INDEX: dict[str, int] = {label: i for i, label in enumerate(_SCRIPTS)}


def _script_index(label: str) -> int:
    if label not in _SCRIPT_INDEX:
        _SCRIPT_INDEX[label] = len(_SCRIPTS)
        _SCRIPTS.append(label)
    return _SCRIPT_INDEX[label]


@functools.lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The script of a letter (Unicode category ``L*``), ``None`` for anything else. Python's
    unicodedata has no script property: the script is the first word of the character's name
    (``LATIN``, ``CYRILLIC``, ``GREEK``, ``ARABIC``, ``HANGUL``...), skipping ``FULLWIDTH`` /
    ``HALFWIDTH``; Han ideographs, hiragana, katakana and bopomofo are one script, ``CJK``
    (Japanese mixes them within words); modifier letters count as no script.

    >>> [char_script(c) for c in "aé1 жλ日ひカ한"]
    ['LATIN', 'LATIN', None, None, 'CYRILLIC', 'GREEK', 'CJK', 'CJK', 'CJK', 'HANGUL']
    """
    if not unicodedata.category(ch).startswith("L"):
        return None
    words = unicodedata.name(ch, "").split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH"):
        words = words[1:]
    if not words or words[0] == "MODIFIER":
        return None
    return "CJK" if words[0] in _CJK_WORDS else words[0]


def _token_script(text: str) -> str:
    """``"none"`` (no letters), a script name (all letters from it) or ``"mixed"``."""
    scripts = {s for s in map(char_script, text) if s is not None}
    if not scripts:
        return "none"
    return scripts.pop() if len(scripts) == 1 else "mixed"


@dataclass
class _Acc:
    """Running sums of one tokenizer on one corpus."""

    counts: IntArray
    tokens: int = 0
    bytes: int = 0
    chars: int = 0
    words: int = 0
    aligned_bytes: int = 0
    aligned_tokens: int = 0
    aligned_words: int = 0
    word_tokens: int = 0
    words_whole: int = 0
    whole_word_tokens: int = 0
    seconds: float = 0.0


def _show(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def _longest(subject: _Subject, ids: IntArray, counts: IntArray | None, top: int) -> list[dict[str, Any]]:
    if not len(ids):
        return []
    # longest first; among equals, the lowest id (the earliest merge)
    order = ids[np.lexsort((ids, -subject.lengths[ids]))][:top]
    out: list[dict[str, Any]] = []
    for i in order.tolist():
        item: dict[str, Any] = {"id": i, "token": _show(subject.token_bytes(i)), "bytes": int(subject.lengths[i])}
        if counts is not None:
            item["count"] = int(counts[i])
        out.append(item)
    return out


def _zipf(counts: IntArray) -> tuple[float | None, list[list[float]]]:
    freq = np.sort(counts[counts > 0])[::-1].astype(np.float64)
    if len(freq) < 2:
        return None, []
    ranks = np.arange(1, len(freq) + 1, dtype=np.float64)
    slope = float(np.polyfit(np.log(ranks), np.log(freq), 1)[0])
    picks = np.unique(np.geomspace(1, len(freq), num=min(len(freq), 60)).astype(np.int64)) - 1
    return slope, [[float(ranks[i]), float(freq[i])] for i in picks]


def _finish(subject: _Subject, corpus: str, acc: _Acc, top: int) -> Metrics:
    total = int(acc.counts.sum())
    used_ids = np.flatnonzero((acc.counts > 0) & subject.ordinary)
    slope, curve = _zipf(acc.counts)
    subject.classify(np.flatnonzero(acc.counts))
    by_script = np.bincount(np.maximum(subject.script, 0), weights=acc.counts, minlength=len(_SCRIPTS))
    scripts = {_SCRIPTS[i]: float(v / total) for i, v in enumerate(by_script) if v and total}
    pure = (acc.counts * (subject.valid & (subject.script != _script_index("mixed")))).sum()

    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    return Metrics(
        tokenizer=subject.name, corpus=corpus, tokens=acc.tokens, bytes=acc.bytes, chars=acc.chars,
        words=acc.words, bytes_per_token=ratio(acc.bytes, acc.tokens), chars_per_token=ratio(acc.chars, acc.tokens),
        tokens_per_word=ratio(acc.word_tokens, acc.aligned_words),
        words_whole_share=ratio(acc.words_whole, acc.aligned_words),
        whole_word_token_share=ratio(acc.whole_word_tokens, acc.aligned_tokens),
        valid_utf8_token_share=ratio(float((acc.counts * subject.valid).sum()), total),
        pure_token_share=ratio(float(pure), total), script_shares=scripts,
        vocab_used=len(used_ids), vocab_utilisation=ratio(len(used_ids), subject.vocab_size) or 0.0,
        zipf_slope=slope, longest_used=_longest(subject, used_ids, acc.counts, top),
        encode_seconds=acc.seconds, mb_per_s=ratio(acc.bytes / 1e6, acc.seconds),
        aligned_bytes_share=ratio(acc.aligned_bytes, acc.bytes) or 0.0, zipf_curve=curve)


# --------------------------------------------------------------------------- digits


def digit_grouping(subject_or_tokenizer: Encoding | Tokenizer | _Subject) -> DigitGrouping:
    """How digit runs of 1 to 12 digits split into tokens (see :class:`DigitGrouping`).

    >>> import toksmith
    >>> g = digit_grouping(toksmith.get_encoding("cl100k_base"))
    >>> g.direction, g.max_group, g.by_length[6]["pattern"]
    ('left-to-right', 3, [3, 3, 1])
    """
    subject = (subject_or_tokenizer if isinstance(subject_or_tokenizer, _Subject)
               else _Subject("", "", subject_or_tokenizer))
    rng = np.random.default_rng(12345)
    numbers: list[str] = []
    for n in range(1, MAX_DIGITS + 1):
        for _ in range(SAMPLES_PER_LENGTH):
            digits = rng.integers(0, 10, size=n)
            if n > 1:
                digits[0] = rng.integers(1, 10)
            numbers.append("".join(map(str, digits.tolist())))
    if isinstance(subject.tok, Encoding):
        batches = subject.tok.encode_ordinary_batch(numbers)
    else:
        batches = [e.ids for e in subject.tok.encode_batch(numbers, add_special_tokens=False)]
    by_length: list[dict[str, Any]] = []
    votes: set[str] = set()
    max_group = 0
    for n in range(1, MAX_DIGITS + 1):
        patterns: dict[tuple[int, ...], int] = {}
        for ids in batches[(n - 1) * SAMPLES_PER_LENGTH: n * SAMPLES_PER_LENGTH]:
            p = tuple(int(subject.lengths[i]) for i in ids)
            patterns[p] = patterns.get(p, 0) + 1
        best = max(patterns.items(), key=lambda kv: (kv[1], -len(kv[0])))
        pattern = list(best[0])
        max_group = max([max_group, *pattern])
        by_length.append({"digits": n, "pattern": pattern, "share": best[1] / SAMPLES_PER_LENGTH})
        votes.add(_direction(pattern))
    decisive = votes - {"whole", "ambiguous"}
    if not decisive:
        direction = "whole" if votes == {"whole"} else "ambiguous"
    elif len(decisive) == 1:
        direction = decisive.pop()
    else:
        direction = "irregular"
    return DigitGrouping(direction=direction, max_group=max_group, by_length=by_length)


def _direction(pattern: list[int]) -> str:
    if len(pattern) == 1:
        return "whole"
    size = max(pattern)
    if all(p == size for p in pattern):
        return "ambiguous"
    if all(p == size for p in pattern[:-1]) and pattern[-1] < size:
        return "left-to-right"
    if all(p == size for p in pattern[1:]) and pattern[0] < size:
        return "right-to-left"
    return "irregular"


# --------------------------------------------------------------------------- corpora


def default_corpora() -> dict[str, str]:
    """The bundled samples, ``{name: path}`` (``en``, ``python``, ``de``, ``fr``, ``ru``, ``ja``, ``zh``)."""
    order = ["en", "python", "de", "fr", "ru", "ja", "zh"]
    found = {p.stem: str(p) for p in SAMPLES.glob("*.txt")}
    return {k: found[k] for k in sorted(found, key=lambda k: (order.index(k) if k in order else 99, k))}


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        out: list[str] = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
        return [f for f in out if os.path.isfile(f)]
    if not os.path.exists(path):
        raise ToksmithFileNotFoundError(f"{path}: no such corpus file or directory")
    return [path]


def _cut(text: str) -> list[str]:
    """Pieces of about PIECE_CHARS characters, cut after newlines (a piece ends inside a line only
    when the line is longer than that)."""
    pieces, start = [], 0
    while start < len(text):
        end = text.find("\n", start + PIECE_CHARS)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def _texts(spec: CorpusSpec, max_bytes: int, truncated: list[bool]) -> Iterator[str]:
    """The text of a corpus as the stretches that are cut into pieces (see :func:`_cut`): a file
    read in blocks of about GROUP_CHARS, each cut after its last newline, or one text of a list;
    at most ``max_bytes`` bytes in all (``truncated[0]`` is set when the cap cut it). No stretch
    spans two files or two texts of a list."""
    if isinstance(spec, (str, os.PathLike)):
        left = max_bytes
        for name in _files(os.fspath(spec)):
            if left <= 0:
                truncated[0] = True
                break
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            carry = ""
            try:
                with open(name, "rb") as f:
                    while left > 0:
                        block = f.read(min(GROUP_CHARS, left))
                        if not block:
                            break
                        left -= len(block)
                        text = carry + decoder.decode(block)
                        cut = text.rfind("\n") + 1
                        if cut == 0 and len(text) < GROUP_CHARS:
                            carry = text  # no complete line yet
                            continue
                        cut = cut or len(text)
                        carry = text[cut:]
                        yield text[:cut]
                    if left <= 0 and f.read(1):
                        truncated[0] = True
            except OSError as e:
                raise os_error(e) from None
            yield carry + decoder.decode(b"", final=True)
        return
    if not isinstance(spec, Sequence) or not all(isinstance(t, str) for t in spec):
        raise ToksmithTypeError(f"a corpus must be a path or a list of str, not {type(spec).__name__}")
    size = 0
    for text in spec:
        data = text.encode("utf-8", "replace")  # lone surrogates -> '?'
        size += len(data)
        if size > max_bytes:
            truncated[0] = True
            break
        yield data.decode("utf-8")


def _pieces(spec: CorpusSpec, max_bytes: int, truncated: list[bool]) -> Iterator[str]:
    """The text of a corpus as pieces of about PIECE_CHARS characters (see :func:`_cut`, and
    :func:`_texts` for ``max_bytes`` and ``truncated``); a piece never spans two files or two
    texts of a list. The engine's pass cuts the same pieces itself; these are for the numpy
    reference (toksmith.reference.report) and benches/report.py."""
    for text in _texts(spec, max_bytes, truncated):
        yield from _cut(text)


def _groups(pieces: Iterator[str]) -> Iterator[list[str]]:
    """Pieces in groups of about GROUP_CHARS characters (analysed together)."""
    group: list[str] = []
    size = 0
    for piece in pieces:
        group.append(piece)
        size += len(piece)
        if size >= GROUP_CHARS:
            yield group
            group, size = [], 0
    if group:
        yield group


def _measure(subjects: list[_Subject], spec: CorpusSpec, max_bytes: int, threads: int | None,
             truncated: list[bool]) -> list[_Acc]:
    """The counters of each subject on one corpus. The engine cuts the texts into pieces and
    groups, encodes them with every tokenizer on all cores (GIL released) and keeps the counters;
    only the reading is done here, a block ahead on another thread."""
    measured = CoreReportPass([s.tok._core for s in subjects], [isinstance(s.tok, Tokenizer) for s in subjects],
                              PIECE_CHARS, GROUP_CHARS, threads)
    for text in _ahead(_texts(spec, max_bytes, truncated)):
        measured.feed(text)
    measured.finish()
    out = []
    for i in range(len(subjects)):
        sums, seconds, counts = measured.counters(i)
        out.append(_Acc(counts=counts, seconds=seconds, **sums))
    return out


def _ahead(items: Iterator[str]) -> Iterator[str]:
    """``items``, each one fetched on a worker thread while the caller works on the one before
    (the engine releases the GIL, so reading the next block overlaps measuring this one)."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="toksmith-report") as pool:
        pending = pool.submit(next, items, done)
        while (item := pending.result()) is not done:
            pending = pool.submit(next, items, done)
            yield item  # type: ignore[misc]  # not `done`: a str


def __getattr__(name: str) -> Any:
    # The numpy word splitter moved to toksmith.reference.report with the rest of the numpy pass
    # (imported on demand: the report itself does not need it).
    if name in ("_Words", "_CJK_RANGES"):
        from toksmith.reference import report as reference

        return reference.Words if name == "_Words" else reference.CJK_RANGES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- report


def report(
    tokenizers: Sequence[TokenizerSpec] | Mapping[str, TokenizerSpec],
    corpora: Mapping[str, CorpusSpec] | None = None,
    *,
    pattern: str = "o200k",
    num_threads: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    top: int = TOP,
) -> Report:
    """Measures ``tokenizers`` (bundled encoding names, ``tokenizer.json`` / ``.tiktoken``
    paths, or :class:`Encoding` / :class:`Tokenizer` objects; a mapping gives them labels) on ``corpora`` (``{name: path
    of a file or directory, or a list of texts}``; default: the bundled samples). A
    ``.tiktoken`` file is split with ``pattern``. At most ``max_bytes`` bytes are read from each
    corpus. Returns a :class:`Report`."""
    start = time.perf_counter()
    if isinstance(tokenizers, (str, os.PathLike, Encoding, Tokenizer)):
        tokenizers = [tokenizers]
    if not tokenizers:
        raise InvalidInputError("give at least one tokenizer")
    labelled: list[tuple[str | None, TokenizerSpec]] = (
        [(str(k), v) for k, v in tokenizers.items()] if isinstance(tokenizers, Mapping)
        else [(None, t) for t in tokenizers])
    corpora = default_corpora() if corpora is None else corpora
    if not isinstance(corpora, Mapping):
        raise ToksmithTypeError(f"corpora must be a mapping of name to path or texts, not {type(corpora).__name__}")
    if not corpora:
        raise InvalidInputError("give at least one corpus")
    max_bytes = _checks.count(max_bytes, "max_bytes", 1)
    threads = _checks.threads(num_threads)
    for cname, cspec in corpora.items():  # fail fast, before any tokenizer loads
        if isinstance(cspec, (str, os.PathLike)) and not os.path.exists(cspec):
            raise ToksmithFileNotFoundError(f"{os.fspath(cspec)}: no such corpus file or directory (corpus {cname})")
    subjects: list[_Subject] = []
    seen: dict[str, int] = {}
    for given, tspec in labelled:
        label, tok = load_tokenizer(tspec, pattern)
        label = given or label
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        kind = "tokenizer.json" if isinstance(tok, Tokenizer) else "encoding"
        subjects.append(_Subject(label, kind, tok))

    summaries: list[CorpusSummary] = []
    accs: list[list[_Acc]] = [[] for _ in subjects]
    for name, spec in corpora.items():
        truncated = [False]
        for acc, measured in zip(accs, _measure(subjects, spec, max_bytes, threads, truncated)):
            acc.append(measured)
        first = accs[0][-1]
        source = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else f"{len(spec)} texts"
        summaries.append(CorpusSummary(name=name, source=source, bytes=first.bytes, chars=first.chars,
                                       words=first.words, truncated=truncated[0]))

    metrics: list[Metrics] = []
    summaries_t: list[TokenizerSummary] = []
    for s, subject in enumerate(subjects):
        metrics.extend(_finish(subject, name, acc, top) for name, acc in zip(corpora, accs[s]))
        total = sum((acc.counts for acc in accs[s]), np.zeros(subject.n_ids, dtype=np.int64))
        used = (total > 0) & subject.ordinary
        unused = np.flatnonzero(~used & subject.ordinary)
        summaries_t.append(TokenizerSummary(
            name=subject.name, kind=subject.kind, vocab_size=subject.vocab_size, special_tokens=subject.special,
            digit_grouping=digit_grouping(subject), vocab_used=int(used.sum()),
            vocab_utilisation=float(used.sum() / subject.vocab_size) if subject.vocab_size else 0.0,
            unused_tokens=len(unused), longest_used=_longest(subject, np.flatnonzero(used), total, top),
            longest_unused=_longest(subject, unused, None, top)))
    return Report(tokenizers=summaries_t, corpora=summaries, metrics=metrics,
                  seconds=time.perf_counter() - start, version=__version__)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0} td.l,th.l{text-align:left} td.best{font-weight:bold;background:#e6f4e6}
code{background:#f5f5f5;padding:0 3px;white-space:pre} .note{color:#666;font-size:13px}
figure{margin:1em 0} h2{border-bottom:1px solid #ddd;padding-bottom:3px}
"""

#: (metric attribute, title, higher is better?) of the comparison tables of the HTML page.
_HTML_METRICS = [
    ("bytes_per_token", "Bytes per token", True), ("chars_per_token", "Characters per token", True),
    ("tokens_per_word", "Tokens per word (fertility)", False), ("words_whole_share", "Words kept whole", True),
    ("whole_word_token_share", "Tokens that are whole words", True),
    ("valid_utf8_token_share", "Tokens that are valid UTF-8", True), ("pure_token_share", "Pure tokens", True),
    ("vocab_utilisation", "Vocabulary utilisation", True), ("zipf_slope", "Zipf slope", None),
    ("mb_per_s", "Encode speed (MB/s)", True),
]
_SHARES = {"words_whole_share", "whole_word_token_share", "valid_utf8_token_share", "pure_token_share",
           "vocab_utilisation"}


def _e(x: object) -> str:
    return html.escape(str(x))


def _cell(attr: str, v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}%" if attr in _SHARES else f"{v:.2f}"


def _token_list(items: list[dict[str, Any]]) -> str:
    return " ".join(f"<code>{_e(repr(t['token']))}</code>" for t in items) or "none"


def _plots(r: Report) -> list[str]:
    """Inline SVG figures, made with matplotlib when it is installed; none otherwise."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return []
    out: list[str] = []
    names = [t.name for t in r.tokenizers]
    corpora = [c.name for c in r.corpora]
    fig = Figure(figsize=(max(6.0, 1.2 * len(corpora) * max(1, len(names)) / 2), 3.6))
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        ys = [r.metric(name, c).bytes_per_token or 0.0 for c in corpora]
        ax.bar([i + k * width for i in range(len(corpora))], ys, width, label=name)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(corpora))], corpora)
    ax.set_ylabel("bytes per token")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.append(_svg(fig))
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot()
    # One colour per tokenizer, one line style per corpus: readable with many of both.
    colour = {name: f"C{k % 10}" for k, name in enumerate(names)}
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 3, 2, 3))]
    style = {c: styles[k % len(styles)] for k, c in enumerate(corpora)}
    for m in r.metrics:
        if m.zipf_curve:
            ax.loglog([p[0] for p in m.zipf_curve], [p[1] for p in m.zipf_curve],
                      color=colour[m.tokenizer], linestyle=style[m.corpus], linewidth=1.2)
    for name in names:  # legend entries only
        ax.plot([], [], color=colour[name], label=name)
    for c in corpora:
        ax.plot([], [], color="0.4", linestyle=style[c], label=c)
    ax.set_xlabel("rank")
    ax.set_ylabel("token frequency")
    ax.set_title("Token frequency by rank (Zipf): colour = tokenizer, line = corpus", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out.append(_svg(fig))
    return out


def _svg(fig: Any) -> str:  # Any: a matplotlib Figure (optional dependency)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]


def _html(r: Report) -> str:
    corpora = [c.name for c in r.corpora]
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>toksmith report</title>",
             f"<style>{_CSS}</style></head><body>", "<h1>Tokenizer report</h1>",
             f"<p class='note'>toksmith {_e(r.version)}, {r.seconds:.1f} s. Definitions: docs/report.md.</p>",
             "<h2>Corpora</h2><table><tr><th class='l'>corpus</th><th class='l'>source</th><th>bytes</th>"
             "<th>characters</th><th>words</th><th>truncated</th></tr>"]
    for c in r.corpora:
        parts.append(f"<tr><td class='l'>{_e(c.name)}</td><td class='l'>{_e(c.source)}</td><td>{c.bytes}</td>"
                     f"<td>{c.chars}</td><td>{c.words}</td><td>{'yes' if c.truncated else 'no'}</td></tr>")
    parts.append("</table>")
    plots = _plots(r)
    if plots:
        parts.append("<h2>Plots</h2>")
        parts.extend(f"<figure>{p}</figure>" for p in plots)
    else:
        parts.append("<p class='note'>Plots need matplotlib (pip install 'toksmith[report]'); tables only.</p>")
    for attr, title, higher in _HTML_METRICS:
        parts.append(f"<h2>{_e(title)}</h2><table><tr><th class='l'>tokenizer</th>"
                     + "".join(f"<th>{_e(c)}</th>" for c in corpora) + "</tr>")
        for t in r.tokenizers:
            cells = []
            for cname in corpora:
                v = getattr(r.metric(t.name, cname), attr)
                column = [getattr(r.metric(u.name, cname), attr) for u in r.tokenizers]
                column = [x for x in column if x is not None]
                best = (higher is not None and v is not None and len(r.tokenizers) > 1
                        and v == (max(column) if higher else min(column)))
                cells.append(f"<td{' class=best' if best else ''}>{_cell(attr, v)}</td>")
            parts.append(f"<tr><td class='l'>{_e(t.name)}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    parts.append("<h2>Scripts of the tokens</h2><table><tr><th class='l'>tokenizer</th><th class='l'>corpus</th>"
                 "<th class='l'>share of tokens by script of their letters</th></tr>")
    for m in r.metrics:
        shares = ", ".join(f"{k} {v * 100:.1f}%" for k, v in sorted(m.script_shares.items(), key=lambda kv: -kv[1]))
        parts.append(f"<tr><td class='l'>{_e(m.tokenizer)}</td><td class='l'>{_e(m.corpus)}</td>"
                     f"<td class='l'>{_e(shares)}</td></tr>")
    parts.append("</table><h2>Digit grouping</h2><table><tr><th class='l'>tokenizer</th><th>direction</th>"
                 + "".join(f"<th>{n}</th>" for n in range(1, MAX_DIGITS + 1)) + "</tr>")
    for t in r.tokenizers:
        d = t.digit_grouping
        parts.append(f"<tr><td class='l'>{_e(t.name)}</td><td>{_e(d.direction)}</td>"
                     + "".join(f"<td>{'|'.join(map(str, g['pattern']))}</td>" for g in d.by_length) + "</tr>")
    parts.append("</table><h2>Vocabulary</h2><table><tr><th class='l'>tokenizer</th><th>size</th><th>used</th>"
                 "<th>never used</th><th class='l'>longest used</th><th class='l'>longest never used</th></tr>")
    for t in r.tokenizers:
        parts.append(f"<tr><td class='l'>{_e(t.name)}</td><td>{t.vocab_size}</td>"
                     f"<td>{t.vocab_utilisation * 100:.1f}%</td><td>{t.unused_tokens}</td>"
                     f"<td class='l'>{_token_list(t.longest_used)}</td>"
                     f"<td class='l'>{_token_list(t.longest_unused)}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"
