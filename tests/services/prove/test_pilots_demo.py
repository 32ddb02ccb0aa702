"""Pilots on the demo company: the estimated effect covers the true one; scope; decisions; waves.

The demo's pilot ("first-time resolution", ``ground_truth.json`` ``pilot``) lifts one item in the
branches of one region from 2025-10-01; the truth holds the exact average effect on the treated responses.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.prove import pilots as svc
from cxloop.store import pilots as store
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from cxloop.warehouse.schemas import TABLES

SCALE, SEED = 0.5, 2026


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_companies):
    company = demo_companies.copy(SCALE, SEED, tmp_path_factory.mktemp("demo-pilots") / "data")
    settings, dataset = company.settings, company.dataset
    truth = dataset.truth()["pilot"]
    engine = engine_for(settings)
    con = connect(settings)
    with session_scope(engine) as session:
        svc.create_pilot(
            session,
            Viewer(unit_id="bank", role="admin"),
            store.PilotDraft(
                name="First-time resolution",
                start_date=date.fromisoformat(truth["start"]),
                units=tuple(truth["treated_branches"]),
                running_cost=truth["cost_per_branch_month"] * len(truth["treated_branches"]),
                target_metrics=("nps", "churn"),
            ),
        )
    yield settings, truth, engine, con
    con.disconnect()
    engine.dispose()


@pytest.mark.parametrize("inference", ["wild_cluster", "randomization"])
def test_estimated_nps_effect_covers_the_truth(demo, inference: str) -> None:
    _, truth, engine, con = demo
    with session_scope(engine) as session:
        analysis = svc.analyze_pilot(
            session, con, Viewer(unit_id="bank", role="admin"), "First-time resolution", inference=inference
        )
    nps = analysis.impacts["nps"]
    true_points = truth["true_effects"]["nps_points"]
    print(
        f"\n[pilot demo] {inference}: NPS effect {nps['effect']:+.2f} "  # noqa: T201
        f"(95% CI {nps['ci_low']:+.2f} to {nps['ci_high']:+.2f}), truth {true_points:+.2f}"
    )
    assert nps["ci_low"] <= true_points <= nps["ci_high"]
    assert nps["p_value"] < 0.05 and nps["pre_trend_p_value"] > 0.05
    assert set(analysis.treated) == set(truth["treated_branches"])
    assert not set(analysis.controls) & set(truth["treated_branches"])
    assert len(analysis.controls) == 2 * len(analysis.treated)
    assert {"nps_level", "nps_trend", "log_size"} <= set(analysis.balance["feature"])
    assert {"churn", "margin_per_customer", "repurchase"} <= set(
        analysis.impacts
    ) and analysis.roi is not None
    assert analysis.impacts["repurchase"]["n_control"] == len(analysis.controls)
    assert analysis.roi.roi_low <= analysis.roi.roi <= analysis.roi.roi_high
    assert analysis.sensitivity is not None and len(analysis.sensitivity) == 16
    words = analysis.plain_words()
    assert words.startswith("NPS: a clear rise (+") and "compared with 8 similar units" in words
    assert "Return:" in words
    payload = analysis.to_dict()
    assert payload["impacts"]["nps"]["effect"] == nps["effect"] and payload["event_studies"]["nps"]


def test_named_controls_are_used_as_given(demo) -> None:
    _, truth, engine, con = demo
    with session_scope(engine) as session:
        auto = svc.analyze_pilot(
            session, con, Viewer(unit_id="bank", role="admin"), "First-time resolution", inference="cluster"
        )
        named = list(auto.controls[:3])
        analysis = svc.analyze_pilot(
            session,
            con,
            Viewer(unit_id="bank", role="admin"),
            "First-time resolution",
            inference="cluster",
            controls=named,
        )
    assert list(analysis.controls) == named and analysis.control_method == "named by the user"
    assert analysis.impacts["nps"]["n_control"] == 3


def test_a_region_manager_sees_only_pilots_touching_their_region(demo) -> None:
    _, truth, engine, con = demo
    region = truth["region"]
    with session_scope(engine) as session:
        from cxloop.store.units import all_units

        regions = sorted(u.unit_id for u in all_units(session) if u.level == "region" and u.unit_id != region)
        manager = Viewer(unit_id=region, role="manager")
        other = Viewer(unit_id=regions[0], role="manager")
        assert [p.name for p in svc.list_pilots(session, manager)] == ["First-time resolution"]
        assert svc.list_pilots(session, other) == []
        with pytest.raises(svc.PilotNotFoundError):
            svc.get_pilot(session, other, "First-time resolution")
        with pytest.raises(svc.PilotNotFoundError):
            svc.analyze_pilot(session, con, other, "First-time resolution")
        outside = [u.unit_id for u in all_units(session) if u.parent_id == regions[0]][0]
        with pytest.raises(ScopeError):
            svc.create_pilot(
                session, manager, store.PilotDraft(name="x", start_date=date(2026, 1, 1), units=(outside,))
            )
        session.rollback()


def test_decision_and_wave_are_recorded(demo) -> None:
    _, truth, engine, con = demo
    admin = Viewer(unit_id="bank", role="admin")
    with session_scope(engine) as session:
        from cxloop.store.units import all_units

        spare = sorted(
            u.unit_id
            for u in all_units(session)
            if u.level == "branch" and u.unit_id not in truth["treated_branches"]
        )[:3]
        svc.decide(
            session,
            admin,
            "First-time resolution",
            "scale",
            note="NPS +10, ROI positive",
            decided_by="cx lead",
        )
        pilot = svc.add_wave(
            session,
            admin,
            "First-time resolution",
            name="wave 1",
            start_date=date(2026, 3, 1),
            units=spare,
            running_cost=450.0,
        )
        wave_id = pilot.waves[0].id
        shown = svc.pilot_dict(pilot)
        assert shown["decisions"][0]["decision"] == "scale" and shown["waves"][0]["units"] == spare
        wave = svc.analyze_pilot(
            session, con, admin, "First-time resolution", wave=wave_id, inference="randomization"
        )
        assert set(wave.treated) == set(spare)
        assert not set(wave.controls) & (set(spare) | set(truth["treated_branches"]))
        # the wave changed nothing in the demo; randomisation inference (CR1 over-rejects with 3 treated)
        assert wave.impacts["nps"]["ci_low"] <= 0 <= wave.impacts["nps"]["ci_high"]
        overview = svc.programme(session, con, admin, inference="cluster")
        assert list(overview["wave"].fillna("-")) == ["-", "wave 1"]
        assert list(overview["decision"].fillna("-")) == ["scale", "-"]
        assert overview.loc[1, "roi_vs_pilot"] == pytest.approx(
            overview.loc[1, "roi"] - overview.loc[0, "roi"]
        )
        assert overview.loc[0, "nps_ci_low"] > 0
        session.rollback()


def test_roi_uses_scored_clv_or_the_given_margin(demo) -> None:
    _, truth, engine, con = demo
    admin = Viewer(unit_id="bank", role="admin")
    with session_scope(engine) as session:
        margins = [
            svc.analyze_pilot(
                session, con, admin, "First-time resolution", inference="cluster", clv_margin=value
            )
            for value in (0.0, 500.0, 1000.0)
        ]
        m0, m500, m1000 = (a.roi.incremental_margin for a in margins if a.roi is not None)
        # the kept customers' value enters linearly, with the sign of the fall in churn
        assert m1000 - m500 == pytest.approx(m500 - m0, rel=1e-9)
        assert np.sign(m500 - m0) == -np.sign(margins[0].impacts["churn"]["effect"])
        customers = con.table("customers").filter(
            con.table("customers").unit_id.isin(truth["treated_branches"])
        )
        ids = customers.customer_id.to_pandas()[:50]
        scores = pd.DataFrame(
            {
                "customer_id": ids,
                "scored_at": pd.Timestamp("2026-09-30"),
                "horizon": np.int32(36),
                "p_alive": 0.9,
                "expected_purchases": 3.0,
                "expected_spend": 40.0,
                "clv": 750.0,
                "value_tier": "mid",
            }
        )
        if "customer_value" not in con.list_tables():
            con.create_table("customer_value", schema=TABLES["customer_value"].schema)
        con.insert("customer_value", scores)
        scored = svc.analyze_pilot(session, con, admin, "First-time resolution", inference="cluster")
        assert any("mean CLV" in note and "750" in note for note in scored.notes)
        at_750 = svc.analyze_pilot(
            session, con, admin, "First-time resolution", inference="cluster", clv_margin=750.0
        )
        assert scored.roi is not None and at_750.roi is not None
        assert scored.roi.roi == pytest.approx(at_750.roi.roi)


def test_churn_interval_covers_the_small_true_effect(demo) -> None:
    """Scale 0.5, seed 2026: the churn interval covers the truth (-0.0005 a month), and it is wide: the
    effect is a quarter of a standard error, far below what 4 treated branches can detect (docs/pilots.md,
    "Churn: power, not bias")."""
    _, truth, engine, con = demo
    with session_scope(engine) as session:
        analysis = svc.analyze_pilot(
            session, con, Viewer(unit_id="bank", role="admin"), "First-time resolution", n_resamples=499
        )
    churn = analysis.impacts["churn"]
    true_churn = truth["true_effects"]["monthly_churn_hazard"]
    print(  # noqa: T201
        f"\n[pilot demo] churn {churn['effect']:+.5f} (95% CI {churn['ci_low']:+.5f} to "
        f"{churn['ci_high']:+.5f}), truth {true_churn:+.5f}"
    )
    assert churn["ci_low"] <= true_churn <= churn["ci_high"]
    se = (churn["ci_high"] - churn["ci_low"]) / (2 * 1.96)
    assert abs(true_churn) < 0.5 * se  # the truth is well inside the noise: power, not bias
