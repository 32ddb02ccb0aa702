"""The audit trail: rows are appended in the caller's transaction, read back oldest first, and roll back
with the change they describe."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cxloop.store.audit import Actor, diff, record, trail


def test_diff_keeps_only_changed_fields_as_before_after_pairs() -> None:
    before = {"status": "new", "owner": 3, "due": datetime(2026, 1, 1, tzinfo=UTC)}
    after = {"status": "contacted", "owner": 3, "due": datetime(2026, 1, 2, tzinfo=UTC)}
    assert diff(before, after) == {
        "due": ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"],
        "status": ["new", "contacted"],
    }


def test_record_and_trail_in_order_and_scoped_to_one_entity(session: Session) -> None:
    record(session, entity="case", entity_id=7, action="created", actor=Actor.system("rule:nps<=6"))
    record(session, entity="case", entity_id=8, action="created", actor=Actor.system())
    record(
        session,
        entity="case",
        entity_id=7,
        action="status_changed",
        actor=Actor(label="ana@example.com"),
        changes={"status": ["new", "contacted"]},
        note="called the customer",
    )
    session.commit()
    events = trail(session, "case", 7)
    assert [e.action for e in events] == ["created", "status_changed"]
    assert events[0].actor == "rule:nps<=6"
    assert events[1].changes == {"status": ["new", "contacted"]}
    assert events[1].note == "called the customer"
    assert events[1].at.tzinfo is not None or session.bind.dialect.name == "sqlite"


def test_audit_row_rolls_back_with_its_transaction(session: Session) -> None:
    record(session, entity="action", entity_id="a1", action="created", actor=Actor.system())
    session.rollback()
    assert trail(session, "action", "a1") == []
