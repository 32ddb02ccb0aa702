"""Assembly of the Typer app from the command modules, listed in one place (:func:`_register`)."""

from __future__ import annotations

import typer

from cxloop import __version__
from cxloop.cli import (
    actions,
    cases,
    catalogue,
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
    """Attach every command group and top-level command, in the order ``cxloop --help`` lists them.

    The one list of the command line: the command modules define their groups and commands without knowing
    this app (nothing registers itself on import, and no command module imports this one back).
    """
    groups = (
        (actions.actions_app, "actions"),
        (cases.cases_app, "cases"),
        (catalogue.catalogue_app, "catalogue"),
        (clv.clv_app, "clv"),
        (db.db_app, "db"),
        (demo.demo_app, "demo"),
        (imports.import_app, "import"),
        (pilot.pilot_app, "pilot"),
        (predict.predict_app, "predict"),
        (targets.targets_app, "targets"),
        (text.text_app, "text"),
        (users.users_app, "users"),
        (users.apikeys_app, "apikeys"),
    )
    for group, name in groups:
        app.add_typer(group, name=name)
    app.command("drivers")(drivers.drivers_command)
    app.command("metrics", help=metrics.HELP)(metrics.metrics_command)
    app.command("serve")(serve.serve_command)


_register()
