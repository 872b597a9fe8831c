"""Data-mixture inference: the share of each category (language, code, domain) in a BPE
tokenizer's training data, estimated from its merge list (Hayase et al., 2024, "Data Mixture
Inference: What do BPE Tokenizers Reveal about their Training Data?").

BPE merges, at step ``t``, the pair that is most frequent in the training data after merges
``1..t-1``. Replaying the merge list on a sample of each category gives each pair's count per
category at each step (the engine does this, incrementally, in ``rust/core/src/mixture/``). With
counts normalised by sample bytes, a mixture ``alpha`` must satisfy, at every step and for every
other pair ``p``::

    sum_i alpha_i * (c_i(p) - c_i(merged)) <= v_t,    v_t >= 0,    sum_i alpha_i = 1

and the estimate is the ``alpha`` that minimises the total slack ``sum_t v_t``. Only pairs that
some category counts more often than the merged pair can bind; the engine lists up to ``top_k``
of them per category and step; the program starts from the most violated one per step and adds
violated rows until none is left (lazy constraint generation); then an exact pass of the engine
checks every pair against the optimum, and the rows it finds violated join in, until none is.
See ``docs/mixture.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from toksmith import _checks
from toksmith._toksmith import CoreMixture
from toksmith.errors import (
    InvalidInputError,
    MissingDependencyError,
    ToksmithFileNotFoundError,
    ToksmithTypeError,
    shorten,
)
from toksmith.report import TokenizerSpec, load_tokenizer

if TYPE_CHECKING:
    from toksmith._toksmith import _MixtureArrays

#: Merges replayed by default: enough for 5-10 categories to be told apart; later merges of a
#: tokenizer trained on ~15 MB made the estimates worse (docs/mixture.md).
DEFAULT_MERGES = 1000
#: Candidate pairs each category lists per step (the exact passes find any others that bind).
DEFAULT_TOP_K = 32

Sample = Union[str, "os.PathLike[str]"]
FloatArray = npt.NDArray[np.float64]


def _linprog() -> Any:  # scipy.optimize.linprog (scipy is optional: the mixture extra)
    try:
        from scipy.optimize import linprog
    except ImportError:
        raise MissingDependencyError(
            "infer_mixture solves a linear program with scipy, which is not installed: "
            "pip install 'toksmith[mixture]' (or pip install scipy)"
        ) from None
    return linprog


@dataclass
class Replay:
    """The engine's replay as arrays (``steps`` merges, ``n`` categories): ``merged[t, i]``
    the count of merge ``t``'s pair in category ``i`` before it; ``bound[t, i]`` a count no
    unlisted pair exceeds; rows of candidate pairs (``row_step``, ``row_pair``, ``row_counts``
    ``(rows, n)``); ``bytes[i]`` the sample size that counts are divided by."""

    merged: npt.NDArray[np.uint64]
    bound: npt.NDArray[np.uint64]
    row_step: npt.NDArray[np.uint32]
    row_pair: npt.NDArray[np.uint32]
    row_counts: npt.NDArray[np.uint64]
    bytes: list[int]

    @property
    def steps(self) -> int:
        return int(self.merged.shape[0])


@dataclass
class MixtureResult(Mapping[str, float]):
    """Category name -> estimated proportion (they sum to 1), with the solver's diagnostics.

    ``total_slack``: the minimised sum of slacks, in pair occurrences per sample byte (0 means a
    mixture explains every merge exactly); ``constraints``: rows in the final program;
    ``rounds``: solves until no row was violated; ``merges``: merges considered;
    ``uncertified_steps``: steps where a pair outside the program could still bind (0 means the
    answer is the exact optimum over all pairs); ``status``: the solver's message;
    ``sample_bytes``: bytes counted per category; ``pricing_passes``: exact checks of every
    pair made (replays after the first)."""

    proportions: dict[str, float]
    total_slack: float
    constraints: int
    rounds: int
    merges: int
    uncertified_steps: int
    status: str
    sample_bytes: dict[str, int] = field(default_factory=dict)
    pricing_passes: int = 0

    def __getitem__(self, name: str) -> float:
        return self.proportions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.proportions)

    def __len__(self) -> int:
        return len(self.proportions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "proportions": dict(self.proportions),
            "total_slack": self.total_slack,
            "constraints": self.constraints,
            "rounds": self.rounds,
            "merges": self.merges,
            "uncertified_steps": self.uncertified_steps,
            "status": self.status,
            "sample_bytes": dict(self.sample_bytes),
            "pricing_passes": self.pricing_passes,
        }


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and " " not in text and (os.sep in text or text.endswith(".txt"))


def _split_samples(name: str, samples: Sample | Sequence[Sample]) -> tuple[list[str], list[str]]:
    """A category's samples as ``(files, texts)``: ``Path`` objects and strings that name an
    existing file are files; other strings are text (one that looks like a path but names no
    file is an error, not text)."""
    items: Sequence[Sample] = [samples] if isinstance(samples, (str, os.PathLike)) else samples
    files: list[str] = []
    texts: list[str] = []
    for item in items:
        if isinstance(item, os.PathLike) or (isinstance(item, str) and os.path.isfile(item)):
            path = os.fspath(item)
            if not os.path.isfile(path):
                raise ToksmithFileNotFoundError(f"{path}: no such sample file (category {shorten(name)})")
            files.append(path)
        elif isinstance(item, str):
            if _looks_like_path(item):
                raise ToksmithFileNotFoundError(f"{shorten(item)}: no such sample file (category {shorten(name)})")
            texts.append(item)
        else:
            raise ToksmithTypeError(f"category {shorten(name)}: samples must be paths or texts, "
                                    f"not {type(item).__name__}")
    if not files and not texts:
        raise InvalidInputError(f"category {shorten(name)}: no samples")
    return files, texts


def _core(
    tokenizer: TokenizerSpec, categories: Mapping[str, Sample | Sequence[Sample]], merges: int,
    num_threads: int | None,
) -> CoreMixture:
    if not isinstance(categories, Mapping) or not categories:
        raise InvalidInputError("categories: give a dict {name: [paths or texts]} with at least one category")
    merges = _checks.count(merges, "merges", 1)
    _, tok = load_tokenizer(tokenizer)
    parts = [_split_samples(name, samples) for name, samples in categories.items()]
    return CoreMixture(tok._core, parts, merges, _checks.threads(num_threads))


def _arrays(out: _MixtureArrays) -> Replay:
    merged, bound, row_step, left, right, counts, sample_bytes, steps = out
    n = len(sample_bytes)
    return Replay(
        merged=merged.reshape(steps, n),
        bound=bound.reshape(steps, n) if len(bound) else np.zeros((0, n), dtype=np.uint64),
        row_step=row_step,
        row_pair=np.stack([left, right], axis=1) if len(left) else np.zeros((0, 2), dtype=np.uint32),
        row_counts=counts.reshape(len(row_step), n),
        bytes=list(sample_bytes),
    )


def replay(
    tokenizer: TokenizerSpec,
    categories: Mapping[str, Sample | Sequence[Sample]],
    *,
    merges: int = DEFAULT_MERGES,
    top_k: int = DEFAULT_TOP_K,
    num_threads: int | None = None,
) -> Replay:
    """Counts every category's samples with the tokenizer's pre-tokenizer and replays its first
    ``merges`` merges on them: each category's candidate rows (the engine's part of
    :func:`infer_mixture`)."""
    top_k = _checks.count(top_k, "top_k", 1, 2**31 - 1)
    return _arrays(_core(tokenizer, categories, merges, num_threads).replay(top_k, num_threads=num_threads))


@dataclass
class _Program:
    """The rows of the program in scaled units: ``diff[r] @ alpha <= v[step[r]]``."""

    diff: FloatArray  # (rows, n): per-byte count of the row's pair minus the merged pair's
    step: npt.NDArray[np.int64]
    per_byte: FloatArray  # (n,): 1 / sample bytes
    merged: FloatArray  # (steps, n): merged pair's count per byte
    scale: float

    def rows(self, r: Replay) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        step = r.row_step.astype(np.int64)
        diff = (r.row_counts.astype(np.float64) * self.per_byte - self.merged[step]) * self.scale
        return diff, step

    def add(self, r: Replay) -> None:
        diff, step = self.rows(r)
        self.diff = np.concatenate([self.diff, diff])
        self.step = np.concatenate([self.step, step])


def build_program(r: Replay) -> _Program:
    """Normalises counts by sample bytes and scales them so that the first merges count about
    1 (the solver's tolerances are absolute)."""
    per_byte = 1.0 / np.maximum(np.asarray(r.bytes, dtype=np.float64), 1.0)
    merged = r.merged.astype(np.float64) * per_byte
    top = float(merged.max()) if merged.size else 0.0
    scale = 1.0 / top if top > 0 else 1.0
    p = _Program(diff=np.zeros((0, len(r.bytes))), step=np.zeros(0, dtype=np.int64), per_byte=per_byte,
                 merged=merged, scale=scale)
    p.add(r)
    return p


#: ``price(weights, slack)``: the rows of pairs whose mixture count beats the merged pair's by
#: more than the step's slack (see ``CoreMixture.replay``).
Price = Callable[[FloatArray, FloatArray], Replay]


def solve(
    r: Replay,
    names: Sequence[str],
    *,
    price: Price | None = None,
    tolerance: float = 1e-6,
    max_rounds: int = 500,
    max_passes: int = 20,
) -> MixtureResult:
    """Minimises the total slack by lazy constraint generation: solve with the rows found
    violated so far, add each step's most violated row of the replay's candidates, repeat.
    A row counts as violated past ``tolerance`` in units of the largest merged-pair count (above
    HiGHS's own feasibility tolerance, 1e-7, so that rows it holds are never added again).
    With ``price``, each optimum over the candidates is then checked against every pair (an
    exact pass of the engine); rows it finds violated join the candidates, until none is."""
    from scipy import sparse

    linprog = _linprog()
    n, steps = len(names), r.steps
    p = build_program(r)
    # Variables: alpha (n), then one slack per step.
    cost = np.concatenate([np.zeros(n), np.ones(steps)])
    a_eq = np.concatenate([np.ones(n), np.zeros(steps)])[None, :]
    bounds = [(0.0, 1.0)] * n + [(0.0, None)] * steps
    alpha = np.full(n, 1.0 / n)
    slack = np.zeros(steps)
    active = np.zeros(len(p.step), dtype=bool)
    status, rounds, passes = "no rows: no merge is contested in these samples", 0, 0
    uncertified: int | None = None
    while True:
        while rounds < max_rounds:
            violation = p.diff @ alpha - slack[p.step]
            new = _most_violated_per_step(violation, p.step, active, tolerance)
            if not len(new):
                break
            active[new] = True
            rows = np.flatnonzero(active)
            k = len(rows)
            a_ub = sparse.hstack([
                sparse.csr_matrix(p.diff[rows]),
                sparse.csr_matrix((-np.ones(k), (np.arange(k), p.step[rows])), shape=(k, steps)),
            ]).tocsr()
            res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(k), A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                          method="highs")
            rounds += 1
            status = str(res.message)
            if res.status != 0:
                raise InvalidInputError(f"the linear program could not be solved: {status}")
            alpha = np.clip(res.x[:n], 0.0, None)
            alpha /= alpha.sum()
            slack = res.x[n:]
        if price is None or passes == max_passes or rounds == max_rounds or not steps:
            break
        # Check every pair at this optimum: rows violated by more than the tolerance.
        found = price(alpha * p.per_byte, (slack + tolerance) / p.scale)
        passes += 1
        diff, step = p.rows(found)
        violated = diff @ alpha - slack[step] > tolerance
        uncertified = len(np.unique(step[violated]))
        if not uncertified:
            break
        p.add(found)
        active = np.concatenate([active, np.zeros(len(step), dtype=bool)])
    if uncertified is None:
        # No exact pass: steps where an unlisted pair could still beat the merge by more than
        # its slack, by each category's bound (conservative: a pair rarely reaches every bound).
        floor = (r.bound.astype(np.float64) * p.per_byte - p.merged) * p.scale
        uncertified = int(np.count_nonzero(floor @ alpha - slack > tolerance)) if steps else 0
    return MixtureResult(
        proportions={name: float(a) for name, a in zip(names, alpha)},
        total_slack=float(slack.sum()) / p.scale,
        constraints=int(active.sum()),
        rounds=rounds,
        merges=steps,
        uncertified_steps=uncertified,
        status=status,
        sample_bytes={name: int(b) for name, b in zip(names, r.bytes)},
        pricing_passes=passes,
    )


