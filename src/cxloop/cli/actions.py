"""``cxloop actions ...``: action plans.

A thin layer over :mod:`cxloop.services.act.actions`, acting as an admin at the top of the hierarchy unless
``--as EMAIL`` makes it act as that user. Exit codes: 0 done; 1 not found; 2 the request cannot be done as
asked (bad value, outside the scope, not allowed, a status move the workflow does not allow).
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxloop.cli._console import fail
from cxloop.cli._context import AsUser, CommandContext, Json
from cxloop.cli._plans import EXIT_BAD_REQUEST, EXIT_CODES, AsOf, now_from, parse_day
from cxloop.services.act import actions as svc

__all__ = ["actions_app"]

actions_app = typer.Typer(
    help=(
        "Action plans: one accountable owner, a due date, a status, notes, and the measured change.\n\n"
        "`cxloop actions create 'Second teller at lunch' --unit br-0001 --driver wait_time --due 2026-03-31` "
        "adds one (owned by the unit's accountable owner unless --owner); `cxloop actions list --mine --as "
        "EMAIL` lists someone's; `cxloop actions update 7 --status in_progress` moves it (planned, "
        "in_progress, done, cancelled, reopen); `cxloop actions note 7 'rota agreed'` adds a progress note; "
        "`cxloop actions overdue` lists open actions past their due date; `cxloop actions show 7` prints it "
        "with its notes, audit trail and the change in its metric before vs after it started."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _impact(value: str | None) -> tuple[str | None, float | None]:
    if value is None:
        return None, None
    return svc.parse_expected_impact(value)


def _print_list(records: list[dict[str, Any]], total: int, as_json: bool, page: int, per_page: int) -> None:
    if as_json:
        typer.echo(
            json.dumps({"actions": records, "total": total, "page": page, "per_page": per_page}, indent=2)
        )
        return
    table = Table("id", "title", "unit", "owner", "status", "due", "overdue", "impact")
    for r in records:
        impact = (
            f"{r['impact_points']:+.1f} {r['impact_metric'] or ''}" if r["impact_points"] is not None else "-"
        )
        table.add_row(
            str(r["id"]), escape(r["title"]), escape(r["unit_id"]),
            escape(r["owner"]["email"] if r["owner"] else "-"), r["status"].replace("_", " "),
            r["due_date"] or "-",
            f"{r['days_overdue']} days" if r["overdue"] else "", impact,
        )  # fmt: skip
    console = Console(soft_wrap=True)
    console.print(table)
    shown = len(records)
    console.print(f"{shown} of {total:,} (page {page}, {per_page} a page)", highlight=False)


@actions_app.command("create")
@EXIT_CODES
def create_command(
    title: Annotated[str, typer.Argument(help="What will be done, in a few words.")],
    unit: Annotated[str, typer.Option(help="The unit the action is for.")],
    owner: Annotated[
        str | None, typer.Option(help="Owner's e-mail (one person). Default: the unit's accountable owner.")
    ] = None,
    description: Annotated[str, typer.Option(help="Details.")] = "",
    driver: Annotated[str | None, typer.Option(help="The driver item it works on (question id).")] = None,
    touchpoint: Annotated[str | None, typer.Option(help="The touchpoint it works on.")] = None,
    priority: Annotated[str | None, typer.Option(help="The priority it came from (free text).")] = None,
    due: Annotated[str | None, typer.Option(help="Due date (YYYY-MM-DD).")] = None,
    horizon: Annotated[
        str, typer.Option(help="short_term (a fix) or long_term (an initiative).")
    ] = "short_term",
    cost: Annotated[float | None, typer.Option(help="What it costs.")] = None,
    impact: Annotated[
        str | None, typer.Option(help="Expected impact in points: 3 (NPS) or csat=4, item:wait_time=0.3.")
    ] = None,
    target: Annotated[list[int] | None, typer.Option(help="A target it serves (repeatable).")] = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Create a planned action."""
    metric, points = _impact(impact)
    draft = svc.ActionDraft(
        title=title, unit_id=unit, owner=owner, description=description, driver=driver,
        touchpoint_id=touchpoint, priority=priority, due_date=parse_day(due, "--due"), horizon=horizon,
        cost=cost,
        impact_metric=(metric or "nps") if points is not None else None, impact_points=points,
        target_ids=tuple(target or ()),
    )  # fmt: skip
    with CommandContext(as_user=as_user) as cmd:
        action = svc.create_action(cmd.session, cmd.viewer, draft)
        record = svc.action_dict(cmd.session, action)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    owner_email = record["owner"]["email"] if record["owner"] else "-"
    Console(soft_wrap=True).print(
        f"action #{record['id']} created: {escape(record['title'])} (owner {escape(owner_email)})",
        highlight=False,
    )


