"""``PieceCounts``: the distinct pieces of a corpus with their counts, as training needs them.

A table can be counted anywhere (:func:`toksmith.count_pieces`, on a Dask cluster with
``client=``), added to others (``a + b``, ``sum(tables)``), saved and loaded, and trained on
(``train_bpe(counts=...)``, ``train_superbpe(counts=...)``). Counts are exact integers, so the
sum of the tables of a corpus's shards *is* the table of the corpus, in any order, and training
on it gives exactly the merges of training on the whole corpus.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from toksmith._toksmith import CorePieceCounts
from toksmith.errors import InvalidInputError, ToksmithTypeError

# zlib level for pickling (Dask moves tables between processes): fast over small.
_PICKLE_LEVEL = 1


def _from_bytes(data: bytes) -> PieceCounts:
    return PieceCounts(CorePieceCounts.from_bytes(data, "<pickled PieceCounts>"))


class PieceCounts:
    """Piece counts of one pre-tokenizer stage (BPE) or two (SuperBPE: stage-1 pieces and
    stage-2 chunks), with the stage specs that made them.

    * ``a + b`` / ``sum(tables)``: a new table with the counts of both; tables made with
      different kinds or pre-tokenizers are refused with ``ValueError``.
    * ``save(path)`` / ``PieceCounts.load(path)``, ``to_bytes()`` / ``from_bytes()``: a compact
      form (sorted, front-coded pieces with varint counts, zlib-compressed, behind a
      ``TKSCOUNT`` header and a version); corrupt or truncated data raises ``ValueError``
      naming the file. Pickling uses the same form.
    * ``pruned(min_frequency, top_k)``: a smaller table (training on it is approximate).

    >>> import toksmith
    >>> a = toksmith.count_pieces(iterator=["the cat sat on the mat"], pattern="gpt2", progress=False)
    >>> b = toksmith.count_pieces(iterator=["the rat sat"], pattern="gpt2", progress=False)
    >>> a
    <PieceCounts bpe: 6 distinct / 6 total>
    >>> (a + b).to_dict()
    {b'the': 2, b' cat': 1, b' sat': 2, b' on': 1, b' the': 1, b' mat': 1, b' rat': 1}
    >>> (a + b).pruned(top_k=2).to_dict()
    {b' sat': 2, b'the': 2}
    >>> PieceCounts.from_bytes((a + b).to_bytes()) == sum([b, a])
    True
    """

    __slots__ = ("_core",)

    def __init__(self, core: CorePieceCounts) -> None:
        if not isinstance(core, CorePieceCounts):
            raise ToksmithTypeError(
                "PieceCounts are made by toksmith.count_pieces / count_superbpe_pieces, PieceCounts.load or from_bytes"
            )
        self._core = core

    @property
    def kind(self) -> str:
        """``"bpe"`` or ``"superbpe"``."""
        return self._core.kind()

    @property
    def stages(self) -> list[tuple[str, str]]:
        """``(kind, spec)`` of each pre-tokenizer stage: ``("regex", pattern)`` or
        ``("pre_tokenizer", json)``."""
        return self._core.stages()

    def stats(self) -> list[tuple[int, int]]:
        """``(distinct pieces, total pieces)`` of each stage."""
        return self._core.stats()

    def to_dict(self, stage: int = 0) -> dict[bytes, int]:
        """The counts of one stage as ``{piece: count}``."""
        return self._core.to_dict(stage)

    def __add__(self, other: object) -> PieceCounts:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # sum() starts from 0
        if not isinstance(other, PieceCounts):
            return NotImplemented
        return PieceCounts(self._core.add(other._core))

    __radd__ = __add__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PieceCounts):
            return NotImplemented
        return self._core.equals(other._core)

    # mutable-looking value type: compare, don't hash (typeshed spells unhashable the same way)
    __hash__ = None  # type: ignore[assignment]

    def pruned(self, min_frequency: int = 1, top_k: int | None = None) -> PieceCounts:
        """A copy keeping, in every stage, the pieces counted at least ``min_frequency`` times
        and of those the ``top_k`` most frequent (ties to the smaller bytes). Approximate:
        training on it may differ from training on the full table."""
        if min_frequency < 1:
            raise InvalidInputError("min_frequency must be at least 1")
        if top_k is not None and top_k < 1:
            raise InvalidInputError("top_k must be at least 1 (or None)")
        return PieceCounts(self._core.pruned(min_frequency, top_k))

    def to_bytes(self, level: int = 6) -> bytes:
        """The compact form; ``level`` is the zlib level (0-9)."""
        return self._core.to_bytes(level)

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "<bytes>") -> PieceCounts:
        return cls(CorePieceCounts.from_bytes(bytes(data), origin))

    def save(self, path: str | os.PathLike[str], level: int = 6) -> None:
        self._core.save(os.fspath(path), level)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PieceCounts:
        return cls(CorePieceCounts.load(os.fspath(path)))

    def __reduce__(self) -> tuple[Callable[[bytes], PieceCounts], tuple[bytes]]:
        return (_from_bytes, (self._core.to_bytes(_PICKLE_LEVEL),))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{d:,} distinct / {t:,} total" for d, t in self.stats())
        return f"<PieceCounts {self.kind}: {sizes}>"
