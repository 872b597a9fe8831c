"""BPE training: ``train_bpe`` learns a byte-level BPE vocabulary from files or an iterator.

Counting is streamed and parallel in the Rust engine; the merge loop follows Hugging Face
``BpeTrainer``'s rule exactly (see ``rust/core/src/train.rs``), so the same corpus, pattern,
vocabulary size and ``min_frequency`` give the same merges as ``tokenizers``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from toksmith import patterns
from toksmith._toksmith import CoreTrainer
from toksmith.tokenizer import Tokenizer

_BATCH = 20_000


def _trainer(pattern: str, progress: bool) -> CoreTrainer:
    if not isinstance(pattern, str):
        raise TypeError("pattern must be a known name or a regex string")
    return CoreTrainer(patterns.resolve(pattern), progress)


def count_into(trainer: CoreTrainer, files, iterator, num_threads) -> None:
    """Feeds files (lines are the units) and/or an iterator of texts (items are the units)."""
    if files is None and iterator is None:
        raise ValueError("give files=[...] or iterator=...")
    if files is not None:
        paths = [os.fspath(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
        for p in paths:
            if not os.path.exists(p):
                raise FileNotFoundError(f"{p}: no such file")
            if os.path.isdir(p):
                raise IsADirectoryError(f"{p}: is a directory, not a text file")
        trainer.add_files(paths, num_threads)
    if iterator is not None:
        batch: list[str] = []
        for item in iterator:
            if not isinstance(item, str):
                raise TypeError(f"the iterator must yield str, got {type(item).__name__}")
            batch.append(item)
            if len(batch) == _BATCH:
                trainer.add_units(batch, num_threads)
                batch = []
        if batch:
            trainer.add_units(batch, num_threads)


def train_bpe(
    files: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    *,
    iterator: Iterable[str] | None = None,
    vocab_size: int,
    pattern: str = "o200k",
    special_tokens: Sequence[str] = (),
    min_frequency: int = 1,
    num_threads: int | None = None,
    progress: bool = True,
) -> Tokenizer:
    """Trains a byte-level BPE tokenizer.

    ``files``: text files, read line by line (each line with its ending is one unit, as in
    ``tokenizers``' ``train``); invalid UTF-8 is replaced by U+FFFD, files with NUL bytes are
    refused as binary. ``iterator``: texts, each one unit. ``pattern``: ``"gpt2"``, ``"cl100k"``,
    ``"o200k"``, ``"llama3"``, ``"qwen2"`` or a regex in tiktoken (PCRE) syntax.
    ``vocab_size`` counts the 256 byte tokens, the learned tokens and the special tokens, which
    get the last ids. Ctrl-C stops training with ``KeyboardInterrupt``.

    Returns a :class:`toksmith.Tokenizer` (``tokenizer.json`` semantics); ``tokenizer.merges``
    is the ordered merge list, ``save`` / ``to_encoding().save_tiktoken`` write it out.
    """
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"vocab_size {vocab_size} is too small: 256 byte tokens + {len(special_tokens)} special tokens")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError("special_tokens has duplicates")
    trainer = _trainer(pattern, progress)
    count_into(trainer, files, iterator, num_threads)
    return Tokenizer.from_str(trainer.train(vocab_size, list(special_tokens), min_frequency))
