"""Benchmark and peer-comparison helpers for the scripts in ``benches/`` (not part of the
installed package). They need the ``bench`` extra (tiktoken, tokenizers, matplotlib and the
optional peers).

* :mod:`toolkit.corpus`: ~4 KB documents cut at newlines from the corpora, or builtin samples.
* :mod:`toolkit.encode`: the encode-throughput peer table (``python benches/compare.py``).
* :mod:`toolkit.peers`: ``tiktoken`` / ``tokenizers`` objects built offline from toksmith's
  bundled vocabularies (also used by ``tests/``).

Scripts run as ``python benches/NAME.py`` find this package because Python puts the script's
directory (``benches/``) first on ``sys.path``; ``tests/conftest.py`` adds ``benches/`` too.
"""
