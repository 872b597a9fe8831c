"""Pure-Python twins of toksmith's algorithms: slow, small, obviously correct.

The Rust engine is tested equal to these on random inputs (see ``tests/``).
"""

from toksmith.reference import bytelevel, bytelm, dynamic, mixture, train
from toksmith.reference.encode import ReferenceEncoder, bpe_merge, bpe_merge_list, onig_to_pcre, pcre_to_onig

__all__ = [
    "bytelevel",
    "bytelm",
    "dynamic",
    "mixture",
    "train",
    "ReferenceEncoder",
    "bpe_merge",
    "bpe_merge_list",
    "onig_to_pcre",
    "pcre_to_onig",
]
