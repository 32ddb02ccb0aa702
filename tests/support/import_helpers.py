"""Helpers for the import tests: small canonical files and reading the stores back."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import duckdb

from cxloop.config import Settings

UNITS_CSV = """unit_id,parent_id,name,level
bank,,Demo Bank,company
north,bank,North,region
south,bank,South,region
b01,north,Branch 01,branch
b02,north,Branch 02,branch
b03,south,Branch 03,branch
"""

RESPONSE_HEADER = [
    "response_id",
    "submitted_at",
    "unit_id",
    "customer_id",
    "touchpoint",
    "channel",
    "nps",
    "csat",
    "ces",
    "comment",
    "q_staff",
    "q_wait",
]


def response_row(i: int, **changes: str) -> list[str]:
    """A valid canonical response row; ``changes`` override columns by name."""
    row = {
        "response_id": f"r{i:04d}",
        "submitted_at": f"2024-05-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
        "unit_id": ["b01", "b02", "b03"][i % 3],
        "customer_id": "",
        "touchpoint": ["branch_visit", "call_centre"][i % 2],
        "channel": "branch",
        "nps": str(i % 11),
        "csat": str(1 + i % 5),
        "ces": str(1 + i % 7),
        "comment": f"comment {i}",
        "q_staff": str(i % 11),
        "q_wait": "" if i % 4 == 0 else str((i * 3) % 11),
    }
    row.update(changes)
    return [row[c] for c in RESPONSE_HEADER]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_quarantine(path: str | None) -> list[dict[str, str]]:
    assert path is not None, "no quarantine file was written"
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def table_rows(settings: Settings, table: str, order: str = "1") -> list[tuple]:
    """Every row of a warehouse table (read with a fresh DuckDB connection), sorted."""
    con = duckdb.connect(str(settings.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()  # noqa: S608
    finally:
        con.close()
