"""Bundled encodings: ``get_encoding`` works offline, from files shipped in the package."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from toksmith import patterns
from toksmith.encoding import Encoding
from toksmith.errors import FormatError, InvalidInputError, ToksmithFileNotFoundError, ToksmithTypeError, shorten

_DIR = Path(__file__).parent / "encodings"

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

_SPECS = {
    "cl100k_base": (
        patterns.CL100K,
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
        100277,
    ),
    "o200k_base": (patterns.O200K, {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}, 200019),
}

_lock = threading.Lock()


def list_encoding_names() -> list[str]:
    """Names accepted by :func:`get_encoding`.

    >>> list_encoding_names()
    ['cl100k_base', 'o200k_base']
    """
    return sorted(_SPECS)


def _sha256(name: str) -> str:
    for line in (_DIR / "SHA256SUMS").read_text().splitlines():
        digest, file = line.split()
        if file == f"{name}.tiktoken":
            return digest
    raise ToksmithFileNotFoundError(f"{_DIR / 'SHA256SUMS'} lists no checksum for {name}")


@functools.cache
def _load(name: str) -> Encoding:
    pattern, specials, n_vocab = _SPECS[name]
    enc = Encoding.from_tiktoken_file(
        str(_DIR / f"{name}.tiktoken.gz"),
        pat_str=pattern,
        special_tokens=specials,
        name=name,
        expected_sha256=_sha256(name),
    )
    if enc.n_vocab != n_vocab:
        raise FormatError(f"{name}: expected {n_vocab} ids, the bundled file gives {enc.n_vocab}")
    return enc


def get_encoding(name: str) -> Encoding:
    """A bundled encoding by name (``"cl100k_base"``, ``"o200k_base"``), loaded once and cached.

    >>> enc = get_encoding("cl100k_base")
    >>> enc.encode("hello world"), enc.n_vocab
    ([15339, 1917], 100277)
    >>> get_encoding("cl100k_base") is enc
    True
    """
    if not isinstance(name, str):
        raise ToksmithTypeError(f"the encoding name must be str, not {type(name).__name__}")
    if name not in _SPECS:
        raise InvalidInputError(
            f"Unknown encoding {shorten(name)}. Plugins found: none. Known: {', '.join(list_encoding_names())}"
        )
    with _lock:
        return _load(name)
