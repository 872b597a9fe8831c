"""`Tokenizer`: a drop-in for Hugging Face ``tokenizers.Tokenizer`` on ``tokenizer.json`` files.

Defined in :mod:`toksmith.encoding` next to :class:`~toksmith.Encoding` (each converts to the
other); this module keeps the ``toksmith.tokenizer`` import path.
"""

from toksmith.encoding import HFEncoding, Tokenizer

__all__ = ["HFEncoding", "Tokenizer"]
