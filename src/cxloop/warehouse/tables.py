"""Creating the warehouse tables on first use."""

from __future__ import annotations

from ibis.backends import BaseBackend

from cxloop.warehouse.schemas import TABLES


def ensure_tables(con: BaseBackend) -> list[str]:
    """Create every table of :data:`~cxloop.warehouse.schemas.TABLES` that does not exist yet.

    Returns the names created. Existing tables are left as they are (their data is never touched).
    """
    existing = set(con.list_tables())
    created = []
    for table in TABLES.values():
        if table.name not in existing:
            con.create_table(table.name, schema=table.schema)
            created.append(table.name)
    return created
