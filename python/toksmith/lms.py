"""Token language models to plug into :class:`toksmith.ByteLM`.

* :class:`NGramLM`: a token n-gram model with Witten-Bell interpolation, in numpy (for tests,
  examples and demonstrations; no other dependency).
* :class:`HFCausalLM`: a Hugging Face ``transformers`` causal LM, reusing its KV cache between
  calls (optional dependency: ``torch`` and ``transformers`` are imported only when used).

Both are callables ``lm(prefixes: list[list[int]]) -> ndarray[len(prefixes), n_vocab]`` of
next-token log-probabilities, the protocol ``ByteLM`` expects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from toksmith.errors import InvalidInputError


class NGramLM:
    """A token n-gram LM: ``p(w | h) = (c(h, w) + T(h) p(w | shorter h)) / (c(h) + T(h))``
    (Witten-Bell; ``T(h)``: number of distinct tokens seen after ``h``), down to a uniform
    distribution, so every token keeps some probability.

    ``fit`` takes token sequences; each is counted after ``bos`` and followed by ``eos``.
    """

    def __init__(self, n_vocab: int, order: int = 3, *, bos: int, eos: int) -> None:
        if order < 1:
            raise InvalidInputError("order must be >= 1")
        for name, t in (("bos", bos), ("eos", eos)):
            if not 0 <= t < n_vocab:
                raise InvalidInputError(f"{name} id {t} is outside the vocabulary (size {n_vocab})")
        self.n_vocab, self.order, self.bos, self.eos = n_vocab, order, bos, eos
        # context tuple (length 0..order-1) -> {next token: count}
        self._counts: dict[tuple[int, ...], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._tables: dict[tuple[int, ...], tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]] = {}

    def fit(self, sequences: Iterable[Sequence[int]]) -> NGramLM:
        for seq in sequences:
            toks = [self.bos] + [int(t) for t in seq] + [self.eos]
            for i in range(1, len(toks)):
                for k in range(self.order):
                    if i - k < 0:
                        break
                    self._counts[tuple(toks[i - k:i])][toks[i]] += 1
        self._tables = {}
        for h, followers in self._counts.items():
            ids = np.fromiter(followers.keys(), dtype=np.int64, count=len(followers))
            cnt = np.fromiter(followers.values(), dtype=np.float64, count=len(followers))
            self._tables[h] = (ids, cnt, len(followers))
        return self

    def probs(self, prefix: Sequence[int]) -> npt.NDArray[np.float64]:
        """p(next token | prefix), an array of n_vocab."""
        p = np.full(self.n_vocab, 1.0 / self.n_vocab)
        prefix = [int(t) for t in prefix]
        for k in range(min(self.order - 1, len(prefix)) + 1):
            h = tuple(prefix[len(prefix) - k:]) if k else ()
            table = self._tables.get(h)
            if table is None:
                break
            ids, cnt, distinct = table
            total = cnt.sum()
            p = p * (distinct / (total + distinct))
            np.add.at(p, ids, cnt / (total + distinct))
        return p

    def __call__(self, prefixes: list[list[int]]) -> npt.NDArray[np.float64]:
        with np.errstate(divide="ignore"):
            out: npt.NDArray[np.float64] = np.log(np.stack([self.probs(p) for p in prefixes]))
        return out


class HFCausalLM:
    """A Hugging Face causal LM as a ``ByteLM`` token LM, with KV-cache reuse.

    Consecutive calls mostly extend the same token prefix by one token, so the cache of the
    last prefix is kept and cropped to the common prefix with the next one; only new tokens are
    run. ``n_vocab``: the tokenizer's id bound (model logits beyond it, padding, are dropped and
    the rest renormalised). Needs ``torch`` and ``transformers`` (not toksmith dependencies).
    """

    # torch and transformers are optional and untyped here: the model, its device, cache and
    # logits are Any.
    def __init__(self, model: Any, n_vocab: int, *, device: Any = None) -> None:
        import torch  # noqa: F401  (optional dependency, only needed here)

        self.model = model.eval()
        self.n_vocab = n_vocab
        self.device = device if device is not None else next(model.parameters()).device
        self._tokens: list[int] = []
        self._cache: Any = None
        self._last_logits: Any = None

    def _advance(self, prefix: list[int]) -> Any:
        import torch
        from transformers import DynamicCache

        common = 0
        for a, b in zip(self._tokens, prefix):
            if a != b:
                break
            common += 1
        if common == len(prefix) == len(self._tokens) and self._last_logits is not None:
            return self._last_logits
        # Keep the cache for the shared prefix, but always run at least one token to get logits.
        keep = min(common, len(prefix) - 1)
        if self._cache is None or keep == 0:
            self._cache, keep = DynamicCache(), 0
        else:
            self._cache.crop(keep)
        new = torch.tensor([prefix[keep:]], device=self.device)
        with torch.no_grad():
            out = self.model(input_ids=new, past_key_values=self._cache, use_cache=True)
        self._cache = out.past_key_values
        self._tokens = list(prefix)
        self._last_logits = out.logits[0, -1].float()
        return self._last_logits

    def __call__(self, prefixes: list[list[int]]) -> npt.NDArray[np.float64]:
        import torch

        rows = []
        for prefix in prefixes:
            if not prefix:
                raise InvalidInputError("HFCausalLM needs a non-empty prefix (give ByteLM context_tokens=[bos_id])")
            logits = self._advance([int(t) for t in prefix])
            if logits.shape[0] < self.n_vocab:
                raise InvalidInputError(f"the model has {logits.shape[0]} logits, the tokenizer {self.n_vocab} ids")
            rows.append(torch.log_softmax(logits[: self.n_vocab].double(), dim=-1).cpu().numpy())
        return np.stack(rows)
