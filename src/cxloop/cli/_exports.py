"""``cxloop import responses FILE --from TOOL``: survey-tool exports, with a mapping proposal.

Shows which tool the file comes from and the mapping (proposed, or saved for this survey), asks before
a first import unless ``--yes``, then runs the ordinary responses import with its progress bar and
summary. The logic lives in :mod:`cxloop.services.listen.survey_exports`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxloop.cli._context import command_settings, storage_message
from cxloop.services.listen.imports import ImportAborted, ImportFileError, ImportProgress, ImportSummary
from cxloop.services.listen.survey_exports import ExportPreview, import_export, preview_export, save_mapping

__all__ = ["error_json", "failure_message", "run_export_import", "stopped_message"]

EXIT_UNUSABLE = 2
EXIT_STOPPED = 3

_ROLE_TEXT = {
    "response_id": "response id",
    "submitted_at": "submitted at",
    "unit_id": "unit",
    "customer_id": "customer id",
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "comment": "comment",
    "attribute": "attribute",
    "ignored": "left out",
}


def mapping_table(preview: ExportPreview) -> Table:
    """The mapping as a rich table: export column, question, what it becomes, scale, why."""
    table = Table(title=f"Mapping for this {escape(preview.label)} export", show_lines=False)
    for name in ("column", "question", "becomes", "scale", "why"):
        table.add_column(name, overflow="fold")
    mapping = preview.mapping
    roles = {v: k for k, v in (mapping.get("columns") or {}).items()}
    items = {
        (spec["column"] if isinstance(spec, dict) else spec): (name, spec)
        for name, spec in (mapping.get("items") or {}).items()
    }
    attributes = set(mapping.get("export", {}).get("attributes", ()))
    for proposed in preview.proposal.columns:
        column = proposed.column
        scale = ""
        if column in roles:
            role = _ROLE_TEXT.get(roles[column], roles[column])
        elif column in items:
            name, spec = items[column]
            role = f"item {name}"
            if isinstance(spec, dict) and spec.get("scale"):
                scale = "{}-{}".format(*spec["scale"])
        elif column in attributes:
            role = "attribute"
        else:
            role = "left out"
        if role in {"NPS", "CSAT", "CES"}:
            scale = {"NPS": "0-10", "CSAT": "1-5", "CES": "1-7"}[role]
        why = proposed.reason if not preview.reused else "saved mapping"
        table.add_row(escape(column), escape(proposed.question[:60]), escape(role), scale, escape(why))
    for canonical, value in (mapping.get("constants") or {}).items():
        table.add_row("", "", escape(_ROLE_TEXT.get(canonical, canonical)), "", escape(f"every row: {value}"))
    return table


def error_json(kind: str, file: Path, message: str, code: int, summary: ImportSummary | None = None) -> str:
    """The one-line JSON an import prints on stdout with ``--json`` when it fails: the summary so far (or
    zero counts) with the error and the exit code."""
    data: dict[str, Any] = (
        summary.to_dict()
        if summary is not None
        else {
            "kind": kind,
            "file": str(file),
            "accepted": 0,
            "rejected": 0,
            "duplicates": 0,
            "quarantine": None,
        }
    )
    data.update(error=message, exit_code=code)
    return json.dumps(data)


def failure_message(exc: BaseException) -> str:
    """What an import says when it failed for a reason other than its file (exit 3): the storage failure and
    what to do about it, or the error; and that running it again completes it."""
    said = storage_message(exc) or f"{type(exc).__name__}: {exc}"
    return (
        f"{said} -- batches committed before the failure stay; fix the cause and run the same command again"
    )


def stopped_message(exc: ImportAborted) -> str:
    """What an import that stopped part-way says (exit 3), with the storage failure that stopped it, if one
    did."""
    said = storage_message(exc)
    return f"{said.splitlines()[0]}; {exc}" if said else str(exc)


def _error(file: Path, message: str, code: int, as_json: bool, err: Console, summary: Any = None) -> None:
    if as_json:
        typer.echo(error_json("responses", file, message, code, summary))
    else:
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        if code == EXIT_UNUSABLE:
            err.print("nothing was imported", highlight=False)
    raise typer.Exit(code=code)


def run_export_import(
    file: Path,
    *,
    tool: str,
    unit: str | None,
    mapping: Path | None,
    yes: bool,
    include_preview: bool,
    batch_size: int | None,
    as_json: bool,
    quiet: bool,
    print_summary: Callable[[Console, ImportSummary], None],
    progress_factory: Callable[[Console, bool], Any],
    accept_partial: bool = False,
) -> None:
    err = Console(stderr=True, soft_wrap=True)
    out = Console(soft_wrap=True)
    settings = command_settings()
    try:
        preview = preview_export(
            file, settings=settings, tool=tool, unit=unit, mapping=mapping, include_preview=include_preview
        )
    except ImportFileError as exc:
        _error(file, str(exc), EXIT_UNUSABLE, as_json, err)
    how = "detected" if tool == "auto" else "read as"
    encoding = f", {preview.encoding}" if preview.encoding else ""
    if not (as_json or quiet):
        out.print(
            f"{how} [bold]{escape(preview.label)}[/] export ({preview.container}{escape(encoding)}): "
            f"{escape(str(file))}",
            highlight=False,
        )
        if preview.reused:
            out.print(f"using the saved mapping {escape(str(preview.mapping_path))}", highlight=False)
        out.print(mapping_table(preview))
        for note in (*preview.proposal.notes, *preview.notes) if not preview.reused else preview.notes:
            out.print(f"  [yellow]note:[/] {escape(note)}", highlight=False)
    if not preview.reused and not yes:
        saved = save_mapping(preview)
        if as_json or quiet or not sys.stdin.isatty():
            _error(
                file,
                f"first import of this survey: the proposed mapping is saved at {saved}; review it "
                "(edit it if "
                "needed) and run the same command again, or pass --yes to accept the proposal",
                EXIT_UNUSABLE,
                as_json,
                err,
            )
        try:
            accepted = typer.confirm(f"Import with this mapping? (saved at {saved}; edit it to change it)")
        except click.exceptions.Abort:
            accepted = False
        if not accepted:
            err.print(f"nothing imported; edit {escape(str(saved))} and run the same command again")
            raise typer.Exit(code=EXIT_UNUSABLE)
    progress, on_batch = progress_factory(err, not (as_json or quiet))

    def callback(event: ImportProgress) -> None:
        on_batch(event)

    try:
        try:
            result = import_export(
                file,
                settings=settings,
                tool=preview.detected_format,
                unit=unit,
                mapping=mapping,
                include_preview=include_preview,
                batch_size=batch_size,
                progress=callback,
                preview=preview,
                accept_partial=accept_partial,
            )
        finally:
            progress.stop()
    except ImportFileError as exc:
        _error(file, str(exc), EXIT_UNUSABLE, as_json, err)
    except ImportAborted as exc:
        _error(file, stopped_message(exc), EXIT_STOPPED, as_json, err, exc.summary)
    except Exception as exc:  # a database or I/O failure: say what, exit 3
        _error(file, failure_message(exc), EXIT_STOPPED, as_json, err)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    elif not quiet:
        print_summary(out, result.summary)
        for note in result.notes:
            out.print(f"  [yellow]warning:[/] {escape(note)}", highlight=False)
        if result.attributes:
            out.print(f"  {result.attributes:,} response attribute value(s) kept", highlight=False)
        out.print(f"  mapping: {escape(result.mapping_path)}", highlight=False)
    raise typer.Exit(code=result.exit_code)