def _most_violated_per_step(
    violation: FloatArray, step: npt.NDArray[np.int64], active: npt.NDArray[np.bool_], tolerance: float
) -> npt.NDArray[np.int64]:
    """Indices of each step's most violated inactive row (violation above ``tolerance``)."""
    candidates = np.flatnonzero((violation > tolerance) & ~active)
    if not len(candidates):
        return candidates.astype(np.int64)
    # Sort by step, then by violation descending: the first row of each step is its worst.
    order = np.lexsort((-violation[candidates], step[candidates]))
    ranked = candidates[order]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = step[ranked][1:] != step[ranked][:-1]
    return ranked[first].astype(np.int64)


def infer_mixture(
    tokenizer: TokenizerSpec,
    categories: Mapping[str, Sample | Sequence[Sample]],
    *,
    merges: int = DEFAULT_MERGES,
    top_k: int = DEFAULT_TOP_K,
    exact: bool = True,
    num_threads: int | None = None,
) -> MixtureResult:
    """Estimates the proportion of each category in the tokenizer's training data.

    ``tokenizer``: a bundled encoding name (``"cl100k_base"``), an :class:`Encoding`, a
    :class:`Tokenizer`, or a path to a ``tokenizer.json`` / ``.tiktoken`` file.
    ``categories``: ``{name: samples}``, where samples are file paths (``Path`` objects, or
    strings naming an existing file; read line by line) and/or texts. Samples should be
    disjoint from the tokenizer's training text and large enough for the first ``merges``
    merges to be counted reliably (a few MB per category). ``merges``: how many merges of the
    list to use (the first ones); ``top_k``: candidate pairs per category and step.

    Returns a :class:`MixtureResult` (``result["en"]`` is a proportion; diagnostics as
    attributes). Needs scipy (``pip install 'toksmith[mixture]'``).
    """
    _linprog()  # fail before the replay if scipy is missing
    top_k = _checks.count(top_k, "top_k", 1, 2**31 - 1)
    core = _core(tokenizer, categories, merges, num_threads)
    r = _arrays(core.replay(top_k, num_threads=num_threads))

    def price(weights: FloatArray, slack: FloatArray) -> Replay:
        return _arrays(core.replay(top_k, weights.tolist(), slack.tolist(), num_threads))

    return solve(r, list(categories), price=price if exact else None)


__all__ = ["MixtureResult", "Replay", "infer_mixture", "replay", "solve"]
