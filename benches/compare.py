"""The encoding peer table: the same as ``toksmith bench encode`` (see ``toksmith/bench/encode.py``).

    python benches/compare.py --corpora corpora --repeat 3
"""

import sys

from toksmith.bench.encode import main

if __name__ == "__main__":
    sys.exit(main())
