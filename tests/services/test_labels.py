"""Names, not ids (issue 17): the one registry of labels every page reads."""

from __future__ import annotations

from cxloop.config import Settings
from cxloop.services.labels import MEASURES, NONE_LABEL, Labels, measure
from cxloop.store import catalog
from cxloop.store.db import engine_for, session_scope
from cxloop.store.migrate import upgrade
from cxloop.store.tables import QuestionType, Role, Unit, User


def test_labels_come_from_the_catalogue_the_org_and_the_registry(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        catalog.upsert_touchpoints(session, [("branch_visit", "Visit to a branch", 1)])
        catalog.upsert_question(
            session, "app_ease", "Ease of using the app", QuestionType.rating, is_driver=True
        )
        session.add(Unit(unit_id="br-0001", name="Leeds Central", level="branch", path="/br-0001/"))
        session.flush()
        session.add(
            User(
                email="jane@example.com",
                name="Jane Doe",
                password_hash="x",
                role=Role.manager,
                unit_id="br-0001",
            )
        )
    with session_scope(engine) as session:
        jane = session.query(User).one()
        names = Labels(session)
        assert names.touchpoint("branch_visit") == "Visit to a branch"
        assert names.touchpoint("call_centre") == "Call centre"  # not catalogued: humanised
        assert names.metric("item:app_ease") == "Ease of using the app"
        assert names.metric("nps") == "NPS"
        assert names.metric("nps_level") == "NPS: level before the start"
        assert names.metric("churn_trend") == "Churn: trend before the start (a month)"
        assert names.metric("p_alive") == "Chance the customer is still active"
        assert names.metric("subscription_churn_rate") == "Subscription churn rate"
        assert names.unit("br-0001") == "Leeds Central"
        assert names.theme("long_wait") == "Long wait"
        assert names.inference("wild_cluster") == "wild cluster bootstrap"
        # an audit row: "owner_user_id: - -> 4" was the defect
        assert names.field("owner_user_id") == "Owner"
        assert names.change(None, "owner_user_id") == NONE_LABEL
        assert names.change(str(jane.id), "owner_user_id") == "Jane Doe"
        assert names.change("br-0001", "unit_id") == "Leeds Central"
        assert names.change("in_progress", "status") == "In progress"
        assert names.field("due_date") == "Due date"
    engine.dispose()


def test_every_measure_says_how_it_reads() -> None:
    assert measure("p_alive").kind == "rate"
    assert measure("spend").kind == "money"
    assert measure("clv").kind == "money"
    assert measure("nps").kind == "score"
    assert measure("unknown_thing").label == "Unknown thing"
    assert all(m.label and m.label[0].isupper() for m in MEASURES.values())
