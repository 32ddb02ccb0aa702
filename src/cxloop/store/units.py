"""The org hierarchy: validated bulk upserts and materialised-path queries.

The natural key is ``unit_id``. Every unit stores ``depth`` (0 at the root) and ``path``, the unit ids from
the root down to itself between slashes (``/bank/retail/north/b01/``), so a subtree is a single
``path LIKE '/bank/retail/%'`` on any database and ancestors are read straight from the path.

:func:`upsert_units` is the one way in: it checks the whole resulting tree before it writes a row, so a
bad file never leaves the hierarchy half-updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from cxloop.store.tables import Unit, User, utcnow

__all__ = [
    "HierarchyError",
    "UnitRecord",
    "UpsertCounts",
    "all_units",
    "ancestor_ids",
    "children_ids",
    "existing_unit_ids",
    "get_unit",
    "set_owner",
    "subtree_ids",
    "upsert_units",
]

PATH_SEPARATOR = "/"


def _max_length(column: str) -> int:
    length = getattr(Unit.__table__.c[column].type, "length", None)
    assert isinstance(length, int), f"units.{column} needs a String(length)"
    return length


# PostgreSQL enforces these lengths and SQLite does not; checking here makes both refuse the same rows.
_MAX_ID = _max_length("unit_id")
_MAX_NAME = _max_length("name")
_MAX_LEVEL = _max_length("level")
_MAX_PATH = _max_length("path")


@dataclass(frozen=True)
class UnitRecord:
    """One unit as an import or a programme declares it."""

    unit_id: str
    parent_id: str | None
    name: str
    level: str


@dataclass(frozen=True)
class UpsertCounts:
    """What :func:`upsert_units` did with the records it was given.

    Descendants of a moved unit get a new ``path``/``depth`` too; they are not counted here unless they
    were among the records (their own fields did not change).
    """

    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


class HierarchyError(ValueError):
    """The records would make an invalid hierarchy; nothing was written.

    ``problems`` lists every problem found as ``(unit_id, reason)``, sorted by unit id.
    """

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: list[tuple[str, str]] = sorted(set(problems))
        shown = "; ".join(f"{unit_id!r}: {reason}" for unit_id, reason in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} hierarchy problem(s): {shown}{more}")


@dataclass(frozen=True)
class _Row:
    parent_id: str | None
    name: str
    level: str
    depth: int
    path: str


def _record_problems(record: UnitRecord) -> list[str]:
    reasons = []
    if not record.unit_id.strip():
        reasons.append("empty unit_id")
    if PATH_SEPARATOR in record.unit_id:
        reasons.append(f"unit_id contains {PATH_SEPARATOR!r}")
    if len(record.unit_id) > _MAX_ID:
        reasons.append(f"unit_id longer than {_MAX_ID} characters")
    if not record.name.strip():
        reasons.append("empty name")
    elif len(record.name) > _MAX_NAME:
        reasons.append(f"name longer than {_MAX_NAME} characters")
    if not record.level.strip():
        reasons.append("empty level")
    elif len(record.level) > _MAX_LEVEL:
        reasons.append(f"level longer than {_MAX_LEVEL} characters")
    return reasons


def _place(parents: dict[str, str | None], problems: list[tuple[str, str]]) -> dict[str, tuple[int, str]]:
    """``(depth, path)`` of every unit reachable from a root; records cycles into ``problems``."""
    children: dict[str | None, list[str]] = {}
    for unit_id, parent_id in parents.items():
        children.setdefault(parent_id, []).append(unit_id)
    placed: dict[str, tuple[int, str]] = {}
    stack = [(root, 0, f"{PATH_SEPARATOR}{root}{PATH_SEPARATOR}") for root in children.get(None, [])]
    while stack:
        unit_id, depth, path = stack.pop()
        placed[unit_id] = (depth, path)
        stack.extend(
            (child, depth + 1, f"{path}{child}{PATH_SEPARATOR}") for child in children.get(unit_id, [])
        )
    _find_cycles(parents, placed, problems)
    return placed


def _find_cycles(
    parents: dict[str, str | None], placed: dict[str, tuple[int, str]], problems: list[tuple[str, str]]
) -> None:
    """Report the members of every cycle among the units not reachable from a root.

    A unit that is unreachable only because an ancestor's parent is missing is not reported here (the
    missing parent is), nor is a unit that merely hangs below a cycle.
    """
    resolved: set[str] = set(placed)
    for start in parents:
        if start in resolved:
            continue
        chain: list[str] = []
        position: dict[str, int] = {}
        unit_id: str | None = start
        while unit_id is not None and unit_id in parents and unit_id not in resolved:
            if unit_id in position:
                cycle = chain[position[unit_id] :]
                loop = " -> ".join([*cycle, cycle[0]])
                problems.extend((member, f"cycle: {loop}") for member in cycle)
                break
            position[unit_id] = len(chain)
            chain.append(unit_id)
            unit_id = parents[unit_id]
        resolved.update(chain)


def upsert_units(session: Session, records: Sequence[UnitRecord]) -> UpsertCounts:
    """Insert new units and update changed ones, keeping ``depth`` and ``path`` right everywhere.

    Records may come in any order (children before their parents). A unit whose parent changes moves
    with its whole subtree: every descendant gets its new ``path`` and ``depth``. Calling it twice with
    the same records changes nothing the second time.

    Parameters
    ----------
    session
        An open session; the caller commits.
    records
        The units to insert or update. A unit_id may repeat only with identical values; a blank
        ``parent_id`` (``""``) is read as ``None``, the root.

    Returns
    -------
    UpsertCounts
        How many records were inserted, updated and already up to date.

    Raises
    ------
    HierarchyError
        Listing every problem (a parent found neither in the records nor in the database, a cycle, a
        second root, an empty or too long id/name/level, conflicting duplicates), before anything is
        written.
    """
    problems: list[tuple[str, str]] = []
    incoming: dict[str, UnitRecord] = {}
    for record in records:
        if record.parent_id is not None and not record.parent_id.strip():
            record = replace(record, parent_id=None)  # a blank parent cell in a file means "the root"
        problems.extend((record.unit_id, reason) for reason in _record_problems(record))
        seen = incoming.get(record.unit_id)
        if seen is not None and seen != record:
            problems.append((record.unit_id, "unit_id repeated with different values"))
        incoming[record.unit_id] = record

    stored = {
        row.unit_id: _Row(row.parent_id, row.name, row.level, row.depth, row.path)
        for row in session.execute(
            select(Unit.unit_id, Unit.parent_id, Unit.name, Unit.level, Unit.depth, Unit.path)
        )
    }
    parents: dict[str, str | None] = {unit_id: row.parent_id for unit_id, row in stored.items()}
    parents.update((unit_id, record.parent_id) for unit_id, record in incoming.items())

    for unit_id, record in incoming.items():
        if record.parent_id is not None and record.parent_id not in parents:
            reason = f"parent {record.parent_id!r} not found in the records or the database"
            problems.append((unit_id, reason))
    roots = sorted(unit_id for unit_id, parent_id in parents.items() if parent_id is None)
    if len(roots) > 1:
        for unit_id in roots:
            if unit_id in incoming:
                others = ", ".join(repr(root) for root in roots if root != unit_id)
                problems.append((unit_id, f"second root: the hierarchy also has root {others}"))
    placed = _place(parents, problems)
    for unit_id in incoming:
        if unit_id in placed and len(placed[unit_id][1]) > _MAX_PATH:
            problems.append((unit_id, f"path longer than {_MAX_PATH} characters"))
    if problems:
        raise HierarchyError(problems)

    now = utcnow()
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    inserted = updated = unchanged = 0
    for unit_id, record in incoming.items():
        depth, path = placed[unit_id]
        values = {
            "unit_id": unit_id,
            "parent_id": record.parent_id,
            "name": record.name,
            "level": record.level,
            "depth": depth,
            "path": path,
        }
        old = stored.get(unit_id)
        if old is None:
            inserted += 1
            inserts.append({**values, "created_at": now, "updated_at": now})
            continue
        own_change = (old.parent_id, old.name, old.level) != (record.parent_id, record.name, record.level)
        if own_change:
            updated += 1
        else:
            unchanged += 1
        if own_change or (old.depth, old.path) != (depth, path):
            updates.append({**values, "updated_at": now})
    # Descendants of moved units that were not among the records: only their position changes.
    for unit_id, old in stored.items():
        if unit_id in incoming:
            continue
        depth, path = placed[unit_id]
        if (old.depth, old.path) != (depth, path):
            updates.append(
                {
                    "unit_id": unit_id,
                    "parent_id": old.parent_id,
                    "name": old.name,
                    "level": old.level,
                    "depth": depth,
                    "path": path,
                    "updated_at": now,
                }
            )

    if inserts:
        # Parents before children, so each row's foreign key is satisfied as it lands.
        inserts.sort(key=lambda values: values["depth"])  # type: ignore[arg-type,return-value]
        session.execute(insert(Unit), inserts)
    if updates:
        # ORM bulk UPDATE by primary key; it also refreshes any of these units already loaded.
        session.execute(update(Unit), updates)
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)


def all_units(session: Session) -> list[Unit]:
    """Every unit, root first, then by depth and unit id."""
    return list(session.scalars(select(Unit).order_by(Unit.depth, Unit.unit_id)))


def existing_unit_ids(session: Session) -> set[str]:
    """The ids of every unit in the database."""
    return set(session.scalars(select(Unit.unit_id)))


def get_unit(session: Session, unit_id: str) -> Unit | None:
    """The unit with this id, or ``None``."""
    return session.get(Unit, unit_id)


def _path_of(session: Session, unit_id: str) -> str:
    path = session.scalar(select(Unit.path).where(Unit.unit_id == unit_id))
    if path is None:
        raise KeyError(f"unknown unit {unit_id!r}")
    return path


def subtree_ids(session: Session, unit_id: str) -> set[str]:
    """The unit and every unit below it (one prefix match on the materialised path).

    Raises ``KeyError`` for an unknown unit.
    """
    prefix = _path_of(session, unit_id)
    # autoescape: unit ids often hold "_" (a LIKE wildcard), which must match only itself.
    return set(session.scalars(select(Unit.unit_id).where(Unit.path.startswith(prefix, autoescape=True))))


def ancestor_ids(session: Session, unit_id: str) -> list[str]:
    """The unit's ancestors, root first, excluding the unit itself. Raises ``KeyError`` if unknown."""
    return _path_of(session, unit_id).strip(PATH_SEPARATOR).split(PATH_SEPARATOR)[:-1]


def children_ids(session: Session, unit_id: str) -> list[str]:
    """The unit's direct children, by unit id (empty for a leaf or an unknown unit)."""
    return list(session.scalars(select(Unit.unit_id).where(Unit.parent_id == unit_id).order_by(Unit.unit_id)))


def set_owner(session: Session, unit_id: str, user_id: int | None) -> None:
    """Make a user the one accountable owner of a unit (``None`` clears it).

    Raises ``ValueError`` if the unit or the user does not exist.
    """
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise ValueError(f"unknown unit {unit_id!r}")
    if user_id is not None and session.get(User, user_id) is None:
        raise ValueError(f"unknown user id {user_id}")
    unit.owner_user_id = user_id
    session.flush()
