"""Reference byte-level probabilities from a token LM, in plain Python (slow, for tests).

Two twins of :class:`toksmith.ByteLM`:

* :func:`cover_next_byte_logprobs`, the straightforward cover algorithm: for every split point
  ``i`` within the longest token of the end of ``x`` and every token ``tau`` that starts with
  ``x[i:]``, encode ``x[:i] + tau + c`` from the start of the text for each probe continuation
  ``c``; where the encoding has a token boundary at ``i`` followed by ``tau``, the tokens before
  ``i`` and ``tau`` form a cover. Same semantics as the engine, none of its bookkeeping.
* :func:`brute_force_next_byte_logprobs`, the test oracle for tiny vocabularies: the valid token
  sequences are all prefixes of the canonical encodings of every string over a small alphabet
  up to a length; the covers of ``xb`` are read off that set.

Both use canonical-cover semantics with renormalisation at every byte:
``P(b | x) = P(xb) / (sum_b' P(xb') + P(x then end of text))``, end of text only after the
canonical encoding of ``x``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

Encode = Callable[[str], list[int]]
LM = Callable[[list[list[int]]], npt.ArrayLike]


class SequenceLogProb:
    """log P(token sequence | context) by the chain rule, with the LM's rows memoised."""

    def __init__(self, lm: LM, context: Sequence[int] = ()):
        self.lm = lm
        self.context = list(context)
        self.rows: dict[tuple[int, ...], npt.NDArray[np.float64]] = {}

    def row(self, prefix: Sequence[int]) -> npt.NDArray[np.float64]:
        key = tuple(prefix)
        if key not in self.rows:
            self.rows[key] = np.asarray(self.lm([self.context + list(key)]), dtype=np.float64)[0]
        return self.rows[key]

    def __call__(self, tokens: Sequence[int]) -> float:
        total = 0.0
        for k in range(len(tokens)):
            total += float(self.row(tokens[:k])[tokens[k]])
        return total


def _partial_len(s: bytes) -> int | None:
    """Bytes of an unfinished UTF-8 character at the end of ``s`` (None if ``s`` is invalid)."""
    try:
        s.decode("utf-8")
        return 0
    except UnicodeDecodeError as e:
        if e.end == len(s) and e.reason == "unexpected end of data":
            return len(s) - e.start
        return None


def _generic_completion(tail: bytes) -> bytes | None:
    need = {
        **{b: 2 for b in range(0xC2, 0xE0)},
        **{b: 3 for b in range(0xE0, 0xF0)},
        **{b: 4 for b in range(0xF0, 0xF5)},
    }.get(tail[0])
    if need is None:
        return None
    for second in (0x80, 0x90, 0xA0):
        c = bytes(second if k == 1 else 0x80 for k in range(len(tail), need))
        try:
            (tail + c).decode("utf-8")
            return c
        except UnicodeDecodeError:
            pass
    return None


def continuations(s: bytes, probes: Sequence[str], depth: int = 1) -> list[bytes]:
    """The probe continuations of ``s``: every string of at most ``depth`` probe characters,
    after the probe characters that complete the UTF-8 character ``s`` ends inside (if it does)."""
    probes_b = [p.encode("utf-8") for p in probes]
    strings = [b"".join(t) for n in range(depth + 1) for t in itertools.product(probes_b, repeat=n)]
    partial = _partial_len(s)
    if partial is None:
        return []
    if partial == 0:
        return strings
    tail = s[len(s) - partial:]
    completions = [p[partial:] for p in probes_b if len(p) > partial and p.startswith(tail)]
    if not completions:
        c = _generic_completion(tail)
        completions = [c] if c is not None else []
    return [c + p for c in completions for p in strings]


