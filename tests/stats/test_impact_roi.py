"""ROI of a pilot: flows by hand, interval from the effect's sampling distribution, payback, sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cxloop.stats.roi import pilot_roi, retained_customer_margin, roi_sensitivity


def test_undiscounted_roi_by_hand() -> None:
    # 0.5% of 10,000 customers kept each month, each worth 100: 5,000 a month; spend +1 a customer-month
    # = 10,000 a month; 12 months -> 180,000 against 20,000 + 12 x 5,000 = 80,000.
    result = pilot_roi(
        customers=10_000,
        clv_margin=100.0,
        retention_uplift=0.005,
        spend_uplift=1.0,
        one_off_cost=20_000,
        running_cost=5_000,
        horizon_months=12,
        discount_rate=0.0,
    )
    assert result.incremental_margin == pytest.approx(180_000)
    assert result.cost == pytest.approx(80_000)
    assert result.roi == pytest.approx(100_000 / 80_000)
    # cumulative margin 15,000 t >= 20,000 + 5,000 t  <=>  t >= 2
    assert result.payback_months == 2.0
    assert result.roi_low == pytest.approx(result.roi) and result.roi_high == pytest.approx(result.roi)
    assert "payback 2 months" in result.summary_text() and result.to_frame().shape == (1, 15)


def test_interval_matches_the_linear_propagation() -> None:
    kwargs = dict(
        customers=10_000,
        clv_margin=100.0,
        retention_uplift=0.005,
        retention_uplift_se=0.002,
        one_off_cost=20_000,
        running_cost=5_000,
        horizon_months=12,
        discount_rate=0.0,
    )
    result = pilot_roi(**kwargs, n_draws=40_000, random_state=1)
    # ROI is linear in the uplift: se(ROI) = se(uplift) x customers x clv x months / cost
    se = 0.002 * 10_000 * 100 * 12 / 80_000
    assert result.roi_low == pytest.approx(result.roi - 1.96 * se, abs=0.02)
    assert result.roi_high == pytest.approx(result.roi + 1.96 * se, abs=0.02)
    assert result.probability_positive == pytest.approx(float(sps.norm.sf(-result.roi / se)), abs=0.01)
    # The margin just matches the running cost at the estimate, so the one-off cost is never paid back
    # at the estimate; the luckiest 2.5% of draws pay back within the year.
    assert math.isnan(result.payback_months) and math.isnan(result.payback_high)
    assert 1 <= result.payback_low <= 12


def test_discounting_lowers_roi_and_payback_may_not_come() -> None:
    base = dict(
        customers=1_000, clv_margin=50.0, retention_uplift=0.002, one_off_cost=10_000, running_cost=0.0
    )
    flat = pilot_roi(**base, horizon_months=24, discount_rate=0.0)
    discounted = pilot_roi(**base, horizon_months=24, discount_rate=0.2)
    assert discounted.roi < flat.roi
    assert flat.incremental_margin == pytest.approx(2_400)
    assert math.isnan(flat.payback_months)


def test_sensitivity_grid() -> None:
    grid = roi_sensitivity(
        discount_rates=(0.0, 0.1),
        horizons=(6, 12),
        customers=10_000,
        clv_margin=100.0,
        retention_uplift=0.005,
        one_off_cost=20_000,
        running_cost=1_000,
    )
    assert grid.shape[0] == 4
    by = grid.set_index(["discount_rate", "horizon_months"])["roi"]
    assert by[(0.0, 12)] > by[(0.0, 6)]
    assert by[(0.1, 12)] < by[(0.0, 12)]


def test_retained_customer_margin_is_the_geometric_sum() -> None:
    value = retained_customer_margin(10.0, 0.02, discount_rate=0.0)
    assert value == pytest.approx(10.0 * 0.98 / 0.02)
    months = np.arange(1, 5000)
    direct = np.sum(10.0 * 0.98**months * 1.1 ** (-months / 12))
    assert retained_customer_margin(10.0, 0.02, 0.1) == pytest.approx(direct, rel=1e-9)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no cost"):
        pilot_roi(customers=10, clv_margin=1.0)
    with pytest.raises(ValueError, match="horizon"):
        pilot_roi(customers=10, one_off_cost=1.0, horizon_months=0)
