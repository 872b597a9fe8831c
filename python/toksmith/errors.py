"""The exceptions toksmith raises: all under :class:`ToksmithError`, and each also a subclass of
the builtin exception a caller would expect (``ValueError``, ``TypeError``, ``KeyError``,
``OSError``), so ``except ValueError`` keeps working."""

from __future__ import annotations


class ToksmithError(Exception):
    """Base of every error toksmith raises."""


class InvalidInputError(ToksmithError, ValueError):
    """A bad argument value."""


class FormatError(ToksmithError, ValueError):
    """A malformed file or document; the message names the file, line or JSON path."""


class UnsupportedError(ToksmithError, ValueError):
    """A valid file that uses a component toksmith does not implement."""


class ToksmithTypeError(ToksmithError, TypeError):
    """An argument of the wrong type."""


class ToksmithKeyError(ToksmithError, KeyError):
    """An unknown token or id."""


class ToksmithOSError(ToksmithError, OSError):
    """A file could not be read or written."""


class ToksmithFileNotFoundError(ToksmithOSError, FileNotFoundError):
    """A file that does not exist."""


class InternalError(ToksmithError, RuntimeError):
    """A bug in toksmith (a panic in the engine, caught before it could abort the process)."""
