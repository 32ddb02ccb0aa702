"""Ground truth: on the demo company the value services recover the true churn and spend behaviour.

The demo (``cxloop.demo``) is not BG/NBD-shaped: a customer's *state* is the NPS class of their latest
answer, and each month the state sets a churn hazard (``base[segment] x hazard_ratio[state] x
seasonality[month]``), a Poisson purchase rate and a gamma spend (``ground_truth.json``, ``behaviour``).
Churn ends the customer's subscription. So what is checked is what the truth states:

* month by month, the share of subscribers of each NPS class who churn (the service's
  ``subscription_churn_rate`` by NPS class, with its n) pooled over twelve months equals the truth's
  hazard for the same customer-months within the Wilson interval; the detractor / promoter hazard ratio
  estimated from the service's counts (segment-standardised) holds the true 2.6 in its interval;
* spend per customer by NPS class over the same months matches the truth's expected spend;
* BG/NBD, although misspecified here, forecasts the holdout's repeat purchases within 10% and its
  P(alive) ranks the customers who really churned below those who did not.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxloop.services.access.scope import Viewer
from cxloop.services.value.clv import fit_clv
from cxloop.services.value.money import NPS_CLASSES, experience_and_money
from cxloop.warehouse.connection import connect
from cxloop.warehouse.queries.rfm import rfm_summary
from support.stores import stores_with

SCALE, SEED = 0.2, 11
MONTHS = [date(2025, m, 1) for m in range(3, 13)] + [date(2026, 1, 1), date(2026, 2, 1)]
MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@pytest.fixture(scope="module")
def demo(demo_companies):
    company = demo_companies.loaded(SCALE, SEED)  # read-only: shared with other modules
    settings, dataset = company.settings, company.dataset
    frames = {
        kind: pd.read_parquet(dataset.files[kind]) for kind in ("customers", "responses", "subscriptions")
    }
    con = connect(settings)
    yield settings, dataset.truth(), frames, con
    con.disconnect()


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _truth_month(truth, frames, month: date) -> pd.DataFrame:
    """Per NPS class: subscribers at the month's start and the truth's expected churn and spend."""
    behaviour = truth["behaviour"]
    churn, purchases, spend = behaviour["churn"], behaviour["purchases"], behaviour["spend"]
    key = MONTH_KEYS[month.month - 1]
    start = pd.Timestamp(month)
    responses = frames["responses"].dropna(subset=["customer_id"])
    latest = (
        responses[responses.submitted_at < start]
        .sort_values(["customer_id", "submitted_at", "response_id"])
        .groupby("customer_id")
        .tail(1)
    )
    state = pd.cut(latest.nps, [-0.5, 6.5, 8.5, 10.5], labels=list(NPS_CLASSES)).astype(str).to_numpy()
    customers = frames["customers"].set_index("customer_id").loc[latest.customer_id]
    subscription = frames["subscriptions"].set_index("customer_id").reindex(latest.customer_id)
    alive = (subscription.started_at < start) & (
        subscription.ended_at.isna() | (subscription.ended_at >= start)
    )
    segment = customers.segment.to_numpy()
    base = np.array([churn["base_monthly_hazard"][s] for s in segment]) * churn["seasonality"][key]
    ratio = np.array([churn["hazard_ratio"][s] for s in state])
    hazard = base * ratio
    rate = np.array([purchases["rate"][s] for s in segment]) * np.array(
        [purchases["rate_ratio"][s] for s in state]
    )
    amount = np.array([spend["mean_spend"][s] for s in segment]) * np.array(
        [spend["spend_ratio"][s] for s in state]
    )
    # a customer who churns mid-month buys for half of it on average
    expected_spend = alive.to_numpy() * (1 - hazard / 2) * rate * purchases["seasonality"][key] * amount
    frame = pd.DataFrame(
        {
            "nps_class": state,
            "at_risk": alive.to_numpy().astype(int),
            "hazard": hazard * alive.to_numpy(),
            "base": base * alive.to_numpy(),
            "expected_spend": expected_spend,
        }
    )
    return frame.groupby("nps_class").agg(
        customers=("at_risk", "size"),
        at_risk=("at_risk", "sum"),
        hazard=("hazard", "sum"),
        base=("base", "sum"),
        expected_spend=("expected_spend", "sum"),
    )


def _pooled(demo):
    settings, truth, frames, con = demo
    viewer = Viewer(truth["hierarchy"]["company"])
    observed, expected = [], []
    with stores_with(settings, con) as stores:
        for month in MONTHS:
            horizon = (_next_month(month) - month).days
            money = experience_and_money(
                viewer, stores=stores, as_of=month - timedelta(days=1), horizon_days=horizon
            )
            observed.append(money.statistics.set_index("nps_class"))
            expected.append(_truth_month(truth, frames, month))
    return sum(observed[1:], observed[0]), sum(expected[1:], expected[0])


@pytest.fixture(scope="module")
def pooled(demo):
    return _pooled(demo)


def test_churn_by_nps_class_matches_the_true_hazards(pooled):
    observed, expected = pooled
    for name in NPS_CLASSES:
        # the service and the truth see the same subscribers at risk, month by month
        assert observed.loc[name, "sub_at_risk"] == expected.loc[name, "at_risk"]
        churned, at_risk = observed.loc[name, "sub_churned"], observed.loc[name, "sub_at_risk"]
        low, high = stats.binomtest(int(churned), int(at_risk)).proportion_ci(0.99, method="wilson")
        true_rate = expected.loc[name, "hazard"] / expected.loc[name, "at_risk"]
        assert low <= true_rate <= high, (name, churned / at_risk, true_rate, (low, high))
    churn = observed.sub_churned / observed.sub_at_risk
    assert churn["detractor"] > churn["passive"] > churn["promoter"]


def test_detractor_hazard_ratio_holds_the_truth(pooled, demo):
    observed, expected = pooled
    truth = demo[1]["behaviour"]["churn"]["hazard_ratio"]
    # events over the segment- and season-standardised exposure: a Poisson rate per class
    standardised = observed.sub_churned / expected.base
    log_ratio = np.log(standardised["detractor"] / standardised["promoter"])
    se = np.sqrt(1 / observed.loc["detractor", "sub_churned"] + 1 / observed.loc["promoter", "sub_churned"])
    low, high = np.exp(log_ratio - 1.96 * se), np.exp(log_ratio + 1.96 * se)
    assert low <= truth["detractor"] / truth["promoter"] <= high, (np.exp(log_ratio), (low, high))
    assert low > 1.5  # and the data say detractors clearly churn more


def test_spend_by_nps_class_matches_the_truth(pooled):
    observed, expected = pooled
    for name in NPS_CLASSES:
        n = observed.loc[name, "customers"]
        assert n == expected.loc[name, "customers"]
        mean = observed.loc[name, "spend"] / n
        sd = np.sqrt((observed.loc[name, "spend_sq"] - n * mean**2) / (n - 1))
        true_mean = expected.loc[name, "expected_spend"] / n
        # customer-months of one customer are correlated: a 99% interval, widened for ~12 months per customer
        half = stats.t.ppf(0.995, n - 1) * sd / np.sqrt(n / 12)
        assert abs(mean - true_mean) <= half, (name, mean, true_mean, half)
    spend = observed.spend / observed.customers
    assert spend["promoter"] > spend["passive"] > spend["detractor"]


def test_bg_nbd_forecasts_the_holdout_and_ranks_the_churned(demo, stores_for):
    settings, truth, frames, con = demo
    viewer = Viewer(truth["hierarchy"]["company"])
    calibration_end = date(2025, 9, 30)
    fit = fit_clv(viewer, stores=stores_for(settings, warehouse=con), calibration_end=calibration_end)
    totals = fit.holdout_totals()
    assert abs(totals["relative_error"]) < 0.10
    summary = rfm_summary(con, calibration_end=calibration_end)
    subscription = frames["subscriptions"].set_index("customer_id").reindex(summary.index)
    alive = (subscription.ended_at.isna() | (subscription.ended_at >= pd.Timestamp("2025-10-01"))).to_numpy()
    p_alive = fit.transaction_model.conditional_probability_alive(
        summary.frequency, summary.recency, summary["T"]
    )
    auc = stats.mannwhitneyu(p_alive[alive], p_alive[~alive]).statistic / (alive.sum() * (~alive).sum())
    assert auc > 0.65


def test_money_by_csat_and_ces_level(demo, stores_for):
    settings, truth, frames, con = demo
    viewer = Viewer(truth["hierarchy"]["company"])
    csat = experience_and_money(
        viewer, stores=stores_for(settings, warehouse=con), as_of=date(2025, 9, 30), by="csat"
    ).groups
    assert set(csat.csat) == {1.0, 2.0, 3.0, 4.0, 5.0}
    spend = csat[csat.measure == "spend"].set_index("csat")
    # experience drives the state that sets spend: the satisfied spend clearly more than the lukewarm
    assert spend.loc[5.0, "ci_low"] > spend.loc[3.0, "ci_high"]
    ces = experience_and_money(
        viewer, stores=stores_for(settings, warehouse=con), as_of=date(2025, 9, 30), by="ces"
    ).groups
    small = ces[ces.n.isna()]
    assert small.suppressed.all() and (ces[~ces.suppressed].n >= settings.min_n).all()
