"""Ground truth: on the demo company the churn model ranks, calibrates and explains as the truth says.

The demo's churn model (``ground_truth.json``, ``behaviour.churn``): monthly hazard = base[segment] x
hazard_ratio[state] x seasonality, where the state is the NPS class of the customer's latest answer
(detractor 2.6, passive 1.4, promoter 1). Contacts, unresolved contacts and purchases follow the same
state, so they are proxies, not causes. The figures are printed (run with ``-s``) and recorded in
docs/predict.md.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer
from cxloop.services.value import churn as predict

ECE_LIMIT = 0.01  # expected calibration error on the validation window, in probability points


def _show(title: str, value: object) -> None:
    print(f"\n[predict] {title}: {value}")  # noqa: T201 - the figures belong in the test output


def test_classifier_beats_the_detractor_rule_and_matches_or_beats_the_baseline(trained) -> None:
    run = trained.run
    m, b, r = run.metrics, run.baseline_metrics, run.rule_metrics
    _show(
        "validation",
        f"rows {run.validation_rows}, churn rate {m['base_rate']:.4f}; classifier AUC {m['auc']:.4f} "
        f"top-decile precision {m['top_decile_precision']:.4f} lift {m['lift']:.2f} Brier {m['brier']:.5f} "
        f"ECE {m['ece']:.5f}; logistic AUC {b['auc']:.4f} precision {b['top_decile_precision']:.4f} "
        f"Brier {b['brier']:.5f}; detractors-only precision {r['top_decile_precision']:.4f}",
    )
    assert m["top_decile_precision"] > r["top_decile_precision"]
    assert m["auc"] > b["auc"]
    assert m["brier"] <= b["brier"]
    assert m["lift"] > 1.5


def test_calibration_error_is_small(trained) -> None:
    m = trained.run.metrics
    _show("calibration", f"ECE {m['ece']:.5f} (limit {ECE_LIMIT}); base rate {m['base_rate']:.4f}")
    _show("calibration bins", trained.run.calibration.round(4).to_string(index=False))
    assert m["ece"] < ECE_LIMIT
    table = trained.run.calibration
    # the ranking holds across the bins: observed churn rises with predicted risk
    assert np.corrcoef(table.predicted, table.observed)[0, 1] > 0.9
    assert table.observed.iloc[-1] > 2.5 * table.observed.iloc[0]


def test_top_reasons_name_the_true_churn_driver(trained) -> None:
    """The truth's driver is the NPS class of the latest answer: it must lead the global importance and be
    the most frequent top reason among the highest-risk customers."""
    importance = trained.run.importance
    _show("permutation importance", importance[["group", "importance", "sd"]].round(4).to_string(index=False))
    assert importance.group.iloc[0] == "nps"
    con = trained.demo.con
    scores = con.execute(con.table("churn_scores"))
    explained = scores[scores.reasons.notna()]
    first = explained.reasons.map(lambda r: (json.loads(r) or [{"group": None}])[0]["group"])
    counts = first.value_counts(normalize=True)
    _show("first reason among the top 20% by risk", counts.round(3).to_dict())
    assert counts.index[0] == "nps"
    assert counts.iloc[0] > 0.4
    worded = explained.reasons.map(lambda r: [x["text"] for x in json.loads(r)])
    assert any("NPS" in " ".join(texts) for texts in worded)


def test_cox_hazard_ratios_match_the_truth(trained, stores_for) -> None:
    demo = trained.demo
    truth = demo.truth["behaviour"]["churn"]["hazard_ratio"]
    view = predict.survival_view(demo.viewer, stores=stores_for(demo.settings, warehouse=demo.con), months=12)
    _show("cox", view.cox_summary)
    cox = view.cox.set_index("covariate")
    for state in ("detractor", "passive"):
        row = cox.loc[state]
        _show(
            f"{state} hazard ratio",
            f"{row.hazard_ratio:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] truth {truth[state]}",
        )
        assert row.ci_low <= truth[state] <= row.ci_high
    km = view.kaplan_meier_nps.groupby("group").tail(1).set_index("group")
    _show("Kaplan-Meier 30-day retention", km.retention.round(4).to_dict())
    assert km.loc["detractor", "retention"] < km.loc["passive", "retention"] < km.loc["promoter", "retention"]


def test_scores_and_at_risk_list_are_scoped(trained, stores_for) -> None:
    demo = trained.demo
    assert trained.score.rows > 1000 and trained.score.clv_scored
    company = predict.at_risk(demo.viewer, stores=stores_for(demo.settings, warehouse=demo.con), limit=20)
    values = company.customers.expected_value_lost.astype(float).to_numpy()
    assert (np.diff(values) <= 1e-9).all()
    _show("top at-risk customer", company.customers.iloc[0].to_dict())
    branches = [b for b in demo.truth["unit_effects"]["branches"]]
    branch = branches[0]
    viewer = Viewer(branch)
    mine = predict.at_risk(viewer, stores=stores_for(demo.settings, warehouse=demo.con), limit=1000)
    assert len(mine.customers) and set(mine.customers.unit_id) == {branch}
    other = branches[1]
    with pytest.raises(ScopeError):
        predict.at_risk(viewer, other, stores=stores_for(demo.settings, warehouse=demo.con))
    with pytest.raises(UnknownUnitError):
        predict.at_risk(viewer, "no-such-unit", stores=stores_for(demo.settings, warehouse=demo.con))
    outsider = company.customers[company.customers.unit_id != branch].customer_id.iloc[0]
    with pytest.raises(predict.UnknownCustomerError):
        predict.explain_customer(viewer, outsider, stores=stores_for(demo.settings, warehouse=demo.con))
    inside = predict.explain_customer(
        viewer, mine.customers.customer_id.iloc[0], stores=stores_for(demo.settings, warehouse=demo.con)
    )
    assert inside.unit_id == branch and 0 < inside.risk < 1


def test_outreach_holdout_is_recorded_and_uplift_is_stated(trained, stores_for) -> None:
    demo = trained.demo
    picked = predict.assign_outreach(
        demo.viewer,
        stores=stores_for(demo.settings, warehouse=demo.con),
        campaign="test-campaign",
        min_risk=0.05,
        holdout_share=0.3,
        seed=5,
    )
    assert len(picked) > 20
    share = (picked.arm == "holdout").mean()
    assert share == pytest.approx(0.3, abs=1 / len(picked) + 1e-9)
    again = predict.assign_outreach(
        demo.viewer,
        stores=stores_for(demo.settings, warehouse=demo.con),
        campaign="test-campaign",
        min_risk=0.05,
        holdout_share=0.3,
        seed=5,
    )
    assert again.empty  # nobody is assigned twice in one campaign
    result = predict.outreach_uplift(
        demo.viewer, stores=stores_for(demo.settings, warehouse=demo.con), campaign="test-campaign"
    )
    _show("uplift (scores at the end of the data: no follow-up yet)", result.statement)
    assert result.randomised and result.contacted + result.comparison == len(picked)


def test_churn_risk_rule_opens_cases_for_the_contacted_and_records_the_holdout(trained) -> None:
    from cxloop.services.act.rules import churn_outreach
    from cxloop.services.act.rules import engine as alerts
    from cxloop.store.audit import Actor
    from cxloop.store.db import engine_for, session_scope
    from cxloop.store.tables import Role

    demo = trained.demo
    admin = Viewer(demo.viewer.unit_id, role=Role.admin)
    engine = engine_for(demo.settings)
    try:
        with session_scope(engine) as session:
            alerts.create_rule(
                session,
                admin,
                name="churn outreach",
                kind="churn_risk",
                params={"min_risk": 0.06, "holdout_share": 0.25, "seed": 3, "campaign": "rule-campaign"},
                actor=Actor.system("test"),
            )
            run = churn_outreach.run_outreach(
                session, demo.con, admin, "churn outreach", settings=demo.settings
            )
            again = churn_outreach.run_outreach(
                session, demo.con, admin, "churn outreach", settings=demo.settings
            )
        _show(
            "churn_risk rule",
            f"{run.assigned} assigned, {run.contacted} contacted ({len(run.cases_opened)} cases), "
            f"{run.held_out} held out",
        )
        assert run.assigned > 20 and len(run.cases_opened) == run.contacted
        assert 0.1 < run.held_out / run.assigned < 0.4
        assert again.assigned == 0  # assigned once per campaign
        with session_scope(engine) as session:
            with pytest.raises(alerts.RuleError, match="min_risk"):
                alerts.create_rule(
                    session,
                    admin,
                    name="bad",
                    kind="churn_risk",
                    params={"min_risk": 2},
                    actor=Actor.system("test"),
                )
    finally:
        engine.dispose()


def test_the_hold_out_draw_has_its_share_is_nested_and_is_the_same_in_every_process():
    """The hold-out decides who is *not* contacted, so a campaign's measured effect depends on it: its share
    within binomial error, nested in the share (a customer held out at 25% is held out at 50%), independent
    across seeds, and the same in another process with another hash seed (so a re-run of the campaign after a
    restart holds out the same customers)."""
    import os
    import subprocess
    import sys

    from cxloop.services.act.rules.churn_risk import held_out

    ids = [f"C{i}" for i in range(20_000)]
    quarter = {c for c in ids if held_out(c, share=0.25, seed=3)}
    half = {c for c in ids if held_out(c, share=0.5, seed=3)}
    assert abs(len(quarter) / len(ids) - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(ids))
    assert quarter <= half and abs(len(half) / len(ids) - 0.5) < 4 * np.sqrt(0.25 / len(ids))
    other_seed = {c for c in ids if held_out(c, share=0.25, seed=4)}
    both = len(quarter & other_seed) / len(ids)
    assert abs(both - 0.25**2) < 4 * np.sqrt(0.0625 * 0.9375 / len(ids))  # independent draws
    code = (
        "from cxloop.services.act.rules.churn_risk import held_out\n"
        "print(','.join(f'C{i}' for i in range(2000) if held_out(f'C{i}', share=0.25, seed=3)))"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert set(out.stdout.strip().split(",")) == {c for c in ids[:2000] if c in quarter}
