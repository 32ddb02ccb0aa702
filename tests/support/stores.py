"""Stores for fixtures wider than one test (the demo companies) that already hold a warehouse connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ibis.backends import BaseBackend

from cxloop.config import Settings
from cxloop.services.stores import Stores, engine_for, session_scope


@contextmanager
def stores_with(settings: Settings, warehouse: BaseBackend) -> Iterator[Stores]:
    """A session of ``settings``' app database (committed at the end) with a warehouse connection the
    caller holds (and closes)."""
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            yield Stores(settings=settings, session=session, warehouse=warehouse)
    finally:
        engine.dispose()
