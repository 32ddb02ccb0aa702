"""ROI of a pilot: flows by hand, interval from the effect's sampling distribution, payback, sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cxloop.stats.roi import kept_customer_margin, pilot_roi, retained_customer_margin, roi_sensitivity


def test_undiscounted_roi_by_hand() -> None:
    # 0.5% of 10,000 customers = 50 kept each month, none leaving again (churn 0), each bringing 2 a month
    # from the month after: the kept margin in month t is 2 x 50 x (t - 1), 100 x 66 = 6,600 over 12
    # months; spend +1 a customer-month = 10,000 a month, 120,000. Against 20,000 + 12 x 5,000 = 80,000.
    result = pilot_roi(
        customers=10_000,
        kept_margin=2.0,
        retention_uplift=0.005,
        spend_uplift=1.0,
        one_off_cost=20_000,
        running_cost=5_000,
        horizon_months=12,
        discount_rate=0.0,
    )
    assert result.incremental_margin == pytest.approx(126_600)
    assert result.cost == pytest.approx(80_000)
    assert result.roi == pytest.approx(46_600 / 80_000)
    # cumulative margin 10,000 t + 50 t (t - 1) >= 20,000 + 5,000 t  <=>  t >= 4 (t = 3: 30,300 < 35,000)
    assert result.payback_months == 4.0
    assert result.roi_low == pytest.approx(result.roi) and result.roi_high == pytest.approx(result.roi)
    assert "payback 4 months" in result.summary_text() and result.to_frame().shape == (1, 15)


def test_kept_customers_leave_again_at_the_churn_rate() -> None:
    # 100 kept in each of 3 months, 10% of the kept stock leaving a month, 1 a month each while they stay:
    # month 2 earns 0.9 x 100, month 3 0.9 x (0.9 x 100 + 100)
    result = pilot_roi(
        customers=1_000,
        kept_margin=1.0,
        monthly_churn=0.1,
        retention_uplift=0.1,
        running_cost=1.0,
        horizon_months=3,
        discount_rate=0.0,
    )
    assert result.incremental_margin == pytest.approx(90 + 0.9 * 190)
    # over an endless horizon one kept customer is worth the geometric sum
    endless = pilot_roi(
        customers=1.0,
        kept_margin=1.0,
        monthly_churn=0.1,
        retention_uplift=1.0,
        running_cost=1e-12,
        horizon_months=1,
        discount_rate=0.1,
    )
    assert endless.incremental_margin == 0.0  # kept in month 1, earning from month 2
    value = kept_customer_margin(500.0, 0.02, 0.1)
    assert retained_customer_margin(value, 0.02, 0.1) == pytest.approx(500.0, rel=1e-12)


def test_interval_matches_the_linear_propagation() -> None:
    kwargs = dict(
        customers=10_000,
        kept_margin=24.0,
        retention_uplift=0.005,
        retention_uplift_se=0.002,
        one_off_cost=20_000,
        running_cost=5_000,
        horizon_months=12,
        discount_rate=0.0,
    )
    result = pilot_roi(**kwargs, n_draws=40_000, random_state=1)
    # ROI is linear in the uplift: se(ROI) = se(uplift) x customers x margin x sum(t - 1) / cost
    se = 0.002 * 10_000 * 24.0 * 66 / 80_000
    assert result.roi_low == pytest.approx(result.roi - 1.96 * se, abs=0.02)
    assert result.roi_high == pytest.approx(result.roi + 1.96 * se, abs=0.02)
    assert result.probability_positive == pytest.approx(float(sps.norm.sf(-result.roi / se)), abs=0.01)
    # At the estimate the margin (79,200) just misses the cost (80,000) within the year; lucky draws reach it.
    assert math.isnan(result.payback_months) and math.isnan(result.payback_high)
    assert 1 <= result.payback_low <= 12


def test_discounting_lowers_roi_and_payback_may_not_come() -> None:
    base = dict(
        customers=1_000, kept_margin=1.0, retention_uplift=0.002, one_off_cost=10_000, running_cost=0.0
    )
    flat = pilot_roi(**base, horizon_months=24, discount_rate=0.0)
    discounted = pilot_roi(**base, horizon_months=24, discount_rate=0.2)
    assert discounted.roi < flat.roi
    assert flat.incremental_margin == pytest.approx(2 * 23 * 24 / 2)
    assert math.isnan(flat.payback_months)


def test_sensitivity_grid() -> None:
    grid = roi_sensitivity(
        discount_rates=(0.0, 0.1),
        horizons=(6, 12),
        customers=10_000,
        kept_margin=10.0,
        retention_uplift=0.005,
        one_off_cost=20_000,
        running_cost=1_000,
    )
    assert grid.shape[0] == 4
    by = grid.set_index(["discount_rate", "horizon_months"])["roi"]
    assert by[(0.0, 12)] > by[(0.0, 6)]
    assert by[(0.1, 12)] < by[(0.0, 12)]


def test_sensitivity_grid_moves_with_horizon_and_rate_when_the_cost_only_runs() -> None:
    """Regression: with a running cost and no one-off cost, all 16 cells were the same ROI (each kept
    customer's whole value was counted in the month it was kept, so margin and cost were both sums of the
    same discount factors). A positive effect now returns more over a longer horizon and less at a higher
    discount rate, in ROI and in net present value."""
    grid = roi_sensitivity(
        customers=5_000,
        kept_margin=12.0,
        monthly_churn=0.015,
        retention_uplift=0.004,
        retention_uplift_se=0.002,
        running_cost=3_000,
    )
    assert len(grid) == 16 and grid["roi"].nunique() == 16 and grid["net"].nunique() == 16

    def increasing(frame, column):
        table = frame.pivot(index="discount_rate", columns="horizon_months", values=column)
        longer = (table.diff(axis=1).iloc[:, 1:] > 0).all().all()  # longer horizon: more
        dearer = (table.diff(axis=0).iloc[1:] < 0).all().all()  # higher discount: less
        return longer and dearer

    assert increasing(grid, "roi") and increasing(grid, "roi_low") and increasing(grid, "roi_high")
    # the net present value, once the kept customers earn more than the running cost from the second month
    cheap = roi_sensitivity(
        customers=5_000, kept_margin=12.0, monthly_churn=0.015, retention_uplift=0.004, running_cost=200
    )
    assert increasing(cheap, "net") and (cheap["net"] > 0).all()


def test_retained_customer_margin_is_the_geometric_sum() -> None:
    value = retained_customer_margin(10.0, 0.02, discount_rate=0.0)
    assert value == pytest.approx(10.0 * 0.98 / 0.02)
    months = np.arange(1, 5000)
    direct = np.sum(10.0 * 0.98**months * 1.1 ** (-months / 12))
    assert retained_customer_margin(10.0, 0.02, 0.1) == pytest.approx(direct, rel=1e-9)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no cost"):
        pilot_roi(customers=10, kept_margin=1.0)
    with pytest.raises(ValueError, match="horizon"):
        pilot_roi(customers=10, one_off_cost=1.0, horizon_months=0)
