"""The warehouse's own layout: no import cycles, and its folders import one way.

``sql``, ``scores``, ``schemas`` and the other root modules are shared by all; ``ingest/`` (files to
Arrow) and ``derived/`` (the tables kept from each batch) import only them; ``write/`` imports
``derived/`` and ``ingest/`` (never the other way: a derived table sees the writer only through
``derived.projection.TableWriter``); ``queries/`` may import everything else, nothing imports
``queries/``. Every import counts, at module level, inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cxloop.warehouse

ROOT = Path(cxloop.warehouse.__file__).parent
PACKAGE = "cxloop.warehouse"
#: What each folder may import from the others (root modules are open to all).
ALLOWED: dict[str, set[str]] = {
    "ingest": set(),
    "derived": set(),
    "write": {"ingest", "derived"},
    "queries": {"ingest", "derived", "write"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((PACKAGE, *parts))] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of other warehouse modules (``from package import module`` names the module)."""
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    targets.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


def _folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 or (len(parts) == 3 and parts[2] in ALLOWED) else None


def test_no_import_cycles_in_the_warehouse() -> None:
    edges = _imports(_modules())
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_folders_import_one_way() -> None:
    wrong = []
    for module, targets in _imports(_modules()).items():
        source = _folder(module)
        for target in targets:
            folder = _folder(target)
            if folder is None or folder == source:
                continue
            if source is None or folder not in ALLOWED[source]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []
