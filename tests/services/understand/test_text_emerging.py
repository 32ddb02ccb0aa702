"""Emerging themes: last month's share against the month before, two-proportion z test, BH across themes."""

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from cxloop.services.understand.themes import _emerging


def _trend(rows):
    frame = pd.DataFrame(rows, columns=["theme", "month", "comments", "volume"])
    frame["share"] = frame.volume / frame.comments
    frame["sentiment"] = np.nan
    frame["suppressed"] = frame.comments < 5
    return frame


def test_rising_theme_is_flagged_and_p_values_match_statsmodels():
    rows = []
    for theme, before, after in (("fees", 50, 95), ("wait", 60, 58), ("app", 40, 30), ("rare", 2, 4)):
        rows.append((theme, "2026-08", 1000, before))
        rows.append((theme, "2026-09", 1000, after))
    rows.append(("fees", "2026-10", 3, 3))  # a suppressed month is not "the last month"
    result = _emerging(_trend(rows), ("fees", "wait", "app", "rare"), 0.95).set_index("theme")
    assert set(result.month) == {"2026-09"}
    for theme, before, after in (("fees", 50, 95), ("wait", 60, 58), ("app", 40, 30), ("rare", 2, 4)):
        _, p = proportions_ztest([after, before], [1000, 1000])
        np.testing.assert_allclose(result.p_value[theme], p, rtol=1e-9)
    q = multipletests(result.p_value.to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(result.q_value.to_numpy(), q)
    assert result.emerging.to_dict() == {"fees": True, "wait": False, "app": False, "rare": False}


def test_needs_two_open_months():
    frame = _trend([("fees", "2026-09", 1000, 50)])
    assert _emerging(frame, ("fees",), 0.95).empty
