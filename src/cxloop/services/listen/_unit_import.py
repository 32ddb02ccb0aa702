"""The units import: validate the rows, upsert the hierarchy in the app database, mirror it.

Units differ from facts: the hierarchy is checked as a whole (parents, cycles, one root), so the file is
read whole (an org chart fits in memory) and written in one app-database transaction, then mirrored into
the warehouse's ``units`` and ``unit_closure`` tables. A unit already stored is updated (upsert).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from cxloop.services.stores import session_scope
from cxloop.store import units
from cxloop.warehouse.ingest.kinds import KindSpec
from cxloop.warehouse.ingest.mapping import ColumnMapping, ColumnPlan
from cxloop.warehouse.ingest.quarantine import QuarantineWriter
from cxloop.warehouse.ingest.readers import Source
from cxloop.warehouse.ingest.seen import SeenKeys
from cxloop.warehouse.ingest.validate import RowProblem, ValidationContext, original_values, validate_batch
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy

__all__ = ["UnitImportResult", "import_units"]


@dataclass(frozen=True)
class UnitImportResult:
    rows: int
    inserted: int
    updated: int
    unchanged: int
    problems: list[RowProblem]


@dataclass(frozen=True)
class _Row:
    row: int
    record: units.UnitRecord
    values: dict[str, str | None]


Reject = Callable[[_Row, str, str], None]


def _column_of(reason: str) -> str:
    """The column a :class:`~cxloop.store.units.HierarchyError` reason is about."""
    if reason.startswith(("cycle", "second root", "parent")):
        return "parent_id"
    if "name" in reason:
        return "name"
    if "level" in reason:
        return "level"
    return "unit_id"


def _read(
    spec: KindSpec, source: Source, ctx: ValidationContext, size: int
) -> tuple[int, list[_Row], list[RowProblem]]:
    seen = SeenKeys()
    rows: list[_Row] = []
    problems: list[RowProblem] = []
    total = 0
    try:
        for batch in source.batches(size):
            checked = validate_batch(batch, ctx, seen)
            total += checked.accepted + checked.rejected
            problems.extend(checked.problems)
            kept = np.flatnonzero(np.isin(batch.rows, checked.row_numbers))
            records = checked.rows.select(list(spec.names)).to_pylist()
            for index, values, record in zip(kept, original_values(batch.table, kept), records, strict=True):
                rows.append(_Row(int(batch.rows[index]), units.UnitRecord(**record), values))
    finally:
        seen.close()
    return total, rows, problems


def import_units(
    spec: KindSpec,
    source: Source,
    plan: ColumnPlan,
    mapping: ColumnMapping,
    size: int,
    engine: Engine,
    con: BaseBackend,
    quarantine: QuarantineWriter,
    file: str,
) -> UnitImportResult:
    """Validate, upsert and mirror the units of ``source``; rejected rows go to ``quarantine``."""
    ctx = ValidationContext(spec=spec, plan=plan, mapping=mapping, file=file)
    total, active, problems = _read(spec, source, ctx, size)
    labels = {name: plan.sources.get(name, name) for name in spec.names}
    # Rows rejected while reading: their children get a clearer reason than "unknown parent".
    rejected: dict[str, int] = {}
    for problem in problems:
        unit_id = (problem.values.get(labels["unit_id"]) or "").strip()
        if unit_id and problem.row is not None:
            rejected.setdefault(unit_id, problem.row)

    def reject(row: _Row, column: str, reason: str) -> None:
        shown = "; ".join(labels.get(c, c) for c in column.split("; "))
        problems.append(RowProblem(file, row.row, shown, reason, row.values))
        rejected.setdefault(row.record.unit_id, row.row)

    with session_scope(engine) as session:
        stored = units.existing_unit_ids(session)
    counts = units.UpsertCounts(0, 0, 0)
    # Each failed attempt rejects at least one row, so this ends.
    for _attempt in range(len(active) + 2):
        active = _drop_orphans(active, stored, rejected, reject)
        try:
            with session_scope(engine) as session:
                counts = units.upsert_units(session, [row.record for row in active])
            break
        except units.HierarchyError as exc:
            active = _reject_invalid(active, exc, reject)

    with session_scope(engine) as session:
        every = units.all_units(session)
        hierarchy = build_hierarchy(
            [u.unit_id for u in every],
            [u.parent_id for u in every],
            [u.name for u in every],
            [u.level for u in every],
        )
    write_hierarchy(con, hierarchy)
    problems.sort(key=lambda p: (p.row is None, p.row or 0))
    quarantine.write(problems)
    return UnitImportResult(
        rows=total,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        problems=problems,
    )


def _reject_invalid(active: list[_Row], error: units.HierarchyError, reject: Reject) -> list[_Row]:
    """Reject the rows a :class:`~cxloop.store.units.HierarchyError` names (all, if it names none)."""
    by_id: dict[str, list[str]] = {}
    for unit_id, reason in error.problems:
        by_id.setdefault(unit_id, []).append(reason)
    named = [row for row in active if row.record.unit_id in by_id]
    if not named:
        for row in active:
            reject(row, "unit_id", f"the hierarchy would be invalid: {error}")
        return []
    for row in named:
        reasons = by_id[row.record.unit_id]
        reject(row, "; ".join(dict.fromkeys(_column_of(r) for r in reasons)), "; ".join(reasons))
    return [row for row in active if row.record.unit_id not in by_id]


def _drop_orphans(
    active: list[_Row], stored: set[str], rejected: dict[str, int], reject: Reject
) -> list[_Row]:
    """Reject rows whose parent is neither stored nor an accepted row of the file, until none is left."""
    while True:
        present = {row.record.unit_id for row in active} | stored
        orphans = [r for r in active if r.record.parent_id is not None and r.record.parent_id not in present]
        if not orphans:
            return active
        for row in orphans:
            parent = row.record.parent_id
            if parent in rejected:
                reject(row, "parent_id", f"parent {parent!r} was rejected (row {rejected[parent]})")
            else:
                reject(row, "parent_id", f"unknown parent {parent!r}: not in the file or the database")
        gone = {row.row for row in orphans}
        active = [row for row in active if row.row not in gone]
