"""Reference SuperBPE training: the two stages spelled out, recounting every pair at every step.

* Units are lines (with their endings); a pre-tokenizer is a regex used as a ``Split`` with
  ``Isolated`` behaviour (matches and the text between them are pieces) or a ``tokenizer.json``
  pre-tokenizer dict of ``Digits`` / ``Split`` / plain ``ByteLevel`` steps.
* Stage 1 is reference BPE (:mod:`toksmith.reference.train`'s rule) up to ``transition`` tokens.
* Stage 2 encodes every distinct chunk with the stage-1 merges applied in rank order, then
  continues BPE with the same ids and tie rule, skipping pairs whose token the filters refuse.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from toksmith.reference.bytelevel import byte_char
from toksmith.reference.encode import onig_to_pcre


def _split_isolated(compiled: Any, text: str) -> list[str]:  # compiled: a regex.Pattern
    out: list[str] = []
    last = 0
    for m in compiled.finditer(text):
        if m.start() > last:
            out.append(text[last : m.start()])
        if m.end() > m.start():
            out.append(m.group())
        last = max(last, m.end())
    if last < len(text):
        out.append(text[last:])
    return out


def _digit_runs(text: str) -> list[str]:
    out: list[str] = []
    for c in text:
        numeric = unicodedata.category(c)[0] == "N"
        if out and (unicodedata.category(out[-1][-1])[0] == "N") == numeric:
            out[-1] += c
        else:
            out.append(c)
    return out


def pieces(spec: str | dict[str, Any], text: str) -> list[str]:
    """The pieces of ``text`` under a stage pre-tokenizer (regex string or pre-tokenizer dict)."""
    import regex

    if isinstance(spec, str):
        return _split_isolated(regex.compile(spec), text)
    steps = spec["pretokenizers"] if spec["type"] == "Sequence" else [spec]
    current = [text]
    for step in steps:
        if step["type"] == "Digits" and not step.get("individual_digits", False):
            current = [p for c in current for p in _digit_runs(c)]
        elif step["type"] == "Split" and step["behavior"] == "Isolated" and not step.get("invert", False):
            compiled = regex.compile(onig_to_pcre(step["pattern"]["Regex"]))
            current = [p for c in current for p in _split_isolated(compiled, c)]
        elif step["type"] == "ByteLevel" and not step.get("add_prefix_space") and not step.get("use_regex"):
            pass
        else:
            raise NotImplementedError(f"reference pre-tokenizer step {step}")
    return current


def count(units: Iterable[str], spec: str | dict[str, Any]) -> dict[bytes, int]:
    """Pieces of every line of every unit, counted."""
    counts: dict[bytes, int] = {}
    for unit in units:
        for line in unit.splitlines(keepends=True):
            for piece in pieces(spec, line):
                key = piece.encode("utf-8")
                counts[key] = counts.get(key, 0) + 1
    return counts


def words_in(token: bytes) -> int:
    return sum(1 for w in token.split(b" ") if w)


def accepts(token: bytes, max_words: int | None, reject_colon_space: bool) -> bool:
    if reject_colon_space and b": " in token:
        return False
    return max_words is None or words_in(token) <= max_words


class _State:
    """Tokens (ids: bytes by byte-level character, then merged tokens in creation order)."""

    def __init__(self) -> None:
        self.tokens = [bytes([b]) for b in sorted(range(256), key=byte_char)]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.merges: list[tuple[int, int]] = []

    def make(self, a: int, b: int) -> int:
        new = self.tokens[a] + self.tokens[b]
        if new not in self.ids:
            self.ids[new] = len(self.tokens)
            self.tokens.append(new)
        self.merges.append((a, b))
        return self.ids[new]

    def word(self, piece: bytes) -> list[int]:
        return [self.ids[bytes([b])] for b in piece]


def merge_word(word: list[int], a: int, b: int, new: int) -> list[int]:
    """``word`` with every non-overlapping ``a b`` (left to right) replaced by ``new``."""
    out: list[int] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def _bpe(state: _State, words: dict[bytes, list[int]], counts: dict[bytes, int], vocab_size: int, reserved: int,
         min_frequency: int, accept: Callable[[bytes], bool]) -> None:
    while len(state.tokens) + reserved < vocab_size:
        pair_counts: dict[tuple[int, int], int] = {}
        for key, word in words.items():
            for pair in zip(word, word[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + counts[key]
        ranked = sorted(pair_counts, key=lambda p: (-pair_counts[p], p))
        best = next((p for p in ranked if accept(state.tokens[p[0]] + state.tokens[p[1]])), None)
        if best is None or pair_counts[best] < max(1, min_frequency):
            return
        new = state.make(*best)
        for key in words:
            words[key] = merge_word(words[key], best[0], best[1], new)


def train_superbpe(units: Sequence[str], stage1: str | dict[str, Any], stage2: str | dict[str, Any], vocab_size: int,
                   transition: int, *, max_words: int | None = 4, reject_colon_space: bool = True,
                   min_frequency: int = 1, n_special: int = 0) -> tuple[list[tuple[bytes, bytes]], int, list[int]]:
    """Returns ``(merges as byte pairs, number of stage-1 merges, ranks of unused stage-1 merges)``."""
    state = _State()
    counts1 = count(units, stage1)
    words1 = {p: state.word(p) for p in counts1}
    _bpe(state, words1, counts1, transition, n_special, min_frequency, lambda _: True)
    stage1_len = len(state.merges)
    if transition == vocab_size:  # no stage 2, even if stage 1 stopped early
        return [(state.tokens[a], state.tokens[b]) for a, b in state.merges], stage1_len, []

    counts2 = count(units, stage2)
    words2 = {c: state.word(c) for c in counts2}
    used = set()
    for rank, (a, b) in enumerate(state.merges):
        new = state.ids[state.tokens[a] + state.tokens[b]]
        for key, word in words2.items():
            merged = merge_word(word, a, b, new)
            if merged != word:
                used.add(rank)
                words2[key] = merged
    unused = [r for r in range(stage1_len) if r not in used]
    _bpe(state, words2, counts2, vocab_size, n_special, min_frequency,
         lambda t: accepts(t, max_words, reject_colon_space))
    merges = [(state.tokens[a], state.tokens[b]) for a, b in state.merges]
    return merges, stage1_len, unused
