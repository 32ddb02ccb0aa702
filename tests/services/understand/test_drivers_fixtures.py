"""A small company in both stores for the key-driver service, priority and CLI tests (no tests here).

root > r1 (b1, b2), r2 (b3); three driver items (wait, staff, price) with NPS = 0.5 wait + 0.3 staff +
0.1 price + noise; branch b2 answers ``wait`` three points lower. Data from
``tests/warehouse/queries/test_driver_stats.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from cxloop.config import Settings
from cxloop.store import migrate
from cxloop.store.db import engine_for, session_scope
from cxloop.store.units import UnitRecord, upsert_units
from cxloop.warehouse.connection import connect
from cxloop.warehouse.tables import ensure_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "warehouse" / "queries"))
from test_driver_stats import ITEMS, _frames, _load  # noqa: E402

__all__ = ["ITEMS", "build_company"]


def build_company(settings: Settings, n: int = 1500, seed: int = 1) -> dict:
    """Fill the app database (hierarchy) and the warehouse of ``settings``; returns the frames."""
    frames = _frames(n=n, seed=seed)
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            upsert_units(
                session,
                [
                    UnitRecord(r.unit_id, None if pd.isna(r.parent_id) else r.parent_id, r.name, r.level)
                    for r in frames["units"].itertuples()
                ],
            )
    finally:
        engine.dispose()
    # each customer's home unit is the unit of their first response (the value of an NPS point needs it)
    answered = frames["responses"].dropna(subset=["customer_id"]).sort_values("submitted_at")
    first = answered.groupby("customer_id", as_index=False).first()
    frames["customers"] = pd.DataFrame(
        {
            "customer_id": first.customer_id,
            "unit_id": first.unit_id,
            "segment": first.segment,
            "acquired_at": pd.Timestamp("2024-01-01"),
            "acquisition_cost": 50.0,
        }
    )
    con = connect(settings)
    try:
        _load(con, frames)
        ensure_tables(con)
    finally:
        con.disconnect()
    return frames
