"""CLV service: fit on the viewer's customers, holdout check, scores written back to the warehouse."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.value.clv import fit_clv, fit_retention, score_clv
from cxloop.services.value.money import NoTransactionsError
from cxloop.warehouse.connection import connect
from cxloop.warehouse.queries.rfm import rfm_summary
from support.value_world import CAL_END, END, TRUE_BG, TRUE_GG, TRUE_SBG, install, sbg_world, simulate


@pytest.fixture(scope="module")
def world():
    return simulate()


@pytest.fixture
def company(settings, world):
    install(settings, world)
    return settings


def test_fit_recovers_the_simulated_process_and_predicts_the_holdout(company, world, stores_for):
    fit = fit_clv(Viewer("bank"), stores=stores_for(company), calibration_end=CAL_END, time_unit="day")
    assert fit.observation_end == world.transactions.occurred_at.max().date()  # the default
    assert fit.customers == 1500
    summary = fit.parameters()
    truth = {**TRUE_BG, "alpha": TRUE_BG["alpha"] * 7}  # alpha is per time unit: weeks -> days
    for name, true in truth.items():
        row = summary[(summary.model == "bg_nbd") & (summary.parameter == name)].iloc[0]
        assert row.ci_lower <= true <= row.ci_upper, (name, row.to_dict())
    for name, true in TRUE_GG.items():
        row = summary[(summary.model == "gamma_gamma") & (summary.parameter == name)].iloc[0]
        assert row.ci_lower <= true <= row.ci_upper, (name, row.to_dict())
    totals = fit.holdout_totals()
    assert totals is not None
    assert abs(totals["relative_error"]) < 0.10
    assert fit.holdout.customers.sum() == 1500
    assert list(fit.holdout.bucket)[-1] == "7+"
    payload = json.loads(json.dumps(fit.to_dict()))
    assert set(payload["models"]) == {"bg_nbd", "gamma_gamma"}
    assert payload["models"]["bg_nbd"]["log_likelihood"] < 0
    assert "Holdout" in fit.summary()


def test_fit_is_scoped_to_the_viewers_subtree(company, world, stores_for):
    north = fit_clv(Viewer("north"), stores=stores_for(company), calibration_end=CAL_END)
    home = world.customers.set_index("customer_id").unit_id
    con = connect(company)
    expected = rfm_summary(con, calibration_end=CAL_END, units={"north", "n1", "n2"})
    assert north.customers == len(expected)
    assert set(home[expected.index]) == {"n1", "n2"}
    with pytest.raises(ScopeError):
        fit_clv(Viewer("nowhere"), stores=stores_for(company), calibration_end=CAL_END)


def test_figure_is_written_as_html(company, tmp_path, stores_for):
    fit = fit_clv(Viewer("bank"), stores=stores_for(company), calibration_end=CAL_END, observation_end=END)
    path = fit.write_figure(tmp_path / "holdout.html")
    text = path.read_text()
    assert "Repeat purchases in the holdout" in text
    assert (tmp_path / "plotly.min.js").exists()
    with pytest.raises(ValueError, match="html"):
        fit.write_figure(tmp_path / "holdout.png")


def test_score_writes_customer_value(company, world, stores_for):
    stamp = datetime(2024, 7, 1, 6, 0)
    scores = score_clv(Viewer("bank"), stores=stores_for(company), horizon=12, scored_at=stamp)
    assert scores.rows == 1500
    con = connect(company)
    stored = con.table("customer_value").execute().set_index("customer_id").sort_index()
    assert len(stored) == 1500
    assert (stored.scored_at == pd.Timestamp(stamp)).all()
    assert stored.p_alive.between(0, 1).all()
    assert (stored.clv > 0).all() and (stored.expected_spend >= stored.clv * 0.9).all()
    # the tiers: top 10% / next 40% / bottom 50% of customers by CLV
    shares = stored.value_tier.value_counts(normalize=True)
    assert shares["top"] == pytest.approx(0.10, abs=0.01)
    assert shares["bottom"] == pytest.approx(0.50, abs=0.01)
    assert stored[stored.value_tier == "top"].clv.min() >= stored[stored.value_tier == "middle"].clv.max()
    # the engine's CLV equals the estimator's own per-customer calculation
    summary = rfm_summary(con, calibration_end=END, time_unit="week").loc[stored.index]
    fit = scores.fit
    direct = fit.spend_model.customer_lifetime_value(
        fit.transaction_model,
        summary.frequency,
        summary.recency,
        summary["T"],
        np.where(summary.frequency > 0, summary.monetary_value, 1.0),
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    np.testing.assert_allclose(stored.clv.to_numpy(), direct, rtol=1e-9)
    alive = fit.transaction_model.conditional_probability_alive(
        summary.frequency, summary.recency, summary["T"]
    )
    np.testing.assert_allclose(stored.p_alive.to_numpy(), alive, rtol=1e-9)
    assert scores.tiers.set_index("value_tier").loc["top", "clv_share"] > 0.25


def test_scoped_scoring_replaces_only_its_customers(company, stores_for):
    score_clv(Viewer("bank"), stores=stores_for(company), scored_at=datetime(2024, 7, 1))
    score_clv(Viewer("south"), stores=stores_for(company), scored_at=datetime(2024, 7, 2))
    con = connect(company)
    stored = con.table("customer_value").execute()
    customers = con.table("customers").execute().set_index("customer_id").unit_id
    assert len(stored) == 1500
    fresh = stored[stored.scored_at == pd.Timestamp("2024-07-02")]
    assert set(customers[fresh.customer_id]) == {"s1"}
    assert len(fresh) == (customers == "s1").sum()


def test_no_transactions_says_what_to_do(settings, stores_for):
    install(settings, simulate(n=0))
    with pytest.raises(NoTransactionsError, match="cxloop demo generate"):
        fit_clv(Viewer("bank"), stores=stores_for(settings), calibration_end=CAL_END)
    with pytest.raises(NoTransactionsError, match="import"):
        score_clv(Viewer("bank"), stores=stores_for(settings))


def test_retention_fit_recovers_the_sbg_parameters(settings, stores_for):
    install(settings, sbg_world())
    fit = fit_retention(Viewer("bank"), stores=stores_for(settings), as_of=date(2024, 6, 30))
    assert fit.subscriptions == 3000 and 0 < fit.churned < 3000
    summary = fit.model.summary()
    for name, true in TRUE_SBG.items():
        assert summary.loc[name, "ci_lower"] <= true <= summary.loc[name, "ci_upper"], summary
    projection = fit.projection(12)
    assert projection.survival.iloc[0] == 1.0 and (np.diff(projection.survival) < 0).all()
    assert (np.diff(projection.retention_rate.dropna()) > 0).all()  # survivors are the loyal ones
    active = fit.active
    assert active.subscriptions.sum() == 3000 - fit.churned
    value = fit.active_base_value(0.01)
    assert value > active.fee_total.sum()  # each active subscriber is worth more than one more fee
    payload = json.loads(json.dumps(fit.to_dict()))
    assert set(payload["params"]) == {"alpha", "beta"}
    south = fit_retention(Viewer("south"), stores=stores_for(settings), as_of=date(2024, 6, 30))
    assert south.subscriptions == 1000
    assert "sBG retention" in fit.summary()


def test_retention_fit_needs_ended_subscriptions(settings, stores_for):
    install(settings, simulate(n=0))
    with pytest.raises(NoTransactionsError, match="subscriptions"):
        fit_retention(Viewer("bank"), stores=stores_for(settings), as_of=date(2024, 6, 30))
