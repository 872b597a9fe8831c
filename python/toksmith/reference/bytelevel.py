"""GPT-2's byte-level map: each byte as a printable character (how ``tokenizer.json`` spells
token bytes). The Python twin of the engine's one map."""

from __future__ import annotations


def _printable(b: int) -> bool:
    return 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255


def byte_char(b: int) -> int:
    """The code point that stands for byte ``b``: itself when printable, else 256, 257, ... in
    byte order.

    >>> chr(byte_char(ord("a"))), chr(byte_char(ord(" "))), chr(byte_char(10))
    ('a', 'Ġ', 'Ċ')
    """
    if _printable(b):
        return b
    return 256 + sum(1 for x in range(b) if not _printable(x))


def encode(token: bytes) -> str:
    """Token bytes as ``tokenizer.json`` writes them.

    >>> encode(b" hello\\n")
    'ĠhelloĊ'
    """
    return "".join(chr(byte_char(b)) for b in token)


def decode(text: str) -> bytes:
    """The inverse of :func:`encode`.

    >>> decode("ĠhelloĊ")
    b' hello\\n'
    """
    to_byte = {chr(byte_char(b)): b for b in range(256)}
    return bytes(to_byte[c] for c in text)
