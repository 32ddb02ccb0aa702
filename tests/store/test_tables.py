"""The app database's tables: one package lists them all; each domain module stands on the shared base."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cxloop.store.tables as tables
from cxloop.store.tables import Base

TABLE_MODULES = sorted(
    info.name for info in pkgutil.iter_modules(tables.__path__) if not info.name.startswith("_")
)


def _cxloop_imports(path: Path) -> set[str]:
    """The ``cxloop`` modules a source file imports (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cxloop"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("cxloop"))
    return found


def test_every_mapped_class_is_a_table_module_class_listed_in_the_package():
    mapped = {mapper.class_ for mapper in Base.registry.mappers}
    assert {cls.__module__ for cls in mapped} == {f"cxloop.store.tables.{name}" for name in TABLE_MODULES}
    assert {cls.__name__ for cls in mapped} <= set(tables.__all__)
    assert all(getattr(tables, cls.__name__) is cls for cls in mapped)


@pytest.mark.parametrize("module", TABLE_MODULES)
def test_importing_any_one_table_module_registers_every_table(module):
    # A fresh interpreter: whichever module comes first, the package's list is what fills the metadata.
    code = (
        f"import cxloop.store.tables.{module}\n"
        "from cxloop.store.tables._base import Base\n"
        "from sqlalchemy.orm import configure_mappers\n"
        "configure_mappers()\n"
        "print(' '.join(sorted(Base.metadata.tables)))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(shown.split()) == set(Base.metadata.tables)


def test_table_modules_import_only_the_base_and_each_other():
    package = Path(tables.__file__).parent
    allowed = {"cxloop.store.tables._base"} | {f"cxloop.store.tables.{name}" for name in TABLE_MODULES}
    for name in TABLE_MODULES:
        assert _cxloop_imports(package / f"{name}.py") <= allowed, name
    assert _cxloop_imports(package / "_base.py") == set()
