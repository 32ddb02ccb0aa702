"""The contract between the writer and the tables it keeps in step with the facts.

A derived table is a module of this package with the members of :class:`Projection`; the writer
(:func:`cxloop.warehouse.write.writer.append_batch`) calls ``on_batch`` of every module listed in
:data:`cxloop.warehouse.derived.registry.DERIVED_TABLES`, in that order, inside each batch's transaction
on DuckDB. The contract lives here, beside the tables, so that nothing in this package imports the writer:
a derived table sees the writer only as a :class:`TableWriter` and keeps what it must remember between
batches on the writer's :class:`WriterState`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
from ibis.backends import BaseBackend

__all__ = ["Batch", "Projection", "TableWriter", "WriterState"]


@dataclass
class WriterState:
    """What the derived tables remember during one writer's lifetime (one per writer, owned by it)."""

    checked: set[str] = field(default_factory=set)
    """Derived tables this writer has checked against the facts (each is checked on its first batch)."""
    appended: dict[str, int] = field(default_factory=dict)
    """Rows appended to a derived table since this writer last rebuilt or compacted it."""


class TableWriter(Protocol):
    """What a derived table may ask of the writer keeping it
    (:class:`cxloop.warehouse.write.writer.WarehouseWriter` is one)."""

    con: BaseBackend
    atomic: bool
    state: WriterState

    def transaction(self) -> AbstractContextManager[Any]:
        """Everything written inside lands together (when :attr:`atomic`)."""
        ...

    def stored_rows(self, table: str, key: Sequence[str], keys: pa.Table) -> pa.Table:
        """The stored rows of ``table`` whose ``key`` columns match a row of ``keys``."""
        ...

    def insert(self, table: str, rows: pa.Table) -> None:
        """Append ``rows`` to ``table``."""
        ...

    def replace(self, table: str, rows: pa.Table) -> None:
        """Make ``rows`` the whole content of ``table``."""
        ...

    def absent(self, table: str, column: str, values: pa.Array) -> pa.Array:
        """The distinct non-null ``values`` not found in ``table.column``."""
        ...


@dataclass(frozen=True)
class Batch:
    """One batch the writer has just appended to a fact table, as the derived tables see it."""

    fact: str
    """The fact table's name."""
    new: pa.Table
    """The rows this batch inserted (already written)."""
    duplicates: pa.Table
    """The batch's rows whose key was stored already (left as stored)."""
    answers: pa.Table | None
    """The answers given with a responses batch (``None`` for other facts)."""
    answered: int
    """Answers this batch inserted."""


class Projection(Protocol):
    """A table derived from the facts and kept in step by the writer (a module of this package)."""

    @property
    def TABLE(self) -> str:
        """The derived table's name."""
        ...

    @property
    def SOURCE(self) -> str | None:
        """The fact table whose batches it follows (``None``: every fact table)."""
        ...

    def check(self, con: BaseBackend, pending: int = 0) -> bool:
        """Whether the table exists and mirrors the stored facts, all but the last ``pending`` rows
        appended to :attr:`SOURCE`."""
        ...

    def on_batch(self, writer: TableWriter, batch: Batch) -> None:
        """Bring the table in step with ``batch`` (inside its transaction on DuckDB); the first batch of a
        writer checks the table and rebuilds it when it does not mirror the facts."""
        ...

    def rebuild(self, writer: TableWriter) -> None:
        """Recompute the whole table from the stored facts (creating it if needed)."""
        ...
