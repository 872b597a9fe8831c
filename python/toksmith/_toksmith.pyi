"""Type stubs of the Rust extension (``rust/python/src/*.rs``): the engine objects behind the
public wrappers. Checked against the built module by ``python -m mypy.stubtest toksmith._toksmith``.

Argument types are what the wrappers pass; PyO3 also accepts other sequences where a ``list``
is extracted (``Vec<T>``), but not ``str`` for a sequence.
"""

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CoreTokenizer",
    "CoreDynamic",
    "CoreTrainer",
    "CoreByteModel",
    "CoreByteState",
    "CorePieceCounts",
    "CoreMixture",
    "CoreReportPass",
    "__version__",
]

__version__: str

#: ``(ids, tokens, offsets, type_ids, special_tokens_mask)`` of one ``tokenizer.json`` encoding.
_HfTuple = tuple[list[int], list[str], list[tuple[int, int]], list[int], list[int]]

@final
class CoreTokenizer:
    """The engine object behind ``toksmith.Encoding`` and ``toksmith.Tokenizer`` (no
    constructor: made by the static methods)."""

    @staticmethod
    def from_tiktoken_file(
        path: str,
        pattern: str,
        special_tokens: dict[str, int],
        name: str,
        expected_sha256: str | None = None,
    ) -> CoreTokenizer: ...
    @staticmethod
    def from_ranks(
        ranks: Sequence[tuple[bytes, int]],
        pattern: str,
        special_tokens: dict[str, int],
        name: str,
    ) -> CoreTokenizer: ...
    @staticmethod
    def from_hf_str(json: str, name: str = "") -> CoreTokenizer: ...
    def to_hf_str(self, pretty: bool = False) -> str: ...
    def to_tiktoken_parts(self) -> tuple[list[tuple[bytes, int]], str, list[tuple[str, int]]]:
        """``(ranks, pattern in tiktoken syntax, special tokens)``; ``ValueError`` where the
        vocabulary has no tiktoken form."""
    def save_tiktoken(self, path: str) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def pattern(self) -> str | None:
        """The regex of a single-regex pre-tokenizer, else ``None``."""
    @property
    def uses_fast_pretokenizer(self) -> bool: ...
    @property
    def n_vocab(self) -> int:
        """One past the largest id (ordinary and added tokens)."""
    @property
    def n_mergeable(self) -> int: ...
    @property
    def added_tokens(self) -> list[tuple[str, int, bool]]:
        """``[(content, id, special)]``."""
    def mergeable_ranks(self) -> dict[bytes, int]: ...
    def merges(self) -> list[tuple[bytes, bytes]]: ...

    # tiktoken flavour
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode(
        self, text: str, allowed: Sequence[str] | None = None, reject_others: bool = False
    ) -> list[int]:
        """``allowed``: the special tokens to recognise (``None``: all of them);
        ``reject_others``: ``ValueError`` on any other special token."""
    def encode_batch(
        self,
        texts: Sequence[str],
        allowed: Sequence[str] | None = None,
        reject_others: bool = False,
        num_threads: int | None = None,
    ) -> list[list[int]]: ...
    def encode_ordinary_batch(
        self, texts: Sequence[str], num_threads: int | None = None
    ) -> list[list[int]]: ...
    def encode_to_numpy(
        self, text: str, allowed: Sequence[str] | None = None, reject_others: bool = False
    ) -> npt.NDArray[np.uint32]: ...
    def encode_batch_to_numpy(
        self,
        texts: Sequence[str],
        allowed: Sequence[str] | None = None,
        reject_others: bool = False,
        num_threads: int | None = None,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Flat ids and offsets (length B + 1): text i is ``ids[offsets[i]:offsets[i + 1]]``."""
    def count_ordinary(self, text: str) -> int: ...
    def count(
        self, text: str, allowed: Sequence[str] | None = None, reject_others: bool = False
    ) -> int:
        """``len(encode(text, allowed, reject_others))``, without the ids."""
    def count_batch(
        self,
        texts: Sequence[str],
        allowed: Sequence[str] | None = None,
        reject_others: bool = False,
        num_threads: int | None = None,
    ) -> list[int]: ...
    def encode_file(
        self, path: str, block_size: int, num_threads: int | None = None
    ) -> npt.NDArray[np.uint32]:
        """``encode_ordinary`` of a file's text (``-``: standard input), in blocks."""
    def count_file(self, path: str, block_size: int, num_threads: int | None = None) -> int: ...
    @property
    def file_blocks(self) -> tuple[bool, int]:
        """(whether files are cut into blocks, the default block size)."""
    def decode_bytes(self, ids: Sequence[int]) -> bytes: ...
    def decode_batch_bytes(
        self, batch: Sequence[Sequence[int]], num_threads: int | None
    ) -> list[bytes]: ...
    def token_bytes(self, id: int) -> bytes | None: ...
    def token_id(self, bytes: bytes) -> int | None: ...
    @staticmethod
    def disallowed_message(token: str) -> str: ...

    # dynamic merging
    def encode_with_pieces(self, text: str) -> tuple[list[int], list[int], list[bool]]:
        """``(ids, pre-token index per token, special flag per token)``."""
    def merge_batch(
        self,
        texts: Sequence[str] | None = None,
        ids: Sequence[Sequence[int]] | None = None,
        word_ids: Sequence[Sequence[int]] | None = None,
        boundaries: str = "pretokens",
        max_merges: int | None = None,
        target_length: int | None = None,
        target_reduction: float | None = None,
    ) -> tuple[
        list[bytes],
        npt.NDArray[np.uint32],
        npt.NDArray[np.uint32],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        list[tuple[int, int, int, int]],
        npt.NDArray[np.int64],
        CoreDynamic,
    ]:
        """``(vocab, input ids, token vocab indices, starts, ends, offsets (B + 1),
        log [(left, right, merged, count)], lengths, replayable result)``."""

    # Hugging Face flavour (``ValueError`` unless made by ``from_hf_str``)
    def hf_encode(
        self, text: str, pair: str | None = None, add_special_tokens: bool = True
    ) -> _HfTuple: ...
    def hf_encode_batch(
        self,
        texts: Sequence[str],
        add_special_tokens: bool = True,
        num_threads: int | None = None,
    ) -> list[_HfTuple]: ...
    def hf_decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str: ...
    def hf_decode_batch(
        self,
        batch: Sequence[Sequence[int]],
        skip_special_tokens: bool = True,
        num_threads: int | None = None,
    ) -> list[str]: ...
    def hf_count(self, text: str, add_special_tokens: bool = True) -> int: ...
    def hf_count_batch(
        self,
        texts: Sequence[str],
        add_special_tokens: bool = True,
        num_threads: int | None = None,
    ) -> list[int]: ...
    def hf_decode_token_bytes(self, id: int, skip_special_tokens: bool = True) -> bytes:
        """The bytes one id adds to ``hf_decode`` before its UTF-8 step."""
    def token_to_id(self, token: str) -> int | None: ...
    def get_vocab_size(self, with_added_tokens: bool = True) -> int: ...
    def id_to_token(self, id: int) -> str | None: ...
    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]: ...

