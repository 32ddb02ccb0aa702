"""BG/NBD: the paper's CDNOW numbers, agreement with ``lifetimes``, input checks, numerical care."""

from __future__ import annotations

import copy
from types import ModuleType

import clv_cdnow as published
import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from cxloop.stats.clv import BetaGeo, ConvergenceError


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> BetaGeo:
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def peer(lifetimes: ModuleType, cdnow: pd.DataFrame):
    return lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


# --- published numbers (Fader, Hardie & Lee 2005) -------------------------------------------------


def test_reproduces_published_cdnow_parameters(fitted: BetaGeo) -> None:
    assert fitted.n_ == published.BGNBD_N_CUSTOMERS
    for name, value in published.BGNBD_PARAMS.items():
        assert round(fitted.params_[name], published.BGNBD_PARAMS_DECIMALS) == value, name


def test_reproduces_published_log_likelihood(fitted: BetaGeo) -> None:
    decimals = published.BGNBD_LOG_LIKELIHOOD_DECIMALS
    assert round(fitted.log_likelihood_, decimals) == published.BGNBD_LOG_LIKELIHOOD


def test_reproduces_worked_conditional_expectation(fitted: BetaGeo) -> None:
    c = published.BGNBD_WORKED_CUSTOMER
    expected = fitted.conditional_expected_number_of_purchases_up_to_time(
        published.BGNBD_WORKED_HORIZON, c["frequency"], c["recency"], c["T"]
    )
    decimals = published.BGNBD_WORKED_DECIMALS
    assert round(float(expected[0]), decimals) == published.BGNBD_WORKED_EXPECTED_PURCHASES


# --- the lifetimes package on the same data -------------------------------------------------------


def test_parameters_and_standard_errors_match_lifetimes(fitted: BetaGeo, peer) -> None:
    for name in ("r", "alpha", "a", "b"):
        assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)
        assert fitted.standard_errors_[name] == pytest.approx(peer.summary.loc[name, "se(coef)"], rel=1e-3)


def test_predictions_match_lifetimes(fitted: BetaGeo, peer, cdnow: pd.DataFrame) -> None:
    x, t_x, big_t = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    for horizon in (1.0, 39.0, 156.0):
        ours = fitted.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, big_t)
        theirs = np.asarray(peer.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, big_t))
        np.testing.assert_allclose(ours, theirs, rtol=1e-3)
        assert fitted.expected_number_of_purchases_up_to_time(horizon) == pytest.approx(
            peer.expected_number_of_purchases_up_to_time(horizon), rel=1e-3
        )
    np.testing.assert_allclose(
        fitted.conditional_probability_alive(x, t_x, big_t),
        np.asarray(peer.conditional_probability_alive(x, t_x, big_t)),
        rtol=1e-3,
    )


# --- compression, weights, numerical care ---------------------------------------------------------


def test_fitting_aggregated_rows_with_weights_equals_fitting_every_customer(cdnow: pd.DataFrame) -> None:
    grouped = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="customers")
    by_customer = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    by_group = BetaGeo().fit(
        grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["customers"]
    )
    assert by_group.n_ == by_customer.n_ == len(cdnow)
    assert by_customer.n_groups_ == len(grouped) < len(cdnow)
    for name, value in by_customer.params_.items():
        assert by_group.params_[name] == pytest.approx(value, rel=1e-6)
    assert by_group.log_likelihood_ == pytest.approx(by_customer.log_likelihood_, rel=1e-10)


def test_euler_form_agrees_with_the_paper_formula_where_both_are_accurate(fitted: BetaGeo) -> None:
    r, alpha, a, b = (fitted.params_[k] for k in ("r", "alpha", "a", "b"))
    x = np.array([0, 1, 2, 5, 10, 20])
    t_x = np.array([0, 10.0, 30.43, 20.0, 35.0, 38.0])
    big_t, t = 38.86, 39.0
    z = t / (alpha + big_t + t)
    numerator = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    odds = a / np.maximum(b + x - 1, 1e-300) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    denominator = 1 + (x > 0) * odds
    ours = fitted.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t)
    np.testing.assert_allclose(ours, numerator / denominator, rtol=1e-9)


def test_heavy_buyers_get_finite_bounded_forecasts(fitted: BetaGeo) -> None:
    r, alpha = fitted.params_["r"], fitted.params_["alpha"]
    x = np.array([1_000.0, 10_000.0, 100_000.0])
    big_t, t = 38.86, 39.0
    alive = fitted.conditional_probability_alive(x, big_t, big_t)
    expected = fitted.conditional_expected_number_of_purchases_up_to_time(t, x, big_t, big_t)
    no_dropout_bound = (r + x) / (alpha + big_t) * t  # posterior mean rate times t, if nobody ever left
    assert np.all(np.isfinite(expected)) and np.all(expected > 0)
    assert np.all(expected <= no_dropout_bound)
    assert np.all(alive > 0.99)  # bought until the very end: almost surely still active
    # a heavy buyer silent for half the window is almost surely gone, without overflow
    gone = fitted.conditional_probability_alive(10_000, big_t / 2, big_t)
    assert 0 <= gone[0] < 1e-12


