"""Pilots in the app database (SQLite and PostgreSQL): create, controls, waves, decisions, refusals."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from cxloop.store import pilots as store
from cxloop.store.tables import PilotDecisionKind
from cxloop.store.units import UnitRecord, upsert_units

ORG = [
    UnitRecord("bank", None, "Bank", "company"),
    UnitRecord("north", "bank", "North", "region"),
    UnitRecord("south", "bank", "South", "region"),
    UnitRecord("n1", "north", "N1", "branch"),
    UnitRecord("n2", "north", "N2", "branch"),
    UnitRecord("s1", "south", "S1", "branch"),
    UnitRecord("s2", "south", "S2", "branch"),
]


@pytest.fixture
def org(session: Session) -> Session:
    upsert_units(session, ORG)
    session.commit()
    return session


def _draft(**kwargs: object) -> store.PilotDraft:
    base = dict(
        name="First-time resolution",
        start_date=date(2025, 10, 1),
        units=("n1", "n2"),
        hypothesis="Resolving at first contact lifts NPS",
        one_off_cost=50_000.0,
        running_cost=2_000.0,
        touchpoints=("branch_visit",),
        target_metrics=("nps", "churn"),
        linked_actions=("train staff",),
    )
    base.update(kwargs)
    return store.PilotDraft(**base)  # type: ignore[arg-type]


def test_create_and_read_back(org: Session) -> None:
    pilot = store.create_pilot(org, _draft(controls=("s1",)))
    org.commit()
    again = store.get_pilot(org, "First-time resolution")
    assert again is not None and again.id == pilot.id
    assert store.get_pilot(org, pilot.id) is not None and store.get_pilot(org, str(pilot.id)) is not None
    assert store.pilot_unit_ids(again) == ["n1", "n2"]
    assert store.pilot_unit_ids(again, store.CONTROL) == ["s1"]
    assert again.target_metrics == ["nps", "churn"] and again.touchpoints == ["branch_visit"]
    assert again.start_date == date(2025, 10, 1) and again.running_cost == 2_000.0
    assert [p.name for p in store.list_pilots(org)] == ["First-time resolution"]


def test_refuses_bad_pilots(org: Session) -> None:
    store.create_pilot(org, _draft())
    with pytest.raises(store.PilotStoreError, match="exists already"):
        store.create_pilot(org, _draft())
    with pytest.raises(store.PilotStoreError, match="unknown unit"):
        store.create_pilot(org, _draft(name="x", units=("n9",)))
    with pytest.raises(store.PilotStoreError, match="before start"):
        store.create_pilot(org, _draft(name="y", end_date=date(2025, 1, 1)))
    with pytest.raises(store.PilotStoreError, match="both in the pilot"):
        store.create_pilot(org, _draft(name="z", controls=("n1",)))


def test_controls_waves_and_decisions(org: Session) -> None:
    pilot = store.create_pilot(org, _draft())
    store.set_controls(org, pilot, ["s1", "s2"])
    store.set_controls(org, pilot, ["s2"])
    assert store.pilot_unit_ids(pilot, store.CONTROL) == ["s2"]
    with pytest.raises(store.PilotStoreError, match="cannot be controls"):
        store.set_controls(org, pilot, ["n1"])
    wave = store.add_wave(
        org, pilot, name="South", start_date=date(2026, 3, 1), units=["s1"], one_off_cost=10.0
    )
    assert store.pilot_unit_ids(pilot, wave_id=wave.id) == ["s1"]
    assert store.pilot_unit_ids(pilot) == ["n1", "n2"]
    with pytest.raises(store.PilotStoreError, match="already treated"):
        store.add_wave(org, pilot, name="again", start_date=date(2026, 4, 1), units=["n1"])
    with pytest.raises(store.PilotStoreError, match="before its pilot"):
        store.add_wave(org, pilot, name="early", start_date=date(2025, 1, 1), units=["s2"])
    store.record_decision(org, pilot, "scale", note="ROI clear", decided_by="ceo@bank")
    with pytest.raises(store.PilotStoreError, match="scale, iterate or stop"):
        store.record_decision(org, pilot, "maybe")
    org.commit()
    again = store.get_pilot(org, pilot.id)
    assert again is not None
    assert [d.decision for d in again.decisions] == [PilotDecisionKind.scale]
    assert again.decisions[0].decided_by == "ceo@bank" and again.decisions[0].decided_at is not None
    assert [w.name for w in again.waves] == ["South"]
