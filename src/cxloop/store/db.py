"""Engines and sessions for the app database, built from settings (never at import time)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cxloop.config import Settings


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and a parent folder that exists."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def engine_for(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url)


_factories: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The engine's session factory, made once: a new ``sessionmaker`` is a new ``Session`` subclass whose
    event dispatch SQLAlchemy sets up again, too costly per request (``docs/web.md`` measures it)."""
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories.setdefault(engine, sessionmaker(engine, expire_on_commit=False))
    return factory


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session
