"""Key drivers for a viewer: which experiences explain an outcome in a subtree, a segment, a touchpoint.

:func:`driver_analysis` is the one call behind ``cxloop drivers`` (and the API and dashboard):

1. **Scope first.** The unit must be in the viewer's subtree
(:func:`cxloop.services.access.scope.require_unit`),
   checked in the app database before any warehouse query runs.
2. **Sufficient statistics in the engine.** A stated outcome (``nps``, ``csat``, ``ces``) or a continuous
   behavioural one (``spend_change``) is analysed from the correlation matrix the warehouse computes in
   one aggregate (:func:`cxloop.warehouse.queries.driver_stats.driver_moments`). A binary behavioural outcome
   (``repurchase_90d``, ``churn_180d``) needs a logistic regression, hence rows: the warehouse returns the
   distinct answer patterns of the complete responses with their counts, from a random sample of at most
   ``max_rows`` responses when there are more (said in the result).
3. **Anonymity.** Fewer than ``settings.min_n`` complete responses: the result is suppressed (no n, no
   importance), whatever the estimator could do.
4. **Estimation** in :class:`cxloop.stats.drivers.KeyDriverAnalysis`: Shapley/LMG or Johnson's relative
   weights (logistic relative weights for a binary outcome), with bootstrap intervals on request.

Missing answers: listwise (a response counts only with every driver item and the outcome answered); the
number left out is in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, require_unit
from cxloop.services.stores import Stores
from cxloop.stats.drivers import DriverAnalysisError, KeyDriverAnalysis
from cxloop.store.tables import Question
from cxloop.warehouse.outcomes import BEHAVIOURAL, BINARY, OUTCOMES
from cxloop.warehouse.queries.driver_stats import (
    DEFAULT_SAMPLE_ROWS,
    DriverScope,
    driver_items,
    driver_moments,
    driver_patterns,
)

__all__ = [
    "BEHAVIOURAL_OUTCOMES",
    "CLI_OUTCOMES",
    "OUTCOMES",
    "DriverAnalysisError",
    "DriverResult",
    "NoDriverDataError",
    "driver_analysis",
    "item_labels",
]

#: Outcomes linked from behaviour after the response (their windows can be not yet observed).
BEHAVIOURAL_OUTCOMES: tuple[str, ...] = tuple(BEHAVIOURAL)
#: The outcomes of the CLI contract (the service accepts every outcome of the warehouse).
CLI_OUTCOMES: tuple[str, ...] = ("nps", "csat", "repurchase_90d", "churn_180d")

OUTCOME_LABELS = {
    "nps": "likelihood to recommend (0-10)",
    "csat": "satisfaction (CSAT 1-5)",
    "ces": "ease (CES 1-7)",
    "nps_promoter": "being a promoter",
    "nps_detractor": "being a detractor",
    "repurchase_90d": "buying again within 90 days",
    "churn_180d": "leaving within 180 days",
    "spend_change": "change in spend (90 days after vs before)",
}


T = TypeVar("T")


def one(value: str | None) -> frozenset[str] | None:
    """A single filter value as the set :class:`DriverScope` takes."""
    return None if value is None else frozenset({value})


class NoDriverDataError(LookupError):
    """No driver items or no responses in the scope; the message says what to do."""


@dataclass(frozen=True)
class DriverResult:
    """Key drivers of one outcome in one scope.

    Attributes
    ----------
    drivers : pandas.DataFrame
        One row per driver item, most important first: ``driver`` (item id), ``label``, ``importance``
        (share of R-squared), ``relative_importance`` (shares summing to 1), ``rank``, ``p_value`` and,
        with a bootstrap, ``importance_low/high``, ``relative_low/high`` and ``beats_random``. Empty when
        suppressed.
    n : int or None
        Complete responses behind the analysis (None when suppressed). With a sample, the sampled ones.
    n_responses, n_dropped : int or None
        Responses in the scope and those left out for a missing answer or outcome (listwise).
    r2 : float or None
        R-squared of all drivers together (``R_O**2`` for a binary outcome).
    sample_fraction : float
        Share of the complete responses analysed (1.0 unless a binary outcome had more than ``max_rows``).
    """

    unit_id: str
    outcome: str
    outcome_type: str
    method: str
    segment: str | None
    touchpoint: str | None
    start: date | None
    end: date | None
    suppressed: bool
    min_n: int
    n: int | None
    n_responses: int | None
    n_dropped: int | None
    r2: float | None
    sample_fraction: float
    bootstrap: int
    confidence: float
    drivers: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The drivers table (a copy)."""
        return self.drivers.copy()

    def summary(self) -> str:
        """A few lines of plain text: scope, n, R-squared and the drivers in order."""
        scope = self.unit_id + "".join(
            f", {k} {v}" for k, v in (("segment", self.segment), ("touchpoint", self.touchpoint)) if v
        )
        head = f"Key drivers of {OUTCOME_LABELS.get(self.outcome, self.outcome)} in {scope}"
        if self.suppressed:
            return f"{head}: suppressed (fewer than {self.min_n} complete responses)."
        lines = [f"{head}: n = {self.n:,}, R2 = {self.r2:.3f} ({self.method})"]
        for row in self.drivers.itertuples():
            lines.append(f"  {row.rank:>2}. {row.label:<30} {row.relative_importance:6.1%}")
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: scope, n, r2, notes and each driver's importance, relative importance, CI and rank."""
        drivers = []
        for row in self.drivers.to_dict(orient="records"):
            entry: dict[str, Any] = {
                "driver": row["driver"],
                "label": row["label"],
                "rank": int(row["rank"]),
                "importance": float(row["importance"]),
                "relative_importance": float(row["relative_importance"]),
                "p_value": _float(row.get("p_value")),
            }
            if "importance_low" in row:
                entry["ci"] = {
                    "confidence": self.confidence,
                    "importance": [_float(row["importance_low"]), _float(row["importance_high"])],
                    "relative_importance": [_float(row["relative_low"]), _float(row["relative_high"])],
                }
            if "beats_random" in row:
                entry["beats_random"] = bool(row["beats_random"])
            drivers.append(entry)
        return {
            "unit": self.unit_id,
            "outcome": self.outcome,
            "outcome_type": self.outcome_type,
            "method": self.method,
            "segment": self.segment,
            "touchpoint": self.touchpoint,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "suppressed": self.suppressed,
            "min_n": self.min_n,
            "n": self.n,
            "n_responses": self.n_responses,
            "n_dropped": self.n_dropped,
            "r2": self.r2,
            "sample_fraction": self.sample_fraction,
            "bootstrap": self.bootstrap,
            "missing_policy": "listwise",
            "drivers": drivers,
            "notes": list(self.notes),
        }


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def item_labels(session: Session, items: Sequence[str]) -> dict[str, str]:
    """Readable names of driver items from the catalogue (the item id, humanised, when not catalogued)."""
    labels = {item: item.replace("_", " ").capitalize() for item in items}
    for question in session.query(Question).filter(Question.question_id.in_(list(items))):
        if question.label:
            labels[question.question_id] = question.label
    return labels


