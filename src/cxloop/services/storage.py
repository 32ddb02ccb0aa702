"""Storage failures told apart from bugs: a full disk, a read-only or corrupt data directory, a database that
cannot be reached.

Such a failure is not the user's input and not a bug in cxloop: the request could not be served *now*, and
an operator can act on it. :func:`storage_problem` recognises one in an exception (or in the exceptions it
was raised from) and names it with a :class:`StorageProblem`: a stable code, a sentence that names no path
or credential (fit for an anonymous caller) and what to do. The web app answers it 503 with that sentence
(``web/errors.py``), the command line prints it (``cli/_context.py``, ``cli/imports.py``), and the readiness
checks (:mod:`cxloop.services.readiness`) report it.

What is recognised, by the exception's class and its driver's own code (never by the class alone: a
``DatabaseError`` is also how a bad query reports):

* ``OSError`` with ``ENOSPC``/``EDQUOT`` (disk full), ``EROFS`` (read-only file system), ``EIO`` (any other
  ``OSError``, such as a missing file, stays what it was);
* SQLAlchemy's ``DBAPIError`` from SQLite (by ``sqlite_errorcode``: full, read-only, cannot open, corrupt,
  not a database, I/O error, busy), from PostgreSQL (by SQLSTATE: connection exceptions, disk full,
  insufficient resources, read-only transaction, shutting down, corruption) and any driver's
  ``OperationalError`` (the database is unreachable); the engine pool's ``TimeoutError`` (busy);
* DuckDB's ``IOException`` (corrupt file, disk full, read-only, not writable, locked by another process) and
  ``ConnectionException``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import duckdb
from sqlalchemy import exc as sa_exc

__all__ = ["STORAGE_ERRORS", "StorageProblem", "StorageUnavailableError", "storage_problem"]


@dataclass(frozen=True)
class StorageProblem:
    """A storage failure, named: ``code`` (stable, machine-readable), ``reason`` (one sentence, no paths or
    credentials) and ``action`` (what an operator does about it)."""

    code: str
    reason: str
    action: str

    @property
    def message(self) -> str:
        """The reason and the action, as one sentence."""
        return f"{self.reason}: {self.action}"


DISK_FULL = StorageProblem("disk_full", "the disk holding cxloop's data is full", "free space on it")
READ_ONLY = StorageProblem(
    "read_only",
    "the data directory is read-only",
    "make it writable (is its volume mounted read-only?)",
)
NOT_WRITABLE = StorageProblem(
    "not_writable",
    "the data directory is not writable by cxloop's user",
    "give that user write access to it",
)
IO_ERROR = StorageProblem("io_error", "the disk reports input/output errors", "check the disk and its volume")
APP_UNREACHABLE = StorageProblem(
    "app_database_unreachable",
    "the app database is unreachable",
    "check that it is running and that CXLOOP_DATABASE_URL names it",
)
APP_READ_ONLY = StorageProblem(
    "app_database_read_only",
    "the app database is read-only",
    "make it writable (its file and folder, or the server's read-only setting)",
)
APP_CORRUPT = StorageProblem(
    "app_database_corrupt", "the app database is corrupt", "restore it from a backup"
)
APP_BUSY = StorageProblem(
    "app_database_busy", "the app database is busy", "try again shortly; if it persists, check its load"
)
WAREHOUSE_CORRUPT = StorageProblem(
    "warehouse_corrupt",
    "the warehouse file is corrupt",
    "restore it from a backup, or move it aside and import the data again",
)
WAREHOUSE_LOCKED = StorageProblem(
    "warehouse_locked",
    "the warehouse file is locked by another process",
    "stop the other process using it (DuckDB has one writing process)",
)
WAREHOUSE_UNAVAILABLE = StorageProblem(
    "warehouse_unavailable",
    "the warehouse cannot be read or written",
    "check its file or server (the server log has the details)",
)


class StorageUnavailableError(RuntimeError):
    """Raised by cxloop itself where it finds the stores unusable (e.g. the readiness checks)."""

    def __init__(self, problem: StorageProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


#: The exception classes a storage failure arrives as (the web app registers its 503 answer for each; a
#: member whose instance is not recognised by :func:`storage_problem` is still a bug).
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    StorageUnavailableError,
    OSError,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    duckdb.IOException,
    duckdb.ConnectionException,
)

_OS_ERRORS = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: DISK_FULL,
    errno.EROFS: READ_ONLY,
    errno.EIO: IO_ERROR,
}

# https://www.sqlite.org/rescode.html (primary result codes; the low byte of an extended code)
_SQLITE_CODES = {
    3: APP_READ_ONLY,  # SQLITE_PERM
    5: APP_BUSY,  # SQLITE_BUSY
    6: APP_BUSY,  # SQLITE_LOCKED
    8: APP_READ_ONLY,  # SQLITE_READONLY
    10: IO_ERROR,  # SQLITE_IOERR
    11: APP_CORRUPT,  # SQLITE_CORRUPT
    13: DISK_FULL,  # SQLITE_FULL
    14: APP_UNREACHABLE,  # SQLITE_CANTOPEN
    26: APP_CORRUPT,  # SQLITE_NOTADB
}

# https://www.postgresql.org/docs/current/errcodes-appendix.html
_POSTGRES_STATES = {
    "25006": APP_READ_ONLY,  # read_only_sql_transaction
    "53100": DISK_FULL,  # disk_full
    "57P01": APP_UNREACHABLE,  # admin_shutdown
    "57P02": APP_UNREACHABLE,  # crash_shutdown
    "57P03": APP_UNREACHABLE,  # cannot_connect_now
    "58030": IO_ERROR,  # io_error
    "XX001": APP_CORRUPT,  # data_corrupted
    "XX002": APP_CORRUPT,  # index_corrupted
}
_POSTGRES_CLASSES = {"08": APP_UNREACHABLE, "53": APP_BUSY}  # connection exception; insufficient resources


def storage_problem(exc: BaseException) -> StorageProblem | None:
    """The storage failure ``exc`` stands for, or was raised from (its ``__cause__``/``__context__`` chain),
    or ``None`` when it is none (a bug, or bad input)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        problem = _one(current)
        if problem is not None:
            return problem
        current = current.__cause__ or current.__context__
    return None


