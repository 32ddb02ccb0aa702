"""Ground truth: on the demo company the key-driver analysis recovers the true drivers, segment by segment.

The demo (``cxloop.demo``) draws NPS from a known linear model whose weights differ by value segment;
``ground_truth.json`` ranks the items by their true total weight per segment. The analysis runs through
the real path: import pipeline -> warehouse -> engine statistics -> service.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cxloop.services.access.scope import Role, Viewer
from cxloop.services.understand.drivers import driver_analysis
from cxloop.services.understand.priorities import priorities
from cxloop.warehouse.connection import connect
from cxloop.warehouse.derived.response_items import wide_table_usable
from cxloop.warehouse.queries.driver_stats import DriverScope, driver_items, driver_moments, driver_moments_by

SCALE, SEED = 0.2, 11


@pytest.fixture(scope="module")
def demo(demo_companies):
    company = demo_companies.loaded(SCALE, SEED)  # read-only: shared with other modules
    settings, dataset = company.settings, company.dataset
    con = connect(settings)
    yield settings, dataset.truth(), con
    con.disconnect()


def _company(truth) -> str:
    return truth["hierarchy"]["company"]


@pytest.mark.parametrize("segment", ["mass", "affluent", "premier"])
def test_true_top_drivers_rank_on_top_in_each_segment(demo, segment, stores_for):
    settings, truth, con = demo
    company = _company(truth)
    result = driver_analysis(
        Viewer(company), stores=stores_for(settings, warehouse=con), unit_id=company, segment=segment
    )
    found = list(result.drivers.driver)
    true_ranking = truth["drivers"]["nps"]["importance_ranking"][segment]
    assert found[0] == true_ranking[0]
    assert set(found[:2]) <= set(true_ranking[:4])
    weights = truth["drivers"]["nps"]["total_weights_by_segment"][segment]
    shares = result.drivers.set_index("driver").relative_importance
    rho = stats.spearmanr([weights[i] for i in shares.index], shares.to_numpy()).statistic
    assert rho > 0.7


def test_top_drivers_differ_by_segment_as_the_truth_says(demo, stores_for):
    settings, truth, con = demo
    company = _company(truth)
    top = {}
    for segment in truth["drivers"]["nps"]["importance_ranking"]:
        result = driver_analysis(
            Viewer(company), stores=stores_for(settings, warehouse=con), unit_id=company, segment=segment
        )
        top[segment] = result.drivers.driver.iloc[0]
    assert top == truth["drivers"]["nps"]["top_driver"]
    assert len(set(top.values())) == len(top) > 1


def test_company_wide_priorities_and_behavioural_outcome_run_on_the_demo(demo, stores_for):
    settings, truth, con = demo
    company = _company(truth)
    churn = driver_analysis(
        Viewer(company), stores=stores_for(settings, warehouse=con), unit_id=company, outcome="churn_180d"
    )
    assert churn.outcome_type == "binary" and churn.n > 1000
    assert np.isclose(churn.drivers.relative_importance.sum(), 1.0)
    region = truth["hierarchy"]["divisions"]["div-north"][0]
    ranked = priorities(Viewer(company), stores=stores_for(settings, warehouse=con), unit_id=region)
    assert ranked.benchmark == "top_quartile" and not ranked.suppressed
    assert set(ranked.priorities.benchmark_label) == {"the best 25% of regions"}
    assert ranked.annual_margin is not None and ranked.annual_margin > 0
    assert ranked.priorities.details.str.contains("explains").all()


def test_behavioural_outcomes_follow_the_true_state_model(demo):
    """Truth: the NPS category of a customer's latest answer sets their churn hazard (detractor 2.6x a
    promoter's) and purchase rate (0.65x): detractors must churn more and buy again less."""
    import ibis

    from cxloop.warehouse.outcomes import with_outcomes

    _, truth, con = demo
    ratios = truth["behaviour"]["churn"]["hazard_ratio"]
    assert ratios["detractor"] > ratios["passive"] > ratios["promoter"]
    responses = con.table("responses")
    linked = with_outcomes(con, responses, ("nps", "repurchase_90d", "churn_180d"))
    state = ibis.cases((linked.nps >= 9, "promoter"), (linked.nps >= 7, "passive"), else_="detractor")
    linked = linked.filter(linked.nps.notnull()).mutate(state=state)
    rates = con.execute(
        linked.group_by("state").aggregate(
            churn=linked.churn_180d.mean(), repurchase=linked.repurchase_90d.mean()
        )
    ).set_index("state")
    assert rates.churn["detractor"] > rates.churn["passive"] > rates.churn["promoter"]
    assert rates.repurchase["promoter"] > rates.repurchase["passive"] > rates.repurchase["detractor"]


