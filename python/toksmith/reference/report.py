"""The counting pass of ``toksmith report`` in numpy: the twin of the engine's fused pass
(``rust/core/src/report/``, ``CoreReportPass``), which tests/test_report.py holds equal to it.

Each group of pieces is joined into one text; its words are byte spans found from the steps of
a whitespace flag (:class:`Words`); each tokenizer encodes the group's pieces, and the token
byte offsets are matched to the words with ``np.searchsorted`` (:meth:`Counters.add`). This
was the report's own implementation before the engine did the pass in one go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from toksmith.encoding import Encoding, Tokenizer

IntArray = npt.NDArray[np.int64]
#: Encodes a group's pieces to one flat array of ids.
Encode = Callable[[list[str]], npt.NDArray[np.uint32]]

# Whitespace: the code points below U+3001 that str.isspace() accepts (U+3000 is the last).
_WS_TABLE = np.array([chr(c).isspace() for c in range(0x3001)], dtype=bool)
_BYTE_WS = _WS_TABLE[:256].copy()
#: Characters that are a word each: Han, kana, bopomofo, CJK punctuation, fullwidth forms.
CJK_RANGES = [(0x3001, 0x30FF), (0x3100, 0x312F), (0x31A0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
              (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF)]


class Words:
    """The words of a text as UTF-8 byte spans: maximal runs of non-whitespace characters,
    except that each CJK character (see ``CJK_RANGES``) is a word of its own. ``cuts``: character
    offsets where a new document or piece starts (no word runs across them)."""

    def __init__(self, text: str, cuts: IntArray | None = None) -> None:
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        # Mostly ASCII text: the non-ASCII characters are handled apart, on their own positions.
        high = np.flatnonzero(cps >= 0x80)
        h = cps[high]
        nbytes = np.ones(len(cps), dtype=np.int32)  # a group holds far fewer than 2**31 bytes
        nbytes[high] = 2 + (h >= 0x800).astype(np.int32) + (h >= 0x10000)
        char_end = np.cumsum(nbytes, dtype=np.int64)
        self.n_bytes = int(char_end[-1]) if len(cps) else 0
        low = np.frombuffer(text.encode("latin-1", "replace"), dtype=np.uint8)  # code points < 256
        ws = _BYTE_WS[low]
        ws[high] = _WS_TABLE[np.minimum(h, 0x3000)] & (h <= 0x3000)
        in_cjk = np.zeros(len(h), dtype=bool)
        for lo, hi in CJK_RANGES:
            in_cjk |= (h >= lo) & (h <= hi)
        # Runs of non-whitespace: where the word flag steps up (start) and down (end, exclusive).
        n = len(cps)
        edge = np.zeros(n + 2, dtype=np.int8)
        edge[1:-1] = ~ws
        step = np.diff(edge)
        starts = np.flatnonzero(step == 1)
        ends = np.flatnonzero(step == -1)
        # Forced splits inside runs: before and after each CJK character, and at the cuts.
        cjk_at = high[in_cjk]
        forced = [cjk_at, cjk_at + 1] + ([cuts] if cuts is not None else [])
        splits = np.unique(np.concatenate(forced)).astype(np.int64)
        splits = splits[(splits > 0) & (splits < n)]
        splits = splits[~ws[splits - 1] & ~ws[splits]]
        if len(splits):
            starts = np.sort(np.concatenate((starts, splits)))
            ends = np.sort(np.concatenate((ends, splits)))
        self.start: IntArray = char_end[starts] - nbytes[starts]
        self.end: IntArray = char_end[ends - 1]


@dataclass
class Counters:
    """Running sums of one tokenizer on one corpus (the fields of the engine's ``Counters``)."""

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

    def add(self, lengths: IntArray, ids: npt.NDArray[np.uint32], words: Words, chars: int) -> None:
        """Adds one group: its ids, its words, its characters; ``lengths``: bytes per id."""
        t = len(ids)
        self.tokens += t
        self.bytes += words.n_bytes
        self.chars += chars
        self.words += len(words.start)
        self.counts += np.bincount(ids, minlength=len(self.counts))
        tok_end = np.cumsum(lengths[ids])
        if t == 0 or int(tok_end[-1]) != words.n_bytes:
            return  # the tokens do not spell the text byte for byte (a normalizer): no word metrics
        self.aligned_bytes += words.n_bytes
        self.aligned_tokens += t
        self.aligned_words += len(words.start)
        if not len(words.start):
            return
        first = np.searchsorted(tok_end, words.start, side="right")
        last = np.searchsorted(tok_end, words.end - 1, side="right")
        self.word_tokens += int((last - first + 1).sum())
        whole = first == last
        self.words_whole += int(whole.sum())
        # Tokens touched by exactly one word, which lies wholly inside the token.
        touches = np.cumsum(np.bincount(first, minlength=t + 1) - np.bincount(last + 1, minlength=t + 1))[:t]
        inside = np.bincount(first[whole], minlength=t)
        self.whole_word_tokens += int(((touches == 1) & (inside == 1)).sum())


def measure(subjects: Sequence[tuple[IntArray, Encode]], groups: Iterable[list[str]]) -> list[Counters]:
    """The counters of each ``(lengths per id, encode)`` subject over ``groups`` of pieces (one
    corpus, cut as :func:`toksmith.report._pieces` and :func:`toksmith.report._groups` cut it)."""
    out = [Counters(np.zeros(len(lengths), dtype=np.int64)) for lengths, _ in subjects]
    for pieces in groups:
        text = "".join(pieces)
        words = Words(text, np.cumsum([len(p) for p in pieces[:-1]], dtype=np.int64))
        for acc, (lengths, encode) in zip(out, subjects):
            started = time.perf_counter()
            ids = encode(pieces)
            acc.seconds += time.perf_counter() - started
            acc.add(lengths, ids, words, len(text))
    return out


def encoder(tok: Encoding | Tokenizer) -> Encode:
    """How the report encoded a group's pieces with ``tok`` (an :class:`~toksmith.Encoding`:
    its batch call, special-token text as ordinary text; a :class:`~toksmith.Tokenizer`: its
    ``tokenizer.json`` pipeline without special tokens), ids concatenated."""
    if isinstance(tok, Encoding):
        return lambda pieces: tok.encode_batch_to_numpy(pieces, disallowed_special=())[0]

    def encode(pieces: list[str]) -> npt.NDArray[np.uint32]:
        encoded = tok.encode_batch(pieces, add_special_tokens=False)
        return np.concatenate([np.asarray(e.ids, dtype=np.uint32) for e in encoded] or [np.zeros(0, np.uint32)])

    return encode
