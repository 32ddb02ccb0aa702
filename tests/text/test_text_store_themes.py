"""The codebook in the app database (SQLite, migrated with Alembic): create, update, retire, delete, seed."""

import pytest
from sqlalchemy.orm import Session

from cxloop.store import migrate
from cxloop.store import themes as store
from cxloop.store.db import make_engine
from cxloop.text.codebook import DEMO_CODEBOOK, Codebook


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{(tmp_path / 'app.db').as_posix()}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def test_create_update_and_records(session):
    store.create_theme(session, "staff", ["staff"], description="people")
    store.create_theme(session, "rude_staff", "rude, impolite\nUNHELPFUL ", parent="staff")
    session.commit()
    record = store.theme_record(store.get_theme(session, "rude_staff"))
    assert record == {
        "name": "rude_staff",
        "description": "",
        "keywords": ["rude", "impolite", "unhelpful"],
        "parent": "staff",
        "active": True,
    }
    store.update_theme(session, "rude_staff", keywords=["rude"], parent=None, description="d")
    assert store.theme_record(store.get_theme(session, "rude_staff"))["parent"] is None
    store.update_theme(session, "rude_staff", active=False)
    assert [t.name for t in store.list_themes(session)] == ["staff"]
    assert len(store.list_themes(session, include_inactive=True)) == 2


def test_validation(session):
    store.create_theme(session, "a", ["x"])
    store.create_theme(session, "b", ["y"], parent="a")
    with pytest.raises(ValueError, match="exists"):
        store.create_theme(session, "a", ["x"])
    with pytest.raises(ValueError, match="lower-case"):
        store.create_theme(session, "Bad Name", ["x"])
    with pytest.raises(ValueError, match="no parent"):
        store.create_theme(session, "c", ["x"], parent="zzz")
    with pytest.raises(ValueError, match="cycle"):
        store.update_theme(session, "a", parent="b")
    with pytest.raises(KeyError):
        store.update_theme(session, "nope", active=False)
    with pytest.raises(ValueError, match="child"):
        store.delete_theme(session, "a")
    store.delete_theme(session, "b")
    store.delete_theme(session, "a")
    assert store.list_themes(session, include_inactive=True) == []


def test_seed_round_trips_the_demo_codebook(session):
    assert store.seed_themes(session, DEMO_CODEBOOK.to_records()) == 12
    assert store.seed_themes(session, DEMO_CODEBOOK.to_records()) == 0
    loaded = Codebook.from_records(store.theme_record(t) for t in store.list_themes(session))
    assert loaded.version == DEMO_CODEBOOK.version
    with pytest.raises(ValueError, match="parents"):
        store.seed_themes(session, [{"name": "orphan", "keywords": ["x"], "parent": "missing"}])
