"""``cxloop import KIND FILE``: validated, idempotent imports with a progress bar.

A thin layer over :func:`cxloop.services.listen.imports.import_file`. Exit codes: 0 every row was accepted or
was a duplicate; 1 some rows were rejected (the good ones are kept, the rejected ones are in the
quarantine file); 2 the file could not be used at all (nothing imported); 3 the import failed for another
reason (a database error, the warehouse locked by another process, a read error part-way): the batches
committed so far stay; running the same command again completes it.
"""

# No ``from __future__ import annotations``: the per-kind commands' Annotated help texts are built in a
# closure, and Typer evaluates string annotations in the module's globals.
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cxloop.cli._context import AsUser, CommandContext, ExitCodes, Failure, Json, command_settings
from cxloop.cli._exports import error_json, failure_message, run_export_import, stopped_message
from cxloop.services.listen.imports import (
    IMPORT_KINDS,
    ImportAborted,
    ImportFileError,
    ImportProgress,
    ImportSummary,
    import_file,
)
from cxloop.services.listen.undo import UndoRefused, list_runs, undo_import
from cxloop.warehouse.ingest.kinds import KINDS, KindSpec

__all__ = ["import_app"]

EXIT_UNUSABLE = 2
EXIT_STOPPED = 3

import_app = typer.Typer(
    help=(
        "Import a CSV, Parquet or JSON Lines file: units first, then customers, responses, transactions, "
        "contacts, subscriptions.\n\n"
        "Rows are validated; rejected rows go to a quarantine CSV (with file, row, column, reason) and the "
        "good ones are kept. Importing the same file twice changes nothing (keys already stored count as "
        "duplicates and are never overwritten; units are updated). Files of any size stream in "
        "all-or-nothing batches.\n\n"
        "Exit codes: 0 all rows accepted or duplicates; 1 some rows rejected; 2 the file could not be used "
        "(nothing imported); 3 failed or stopped part-way for another reason, e.g. a database error "
        "(run the same command again to complete it).\n\n"
        "The canonical columns and the mapping file for other column names: docs/data-formats.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# The options every kind's command takes (``responses`` adds the survey-tool export ones).
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", "-m", help="YAML mapping file for other column names (docs/data-formats.md)."),
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option(
        "--batch-size", min=1, help="Rows per all-or-nothing batch (default CXLOOP_IMPORT_BATCH_SIZE)."
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")]
AcceptPartialOption = Annotated[
    bool,
    typer.Option(
        "--accept-partial",
        help="Import the good rows even when one reason rejects more than CXLOOP_IMPORT_MAX_REJECTED_SHARE "
        "(5%) of the file; without it such a file is refused whole (exit 2), as the rows kept would be a "
        "biased subset.",
    ),
]


def _help(spec: KindSpec) -> str:
    lines = [f"Import {spec.kind}. {spec.summary}", "", "[bold]Canonical columns[/] (* required):", ""]
    for column in spec.columns:
        star = "*" if column.required or column.name in spec.header_only else " "
        extra = "".join(f", {text}" for text in (column.range_text, column.length_text) if text)
        lines.append(f"  {star} [bold]{column.name}[/] ({column.type}{extra}): {escape(column.description)}")
        lines.append("")
    for note in spec.notes:
        lines += [escape(note), ""]
    example = spec.example.strip().splitlines()
    lines += ["[bold]Example[/]:", ""]
    lines += [f"  {escape(line)}" for line in example] + [""]
    lines += [f"  $ cxloop import {spec.kind} {spec.kind}.csv", ""]
    lines += [
        f"  $ cxloop import {spec.kind} export.csv --mapping {spec.kind}-mapping.yaml --json",
    ]
    return "\n".join(lines)


def _print_summary(console: Console, summary: ImportSummary) -> None:
    style = "green" if summary.exit_code == 0 else "yellow"
    console.print(
        f"[bold {style}]{summary.kind}[/] from {escape(summary.file)}: "
        f"[bold]{summary.accepted:,}[/] accepted, [bold]{summary.rejected:,}[/] rejected, "
        f"{summary.duplicates:,} duplicates, {summary.warnings:,} warnings"
        + (f" ({summary.inserted:,} new, {summary.updated:,} updated)" if summary.kind == "units" else ""),
        highlight=False,
    )
    for name in ("new_touchpoints", "new_segments", "new_items"):
        values = getattr(summary, name)
        if values:
            console.print(f"  {name.replace('_', ' ')}: {escape(', '.join(values))}", highlight=False)
    for note in summary.notes:
        console.print(f"  [yellow]warning:[/] {escape(note)}", highlight=False)
    for problem in summary.problems[:5]:
        where = escape(f"{problem['column']}: {problem['reason']}")
        console.print(f"  [red]row {problem['row']}[/] {where}", highlight=False)
    if summary.rejected > 5:
        console.print(f"  ... and {summary.rejected - 5:,} more rejected row(s)", highlight=False)
    if summary.quarantine:
        console.print(f"  quarantine: {escape(summary.quarantine)}", highlight=False)


def _progress(kind: str, err: Console, show: bool) -> tuple[Progress, Callable[[ImportProgress], None]]:
    progress = Progress(
        TextColumn(f"importing {kind}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
    )
    task = progress.add_task(kind, total=None, rows=0)

    def on_batch(event: ImportProgress) -> None:
        # Started on the first batch, so a file that cannot be used shows its error without a bar.
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=event.done, total=event.total, rows=event.rows)

    return progress, on_batch


def _run(
    kind: str,
    file: Path,
    mapping: Path | None,
    batch_size: int | None,
    as_json: bool,
    quiet: bool,
    accept_partial: bool = False,
    submitted_at: str | None = None,
) -> None:
    err = Console(stderr=True, soft_wrap=True)
    out = Console(soft_wrap=True)
    settings = command_settings()
    progress, on_batch = _progress(kind, err, not (as_json or quiet))

    try:
        try:
            summary = import_file(
                kind,
                file,
                settings=settings,
                mapping=mapping,
                batch_size=batch_size,
                progress=on_batch,
                accept_partial=accept_partial,
                submitted_at=submitted_at,
            )
        finally:
            progress.stop()
    except ImportFileError as exc:
        if as_json:
            typer.echo(error_json(kind, file, str(exc), EXIT_UNUSABLE))
        else:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            err.print("nothing was imported", highlight=False)
        raise typer.Exit(code=EXIT_UNUSABLE) from None
    except ImportAborted as exc:
        message = stopped_message(exc)
        if as_json:
            typer.echo(error_json(kind, file, message, EXIT_STOPPED, exc.summary))
        else:
            err.print(f"[bold red]stopped:[/] {escape(message)}", highlight=False)
        raise typer.Exit(code=EXIT_STOPPED) from None
    except Exception as exc:  # a database or I/O failure: say what, exit 3
        message = failure_message(exc)
        if as_json:
            typer.echo(error_json(kind, file, message, EXIT_STOPPED))
        else:
            err.print(f"[bold red]failed:[/] {escape(message)}", highlight=False)
        raise typer.Exit(code=EXIT_STOPPED) from None
    if as_json:
        typer.echo(json.dumps(summary.to_dict()))
    elif not quiet:
        _print_summary(out, summary)
    raise typer.Exit(code=summary.exit_code)


def _register(kind: str) -> None:
    spec = KINDS[kind]

    def command(
        file: Annotated[
            Path, typer.Argument(help=f"The {kind} file: .csv (or .csv.gz), .parquet or .jsonl.")
        ],
        mapping: MappingOption = None,
        batch_size: BatchSizeOption = None,
        as_json: Annotated[
            bool,
            typer.Option("--json", help="Print only a JSON summary (accepted, rejected, duplicates, ...)."),
        ] = False,
        quiet: QuietOption = False,
        accept_partial: AcceptPartialOption = False,
    ) -> None:
        _run(kind, file, mapping, batch_size, as_json, quiet, accept_partial)

    import_app.command(name=kind, help=_help(spec), no_args_is_help=True)(command)


def _register_responses() -> None:
    """``responses`` takes the plain options plus the survey-tool export ones (``--from`` ...)."""
    spec = KINDS["responses"]

    def command(
        file: Annotated[
            Path,
            typer.Argument(
                help="The responses file: .csv (or .csv.gz), .parquet or .jsonl; with --from, a survey "
                "tool's export (.csv, .tsv or .xlsx)."
            ),
        ],
        source: Annotated[
            str | None,
            typer.Option(
                "--from",
                help="The file is a survey tool's export: qualtrics, surveymonkey, googleforms, typeform, "
                "or auto (recognise it from its shape). A first import proposes a mapping and saves it "
                "under <CXLOOP_DATA_DIR>/mappings/; later exports of the same survey reuse it.",
            ),
        ] = None,
        unit: Annotated[
            str | None,
            typer.Option("--unit", help="With --from: every response of the file goes to this unit."),
        ] = None,
        yes: Annotated[
            bool,
            typer.Option("--yes", "-y", help="With --from: accept the proposed mapping without asking."),
        ] = False,
        include_preview: Annotated[
            bool,
            typer.Option(
                "--include-preview",
                help="With --from qualtrics: also import preview, test and spam responses (excluded and "
                "counted by default).",
            ),
        ] = False,
        mapping: MappingOption = None,
        batch_size: BatchSizeOption = None,
        as_json: Annotated[
            bool,
            typer.Option(
                "--json",
                help="Print only a JSON summary (accepted, rejected, duplicates, ...; with --from also "
                "detected_format and mapping).",
            ),
        ] = False,
        quiet: QuietOption = False,
        accept_partial: AcceptPartialOption = False,
        submitted_at: Annotated[
            str | None,
            typer.Option(
                "--submitted-at",
                help="For a file without timestamps: one date for every response (e.g. 2024-06-01), said in "
                "a warning. A column of period numbers is mapped instead with `period:` in a mapping file.",
            ),
        ] = None,
    ) -> None:
        if source is None:
            if unit or yes or include_preview:
                Console(stderr=True).print(
                    "[bold red]error:[/] --unit, --yes and --include-preview go with --from (a survey "
                    "tool's export); a plain file names its unit in a unit_id column"
                )
                raise typer.Exit(code=EXIT_UNUSABLE)
            _run("responses", file, mapping, batch_size, as_json, quiet, accept_partial, submitted_at)
            return
        if submitted_at is not None:
            Console(stderr=True).print(
                "[bold red]error:[/] --submitted-at is for a plain file; a survey tool's export has dates"
            )
            raise typer.Exit(code=EXIT_UNUSABLE)
        run_export_import(
            file,
            tool=source.strip().lower(),
            unit=unit,
            mapping=mapping,
            yes=yes,
            include_preview=include_preview,
            batch_size=batch_size,
            as_json=as_json,
            quiet=quiet,
            print_summary=_print_summary,
            progress_factory=lambda err, show: _progress("responses", err, show),
            accept_partial=accept_partial,
        )

    help_text = _help(spec) + (
        "\n\n[bold]Survey-tool exports[/] (Qualtrics, SurveyMonkey, Google Forms, Typeform; CSV or .xlsx):"
        "\n\n  $ cxloop import responses export.csv --from qualtrics --unit b01"
        "\n\n  $ cxloop import responses export.xlsx --from auto --yes --json"
    )
    import_app.command(name="responses", help=help_text, no_args_is_help=True)(command)


UNDO_EXIT_CODES = ExitCodes(Failure(UndoRefused, EXIT_UNUSABLE))


@import_app.command("runs")
@UNDO_EXIT_CODES
def runs_command(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many runs, newest first.")] = 30,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """The latest import runs, newest first: id (for `cxloop import undo RUN_ID`), kind, file, status
    (running, done, failed, undone) and counts."""
    with CommandContext(as_user=as_user, database="set up") as cmd:
        rows = list_runs(cmd.viewer, stores=cmd.stores, limit=limit)
    if as_json:
        typer.echo(json.dumps({"runs": [row.to_dict() for row in rows]}, indent=2))
        return
    table = Table("run", "kind", "file", "status", "accepted", "rejected", "duplicates", "started (UTC)")
    for row in rows:
        table.add_row(
            str(row.id), row.kind, escape(row.source), row.status, f"{row.accepted:,}", f"{row.rejected:,}",
            f"{row.duplicates:,}", f"{row.started_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    Console(soft_wrap=True).print(table)


@import_app.command("undo")
@UNDO_EXIT_CODES
def undo_command(
    run_id: Annotated[int, typer.Argument(help="The run to undo (`cxloop import runs` lists them).")],
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Remove exactly what an import run stored: its rows, their answers, attributes and comment tags, every
    derived table rebuilt, the data version bumped; the run is marked undone and audited. Refused (exit 2,
    with the reason) for a units run, a run still going or undone already, or a run whose responses opened
    cases."""
    with CommandContext(as_user=as_user, create_tables=True, database="up to date") as cmd:
        result = undo_import(cmd.viewer, run_id, stores=cmd.stores)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    removed = ", ".join(f"{n:,} {table}" for table, n in result.removed.items())
    Console(soft_wrap=True).print(
        f"import run {result.run_id} ({result.kind} from {escape(result.source)}) undone: {removed} removed",
        highlight=False,
    )


for _kind in IMPORT_KINDS:
    if _kind == "responses":
        _register_responses()
    else:
        _register(_kind)
