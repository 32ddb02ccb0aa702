"""Churn survival (Kaplan-Meier, Cox) against published estimates on public data sets.

Sources and tolerances are in ``reference/survival_published.py``: Fox & Weisberg (2011/2018) Cox model of
the Rossi recidivism data (R ``coxph``, Efron ties; data vendored from the lifelines 0.30.3 wheel), and
Kleinbaum & Klein (2012, 3rd ed., ch. 2) Kaplan-Meier tables of the Freireich (1963) 6-MP remission data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference import survival_published as ref

from cxloop.stats.churn import cox_model, kaplan_meier

_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def _rossi() -> pd.DataFrame:
    data = pd.read_csv(ref.ROSSI_CSV)
    assert len(data) == ref.ROSSI_ROWS and int(data["arrest"].sum()) == ref.ROSSI_ARRESTS
    return data


def test_cox_on_rossi_reproduces_fox_and_weisberg() -> None:
    """Fox & Weisberg (2011, appendix to An R Companion to Applied Regression; R survival ``coxph``, Efron
    ties): fin -0.379, age -0.0574, race 0.314, wexp -0.150, mar -0.434, paro -0.0849, prio 0.0915, each
    to half a unit of the last digit quoted. 114 arrests in 49 distinct weeks: Breslow's approximation
    misses age, wexp, mar, paro and prio."""
    data = _rossi()
    result = cox_model(data["week"], data["arrest"], data[_COVARIATES])
    table = result.table.set_index("covariate")
    assert result.n == 432 and result.events == 114 and not result.clustered
    for covariate, (published, tolerance) in ref.FOX_WEISBERG_ROSSI_COX.items():
        assert table.loc[covariate, "coef"] == pytest.approx(published, abs=tolerance), covariate
        assert table.loc[covariate, "hazard_ratio"] == pytest.approx(np.exp(table.loc[covariate, "coef"]))
    # fin, the randomised treatment: financial aid lowers the hazard of re-arrest (p < 0.05, as published).
    assert table.loc["fin", "p_value"] < 0.05 and table.loc["fin", "ci_high"] < 1.0


def test_breslow_ties_is_an_explicit_choice_and_differs_on_rossi() -> None:
    data = _rossi()
    efron = cox_model(data["week"], data["arrest"], data[_COVARIATES]).table.set_index("covariate")
    breslow = cox_model(data["week"], data["arrest"], data[_COVARIATES], ties="breslow").table
    breslow = breslow.set_index("covariate")
    assert abs(breslow.loc["age", "coef"] - ref.FOX_WEISBERG_ROSSI_COX["age"][0]) > 1e-4
    assert not np.allclose(efron["coef"], breslow["coef"], atol=1e-4)
    with pytest.raises(ValueError, match="ties"):
        cox_model(data["week"], data["arrest"], data[_COVARIATES], ties="exact")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sample", "published"),
    [
        (ref.REMISSION_6MP, ref.KLEINBAUM_KLEIN_6MP),
        (ref.REMISSION_PLACEBO, ref.KLEINBAUM_KLEIN_PLACEBO),
    ],
    ids=["6-MP", "placebo"],
)
def test_kaplan_meier_reproduces_kleinbaum_and_klein(
    sample: list[tuple[int, int]], published: dict[int, tuple[int, float]]
) -> None:
    """Kleinbaum & Klein (2012, 3rd ed., ch. 2), Freireich (1963) remission data: the product-limit
    estimate and the number at risk at each relapse week, as printed (3 decimals)."""
    weeks = np.array([t for t, _ in sample], dtype=float)
    relapsed = np.array([e for _, e in sample], dtype=float)
    times = sorted(published)
    at_times = kaplan_meier(weeks, relapsed, at=times)
    every_event = kaplan_meier(weeks, relapsed)
    np.testing.assert_array_equal(every_event["time"], times)
    for frame in (at_times, every_event):
        for row in frame.itertuples():
            at_risk, survival = published[int(row.time)]
            assert row.at_risk == at_risk, row.time
            assert row.retention == pytest.approx(survival, abs=ref.KM_TOL), row.time
            assert row.ci_low <= row.retention <= row.ci_high
    # Between relapses the curve is flat, and before the first one it is 1.
    between = kaplan_meier(weeks, relapsed, at=[0.5, 9.0, 14.5])
    expected = [1.0] + [published[max(t for t in times if t <= x)][1] for x in (9.0, 14.5)]
    np.testing.assert_allclose(between["retention"], expected, atol=ref.KM_TOL)
