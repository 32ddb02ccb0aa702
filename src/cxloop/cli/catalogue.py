"""``cxloop catalogue ...``: the touchpoints, segments and driver items rows may name.

The catalogue is global, so it grows only through an admin of the whole organisation: this command (run
by whoever runs the server), ``cxloop import``, or an import or post by such an admin. A key or user scoped
to part of the organisation, and a signed webhook, may only name what is here: their rows naming anything
else are rejected with the reason (``docs/data-formats.md``, "The catalogue").
Exit codes: 0 done; 2 the request cannot be done as asked (an id in use or against the rules, a full
catalogue).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxloop.cli._context import CommandContext, DatabaseNotReadyError, ExitCodes, Failure, Json
from cxloop.services.listen import catalogue

__all__ = ["catalogue_app"]

EXIT_BAD_REQUEST = 2
EXIT_CODES = ExitCodes(Failure((DatabaseNotReadyError, ValueError), EXIT_BAD_REQUEST))

catalogue_app = typer.Typer(
    help=(
        "The catalogue: touchpoints, segments and driver items. Only an admin of the whole organisation adds "
        "to it (this command, `cxloop import`, or their imports and posts); other keys and webhooks may name "
        "only what is here. Item ids: 1 to 64 lower-case letters, digits and _; touchpoint and segment ids: "
        "1 to 64 letters, digits, spaces and _-.,:/&+()'#, starting with a letter or digit."
    ),
    no_args_is_help=True,
)


def _context() -> CommandContext:
    return CommandContext(database="up to date")


def _done(text: str) -> None:
    Console(soft_wrap=True).print(text, highlight=False)


@catalogue_app.command("list")
@EXIT_CODES
def list_command(as_json: Json = False) -> None:
    """Every touchpoint (in journey order), segment and driver item."""
    with _context() as cmd:
        entries = catalogue.catalogue_entries(cmd.session)
    if as_json:
        typer.echo(json.dumps([asdict(e) for e in entries], indent=2))
        return
    table = Table("kind", "id", "name", "")
    for entry in entries:
        table.add_row(entry.kind, escape(entry.id), escape(entry.name), entry.detail)
    Console().print(table)


@catalogue_app.command("add-item")
@EXIT_CODES
def add_item_command(
    item: Annotated[str, typer.Argument(help="The item's id: rows answer it in column q_<ITEM>.")],
    label: Annotated[str, typer.Option(help="The question as respondents read it.")] = "",
    scale: Annotated[
        tuple[float, float], typer.Option(help="Lowest and highest answer, e.g. --scale 1 5.")
    ] = (0.0, 10.0),
) -> None:
    """Add a driver item (at most CXLOOP_MAX_ITEMS in the catalogue)."""
    with _context() as cmd:
        catalogue.add_item(cmd.session, item, settings=cmd.settings, label=label, scale=scale)
    _done(f"added driver item [bold]{escape(item)}[/] (column q_{escape(item)})")


@catalogue_app.command("add-touchpoint")
@EXIT_CODES
def add_touchpoint_command(
    touchpoint: Annotated[str, typer.Argument(help="The touchpoint's id, e.g. branch_visit.")],
    name: Annotated[str, typer.Option(help="Its name on pages (default: from the id).")] = "",
) -> None:
    """Add a touchpoint at the end of the journey."""
    with _context() as cmd:
        catalogue.add_touchpoint(cmd.session, touchpoint, name=name)
    _done(f"added touchpoint [bold]{escape(touchpoint)}[/]")


@catalogue_app.command("add-segment")
@EXIT_CODES
def add_segment_command(
    segment: Annotated[str, typer.Argument(help="The segment's id, e.g. premium.")],
    name: Annotated[str, typer.Option(help="Its name on pages (default: from the id).")] = "",
    value_rank: Annotated[int | None, typer.Option(min=1, help="1 = the most valuable segment.")] = None,
) -> None:
    """Add a customer segment."""
    with _context() as cmd:
        catalogue.add_segment(cmd.session, segment, name=name, value_rank=value_rank)
    _done(f"added segment [bold]{escape(segment)}[/]")
