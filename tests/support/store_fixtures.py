"""``stores_for``: the stores a test hands to a service, opened once per database and closed at its end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.stores import Stores, connect_warehouse, engine_for, session_scope

StoresFor = Callable[..., Stores]


@pytest.fixture
def stores_for() -> Iterator[StoresFor]:
    """``stores_for(settings)`` gives the :class:`Stores` of ``settings``;
    ``stores_for(settings, warehouse=con)`` pairs its session with a warehouse connection the test holds.

    Each database and warehouse is opened once per test and shared by every call (settings that differ
    only in thresholds share them, each keeping its own settings), as a command shares its stores; the
    session commits and everything closes when the test ends.
    """
    sessions: dict[str, Session] = {}
    warehouses: dict[str, BaseBackend] = {}
    with ExitStack() as stack:

        def open_for(settings: Settings, *, warehouse: BaseBackend | None = None) -> Stores:
            url = settings.resolved_database_url
            if url not in sessions:
                engine = engine_for(settings)
                stack.callback(engine.dispose)
                sessions[url] = stack.enter_context(session_scope(engine))
            if warehouse is None:
                where = settings.resolved_warehouse_url
                if where not in warehouses:
                    warehouses[where] = connect_warehouse(settings, create_tables=True)
                    stack.callback(warehouses[where].disconnect)
                warehouse = warehouses[where]
            return Stores(settings=settings, session=sessions[url], warehouse=warehouse)

        yield open_for
