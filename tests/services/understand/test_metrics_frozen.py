"""Whole metrics results, frozen: every field of every cell, for queries that use every comparison.

``frozen_metrics.json`` holds ``MetricsResult.to_dict()`` of :data:`QUERIES` on the example company
(:mod:`warehouse_facts`, fixed seed) as computed by the metrics service *before* it was vectorised
(commit efdac38: pandas per-row work, per-unit suppression walk). Any later change to the service must
give the same results; a deliberate change to the numbers regenerates the file and says why in its
commit::

    .venv/bin/python tests/services/understand/test_metrics_frozen.py

Floats are compared to 1e-12 (relative), everything else exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.stores import Stores
from cxloop.services.understand.metrics import MetricsQuery, metrics
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store.db import make_engine
from cxloop.store.tables import Role
from cxloop.warehouse.connection import connect_url

FROZEN = Path(__file__).with_name("frozen_metrics.json")

ACME = Viewer("acme", Role.executive)
NORTH = Viewer("north", Role.manager)
N1 = Viewer("n1", Role.frontline)

#: (name, viewer, query): the dashboard's home call for each role, and every comparison, grain and
#: breakdown the service has, with suppressed cells among them.
QUERIES: list[tuple[str, Viewer, MetricsQuery]] = [
    ("home-executive", ACME, MetricsQuery(compare=("previous",), start=date(2025, 1, 1))),
    ("home-manager", NORTH, MetricsQuery(compare=("previous",), start=date(2025, 1, 1))),
    ("home-branch", N1, MetricsQuery(compare=("previous",), start=date(2025, 7, 1))),
    (
        "children-parent-siblings",
        ACME,
        MetricsQuery(include="children", grain="quarter", compare=("parent", "siblings")),
    ),
    (
        "manager-children-parent-siblings",
        NORTH,
        MetricsQuery(include="children", compare=("parent", "siblings"), start=date(2025, 7, 1)),
    ),
    (
        "every-comparison",
        ACME,
        MetricsQuery(
            unit="north",
            include="children",
            grain="quarter",
            start=date(2025, 1, 1),
            compare=("previous", "last_year", "parent", "company", "siblings", "target"),
            targets={"nps": 30.0, "csat": 80.0},
        ),
    ),
    (
        "subtree-by-touchpoint",
        ACME,
        MetricsQuery(
            include="subtree",
            grain="year",
            by=("touchpoint",),
            metrics=("nps",),
            compare=("previous", "siblings"),
        ),
    ),
    (
        "total-by-channel",
        NORTH,
        MetricsQuery(
            include="children", grain=None, by=("channel",), compare=("parent", "company", "siblings")
        ),
    ),
    (
        "filtered-weeks",
        ACME,
        MetricsQuery(
            unit="south",
            include="children",
            grain="week",
            start=date(2025, 3, 1),
            end=date(2025, 3, 31),
            touchpoints=frozenset({"onboarding", "call_centre"}),
            metrics=("nps", "ces"),
            compare=("previous", "parent"),
        ),
    ),
]


def compact(result: dict[str, Any]) -> dict[str, Any]:
    """``to_dict()`` with the cells as one list of fields and one row of values each (a third the size)."""
    cells = result["cells"]
    fields = list(cells[0]) if cells else []
    assert all(list(cell) == fields for cell in cells)
    return {**result, "cells": {"fields": fields, "rows": [list(cell.values()) for cell in cells]}}


def frozen_results(session: Session, settings: Settings, con: Any) -> dict[str, Any]:
    return {
        name: compact(
            metrics(viewer, query, stores=Stores(settings=settings, session=session, warehouse=con)).to_dict()
        )
        for name, viewer, query in QUERIES
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, Settings, Any]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("frozen"), environment="test", secret_key="test-" + "x" * 40
    )
    yield from _world(settings)


def _world(settings: Settings) -> Iterator[tuple[Session, Settings, Any]]:
    from support.warehouse_facts import COMPANY, example_responses, load_warehouse

    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    con = connect_url("duckdb://")
    load_warehouse(con, example_responses())
    with Session(engine, expire_on_commit=False) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(u, p, n, lvl) for u, p, n, lvl in COMPANY])
        session.commit()
        yield session, settings, con
    engine.dispose()


def _differences(expected: Any, actual: Any, where: str = "") -> Iterator[str]:
    if isinstance(expected, float) and isinstance(actual, float):
        if not math.isclose(expected, actual, rel_tol=1e-12, abs_tol=1e-12):
            yield f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict) and isinstance(actual, dict):
        if list(expected) != list(actual):
            yield f"{where}: fields {list(actual)} != {list(expected)}"
        for key in expected.keys() & actual.keys():
            yield from _differences(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{where}: {len(actual)} items != {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from _differences(e, a, f"{where}[{i}]")
    elif type(expected) is not type(actual) or expected != actual:
        yield f"{where}: {actual!r} != {expected!r}"


def test_frozen_file_covers_every_query():
    assert set(json.loads(FROZEN.read_text())) == {name for name, _, _ in QUERIES}


@pytest.mark.parametrize("name", [name for name, _, _ in QUERIES])
def test_results_equal_the_frozen_ones(world, name):
    session, settings, con = world
    viewer, query = next((v, q) for n, v, q in QUERIES if n == name)
    expected = json.loads(FROZEN.read_text())[name]
    result = metrics(
        viewer, query, stores=Stores(settings=settings, session=session, warehouse=con)
    ).to_dict()
    actual = json.loads(json.dumps(compact(result)))
    assert actual["cells"]["rows"], "a frozen query should report something"
    differences = list(_differences(expected, actual, name))
    assert not differences, "\n".join(differences[:20])


if __name__ == "__main__":  # regenerate the frozen file (see the module docstring)
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    with tempfile.TemporaryDirectory() as folder:
        for session, settings, con in _world(
            Settings(data_dir=folder, environment="test", secret_key="test-" + "x" * 40)
        ):
            frozen = frozen_results(session, settings, con)
            FROZEN.write_text(
                "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in frozen.items()) + "\n}\n"
            )
