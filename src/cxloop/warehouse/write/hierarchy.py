"""The org hierarchy in the warehouse: the ``units`` mirror and its closure table.

:func:`closure` is pure: from each unit's parent it derives every (ancestor, descendant, distance) pair,
distance 0 included, and each unit's depth. :func:`write_hierarchy` replaces the warehouse's ``units``
and ``unit_closure`` tables with them (in one transaction on DuckDB). Joining a fact's ``unit_id`` to
``unit_closure.unit_id`` and grouping by ``ancestor_id`` rolls any figure up to whole subtrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend

from cxloop.warehouse.schemas import UNIT_CLOSURE, UNITS
from cxloop.warehouse.write.writer import writer_for

__all__ = ["Hierarchy", "build_hierarchy", "closure", "write_hierarchy"]


@dataclass(frozen=True)
class Hierarchy:
    """``units`` (unit_id, parent_id, name, level, depth) and ``closure`` (ancestor_id, unit_id,
    distance) as Arrow tables in the warehouse schemas."""

    units: pa.Table
    closure: pa.Table


def closure(unit_ids: Sequence[str], parent_ids: Sequence[str | None]) -> tuple[pa.Table, np.ndarray]:
    """Every ``(ancestor_id, unit_id, distance)`` pair of the forest, and each unit's depth.

    Vectorised: one numpy step per level of the tree, so a million units with ten levels take ten
    steps. Raises ``ValueError`` for a parent that is not among the units, or a cycle.

    Returns
    -------
    (closure, depth)
        The pairs, sorted by ``unit_id`` then ``distance`` (``(u, u, 0)`` first for every unit), and
        ``depth[i]`` of ``unit_ids[i]`` (0 for a root).
    """
    ids = np.asarray(list(unit_ids), dtype=object)
    n = len(ids)
    if len(parent_ids) != n:
        raise ValueError("unit_ids and parent_ids differ in length")
    index = {unit_id: i for i, unit_id in enumerate(ids)}
    if len(index) != n:
        raise ValueError("unit_ids repeat")
    parent = np.full(n, -1, dtype=np.int64)
    for i, parent_id in enumerate(parent_ids):
        if parent_id is not None:
            if parent_id not in index:
                raise ValueError(f"unit {ids[i]!r}: parent {parent_id!r} is not a unit")
            parent[i] = index[parent_id]
    descendants, ancestors, distances = [np.arange(n)], [np.arange(n)], [np.zeros(n, dtype=np.int64)]
    depth = np.zeros(n, dtype=np.int64)
    current, members, step = parent.copy(), np.arange(n), 0
    while True:
        alive = current >= 0
        current, members = current[alive], members[alive]
        if not len(members):
            break
        step += 1
        if step > n:
            raise ValueError(f"the hierarchy has a cycle through {ids[members[0]]!r}")
        descendants.append(members)
        ancestors.append(current)
        distances.append(np.full(len(members), step, dtype=np.int64))
        depth[members] = step
        current = parent[current]
    unit = np.concatenate(descendants)
    ancestor = np.concatenate(ancestors)
    distance = np.concatenate(distances)
    order = np.lexsort((distance, unit))
    pairs = pa.table(
        {
            "ancestor_id": pa.array(ids[ancestor[order]], pa.string()),
            "unit_id": pa.array(ids[unit[order]], pa.string()),
            "distance": pa.array(distance[order], pa.int32()),
        }
    )
    return pairs, depth


def build_hierarchy(
    unit_ids: Sequence[str], parent_ids: Sequence[str | None], names: Sequence[str], levels: Sequence[str]
) -> Hierarchy:
    """The warehouse ``units`` and ``unit_closure`` tables for these units."""
    pairs, depth = closure(unit_ids, parent_ids)
    units = pa.table(
        {
            "unit_id": pa.array(list(unit_ids), pa.string()),
            "parent_id": pa.array(list(parent_ids), pa.string()),
            "name": pa.array(list(names), pa.string()),
            "level": pa.array(list(levels), pa.string()),
            "depth": pa.array(depth, pa.int32()),
        }
    )
    return Hierarchy(units=units, closure=pairs)


def write_hierarchy(con: BaseBackend, hierarchy: Hierarchy) -> None:
    """Replace the warehouse's ``units`` and ``unit_closure`` with ``hierarchy`` (atomically on DuckDB)."""
    writer = writer_for(con)
    with writer.transaction():
        writer.replace(UNITS.name, hierarchy.units)
        writer.replace(UNIT_CLOSURE.name, hierarchy.closure)
