"""The closed-loop API: real-time ingestion (idempotent, row-level reasons), the signed webhook, cases
scoped to the viewer, transitions, and admin-only rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxloop.services.act.notifications import SIGNATURE_HEADER, sign
from cxloop.services.act.rules import engine as alerts
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.store.tables import Case
from cxloop.web.app import create_app
from support.cases_world import World, login


@pytest.fixture
def client(web_world: World) -> Iterator[TestClient]:
    settings = web_world.settings.model_copy(update={"webhook_secrets": {"typeform": "s3cret-" + "x" * 30}})
    with TestClient(create_app(settings)) as client:
        with session_scope(web_world.engine) as session:
            admin = web_world.viewer("admin@bank.example")
            alerts.create_rule(
                session, admin, name="detractors", kind="nps_at_most", actor=audit.Actor.system("test")
            )
        yield client


def _row(rid: str, unit: str = "b01", nps=2, **extra) -> dict:
    return {"response_id": rid, "submitted_at": "2026-11-20T10:00:00Z", "unit_id": unit, "nps": nps, **extra}


def _count_cases(world: World) -> int:
    with session_scope(world.engine) as session:
        return session.query(Case).count()


def test_posting_the_same_batch_twice_stores_once_and_opens_one_case(client, web_world):
    key = {"X-API-Key": web_world.api_key}
    batch = [_row("a1", customer_id="c1"), _row("a2", nps=10), _row("a3", unit="b02", nps=5)]
    first = client.post("/api/v1/responses", json=batch, headers=key)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["received"], body["accepted"], body["duplicates"], body["rejected"]) == (3, 3, 0, 0)
    assert len(body["cases_opened"]) == 2
    second = client.post("/api/v1/responses", json=batch, headers=key)
    assert second.status_code == 200
    assert (second.json()["accepted"], second.json()["duplicates"], second.json()["cases_opened"]) == (
        0,
        3,
        [],
    )
    assert _count_cases(web_world) == 2
    # One object (not a list) is accepted too, and shows on the dashboard API at once.
    single = client.post("/api/v1/responses", json=_row("a4", nps=9), headers=key)
    assert single.status_code == 201 and single.json()["accepted"] == 1


def test_bad_rows_get_row_level_reasons_and_the_good_ones_are_kept(client, web_world):
    key = {"X-API-Key": web_world.api_key}
    batch = [
        _row("b1"),
        _row("b2", nps=11),
        {"response_id": "b3", "unit_id": "b01", "nps": 3, "submitted_at": "not a date"},
        _row("b4", unit="nowhere"),
        "not an object",
    ]
    response = client.post("/api/v1/responses", json=batch, headers=key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 4)
    problems = {p["row"]: p for p in body["problems"]}
    assert sorted(problems) == [2, 3, 4, 5]
    assert problems[2]["column"] == "nps" and problems[2]["response_id"] == "b2"
    assert "date" in problems[3]["reason"]
    assert "unknown unit" in problems[4]["reason"]
    assert problems[5]["reason"] == "not a JSON object"
    everything_bad = client.post("/api/v1/responses", json=[_row("c1", nps=-1)], headers=key)
    assert everything_bad.status_code == 422
    assert everything_bad.json()["error"]["code"] == "rejected_rows"
    assert everything_bad.json()["error"]["problems"][0]["column"] == "nps"
    assert client.post("/api/v1/responses", json=[], headers=key).status_code == 422
    assert (
        client.post(
            "/api/v1/responses", content=b"{nope", headers={**key, "Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/responses", json=[_row("d1")]).status_code == 401


def test_a_branch_scoped_user_cannot_post_for_another_branch(client, web_world):
    headers = login(client, "branch1@bank.example")
    response = client.post("/api/v1/responses", json=[_row("e1", unit="b02"), _row("e2")], headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert body["accepted"] == 1
    assert body["problems"][0]["row"] == 1 and "unknown unit" in body["problems"][0]["reason"]


def _signed(secret: str, payload, *, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload).encode()
    return raw, {
        SIGNATURE_HEADER: sign(secret, raw, at or int(time.time())),
        "Content-Type": "application/json",
    }


def test_webhook_needs_a_fresh_valid_signature(client, web_world):
    secret = "s3cret-" + "x" * 30
    raw, headers = _signed(secret, {"responses": [_row("w1", nps=1)]})
    ok = client.post("/api/v1/webhooks/typeform", content=raw, headers=headers)
    assert ok.status_code == 201, ok.text
    assert len(ok.json()["cases_opened"]) == 1
    tampered = raw.replace(b'"nps": 1', b'"nps": 9')
    assert client.post("/api/v1/webhooks/typeform", content=tampered, headers=headers).status_code == 401
    raw2, stale = _signed(secret, [_row("w2")], at=int(time.time()) - 3600)
    refused = client.post("/api/v1/webhooks/typeform", content=raw2, headers=stale)
    assert refused.status_code == 401 and "stale" in refused.json()["error"]["message"]
    raw3, wrong_key = _signed("another-secret", [_row("w3")])
    assert client.post("/api/v1/webhooks/typeform", content=raw3, headers=wrong_key).status_code == 401
    assert client.post("/api/v1/webhooks/typeform", content=raw3).status_code == 401
    assert client.post("/api/v1/webhooks/qualtrics", content=raw3, headers=wrong_key).status_code == 404
    assert _count_cases(web_world) == 1


def test_cases_are_scoped_and_move_through_the_workflow(client, web_world):
    client.post(
        "/api/v1/responses",
        json=[_row("f1", customer_id="c7"), _row("f2", unit="b02")],
        headers={"X-API-Key": web_world.api_key},
    )
    frontline1 = login(client, "frontline1@bank.example")
    branch1 = login(client, "branch1@bank.example")
    region = login(client, "region@bank.example")
    listed = client.get("/api/v1/cases", headers=frontline1).json()
    assert [c["unit_id"] for c in listed["cases"]] == ["b01"]
    b01_case = listed["cases"][0]["id"]
    other = [
        c["id"] for c in client.get("/api/v1/cases", headers=region).json()["cases"] if c["unit_id"] == "b02"
    ]
    assert client.get(f"/api/v1/cases/{other[0]}", headers=frontline1).status_code == 404
    assert client.get("/api/v1/cases/999999", headers=frontline1).status_code == 404
    assert client.get("/api/v1/cases?unit=b02", headers=frontline1).status_code == 404
    assert (
        client.post(
            f"/api/v1/cases/{other[0]}/transitions", json={"to": "contacted"}, headers=frontline1
        ).status_code
        == 404
    )
    mine = client.get("/api/v1/cases?mine=true", headers=branch1).json()
    assert [c["id"] for c in mine["cases"]] == [b01_case]
    assert mine["cases"][0]["owner"] == "branch1@bank.example"

    url = f"/api/v1/cases/{b01_case}/transitions"
    assert client.post(url, json={"to": "resolved"}, headers=branch1).status_code == 409
    assert (
        client.post(
            url, json={"to": "contacted", "note": "Called, left voicemail"}, headers=branch1
        ).status_code
        == 200
    )
    assert client.post(url, json={"to": "resolved", "follow_up_score": 9}, headers=branch1).status_code == 200
    refused = client.post(url, json={"to": "closed", "resolution_note": "fixed"}, headers=branch1)
    assert refused.status_code == 422
    assert "Root-cause codes: staff_behaviour" in refused.json()["error"]["message"]
    closed = client.post(
        url,
        json={"to": "closed", "root_cause": "process", "resolution_note": "Fee refunded"},
        headers=branch1,
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    detail = client.get(f"/api/v1/cases/{b01_case}", headers=branch1).json()
    assert [e["action"] for e in detail["trail"]] == ["open", "contacted", "resolved", "closed"]
    assert [e["actor"] for e in detail["trail"]][1:] == ["branch1@bank.example"] * 3
    assert detail["trail"][1]["note"] == "Called, left voicemail"
    assert [h["response_id"] for h in detail["history"]] == ["f1"]
    assert detail["allowed"] == ["in_progress"]
    assert detail["sla"]["first_contact"]["state"] == "met"


@pytest.mark.parametrize("field", ["active", "name", "kind", "params", "first_contact_hours", "priority"])
def test_a_rule_field_that_cannot_be_empty_refuses_null(client, web_world, field):
    # Found by the fuzz tests: {"active": null} was a 500 (NOT NULL constraint); {"name": null} named it
    # "None".
    admin = login(client, "admin@bank.example")
    body = {"name": f"nullable {field}", "kind": "comment_keywords", "params": {"keywords": ["x"]}}
    rule_id = client.post("/api/v1/rules", json=body, headers=admin).json()["id"]
    refused = client.patch(f"/api/v1/rules/{rule_id}", json={field: None}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert f"{field} cannot be empty" in refused.json()["error"]["message"]
    cleared = client.patch(
        f"/api/v1/rules/{rule_id}", json={"unit_id": None, "survey_id": None}, headers=admin
    )
    assert cleared.status_code == 200 and cleared.json()["name"] == f"nullable {field}"


def test_rules_api_is_admin_only(client, web_world):
    admin = login(client, "admin@bank.example")
    region = login(client, "region@bank.example")
    body = {"name": "angry words", "kind": "comment_keywords", "params": {"keywords": ["angry"]}}
    assert client.post("/api/v1/rules", json=body, headers=region).status_code == 403
    created = client.post("/api/v1/rules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    bad = client.post("/api/v1/rules", json={**body, "name": "x", "kind": "nope"}, headers=admin)
    assert bad.status_code == 422 and "unknown rule kind" in bad.json()["error"]["message"]
    patched = client.patch(f"/api/v1/rules/{rule_id}", json={"first_contact_hours": 2}, headers=admin)
    assert patched.json()["first_contact_hours"] == 2
    assert client.delete(f"/api/v1/rules/{rule_id}", headers=admin).json()["active"] is False
    assert {r["name"] for r in client.get("/api/v1/rules", headers=region).json()} == {
        "detractors",
        "angry words",
    }
    kinds = {k["kind"] for k in client.get("/api/v1/rules/kinds", headers=region).json()}
    assert {"nps_at_most", "unit_score_drop", "comment_keywords", "detractor_in_top_value_tier"} <= kinds