def driver_analysis(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    outcome: str = "nps",
    segment: str | None = None,
    touchpoint: str | None = None,
    start: date | None = None,
    end: date | None = None,
    items: Sequence[str] | None = None,
    method: str = "shapley",
    bootstrap: int = 0,
    max_rows: int = DEFAULT_SAMPLE_ROWS,
    random_state: int = 0,
) -> DriverResult:
    """Key drivers of ``outcome`` among the responses of ``unit_id``'s subtree (default: the viewer's unit).

    Parameters
    ----------
    viewer : Viewer
        Who is looking; they see their unit's subtree only.
    stores : Stores
        The app database (scope, item labels), the warehouse, and the settings' ``min_n`` (anonymity) and
        ``confidence`` (intervals).
    unit_id, segment, touchpoint, start, end
        The scope: a subtree, optionally one customer segment, one touchpoint and a date range.
    outcome : str
        ``nps``, ``csat``, ``ces``, ``repurchase_90d``, ``churn_180d``, ``spend_change`` (or
        ``nps_promoter`` / ``nps_detractor``). Binary outcomes use logistic relative weights.
    items : sequence of str, optional
        Driver items; default every item answered in the scope.
    method : {"shapley", "relative_weights"}
        For continuous outcomes; a binary outcome always uses (logistic) relative weights.
    bootstrap : int
        Resamples for percentile intervals and the test against a random variable (0: none).
    max_rows : int
        Largest number of responses whose rows a binary outcome's logistic fit samples.

    Raises
    ------
    ScopeError, UnknownUnitError
        Before any warehouse query, when the unit is outside the viewer's subtree or unknown.
    NoDriverDataError
        No driver items in the scope.
    cxloop.stats.drivers.DriverAnalysisError
        The complete responses cannot support the analysis (too few per driver, constant or collinear
        items, separation); the message says what to do.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    focus = unit_id or viewer.unit_id

    settings, session, con = stores.settings, stores.session, stores.warehouse
    require_unit(session, viewer, focus)
    scope = DriverScope(
        unit_id=focus, segments=one(segment), touchpoints=one(touchpoint), start=start, end=end
    )
    chosen = list(items) if items is not None else driver_items(con, scope)
    if not chosen:
        raise NoDriverDataError(
            f"no driver items answered in {focus}"
            + (f" (segment {segment})" if segment else "")
            + (f" (touchpoint {touchpoint})" if touchpoint else "")
            + ": import responses with q_<item> rating columns"
        )
    labels = item_labels(session, chosen)
    return _analyse(con, scope, chosen, labels, outcome, method, bootstrap, max_rows, random_state, settings)


def _analyse(
    con: BaseBackend,
    scope: DriverScope,
    items: list[str],
    labels: dict[str, str],
    outcome: str,
    method: str,
    bootstrap: int,
    max_rows: int,
    random_state: int,
    settings: Settings,
) -> DriverResult:
    binary = outcome in BINARY
    notes: list[str] = []
    kda = KeyDriverAnalysis(
        method="relative_weights" if binary else method,
        outcome_type="binary" if binary else "continuous",
        bootstrap=bootstrap,
        confidence=settings.confidence,
        random_state=random_state,
    )
    fraction = 1.0
    if binary:
        patterns = driver_patterns(con, scope, items, outcome, max_rows=max_rows, seed=random_state)
        n_complete, n_responses, n_used = patterns.n_complete, patterns.n_responses, patterns.n
        fraction = patterns.fraction
        if patterns.sampled:
            notes.append(
                f"Logistic relative weights on a random sample of {n_used:,} of the {n_complete:,} complete "
                f"responses (each kept with probability {fraction:.4f}, drawn in the warehouse)."
            )
    else:
        moments = driver_moments(con, scope, items, outcome)
        n_complete, n_responses, n_used = moments.n, moments.n_responses, moments.n
    base: dict[str, Any] = dict(
        unit_id=scope.unit_id or "",
        outcome=outcome,
        outcome_type=kda.outcome_type,
        method=kda.method,
        segment=next(iter(scope.segments)) if scope.segments else None,
        touchpoint=next(iter(scope.touchpoints)) if scope.touchpoints else None,
        start=scope.start,
        end=scope.end,
        min_n=settings.min_n,
        sample_fraction=fraction,
        bootstrap=bootstrap,
        confidence=settings.confidence,
    )
    if n_complete < settings.min_n or n_used < settings.min_n:
        return DriverResult(
            **base,
            suppressed=True,
            n=None,
            n_responses=None,
            n_dropped=None,
            r2=None,
            drivers=pd.DataFrame(columns=["driver", "label", "importance", "relative_importance", "rank"]),
            notes=(f"Suppressed: fewer than {settings.min_n} complete responses.",),
        )
    if binary:
        frame = patterns.frame
        kda.fit(frame[items], frame[outcome].rename(outcome), sample_weight=frame["count"].to_numpy())
    else:
        kda.fit_correlation(moments.for_outcome(outcome), moments.n, outcome=outcome)
    table = kda.summary().reset_index()
    table.insert(1, "label", table["driver"].map(labels))
    if kda.approximation_ != "exact":
        notes.append(f"Shapley shares approximated by {kda.approximation_}.")
    if kda.bootstrap_scheme_:
        notes.append(
            f"{settings.confidence:.0%} percentile intervals from a {kda.bootstrap_scheme_} bootstrap "
            f"({bootstrap - kda.n_bootstrap_failed_} usable resamples)."
        )
    return DriverResult(
        **base,
        suppressed=False,
        n=int(n_used),
        n_responses=int(n_responses),
        n_dropped=int(n_responses - n_complete),
        r2=float(kda.r2_),
        drivers=table,
        notes=tuple(notes),
    )