def test_the_imported_wide_table_gives_the_long_paths_numbers(demo):
    """The importer filled response_items batch by batch; the engine statistics from it equal the pivot
    of answers (the reference) for the company, a region x segment and grouped touchpoints."""
    _, truth, con = demo
    items = driver_items(con)
    assert len(items) == 10 and wide_table_usable(con, items)
    region = truth["hierarchy"]["divisions"]["div-north"][0]
    for scope in (DriverScope(), DriverScope(unit_id=region, segments="mass")):
        wide = driver_moments(con, scope, items, ("nps", "csat"), source="response_items")
        long = driver_moments(con, scope, items, ("nps", "csat"), source="answers")
        assert wide.n == long.n > 500 and wide.n_responses == long.n_responses
        np.testing.assert_allclose(wide.cross, long.cross, rtol=1e-12)
    grouped = driver_moments_by(con, DriverScope(), items, "nps", by="touchpoint")
    for (touchpoint,), moments in grouped.items():
        long = driver_moments(con, DriverScope(touchpoints=touchpoint), items, "nps", source="answers")
        assert moments.n == long.n
        np.testing.assert_allclose(moments.correlation, long.correlation, atol=1e-9)


def _touchpoint_truth(truth) -> dict[str, dict[str, float]]:
    """True total NPS weight of each item per touchpoint, pooled over segments by their responses."""
    nps = truth["drivers"]["nps"]
    out = {}
    for touchpoint in truth["drivers"]["nps"]["total_weights"]["mass"]:
        counts = {s: nps["responses"][s][touchpoint] for s in nps["responses"]}
        total = sum(counts.values())
        items = nps["total_weights"]["mass"][touchpoint]
        out[touchpoint] = {
            k: sum(counts[s] * nps["total_weights"][s][touchpoint][k] for s in counts) / total for k in items
        }
    return out


def test_drivers_per_touchpoint_follow_the_truths_touchpoint_pattern(demo, stores_for):
    """Truth: each touchpoint multiplies some items' NPS weights (the app doubles app ease, complaint
    handling doubles problem resolution, the branch raises friendliness and accessibility). Per
    touchpoint with enough responses, the analysis ranks the truly heaviest items on top, and the
    touchpoint-specific leaders come out where the truth puts them."""
    settings, truth, con = demo
    company = _company(truth)
    weights = _touchpoint_truth(truth)
    found = {}
    for touchpoint, true in weights.items():
        result = driver_analysis(
            Viewer(company),
            stores=stores_for(settings, warehouse=con),
            unit_id=company,
            touchpoint=touchpoint,
        )
        if result.n < 1000:  # onboarding: a few hundred answers, too few to rank ten drivers reliably
            continue
        shares = result.drivers.set_index("driver").relative_importance
        ranking = sorted(true, key=true.get, reverse=True)
        found[touchpoint] = list(shares.index)
        assert ranking[0] in found[touchpoint][:3], touchpoint
        assert found[touchpoint][0] in ranking[:3], touchpoint
        rho = stats.spearmanr([true[i] for i in shares.index], shares.to_numpy()).statistic
        assert rho > 0.6, (touchpoint, rho)
    assert len(found) >= 4
    # where the truth puts a touchpoint-specific leader, the analysis finds it first
    assert found["mobile_app"][0] == "app_ease"
    assert found["complaint"][0] == "problem_resolution"
    assert found["mobile_app"].index("app_ease") < found["branch_visit"].index("app_ease")


