"""Gamma-Gamma spend and CLV: the published CDNOW fit, agreement with ``lifetimes``, input checks."""

from __future__ import annotations

from types import ModuleType

import clv_cdnow as published
import numpy as np
import pandas as pd
import pytest

from cxloop.stats.clv import PERIODS_PER_MONTH, BetaGeo, GammaGamma


@pytest.fixture(scope="module")
def repeat(cdnow: pd.DataFrame) -> pd.DataFrame:
    return cdnow[cdnow["frequency"] > 0]


@pytest.fixture(scope="module")
def fitted(repeat: pd.DataFrame) -> GammaGamma:
    return GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])


@pytest.fixture(scope="module")
def peer(lifetimes: ModuleType, repeat: pd.DataFrame):
    return lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])


# --- published numbers (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013) -----------------------


def test_reproduces_published_parameters(fitted: GammaGamma) -> None:
    assert fitted.n_ == published.GAMMA_GAMMA_N_REPEAT_CUSTOMERS
    for name, value in published.GAMMA_GAMMA_PARAMS.items():
        assert fitted.params_[name] == pytest.approx(value, abs=published.GAMMA_GAMMA_PARAMS_TOLERANCE), name


def test_reproduces_published_mean_spend(fitted: GammaGamma, repeat: pd.DataFrame) -> None:
    decimals = published.GAMMA_GAMMA_MEAN_SPEND_DECIMALS
    assert round(repeat["monetary_value"].mean(), decimals) == published.GAMMA_GAMMA_OBSERVED_MEAN_SPEND
    assert round(fitted.expected_average_profit(), decimals) == published.GAMMA_GAMMA_IMPLIED_MEAN_SPEND


def test_zero_frequency_rows_are_left_out_of_the_fit(cdnow: pd.DataFrame, fitted: GammaGamma) -> None:
    everyone = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
    assert everyone.n_ == fitted.n_
    assert everyone.params_ == pytest.approx(fitted.params_, rel=1e-9)


# --- the lifetimes package on the same data -------------------------------------------------------


def test_parameters_and_standard_errors_match_lifetimes(fitted: GammaGamma, peer) -> None:
    for name in ("p", "q", "v"):
        assert fitted.params_[name] == pytest.approx(peer.params_[name], rel=1e-3)
        assert fitted.standard_errors_[name] == pytest.approx(peer.summary.loc[name, "se(coef)"], rel=1e-3)


def test_conditional_expected_spend_matches_lifetimes_and_shrinks(fitted: GammaGamma, peer, cdnow) -> None:
    x, m = cdnow["frequency"].to_numpy(), cdnow["monetary_value"].to_numpy()
    ours = fitted.conditional_expected_average_profit(x, m)
    np.testing.assert_allclose(ours, np.asarray(peer.conditional_expected_average_profit(x, m)), rtol=1e-3)
    # customers without repeat purchases get the population mean
    np.testing.assert_allclose(ours[x == 0], fitted.expected_average_profit(), rtol=1e-12)
    # a repeat customer's expectation lies between their own average and the population mean
    mean = fitted.expected_average_profit()
    lo, hi = np.minimum(m, mean), np.maximum(m, mean)
    assert np.all((ours[x > 0] >= lo[x > 0] - 1e-9) & (ours[x > 0] <= hi[x > 0] + 1e-9))


@pytest.mark.parametrize("freq", ["W", "D", 4.345])
def test_customer_lifetime_value_matches_lifetimes(lifetimes: ModuleType, cdnow, fitted, peer, freq) -> None:
    x, t_x, big_t, m = (cdnow[c] for c in ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeo().fit(x, t_x, big_t)
    bg_peer = lifetimes.BetaGeoFitter().fit(x, t_x, big_t)
    ours = fitted.customer_lifetime_value(bg, x, t_x, big_t, m, time=12, discount_rate=0.01, freq=freq)
    peer_freq = freq if isinstance(freq, str) else "W"
    theirs = peer.customer_lifetime_value(
        bg_peer, x, t_x, big_t, m, time=12, discount_rate=0.01, freq=peer_freq
    )
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-3)


def test_customer_lifetime_value_discounting(cdnow, fitted) -> None:
    x, t_x, big_t, m = (cdnow[c].to_numpy()[:50] for c in ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    undiscounted = fitted.customer_lifetime_value(bg, x, t_x, big_t, m, time=6, discount_rate=0.0)
    # with no discounting the sum over months telescopes to spend x purchases over the whole horizon
    horizon = 6 * PERIODS_PER_MONTH["W"]
    purchases = bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, big_t)
    np.testing.assert_allclose(undiscounted, fitted.conditional_expected_average_profit(x, m) * purchases)
    discounted = fitted.customer_lifetime_value(bg, x, t_x, big_t, m, time=6, discount_rate=0.05)
    assert np.all(discounted < undiscounted)
    longer = fitted.customer_lifetime_value(bg, x, t_x, big_t, m, time=24, discount_rate=0.05)
    assert np.all(longer > discounted)


# --- input checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "monetary_value", "message"),
    [
        ([1, 2], [10.0, 0.0], "monetary_value must be > 0"),
        ([1, 2], [10.0, -5.0], "monetary_value must be > 0"),
        ([-1, 2], [10.0, 5.0], "must be >= 0"),
        ([0, 0], [0.0, 0.0], "no customer with repeat purchases"),
        ([1, 2], [10.0, np.inf], "missing or infinite"),
    ],
)
def test_invalid_spend_is_refused(frequency, monetary_value, message) -> None:
    with pytest.raises(ValueError, match=message):
        GammaGamma().fit(frequency, monetary_value)


def test_clv_arguments_are_checked(cdnow, fitted) -> None:
    bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    args = (bg, [1], [2.0], [5.0], [10.0])
    with pytest.raises(ValueError, match="freq"):
        fitted.customer_lifetime_value(*args, freq="fortnight")
    with pytest.raises(ValueError, match="time"):
        fitted.customer_lifetime_value(*args, time=0)
    with pytest.raises(ValueError, match="discount_rate"):
        fitted.customer_lifetime_value(*args, discount_rate=-1.5)
