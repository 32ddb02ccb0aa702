"""``cxloop db ...``: the app database's migrations.

A thin layer over :mod:`cxloop.store.migrate`; the database is ``CXLOOP_DATABASE_URL`` (default: the SQLite
file ``<CXLOOP_DATA_DIR>/cxloop.db``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from alembic.util import CommandError
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from cxloop.cli._console import fail
from cxloop.cli._context import ExitCodes, Failure, command_settings
from cxloop.store import migrate

__all__ = ["db_app"]

db_app = typer.Typer(
    help=(
        "The app database (org hierarchy, users, surveys, cases, pilots): create and migrate its tables.\n\n"
        "It lives at CXLOOP_DATABASE_URL, by default the SQLite file <CXLOOP_DATA_DIR>/cxloop.db; "
        "for PostgreSQL set CXLOOP_DATABASE_URL=postgresql+psycopg://user@host/dbname."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

T = TypeVar("T")


def _database() -> tuple[str, str]:
    """The URL from the settings, and the same with any password hidden (for printing)."""
    url = command_settings().resolved_database_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError as exc:
        raise fail(f"CXLOOP_DATABASE_URL is not a database URL: {exc}") from exc
    return url, shown


def _reach(shown: str, action: Callable[[], T]) -> T:
    """Run ``action``, turning an unreachable database or an unknown revision into a one-line error."""
    return ExitCodes(
        Failure(
            OperationalError,
            message=lambda exc: f"cannot reach the app database {shown}: {exc.orig}",
            before_storage=True,
        ),
        Failure(CommandError),
    ).run(action)


def _label(revision: str | None) -> str:
    return revision if revision is not None else "(empty database)"


@db_app.command("upgrade")
def upgrade_command(
    revision: Annotated[
        str,
        typer.Argument(help="Revision to migrate to; the default 'head' is the newest this cxloop ships."),
    ] = "head",
) -> None:
    """Create or migrate the app database's tables (safe to run again; it only applies what is missing).

    Run it after installing or upgrading cxloop. Prints the revision before and after.
    """
    url, shown = _database()
    console = Console(soft_wrap=True)
    before = _reach(shown, lambda: migrate.current(url))
    _reach(shown, lambda: migrate.upgrade(url, revision))
    after = migrate.current(url)
    console.print(f"app database [bold]{shown}[/]", highlight=False)
    if before == after:
        console.print(f"already at [bold]{_label(after)}[/] - nothing to do", highlight=False)
    else:
        console.print(
            f"migrated [bold]{_label(before)}[/] -> [bold green]{_label(after)}[/]", highlight=False
        )


@db_app.command("current")
def current_command(
    check: Annotated[
        bool, typer.Option("--check", help="Exit with code 1 unless the database is at the newest revision.")
    ] = False,
) -> None:
    """Show the app database's revision and whether it is up to date."""
    url, shown = _database()
    console = Console(soft_wrap=True)
    revision = _reach(shown, lambda: migrate.current(url))
    newest = migrate.head()
    console.print(f"app database [bold]{shown}[/]", highlight=False)
    if revision == newest:
        console.print(f"revision [bold green]{revision}[/] (up to date)", highlight=False)
        return
    console.print(
        f"revision [bold yellow]{_label(revision)}[/], newest is [bold]{newest}[/]: run `cxloop db upgrade`",
        highlight=False,
    )
    if check:
        raise typer.Exit(code=1)


@db_app.command("downgrade")
def downgrade_command(
    revision: Annotated[
        str,
        typer.Argument(help="Revision to go back to, e.g. 0001, or 'base' to drop every table (all data)."),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate the app database back to an older revision. This can delete tables and their data.

    Asks for confirmation unless --yes is given. Back up the database first.
    """
    url, shown = _database()
    console = Console(soft_wrap=True)
    before = _reach(shown, lambda: migrate.current(url))
    if not yes:
        typer.confirm(
            f"Downgrade the app database {shown} from {_label(before)} to {revision}? "
            "Tables added since then are dropped with their data",
            abort=True,
        )
    _reach(shown, lambda: migrate.downgrade(url, revision))
    after = migrate.current(url)
    console.print(f"app database [bold]{shown}[/]", highlight=False)
    console.print(f"downgraded [bold]{_label(before)}[/] -> [bold yellow]{_label(after)}[/]", highlight=False)