def covers(
    encode: Encode, vocab: dict[int, bytes], x: bytes, probes: Sequence[str], depth: int = 1
) -> set[tuple[tuple[int, ...], int]]:
    """The covers ``(prefix, tau)`` of ``x`` plus one more byte: ``prefix`` decodes to ``x[:i]``,
    ``tau`` starts with ``x[i:]`` and runs past the end of ``x``."""
    lmax = max(len(t) for t in vocab.values())
    out = set()
    for i in range(max(0, len(x) + 1 - lmax), len(x) + 1):
        rest = x[i:]
        for tau, tb in vocab.items():
            if len(tb) <= len(rest) or not tb.startswith(rest):
                continue
            for c in continuations(x[:i] + tb, probes, depth):
                try:
                    text = (x[:i] + tb + c).decode("utf-8")
                except UnicodeDecodeError:
                    continue
                ids = encode(text)
                at = 0
                for k, t in enumerate(ids):
                    if at == i:
                        if t == tau:
                            out.add((tuple(ids[:k]), tau))
                        break
                    at += len(vocab[t])
                    if at > i:
                        break
    return out


def _normalise(bins: list[float], eos: float) -> npt.NDArray[np.float64]:
    """Renormalises log-masses (256 bytes + end of text) into log-probabilities."""
    logs = np.array(bins + [eos], dtype=np.float64)
    top = float(logs.max())
    if top == -math.inf:
        raise ValueError("zero probability for every continuation")
    total = top + math.log(np.exp(logs - top).sum())
    out: npt.NDArray[np.float64] = logs - total
    return out


def _lse(values: Iterable[float]) -> float:
    vals = [v for v in values if v != -math.inf]
    if not vals:
        return -math.inf
    top = max(vals)
    return top + math.log(sum(math.exp(v - top) for v in vals))


def _eos_mass(encode: Encode, x: bytes, seq: SequenceLogProb, eos: int | None) -> float:
    if eos is None:
        return -math.inf
    try:
        text = x.decode("utf-8")
    except UnicodeDecodeError:
        return -math.inf
    ids = encode(text)
    return seq(ids) + float(seq.row(ids)[eos])


def cover_next_byte_logprobs(
    encode: Encode,
    vocab: dict[int, bytes],
    lm: LM,
    x: bytes,
    *,
    context: Sequence[int] = (),
    eos: int | None = None,
    probes: Sequence[str] = (),
    depth: int = 1,
) -> npt.NDArray[np.float64]:
    """log P(next byte | x), 256 bytes then end of text, by the straightforward cover algorithm."""
    seq = SequenceLogProb(lm, context)
    bins: list[list[float]] = [[] for _ in range(256)]
    for prefix, tau in covers(encode, vocab, x, probes, depth):
        depth = len(x) - sum(len(vocab[t]) for t in prefix)
        bins[vocab[tau][depth]].append(seq(prefix) + float(seq.row(prefix)[tau]))
    return _normalise([_lse(b) for b in bins], _eos_mass(encode, x, seq, eos))


def valid_sequences(encode: Encode, alphabet: Sequence[str], max_chars: int) -> set[tuple[int, ...]]:
    """Every prefix of the canonical encoding of every string over ``alphabet`` of at most
    ``max_chars`` characters (the valid token sequences, for a tiny setting)."""
    out = set()
    for n in range(max_chars + 1):
        for chars in itertools.product(alphabet, repeat=n):
            ids = tuple(encode("".join(chars)))
            for k in range(len(ids) + 1):
                out.add(ids[:k])
    return out


def brute_force_next_byte_logprobs(encode: Encode, vocab: dict[int, bytes], lm: LM, x: bytes,
                                   valid: set[tuple[int, ...]], *, context: Sequence[int] = (),
                                   eos: int | None = None) -> npt.NDArray[np.float64]:
    """The oracle: sum P(t) over the valid sequences ``t`` that cover ``x`` plus one byte (all
    tokens but the last end within ``x``, the last runs past it), by next byte."""
    seq = SequenceLogProb(lm, context)
    bins: list[list[float]] = [[] for _ in range(256)]
    for t in valid:
        if not t:
            continue
        head = b"".join(vocab[i] for i in t[:-1])
        full = head + vocab[t[-1]]
        if len(head) <= len(x) < len(full) and full.startswith(x):
            bins[full[len(x)]].append(seq(t))
    return _normalise([_lse(b) for b in bins], _eos_mass(encode, x, seq, eos))


