"""Targets and actions tables on SQLite and PostgreSQL (migrated by Alembic): one target per unit, metric and
period; links and notes go with their action or target at the database level; a change and its audit row
commit or roll back together."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from cxloop.services.access.scope import Viewer
from cxloop.services.act import actions as act
from cxloop.services.act import targets as tgt
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.tables import Action, ActionNote, ActionTarget, AuditEvent, Role, Target
from cxloop.store.targets import stored_targets

NOW = datetime(2026, 2, 1, 9, tzinfo=UTC)


@pytest.fixture
def org(session):
    unit_store.upsert_units(
        session,
        [
            unit_store.UnitRecord("co", None, "Company", "company"),
            unit_store.UnitRecord("b1", "co", "Branch 1", "branch"),
        ],
    )
    boss = user_store.create_user(session, "boss@co.example", Role.manager, "co")
    session.commit()
    return Viewer.for_user(boss)


def _target(session, boss, value=30.0):
    return tgt.set_target(
        session, boss, tgt.TargetDraft("b1", "nps", "quarter", date(2026, 1, 15), value), now=NOW
    )


def test_one_target_per_unit_metric_and_period(session, org):
    first = _target(session, org)
    session.commit()
    assert first.period_start == date(2026, 1, 1)
    assert _target(session, org, 35.0).id == first.id  # the service updates the one there
    session.commit()
    twin = Target(
        unit_id="b1", metric="nps", granularity="quarter", period_start=date(2026, 1, 1), target_value=1.0,
        origin="own", set_from_unit_id="b1", set_by="x", rationale="",
    )  # fmt: skip
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert [t.target_value for t in stored_targets(session, ["b1"], ["nps"])] == [35.0]


def test_links_and_notes_go_with_their_rows_in_the_database(session, org):
    target = _target(session, org)
    action = act.create_action(
        session, org, act.ActionDraft(title="Fix queues", unit_id="b1", owner="boss@co.example",
                                      target_ids=(target.id,)), now=NOW
    )  # fmt: skip
    act.add_note(session, org, action.id, "started", now=NOW)
    session.commit()
    target_id, action_id = target.id, action.id
    session.expunge_all()
    # plain SQL deletes, so the ON DELETE CASCADE of the schema does the work (not the ORM)
    session.execute(sa.delete(Target).where(Target.id == target_id))
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(ActionTarget)) == 0
    assert session.get(Action, action_id) is not None
    session.execute(sa.delete(Action).where(Action.id == action_id))
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(ActionNote)) == 0


def test_a_change_and_its_audit_row_roll_back_together(session, org):
    _target(session, org)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Target)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
    _target(session, org)
    session.commit()
    events = session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "target")).all()
    assert [e.action for e in events] == ["created"] and events[0].actor == "boss@co.example"
    assert events[0].changes["target_value"] == [None, 30.0]
