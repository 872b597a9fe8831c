"""toksmith: exact, fast byte-level BPE tokenization.

* :func:`get_encoding` / :class:`Encoding`: tiktoken's API and ids (bundled ``cl100k_base``,
  ``o200k_base``; any ``.tiktoken`` file).
* :class:`Tokenizer`: Hugging Face ``tokenizers``' API and ids for ``tokenizer.json`` files
  (byte-level BPE, WordPiece, SentencePiece-style BPE, WordLevel, Unigram).
* :func:`train_bpe`, :func:`train_superbpe`, :func:`count_pieces` / :class:`PieceCounts`
  (count tables that add up across shards; ``client=`` counts on a Dask cluster).
* :func:`infer_mixture`: the share of each category (language, code) in a BPE tokenizer's
  training data, from its merge list (``toksmith[mixture]``: scipy).
* :func:`report` / :class:`Report`: tokenizer quality side by side (``toksmith report``).
* :mod:`toksmith.reference`: slow, obviously-correct pure-Python twins of the algorithms.
* :mod:`toksmith.errors`: every error is a :class:`ToksmithError` (and the builtin exception
  expected there: ``ValueError``, ``TypeError``, ``KeyError``, ``OSError``).

>>> import toksmith
>>> enc = toksmith.get_encoding("o200k_base")
>>> enc.encode("hello world")
[24912, 2375]
>>> enc.decode([24912, 2375])
'hello world'
>>> tok = toksmith.Tokenizer.from_encoding(enc)  # the same vocabulary, tokenizer.json semantics
>>> tok.encode("hello world").tokens
['hello', 'Ġworld']
"""

from toksmith import patterns
from toksmith._toksmith import __version__
from toksmith.bytelm import ByteEnsemble, ByteLM
from toksmith.counts import PieceCounts
from toksmith.dynamic import DynamicBatch, merge_batch
from toksmith.encoding import Encoding, HFEncoding, Tokenizer
from toksmith.errors import (
    FormatError,
    InternalError,
    InvalidInputError,
    MissingDependencyError,
    ToksmithError,
    ToksmithFileNotFoundError,
    ToksmithKeyError,
    ToksmithOSError,
    ToksmithTypeError,
    UnsupportedError,
)
from toksmith.mixture import MixtureResult, infer_mixture
from toksmith.registry import get_encoding, list_encoding_names
from toksmith.report import Report, report
from toksmith.train import count_pieces, count_superbpe_pieces, train_bpe, train_superbpe

__all__ = [
    "ByteEnsemble", "ByteLM", "DynamicBatch", "merge_batch", "Encoding", "HFEncoding", "Tokenizer", "get_encoding",
    "list_encoding_names", "patterns", "PieceCounts", "count_pieces", "count_superbpe_pieces", "train_bpe",
    "train_superbpe", "__version__", "ToksmithError", "InvalidInputError", "FormatError", "UnsupportedError",
    "ToksmithTypeError", "ToksmithKeyError", "ToksmithOSError", "ToksmithFileNotFoundError", "InternalError",
    "report", "Report", "infer_mixture", "MixtureResult", "MissingDependencyError",
]
