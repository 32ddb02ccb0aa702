"""A small company written straight into warehouse tables, for metrics tests on any engine.

Tests build their fixtures here instead of through the importer: the metrics code only needs the
canonical tables (``ensure_tables``) filled, and writing them directly keeps these tests independent of
the import pipeline. The data is synthetic (generated below with a fixed seed); no licence applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend

from cxloop.warehouse.schemas import ANSWERS, RESPONSES, UNIT_CLOSURE, UNITS
from cxloop.warehouse.tables import ensure_tables

#: (unit_id, parent_id, name, level)
COMPANY: tuple[tuple[str, str | None, str, str], ...] = (
    ("acme", None, "Acme", "company"),
    ("north", "acme", "North", "region"),
    ("south", "acme", "South", "region"),
    ("n1", "north", "North 1", "branch"),
    ("n2", "north", "North 2", "branch"),
    ("n3", "north", "North 3", "branch"),
    ("s1", "south", "South 1", "branch"),
    ("s2", "south", "South 2", "branch"),
)


def parents_of(units: Iterable[Sequence]) -> dict[str, str | None]:
    return {row[0]: row[1] for row in units}


def closure_rows(parents: dict[str, str | None]) -> list[tuple[str, str, int]]:
    """Every (ancestor, unit, distance) pair, (u, u, 0) included."""
    rows = []
    for unit in parents:
        ancestor: str | None = unit
        distance = 0
        while ancestor is not None:
            rows.append((ancestor, unit, distance))
            ancestor = parents[ancestor]
            distance += 1
    return rows


def depth_of(parents: dict[str, str | None], unit: str) -> int:
    depth = 0
    while parents[unit] is not None:
        unit = parents[unit]  # type: ignore[assignment]
        depth += 1
    return depth


def units_table(units: Sequence[tuple[str, str | None, str, str]]) -> pa.Table:
    parents = parents_of(units)
    return pa.table(
        {
            "unit_id": [u[0] for u in units],
            "parent_id": [u[1] for u in units],
            "name": [u[2] for u in units],
            "level": [u[3] for u in units],
            "depth": pa.array([depth_of(parents, u[0]) for u in units], pa.int32()),
        },
        schema=UNITS.schema.to_pyarrow(),
    )


def closure_table(parents: dict[str, str | None]) -> pa.Table:
    rows = closure_rows(parents)
    return pa.table(
        {
            "ancestor_id": [r[0] for r in rows],
            "unit_id": [r[1] for r in rows],
            "distance": pa.array([r[2] for r in rows], pa.int32()),
        },
        schema=UNIT_CLOSURE.schema.to_pyarrow(),
    )


def responses_table(
    *,
    unit_id: Sequence[str],
    submitted_at: Sequence[datetime],
    nps: Sequence[float | None],
    csat: Sequence[float | None],
    ces: Sequence[float | None],
    touchpoint: Sequence[str | None] | None = None,
    channel: Sequence[str | None] | None = None,
    segment: Sequence[str | None] | None = None,
) -> pa.Table:
    """A ``responses`` table in the canonical schema (``None`` is a missing value, NaN stays NaN)."""
    size = len(unit_id)
    missing = [None] * size
    return pa.table(
        {
            "response_id": [f"r{i:07d}" for i in range(size)],
            "submitted_at": pa.array(submitted_at, pa.timestamp("us")),
            "unit_id": list(unit_id),
            "customer_id": [f"c{i % 997:04d}" for i in range(size)],
            "survey_id": ["relationship"] * size,
            "touchpoint": list(touchpoint) if touchpoint is not None else missing,
            "channel": list(channel) if channel is not None else missing,
            "segment": list(segment) if segment is not None else missing,
            "nps": pa.array(nps, pa.float64()),
            "csat": pa.array(csat, pa.float64()),
            "ces": pa.array(ces, pa.float64()),
            "comment": missing,
        },
        schema=RESPONSES.schema.to_pyarrow(),
    )


def example_responses(seed: int = 7, size: int = 3000) -> pa.Table:
    """Responses over 2024-2025 at every unit of :data:`COMPANY`, with realistic gaps.

    Branches get most responses; ``south`` and ``acme`` get a few filed on themselves (as a head office
    would); ``n3`` is small, so its months fall under the anonymity threshold. Scores are missing at
    random, and a handful are NaN or off the scale (they must count as not answered).
    """
    rng = np.random.default_rng(seed)
    units = np.array(["n1", "n2", "n3", "s1", "s2", "south", "acme"])
    weights = np.array([0.3, 0.25, 0.02, 0.2, 0.18, 0.03, 0.02])
    unit = rng.choice(units, size=size, p=weights / weights.sum())
    start = np.datetime64("2024-01-01T00:00:00")
    seconds = rng.integers(0, 731 * 86400, size)
    when = (start + seconds.astype("timedelta64[s]")).astype("datetime64[us]").tolist()
    # A little signal: north is happier than south.
    shift = np.where(np.isin(unit, ["n1", "n2", "n3", "north"]), 1.0, -0.5)
    nps = np.clip(np.round(rng.normal(7.5 + shift, 2.2, size)), 0, 10)
    csat = np.clip(np.round(rng.normal(3.8 + shift / 3, 1.0, size)), 1, 5)
    ces = np.clip(np.round(rng.normal(5.0 + shift / 2, 1.3, size)), 1, 7)

    def with_gaps(values: np.ndarray, share_missing: float) -> list[float | None]:
        out: list[float | None] = [float(v) for v in values]
        for i in np.flatnonzero(rng.random(size) < share_missing):
            out[i] = None
        return out

    nps_l, csat_l, ces_l = with_gaps(nps, 0.05), with_gaps(csat, 0.2), with_gaps(ces, 0.5)
    nps_l[3], csat_l[4], ces_l[5] = float("nan"), 6.0, 0.0  # not answered: NaN and off the scale
    nps_l[6] = 11.0
    return responses_table(
        unit_id=unit.tolist(),
        submitted_at=when,
        nps=nps_l,
        csat=csat_l,
        ces=ces_l,
        touchpoint=rng.choice(["onboarding", "branch_visit", "call_centre"], size).tolist(),
        channel=rng.choice(["web", "phone", "in_person"], size).tolist(),
        segment=[
            None if r < 0.05 else s
            for r, s in zip(rng.random(size), rng.choice(["gold", "standard"], size), strict=True)
        ],
    )


ANSWER_SCHEMA = pa.schema([f.with_nullable(True) for f in ANSWERS.schema.to_pyarrow()])


def example_answers(rows: pa.Table, items: list[str], seed: int, missing: float = 0.05) -> pa.Table:
    """Answers 1-10 of ``rows``' responses to ``items``, each left unanswered with probability ``missing``."""
    rng = np.random.default_rng(seed)
    long = [
        {"response_id": r, "item": item, "value": float(rng.integers(1, 11))}
        for r in rows.column("response_id").to_pylist()
        for item in items
        if rng.random() > missing
    ]
    return pa.Table.from_pylist(long, schema=ANSWER_SCHEMA)


