"""The demo's logins: one user per level of the demo company, all with the same documented password.

=========================================  ==========  ================
email                                      role        sees
=========================================  ==========  ================
``demo-executive@northwind.example``       executive   ``bank`` (all)
``demo-division@northwind.example``        manager     ``div-north``
``demo-region@northwind.example``          manager     ``reg-north-west``
``demo-branch@northwind.example``          manager     ``br-0001``
``demo-analyst@northwind.example``         analyst     ``bank`` (all)
=========================================  ==========  ================

The password is :data:`DEMO_PASSWORD` (``northwind-demo``): demo data only, never a real deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxloop.config import Settings
from cxloop.services.access.identity import add_user
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "DemoLogin", "create_demo_users", "demo_logins"]

DEMO_PASSWORD = "northwind-demo"  # noqa: S105 - the documented password of the demo logins


@dataclass(frozen=True)
class DemoLogin:
    """One demo login: who, with which role, seeing which unit's subtree."""

    email: str
    role: Role
    unit_id: str
    name: str


DEMO_USERS: tuple[DemoLogin, ...] = (
    DemoLogin("demo-executive@northwind.example", Role.executive, "bank", "Demo executive"),
    DemoLogin("demo-division@northwind.example", Role.manager, "div-north", "Demo division manager"),
    DemoLogin("demo-region@northwind.example", Role.manager, "reg-north-west", "Demo region manager"),
    DemoLogin("demo-branch@northwind.example", Role.manager, "br-0001", "Demo branch manager"),
    DemoLogin("demo-analyst@northwind.example", Role.analyst, "bank", "Demo analyst"),
)


def create_demo_users(settings: Settings) -> list[DemoLogin]:
    """Create the demo logins whose unit exists (skipping any already there); returns those present."""
    engine = engine_for(settings)
    present = []
    try:
        with session_scope(engine) as session:
            units = unit_store.existing_unit_ids(session)
            for login in DEMO_USERS:
                if login.unit_id not in units:
                    continue
                if user_store.get_user_by_email(session, login.email) is None:
                    add_user(session, login.email, DEMO_PASSWORD, login.role, login.unit_id, name=login.name)
                present.append(login)
    finally:
        engine.dispose()
    return present


def demo_logins(settings: Settings) -> list[DemoLogin]:
    """The demo logins that exist (and can log in) in the app database named by ``settings``."""
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            return [
                login
                for login in DEMO_USERS
                if (user := user_store.get_user_by_email(session, login.email)) is not None and user.is_active
            ]
    finally:
        engine.dispose()
