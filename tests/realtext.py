"""Small samples of real text that exist on every machine of this kind (or ship in tests/data)."""

from __future__ import annotations

import functools
import sysconfig
from pathlib import Path

DATA = Path(__file__).parent / "data"


@functools.cache
def samples(limit: int = 300_000) -> dict[str, str]:
    """{label: text}: English prose (pydoc topics), Python code (stdlib), C code (CPython headers),
    multilingual prose (man-page excerpts shipped in tests/data)."""
    import pydoc_data.topics as topics

    english = "\n\n".join(topics.topics.values())[:limit]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    python = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("[a-j]*.py")))[:limit]
    include = Path(sysconfig.get_paths()["include"])
    c_code = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(include.rglob("*.h")))[:limit]
    multilingual = (DATA / "multilingual.txt").read_text(encoding="utf-8")[:limit]
    out = {"english": english, "python": python, "c": c_code, "multilingual": multilingual}
    return {k: v for k, v in out.items() if v}


def documents(text: str, size: int = 2000) -> list[str]:
    """Cuts text into documents of about `size` characters at newlines."""
    docs, start = [], 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        docs.append(text[start:end])
        start = end
    return docs
