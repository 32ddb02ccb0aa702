"""Is this process ready to serve: both stores reachable and writable, migrations current, disk headroom.

``/healthz`` says the process is alive and touches no store; ``/readyz`` asks :class:`ReadinessProbe` for a
:class:`Readiness`, one :class:`Check` per question below, each ``ok`` or with a ``reason`` an operator can
act on (no path, no URL, no credential: the answer is for anonymous callers such as a load balancer):

* ``app_database``: a connection, and one row written and committed (``health_probe``,
  :mod:`cxloop.store.health`): a full disk, a read-only file or a read-only server fails it;
* ``migrations``: the app database is at the newest revision this cxloop ships;
* ``warehouse``: a connection and its list of tables (a corrupt DuckDB file, or one locked by another
  process, fails to open);
* ``data_directory``: a small file written, flushed to disk and removed, in the data directory and in the
  folders of a SQLite or DuckDB file kept elsewhere;
* ``disk``: at least ``CXLOOP_MIN_FREE_DISK_MB`` free on each of those folders' file systems.

The checks cost a few milliseconds and one small committed write; a probe runs them at most once per
``min_interval`` seconds (callers in between share the last answer), so a flood of anonymous requests does not
become a flood of writes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cxloop.config import Settings
from cxloop.services.storage import storage_problem
from cxloop.services.stores import session_scope
from cxloop.store import health, migrate

__all__ = ["CHECKS", "Check", "Readiness", "ReadinessProbe"]

CHECKS = ("app_database", "migrations", "warehouse", "data_directory", "disk")
"""The checks, in the order they are reported."""

PROBE_BYTES = 4096


@dataclass(frozen=True)
class Check:
    """One check's answer: ``ok``, or why not (``reason``)."""

    name: str
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class Readiness:
    """Every check's answer; ready when all are ok."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


@cache
def _head() -> str:
    return migrate.head()


def _why(exc: BaseException, otherwise: str) -> str:
    """A failure's reason for anyone to read: the storage failure it is, else ``otherwise`` with the
    exception's class (never its text, which may hold a path or a URL)."""
    problem = storage_problem(exc)
    if problem is not None:
        return problem.message
    return f"{otherwise} ({type(exc).__name__}; the server log has the details)"


class ReadinessProbe:
    """The readiness checks over one app's stores.

    Parameters
    ----------
    settings
        The data directory, the database and warehouse URLs, ``min_free_disk_mb``.
    engine
        The app database's engine (the app's own, so the check goes through its pool).
    warehouse
        Gives a warehouse connection for the check and takes it back (the web app's pool ``borrow``).
    min_interval
        Seconds an answer is reused for (0: every call checks).
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        warehouse: Callable[[], AbstractContextManager[BaseBackend]],
        *,
        min_interval: float = 1.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.warehouse = warehouse
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last: tuple[float, Readiness] | None = None

    def check(self) -> Readiness:
        """Every check (or the answer of less than ``min_interval`` seconds ago)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.min_interval:
                return self._last[1]
            database, migrations = self._app_database()
            readiness = Readiness(
                (database, migrations, self._warehouse(), self._folders_writable(), self._disk())
            )
            self._last = (time.monotonic(), readiness)
            return readiness

    # --- the checks -------------------------------------------------------------------------------------

    def _app_database(self) -> tuple[Check, Check]:
        revision: str | None = None
        read = False  # the revision: the database answered
        try:
            with session_scope(self.engine) as session:
                revision = migrate.current_on(session.connection())
                read = True
                if revision == _head():
                    health.probe_write(session)  # committed when the block ends
            database = Check("app_database", True)
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            if not read:
                unusable = "not checked: the app database cannot be used"
                return Check("app_database", False, _why(exc, "the app database cannot be reached")), Check(
                    "migrations", False, unusable
                )
            database = Check("app_database", False, _why(exc, "the app database cannot be written"))
        if revision is None:
            migrations = Check(
                "migrations", False, "the app database has no tables yet: run `cxloop db upgrade`"
            )
        elif revision != _head():
            migrations = Check(
                "migrations",
                False,
                "the app database's schema is not this cxloop's: run `cxloop db upgrade` (or upgrade cxloop, "
                "if a newer one migrated it)",
            )
        else:
            migrations = Check("migrations", True)
        return database, migrations

    def _warehouse(self) -> Check:
        try:
            with self.warehouse() as con:
                con.list_tables()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return Check("warehouse", False, _why(exc, "the warehouse cannot be reached"))
        return Check("warehouse", True)

    def _folders_writable(self) -> Check:
        for role, folder in self._folders():
            try:
                _write_probe(folder)
            except FileNotFoundError:
                return Check("data_directory", False, f"{role} does not exist")
            except PermissionError:
                return Check("data_directory", False, f"{role} is not writable by cxloop's user")
            except OSError as exc:
                problem = storage_problem(exc)
                if problem is not None and problem.code == "read_only":
                    return Check("data_directory", False, f"{role} is read-only: {problem.action}")
                return Check("data_directory", False, f"{role}: " + _why(exc, "a file cannot be written"))
        return Check("data_directory", True)

    def _disk(self) -> Check:
        wanted = self.settings.min_free_disk_mb * 2**20
        for role, folder in self._folders():
            try:
                free = shutil.disk_usage(folder).free
            except OSError:
                continue  # a missing folder is the data_directory check's answer
            if free < wanted:
                return Check(
                    "disk",
                    False,
                    f"the disk holding {role} is nearly full: {free / 2**30:.2f} GiB free, at least "
                    f"{wanted / 2**30:.2f} GiB wanted (CXLOOP_MIN_FREE_DISK_MB); free space on it",
                )
        return Check("disk", True)

    def _folders(self) -> list[tuple[str, Path]]:
        """The local folders cxloop writes, by what an operator calls them (the data directory first)."""
        folders = [("the data directory", self.settings.data_dir)]
        database = make_url(self.settings.resolved_database_url)
        if database.get_backend_name() == "sqlite" and database.database not in (None, "", ":memory:"):
            folders.append(("the app database's folder", Path(str(database.database)).parent))
        warehouse = self.settings.resolved_warehouse_url
        if warehouse.startswith("duckdb://") and warehouse.removeprefix("duckdb://") not in ("", ":memory:"):
            folders.append(("the warehouse's folder", Path(warehouse.removeprefix("duckdb://")).parent))
        seen: set[Path] = set()
        unique = []
        for role, folder in folders:
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                unique.append((role, folder))
        return unique


def _write_probe(folder: Path) -> None:
    """Write a small file in ``folder``, flush it to the disk and remove it."""
    descriptor, name = tempfile.mkstemp(prefix=".cxloop-ready-", dir=folder)
    try:
        os.write(descriptor, b"\0" * PROBE_BYTES)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
        os.unlink(name)
