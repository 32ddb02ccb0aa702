"""Plain SQL on any engine: quoting, running a statement for its few rows, a cheap table check.

Used where an Ibis expression would cost more to build and compile than the engine takes to run it
(the key-driver sums, the writer's per-batch checks).
"""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

__all__ = ["fetch_rows", "quote_identifier", "string_literal", "table_exists"]

#: Engines that quote identifiers with backticks (the others take the standard double quotes).
_BACKTICK = frozenset({"pyspark", "mysql", "bigquery", "databricks"})


def quote_identifier(name: str, backend: str) -> str:
    """``name`` quoted as an identifier in the SQL dialect of ``backend`` (an Ibis backend's name)."""
    if backend in _BACKTICK:
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def string_literal(value: str) -> str:
    """``value`` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def fetch_rows(con: BaseBackend, sql: str) -> list[dict[str, Any]]:
    """Run one SELECT on the engine and return its (few) rows as dicts."""
    if con.name == "duckdb":
        cursor = con.raw_sql(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if con.name == "pyspark":
        return [row.asDict() for row in con._session.sql(sql).collect()]
    return con.sql(sql).execute().to_dict(orient="records")


def table_exists(con: BaseBackend, name: str) -> bool:
    """Whether table ``name`` exists."""
    if con.name == "duckdb":  # a catalogue query of its own, far cheaper than Ibis' table listing
        row = con.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()
        return bool(row and row[0])
    return name in con.list_tables()