def _truth_margin_gap(truth, segment: str) -> float:
    """True expected annual margin of a promoter minus a detractor of ``segment`` (purchase rate x spend
    x margin rate by the state ratios; churn, which widens the gap further, left out)."""
    b = truth["behaviour"]
    rate, spend = b["purchases"]["rate"][segment], b["spend"]["mean_spend"][segment]
    margin_rate = sum(
        share * b["spend"]["margin_rate"][category]
        for category, share in b["purchases"]["category_mix"][segment].items()
    )
    ratio, spend_ratio = b["purchases"]["rate_ratio"], b["spend"]["spend_ratio"]
    state = ratio["promoter"] * spend_ratio["promoter"] - ratio["detractor"] * spend_ratio["detractor"]
    return 12 * rate * spend * margin_rate * state


def test_priorities_put_a_plausible_money_figure_on_each_gap(demo, stores_for):
    """EUR/year = expected NPS points x the value of one NPS point for the scope's customers; that value
    per customer moved (promoter minus detractor margin a year) must be near what the truth's behaviour
    model implies for the scope's segment mix."""
    settings, truth, con = demo
    company = _company(truth)
    region = truth["hierarchy"]["divisions"]["div-north"][0]
    ranked = priorities(Viewer(company), stores=stores_for(settings, warehouse=con), unit_id=region)
    table = ranked.priorities
    assert ranked.nps_point_value is not None and ranked.nps_point_value > 0
    np.testing.assert_allclose(
        table.expected_margin, table.expected_nps_points.clip(lower=0) * ranked.nps_point_value, rtol=1e-12
    )
    top = table.iloc[0]
    assert top.gap > 0 and top.expected_margin > 0
    assert "a year in margin" in top.details and "per NPS point" in top.details
    assert "First because" in top.details
    assert "most important of 10" in top.details and "points behind" in top.details
    assert table.iloc[1].details.count("Ranked 2nd") == 1
    assert "NPS points and €" in top.why
    per_customer = ranked.nps_point_value / (0.005 * ranked.customers)
    responses, closure, customers = con.table("responses"), con.table("unit_closure"), con.table("customers")
    under = closure.filter(closure.ancestor_id == region).unit_id
    behind = responses.filter(responses.unit_id.isin(under) & responses.customer_id.notnull())
    theirs = customers.semi_join(behind.select("customer_id").distinct(), "customer_id")
    mix = con.execute(theirs.group_by("segment").aggregate(n=theirs.count()))
    expected = float((mix.n * mix.segment.map(lambda s: _truth_margin_gap(truth, s))).sum() / mix.n.sum())
    assert 0.4 * expected < per_customer < 2.5 * expected


def test_the_branch_manager_of_br_0001_sees_gains_in_nps_points_and_money_on_most_rows(demo, stores_for):
    """The person the programme exists to guide: every row measured against the best 25% of branches, with a
    non-zero expected gain in NPS points and EUR a year on most rows (issue 16)."""
    settings, truth, con = demo
    ranked = priorities(Viewer("br-0001", Role.manager), stores=stores_for(settings, warehouse=con))
    table = ranked.priorities
    assert ranked.benchmark == "top_quartile" and len(table) == 10
    gains = table[(table.expected_nps_points > 0) & (table.expected_margin > 0)]
    assert len(gains) >= 8, table[["driver", "gap", "expected_nps_points", "expected_margin"]]
    assert ranked.shrinkage is not None and 0 < ranked.shrinkage["weight"] < 1
