"""Fixtures of the closed-loop tests: the tiny bank of ``cases_world`` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cxloop.config import Settings
from cxloop.warehouse.connection import connect
from support.cases_world import World, build_world


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The tiny bank with its app database on SQLite, or on the PostgreSQL server."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, environment="test", secret_key="t-" + "s" * 40
    )
    built = build_world(settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def warehouse(world: World):
    con = connect(world.settings)
    yield con
    con.disconnect()


@pytest.fixture
def web_world(tmp_path: Path) -> Iterator[World]:
    """The tiny bank on SQLite only (the web tests exercise routes; the store runs on both in the others)."""
    settings = Settings(data_dir=tmp_path / "data", environment="test", secret_key="t-" + "s" * 40)
    built = build_world(settings)
    yield built
    built.engine.dispose()
