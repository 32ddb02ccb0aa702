"""Inside ``services`` the loop's domains import one way and no module imports itself back.

Root modules (``cache``, ``jsonable``, ``stores``) sit below every domain; then access -> listen -> value ->
understand -> act -> prove, each importing only itself and those before it (docs/architecture.md). Every
import counts: at module level, inside functions and under ``TYPE_CHECKING`` alike, and importing
``a.b.c`` also imports the packages ``a.b`` and ``a``, as Python does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
DOMAINS = ("access", "listen", "value", "understand", "act", "prove")
"""The loop's domains, lowest first; a module outside them (a root module) ranks below all."""


def _modules(src: Path) -> dict[str, Path]:
    found = {}
    for path in (src / "cxloop" / "services").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(path: Path, name: str, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in modules else base), node.lineno


def imports(src: Path) -> list[tuple[str, str, int]]:
    """Every import of a ``cxloop.services`` module by one, as (module, imported module, line)."""
    modules = _modules(src)
    return [
        (name, target, line)
        for name, path in sorted(modules.items())
        for target, line in _imported(path, name, modules)
        if target in modules and target != name
    ]


def import_graph(src: Path) -> dict[str, set[str]]:
    """Module -> the modules importing it runs: the imported ones and the packages above them."""
    graph: dict[str, set[str]] = {name: set() for name in _modules(src)}
    for name, target, _line in imports(src):
        parts = target.split(".")
        graph[name].update(".".join(parts[:end]) for end in range(3, len(parts) + 1))
    for name, targets in graph.items():
        targets &= graph.keys() - {name}
    return graph


def _rank(module: str) -> int:
    parts = module.split(".")
    return DOMAINS.index(parts[2]) + 1 if len(parts) > 2 and parts[2] in DOMAINS else 0


def back_imports(src: Path) -> list[str]:
    """Every import of a later domain (or of any domain by a root module), as ``module:line -> imported``."""
    return [
        f"{name}:{line} -> {target}" for name, target, line in imports(src) if _rank(target) > _rank(name)
    ]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_services_import_only_their_own_and_earlier_domains() -> None:
    assert back_imports(SRC) == []


def test_services_have_no_import_cycles() -> None:
    assert cycles(import_graph(SRC)) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"services/__init__.py": "", **files}.items():
        path = tmp_path / "cxloop" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(tmp_path / "cxloop").parents:
            (tmp_path / "cxloop" / folder / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "services/listen/realtime.py": "def f():\n    from cxloop.services.act.rules import engine\n",
                "services/act/rules/engine.py": "",
            },
            ["cxloop.services.listen.realtime:2 -> cxloop.services.act.rules.engine"],
        ),
        (
            {
                "services/cache.py": "from cxloop.services.access import scope\n",
                "services/access/scope.py": "",
            },
            ["cxloop.services.cache:1 -> cxloop.services.access.scope"],
        ),
        (
            {
                "services/listen/y.py": "from ..act import x\n",
                "services/act/x.py": "from ..listen import y\n",
            },
            ["cxloop.services.listen.y:1 -> cxloop.services.act.x"],
        ),
    ],
)
def test_a_planted_back_import_is_found(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    assert back_imports(_plant(tmp_path, files)) == expected


def test_a_planted_cycle_is_found_even_through_a_function_level_import(tmp_path: Path) -> None:
    src = _plant(
        tmp_path,
        {
            "services/act/cases.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from cxloop.services.act.rules.engine import Match\n",
            "services/act/rules/engine.py": "def run():\n    from cxloop.services.act import cases\n",
        },
    )
    assert cycles(import_graph(src)) == [["cxloop.services.act.cases", "cxloop.services.act.rules.engine"]]
