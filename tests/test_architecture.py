"""The architecture as a test: the layer order, the loop's order inside ``services``, no import cycles, and
``web`` talking to ``services`` only (docs/architecture.md).

Every import counts, at module level or inside a function: a lazy import hides a dependency from a reader
but not from this test. The checks are plain functions over a source tree, so the last tests plant a
back-import, a cycle and a web -> store import in a copy of a tiny tree and see each one caught.

The registries are explicit lists, each tested where it lives: the alert-rule kinds are complete whatever a
fresh process imports first (``tests/services/act/test_rule_kinds.py``), every table is in the app
database's one list (``tests/store/test_tables.py``), every derived warehouse table in the writer's
(``tests/warehouse/derived/test_registry.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cxloop"

#: What each top-level package may import from cxloop (besides itself, ``config`` and the package root).
LAYERS: dict[str, set[str]] = {
    "stats": set(),
    "warehouse": {"stats"},
    "store": {"stats"},
    "text": {"stats"},
    "services": {"stats", "warehouse", "store", "text"},
    "demo": {"stats", "warehouse", "store", "services", "text"},
    "cli": {"stats", "warehouse", "store", "services", "demo", "text", "web"},
    "web": {"services"},
}

#: The loop's domains inside ``services``, lowest first: a domain imports only itself and those before it.
#: ``services``' own modules (cache, jsonable, stores) sit below every domain. ``value`` comes before
#: ``understand`` because the dashboard's answers carry money (revenue at risk, value tiers); ``act`` after
#: ``understand`` because rules, targets and actions act on metrics and priorities; ``prove`` last because
#: a pilot's report reads everything before it.
DOMAINS = ("access", "listen", "value", "understand", "act", "prove")

#: The folders inside a layer and which of the others each may import. A layer's own modules (``services/
#: cache.py``, ``warehouse/sql.py``...) are open to all its folders and import none. In the warehouse, files
#: become Arrow in ``ingest/``, the tables kept from each batch live in ``derived/`` (they see the writer only
#: through ``derived.projection.TableWriter``), ``write/`` drives both, and ``queries/`` reads what they made.
FOLDERS: dict[str, dict[str, set[str]]] = {
    "services": {domain: set(DOMAINS[:rank]) for rank, domain in enumerate(DOMAINS)},
    "warehouse": {
        "ingest": set(),
        "derived": set(),
        "write": {"ingest", "derived"},
        "queries": {"ingest", "derived", "write"},
    },
}


def modules(root: Path) -> dict[str, Path]:
    """Every module under ``root`` (the ``cxloop`` package folder) by dotted name."""
    found = {}
    for path in root.rglob("*.py"):
        if "migrations" in path.relative_to(root).parts:
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """The cxloop modules ``name`` imports (anywhere in the file), with the line of each import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cxloop":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.split(".")[0] != "cxloop":
                continue
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                yield (candidate if candidate in known else module), node.lineno


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module: line} for every cxloop module under ``root``."""
    found = modules(root)
    known = set(found)
    graph: dict[str, dict[str, int]] = {}
    for name, path in found.items():
        edges: dict[str, int] = {}
        for target, line in imports_of(name, path, known):
            # an import of a package's module also runs the package's __init__: only the module counts here
            if target != name and target in known:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    wrong = []
    for module, edges in graph.items():
        layer = layer_of(module)
        for target, line in edges.items():
            used = layer_of(target)
            if used in {layer, "config", "", "__version__"} or layer not in LAYERS:
                continue
            if used not in LAYERS[layer]:
                wrong.append(f"{module}:{line} imports {target} ({layer} may import {sorted(LAYERS[layer])})")
    return sorted(wrong)


def folder_of(module: str) -> str | None:
    """The folder of a module inside its layer (``None`` for the layer's own modules and packages)."""
    parts = module.split(".")
    folders = FOLDERS.get(layer_of(module), {})
    return parts[2] if len(parts) > 2 and parts[2] in folders else None


def folder_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    wrong = []
    for module, edges in graph.items():
        layer, source = layer_of(module), folder_of(module)
        if layer not in FOLDERS:
            continue
        for target, line in edges.items():
            folder = folder_of(target)
            if layer_of(target) != layer or folder is None or folder == source:
                continue
            if source is None or folder not in FOLDERS[layer][source]:
                wrong.append(
                    f"{module}:{line} imports {target} ({layer}/{folder} is not below {source or 'the root'})"
                )
    return sorted(wrong)


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    return import_graph(SRC)


def test_every_package_has_a_place_in_the_layers() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS"


@pytest.mark.parametrize("layer", sorted(FOLDERS))
def test_every_folder_of_a_layer_has_its_place(layer: str) -> None:
    folders = {p.name for p in (SRC / layer).iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(FOLDERS[layer]), f"add {layer}/{sorted(folders - set(FOLDERS[layer]))} to FOLDERS"


def test_layers_import_only_what_they_may(graph: dict[str, dict[str, int]]) -> None:
    assert layer_violations(graph) == []


def test_web_imports_only_services(graph: dict[str, dict[str, int]]) -> None:
    used = {layer_of(t) for m, edges in graph.items() if layer_of(m) == "web" for t in edges}
    assert used <= {"web", "services", "config", ""}, sorted(used)


def test_folders_inside_a_layer_import_one_way(graph: dict[str, dict[str, int]]) -> None:
    """In services: access -> listen -> value -> understand -> act -> prove; in the warehouse: ingest and
    derived -> write -> queries."""
    assert folder_violations(graph) == []


def test_no_import_cycles(graph: dict[str, dict[str, int]]) -> None:
    assert cycles(graph) == []


def test_stats_does_no_io() -> None:
    banned = {"ibis", "duckdb", "sqlalchemy", "pyspark", "fastapi", "typer"}
    for path in (SRC / "stats").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert (module or "").split(".")[0] not in banned, f"{path} imports {module}"


# --- the checks catch what they are for ------------------------------------------------------------------

TINY = {
    "__init__.py": "",
    "config.py": "",
    "stats/__init__.py": "",
    "stats/nps.py": "",
    "store/__init__.py": "",
    "store/tables.py": "from cxloop.stats import nps\n",
    "services/__init__.py": "",
    "services/cache.py": "",
    "services/access/__init__.py": "",
    "services/access/scope.py": "from cxloop.services import cache\nfrom cxloop.store import tables\n",
    "services/act/__init__.py": "",
    "services/act/cases.py": "from cxloop.services.access.scope import x\n",
    "web/__init__.py": "",
    "web/app.py": "from cxloop.services.act import cases\n",
}


def _tree(tmp_path: Path, **extra: str) -> Path:
    root = tmp_path / "cxloop"
    for name, text in {**TINY, **{k.replace("__", "/") + ".py": v for k, v in extra.items()}}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    graph = import_graph(_tree(tmp_path))
    assert graph["cxloop.services.act.cases"] == {"cxloop.services.access.scope": 1}
    assert layer_violations(graph) == [] and folder_violations(graph) == [] and cycles(graph) == []


def test_a_planted_back_import_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, store__repo="def f():\n    from cxloop.services.access import scope\n")
    assert layer_violations(import_graph(root)) == [
        "cxloop.store.repo:2 imports cxloop.services.access.scope (store may import ['stats'])"
    ]


def test_a_planted_domain_back_import_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, services__access__users="from cxloop.services.act.cases import y\n")
    assert folder_violations(import_graph(root)) == [
        "cxloop.services.access.users:1 imports cxloop.services.act.cases (services/act is not below access)"
    ]


def test_a_root_module_importing_a_domain_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, services__jsonable="from cxloop.services.access import scope\n")
    assert folder_violations(import_graph(root)) == [
        "cxloop.services.jsonable:1 imports cxloop.services.access.scope "
        "(services/access is not below the root)"
    ]


def test_a_planted_cycle_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, services__cache="def f():\n    from cxloop.services.access.scope import x\n")
    assert cycles(import_graph(root)) == [["cxloop.services.access.scope", "cxloop.services.cache"]]


def test_a_planted_relative_cycle_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, stats__nps="from . import means\n", stats__means="from .nps import z\n")
    assert cycles(import_graph(root)) == [["cxloop.stats.means", "cxloop.stats.nps"]]


def test_a_planted_web_to_store_import_is_caught(tmp_path: Path) -> None:
    root = _tree(tmp_path, web__pages="from cxloop.store.tables import Unit\n")
    assert layer_violations(import_graph(root)) == [
        "cxloop.web.pages:1 imports cxloop.store.tables (web may import ['services'])"
    ]