@final
class CoreDynamic:
    """A dynamic-merging result kept in the engine (made by ``CoreTokenizer.merge_batch``)."""

    def replay(
        self, budgets: Sequence[int]
    ) -> tuple[
        npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
    ]:
        """``(vocab indices, starts, ends, offsets)`` after the first ``budgets[s]`` merges."""

@final
class CoreTrainer:
    """Piece counting and (Super)BPE training over one or more pre-tokenizer stages, each
    ``("regex", pattern)`` or ``("pre_tokenizer", json)``."""

    def __new__(
        cls,
        stages: Sequence[tuple[str, str]],
        by_line: bool = False,
        progress: bool = True,
        samples: Sequence[float] | None = None,
    ) -> CoreTrainer: ...
    def add_files(self, paths: Sequence[str], num_threads: int | None = None) -> None: ...
    def add_file_range(
        self, path: str, start: int, end: int, num_threads: int | None = None
    ) -> None: ...
    def add_block(self, name: str, block: bytes, num_threads: int | None = None) -> None: ...
    def take_table(self, kind: str) -> CorePieceCounts: ...
    def add_table(self, table: CorePieceCounts, consume: bool = False) -> None: ...
    def add_units(self, units: Sequence[str], num_threads: int | None = None) -> None: ...
    def train(
        self, vocab_size: int, special_tokens: Sequence[str], min_frequency: int = 1
    ) -> CoreTokenizer:
        """The trained tokenizer (``tokenizer.json`` semantics)."""
    def train_superbpe(
        self,
        vocab_size: int,
        transition: int,
        special_tokens: Sequence[str],
        min_frequency: int = 1,
        # The default is 4; PyO3 writes a default of Some(4) as ``...`` in the runtime signature.
        max_words: int | None = ...,
        reject_colon_space: bool = True,
        base: CoreTokenizer | None = None,
        num_threads: int | None = None,
    ) -> tuple[CoreTokenizer, int, list[int]]:
        """``(trained tokenizer, number of stage-1 merges, ranks of stage-1 merges unused in
        stage 2)``."""
    def stats(self) -> list[tuple[int, int]]:
        """``(distinct pieces, total pieces)`` counted so far, per stage."""

