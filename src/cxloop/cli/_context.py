"""What every command works with: its settings, its stores, the viewer it acts as, and how its errors end.

A command reads its settings with :func:`command_settings` (built once per command line, from
``CXLOOP_*``), opens its stores and viewer with :class:`CommandContext` (each opened when first used, all
closed when the command ends; the app-database session commits on success and rolls back on any error)
and hands ``cmd.stores`` to the services that take them. Its repeated options come from the aliases below
(``--as``, ``--unit``, ``--json``), and one :class:`ExitCodes` per command group says which errors end a
command with which exit code and message. The plumbing comes from :mod:`cxloop.services.stores`, so a
command imports ``cxloop.store`` or ``cxloop.warehouse`` only for real work.

Examples
--------
A group declares its exit codes once; each command opens what it uses::

    EXIT_CODES = ExitCodes(Failure((LookupError, PermissionError, ValueError)))

    @group.command("list")
    @EXIT_CODES
    def list_command(as_user: AsUser = None, as_json: Json = False) -> None:
        with CommandContext(as_user=as_user) as cmd:
            rows = service.list_things(cmd.session, cmd.viewer)
        print_json(rows) if as_json else print_table(rows)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import click
import typer
from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cxloop.cli._console import fail
from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, acting_viewer
from cxloop.services.storage import storage_problem
from cxloop.services.stores import Stores, connect_warehouse, engine_for, session_scope
from cxloop.store import migrate

__all__ = [
    "AsUser",
    "AtUnit",
    "CommandContext",
    "DatabaseNotReadyError",
    "ExitCodes",
    "Failure",
    "Json",
    "command_settings",
    "storage_message",
]

P = ParamSpec("P")
T = TypeVar("T")

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this user (e-mail): their role, and their unit's subtree only. "
        "Default: an admin at the top of the hierarchy.",
    ),
]
AtUnit = Annotated[
    str | None,
    typer.Option(
        "--unit", help="Act as an admin of this unit: its subtree only (default: the whole organisation)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_SETTINGS = "cxloop.settings"


def command_settings() -> Settings:
    """The settings of the command being run, read from the environment once per command line.

    Outside a command (a test calling a helper) they are read afresh.
    """
    context = click.get_current_context(silent=True)
    if context is None:
        return Settings()
    meta = context.find_root().meta
    if _SETTINGS not in meta:
        meta[_SETTINGS] = Settings()
    found: Settings = meta[_SETTINGS]
    return found


# --- errors and exit codes ------------------------------------------------------------------------------


class DatabaseNotReadyError(Exception):
    """The app database has no tables yet, or is older than this cxloop (the message says what to run)."""


@dataclass(frozen=True)
class Failure:
    """How one family of errors ends a command.

    Parameters
    ----------
    errors : type or tuple of types
        The exception classes (subclasses included).
    code : int
        The exit code.
    message : callable
        The line(s) written to stderr after ``label``, from the exception (default: its text).
    label : str
        The word before the message (``error``, or ``no data`` where nothing is wrong but the data).
    before_storage : bool
        Matched before the storage failure every group shares (a command that says more about its store
        than the general sentence, e.g. ``cxloop db`` naming the database it could not reach).
    """

    errors: type[Exception] | tuple[type[Exception], ...]
    code: int = 1
    message: Callable[[Any], str] = str
    label: str = "error"
    before_storage: bool = False


def storage_message(exc: BaseException) -> str | None:
    """What a command prints for a storage failure (:mod:`cxloop.services.storage`: a full disk, a read-only
    or corrupt data directory, an unreachable database): the reason, what to do, and the driver's own words;
    ``None`` when ``exc`` is not one."""
    problem = storage_problem(exc)
    if problem is None:
        return None
    detail = getattr(exc, "orig", None) or exc  # a database error's driver message, without the SQL
    return f"storage unavailable: {problem.message}\n  ({type(detail).__name__}: {detail})"


#: Every group's failure for a storage failure, matched before the group's own (an ``OperationalError`` of a
#: full disk is not an app database that is "not set up yet").
STORAGE_FAILURE = Failure(Exception, 1, lambda exc: storage_message(exc) or str(exc))


class ExitCodes:
    """A command group's errors mapped to exit codes and messages: the first :class:`Failure` that matches
    wins, so a subclass with its own code goes before its base class. A storage failure (a full disk, a
    read-only or corrupt data directory, an unreachable database) ends every command with exit code 1 and
    what to do, whatever the group's table says. Anything else propagates (a bug shows its traceback).

    Used as a decorator on a command (below Typer's ``@group.command``), as a context manager
    (:meth:`guard`), or around one call (:meth:`run`).
    """

    def __init__(self, *failures: Failure) -> None:
        self.failures = failures

    def failure_for(self, exc: BaseException) -> Failure | None:
        """The first failure whose errors include ``exc``, or None."""
        if isinstance(exc, click.exceptions.Exit | click.exceptions.Abort | click.ClickException):
            return None  # already a decision about how the command ends
        found = next((f for f in self.failures if isinstance(exc, f.errors)), None)
        if found is not None and found.before_storage:
            return found
        if storage_problem(exc) is not None:
            return STORAGE_FAILURE
        return found

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a mapped error raised inside into its message on stderr and its exit code."""
        try:
            yield
        except Exception as exc:
            failure = self.failure_for(exc)
            if failure is None:
                raise
            raise fail(failure.message(exc), failure.code, label=failure.label) from None

    def run(self, action: Callable[[], T]) -> T:
        """``action()``, its mapped errors ending the command."""
        with self.guard():
            return action()

    def __call__(self, command: Callable[P, T]) -> Callable[P, T]:
        """``command`` with its mapped errors ending it; Typer still reads the original signature."""

        @functools.wraps(command)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            with self.guard():
                return command(*args, **kwargs)

        return guarded


# --- stores and viewer ----------------------------------------------------------------------------------

DatabaseCheck = Literal["set up", "up to date"]


class CommandContext:
    """The settings, stores and viewer of one command, each opened when first used and closed at the end.

    Parameters
    ----------
    as_user : str, optional
        ``--as EMAIL``: act as this active user (their role and scope).
    unit : str, optional
        Without ``as_user``: act as an admin at this unit. With neither, an admin at the top of the
        hierarchy (:func:`cxloop.services.access.scope.acting_viewer`).
    create_tables : bool
        Create any missing warehouse table when the warehouse is opened (the services that write to it,
        or read tables an import may not have made yet, want them).
    database : {"set up", "up to date"}, optional
        Check the app database's migrations on entering: that it has tables, or also that it is at the
        newest revision; :class:`DatabaseNotReadyError` says what to run otherwise.

    Notes
    -----
    The session commits when the ``with`` block ends without an error and rolls back otherwise; the
    warehouse connection and the engine are closed either way. Print after the block, so nothing is
    reported that was not committed.
    """

    def __init__(
        self,
        *,
        as_user: str | None = None,
        unit: str | None = None,
        create_tables: bool = False,
        database: DatabaseCheck | None = None,
    ) -> None:
        self.settings = command_settings()
        self._as_user = as_user
        self._unit = unit
        self._create_tables = create_tables
        self._database = database
        self._stack = ExitStack()
        self._engine: Engine | None = None
        self._session: Session | None = None
        self._warehouse: BaseBackend | None = None
        self._viewer: Viewer | None = None

    def __enter__(self) -> CommandContext:
        if self._database is not None:
            _check_database(self.settings, self._database)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.__exit__(kind, exc, trace)

    @property
    def engine(self) -> Engine:
        """The app database's engine (disposed when the command ends)."""
        if self._engine is None:
            self._engine = engine_for(self.settings)
            self._stack.callback(self._engine.dispose)
        return self._engine

    @property
    def session(self) -> Session:
        """An app-database session: one transaction for the whole command."""
        if self._session is None:
            self._session = self._stack.enter_context(session_scope(self.engine))
        return self._session

    @property
    def warehouse(self) -> BaseBackend:
        """The warehouse connection (disconnected when the command ends)."""
        if self._warehouse is None:
            self._warehouse = connect_warehouse(self.settings, create_tables=self._create_tables)
            self._stack.callback(self._warehouse.disconnect)
        return self._warehouse

    @property
    def stores(self) -> Stores:
        """Settings, session and warehouse together, for a service that takes :class:`Stores`."""
        return Stores(settings=self.settings, session=self.session, warehouse=self.warehouse)

    @property
    def viewer(self) -> Viewer:
        """Who the command acts as: the ``--as`` user, else an admin at ``--unit``, else at the top."""
        if self._viewer is None:
            self._viewer = acting_viewer(self.session, as_user=self._as_user, unit_id=self._unit)
        return self._viewer


def _check_database(settings: Settings, check: DatabaseCheck) -> None:
    url = settings.resolved_database_url
    if migrate.current(url) is None:
        raise DatabaseNotReadyError(
            "the app database is not set up yet: run `cxloop db upgrade` (or `cxloop demo generate`)"
        )
    if check == "up to date" and not migrate.is_up_to_date(url):
        raise DatabaseNotReadyError(
            "the app database is behind this version of cxloop: run `cxloop db upgrade`"
        )
