"""Proactive churn outreach: sweep the latest churn scores with a ``churn_risk`` rule (``cxloop predict
outreach RULE``).

The ``churn_risk`` kind (:mod:`cxloop.services.act.rules.churn_risk`) assigns the customers who answer a
survey as their responses arrive; :func:`run_outreach` assigns every qualifying customer of the rule's
scope at once, with the same seeded hold-out (:func:`~cxloop.services.act.rules.churn_risk.held_out`) and
one case per contacted customer. It lives apart from the kind because it looks the rule up and opens cases,
which the kinds' registry must not depend on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, visible_units
from cxloop.services.act import cases as case_service
from cxloop.services.act.rules.churn_risk import CHURN_RISK, assign, held_out, latest_scores, validate
from cxloop.services.act.rules.engine import get_rule
from cxloop.services.act.rules.kind import RuleError
from cxloop.store import units as unit_store
from cxloop.store.tables import utcnow

__all__ = ["OutreachRun", "held_out", "run_outreach"]


@dataclass(frozen=True)
class OutreachRun:
    """What a sweep did: customers assigned (contacted + held out) and the cases it opened."""

    campaign: str
    assigned: int
    contacted: int
    held_out: int
    cases_opened: tuple[int, ...]


def run_outreach(
    session: Session,
    con: BaseBackend,
    viewer: Viewer,
    rule: int | str,
    *,
    now: datetime | None = None,
    settings: Any = None,
) -> OutreachRun:
    """Sweep the latest churn scores with a ``churn_risk`` rule: assign every qualifying customer of the
    rule's scope (within the viewer's) not yet in its campaign, and open cases for the contacted ones."""
    found = get_rule(session, rule)
    if found.kind != CHURN_RISK.name:
        raise RuleError(f"rule {found.name!r} is a {found.kind} rule, not a {CHURN_RISK.name} rule")
    units = visible_units(session, viewer)
    if found.unit_id:
        units = units & frozenset(unit_store.subtree_ids(session, found.unit_id))
    now = now or utcnow()
    params = validate(found.params)
    assigned = assign(session, params, latest_scores(con, None, sorted(units)), now)
    opened = []
    for match, record in assigned:
        if record.arm != "contact":
            continue
        case, created = case_service.open_case(session, found, match, now=now, settings=settings)
        record.case_id = case.id
        if created:
            opened.append(case.id)
    session.flush()
    contacted = sum(1 for _, r in assigned if r.arm == "contact")
    return OutreachRun(
        campaign=params["campaign"],
        assigned=len(assigned),
        contacted=contacted,
        held_out=len(assigned) - contacted,
        cases_opened=tuple(opened),
    )
