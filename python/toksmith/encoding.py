"""The two front ends of the Rust engine's tokenizer (``CoreTokenizer``).

* :class:`Encoding`: a drop-in for ``tiktoken.Encoding`` (tiktoken's API and ids).
* :class:`Tokenizer` (and :class:`HFEncoding`, its ``encode`` result): a drop-in for Hugging
  Face ``tokenizers.Tokenizer`` on ``tokenizer.json`` files (byte-level BPE, WordPiece,
  SentencePiece-style BPE, WordLevel, Unigram).

They live in one module because each converts to the other (:meth:`Encoding.to_tokenizer`,
:meth:`Tokenizer.to_encoding`); :mod:`toksmith.tokenizer` re-exports the second pair.
"""

from __future__ import annotations

import functools
import operator
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, cast

import numpy as np
import numpy.typing as npt

from toksmith import _checks, _files
from toksmith._toksmith import CoreTokenizer
from toksmith.errors import (
    FormatError,
    InvalidInputError,
    ToksmithError,
    ToksmithFileNotFoundError,
    ToksmithKeyError,
    ToksmithNotImplementedError,
    ToksmithTypeError,
    os_error,
    shorten,
)
from toksmith.streaming import StreamDecoder

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Token ids: a sequence of ints, or a numpy array of integers.
TokenIds = Sequence[int] | npt.NDArray[np.integer[Any]]


def _check_text(text: object, argument: str = "text") -> str:
    if not isinstance(text, str):
        hint = " (decode bytes first, e.g. text.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise ToksmithTypeError(f"{argument} must be str, not {type(text).__name__}{hint}")
    return text


