"""Closing the loop on outcomes: do contacted detractors recover, and do they stay and buy again?

* **Recovery rate**: of the detractor cases that were contacted and have a follow-up score (the score the
  owner recorded after contact, else the customer's next survey response after the contact), the share
  whose score went up, with a Wilson interval.
* **Repurchase of detractors, contacted vs not**: every detractor response in scope whose follow-up window
  has passed (``window_days`` after the response, by the last transaction in the warehouse), split by
  whether a case for it was contacted; the share with a purchase in the window, and the difference with
  Newcombe's hybrid score interval.

The second comparison is **observational**: owners choose whom to call, and rules choose who becomes a case,
so the difference is not the causal effect of calling (run a pilot with a control group for that:
``cxloop pilot``). The result says so in its ``caveat``.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. *JASA* 22,
209-212.
Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions: comparison
of eleven methods. *Statistics in Medicine* 17, 873-890.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, visible_units
from cxloop.stats import proportion, proportion_difference
from cxloop.store import units as unit_store
from cxloop.store.tables import Case

__all__ = ["CAVEAT", "LoopOutcomes", "Share", "loop_outcomes"]

CAVEAT = (
    "Observational: owners choose whom to contact and rules choose who becomes a case, so the difference "
    "between contacted and not-contacted detractors is not the causal effect of contacting them. Test that "
    "with a pilot and a control group (cxloop pilot)."
)


@dataclass(frozen=True)
class Share:
    successes: int
    n: int
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool = False


@dataclass(frozen=True)
class LoopOutcomes:
    recovery: Share
    contacted: Share
    not_contacted: Share
    difference: float | None
    difference_ci: tuple[float | None, float | None]
    p_value: float | None
    window_days: int
    confidence: float
    caveat: str = CAVEAT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["difference_ci"] = list(self.difference_ci)
        return data


def _num(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _share(successes: int, n: int, confidence: float, min_n: int) -> Share:
    if n < min_n:
        return Share(successes if n else 0, n, None, None, None, suppressed=n > 0)
    result = proportion(successes, n, confidence)
    return Share(successes, n, _num(result.share), _num(result.ci_low), _num(result.ci_high))


def _naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _next_scores(con: BaseBackend, after: dict[str, tuple[str, datetime | None]]) -> dict[str, float]:
    """Per case response id: the NPS of the same customer's first response after the contact."""
    if not after:
        return {}
    keys = pa.table(
        {
            "case_response": list(after),
            "customer_id": [c for c, _ in after.values()],
            "contacted_at": pa.array([_naive(t) for _, t in after.values()], pa.timestamp("us")),
        }
    )
    wanted = ibis.memtable(keys)
    responses = con.table("responses")
    joined = wanted.join(
        responses,
        (wanted.customer_id == responses.customer_id)
        & (responses.submitted_at > wanted.contacted_at)
        & responses.nps.notnull(),
    )
    ranked = joined.select(
        case_response=wanted.case_response, submitted_at=responses.submitted_at, nps=responses.nps
    ).mutate(rank=ibis.row_number().over(group_by="case_response", order_by="submitted_at"))
    rows = ranked.filter(ranked["rank"] == 0).to_pyarrow().to_pylist()
    return {row["case_response"]: float(row["nps"]) for row in rows}


def loop_outcomes(
    session: Session,
    viewer: Viewer,
    con: BaseBackend,
    *,
    unit_id: str | None = None,
    window_days: int = 90,
    detractor_max: float = 6,
    confidence: float = 0.95,
    min_n: int = 5,
) -> LoopOutcomes:
    """Recovery and repurchase of detractors in the viewer's scope (or ``unit_id``'s subtree)."""
    units = visible_units(session, viewer)
    if unit_id is not None:
        units = frozenset(unit_store.subtree_ids(session, unit_id)) & units
    cases = list(
        session.scalars(select(Case).where(Case.unit_id.in_(sorted(units)), Case.response_id.is_not(None)))
    )
    contacted = {
        c.response_id: c for c in cases if c.response_id is not None and c.first_contacted_at is not None
    }

    # Recovery: follow-up score above the original score.
    tables = set(con.list_tables())
    missing = {
        rid: (c.customer_id, c.first_contacted_at)
        for rid, c in contacted.items()
        if c.follow_up_score is None and c.customer_id
    }
    later = _next_scores(con, missing) if "responses" in tables else {}
    recovered = measured = 0
    for rid, case in contacted.items():
        original = (case.details.get("response") or {}).get("nps")
        if original is None or original > detractor_max:
            continue
        follow = case.follow_up_score if case.follow_up_score is not None else later.get(rid)
        if follow is None:
            continue
        measured += 1
        recovered += int(follow > original)
    recovery = _share(recovered, measured, confidence, min_n)

    # Repurchase within the window, contacted vs not.
    yes = [0, 0]  # contacted: successes, n
    no = [0, 0]
    if {"responses", "transactions"} <= tables:
        tx = con.table("transactions")
        last = tx.occurred_at.max().to_pyarrow().as_py()
        if last is not None:
            cutoff = last - timedelta(days=window_days)
            responses = con.table("responses")
            detractors = responses.filter(
                responses.nps <= detractor_max,
                responses.customer_id.notnull(),
                responses.unit_id.isin(sorted(units)),
                responses.submitted_at <= cutoff,
            ).select("response_id", "customer_id", "submitted_at")
            bought = (
                detractors.join(
                    tx,
                    (detractors.customer_id == tx.customer_id)
                    & (tx.occurred_at > detractors.submitted_at)
                    & (tx.occurred_at <= detractors.submitted_at + ibis.interval(days=window_days)),
                )
                .select(response_id=detractors.response_id)
                .distinct()
            )
            flagged = detractors.left_join(bought, detractors.response_id == bought.response_id).select(
                response_id=detractors.response_id, bought=bought.response_id.notnull()
            )
            ids = sorted(contacted)
            if ids:
                contact_table = ibis.memtable(pa.table({"contacted_id": pa.array(ids, pa.string())}))
                flagged = flagged.left_join(contact_table, flagged.response_id == contact_table.contacted_id)
                flagged = flagged.select(
                    flagged.response_id, flagged.bought, contacted=flagged.contacted_id.notnull()
                )
            else:
                flagged = flagged.mutate(contacted=ibis.literal(False))
            rows = (
                flagged.group_by("contacted")
                .aggregate(n=flagged.count(), bought=flagged.bought.cast("int64").sum())
                .to_pyarrow()
                .to_pylist()
            )
            for row in rows:
                target = yes if row["contacted"] else no
                target[0], target[1] = int(row["bought"] or 0), int(row["n"])
    contacted_share = _share(yes[0], yes[1], confidence, min_n)
    other_share = _share(no[0], no[1], confidence, min_n)
    difference: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    p_value: float | None = None
    if not contacted_share.suppressed and not other_share.suppressed and yes[1] and no[1]:
        test = proportion_difference(
            proportion(yes[0], yes[1], confidence), proportion(no[0], no[1], confidence)
        )
        difference, ci, p_value = (
            _num(test.difference),
            (_num(test.ci_low), _num(test.ci_high)),
            _num(test.p_value),
        )
    return LoopOutcomes(
        recovery=recovery,
        contacted=contacted_share,
        not_contacted=other_share,
        difference=difference,
        difference_ci=ci,
        p_value=p_value,
        window_days=window_days,
        confidence=confidence,
    )