class MarkovSource:
    """A byte-level source for tests: a first-order Markov chain over characters with end of
    text, forced to end before ``max_bytes`` would be exceeded. Enumerates its whole support."""

    def __init__(self, alphabet: Sequence[str], max_bytes: int, seed: int = 0, stop: float = 0.2):
        rng = np.random.default_rng(seed)
        self.alphabet = list(alphabet)
        self.max_bytes = max_bytes
        k = len(self.alphabet)
        # Row k (the previous character, k = start) -> probabilities of each character, then stop.
        trans = rng.dirichlet(np.ones(k) * 0.7, size=k + 1)
        self.trans = np.concatenate([trans * (1 - stop), np.full((k + 1, 1), stop)], axis=1)
        self.support: dict[bytes, float] = {}
        self._walk("", k, 1.0)

    def _walk(self, text: str, prev: int, p: float) -> None:
        row = self.trans[prev]
        n = len(text.encode("utf-8"))
        allowed = [j for j, ch in enumerate(self.alphabet) if n + len(ch.encode("utf-8")) <= self.max_bytes]
        cont = sum(row[j] for j in allowed)
        stop = row[-1] + (1 - row[-1] - cont)  # forced end: the mass of characters that do not fit
        self.support[text.encode("utf-8")] = self.support.get(text.encode("utf-8"), 0.0) + p * stop
        for j in allowed:
            self._walk(text + self.alphabet[j], j, p * row[j])

    def prefix_mass(self, x: bytes) -> float:
        return sum(p for s, p in self.support.items() if s.startswith(x))

    def next_byte_probs(self, x: bytes) -> npt.NDArray[np.float64]:
        """P(next byte | x), 256 bytes then end of text (x must have positive mass)."""
        out = np.zeros(257)
        for s, p in self.support.items():
            if s.startswith(x):
                out[s[len(x)] if len(s) > len(x) else 256] += p
        probs: npt.NDArray[np.float64] = out / out.sum()
        return probs


class PushForwardLM:
    """The token LM that is the exact push-forward of a byte-level source through a tokenizer:
    P(t) = total mass of the strings whose canonical encoding starts with t, and end of text
    after t = the mass of the string whose encoding is exactly t. Rows of zero-mass prefixes
    are uniform (they carry no weight)."""

    def __init__(self, source: MarkovSource, encode: Encode, n_vocab: int, eos: int, context: Sequence[int] = ()):
        self.n_vocab = n_vocab
        self.eos = eos
        self.context = tuple(context)
        self.mass: dict[tuple[int, ...], float] = {}
        self.end: dict[tuple[int, ...], float] = {}
        self.children: dict[tuple[int, ...], dict[int, float]] = {}
        for s, p in source.support.items():
            ids = tuple(encode(s.decode("utf-8")))
            self.end[ids] = self.end.get(ids, 0.0) + p
            for k in range(len(ids) + 1):
                self.mass[ids[:k]] = self.mass.get(ids[:k], 0.0) + p
                if k < len(ids):
                    kids = self.children.setdefault(ids[:k], {})
                    kids[ids[k]] = kids.get(ids[k], 0.0) + p

    def __call__(self, prefixes: list[list[int]]) -> npt.NDArray[np.float64]:
        out = np.empty((len(prefixes), self.n_vocab))
        for r, prefix in enumerate(prefixes):
            t = tuple(prefix[len(self.context):])
            total = self.mass.get(t, 0.0)
            if total == 0.0:
                out[r] = -math.log(self.n_vocab)
                continue
            row = np.zeros(self.n_vocab)
            for tau, m in self.children.get(t, {}).items():
                row[tau] += m
            row[self.eos] += self.end.get(t, 0.0)
            with np.errstate(divide="ignore"):
                out[r] = np.log(row / total)
        return out
