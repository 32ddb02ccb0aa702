"""A private copy of the web tests' demo company for the fuzz tests, with one of everything a path can name.

The fuzz tests post as an admin (rules, pilots, responses), so they get their own copy rather than the
session's shared ``demo``. At scale 0.05 the demo has no case, pilot, target, action or rule: one of each is
made here, through the API, so that generated requests can name real ids and reach the code behind the
scope check, not only its 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services.access.identity import add_user
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.web_demo import BRANCH, login

ADMIN = "fuzz-admin@northwind.example"
ADMIN_PASSWORD = "fuzz-admin-password"  # noqa: S105 - a test login
SCALE, SEED = 0.05, 5


@dataclass
class FuzzWorld:
    settings: Settings
    app: FastAPI
    client: TestClient
    headers: dict[str, dict[str, str]]
    """Bearer headers by persona: ``"admin"`` (role admin at the root) and ``"branch"`` (the demo's branch
    manager of br-0001)."""
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Real path parameters by persona: the persona's unit and the ids of records it can see."""


def _created(response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


def build_world(demo_companies, data_dir: Path, client_options: dict[str, Any]) -> tuple[FuzzWorld, Any]:
    """The copy, an admin login, one record of each kind; returns the world and the client's context (to
    exit at teardown)."""
    settings = demo_companies.copy(SCALE, SEED, data_dir, secret_key="test-" + "f" * 40).settings
    engine = engine_for(settings)
    with session_scope(engine) as session:
        add_user(session, ADMIN, ADMIN_PASSWORD, "admin", "bank", name="Fuzz admin")
    engine.dispose()
    con = connect(settings)
    customer = con.table("responses").filter(lambda t: t.unit_id == "br-0001").customer_id.max().execute()
    con.disconnect()

    app = create_app(settings)
    context = TestClient(app, raise_server_exceptions=False, **client_options)
    client = context.__enter__()
    headers = {}
    for persona, email, password in (("admin", ADMIN, ADMIN_PASSWORD), ("branch", BRANCH, None)):
        response = login(client, email, password) if password else login(client, email)
        headers[persona] = {"Authorization": f"Bearer {_created(response)['access_token']}"}
    admin, branch = headers["admin"], headers["branch"]

    rule = _created(
        client.post(
            "/api/v1/rules",
            json={"name": "fuzz words", "kind": "comment_keywords", "params": {"keywords": ["fuzz"]}},
            headers=admin,
        )
    )
    when = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    posted = {"response_id": "fuzz-1", "submitted_at": when, "unit_id": "br-0001", "nps": 2}
    posted["comment"] = "fuzz"
    opened = _created(client.post("/api/v1/responses", json=posted, headers=admin))["cases_opened"]
    assert opened, "the rule opened no case"
    pilot = _created(
        client.post(
            "/api/v1/pilots",
            json={"name": "Fuzz pilot", "units": ["br-0001"], "start_date": "2025-10-01"},
            headers=admin,
        )
    )
    target = _created(
        client.post(
            "/api/v1/targets",
            json={
                "unit_id": "br-0001",
                "metric": "nps",
                "granularity": "month",
                "period_start": "2025-06-01",
                "target_value": 30,
            },
            headers=branch,
        )
    )
    action = _created(
        client.post("/api/v1/actions", json={"title": "Fuzz", "unit_id": "br-0001"}, headers=branch)
    )
    shared = {
        "customer_id": str(customer),
        "case_id": opened[0],
        "pilot_id": pilot["id"],
        "target_id": target["id"],
        "action_id": action["id"],
        "rule_id": rule["id"],
        "source": "fuzz",
    }
    ids = {"admin": {**shared, "unit_id": "br-0002"}, "branch": {**shared, "unit_id": "br-0001"}}
    return FuzzWorld(settings, app, client, headers, ids), context
