"""Parameter recovery and calibration on data simulated from each model's story (fixed seeds).

The simulators below follow the papers' stories (Poisson purchasing with dropout after purchases,
gamma spend, coin-flip renewals), not the likelihoods, so they check the likelihoods independently.
"""

from __future__ import annotations

import numpy as np
import pytest

from cxloop.stats.clv import BetaGeo, GammaGamma, ShiftedBetaGeometric

BG_TRUTH = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
GG_TRUTH = {"p": 6.0, "q": 3.8, "v": 15.0}
SBG_TRUTH = {"alpha": 0.7, "beta": 2.5}


def simulate_bgnbd(rng: np.random.Generator, n: int, T: np.ndarray, horizon: float) -> dict[str, np.ndarray]:
    """BG/NBD customers observed over (0, T] and their purchases in the following ``horizon``.

    Purchases arrive as a Poisson process with rate ``lambda ~ gamma(r, alpha)``; after each repeat
    purchase the customer leaves for good with probability ``p ~ beta(a, b)``, so the purchase after
    which they leave is geometric. Given N arrivals in (0, T], the J-th arrival time is T * Beta(J, N-J+1).
    """
    lam = rng.gamma(BG_TRUTH["r"], 1 / BG_TRUTH["alpha"], n)
    p = np.clip(rng.beta(BG_TRUTH["a"], BG_TRUTH["b"], n), 1e-12, 1.0)
    arrivals = rng.poisson(lam * T)
    last_purchase = rng.geometric(p)  # the purchase after which the customer drops out
    x = np.minimum(arrivals, last_purchase)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    alive = last_purchase > arrivals
    future = np.where(alive, np.minimum(rng.poisson(lam * horizon), last_purchase - arrivals), 0)
    return {"frequency": x, "recency": t_x, "T": T, "alive": alive, "future": future}


@pytest.fixture(scope="module")
def bgnbd_sample() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20050301)
    n = 20_000
    return simulate_bgnbd(rng, n, T=rng.uniform(20.0, 60.0, n), horizon=39.0)


@pytest.fixture(scope="module")
def bgnbd_fit(bgnbd_sample) -> BetaGeo:
    return BetaGeo().fit(bgnbd_sample["frequency"], bgnbd_sample["recency"], bgnbd_sample["T"])


def test_bgnbd_recovers_the_simulated_parameters(bgnbd_fit: BetaGeo) -> None:
    for name, truth in BG_TRUTH.items():
        error = bgnbd_fit.params_[name] - truth
        assert abs(error) < 3 * bgnbd_fit.standard_errors_[name], (name, bgnbd_fit.params_[name])
    table = bgnbd_fit.summary(confidence=0.99)
    truth = np.array(list(BG_TRUTH.values()))
    assert np.all((table["ci_lower"] < truth) & (truth < table["ci_upper"]))


def test_bgnbd_probability_alive_is_calibrated(bgnbd_fit: BetaGeo, bgnbd_sample) -> None:
    s = bgnbd_sample
    p_alive = bgnbd_fit.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    repeat = s["frequency"] > 0
    assert np.mean(p_alive[repeat]) == pytest.approx(np.mean(s["alive"][repeat]), abs=0.02)
    # and it discriminates: the customers it calls likely dead mostly are
    likely_dead = repeat & (p_alive < 0.3)
    assert likely_dead.sum() > 100 and np.mean(s["alive"][likely_dead]) < 0.3


@pytest.mark.parametrize(("low", "high"), [(0, 0), (1, 1), (2, 3), (4, 10_000)])
def test_bgnbd_conditional_expectation_matches_simulated_holdout(bgnbd_fit, bgnbd_sample, low, high) -> None:
    s = bgnbd_sample
    group = (s["frequency"] >= low) & (s["frequency"] <= high)
    predicted = bgnbd_fit.conditional_expected_number_of_purchases_up_to_time(
        39.0, s["frequency"][group], s["recency"][group], s["T"][group]
    )
    actual = s["future"][group]
    standard_error = actual.std(ddof=1) / np.sqrt(group.sum())
    assert abs(predicted.mean() - actual.mean()) < 4 * standard_error + 0.03 * actual.mean()


def test_bgnbd_compression_on_period_data_is_exact(bgnbd_sample) -> None:
    # data reported in whole days collapse to few distinct (x, t_x, T) rows
    s = bgnbd_sample
    days_T = np.ceil(s["T"] * 7)
    days_tx = np.minimum(np.round(s["recency"] * 7), days_T)
    model = BetaGeo().fit(s["frequency"], days_tx / 7, days_T / 7)
    assert model.n_ == len(days_T) and model.n_groups_ < len(days_T) / 2
    for name, truth in BG_TRUTH.items():
        assert abs(model.params_[name] - truth) < 3 * model.standard_errors_[name]


def test_gamma_gamma_recovers_parameters_and_shrinkage_beats_raw_averages() -> None:
    rng = np.random.default_rng(20130601)
    n = 5_000
    x = 1 + rng.poisson(2.0, n)
    nu = rng.gamma(GG_TRUTH["q"], 1 / GG_TRUTH["v"], n)  # per-customer rate of transaction values
    true_mean = GG_TRUTH["p"] / nu
    average = rng.gamma(GG_TRUTH["p"] * x, 1 / (nu * x))  # mean of x gamma(p, nu) transactions
    model = GammaGamma().fit(x, average)
    for name, truth in GG_TRUTH.items():
        estimate = model.params_[name]
        assert abs(estimate - truth) < 3 * model.standard_errors_[name], (name, estimate)
    shrunk = model.conditional_expected_average_profit(x, average)
    assert np.mean((shrunk - true_mean) ** 2) < 0.9 * np.mean((average - true_mean) ** 2)


def test_sbg_recovers_parameters_from_two_censored_cohorts() -> None:
    rng = np.random.default_rng(20070101)
    periods, churned = [], []
    for size, seen in ((4_000, 8), (3_000, 3)):  # an older cohort seen for 8 renewals, a younger for 3
        theta = rng.beta(SBG_TRUTH["alpha"], SBG_TRUTH["beta"], size)
        lifetime = rng.geometric(theta)  # periods paid for before cancelling
        periods.append(np.minimum(lifetime, seen))
        churned.append(lifetime <= seen)
    model = ShiftedBetaGeometric().fit_durations(np.concatenate(periods), np.concatenate(churned))
    assert model.n_ == 7_000
    for name, truth in SBG_TRUTH.items():
        estimate = model.params_[name]
        assert abs(estimate - truth) < 3 * model.standard_errors_[name], (name, estimate)
    # the older cohort's observed survivor curve is what the model says
    old_periods, old_churned = periods[0], churned[0]
    observed = [np.mean(~old_churned | (old_periods > t)) for t in range(9)]
    np.testing.assert_allclose(model.survival_function(np.arange(9)), observed, atol=0.02)
