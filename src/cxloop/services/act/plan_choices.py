"""What the target and action forms offer: the viewer's units, the driver items, touchpoints and metrics.

One function, so the targets page and the actions page offer the same choices, and the web layer reads
the catalogue through ``services`` only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.services.access.units import unit_choices
from cxloop.services.act.targets import GRANULARITIES, HEADLINE_METRICS
from cxloop.store.tables import Question, Touchpoint

__all__ = ["plan_choices"]


def plan_choices(session: Session, viewer: Viewer) -> dict[str, Any]:
    """The choices of the target and action forms, as template context.

    Returns
    -------
    dict
        ``units`` (:class:`~cxloop.services.access.units.UnitChoice`, the viewer's subtree in tree order),
        ``drivers`` (``{"id", "label"}`` of each driver item), ``touchpoints`` (``{"id", "name"}`` in
        journey order), ``metrics`` (the headline metrics, then ``item:<id>`` of each driver item) and
        ``granularities`` (the period lengths a target can cover).
    """
    drivers = session.execute(
        select(Question.question_id, Question.label).where(Question.is_driver).order_by(Question.question_id)
    ).all()
    touchpoints = session.execute(
        select(Touchpoint.touchpoint_id, Touchpoint.name).order_by(Touchpoint.stage_order)
    ).all()
    return {
        "units": unit_choices(session, viewer),
        "drivers": [{"id": q, "label": label} for q, label in drivers],
        "touchpoints": [{"id": t, "name": n} for t, n in touchpoints],
        "metrics": [*HEADLINE_METRICS, *(f"item:{q}" for q, _ in drivers)],
        "granularities": GRANULARITIES,
    }
