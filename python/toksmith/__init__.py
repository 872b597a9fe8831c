"""toksmith: exact, fast byte-level BPE tokenization.

* :func:`get_encoding` / :class:`Encoding`: tiktoken's API and ids (bundled ``cl100k_base``,
  ``o200k_base``; any ``.tiktoken`` file).
* :class:`Tokenizer`: Hugging Face ``tokenizers``' API and ids for byte-level BPE
  ``tokenizer.json`` files.
* :mod:`toksmith.reference`: slow, obviously-correct pure-Python twins of the algorithms.
"""

from toksmith import patterns
from toksmith._toksmith import __version__
from toksmith.bytelm import ByteEnsemble, ByteLM
from toksmith.dynamic import DynamicBatch, merge_batch
from toksmith.encoding import Encoding
from toksmith.registry import get_encoding, list_encoding_names
from toksmith.tokenizer import HFEncoding, Tokenizer
from toksmith.train import train_bpe, train_superbpe

__all__ = ["ByteEnsemble", "ByteLM", "DynamicBatch", "merge_batch", "Encoding", "HFEncoding", "Tokenizer", "get_encoding", "list_encoding_names", "patterns", "train_bpe", "train_superbpe", "__version__"]
