"""Login sessions: a token works while its row lives; logout ends one, a password change or disabling the
user ends all of theirs, expired ones are purged. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cxloop.store.logins import end_all_sessions, end_session, is_live, open_session, purge_expired
from cxloop.store.tables import LoginSession, Role
from cxloop.store.units import UnitRecord, upsert_units
from cxloop.store.users import create_user, disable_user, set_password_hash


@pytest.fixture
def users(session):
    upsert_units(session, [UnitRecord("bank", None, "Bank", "company")])
    ann = create_user(session, "ann@bank.example", Role.manager, "bank", password_hash="old")
    bob = create_user(session, "bob@bank.example", Role.manager, "bank", password_hash="old")
    session.commit()
    return session, ann.id, bob.id


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(LoginSession))


def test_a_session_is_live_for_its_own_user_only(users):
    session, ann, bob = users
    sid = open_session(session, ann, "page", 60)
    session.commit()
    assert len(sid) >= 40  # 256 random bits
    assert is_live(session, ann, sid)
    assert not is_live(session, bob, sid)
    assert not is_live(session, ann, "not-a-session")


def test_logout_ends_only_that_session(users):
    session, ann, _bob = users
    first, second = open_session(session, ann, "page", 60), open_session(session, ann, "api", 60)
    session.commit()
    assert end_session(session, first) is True
    session.commit()
    assert not is_live(session, ann, first) and is_live(session, ann, second)
    assert end_session(session, first) is False


@pytest.mark.parametrize("change", ["password", "disable", "everywhere"])
def test_a_password_change_or_disabling_ends_every_session_of_that_user(users, change):
    session, ann, bob = users
    ann_sessions = [open_session(session, ann, kind, 60) for kind in ("page", "page", "api")]
    bob_session = open_session(session, bob, "page", 60)
    session.commit()
    if change == "password":
        set_password_hash(session, "ann@bank.example", "new")
    elif change == "disable":
        disable_user(session, "ANN@bank.example")
    else:
        assert end_all_sessions(session, ann) == 3
    session.commit()
    assert not any(is_live(session, ann, sid) for sid in ann_sessions)
    assert is_live(session, bob, bob_session)


def test_expired_sessions_are_purged_when_the_next_login_opens_one(users):
    session, ann, bob = users
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    old = open_session(session, ann, "page", 60, now=start)
    kept = open_session(session, bob, "page", 8 * 60, now=start)
    session.commit()
    assert purge_expired(session, start + timedelta(minutes=59)) == 0
    new = open_session(session, ann, "page", 60, now=start + timedelta(minutes=61))
    session.commit()
    assert not is_live(session, ann, old)
    assert is_live(session, bob, kept) and is_live(session, ann, new)
    assert _count(session) == 2
