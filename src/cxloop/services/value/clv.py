"""Customer lifetime value: fit BG/NBD + Gamma-Gamma on the viewer's customers, validate, score, store.

:func:`fit_clv` builds the RFM summary in the warehouse (:mod:`cxloop.warehouse.queries.rfm`) for the
customers whose home unit the viewer can see, fits :class:`~cxloop.stats.clv.BetaGeo` on the compressed
``(frequency, recency, T, weight)`` rows and :class:`~cxloop.stats.clv.GammaGamma` on the repeat
customers, and, when a holdout window follows the calibration window, compares the predicted with the
actual repeat purchases in the holdout by calibration-frequency bucket (the check of Fader, Hardie & Lee
2005, fig. 3). :func:`score_clv` fits on everything up to ``as_of`` and writes each customer's P(alive),
expected purchases, expected spend, discounted CLV and value tier to the warehouse's ``customer_value``.

CLV is the ``lifetimes`` scheme (see :meth:`~cxloop.stats.clv.GammaGamma.customer_lifetime_value`): the
expected purchases of each of the next ``horizon`` months, valued at the customer's expected spend per
purchase and discounted monthly. With ``value="margin"`` the spend is margin, so CLV is profit.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer
Base Analysis. *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.services.access.scope import Viewer, fact_units
from cxloop.services.stores import Stores
from cxloop.services.value.money import NoTransactionsError
from cxloop.stats.clv import PERIODS_PER_MONTH, BetaGeo, GammaGamma, ShiftedBetaGeometric
from cxloop.warehouse.queries.kpis import subscription_durations
from cxloop.warehouse.queries.rfm import TimeUnit, ValueColumn, rfm_compressed, rfm_expression
from cxloop.warehouse.queries.value import DEFAULT_TIERS, scored_customers, write_customer_value

__all__ = ["ClvFit", "ClvScores", "RetentionFit", "fit_clv", "fit_retention", "holdout_buckets", "score_clv"]

_FREQ_CODE: dict[str, str] = {"day": "D", "week": "W", "month": "M"}
#: Calibration frequencies 0..6 get a bucket each, higher ones share "7+" (as in lifetimes' plot).
MAX_BUCKET = 7


@dataclass(frozen=True)
class ClvFit:
    """A fitted BG/NBD + Gamma-Gamma model of a scope's customers, with its holdout check.

    Attributes
    ----------
    calibration_end, observation_end : date
        The calibration window ends on ``calibration_end`` (inclusive); the holdout runs to
        ``observation_end`` (None: no holdout).
    time_unit : str
        Unit of recency and T (``alpha`` of BG/NBD is per this unit).
    value : str
        ``amount`` or ``margin``: what the spend model describes.
    customers, repeat_customers : int
        Customers in the calibration window, and those with at least one repeat purchase.
    transaction_model : BetaGeo
    spend_model : GammaGamma or None
        None when fewer than 3 customers made repeat purchases.
    holdout : DataFrame or None
        Per calibration-frequency bucket: ``customers``, ``actual`` and ``predicted`` mean repeat
        purchases per customer in the holdout, and their totals.
    """

    calibration_end: date
    observation_end: date | None
    time_unit: str
    value: str
    customers: int
    repeat_customers: int
    transaction_model: BetaGeo
    spend_model: GammaGamma | None
    holdout: pd.DataFrame | None = field(default=None, compare=False)

    def parameters(self, confidence: float = 0.95) -> pd.DataFrame:
        """Every parameter with its standard error and interval, one row each (``model``, ``parameter``)."""
        frames = [self.transaction_model.summary(confidence).assign(model="bg_nbd")]
        if self.spend_model is not None:
            frames.append(self.spend_model.summary(confidence).assign(model="gamma_gamma"))
        frame = pd.concat(frames).reset_index()
        return frame[["model", "parameter", "estimate", "se", "ci_lower", "ci_upper"]]

    def to_frame(self) -> pd.DataFrame:
        """The parameters table (see :meth:`parameters`)."""
        return self.parameters()

    def holdout_totals(self) -> dict[str, float] | None:
        """Actual and predicted holdout purchases over all customers, and their relative error."""
        if self.holdout is None:
            return None
        actual = float(self.holdout.actual_total.sum())
        predicted = float(self.holdout.predicted_total.sum())
        return {
            "actual": actual,
            "predicted": predicted,
            "relative_error": (predicted - actual) / actual if actual else float("nan"),
            "mean_absolute_error_per_bucket": float(
                np.mean(np.abs(self.holdout.predicted - self.holdout.actual))
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what ``cxloop clv fit --json`` prints)."""
        result: dict[str, Any] = {
            "calibration_end": self.calibration_end.isoformat(),
            "observation_end": None if self.observation_end is None else self.observation_end.isoformat(),
            "time_unit": self.time_unit,
            "value": self.value,
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "models": {},
        }
        for name, model in (("bg_nbd", self.transaction_model), ("gamma_gamma", self.spend_model)):
            if model is None:
                continue
            result["models"][name] = {
                "params": model.params_,
                "standard_errors": model.standard_errors_,
                "log_likelihood": model.log_likelihood_,
                "n": model.n_,
            }
        if self.holdout is not None:
            result["holdout"] = {
                "totals": self.holdout_totals(),
                "buckets": self.holdout.to_dict(orient="records"),
            }
        return result

    def summary(self) -> str:
        """A plain-text report: parameters, log-likelihoods and the holdout comparison."""
        lines = [
            f"CLV models, calibration to {self.calibration_end} ({self.time_unit}s, {self.value}): "
            f"{self.customers} customers, {self.repeat_customers} with repeat purchases",
            "",
            self.parameters().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            "",
            f"BG/NBD log-likelihood {self.transaction_model.log_likelihood_:.2f}",
        ]
        if self.spend_model is not None:
            lines.append(f"Gamma-Gamma log-likelihood {self.spend_model.log_likelihood_:.2f}")
        totals = self.holdout_totals()
        if totals is not None and self.holdout is not None:
            lines += [
                "",
                f"Holdout to {self.observation_end}: {totals['actual']:.0f} repeat purchases, predicted "
                f"{totals['predicted']:.1f} ({totals['relative_error']:+.1%})",
                self.holdout.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            ]
        return "\n".join(lines)

    def figure(self) -> Any:
        """Predicted vs actual mean holdout purchases by calibration frequency (a plotly Figure)."""
        if self.holdout is None:
            raise ValueError(
                "this fit has no holdout window: fit with an observation_end after calibration_end"
            )
        import plotly.graph_objects as go

        figure = go.Figure()
        for column, name in (("actual", "Actual"), ("predicted", "Predicted (BG/NBD)")):
            figure.add_trace(
                go.Scatter(x=self.holdout.bucket, y=self.holdout[column], mode="lines+markers", name=name)
            )
        figure.update_layout(
            title=f"Repeat purchases in the holdout ({self.calibration_end} to {self.observation_end})",
            xaxis_title="Repeat purchases in the calibration window",
            yaxis_title="Mean repeat purchases per customer in the holdout",
        )
        return figure

    def write_figure(self, path: str | Path) -> Path:
        """Save :meth:`figure` as HTML (plotly.js is written once next to it, not inlined).

        Only ``.html`` is supported: PNG export needs kaleido and a browser, which are not dependencies.
        """
        target = Path(path)
        if target.suffix.lower() != ".html":
            raise ValueError(f"write the figure to an .html file, got {target.name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.figure().write_html(target, include_plotlyjs="directory", full_html=True)
        return target


@dataclass(frozen=True)
class ClvScores:
    """What :func:`score_clv` wrote: rows, when, and the value tiers' sizes and CLV."""

    fit: ClvFit
    scored_at: datetime
    horizon: int
    discount_rate: float
    rows: int
    tiers: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.tiers

    def to_dict(self) -> dict[str, Any]:
        return {
            "scored_at": self.scored_at.isoformat(),
            "as_of": self.fit.calibration_end.isoformat(),
            "horizon_months": self.horizon,
            "discount_rate": self.discount_rate,
            "rows": self.rows,
            "tiers": self.tiers.to_dict(orient="records"),
            "models": self.fit.to_dict()["models"],
        }

    def summary(self) -> str:
        return (
            f"Scored {self.rows} customers as of {self.fit.calibration_end} "
            f"(CLV over {self.horizon} months at {self.discount_rate:.2%} a month)\n"
            + self.tiers.to_string(index=False, float_format=lambda v: f"{v:,.2f}")
        )


def holdout_buckets(model: BetaGeo, compressed: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs actual holdout purchases per calibration-frequency bucket from compressed rows."""
    duration = float(compressed.duration_holdout.max())
    predicted = model.conditional_expected_number_of_purchases_up_to_time(
        duration, compressed.frequency, compressed.recency, compressed["T"]
    )
    frame = pd.DataFrame(
        {
            "bucket": np.minimum(compressed.frequency.to_numpy(), MAX_BUCKET),
            "customers": compressed.weight.to_numpy(float),
            "actual_total": compressed.frequency_holdout_sum.to_numpy(float),
            "predicted_total": predicted * compressed.weight.to_numpy(float),
        }
    )
    grouped = frame.groupby("bucket", sort=True).sum().reset_index()
    grouped["actual"] = grouped.actual_total / grouped.customers
    grouped["predicted"] = grouped.predicted_total / grouped.customers
    grouped["bucket"] = [f"{b}+" if b == MAX_BUCKET else str(b) for b in grouped.bucket]
    grouped["customers"] = grouped.customers.astype(int)
    return grouped[["bucket", "customers", "actual", "predicted", "actual_total", "predicted_total"]]


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def _fit_models(
    con: BaseBackend,
    units: frozenset[str] | None,
    *,
    calibration_end: date,
    observation_end: date | None,
    time_unit: TimeUnit,
    value: ValueColumn,
    penalizer: float,
) -> tuple[ClvFit, pd.DataFrame]:
    compressed = rfm_compressed(
        con,
        calibration_end=calibration_end,
        time_unit=time_unit,
        observation_end=observation_end,
        units=units,
    )
    if compressed.empty:
        raise NoTransactionsError(_missing_transactions(con, units, f" on or before {calibration_end}"))
    customers = int(compressed.weight.sum())
    repeat = int(compressed.weight[compressed.frequency > 0].sum())
    if repeat == 0:
        raise NoTransactionsError(
            f"none of the {customers} customers bought more than once by {calibration_end}: BG/NBD needs "
            "repeat purchases. Use a later calibration end or a finer time unit (--time-unit day)."
        )
    bg = BetaGeo(penalizer=penalizer).fit(
        compressed.frequency, compressed.recency, compressed["T"], weights=compressed.weight
    )
    gg = None
    if repeat >= 3:
        summary = rfm_expression(
            con, calibration_end=calibration_end, time_unit=time_unit, units=units, value=value
        )
        repeaters = summary.filter((summary.frequency > 0) & (summary.monetary_value > 0))
        spend = con.execute(repeaters.select("frequency", "monetary_value"))
        if len(spend) >= 3:
            gg = GammaGamma(penalizer=penalizer).fit(spend.frequency, spend.monetary_value)
    holdout = None
    if observation_end is not None:
        holdout = holdout_buckets(bg, compressed)
    fit = ClvFit(
        calibration_end=calibration_end,
        observation_end=observation_end,
        time_unit=time_unit,
        value=value,
        customers=customers,
        repeat_customers=repeat,
        transaction_model=bg,
        spend_model=gg,
        holdout=holdout,
    )
    return fit, compressed


def _missing_transactions(con: BaseBackend, units: frozenset[str] | None, when: str) -> str:
    """Why there is nothing to fit, naming the file or column actually missing."""
    stored = int(con.execute(con.table("transactions").count()))
    if stored and units is not None:
        return (
            f"no transactions{when} for the customers of your units: a customer's home unit comes from the "
            "customers file (its unit_id column), and none of the customers who bought is placed in your "
            "units. Import customers with their unit_id (`cxloop import customers FILE`)"
        )
    if stored:
        return (
            f"no transactions{when}: the {stored:,} stored transactions are all later; choose a later "
            "calibration end"
        )
    return (
        "no transactions are imported: the transactions file (transaction_id, customer_id, occurred_at, "
        "amount) is missing. Import it (`cxloop import transactions FILE`) or run `cxloop demo generate` "
        "for a demo company."
    )


def _last_transaction_day(con: BaseBackend, units: frozenset[str] | None) -> date | None:
    from cxloop.warehouse.queries.rfm import scoped_transactions

    transactions = scoped_transactions(con, units)
    last = con.execute(transactions.occurred_at.max())
    if last is None or pd.isna(last):
        return None
    return pd.Timestamp(last).date()


def fit_clv(
    viewer: Viewer,
    *,
    stores: Stores,
    calibration_end: date | datetime | str,
    time_unit: TimeUnit = "week",
    observation_end: date | datetime | str | None = None,
    value: ValueColumn = "amount",
    penalizer: float = 0.0,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on the viewer's customers (see the module docstring).

    Parameters
    ----------
    viewer : Viewer
        Whose scope: only customers whose home unit the viewer can see are used.
    stores : Stores
        The app database (for the viewer's scope) and the warehouse.
    calibration_end : date
        Last day of the calibration window.
    time_unit : {"day", "week", "month"}
    observation_end : date, optional
        Last day of the holdout window. Default: the last transaction day in scope when it falls after
        ``calibration_end`` (otherwise no holdout).
    value : {"amount", "margin"}
        What the spend model describes.
    penalizer : float
        L2 penalty of both fits (0: maximum likelihood).

    Raises
    ------
    NoTransactionsError
        No transactions (or no repeat purchases) in scope; the message says what to do next.
    """
    session, con = stores.session, stores.warehouse
    units = fact_units(session, viewer)
    cal_end = _as_date(calibration_end)
    obs_end = None if observation_end is None else _as_date(observation_end)
    if obs_end is None:
        last = _last_transaction_day(con, units)
        obs_end = last if last is not None and last > cal_end else None
    fit, _ = _fit_models(
        con,
        units,
        calibration_end=cal_end,
        observation_end=obs_end,
        time_unit=time_unit,
        value=value,
        penalizer=penalizer,
    )
    return fit


def _triple_scores(
    bg: BetaGeo, compressed: pd.DataFrame, *, horizon: int, per_month: float, discount_rate: float
) -> pd.DataFrame:
    f, r, t = compressed.frequency, compressed.recency, compressed["T"]
    triples = compressed[["frequency", "recency", "T"]].copy()
    triples["p_alive"] = bg.conditional_probability_alive(f, r, t)
    previous = np.zeros(len(triples))
    discounted = np.zeros(len(triples))
    for month in range(1, horizon + 1):
        current = bg.conditional_expected_number_of_purchases_up_to_time(month * per_month, f, r, t)
        discounted += (current - previous) / (1 + discount_rate) ** month
        previous = current
    triples["expected_purchases"] = previous
    triples["discounted_purchases"] = discounted
    return triples


def _spend_coefficients(gg: GammaGamma | None, frequencies: np.ndarray, fallback: float) -> pd.DataFrame:
    """``A(x)``, ``B(x)`` with ``E(Z | x, m) = A + B m`` (the Gamma-Gamma mean is linear in ``m``)."""
    x = np.unique(frequencies.astype(np.int64))
    if gg is None:  # too few repeat customers: everyone is valued at the population's mean spend
        return pd.DataFrame({"frequency": x, "spend_intercept": fallback, "spend_slope": 0.0})
    at_one = gg.conditional_expected_average_profit(x, np.ones(len(x)))
    at_two = gg.conditional_expected_average_profit(x, np.full(len(x), 2.0))
    slope = at_two - at_one
    return pd.DataFrame({"frequency": x, "spend_intercept": at_one - slope, "spend_slope": slope})


def score_clv(
    viewer: Viewer,
    *,
    stores: Stores,
    as_of: date | datetime | str | None = None,
    time_unit: TimeUnit = "week",
    horizon: int = 12,
    discount_rate: float = 0.01,
    value: ValueColumn = "amount",
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
    penalizer: float = 0.0,
    scored_at: datetime | None = None,
) -> ClvScores:
    """Fit on everything up to ``as_of`` and write each in-scope customer's scores to ``customer_value``.

    Parameters
    ----------
    as_of : date, optional
        Score as of this day (default: the last transaction day in scope).
    horizon : int
        Months of the CLV and expected-purchases horizon.
    discount_rate : float
        Monthly discount rate.
    tiers : sequence of (name, cumulative share)
        Value tiers by CLV rank within the scored customers (default top 10% / next 40% / bottom 50%).
    scored_at : datetime, optional
        Timestamp stored with the scores (default: now, UTC).

    Customers of the viewer's scope get their rows replaced; rows of other customers are kept.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month, got {horizon}")
    session, con = stores.session, stores.warehouse
    units = fact_units(session, viewer)
    if as_of is None:
        last = _last_transaction_day(con, units)
        if last is None:
            raise NoTransactionsError(_missing_transactions(con, units, ""))
        as_of = last
    as_of_day = _as_date(as_of)
    fit, compressed = _fit_models(
        con,
        units,
        calibration_end=as_of_day,
        observation_end=None,
        time_unit=time_unit,
        value=value,
        penalizer=penalizer,
    )
    per_month = PERIODS_PER_MONTH[_FREQ_CODE[time_unit]]
    triples = _triple_scores(
        fit.transaction_model, compressed, horizon=horizon, per_month=per_month, discount_rate=discount_rate
    )
    summary = rfm_expression(con, calibration_end=as_of_day, time_unit=time_unit, units=units, value=value)
    fallback = float(con.execute(summary.filter(summary.frequency > 0).monetary_value.mean()) or 0.0)
    spend = _spend_coefficients(fit.spend_model, compressed.frequency.to_numpy(), fallback)
    stamp = scored_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    scores = scored_customers(summary, triples, spend, scored_at=stamp, horizon=horizon, tiers=tiers)
    table = scores.to_pyarrow()
    rows = write_customer_value(con, table)
    frame = table.to_pandas()
    tier_frame = (
        frame.groupby("value_tier")
        .agg(
            customers=("clv", "size"),
            clv_total=("clv", "sum"),
            clv_mean=("clv", "mean"),
            p_alive=("p_alive", "mean"),
        )
        .reindex([name for name, _ in tiers])
        .reset_index()
    )
    tier_frame["clv_share"] = tier_frame.clv_total / frame.clv.sum()
    return ClvScores(
        fit=fit, scored_at=stamp, horizon=horizon, discount_rate=discount_rate, rows=rows, tiers=tier_frame
    )


@dataclass(frozen=True)
class RetentionFit:
    """A shifted-beta-geometric model of the scope's subscriptions (contractual churn).

    Attributes
    ----------
    as_of : date
        Subscriptions are observed up to this day.
    period_days : float
        Length of one renewal period in days (30.4375: months).
    subscriptions, churned : int
        Records fitted and how many had ended.
    model : ShiftedBetaGeometric
        ``params_`` ``alpha``, ``beta``; ``alpha / (alpha + beta)`` is the mean churn probability of a new
        subscriber per period.
    active : DataFrame
        The active subscriptions grouped by renewals made: ``renewals``, ``subscriptions``, ``fee_total``.
    """

    as_of: date
    period_days: float
    subscriptions: int
    churned: int
    model: ShiftedBetaGeometric
    active: pd.DataFrame = field(compare=False)

    def projection(self, periods: int = 24) -> pd.DataFrame:
        """Survival ``S(t)`` of a new cohort and the retention rate ``r_t`` for ``t = 0..periods``."""
        t = np.arange(periods + 1)
        retention = np.r_[np.nan, self.model.retention_rate(t[1:])]
        return pd.DataFrame(
            {"t": t, "survival": self.model.survival_function(t), "retention_rate": retention}
        )

    def active_base_value(self, discount_rate: float = 0.01) -> float:
        """Discounted expected residual lifetime value of the active subscribers (Fader & Hardie 2010):
        each group's DERL at its renewals made, times its fees per period."""
        if self.active.empty:
            return 0.0
        per_fee = self.model.derl(discount_rate, renewals=self.active.renewals.to_numpy())
        return float(np.sum(per_fee * self.active.fee_total.to_numpy(float)))

    def to_dict(self, discount_rate: float = 0.01) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "period_days": self.period_days,
            "subscriptions": self.subscriptions,
            "churned": self.churned,
            "params": self.model.params_,
            "standard_errors": self.model.standard_errors_,
            "log_likelihood": self.model.log_likelihood_,
            "active_base_value": self.active_base_value(discount_rate),
            "discount_rate": discount_rate,
        }

    def summary(self) -> str:
        return (
            f"sBG retention as of {self.as_of}: {self.subscriptions} subscriptions, {self.churned} ended\n"
            + self.model.summary().to_string(float_format=lambda v: f"{v:.4g}")
            + f"\nlog-likelihood {self.model.log_likelihood_:.2f}; active base value (DERL, 1% per period) "
            + f"{self.active_base_value():,.0f}"
        )


def fit_retention(
    viewer: Viewer,
    *,
    stores: Stores,
    as_of: date | datetime | str,
    period_days: float = 30.4375,
) -> RetentionFit:
    """Fit the shifted-beta-geometric model on the subscriptions of the viewer's customers.

    Durations are built and grouped in the engine
    (:func:`cxloop.warehouse.queries.kpis.subscription_durations`).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer Retention. *Journal of Interactive
    Marketing* 21(1), 76-90. Fader, P. S. & Hardie, B. G. S. (2010). Customer-Base Valuation in a
    Contractual Setting: The Perils of Ignoring Heterogeneity. *Marketing Science* 29(1), 85-93.
    """
    session, con = stores.session, stores.warehouse
    units = fact_units(session, viewer)
    day = _as_date(as_of)
    durations = subscription_durations(con, as_of=day, units=units, period_days=period_days)
    if durations.empty or durations.churned.sum() == 0:
        raise NoTransactionsError(
            f"no ended subscriptions by {day} for the customers in your scope: the churn model needs some. "
            "Import subscriptions (`cxloop import subscriptions FILE`) or run `cxloop demo generate`."
        )
    counts = durations.subscriptions.to_numpy(np.int64)
    model = ShiftedBetaGeometric().fit_durations(
        np.repeat(durations.periods_observed.to_numpy(), counts),
        np.repeat(durations.churned.to_numpy(), counts) > 0,
    )
    active = durations[durations.churned == 0].rename(columns={"periods_observed": "renewals"})
    return RetentionFit(
        as_of=day,
        period_days=period_days,
        subscriptions=int(counts.sum()),
        churned=int(durations.subscriptions[durations.churned > 0].sum()),
        model=model,
        active=active[["renewals", "subscriptions", "fee_total"]].reset_index(drop=True),
    )
