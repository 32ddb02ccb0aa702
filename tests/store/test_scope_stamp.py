"""The scope stamp (migration 0009): renewed by any change to users or units, by any writer, and never reused
by a rolled-back change; who-sees-what answers kept under it follow every change (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, viewer_for_user, visible_units
from cxloop.store import revision
from cxloop.store.tables import Role, Touchpoint, User
from cxloop.store.units import UnitRecord, upsert_units
from cxloop.store.users import create_user


def _stamp(engine: Engine) -> revision.Stamp | None:
    with Session(engine) as session:
        return revision.current(session)


def _hierarchy(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        upsert_units(
            session,
            [
                UnitRecord("bank", None, "Bank", "company"),
                UnitRecord("north", "bank", "North", "region"),
                UnitRecord("b1", "north", "Branch 1", "branch"),
                UnitRecord("south", "bank", "South", "region"),
            ],
        )


def test_a_migrated_database_has_a_stamp_with_its_own_database_id(engine: Engine):
    stamp = _stamp(engine)
    assert stamp is not None
    database_id, value = stamp
    assert len(database_id) == 32 and isinstance(value, int)


def test_every_change_to_units_or_users_renews_the_stamp_and_other_tables_do_not(engine: Engine):
    seen = [_stamp(engine)]
    _hierarchy(engine)
    seen.append(_stamp(engine))
    with Session(engine) as session, session.begin():
        create_user(session, "ann@example.com", "manager", "b1")
    seen.append(_stamp(engine))
    with engine.begin() as connection:  # a hand-written statement, not the ORM
        connection.execute(sa.text("UPDATE users SET is_active = false WHERE email = 'ann@example.com'"))
    seen.append(_stamp(engine))
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM units WHERE unit_id = 'south'"))
    seen.append(_stamp(engine))
    assert len(set(seen)) == len(seen), seen
    assert len({database_id for database_id, _ in seen}) == 1  # type: ignore[misc]
    with Session(engine) as session, session.begin():
        session.add(Touchpoint(touchpoint_id="web", name="Web", stage_order=1))
    assert _stamp(engine) == seen[-1]


def test_a_rolled_back_change_leaves_the_stamp_and_its_own_stamp_is_never_committed(engine: Engine):
    _hierarchy(engine)
    before = _stamp(engine)
    with Session(engine) as session:
        session.begin()
        create_user(session, "bob@example.com", "manager", "b1")
        inside = revision.current(session)
        session.rollback()
    assert inside != before
    assert _stamp(engine) == before
    with Session(engine) as session, session.begin():
        create_user(session, "bob@example.com", "manager", "b1")
    assert _stamp(engine) not in (before, inside)


def test_a_session_sees_its_own_changes_at_once(engine: Engine):
    _hierarchy(engine)
    with Session(engine) as session, session.begin():
        first = revision.current(session)
        assert revision.current(session) == first
        user = create_user(session, "dan@example.com", "manager", "b1")  # an ORM flush
        second = revision.current(session)
        assert second != first
        session.execute(sa.update(User).where(User.id == user.id).values(unit_id="north"))  # no flush
        third = revision.current(session)
        assert third != second
        assert viewer_for_user(session, user.id) == Viewer("north", Role.manager, user.id)


def test_cached_scope_follows_a_move_a_disable_and_a_new_unit_made_by_another_session(engine: Engine):
    _hierarchy(engine)
    with Session(engine) as session, session.begin():
        user_id = create_user(session, "cat@example.com", Role.manager, "north").id
    with Session(engine) as session:
        viewer = viewer_for_user(session, user_id)
        assert viewer == Viewer("north", Role.manager, user_id)
        assert visible_units(session, viewer) == {"north", "b1"}
        assert viewer_for_user(session, user_id) is viewer  # kept: the same object, no new query
    with Session(engine) as session, session.begin():
        upsert_units(session, [UnitRecord("b2", "north", "Branch 2", "branch")])
    with Session(engine) as session:
        assert visible_units(session, Viewer("north", Role.manager, user_id)) == {"north", "b1", "b2"}
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE users SET unit_id = 'south' WHERE id = {user_id}"))  # noqa: S608
    with Session(engine) as session:
        moved = viewer_for_user(session, user_id)
        assert moved is not None and moved.unit_id == "south"
        assert visible_units(session, moved) == {"south"}
    with Session(engine) as session, session.begin():
        user = session.get(User, user_id)
        assert user is not None
        user.is_active = False
    with Session(engine) as session:
        assert viewer_for_user(session, user_id) is None


def test_without_the_migrations_nothing_is_kept(tmp_path):
    from cxloop.store.tables import Base

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    Base.metadata.create_all(engine)  # the table, but no row and no triggers
    try:
        _hierarchy(engine)
        with Session(engine) as session:
            assert revision.current(session) is None
            assert visible_units(session, Viewer("north")) == {"north", "b1"}
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM units WHERE unit_id = 'b1'"))
        with Session(engine) as session:
            assert visible_units(session, Viewer("north")) == {"north"}
    finally:
        engine.dispose()
