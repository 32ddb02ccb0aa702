"""Money next to experience: the scope and warehouse plumbing shared by the value services.

The value services (:mod:`cxloop.services.clv`, :mod:`cxloop.services.kpis`,
:mod:`cxloop.services.value_segments`) all start the same way: turn the viewer into the set of units they
may see (the app database's hierarchy, :func:`cxloop.services.scope.visible_units`) before any warehouse
query runs, then filter customers by their home unit.
"""

from __future__ import annotations

from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.scope import Viewer, visible_units
from cxloop.store import units as unit_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.models import Role
from cxloop.warehouse.connection import connect
from cxloop.warehouse.tables import ensure_tables

__all__ = ["NoTransactionsError", "organisation_viewer", "scope_units", "warehouse_for"]


class NoTransactionsError(LookupError):
    """Nothing to model in the viewer's scope; the message says what to do next."""


def warehouse_for(settings: Settings) -> BaseBackend:
    """The warehouse connection of ``settings``, with any missing table created (empty)."""
    con = connect(settings)
    ensure_tables(con)
    return con


def scope_units(viewer: Viewer, *, settings: Settings, session: Session | None = None) -> frozenset[str]:
    """The units ``viewer`` may see (their unit's subtree), read from the app database.

    Raises :class:`~cxloop.services.scope.ScopeError` if the viewer's unit does not exist.
    """
    if session is not None:
        return visible_units(session, viewer)
    engine = engine_for(settings)
    try:
        with session_scope(engine) as own:
            return visible_units(own, viewer)
    finally:
        engine.dispose()


def organisation_viewer(settings: Settings, unit_id: str | None = None) -> Viewer:
    """The viewer the command line acts as: an admin at ``unit_id``, or at the top of the hierarchy.

    Raises
    ------
    NoTransactionsError
        If the app database has no units yet (the message says how to add them).
    ValueError
        If the hierarchy has several top units and ``unit_id`` does not pick one.
    """
    if unit_id is not None:
        return Viewer(unit_id=unit_id, role=Role.admin)
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            roots = sorted(u.unit_id for u in unit_store.all_units(session) if u.parent_id is None)
    finally:
        engine.dispose()
    if not roots:
        raise NoTransactionsError(
            "the org hierarchy is empty: import it (`cxloop import units FILE`) or run `cxloop demo generate`"
        )
    if len(roots) > 1:
        raise ValueError(f"the hierarchy has several top units ({', '.join(roots)}): pick one with --unit")
    return Viewer(unit_id=roots[0], role=Role.admin)
