"""Users: lower-case unique emails, a role, and a scope unit that must exist."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from cxloop.store.tables import Role, User
from cxloop.store.units import UnitRecord, upsert_units
from cxloop.store.users import create_user, disable_user, get_user_by_email, list_users


@pytest.fixture
def org(session):
    upsert_units(
        session,
        [UnitRecord("bank", None, "Bank", "company"), UnitRecord("north", "bank", "North", "region")],
    )
    session.commit()
    return session


def test_create_user_normalises_the_email(org):
    user = create_user(org, "  Anna.Smith@Bank.Example ", "manager", "north", name="Anna Smith")
    org.commit()
    assert user.id is not None
    assert (user.email, user.role, user.unit_id, user.name) == (
        "anna.smith@bank.example",
        Role.manager,
        "north",
        "Anna Smith",
    )
    assert user.is_active is True
    assert user.password_hash is None


def test_get_user_by_email_ignores_case(org):
    create_user(org, "anna@bank.example", Role.analyst, "bank")
    org.commit()
    assert get_user_by_email(org, "ANNA@bank.example").email == "anna@bank.example"
    assert get_user_by_email(org, "bob@bank.example") is None


def test_email_is_unique_whatever_its_case(org):
    create_user(org, "anna@bank.example", "analyst", "bank")
    with pytest.raises(ValueError, match="already exists"):
        create_user(org, "Anna@Bank.example", "manager", "north")


def test_the_database_itself_refuses_a_duplicate_email(org):
    org.add(User(email="x@bank.example", role=Role.admin, unit_id="bank"))
    org.flush()
    org.add(User(email="x@bank.example", role=Role.admin, unit_id="bank"))
    with pytest.raises(IntegrityError):
        org.flush()


def test_unknown_unit_is_refused_with_a_clear_message(org):
    with pytest.raises(ValueError, match=r"unknown unit 'south': import the org hierarchy first"):
        create_user(org, "anna@bank.example", "manager", "south")


@pytest.mark.parametrize("email", ["", "anna", "@bank.example", "anna@", "anna smith@bank.example"])
def test_malformed_email_is_refused(org, email):
    with pytest.raises(ValueError, match="not an email address"):
        create_user(org, email, "manager", "north")


def test_unknown_role_is_refused(org):
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        create_user(org, "anna@bank.example", "boss", "north")


def test_password_hash_is_stored_as_given(org):
    user = create_user(org, "anna@bank.example", "admin", "bank", password_hash="$argon2id$placeholder")
    assert user.password_hash == "$argon2id$placeholder"


def test_list_and_disable_users(org):
    create_user(org, "zoe@bank.example", "frontline", "north")
    create_user(org, "anna@bank.example", "executive", "bank")
    disabled = disable_user(org, "ZOE@bank.example")
    org.commit()
    assert disabled.is_active is False
    assert [user.email for user in list_users(org)] == ["anna@bank.example", "zoe@bank.example"]
    assert [user.email for user in list_users(org, include_disabled=False)] == ["anna@bank.example"]


def test_disable_unknown_user_raises(org):
    with pytest.raises(ValueError, match="no user with email 'ghost@bank.example'"):
        disable_user(org, "Ghost@bank.example")
