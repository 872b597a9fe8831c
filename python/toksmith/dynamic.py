"""Batch dynamic merging (dynamic tokenization): shorten a batch of tokenized sequences by
merging its most frequent adjacent pairs, BPE-style, never across a word boundary.

See :func:`merge_batch`; the algorithm is in the Rust core (`rust/core/src/dynamic.rs`) and its
naive twin in :mod:`toksmith.reference.dynamic`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from toksmith._toksmith import CoreDynamic
from toksmith.encoding import Encoding, Tokenizer


class DynamicBatch:
    """The result of :func:`merge_batch`.

    * ``vocab``: the distinct tokens of this batch, as bytes (base tokens first, then merged ones).
    * ``ids``: per sequence, a ``uint32`` array of indices into ``vocab``.
    * ``spans``: per sequence, an ``int64`` array ``[n, 2]``: each token's start and end over the
      base tokens of that sequence (they tile it).
    * ``base_ids``: per sequence, an ``int64`` array: a token's base id if it was not merged, else -1.
    * ``log``: the merges in order, as ``(left bytes, right bytes, count)``.
    * ``lengths``: total batch length before any merge and after each merge of the log.
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
        core: CoreDynamic,
    ) -> None:
        self._tokenizer = tokenizer
        self._core = core
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
            per_sequence = [int(budgets)] * len(self.ids)
        else:
            per_sequence = [int(b) for b in budgets]
        if any(b < 0 for b in per_sequence):
            raise ValueError("budgets must be >= 0")
        ids, starts, ends, offsets = self._core.replay(per_sequence)
        cuts = offsets[1:-1]
        return np.split(ids, cuts), np.split(np.stack([starts, ends], axis=1), cuts)

    def decode(self, i: int) -> bytes:
        """The bytes of sequence ``i`` (equal to the base tokens' bytes)."""
        return b"".join(self.vocab[t] for t in self.ids[i])

    def tokens(self, i: int) -> list[bytes]:
        return [self.vocab[t] for t in self.ids[i]]

    def surface_matrix(self, maxlen: int, pad_id: int) -> npt.NDArray[np.int64]:
        """``[len(vocab), maxlen]`` int64: each vocab token re-tokenized by the base tokenizer
        (ordinary text, no special-token handling; bytes that are not UTF-8 keep the base tokens
        they were merged from), right-padded with ``pad_id`` and cut at ``maxlen``."""
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
    core = tokenizer._core
    items: list[str | Sequence[int]] = list(batch)
    texts = [x for x in items if isinstance(x, str)]
    sequences = [x for x in items if not isinstance(x, (str, bytes))]
    if items and len(texts) == len(items):
        if word_ids is not None:
            raise ValueError("word_ids go with id sequences, not texts")
        result = core.merge_batch(texts=texts, boundaries=boundaries, max_merges=merges,
                                  target_length=target_length, target_reduction=target_reduction)
    elif len(sequences) == len(items):
        if boundaries == "pretokens" and word_ids is None and items:
            raise ValueError('id sequences need word_ids=..., or boundaries="words"')
        ids = [[int(t) for t in seq] for seq in sequences]
        for i, seq in enumerate(ids):
            if any(t < 0 or t >= 2**32 for t in seq):
                raise ValueError(f"sequence {i}: token ids must be in [0, 2**32)")
        words = None if word_ids is None else [[int(w) for w in ws] for ws in word_ids]
        result = core.merge_batch(ids=ids, word_ids=words, max_merges=merges,
                                  target_length=target_length, target_reduction=target_reduction)
    else:
        raise TypeError("batch must hold only texts (str) or only token-id sequences")
    return DynamicBatch(tokenizer, *result)
