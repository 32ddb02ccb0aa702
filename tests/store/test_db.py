"""Engines of the app database: no statement takes a text holding NUL, on SQLite and PostgreSQL alike.

PostgreSQL cannot hold or compare text with NUL (U+0000): its driver failed the statement, and a form
field or JSON string holding one was a 500 on a PostgreSQL deployment (a note, a title, a login e-mail).
The engine refuses such a value with :class:`~cxloop.store.db.NulInText`, a ``ValueError`` the web app
answers with a 422, before it reaches the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cxloop.store import users
from cxloop.store.db import NulInText
from cxloop.store.tables import Unit
from cxloop.store.units import UnitRecord, upsert_units


def test_a_text_with_nul_is_refused_before_the_database_on_every_backend(session):
    upsert_units(session, [UnitRecord("bank", None, "Bank", "company")])
    session.commit()
    with pytest.raises(NulInText, match="NUL character"):
        upsert_units(session, [UnitRecord("b01", "bank", "Bran\x00ch", "branch")])
    session.rollback()
    with pytest.raises(ValueError, match="NUL character"):  # a lookup too (a login's e-mail)
        users.get_user_by_email(session, "a\x00@bank.example")
    session.rollback()
    # The session and its connection go on working; text without NUL is stored as before.
    upsert_units(session, [UnitRecord("b01", "bank", "Branch \t one", "branch")])
    session.commit()
    assert session.scalar(select(Unit.name).where(Unit.unit_id == "b01")) == "Branch \t one"