def demo_tables(directory) -> tuple[list[tuple[str, str | None, str, str]], pa.Table]:
    """The units and the responses (in the canonical schema) of a demo written by ``cxloop.demo.generate``."""
    import pyarrow.parquet as pq

    units = pq.read_table(f"{directory}/units.parquet").to_pylist()
    rows = [(u["unit_id"], u["parent_id"] or None, u["name"], u["level"]) for u in units]
    raw = pq.read_table(f"{directory}/responses.parquet")
    schema = RESPONSES.schema.to_pyarrow()
    columns = {
        field.name: raw[field.name].cast(field.type)
        if field.name in raw.column_names
        else pa.nulls(raw.num_rows, field.type)
        for field in schema
    }
    return rows, pa.table(columns, schema=schema)


def load_warehouse(
    con: BaseBackend,
    responses: pa.Table,
    units: Sequence[tuple[str, str | None, str, str]] = COMPANY,
) -> None:
    """Create the warehouse tables and fill ``units``, ``unit_closure`` and ``responses``."""
    ensure_tables(con)
    insert(con, "units", units_table(units))
    insert(con, "unit_closure", closure_table(parents_of(units)))
    insert(con, "responses", responses)


def insert(con: BaseBackend, name: str, table: pa.Table) -> None:
    """Append an Arrow table, keeping nulls null on every engine.

    Ibis 12 hands Spark a pandas frame, and with pandas 3 a missing string arrives as the text ``'NaN'``
    and a missing float as NaN; PySpark 4 reads Arrow directly, so Spark gets the table as it is.
    """
    if con.name == "pyspark":
        con._session.createDataFrame(table).write.insertInto(name)
    else:
        con.insert(name, table)
