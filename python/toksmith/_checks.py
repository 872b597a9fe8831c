"""Argument checks shared by the public wrappers: each refuses a bad argument with a typed
:mod:`toksmith.errors` exception whose message names the argument and says what to pass."""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from toksmith.errors import InvalidInputError, ToksmithTypeError, shorten


def texts(value: object, argument: str) -> list[str]:
    """A list of str: refuses one ``str`` (which Python would iterate as characters), ``bytes``
    and non-str items.

    >>> texts(("a", "b"), "text")
    ['a', 'b']
    >>> texts("abc", "text")
    Traceback (most recent call last):
    ...
    toksmith.errors.ToksmithTypeError: text must be a list of str, not a single str (for one, pass ['abc'])
    """
    if isinstance(value, str):
        raise ToksmithTypeError(
            f"{argument} must be a list of str, not a single str (for one, pass [{shorten(value)}])"
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ToksmithTypeError(f"{argument} must be a list of str, not {type(value).__name__}")
    if isinstance(value, list) and all(type(t) is str for t in value):
        return value  # the common case, without a copy
    if isinstance(value, (Mapping, AbstractSet)):
        # A dict's keys or a set's items would be taken in an order the caller did not choose.
        raise ToksmithTypeError(
            f"{argument} must be a list of str, not {type(value).__name__} (pass a list in the order you want)"
        )
    try:
        items = list(value)  # type: ignore[call-overload]  # checked here
    except TypeError:
        raise ToksmithTypeError(f"{argument} must be a list of str, not {type(value).__name__}") from None
    checked: list[str] = []
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise ToksmithTypeError(
                f"{argument} must hold only str; item {i} is {type(t).__name__} ({shorten(t)})"
            )
        checked.append(t)
    return checked


def text_iterator(value: Iterable[str], argument: str) -> Iterable[str]:
    """An iterable of texts, refusing one ``str`` (whose items would be its characters)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise ToksmithTypeError(
            f"{argument} must yield texts; a single {type(value).__name__} was given (for one text, pass [text])"
        )
    if not isinstance(value, Iterable):
        raise ToksmithTypeError(f"{argument} must be an iterable of str, not {type(value).__name__}")
    return value


def integer(value: object, argument: str) -> int:
    """An ``int`` (or numpy integer, or bool, as Python allows): refuses floats and strings
    rather than truncating or parsing them."""
    try:
        return operator.index(value)  # type: ignore[arg-type]  # checked here
    except TypeError:
        raise ToksmithTypeError(f"{argument} must be an int, not {type(value).__name__} ({shorten(value)})") from None


#: The largest count any argument may hold (the engine keeps counts in 64-bit integers).
MAX_COUNT = 2**62


def count(value: object, argument: str, minimum: int, maximum: int = MAX_COUNT) -> int:
    """An int of at least ``minimum`` and at most ``maximum``."""
    n = integer(value, argument)
    if n < minimum:
        raise InvalidInputError(f"{argument} must be at least {minimum}, got {n}")
    if n > maximum:
        raise InvalidInputError(f"{argument} must be at most {maximum}, got {shorten(n)}")
    return n


def threads(value: object, argument: str = "num_threads") -> int | None:
    """``None`` or 0 (all cores, the engine's rule), or a number of threads; more than the
    machine's cores runs on the cores (with a warning: the engine never starts more threads)."""
    if value is None:
        return None
    n = count(value, argument, 0)
    cores = os.cpu_count() or 1
    if n > cores:
        warnings.warn(f"{argument}={n} is more than the {cores} cores here; using {cores}", stacklevel=3)
        return cores
    return n


def path(value: object, argument: str) -> str:
    """A file path (str or ``os.PathLike``)."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise ToksmithTypeError(f"{argument} must be a path (str or os.PathLike), not {type(value).__name__}")


def foreign_tokenizer_hint(obj: Any) -> str:  # Any: probed for a few attributes
    """How to convert a tokenizer from another library into a toksmith one, or ``""``."""
    module = type(obj).__module__.split(".")[0]
    if module == "tiktoken" or all(hasattr(obj, a) for a in ("_mergeable_ranks", "_pat_str", "_special_tokens")):
        return "; it is a tiktoken.Encoding: convert it with toksmith.Encoding.from_tiktoken(enc)"
    if module == "tokenizers" or all(hasattr(obj, a) for a in ("to_str", "get_vocab", "post_processor")):
        return "; it is a tokenizers.Tokenizer: convert it with toksmith.Tokenizer.from_str(tok.to_str())"
    if hasattr(obj, "backend_tokenizer"):
        return ("; it is a transformers tokenizer: convert it with "
                "toksmith.Tokenizer.from_str(tok.backend_tokenizer.to_str())")
    return ""
