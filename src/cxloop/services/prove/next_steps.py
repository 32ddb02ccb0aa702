"""My next steps: what the person logged in should do now, across the loop, in one list.

The home page and ``GET /api/v1/me/next-steps`` show the same answer of :func:`next_steps`, for the viewer's
own unit and their own work:

* **the top priority**: the first row of "Where to improve first" with a gap, its expected gain and the
  fields of a prefilled "Create action" (:mod:`cxloop.services.understand.priorities`);
* **targets off track** in the viewer's subtree (:func:`cxloop.services.act.targets.target_progress`);
* **cases** assigned to them and still open, the overdue first;
* **actions** they own that are due in the next 7 days (or overdue);
* **pilots awaiting a decision**: started, touching their subtree, no decision recorded.

Each section says in words when it is empty ("No overdue cases"). It lives in ``prove`` because it reads
every domain before it (the order of :mod:`cxloop.services` is the loop's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cxloop.services.access.scope import Viewer
from cxloop.services.act import actions as act
from cxloop.services.act import cases as case_service
from cxloop.services.act import targets as tgt
from cxloop.services.prove.pilots import list_pilots
from cxloop.services.stores import Stores
from cxloop.services.understand.drivers import NoDriverDataError
from cxloop.services.understand.metrics import NoDataError
from cxloop.services.understand.priorities import priorities
from cxloop.stats.drivers import DriverAnalysisError
from cxloop.store.tables import utcnow

__all__ = ["ACTIONS_DUE_DAYS", "NextSteps", "next_steps"]

#: Actions due within this many days count as next steps.
ACTIONS_DUE_DAYS = 7
#: At most this many targets are measured for the list (each is one warehouse query).
_TARGETS_MEASURED = 12
_SHOWN = 10


@dataclass(frozen=True)
class NextSteps:
    """The viewer's next steps: ``top_priority`` (or ``None``) and lists of ``targets_off_track``,
    ``cases``, ``actions_due`` and ``pilots_awaiting_decision``, each item with ``title``, ``detail`` and
    ``link``; ``empty`` holds the sentence to show for each empty section."""

    unit_id: str
    top_priority: dict[str, Any] | None
    targets_off_track: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    actions_due: list[dict[str, Any]] = field(default_factory=list)
    pilots_awaiting_decision: list[dict[str, Any]] = field(default_factory=list)
    empty: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "top_priority": self.top_priority,
            "targets_off_track": self.targets_off_track,
            "cases": self.cases,
            "actions_due": self.actions_due,
            "pilots_awaiting_decision": self.pilots_awaiting_decision,
            "empty": self.empty,
        }


def next_steps(viewer: Viewer, *, stores: Stores, now: datetime | None = None) -> NextSteps:
    """What ``viewer`` should do next (see the module docstring). ``now`` is the clock (tests set it)."""
    now = now or utcnow()
    today = now.date()
    session = stores.session
    top = _top_priority(viewer, stores)
    off_track = _targets_off_track(viewer, stores, now)
    cases = _my_cases(viewer, stores, now) if viewer.user_id is not None else []
    due = _actions_due(viewer, stores, today) if viewer.user_id is not None else []
    pilots = [
        {
            "id": pilot.id,
            "title": pilot.name,
            "detail": f"Running since {pilot.start_date.isoformat()}: scale, iterate or stop?",
            "link": f"/pilots/{pilot.id}",
        }
        for pilot in list_pilots(session, viewer)
        if not pilot.decisions and pilot.start_date <= today
    ][:_SHOWN]
    empty = {
        "top_priority": "Nothing to improve first yet: no driver answers, or every item at its benchmark.",
        "targets_off_track": "No target off track.",
        "cases": "No open cases assigned to you." if viewer.user_id is not None else "No cases: not a user.",
        "actions_due": f"No actions due in the next {ACTIONS_DUE_DAYS} days.",
        "pilots_awaiting_decision": "No pilot awaiting a decision.",
    }
    found = {
        "top_priority": top,
        "targets_off_track": off_track,
        "cases": cases,
        "actions_due": due,
        "pilots_awaiting_decision": pilots,
    }
    if not any(c["overdue"] for c in cases):
        empty["overdue"] = "No overdue cases."
    return NextSteps(
        unit_id=viewer.unit_id,
        top_priority=top,
        targets_off_track=off_track,
        cases=cases,
        actions_due=due,
        pilots_awaiting_decision=pilots,
        empty={k: v for k, v in empty.items() if not found.get(k)},
    )


def _top_priority(viewer: Viewer, stores: Stores) -> dict[str, Any] | None:
    try:
        result = priorities(viewer, stores=stores, unit_id=viewer.unit_id)
    except (NoDriverDataError, NoDataError, DriverAnalysisError, ValueError):
        return None
    if result.suppressed:
        return None
    rows = [r for r in result.to_dict()["priorities"] if (r.get("gap") or 0) > 0]
    if not rows:
        return None
    row = rows[0]
    impact = row.get("expected_nps_points")
    return {
        "driver": row["driver"],
        "title": f"Improve: {row['label']}"[:200],
        "label": row["label"],
        "detail": row["why"],
        "benchmark_label": row["benchmark_label"],
        "expected_nps_points": impact,
        "expected_margin": row.get("expected_margin"),
        "currency": result.currency,
        "link": f"/units/{viewer.unit_id}/priorities",
        "action": {
            "unit_id": viewer.unit_id,
            "driver": row["driver"],
            "expected_impact": "" if impact is None else f"{impact:.4g}",
            "title": f"Improve: {row['label']}"[:200],
        },
    }


def _targets_off_track(viewer: Viewer, stores: Stores, now: datetime) -> list[dict[str, Any]]:
    out = []
    for target in tgt.list_targets(stores.session, viewer)[:_TARGETS_MEASURED]:
        try:
            progress = tgt.target_progress(viewer, target, stores=stores, now=now)
        except (NoDataError, LookupError, ValueError):
            continue
        if progress.verdict != "off_track":
            continue
        seen = progress.target
        out.append(
            {
                "id": target.id,
                "title": f"{progress.metric_label} target {seen['period']} for "
                f"{seen['unit_name'] or seen['unit_id']}",
                "detail": progress.sentence,
                "gap": progress.gap,
                "link": "/targets",
            }
        )
    return out[:_SHOWN]


def _my_cases(viewer: Viewer, stores: Stores, now: datetime) -> list[dict[str, Any]]:
    page = case_service.list_cases(stores.session, viewer, mine=True, open_only=True, per_page=50, now=now)
    out = []
    for case in page.cases:
        sla = case_service.sla_state(case, now)
        overdue = any(clock["state"] == "breached" for clock in sla.values())
        out.append(
            {
                "id": case.id,
                "title": case.title,
                "detail": ("Overdue: " if overdue else "Open: ")
                + str(getattr(case.status, "value", case.status)).replace("_", " "),
                "overdue": overdue,
                "link": f"/cases/{case.id}",
            }
        )
    out.sort(key=lambda c: not c["overdue"])  # overdue first, newest first within each
    return out[:_SHOWN]


def _actions_due(viewer: Viewer, stores: Stores, today: date) -> list[dict[str, Any]]:
    page = act.list_actions(stores.session, viewer, mine=True, status="open", per_page=200)
    horizon = today + timedelta(days=ACTIONS_DUE_DAYS)
    due = sorted(
        ((a.due_date, a) for a in page.actions if a.due_date is not None and a.due_date <= horizon),
        key=lambda pair: (pair[0], pair[1].id),
    )
    return [
        {
            "id": action.id,
            "title": action.title,
            "detail": ("Overdue since " if day < today else "Due ") + day.isoformat(),
            "due_date": day.isoformat(),
            "link": f"/actions/{action.id}",
        }
        for day, action in due[:_SHOWN]
    ]
