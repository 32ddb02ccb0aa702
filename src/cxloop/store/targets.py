"""Targets as the metrics layer reads them: every stored target of some units on some metrics.

Targets are written by :mod:`cxloop.services.act.targets` (with their audit rows); this is the one read the
metrics layer needs to put a target beside each number.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.tables import Target

__all__ = ["stored_targets"]


def stored_targets(
    session: Session, unit_ids: list[str] | frozenset[str], metrics: list[str] | tuple[str, ...]
) -> list[Target]:
    """Every target of these units on these metrics (any period), for the metrics layer's comparison."""
    if not unit_ids or not metrics:
        return []
    stmt = select(Target).where(Target.unit_id.in_(list(unit_ids)), Target.metric.in_(list(metrics)))
    return list(session.scalars(stmt.order_by(Target.unit_id, Target.metric, Target.period_start)))
