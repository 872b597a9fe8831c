"""The Rust engine's layout: one folder per job, files a reader can hold, imports one way.

Read from the sources (no build needed): every ``crate::<job>`` path in a file of
``rust/core/src/<job>/`` is an edge from that job to another; the graph of jobs must have no
circle, and must follow the order in ``rust/core/src/lib.rs`` (a job uses only those below it).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "rust" / "core" / "src"
# Bottom to top, as lib.rs lists them: each job may use only the jobs before it.
ORDER = ["util", "pretokenize", "vocab", "model", "encode", "formats", "count", "report", "train", "mixture",
         "bytelm", "dynamic"]
MAX_LINES = 700


def code_lines(path: Path) -> int:
    """Lines before the file's ``#[cfg(test)]`` module (all of them without one; none for a
    ``tests.rs``, a test module of its own)."""
    if path.name == "tests.rs":
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            return i
    return len(lines)


def job_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {job: set() for job in ORDER}
    for job in ORDER:
        for path in (CORE / job).rglob("*.rs"):
            if path.name == "tests.rs":  # a test module of its own
                continue
            text = path.read_text(encoding="utf-8")
            # Test modules may reach anywhere (a bytelm test builds a Regex); code may not.
            text = text.split("#[cfg(test)]", 1)[0]
            text = re.sub(r"//.*", "", text)
            for used in re.findall(r"\bcrate::(\w+)", text):
                if used in edges and used != job:
                    edges[job].add(used)
    return edges


def test_every_job_is_a_folder_with_an_index():
    assert sorted(p.name for p in CORE.iterdir() if p.is_file()) == ["lib.rs"]
    assert sorted(p.name for p in CORE.iterdir() if p.is_dir()) == sorted(ORDER)
    for job in ORDER:
        index = (CORE / job / "mod.rs").read_text(encoding="utf-8")
        assert index.startswith("//!"), f"{job}/mod.rs should open with a module doc that says what lives where"


def test_no_file_is_over_the_limit():
    rust = sorted((ROOT / "rust").rglob("*.rs"))
    assert rust
    over = {str(p.relative_to(ROOT)): n for p in rust if (n := code_lines(p)) > MAX_LINES}
    assert not over, f"files over {MAX_LINES} lines (excluding tests): {over}"


def test_jobs_import_one_way():
    edges = job_edges()
    upward = {
        (job, used) for job, uses in edges.items() for used in uses if ORDER.index(used) > ORDER.index(job)
    }
    assert not upward, f"jobs that use a job above them in lib.rs's order: {sorted(upward)}"


def test_the_bindings_hold_no_algorithm():
    """The binding crate reaches the engine through its public jobs only, one file per job."""
    files = sorted(p.name for p in (ROOT / "rust" / "python" / "src").glob("*.rs"))
    assert "lib.rs" in files and len(files) > 3
    lib = (ROOT / "rust" / "python" / "src" / "lib.rs").read_text(encoding="utf-8")
    assert code_lines(ROOT / "rust" / "python" / "src" / "lib.rs") < 60, "lib.rs is the module index"
    assert "#[pymethods]" not in lib
