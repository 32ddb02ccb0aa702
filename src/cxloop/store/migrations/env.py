"""Alembic environment for cxloop's app database.

:mod:`cxloop.store.migrate` builds the Alembic ``Config`` in code and hands over an open connection in
``config.attributes["connection"]``; this file only configures the migration context around it.
``render_as_batch`` lets the same migrations alter tables on SQLite (which cannot ALTER most things).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cxloop.store.migrate import migration_engine
from cxloop.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # One transaction per revision; on SQLite too, since migration_engine makes its DDL transactional.
        transaction_per_migration=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = migration_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
