"""Assembly of the Typer app from the command-group modules."""

from __future__ import annotations

import typer

from cxloop import __version__

app = typer.Typer(
    name="cxloop",
    help=(
        "cxloop: a customer-experience programme platform.\n\n"
        "listen -> understand what matters -> act -> prove the return -> scale.\n\n"
        "Settings come from CXLOOP_* environment variables (see the README); by default everything "
        "lives in ./cxloop-data (a SQLite app database and a DuckDB warehouse).\n\n"
        "Start with `cxloop demo generate` for a demo company, or `cxloop db upgrade` then "
        "`cxloop import units FILE` for your own data."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cxloop {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """cxloop command line."""


def _register() -> None:
    # Each command group registers itself on import; a missing group is a bug, so no try/except here.
    from cxloop.cli import (  # noqa: F401
        actions,
        cases,
        clv,
        db,
        demo,
        drivers,
        imports,
        metrics,
        pilot,
        predict,
        serve,
        targets,
        text,
        users,
    )


_register()
