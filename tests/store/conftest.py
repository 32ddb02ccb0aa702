"""App-database fixtures: every store test runs on SQLite and on the real PostgreSQL server.

``db_url`` is an empty database (a temporary SQLite file, or a fresh PostgreSQL database from the shared
``postgres_url`` fixture); ``engine`` is that database migrated to head with Alembic (not ``create_all``),
so the repositories are tested against the schema users actually get.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cxloop.store import migrate
from cxloop.store.db import make_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty app database URL: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'app.db').as_posix()}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` after ``migrate.upgrade`` to head."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; the test commits what it wants to persist."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