@actions_app.command("list")
@EXIT_CODES
def list_command(
    mine: Annotated[bool, typer.Option("--mine", help="Only actions you own (with --as).")] = False,
    unit: Annotated[str | None, typer.Option(help="Only this unit's subtree.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="planned, in_progress, done, cancelled or open (planned or in progress)."),
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open actions past their due date.")
    ] = False,
    target: Annotated[int | None, typer.Option(help="Only actions linked to this target.")] = None,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=500, help="Actions a page.")] = 50,
    as_of: AsOf = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Actions in your scope, newest first."""
    now = now_from(as_of)
    with CommandContext(as_user=as_user) as cmd:
        session = cmd.session
        result = svc.list_actions(
            session, cmd.viewer, mine=mine, unit_id=unit, status=status, overdue=overdue, target_id=target,
            page=page, per_page=per_page, now=now,
        )  # fmt: skip
        records = [svc.action_dict(session, a, now=now) for a in result.actions]
    _print_list(records, result.total, as_json, page, per_page)


@actions_app.command("overdue")
@EXIT_CODES
def overdue_command(
    unit: Annotated[str | None, typer.Option(help="Only this unit's subtree.")] = None,
    as_of: AsOf = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Open actions whose due date has passed, the longest overdue first."""
    now = now_from(as_of)
    with CommandContext(as_user=as_user) as cmd:
        session = cmd.session
        result = svc.list_actions(session, cmd.viewer, unit_id=unit, overdue=True, per_page=500, now=now)
        records = [svc.action_dict(session, a, now=now) for a in result.actions]
    _print_list(records, result.total, as_json, 1, 500)


@actions_app.command("update")
@EXIT_CODES
def update_command(
    action_id: Annotated[int, typer.Argument(help="The action's id.")],
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    owner: Annotated[str | None, typer.Option(help="Hand it to this user (e-mail).")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    due: Annotated[str | None, typer.Option(help="New due date (YYYY-MM-DD).")] = None,
    horizon: Annotated[str | None, typer.Option(help="short_term or long_term.")] = None,
    cost: Annotated[float | None, typer.Option(help="New cost.")] = None,
    impact: Annotated[str | None, typer.Option(help="Expected impact: 3 (NPS) or csat=4.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Move it: planned, in_progress, done, cancelled or reopen.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note recorded with the status move.")] = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Change fields of an action and/or move it through the workflow (each change audited)."""
    changes: dict[str, Any] = {}
    for name, value in (
        ("title", title),
        ("owner", owner),
        ("description", description),
        ("horizon", horizon),
    ):
        if value is not None:
            changes[name] = value
    if due is not None:
        changes["due_date"] = parse_day(due, "--due")
    if cost is not None:
        changes["cost"] = cost
    if impact is not None:
        metric, points = _impact(impact)
        changes["impact_metric"], changes["impact_points"] = (metric or "nps"), points
    if not changes and status is None:
        raise fail(
            "nothing to change: give --status or a field (--title, --due, --owner ...)", EXIT_BAD_REQUEST
        )
    if note is not None and status is None:
        raise fail(
            "--note goes with --status; add a note on its own with `cxloop actions note ID TEXT`",
            EXIT_BAD_REQUEST,
        )
    with CommandContext(as_user=as_user) as cmd:
        session, viewer = cmd.session, cmd.viewer
        if changes:
            svc.update_action(session, viewer, action_id, changes)
        if status is not None:
            svc.transition(session, viewer, action_id, status, note=note)
        record = svc.action_dict(session, svc.get_action(session, viewer, action_id))
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    Console(soft_wrap=True).print(
        f"action #{record['id']}: {escape(record['title'])} is {record['status'].replace('_', ' ')}",
        highlight=False,
    )


@actions_app.command("note")
@EXIT_CODES
def note_command(
    action_id: Annotated[int, typer.Argument(help="The action's id.")],
    text: Annotated[str, typer.Argument(help="The progress note.")],
    as_user: AsUser = None,
) -> None:
    """Add a dated progress note to an action (as the acting user)."""
    with CommandContext(as_user=as_user) as cmd:
        note = svc.add_note(cmd.session, cmd.viewer, action_id, text)
        when = note.created_at.strftime("%Y-%m-%d %H:%M")
    Console(soft_wrap=True).print(f"note added to action #{action_id} at {when} UTC", highlight=False)


@actions_app.command("show")
@EXIT_CODES
def show_command(
    action_id: Annotated[int, typer.Argument(help="The action's id.")],
    window: Annotated[int, typer.Option(min=7, max=730, help="Days in each before/after window.")] = 90,
    as_of: AsOf = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """An action with its notes, audit trail and the measured change in its linked metric."""
    now = now_from(as_of)
    with CommandContext(as_user=as_user) as cmd:
        session, viewer = cmd.session, cmd.viewer
        action = svc.get_action(session, viewer, action_id)
        record = svc.action_dict(session, action, now=now)
        record["notes"] = [
            {"at": n.created_at.isoformat(), "author": n.author, "body": n.body} for n in action.notes
        ]
        record["audit"] = [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "changes": e.changes,
                "note": e.note,
            }
            for e in svc.action_audit(session, viewer, action_id)
        ]
        change = svc.measured_change(viewer, action_id, stores=cmd.stores, window_days=window, now=now)
        record["measured_change"] = change.to_dict()
    if as_json:
        typer.echo(json.dumps(record, indent=2, default=str))
        return
    console = Console(soft_wrap=True)
    owner_email = record["owner"]["email"] if record["owner"] else "-"
    console.print(
        f"#{record['id']} {escape(record['title'])} - {escape(record['unit_id'])}, "
        f"owner {escape(owner_email)}, {record['status'].replace('_', ' ')}, due {record['due_date'] or '-'}",
        highlight=False,
    )
    for n in record["notes"]:
        console.print(f"  note {n['at'][:16]} {escape(n['author'])}: {escape(n['body'])}", highlight=False)
    for e in record["audit"]:
        console.print(f"  audit {e['at'][:16]} {escape(e['actor'])}: {escape(e['action'])}", highlight=False)
    console.print(escape(change.sentence), highlight=False)
    console.print(f"[dim]{escape(change.caveat)}[/]", highlight=False)
