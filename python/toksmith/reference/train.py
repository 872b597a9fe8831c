"""Reference BPE training: count pieces, then recount every pair at every step.

The rule (Hugging Face ``BpeTrainer``'s): pair counts are window counts weighted by piece
counts; the most frequent pair wins; ties go to the smallest pair of ids, where ids order the
256 bytes by their byte-level character and then merged tokens by creation; a token string made
twice keeps its first id. (``tokenizers``, and the engine, also skip recounting the merged pair
itself; the two differ only when two different pairs make the same token string.)
"""

from __future__ import annotations

from collections.abc import Iterable

from toksmith.reference.bytelevel import byte_char


def count_pieces(units: Iterable[str], pattern: str) -> dict[bytes, int]:
    import regex

    compiled = regex.compile(pattern)
    counts: dict[bytes, int] = {}
    for unit in units:
        for piece in compiled.findall(unit):
            key = piece.encode("utf-8")
            counts[key] = counts.get(key, 0) + 1
    return counts


def train_bpe(
    counts: dict[bytes, int], vocab_size: int, n_special: int = 0, min_frequency: int = 1
) -> list[tuple[bytes, bytes]]:
    """Returns the merges, in order, as pairs of token bytes."""
    order = sorted(range(256), key=byte_char)
    tokens = [bytes([b]) for b in order]  # id -> bytes
    ids = {t: i for i, t in enumerate(tokens)}
    words = {piece: [ids[bytes([b])] for b in piece] for piece in counts}
    merges: list[tuple[bytes, bytes]] = []
    while len(tokens) + n_special < vocab_size:
        pair_counts: dict[tuple[int, int], int] = {}
        for piece, word in words.items():
            for pair in zip(word, word[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + counts[piece]
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        if pair_counts[best] < max(1, min_frequency):
            break
        a, b = best
        new = tokens[a] + tokens[b]
        if new not in ids:
            ids[new] = len(tokens)
            tokens.append(new)
        merges.append((tokens[a], tokens[b]))
        for piece, word in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(ids[new])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            words[piece] = out
    return merges
