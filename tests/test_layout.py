"""The package's layout: no import circles between toksmith's modules, no benchmark tooling.

The import graph is read from the sources with ``ast`` (every ``import`` statement, also those
inside functions and ``if TYPE_CHECKING:`` blocks), so a circle hidden in a function-level
import counts too. An edge goes to the module imported: ``from toksmith import patterns`` is an
edge to ``toksmith.patterns``, ``from toksmith.encoding import Encoding`` one to
``toksmith.encoding``. Importing a submodule also runs its package's ``__init__`` first; that
implicit step is not an edge (Python orders it without a circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "toksmith"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``toksmith.*`` modules that ``path`` imports anywhere in its body."""
    name = module_name(path)
    # The package a relative import starts from: the module's own package.
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "toksmith":
                    out.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "toksmith":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in modules else source)
    unknown = {m for m in out if m not in modules and not m.startswith("toksmith._toksmith")}
    assert not unknown, f"{name} imports modules that do not exist: {sorted(unknown)}"
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"toksmith", "toksmith.encoding", "toksmith.train", "toksmith.reference.superbpe"} <= set(graph)
    assert "toksmith.encoding" in graph["toksmith.registry"]
    assert "toksmith.reference.encode" in graph["toksmith.reference.superbpe"]
    assert "toksmith" in graph["toksmith.cli"]  # function-level `import toksmith`


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_benchmark_tooling_in_the_package():
    # benches/toolkit holds the peer table and corpus helpers; the wheel has none of them, and
    # no module of the package needs a benchmark-only dependency.
    assert not (PACKAGE / "bench").exists() and not (PACKAGE / "peers.py").exists()
    bench_only = {"tiktoken", "tokenizers", "matplotlib", "pytest", "pytest_benchmark"}
    # except toksmith.report's plots: matplotlib is its optional extra (`report`), imported
    # inside the function that draws, and the page is made without it
    optional = {"toksmith.report": {"matplotlib"}}
    for name, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            roots = set()
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots = {node.module.split(".")[0]}
            roots -= optional.get(name, set())
            assert not roots & bench_only, f"{name} imports {sorted(roots & bench_only)}"