def test_probability_alive_is_one_without_repeat_purchases_and_falls_with_silence(fitted: BetaGeo) -> None:
    assert fitted.conditional_probability_alive(0, 0, 38.86)[0] == 1.0
    recencies = np.array([38.0, 30.0, 20.0, 10.0])
    alive = fitted.conditional_probability_alive(5, recencies, 38.86)
    assert np.all(np.diff(alive) < 0)


# --- estimator contract and input checks ----------------------------------------------------------


def test_fit_returns_self_and_sets_only_fitted_attributes(cdnow: pd.DataFrame) -> None:
    model = BetaGeo(penalizer=0.0)
    before = set(vars(model))
    assert model.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]) is model
    added = set(vars(model)) - before
    assert added and all(name.endswith("_") for name in added)
    assert not any(callable(getattr(model, name)) for name in added)


def test_summary_table_and_html(fitted: BetaGeo) -> None:
    table = fitted.summary(confidence=0.9)
    assert list(table.index) == ["r", "alpha", "a", "b"]
    assert list(table.columns) == ["estimate", "se", "ci_lower", "ci_upper"]
    assert np.all(table["ci_lower"] < table["estimate"]) and np.all(table["estimate"] < table["ci_upper"])
    assert np.all(table["ci_lower"] > 0)
    wider = fitted.summary(confidence=0.99)
    assert np.all(wider["ci_upper"] > table["ci_upper"])
    assert table.attrs["n"] == 2357
    html = fitted._repr_html_()
    assert "<table" in html and "2,357" in html and "BG/NBD" in html
    assert "not fitted" in BetaGeo()._repr_html_()


def test_unfitted_model_refuses_to_predict() -> None:
    with pytest.raises(AttributeError, match="not fitted"):
        BetaGeo().conditional_probability_alive(1, 1, 2)


def test_penalizer_shrinks_parameters(cdnow: pd.DataFrame) -> None:
    plain = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    shrunk = BetaGeo(penalizer=0.01).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert shrunk.params_["alpha"] < plain.params_["alpha"]
    assert shrunk.log_likelihood_ < plain.log_likelihood_


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [5.0, 40.0], [30.0, 30.0], "recency must not exceed T"),
        ([-1, 2], [0.0, 4.0], [30.0, 30.0], "frequency .* must be >= 0"),
        ([0, 2], [3.0, 4.0], [30.0, 30.0], "frequency 0 must have recency 0"),
        ([1.5, 2], [3.0, 4.0], [30.0, 30.0], "whole numbers"),
        ([1, 2], [3.0, np.nan], [30.0, 30.0], "missing or infinite"),
        ([1, 2, 3], [3.0, 4.0], [30.0, 30.0], "same length"),
        ([1, 2], [-3.0, 4.0], [30.0, 30.0], "recency must be >= 0"),
    ],
)
def test_invalid_inputs_are_refused_with_a_clear_message(frequency, recency, T, message) -> None:
    with pytest.raises(ValueError, match=message):
        BetaGeo().fit(frequency, recency, T)


def test_negative_penalizer_is_refused() -> None:
    with pytest.raises(ValueError, match="penalizer"):
        BetaGeo(penalizer=-1.0).fit([1, 0], [2.0, 0.0], [3.0, 3.0])


def test_forecast_is_continuous_through_a_equal_one(fitted: BetaGeo) -> None:
    # eq. 9 and 10 divide by a - 1; at a = 1 the limit is used
    near = {}
    for a in (1 - 1e-4, 1.0, 1 + 1e-4):
        model = copy.deepcopy(fitted)
        model.params_ = {**fitted.params_, "a": a}
        near[a] = model.conditional_expected_number_of_purchases_up_to_time(39.0, [0, 3], [0.0, 30.0], 38.86)
    assert np.all(np.isfinite(near[1.0]))
    np.testing.assert_allclose(near[1.0], 0.5 * (near[1 - 1e-4] + near[1 + 1e-4]), rtol=1e-6)


def test_boundary_maximum_raises_a_convergence_error_naming_the_parameters() -> None:
    # few, homogeneous customers: the dropout probability shows no spread, so a, b -> infinity
    with pytest.raises(ConvergenceError, match="ran off"):
        BetaGeo().fit(
            frequency=[0, 1, 1, 2, 2, 5, 5],
            recency=[0, 4.0, 30.0, 8.0, 33.0, 12.0, 36.0],
            T=38.0,
            weights=[1400, 200, 150, 120, 120, 60, 90],
        )
