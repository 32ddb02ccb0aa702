"""Seeded simulation: 95% intervals of PilotImpact cover the true effect ~95% of the time and the test of
"no effect" rejects ~5% of the time, for each kind of inference. The figures are printed (run with ``-s``)
and recorded as test properties; ``docs/pilots.md`` quotes them.

Each design: G units x 6 months, the pilot starting in month 4; unit, month and idiosyncratic N(0, 1)
effects. Binomial standard error of a 95% rate over 300-500 simulations: ~1.0-1.3 points, so the bounds
below (about three standard errors) fail only if the method is miscalibrated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.stats.impact import PilotImpact

DESIGNS = {
    # inference: (simulations, units, treated units, resamples)
    "cluster": (500, 16, 6, 999),
    "randomization": (400, 12, 4, 999),  # C(12, 4) = 495 assignments: exact
    "wild_cluster": (300, 12, 4, 199),
}
N_PERIODS = 6


def _simulate(rng: np.random.Generator, n_units: int, n_treated: int, effect: float) -> pd.DataFrame:
    unit = np.repeat(np.arange(n_units), N_PERIODS)
    period = np.tile(np.arange(N_PERIODS), n_units)
    treated, post = unit < n_treated, period >= N_PERIODS // 2
    y = (
        rng.normal(0, 1, n_units)[unit]
        + rng.normal(0, 1, N_PERIODS)[period]
        + effect * (treated & post)
        + rng.normal(0, 1, len(unit))
    )
    return pd.DataFrame({"y": y, "unit": unit, "period": period, "treated": treated, "post": post})


def _rates(inference: str, effect: float) -> tuple[float, float]:
    n_sims, n_units, n_treated, resamples = DESIGNS[inference]
    rng = np.random.default_rng(2026)
    covered = rejected = 0
    for _ in range(n_sims):
        fit = PilotImpact(inference=inference, n_resamples=resamples, random_state=rng).fit(
            _simulate(rng, n_units, n_treated, effect),
            outcome="y",
            unit="unit",
            period="period",
            treated="treated",
            post="post",
        )
        covered += fit.ci_[0] <= effect <= fit.ci_[1]
        rejected += fit.p_value_ <= 0.05
    return covered / n_sims, rejected / n_sims


@pytest.mark.parametrize("inference", list(DESIGNS))
def test_coverage_and_false_rejections(inference: str, record_property: pytest.RecordProperty) -> None:
    coverage, _ = _rates(inference, effect=1.0)
    _, size = _rates(inference, effect=0.0)
    n_sims = DESIGNS[inference][0]
    print(
        f"\n[impact simulation] {inference}: {n_sims} pilots, coverage of 95% CI = {coverage:.3f}, "  # noqa: T201
        f"rejection rate at zero effect = {size:.3f}"
    )
    record_property(f"{inference}_coverage", coverage)
    record_property(f"{inference}_rejection_rate", size)
    assert 0.92 <= coverage <= 0.98
    assert 0.02 <= size <= 0.08
