"""Shifted-beta-geometric: Fader & Hardie (2007) Table 1 fits and projections, records, DERL."""

from __future__ import annotations

import clv_sbg_retention as published
import numpy as np
import pytest

from cxloop.stats.clv import ShiftedBetaGeometric

COHORTS = sorted(published.SURVIVORS)


def calibration(cohort: str) -> np.ndarray:
    return np.array(published.SURVIVORS[cohort][: published.CALIBRATION_PERIODS + 1], dtype=float)


def records(survivors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per subscriber, as a subscription table would give them."""
    lost = (-np.diff(survivors)).astype(int)
    horizon = len(survivors) - 1
    active = int(survivors[-1])
    periods = np.concatenate([np.repeat(np.arange(1, horizon + 1), lost), np.full(active, horizon)])
    churned = np.concatenate([np.ones(lost.sum(), dtype=bool), np.zeros(active, dtype=bool)])
    return periods, churned


@pytest.fixture(scope="module", params=COHORTS)
def cohort(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def fitted(cohort: str) -> ShiftedBetaGeometric:
    return ShiftedBetaGeometric().fit_survival(calibration(cohort))


def test_reproduces_published_parameters(cohort: str, fitted: ShiftedBetaGeometric) -> None:
    assert fitted.n_ == 1000
    for name, value in published.PARAMS[cohort].items():
        assert round(fitted.params_[name], published.PARAMS_DECIMALS) == value, name


def test_reproduces_published_high_end_log_likelihood() -> None:
    model = ShiftedBetaGeometric().fit_survival(calibration("high_end"))
    decimals = published.LOG_LIKELIHOOD_DECIMALS
    assert round(model.log_likelihood_, decimals) == published.HIGH_END_LOG_LIKELIHOOD


def test_year_12_projection_error_is_as_published(cohort: str, fitted: ShiftedBetaGeometric) -> None:
    actual = published.SURVIVORS[cohort][12]
    projected = fitted.projected_survivors(12)
    assert round(abs(projected - actual) / actual * 100) == published.YEAR_12_ABS_PERCENT_ERROR[cohort]


def test_projection_tracks_the_holdout_years(cohort: str, fitted: ShiftedBetaGeometric) -> None:
    t = np.arange(published.CALIBRATION_PERIODS + 1, 13)
    actual = np.array(published.SURVIVORS[cohort])[t]
    np.testing.assert_allclose(fitted.projected_survivors(t), actual, rtol=0.05)


def test_retention_rises_with_tenure_and_matches_survival_ratios(fitted: ShiftedBetaGeometric) -> None:
    t = np.arange(1, 30)
    retention = fitted.retention_rate(t)
    assert np.all(np.diff(retention) > 0) and np.all(retention < 1)
    survival = fitted.survival_function(np.arange(0, 30))
    np.testing.assert_allclose(retention, survival[1:] / survival[:-1], rtol=1e-12)
    np.testing.assert_allclose(fitted.churn_probability(t), survival[:-1] - survival[1:], rtol=1e-10)
    assert fitted.survival_function(0) == pytest.approx(1.0)


def test_first_renewal_churn_is_the_cohort_mean(cohort: str, fitted: ShiftedBetaGeometric) -> None:
    first_year_loss = 1 - published.SURVIVORS[cohort][1] / published.SURVIVORS[cohort][0]
    alpha, beta = fitted.params_["alpha"], fitted.params_["beta"]
    assert alpha / (alpha + beta) == pytest.approx(1 - fitted.retention_rate(1)[()])
    assert alpha / (alpha + beta) == pytest.approx(first_year_loss, abs=0.03)


def test_individual_records_give_the_same_fit_as_the_survivor_table(cohort: str, fitted) -> None:
    periods, churned = records(calibration(cohort))
    from_records = ShiftedBetaGeometric().fit_durations(periods, churned)
    assert from_records.n_ == fitted.n_
    assert from_records.params_ == pytest.approx(fitted.params_, rel=1e-6)
    assert from_records.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(from_records.covariance_, fitted.covariance_, rtol=1e-4)


@pytest.mark.parametrize("discount_rate", [0.05, 0.1, 0.25])
@pytest.mark.parametrize("renewals", [0, 1, 6, 20])
def test_derl_equals_the_discounted_sum_of_conditional_survival(fitted, discount_rate, renewals) -> None:
    # Fader & Hardie (2010), eq. 6 is sum_{t >= n} S(t) / S(n - 1) / (1 + d)^(t - n), n - 1 = renewals
    n = renewals + 1
    t = np.arange(n, n + 3000)  # (1.25)^3000 still fits a float
    conditional = fitted.survival_function(t) / fitted.survival_function(n - 1)
    direct = np.sum(conditional / (1 + discount_rate) ** (t - n))
    assert fitted.derl(discount_rate, renewals=renewals)[()] == pytest.approx(direct, rel=1e-8)


def test_derl_grows_with_tenure_and_scales_with_value(fitted: ShiftedBetaGeometric) -> None:
    values = fitted.derl(0.1, renewals=np.arange(0, 10))
    assert np.all(np.diff(values) > 0)  # survivors are the loyal ones
    in_money = fitted.derl(0.1, renewals=3, value_per_period=50.0)
    assert in_money == pytest.approx(50 * fitted.derl(0.1, renewals=3))


def test_expected_lifetime_value_of_a_new_subscriber(fitted: ShiftedBetaGeometric) -> None:
    # sum_{t>=0} S(t)/(1+d)^t = 1 (the first payment) + the discounted DERL at the first renewal
    d = 0.1
    assert fitted.expected_lifetime_value(d) == pytest.approx(1 + fitted.derl(d, renewals=0)[()] / (1 + d))


def test_third_party_derl_example() -> None:
    # The shifted_beta_geometric_py README (jdmaturen, GitHub) fits the high-end proportions and
    # reports DERL = 7.530 at d = 10% for the survivors of the 7th renewal.
    model = ShiftedBetaGeometric().fit_survival(calibration("high_end"))
    assert round(model.derl(0.10, renewals=7)[()], 3) == 7.530


@pytest.mark.parametrize(
    ("survivors", "message"),
    [
        ([1000, 900], "at least S_0, S_1 and S_2"),
        ([1000, 900, 950], "cannot increase"),
        ([0, 0, 0], "positive cohort size"),
        ([1000, 1000, 1000], "no subscriber has churned"),
        ([1000, np.nan, 800], "missing"),
    ],
)
def test_invalid_survivor_tables_are_refused(survivors, message) -> None:
    with pytest.raises(ValueError, match=message):
        ShiftedBetaGeometric().fit_survival(survivors)


@pytest.mark.parametrize(
    ("periods", "churned", "message"),
    [
        ([1, 2, 3], [True, False], "same length"),
        ([0, 2, 3], [True, False, False], "at least one period"),
        ([1.5, 2, 3], [True, False, False], "whole numbers"),
        ([1, 2, 3], [2, 0, 1], "boolean"),
        ([1, 1, 1], [True, False, True], "two renewal opportunities"),
    ],
)
def test_invalid_records_are_refused(periods, churned, message) -> None:
    with pytest.raises(ValueError, match=message):
        ShiftedBetaGeometric().fit_durations(periods, churned)


def test_summary_and_prediction_argument_checks(fitted: ShiftedBetaGeometric) -> None:
    table = fitted.summary()
    assert list(table.index) == ["alpha", "beta"]
    assert np.all(table["ci_lower"] < table["estimate"])
    with pytest.raises(ValueError, match="discount_rate"):
        fitted.derl(0.0)
    with pytest.raises(ValueError, match=">= 1"):
        fitted.retention_rate(0)
    with pytest.raises(ValueError, match=">= 0"):
        fitted.survival_function(-1)
