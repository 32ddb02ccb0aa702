"""Apply the app database's Alembic migrations from code (no ``alembic.ini`` at run time).

The migration scripts ship inside the package (:mod:`cxloop.store.migrations`); :func:`alembic_config`
points Alembic at them and at a database URL. ``cxloop db upgrade`` is a thin layer over :func:`upgrade`.

Example
-------
>>> from cxloop.store import migrate
>>> migrate.upgrade("sqlite:///cxloop-data/cxloop.db")  # doctest: +SKIP
>>> migrate.is_up_to_date("sqlite:///cxloop-data/cxloop.db")  # doctest: +SKIP
True
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event

from cxloop.store.db import make_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current",
    "current_on",
    "downgrade",
    "head",
    "is_up_to_date",
    "migration_engine",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for the packaged migrations and (optionally) a database URL."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    if url is not None:
        # ConfigParser treats "%" as interpolation; URL-encoded passwords hold "%".
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migration_engine(url: str) -> Engine:
    """An engine whose transactions also frame DDL, so a failed migration leaves no trace.

    PostgreSQL has transactional DDL already. Python's sqlite3 driver does not begin a transaction before
    CREATE/ALTER/DROP, so on SQLite the driver's own transaction handling is switched off and SQLAlchemy
    emits ``BEGIN`` itself (the recipe in SQLAlchemy's SQLite dialect documentation).
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _driver_autocommit(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def _migration_connection(url: str) -> Iterator[Connection]:
    """A connection to migrate through, committed at the end (rolled back on any error).

    On SQLite, foreign keys are switched off while tables are rebuilt (batch mode copies a table, drops
    it and renames the copy, which an enforced foreign key would block or cascade), then checked.
    """
    engine = migration_engine(url)
    is_sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if is_sqlite:
                # Outside any transaction, where SQLite honours it: straight on the driver connection.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            yield connection
            connection.commit()
            if is_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if broken:
                    raise RuntimeError(f"migration left {len(broken)} broken foreign key(s): {broken[:5]}")
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    config = alembic_config(url)
    with _migration_connection(url) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` removes every table)."""
    config = alembic_config(url)
    with _migration_connection(url) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or ``None`` if it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return current_on(connection)
    finally:
        engine.dispose()


def current_on(connection: Connection) -> str | None:
    """The revision of the database ``connection`` is open on (``None``: never migrated); no new engine."""
    return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision shipped with this version of cxloop."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


def is_up_to_date(url: str) -> bool:
    """Whether the database at ``url`` is at the newest revision."""
    return current(url) == head()


def _revision(argv: list[str]) -> None:
    """Developers only: ``python -m cxloop.store.migrate revision -m MESSAGE [--rev-id ID]``.

    Autogenerates a revision against a scratch SQLite database migrated to head, so the diff is exactly
    what the models add. Read and edit the generated file before committing it.
    """
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m cxloop.store.migrate")
    parser.add_argument("action", choices=["revision"])
    parser.add_argument("-m", "--message", required=True)
    parser.add_argument("--rev-id", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch, 'scratch.db').as_posix()}"
        upgrade(url)
        config = alembic_config(url)
        with _migration_connection(url) as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=args.message, autogenerate=True, rev_id=args.rev_id)


if __name__ == "__main__":
    _revision(sys.argv[1:])
