"""Reference byte-level BPE encoder (tiktoken semantics), in plain Python.

Split the text at allowed special tokens, split each stretch with the pattern (the ``regex``
module, PCRE-like like tiktoken's engine), and merge each piece: look the whole piece up, else
start from single bytes and repeatedly merge the adjacent pair whose concatenation has the lowest
rank (leftmost on ties) until no adjacent pair is a token.
"""

from __future__ import annotations

import re as _re
from collections.abc import Callable
from collections.abc import Set as AbstractSet


def _merge(piece: bytes, rank_of: Callable[[bytes, bytes], int | None]) -> list[bytes]:
    """Start from single bytes; repeatedly merge the adjacent pair of lowest rank (leftmost on
    ties) until ``rank_of(left, right)`` is None for every pair."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            rank = rank_of(parts[i], parts[i + 1])
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            break
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return parts


def bpe_merge(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """tiktoken's merge rule on one piece: whole-piece lookup, then any two adjacent parts whose
    concatenation is a token merge, lowest rank first."""
    if piece in ranks:
        return [ranks[piece]]
    return [ranks[p] for p in _merge(piece, lambda a, b: ranks.get(a + b))]


def bpe_merge_list(piece: bytes, merges: dict[tuple[bytes, bytes], int]) -> list[bytes]:
    """Hugging Face's merge rule on one piece: only listed merges apply, lowest index first,
    leftmost on ties. Returns the token bytes."""
    return _merge(piece, lambda a, b: merges.get((a, b)))


class ReferenceEncoder:
    """The naive encoder for a tiktoken-style vocabulary."""

    def __init__(self, pattern: str, ranks: dict[bytes, int], special_tokens: dict[str, int] | None = None) -> None:
        import regex  # test extra: the engine with tiktoken's regex semantics

        self.pattern = regex.compile(pattern)
        self.ranks = dict(ranks)
        self.special_tokens = dict(special_tokens or {})
        self.decoder = {v: k for k, v in self.ranks.items()}
        self.decoder.update({v: k.encode() for k, v in self.special_tokens.items()})

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for piece in self.pattern.findall(text):
            out.extend(bpe_merge(piece.encode("utf-8"), self.ranks))
        return out

    def encode(self, text: str, allowed_special: AbstractSet[str] = frozenset()) -> list[int]:
        """Special tokens in ``allowed_special`` become their ids (leftmost, longest first)."""
        allowed = sorted(allowed_special, key=len, reverse=True)
        out: list[int] = []
        start = 0
        while True:
            hits = [(text.find(s, start), -len(s), s) for s in allowed]
            hits = [h for h in hits if h[0] >= 0]
            if not hits:
                break
            at, _, token = min(hits)
            out.extend(self.encode_ordinary(text[start:at]))
            out.append(self.special_tokens[token])
            start = at + len(token)
        out.extend(self.encode_ordinary(text[start:]))
        return out

    def decode_bytes(self, ids: list[int]) -> bytes:
        return b"".join(self.decoder[i] for i in ids)


def _rewrite_interval_plus(pattern: str, rewrite: Callable[[str, str], str]) -> str:
    """Replaces each ``ATOM{n,m}+`` (outside classes) by ``rewrite(ATOM, "{n,m}")``."""
    atoms: list[str] = []
    groups: list[int] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            m = _re.match(r"\\[pPxu]\{[^}]*\}|\\.", pattern[i:], _re.S)
            if m is None:  # a trailing backslash
                raise ValueError(f"pattern ends with a lone backslash: {pattern!r}")
            atoms.append(m.group())
            i += len(m.group())
        elif c == "[":
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            depth = 1
            while j < len(pattern) and depth:
                if pattern[j] == "\\":
                    j += 1
                elif pattern[j] == "[":
                    depth += 1
                elif pattern[j] == "]":
                    depth -= 1
                j += 1
            atoms.append(pattern[i:j])
            i = j
        elif c == "(":
            groups.append(len(atoms))
            atoms.append("(")
            i += 1
        elif c == ")":
            atoms.append(")")
            if groups:
                start = groups.pop()
                atoms[start:] = ["".join(atoms[start:])]
            i += 1
        elif (m := _re.match(r"\{[\d,]+\}", pattern[i:])) and atoms:
            interval = m.group()
            end = i + len(interval)
            if pattern[end : end + 1] == "+":
                atoms.append(rewrite(atoms.pop(), interval))
                end += 1
            else:
                atoms[-1] += interval
            i = end
        else:
            atoms.append(c)
            i += 1
    return "".join(atoms)


def onig_to_pcre(pattern: str) -> str:
    """Oniguruma's ``X{n,m}+`` repeats the interval: in PCRE syntax ``(?:X{n,m})+``."""
    return _rewrite_interval_plus(pattern, lambda atom, interval: f"(?:{atom}{interval})+")


def pcre_to_onig(pattern: str) -> str:
    """PCRE's possessive ``X{n,m}+`` is Oniguruma's atomic group ``(?>X{n,m})``."""
    return _rewrite_interval_plus(pattern, lambda atom, interval: f"(?>{atom}{interval})")
