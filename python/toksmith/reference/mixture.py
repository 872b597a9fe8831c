"""Reference data-mixture inference: replay a merge list on each category's piece counts by
recounting every pair at every step, and build the whole linear program (every pair, every
step) densely.

The rule the engine follows (``rust/core/src/mixture/``): before merge ``t`` each category
reports the merged pair's count, and lists the other pairs it counts more often, most frequent
first (ties: the larger ``(left, right)`` id pair first), at most ``top_k`` of them; ``bound`` is
the count of the first pair left out, or the merged pair's count when none is. The listed pairs
of all categories, each once in ``(left, right)`` order, are counted in every category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toksmith.reference.superbpe import merge_word

__all__ = ["Replay", "full_program", "merge_word", "pair_counts", "replay", "solve_full"]

Step = tuple[int, int, int]  # (left id, right id, merged id)


@dataclass
class Replay:
    merged: list[list[int]] = field(default_factory=list)  # [step][category]
    bound: list[list[int]] = field(default_factory=list)
    rows: list[tuple[int, tuple[int, int], list[int]]] = field(default_factory=list)  # (step, pair, counts)
    bytes: list[int] = field(default_factory=list)


def pair_counts(words: dict[bytes, list[int]], counts: dict[bytes, int]) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for piece, word in words.items():
        for pair in zip(word, word[1:]):
            out[pair] = out.get(pair, 0) + counts[piece]
    return out


def replay(counts: Sequence[dict[bytes, int]], byte_ids: Sequence[int], steps: Sequence[Step], top_k: int) -> Replay:
    """``counts[i]``: category ``i``'s pieces and their counts; ``byte_ids[b]``: the id of byte
    ``b``; ``steps``: the merges in order."""
    words = [{piece: [byte_ids[b] for b in piece] for piece in c} for c in counts]
    out = Replay(bytes=[sum(len(p) * n for p, n in c.items()) for c in counts])
    for t, (a, b, new) in enumerate(steps):
        tables = [pair_counts(w, c) for w, c in zip(words, counts)]
        merged_row: list[int] = []
        bound_row: list[int] = []
        listed: set[tuple[int, int]] = set()
        for table in tables:
            floor = table.get((a, b), 0)
            above = sorted(((n, p) for p, n in table.items() if n > floor and p != (a, b)), reverse=True)
            merged_row.append(floor)
            bound_row.append(above[top_k][0] if len(above) > top_k else floor)
            listed.update(p for _, p in above[:top_k])
        out.merged.append(merged_row)
        out.bound.append(bound_row)
        for pair in sorted(listed):
            out.rows.append((t, pair, [table.get(pair, 0) for table in tables]))
        for w in words:
            for piece in w:
                w[piece] = merge_word(w[piece], a, b, new)
    return out


def full_program(
    counts: Sequence[dict[bytes, int]], byte_ids: Sequence[int], steps: Sequence[Step]
) -> tuple[list[list[float]], list[int]]:
    """Every constraint of the program: for every step and every pair other than the merged
    one that occurs in some category, the row ``d`` with ``d @ alpha <= v[step]``, where
    ``d[i]`` is the pair's count minus the merged pair's, per byte of category ``i``'s sample.
    Returns the rows and each row's step."""
    words = [{piece: [byte_ids[b] for b in piece] for piece in c} for c in counts]
    sizes = [max(1, sum(len(p) * n for p, n in c.items())) for c in counts]
    rows: list[list[float]] = []
    row_steps: list[int] = []
    for t, (a, b, new) in enumerate(steps):
        tables = [pair_counts(w, c) for w, c in zip(words, counts)]
        pairs = sorted(set().union(*tables) - {(a, b)})
        for pair in pairs:
            rows.append([(tab.get(pair, 0) - tab.get((a, b), 0)) / size for tab, size in zip(tables, sizes)])
            row_steps.append(t)
        for w in words:
            for piece in w:
                w[piece] = merge_word(w[piece], a, b, new)
    return rows, row_steps


def solve_full(rows: list[list[float]], row_steps: list[int], n: int, steps: int) -> Any:
    """Minimises the total slack over all rows at once (scipy's HiGHS); returns scipy's result
    (``x[:n]`` the mixture, ``x[n:]`` the slacks)."""
    import numpy as np
    from scipy.optimize import linprog

    a_ub = np.zeros((len(rows), n + steps))
    for r, (row, t) in enumerate(zip(rows, row_steps)):
        a_ub[r, :n] = row
        a_ub[r, n + t] = -1.0
    cost = np.concatenate([np.zeros(n), np.ones(steps)])
    a_eq = np.concatenate([np.ones(n), np.zeros(steps)])[None, :]
    bounds = [(0.0, 1.0)] * n + [(0.0, None)] * steps
    return linprog(cost, A_ub=a_ub if len(rows) else None, b_ub=np.zeros(len(rows)) if len(rows) else None,
                   A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs")
