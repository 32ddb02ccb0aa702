"""The pure parts: ranking and calibration metrics, hold-out assignment, the uplift interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.services.value.churn import assign_holdout, reason_text, uplift_from_counts
from cxloop.stats.churn import (
    GradientBoostedChurn,
    LogisticBaseline,
    evaluate,
    expected_calibration_error,
    precision_at_top,
)


def test_precision_at_top_averages_ties_at_the_cut() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    # top 20% = 2 customers; one clear top scorer (a churner), then four tied with one churner among them
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert precision_at_top(y, score, 0.2) == pytest.approx((1 + 1 * 0.25) / 2)
    # a 0/1 rule in the top half of customers: the expected precision of random picks among the flagged
    assert precision_at_top(y, (score >= 0.5).astype(float), 0.5) == pytest.approx(2 / 5)


def test_calibration_error_of_a_perfect_and_a_biased_score() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.3, 200_000)
    y = (rng.random(len(p)) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.003
    assert expected_calibration_error(y, np.minimum(p * 1.5, 1)) == pytest.approx(0.5 * p.mean(), rel=0.05)


def test_models_recover_a_known_signal_and_the_booster_finds_a_threshold() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    nps = rng.integers(0, 11, n).astype(float)
    noise = rng.normal(size=n)
    # churn risk jumps below 7 (a step the logistic's straight line cannot follow)
    p = np.where(nps <= 6, 0.2, 0.03)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame({"nps_latest": nps, "noise": noise, "segment": rng.choice(["a", "b"], n)})
    train, test = frame.iloc[:15_000], frame.iloc[15_000:]
    booster = GradientBoostedChurn().fit(train, y[:15_000])
    logistic = LogisticBaseline().fit(train, y[:15_000])
    gbm, lin = (
        evaluate(y[15_000:], booster.predict_risk(test)),
        evaluate(y[15_000:], logistic.predict_risk(test)),
    )
    assert gbm.auc > 0.65 and gbm.ece < 0.02
    assert gbm.brier < lin.brier  # calibrated step beats the logistic's slope on a step-shaped truth
    assert logistic.coefficients()["nps_latest"] < 0


def test_holdout_is_seeded_exact_and_order_free() -> None:
    ids = [f"C{i:04d}" for i in range(1000)]
    held = assign_holdout(ids, share=0.2, seed=11)
    assert held.sum() == 200
    again = assign_holdout(list(reversed(ids)), share=0.2, seed=11)
    assert set(np.array(ids)[held]) == set(np.array(list(reversed(ids)))[again])
    assert set(np.array(ids)[assign_holdout(ids, share=0.2, seed=12)]) != set(np.array(ids)[held])
    with pytest.raises(ValueError, match="share"):
        assign_holdout(ids, share=1.0, seed=1)


def test_uplift_interval_is_newcombe_and_the_wording_is_honest() -> None:
    # Newcombe (1998b), Table II example (a): 56/70 vs 48/80 -> difference 0.2, method 10: 0.0524 to 0.3339
    result = uplift_from_counts(70, 56, 80, 48, randomised=True)
    assert result.uplift == pytest.approx(0.2)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert "causal" in result.statement
    observational = uplift_from_counts(70, 56, 80, 48, randomised=False)
    assert observational.statement.startswith("Observational")


def test_reasons_are_plain_words_from_the_customers_values() -> None:
    row = pd.Series(
        {
            "nps_latest": 4.0,
            "nps_previous": 9.0,
            "unresolved_30d": 3.0,
            "unresolved_90d": 3.0,
            "purchases_90d": 1.0,
            "purchases_prev_90d": 4.0,
        }
    )
    assert reason_text("nps", row) == "NPS fell from 9 to 4"
    assert reason_text("unresolved_contacts", row) == "three unresolved contacts in 30 days"
    assert reason_text("purchases", row).startswith("purchases fell from 4 to 1")
