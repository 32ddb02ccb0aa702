"""The org units a viewer looks at: one unit, its children, the path down to it, the units of a form.

These are the lookups pages and API routes make around a service call (a page's title and breadcrumbs, a
form's choices, a list of units), so that ``web`` reads the app database only through ``services``. Each
returns :class:`~cxloop.store.tables.Unit` rows, the result type templates and response models read.
Scope is checked where it matters: functions that take a viewer return only units in their subtree;
``get_unit`` and ``child_units`` are for a unit the caller has already checked with
:func:`~cxloop.services.access.scope.require_unit`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, visible_units
from cxloop.store import units as unit_store
from cxloop.store.tables import Unit

__all__ = [
    "Unit",
    "UnitChoice",
    "UnitSeen",
    "UnitsPage",
    "breadcrumbs",
    "child_ids",
    "child_units",
    "get_unit",
    "unit_choices",
    "unit_seen",
    "units_page",
    "visible_unit_rows",
]

#: A form lists at most this many units (a select of more is of no use to anyone).
MAX_CHOICES = 2000


def get_unit(session: Session, unit_id: str) -> Unit | None:
    """The unit with this id, or ``None`` (no scope check: check with ``require_unit`` first)."""
    return unit_store.get_unit(session, unit_id)


def child_ids(session: Session, unit_id: str) -> list[str]:
    """The ids of the unit's direct children, by id (empty for a leaf or an unknown unit)."""
    return unit_store.children_ids(session, unit_id)


def child_units(session: Session, unit_id: str) -> list[Unit]:
    """The unit's direct children, by id."""
    children = (unit_store.get_unit(session, u) for u in unit_store.children_ids(session, unit_id))
    return [unit for unit in children if unit is not None]


def breadcrumbs(session: Session, viewer: Viewer, unit_id: str) -> list[Unit]:
    """The path from the viewer's own unit down to ``unit_id``'s parent: nothing above the viewer is shown."""
    ancestors = unit_store.ancestor_ids(session, unit_id)
    first = ancestors.index(viewer.unit_id) if viewer.unit_id in ancestors else len(ancestors)
    return [unit for u in ancestors[first:] if (unit := unit_store.get_unit(session, u)) is not None]


def visible_unit_rows(session: Session, viewer: Viewer) -> list[Unit]:
    """Every unit the viewer can see, by id."""
    units = (unit_store.get_unit(session, u) for u in sorted(visible_units(session, viewer)))
    return [unit for unit in units if unit is not None]


@dataclass(frozen=True)
class UnitChoice:
    """A unit offered in a form: its id, name and depth (for indenting), in tree order."""

    unit_id: str
    name: str
    depth: int


def unit_choices(session: Session, viewer: Viewer) -> list[UnitChoice]:
    """The units the viewer can see, in tree order (a parent before its children), at most
    :data:`MAX_CHOICES`."""
    rows = session.execute(
        select(Unit.unit_id, Unit.name, Unit.depth)
        .where(Unit.unit_id.in_(sorted(visible_units(session, viewer))))
        .order_by(Unit.path)
    ).all()
    return [UnitChoice(u, n, d) for u, n, d in rows[:MAX_CHOICES]]


@dataclass(frozen=True)
class UnitSeen:
    """A unit as a viewer sees it. ``parent_id`` is ``None`` for the top of the viewer's subtree: of the units
    above it a viewer knows only the aggregates of the groups they belong to (their benchmarks, labelled by
    level), never another unit's id, name or own numbers."""

    unit_id: str
    parent_id: str | None
    name: str
    level: str
    depth: int


def _seen(unit: Unit, visible: frozenset[str]) -> UnitSeen:
    parent = unit.parent_id if unit.parent_id in visible else None
    return UnitSeen(unit.unit_id, parent, unit.name, unit.level, unit.depth)


def unit_seen(session: Session, viewer: Viewer, unit_id: str) -> UnitSeen | None:
    """The unit as ``viewer`` sees it, or ``None`` if it does not exist or is outside their subtree."""
    visible = visible_units(session, viewer)
    unit = unit_store.get_unit(session, unit_id) if unit_id in visible else None
    return None if unit is None else _seen(unit, visible)


@dataclass(frozen=True)
class UnitsPage:
    """One page of the units a viewer can see, and how many there are in all."""

    units: list[UnitSeen]
    total: int


def units_page(session: Session, viewer: Viewer, *, limit: int, offset: int) -> UnitsPage:
    """The viewer's unit and every unit below it, top down (by depth, then id), ``limit`` from ``offset``."""
    seen = visible_units(session, viewer)
    visible = sorted(seen)
    total = session.scalar(select(func.count()).select_from(Unit).where(Unit.unit_id.in_(visible))) or 0
    rows = session.scalars(
        select(Unit)
        .where(Unit.unit_id.in_(visible))
        .order_by(Unit.depth, Unit.unit_id)
        .limit(limit)
        .offset(offset)
    )
    return UnitsPage(units=[_seen(unit, seen) for unit in rows], total=total)
