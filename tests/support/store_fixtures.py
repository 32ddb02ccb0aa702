"""``stores_for``: the stores a test hands to a service, one unit of work per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from cxloop.config import Settings
from cxloop.services.stores import Stores, connect_warehouse, engine_for, session_scope

StoresFor = Callable[..., Stores]


@pytest.fixture
def stores_for() -> Iterator[StoresFor]:
    """``stores_for(settings)`` gives the :class:`Stores` of ``settings`` for one service call;
    ``stores_for(settings, warehouse=con)`` pairs the session with a warehouse connection the test holds.

    Each call opens a fresh session and commits the previous call's first, so a test that changes the app
    database in between (or reads it through a session of its own) sees what the call before wrote, as a
    command or a request would. Engines and warehouse connections are opened once per database and
    closed when the test ends.
    """
    engines: dict[str, Engine] = {}
    warehouses: dict[str, BaseBackend] = {}
    with ExitStack() as stack:
        current = ExitStack()

        def open_for(settings: Settings, *, warehouse: BaseBackend | None = None) -> Stores:
            nonlocal current
            current.close()
            url = settings.resolved_database_url
            if url not in engines:
                engines[url] = engine_for(settings)
                stack.callback(engines[url].dispose)
            if warehouse is None:
                where = settings.resolved_warehouse_url
                if where not in warehouses:
                    warehouses[where] = connect_warehouse(settings, create_tables=True)
                    stack.callback(warehouses[where].disconnect)
                warehouse = warehouses[where]
            current = ExitStack()
            session = current.enter_context(session_scope(engines[url]))
            return Stores(settings=settings, session=session, warehouse=warehouse)

        try:
            yield open_for
        finally:
            current.close()  # the last call's session, before its engine is disposed