@final
class CoreByteModel:
    """A tokenizer prepared for byte-level probabilities."""

    def __new__(
        cls, tokenizer: CoreTokenizer, eos: int | None, probes: Sequence[str], depth: int
    ) -> CoreByteModel: ...
    @property
    def n_ids(self) -> int: ...
    @property
    def max_token_len(self) -> int: ...

@final
class CoreByteState:
    """The incremental per-stream state of byte-level probabilities."""

    def __new__(
        cls, model: CoreByteModel, context: Sequence[int], prompt: bytes
    ) -> CoreByteState: ...
    def needed(self) -> tuple[list[int], list[list[int]]]:
        """Node ids whose next-token distributions are needed, with their token sequences."""
    def supply(self, nodes: Sequence[int], logprobs: npt.NDArray[np.float64]) -> None: ...
    def next_logprobs(self) -> npt.NDArray[np.float64]:
        """log P(next byte | bytes so far): 256 bytes then end of text."""
    def push(self, data: bytes) -> None:
        """Appends bytes, all or none."""
    def truncate(self, len: int) -> None:
        """Keeps only the first ``len`` bytes."""
    @property
    def origin(self) -> int: ...
    @property
    def data(self) -> bytes: ...

@final
class CorePieceCounts:
    """The engine's count table (no constructor: made by ``CoreTrainer.take_table``,
    ``from_bytes`` or ``load``)."""

    @staticmethod
    def from_bytes(data: bytes, origin: str = "<bytes>") -> CorePieceCounts: ...
    def to_bytes(self, level: int = 6) -> bytes: ...
    @staticmethod
    def load(path: str) -> CorePieceCounts: ...
    def save(self, path: str, level: int = 6) -> None: ...
    def add(self, other: CorePieceCounts) -> CorePieceCounts: ...
    def pruned(self, min_count: int = 1, top_k: int | None = None) -> CorePieceCounts: ...
    def kind(self) -> str: ...
    def stages(self) -> list[tuple[str, str]]: ...
    def stats(self) -> list[tuple[int, int]]: ...
    def to_dict(self, stage: int) -> dict[bytes, int]: ...
    def equals(self, other: CorePieceCounts) -> bool: ...

#: ``CoreMixture.replay``'s result: merged counts and bounds (``steps * n`` each, step-major),
#: row steps, row left ids, row right ids, row counts (``rows * n``), sample bytes, steps.
_MixtureArrays = tuple[
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint32],
    npt.NDArray[np.uint64],
    list[int],
    int,
]

@final
class CoreMixture:
    def __new__(
        cls,
        tokenizer: CoreTokenizer,
        categories: Sequence[tuple[list[str], list[str]]],
        merges: int,
        num_threads: int | None = None,
    ) -> CoreMixture: ...
    def replay(
        self,
        top_k: int,
        weights: Sequence[float] | None = None,
        slack: Sequence[float] | None = None,
        num_threads: int | None = None,
    ) -> _MixtureArrays: ...

@final
class CoreReportPass:
    """One corpus through the counting pass of ``toksmith report`` (rust/core/src/report/)."""

    def __new__(
        cls,
        tokenizers: Sequence[CoreTokenizer],
        hf: Sequence[bool],
        piece_chars: int,
        group_chars: int,
        num_threads: int | None = None,
    ) -> CoreReportPass: ...
    @staticmethod
    def token_lengths(tokenizer: CoreTokenizer) -> npt.NDArray[np.int64]: ...
    def feed(self, text: str) -> None: ...
    def finish(self) -> None: ...
    def counters(self, i: int) -> tuple[dict[str, int], float, npt.NDArray[np.int64]]: ...
