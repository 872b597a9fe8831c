"""Pre-tokenizer patterns of the known byte-level BPE families, in tiktoken's (PCRE) dialect."""

from __future__ import annotations

from typing import Any

#: A pre-tokenizer for training: a regex string (or family name), or a ``tokenizer.json``
#: pre-tokenizer as a dict.
PreTokenizerSpec = str | dict[str, Any]

R50K = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
GPT2 = R50K
CL100K = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
LLAMA3 = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN2 = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

BY_NAME = {"gpt2": GPT2, "r50k": R50K, "cl100k": CL100K, "o200k": O200K, "llama3": LLAMA3, "qwen2": QWEN2}


def resolve(pattern: str) -> str:
    r"""A known family name (``"o200k"``, ...) or a regex string.

    >>> resolve("o200k") == O200K, resolve(r"\w+")
    (True, '\\w+')
    """
    return BY_NAME.get(pattern, pattern)


# SuperBPE (Liu et al. 2025) pre-tokenizers, stage 1 and stage 2, per preset. A string is a
# `Split` regex in tiktoken syntax (its matches and the text between them are pieces); a dict is
# a `tokenizer.json` pre-tokenizer.

#: The o200k pattern without its contraction suffixes (the authors' recommended stage 1).
O200K_NO_CONTRACTIONS = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
#: Stage 2 of the 2025 recipe: digit groups, runs of 2+ punctuation and runs of spaces stay
#: apart; everything between them (words, single spaces and punctuation, newlines) may merge.
SUPERBPE_2025_STAGE2 = r"""\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)"""


def _paper_pre_tokenizer(split_regex: str) -> dict[str, Any]:
    """The paper's pipeline: digit runs apart, then a `Split` (Oniguruma syntax), then ByteLevel."""
    return {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"Regex": split_regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ],
    }


_THREE_DIGIT_GROUPS = r"(?=(\d{3})+(?!\d))"
SUPERBPE_PRESETS: dict[str, tuple[PreTokenizerSpec, PreTokenizerSpec]] = {
    "2025": (O200K_NO_CONTRACTIONS, SUPERBPE_2025_STAGE2),
    "paper": (
        _paper_pre_tokenizer(_THREE_DIGIT_GROUPS + r"| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"),
        _paper_pre_tokenizer(_THREE_DIGIT_GROUPS),
    ),
}
