"""The ``churn_risk`` alert-rule kind: proactive outreach cases for valuable customers at risk of leaving.

Listed with every other kind in :data:`cxloop.services.act.rules.kinds.KINDS`. Parameters:

``min_risk`` (0-1, default 0.3), ``min_value`` (CLV, default 0)
    which customers of the latest ``churn_scores`` qualify (``cxloop predict score``).
``holdout_share`` (0-0.9, default 0.2), ``seed`` (default 0)
    a seeded random share of qualifying customers is *held out*: recorded, but no case opens, so the
    retention of contacted and held-out customers can be compared without bias. The draw is per customer
    (a hash of the seed and the customer id), so it does not depend on batch order and is reproducible.
``campaign`` (default ``churn-risk``)
    the name assignments are recorded under in ``churn_outreach`` (a customer is assigned once per campaign).

Two ways in: when responses arrive (:func:`cxloop.services.act.rules.engine.run_rules`), customers who
answered and qualify are assigned; :func:`cxloop.services.act.rules.churn_outreach.run_outreach` sweeps every
qualifying customer of the latest scores in the rule's scope (the proactive run, ``cxloop predict outreach
RULE``). Either way each assignment is recorded with its arm, score, model and seed (:func:`assign`), and
contacted customers get one case each (owner, SLA, escalation as any case).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.act.rules.kind import (
    EvaluationContext,
    Match,
    ResponseFacts,
    RuleError,
    RuleKind,
    number_param,
)
from cxloop.store.tables import ChurnOutreach

__all__ = ["CHURN_RISK", "assign", "held_out", "latest_scores", "validate"]


def held_out(customer_id: str, *, share: float, seed: int) -> bool:
    """Whether ``customer_id`` is in the random hold-out: a seeded draw per customer."""
    digest = hashlib.sha256(f"{seed}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def validate(params: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's parameters checked, with their defaults filled in (:class:`RuleError` if one is wrong)."""
    campaign = params.get("campaign", "churn-risk")
    if not isinstance(campaign, str) or not campaign.strip() or len(campaign) > 100:
        raise RuleError("campaign must be a name of 1 to 100 characters")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise RuleError(f"seed must be a whole number from 0 to {2**31 - 1}, not {seed!r}")
    return {
        "min_risk": number_param(params, "min_risk", 0.3, 0.0, 1.0),
        "min_value": number_param(params, "min_value", 0.0, 0.0, 1e12),
        "holdout_share": number_param(params, "holdout_share", 0.2, 0.0, 0.9),
        "seed": seed,
        "campaign": campaign.strip(),
    }


def latest_scores(
    con: BaseBackend | None, customers: Sequence[str] | None, units: Sequence[str] | None
) -> pd.DataFrame:
    """The latest ``churn_scores`` rows of these customers and units (``None``: all); empty without scores."""
    if con is None or "churn_scores" not in set(con.list_tables()):
        return pd.DataFrame()
    scores = con.table("churn_scores")
    latest = scores.scored_at.max()
    expr = scores.filter(scores.scored_at == latest)
    if customers is not None:
        expr = expr.filter(expr.customer_id.isin(sorted(set(customers))))
    if units is not None:
        expr = expr.filter(expr.unit_id.isin(sorted(set(units))))
    return con.execute(expr)


def assign(
    session: Session, params: Mapping[str, Any], scores: pd.DataFrame, now: datetime
) -> list[tuple[Match, ChurnOutreach]]:
    """Record an outreach assignment (contact or hold-out) for every qualifying customer of ``scores`` not yet
    in the rule's campaign; each with the match a contacted customer's case opens from."""
    if scores.empty:
        return []
    chosen = scores[(scores.risk >= params["min_risk"]) & (scores.clv.fillna(0) >= params["min_value"])]
    if chosen.empty:
        return []
    campaign = params["campaign"]
    done = set(
        session.scalars(
            select(ChurnOutreach.customer_id).where(
                ChurnOutreach.campaign == campaign, ChurnOutreach.customer_id.in_(chosen.customer_id.tolist())
            )
        )
    )
    out = []
    for row in chosen.sort_values(["expected_value_lost", "risk"], ascending=False).to_dict(orient="records"):
        customer = str(row["customer_id"])
        if customer in done:
            continue
        share = float(params["holdout_share"])
        arm = "holdout" if held_out(customer, share=share, seed=int(params["seed"])) else "contact"
        clv = None if pd.isna(row["clv"]) else float(row["clv"])
        lost = None if pd.isna(row["expected_value_lost"]) else float(row["expected_value_lost"])
        record = ChurnOutreach(
            campaign=campaign,
            customer_id=customer,
            unit_id=str(row["unit_id"]),
            model_id=str(row["model_id"]),
            scored_at=pd.Timestamp(row["scored_at"]).to_pydatetime().replace(tzinfo=UTC),
            risk=float(row["risk"]),
            clv=clv,
            expected_value_lost=lost,
            arm=arm,
            randomised=share > 0,
            holdout_share=share,
            seed=int(params["seed"]),
            assigned_at=now,
        )
        session.add(record)
        reasons = [r["text"] for r in json.loads(row["reasons"])] if isinstance(row["reasons"], str) else []
        value = f", value at risk {lost:,.0f}" if lost is not None else ""
        title = f"churn risk {row['risk']:.0%}{value}" + (f": {'; '.join(reasons)}" if reasons else "")
        match = Match(
            subject=f"churn:{campaign}:{customer}",
            unit_id=str(row["unit_id"]),
            title=title[:300],
            customer_id=customer,
            details={
                "why": title,
                "risk": float(row["risk"]),
                "clv": clv,
                "expected_value_lost": lost,
                "reasons": reasons,
                "model_id": str(row["model_id"]),
                "campaign": campaign,
            },
        )
        out.append((match, record))
    session.flush()
    return out


def _evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], ctx: EvaluationContext
) -> list[Match]:
    customers = sorted({r.customer_id for r in responses if r.customer_id})
    if not customers:
        return []
    scores = latest_scores(ctx.con, customers, None)
    return [
        match for match, record in assign(ctx.session, params, scores, ctx.now) if record.arm == "contact"
    ]


CHURN_RISK = RuleKind(
    name="churn_risk",
    description=(
        "a customer whose latest churn risk (`cxloop predict score`) is at least `min_risk` and whose "
        "CLV "
        "is at least `min_value`: a proactive outreach case, except for a seeded random `holdout_share` "
        "recorded as held out (campaign `campaign`) so the retention uplift can be measured"
    ),
    validate=validate,
    evaluate=_evaluate,
    example={
        "min_risk": 0.3,
        "min_value": 500,
        "holdout_share": 0.2,
        "seed": 0,
        "campaign": "churn-risk",
    },
)
