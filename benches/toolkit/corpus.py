"""Benchmark documents: ~4 KB pieces of real text, cut at newlines.

The issues' peer tables "cut ~4 KB documents at newlines from the first 8 MB of a file";
:func:`documents` does exactly that. The files are the benchmark corpora described
in ``benches/README.md``. They are looked up in the directory named by the environment
variable ``TOKSMITH_CORPORA``, else in ``corpora/`` at the repository root.

Machines without those files can use :func:`builtin_corpora`: smaller samples made from the
running Python's own standard library sources and C headers. They are code, not English, and
there is no multilingual sample; the labels say so.
"""

from __future__ import annotations

import os
import sysconfig
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # corpora/ and benches/results/ live there

# label -> file name of the benchmark corpora (benches/README.md)
DEFAULT_FILES = {
    "English (en_pydoc)": "en_pydoc.txt",
    "C code (code_100m)": "code_100m.txt",
    "multilingual (multi_man)": "multi_man.txt",
}


def split_documents(data: bytes, doc_bytes: int = 4096) -> list[str]:
    """Cut UTF-8 ``data`` into documents of at least ``doc_bytes`` bytes, each ending at a newline.

    Cutting bytes at ``\\n`` can never split a multi-byte UTF-8 character.
    """
    end_of_last_line = data.rfind(b"\n") + 1
    data = data[:end_of_last_line] if end_of_last_line else data  # drop a partial last line
    docs, start = [], 0
    while start < len(data):
        nl = data.find(b"\n", start + doc_bytes - 1)  # first newline once the doc is long enough
        end = len(data) if nl < 0 else nl + 1
        # "replace" keeps odd stdlib files (a few test files are not UTF-8) from stopping the run
        docs.append(data[start:end].decode("utf-8", errors="replace"))
        start = end
    return docs


def documents(path: str | os.PathLike, doc_bytes: int = 4096, limit_bytes: int = 8_000_000) -> list[str]:
    """~``doc_bytes`` documents cut at newlines from the first ``limit_bytes`` of a UTF-8 file."""
    with open(path, "rb") as f:
        return split_documents(f.read(limit_bytes), doc_bytes)


def corpora_dir() -> Path:
    """``$TOKSMITH_CORPORA`` if set, else ``<repo>/corpora``."""
    return Path(os.environ.get("TOKSMITH_CORPORA") or REPO_ROOT / "corpora")


def default_corpora(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """{label: path} of the English, C and multilingual corpora that exist under ``root``."""
    root = Path(root) if root is not None else corpora_dir()
    paths = {label: root / name for label, name in DEFAULT_FILES.items()}
    return {label: p for label, p in paths.items() if p.is_file()}


def _concat(files: list[Path], out: Path, limit_bytes: int) -> None:
    with open(out, "wb") as w:
        size = 0
        for f in files:
            data = f.read_bytes()
            if not data.endswith(b"\n"):
                data += b"\n"
            w.write(data)
            size += len(data)
            if size >= limit_bytes:
                break


def builtin_corpora(limit_bytes: int = 8_000_000) -> dict[str, Path]:
    """{label: path} of samples available on any machine with a Python installation.

    * Python code: the standard library's ``.py`` sources (sorted by path, up to ``limit_bytes``);
    * C code: the CPython headers (about 1-2 MB, whatever is installed).

    The files are written once to a temporary directory and reused.
    """
    out_dir = Path(tempfile.gettempdir()) / "toksmith-bench-corpora"
    out_dir.mkdir(exist_ok=True)
    paths = sysconfig.get_paths()
    sources = {
        "Python code (stdlib .py)": ("stdlib_py.txt", Path(paths["stdlib"]), "*.py"),
        "C code (CPython headers)": ("cpython_h.txt", Path(paths["include"]), "*.h"),
    }
    result = {}
    for label, (name, root, glob) in sources.items():
        out = out_dir / name
        if not out.is_file():
            files = sorted(p for p in root.rglob(glob) if "site-packages" not in p.parts and p.is_file())
            if not files:
                continue  # e.g. no C headers installed
            tmp = out.with_suffix(".tmp")
            _concat(files, tmp, limit_bytes)
            tmp.replace(out)  # atomic, so a killed run leaves no half-written sample
        result[label] = out
    return result


def available_corpora(root: str | os.PathLike | None = None) -> tuple[dict[str, Path], bool]:
    """The default corpora if any exist, else the builtin samples; and whether it fell back."""
    found = default_corpora(root)
    return (found, False) if found else (builtin_corpora(), True)
