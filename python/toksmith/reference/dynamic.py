"""Reference batch dynamic merging: recount every pair at every step (O(merges × N)).

Tokens are byte strings. Each step counts every adjacent pair of the batch (overlapping
occurrences count) whose two tokens share a word and are not special, takes the most frequent
(ties: earliest first occurrence, by sequence then position) and replaces it left to right,
non-overlapping, in every sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

#: A token while merging: (bytes, start, end, word id, special).
_Token = tuple[bytes, int, int, int, bool]


def merge_batch(
    sequences: Sequence[Sequence[bytes]],
    words: Sequence[Sequence[int]],
    special: Sequence[Sequence[bool]],
    max_merges: int | None = None,
    target_length: int | None = None,
) -> tuple[list[list[tuple[bytes, int, int]]], list[tuple[bytes, bytes, int]], list[int]]:
    """`sequences`: lists of token bytes; `words`, `special`: per-token word ids and flags.

    Returns (sequences of (bytes, start, end) over base positions, log of (left, right, count),
    total lengths before and after each merge)."""
    seqs: list[list[_Token]] = [
        [(tok, i, i + 1, w, s) for i, (tok, w, s) in enumerate(zip(seq, ws, sp))]
        for seq, ws, sp in zip(sequences, words, special)
    ]
    log: list[tuple[bytes, bytes, int]] = []
    lengths = [sum(map(len, seqs))]
    while (max_merges is None or len(log) < max_merges) and (target_length is None or lengths[-1] > target_length):
        counts: dict[tuple[bytes, bytes], int] = {}
        first: dict[tuple[bytes, bytes], tuple[int, int]] = {}
        for s, seq in enumerate(seqs):
            for i in range(len(seq) - 1):
                a, b = seq[i], seq[i + 1]
                if a[3] == b[3] and not a[4] and not b[4]:
                    pair = (a[0], b[0])
                    counts[pair] = counts.get(pair, 0) + 1
                    first.setdefault(pair, (s, i))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], first[p]))
        for s, seq in enumerate(seqs):
            out: list[_Token] = []
            i = 0
            while i < len(seq):
                if i + 1 < len(seq) and (seq[i][0], seq[i + 1][0]) == best and seq[i][3] == seq[i + 1][3] \
                        and not seq[i][4] and not seq[i + 1][4]:
                    a, b = seq[i], seq[i + 1]
                    out.append((a[0] + b[0], a[1], b[2], a[3], False))
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[s] = out
        log.append((best[0], best[1], counts[best]))
        lengths.append(sum(map(len, seqs)))
    return [[(t[0], t[1], t[2]) for t in seq] for seq in seqs], log, lengths
