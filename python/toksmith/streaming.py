"""Streaming decoding: text out as ids come in (``Encoding.decoder``, ``Tokenizer.decoder``).

A :class:`StreamDecoder` turns each id into its bytes and feeds them to an incremental UTF-8
decoder (``errors="replace"``), which gives back every character as soon as its last byte has
arrived and holds back only the bytes of a character not yet complete. So a character is never
split, and the pieces put together are exactly ``decode(ids)`` (``errors="replace"``) however the
ids are cut: Python's incremental decoder replaces invalid bytes the way ``bytes.decode`` does,
one U+FFFD per maximal invalid subsequence, wherever the chunk boundaries fall.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable


class StreamDecoder:
    r"""Decodes ids one (or a few) at a time; :meth:`flush` at the end.

    >>> import toksmith
    >>> enc = toksmith.get_encoding("o200k_base")
    >>> d = enc.decoder()
    >>> [d.step(t) for t in enc.encode("🦀 ok")]  # the crab is three tokens
    ['', '', '🦀', ' ok']
    >>> d.flush()
    ''
    """

    __slots__ = ("_token_bytes", "_utf8")

    def __init__(self, token_bytes: Callable[[int], bytes]) -> None:
        """``token_bytes``: the bytes an id adds to the decoded text (raises for a bad id)."""
        self._token_bytes = token_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def step(self, token: int) -> str:
        """The text that ``token`` completes (``""`` while a character is still incomplete)."""
        return self._utf8.decode(self._token_bytes(token))

    def steps(self, tokens: Iterable[int]) -> str:
        """The text that ``tokens`` complete, as ``"".join(map(self.step, tokens))``."""
        return self._utf8.decode(b"".join(map(self._token_bytes, tokens)))

    def flush(self) -> str:
        """The end of the stream: U+FFFD for bytes left of an unfinished character (else
        ``""``). The decoder is then empty, ready for a new stream."""
        out = self._utf8.decode(b"", final=True)
        self._utf8.reset()
        return out

    def __repr__(self) -> str:
        pending = len(self._utf8.getstate()[0])
        return f"<StreamDecoder, {pending} byte{'s' * (pending != 1)} pending>"
