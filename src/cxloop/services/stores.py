"""The two stores a service works on, opened once by its caller and passed in.

A service never opens a store of its own: the web app opens them per request (a session from the app's
engine, a warehouse connection from its pool), a CLI command once per command
(:func:`open_stores`), a notebook or script the same way. Whoever opens them closes them, and a service
that is handed a :class:`Stores` can be called inside a transaction its caller controls.

This module is also the one door from the layers above ``services`` (``web``, ``cli``) to the store
plumbing: engines, sessions and warehouse connections are built here from settings, so ``web`` never
imports ``store`` or ``warehouse``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.store.db import engine_for, session_factory, session_scope
from cxloop.warehouse.connection import connect
from cxloop.warehouse.tables import ensure_tables

__all__ = [
    "Stores",
    "connect_warehouse",
    "engine_for",
    "open_stores",
    "session_factory",
    "session_scope",
]


@dataclass(frozen=True)
class Stores:
    """The settings, an app-database session and a warehouse connection, for one unit of work.

    Parameters
    ----------
    settings : Settings
        The settings the stores were opened with (thresholds, data folder).
    session : sqlalchemy.orm.Session
        An app-database session; its caller commits or rolls back.
    warehouse : ibis.backends.BaseBackend
        A warehouse connection; its caller closes it.
    """

    settings: Settings
    session: Session
    warehouse: BaseBackend


def connect_warehouse(settings: Settings, *, create_tables: bool = False) -> BaseBackend:
    """A warehouse connection for ``settings`` (with any missing table created, if asked)."""
    con = connect(settings)
    if create_tables:
        ensure_tables(con)
    return con


@contextmanager
def open_stores(settings: Settings, *, create_tables: bool = True) -> Iterator[Stores]:
    """Open both stores for one unit of work (a command, a script): the session commits on success and rolls
    back on any error; both are closed afterwards.

    Examples
    --------
    >>> from cxloop.config import Settings
    >>> from cxloop.services.stores import open_stores
    >>> with open_stores(Settings()) as stores:  # doctest: +SKIP
    ...     result = metrics(viewer, query, stores=stores)
    """
    engine = engine_for(settings)
    warehouse = connect_warehouse(settings, create_tables=create_tables)
    try:
        with session_scope(engine) as session:
            yield Stores(settings=settings, session=session, warehouse=warehouse)
    finally:
        warehouse.disconnect()
        engine.dispose()
