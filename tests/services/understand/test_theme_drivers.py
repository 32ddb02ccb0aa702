"""Themes as drivers in the priorities, on the demo company whose comments come from known themes with
known effects on NPS (``ground_truth.json``): the costly complaint themes rank first, praise themes carry no
gain, the figures follow from the theme regression, and item and theme rows rank together."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats
from test_text_demo import demo  # noqa: F401 - the tagged demo (scale 0.2, seed 23)

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.understand.theme_drivers import priorities_with_themes, theme_priorities
from cxloop.services.understand.themes import theme_impact


def _company(truth) -> str:
    return truth["hierarchy"]["company"]


def test_costly_themes_rank_first_and_figures_follow_from_the_regression(demo, stores_for):  # noqa: F811
    settings, truth, con, dataset, _ = demo
    viewer = Viewer(_company(truth))
    result = theme_priorities(viewer, stores=stores_for(settings, warehouse=con), nps_point_value=1000.0)
    frame = result.frame.set_index("driver")
    true = {t["theme"]: t["effects"]["nps"] for t in truth["themes"]}
    generated = pq.read_table(dataset.themes).to_pandas()
    volume = generated.groupby("theme").response_id.nunique()
    # truth's cost in the scope: -effect x how often the theme is written, complaint themes only
    true_cost = {t: -true[t] * volume[t] for t in true if true[t] < 0}
    print("\n" + result.frame[["driver", "volume", "effect", "expected_nps_points"]].round(3).to_string())
    # The true costs are 1027 (unresolved), 1021 (fees), 881 (wait), 742 (staff), 443 (app), 352 (comms):
    # the four costliest come first, the two cheapest last (order within near ties may swap).
    found = [t for t in result.frame.driver if t in true_cost]
    by_cost = sorted(true_cost, key=lambda t: -true_cost[t])
    assert set(found[:4]) == set(by_cost[:4]) and set(found[4:]) == set(by_cost[4:])
    rho = stats.spearmanr(
        [true_cost[t] for t in true_cost], [frame.expected_nps_points[t] for t in true_cost]
    ).statistic
    assert rho > 0.7
    # praise themes are strengths: no gain, and a sentence saying so
    for theme in (t for t in true if true[t] > 0):
        assert frame.expected_nps_points[theme] == 0 and frame.why[theme].startswith("A strength")
    # the figures: effect in NPS points from the same regression as theme_impact(outcome="nps_points")
    impact = theme_impact(
        viewer, stores=stores_for(settings, warehouse=con), outcome="nps_points"
    ).frame.set_index("theme")
    for theme in true_cost:
        assert frame.effect[theme] == pytest.approx(impact.effect[theme])
        expected = -impact.effect[theme] * impact.volume[theme] / result.responses * 0.5
        assert frame.expected_nps_points[theme] == pytest.approx(expected)
        assert frame.expected_margin[theme] == pytest.approx(1000.0 * expected)
    # NPS-point effects are about 10 x the 0-10 answer effects in size (same sign)
    answer = theme_impact(viewer, stores=stores_for(settings, warehouse=con)).frame.set_index("theme")
    for theme in true:
        assert np.sign(impact.effect[theme]) == np.sign(answer.effect[theme])


def test_items_and_themes_rank_together_and_scope_holds(demo, stores_for):  # noqa: F811
    settings, truth, con, *_ = demo
    company = _company(truth)
    items, table = priorities_with_themes(Viewer(company), stores=stores_for(settings, warehouse=con))
    assert set(table.source) == {"item", "theme"}
    assert len(table[table.source == "item"]) == len(items.priorities)
    points = table.expected_nps_points.to_numpy(dtype=float)
    finite = points[~np.isnan(points)]
    assert (np.diff(finite) <= 1e-12).all() and list(table["rank"]) == list(range(1, len(table) + 1))
    with pytest.raises(ScopeError):
        theme_priorities(
            Viewer("reg-london"), stores=stores_for(settings, warehouse=con), unit_id="reg-scotland"
        )
    regional = theme_priorities(Viewer("reg-london"), stores=stores_for(settings, warehouse=con))
    assert (
        0
        < regional.responses
        < theme_priorities(Viewer(company), stores=stores_for(settings, warehouse=con)).responses
    )
