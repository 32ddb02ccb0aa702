"""Ground truth: on the demo company the key-driver analysis recovers the true drivers, segment by segment.

The demo (``cxloop.demo``) draws NPS from a known linear model whose weights differ by value segment;
``ground_truth.json`` ranks the items by their true total weight per segment. The analysis runs through
the real path: import pipeline -> warehouse -> engine statistics -> service.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cxloop.config import Settings
from cxloop.demo import generate
from cxloop.demo.load import demo_dir, load
from cxloop.services.drivers import driver_analysis
from cxloop.services.priorities import priorities
from cxloop.services.scope import Viewer
from cxloop.warehouse.connection import connect

SCALE, SEED = 0.2, 11


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("demo") / "data", environment="test", secret_key="test-" + "x" * 40
    )
    dataset = generate(demo_dir(settings), scale=SCALE, seed=SEED)
    load(dataset, settings, replace=True)
    con = connect(settings)
    yield settings, dataset.truth(), con
    con.disconnect()


def _company(truth) -> str:
    return truth["hierarchy"]["company"]


@pytest.mark.parametrize("segment", ["mass", "affluent", "premier"])
def test_true_top_drivers_rank_on_top_in_each_segment(demo, segment):
    settings, truth, con = demo
    company = _company(truth)
    result = driver_analysis(Viewer(company), settings=settings, unit_id=company, segment=segment, con=con)
    found = list(result.drivers.driver)
    true_ranking = truth["drivers"]["nps"]["importance_ranking"][segment]
    assert found[0] == true_ranking[0]
    assert set(found[:2]) <= set(true_ranking[:4])
    weights = truth["drivers"]["nps"]["total_weights_by_segment"][segment]
    shares = result.drivers.set_index("driver").relative_importance
    rho = stats.spearmanr([weights[i] for i in shares.index], shares.to_numpy()).statistic
    assert rho > 0.7


def test_top_drivers_differ_by_segment_as_the_truth_says(demo):
    settings, truth, con = demo
    company = _company(truth)
    top = {}
    for segment in truth["drivers"]["nps"]["importance_ranking"]:
        result = driver_analysis(
            Viewer(company), settings=settings, unit_id=company, segment=segment, con=con
        )
        top[segment] = result.drivers.driver.iloc[0]
    assert top == truth["drivers"]["nps"]["top_driver"]
    assert len(set(top.values())) == len(top) > 1


def test_company_wide_priorities_and_behavioural_outcome_run_on_the_demo(demo):
    settings, truth, con = demo
    company = _company(truth)
    churn = driver_analysis(
        Viewer(company), settings=settings, unit_id=company, outcome="churn_180d", con=con
    )
    assert churn.outcome_type == "binary" and churn.n > 1000
    assert np.isclose(churn.drivers.relative_importance.sum(), 1.0)
    region = truth["hierarchy"]["divisions"]["div-north"][0]
    ranked = priorities(Viewer(company), settings=settings, unit_id=region, con=con)
    assert ranked.benchmark == "peers" and not ranked.suppressed
    assert ranked.annual_margin is not None and ranked.annual_margin > 0
    assert ranked.priorities.why.str.contains("explains").all()


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
