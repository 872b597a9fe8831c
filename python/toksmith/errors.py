"""The exceptions toksmith raises: every one is a :class:`ToksmithError`, and also the builtin
exception that Python code would expect (``ValueError``, ``TypeError``, ``KeyError``,
``OSError``...), so ``except ValueError`` keeps working.

* :class:`InvalidInputError` (``ValueError``): a bad argument value.
* :class:`FormatError` (``ValueError``): a malformed file or document; the message names the
  file, line or JSON path.
* :class:`UnsupportedError` (``ValueError``): a valid file or argument that uses a component
  toksmith does not implement.
* :class:`ToksmithTypeError` (``TypeError``): an argument of the wrong type.
* :class:`ToksmithKeyError` (``KeyError``): an unknown token or id.
* :class:`ToksmithOSError` (``OSError``), :class:`ToksmithFileNotFoundError`
  (``FileNotFoundError``); :class:`ToksmithIsADirectoryError`, :class:`ToksmithNotADirectoryError`
  and :class:`ToksmithPermissionError` keep the more precise ``OSError`` subclasses that
  Python's own file functions raise.
* :class:`InternalError` (``RuntimeError``): a bug in toksmith (an engine panic caught at the
  boundary); please report it.

The Rust extension raises these very classes (it imports this module), so this module imports
nothing from toksmith.

>>> import toksmith
>>> enc = toksmith.get_encoding("o200k_base")
>>> try:
...     enc.decode([-1])
... except toksmith.ToksmithError as e:
...     print(type(e).__name__, isinstance(e, KeyError))
ToksmithKeyError True
"""

from __future__ import annotations

__all__ = [
    "ToksmithError",
    "InvalidInputError",
    "FormatError",
    "UnsupportedError",
    "ToksmithTypeError",
    "ToksmithKeyError",
    "ToksmithOSError",
    "ToksmithFileNotFoundError",
    "ToksmithIsADirectoryError",
    "ToksmithNotADirectoryError",
    "ToksmithPermissionError",
    "ToksmithNotImplementedError",
    "MissingDependencyError",
    "InternalError",
    "os_error",
    "shorten",
]


class ToksmithError(Exception):
    """The base of every error toksmith raises."""


class InvalidInputError(ToksmithError, ValueError):
    """A bad argument value (out of range, an unknown name, a wrong form)."""


class FormatError(ToksmithError, ValueError):
    """A malformed file or document; the message names the file, line or JSON path."""


class UnsupportedError(ToksmithError, ValueError):
    """A valid file or argument that uses a component toksmith does not implement."""


class ToksmithTypeError(ToksmithError, TypeError):
    """An argument of the wrong type."""


class ToksmithKeyError(ToksmithError, KeyError):
    """An unknown token or token id."""


class ToksmithOSError(ToksmithError, OSError):
    """A file could not be read or written."""


class ToksmithFileNotFoundError(ToksmithOSError, FileNotFoundError):
    """A file that does not exist."""


class ToksmithIsADirectoryError(ToksmithOSError, IsADirectoryError):
    """A directory where a file was expected."""


class ToksmithNotADirectoryError(ToksmithOSError, NotADirectoryError):
    """A file where a directory was expected (in a path)."""


class ToksmithPermissionError(ToksmithOSError, PermissionError):
    """A file that may not be read or written."""


class ToksmithNotImplementedError(UnsupportedError, NotImplementedError):
    """An option of a drop-in API that toksmith does not implement (was ``NotImplementedError``)."""


class MissingDependencyError(ToksmithError, ImportError):
    """An optional dependency that a feature needs is not installed (the message names the
    extra to install)."""


class InternalError(ToksmithError, RuntimeError):
    """A bug in toksmith (an engine panic caught at the boundary): please report it, with the
    input that caused it, at the project's issue tracker."""


_OS_ERRORS: dict[type[OSError], type[ToksmithOSError]] = {
    FileNotFoundError: ToksmithFileNotFoundError,
    IsADirectoryError: ToksmithIsADirectoryError,
    NotADirectoryError: ToksmithNotADirectoryError,
    PermissionError: ToksmithPermissionError,
}


def os_error(e: OSError) -> ToksmithOSError:
    """``e`` (an ``OSError`` from Python's file functions) as the matching toksmith class, with
    the same errno, message and file name.

    >>> e = os_error(FileNotFoundError(2, "No such file or directory", "x.json"))
    >>> isinstance(e, FileNotFoundError), isinstance(e, ToksmithError), str(e)
    (True, True, "[Errno 2] No such file or directory: 'x.json'")
    """
    if isinstance(e, ToksmithOSError):
        return e
    kind = _OS_ERRORS.get(type(e), ToksmithOSError)
    if e.errno is None:
        return kind(*e.args)
    if e.filename is None:
        return kind(e.errno, e.strerror)
    return kind(e.errno, e.strerror, e.filename)


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to at most ``limit`` characters with an ellipsis: how messages
    quote user values (a message stays short whatever the input).

    >>> shorten("abc")
    "'abc'"
    >>> shorten("x" * 1000, limit=12)
    "'xxxxxxxxx'…"
    >>> len(shorten(list(range(1000))))
    80
    """
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    if len(text) <= limit:
        return text
    if text[0] in "'\"":  # keep the closing quote: 'abc…' would read as a whole value
        return text[: limit - 2] + text[0] + "…"
    return text[: limit - 1] + "…"
