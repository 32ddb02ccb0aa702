"""Logging in: the right password, the wrong one, a disabled user, and no pooled connection held while
argon2 runs."""

from __future__ import annotations

import pytest

from cxloop.services.access import identity
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(settings):
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord("bank", None, "Bank", "company")])
        identity.add_user(session, "ann@example.com", PASSWORD, Role.executive, "bank")
    yield engine
    engine.dispose()


def test_the_right_password_logs_in_and_the_wrong_one_or_a_disabled_user_does_not(engine):
    with session_scope(engine) as session:
        user = identity.authenticate(session, "ANN@example.com", PASSWORD)
        assert user is not None and user.email == "ann@example.com"
        assert identity.authenticate(session, "ann@example.com", PASSWORD + "x") is None
        assert identity.authenticate(session, "nobody@example.com", PASSWORD) is None
        user_store.disable_user(session, "ann@example.com")
    with session_scope(engine) as session:
        assert identity.authenticate(session, "ann@example.com", PASSWORD) is None


def test_no_pooled_connection_is_held_while_the_password_is_verified(engine, monkeypatch):
    held = []
    verify = identity.verify_password

    def counting(password_hash, password):
        held.append(engine.pool.checkedout())
        return verify(password_hash, password)

    monkeypatch.setattr(identity, "verify_password", counting)
    for password, logs_in in ((PASSWORD, True), ("wrong password", False)):
        with session_scope(engine) as session:  # one request's session
            assert (identity.authenticate(session, "ann@example.com", password) is not None) is logs_in
    assert held == [0, 0]