def _one(exc: BaseException) -> StorageProblem | None:
    if isinstance(exc, StorageUnavailableError):
        return exc.problem
    if isinstance(exc, sa_exc.DBAPIError):
        return _database(exc)
    if isinstance(exc, sa_exc.TimeoutError):
        return APP_BUSY  # the engine's connection pool is exhausted
    if isinstance(exc, duckdb.IOException):
        return _duckdb_io(str(exc))
    if isinstance(exc, duckdb.ConnectionException):
        return WAREHOUSE_UNAVAILABLE
    if isinstance(exc, OSError) and exc.errno is not None:
        return _OS_ERRORS.get(exc.errno)
    return None


def _database(exc: sa_exc.DBAPIError) -> StorageProblem | None:
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return _SQLITE_CODES.get(sqlite_code & 0xFF)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str) and state:
        return _POSTGRES_STATES.get(state) or _POSTGRES_CLASSES.get(state[:2])
    if isinstance(exc, sa_exc.OperationalError):
        return APP_UNREACHABLE  # no code: the driver could not reach the server
    return None


def _duckdb_io(text: str) -> StorageProblem:
    lowered = text.lower()
    if "not a valid duckdb database" in lowered or "corrupt" in lowered or "checksum" in lowered:
        return WAREHOUSE_CORRUPT
    if "no space left" in lowered or "disk quota" in lowered:
        return DISK_FULL
    if "read-only file system" in lowered:
        return READ_ONLY
    if "permission denied" in lowered:
        return NOT_WRITABLE
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        return WAREHOUSE_LOCKED
    return WAREHOUSE_UNAVAILABLE
