"""Targets and actions in the service layer: scope, top-down locks, progress verdicts, overdue with a fixed
clock, the workflow with its audit trail, and the measured change on data with a known step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.act import actions as act
from cxloop.services.act import targets as tgt
from cxloop.services.stores import Stores
from cxloop.services.understand.metrics import MetricsQuery, NoTargetError, metrics
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.audit import trail
from cxloop.store.db import make_engine
from cxloop.store.tables import Question, QuestionType, Role
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.schemas import ANSWERS
from support.warehouse_facts import COMPANY, insert, load_warehouse, responses_table

START = datetime(2025, 4, 1, 9, tzinfo=UTC)  # the action on n1 starts here: NPS steps from 0 to 30
FIRST_DAY = date(2025, 1, 1)
DAYS = 180
ITEM = "wait_time"


def _n1_scores(day: int) -> list[float]:
    """Ten NPS answers a day at n1: 3/4/3 detractors/passives/promoters before START (NPS 0), 2/3/5 after
    (NPS 30), exactly, so the step is +30 points."""
    after = FIRST_DAY + timedelta(days=day) >= START.date()
    detractors, passives = (2, 3) if after else (3, 4)
    return [3.0] * detractors + [8.0] * passives + [10.0] * (10 - detractors - passives)


def _synthetic() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(2026)
    units, stamps, nps, items = [], [], [], []
    for day in range(DAYS):
        when = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time()) + timedelta(hours=10)
        for k, score in enumerate(_n1_scores(day)):
            units.append("n1")
            stamps.append(when + timedelta(minutes=k))
            nps.append(score)
            after = when.date() >= START.date()
            items.append(float((3, 4, 5)[k % 3] if after else (2, 3, 4)[k % 3]))  # mean 3 -> 4
        for k in range(10):  # n2: the same distribution all along (NPS about 20)
            units.append("n2")
            stamps.append(when + timedelta(minutes=30 + k))
            nps.append(float(rng.choice([3.0, 8.0, 10.0], p=[0.2, 0.4, 0.4])))
            items.append(float(rng.integers(2, 6)))
    size = len(units)
    responses = responses_table(
        unit_id=units, submitted_at=stamps, nps=nps, csat=[None] * size, ces=[None] * size
    )
    answers = pa.table(
        {"response_id": responses.column("response_id"), "item": [ITEM] * size, "value": items},
        schema=ANSWERS.schema.to_pyarrow(),
    )
    return responses, answers


@pytest.fixture(scope="module")
def con():
    con = connect_url("duckdb://")
    responses, answers = _synthetic()
    load_warehouse(con, responses)
    insert(con, "answers", answers)
    return con


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(u, p, n, lvl) for u, p, n, lvl in COMPANY])
        users = {
            "exec": user_store.create_user(session, "exec@acme.example", Role.executive, "acme"),
            "north": user_store.create_user(session, "north@acme.example", Role.manager, "north"),
            "n1": user_store.create_user(session, "n1@acme.example", Role.manager, "n1"),
            "n2": user_store.create_user(session, "n2@acme.example", Role.manager, "n2"),
            "front": user_store.create_user(session, "front@acme.example", Role.frontline, "n1"),
        }
        session.flush()
        for unit in ("north", "n1", "n2"):
            unit_store.set_owner(session, unit, users[unit].id)
        session.add(
            Question(question_id=ITEM, label="Waiting time", type=QuestionType.rating, scale_min=1,
                     scale_max=5, is_driver=True)
        )  # fmt: skip
        session.commit()
        session.info["users"] = users
        yield session
    engine.dispose()


def viewer(session: Session, who: str) -> Viewer:
    return Viewer.for_user(session.info["users"][who])


def _target(unit: str, value: float, metric: str = "nps", start: date = date(2025, 4, 1)) -> tgt.TargetDraft:
    return tgt.TargetDraft(unit, metric, "quarter", start, value, rationale="board plan")


NOW = datetime(2025, 7, 15, tzinfo=UTC)


# --- targets: scope and the top-down lock ----------------------------------------------------------------


def test_a_manager_sets_targets_below_and_the_branch_cannot_overwrite_them(session):
    north, n1 = viewer(session, "north"), viewer(session, "n1")
    target = tgt.set_target(session, north, _target("n1", 20), now=NOW)
    assert target.origin == "top_down" and target.set_from_unit_id == "north"
    assert target.period_start == date(2025, 4, 1)
    with pytest.raises(tgt.TargetLockedError, match="set top-down by north@acme.example"):
        tgt.set_target(session, n1, _target("n1", 5), now=NOW)
    with pytest.raises(tgt.TargetLockedError):
        tgt.delete_target(session, n1, target.id)
    assert session.get(type(target), target.id).target_value == 20
    # the branch may set its own target on another metric; the region may still change it
    own = tgt.set_target(session, n1, _target("n1", 4.0, metric=f"item:{ITEM}"), now=NOW)
    assert own.origin == "own"
    changed = tgt.set_target(session, north, _target("n1", 4.2, metric=f"item:{ITEM}"), now=NOW)
    assert changed.id == own.id and changed.origin == "top_down" and changed.target_value == 4.2
    events = trail(session, "target", own.id)
    assert [e.action for e in events] == ["created", "updated"]
    assert events[1].changes["target_value"] == [4.0, 4.2]
    assert events[1].actor == "north@acme.example"


def test_a_branch_manager_cannot_read_or_set_a_siblings_targets(session):
    north, n1 = viewer(session, "north"), viewer(session, "n1")
    sibling = tgt.set_target(session, north, _target("n2", 25), now=NOW)
    with pytest.raises(ScopeError):
        tgt.set_target(session, n1, _target("n2", 10), now=NOW)
    with pytest.raises(tgt.TargetNotFoundError):
        tgt.get_target(session, n1, sibling.id)
    assert [t.unit_id for t in tgt.list_targets(session, n1)] == []
    assert {t.unit_id for t in tgt.list_targets(session, north)} == {"n2"}
    with pytest.raises(ScopeError):
        tgt.list_targets(session, n1, unit_id="n2")


def test_frontline_cannot_set_targets_and_values_are_checked(session):
    with pytest.raises(tgt.NotAllowedError, match="frontline"):
        tgt.set_target(session, viewer(session, "front"), _target("n1", 10))
    north = viewer(session, "north")
    with pytest.raises(ValueError, match="between -100 and 100"):
        tgt.set_target(session, north, _target("n1", 140))
    with pytest.raises(ValueError, match="unknown metric"):
        tgt.set_target(session, north, _target("n1", 10, metric="happiness"))
    with pytest.raises(ValueError, match="unknown question"):
        tgt.set_target(session, north, _target("n1", 3, metric="item:nope"))
    with pytest.raises(ValueError, match="unknown period"):
        tgt.set_target(session, north, tgt.TargetDraft("n1", "nps", "fortnight", date(2025, 4, 1), 10))


# --- progress ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "verdict"), [(10.0, "on_track"), (50.0, "off_track"), (29.0, "too_early")])
def test_progress_verdicts_against_the_known_nps_of_30(session, settings, con, value, verdict):
    target = tgt.set_target(session, viewer(session, "north"), _target("n1", value), now=NOW)
    progress = tgt.target_progress(
        viewer(session, "n1"),
        target.id,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=NOW,
    )
    assert progress.estimate == pytest.approx(30.0)
    assert progress.n == 900  # Q2 up to the last day of data (2025-06-29): 90 days x 10 answers
    assert progress.ci_low < 30 < progress.ci_high
    assert progress.gap == pytest.approx(30.0 - value)
    assert progress.verdict == verdict
    assert progress.sentence.lower().startswith(
        verdict.replace("_", " ").replace("too early", "too early to tell")
    )
    assert progress.period_state == "ended"


def test_progress_of_an_item_target_uses_a_t_test(session, settings, con):
    target = tgt.set_target(
        session, viewer(session, "n1"), _target("n1", 3.5, metric=f"item:{ITEM}"), now=NOW
    )
    progress = tgt.target_progress(
        viewer(session, "n1"),
        target,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=NOW,
    )
    assert progress.estimate == pytest.approx(3.9)  # 3,4,5,3,4,5,3,4,5,3 each day
    assert progress.test == "one-sample t test" and progress.verdict == "on_track"


def test_progress_before_the_period_and_without_data(session, settings, con):
    future = tgt.set_target(
        session, viewer(session, "n1"), _target("n1", 20, start=date(2026, 1, 1)), now=NOW
    )
    progress = tgt.target_progress(
        viewer(session, "n1"),
        future,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=NOW,
    )
    assert progress.period_state == "not_started" and progress.verdict == "too_early"
    assert "starts on 2026-01-01" in progress.sentence
    empty = tgt.set_target(session, viewer(session, "north"), _target("n3", 20), now=NOW)
    progress = tgt.target_progress(
        viewer(session, "north"),
        empty,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=NOW,
    )
    assert progress.suppressed and progress.estimate is None and progress.verdict == "too_early"


def test_the_metrics_target_comparison_reads_the_stored_targets(session, settings, con):
    north = viewer(session, "north")
    with pytest.raises(NoTargetError, match="cxloop targets set"):
        metrics(
            north,
            MetricsQuery(unit="n1", compare=("target",)),
            stores=Stores(settings=settings, session=session, warehouse=con),
        )
    tgt.set_target(session, north, _target("n1", 10), now=NOW)  # Q2 2025
    result = metrics(
        north,
        MetricsQuery(unit="n1", grain="month", metrics=("nps",), compare=("target",), start=date(2025, 3, 1),
                     end=date(2025, 6, 30)),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )  # fmt: skip
    cells = result.cells.set_index("period_start")
    assert cells.loc["2025-03-01", "target_note"] == "no target set"  # Q1: nothing stored
    for month in ("2025-04-01", "2025-05-01", "2025-06-01"):  # months inside the quarterly target
        assert cells.loc[month, "target_reference"] == 10.0
        assert cells.loc[month, "target_difference"] == pytest.approx(20.0)
    # an explicit what-if target still wins
    what_if = metrics(
        north, MetricsQuery(unit="n1", grain="quarter", metrics=("nps",), compare=("target",),
                            targets={"nps": 30.0}, start=date(2025, 4, 1), end=date(2025, 6, 30)),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )  # fmt: skip
    assert what_if.cells.target_reference.tolist() == [30.0]


# --- actions ---------------------------------------------------------------------------------------------


def _action(session: Session, who: str = "north", **changes) -> act.Action:
    fields = {"title": "Cut waiting time", "unit_id": "n1", "driver": ITEM, "due_date": date(2025, 5, 31)}
    fields.update(changes)
    return act.create_action(
        session, viewer(session, who), act.ActionDraft(**fields), now=START - timedelta(days=3)
    )


def test_an_action_is_owned_by_the_units_accountable_owner_and_linked_to_targets(session):
    target = tgt.set_target(session, viewer(session, "north"), _target("n1", 20), now=NOW)
    action = _action(session, target_ids=(target.id,))
    assert action.owner_user_id == session.info["users"]["n1"].id
    assert action.status == "planned"
    assert [
        a.id for a in act.list_actions(session, viewer(session, "north"), target_id=target.id).actions
    ] == [action.id]
    assert tgt.target_dict(target)["action_ids"] == [action.id]
    with pytest.raises(ValueError, match="cannot see unit"):
        _action(session, owner="n2@acme.example")
    with pytest.raises(tgt.NotAllowedError):
        _action(session, who="front")


def test_workflow_with_reopen_and_every_step_audited(session):
    action = _action(session)
    n1 = viewer(session, "n1")
    with pytest.raises(act.TransitionError, match="only a done or cancelled action"):
        act.transition(session, n1, action.id, "reopen")
    with pytest.raises(act.TransitionError, match="unknown status"):
        act.transition(session, n1, action.id, "finished")
    act.transition(session, n1, action.id, "in_progress", now=START)
    act.add_note(session, n1, action.id, "Second teller at lunch time", now=START + timedelta(days=1))
    act.transition(session, n1, action.id, "done", now=START + timedelta(days=30))
    assert action.completed_at is not None
    act.transition(session, n1, action.id, "reopen", note="queues are back", now=START + timedelta(days=40))
    assert action.status == "in_progress" and action.completed_at is None
    assert action.started_at.replace(tzinfo=UTC) == START
    steps = [e.action for e in act.action_audit(session, n1, action.id)]
    assert steps == ["created", "status:in_progress", "note", "status:done", "reopened"]
    assert [n.body for n in action.notes] == ["Second teller at lunch time"]
    # the frontline user at n1 neither owns nor plans it: may read, not change
    front = viewer(session, "front")
    assert act.get_action(session, front, action.id).id == action.id
    with pytest.raises(tgt.NotAllowedError):
        act.transition(session, front, action.id, "done")
    with pytest.raises(act.ActionNotFoundError):
        act.get_action(session, viewer(session, "n2"), action.id)


def test_my_actions_and_overdue_with_a_fixed_clock(session):
    late = _action(session, title="late", due_date=date(2025, 5, 31))
    _action(session, title="not yet due", due_date=date(2025, 8, 1))
    finished = _action(session, title="done in time", due_date=date(2025, 5, 1))
    act.transition(session, viewer(session, "n1"), finished.id, "done", now=START)
    n1 = viewer(session, "n1")
    assert act.list_actions(session, n1, mine=True).total == 3
    assert act.list_actions(session, viewer(session, "north"), mine=True).total == 0
    overdue = act.list_actions(session, n1, overdue=True, now=datetime(2025, 6, 1, tzinfo=UTC))
    assert [a.title for a in overdue.actions] == ["late"]
    assert act.list_actions(session, n1, overdue=True, now=datetime(2025, 5, 31, 23, tzinfo=UTC)).total == 0
    record = act.action_dict(session, late, now=datetime(2025, 6, 11, tzinfo=UTC))
    assert record["overdue"] and record["days_overdue"] == 11
    page = act.list_actions(session, n1, per_page=2, page=2)
    assert page.total == 3 and len(page.actions) == 1


def test_one_click_from_a_priority(session):
    action = act.create_from_priority(
        session, viewer(session, "north"), unit_id="n1", driver=ITEM, expected_impact="2.5", title=""
    )
    assert action.title == "Improve Waiting time"
    assert action.owner_user_id == session.info["users"]["n1"].id
    assert (action.impact_metric, action.impact_points) == ("nps", 2.5)
    assert act.parse_expected_impact("csat=+4") == ("csat", 4.0)
    with pytest.raises(ValueError, match="not a number"):
        act.parse_expected_impact("lots")


# --- measured change -------------------------------------------------------------------------------------


def test_measured_change_finds_the_known_step(session, settings, con):
    action = _action(session, driver=None, impact_metric="nps")
    act.transition(session, viewer(session, "n1"), action.id, "in_progress", now=START)
    change = act.measured_change(
        viewer(session, "north"),
        action.id,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=NOW,
    )
    assert change.state == "measured" and change.window_days == 90
    assert change.before.estimate == pytest.approx(0.0) and change.after.estimate == pytest.approx(30.0)
    assert change.difference == pytest.approx(30.0)
    assert change.ci_low < 30.0 < change.ci_high and change.ci_low > 0
    assert change.significant and change.p_value < 0.001
    assert "pilot" in change.caveat and "observational" in change.caveat


def test_measured_change_of_a_driver_item_uses_welch_and_gives_the_top_box(session, settings, con):
    action = _action(session)
    act.transition(session, viewer(session, "n1"), action.id, "in_progress", now=START)
    change = act.measured_change(
        viewer(session, "n1"),
        action.id,
        stores=Stores(settings=settings, session=session, warehouse=con),
        window_days=60,
        now=NOW,
    )
    assert change.window_days == 60 and change.test.startswith("Welch")
    assert change.difference == pytest.approx(1.0, abs=0.01)
    assert change.ci_low < 1.0 < change.ci_high
    assert change.top_box["before"] == pytest.approx(30.0)  # answers 4-5 on 1-5: 3 of 10 a day, then 6
    assert change.top_box["after"] == pytest.approx(60.0)


def test_no_change_where_nothing_changed(session, settings, con):
    north = viewer(session, "north")
    action = act.create_action(
        session, north, act.ActionDraft(title="Greet customers", unit_id="n2", impact_metric="nps"), now=START
    )
    act.transition(session, north, action.id, "in_progress", now=START)
    change = act.measured_change(
        north, action.id, stores=Stores(settings=settings, session=session, warehouse=con), now=NOW
    )
    assert change.state == "measured"
    assert change.ci_low < 0 < change.ci_high
    assert not change.significant and "No significant change" in change.sentence


def test_measured_change_waits_for_the_start_and_shrinks_the_windows(session, settings, con):
    action = _action(session, driver=None)
    n1 = viewer(session, "n1")
    assert (
        act.measured_change(
            n1, action.id, stores=Stores(settings=settings, session=session, warehouse=con), now=NOW
        ).state
        == "not_started"
    )
    act.transition(session, n1, action.id, "in_progress", now=START)
    early = act.measured_change(
        n1,
        action.id,
        stores=Stores(settings=settings, session=session, warehouse=con),
        now=START + timedelta(days=20),
    )
    assert early.window_days == 20
    assert early.before.start == "2025-03-12" and early.after.end == "2025-04-20"
