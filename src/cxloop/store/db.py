"""Engines and sessions for the app database, built from settings (never at import time)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cxloop.config import Settings


class NulInText(ValueError):
    """A value for the app database holds NUL (U+0000): PostgreSQL cannot store or compare such text (its
    driver fails the statement), so no backend is given one; a request carrying it is bad input."""


def _values(parameters: Any) -> Iterator[Any]:
    """Every value of a statement's parameters: one row or many, by position or by name, or one batch of
    rows flattened into a single row (SQLAlchemy's "insertmanyvalues")."""
    items = parameters.values() if isinstance(parameters, Mapping) else parameters
    for item in items or ():
        if isinstance(item, Mapping | list | tuple):
            yield from _values(item)
        else:
            yield item


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _executemany: bool
) -> None:
    if any(isinstance(value, str) and "\x00" in value for value in _values(parameters)):
        raise NulInText("a text holds a NUL character (U+0000), which the database cannot hold")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and a parent folder that exists. No statement
    takes a text holding NUL (:class:`NulInText`, checked before it reaches the database)."""
    engine = _engine(url)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _engine(url: str) -> Engine:
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
