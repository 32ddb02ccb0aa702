"""Money next to experience: value tiers, profit concentration, behaviour and value by NPS class, revenue at
risk and the annual value of one NPS point.

Every function takes the viewer first and turns it into the units they may see (the app database's
hierarchy, :func:`cxloop.services.access.scope.visible_units`) before any warehouse query runs; customers
belong to the subtree of their home unit (``customers.unit_id``).

* :func:`value_tiers` — tiers by stored CLV (``cxloop clv score``; top 10% / next 40% / bottom 50% by
  default, ranked within the unit's subtree), each tier's CLV and share of value, and what the tier
  experiences (NPS, CSAT, CES of its customers' responses); the profit concentration curve.
* :func:`experience_and_money` — repurchase, churn, subscription churn, spend, margin and CLV by NPS class
  of each customer's latest response (or by NPS / CSAT / CES rating).
* :func:`revenue_at_risk` and :func:`nps_point_value` — money figures with intervals built from it; their
  definitions are in their docstrings. All are associations in observational data, not causal effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from scipy import stats as scipy_stats

from cxloop import stats
from cxloop.services.access.scope import ScopeError, Viewer, visible_units
from cxloop.services.stores import Stores
from cxloop.warehouse.queries.kpis import scoped_customers
from cxloop.warehouse.queries.value import (
    DEFAULT_TIERS,
    check_tiers,
    concentration_buckets,
    experience_outcomes,
    outcome_statistics,
    tiered_customers,
)

__all__ = [
    "NPS_CLASSES",
    "ExperienceMoney",
    "MoneyEstimate",
    "NoTransactionsError",
    "ValueTiers",
    "experience_and_money",
    "nps_point_value",
    "revenue_at_risk",
    "value_tiers",
]


class NoTransactionsError(LookupError):
    """Nothing to model in the viewer's scope; the message says what to do next."""


# --- value segmentation and experience linked to money ---------------------------------------------


def _focus_units(
    viewer: Viewer, visible: frozenset[str], unit: str | None, con: BaseBackend
) -> frozenset[str]:
    """The subtree of ``unit`` (default: the viewer's unit) within what the viewer sees."""
    focus = unit or viewer.unit_id
    if focus not in visible:
        raise ScopeError(focus, viewer)
    if focus == viewer.unit_id:
        return visible
    closure = con.table("unit_closure")
    below = con.execute(closure.filter(closure.ancestor_id == focus).unit_id)
    return frozenset(below) & visible


def _rate(successes: Any, n: Any, confidence: float) -> dict[str, Any]:
    result = stats.proportion(np.asarray(successes, float), np.asarray(n, float), confidence)
    return {"estimate": result.share, "ci_low": result.ci_low, "ci_high": result.ci_high, "se": result.se}


def _mean(n: Any, total: Any, total_sq: Any, confidence: float) -> dict[str, Any]:
    result = stats.mean(
        np.asarray(n, float), np.asarray(total, float), np.asarray(total_sq, float), confidence
    )
    return {"estimate": result.mean, "ci_low": result.ci_low, "ci_high": result.ci_high, "se": result.se}


