"""The ground truth is recoverable from the demo data by simple, independent analyses.

Each check re-estimates a quantity from the files alone (OLS, a Mantel-Haenszel hazard ratio, a 2x2
difference-in-differences) and compares it with ``ground_truth.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _nps_points(scores: pd.Series) -> float:
    return 100.0 * ((scores >= 9).mean() - (scores <= 6).mean())


def _ols_item_weights(responses: pd.DataFrame, items: list[str]) -> pd.Series:
    """OLS of NPS on the items (complete cases) with touchpoint fixed effects; the item coefficients."""
    data = responses.dropna(subset=[f"q_{i}" for i in items])
    touchpoints = pd.get_dummies(data.touchpoint, drop_first=True, dtype=float)
    design = np.column_stack([np.ones(len(data)), data[[f"q_{i}" for i in items]], touchpoints])
    coefficients, *_ = np.linalg.lstsq(design, data.nps.to_numpy(float), rcond=None)
    return pd.Series(coefficients[1 : 1 + len(items)], index=items)


def test_ols_within_each_segment_finds_the_true_top_driver(demo):
    truth = demo.truth["drivers"]["nps"]
    items = [item["item"] for item in demo.truth["items"]]
    for segment, responses in demo["responses"].groupby("segment"):
        estimated = _ols_item_weights(responses, items)
        true = pd.Series(truth["total_weights_by_segment"][segment])[items]
        assert estimated.idxmax() == truth["top_driver"][segment] == truth["importance_ranking"][segment][0]
        # the whole profile, not only the top: estimates track the truth (attenuated by clipping at 0/10)
        assert np.corrcoef(estimated, true)[0, 1] > 0.9, segment
        assert 0.6 < estimated.sum() / true.sum() < 1.05, segment


def test_segments_weigh_different_drivers_as_the_truth_says(demo):
    top = demo.truth["drivers"]["nps"]["top_driver"]
    assert top["premier"] == "personalisation"
    assert top["mass"] == "fees_value"
    assert top["affluent"] == "problem_resolution"
    items = [item["item"] for item in demo.truth["items"]]
    responses = demo["responses"]
    premier = _ols_item_weights(responses[responses.segment == "premier"], items)
    mass = _ols_item_weights(responses[responses.segment == "mass"], items)
    # premier customers weigh personalisation far more than mass customers, and fees far less
    assert premier["personalisation"] > mass["personalisation"] + 0.1
    assert mass["fees_value"] > premier["fees_value"] + 0.1


def test_total_weights_add_the_theme_pathway_to_the_direct_weights(demo):
    nps = demo.truth["drivers"]["nps"]
    direct, total = nps["direct_weights"], nps["total_weights"]
    themed = {theme["item"] for theme in demo.truth["themes"]}
    for segment, by_touchpoint in direct.items():
        for touchpoint, weights in by_touchpoint.items():
            for item, weight in weights.items():
                extra = total[segment][touchpoint][item] - weight
                assert (extra > 0) if item in themed else (extra == 0), (segment, touchpoint, item)


def _customer_months(demo) -> pd.DataFrame:
    """One row per customer and month they were active at the start of, after their first answer in the
    window: their state (category of the latest answer before the month), whether they churned in it, and
    their purchases, spend and contacts in it (whole months only: churn months are flagged)."""
    responses = demo["responses"].sort_values("submitted_at")
    life = demo["subscriptions"].set_index("customer_id")
    segment = demo["customers"].set_index("customer_id").segment
    window = demo.truth["window"]
    month_of = {
        kind: demo[kind].assign(month=demo[kind].occurred_at.dt.to_period("M"))
        for kind in ("transactions", "contacts")
    }
    purchases = month_of["transactions"].groupby(["customer_id", "month"]).amount.agg(["size", "sum"])
    contacts = month_of["contacts"].groupby(["customer_id", "month"]).size()
    rows = []
    for month_start in pd.date_range(window["start"], periods=window["months"], freq="MS"):
        latest = responses[responses.submitted_at < month_start].groupby("customer_id").nps.last()
        active = life[
            (life.started_at < month_start) & (life.ended_at.isna() | (life.ended_at >= month_start))
        ]
        active = active.join(latest, how="inner")
        month_end = month_start + pd.offsets.MonthBegin(1)
        key = pd.MultiIndex.from_arrays([active.index, [month_start.to_period("M")] * len(active)])
        bought = purchases.reindex(key, fill_value=0)
        rows.append(
            pd.DataFrame(
                {
                    "churned": (active.ended_at.notna() & (active.ended_at < month_end)).to_numpy(),
                    "state": np.select(
                        [active.nps >= 9, active.nps >= 7], ["promoter", "passive"], "detractor"
                    ),
                    "segment": segment.loc[active.index].to_numpy(),
                    "purchases": bought["size"].to_numpy(),
                    "spend": bought["sum"].to_numpy(),
                    "contacts": contacts.reindex(key, fill_value=0).to_numpy(),
                    "month": month_start.month,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def customer_months(demo) -> pd.DataFrame:
    return _customer_months(demo)


def _rate_ratio(months: pd.DataFrame, events: str) -> float:
    """Mantel-Haenszel ratio of event rates, detractor over promoter, stratified by segment and calendar
    month (their base rates and seasonality differ)."""
    numerator = denominator = 0.0
    for _, group in months.groupby(["segment", "month"]):
        detractor, promoter = group[group.state == "detractor"], group[group.state == "promoter"]
        exposure = len(detractor) + len(promoter)
        if exposure:
            numerator += detractor[events].sum() * len(promoter) / exposure
            denominator += promoter[events].sum() * len(detractor) / exposure
    return numerator / denominator


def test_detractors_churn_more_than_promoters_by_the_true_hazard_ratio(demo, customer_months):
    churn = demo.truth["behaviour"]["churn"]
    assert churn["hazard_ratio"]["promoter"] == 1.0
    ratio = _rate_ratio(customer_months.assign(churned=customer_months.churned.astype(float)), "churned")
    assert ratio == pytest.approx(churn["hazard_ratio"]["detractor"], rel=0.25)


def test_experience_moves_purchases_spend_and_contacts_by_the_true_ratios(demo, customer_months):
    behaviour = demo.truth["behaviour"]
    whole = customer_months[~customer_months.churned]  # churn months are partial
    assert _rate_ratio(whole, "purchases") == pytest.approx(
        behaviour["purchases"]["rate_ratio"]["detractor"], rel=0.1
    )
    assert _rate_ratio(whole, "contacts") == pytest.approx(
        behaviour["contacts"]["rate_ratio"]["detractor"], rel=0.15
    )
    # spend per purchase: amount ratio within segment, detractor over promoter
    spend = whole[whole.purchases > 0].groupby(["segment", "state"])[["spend", "purchases"]].sum()
    per_purchase = spend.spend / spend.purchases
    ratios = (
        per_purchase.xs("detractor", level="state") / per_purchase.xs("promoter", level="state")
    ).dropna()
    assert ratios.to_numpy() == pytest.approx(behaviour["spend"]["spend_ratio"]["detractor"], rel=0.12)


def test_pilot_did_recovers_the_true_effect(demo):
    pilot = demo.truth["pilot"]
    responses = demo["responses"].assign(
        treated=lambda r: r.unit_id.isin(pilot["treated_branches"]),
        post=lambda r: r.submitted_at >= pd.Timestamp(pilot["start"]),
        points=lambda r: 100.0 * ((r.nps >= 9).astype(float) - (r.nps <= 6).astype(float)),
    )
    cells = responses.groupby(["treated", "post"])
    # (column, true effect, how many standard errors the true effect must exceed for the check to bite)
    for column, true, power in (
        ("nps", pilot["true_effects"]["nps_score_mean"], 3),
        ("points", pilot["true_effects"]["nps_points"], 2),
    ):
        mean, variance, n = cells[column].mean(), cells[column].var(), cells[column].size()
        did = (mean[True, True] - mean[True, False]) - (mean[False, True] - mean[False, False])
        se = float(np.sqrt((variance / n).sum()))
        assert true > power * se, column
        assert abs(did - true) < 3 * se, (column, did, true, se)
    # the point estimate in NPS points agrees with the metric's own definition
    effects = pilot["true_effects"]
    assert effects["nps_points"] == round(
        effects["nps_points_with_pilot"] - effects["nps_points_without_pilot"], 4
    )


def test_pilot_truth_names_the_region_and_moves_churn_the_right_way(demo):
    pilot = demo.truth["pilot"]
    units = demo["units"].set_index("unit_id")
    assert units.loc[pilot["region"], "level"] == "region"
    branches = set(units.index[units.parent_id == pilot["region"]])
    assert set(pilot["treated_branches"]) == branches and len(branches) >= 2
    assert pilot["treated_units"] == [pilot["region"], *pilot["treated_branches"]]
    effects = pilot["true_effects"]
    assert 0 < effects["item_mean"] <= pilot["item_lift_latent"]
    assert effects["nps_score_mean"] > 0 and effects["csat_mean"] > 0 and effects["ces_mean"] > 0
    assert effects["monthly_churn_hazard"] < 0 and effects["monthly_churn_relative"] < 0
    assert effects["monthly_margin_per_customer"] > 0 and effects["monthly_contact_cost_per_customer"] < 0
    # the return over the window: the pilot's cost from its parameters, the gain from the exact sums
    assert pilot["months_in_window"] == 12
    assert effects["pilot_cost"] == pilot["cost_per_branch_month"] * len(branches) * 12
    gain = effects["incremental_margin"] + effects["contact_cost_saved"]
    assert effects["roi_in_window"] == pytest.approx(
        (gain - effects["pilot_cost"]) / effects["pilot_cost"], abs=1e-4
    )
    assert effects["incremental_margin"] == pytest.approx(
        effects["monthly_margin_per_customer"] * effects["customer_months"], rel=1e-4
    )
    # the lifted item moved in the data: treated minus control, after minus before
    responses = demo["responses"]
    item = f"q_{pilot['item']}"
    treated = responses.unit_id.isin(branches)
    post = responses.submitted_at >= pd.Timestamp(pilot["start"])
    means = responses.groupby([treated, post])[item].mean()
    did = (means[True, True] - means[True, False]) - (means[False, True] - means[False, False])
    assert did == pytest.approx(effects["item_mean"], rel=0.2)


def test_branch_scores_follow_the_true_unit_effects(demo):
    branches = demo.truth["unit_effects"]["branches"]
    responses = demo["responses"]
    pilot = demo.truth["pilot"]
    before = responses[responses.submitted_at < pd.Timestamp(pilot["start"])]
    observed = before.groupby("unit_id").nps.mean()
    true = pd.Series({unit: effect["nps_points"] for unit, effect in branches.items()})
    assert set(observed.index) == set(true.index)
    assert np.corrcoef(observed, true[observed.index])[0, 1] > 0.7


def test_seasonality_lowers_load_sensitive_items_in_winter(demo):
    season = demo.truth["seasonality"]
    assert "speed" in season["load_items"]
    responses = demo["responses"]
    month = responses.submitted_at.dt.month
    winter = responses.loc[month.isin([12, 1]), "q_speed"].mean()
    spring = responses.loc[month.isin([4, 5]), "q_speed"].mean()
    true_gap = np.mean([season["item_shift"][m] for m in ("apr", "may")]) - np.mean(
        [season["item_shift"][m] for m in ("dec", "jan")]
    )
    assert spring - winter == pytest.approx(true_gap, rel=0.35)


def test_themes_appear_where_their_item_is_low_or_high(demo):
    responses = demo["responses"].set_index("response_id")
    themes = demo["themes"]
    for theme in demo.truth["themes"]:
        ids = themes.loc[themes.theme == theme["theme"], "response_id"]
        with_theme = responses.loc[ids, f"q_{theme['item']}"].mean()
        overall = responses[f"q_{theme['item']}"].mean()
        if theme["polarity"] == "negative":
            assert with_theme < overall - 1.0, theme["theme"]
        else:
            assert with_theme > overall + 0.5, theme["theme"]
        assert len(ids) / len(responses) == pytest.approx(theme["share_of_responses"], abs=1e-6)
