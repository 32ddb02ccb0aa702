"""Value tiers, profit concentration, behaviour by NPS class, revenue at risk, the value of an NPS point."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.value.clv import score_clv
from cxloop.services.value.money import (
    NoTransactionsError,
    experience_and_money,
    nps_point_value,
    revenue_at_risk,
    value_tiers,
)
from cxloop.warehouse.connection import connect
from support.value_world import install, simulate

AS_OF = date(2023, 9, 30)


@pytest.fixture(scope="module")
def world():
    return simulate(n=1200, seed=21)


@pytest.fixture
def company(settings, world, stores_for):
    install(settings, world)
    score_clv(Viewer("bank"), stores=stores_for(settings), scored_at=datetime(2024, 7, 1))
    return settings


def latest_class(world, as_of=AS_OF) -> pd.Series:
    r = world.responses[world.responses.submitted_at < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    r = r.sort_values(["customer_id", "submitted_at", "response_id"]).groupby("customer_id").tail(1)
    classes = pd.cut(r.nps, [-0.5, 6.5, 8.5, 10.5], labels=["detractor", "passive", "promoter"])
    return pd.Series(classes.astype(str).to_numpy(), index=r.customer_id.to_numpy())


def test_value_tiers_and_concentration(company, world, stores_for):
    result = value_tiers(Viewer("bank"), stores=stores_for(company))
    tiers = result.tiers.set_index("tier")
    assert list(tiers.index) == ["top", "middle", "bottom"]
    assert tiers.customers.sum() == 1200
    assert tiers.loc["top", "customers"] == pytest.approx(120, abs=2)
    assert tiers.clv_share.sum() == pytest.approx(1.0)
    assert tiers.loc["top", "clv_share"] > 0.3  # value is concentrated
    curve = result.concentration
    assert len(curve) == 100 and curve.clv_share.iloc[-1] == pytest.approx(1.0)
    assert (np.diff(curve.clv_share) >= -1e-12).all()
    assert (curve.clv_share >= curve.customer_share - 1e-12).all()  # ranked by value: above the diagonal
    assert result.share_of_value(0.1) == pytest.approx(tiers.loc["top", "clv_share"], abs=0.01)
    # the NPS of the top tier equals a direct count over those customers' responses
    stored = connect(company).table("customer_value").execute().sort_values("clv", ascending=False)
    top = set(stored.customer_id.iloc[:120])
    scores = world.responses[world.responses.customer_id.isin(top)].nps
    direct = 100 * ((scores >= 9).mean() - (scores <= 6).mean())
    row = result.measures[(result.measures.tier == "top") & (result.measures.measure == "nps")].iloc[0]
    assert row.n == len(scores) and row.estimate == pytest.approx(direct)
    assert row.ci_low < row.estimate < row.ci_high
    clv = result.measures[(result.measures.measure == "clv")].set_index("tier").estimate
    assert clv["top"] > clv["middle"] > clv["bottom"]


def test_value_tiers_are_scoped(company, stores_for):
    north = value_tiers(Viewer("north"), stores=stores_for(company))
    assert north.tiers.customers.sum() == 800  # customers of n1 and n2
    with pytest.raises(ScopeError):
        value_tiers(Viewer("north"), stores=stores_for(company), unit="s1")
    n1 = value_tiers(Viewer("north"), stores=stores_for(company), unit="n1")
    assert n1.tiers.customers.sum() == 400


def test_behaviour_by_nps_class(company, world, stores_for):
    money = experience_and_money(Viewer("bank"), stores=stores_for(company), as_of=AS_OF, horizon_days=365)
    groups = money.groups.set_index(["nps_class", "measure"])
    classes = latest_class(world)
    hi = pd.Timestamp(AS_OF) + pd.Timedelta(days=366)
    window = world.transactions[
        (world.transactions.occurred_at >= pd.Timestamp(AS_OF) + pd.Timedelta(days=1))
        & (world.transactions.occurred_at < hi)
    ]
    bought = set(window.customer_id)
    margin = window.groupby("customer_id").margin.sum()
    for name in ("detractor", "passive", "promoter"):
        ids = classes.index[classes == name]
        repurchase = groups.loc[(name, "repurchase_rate")]
        assert repurchase.n == len(ids)
        assert repurchase.estimate == pytest.approx(np.mean([c in bought for c in ids]))
        assert groups.loc[(name, "margin")].estimate == pytest.approx(margin.reindex(ids).fillna(0).mean())
    # the synthetic company's detractors leave more: churn by class is ordered and clearly apart
    churn = groups.xs("churn_rate", level="measure")
    assert churn.loc["detractor", "ci_low"] > churn.loc["promoter", "ci_high"]
    assert (
        churn.loc["detractor", "estimate"]
        > churn.loc["passive", "estimate"]
        > churn.loc["promoter", "estimate"]
    )
    by_rating = experience_and_money(Viewer("bank"), stores=stores_for(company), as_of=AS_OF, by="nps")
    assert by_rating.groups.nps.nunique() > 5


def test_revenue_at_risk_and_nps_point_value(company, stores_for):
    money = experience_and_money(Viewer("bank"), stores=stores_for(company), as_of=AS_OF, horizon_days=365)
    s = money.statistics.set_index("nps_class")
    churn = 1 - s.repurchased / s.customers
    risk = revenue_at_risk(money)
    assert risk["detractor_clv"].estimate == pytest.approx(s.loc["detractor", "clv"])
    # a real interval (it was zero-width): the scored detractors' number times their mean CLV's t interval
    n, total, total_sq = s.loc["detractor", ["scored", "clv", "clv_sq"]]
    sd = np.sqrt((total_sq - total**2 / n) / (n - 1))
    half = float(sps.t.ppf(0.975, n - 1)) * sd / np.sqrt(n) * n
    detractors = risk["detractor_clv"]
    assert detractors.ci_high - detractors.ci_low > 0
    assert detractors.ci_low == pytest.approx(total - half)
    assert detractors.ci_high == pytest.approx(total + half)
    assert detractors.se == pytest.approx(sd * np.sqrt(n))
    excess = sum((churn[c] - churn["promoter"]) * s.loc[c, "clv"] for c in ("detractor", "passive"))
    assert risk["excess_churn_value"].estimate == pytest.approx(excess)
    assert 0 < risk["excess_churn_value"].ci_low < excess < risk["excess_churn_value"].ci_high
    point = nps_point_value(money, customers=1200)
    mean = s.margin / s.customers
    assert point.estimate == pytest.approx(1200 * 0.005 * (mean["promoter"] - mean["detractor"]))
    assert point.ci_low > 0 and point.ci_low < point.estimate < point.ci_high
    assert money.customer_base == 1200
    assert nps_point_value(money).estimate == pytest.approx(point.estimate)
    spend_point = nps_point_value(money, customers=1200, measure="spend")
    assert spend_point.estimate == pytest.approx(point.estimate / 0.3)  # margin is 30% of spend here
    with pytest.raises(ValueError):
        revenue_at_risk(
            experience_and_money(Viewer("bank"), stores=stores_for(company), as_of=AS_OF, by="nps")
        )


def test_small_classes_are_suppressed(company, stores_for):
    strict = company.model_copy(update={"min_n": 10_000})
    money = experience_and_money(Viewer("bank"), stores=stores_for(strict), as_of=AS_OF)
    assert money.groups.suppressed.all() and money.groups.estimate.isna().all()


def test_without_scores_or_responses(settings, world, stores_for):
    install(settings, world)
    with pytest.raises(NoTransactionsError, match="cxloop clv score"):
        value_tiers(Viewer("bank"), stores=stores_for(settings))
    with pytest.raises(NoTransactionsError, match="survey"):
        experience_and_money(Viewer("bank"), stores=stores_for(settings), as_of=date(2022, 1, 1))