def _long(groups: pd.DataFrame, key: str, measures: dict[str, tuple[dict[str, Any], Any]]) -> pd.DataFrame:
    frames = []
    for measure, (numbers, n) in measures.items():
        frame = pd.DataFrame({key: groups[key].to_numpy(), "measure": measure, "n": np.asarray(n, float)})
        for column in ("estimate", "ci_low", "ci_high", "se"):
            frame[column] = np.asarray(numbers[column], dtype=float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _suppress(frame: pd.DataFrame, min_n: int) -> pd.DataFrame:
    frame = frame.copy()
    frame["suppressed"] = frame.n < min_n
    frame.loc[frame.suppressed, ["n", "estimate", "ci_low", "ci_high", "se"]] = np.nan
    return frame


@dataclass(frozen=True)
class ValueTiers:
    """Who the most valuable customers are and what they experience.

    ``tiers``: per tier ``customers``, ``clv_total``, ``clv_share`` and the long table ``measures``
    (tier x measure: ``clv`` mean, ``p_alive`` mean, ``nps``, ``csat`` and ``ces``, each with n and
    interval; cells under ``min_n`` suppressed). ``concentration``: cumulative share of CLV held by the
    top x% of customers (the profit concentration curve, 100 points).
    """

    tiers: pd.DataFrame
    measures: pd.DataFrame
    concentration: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.measures

    def share_of_value(self, top: float) -> float:
        """Share of total CLV held by the top ``top`` share of customers (e.g. 0.2)."""
        curve = self.concentration
        return float(np.interp(top, [0.0, *curve.customer_share], [0.0, *curve.clv_share]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": self.tiers.replace({np.nan: None}).to_dict(orient="records"),
            "measures": self.measures.replace({np.nan: None}).to_dict(orient="records"),
            "concentration": self.concentration.to_dict(orient="records"),
        }


def value_tiers(
    viewer: Viewer,
    *,
    stores: Stores,
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
    unit: str | None = None,
) -> ValueTiers:
    """Tiers by CLV (ranked within the unit's subtree), each tier's value and experience.

    Needs stored scores (``cxloop clv score``). Experience is every survey response of the tier's
    customers: NPS (adjusted-Wald interval), CSAT and CES means (t intervals).
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    visible = visible_units(session, viewer)
    units = _focus_units(viewer, visible, unit, con)
    tiered = tiered_customers(con, units=units, tiers=tiers)
    names = [name for name, _ in check_tiers(tiers)]
    money = con.execute(
        tiered.group_by("tier").aggregate(
            customers=tiered.count(),
            clv_total=tiered.clv.sum(),
            clv_sq=(tiered.clv * tiered.clv).sum(),
            p_alive_total=tiered.p_alive.sum(),
            p_alive_sq=(tiered.p_alive * tiered.p_alive).sum(),
        )
    )
    if money.empty:
        raise NoTransactionsError(
            "no customer in this scope has a CLV score yet: run `cxloop clv score` (after importing "
            "transactions, or `cxloop demo generate`)"
        )
    money = money.set_index("tier").reindex(names).fillna(0).rename_axis("tier").reset_index()
    responses = con.table("responses").filter(lambda r: r.customer_id.notnull())
    answered = tiered.select("customer_id", "tier").join(responses, "customer_id")
    nps, csat, ces = answered.nps, answered.csat, answered.ces
    experience = con.execute(
        answered.group_by("tier").aggregate(
            detractors=((nps >= 0) & (nps <= 6)).cast("int64").sum(),
            passives=((nps > 6) & (nps < 9)).cast("int64").sum(),
            promoters=((nps >= 9) & (nps <= 10)).cast("int64").sum(),
            csat_n=csat.between(1, 5).cast("int64").sum(),
            csat_sum=ibis.ifelse(csat.between(1, 5), csat, 0.0).sum(),
            csat_sq=ibis.ifelse(csat.between(1, 5), csat * csat, 0.0).sum(),
            ces_n=ces.between(1, 7).cast("int64").sum(),
            ces_sum=ibis.ifelse(ces.between(1, 7), ces, 0.0).sum(),
            ces_sq=ibis.ifelse(ces.between(1, 7), ces * ces, 0.0).sum(),
        )
    )
    experience = experience.set_index("tier").reindex(names).fillna(0).rename_axis("tier").reset_index()
    confidence = settings.confidence
    score = stats.nps(experience.detractors, experience.passives, experience.promoters, confidence)
    measures = _long(
        money,
        "tier",
        {
            "clv": (_mean(money.customers, money.clv_total, money.clv_sq, confidence), money.customers),
            "p_alive": (
                _mean(money.customers, money.p_alive_total, money.p_alive_sq, confidence),
                money.customers,
            ),
            "nps": (
                {"estimate": score.score, "ci_low": score.ci_low, "ci_high": score.ci_high, "se": score.se},
                score.n,
            ),
            "csat": (
                _mean(experience.csat_n, experience.csat_sum, experience.csat_sq, confidence),
                experience.csat_n,
            ),
            "ces": (
                _mean(experience.ces_n, experience.ces_sum, experience.ces_sq, confidence),
                experience.ces_n,
            ),
        },
    )
    total = float(money.clv_total.sum())
    tier_table = money[["tier", "customers", "clv_total"]].copy()
    tier_table["clv_share"] = tier_table.clv_total / total if total else np.nan
    small = tier_table.customers < settings.min_n
    tier_table.loc[small, ["clv_total", "clv_share"]] = np.nan
    buckets = concentration_buckets(con, units=units)
    concentration = pd.DataFrame(
        {
            "customer_share": buckets.customers.cumsum() / buckets.customers.sum(),
            "clv_share": buckets.clv.cumsum() / buckets.clv.sum(),
        }
    )
    return ValueTiers(
        tiers=tier_table, measures=_suppress(measures, settings.min_n), concentration=concentration
    )


#: NPS classes in report order.
NPS_CLASSES: tuple[str, ...] = ("detractor", "passive", "promoter")


@dataclass(frozen=True)
class ExperienceMoney:
    """Behaviour and value by experience level, and what experience is worth.

    ``groups``: per level (``by``: NPS class of the customer's latest response, or the CSAT / CES rating)
    the long table of measures — ``repurchase_rate``, ``churn_rate`` (1 - repurchase: no purchase in the
    horizon), ``subscription_churn_rate``, ``spend`` and ``margin`` per customer over the horizon, and
    ``clv`` (stored score) — each with n and interval; cells under ``min_n`` suppressed.
    ``statistics`` holds the sufficient statistics behind them; ``customer_base`` is the number of
    customers of the subtree acquired on or before ``as_of`` (answered a survey or not).
    """

    by: str
    as_of: date
    horizon_days: int
    groups: pd.DataFrame
    statistics: pd.DataFrame = field(compare=False)
    customer_base: int = 0

    def to_frame(self) -> pd.DataFrame:
        return self.groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "customer_base": self.customer_base,
            "groups": self.groups.replace({np.nan: None}).to_dict(orient="records"),
        }


def experience_and_money(
    viewer: Viewer,
    *,
    stores: Stores,
    as_of: date,
    horizon_days: int = 365,
    by: str = "nps_class",
    unit: str | None = None,
) -> ExperienceMoney:
    """Repurchase, churn, spend, margin and CLV by NPS class (or CSAT / CES level) for a unit's subtree.

    Each customer's experience is their latest response on or before ``as_of``; behaviour is what they
    did in the ``horizon_days`` after it. These are associations, not causal effects: customers who
    answer differently may differ in other ways too.
    """
    if by not in ("nps_class", "nps", "csat", "ces"):
        raise ValueError(f"by must be nps_class, nps, csat or ces, got {by!r}")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    settings, session, con = stores.settings, stores.session, stores.warehouse
    visible = visible_units(session, viewer)
    units = _focus_units(viewer, visible, unit, con)
    outcomes = experience_outcomes(con, as_of=as_of, horizon_days=horizon_days, units=units)
    sums = outcome_statistics(con, outcomes, by)
    if sums.empty:
        raise NoTransactionsError(
            f"no customer in this scope answered a survey on or before {as_of}: import responses with "
            "customer ids, or run `cxloop demo generate`"
        )
    if by == "nps_class":
        sums = sums.set_index(by).reindex(list(NPS_CLASSES)).fillna(0).rename_axis(by).reset_index()
    c = settings.confidence
    n = sums.customers
    groups = _long(
        sums,
        by,
        {
            "repurchase_rate": (_rate(sums.repurchased, n, c), n),
            "churn_rate": (_rate(n - sums.repurchased, n, c), n),
            "subscription_churn_rate": (_rate(sums.sub_churned, sums.sub_at_risk, c), sums.sub_at_risk),
            "spend": (_mean(n, sums.spend, sums.spend_sq, c), n),
            "margin": (_mean(n, sums.margin, sums.margin_sq, c), n),
            "clv": (_mean(sums.scored, sums.clv, sums.clv_sq, c), sums.scored),
        },
    )
    base = int(con.execute(scoped_customers(con, units, as_of).count()))
    return ExperienceMoney(
        by=by,
        as_of=as_of,
        horizon_days=horizon_days,
        groups=_suppress(groups, settings.min_n),
        statistics=sums,
        customer_base=base,
    )


@dataclass(frozen=True)
class MoneyEstimate:
    """A money figure with its standard error and interval, and how it was defined."""

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    definition: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "estimate", "se", "ci_low", "ci_high", "definition")}


def _by_class(money: ExperienceMoney) -> dict[str, dict[str, float]]:
    """The NPS-class statistics as plain floats: ``{class: {column: value}}``."""
    table = money.statistics.set_index("nps_class")
    return {
        str(name): {str(column): float(value) for column, value in row.items()}
        for name, row in table.reindex(list(NPS_CLASSES)).fillna(0.0).iterrows()
    }


def _normal(name: str, estimate: float, se: float, confidence: float, definition: str) -> MoneyEstimate:
    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    return MoneyEstimate(name, float(estimate), float(se), estimate - z * se, estimate + z * se, definition)


def revenue_at_risk(money: ExperienceMoney, confidence: float = 0.95) -> dict[str, MoneyEstimate]:
    """Value at risk from experience, from an NPS-class :class:`ExperienceMoney`.

    Two definitions, both reported:

    ``detractor_clv``
        Total stored CLV of the scored detractors, with the interval of the scored detractors as a sample:
        their number times the t interval of their mean CLV (the interval of the CLV means beside it).
        It was once given a zero-width interval, as if a sum over a sample were known exactly.
    ``excess_churn_value``
        ``sum over detractors and passives of (churn_c - churn_promoter) x CLV_c``, with ``churn_c`` the
        class's observed share of customers without a purchase in the horizon and ``CLV_c`` the class's
        total CLV: the value the class would keep if it churned like promoters. Delta-method interval
        (class rates independent binomials; CLV totals taken as known).
    """
    if money.by != "nps_class":
        raise ValueError("revenue at risk needs the NPS-class breakdown (by='nps_class')")
    s = _by_class(money)
    if min(s[c]["customers"] for c in NPS_CLASSES) <= 0:
        raise NoTransactionsError("every NPS class needs customers to estimate revenue at risk")
    churn = {c: 1 - s[c]["repurchased"] / s[c]["customers"] for c in NPS_CLASSES}
    var = {c: churn[c] * (1 - churn[c]) / s[c]["customers"] for c in NPS_CLASSES}
    detractor_clv = s["detractor"]["clv"]
    # The scored detractors as a sample of the detractors: the t interval of their mean CLV (as for every
    # CLV mean on the value page), times their number.
    scored = s["detractor"]["scored"]
    spread = stats.mean(scored, detractor_clv, s["detractor"]["clv_sq"], confidence)
    gaps = [(churn[c] - churn["promoter"]) * s[c]["clv"] for c in ("detractor", "passive")]
    clv_at_gap = s["detractor"]["clv"] + s["passive"]["clv"]
    variance = (
        sum(s[c]["clv"] ** 2 * var[c] for c in ("detractor", "passive")) + clv_at_gap**2 * var["promoter"]
    )
    return {
        "detractor_clv": MoneyEstimate(
            "detractor_clv",
            detractor_clv,
            float(spread.se) * scored,
            float(spread.ci_low) * scored,
            float(spread.ci_high) * scored,
            "total CLV of detractors (interval: their mean CLV's t interval, times their number)",
        ),
        "excess_churn_value": _normal(
            "excess_churn_value",
            float(sum(gaps)),
            float(np.sqrt(variance)),
            confidence,
            "sum over detractors and passives of (class churn - promoter churn) x class CLV",
        ),
    }


def nps_point_value(
    money: ExperienceMoney, *, customers: int | None = None, measure: str = "margin", confidence: float = 0.95
) -> MoneyEstimate:
    """Annual value of one NPS point for a customer base of ``customers`` (default: the unit's whole base,
    ``money.customer_base``).

    One NPS point is 0.5% of customers moving from detractor to promoter (the promoter share rises and
    the detractor share falls by half a point each). Each such customer is worth the difference between
    promoters' and detractors' mean ``measure`` (margin, or spend) per customer over the horizon, which
    carries both churn (customers who stop buying) and spend. So

        value = customers x 0.005 x (mean_promoter - mean_detractor) x 365 / horizon_days

    with Welch's interval for the difference of means scaled the same way. An association, not a causal
    effect: it is what the data say a point is worth if the customers moved behave like those already in
    the class.
    """
    if money.by != "nps_class":
        raise ValueError("the value of an NPS point needs the NPS-class breakdown (by='nps_class')")
    if measure not in ("margin", "spend"):
        raise ValueError(f"measure must be margin or spend, got {measure!r}")
    customers = money.customer_base if customers is None else int(customers)
    s = _by_class(money)
    promoters = stats.mean(s["promoter"]["customers"], s["promoter"][measure], s["promoter"][f"{measure}_sq"])
    detractors = stats.mean(
        s["detractor"]["customers"], s["detractor"][measure], s["detractor"][f"{measure}_sq"]
    )
    difference = stats.mean_difference(promoters, detractors, confidence)
    scale = customers * 0.005 * 365.0 / money.horizon_days
    return MoneyEstimate(
        "nps_point_value",
        float(difference.difference) * scale,
        float(difference.se) * scale,
        float(difference.ci_low) * scale,
        float(difference.ci_high) * scale,
        f"customers ({customers}) x 0.005 x (promoter - detractor mean {measure} per customer), annualised",
    )
