"""The encoding peer table (code in ``benches/toolkit/encode.py``).

    python benches/compare.py --corpora corpora --repeat 3
"""

import sys

from toolkit.encode import main

if __name__ == "__main__":
    sys.exit(main())
