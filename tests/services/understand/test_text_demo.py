"""Verbatims on the demo company: tagging recovers the generated themes, impact ranks the costly ones.

The demo (``cxloop.demo``) writes each comment from the phrases of known themes and records them in
``response_themes.parquet``; each theme has a known direct effect on NPS (``ground_truth.json``). The
path is the real one: import pipeline -> warehouse -> codebook in the app DB -> tagging -> warehouse
tables -> impact service.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from cxloop.config import Settings
from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.understand.themes import (
    NoCodebookError,
    seed_demo_codebook,
    suggest_new_themes,
    tag_comments,
    theme_behaviour,
    theme_breakdown,
    theme_impact,
)
from cxloop.store import themes as theme_store
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from support.stores import stores_with

SCALE, SEED = 0.2, 23


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_companies):
    company = demo_companies.copy(SCALE, SEED, tmp_path_factory.mktemp("text-demo") / "data")
    settings, dataset = company.settings, company.dataset
    con = connect(settings)
    truth = dataset.truth()
    company = truth["hierarchy"]["company"]
    with pytest.raises(NoCodebookError, match="seed-demo"), stores_with(settings, con) as stores:
        tag_comments(Viewer(company), stores=stores)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        assert seed_demo_codebook(session) == 12
        assert seed_demo_codebook(session) == 0  # idempotent
    engine.dispose()
    with stores_with(settings, con) as stores:
        run = tag_comments(Viewer(company), stores=stores)
    yield settings, truth, con, dataset, run
    con.disconnect()


def _company(truth) -> str:
    return truth["hierarchy"]["company"]


def test_tagging_recovers_the_generated_themes(demo):
    settings, truth, con, dataset, run = demo
    comments = con.table("responses").filter(lambda t: t.comment.notnull()).count().execute()
    assert run.tagged == comments > 5000
    tags = con.table("comment_tags").to_pandas()
    assert len(tags) == run.tags
    generated = pq.read_table(dataset.themes).to_pandas()
    names = [t["theme"] for t in truth["themes"]]
    found = set(zip(tags.response_id, tags.theme, strict=True))
    real = set(zip(generated.response_id, generated.theme, strict=True))
    lines = ["theme                 precision  recall   generated"]
    for name in names:
        f = {r for r, t in found if t == name}
        g = {r for r, t in real if t == name}
        precision, recall = len(f & g) / len(f), len(f & g) / len(g)
        lines.append(f"{name:<22}{precision:9.3f}{recall:8.3f}{len(g):11d}")
        assert precision >= 0.95 and recall >= 0.95, name
    print("\n" + "\n".join(lines))  # reported in docs/text.md


def test_tagging_is_incremental_and_follows_codebook_changes(demo, stores_for):
    settings, truth, con, dataset, run = demo
    company = _company(truth)
    again = tag_comments(Viewer(company), stores=stores_for(settings, warehouse=con))
    assert again.tagged == 0 and again.codebook_version == run.codebook_version
    engine = engine_for(settings)
    with session_scope(engine) as session:
        theme_store.update_theme(session, "high_fees", keywords=["fee", "charge", "expensive", "pricey"])
    engine.dispose()
    changed = tag_comments(Viewer(company), stores=stores_for(settings, warehouse=con))
    assert changed.codebook_version != run.codebook_version
    assert changed.tagged == run.tagged  # every comment was tagged with the old version
    stored = con.table("comment_sentiment").to_pandas()
    assert len(stored) == run.tagged and set(stored.codebook_version) == {changed.codebook_version}
    assert len(con.table("comment_tags").to_pandas()) == run.tags  # same tags: no demo comment says pricey


def test_themes_with_the_largest_true_effect_rank_top(demo, stores_for):
    settings, truth, con, *_ = demo
    result = theme_impact(Viewer(_company(truth)), stores=stores_for(settings, warehouse=con))
    true = {t["theme"]: t["effects"]["nps"] for t in truth["themes"]}
    leaves = result.frame[result.frame.theme.isin(list(true))].set_index("theme")
    assert len(result.adjusted_for) == 10
    print("\n" + result.summary())
    by_size = sorted(true, key=lambda t: -abs(true[t]))
    found = leaves.sort_values("rank").index.tolist()
    assert set(found[:3]) <= set(by_size[:4])  # true top 3 are -0.8, -0.8, -0.7; next -0.6, 0.6
    rho = stats.spearmanr([true[t] for t in leaves.index], leaves.effect).statistic
    assert rho > 0.9
    # Signs all right and sizes close. NPS is rounded and clipped to 0-10, which pulls estimated effects
    # towards 0 (most for praise themes, whose respondents sit near the ceiling), so intervals need not
    # cover the latent-scale truth.
    assert all(np.sign(leaves.effect[t]) == np.sign(true[t]) for t in true)
    assert max(abs(leaves.effect[t] - true[t]) for t in true) < 0.3
    # Without the ratings the effects are confounded (themes are symptoms of low ratings): larger.
    negative = [t for t in true if true[t] < 0]
    assert (leaves.effect_total[negative] < leaves.effect[negative]).all()
    assert (leaves.sentiment[negative].mean() < 0) and (leaves.sentiment[["friendly_staff"]].iloc[0] > 0)


def test_trend_and_emerging_cover_the_window(demo, stores_for):
    settings, truth, con, *_ = demo
    result = theme_impact(Viewer(_company(truth)), stores=stores_for(settings, warehouse=con))
    months = result.trend.month.nunique()
    assert months == 24
    assert set(result.emerging.columns) >= {"theme", "share_last", "share_previous", "q_value", "emerging"}
    assert (result.emerging.q_value >= result.emerging.p_value - 1e-12).all()


def test_scope_unit_touchpoint_and_suppression(demo, stores_for):
    settings, truth, con, *_ = demo
    company = _company(truth)
    units = con.table("units").to_pandas()
    branch = units[units.level == "branch"].unit_id.iloc[0]
    other = units[units.level == "branch"].unit_id.iloc[1]
    whole = theme_impact(Viewer(company), stores=stores_for(settings, warehouse=con))
    mine = theme_impact(Viewer(branch), stores=stores_for(settings, warehouse=con), adjust_for_items=False)
    assert 0 < mine.comments < whole.comments
    with pytest.raises(ScopeError):
        theme_impact(Viewer(branch), stores=stores_for(settings, warehouse=con), unit=other)
    csat = theme_impact(
        Viewer(company), stores=stores_for(settings, warehouse=con), outcome="csat"
    ).frame.set_index("theme")
    true_csat = {t["theme"]: t["effects"]["csat"] for t in truth["themes"]}
    assert (
        csat.effect["unresolved_issue"] < 0
        and csat.ci_low["unresolved_issue"] < true_csat["unresolved_issue"]
    )
    app = theme_impact(Viewer(company), stores=stores_for(settings, warehouse=con), touchpoint="mobile_app")
    assert app.comments < whole.comments
    strict = Settings(
        data_dir=settings.data_dir, environment="test", secret_key=settings.secret_key, min_n=1000
    )
    suppressed = theme_impact(Viewer(company), stores=stores_for(strict, warehouse=con))
    low = suppressed.frame[suppressed.frame.suppressed]
    assert len(low) and low.effect.isna().all() and low.volume.isna().all()
    open_ = suppressed.frame[~suppressed.frame.suppressed]
    assert len(open_) and (open_.volume >= 1000).all()


def test_breakdown_by_child_unit_and_touchpoint(demo, stores_for):
    settings, truth, con, *_ = demo
    company = _company(truth)
    by_unit = theme_breakdown(Viewer(company), stores=stores_for(settings, warehouse=con), by="unit").frame
    divisions = con.table("units").filter(lambda t: t.parent_id == company).unit_id.to_pandas()
    assert set(by_unit.group) == set(divisions)
    whole = theme_impact(Viewer(company), stores=stores_for(settings, warehouse=con)).frame.set_index("theme")
    sums = by_unit.groupby("theme").volume.sum()
    assert sums["long_wait"] == whole.volume["long_wait"]  # divisions partition the company
    by_tp = theme_breakdown(Viewer(company), stores=stores_for(settings, warehouse=con), by="touchpoint")
    assert (
        by_tp.frame.groupby("theme").volume.sum() == whole.volume.reindex(list(codebook_names(by_tp)))
    ).all()
    table = by_tp.share_table()
    assert set(table.index) == {"onboarding", "mobile_app", "branch_visit", "call_centre", "complaint"}
    strict = Settings(
        data_dir=settings.data_dir, environment="test", secret_key=settings.secret_key, min_n=10**6
    )
    hidden = theme_breakdown(Viewer(company), stores=stores_for(strict, warehouse=con), by="segment").frame
    assert hidden.suppressed.all() and hidden.share.isna().all()


def codebook_names(breakdown):
    return sorted(set(breakdown.frame.theme))


def test_suggestions_find_a_theme_missing_from_the_codebook(demo, stores_for):
    settings, truth, con, *_ = demo
    company = _company(truth)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        theme_store.update_theme(session, "long_wait", active=False)
    engine.dispose()
    try:
        tag_comments(Viewer(company), stores=stores_for(settings, warehouse=con))
        result = suggest_new_themes(Viewer(company), stores=stores_for(settings, warehouse=con), n_themes=6)
        terms = [set(" ".join(s.terms).split()) for s in result.suggestions]
        assert any(t & {"wait", "waited", "queue", "slow", "ages"} for t in terms)
    finally:
        with session_scope(engine_for(settings)) as session:
            theme_store.update_theme(session, "long_wait", active=True)
        tag_comments(Viewer(company), stores=stores_for(settings, warehouse=con))


def test_behaviour_after_a_comment(demo, stores_for):
    settings, truth, con, *_ = demo
    result = theme_behaviour(
        Viewer(_company(truth)), stores=stores_for(settings, warehouse=con), horizon_days=180
    )
    frame = result.frame.set_index(["outcome", "theme"])
    print("\n" + result.frame.round(3).to_string())
    assert result.responses > 1000
    assert set(frame.index.get_level_values(0)) == {"repurchase", "churn"}
    churn = frame.loc["churn"]
    # Complaint themes go with detractors, whose churn hazard is 2.6x; praise with promoters.
    negative = [t["theme"] for t in truth["themes"] if t["polarity"] == "negative"]
    positive = [t["theme"] for t in truth["themes"] if t["polarity"] == "positive"]
    assert churn.rate_with[negative].mean() > churn.rate_with[positive].mean()
    assert ((churn.rate_with >= 0) & (churn.rate_with <= 1)).all()
    assert (churn.ci_low <= churn.effect).all() and (churn.effect <= churn.ci_high).all()
