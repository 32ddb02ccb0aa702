"""Who the command line acts as, and the subtree a viewer sees (cxloop.services.access.scope)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cxloop.services.access.scope import (
    NoHierarchyError,
    ScopeError,
    UnknownUserError,
    Viewer,
    acting_viewer,
    require_unit,
    visible_units,
)
from cxloop.store import migrate, users
from cxloop.store.db import make_engine
from cxloop.store.tables import Role
from cxloop.store.units import UnitRecord, upsert_units


@pytest.fixture
def session(tmp_path: Path):
    url = f"sqlite:///{(tmp_path / 'app.db').as_posix()}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def org(session: Session) -> Session:
    upsert_units(
        session,
        [
            UnitRecord("b1", "north", "Branch 1", "branch"),
            UnitRecord("b2", "north", "Branch 2", "branch"),
            UnitRecord("north", "bank", "North", "region"),
            UnitRecord("bank", None, "Bank", "company"),
        ],
    )
    users.create_user(session, "Manager@Example.com", Role.manager, "b1")
    users.create_user(session, "gone@example.com", Role.manager, "b2")
    users.disable_user(session, "gone@example.com")
    session.commit()
    return session


def test_without_a_hierarchy_there_is_nobody_to_act_as(session: Session) -> None:
    with pytest.raises(NoHierarchyError, match="cxloop demo generate"):
        acting_viewer(session)


def test_default_is_an_admin_at_the_root_whatever_the_import_order(org: Session) -> None:
    assert acting_viewer(org) == Viewer("bank", Role.admin)
    assert acting_viewer(org, unit_id="north") == Viewer("north", Role.admin)


def test_a_user_acts_with_their_own_role_and_scope(org: Session) -> None:
    viewer = acting_viewer(org, as_user="manager@example.com")
    assert (viewer.unit_id, viewer.role) == ("b1", Role.manager) and viewer.user_id is not None
    assert visible_units(org, viewer) == {"b1"}
    with pytest.raises(ScopeError):
        require_unit(org, viewer, "b2")
    with pytest.raises(ScopeError):
        require_unit(org, viewer, "north")


@pytest.mark.parametrize("email", ["nobody@example.com", "gone@example.com"])
def test_unknown_or_disabled_users_are_refused_with_what_to_do(org: Session, email: str) -> None:
    with pytest.raises(UnknownUserError, match="cxloop users list"):
        acting_viewer(org, as_user=email)
