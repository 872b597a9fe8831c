"""`Encoding`: a drop-in for `tiktoken.Encoding`, backed by the Rust engine."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from typing import AbstractSet, Literal

import numpy as np

from toksmith._toksmith import CoreTokenizer

def _check_text(text: object, argument: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{argument} must be str, not {type(text).__name__}")
    return text


def _without_surrogates(text: str) -> str:
    # tiktoken's rule: lone surrogates cannot be UTF-8, they become U+FFFD.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _call_with_text(fn, text: str, *args, **kwargs):
    try:
        return fn(text, *args, **kwargs)
    except UnicodeEncodeError:
        return fn(_without_surrogates(text), *args, **kwargs)


def _call_with_texts(fn, texts: Sequence[str], *args, **kwargs):
    texts = [_check_text(t, "each text") for t in texts]
    try:
        return fn(texts, *args, **kwargs)
    except UnicodeEncodeError:
        return fn([_without_surrogates(t) for t in texts], *args, **kwargs)


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
    ):
        self.name = name
        self._pat_str = pat_str
        self._special_tokens = dict(special_tokens)
        if _core is None:
            _core = CoreTokenizer.from_ranks(list(mergeable_ranks.items()), pat_str, self._special_tokens, name)
        self._core = _core
        self.max_token_value = max(_core.n_vocab - 1, 0)
        if explicit_n_vocab is not None:
            if _core.n_mergeable + len(self._special_tokens) != explicit_n_vocab:
                raise ValueError(f"{name}: expected {explicit_n_vocab} tokens, found "
                                 f"{_core.n_mergeable + len(self._special_tokens)}")
            if self.max_token_value != explicit_n_vocab - 1:
                raise ValueError(f"{name}: the largest token id is {self.max_token_value}, expected {explicit_n_vocab - 1}")

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

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ------------------------------------------------------------------ encoding

    def _special_args(self, allowed_special, disallowed_special, text: str | None, texts=None):
        """tiktoken's rules, returning the engine's (allowed, reject_others) arguments."""
        if allowed_special == "all":
            allowed_special = self.special_tokens_set
        if disallowed_special == "all":
            disallowed_special = self.special_tokens_set - set(allowed_special)
            reject_others = bool(disallowed_special)
        else:
            reject_others = False
            if disallowed_special:
                # Arbitrary strings may be disallowed; check them like tiktoken does.
                pattern = _special_token_regex(frozenset(disallowed_special))
                for t in [text] if texts is None else texts:
                    if isinstance(t, str) and (m := pattern.search(t)):
                        raise ValueError(CoreTokenizer.disallowed_message(m.group()))
        return list(allowed_special), reject_others

    def encode_ordinary(self, text: str) -> list[int]:
        """Encodes text, treating special-token strings as ordinary text."""
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
        ``disallowed_special=()`` to encode such text as ordinary text."""
        _check_text(text)
        allowed, reject = self._special_args(allowed_special, disallowed_special, text)
        return _call_with_text(self._core.encode, text, allowed, reject)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> np.ndarray:
        """Like :meth:`encode`, as a ``uint32`` numpy array."""
        _check_text(text)
        allowed, reject = self._special_args(allowed_special, disallowed_special, text)
        return _call_with_text(self._core.encode_to_numpy, text, allowed, reject)

    def encode_ordinary_batch(self, text: list[str], *, num_threads: int | None = None) -> list[list[int]]:
        """Encodes many texts in parallel on the engine's thread pool (default: all cores)."""
        return _call_with_texts(self._core.encode_ordinary_batch, text, num_threads)

    def encode_batch(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[list[int]]:
        """:meth:`encode` for many texts, in parallel."""
        allowed, reject = self._special_args(allowed_special, disallowed_special, None, text)
        return _call_with_texts(self._core.encode_batch, text, allowed, reject, num_threads)

    def encode_batch_to_numpy(
        self,
        text: list[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encodes many texts; returns flat ``uint32`` ids and ``int64`` offsets of length
        ``len(text) + 1``: text ``i`` is ``ids[offsets[i]:offsets[i + 1]]``."""
        allowed, reject = self._special_args(allowed_special, disallowed_special, None, text)
        return _call_with_texts(self._core.encode_batch_to_numpy, text, allowed, reject, num_threads)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of one token given by its text or bytes; ``KeyError`` if it is not one token."""
        key = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        token = self._core.token_id(key)
        if token is None:
            raise KeyError(text_or_bytes)
        return token

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """The bytes of a token sequence; ``KeyError`` for an unknown id."""
        return self._core.decode_bytes(_ids(tokens))

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """The text of a token sequence; invalid UTF-8 is handled by ``errors`` (``str.decode``)."""
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        out = self._core.token_bytes(int(token)) if 0 <= int(token) < 2**32 else None
        if out is None:
            raise KeyError(f"invalid token for decoding: {token}")
        return out

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        return [self.decode_single_token_bytes(t) for t in tokens]

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """The text and, per token, the index of the first character holding its bytes."""
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len, offsets = 0, []
        for token in token_bytes:
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_batch(self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int | None = None) -> list[str]:
        return [b.decode("utf-8", errors=errors) for b in self.decode_bytes_batch(batch, num_threads=num_threads)]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int | None = None) -> list[bytes]:
        return self._core.decode_batch_bytes([_ids(b) for b in batch], num_threads)

    # ------------------------------------------------------------------ properties

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every ordinary token, sorted."""
        return sorted(self._core.mergeable_ranks().keys())

    @property
    def eot_token(self) -> int:
        return self._special_tokens["<|endoftext|>"]

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

    def to_tokenizer(self):
        """The same vocabulary as a :class:`toksmith.Tokenizer` (``tokenizer.json`` semantics;
        the pattern is rewritten into Oniguruma's dialect with the same meaning)."""
        from toksmith.tokenizer import Tokenizer

        return Tokenizer.from_str(self._core.to_hf_str())

    def save(self, path: str) -> None:
        """Saves as ``tokenizer.json``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self._core.to_hf_str(pretty=True))

    def save_tiktoken(self, path: str) -> None:
        """Saves the ranks as a ``.tiktoken`` file (pattern and special tokens are not part of
        that format: keep them with :attr:`pattern` and ``special_tokens_set``)."""
        self._core.save_tiktoken(str(path))

    def __getstate__(self) -> object:
        return {
            "name": self.name,
            "pat_str": self._pat_str,
            "mergeable_ranks": self.mergeable_ranks,
            "special_tokens": self._special_tokens,
        }

    def __setstate__(self, value: dict) -> None:
        self.__init__(value["name"], pat_str=value["pat_str"], mergeable_ranks=value["mergeable_ranks"],
                      special_tokens=value["special_tokens"])


def _ids(tokens: Sequence[int]) -> list[int]:
    if isinstance(tokens, np.ndarray):
        return tokens.astype(np.int64).tolist()
    return list(tokens)

