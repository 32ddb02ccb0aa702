"""The tiny bank of the closed-loop tests: four units with owners, users, an API key; SQLite and PostgreSQL.

bank (owner: ceo)
└── north (owner: region)
    ├── b01 (owner: branch1)     frontline1 works here too (sees b01 only)
    └── b02 (owner: branch2)     frontline2 (sees b02 only)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cxloop.config import Settings
from cxloop.services.access.identity import add_user
from cxloop.services.access.scope import Viewer
from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.imports import import_file
from cxloop.store import audit
from cxloop.store import units as unit_store
from cxloop.store.api_keys import create_api_key
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role, User

PASSWORD = "correct horse battery staple"
USERS = {
    "ceo@bank.example": (Role.executive, "bank"),
    "region@bank.example": (Role.manager, "north"),
    "branch1@bank.example": (Role.manager, "b01"),
    "branch2@bank.example": (Role.manager, "b02"),
    "frontline1@bank.example": (Role.frontline, "b01"),
    "frontline2@bank.example": (Role.frontline, "b02"),
    "admin@bank.example": (Role.admin, "bank"),
    "analyst@bank.example": (Role.analyst, "bank"),
}
OWNERS = {
    "bank": "ceo@bank.example",
    "north": "region@bank.example",
    "b01": "branch1@bank.example",
    "b02": "branch2@bank.example",
}


@dataclass
class World:
    settings: Settings
    engine: Engine
    users: dict[str, int]
    api_key: str

    def viewer(self, email: str) -> Viewer:
        role, unit = USERS[email]
        return Viewer(unit_id=unit, role=role, user_id=self.users[email])

    def add_rule(
        self, name: str, kind: str, params: dict[str, Any] | None = None, *, now: datetime, **fields: Any
    ) -> int:
        """Save an active alert rule as the bank's admin; its id."""
        admin = "admin@bank.example"
        with session_scope(self.engine) as session:
            return alerts.create_rule(
                session,
                self.viewer(admin),
                name=name,
                kind=kind,
                params=params,
                actor=audit.Actor.user(self.users[admin], admin),
                now=now,
                **fields,
            ).id


def build_world(settings: Settings) -> World:
    units = settings.data_dir.parent / "units.csv"
    units.parent.mkdir(parents=True, exist_ok=True)
    units.write_text(
        "unit_id,parent_id,name,level\nbank,,Bank,company\nnorth,bank,North,region\n"
        "b01,north,Branch 01,branch\nb02,north,Branch 02,branch\n",
        encoding="utf-8",
    )
    summary = import_file("units", units, settings=settings)
    assert summary.accepted == 4
    engine = engine_for(settings)
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for email, (role, unit) in USERS.items():
            ids[email] = add_user(session, email, PASSWORD, role, unit).id
        for unit, email in OWNERS.items():
            unit_store.set_owner(session, unit, ids[email])
        # an admin at the top: its posts may add touchpoints, segments and items (services.listen.catalogue)
        key = create_api_key(session, "bank", name="survey tool", role=Role.admin).key
    return World(settings, engine, ids, key)


def login(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def user_email(world: World, user_id: int | None) -> str | None:
    with session_scope(world.engine) as session:
        user = session.get(User, user_id) if user_id else None
        return user.email if user else None
