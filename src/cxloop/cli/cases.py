"""``cxloop cases ...``: alert rules and closed-loop cases.

Registers its command group on ``cxloop.cli._app.app`` when imported. A thin layer over
:mod:`cxloop.services.act.cases`, :mod:`cxloop.services.act.rules.engine` and
:mod:`cxloop.services.act.recovery`; the command line acts as an administrator at the top of the hierarchy
unless ``--as EMAIL`` names a user (then it sees what that user sees).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from cxloop.cli._console import fail
from cxloop.cli._context import AsUser, CommandContext, DatabaseNotReadyError, ExitCodes, Failure, Json
from cxloop.services.access import identity
from cxloop.services.access.scope import (
    NoHierarchyError,
    ScopeError,
    UnknownUnitError,
    UnknownUserError,
    require_unit,
)
from cxloop.services.act import cases as svc
from cxloop.services.act import notifications as notify
from cxloop.services.act import recovery as outcomes
from cxloop.services.act.rules import engine as alerts

__all__ = ["cases_app", "rules_app"]

cases_app = typer.Typer(
    help=(
        "Closed-loop cases: alert rules open a case for the accountable owner of the response's unit; owners "
        "contact, resolve and close them; SLA breaches escalate up the hierarchy.\n\n"
        "`cxloop cases rules add detractors --kind nps_at_most --params '{\"threshold\": 6}'` adds a rule; "
        "`cxloop cases owner b01 manager@bank.example` sets who owns a unit's cases; "
        "`cxloop cases list --open`; "
        "`cxloop cases escalate` (schedule it with cron, e.g. every 5 minutes) escalates breached cases and "
        "sends pending e-mails and webhooks. See docs/cases.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
rules_app = typer.Typer(
    help="Alert rules: which responses open cases (admins). `cxloop cases rules kinds` lists the kinds.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
cases_app.add_typer(rules_app, name="rules")

EXIT_CODES = ExitCodes(
    Failure(DatabaseNotReadyError),
    Failure((svc.CaseNotFoundError, alerts.RuleNotFoundError)),
    Failure((ScopeError, UnknownUnitError, UnknownUserError, NoHierarchyError)),
    Failure(
        (svc.NotAllowedError, alerts.NotAllowedError),
        message=lambda exc: f"{exc} (use --as with an administrator, or no --as)",
    ),
    Failure(svc.TransitionError, message=lambda exc: exc.detail()),
    Failure((alerts.RuleError, ValueError)),
)


def _context(as_user: str | None = None) -> CommandContext:
    """The command's stores and viewer, once the app database is known to be at this cxloop's revision."""
    return CommandContext(as_user=as_user, database="up to date")


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M")


def _case_dict(case: Any, owner: str | None) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "status": str(case.status),
        "rule": case.details.get("rule"),
        "unit_id": case.unit_id,
        "response_id": case.response_id,
        "customer_id": case.customer_id,
        "owner": owner,
        "opened_at": case.opened_at.isoformat(),
        "first_contact_due": case.first_contact_due.isoformat(),
        "resolution_due": case.resolution_due.isoformat(),
        "escalation_level": case.escalation_level,
        "root_cause": case.root_cause,
        "resolution_note": case.resolution_note,
        "follow_up_score": case.follow_up_score,
    }


def _owner(session: Session, user_id: int | None) -> str | None:
    user = identity.get_user(session, user_id) if user_id else None
    return user.email if user else None


@cases_app.command("list")
@EXIT_CODES
def list_command(
    as_user: AsUser = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's subtree.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only cases the --as user owns.")] = False,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="new, contacted, in_progress...")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open cases.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases with a breached SLA.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Json = False,
) -> None:
    """List cases, newest first (what the viewer may see)."""
    with _context(as_user) as cmd:
        session, viewer = cmd.session, cmd.viewer
        if unit is not None:
            require_unit(session, viewer, unit)
        page = svc.list_cases(
            session,
            viewer,
            mine=mine,
            unit_id=unit,
            status=status,
            open_only=open_only,
            overdue=overdue,
            per_page=limit,
        )
        rows = [_case_dict(c, _owner(session, c.owner_user_id)) for c in page.cases]
        total = page.total
    if as_json:
        typer.echo(json.dumps({"total": total, "cases": rows}, indent=2))
        return
    table = Table(title=f"{total} case(s)" + (f", showing {len(rows)}" if len(rows) < total else ""))
    for column in ("id", "status", "unit", "owner", "opened", "title"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["status"],
            row["unit_id"],
            escape(row["owner"] or "unassigned"),
            row["opened_at"][:16].replace("T", " "),
            escape(row["title"]),
        )
    Console().print(table)


@cases_app.command("show")
@EXIT_CODES
def show_command(
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """A case with its SLA clocks and audit trail."""
    with _context(as_user) as cmd:
        found = svc.case_detail(cmd.session, cmd.viewer, case_id, None)
        case = found["case"]
        data = {
            **_case_dict(case, _owner(cmd.session, case.owner_user_id)),
            "sla": found["sla"],
            "details": case.details,
            "trail": [
                {
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "actor": e.actor,
                    "changes": e.changes,
                    "note": e.note,
                }
                for e in found["trail"]
            ],
        }
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    console = Console(highlight=False)
    console.print(f"[bold]Case {data['id']}[/]: {escape(data['title'])}")
    for label, key in (
        ("status", "status"),
        ("owner", "owner"),
        ("unit", "unit_id"),
        ("customer", "customer_id"),
    ):
        console.print(f"  {label}: {escape(str(data[key] or '-'))}")
    for clock, state in data["sla"].items():
        console.print(
            f"  {clock.replace('_', ' ')}: {state['state']} (due {state['due'][:16].replace('T', ' ')})"
        )
    table = Table(title="audit trail")
    for column in ("at", "action", "by", "changes / note"):
        table.add_column(column)
    for event in data["trail"]:
        changes = "; ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in event["changes"].items())
        table.add_row(
            event["at"][:19].replace("T", " "),
            event["action"],
            escape(event["actor"]),
            escape(" | ".join(x for x in (changes, event["note"] or "") if x)),
        )
    console.print(table)


@cases_app.command("move")
@EXIT_CODES
def move_command(
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    to: Annotated[
        str, typer.Argument(help="contacted, in_progress, resolved, closed (reopen: in_progress).")
    ],
    as_user: AsUser = None,
    note: Annotated[str | None, typer.Option("--note", help="What was done.")] = None,
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="Needed to close.")] = None,
    resolution_note: Annotated[str | None, typer.Option("--resolution", help="Needed to close.")] = None,
    follow_up_score: Annotated[float | None, typer.Option("--follow-up-score", min=0, max=10)] = None,
) -> None:
    """Move a case along the workflow (audited). Root-cause codes: see docs/cases.md."""
    with _context(as_user) as cmd:
        session, viewer = cmd.session, cmd.viewer
        case = svc.transition(
            session,
            viewer,
            case_id,
            to,
            actor=identity.audit_actor(session, viewer, otherwise="cli"),
            note=note,
            root_cause=root_cause,
            resolution_note=resolution_note,
            follow_up_score=follow_up_score,
            settings=cmd.settings,
        )
        status = str(case.status)
    typer.echo(f"case {case_id}: {status}")


@cases_app.command("escalate")
@EXIT_CODES
def escalate_command(
    now: Annotated[
        str | None,
        typer.Option("--now", help="Evaluate SLAs at this ISO time instead of the clock (replays)."),
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Also send pending notifications.")
    ] = True,
    as_json: Json = False,
) -> None:
    """Escalate SLA-breached cases to the next owner up, then send pending notifications.

    Each clock escalates a case once, so it is safe to run often (cron) and side by side with the web app's
    own job.
    """
    at = None
    if now is not None:
        try:
            at = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise fail(f"--now {now!r} is not an ISO date-time such as 2026-11-23T10:00:00Z") from None
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    with _context() as cmd:
        result = svc.escalate(cmd.session, now=at, settings=cmd.settings)
    sent = None
    if deliver:  # after the escalations are committed: delivery writes from sessions of its own
        with CommandContext() as cmd:
            sent = notify.deliver_pending(cmd.engine, cmd.settings, now=at)
    payload = {
        "checked": result.checked,
        "escalated": list(result.escalated),
        "breached_without_anyone_above": list(result.unowned),
        "notifications": None
        if sent is None
        else {"sent": sent.sent, "retried": sent.retried, "failed": sent.failed},
    }
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(
        f"escalated {len(result.escalated)} case(s) of {result.checked} overdue"
        + (f"; notifications sent {sent.sent}, to retry {sent.retried}, failed {sent.failed}" if sent else "")
    )


@cases_app.command("owner")
@EXIT_CODES
def owner_command(
    unit: Annotated[str, typer.Argument(help="The unit id.")],
    email: Annotated[str | None, typer.Argument(help="The owner's e-mail; leave out with --clear.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the unit's owner.")] = False,
) -> None:
    """Set the one accountable owner of a unit.

    Its new cases go to them, and so do those of units below it that have no owner.
    """
    if email is None and not clear:
        raise fail("give the owner's e-mail, or --clear")
    with _context() as cmd:
        session, viewer = cmd.session, cmd.viewer
        svc.set_unit_owner(
            session,
            viewer,
            unit,
            None if clear else email,
            actor=identity.audit_actor(session, viewer, otherwise="cli"),
        )
    typer.echo(f"{unit}: owner {'cleared' if clear else email}")


@cases_app.command("outcomes")
@EXIT_CODES
def outcomes_command(
    as_user: AsUser = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's subtree.")] = None,
    days: Annotated[
        int, typer.Option("--days", min=7, max=730, help="Repurchase window after a response.")
    ] = 90,
    as_json: Json = False,
) -> None:
    """Recovery of contacted detractors, and repurchase of contacted vs not (observational)."""
    with _context(as_user) as cmd:
        data = outcomes.loop_outcomes(
            cmd.session,
            cmd.viewer,
            cmd.warehouse,
            unit_id=unit,
            window_days=days,
            confidence=cmd.settings.confidence,
            min_n=cmd.settings.min_n,
        ).to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return

    def share(s: dict[str, Any]) -> str:
        if s["estimate"] is None:
            return f"n = {s['n']}" + (" (suppressed: too few)" if s["suppressed"] else "")
        return f"{s['estimate']:.1%} [{s['ci_low']:.1%}, {s['ci_high']:.1%}] ({s['successes']}/{s['n']})"

    typer.echo(f"recovery (follow-up score above the original): {share(data['recovery'])}")
    typer.echo(f"repurchase within {days} days, contacted detractors: {share(data['contacted'])}")
    typer.echo(f"repurchase within {days} days, not contacted:       {share(data['not_contacted'])}")
    if data["difference"] is not None:
        low, high = data["difference_ci"]
        typer.echo(
            f"difference: {data['difference']:+.1%} [{low:+.1%}, {high:+.1%}], p = {data['p_value']:.3f}"
        )
    typer.echo(data["caveat"])


@rules_app.command("kinds")
def kinds_command() -> None:
    """The kinds of rule and their parameters."""
    table = Table()
    for column in ("kind", "matches", "example params"):
        table.add_column(column)
    for kind in sorted(alerts.KINDS.values(), key=lambda k: k.name):
        table.add_row(kind.name, escape(kind.description), escape(json.dumps(dict(kind.example))))
    Console().print(table)


@rules_app.command("add")
@EXIT_CODES
def rules_add_command(
    name: Annotated[str, typer.Argument(help="A unique name.")],
    kind: Annotated[str, typer.Option("--kind", help="See `cxloop cases rules kinds`.")],
    params: Annotated[
        str, typer.Option("--params", help="JSON parameters, e.g. '{\"threshold\": 6}'.")
    ] = "{}",
    first_contact_hours: Annotated[float, typer.Option("--first-contact-hours", min=0.01)] = 24.0,
    resolution_hours: Annotated[float, typer.Option("--resolution-hours", min=0.01)] = 120.0,
    unit: Annotated[str | None, typer.Option("--unit", help="Only responses in this subtree.")] = None,
    survey: Annotated[str | None, typer.Option("--survey", help="Only responses to this survey.")] = None,
) -> None:
    """Add an active rule (audited)."""
    try:
        parsed = json.loads(params)
    except ValueError as exc:
        raise fail(f"--params is not JSON: {exc}") from None
    with _context() as cmd:
        session, viewer = cmd.session, cmd.viewer
        rule = alerts.create_rule(
            session,
            viewer,
            name=name,
            kind=kind,
            params=parsed,
            unit_id=unit,
            survey_id=survey,
            first_contact_hours=first_contact_hours,
            resolution_hours=resolution_hours,
            actor=identity.audit_actor(session, viewer, otherwise="cli"),
        )
        rule_id = rule.id
    typer.echo(f"rule {rule_id} {name!r} added")


@rules_app.command("list")
@EXIT_CODES
def rules_list_command(as_json: Json = False) -> None:
    """Every rule, active or not."""
    with _context() as cmd:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "params": r.params,
                "unit_id": r.unit_id,
                "survey_id": r.survey_id,
                "first_contact_hours": r.first_contact_hours,
                "resolution_hours": r.resolution_hours,
                "active": r.active,
            }
            for r in alerts.list_rules(cmd.session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} rule(s)")
    for column in ("id", "name", "kind", "params", "SLA (h)", "active"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(r["name"]),
            r["kind"],
            escape(json.dumps(r["params"])),
            f"{r['first_contact_hours']:g} / {r['resolution_hours']:g}",
            "yes" if r["active"] else "no",
        )
    Console().print(table)


@rules_app.command("disable")
@EXIT_CODES
def rules_disable_command(rule: Annotated[str, typer.Argument(help="The rule's id or name.")]) -> None:
    """Stop a rule opening cases (its cases and history stay)."""
    with _context() as cmd:
        session, viewer = cmd.session, cmd.viewer
        disabled = alerts.disable_rule(
            session, viewer, rule, actor=identity.audit_actor(session, viewer, otherwise="cli")
        ).name
    typer.echo(f"rule {disabled!r} disabled")
