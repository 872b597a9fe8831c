"""`Tokenizer`: a drop-in for Hugging Face ``tokenizers.Tokenizer`` on byte-level BPE files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toksmith._toksmith import CoreTokenizer
from toksmith.encoding import Encoding, _check_text


class HFEncoding:
    """The result of :meth:`Tokenizer.encode`, like ``tokenizers.Encoding``."""

    __slots__ = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask")

    def __init__(self, ids, tokens, offsets, type_ids, special_tokens_mask):
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
    """A byte-level BPE tokenizer with ``tokenizer.json`` semantics (Oniguruma regexes, added
    tokens, post-processors) and ids identical to Hugging Face ``tokenizers``."""

    def __init__(self, core: CoreTokenizer):
        if not isinstance(core, CoreTokenizer):
            raise TypeError("use Tokenizer.from_file, Tokenizer.from_str or Tokenizer.from_encoding")
        self._core = core

    @classmethod
    def from_str(cls, json: str) -> Tokenizer:
        return cls(CoreTokenizer.from_hf_str(_check_text(json, "json")))

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        text = Path(path).read_text(encoding="utf-8")
        try:
            return cls(CoreTokenizer.from_hf_str(text, Path(path).stem))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_encoding(cls, encoding: Encoding) -> Tokenizer:
        """The tokenizer.json equivalent of a tiktoken-style :class:`Encoding`."""
        return encoding.to_tokenizer()

    def to_str(self, pretty: bool = False) -> str:
        return self._core.to_hf_str(pretty)

    def save(self, path: str | Path, pretty: bool = True) -> None:
        Path(path).write_text(self.to_str(pretty), encoding="utf-8")

    def save_tiktoken(self, path: str | Path) -> None:
        """Saves the ranks as a ``.tiktoken`` file, where the vocabulary allows it (see
        :meth:`to_encoding`); the pattern is :attr:`Encoding.pattern` of ``to_encoding()``."""
        self._core.save_tiktoken(str(path))

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
            raise NotImplementedError("is_pretokenized=True is not supported; pass the text")
        _check_text(sequence, "sequence")
        if pair is not None:
            _check_text(pair, "pair")
        return HFEncoding(*self._core.hf_encode(sequence, pair, add_special_tokens))

    def encode_batch(self, inputs: Sequence[str], add_special_tokens: bool = True,
                     num_threads: int | None = None) -> list[HFEncoding]:
        texts = [_check_text(t, "each input") for t in inputs]
        return [HFEncoding(*e) for e in self._core.hf_encode_batch(texts, add_special_tokens, num_threads)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._core.hf_decode(list(ids), skip_special_tokens)

    def decode_batch(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True,
                     num_threads: int | None = None) -> list[str]:
        return self._core.hf_decode_batch([list(s) for s in sequences], skip_special_tokens, num_threads)

    # ------------------------------------------------------------------ vocabulary

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        return self._core.get_vocab(with_added_tokens)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return self._core.get_vocab_size(with_added_tokens)

    def token_to_id(self, token: str) -> int | None:
        return self._core.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        return self._core.id_to_token(id) if 0 <= id < 2**32 else None

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """The ordered merge list as pairs of token bytes."""
        return self._core.merges()

    def __repr__(self) -> str:
        return f"<toksmith.Tokenizer vocab_size={self.get_vocab_size()}>"