#: The largest ``tokenizer.json`` read (released ones are below 50 MB): a device such as
#: ``/dev/zero`` is refused after this much, not read until memory runs out.
MAX_JSON_BYTES = 1 << 30


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise FormatError(f"{path}: more than {MAX_JSON_BYTES >> 20} MiB; not a tokenizer.json")
        return data.decode("utf-8")
    except OSError as e:
        raise os_error(e) from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _write_text(path: str, text: str) -> None:
    """Writes a file whole or not at all (see :mod:`toksmith._files`)."""
    with _files.replacing(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _without_surrogates(text: str) -> str:
    # tiktoken's rule: lone surrogates cannot be UTF-8, they become U+FFFD.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _call_with_text(fn: Callable[Concatenate[str, _P], _R], text: str, *args: _P.args, **kwargs: _P.kwargs) -> _R:
    try:
        return fn(text, *args, **kwargs)
    except UnicodeEncodeError:
        return fn(_without_surrogates(text), *args, **kwargs)


def _call_with_texts(
    fn: Callable[Concatenate[list[str], _P], _R], texts: Sequence[str], *args: _P.args, **kwargs: _P.kwargs
) -> _R:
    checked = _checks.texts(texts, "text")
    try:
        return fn(checked, *args, **kwargs)
    except UnicodeEncodeError:
        return fn([_without_surrogates(t) for t in checked], *args, **kwargs)


def _special_set(value: object, argument: str) -> Literal["all"] | Collection[str]:
    """``"all"``, or a set (or list, tuple) of special-token strings; refuses any other string,
    which would otherwise be taken as a set of characters."""
    kind = type(value)
    if kind is frozenset or kind is set:  # the common case first (encode pays this per call)
        if not value or all(type(t) is str for t in value):  # type: ignore[attr-defined]
            return value  # type: ignore[return-value]
    elif kind is str and value == "all":
        return "all"
    if isinstance(value, str):
        if value == "all":
            return "all"
        raise InvalidInputError(
            f'{argument} must be "all" or a set of special-token strings, not the string {shorten(value)} '
            f"(for one token, pass {{{shorten(value)}}})"
        )
    if not isinstance(value, (AbstractSet, list, tuple)):
        raise ToksmithTypeError(
            f'{argument} must be "all" or a set of special-token strings, not {type(value).__name__}'
        )
    for t in value:
        if not isinstance(t, str):
            raise ToksmithTypeError(f"{argument} must hold only str, not {type(t).__name__} ({shorten(t)})")
    return value


@functools.lru_cache(maxsize=128)
def _special_token_regex(tokens: frozenset[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))


class Encoding:
    """A byte-level BPE encoding with tiktoken's API and ids.

    ``Encoding(name, pat_str=..., mergeable_ranks=..., special_tokens=...)`` builds one like
    ``tiktoken.Encoding``; :func:`toksmith.get_encoding` loads the bundled ones.
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
        _core: CoreTokenizer | None = None,
    ) -> None:
        self.name = name
        self._pat_str = pat_str
        for argument, value in (("mergeable_ranks", mergeable_ranks), ("special_tokens", special_tokens)):
            if not isinstance(value, Mapping):
                raise ToksmithTypeError(f"{argument} must be a dict, not {type(value).__name__}")
        self._special_tokens = dict(special_tokens)
        if _core is None:
            try:
                _core = CoreTokenizer.from_ranks(list(mergeable_ranks.items()), pat_str, self._special_tokens, name)
            except (OverflowError, TypeError) as e:
                if isinstance(e, ToksmithError):
                    raise
                raise _bad_vocabulary(mergeable_ranks, self._special_tokens) from None
        self._core = _core
        self.max_token_value = max(_core.n_vocab - 1, 0)
        if explicit_n_vocab is not None:
            if _core.n_mergeable + len(self._special_tokens) != explicit_n_vocab:
                raise InvalidInputError(f"{name}: expected {explicit_n_vocab} tokens, found "
                                        f"{_core.n_mergeable + len(self._special_tokens)}")
            if self.max_token_value != explicit_n_vocab - 1:
                raise InvalidInputError(
                    f"{name}: the largest token id is {self.max_token_value}, expected {explicit_n_vocab - 1}"
                )

    @classmethod
    def from_tiktoken_file(
        cls,
        path: str,
        *,
        pat_str: str,
        special_tokens: dict[str, int] | None = None,
        name: str | None = None,
        expected_sha256: str | None = None,
    ) -> Encoding:
        """Loads a ``.tiktoken`` rank file (plain or ``.gz``)."""
        special_tokens = dict(special_tokens or {})
        name = name or str(path).rsplit("/", 1)[-1].split(".")[0]
        core = CoreTokenizer.from_tiktoken_file(str(path), pat_str, special_tokens, name, expected_sha256)
        return cls(name, pat_str=pat_str, mergeable_ranks={}, special_tokens=special_tokens, _core=core)

    @classmethod
    def from_tiktoken(cls, encoding: Any) -> Encoding:  # Any: a tiktoken.Encoding, duck-typed
        r"""The same encoding as a ``tiktoken.Encoding`` (its ranks, pattern, special tokens and
        name), as a toksmith :class:`Encoding`; tiktoken need not be installed here, the object
        is read through its attributes.

        >>> import toksmith
        >>> class FakeTiktoken:  # what tiktoken.get_encoding("...") returns has these attributes
        ...     name, _pat_str = "tiny", r"\S+|\s+"
        ...     _mergeable_ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256}
        ...     _special_tokens = {"<|end|>": 257}
        >>> enc = toksmith.Encoding.from_tiktoken(FakeTiktoken())
        >>> enc, enc.encode("abc <|end|>", allowed_special="all")
        (<Encoding 'tiny'>, [256, 99, 32, 257])
        """
        if isinstance(encoding, Encoding):
            return encoding
        try:
            name, pat_str = encoding.name, encoding._pat_str
            ranks, specials = encoding._mergeable_ranks, encoding._special_tokens
        except AttributeError:
            raise ToksmithTypeError(
                f"expected a tiktoken.Encoding (with name, _pat_str, _mergeable_ranks, _special_tokens), "
                f"not {type(encoding).__name__}"
            ) from None
        return cls(str(name), pat_str=pat_str, mergeable_ranks=dict(ranks), special_tokens=dict(specials))

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ------------------------------------------------------------------ encoding

    def _special_args(
        self,
        allowed_special: Literal["all"] | AbstractSet[str],
        disallowed_special: Literal["all"] | Collection[str],
        text: str | None,
        texts: Sequence[str] | None = None,
    ) -> tuple[list[str], bool]:
        """tiktoken's rules, returning the engine's (allowed, reject_others) arguments."""
        allowed_special = _special_set(allowed_special, "allowed_special")  # type: ignore[assignment]
        disallowed_special = _special_set(disallowed_special, "disallowed_special")
        allowed = self.special_tokens_set if allowed_special == "all" else allowed_special
        if disallowed_special == "all":
            reject_others = bool(self.special_tokens_set - set(allowed))
        else:
            reject_others = False
            if disallowed_special:
                # Arbitrary strings may be disallowed; check them like tiktoken does.
                pattern = _special_token_regex(frozenset(disallowed_special))
                for t in [text] if texts is None else texts:
                    if isinstance(t, str) and (m := pattern.search(t)):
                        raise InvalidInputError(CoreTokenizer.disallowed_message(m.group()))
        return list(allowed), reject_others

    def encode_ordinary(self, text: str) -> list[int]:
        """Encodes text, treating special-token strings as ordinary text.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").encode_ordinary("hello <|endoftext|>")
        [24912, 464, 91, 419, 1440, 919, 91, 29]
        """
        try:  # the common case first: one call into the engine (this wrapper costs per call)
            return self._core.encode_ordinary(text)
        except (TypeError, UnicodeEncodeError):
            return _call_with_text(self._core.encode_ordinary, _check_text(text))

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encodes text. A special token in the text is encoded as such only if allowed; by
        default any special token raises ``ValueError`` (tiktoken's rule); pass
        ``disallowed_special=()`` to encode such text as ordinary text.

        >>> import toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> enc.encode("hello world")
        [24912, 2375]
        >>> enc.encode("hello <|endoftext|>", allowed_special="all")
        [24912, 220, 199999]
        >>> enc.encode("hello <|endoftext|>", disallowed_special=())
        [24912, 464, 91, 419, 1440, 919, 91, 29]
        >>> try:
        ...     enc.encode("hello <|endoftext|>")
        ... except ValueError as e:
        ...     print(str(e).splitlines()[0])
        Encountered text corresponding to disallowed special token '<|endoftext|>'.
        """
        _check_text(text)
        allowed, reject = self._special_args(allowed_special, disallowed_special, text)
        return _call_with_text(self._core.encode, text, allowed, reject)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> npt.NDArray[np.uint32]:
        """Like :meth:`encode`, as a ``uint32`` numpy array.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").encode_to_numpy("hello world")
        array([24912,  2375], dtype=uint32)
        """
        _check_text(text)
        allowed, reject = self._special_args(allowed_special, disallowed_special, text)
        return _call_with_text(self._core.encode_to_numpy, text, allowed, reject)

    def encode_ordinary_batch(self, text: list[str], *, num_threads: int | None = None) -> list[list[int]]:
        """Encodes many texts in parallel on the engine's thread pool (default: all cores)."""
        text = _checks.texts(text, "text")
        return _call_with_texts(self._core.encode_ordinary_batch, text, _checks.threads(num_threads))

    def encode_batch(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[list[int]]:
        """:meth:`encode` for many texts, in parallel.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").encode_batch(["hello world", "goodbye"])
        [[24912, 2375], [30744, 43571]]
        """
        text = _checks.texts(text, "text")
        allowed, reject = self._special_args(allowed_special, disallowed_special, None, text)
        return _call_with_texts(self._core.encode_batch, text, allowed, reject, _checks.threads(num_threads))

    def encode_batch_to_numpy(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Encodes many texts; returns flat ``uint32`` ids and ``int64`` offsets of length
        ``len(text) + 1``: text ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.

        >>> import toksmith
        >>> ids, offsets = toksmith.get_encoding("o200k_base").encode_batch_to_numpy(["hello world", "goodbye"])
        >>> ids.tolist(), offsets.tolist()
        ([24912, 2375, 30744, 43571], [0, 2, 4])
        """
        text = _checks.texts(text, "text")
        allowed, reject = self._special_args(allowed_special, disallowed_special, None, text)
        return _call_with_texts(self._core.encode_batch_to_numpy, text, allowed, reject, _checks.threads(num_threads))

    def count(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> int:
        """``len(self.encode(text, ...))`` without making the ids: the same special-token rules
        and errors, faster, and with no list in memory.

        >>> import toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> enc.count("hello world"), enc.count("hello <|endoftext|>", allowed_special="all")
        (2, 3)
        """
        _check_text(text)
        allowed, reject = self._special_args(allowed_special, disallowed_special, text)
        return _call_with_text(self._core.count, text, allowed, reject)

    def count_ordinary(self, text: str) -> int:
        """``len(self.encode_ordinary(text))`` without making the ids.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").count_ordinary("hello <|endoftext|>")
        8
        """
        try:
            return self._core.count_ordinary(text)
        except (TypeError, UnicodeEncodeError):
            return _call_with_text(self._core.count_ordinary, _check_text(text))

    def count_batch(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """:meth:`count` of many texts in parallel (default: all cores), as a list of ints.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").count_batch(["hello world", "goodbye"])
        [2, 2]
        """
        text = _checks.texts(text, "text")
        allowed, reject = self._special_args(allowed_special, disallowed_special, None, text)
        return _call_with_texts(self._core.count_batch, text, allowed, reject, _checks.threads(num_threads))

    def encode_file(
        self, path: str | Path, *, num_threads: int | None = None, block_size: int | None = None
    ) -> npt.NDArray[np.uint32]:
        r"""The ids of a file's text (``"-"``: standard input) as a ``uint32`` array: the same
        as ``encode_ordinary`` of the whole text (invalid UTF-8 read as U+FFFD, special-token
        strings as ordinary text), in bounded memory. The file is read in blocks of about
        ``block_size`` bytes (default 4 MiB), each cut right after a newline between two visible
        ASCII characters (not before a ``/``), where no piece of the known pattern families can
        cross (the argument: docs/encoding.md); the blocks encode in parallel. A file for another
        pattern is read whole.

        >>> import os, tempfile, toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "a.txt")
        ...     _ = open(path, "w").write("hello world;\nhello again\n" * 9)
        ...     ids = enc.encode_file(path, block_size=4)
        >>> ids.tolist() == enc.encode_ordinary("hello world;\nhello again\n" * 9)
        True
        """
        name, size = self._file_args(path, block_size)
        return self._core.encode_file(name, size, _checks.threads(num_threads))

    def count_file(self, path: str | Path, *, num_threads: int | None = None, block_size: int | None = None) -> int:
        """``len(encode_file(path))`` without the ids: the token count of a file of any size
        (``"-"``: standard input), read and counted in parallel blocks."""
        name, size = self._file_args(path, block_size)
        return self._core.count_file(name, size, _checks.threads(num_threads))

    def _file_args(self, path: str | Path, block_size: int | None) -> tuple[str, int]:
        name = path if path == "-" else _checks.path(path, "path")
        size = self._core.file_blocks[1] if block_size is None else _checks.count(block_size, "block_size", 1)
        return str(name), size

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of one token given by its text or bytes; ``KeyError`` if it is not one token."""
        if isinstance(text_or_bytes, str):
            key = text_or_bytes.encode("utf-8", "surrogatepass")
        elif isinstance(text_or_bytes, (bytes, bytearray, memoryview)):
            key = bytes(text_or_bytes)
        else:
            raise ToksmithTypeError(f"expected the token as str or bytes, not {type(text_or_bytes).__name__}")
        token = self._core.token_id(key)
        if token is None:
            # tiktoken's KeyError holds the value; a long one is shortened to keep messages short
            raise ToksmithKeyError(text_or_bytes if len(key) <= 64 else shorten(text_or_bytes))
        return token

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, tokens: TokenIds) -> bytes:
        """The bytes of a token sequence; ``KeyError`` for an unknown id, ``TypeError`` for an
        id that is not an int.

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").decode_bytes([24912, -1])
        Traceback (most recent call last):
        ...
        toksmith.errors.ToksmithKeyError: 'token id -1 at position 1 is out of range (0..200018)'
        """
        ids = tokens if type(tokens) is list else _ids(tokens)
        try:
            return self._core.decode_bytes(ids)
        except (TypeError, OverflowError, KeyError) as e:
            raise _bad_id(ids, self.n_vocab, self._core.token_bytes) or e from None

    def decode(self, tokens: TokenIds, errors: str = "replace") -> str:
        r"""The text of a token sequence; invalid UTF-8 is handled by ``errors`` (``str.decode``).

        >>> import toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> enc.decode([24912, 2375])
        'hello world'
        >>> enc.encode("🦀")  # one character, three tokens
        [4103, 99, 222]
        >>> enc.decode([4103, 99]), enc.decode([4103, 99], errors="ignore")
        ('\ufffd', '')
        """
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decoder(self) -> StreamDecoder:
        r"""A streaming decoder: ``step(id)`` gives the text each id completes, never part of a
        character; the pieces (with ``flush()`` at the end) add up to ``decode(ids)``.

        >>> import toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> d = enc.decoder()
        >>> d.step(4103), d.step(99), d.step(222), d.flush()  # the three tokens of one crab
        ('', '', '🦀', '')
        """
        return StreamDecoder(self.decode_single_token_bytes)

    def decode_single_token_bytes(self, token: int) -> bytes:
        t = _checks.integer(token, "token")
        out = self._core.token_bytes(t) if 0 <= t < 2**32 else None
        if out is None:
            raise ToksmithKeyError(_unknown_id_message(t, None, self.n_vocab))
        return out

    def decode_tokens_bytes(self, tokens: TokenIds) -> list[bytes]:
        out = []
        for i, t in enumerate(_ids(tokens)):
            try:
                v = operator.index(t)
            except TypeError:
                raise ToksmithTypeError(
                    f"token ids must be int, not {type(t).__name__} ({shorten(t)} at position {i})"
                ) from None
            b = self._core.token_bytes(v) if 0 <= v < 2**32 else None
            if b is None:
                raise ToksmithKeyError(_unknown_id_message(v, i, self.n_vocab))
            out.append(b)
        return out

    def decode_with_offsets(self, tokens: TokenIds) -> tuple[str, list[int]]:
        r"""The text and, per token, the index of the first character holding its bytes.

        >>> import toksmith
        >>> enc = toksmith.get_encoding("o200k_base")
        >>> enc.decode_tokens_bytes(enc.encode("héllo"))
        [b'h\xc3\xa9', b'llo']
        >>> enc.decode_with_offsets(enc.encode("héllo"))
        ('héllo', [0, 2])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len, offsets = 0, list[int]()
        for token in token_bytes:
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_batch(
        self, batch: Sequence[TokenIds], *, errors: str = "replace", num_threads: int | None = None
    ) -> list[str]:
        return [b.decode("utf-8", errors=errors) for b in self.decode_bytes_batch(batch, num_threads=num_threads)]

    def decode_bytes_batch(self, batch: Sequence[TokenIds], *, num_threads: int | None = None) -> list[bytes]:
        sequences = _id_batch(batch)
        try:
            return self._core.decode_batch_bytes(sequences, _checks.threads(num_threads))
        except (TypeError, OverflowError, KeyError) as e:
            raise _bad_id_in_batch(sequences, self.n_vocab, self._core.token_bytes) or e from None

    # ------------------------------------------------------------------ properties

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every ordinary token, sorted."""
        return sorted(self._core.mergeable_ranks().keys())

    @property
    def eot_token(self) -> int:
        try:
            return self._special_tokens["<|endoftext|>"]
        except KeyError:
            raise ToksmithKeyError(f"{self.name} has no <|endoftext|> special token") from None

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        return set(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        return token in self._special_tokens.values()

    @property
    def n_vocab(self) -> int:
        return self.max_token_value + 1

    @property
    def pattern(self) -> str:
        return self._pat_str

    @property
    def mergeable_ranks(self) -> dict[bytes, int]:
        return self._core.mergeable_ranks()

    # ------------------------------------------------------------------ formats

    def to_tokenizer(self) -> Tokenizer:
        """The same vocabulary as a :class:`toksmith.Tokenizer` (``tokenizer.json`` semantics;
        the pattern is rewritten into Oniguruma's dialect with the same meaning).

        >>> import toksmith
        >>> enc = toksmith.get_encoding("cl100k_base")
        >>> enc.to_tokenizer().encode("hello world").ids == enc.encode("hello world")
        True
        """
        return Tokenizer.from_str(self._core.to_hf_str())

    def save(self, path: str) -> None:
        """Saves as ``tokenizer.json``."""
        _write_text(_checks.path(path, "path"), self._core.to_hf_str(pretty=True))

    def save_tiktoken(self, path: str) -> None:
        """Saves the ranks as a ``.tiktoken`` file (pattern and special tokens are not part of
        that format: keep them with :attr:`pattern` and ``special_tokens_set``)."""
        with _files.replacing(_checks.path(path, "path")) as tmp:
            self._core.save_tiktoken(tmp)

    def __getstate__(self) -> object:
        return {
            "name": self.name,
            "pat_str": self._pat_str,
            "mergeable_ranks": self.mergeable_ranks,
            "special_tokens": self._special_tokens,
        }

    def __setstate__(self, value: dict[str, Any]) -> None:
        Encoding.__init__(self, value["name"], pat_str=value["pat_str"], mergeable_ranks=value["mergeable_ranks"],
                          special_tokens=value["special_tokens"])


def _bad_vocabulary(ranks: object, specials: dict[str, int]) -> ToksmithError:
    """The error for ranks or special tokens the engine cannot take as ``bytes -> id`` and
    ``str -> id`` with ids in ``[0, 2**31)`` (looked for only once conversion failed)."""
    items = list(ranks.items()) if isinstance(ranks, dict) else []
    checks = (("mergeable_ranks", items, bytes), ("special_tokens", list(specials.items()), str))
    for argument, pairs, key_type in checks:
        for key, value in pairs:
            if not isinstance(key, key_type) or isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                return ToksmithTypeError(f"{argument} must map {key_type.__name__} to int; found "
                                         f"{shorten(key)}: {shorten(value)}")
            if not 0 <= value < 2**31:
                return InvalidInputError(f"{argument}: id {shorten(value)} of {shorten(key)} is outside [0, 2**31)")
    return ToksmithTypeError("mergeable_ranks must be a dict of bytes to int")


def _ids(tokens: object) -> list[int]:
    """Token ids as a list for the engine. Integer numpy arrays are converted exactly (any
    integer dtype); float arrays and strings are refused rather than truncated or split."""
    if isinstance(tokens, np.ndarray):
        if tokens.dtype.kind not in "iub" or tokens.ndim != 1:
            raise ToksmithTypeError(
                f"token ids must be a 1-D array of integers, not a {tokens.ndim}-D array of {tokens.dtype}"
            )
        ids: list[int] = tokens.tolist()
        return ids
    if isinstance(tokens, (str, bytes, bytearray)):
        raise ToksmithTypeError(f"token ids must be a sequence of int, not {type(tokens).__name__}")
    if type(tokens) is list:
        return cast(list[int], tokens)  # items are checked where the engine refuses them
    try:
        out: list[int] = list(tokens)  # type: ignore[call-overload]  # checked here
    except TypeError:
        raise ToksmithTypeError(f"token ids must be a sequence of int, not {type(tokens).__name__}") from None
    return out


def _id_batch(batch: object) -> list[list[int]]:
    if isinstance(batch, np.ndarray) and batch.ndim == 2:
        return [_ids(row) for row in batch]
    if isinstance(batch, (str, bytes, bytearray, np.ndarray)):
        raise ToksmithTypeError(f"a batch must be a sequence of token-id sequences, not {type(batch).__name__}")
    try:
        return [_ids(b) for b in batch]  # type: ignore[attr-defined]  # checked here
    except TypeError as e:
        if isinstance(e, ToksmithError):
            raise
        raise ToksmithTypeError(
            f"a batch must be a sequence of token-id sequences, not {type(batch).__name__}"
        ) from None


def _unknown_id_message(token: int, position: int | None, n_vocab: int) -> str:
    where = "" if position is None else f" at position {position}"
    if not 0 <= token < n_vocab:
        return f"token id {token}{where} is out of range (0..{n_vocab - 1})"
    return f"token id {token}{where} is not in the vocabulary (an unused id)"


def _bad_id(
    ids: Sequence[object], n_vocab: int, token_bytes: Callable[[int], bytes | None] | None
) -> ToksmithError | None:
    """The first id of ``ids`` that cannot be decoded, as a typed error naming it and its
    position; ``None`` if every id is fine. Called only after the engine refused the ids, so
    decoding valid ids pays nothing for it. ``token_bytes``: whether an id is known (``None``:
    the ``tokenizer.json`` rule, where ids of no token are skipped and only ids that are not
    32-bit are refused)."""
    limit = n_vocab if token_bytes is not None else 2**32
    for i, t in enumerate(ids):
        try:
            v = operator.index(t)  # type: ignore[arg-type]  # checked here
        except TypeError:
            return ToksmithTypeError(f"token ids must be int, not {type(t).__name__} ({shorten(t)} at position {i})")
        if not 0 <= v < limit or (token_bytes is not None and token_bytes(v) is None):
            return ToksmithKeyError(_unknown_id_message(v, i, n_vocab))
    return None


def _bad_id_in_batch(
    sequences: list[list[int]], n_vocab: int, token_bytes: Callable[[int], bytes | None] | None
) -> ToksmithError | None:
    for s, ids in enumerate(sequences):
        e = _bad_id(ids, n_vocab, token_bytes)
        if e is not None:
            return type(e)(f"sequence {s}: {e.args[0]}")
    return None


def _core_of(tokenizer: object, argument: str = "tokenizer") -> CoreTokenizer:
    """The engine tokenizer of a toksmith :class:`Encoding` or :class:`Tokenizer`; a tokenizer of
    another library is refused with a message that says how to convert it."""
    if isinstance(tokenizer, (Encoding, Tokenizer)):
        return tokenizer._core
    raise ToksmithTypeError(
        f"{argument} must be a toksmith Encoding or Tokenizer, not {type(tokenizer).__module__}."
        f"{type(tokenizer).__name__}{_checks.foreign_tokenizer_hint(tokenizer)}"
    )



class HFEncoding:
    """The result of :meth:`Tokenizer.encode`, like ``tokenizers.Encoding``.

    >>> import toksmith
    >>> e = toksmith.get_encoding("o200k_base").to_tokenizer().encode("hello world")
    >>> e
    HFEncoding(num_tokens=2, ids=[24912, 2375])
    >>> e.tokens, e.offsets
    (['hello', 'Ġworld'], [(0, 5), (5, 11)])
    """

    __slots__ = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask")

    def __init__(
        self,
        ids: list[int],
        tokens: list[str],
        offsets: list[tuple[int, int]],
        type_ids: list[int],
        special_tokens_mask: list[int],
    ) -> None:
        self.ids: list[int] = ids
        self.tokens: list[str] = tokens
        self.offsets: list[tuple[int, int]] = offsets
        self.type_ids: list[int] = type_ids
        self.special_tokens_mask: list[int] = special_tokens_mask

    @property
    def attention_mask(self) -> list[int]:
        return [1] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"HFEncoding(num_tokens={len(self.ids)}, ids={self.ids[:8]}{'...' if len(self.ids) > 8 else ''})"


class Tokenizer:
    """A ``tokenizer.json`` tokenizer (byte-level BPE, WordPiece, SentencePiece-style BPE,
    WordLevel or Unigram) with ``tokenizers``' semantics (Oniguruma regexes, normalizers, added
    tokens, post-processors, decoders) and ids identical to Hugging Face ``tokenizers``."""

    #: Set on tokenizers made by :func:`toksmith.train_superbpe`: ``{"stage1_merges": n,
    #: "unused_stage1_merges": [ranks...]}``; ``None`` otherwise.
    training_report: dict[str, Any] | None = None

    def __init__(self, core: CoreTokenizer) -> None:
        if not isinstance(core, CoreTokenizer):
            raise ToksmithTypeError(
                "use Tokenizer.from_file, Tokenizer.from_str or Tokenizer.from_encoding"
                + _checks.foreign_tokenizer_hint(core)
            )
        self._core = core

    @classmethod
    def from_str(cls, json: str) -> Tokenizer:
        return cls(CoreTokenizer.from_hf_str(_check_text(json, "json")))

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        """Loads a ``tokenizer.json`` file.

        >>> import os, tempfile, toksmith
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "tokenizer.json")
        ...     toksmith.get_encoding("cl100k_base").to_tokenizer().save(path)
        ...     tok = Tokenizer.from_file(path)
        >>> tok
        <toksmith.Tokenizer vocab_size=100261>
        >>> tok.decode(tok.encode("hello world").ids)
        'hello world'
        """
        name = _checks.path(path, "path")
        text = _read_text(name)
        try:
            return cls(CoreTokenizer.from_hf_str(text, Path(name).stem))
        except ValueError as e:
            # the engine's own class where it has one (FormatError, UnsupportedError, ...)
            kind = type(e) if isinstance(e, ToksmithError) else FormatError
            raise kind(f"{name}: {e}") from None

    @classmethod
    def from_pretrained(cls, identifier: str | Path, revision: str = "main") -> Tokenizer:
        """Loads ``tokenizer.json`` from a local model directory, or from the Hugging Face cache
        when ``identifier`` is a model id that ``huggingface_hub`` has already downloaded.
        Never downloads: fetch once with ``huggingface_hub.snapshot_download``.

        >>> import os, tempfile, toksmith
        >>> with tempfile.TemporaryDirectory() as model_dir:
        ...     toksmith.get_encoding("cl100k_base").to_tokenizer().save(os.path.join(model_dir, "tokenizer.json"))
        ...     Tokenizer.from_pretrained(model_dir).encode("hello world").ids
        [15339, 1917]
        """
        name = _checks.path(identifier, "identifier")
        if os.path.isdir(name):
            path = os.path.join(name, "tokenizer.json")
            if not os.path.isfile(path):
                raise ToksmithFileNotFoundError(f"{name}: no tokenizer.json in this directory")
            return cls.from_file(path)
        if os.path.exists(name):
            return cls.from_file(name)
        cached: object = None
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            pass
        else:
            cached = try_to_load_from_cache(name, "tokenizer.json", revision=revision)
        if isinstance(cached, str):
            return cls.from_file(cached)
        raise ToksmithFileNotFoundError(
            f"{shorten(name)}: not a local directory or file, nor a model in the Hugging Face cache "
            "(toksmith never downloads: fetch it with huggingface_hub.snapshot_download)"
        )

    @classmethod
    def from_encoding(cls, encoding: Encoding) -> Tokenizer:
        """The tokenizer.json equivalent of a tiktoken-style :class:`Encoding` (for a
        ``tiktoken.Encoding``: ``Tokenizer.from_encoding(Encoding.from_tiktoken(enc))``)."""
        if not isinstance(encoding, Encoding):
            raise ToksmithTypeError(
                f"encoding must be a toksmith Encoding, not {type(encoding).__name__}"
                + _checks.foreign_tokenizer_hint(encoding)
            )
        return encoding.to_tokenizer()

    def to_str(self, pretty: bool = False) -> str:
        return self._core.to_hf_str(pretty)

    def save(self, path: str | Path, pretty: bool = True) -> None:
        _write_text(_checks.path(path, "path"), self.to_str(pretty))

    def __getstate__(self) -> object:
        # Pickled as its tokenizer.json text (for multiprocessing's spawn start method).
        return {"json": self.to_str(), "training_report": self.training_report}

    def __setstate__(self, value: dict[str, Any]) -> None:
        self._core = CoreTokenizer.from_hf_str(value["json"])
        if value.get("training_report") is not None:
            self.training_report = value["training_report"]

    def save_tiktoken(self, path: str | Path) -> None:
        """Saves the ranks as a ``.tiktoken`` file, where the vocabulary allows it (see
        :meth:`to_encoding`); the pattern is :attr:`Encoding.pattern` of ``to_encoding()``."""
        with _files.replacing(_checks.path(path, "path")) as tmp:
            self._core.save_tiktoken(tmp)

    def to_encoding(self, name: str | None = None) -> Encoding:
        """The tiktoken-style :class:`Encoding` of this vocabulary, where the vocabulary allows it
        (one ``Split`` regex + plain ``ByteLevel``, ids in merge order); else ``ValueError``."""
        ranks, pattern, specials = self._core.to_tiktoken_parts()
        return Encoding(name or self._core.name or "converted", pat_str=pattern,
                        mergeable_ranks=dict(ranks), special_tokens=dict(specials))

    # ------------------------------------------------------------------ encoding

    def encode(self, sequence: str, pair: str | None = None, is_pretokenized: bool = False,
               add_special_tokens: bool = True) -> HFEncoding:
        if is_pretokenized:
            raise ToksmithNotImplementedError("is_pretokenized=True is not supported; pass the text")
        _check_text(sequence, "sequence")
        if pair is not None:
            _check_text(pair, "pair")
        return HFEncoding(*self._core.hf_encode(sequence, pair, add_special_tokens))

    def encode_batch(self, inputs: Sequence[str], add_special_tokens: bool = True,
                     num_threads: int | None = None) -> list[HFEncoding]:
        texts = _checks.texts(inputs, "inputs")
        encoded = self._core.hf_encode_batch(texts, add_special_tokens, _checks.threads(num_threads))
        return [HFEncoding(*e) for e in encoded]

    def decode(self, ids: TokenIds, skip_special_tokens: bool = True) -> str:
        """The text of ids; like ``tokenizers``, ids of no token are skipped, and an id that is
        not an int or is negative raises (``TypeError``, ``KeyError``)."""
        seq = _ids(ids)
        try:
            return self._core.hf_decode(seq, skip_special_tokens)
        except (TypeError, OverflowError, KeyError) as e:
            raise _bad_id(seq, self._core.n_vocab, None) or e from None

    def count(self, sequence: str, add_special_tokens: bool = True) -> int:
        """``len(self.encode(sequence, add_special_tokens=...).ids)`` without making the
        encoding (ids, token strings, offsets).

        >>> import toksmith
        >>> toksmith.get_encoding("o200k_base").to_tokenizer().count("hello world")
        2
        """
        return self._core.hf_count(_check_text(sequence, "sequence"), add_special_tokens)

    def count_batch(self, inputs: Sequence[str], add_special_tokens: bool = True,
                    num_threads: int | None = None) -> list[int]:
        """:meth:`count` of many texts in parallel (default: all cores), as a list of ints."""
        texts = _checks.texts(inputs, "inputs")
        return self._core.hf_count_batch(texts, add_special_tokens, _checks.threads(num_threads))

    def decoder(self, skip_special_tokens: bool = True) -> StreamDecoder:
        """A streaming decoder through this tokenizer's decoder (``ByteLevel``): ``step(id)``
        gives the text each id completes; the pieces (with ``flush()``) add up to
        :meth:`decode`. Like ``decode``, ids of no token add nothing.

        >>> import toksmith
        >>> tok = toksmith.get_encoding("o200k_base").to_tokenizer()
        >>> d = tok.decoder()
        >>> [d.step(t) for t in tok.encode("é!").ids] + [d.flush()]
        ['é', '!', '']
        """
        core, skip = self._core, bool(skip_special_tokens)

        def token_bytes(token: int) -> bytes:
            t = _checks.integer(token, "token")
            if not 0 <= t < 2**32:
                raise ToksmithKeyError(_unknown_id_message(t, None, core.n_vocab))
            return core.hf_decode_token_bytes(t, skip)

        token_bytes(0)  # refuses a decoder other than ByteLevel now, not at the first step
        return StreamDecoder(token_bytes)

    def decode_batch(self, sequences: Sequence[TokenIds], skip_special_tokens: bool = True,
                     num_threads: int | None = None) -> list[str]:
        batch = _id_batch(sequences)
        try:
            return self._core.hf_decode_batch(batch, skip_special_tokens, _checks.threads(num_threads))
        except (TypeError, OverflowError, KeyError) as e:
            raise _bad_id_in_batch(batch, self._core.n_vocab, None) or e from None

    # ------------------------------------------------------------------ vocabulary

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        return self._core.get_vocab(with_added_tokens)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return self._core.get_vocab_size(with_added_tokens)

    def token_to_id(self, token: str) -> int | None:
        return self._core.token_to_id(_check_text(token, "token"))

    def id_to_token(self, id: int) -> str | None:
        i = _checks.integer(id, "id")
        return self._core.id_to_token(i) if 0 <= i < 2**32 else None

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """The ordered merge list as pairs of token bytes."""
        return self._core.merges()

    def __repr__(self) -> str:
        return f"<toksmith.Tokenizer vocab_size={self.get_vocab_size()}>"
