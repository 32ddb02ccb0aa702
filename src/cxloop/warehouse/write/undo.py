"""Taking an import run back out of the warehouse: exactly the rows it stored, and what follows from them.

Every batch records the natural keys of the fact rows it stored in ``import_run_keys`` (with the rows, in
the same transaction on DuckDB: :func:`cxloop.warehouse.write.writer.append_batch`). :func:`undo_run`
removes those rows and, for responses, what hangs on them (their answers, the attributes a survey-tool
export kept, the comment sentiment and themes the tagger wrote), and for customers their CLV scores; then
every derived table that follows the fact (:data:`cxloop.warehouse.derived.registry.DERIVED_TABLES`: the
wide ``response_items``, ``responses_monthly``, ``driver_moments_monthly``) is rebuilt from the facts left,
and the data version is bumped. The warehouse then holds what it held before the run (rows that later
imports counted as duplicates of the run's rows were never stored by them, so they go too: import those
files again).

On DuckDB it is one transaction. Spark tables take no ``DELETE`` through Ibis: each table is read without
the run's rows and written back over itself, one table after the other (an undo stopped part-way can be
run again: what is gone stays gone, the rest is removed then).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.registry import DERIVED_TABLES
from cxloop.warehouse.schemas import IMPORT_RUN_KEYS, TABLES
from cxloop.warehouse.write.attributes import RESPONSE_ATTRIBUTES
from cxloop.warehouse.write.writer import WarehouseWriter

__all__ = ["DEPENDENT_ROWS", "RunKeys", "run_keys", "undo_run"]

DEPENDENT_ROWS: dict[str, tuple[tuple[str, str], ...]] = {
    "responses": (
        ("answers", "response_id"),
        (RESPONSE_ATTRIBUTES.name, "response_id"),
        ("comment_sentiment", "response_id"),
        ("comment_tags", "response_id"),
    ),
    "customers": (("customer_value", "customer_id"),),
}
"""Per fact table, the ``(table, column)`` pairs whose rows exist only because of its rows."""


@dataclass(frozen=True)
class RunKeys:
    """The keys one import run stored, per fact table."""

    by_fact: dict[str, pa.Array]

    @property
    def total(self) -> int:
        return sum(len(keys) for keys in self.by_fact.values())

    def of(self, fact: str) -> list[str]:
        keys = self.by_fact.get(fact)
        return [] if keys is None else [str(k) for k in keys.to_pylist()]


def run_keys(con: BaseBackend, run_id: int) -> RunKeys:
    """The keys ``run_id`` stored (none for a run of a version that did not record them)."""
    if IMPORT_RUN_KEYS.name not in con.list_tables():
        return RunKeys({})
    table = con.table(IMPORT_RUN_KEYS.name)
    rows = table.filter(table.run_id == run_id).select("fact", "key").to_pyarrow()
    by_fact: dict[str, pa.Array] = {}
    for fact in pc.unique(rows.column("fact")).to_pylist():
        chosen = rows.filter(pc.equal(rows.column("fact"), fact))
        by_fact[str(fact)] = chosen.column("key").combine_chunks()
    return RunKeys(by_fact)


def undo_run(writer: WarehouseWriter, run_id: int, keys: RunKeys) -> dict[str, int]:
    """Remove what ``run_id`` stored (``keys``, from :func:`run_keys`), rebuild the derived tables that
    follow those facts and bump the data version; the rows removed per table."""
    con = writer.con
    present = set(con.list_tables())
    removed: dict[str, int] = {}
    with writer.transaction():
        for fact, values in keys.by_fact.items():
            column = TABLES[fact].key[0]
            removed[fact] = writer.delete(fact, column, values)
            for table, key in DEPENDENT_ROWS.get(fact, ()):
                if table in present:
                    removed[table] = writer.delete(table, key, values)
        writer.delete(IMPORT_RUN_KEYS.name, "run_id", pa.array([run_id], pa.int64()))
        for derived in DERIVED_TABLES:  # in the registry's order; the data version last
            if derived.SOURCE is None or derived.SOURCE in keys.by_fact:
                derived.rebuild(writer)
    return removed
