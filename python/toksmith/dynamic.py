"""Batch dynamic merging (dynamic tokenization): shorten a batch of tokenized sequences by
merging its most frequent adjacent pairs, BPE-style, never across a word boundary.

See :func:`merge_batch`; the algorithm is in the Rust core (`rust/core/src/dynamic.rs`) and its
naive twin in :mod:`toksmith.reference.dynamic`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from toksmith import _checks
from toksmith._toksmith import CoreDynamic
from toksmith.encoding import Encoding, Tokenizer, _core_of, _ids
from toksmith.errors import InvalidInputError, ToksmithTypeError, shorten

_T = TypeVar("_T", bound=np.generic)


class DynamicBatch:
    """The result of :func:`merge_batch`.

    * ``vocab``: the distinct tokens of this batch, as bytes (base tokens first, then merged ones).
    * ``ids``: per sequence, a ``uint32`` array of indices into ``vocab``.
    * ``spans``: per sequence, an ``int64`` array ``[n, 2]``: each token's start and end over the
      base tokens of that sequence (they tile it).
    * ``base_ids``: per sequence, an ``int64`` array: a token's base id if it was not merged, else -1.
    * ``log``: the merges in order, as ``(left bytes, right bytes, count)``.
    * ``lengths``: total batch length before any merge and after each merge of the log.

    Empty texts (or id sequences) stay empty: their ``ids`` are empty arrays; an empty batch
    gives an empty result.
    """

    def __init__(
        self,
        tokenizer: Encoding | Tokenizer,
        vocab: list[bytes],
        input_ids: npt.NDArray[np.uint32],
        ids: npt.NDArray[np.uint32],
        starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.int64],
        log: list[tuple[int, int, int, int]],
        lengths: npt.NDArray[np.int64],
        core: CoreDynamic | None,
    ) -> None:
        self._tokenizer = tokenizer
        self._core = core
        #: With empty sequences left out of the engine's batch: the batch size and the positions
        #: of the sequences the engine got (see ``_with_empty``); ``None`` otherwise.
        self._present: list[int] | None = None
        self.vocab: list[bytes] = vocab
        cuts = offsets[1:-1]
        self.ids = np.split(ids, cuts)
        self.spans = np.split(np.stack([starts, ends], axis=1), cuts)
        # Base id of each unmerged token: input ids are laid out like the tokens' sequences.
        input_offsets = np.zeros(len(offsets), dtype=np.int64)
        input_offsets[1:] = np.cumsum([s[-1, 1] if len(s) else 0 for s in self.spans])
        self._inputs = np.split(input_ids, input_offsets[1:-1])
        seq_of_token = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        base = input_ids[np.minimum(input_offsets[seq_of_token] + starts, max(len(input_ids) - 1, 0))]
        self.base_ids = np.split(np.where(ends - starts == 1, base.astype(np.int64), -1), cuts)
        self.log: list[tuple[bytes, bytes, int]] = [(vocab[a], vocab[b], count) for a, b, _, count in log]
        self.lengths = lengths

    @classmethod
    def _empty(cls, tokenizer: Encoding | Tokenizer, n: int) -> DynamicBatch:
        """The result for ``n`` empty sequences (no engine run: nothing can merge)."""
        out = cls.__new__(cls)
        out._tokenizer, out._core, out._present = tokenizer, None, None
        out.vocab, out.log, out.lengths = [], [], np.zeros(1, dtype=np.int64)
        out.ids, out.spans, out._inputs, out.base_ids = [], [], [], []
        return out._with_empty([], n)

    def _with_empty(self, present: list[int], n: int) -> DynamicBatch:
        """Puts back the empty sequences that were left out: this result is for the sequences
        at ``present`` of a batch of ``n``."""
        self._present = present
        self.ids = _spread(self.ids, present, n, np.zeros(0, dtype=np.uint32))
        self.spans = _spread(self.spans, present, n, np.zeros((0, 2), dtype=np.int64))
        self._inputs = _spread(self._inputs, present, n, np.zeros(0, dtype=np.uint32))
        self.base_ids = _spread(self.base_ids, present, n, np.zeros(0, dtype=np.int64))
        return self

    def curve(self) -> npt.NDArray[np.int64]:
        """Total batch length after m merges, for m = 0 .. len(log): the merges → length curve."""
        return self.lengths

    def replay(
        self, budgets: int | Sequence[int]
    ) -> tuple[list[npt.NDArray[np.uint32]], list[npt.NDArray[np.int64]]]:
        """``(ids, spans)`` per sequence after only the first ``budgets[i]`` merges of the log for
        sequence ``i`` (an int: the same budget for all). Exact: the merge list for m merges is a
        prefix of the one for m + 1, so no re-run is needed."""
        if isinstance(budgets, (int, np.integer)):
            per_sequence = [_checks.integer(budgets, "budgets")] * len(self.ids)
        else:
            if isinstance(budgets, (str, bytes)):
                raise ToksmithTypeError("budgets must be an int or a sequence of int (one per sequence)")
            per_sequence = [_checks.integer(b, "each budget") for b in budgets]
        if any(b < 0 for b in per_sequence):
            raise InvalidInputError("budgets must be >= 0")
        # A budget past the log's end is the whole log.
        per_sequence = [min(b, len(self.log)) for b in per_sequence]
        if self._present is not None:
            if len(per_sequence) != len(self.ids):
                raise InvalidInputError(f"{len(self.ids)} sequences but {len(per_sequence)} budgets")
            per_sequence = [per_sequence[i] for i in self._present]
        if self._core is None:
            ids, starts, ends = np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.int64)
            offsets = np.zeros(1, np.int64)
        else:
            ids, starts, ends, offsets = self._core.replay(per_sequence)
        cuts = offsets[1:-1]
        seqs, spans = np.split(ids, cuts), np.split(np.stack([starts, ends], axis=1), cuts)
        if self._present is not None:
            n = len(self.ids)
            seqs = _spread(seqs, self._present, n, np.zeros(0, dtype=np.uint32))
            spans = _spread(spans, self._present, n, np.zeros((0, 2), dtype=np.int64))
        return seqs, spans

    def decode(self, i: int) -> bytes:
        """The bytes of sequence ``i`` (equal to the base tokens' bytes)."""
        return b"".join(self.vocab[t] for t in self.ids[i])

    def tokens(self, i: int) -> list[bytes]:
        return [self.vocab[t] for t in self.ids[i]]

    def surface_matrix(self, maxlen: int, pad_id: int) -> npt.NDArray[np.int64]:
        """``[len(vocab), maxlen]`` int64: each vocab token re-tokenized by the base tokenizer
        (ordinary text, no special-token handling; bytes that are not UTF-8 keep the base tokens
        they were merged from), right-padded with ``pad_id`` and cut at ``maxlen``."""
        maxlen = _checks.count(maxlen, "maxlen", 0, 2**31 - 1)
        pad_id = _checks.integer(pad_id, "pad_id")
        composition: dict[int, list[int]] = {}
        for inp, ids, spans in zip(self._inputs, self.ids, self.spans):
            for t, (s, e) in zip(ids.tolist(), spans.tolist()):
                composition.setdefault(t, inp[s:e].tolist())
        out = np.full((len(self.vocab), maxlen), pad_id, dtype=np.int64)
        for t, token in enumerate(self.vocab):
            try:
                surface = self._encode_ordinary(token.decode("utf-8"))
            except UnicodeDecodeError:
                surface = composition.get(t, [])
            surface = surface[:maxlen]
            out[t, : len(surface)] = surface
        return out

    def _encode_ordinary(self, text: str) -> list[int]:
        tok = self._tokenizer
        if isinstance(tok, Encoding):
            return tok.encode_ordinary(text)
        return tok.encode(text, add_special_tokens=False).ids

    def __repr__(self) -> str:
        return (f"DynamicBatch(sequences={len(self.ids)}, merges={len(self.log)}, "
                f"length {self.lengths[0]} -> {self.lengths[-1]})")


def merge_batch(
    batch: Sequence[str] | Sequence[Sequence[int]],
    tokenizer: Encoding | Tokenizer,
    *,
    merges: int | None = None,
    target_length: int | None = None,
    target_reduction: float | None = None,
    boundaries: str = "pretokens",
    word_ids: Sequence[Sequence[int]] | None = None,
) -> DynamicBatch:
    """Merges a batch BPE-style until ``merges`` merges, a total length of ``target_length``, a
    fractional ``target_reduction`` of the total length, or until nothing can merge (which gives
    word-level tokenization).

    ``batch``: texts (tokenized by ``tokenizer``, a :class:`toksmith.Encoding` or
    :class:`toksmith.Tokenizer`, special tokens recognised), or token-id sequences of that
    tokenizer. ``boundaries``: ``"pretokens"`` (the tokenizer's pre-tokens; needs texts) or
    ``"words"`` (a word starts at a token that starts with whitespace or follows one that ends
    with it); for id sequences, ``word_ids`` gives the segmentation explicitly.

    Rule: the most frequent adjacent pair over the whole batch (overlapping occurrences count;
    ties: earliest first occurrence, by sequence then position) is replaced left to right,
    non-overlapping; never across a boundary, never touching a special token. Tokens are their
    bytes. The merge list for m merges is a prefix of the one for m + 1: one run gives the whole
    merges → length curve (:meth:`DynamicBatch.curve`).

    >>> import toksmith
    >>> enc = toksmith.get_encoding("o200k_base")
    >>> batch = merge_batch(["tokenizers tokenize text", "detokenizers detokenize tokens"], enc, merges=2)
    >>> batch
    DynamicBatch(sequences=2, merges=2, length 11 -> 9)
    >>> batch.log
    [(b'token', b'izers', 1), (b'det', b'oken', 1)]
    >>> batch.tokens(0), batch.curve().tolist()
    ([b'tokenizers', b' tokenize', b' text'], [11, 10, 9])
    >>> batch.decode(1)
    b'detokenizers detokenize tokens'
    """
    core = _core_of(tokenizer)
    if isinstance(batch, (str, bytes, bytearray)):
        raise ToksmithTypeError(
            f"batch must be a list of texts or of token-id sequences, not a single {type(batch).__name__} "
            f"(for one text, pass [{shorten(batch)}])"
        )
    if boundaries not in ("pretokens", "words"):
        raise InvalidInputError(f'boundaries must be "pretokens" or "words", not {shorten(boundaries)}')
    merges = None if merges is None else _checks.count(merges, "merges", 0)
    target_length = None if target_length is None else _checks.count(target_length, "target_length", 0)
    if target_reduction is not None:
        if isinstance(target_reduction, bool) or not isinstance(target_reduction, (int, float, np.floating)):
            raise ToksmithTypeError(f"target_reduction must be a float, not {type(target_reduction).__name__}")
        if not (math.isfinite(target_reduction) and 0.0 <= target_reduction < 1.0):
            raise InvalidInputError(f"target_reduction must be in [0, 1), got {target_reduction}")
    if isinstance(batch, (Mapping, AbstractSet)):
        raise ToksmithTypeError(f"batch must be a list of texts or of token-id sequences, not "
                                f"{type(batch).__name__} (pass a list in the order you want)")
    try:
        items: list[str | Sequence[int]] = list(batch)
    except TypeError:
        raise ToksmithTypeError(f"batch must be a list of texts or of token-id sequences, not "
                                f"{type(batch).__name__}") from None
    if word_ids is not None and len(word_ids) != len(items):
        raise InvalidInputError(f"{len(items)} sequences but {len(word_ids)} word-id lists")
    texts = [x for x in items if isinstance(x, str)]
    if items and len(texts) == len(items):
        if word_ids is not None:
            raise InvalidInputError("word_ids go with id sequences, not texts")
        present = [i for i, t in enumerate(texts) if t]
        if not present:
            return DynamicBatch._empty(tokenizer, len(items))
        kept = texts if len(present) == len(texts) else [texts[i] for i in present]
        result = core.merge_batch(texts=kept, boundaries=boundaries, max_merges=merges,
                                  target_length=target_length, target_reduction=target_reduction)
    elif not texts and not any(isinstance(x, (bytes, bytearray)) for x in items):
        if boundaries == "pretokens" and word_ids is None and items:
            raise InvalidInputError('id sequences need word_ids=..., or boundaries="words"')
        ids = [_ids(seq) for seq in items]
        for i, seq in enumerate(ids):
            for j, t in enumerate(seq):
                try:
                    v = operator.index(t)
                except TypeError:
                    raise ToksmithTypeError(f"sequence {i}: token ids must be int, not {type(t).__name__} "
                                            f"({shorten(t)} at position {j})") from None
                if not 0 <= v < 2**32:
                    raise InvalidInputError(f"sequence {i}: token ids must be in [0, 2**32); {v} at position {j}")
        words = None if word_ids is None else [[_checks.integer(w, "word_ids") for w in ws] for ws in word_ids]
        present = [i for i, seq in enumerate(ids) if seq]
        if words is not None:
            for i, (seq, ws) in enumerate(zip(ids, words)):
                if not seq and ws:
                    raise InvalidInputError(f"sequence {i}: 0 tokens but {len(ws)} word ids")
        if not present:
            return DynamicBatch._empty(tokenizer, len(items))
        if len(present) < len(ids):
            ids = [ids[i] for i in present]
            words = None if words is None else [words[i] for i in present]
        result = core.merge_batch(ids=ids, word_ids=words, max_merges=merges,
                                  target_length=target_length, target_reduction=target_reduction)
    else:
        raise ToksmithTypeError("batch must hold only texts (str) or only token-id sequences")
    out = DynamicBatch(tokenizer, *result)
    if len(present) < len(items):
        out._with_empty(present, len(items))
    return out


def _spread(
    parts: list[npt.NDArray[_T]], present: list[int], n: int, empty: npt.NDArray[_T]
) -> list[npt.NDArray[_T]]:
    """``parts`` (one per present sequence) at their positions among ``n``, empty arrays elsewhere."""
    out = [empty.copy() for _ in range(n)]
    for i, part in zip(present, parts):
        out[i] = part
    return out
