"""Imports run one way: web/cli -> services -> warehouse, store -> stats (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cxloop"

# What each layer may import from cxloop (besides itself, config and the package root).
ALLOWED = {
    "stats": set(),
    "warehouse": {"stats"},
    "store": {"stats"},
    "text": {"stats"},
    "services": {"stats", "warehouse", "store", "text"},
    "demo": {"stats", "warehouse", "store", "services", "text"},
    "cli": {"stats", "warehouse", "store", "services", "demo", "text", "web"},
    "web": {"stats", "services", "store", "warehouse", "text"},
}


def _cxloop_imports(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cxloop" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def test_every_package_has_a_place_in_the_layers() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to ALLOWED"


@pytest.mark.parametrize("layer", sorted(layer for layer in ALLOWED if (SRC / layer).is_dir()))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    folder = SRC / layer
    offending = {}
    for path in folder.rglob("*.py"):
        used = _cxloop_imports(path) - {layer, "config", "__version__"}
        wrong = used - ALLOWED[layer]
        if wrong:
            offending[str(path.relative_to(SRC))] = sorted(wrong)
    assert not offending, f"cxloop.{layer} imports layers above it: {offending}"


def test_stats_does_no_io() -> None:
    banned = {"ibis", "duckdb", "sqlalchemy", "pyspark", "fastapi", "typer"}
    for path in (SRC / "stats").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert (module or "").split(".")[0] not in banned, f"{path} imports {module}"
