"""What every command group prints the same way: errors on stderr with an exit code, and JSON on stdout."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cxloop.services.jsonable import jsonable

__all__ = ["fail", "print_json"]


def fail(message: str, code: int = 1, *, label: str = "error") -> typer.Exit:
    """``error: message`` on stderr (escaped: never read as rich markup); ``raise`` what it returns.

    ``label`` replaces ``error`` where the command did nothing wrong but found nothing (``no data``).
    """
    Console(stderr=True, soft_wrap=True).print(f"[bold red]{label}:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=code)


def print_json(payload: Any) -> None:
    """``payload`` as indented JSON: NaN becomes null, numpy and pandas values plain ones, dates ISO 8601."""
    typer.echo(json.dumps(jsonable(payload), indent=2))
