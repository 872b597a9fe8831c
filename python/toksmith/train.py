"""BPE training: ``train_bpe`` learns a byte-level BPE vocabulary from files or an iterator.

Counting is streamed and parallel in the Rust engine; the merge loop follows Hugging Face
``BpeTrainer``'s rule exactly (see ``rust/core/src/train.rs``), so the same corpus, pattern,
vocabulary size and ``min_frequency`` give the same merges as ``tokenizers``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from toksmith import _checks, distributed, patterns
from toksmith._toksmith import CoreTokenizer, CoreTrainer
from toksmith.counts import PieceCounts
from toksmith.distributed import Files, Stage
from toksmith.encoding import Encoding, Tokenizer
from toksmith.errors import (
    InvalidInputError,
    ToksmithFileNotFoundError,
    ToksmithIsADirectoryError,
    ToksmithTypeError,
    os_error,
    shorten,
)
from toksmith.patterns import PreTokenizerSpec
from toksmith.registry import get_encoding, list_encoding_names

if TYPE_CHECKING:  # an optional dependency (the dask extra)
    from distributed import Client

_BATCH = 20_000
#: Streams that are not regular files (pipes, FIFOs, /dev/stdin) are read here in blocks of
#: whole lines of about this size and handed to the engine block by block.
_STREAM_BLOCK = 8 << 20


def _stage(spec: object, argument: str) -> Stage:
    """A pre-tokenizer for training: a regex (or family name), or a ``tokenizer.json``
    pre-tokenizer given as a dict."""
    if isinstance(spec, str):
        return ("regex", patterns.resolve(spec))
    if isinstance(spec, dict):
        return ("pre_tokenizer", json.dumps(spec))
    raise ToksmithTypeError(
        f"{argument} must be a regex string, a known name or a pre_tokenizer dict, got {type(spec).__name__}"
    )


def _trainer(
    stages: Sequence[Stage], progress: bool, by_line: bool = False, samples: Sequence[float] | None = None
) -> CoreTrainer:
    return CoreTrainer(stages, by_line, progress, samples)


def count_into(
    trainer: CoreTrainer, files: Files | None, iterator: Iterable[str] | None, num_threads: int | None
) -> None:
    """Feeds files (lines are the units) and/or an iterator of texts (items are the units).

    Regular files are read by the engine. Other files (pipes, FIFOs, ``/dev/stdin``) are read
    here, in blocks of whole lines: Python's reads and opens wait in a way that Ctrl-C can
    interrupt (an open of a FIFO waits for a writer) and are retried when another signal
    interrupts them; the engine counts each block exactly as it would count the file."""
    if files is None and iterator is None:
        raise InvalidInputError("give files=[...] or iterator=...")
    num_threads = _checks.threads(num_threads)
    if files is not None:
        paths = _paths(files)
        regular = []
        for p in paths:
            try:
                mode = os.stat(p).st_mode
            except FileNotFoundError:
                raise ToksmithFileNotFoundError(f"{p}: no such file") from None
            except OSError as e:
                raise os_error(e) from None
            if stat.S_ISDIR(mode):
                raise ToksmithIsADirectoryError(f"{p}: is a directory, not a text file")
            if stat.S_ISREG(mode):
                regular.append(p)
        if regular:
            trainer.add_files(regular, num_threads)
        for p in paths:
            if p not in regular:
                _count_stream(trainer, p, num_threads)
    if iterator is not None:
        batch: list[str] = []
        for item in _checks.text_iterator(iterator, "iterator"):
            if not isinstance(item, str):
                raise ToksmithTypeError(f"the iterator must yield str, got {type(item).__name__}")
            batch.append(item)
            if len(batch) == _BATCH:
                trainer.add_units(batch, num_threads)
                batch = []
        if batch:
            trainer.add_units(batch, num_threads)


def _paths(files: Files) -> list[str]:
    if isinstance(files, (str, os.PathLike)):
        return [os.fspath(files)]
    if isinstance(files, (bytes, bytearray)):
        raise ToksmithTypeError("files must be a path or a list of paths (str or os.PathLike), not bytes")
    try:
        return [_checks.path(f, "each file") for f in files]
    except TypeError as e:
        if isinstance(e, ToksmithTypeError):
            raise
        raise ToksmithTypeError(f"files must be a path or a list of paths, not {type(files).__name__}") from None


def _count_stream(trainer: CoreTrainer, path: str, num_threads: int | None) -> None:
    """Counts a file that is not a regular file (a pipe, a FIFO, a character device) by reading
    it here in blocks of whole lines."""
    try:
        with open(path, "rb") as f:  # buffered: read(n) waits for n bytes or the end
            carry = b""
            while True:
                data = f.read(_STREAM_BLOCK)
                if not data:
                    break
                block = carry + data
                cut = block.rfind(b"\n") + 1
                if cut:
                    trainer.add_block(path, block[:cut], num_threads)
                    carry = block[cut:]
                else:
                    carry = block  # no line end yet: a line longer than a block
            if carry:
                trainer.add_block(path, carry, num_threads)
    except OSError as e:
        raise os_error(e) from None


def _counted(
    kind: str,
    stages: list[Stage],
    files: Files | None,
    iterator: Iterable[str] | None,
    num_threads: int | None,
    progress: bool,
    by_line: bool,
    client: Client | None,
    shard_size: int | None,
    shard_min_frequency: int,
    shard_top_k: int | None,
) -> PieceCounts:
    """The count table of files / an iterator: in-process, or on a Dask cluster (``client``)."""
    if client is not None:
        if iterator is not None:
            raise InvalidInputError(
                "client= counts files (paths or fsspec URLs) on the cluster; count iterators with count_pieces "
                "per partition and add the tables"
            )
        if files is None:
            raise InvalidInputError("give files=[...] to count on the cluster")
        return distributed.count_on_cluster(
            client, files, kind=kind, stages=stages, shard_size=shard_size,
            min_frequency=shard_min_frequency, top_k=shard_top_k, progress=progress,
        )
    trainer = _trainer(stages, progress, by_line)
    count_into(trainer, files, iterator, num_threads)
    table = PieceCounts(trainer.take_table(kind))
    if shard_min_frequency > 1 or shard_top_k is not None:
        table = table.pruned(shard_min_frequency, shard_top_k)
    return table


def count_pieces(
    files: Files | None = None,
    *,
    iterator: Iterable[str] | None = None,
    pattern: PreTokenizerSpec = "o200k",
    num_threads: int | None = None,
    progress: bool = True,
    client: Client | None = None,
    shard_size: int | None = None,
    shard_min_frequency: int = 1,
    shard_top_k: int | None = None,
) -> PieceCounts:
    """Counts the pieces of files (lines are the units) and/or an iterator (items are the
    units) for :func:`train_bpe`, as a :class:`PieceCounts` table that can be added to others,
    saved, shipped and trained on: ``train_bpe(counts=sum(tables), vocab_size=...)`` gives
    exactly the merges of training on the concatenated corpus.

    ``client``: a ``dask.distributed.Client``; the files are cut into shards of
    ``shard_size`` bytes, counted on its workers (see :mod:`toksmith.distributed`); by default
    shards are at most 128 MiB and their number is a multiple of the cluster's worker threads.
    ``shard_min_frequency`` / ``shard_top_k``: memory guard, drop from each shard's table (or
    this table) the pieces counted fewer times / all but the most frequent; **approximate** (a
    piece rare in every shard but frequent overall is lost).

    >>> units = ["the cat sat on the mat\\n"] * 10 + ["the rat sat\\n"] * 3
    >>> shards = [count_pieces(iterator=units[:7], pattern="gpt2", progress=False),
    ...           count_pieces(iterator=units[7:], pattern="gpt2", progress=False)]
    >>> sum(shards)
    <PieceCounts bpe: 8 distinct / 82 total>
    >>> whole = train_bpe(iterator=units, vocab_size=262, pattern="gpt2", progress=False)
    >>> train_bpe(counts=sum(shards), vocab_size=262, progress=False).merges == whole.merges
    True
    """
    return _counted(
        "bpe",
        [_stage(pattern, "pattern")],
        files,
        iterator,
        num_threads,
        progress,
        False,
        client,
        shard_size,
        shard_min_frequency,
        shard_top_k,
    )


def _check_counts(counts: object, kind: str, stages: list[Stage], argument_given: bool) -> None:
    if not isinstance(counts, PieceCounts):
        raise ToksmithTypeError(f"counts must be a toksmith.PieceCounts, got {type(counts).__name__}")
    if counts.kind != kind:
        maker = "count_pieces" if kind == "bpe" else "count_superbpe_pieces"
        raise InvalidInputError(
            f"counts were made for {counts.kind!r} training, not {kind!r}: count them with toksmith.{maker}"
        )
    if argument_given and counts.stages != stages:
        raise InvalidInputError(
            f"counts were made with pre-tokenizer stages {counts.stages}, not the ones asked for here {stages}: "
            "leave the pattern arguments out to use the table's"
        )


def train_bpe(
    files: Files | None = None,
    *,
    iterator: Iterable[str] | None = None,
    vocab_size: int,
    pattern: PreTokenizerSpec | None = None,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 1,
    num_threads: int | None = None,
    progress: bool = True,
    counts: PieceCounts | None = None,
    client: Client | None = None,
    shard_size: int | None = None,
    shard_min_frequency: int = 1,
    shard_top_k: int | None = None,
) -> Tokenizer:
    """Trains a byte-level BPE tokenizer.

    ``files``: text files, read line by line (each line with its ending is one unit, as in
    ``tokenizers``' ``train``); invalid UTF-8 is replaced by U+FFFD, files with NUL bytes are
    refused as binary. ``iterator``: texts, each one unit. ``pattern``: ``"gpt2"``, ``"cl100k"``,
    ``"o200k"``, ``"llama3"``, ``"qwen2"``, a regex in tiktoken (PCRE) syntax (used as a ``Split``
    whose matches and the text between them are pieces), or a ``tokenizer.json`` pre-tokenizer
    dict.
    ``vocab_size`` counts the 256 byte tokens, the learned tokens and the special tokens, which
    get the last ids. Ctrl-C stops training with ``KeyboardInterrupt``. ``pattern`` defaults
    to ``"o200k"``.

    ``counts``: train on a :class:`PieceCounts` table (:func:`count_pieces`, summed shards, a
    loaded file) instead of files. ``client``: count the files on a Dask cluster
    (``dask.distributed.Client``), then merge here; ``shard_size``, ``shard_min_frequency``,
    ``shard_top_k`` as in :func:`count_pieces` (pruning is approximate; without it the merges
    are exactly those of in-process training).

    Returns a :class:`toksmith.Tokenizer` (``tokenizer.json`` semantics); ``tokenizer.merges``
    is the ordered merge list, ``save`` / ``to_encoding().save_tiktoken`` write it out.

    >>> units = ["the cat sat on the mat\\n"] * 10 + ["the rat sat\\n"] * 3
    >>> tok = train_bpe(iterator=units, vocab_size=262, pattern="gpt2", progress=False)
    >>> tok.merges
    [(b'a', b't'), (b'h', b'e'), (b't', b'he'), (b's', b'at'), (b' ', b'sat'), (b'c', b'at')]
    >>> tok.encode("the cat").tokens
    ['the', 'Ġ', 'cat']
    """
    special_tokens, min_frequency = _check_training(vocab_size, special_tokens, min_frequency)
    stages = [_stage(pattern if pattern is not None else "o200k", "pattern")]
    ours = False  # a table counted here is handed to the trainer without a copy
    if counts is not None:
        if files is not None or iterator is not None or client is not None:
            raise InvalidInputError("give counts= or files/iterator/client, not both")
        _check_counts(counts, "bpe", stages, pattern is not None)
    elif client is not None or shard_min_frequency > 1 or shard_top_k is not None:
        counts = _counted(
            "bpe",
            stages,
            files,
            iterator,
            num_threads,
            progress,
            False,
            client,
            shard_size,
            shard_min_frequency,
            shard_top_k,
        )
        ours = True
    if counts is not None:
        trainer = _trainer(counts.stages, progress)
        trainer.add_table(counts._core, ours)
    else:
        trainer = _trainer(stages, progress)
        count_into(trainer, files, iterator, num_threads)
    return Tokenizer(trainer.train(vocab_size, special_tokens, min_frequency))


def _check_training(vocab_size: object, special_tokens: object, min_frequency: object) -> tuple[list[str], int]:
    """Checks the arguments every trainer takes; returns the special tokens as a list and
    ``min_frequency``."""
    size = _checks.integer(vocab_size, "vocab_size")
    if size > 2**31:
        raise InvalidInputError(f"vocab_size must be at most 2**31 (token ids are below 2**31), got {shorten(size)}")
    specials = _checks.texts(special_tokens, "special_tokens")
    if size < 256 + len(specials):
        raise InvalidInputError(
            f"vocab_size {size} is too small: 256 byte tokens + {len(specials)} special tokens"
        )
    if len(set(specials)) != len(specials):
        raise InvalidInputError("special_tokens has duplicates")
    if "" in specials:
        raise InvalidInputError("special_tokens holds an empty string")
    return specials, _checks.count(min_frequency, "min_frequency", 0)


def _transition_size(transition: float | int, vocab_size: int) -> int:
    if isinstance(transition, bool) or not isinstance(transition, (int, float)):
        raise ToksmithTypeError("transition must be a vocabulary size (int) or a fraction of vocab_size (float)")
    if isinstance(transition, float):
        if not 0.0 <= transition <= 1.0:
            raise InvalidInputError(f"transition {transition} as a fraction must lie in [0, 1]")
        return round(transition * vocab_size)
    if transition > vocab_size:
        raise InvalidInputError(f"transition {transition} is larger than vocab_size {vocab_size}")
    return transition


def _base_core(base: Tokenizer | Encoding | str | os.PathLike[str]) -> CoreTokenizer:
    """The engine tokenizer of a base vocabulary: a Tokenizer, an Encoding, a registered
    encoding name, or a ``tokenizer.json`` / ``.tiktoken`` path."""
    if isinstance(base, Tokenizer):
        return base._core
    if isinstance(base, Encoding):
        return base._core
    if isinstance(base, (str, os.PathLike)):
        name = os.fspath(base)
        if name in list_encoding_names():
            return get_encoding(name)._core
        if not os.path.exists(name):
            raise ToksmithFileNotFoundError(
                f"{shorten(name)}: base tokenizer not found (not a file, nor one of {list_encoding_names()})"
            )
        if name.endswith(".json"):
            return Tokenizer.from_file(name)._core
        # A .tiktoken file holds no pattern; a base lends only its vocabulary and merges.
        return Encoding.from_tiktoken_file(name, pat_str=patterns.O200K)._core
    raise ToksmithTypeError(
        f"base must be a toksmith Tokenizer, an Encoding, an encoding name or a path, got {type(base).__name__}"
        + _checks.foreign_tokenizer_hint(base)
    )


def train_superbpe(
    files: Files | None = None,
    *,
    iterator: Iterable[str] | None = None,
    vocab_size: int,
    transition: float | int = 0.8,
    preset: str | None = None,
    stage1_pattern: PreTokenizerSpec | None = None,
    stage2_pattern: PreTokenizerSpec | None = None,
    max_words_per_token: int | None = 4,
    reject_colon_space: bool = True,
    base: Tokenizer | Encoding | str | os.PathLike[str] | None = None,
    stage2_sample: float = 1.0,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 1,
    num_threads: int | None = None,
    progress: bool = True,
    counts: PieceCounts | None = None,
    client: Client | None = None,
    shard_size: int | None = None,
    shard_min_frequency: int = 1,
    shard_top_k: int | None = None,
) -> Tokenizer:
    r"""Trains a SuperBPE tokenizer (Liu et al. 2025): superword tokens that span spaces.

    * Stage 1: BPE with ``stage1_pattern`` (splits at whitespace) until the vocabulary holds
      ``transition`` tokens (an int, or a float fraction of ``vocab_size``). ``transition ==
      vocab_size`` gives exactly :func:`train_bpe`'s merges.
    * Stage 2: the text is cut with the permissive ``stage2_pattern``; every distinct chunk is
      encoded with the stage-1 merges (replayed in rank order), pairs are recounted and BPE goes
      on to ``vocab_size``. Stage-2 tokens with ``": "`` (``reject_colon_space``) or more than
      ``max_words_per_token`` words (non-empty pieces between spaces; ``None``: no limit) are
      refused.
    * Lines are the units (iterator items are cut into lines too): no token continues past a
      newline, so encoders may cut long text after any ``\n``.
    * ``preset``: ``"2025"`` (stage 1: o200k without contractions; stage 2:
      ``\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)``) or ``"paper"`` (digit runs and
      3-digit groups from the right split; stage 1 GPT-2-style without contractions). Patterns
      are regexes in tiktoken syntax (``Split`` semantics: matches and the text between them are
      pieces) or ``tokenizer.json`` pre-tokenizer dicts; they override the preset.
    * ``base``: extend an existing vocabulary instead of training stage 1 (a Tokenizer, an
      Encoding, ``"o200k_base"``, or a file): its ids are kept, new tokens follow.

    * ``counts``: train on a table from :func:`count_superbpe_pieces` (summed shards, a loaded
      file); ``client``: count the files on a Dask cluster. See :func:`train_bpe`.

    Memory grows with the number and length of *distinct* stage-2 chunks (about lines of
    distinct text); ``stage2_sample`` (a fraction in (0, 1]) lets stage 2 count only the lines
    whose content hashes into that fraction (deterministic; all copies of a line in or out
    together), which divides that memory by about as much (in-process counting only); see the
    README. The result is a :class:`Tokenizer` whose ``tokenizer.json`` uses the stage-2
    pre-tokenizer and loads in Hugging Face ``tokenizers``; its
    ``training_report`` says where stage 2 began and which stage-1 merges it never used.
    """
    special_tokens, min_frequency = _check_training(vocab_size, special_tokens, min_frequency)
    if not 0.0 < stage2_sample <= 1.0:
        raise InvalidInputError(f"stage2_sample {stage2_sample} must lie in (0, 1]")
    if max_words_per_token is not None and _checks.integer(max_words_per_token, "max_words_per_token") < 1:
        raise InvalidInputError("max_words_per_token must be at least 1 (or None for no limit)")
    if base is not None:
        core_base = _base_core(base)
        t = 0
    else:
        core_base = None
        t = _transition_size(transition, vocab_size)
        if t < 256 + len(special_tokens):
            raise InvalidInputError(
                f"transition {t} is smaller than the 256 byte tokens + {len(special_tokens)} special tokens"
            )
    given = preset is not None or stage1_pattern is not None or stage2_pattern is not None
    if counts is not None:
        if files is not None or iterator is not None or client is not None:
            raise InvalidInputError("give counts= or files/iterator/client, not both")
        if not isinstance(counts, PieceCounts):
            raise ToksmithTypeError(f"counts must be a toksmith.PieceCounts, got {type(counts).__name__}")
        # A table with both stages also serves `base=` (which needs the stage-2 chunks only).
        stages = _superbpe_stages(preset, stage1_pattern, stage2_pattern, with_stage1=len(counts.stages) == 2)
        _check_counts(counts, "superbpe", stages, given)
        if base is None and len(counts.stages) < 2:
            raise InvalidInputError(
                "these counts hold the stage-2 chunks only (counted for base=...): give base=, "
                "or count with stage1=True"
            )
    if stage2_sample < 1.0 and (counts is not None or client is not None or shard_min_frequency > 1
                                or shard_top_k is not None):
        raise InvalidInputError("stage2_sample applies to in-process counting; it cannot re-sample a count table "
                         "(counts=, client=, shard pruning)")
    ours = False  # a table counted here is handed to the trainer without a copy
    if counts is None:
        stages = _superbpe_stages(preset, stage1_pattern, stage2_pattern, with_stage1=base is None)
        if client is not None or shard_min_frequency > 1 or shard_top_k is not None:
            counts = count_superbpe_pieces(
                files, iterator=iterator, preset=preset, stage1_pattern=stage1_pattern,
                stage2_pattern=stage2_pattern, stage1=base is None, num_threads=num_threads,
                progress=progress, client=client, shard_size=shard_size,
                shard_min_frequency=shard_min_frequency, shard_top_k=shard_top_k,
            )
            ours = True
    if counts is not None:
        trainer = _trainer(counts.stages, progress, by_line=True)
        trainer.add_table(counts._core, ours)
    else:
        samples = [1.0] * (len(stages) - 1) + [stage2_sample]
        trainer = _trainer(stages, progress, by_line=True, samples=samples)
        count_into(trainer, files, iterator, num_threads)
    core, stage1_len, unused = trainer.train_superbpe(
        vocab_size,
        t,
        special_tokens,
        min_frequency,
        max_words_per_token,
        reject_colon_space,
        core_base,
        num_threads,
    )
    tok = Tokenizer(core)
    tok.training_report = {"stage1_merges": stage1_len, "unused_stage1_merges": unused}
    return tok


def _superbpe_stages(
    preset: str | None,
    stage1_pattern: PreTokenizerSpec | None,
    stage2_pattern: PreTokenizerSpec | None,
    with_stage1: bool,
) -> list[Stage]:
    """The SuperBPE counting stages: stage 1 (unless only stage-2 chunks are needed), stage 2."""
    preset = "2025" if preset is None else preset
    if preset not in patterns.SUPERBPE_PRESETS:
        raise InvalidInputError(
            f"unknown preset {shorten(preset)}: expected one of {sorted(patterns.SUPERBPE_PRESETS)}"
        )
    default1, default2 = patterns.SUPERBPE_PRESETS[preset]
    stage2 = _stage(stage2_pattern if stage2_pattern is not None else default2, "stage2_pattern")
    if not with_stage1:
        return [stage2]
    return [_stage(stage1_pattern if stage1_pattern is not None else default1, "stage1_pattern"), stage2]


def count_superbpe_pieces(
    files: Files | None = None,
    *,
    iterator: Iterable[str] | None = None,
    preset: str | None = None,
    stage1_pattern: PreTokenizerSpec | None = None,
    stage2_pattern: PreTokenizerSpec | None = None,
    stage1: bool = True,
    num_threads: int | None = None,
    progress: bool = True,
    client: Client | None = None,
    shard_size: int | None = None,
    shard_min_frequency: int = 1,
    shard_top_k: int | None = None,
) -> PieceCounts:
    """Counts, in one pass, what :func:`train_superbpe` needs: stage-1 pieces and stage-2
    chunks (lines are the units, iterator items are cut into lines), as one
    :class:`PieceCounts` with two stages. ``stage1=False`` counts the stage-2 chunks only
    (enough for ``train_superbpe(base=..., counts=...)``). Patterns and presets as in
    :func:`train_superbpe`; ``client`` and the shard options as in :func:`count_pieces`."""
    stages = _superbpe_stages(preset, stage1_pattern, stage2_pattern, with_stage1=stage1)
    return _counted(
        "superbpe",
        stages,
        files,
        iterator,
        num_threads,
        progress,
        True,
        client,
        shard_size,
        shard_min_frequency,
        shard_top_k,
    )
