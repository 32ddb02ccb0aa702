"""Business KPIs per unit subtree: numbers equal a direct pandas computation on the same data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.value.kpis import business_kpis, kpis_by_period, retention_curve
from cxloop.stats import proportion
from support.value_world import install, simulate

START, END = date(2023, 4, 1), date(2023, 9, 30)
SUBTREE = {"bank": {"n1", "n2", "s1"}, "north": {"n1", "n2"}, "south": {"s1"}, "n1": {"n1"}}


@pytest.fixture(scope="module")
def world():
    return simulate(n=600, seed=5)


@pytest.fixture
def company(settings, world):
    install(settings, world)
    return settings


def expected(world, unit: str) -> dict[str, tuple[float, float]]:
    """(n, estimate) of each KPI computed directly from the synthetic frames."""
    lo, hi = pd.Timestamp(START), pd.Timestamp(END) + pd.Timedelta(days=1)
    customers = world.customers[
        world.customers.unit_id.isin(SUBTREE[unit]) & (world.customers.acquired_at < hi)
    ]
    ids = set(customers.customer_id)
    tx = world.transactions[world.transactions.customer_id.isin(ids)]
    window = tx[(tx.occurred_at >= lo) & (tx.occurred_at < hi)]
    days = window.groupby("customer_id").occurred_at.apply(lambda s: s.dt.date.nunique())
    before = tx[(tx.occurred_at >= lo - (hi - lo)) & (tx.occurred_at < lo)].customer_id.unique()
    churned = [c for c in before if c not in days.index]
    subs = world.subscriptions[world.subscriptions.customer_id.isin(ids)]
    active = subs[(subs.started_at < lo) & (subs.ended_at.isna() | (subs.ended_at >= lo))]
    kept = active.ended_at.isna() | (active.ended_at >= hi)
    acquired = customers[(customers.acquired_at >= lo) & (customers.acquired_at < hi)]
    cost = world.contacts[
        world.contacts.customer_id.isin(ids)
        & (world.contacts.occurred_at >= lo)
        & (world.contacts.occurred_at < hi)
    ]
    margin = window.groupby("customer_id").margin.sum()
    return {
        "customers": (len(customers), len(customers)),
        "churn_rate_subscriptions": (len(active), float((~kept).mean())),
        "churn_rate_inactivity": (len(before), len(churned) / len(before)),
        "repeat_purchase_rate": (len(days), float((days >= 2).mean())),
        "cac": (len(acquired), float(acquired.acquisition_cost.mean())),
        "cost_to_serve": (len(customers), float(cost.cost.sum() / len(customers))),
        "margin_per_buyer": (len(margin), float(margin.mean())),
        "penetration:loans": (
            len(customers),
            tx[(tx.occurred_at < hi) & (tx.category == "loans")].customer_id.nunique() / len(customers),
        ),
    }


def test_kpis_equal_a_direct_computation_for_each_subtree(company, world, stores_for):
    table = business_kpis(Viewer("bank"), stores=stores_for(company), start=START, end=END).frame
    assert set(table.unit) == {"bank", "north", "south", "n1", "n2", "s1"}
    for unit in ("bank", "north", "n1"):
        for kpi, (n, value) in expected(world, unit).items():
            row = table[(table.unit == unit) & (table.kpi == kpi)].iloc[0]
            assert row.n == n, (unit, kpi)
            assert row.estimate == pytest.approx(value, rel=1e-9), (unit, kpi)
            if kpi != "customers":
                assert row.ci_low <= row.estimate <= row.ci_high


def test_intervals_are_wilson_and_t(company, world, stores_for):
    table = business_kpis(Viewer("bank"), stores=stores_for(company), start=START, end=END).frame.set_index(
        ["unit", "kpi"]
    )
    churn = table.loc[("bank", "churn_rate_inactivity")]
    wilson = proportion(churn.total, churn.n, 0.95)
    assert (churn.ci_low, churn.ci_high) == pytest.approx((wilson.ci_low, wilson.ci_high))
    cac = table.loc[("bank", "cac")]
    acquired = world.customers[
        (world.customers.acquired_at >= pd.Timestamp(START))
        & (world.customers.acquired_at <= pd.Timestamp(END))
    ].acquisition_cost
    low, high = scipy_stats.t.interval(0.95, len(acquired) - 1, acquired.mean(), scipy_stats.sem(acquired))
    assert (cac.ci_low, cac.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert cac.total == pytest.approx(acquired.sum())


def test_scope_and_small_cells(company, world, stores_for):
    north = business_kpis(Viewer("north"), stores=stores_for(company), start=START, end=END).frame
    assert set(north.unit) == {"north", "n1", "n2"}
    with pytest.raises(ScopeError):
        business_kpis(Viewer("north"), stores=stores_for(company), start=START, end=END, units=["s1"])
    strict = company.model_copy(update={"min_n": 150})
    table = business_kpis(Viewer("bank"), stores=stores_for(strict), start=START, end=END).frame
    open_table = business_kpis(
        Viewer("bank"), stores=stores_for(company.model_copy(update={"min_n": 1})), start=START, end=END
    )
    full = open_table.frame
    assert set(full[full.suppressed].kpi) == {"clv"}  # with min_n 1 only the KPI with n = 0 (no scores yet)
    small = full.suppressed | (full.n < 150)
    assert small.any() and (~small).any()
    assert table.suppressed[small].all()  # every KPI with fewer than 150 behind it is hidden
    assert table[table.suppressed].estimate.isna().all()
    shown = ~table.suppressed
    assert shown.any()
    np.testing.assert_allclose(table.estimate[shown], full.estimate[shown])


def test_segments(company, stores_for):
    table = business_kpis(
        Viewer("bank"), stores=stores_for(company), start=START, end=END, by_segment=True
    ).frame
    assert set(table.segment) == {"retail", "premium"}
    customers = table[(table.kpi == "customers") & (table.unit == "bank")]
    assert (
        customers.n.sum()
        == business_kpis(Viewer("bank"), stores=stores_for(company), start=START, end=END)
        .frame.query("unit == 'bank' and kpi == 'customers'")
        .n.iloc[0]
    )


def test_retention_curve(company, world, stores_for):
    curve = retention_curve(Viewer("bank"), stores=stores_for(company), as_of=date(2024, 6, 30), months=12)
    assert list(curve.t) == list(range(13))
    assert curve.share.iloc[0] == 1.0
    assert np.all(np.diff(curve.share.dropna()) <= 0.02)  # roughly falling (cohorts differ a little)
    assert curve.share.iloc[12] < 0.9
    at_risk_12 = (pd.Timestamp("2024-07-01") - world.subscriptions.started_at).dt.days / 30.4375 >= 12
    assert curve.at_risk.iloc[12] == at_risk_12.sum()
    with pytest.raises(ScopeError):
        retention_curve(Viewer("north"), stores=stores_for(company), as_of=date(2024, 6, 30), unit="s1")


def test_kpis_by_period(company, stores_for):
    trend = kpis_by_period(Viewer("north"), stores=stores_for(company), start=START, end=END, grain="quarter")
    assert list(trend.period.unique()) == ["2023-Q2", "2023-Q3"]
    q3 = trend[(trend.period == "2023-Q3") & (trend.unit == "north")].set_index("kpi")
    direct = business_kpis(Viewer("north"), stores=stores_for(company), start=date(2023, 7, 1), end=END).frame
    direct = direct[direct.unit == "north"].set_index("kpi")
    pd.testing.assert_series_equal(q3.estimate, direct.estimate)
