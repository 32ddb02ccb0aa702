"""Storage failures told apart from bugs and bad input, by the exception's class and its driver's own code,
through the exceptions it was raised from; never by the class alone."""

from __future__ import annotations

import errno
import os
import sqlite3

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from cxloop.services.storage import StorageUnavailableError, storage_problem


def _sqlite_error(path, statement: str, *, query_only: bool = False) -> sa_exc.DBAPIError:
    """The error SQLite itself raises for ``statement`` on the database file at ``path``."""
    engine = sa.create_engine(f"sqlite:///{path}")
    if query_only:

        @sa.event.listens_for(engine, "connect")
        def _read_only(dbapi_connection, _record) -> None:
            dbapi_connection.execute("PRAGMA query_only=ON")

    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement))
    except sa_exc.DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statement} did not fail")


def test_sqlite_errors_by_their_result_code(tmp_path):
    (tmp_path / "garbage.db").write_bytes(os.urandom(4096))
    (tmp_path / "folder.db").mkdir()  # a folder where the file should be
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE TABLE t (i INTEGER)")
    corrupt = _sqlite_error(tmp_path / "garbage.db", "SELECT * FROM sqlite_master")
    cannot_open = _sqlite_error(tmp_path / "folder.db", "SELECT 1")
    read_only = _sqlite_error(tmp_path / "app.db", "INSERT INTO t VALUES (1)", query_only=True)
    bad_query = _sqlite_error(tmp_path / "app.db", "SELECT * FROM no_such_table")
    assert storage_problem(corrupt).code == "app_database_corrupt"
    assert storage_problem(cannot_open).code == "app_database_unreachable"
    assert storage_problem(read_only).code == "app_database_read_only"
    assert storage_problem(bad_query) is None  # a bug, not the storage


def test_postgres_errors_by_their_sqlstate(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with pytest.raises(sa_exc.DBAPIError) as read_only, engine.begin() as connection:
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            connection.execute(sa.text("CREATE TABLE t (i INTEGER)"))
        with pytest.raises(sa_exc.DBAPIError) as duplicate, engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE u (i INTEGER PRIMARY KEY)"))
            connection.execute(sa.text("INSERT INTO u VALUES (1), (1)"))
    finally:
        engine.dispose()
    unreachable = sa.create_engine("postgresql+psycopg://cxloop@127.0.0.1:1/cxloop")
    with pytest.raises(sa_exc.OperationalError) as refused, unreachable.connect():
        pass
    assert storage_problem(read_only.value).code == "app_database_read_only"
    assert storage_problem(refused.value).code == "app_database_unreachable"
    assert storage_problem(duplicate.value) is None  # an IntegrityError is a bug or bad input


def test_duckdb_errors_by_what_they_say(tmp_path):
    (tmp_path / "bad.duckdb").write_bytes(b"not a database" * 1000)
    with pytest.raises(duckdb.IOException) as corrupt:
        duckdb.connect(str(tmp_path / "bad.duckdb"))
    assert storage_problem(corrupt.value).code == "warehouse_corrupt"
    assert storage_problem(duckdb.IOException('Could not write file "x": No space left on device')).code == (
        "disk_full"
    )
    locked = duckdb.IOException('Could not set lock on file "x": Conflicting lock is held in pid 1')
    assert storage_problem(locked).code == "warehouse_locked"
    assert storage_problem(duckdb.ConnectionException("Connection already closed!")).code == (
        "warehouse_unavailable"
    )
    assert storage_problem(duckdb.CatalogException("Table with name t does not exist")) is None


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk_full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk_full"),
        (OSError(errno.EROFS, "Read-only file system"), "read_only"),
        (OSError(errno.EIO, "Input/output error"), "io_error"),
        (FileNotFoundError(errno.ENOENT, "No such file"), None),
        (PermissionError(errno.EACCES, "Permission denied"), None),
        (ValueError("bad input"), None),
    ],
)
def test_os_errors_by_their_errno(error, code):
    problem = storage_problem(error)
    assert (problem.code if problem else None) == code


def test_a_storage_failure_is_found_in_what_an_error_was_raised_from():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise RuntimeError("the import stopped part-way") from cause
    except RuntimeError as wrapped:
        assert storage_problem(wrapped).code == "disk_full"
    explicit = StorageUnavailableError(storage_problem(OSError(errno.EROFS, "x")))
    assert storage_problem(explicit).code == "read_only"
    assert "/" not in storage_problem(explicit).message  # no path: anonymous callers read it
