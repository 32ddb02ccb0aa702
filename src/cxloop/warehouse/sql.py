"""Plain SQL on any engine: quoting, running a statement for its few rows, a cheap table check, the
rule for values compared in a query.

Used where an Ibis expression would cost more to build and compile than the engine takes to run it
(the key-driver sums, the writer's per-batch checks). Values from outside (filters) are never written into
such a statement: they are ``?`` parameters of :func:`fetch_rows`, bound by the engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlglot
from ibis.backends import BaseBackend
from sqlglot import exp

__all__ = [
    "CONTROL_CHARACTER",
    "check_printable",
    "fetch_rows",
    "inline_parameters",
    "quote_identifier",
    "string_literal",
    "table_exists",
]

#: A control character (C0, DEL, C1): no id, category or search text holds one. NUL in particular cannot
#: be written in an SQL string literal (DuckDB's parser ends the text there), which is how Ibis passes
#: values to the engine.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

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


def check_printable(name: str, values: Iterable[str] | str | None) -> None:
    """Raise ``ValueError`` naming ``name`` when a value holds a control character (see
    :data:`CONTROL_CHARACTER`): it matches nothing stored, and NUL cannot even be asked for."""
    if values is None:
        return
    for value in [values] if isinstance(values, str) else values:
        found = CONTROL_CHARACTER.search(value)
        if found is not None:
            raise ValueError(
                f"{name} {value!r} holds a control character (U+{ord(found.group()):04X}); no value does"
            )


def fetch_rows(con: BaseBackend, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run one SELECT on the engine and return its (few) rows as dicts.

    ``params`` are the values of the statement's ``?`` markers, in order, bound by the engine (DuckDB,
    Spark); for other engines they are written into the statement as literals by sqlglot.
    """
    if con.name == "duckdb":
        cursor = con.con.execute(sql, list(params)) if params else con.raw_sql(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if con.name == "pyspark":
        return [row.asDict() for row in con._session.sql(sql, args=list(params) or None).collect()]
    if params:
        sql = inline_parameters(sql, params, getattr(con, "dialect", con.name))
    return con.sql(sql).execute().to_dict(orient="records")


def inline_parameters(sql: str, params: Sequence[Any], dialect: Any) -> str:
    """``sql`` with its ``?`` markers replaced by ``params`` as literals of ``dialect`` (sqlglot escapes
    them), for engines whose Ibis backend runs no parameterised statement."""
    values = iter(params)

    def put(node: exp.Expr) -> exp.Expr:
        return exp.convert(next(values)) if isinstance(node, exp.Placeholder) else node

    return sqlglot.parse_one(sql).transform(put).sql(dialect=dialect)


def table_exists(con: BaseBackend, name: str) -> bool:
    """Whether table ``name`` exists."""
    if con.name == "duckdb":  # a catalogue query of its own, far cheaper than Ibis' table listing
        row = con.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()
        return bool(row and row[0])
    return name in con.list_tables()
