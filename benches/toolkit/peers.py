"""The peer libraries built offline from toksmith's bundled files, for side-by-side checks.

``tiktoken`` downloads its rank files; ``tokenizers`` needs a ``tokenizer.json``. These helpers
build both from the files shipped in the toksmith package, so tests and benchmarks run with no
network. Needs the ``test`` or ``bench`` extra.
"""

from __future__ import annotations

import functools

from toksmith import get_encoding


@functools.cache
def tiktoken_encoding(name: str):
    """``tiktoken.Encoding`` for a bundled encoding name, same ranks, pattern and specials."""
    import tiktoken

    ours = get_encoding(name)
    return tiktoken.Encoding(
        name, pat_str=ours.pattern, mergeable_ranks=ours.mergeable_ranks, special_tokens=ours._special_tokens
    )


@functools.cache
def hf_json(name: str) -> str:
    """The ``tokenizer.json`` text toksmith writes for a bundled encoding."""
    return get_encoding(name)._core.to_hf_str()


@functools.cache
def hf_tokenizer(name: str):
    """``tokenizers.Tokenizer`` loaded from :func:`hf_json`."""
    import tokenizers

    return tokenizers.Tokenizer.from_str(hf_json(name))
